"""`sync-pipeline deploy-local` (`make prod`): the production shape of Dagster on this machine.

PostgreSQL (Debian's server, `LocalPostgres`) holds the Dagster instance and the link store; a
gRPC code server serves `sync_pipeline.definitions`; `dagster-webserver` serves the UI and its
GraphQL API; `dagster-daemon` runs the schedules, the change sensors (near-real-time sync, turned
on here through GraphQL), the run queue, backfills and run retries. The
instance is `deployment.instance_settings` written as `dagster.yaml`; the sandbox stands in for
the two CRMs. WebCRM hooks are on (`processes.start_hooks`): `sync-pipeline hooks serve` on
loopback (port 8710, a free one when taken) stores the sandbox's hook events in the PostgreSQL
link store, and `webcrm_changes` reads them (`SYNC_WEBCRM_HOOKS=on`, a random
`SYNC_HOOKS_SECRET` per start unless set; `SYNC_WEBCRM_HOOKS=off` polls only). Everything lives
under one folder (`.prod/`, logs in `logs/<process>.log`); Ctrl-C stops everything.

`--check` starts the same on a fresh `check/` subfolder, lets the daemon run a scheduled
incremental sync, a backfill and a hook-triggered run (`commands.deploy_check`), prints one
line and exits 0 or 1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import yaml

from sync_pipeline import deployment
from sync_pipeline.demo import default_organisation_id
from sync_pipeline.local_postgres import LocalPostgres, PostgresUnavailableError
from sync_pipeline.processes import (
    BIN,
    HOST,
    free_port,
    port_is_free,
    start_group,
    start_hooks,
    stop_group,
    stop_on_signals,
    wait_until_serving,
)
from sync_pipeline.settings import HOOKS_SAFETY_ENV

SEED = 200
DATABASES = {"instance": "dagster", "store": "sync_state"}
START_TIMEOUT = 120.0


class Processes:
    """The processes started so far, stopped in reverse order."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        """Start `args` in its own process group, its output in `logs/<name>.log`."""
        process = start_group(args, env, log=self.logs / f"{name}.log")
        self.started.append((name, process))
        return process

    def dead(self) -> str | None:
        """The name of a process that has exited, if any."""
        return next((name for name, p in self.started if p.poll() is not None), None)

    def stop(self) -> None:
        """Stop every process, the last started first."""
        for _, process in reversed(self.started):
            stop_group(process)


def _ensure_database(server: LocalPostgres, name: str) -> str:
    """The URL of database `name`, created if missing (kept across restarts)."""
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'").strip()
    if not exists:
        server.psql(f'CREATE DATABASE "{name}"')
    return server.url(name)


def _wait(what: str, ready: Callable[[], bool], processes: Processes) -> None:
    """Poll `ready` until true; fail when a process died or after `START_TIMEOUT` seconds."""
    deadline = time.monotonic() + START_TIMEOUT
    while not ready():
        if (name := processes.dead()) is not None:
            raise RuntimeError(f"{name} exited while starting (see {processes.logs}/{name}.log)")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start in {START_TIMEOUT:.0f} s")
        time.sleep(0.5)


def _grpc_ready(port: int) -> bool:
    done = subprocess.run(
        [str(BIN / "dagster"), "api", "grpc-health-check", "-p", str(port), "-h", HOST],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def _http_ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def _sandbox(folder: Path, env: dict[str, str], processes: Processes) -> None:
    """Start the sandbox (the CRMs' stand-in) and point `env` at it."""
    ports = (8701, 8702) if all(port_is_free(HOST, p) for p in (8701, 8702)) else None
    webcrm_port, crmoffice_port = ports or (free_port(), free_port())
    sandbox = processes.start(
        "sandbox",
        [
            str(BIN / "sync-pipeline"),
            "sandbox",
            "--seed",
            str(SEED),
            "--data-dir",
            str(folder / "sandbox"),
            "--webcrm-port",
            str(webcrm_port),
            "--crmoffice-port",
            str(crmoffice_port),
        ],
        env,
    )
    env["WEBCRM_BASE_URL"] = f"http://{HOST}:{webcrm_port}"
    env["CRMOFFICE_BASE_URL"] = f"http://{HOST}:{crmoffice_port}"
    for secret in deployment.SECRET_ENV:
        env.pop(secret, None)  # the sandbox's own credentials
    wait_until_serving([env["WEBCRM_BASE_URL"], env["CRMOFFICE_BASE_URL"]], sandbox)
    env["WEBCRM_DEFAULT_ORGANISATION_ID"] = default_organisation_id(env["WEBCRM_BASE_URL"])


def write_instance(home: Path, instance_url: str) -> Path:
    """Write `home/dagster.yaml`: the production instance on the database `instance_url`,
    compute logs under `home/compute_logs`, runs launched beside the code server."""
    settings = deployment.instance_settings(
        deployment.postgres_db_from_url(instance_url), str(home / "compute_logs")
    )
    path = home / "dagster.yaml"
    path.write_text(yaml.safe_dump(settings, sort_keys=False))
    return path


def start(
    folder: Path, processes: Processes, server: LocalPostgres, *, check: bool
) -> tuple[str, dict[str, str]]:
    """Start the sandbox, the hook receiver, the code server, the webserver and the daemon
    against `server`; returns the webserver's URL and the env they got."""
    home = (folder / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    write_instance(home, _ensure_database(server, DATABASES["instance"]))
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "SYNC_STATE_URL": _ensure_database(server, DATABASES["store"]),
        "SYNC_IO_URL": (folder / "values").resolve().as_uri(),
    }
    if check:  # a tick every minute, so the check need not wait a quarter of an hour
        env["SYNC_INCREMENTAL_CRON"] = "* * * * *"
        # No safety probe during the check's wait: its edit can reach a run only by its hook.
        env[HOOKS_SAFETY_ENV] = "3600"
    _sandbox(folder, env, processes)
    start_hooks(env, processes.start, quiet=check)
    grpc_port = free_port()
    processes.start(
        "code_server",
        [
            str(BIN / "dagster"),
            "code-server",
            "start",
            "-h",
            HOST,
            "-p",
            str(grpc_port),
            "-m",
            deployment.MODULE,
            "--location-name",
            deployment.LOCATION,
        ],
        env,
    )
    _wait("the code server", lambda: _grpc_ready(grpc_port), processes)
    workspace = folder.resolve() / "workspace.yaml"
    workspace.write_text(yaml.safe_dump(deployment.workspace(HOST, grpc_port), sort_keys=False))
    web_port = 3000 if port_is_free(HOST, 3000) else free_port()
    url = f"http://{HOST}:{web_port}"
    processes.start(
        "webserver",
        [str(BIN / "dagster-webserver"), "-h", HOST, "-p", str(web_port), "-w", str(workspace)],
        env,
    )
    processes.start("daemon", [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)], env)
    _wait("the webserver", lambda: _http_ready(f"{url}/server_info"), processes)
    return url, env


