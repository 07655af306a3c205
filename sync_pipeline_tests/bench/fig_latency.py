"""Figure 7: near-real-time latency, polling and WebCRM hooks (issue 12, DESIGN.md section 6).

The sandbox at its real rate limits (WebCRM 250/min, CRMOffice 600/min), `links` linked persons
and contacts from one full sync, then `dagster-daemon` (SQLite instance, the QueuedRunCoordinator
of `deployment.RUN_COORDINATOR`, sensors on: `SYNC_SENSORS=running`) for the rest. N edits,
alternately in WebCRM and CRMOffice, a random 0-`gap` s apart, once both sensors have ticked;
each edit's latency runs from the write (the sandbox stamps it) to the other side showing the
value (read from the sandbox's state in this process: no API request). Then the sandbox's
counters are zeroed and the APIs are left idle for `idle` seconds.

- `edit_to_sync_p50_seconds`, `edit_to_sync_p95_seconds` (target p95 <= 30 s by polling);
- `echo_runs`: sensor runs naming none of the edited records (target 0);
- `idle_requests_per_min_<system>`: every request while idle (probes and logins; target <= 10 %
  of the limit: 25/min for WebCRM);
- the same latency, echo and idle figures again with WebCRM hooks on, suffixed `_hooks`
  (`SYNC_WEBCRM_HOOKS=on`; `sync-pipeline hooks serve` on loopback and `hooks register` against
  the sandbox, whose WebCRM then POSTs each change: target p95 <= 15 s);
- `targeted_run_{detect,queue,start,steps}_seconds`, means over the sensor runs, from the
  instance's event log: the edit to the run's creation, RUN_ENQUEUED to RUN_STARTING (the queue),
  RUN_STARTING to RUN_START (the launcher's process start and code load), RUN_START to
  RUN_SUCCESS.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import dagster as dg
import yaml

from sync_pipeline import deployment
from sync_pipeline.dagster_defs.sensors import SENSOR_NAMES
from sync_pipeline.dagster_defs.targeted_assets import IDS_TAG, TRIGGER_TAG
from sync_pipeline.processes import BIN, start_group, start_hooks, stop_group
from sync_pipeline.sandbox.server import RunningSandbox, SandboxSettings, running_sandbox
from sync_pipeline_tests.bench.config import BenchConfig
from sync_pipeline_tests.bench.harness import Figures

# Measured again with WebCRM hooks on (`SYNC_WEBCRM_HOOKS=on`, receiver and hooks registered),
# each with the suffix `_hooks`.
HOOKS_FIGURES = (
    "edit_to_sync_p50_seconds",
    "edit_to_sync_p95_seconds",
    "echo_runs",
    "idle_requests_per_min_webcrm",
    "idle_requests_per_min_crmoffice",
)
HOOKS_SECRET = "bench-hooks-secret-0123456789"
FIGURES = (
    "edit_to_sync_p50_seconds",
    "edit_to_sync_p95_seconds",
    "echo_runs",
    "idle_requests_per_min_webcrm",
    "idle_requests_per_min_crmoffice",
    "targeted_run_detect_seconds",
    "targeted_run_queue_seconds",
    "targeted_run_start_seconds",
    "targeted_run_steps_seconds",
    *(f"{name}_hooks" for name in HOOKS_FIGURES),
)
EDIT_TIMEOUT = 120.0
Edit = tuple[str, str, str, float]  # (side edited, id edited, value, write time: epoch s)


def _env(sandbox: RunningSandbox, folder: Path, organisation: int) -> dict[str, str]:
    return {
        **os.environ,
        "DAGSTER_HOME": str(folder / "home"),
        "SYNC_STATE_URL": f"sqlite:///{folder / 'sync_state.sqlite'}",
        "SYNC_IO_URL": str(folder / "values"),
        "WEBCRM_BASE_URL": sandbox.webcrm_url,
        "CRMOFFICE_BASE_URL": sandbox.crmoffice_url,
        "WEBCRM_DEFAULT_ORGANISATION_ID": str(organisation),
        "SYNC_SENSORS": "running",
    }


def _instance_yaml(home: Path, dequeue_seconds: int) -> None:
    home.mkdir(parents=True, exist_ok=True)
    coordinator = dict(deployment.RUN_COORDINATOR)
    if dequeue_seconds > 0:  # else deployment.DEQUEUE_INTERVAL_SECONDS
        coordinator["config"] = {"dequeue_interval_seconds": dequeue_seconds}
    settings = {
        "run_coordinator": coordinator,
        "concurrency": deployment.concurrency(),
        "telemetry": {"enabled": False},
    }
    (home / "dagster.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))


def _workspace(folder: Path) -> Path:
    path = folder / "workspace.yaml"
    location = {
        "module_name": deployment.MODULE,
        "working_directory": str(Path.cwd()),
        "location_name": deployment.LOCATION,
    }
    path.write_text(yaml.safe_dump({"load_from": [{"python_module": location}]}))
    return path


def _linked(sandbox: RunningSandbox, env: dict[str, str], links: int) -> list[tuple[int, str]]:
    """`links` persons, synced once (CLI, full): (person id, contact id) pairs."""
    for n in range(links):
        sandbox.webcrm.insert(
            "Persons",
            {
                "PersonFirstName": f"Bench{n}",
                "PersonLastName": "Latency",
                "PersonOrganisationId": int(env["WEBCRM_DEFAULT_ORGANISATION_ID"]),
                "PersonMobilePhone": f"+45 20 00 {n:04d}",
            },
        )
    subprocess.run(
        [str(BIN / "sync-pipeline"), "sync", "--full"], env=env, check=True, capture_output=True
    )
    contacts = {c["givenName"]: c["id"] for c in sandbox.crmoffice.records("contacts")}
    persons = sandbox.webcrm.records("Persons")
    return [(int(p["PersonId"]), contacts[p["PersonFirstName"]]) for p in persons]


@contextmanager
def _daemon(
    env: dict[str, str], folder: Path, dequeue_seconds: int
) -> Iterator[subprocess.Popen[bytes]]:
    _instance_yaml(Path(env["DAGSTER_HOME"]), dequeue_seconds)
    workspace = _workspace(folder)
    log = folder / "daemon.log"
    process = start_group([str(BIN / "dagster-daemon"), "run", "-w", str(workspace)], env, log=log)
    try:
        yield process
    finally:
        stop_group(process)


def _warm(log: Path, daemon: subprocess.Popen[bytes]) -> None:
    """Until each sensor has finished its first tick (its second has begun): an edit made before
    would be found by a new cursor's first probe, whatever the mode."""
    lines = [f"Checking for new runs for sensor: {name}" for name in SENSOR_NAMES.values()]
    _wait(lambda: all(log.read_text(errors="replace").count(line) >= 2 for line in lines), daemon)


