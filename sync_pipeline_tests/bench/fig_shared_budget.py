"""Figure: two concurrent sync runs on one WebCRM API token stay under its rate limit.

Two `sync_child` processes start together against one sandbox and one link store (PostgreSQL
when the server package is installed, as in production; else a SQLite file), with the one WebCRM
API token the sandbox knows. Run A syncs `persons_contacts`, run B `users_contacts` and
`products_companies` (different pairs, as Dagster's per-pair pools let two runs go at once);
both are initial full loads of a sandbox seeded with `budget_persons`. The sandbox limits WebCRM
per API token (every login's access token shares it) to `budget_limit` requests per sliding
window of `rate_window` seconds (60 s, as the real API; `--quick` shortens it). The limit is
scaled down from the real 250 so that two runs of a few dozen WebCRM requests (pages of 1000,
bulk writes of 500) are rate bound within about a minute; both clients pace at that limit.
CRMOffice is left unlimited.

Measured twice, each time on a fresh sandbox and store:

- `requests_per_min_peak`: with the store's shared budget (`RateBudget`, as `build_resources`
  wires it), the most WebCRM API requests arriving at the sandbox in any 60 s window (logins
  excluded: they are not rate limited; throttled requests included), from the sandbox's own
  arrival times; `throttled_429s_shared` the 429s it answered. Target: <= the limit, 0.
- `requests_per_min_peak_unshared`, `throttled_429s_unshared`: each run with its own
  per-process limiter, as before this change.
- `requests_per_min_limit`: the limit in force; `shared_budget_runs_seconds` /
  `unshared_budget_runs_seconds`: how long each pair of runs took (both start to last end).
- `shared_budget_slot_ms`: the store's cost of one request slot (take + release, no waiting),
  one thread, on a fresh database of the same store: why slots are not reserved in batches.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from sync_pipeline.local_postgres import LocalPostgres, PostgresUnavailableError, server_bin
from sync_pipeline.processes import free_port
from sync_pipeline.store import RateBudget, budget_key
from sync_pipeline_tests.bench.config import BenchConfig
from sync_pipeline_tests.bench.fig_sync import sync_env
from sync_pipeline_tests.bench.harness import Figures
from sync_pipeline_tests.bench.sandbox_process import UNLIMITED, SandboxSpec, sandbox_process

FIGURES = (
    "requests_per_min_peak",
    "throttled_429s_shared",
    "requests_per_min_peak_unshared",
    "throttled_429s_unshared",
    "requests_per_min_limit",
)
RUNS = ("persons_contacts", "users_contacts,products_companies")
RUN_TIMEOUT = 600.0


def peak_in_window(arrivals: list[float], window: float) -> int:
    """The most arrivals inside one sliding window (t - window, t], as the sandbox counts."""
    ordered = sorted(arrivals)
    first, most = 0, 0
    for last, at in enumerate(ordered):
        while ordered[first] <= at - window:
            first += 1
        most = max(most, last - first + 1)
    return most


@contextmanager
def _store_urls(folder: Path) -> Iterator[Iterator[str]]:
    """Fresh store URLs: databases on a local PostgreSQL server if installed, else files."""
    try:
        server_bin()
    except PostgresUnavailableError:
        yield (f"sqlite:///{folder / f'state{i}.sqlite'}" for i in range(100))
        return
    server = LocalPostgres(Path(tempfile.mkdtemp(prefix="bench-budget-pg-")), free_port())
    server.start()
    try:
        yield (server.create_database(f"budget{i}") for i in range(100))
    finally:
        server.stop()


def _two_runs(env: Mapping[str, str]) -> float:
    """Start both runs at once, wait for both; seconds from start to the last end."""
    started = time.perf_counter()
    children = []
    for pairs in RUNS:
        child_env = {**env, "BENCH_SYNC_PAIRS": pairs}
        children.append(
            subprocess.Popen(
                [sys.executable, "-m", "sync_pipeline_tests.bench.sync_child", "--full"],
                env=child_env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for child in children:
        out, err = child.communicate(timeout=RUN_TIMEOUT)
        if child.returncode != 0:
            raise RuntimeError(f"a concurrent sync run failed:\n{err[-3000:]}\n{out[-500:]}")
        if not json.loads(out.strip().splitlines()[-1])["success"]:
            raise RuntimeError(f"a concurrent sync run did not succeed: {out[-500:]}")
    return time.perf_counter() - started


def _measure(config: BenchConfig, url: str, folder: Path, shared: bool) -> tuple[int, int, float]:
    """(peak WebCRM requests per window, 429s, seconds) of two concurrent runs."""
    spec = SandboxSpec(
        seed=config.budget_persons,
        rate_limit=UNLIMITED,
        webcrm_rate_limit=config.budget_limit,
        rate_window=config.rate_window,
    )
    with sandbox_process(spec) as sandbox:
        home = folder / ("shared" if shared else "unshared")
        home.mkdir()
        # The default organisation from the sandbox's state: an API read would take a slot of
        # the token's window that neither limiter knows of.
        organisation = str(sandbox.call("webcrm_ids", entity="Organisations")[0])
        env = sync_env(sandbox, str(home), organisation)
        env.update(
            SYNC_STATE_URL=url,
            BENCH_WEBCRM_RATE_LIMIT=str(config.budget_limit),
            BENCH_RATE_WINDOW=str(config.rate_window),
            BENCH_SHARED_BUDGET="1" if shared else "0",
        )
        # The schema first: racing first opens of an empty PostgreSQL database are the
        # migration lock's part of issue 11, not this figure's.
        RateBudget(url).close()
        sandbox.reset_stats()
        seconds = _two_runs(env)
        arrivals = sandbox.call("arrivals")["webcrm"]
        throttled = int(sandbox.stats()["webcrm"]["throttled_429"])
    limited = [at for at, family in arrivals if "/Auth/" not in family]
    return peak_in_window(limited, config.rate_window), throttled, seconds


def slot_milliseconds(url: str, slots: int = 300) -> float:
    """Mean milliseconds per slot (acquire + release) of an ample budget in the store at `url`."""
    with RateBudget(url) as budget:
        limiter = budget.limiter(budget_key("webcrm", "bench-token"), 10 * slots)
        started = time.perf_counter()
        for _ in range(slots):
            with limiter.slot():
                pass
        return (time.perf_counter() - started) * 1000 / slots


def measure_shared_budget(config: BenchConfig) -> Figures:
    """Two concurrent runs on one token, with the store's shared budget and without."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-budget-") as name,
        _store_urls(Path(name)) as urls,
    ):
        folder = Path(name)
        peak, throttled, seconds = _measure(config, next(urls), folder, shared=True)
        unshared = _measure(config, next(urls), folder, shared=False)
        slot_ms = slot_milliseconds(next(urls))
    unshared_peak, unshared_throttled, unshared_seconds = unshared
    return {
        "requests_per_min_peak": peak,
        "throttled_429s_shared": throttled,
        "requests_per_min_peak_unshared": unshared_peak,
        "throttled_429s_unshared": unshared_throttled,
        "requests_per_min_limit": config.budget_limit,
        "shared_budget_runs_seconds": round(seconds, 1),
        "unshared_budget_runs_seconds": round(unshared_seconds, 1),
        "shared_budget_slot_ms": round(slot_ms, 2),
    }
