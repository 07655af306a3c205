"""Writes to WebCRM through the bulk PATCH (500 records per request), chunk by chunk: inserts
behind intents, field-level updates; the store is updated after every chunk."""

from __future__ import annotations

from collections.abc import Mapping

from sync_pipeline.clients import ItemResult, WebcrmClient
from sync_pipeline.core import PairSpec, text_column
from sync_pipeline.store import LinkStore, LinkWrite
from sync_pipeline.sync.crashpoints import crash_point
from sync_pipeline.sync.planning import DirectionPlan
from sync_pipeline.sync.sink import (
    ApplyReport,
    Heartbeat,
    Progress,
    Sink,
    count_requests,
    open_sink,
    ticking,
    values_of,
)

# WebCRM answers a bulk-PATCH item whose id is gone with "<Entity> with id N was not found."
NOT_FOUND = "not found"


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
    heartbeat: Heartbeat | None = None,
) -> ApplyReport:
    """Creates and field-level updates through WebCRM's bulk PATCH, chunk by chunk."""
    sink = open_sink(
        pair,
        plan,
        store,
        run_id,
        max_attempts=max_attempts,
        on_progress=on_progress,
        heartbeat=heartbeat,
    )
    props = {f.name: f.webcrm for f in pair.fields}
    before = client.stats.as_dict()
    _create_in_webcrm(sink, props, client)
    _update_in_webcrm(sink, props, id_property, client)
    count_requests(sink.report, before, client.stats.as_dict())
    return sink.report


def _create_in_webcrm(sink: Sink, props: Mapping[str, str], client: WebcrmClient) -> None:
    if sink.plan.creates.empty:
        return
    rows = sink.plan.creates.to_dict("records")
    items = [(str(r["source_id"]), values_of(r, sink.names)) for r in rows]
    intents = sink.store.open_intents_for(sink.pair.name, "to_webcrm", items, sink.run_id)
    crash_point("after_intents")

    def on_chunk(offset: int, results: list[ItemResult]) -> None:
        crash_point("after_create_response")
        links, refused, unknown, dead = [], [], [], []
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
            elif result.outcome_unknown:  # the intent stays open for the next run
                unknown.append((source_id, result.error or "create not confirmed"))
            else:  # the API answered: this item was not inserted
                dead.append(intents[i])
                refused.append((source_id, result.error or "create refused"))
        sink.link(links)
        if dead:
            sink.store.close_intents(dead, "not_applied")
        sink.reject(refused)
        sink.miss(unknown)

    bodies = [{props[n]: r[text_column(n)] for n in sink.names} for r in rows]
    client.bulk_upsert(sink.pair.webcrm_entity, bodies, on_chunk=ticking(sink, on_chunk))


def _update_in_webcrm(
    sink: Sink, props: Mapping[str, str], id_property: str, client: WebcrmClient
) -> None:
    if sink.plan.updates.empty:
        return
    rows = sink.plan.updates.to_dict("records")

    def on_chunk(offset: int, results: list[ItemResult]) -> None:
        crash_point("after_update_response")
        writes, refused, unknown, orphans = [], [], [], []
        for row, result in zip(rows[offset : offset + len(results)], results, strict=True):
            webcrm_id, crmoffice_id = str(row["webcrm_id"]), str(row["crmoffice_id"])
            error = result.error or "update failed"
            if result.ok:
                writes.append(sink.settle(webcrm_id, values_of(row, list(row["changed"]))))
            elif result.outcome_unknown:
                unknown.append((crmoffice_id, error))
            elif NOT_FOUND in error.lower():
                orphans.append((webcrm_id, crmoffice_id, "webcrm"))
            else:
                refused.append((crmoffice_id, error))
        if writes:
            sink.store.update_shadows(sink.pair.name, writes, sink.run_id)
            sink.report.updated += len(writes)
        if orphans:
            sink.report.orphaned += sink.store.mark_orphaned(sink.pair.name, orphans, sink.run_id)
        sink.reject(refused)
        sink.miss(unknown)

    bodies = [
        {id_property: int(r["webcrm_id"]), **{props[n]: r[text_column(n)] for n in r["changed"]}}
        for r in rows
    ]
    client.bulk_upsert(sink.pair.webcrm_entity, bodies, on_chunk=ticking(sink, on_chunk))
