"""Execute a pair's plan: link-only actions, then writes per direction.

Every write is followed by its store update as soon as it succeeds (per record for CRMOffice,
per bulk chunk for WebCRM), so a crash loses at most the in-flight requests — and those are
covered by the create intents recorded before them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from sync_pipeline.sync.ports import (
    CrmofficeWriter,
    LinkWrite,
    PairLike,
    PlanLike,
    ShadowWrite,
    StoreLike,
    WebcrmWriter,
    WriteOp,
)

MAX_ERROR_SAMPLES = 5


@dataclass
class ApplyReport:
    """What one sink step did, for metadata and the CLI table."""

    pair: str
    direction: str
    created: int = 0
    updated: int = 0
    linked: int = 0
    failed: int = 0
    orphaned: int = 0
    errors: list[str] = field(default_factory=list)

    def fail(self, record_id: str, message: str) -> None:
        """Count a per-record failure and keep a few samples."""
        self.failed += 1
        if len(self.errors) < MAX_ERROR_SAMPLES:
            self.errors.append(f"{record_id}: {message}")

    def counts(self) -> dict[str, int]:
        """Numeric fields only."""
        return {
            "created": self.created,
            "updated": self.updated,
            "linked": self.linked,
            "failed": self.failed,
            "orphaned": self.orphaned,
        }


def _now() -> datetime:
    return datetime.now(UTC)


def _field_values(row: Mapping[str, Any], names: Sequence[str]) -> dict[str, str]:
    return {name: str(row[name]) for name in names}


def apply_links(pair: PairLike, plan: PlanLike, store: StoreLike, run_id: str) -> ApplyReport:
    """Matches, adoptions, shadow moves, orphans and closed intents: no API request."""
    report = ApplyReport(pair.name, "links")
    names = [f.name for f in pair.fields]
    links = plan.links
    new = links[links["action"].isin(["match", "adopt"])]
    writes = [
        LinkWrite(
            webcrm_id=str(row["webcrm_id"]),
            crmoffice_id=str(row["crmoffice_id"]),
            shadow=_field_values(row, names),
            kind=str(row["action"]),
            direction="links",
            intent_id=None if pd.isna(row["intent_id"]) else int(row["intent_id"]),
            detail={},
        )
        for row in new.to_dict("records")
    ]
    if writes:
        outcomes = store.add_links(pair.name, pair.crmoffice_entity, writes, run_id, now=_now())
        for write, outcome in zip(writes, outcomes, strict=True):
            if outcome.ok:
                report.linked += 1
            else:
                report.fail(write.webcrm_id, outcome.message)
    moves = links[links["action"] == "shadow_move"]
    shadow_writes = [
        ShadowWrite(str(row["webcrm_id"]), _field_values(row, names), "shadow_move", "links", {})
        for row in moves.to_dict("records")
    ]
    if shadow_writes:
        store.update_shadows(pair.name, shadow_writes, run_id, now=_now())
    _record_conflicts(pair, plan, store, run_id)
    if not plan.orphans.empty:
        rows = [
            (str(r["webcrm_id"]), str(r["crmoffice_id"]), str(r["missing_side"]))
            for r in plan.orphans.to_dict("records")
        ]
        store.mark_orphaned(pair.name, rows, run_id)
        report.orphaned = len(rows)
    if len(plan.intents_not_applied):
        ids = [int(i) for i in plan.intents_not_applied["intent_id"]]
        store.close_intents(ids, "not_applied")
    return report


def _record_conflicts(pair: PairLike, plan: PlanLike, store: StoreLike, run_id: str) -> None:
    """Write each conflict and its resolution to the link's history."""
    if plan.conflicts.empty:
        return
    grouped = plan.conflicts.groupby("webcrm_id", sort=True)
    entries = []
    for webcrm_id, rows in grouped:
        detail = {
            str(r["field"]): {
                "webcrm": r["webcrm_value"],
                "crmoffice": r["crmoffice_value"],
                "shadow": r["shadow_value"],
                "winner": r["winner"],
                "rule": r["rule"],
            }
            for r in rows.to_dict("records")
        }
        entries.append((str(webcrm_id), str(rows["crmoffice_id"].iloc[0]), detail))
    store.record_history(pair.name, "conflict", entries, run_id, now=_now())


