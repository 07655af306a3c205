"""Start and stop the helper processes of `make demo`, `make dev` and `make prod` (sandbox,
dagster dev, the WebCRM hook receiver).

`start_hooks` is near-real-time with hooks for `make dev` and `make prod` alike: `sync-pipeline
hooks serve` on loopback (port `HOOKS_PORT`, a free one when taken) as one more managed process,
our hooks registered on the sandbox's WebCRM for it, and the env that the code location and
daemon get set to hooks mode (`SYNC_WEBCRM_HOOKS=on`, `SYNC_HOOKS_SECRET`).
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx

from sync_pipeline.commands.hooks import SECRET_VARIABLE as SECRET_ENV
from sync_pipeline.settings import HOOKS_ENV

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
    urls: Sequence[str],
    process: subprocess.Popen[bytes],
    timeout: float = 30.0,
    *,
    what: str = "the sandbox",
    path: str = "/_sandbox/stats",
) -> None:
    """Poll `path` of each URL (by default each sandbox's stats endpoint) until it answers;
    RuntimeError naming `what` when the process died or after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    pending = list(urls)
    while pending:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode} while starting")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not answer on {', '.join(pending)} in {timeout:.0f} s")
        try:
            httpx.get(f"{pending[0]}{path}", timeout=1.0).raise_for_status()
            pending.pop(0)
        except httpx.HTTPError:
            time.sleep(0.2)


HOST = "127.0.0.1"
HOOKS_PORT = 8710  # `hooks serve`'s default
# Starts one managed process: (name, argv, env) -> the process (its log named after `name`).
Launch = Callable[[str, list[str], dict[str, str]], subprocess.Popen[bytes]]


def start_hooks(
    env: dict[str, str], launch: Launch, *, port: int | None = None, quiet: bool = False
) -> str | None:
    """Turn WebCRM hooks on for a deployment whose `env` reaches the sandbox's WebCRM and the
    link store the runs use; returns the receiver's URL, None when `SYNC_WEBCRM_HOOKS=off`
    (polling only, nothing started).

    Sets `SYNC_HOOKS_SECRET` in `env` to a random one (`secrets.token_urlsafe(32)`) unless set,
    and `SYNC_WEBCRM_HOOKS=on`; launches `hooks serve` on loopback `port` (default
    `HOOKS_PORT`, a free port when that is taken) and waits for its `/healthz`; then `hooks
    unregister` (hooks of an earlier start carry an old secret) and `hooks register
    --target-url <receiver>`. Prints one line (unless `quiet`), never the secret.
    RuntimeError (one line) when the receiver does not start or a hooks command fails; the
    caller stops what `launch` started.
    """
    if env.get(HOOKS_ENV, "").strip().lower() == "off":
        return None
    if not env.get(SECRET_ENV, "").strip():
        env[SECRET_ENV] = secrets.token_urlsafe(32)
    env[HOOKS_ENV] = "on"
    if port is None:
        port = HOOKS_PORT if port_is_free(HOST, HOOKS_PORT) else free_port()
    url = f"http://{HOST}:{port}"
    cli = str(BIN / "sync-pipeline")
    receiver = launch("hooks", [cli, "hooks", "serve", "--host", HOST, "--port", str(port)], env)
    wait_until_serving([url], receiver, what="the hook receiver", path="/healthz")
    for args in (["unregister"], ["register", "--target-url", url]):
        try:
            done = subprocess.run(
                [cli, "hooks", *args], env=env, capture_output=True, text=True, timeout=120
            )
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"hooks {args[0]} did not finish in 120 s") from None
        if done.returncode != 0:
            why = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"hooks {args[0]} failed: {why}")
    if not quiet:
        print(f"WebCRM hooks: on, receiver {url} (events into the link store)", flush=True)
    return url
