"""`sync-pipeline` as a subprocess: the real console script, its outputs kept for the scans."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sync_pipeline.sync.crashpoints import ENV as CRASH_ENV

SCRIPT = Path(sys.executable).with_name("sync-pipeline")
RUN_TIMEOUT = 240.0


@dataclass(frozen=True)
class CliResult:
    """How one `sync-pipeline` process ended and what it printed."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def killed(self) -> bool:
        """True when SIGKILL ended it (a crash point or a wall-clock kill)."""
        return self.returncode == -signal.SIGKILL


def command(args: list[str]) -> list[str]:
    """The console script when installed, else the module."""
    if SCRIPT.exists():
        return [str(SCRIPT), *args]
    return [sys.executable, "-m", "sync_pipeline.cli", *args]


def sync_env(
    base: dict[str, str], home: Path, crash_at: str | None = None, state_url: str | None = None
) -> dict[str, str]:
    """The process environment for a sync against `base` with Dagster's state under `home` and
    the link store at `state_url` (default: a SQLite file in `home`)."""
    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    home.mkdir(parents=True, exist_ok=True)
    env.update(base)
    env["DAGSTER_HOME"] = str(home)
    env["SYNC_STATE_URL"] = state_url or f"sqlite:///{home / 'sync_state.sqlite'}"
    if crash_at:
        env[CRASH_ENV] = crash_at
    return env


class OutputLog:
    """Keeps every subprocess's stdout and stderr as files, for the secrets scan."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._count = 0

    def keep(self, label: str, result: CliResult) -> None:
        """Write one process's outputs."""
        self._count += 1
        stem = self.folder / f"{self._count:04d}-{label}"
        stem.with_suffix(".out").write_text(result.stdout, errors="surrogateescape")
        stem.with_suffix(".err").write_text(result.stderr, errors="surrogateescape")


def start(
    args: list[str], env: dict[str, str], prefix: Sequence[str] = ()
) -> subprocess.Popen[str]:
    """Start `sync-pipeline args` in its own process group, behind `prefix` (e.g. a new
    namespace, see `backends.other_host`) if given."""
    return subprocess.Popen(
        [*prefix, *command(args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def finish(
    process: subprocess.Popen[str],
    args: list[str],
    started: float,
    *,
    kill_after: float | None = None,
    timeout: float = RUN_TIMEOUT,
) -> CliResult:
    """Wait for a started process (SIGKILL its group after `kill_after` seconds, if given)."""
    try:
        out, err = process.communicate(timeout=kill_after if kill_after is not None else timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate(timeout=30)
    return CliResult(tuple(args), process.returncode, out, err, time.monotonic() - started)


def run(
    args: list[str],
    env: dict[str, str],
    log: OutputLog,
    label: str,
    *,
    kill_after: float | None = None,
) -> CliResult:
    """Run `sync-pipeline args` to the end (or SIGKILL it after `kill_after` seconds)."""
    started = time.monotonic()
    result = finish(start(args, env), args, started, kill_after=kill_after)
    log.keep(label, result)
    return result