def run_deploy(folder: Path, *, check: bool = False) -> int:
    """Run the deployment until Ctrl-C (exit 0), or with `check` until the check ends (0 when
    the scheduled run, the backfill and the hook-triggered run succeeded, else 1). 1 with one
    line when it cannot start."""
    from sync_pipeline.commands.deploy_check import (
        run_check,
        start_incremental_schedule,
        start_sensors,
    )

    stop_on_signals()
    if check:
        folder = folder / "check"
        shutil.rmtree(folder, ignore_errors=True)
    logs = folder / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    server = LocalPostgres(folder.resolve() / "postgres", free_port())
    processes = Processes(logs)
    try:
        server.start()
        url, env = start(folder, processes, server, check=check)
        schedule_id = start_incremental_schedule(url)
        if check:
            return run_check(url, processes.dead, schedule_id, env)
        start_sensors(url)
        print(
            f"Dagster UI: {url} (instance {server.url(DATABASES['instance'])}, link store "
            f"{server.url(DATABASES['store'])}; logs in {logs}/; Ctrl-C stops everything)",
            flush=True,
        )
        while (name := processes.dead()) is None:
            time.sleep(0.5)
        print(f"deploy-local: {name} exited (see {logs}/{name}.log)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    except (RuntimeError, PostgresUnavailableError, OSError) as error:
        print(f"deploy-local: {error}", file=sys.stderr)
        return 1
    finally:
        processes.stop()
        server.stop()
