"""Asset values pickled under a folder or object-storage URL, one folder per run.

A run reads only what it (or the run it re-executes) produced: two runs in flight never read
each other's snapshots or plans, and a sink never applies a plan made by another run (the sink
steps also check the plan's run id). The location is a local path or any URL fsspec knows
(`file://`, `s3://`, `gs://`, `memory://`, ...; `universal_pathlib`'s `UPath`), so on a
deployment of several machines a run retried on another one reads what the first attempt wrote.
Local run folders older than `keep_hours` are pruned; on object storage a lifecycle rule on the
bucket does that. A local folder is handled with `pathlib` alone: fsspec and `UPath` are loaded
only for a URL (about 0.05 s of every run's start otherwise).
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import dagster as dg

if TYPE_CHECKING:
    from upath import UPath

LOCAL_PROTOCOLS = ("", "file", "local")


class RunValuesIOManager(dg.ConfigurableIOManager):
    """Stores each asset's value as `<base_dir>/<run id>/<asset key>.pickle`; `base_dir` is a
    path or a URL (`SYNC_IO_URL`)."""

    base_dir: str
    keep_hours: float = 48.0

    def _is_local(self) -> bool:
        return urlsplit(self.base_dir).scheme in LOCAL_PROTOCOLS

    def _local_root(self) -> Path:
        parts = urlsplit(self.base_dir)
        return Path(parts.path if parts.scheme else self.base_dir)

    def _root(self) -> Path | UPath:
        """The base folder: a `Path` for a local folder (`file://` URLs included), a `UPath`
        for any other URL."""
        if self._is_local():
            return self._local_root()
        from upath import UPath

        return UPath(self.base_dir)

    def _path(self, run_id: str, key: dg.AssetKey) -> Path | UPath:
        return self._root() / run_id / ("__".join(key.path) + ".pickle")

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        """Write atomically: a crash never leaves half a value (temp file + rename on a local
        folder; object stores publish an object only once it is complete)."""
        path = self._path(context.run_id, context.asset_key)
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        if not self._is_local():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            return
        local = Path(str(path))
        if not local.parent.exists():
            self._prune()
        local.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=local.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, local)

    def value(self, run_id: str, key: dg.AssetKey) -> Any:
        """The value `run_id` produced for `key`, or None if it did not materialise it."""
        path = self._path(run_id, key)
        if not path.exists():
            return None
        return pickle.loads(path.read_bytes())

    def load_input(self, context: dg.InputContext) -> Any:
        """The upstream value of this run (or of the run a re-execution started from)."""
        upstream = context.upstream_output
        assert upstream is not None, "inputs here always come from upstream assets"
        value = self.value(upstream.run_id, upstream.asset_key)
        if value is None:
            raise FileNotFoundError(
                f"{upstream.asset_key.to_user_string()} was not materialised in this run: "
                "materialise a pair's plan and sinks in the same run (start a new sync)"
            )
        return value

    def _prune(self) -> None:
        """Drop the values of runs older than `keep_hours` (local folders; once per new run)."""
        base = self._local_root()
        if not base.exists():
            return
        cutoff = time.time() - self.keep_hours * 3600
        for folder in base.iterdir():
            if folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)


class SameRunInputManager(RunValuesIOManager):
    """Loads an upstream value produced by this run, or None when the run did not materialise
    it (a pair's plan reads the plans of the pairs sharing its contacts this way: a run of that
    pair alone has none to respect)."""

    def load_input(self, context: dg.InputContext) -> Any:
        """This run's value of the upstream asset, or None."""
        upstream = context.upstream_output
        assert upstream is not None, "inputs here always come from upstream assets"
        try:
            run_id = upstream.run_id
        except dg.DagsterInvariantViolationError:  # not part of this run's selection
            return None
        return self.value(run_id, upstream.asset_key)
