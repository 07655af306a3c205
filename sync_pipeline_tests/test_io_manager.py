"""Asset values kept under a URL (`SYNC_IO_URL`) that every machine of a deployment reads."""

from __future__ import annotations

import uuid
from pathlib import Path

import dagster as dg
import fsspec

from sync_pipeline.dagster_defs.io_manager import RunValuesIOManager, SameRunInputManager
from sync_pipeline.settings import io_url_from

KEY = dg.AssetKey(["persons_contacts", "plan_links"])


def _write(manager: RunValuesIOManager, run_id: str, value: object) -> None:
    manager.handle_output(dg.build_output_context(run_id=run_id, asset_key=KEY), value)


def _read(manager: RunValuesIOManager, run_id: str) -> object:
    upstream = dg.build_output_context(run_id=run_id, asset_key=KEY)
    return manager.load_input(dg.build_input_context(upstream_output=upstream))


def test_values_on_object_storage_are_read_by_another_instance() -> None:
    """A value written under `memory://` lands in that filesystem and is read by a second
    manager (another machine's) configured with the same URL."""
    url = f"memory://sync-values-{uuid.uuid4().hex}"
    run_id = str(uuid.uuid4())
    _write(RunValuesIOManager(base_dir=url), run_id, {"creates": 3})
    stored = f"{url.removeprefix('memory://')}/{run_id}/persons_contacts__plan_links.pickle"
    assert fsspec.filesystem("memory").exists(stored)
    assert _read(RunValuesIOManager(base_dir=url), run_id) == {"creates": 3}
    assert _read(SameRunInputManager(base_dir=url), run_id) == {"creates": 3}


def test_a_file_url_and_its_path_name_the_same_folder(tmp_path: Path) -> None:
    """`file:///shared/values` and `/shared/values` are one location (a shared mount)."""
    run_id = str(uuid.uuid4())
    _write(RunValuesIOManager(base_dir=tmp_path.as_uri()), run_id, [1, 2])
    assert (tmp_path / run_id / "persons_contacts__plan_links.pickle").exists()
    assert _read(RunValuesIOManager(base_dir=str(tmp_path)), run_id) == [1, 2]


def test_the_default_location_is_the_state_folder(tmp_path: Path) -> None:
    """Without `SYNC_IO_URL` values live in `<state folder>/values`, as before; with it, there."""
    assert io_url_from({}, tmp_path) == str(tmp_path / ".sync_state" / "values")
    assert io_url_from({"DAGSTER_HOME": "/h"}, tmp_path) == "/h/values"
    assert io_url_from({"SYNC_IO_URL": "s3://b/v"}, tmp_path) == "s3://b/v"
