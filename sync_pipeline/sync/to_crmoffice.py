"""Writes to CRMOffice: creates (each behind an intent) and field-level PATCHes, one request
per record with bounded concurrency; the store is updated as each write succeeds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from sync_pipeline.clients import CrmofficeClient, WriteOp, WriteResult
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


def apply_to_crmoffice(
    pair: PairSpec,
    plan: DirectionPlan,
    client: CrmofficeClient,
    store: LinkStore,
    run_id: str,
    *,
    max_attempts: int,
    on_progress: Progress | None = None,
) -> ApplyReport:
    """Creates (each behind an intent) and field-level PATCHes, one request per record."""
    report = ApplyReport(pair.name, "to_crmoffice")
    progress = ProgressLog(
        f"{pair.name} to_crmoffice", len(plan.creates) + len(plan.updates), on_progress
    )
    sink = Sink(pair, store, run_id, max_attempts, report, progress)
    before = client.stats.as_dict()
    _create_in_crmoffice(sink, plan.creates, client)
    _update_in_crmoffice(sink, plan.updates, client)
    count_requests(report, before, client.stats.as_dict())
    return report


def _crmoffice_body(row: Mapping[Any, Any], names: Sequence[str]) -> dict[str, Any]:
    """CRMOffice clears a field with null."""
    return {name: (str(row[name]) or None) for name in names}


def _definitely_not_applied(result: WriteResult) -> bool:
    """A 4xx rejection means nothing was written; anything else may have been."""
    status = result.status
    return not result.outcome_unknown and status is not None and 400 <= status < 500


def _create_in_crmoffice(sink: Sink, creates: pd.DataFrame, client: CrmofficeClient) -> None:
    if creates.empty:
        return
    rows = creates.to_dict("records")
    items = [(str(r["source_id"]), values_of(r, sink.names)) for r in rows]
    intents = sink.store.open_intents_for(sink.pair.name, "to_crmoffice", items, sink.run_id)
    crash_point("after_intents")
    entity = sink.pair.crmoffice_entity
    ops = [WriteOp("create", entity, _crmoffice_body(r, sink.names)) for r in rows]

    def on_result(index: int, result: WriteResult) -> None:
        source_id, shadow = items[index]
        crash_point("after_create_response")
        if result.ok and result.record is not None:
            sink.link(
                [
                    LinkWrite(
                        source_id,
                        str(result.record["id"]),
                        shadow,
                        "create",
                        "to_crmoffice",
                        intents[index],
                        {"created": shadow},
                    )
                ]
            )
            return
        if _definitely_not_applied(result):
            sink.store.close_intents([intents[index]], "not_applied")
        sink.fail_records("to_crmoffice", [(source_id, result.error or "create failed")])

    client.write_many(ops, on_result=ticking(sink, on_result))


def _update_in_crmoffice(sink: Sink, updates: pd.DataFrame, client: CrmofficeClient) -> None:
    if updates.empty:
        return
    rows = updates.to_dict("records")
    ops = [
        WriteOp(
            "patch",
            sink.pair.crmoffice_entity,
            _crmoffice_body(r, list(r["changed"])),
            str(r["crmoffice_id"]),
        )
        for r in rows
    ]

    def on_result(index: int, result: WriteResult) -> None:
        row = rows[index]
        webcrm_id, changed = str(row["webcrm_id"]), list(row["changed"])
        crash_point("after_update_response")
        if result.ok:
            values = values_of(row, changed)
            sink.store.update_shadows(
                sink.pair.name,
                [ShadowWrite(webcrm_id, values, "update", "to_crmoffice", {"written": values})],
                sink.run_id,
            )
            sink.report.updated += 1
        elif result.status == 404:
            orphan = (webcrm_id, str(row["crmoffice_id"]), "crmoffice")
            sink.report.orphaned += sink.store.mark_orphaned(sink.pair.name, [orphan], sink.run_id)
        else:
            sink.fail_records("to_crmoffice", [(webcrm_id, result.error or "update failed")])

    client.write_many(ops, on_result=ticking(sink, on_result))
