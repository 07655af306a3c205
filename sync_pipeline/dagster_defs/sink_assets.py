"""Per pair, the sinks: `apply_links` → `apply_to_crmoffice` → `apply_to_webcrm`."""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.
from typing import Any

import dagster as dg

from sync_pipeline.core import FieldMap, PairSpec
from sync_pipeline.dagster_defs.extract_assets import SINGLE_RUN
from sync_pipeline.dagster_defs.partitions import modification_date
from sync_pipeline.dagster_defs.resources import (
    CrmofficeResource,
    LinkStoreResource,
    SyncPolicy,
    WebcrmResource,
)
from sync_pipeline.sync.pair_steps import (
    apply_links_step,
    apply_to_crmoffice_step,
    apply_to_webcrm_step,
)
from sync_pipeline.sync.planning import LinkPlan, SideRows
from sync_pipeline.sync.sink import ApplyReport


def _key(pair: PairSpec, name: str) -> dg.AssetKey:
    return dg.AssetKey([pair.name, name])


def _report_output(report: ApplyReport) -> dg.Output[ApplyReport]:
    metadata: dict[str, Any] = {
        **report.counts(),
        "requests": report.requests,
        "throttled_429s": report.throttled_429s,
    }
    if report.errors:
        metadata["error_samples"] = dg.MetadataValue.md("\n".join(f"- {e}" for e in report.errors))
    return dg.Output(report, metadata=metadata)


def sink_assets(pair: PairSpec, field_map: FieldMap) -> list[dg.AssetsDefinition]:
    """`apply_links` → `apply_to_crmoffice` → `apply_to_webcrm`: one writer per pair (pool)."""
    pool = f"sync_{pair.name}"
    id_property = field_map.entities["webcrm"][pair.webcrm_entity].id

    @dg.asset(
        key=_key(pair, "apply_links"),
        group_name=pair.name,
        pool=pool,
        partitions_def=modification_date,
        backfill_policy=SINGLE_RUN,
        ins={
            "plan": dg.AssetIn(_key(pair, "plan_links")),
            "webcrm_rows": dg.AssetIn(_key(pair, "webcrm_rows")),
            "crmoffice_rows": dg.AssetIn(_key(pair, "crmoffice_rows")),
        },
        description="Links matched or adopted records, moves agreed shadows, marks orphans.",
    )
    def apply_links(
        context: dg.AssetExecutionContext,
        link_store: LinkStoreResource,
        plan: LinkPlan,
        webcrm_rows: SideRows,
        crmoffice_rows: SideRows,
    ) -> dg.Output[ApplyReport]:
        return _report_output(
            apply_links_step(
                pair, plan, webcrm_rows, crmoffice_rows, link_store.store(), context.run.run_id
            )
        )

    @dg.asset(
        key=_key(pair, "apply_to_crmoffice"),
        group_name=pair.name,
        pool=pool,
        partitions_def=modification_date,
        backfill_policy=SINGLE_RUN,
        kinds={"crmoffice"},
        ins={
            "plan": dg.AssetIn(_key(pair, "plan_to_crmoffice")),
            "links_report": dg.AssetIn(_key(pair, "apply_links")),
        },
        description=f"Creates and updates {pair.crmoffice_entity} in CRMOffice.",
    )
    def apply_to_crmoffice(
        context: dg.AssetExecutionContext,
        link_store: LinkStoreResource,
        crmoffice: CrmofficeResource,
        sync_policy: SyncPolicy,
        plan: Any,
        links_report: ApplyReport,
    ) -> dg.Output[ApplyReport]:
        return _report_output(
            apply_to_crmoffice_step(
                pair,
                plan,
                crmoffice.client(),
                link_store.store(),
                context.run.run_id,
                earlier=links_report,
                log=context.log.info,
                max_attempts=sync_policy.max_failure_attempts,
            )
        )

    @dg.asset(
        key=_key(pair, "apply_to_webcrm"),
        group_name=pair.name,
        pool=pool,
        partitions_def=modification_date,
        backfill_policy=SINGLE_RUN,
        kinds={"webcrm"},
        ins={
            "plan": dg.AssetIn(_key(pair, "plan_to_webcrm")),
            "crmoffice_report": dg.AssetIn(_key(pair, "apply_to_crmoffice")),
        },
        description=f"Creates and updates {pair.webcrm_entity} in WebCRM; then moves the "
        "pair's cursors, never past a record whose write failed.",
    )
    def apply_to_webcrm(
        context: dg.AssetExecutionContext,
        link_store: LinkStoreResource,
        webcrm: WebcrmResource,
        sync_policy: SyncPolicy,
        plan: Any,
        crmoffice_report: ApplyReport,
    ) -> dg.Output[ApplyReport]:
        return _report_output(
            apply_to_webcrm_step(
                pair,
                plan,
                webcrm.client(),
                link_store.store(),
                context.run.run_id,
                id_property=id_property,
                earlier=crmoffice_report,
                log=context.log.info,
                max_attempts=sync_policy.max_failure_attempts,
            )
        )

    return [apply_links, apply_to_crmoffice, apply_to_webcrm]
