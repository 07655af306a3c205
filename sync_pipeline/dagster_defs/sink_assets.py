"""Per pair, the sinks: `apply_links`, then one asset per direction in `sync.WRITE_ORDER`.

Each sink holds the pair's pool (one writer per pair across runs, on top of the store's lock)
and applies only its own run's plan.
"""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.
from collections.abc import Callable
from typing import Any

import dagster as dg

from sync_pipeline import sync
from sync_pipeline.core import TARGET_SIDE, Direction, FieldMap, PairSpec
from sync_pipeline.dagster_defs.keys import apply_key, plan_key, rows_key
from sync_pipeline.dagster_defs.resources import LinkStoreResource

SYSTEM_NAMES = {"crmoffice": "CRMOffice", "webcrm": "WebCRM"}


def _report_output(report: sync.ApplyReport) -> dg.Output[sync.ApplyReport]:
    metadata: dict[str, Any] = {
        **report.counts(),
        "requests": report.requests,
        "throttled_429s": report.throttled_429s,
    }
    if report.errors:
        metadata["error_samples"] = dg.MetadataValue.md("\n".join(f"- {e}" for e in report.errors))
    return dg.Output(report, metadata=metadata)


def _sink(
    pair: PairSpec, key: dg.AssetKey, **kwargs: Any
) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    """The decorator every sink shares: its group, the pair's pool and the partitions."""
    decorator: Callable[[Callable[..., Any]], dg.AssetsDefinition] = dg.asset(
        key=key,
        group_name=pair.name,
        pool=f"sync_{pair.name}",
        **kwargs,
    )
    return decorator


def links_sink(pair: PairSpec) -> dg.AssetsDefinition:
    """`<pair>/apply_links`: quarantine bookkeeping and the link-only actions (no API call)."""

    @_sink(
        pair,
        apply_key(pair, "links"),
        ins={
            "plan": dg.AssetIn(plan_key(pair, "links")),
            "webcrm_rows": dg.AssetIn(rows_key(pair, "webcrm")),
            "crmoffice_rows": dg.AssetIn(rows_key(pair, "crmoffice")),
        },
        description="Records the quarantine, links matched and adopted records, moves the "
        "shadows both sides already agree on and marks orphaned links. No API request.",
    )
    def apply_links(
        context: dg.AssetExecutionContext,
        link_store: LinkStoreResource,
        plan: Any,
        webcrm_rows: Any,
        crmoffice_rows: Any,
    ) -> dg.Output[sync.ApplyReport]:
        store = link_store.store()
        report = sync.apply_links_step(
            pair, plan, webcrm_rows, crmoffice_rows, store, context.run.run_id
        )
        return _report_output(report)

    return apply_links


def direction_sink(
    pair: PairSpec, field_map: FieldMap, direction: Direction, after: dg.AssetKey
) -> dg.AssetsDefinition:
    """`<pair>/apply_<direction>`: the creates and updates of one direction, after the sink
    `after` (whose report it reads: its failed records hold the cursors too)."""
    target = TARGET_SIDE[direction]
    moves = " Then moves the pair's cursors, never past a record whose write failed." * (
        direction == sync.WRITE_ORDER[-1]
    )

    @_sink(
        pair,
        apply_key(pair, direction),
        kinds={target},
        ins={"plan": dg.AssetIn(plan_key(pair, direction)), "earlier": dg.AssetIn(after)},
        required_resource_keys={target, "link_store", "sync_policy"},
        description=f"Creates and updates {pair.entity(target)} in {SYSTEM_NAMES[target]} as "
        f"planned, recording each create's intent first and each outcome in the link store."
        f"{moves}",
    )
    def apply_direction(
        context: dg.AssetExecutionContext, plan: Any, earlier: Any
    ) -> dg.Output[sync.ApplyReport]:
        report = sync.apply_direction(
            pair,
            plan,
            getattr(context.resources, target).client(),
            context.resources.link_store.store(),
            context.run.run_id,
            max_attempts=context.resources.sync_policy.max_failure_attempts,
            earlier=[earlier],
            log=context.log.info,
        )
        return _report_output(report)

    return apply_direction


def sink_assets(pair: PairSpec, field_map: FieldMap) -> list[dg.AssetsDefinition]:
    """`apply_links`, then each direction in `sync.WRITE_ORDER`, each after the one before."""
    sinks = [links_sink(pair)]
    previous = apply_key(pair, "links")
    for direction in sync.WRITE_ORDER:
        sinks.append(direction_sink(pair, field_map, direction, previous))
        previous = apply_key(pair, direction)
    return sinks
