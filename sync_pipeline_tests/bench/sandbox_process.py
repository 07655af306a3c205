"""Both emulated CRMs in their own process, so the server never shares the GIL with the client.

The parent starts `python -m sync_pipeline_tests.bench.sandbox_process SPEC`; the child serves on
ephemeral loopback ports, prints one JSON line with the URLs, then answers one JSON command per
stdin line (see `sandbox_control.COMMANDS`). It exits when stdin closes (its parent is gone)
or after `max_seconds`, whichever comes first: a load test always stops by itself.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

STARTUP_SECONDS = 120.0
UNLIMITED = 10**9  # requests per window: the sandbox never throttles


@dataclass(frozen=True)
class SandboxSpec:
    """How to start the child sandbox: seed data or plain records, and the rate limit."""

    seed: int | None = None
    persons: int = 0
    contacts: int = 0
    rate_limit: int = UNLIMITED
    webcrm_rate_limit: int | None = None  # None: `rate_limit`
    rate_window: float = 60.0
    max_seconds: float = 1800.0


class SandboxProcess:
    """The parent's handle: URLs and the command channel to the child."""

    def __init__(self, proc: subprocess.Popen[str], ready: dict[str, str]) -> None:
        self._proc = proc
        self.webcrm_url = ready["webcrm_url"]
        self.crmoffice_url = ready["crmoffice_url"]
        self.pid = proc.pid

    def call(self, cmd: str, **args: Any) -> Any:
        """Run one `sandbox_control` command in the child and return its answer."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps({"cmd": cmd, "args": args}) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the sandbox process died (exit {self._proc.poll()})")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"sandbox command {cmd} failed: {answer['error']}")
        return answer["result"]

    def stats(self) -> dict[str, dict[str, Any]]:
        """The request statistics of both systems."""
        # why the ignore below: JSON from the sandbox process is untyped
        return self.call("stats")  # type: ignore[no-any-return]

    def reset_stats(self) -> None:
        """Zero both systems' counters."""
        self.call("reset_stats")


def _read_ready(proc: subprocess.Popen[str]) -> dict[str, str]:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], STARTUP_SECONDS)
    line = proc.stdout.readline() if ready else ""
    if not line:
        proc.kill()
        raise RuntimeError(f"the sandbox process did not start (exit {proc.poll()})")
    # why the ignore below: JSON from the sandbox process is untyped
    return json.loads(line)  # type: ignore[no-any-return]


@contextmanager
def sandbox_process(spec: SandboxSpec) -> Iterator[SandboxProcess]:
    """Start the child sandbox, yield its handle, stop it (close stdin, then kill if needed)."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sync_pipeline_tests.bench.sandbox_process",
            json.dumps(asdict(spec)),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield SandboxProcess(proc, _read_ready(proc))
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _serve(spec: SandboxSpec) -> None:
    from sync_pipeline.sandbox.server import SandboxSettings, running_sandbox
    from sync_pipeline_tests.bench import sandbox_control as control

    # --quick (the smoke test) shortens the window: the figure's arithmetic is the same.
    settings = SandboxSettings(
        webcrm_port=0,
        crmoffice_port=0,
        seed=spec.seed,
        empty=spec.seed is None,
        webcrm_rate_limit=spec.rate_limit
        if spec.webcrm_rate_limit is None
        else spec.webcrm_rate_limit,
        crmoffice_rate_limit=spec.rate_limit,
        rate_window_seconds=spec.rate_window,
    )
    with running_sandbox(settings) as sandbox:
        control.populate(sandbox, spec.persons, spec.contacts)
        print(
            json.dumps({"webcrm_url": sandbox.webcrm_url, "crmoffice_url": sandbox.crmoffice_url}),
            flush=True,
        )
        marks: dict[str, control.Census] = {}
        for line in sys.stdin:
            request = json.loads(line)
            cmd, args = request["cmd"], request.get("args", {})
            try:
                if cmd == "mark":
                    marks[args["name"]] = control.census(sandbox)
                    result: Any = None
                elif cmd == "changed_since_mark":
                    result = control.changed_since(marks[args["name"]], control.census(sandbox))
                else:
                    result = control.COMMANDS[cmd](sandbox, **args)
                print(json.dumps({"result": result}), flush=True)
            except Exception as exc:  # reported to the parent, which raises
                print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)


def main() -> None:
    """Child entry point: serve until stdin closes or the deadline passes."""
    spec = SandboxSpec(**json.loads(sys.argv[1]))
    deadline = threading.Timer(spec.max_seconds, lambda: os._exit(3))
    deadline.daemon = True
    deadline.start()
    _serve(spec)


if __name__ == "__main__":
    main()