def _wait(shown: Callable[[], bool], daemon: subprocess.Popen[bytes]) -> float:
    deadline = time.monotonic() + EDIT_TIMEOUT
    while not shown():
        if daemon.poll() is not None:
            raise RuntimeError("dagster-daemon exited (see daemon.log in the bench folder)")
        if time.monotonic() > deadline:
            raise RuntimeError(f"an edit did not sync in {EDIT_TIMEOUT:.0f} s")
        time.sleep(0.1)
    return time.time()


def _edit(
    sandbox: RunningSandbox, n: int, link: tuple[int, str], daemon: subprocess.Popen[bytes]
) -> tuple[Edit, float]:
    """Edit one side of `link` (WebCRM on even `n`); the edit and when the other side showed it."""
    person_id, contact_id = link
    value = f"Edit{n}x{random.randrange(10**6)}"
    if n % 2 == 0:
        sandbox.webcrm.edit("Persons", person_id, {"PersonLastName": value})
        edit: Edit = ("webcrm", str(person_id), value, time.time())
        shown = _wait(
            lambda: (
                (sandbox.crmoffice.get("contacts", contact_id) or {}).get("familyName") == value
            ),
            daemon,
        )
    else:
        sandbox.crmoffice.edit("contacts", contact_id, {"familyName": value})
        edit = ("crmoffice", contact_id, value, time.time())
        shown = _wait(
            lambda: (sandbox.webcrm.get("Persons", person_id) or {}).get("PersonLastName") == value,
            daemon,
        )
    return edit, shown - edit[3]


