"""Figure 3: how much of each API's rate limit the clients use, and 429s (target none).

Both sandboxes allow `limit` requests per sliding window of W seconds (60 s, as the real APIs;
`--quick` shortens it). Each client writes N records one request per record -- WebCRM through
`bulk_upsert` with one item per call (requests, not records, are what the limit counts),
CRMOffice through `write_many` (concurrent PATCHes) -- both systems at once, each timed from
its first call (login included) to its last answer.

Two figures per system, from the same run:

- `rate_limit_utilisation_<system>` = N / (limit * elapsed / W): the issue's definition, "N /
  limit over the measured time" (target >= 0.87, i.e. elapsed <= 1.15 * N / limit).
- `rate_limit_vs_floor_<system>` = floor((N - 1) / limit) * W / elapsed: stricter. A sliding
  window admits a burst of `limit` at once, so the API lets N requests finish after
  floor((N - 1) / limit) windows; 1.0 means the client wasted no window at all.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from sync_pipeline.clients import CrmofficeClient, SlidingWindowLimiter, WebcrmClient, WriteOp
from sync_pipeline_tests.bench.config import BenchConfig
from sync_pipeline_tests.bench.harness import Figures
from sync_pipeline_tests.bench.sandbox_process import SandboxProcess, SandboxSpec, sandbox_process

FIGURES = ("rate_limit_utilisation_webcrm", "rate_limit_utilisation_crmoffice", "throttled_429s")
WEBCRM_TOKEN = "sandbox-webcrm-token"
CRMOFFICE_CREDENTIALS = ("sandbox-client", "sandbox-secret")
RECORDS = 100  # existing records per system, updated round-robin


def _limiter(config: BenchConfig) -> SlidingWindowLimiter:
    return SlidingWindowLimiter(config.rate_limit, window_seconds=config.rate_window)


def _write_webcrm(sandbox: SandboxProcess, config: BenchConfig) -> float:
    # From the sandbox's state: WebCRM limits per API token, so an API read here would take
    # a slot of the writes' window.
    person_ids: list[int] = sandbox.call("webcrm_ids", entity="Persons")
    with WebcrmClient(sandbox.webcrm_url, WEBCRM_TOKEN, limiter=_limiter(config)) as client:
        start = time.perf_counter()
        for i in range(config.rate_total):
            item = {"PersonId": person_ids[i % RECORDS], "PersonTitle": f"Rådgiver {i}"}
            results = client.bulk_upsert("Persons", [item])
            if not results[0].ok:
                raise RuntimeError(f"WebCRM write failed: {results[0].error}")
        return time.perf_counter() - start


def _write_crmoffice(sandbox: SandboxProcess, config: BenchConfig) -> float:
    # CRMOffice limits per client id, not per token: the read that finds the contacts shares
    # the writes' window, so it goes through the same client (and limiter) and is timed and
    # counted with them.
    with CrmofficeClient(
        sandbox.crmoffice_url, *CRMOFFICE_CREDENTIALS, limiter=_limiter(config)
    ) as client:
        start = time.perf_counter()
        contact_ids = [str(c["id"]) for c in client.list_all("contacts")]
        ops = [
            WriteOp("patch", "contacts", {"title": f"Rådgiver {i}"}, contact_ids[i % RECORDS])
            for i in range(config.rate_total)
        ]
        results = client.write_many(ops)
        elapsed = time.perf_counter() - start
    failed = [r for r in results if not r.ok]
    if failed:
        raise RuntimeError(f"{len(failed)} CRMOffice writes failed, e.g. {failed[0].error}")
    return elapsed


def utilisation(requests: int, limit: int, elapsed: float, window: float) -> float:
    """Requests over what `limit` per `window` allows in `elapsed`, paced evenly."""
    return requests / (limit * elapsed / window)


def vs_floor(requests: int, limit: int, elapsed: float, window: float) -> float:
    """The least time a sliding window allows for `requests` (bursts), over `elapsed`."""
    return (requests - 1) // limit * window / elapsed


def measure_rate_limit(config: BenchConfig) -> Figures:
    """Write N records per system under a known limit; utilisation per system and 429s."""
    if config.rate_total <= config.rate_limit:
        raise ValueError("the rate-limit figure needs more requests than the limit")
    spec = SandboxSpec(
        persons=RECORDS,
        contacts=RECORDS,
        rate_limit=config.rate_limit,
        rate_window=config.rate_window,
    )
    with sandbox_process(spec) as sandbox:
        sandbox.reset_stats()
        with ThreadPoolExecutor(2) as pool:
            web = pool.submit(_write_webcrm, sandbox, config)
            crm = pool.submit(_write_crmoffice, sandbox, config)
            elapsed = {"webcrm": web.result(), "crmoffice": crm.result()}
        stats = sandbox.stats()
    # Only the writes (and CRMOffice's timed read) count here.
    figures: Figures = {}
    for system, family in (("webcrm", "PATCH /Persons"), ("crmoffice", "PATCH /contacts/{id}")):
        writes = stats[system]["requests"].get(family, 0)
        if writes != config.rate_total:
            raise RuntimeError(f"{system}: {writes} write requests, expected {config.rate_total}")
        # CRMOffice's timed run includes the read that found the contacts (same window).
        timed = writes + (
            stats[system]["requests"].get("GET /contacts", 0) if system == "crmoffice" else 0
        )
        figures[f"rate_limit_utilisation_{system}"] = round(
            utilisation(timed, config.rate_limit, elapsed[system], config.rate_window), 3
        )
        figures[f"rate_limit_vs_floor_{system}"] = round(
            vs_floor(timed, config.rate_limit, elapsed[system], config.rate_window), 3
        )
        figures[f"rate_limit_seconds_{system}"] = round(elapsed[system], 2)
    figures["throttled_429s"] = sum(stats[s]["throttled_429"] for s in ("webcrm", "crmoffice"))
    return figures
