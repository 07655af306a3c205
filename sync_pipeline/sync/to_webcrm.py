"""Writes to WebCRM through the bulk PATCH (500 records per request), chunk by chunk: inserts
behind intents, field-level updates; the store is updated after every chunk."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from sync_pipeline.clients import ItemResult, WebcrmClient
from sync_pipeline.core import PairSpec
from sync_pipeline.store import LinkStore, LinkWrite, ShadowWrite
from sync_pipeline.sync.crashpoints import crash_point
from sync_pipeline.sync.planning import DirectionPlan
from sync_pipeline.sync.sink import (
    ApplyReport,
    Progress,
    ProgressLog,
    Sink,
    count_requests,
    ticking,
    values_of,
)


def apply_to_webcrm(
    pair: PairSpec,
    plan: DirectionPlan,
    client: WebcrmClient,
    store: LinkStore,
    run_id: str,
    *,
    id_property: str,
    max_attempts: int,
    on_progress: Progress | None = None,
) -> ApplyReport:
    """Creates and field-level updates through WebCRM's bulk PATCH, chunk by chunk."""
    report = ApplyReport(pair.name, "to_webcrm")
    progress = ProgressLog(
        f"{pair.name} to_webcrm", len(plan.creates) + len(plan.updates), on_progress
    )
    sink = Sink(pair, store, run_id, max_attempts, report, progress)
    props = {f.name: f.webcrm for f in pair.fields}
    before = client.stats.as_dict()
    _create_in_webcrm(sink, plan.creates, props, client)
    _update_in_webcrm(sink, plan.updates, props, id_property, client)
    count_requests(report, before, client.stats.as_dict())
    return report


def _create_in_webcrm(
    sink: Sink, creates: pd.DataFrame, props: Mapping[str, str], client: WebcrmClient
) -> None:
    if creates.empty:
        return
    rows = creates.to_dict("records")
    items = [(str(r["source_id"]), values_of(r, sink.names)) for r in rows]
    intents = sink.store.open_intents_for(sink.pair.name, "to_webcrm", items, sink.run_id)
    crash_point("after_intents")

    def on_chunk(offset: int, results: list[ItemResult]) -> None:
        crash_point("after_create_response")
        links, failures, dead = [], [], []
        for i, result in enumerate(results, start=offset):
            source_id, shadow = items[i]
            if result.ok and result.id is not None:
                links.append(
                    LinkWrite(
                        result.id,
                        source_id,
                        shadow,
                        "create",
                        "to_webcrm",
                        intents[i],
                        {"created": shadow},
                    )
                )
                continue
            if not result.outcome_unknown:  # the API answered: this item was not inserted
                dead.append(intents[i])
            failures.append((source_id, result.error or "create failed"))
        sink.link(links)
        if dead:
            sink.store.close_intents(dead, "not_applied")
        sink.fail_records("to_webcrm", failures)

    bodies = [{props[n]: r[n] for n in sink.names} for r in rows]
    client.bulk_upsert(sink.pair.webcrm_entity, bodies, on_chunk=ticking(sink, on_chunk))


def _update_in_webcrm(
    sink: Sink,
    updates: pd.DataFrame,
    props: Mapping[str, str],
    id_property: str,
    client: WebcrmClient,
) -> None:
    if updates.empty:
        return
    rows = updates.to_dict("records")

    def on_chunk(offset: int, results: list[ItemResult]) -> None:
        crash_point("after_update_response")
        writes, failures = [], []
        for row, result in zip(rows[offset : offset + len(results)], results, strict=True):
            changed = list(row["changed"])
            if result.ok:
                values = values_of(row, changed)
                writes.append(
                    ShadowWrite(
                        str(row["webcrm_id"]), values, "update", "to_webcrm", {"written": values}
                    )
                )
            else:
                failures.append((str(row["crmoffice_id"]), result.error or "update failed"))
        if writes:
            sink.store.update_shadows(sink.pair.name, writes, sink.run_id)
            sink.report.updated += len(writes)
        sink.fail_records("to_webcrm", failures)

    bodies = [
        {id_property: int(r["webcrm_id"]), **{props[n]: r[n] for n in r["changed"]}} for r in rows
    ]
    client.bulk_upsert(sink.pair.webcrm_entity, bodies, on_chunk=ticking(sink, on_chunk))
