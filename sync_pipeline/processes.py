"""Start and stop the helper processes of `make demo` and `make dev` (sandbox, dagster dev)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent
# The Dagster instance of `make demo` and `make dev`: one writer per pair (each pair's sink steps
# share a pool of size 1), and no telemetry from a sandbox demo.
INSTANCE_YAML = """\
concurrency:
  pools:
    default_limit: 1
telemetry:
  enabled: false
"""


def prepare_dagster_home(home: Path) -> Path:
    """Create `home` with our instance settings; returns its absolute path."""
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    return home


def port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on host:port."""
    with socket.socket() as probe:
        return probe.connect_ex((host, port)) != 0


def free_port() -> int:
    """An ephemeral port on loopback that is free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_group(
    args: Sequence[str], env: Mapping[str, str], log: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start a process in its own process group (`dagster dev` ignores SIGTERM otherwise)."""
    out = log.open("ab") if log else subprocess.DEVNULL
    return subprocess.Popen(
        list(args), env=dict(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )


def stop_group(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Stop the whole group: SIGINT (what `dagster dev` shuts down on), then SIGTERM, then
    SIGKILL for what is left, each after `timeout` seconds."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            return


def stop_on_signals() -> None:
    """Turn SIGTERM and SIGINT into KeyboardInterrupt, even where the parent shell ignored
    SIGINT (a background job), so `finally` blocks stop what was started."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)


def wait_until_serving(
    urls: Sequence[str], process: subprocess.Popen[bytes], timeout: float = 30.0
) -> None:
    """Poll each sandbox's stats endpoint until it answers; fail fast if the process died."""
    deadline = time.monotonic() + timeout
    pending = list(urls)
    while pending:
        if process.poll() is not None:
            raise RuntimeError(f"the sandbox exited with code {process.returncode} while starting")
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the sandbox did not answer on {', '.join(pending)} in {timeout:.0f} s"
            )
        try:
            httpx.get(f"{pending[0]}/_sandbox/stats", timeout=1.0).raise_for_status()
            pending.pop(0)
        except httpx.HTTPError:
            time.sleep(0.2)