def _phases(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    stamps: dict[str, float] = {}
    for record in instance.all_logs(run_id):
        if record.dagster_event is not None:
            stamps.setdefault(record.dagster_event.event_type_value, record.timestamp)
    return {
        "queue": stamps["PIPELINE_STARTING"] - stamps["PIPELINE_ENQUEUED"],
        "start": stamps["PIPELINE_START"] - stamps["PIPELINE_STARTING"],
        "steps": stamps["PIPELINE_SUCCESS"] - stamps["PIPELINE_START"],
        "created": stamps["PIPELINE_ENQUEUED"],
    }


def _run_figures(home: Path, edits: list[Edit]) -> Figures:
    edited = {(side, record_id) for side, record_id, _, _ in edits}
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = [
            r
            for r in instance.get_runs()
            if TRIGGER_TAG in r.tags and r.status == dg.DagsterRunStatus.SUCCESS
        ]
        echoes = 0
        phases: dict[str, list[float]] = {"detect": [], "queue": [], "start": [], "steps": []}
        for run in runs:
            ids = json.loads(run.tags.get(IDS_TAG, "{}"))
            named = {(s, i) for sides in ids.values() for s, found in sides.items() for i in found}
            if not named & edited:
                echoes += 1
                continue
            found = _phases(instance, run.run_id)
            edit_at = max(t for side, i, _, t in edits if (side, i) in named)
            phases["detect"].append(max(0.0, found["created"] - edit_at))
            for name in ("queue", "start", "steps"):
                phases[name].append(found[name])
    figures: Figures = {"echo_runs": float(echoes)}
    for name, values in phases.items():
        figures[f"targeted_run_{name}_seconds"] = statistics.fmean(values) if values else 0.0
    return figures


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def measure_latency(config: BenchConfig) -> Figures:
    """The figures by polling, then the `HOOKS_FIGURES` again with WebCRM hooks on."""
    figures = _measure(config, hooks=False)
    hooked = _measure(config, hooks=True)
    return figures | {f"{name}_hooks": hooked[name] for name in HOOKS_FIGURES}


@contextmanager
def _hooks(env: dict[str, str], folder: Path) -> Iterator[None]:
    """The hook receiver on loopback and our hooks registered for it, started as `make dev`
    starts them (`processes.start_hooks`, which also sets hooks mode in `env`)."""
    started: list[subprocess.Popen[bytes]] = []

    def launch(name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        started.append(start_group(args, env, folder / f"{name}.log"))
        return started[-1]

    try:
        start_hooks(env, launch, quiet=True)
        yield
    finally:
        for process in started:
            stop_group(process)


def _measure(config: BenchConfig, *, hooks: bool) -> Figures:
    """Edits under the daemon, their latency, the runs' phases and the idle probe rate."""
    random.seed(7)
    folder = Path(tempfile.mkdtemp(prefix="bench_latency_hooks_" if hooks else "bench_latency_"))
    settings = SandboxSettings(webcrm_port=0, crmoffice_port=0, seed=None, empty=True)
    with running_sandbox(settings) as sandbox, ExitStack() as stack:
        organisation = sandbox.webcrm.insert("Organisations", {"OrganisationName": "Bench A/S"})
        env = _env(sandbox, folder, organisation)
        links = _linked(sandbox, env, max(2, config.latency_edits))
        if hooks:
            env["SYNC_HOOKS_SECRET"] = HOOKS_SECRET
            stack.enter_context(_hooks(env, folder))
        edits: list[Edit] = []
        latencies: list[float] = []
        with _daemon(env, folder, config.latency_dequeue) as daemon:
            _warm(folder / "daemon.log", daemon)
            for n in range(config.latency_edits):
                time.sleep(random.uniform(0, config.latency_gap))
                edit, seconds = _edit(sandbox, n, links[n % len(links)], daemon)
                edits.append(edit)
                latencies.append(seconds)
            time.sleep(5)  # let any echo run be requested before counting
            sandbox.reset_stats()
            started = time.monotonic()
            time.sleep(config.latency_idle)
            stats = sandbox.stats()
            minutes = (time.monotonic() - started) / 60
        figures = _run_figures(Path(env["DAGSTER_HOME"]), edits)
    figures |= {
        "edit_to_sync_p50_seconds": statistics.median(latencies),
        "edit_to_sync_p95_seconds": _quantile(latencies, 0.95),
    }
    for system in ("webcrm", "crmoffice"):
        figures[f"idle_requests_per_min_{system}"] = stats[system]["requests_total"] / minutes
    each = ", ".join(f"{s:.1f}" for s in latencies)
    mode = "hooks on" if hooks else "polling"
    print(f"# latency ({mode}): each edit's seconds: {each}", file=sys.stderr)
    return figures
