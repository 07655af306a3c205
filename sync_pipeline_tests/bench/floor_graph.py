"""Dagster's own floor for figure 4: the pipeline's asset graph with empty bodies, run the way
`sync-pipeline sync` runs it (a fresh process, the persistent instance under DAGSTER_HOME, the
in-process executor, today's partition, the job's tags, the same asset selection).

`python -m sync_pipeline_tests.bench.floor_graph SHAPE.json [--io]` (see `graph_shape`). Imports
only Dagster: the floor is what any pipeline of this shape pays before doing any work. Each node
reports its assets materialised and its checks passed, as the real ones do.

Two floors: by default every edge is a plain dependency and bodies return `MaterializeResult`s
(no values stored: the leanest run of this graph). With `--io` the data edges stay data edges
(`ins`) and every output is a `None` kept by Dagster's in-memory IO manager (the cheapest it
has), so the run pays the same input/output events as the real one -- the same graph with only
the bodies emptied.
"""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg

QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _partitions(spec: dict[str, Any] | None) -> dg.DailyPartitionsDefinition | None:
    if spec is None:
        return None
    return dg.DailyPartitionsDefinition(
        start_date=spec["start"], end_offset=spec["end_offset"], timezone=spec["timezone"]
    )


def _empty_node(node: dict[str, Any]) -> dg.AssetsDefinition:
    partitions = _partitions(node["partitions"])
    specs = [
        dg.AssetSpec(
            dg.AssetKey(a["key"]),
            deps=[dg.AssetKey(d) for d in a["deps"]],
            group_name=a["group"],
            partitions_def=partitions,
        )
        for a in node["assets"]
    ]
    checks = [
        dg.AssetCheckSpec(c["name"], asset=dg.AssetKey(c["asset"]), blocking=c["blocking"])
        for c in node["checks"]
    ]

    @dg.multi_asset(
        name=node["name"],
        specs=specs,
        check_specs=checks,
        pool=node["pool"],
        can_subset=len(specs) > 1,
        backfill_policy=dg.BackfillPolicy.single_run() if node["single_run_backfill"] else None,
    )
    def empty(context: dg.AssetExecutionContext) -> Iterator[Any]:
        for key in context.selected_asset_keys:
            yield dg.MaterializeResult(asset_key=key)
        for check in context.selected_asset_check_keys:
            yield dg.AssetCheckResult(asset_key=check.asset_key, check_name=check.name, passed=True)

    return empty


def _io_node(node: dict[str, Any]) -> dg.AssetsDefinition:
    """Like `_empty_node`, but data edges are `ins` and outputs go through the IO manager."""
    partitions = _partitions(node["partitions"])
    group = {tuple(a["key"]): a["group"] for a in node["assets"]}
    data = {tuple(k) for k in node["ins"].values()}
    deps = {tuple(d) for a in node["assets"] for d in a["deps"]} - data
    outs = {
        name: dg.AssetOut(key=dg.AssetKey(key), group_name=group[tuple(key)])
        for name, key in node["outs"].items()
    }
    checks = [
        dg.AssetCheckSpec(c["name"], asset=dg.AssetKey(c["asset"]), blocking=c["blocking"])
        for c in node["checks"]
    ]

    def emit(context: dg.AssetExecutionContext) -> Iterator[Any]:
        for name in node["outs"]:
            yield dg.Output(None, output_name=name)
        for check in context.selected_asset_check_keys:
            yield dg.AssetCheckResult(asset_key=check.asset_key, check_name=check.name, passed=True)

    # Dagster maps `ins` to the body's parameter names, so the body needs one per input.
    names = ", ".join(node["ins"])
    scope: dict[str, Any] = {"emit": emit, "Context": dg.AssetExecutionContext}
    exec(f"def body(context: Context, {names}):\n    yield from emit(context)\n", scope)
    body = scope["body"]
    return dg.multi_asset(
        name=node["name"],
        outs=outs,
        ins={n: dg.AssetIn(dg.AssetKey(k)) for n, k in node["ins"].items()},
        deps=[dg.AssetKey(list(d)) for d in sorted(deps)],
        check_specs=checks,
        pool=node["pool"],
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run() if node["single_run_backfill"] else None,
    )(body)


def floor_definitions(shape: dict[str, Any], io: bool = False) -> dg.Definitions:
    """Empty-bodied assets of the same shape, and the same job over them."""
    assets = [(_io_node if io else _empty_node)(node) for node in shape["nodes"]]
    partitions = _partitions(next(n["partitions"] for n in shape["nodes"]))
    job = dg.define_asset_job(
        shape["job"]["name"],
        selection=dg.AssetSelection.all(),
        partitions_def=partitions,
        tags=shape["job"]["tags"],
    )
    resources = {"io_manager": dg.mem_io_manager} if io else {}
    return dg.Definitions(
        assets=assets, jobs=[job], executor=dg.in_process_executor, resources=resources
    )


def main() -> int:
    """Run the empty graph once, like the CLI's incremental run; exit 0 on success."""
    shape = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    defs = floor_definitions(shape, io="--io" in sys.argv[2:])
    keys = [dg.AssetKey(k) for k in shape["selection"]]
    partitioned = any(node["partitions"] for node in shape["nodes"])
    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def(shape["job"]["name"]).execute_in_process(
            run_config=QUIET_LOGS,
            instance=instance,
            partition_key=datetime.now(UTC).strftime("%Y-%m-%d") if partitioned else None,
            tags=shape["job"]["tags"],
            asset_selection=sorted(keys),
            raise_on_error=False,
        )
    print(f"floor run: {'success' if result.success else 'failure'}")
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
