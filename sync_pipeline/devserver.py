"""`make dev`: the sandbox (state kept in `.sync_state/dev/`) plus `dagster dev` on port 3000,
with the change sensors on (`SYNC_SENSORS=running`) and WebCRM hooks on
(`processes.start_hooks`): `sync-pipeline hooks serve` on loopback (port 8710, a free one when
taken) stores the sandbox's hook events in the runs' link store
(`.sync_state/dev/dagster_home/sync_state.sqlite`, or `SYNC_STATE_URL`), and `webcrm_changes`
reads them. `SYNC_WEBCRM_HOOKS=off` polls only.

Ctrl-C stops all three (each runs in its own process group: `dagster dev` ignores SIGTERM
alone); so does any of them exiting. Logs: `.sync_state/dev/{sandbox,hooks}.log`, dagster dev's
on the terminal.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from sync_pipeline.demo import default_organisation_id
from sync_pipeline.processes import (
    BIN,
    prepare_dagster_home,
    start_group,
    start_hooks,
    stop_group,
    stop_on_signals,
    wait_until_serving,
)
from sync_pipeline.settings import SENSORS_ENV

STATE = Path(".sync_state/dev")


def main() -> int:
    """Start the sandbox, the hook receiver and dagster dev; wait for Ctrl-C or for one to
    exit (1); stop them all."""
    stop_on_signals()
    home = prepare_dagster_home(STATE / "dagster_home")
    # The change sensors start RUNNING here (near-real-time sync; off by default elsewhere).
    env = {**os.environ, "DAGSTER_HOME": str(home), SENSORS_ENV: "running"}
    sandbox = start_group(
        [
            str(BIN / "sync-pipeline"),
            "sandbox",
            "--seed",
            "200",
            "--data-dir",
            str(STATE / "sandbox"),
        ],
        env,
        log=STATE / "sandbox.log",
    )
    processes = [sandbox]
    names = {id(sandbox): f"the sandbox (log: {STATE / 'sandbox.log'})"}

    def launch(name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        processes.append(start_group(args, env, log=STATE / f"{name}.log"))
        names[id(processes[-1])] = f"{name} (log: {STATE / f'{name}.log'})"
        return processes[-1]

    try:
        wait_until_serving(["http://127.0.0.1:8701", "http://127.0.0.1:8702"], sandbox)
        print("Sandbox: WebCRM http://127.0.0.1:8701, CRMOffice http://127.0.0.1:8702")
        env.setdefault(
            "WEBCRM_DEFAULT_ORGANISATION_ID", default_organisation_id("http://127.0.0.1:8701")
        )
        start_hooks(env, launch)
        dagster = start_group([str(BIN / "dagster"), "dev", "-w", "workspace.yaml"], env)
        processes.append(dagster)
        names[id(dagster)] = "dagster dev (its output is above)"
        print("Dagster UI: http://127.0.0.1:3000 (Ctrl-C stops everything)")
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        gone = next(p for p in processes if p.poll() is not None)
        print(
            f"make dev: {names[id(gone)]} exited with code {gone.returncode}: stopping "
            "everything; start `make dev` again",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        return 0
    except RuntimeError as error:
        print(f"make dev: {error}", file=sys.stderr)
        return 1
    finally:
        for process in reversed(processes):
            stop_group(process)


if __name__ == "__main__":
    sys.exit(main())
