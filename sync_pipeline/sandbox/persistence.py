"""`--data-dir`: both CRMs' state as JSON files, flushed periodically and on shutdown.

A snapshot holds the records, the id counters and the timestamps, so a restart with the same
directory carries on where the last run stopped. Files are replaced atomically.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Protocol


class Snapshotting(Protocol):
    """A state that can be dumped to and loaded from JSON; `version` changes on every write."""

    version: int

    def dump(self) -> dict[str, Any]:
        """A JSON-ready snapshot."""
        ...

    def load(self, snapshot: dict[str, Any]) -> None:
        """Replace everything with a snapshot."""
        ...


class SnapshotFile:
    """One state's snapshot file; `flush()` writes only when the state changed."""

    def __init__(self, path: Path, state: Snapshotting) -> None:
        self.path = path
        self._state = state
        self._saved_version: int | None = None
        self._lock = threading.Lock()

    def restore(self) -> bool:
        """Load the file into the state if it exists; True if it did."""
        if not self.path.exists():
            return False
        self._state.load(json.loads(self.path.read_text(encoding="utf-8")))
        self._saved_version = self._state.version
        return True

    def flush(self) -> None:
        """Write the snapshot (atomically) if the state changed since the last write."""
        with self._lock:
            version = self._state.version
            if version == self._saved_version:
                return
            text = json.dumps(self._state.dump(), ensure_ascii=False, separators=(",", ":"))
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_suffix(".json.partial")
            partial.write_text(text, encoding="utf-8")
            os.replace(partial, self.path)
            self._saved_version = version


class PeriodicFlusher:
    """A daemon thread flushing snapshot files every `interval` seconds until stopped."""

    def __init__(self, files: list[SnapshotFile], interval: float = 1.0) -> None:
        self._files = files
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sandbox-flusher", daemon=True)

    def start(self) -> None:
        """Begin flushing in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and flush one last time."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.flush_all()

    def flush_all(self) -> None:
        """Flush every file now."""
        for file in self._files:
            file.flush()

    def _run(self) -> None:
        pause = self._interval
        while not self._stop.wait(pause):
            started = time.monotonic()
            self.flush_all()
            # Big states take a while to serialise; keep flushing to a small share of the time.
            pause = max(self._interval, 5 * (time.monotonic() - started))
