"""`make demo`: a seeded sandbox, a full sync, a second (no-op) sync, then how to open the UI.

Everything it starts it stops; its state lives in `.sync_state/demo/` and is fresh each time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from sync_pipeline.clients import WebcrmClient
from sync_pipeline.processes import (
    BIN,
    free_port,
    port_is_free,
    prepare_dagster_home,
    start_group,
    stop_group,
    stop_on_signals,
    wait_until_serving,
)
from sync_pipeline.sandbox.webcrm_app import DEFAULT_AUTH_CODE
from sync_pipeline.sandbox.webcrm_rules import required_references

STATE = Path(".sync_state/demo")
SEED = 200


def _ports() -> tuple[int, int]:
    """The documented ports when free, else any free ones (the demo sets the env accordingly)."""
    if port_is_free("127.0.0.1", 8701) and port_is_free("127.0.0.1", 8702):
        return 8701, 8702
    return free_port(), free_port()


def default_organisation_id(webcrm_url: str) -> str:
    """The id of the sandbox's first seeded organisation: the one persons created from contacts
    belong to (`WEBCRM_DEFAULT_ORGANISATION_ID`; live WebCRM requires one, evidence 8)."""
    target = next(iter(required_references().values()))  # systems.yaml create_requires
    with WebcrmClient(webcrm_url, DEFAULT_AUTH_CODE, rate_limit_per_minute=None) as client:
        records = client.probe(target).records
    if not records:
        raise RuntimeError(f"the sandbox has no {target} record for persons created from contacts")
    return str(records[0][client.spec.entity(target).id])


def _sync(env: dict[str, str], *args: str) -> int:
    print(f"\n$ sync-pipeline sync {' '.join(args)}".rstrip(), flush=True)
    return subprocess.call([str(BIN / "sync-pipeline"), "sync", *args], env=env)


def main() -> int:
    """Run the demo; returns the exit code."""
    stop_on_signals()
    shutil.rmtree(STATE, ignore_errors=True)
    home = prepare_dagster_home(STATE / "dagster_home")
    webcrm_port, crmoffice_port = _ports()
    env = {
        **os.environ,
        "WEBCRM_BASE_URL": f"http://127.0.0.1:{webcrm_port}",
        "CRMOFFICE_BASE_URL": f"http://127.0.0.1:{crmoffice_port}",
        "DAGSTER_HOME": str(home),
    }
    for secret in ("WEBCRM_API_TOKEN", "CRMOFFICE_CLIENT_ID", "CRMOFFICE_CLIENT_SECRET"):
        env.pop(secret, None)  # the sandbox's own credentials
    print(f"Starting the sandbox (seed {SEED}) on ports {webcrm_port} and {crmoffice_port}...")
    sandbox = start_group(
        [
            str(BIN / "sync-pipeline"),
            "sandbox",
            "--seed",
            str(SEED),
            "--webcrm-port",
            str(webcrm_port),
            "--crmoffice-port",
            str(crmoffice_port),
        ],
        env,
        log=STATE / "sandbox.log",
    )
    try:
        wait_until_serving([env["WEBCRM_BASE_URL"], env["CRMOFFICE_BASE_URL"]], sandbox)
        env["WEBCRM_DEFAULT_ORGANISATION_ID"] = default_organisation_id(env["WEBCRM_BASE_URL"])
        if _sync(env, "--full") != 0:
            return 1
        print("\nA second sync right after the first has nothing to do:")
        if _sync(env) != 0:
            return 1
    finally:
        stop_group(sandbox)
    print(
        "\nDone. To explore it in the Dagster UI:\n"
        "  make dev      # starts the sandbox and `dagster dev`; open http://127.0.0.1:3000\n"
        "  then Jobs > incremental_sync > Launchpad, or Assets > a pair's group > Materialize."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
