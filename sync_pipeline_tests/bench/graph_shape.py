"""The shape of the project's asset graph as plain JSON data, for the Dagster floor (figure 4).

Read from the real `Definitions` at benchmark time, so the floor always has the same keys,
groups, dependencies, partitions, backfill policy, pools, checks, job and selection as the
pipeline the CLI runs, and cannot drift from it.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

JOB = "incremental_sync"


def _partitions(ad: dg.AssetsDefinition) -> dict[str, Any] | None:
    part = ad.partitions_def
    if part is None:
        return None
    if not isinstance(part, dg.DailyPartitionsDefinition):
        raise TypeError(f"the floor only mirrors daily partitions, not {type(part).__name__}")
    return {
        "start": part.start.strftime("%Y-%m-%d"),
        "end_offset": part.end_offset,
        "timezone": part.timezone,
    }


def _node(ad: dg.AssetsDefinition) -> dict[str, Any]:
    return {
        "name": ad.node_def.name,
        "pool": getattr(ad.node_def, "pool", None),
        "partitions": _partitions(ad),
        "single_run_backfill": ad.backfill_policy is not None,
        "assets": [
            {
                "key": list(key.path),
                "group": ad.group_names_by_key[key],
                "deps": sorted(list(dep.path) for dep in ad.asset_deps[key]),
            }
            for key in sorted(ad.keys, key=lambda k: k.to_user_string())
        ],
        "ins": {
            name: list(key.path)
            for name, key in sorted(ad.keys_by_input_name.items())
            if not ad.op.input_def_named(name).dagster_type.is_nothing
        },
        "outs": {name: list(key.path) for name, key in sorted(ad.keys_by_output_name.items())},
        "checks": [
            {"name": c.name, "asset": list(c.asset_key.path), "blocking": c.blocking}
            for c in sorted(ad.check_specs, key=lambda c: (c.asset_key.to_user_string(), c.name))
        ],
    }


def graph_shape() -> dict[str, Any]:
    """The executable nodes, the incremental job (tags) and the CLI's selection for every pair."""
    from sync_pipeline.dagster_defs.jobs import pair_selection
    from sync_pipeline.definitions import defs, field_map

    graph = defs.resolve_asset_graph()
    selection = pair_selection(field_map, list(field_map.pairs), dry_run=False).resolve(graph)
    nodes = [_node(ad) for ad in graph.assets_defs if ad.is_executable and set(ad.keys) & selection]
    job = defs.resolve_job_def(JOB)
    return {
        "job": {"name": JOB, "tags": dict(job.tags)},
        "selection": sorted(list(k.path) for k in selection),
        "nodes": sorted(nodes, key=lambda n: n["name"]),
    }
