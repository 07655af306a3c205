"""Part 5: wrong credentials fail fast with one clear line; secrets appear in no output.

The sandbox runs with fresh random credentials (never the public defaults), so any hit of the
API token, the client secret or an issued access token in a file is a real leak. This part runs
the CLI verbosely with a persistent DAGSTER_HOME (event log on disk), fails a run on purpose,
and scans every byte it produced; `__main__` scans the whole reliability run the same way.
"""

from __future__ import annotations

from pathlib import Path

from sync_pipeline.sandbox.seed import seed_sandbox
from sync_pipeline.sandbox.server import SandboxSettings
from sync_pipeline_tests.reliability import cli
from sync_pipeline_tests.reliability.figures import Part
from sync_pipeline_tests.reliability.harness import dagster_home
from sync_pipeline_tests.reliability.sandbox_host import (
    UNLIMITED,
    HostedSandbox,
    hosted_sandbox,
    secrets_in_use,
)
from sync_pipeline_tests.reliability.scan import encodings, scan_files

FAIL_FAST_SECONDS = 30.0
WRONG = {
    "WEBCRM_API_TOKEN": "wrong-webcrm-token-0000",
    "CRMOFFICE_CLIENT_SECRET": "wrong-client-secret-0000",
}


def _wrong_credentials(sandbox: HostedSandbox, home: Path, log: cli.OutputLog, part: Part) -> None:
    """Each wrong credential: exit 1, fast, a last line naming the variable, and nothing else."""
    clear = 0
    most_lines = 0
    for variable, value in WRONG.items():
        env = cli.sync_env({**sandbox.env(), variable: value}, home)
        result = cli.run(["sync"], env, log, f"wrong-{variable}")
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        last = lines[-1] if lines else ""
        names_it = last.startswith("sync failed") and variable in last
        fast = result.returncode == 1 and result.seconds < FAIL_FAST_SECONDS
        clear += fast and names_it
        most_lines = max(most_lines, len(lines))
        part.note(
            f"{variable} wrong: exit {result.returncode} in {result.seconds:.1f} s, "
            f"{len(lines)} stderr lines, last: {last[:200]}"
        )
    part.figure("wrong_credentials_cases", len(WRONG))
    part.figure("wrong_credentials_failed_fast_and_clear", clear)
    part.figure("wrong_credentials_stderr_lines", most_lines)


def count_leaks(root: Path, client_ids: list[str], part: Part) -> int:
    """Secret occurrences in every file under `root` (notes name the files)."""
    secrets = secrets_in_use() | set(WRONG.values())
    encoded = encodings(secrets)
    for client_id in client_ids:
        encoded |= encodings(secrets, client_id)
    hits = scan_files(root, encoded)
    part.notes += [f"leaked: {hit}" for hit in hits[:20]]
    return len(hits)


def run_secrets(folder: Path, seed_records: int = 30, syncs: int = 2) -> Part:
    """Part 5; figure leaked_secrets (this part's files; `__main__` rescans the whole run)."""
    part = Part("secrets")
    settings = SandboxSettings(
        webcrm_rate_limit=UNLIMITED, crmoffice_rate_limit=UNLIMITED, token_ttl=2.0
    )
    home = dagster_home(folder)
    log = cli.OutputLog(folder / "outputs")
    with hosted_sandbox(settings) as sandbox:
        seed_sandbox(sandbox.webcrm, sandbox.crmoffice, seed_records)
        _wrong_credentials(sandbox, home, log, part)
        for label in ("verbose-sync", "verbose-resync")[:syncs]:
            result = cli.run(["sync", "-v"], cli.sync_env(sandbox.env(), home), log, label)
            part.note(f"{label}: exit {result.returncode} {result.stderr.strip()[-300:]}")
        if syncs > 1:
            cli.run(["links", "1000"], cli.sync_env(sandbox.env(), home), log, "links")
        tokens = len(secrets_in_use())
        client_ids = [sandbox.credentials.client_id]
    part.figure("secrets_watched", tokens)
    part.figure("leaked_secrets", count_leaks(folder, client_ids, part))
    return part
