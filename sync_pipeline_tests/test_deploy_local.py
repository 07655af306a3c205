"""`sync-pipeline deploy-local --check` (`make prod-check`): the production shape on PostgreSQL
runs a scheduled incremental sync, a backfill and a WebCRM hook-triggered run under the daemon
(slow: about 3 minutes)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from sync_pipeline.processes import BIN


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_deploy_local_check_runs_a_schedule_a_backfill_and_a_hook_under_the_daemon() -> None:
    """The check exits 0 with its one-line summary, and leaves no server running."""
    # Under the system temp folder, open to others: PostgreSQL may run as another user.
    folder = Path(tempfile.mkdtemp(prefix="sync-pipeline-prod-"))
    folder.chmod(0o755)
    try:
        done = subprocess.run(
            [str(BIN / "sync-pipeline"), "deploy-local", "--check", "--folder", str(folder)],
            capture_output=True,
            text=True,
            timeout=1100,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        (line,) = done.stdout.splitlines()
        assert line.startswith("prod check: ok") and "backfill" in line and "hook stored" in line
        assert not (folder / "check" / "postgres" / "data" / "postmaster.pid").exists()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