def _crmoffice_body(row: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """CRMOffice clears a field with null."""
    return {name: (str(row[name]) or None) for name in names}


def apply_to_crmoffice(
    pair: PairLike,
    plan: PlanLike,
    client: CrmofficeWriter,
    store: StoreLike,
    run_id: str,
    *,
    on_progress: Callable[[str], None] | None = None,
) -> ApplyReport:
    """Creates (each behind an intent) and field-level PATCHes, one request per record."""
    report = ApplyReport(pair.name, "to_crmoffice")
    names = [f.name for f in pair.fields]
    _create_in_crmoffice(pair, plan.creates["to_crmoffice"], names, client, store, run_id, report)
    _update_in_crmoffice(pair, plan.updates["to_crmoffice"], names, client, store, run_id, report)
    if on_progress:
        on_progress(f"{pair.name} to_crmoffice: {report.counts()}")
    return report


def _create_in_crmoffice(
    pair: PairLike,
    creates: pd.DataFrame,
    names: Sequence[str],
    client: CrmofficeWriter,
    store: StoreLike,
    run_id: str,
    report: ApplyReport,
) -> None:
    if creates.empty:
        return
    rows = creates.to_dict("records")
    items = [(str(r["source_id"]), _field_values(r, names)) for r in rows]
    intent_ids = store.open_intents_for(pair.name, "to_crmoffice", items, run_id, now=_now())
    ops = [WriteOp("create", pair.crmoffice_entity, None, _crmoffice_body(r, names)) for r in rows]

    def on_result(index: int, result: Any) -> None:
        source_id, shadow = items[index]
        if not result.ok:
            store.close_intents([intent_ids[index]], "not_applied")
            store.record_failures(pair.name, "to_crmoffice", [(source_id, result.error)], run_id)
            report.fail(source_id, result.error)
            return
        write = LinkWrite(
            source_id, str(result.record["id"]), shadow, "create", "to_crmoffice",
            intent_ids[index], {"created": shadow},
        )
        outcome = store.add_links(pair.name, pair.crmoffice_entity, [write], run_id, now=_now())
        if outcome[0].ok:
            report.created += 1
        else:
            report.fail(source_id, outcome[0].message)

    client.write_many(ops, on_result=on_result)


def _update_in_crmoffice(
    pair: PairLike,
    updates: pd.DataFrame,
    names: Sequence[str],
    client: CrmofficeWriter,
    store: StoreLike,
    run_id: str,
    report: ApplyReport,
) -> None:
    if updates.empty:
        return
    rows = updates.to_dict("records")
    ops = [
        WriteOp("patch", pair.crmoffice_entity, str(r["crmoffice_id"]), _crmoffice_body(r, list(r["changed"])))
        for r in rows
    ]

    def on_result(index: int, result: Any) -> None:
        row = rows[index]
        webcrm_id, changed = str(row["webcrm_id"]), list(row["changed"])
        if result.ok:
            values = _field_values(row, changed)
            write = ShadowWrite(webcrm_id, values, "update", "to_crmoffice", {"fields": values})
            store.update_shadows(pair.name, [write], run_id, now=_now())
            report.updated += 1
        elif result.status == 404:
            store.mark_orphaned(pair.name, [(webcrm_id, str(row["crmoffice_id"]), "crmoffice")], run_id)
            report.orphaned += 1
        else:
            store.record_failures(pair.name, "to_crmoffice", [(webcrm_id, result.error)], run_id)
            report.fail(webcrm_id, result.error)

    client.write_many(ops, on_result=on_result)


def apply_to_webcrm(
    pair: PairLike,
    plan: PlanLike,
    client: WebcrmWriter,
    store: StoreLike,
    run_id: str,
    *,
    id_property: str,
    on_progress: Callable[[str], None] | None = None,
) -> ApplyReport:
    """Creates and field-level updates through WebCRM's bulk PATCH, chunk by chunk."""
    report = ApplyReport(pair.name, "to_webcrm")
    props = {f.name: f.webcrm for f in pair.fields}
    _create_in_webcrm(pair, plan.creates["to_webcrm"], props, client, store, run_id, report)
    _update_in_webcrm(pair, plan.updates["to_webcrm"], props, id_property, client, store, run_id, report)
    if on_progress:
        on_progress(f"{pair.name} to_webcrm: {report.counts()}")
    return report


def _create_in_webcrm(
    pair: PairLike,
    creates: pd.DataFrame,
    props: Mapping[str, str],
    client: WebcrmWriter,
    store: StoreLike,
    run_id: str,
    report: ApplyReport,
) -> None:
    if creates.empty:
        return
    names = list(props)
    for chunk in _chunks(creates.to_dict("records"), client.max_bulk_items):
        items = [(str(r["source_id"]), _field_values(r, names)) for r in chunk]
        intent_ids = store.open_intents_for(pair.name, "to_webcrm", items, run_id, now=_now())
        bodies = [{props[n]: r[n] for n in names} for r in chunk]
        results = client.bulk_upsert(pair.webcrm_entity, bodies)
        links, failures, dead = [], [], []
        for (source_id, shadow), intent_id, result in zip(items, intent_ids, results, strict=True):
            if result.ok:
                links.append(LinkWrite(str(result.id), source_id, shadow, "create", "to_webcrm",
                                       intent_id, {"created": shadow}))
            else:
                failures.append((source_id, str(result.error)))
                dead.append(intent_id)
        if links:
            outcomes = store.add_links(pair.name, pair.crmoffice_entity, links, run_id, now=_now())
            for write, outcome in zip(links, outcomes, strict=True):
                if outcome.ok:
                    report.created += 1
                else:
                    report.fail(write.webcrm_id, outcome.message)
        if failures:
            store.close_intents(dead, "not_applied")
            store.record_failures(pair.name, "to_webcrm", failures, run_id)
            for source_id, error in failures:
                report.fail(source_id, error)


def _update_in_webcrm(
    pair: PairLike,
    updates: pd.DataFrame,
    props: Mapping[str, str],
    id_property: str,
    client: WebcrmWriter,
    store: StoreLike,
    run_id: str,
    report: ApplyReport,
) -> None:
    if updates.empty:
        return
    for chunk in _chunks(updates.to_dict("records"), client.max_bulk_items):
        bodies = [
            {id_property: int(r["webcrm_id"]), **{props[n]: r[n] for n in r["changed"]}}
            for r in chunk
        ]
        results = client.bulk_upsert(pair.webcrm_entity, bodies)
        writes, failures = [], []
        for row, result in zip(chunk, results, strict=True):
            webcrm_id = str(row["webcrm_id"])
            if result.ok:
                values = _field_values(row, list(row["changed"]))
                writes.append(ShadowWrite(webcrm_id, values, "update", "to_webcrm", {"fields": values}))
            else:
                failures.append((webcrm_id, str(result.error)))
        if writes:
            store.update_shadows(pair.name, writes, run_id, now=_now())
            report.updated += len(writes)
        if failures:
            store.record_failures(pair.name, "to_webcrm", failures, run_id)
            for webcrm_id, error in failures:
                report.fail(webcrm_id, error)


def _chunks(rows: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]
