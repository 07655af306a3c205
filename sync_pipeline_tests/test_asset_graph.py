"""The asset graph (keys, dependencies, groups, checks) is locked by a snapshot.

Lineage changes must be deliberate: regenerate with
`UPDATE_ASSET_GRAPH_SNAPSHOT=1 .venv/bin/python -m pytest sync_pipeline_tests/test_asset_graph.py`
and review the diff of `asset_graph_snapshot.json`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import dagster as dg

from sync_pipeline.core import load_field_map
from sync_pipeline.definitions import build_definitions

SNAPSHOT = Path(__file__).with_name("asset_graph_snapshot.json")


def _graph() -> dict[str, Any]:
    defs = build_definitions(load_field_map())
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "deps": sorted(parent.to_user_string() for parent in node.parent_keys),
            "checks": sorted(check.name for check in node.check_keys),
        }
    jobs = sorted(job.name for job in defs.resolve_all_job_defs() if not job.name.startswith("__"))
    schedules = sorted(s.name for s in defs.schedules or [])
    sensors = sorted(s.name for s in defs.sensors or [])
    return {"assets": assets, "jobs": jobs, "schedules": schedules, "sensors": sensors}


def test_asset_graph_matches_snapshot() -> None:
    """Every asset key, its upstream keys, group and checks, plus jobs, schedules and sensors,
    as locked."""
    current = _graph()
    if os.environ.get("UPDATE_ASSET_GRAPH_SNAPSHOT"):
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    assert current == json.loads(SNAPSHOT.read_text())


def test_each_pair_is_its_own_group_from_both_sources_to_both_sinks() -> None:
    """Each pair's group reaches both sinks from both system sources."""
    graph = build_definitions(load_field_map()).resolve_asset_graph()
    for pair in load_field_map().pairs.values():
        sinks = [
            dg.AssetKey([pair.name, "apply_to_crmoffice"]),
            dg.AssetKey([pair.name, "apply_to_webcrm"]),
        ]
        for sink in sinks:
            upstream = graph.upstream_key_iterator(sink)
            ancestors = {k.to_user_string() for k in upstream}
            assert f"webcrm/{pair.webcrm_entity.lower()}" in ancestors
            assert f"crmoffice/{pair.crmoffice_entity.lower()}" in ancestors
            assert graph.get(sink).group_name == pair.name
