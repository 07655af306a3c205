"""Asset values pickled under the state folder: the latest value per asset, whatever the partition.

Every run of a pair reads fresh snapshots, so only the newest plan matters; keeping one file per
asset lets a dry run's plan be inspected (or applied) later without Dagster's per-partition paths,
which do not fit our incremental runs over a partitioned graph.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import dagster as dg


class LatestValueIOManager(dg.ConfigurableIOManager):
    """Stores each asset's latest value as a pickle file in `base_dir`."""

    base_dir: str

    def _path(self, key: dg.AssetKey) -> Path:
        return Path(self.base_dir) / ("__".join(key.path) + ".pickle")

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        """Write atomically (temp file + rename): a crash never leaves half a value."""
        path = self._path(context.asset_key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(obj, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)

    def latest(self, key: dg.AssetKey) -> Any:
        """An asset's latest value, or None if it was never materialised."""
        path = self._path(key)
        if not path.exists():
            return None
        with path.open("rb") as handle:
            return pickle.load(handle)

    def load_input(self, context: dg.InputContext) -> Any:
        """Read the upstream asset's latest value."""
        upstream = context.upstream_output
        key = upstream.asset_key if upstream is not None else context.asset_key
        path = self._path(key)
        if not path.exists():
            raise FileNotFoundError(
                f"{key.to_user_string()} has not been materialised yet: materialise it first"
            )
        with path.open("rb") as handle:
            return pickle.load(handle)
