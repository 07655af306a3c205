"""Asset values pickled under the state folder, one folder per run.

A run reads only what it (or the run it re-executes) produced: two runs in flight never read
each other's snapshots or plans, and a sink never applies a plan made by another run (the sink
steps also check the plan's run id). Run folders older than `keep_hours` are pruned.
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import dagster as dg


class RunValuesIOManager(dg.ConfigurableIOManager):
    """Stores each asset's value as `<base_dir>/<run id>/<asset key>.pickle`."""

    base_dir: str
    keep_hours: float = 48.0

    def _path(self, run_id: str, key: dg.AssetKey) -> Path:
        return Path(self.base_dir) / run_id / ("__".join(key.path) + ".pickle")

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        """Write atomically (temp file + rename): a crash never leaves half a value."""
        path = self._path(context.run_id, context.asset_key)
        if not path.parent.exists():
            self._prune()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(obj, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)

    def value(self, run_id: str, key: dg.AssetKey) -> Any:
        """The value `run_id` produced for `key`, or None if it did not materialise it."""
        path = self._path(run_id, key)
        if not path.exists():
            return None
        with path.open("rb") as handle:
            return pickle.load(handle)

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
        """Drop the values of runs older than `keep_hours` (called once per new run)."""
        base = Path(self.base_dir)
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
