"""Writes to CRMOffice: creates (each behind an intent) and field-level PATCHes, one request
per record with bounded concurrency; the store is updated as each write succeeds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sync_pipeline.clients import CrmofficeClient, WriteOp, WriteResult
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


def apply_to_crmoffice(
    pair: PairSpec,
    plan: DirectionPlan,
    client: CrmofficeClient,
    store: LinkStore,
    run_id: str,
    *,
    max_attempts: int,
    on_progress: Progress | None = None,
    heartbeat: Heartbeat | None = None,
) -> ApplyReport:
    """Creates (each behind an intent) and field-level PATCHes, one request per record."""
    sink = open_sink(
        pair,
        plan,
        store,
        run_id,
        max_attempts=max_attempts,
        on_progress=on_progress,
        heartbeat=heartbeat,
    )
    before = client.stats.as_dict()
    _create_in_crmoffice(sink, client)
    _update_in_crmoffice(sink, client)
    count_requests(sink.report, before, client.stats.as_dict())
    return sink.report


def _crmoffice_body(row: Mapping[Any, Any], names: Sequence[str]) -> dict[str, Any]:
    """The source's own text of each field (its canonical form is what was compared);
    CRMOffice clears a field with null."""
    return {name: (str(row[text_column(name)]) or None) for name in names}


def _rejected(result: WriteResult) -> bool:
    """A 4xx answer: the API refused the record and wrote nothing."""
    status = result.status
    return not result.outcome_unknown and status is not None and 400 <= status < 500


def _create_in_crmoffice(sink: Sink, client: CrmofficeClient) -> None:
    if sink.plan.creates.empty:
        return
    rows = sink.plan.creates.to_dict("records")
    items = [(str(r["source_id"]), values_of(r, sink.names)) for r in rows]
    intents = sink.store.open_intents_for(sink.pair.name, "to_crmoffice", items, sink.run_id)
    crash_point("after_intents")
    entity = sink.pair.crmoffice_entity
    ops = [WriteOp("create", entity, _crmoffice_body(r, sink.names)) for r in rows]

    def on_result(index: int, result: WriteResult) -> None:
        source_id, shadow = items[index]
        crash_point("after_create_response")
        if result.ok and result.record is not None:
            target = str(result.record["id"])
            sink.link(
                [
                    LinkWrite(
                        source_id,
                        target,
                        shadow,
                        "create",
                        "to_crmoffice",
                        intents[index],
                        {"created": shadow},
                    )
                ]
            )
        elif _rejected(result):
            sink.store.close_intents([intents[index]], "not_applied")
            sink.reject([(source_id, result.error or "create refused")])
        else:  # unavailable or outcome unknown: the intent stays open for the next run
            sink.miss([(source_id, result.error or "create not confirmed")])

    client.write_many(ops, on_result=ticking(sink, on_result))


def _update_in_crmoffice(sink: Sink, client: CrmofficeClient) -> None:
    if sink.plan.updates.empty:
        return
    rows = sink.plan.updates.to_dict("records")
    entity = sink.pair.crmoffice_entity
    ops = [
        WriteOp("patch", entity, _crmoffice_body(r, list(r["changed"])), str(r["crmoffice_id"]))
        for r in rows
    ]

    def on_result(index: int, result: WriteResult) -> None:
        row = rows[index]
        webcrm_id, changed = str(row["webcrm_id"]), list(row["changed"])
        crash_point("after_update_response")
        if result.ok:
            write = sink.settle(webcrm_id, values_of(row, changed))
            sink.store.update_shadows(sink.pair.name, [write], sink.run_id)
            sink.report.updated += 1
        elif result.status == 404:
            orphan = (webcrm_id, str(row["crmoffice_id"]), "crmoffice")
            sink.report.orphaned += sink.store.mark_orphaned(sink.pair.name, [orphan], sink.run_id)
        elif _rejected(result):
            sink.reject([(webcrm_id, result.error or "update refused")])
        else:
            sink.miss([(webcrm_id, result.error or "update not confirmed")])

    client.write_many(ops, on_result=ticking(sink, on_result))
