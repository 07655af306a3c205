"""Execute a pair's plan: link-only actions, then the writes of each direction.

Every write is followed by its store update as soon as it succeeds (per record for CRMOffice,
per bulk chunk for WebCRM), so a crash loses at most the in-flight requests — and those are
covered by the create intents recorded before them. A create whose outcome is unknown (the
connection dropped) keeps its intent open: the next plan adopts the record if it was made.
Failures are keyed by the source record of the direction (WebCRM id for `to_crmoffice`,
CRMOffice id for `to_webcrm`), as the store settles them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from sync_pipeline.clients import CrmofficeClient, ItemResult, WebcrmClient, WriteOp, WriteResult
from sync_pipeline.core import PairPlan, PairSpec
from sync_pipeline.store import LinkStore, LinkWrite, ShadowWrite
from sync_pipeline.sync.crashpoints import crash_point
from sync_pipeline.sync.planning import DirectionPlan

MAX_ERROR_SAMPLES = 5
Progress = Callable[[str], None]


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
    basis_after: int = 0

    def fail(self, record_id: str, message: str) -> None:
        """Count a per-record failure and keep a few samples."""
        self.failed += 1
        if len(self.errors) < MAX_ERROR_SAMPLES:
            self.errors.append(f"{record_id}: {message}")

    def counts(self) -> dict[str, int]:
        """The numeric outcome."""
        return {
            "created": self.created,
            "updated": self.updated,
            "linked": self.linked,
            "failed": self.failed,
            "orphaned": self.orphaned,
        }


@dataclass(frozen=True)
class Sink:
    """Everything a write step needs besides the plan."""

    pair: PairSpec
    store: LinkStore
    run_id: str
    max_attempts: int
    report: ApplyReport

    @property
    def names(self) -> list[str]:
        """Canonical field names of the pair."""
        return list(self.pair.field_names)

    def fail_records(self, direction: str, rows: Sequence[tuple[str, str]]) -> None:
        """Record per-record failures (retried on later runs, given up at the cap)."""
        if rows:
            self.store.record_failures(
                self.pair.name, direction, list(rows), self.run_id, max_attempts=self.max_attempts
            )
            for record_id, error in rows:
                self.report.fail(record_id, error)

    def link(self, writes: Sequence[LinkWrite]) -> None:
        """Write new links (each closes its intent) and count them."""
        if not writes:
            return
        outcomes = self.store.add_links(
            self.pair.name, self.pair.crmoffice_entity, writes, self.run_id
        )
        for outcome in outcomes:
            if outcome.ok:
                self.report.created += 1
            else:
                self.report.fail(outcome.webcrm_id, outcome.reason)


def _values(row: Mapping[Any, Any], names: Sequence[str]) -> dict[str, str]:
    return {name: str(row[name]) for name in names}


def apply_links(pair: PairSpec, plan: PairPlan, store: LinkStore, run_id: str) -> ApplyReport:
    """Matches, adoptions, shadow moves, conflicts, orphans and dead intents: no API request."""
    report = ApplyReport(pair.name, "links")
    names = list(pair.field_names)
    new = plan.links[plan.links["action"].isin(["match", "adopt"])]
    writes = [
        LinkWrite(
            str(r["webcrm_id"]),
            str(r["crmoffice_id"]),
            _values(r, names),
            r["action"],
            None,
            None if pd.isna(r["intent_id"]) else int(r["intent_id"]),
        )
        for r in new.to_dict("records")
    ]
    if writes:
        for outcome in store.add_links(pair.name, pair.crmoffice_entity, writes, run_id):
            if outcome.ok:
                report.linked += 1
            else:
                report.fail(outcome.webcrm_id, outcome.reason)
    moves = plan.links[plan.links["action"] == "shadow_move"]
    shadow_writes = [
        ShadowWrite(str(r["webcrm_id"]), _values(r, names), "shadow_move")
        for r in moves.to_dict("records")
    ]
    shadow_writes += _conflict_entries(plan.conflicts)
    if shadow_writes:
        store.update_shadows(pair.name, shadow_writes, run_id)
    if not plan.orphans.empty:
        rows = [
            (str(r["webcrm_id"]), str(r["crmoffice_id"]), str(r["missing_side"]))
            for r in plan.orphans.to_dict("records")
        ]
        report.orphaned = store.mark_orphaned(pair.name, rows, run_id)
    if len(plan.intents_not_applied):
        store.close_intents([int(i) for i in plan.intents_not_applied["intent_id"]], "not_applied")
    crash_point("after_links")
    return report


def _conflict_entries(conflicts: pd.DataFrame) -> list[ShadowWrite]:
    """One history entry per conflicted link; the shadow moves when the winner is written."""
    entries = []
    for webcrm_id, rows in conflicts.groupby("webcrm_id", sort=True):
        detail = {
            str(r["field"]): {
                key: r[key]
                for key in ("webcrm_value", "crmoffice_value", "shadow_value", "winner", "rule")
            }
            for r in rows.to_dict("records")
        }
        entries.append(ShadowWrite(str(webcrm_id), {}, "conflict", None, detail))
    return entries


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
    sink = Sink(pair, store, run_id, max_attempts, ApplyReport(pair.name, "to_crmoffice"))
    _create_in_crmoffice(sink, plan.creates, client)
    _update_in_crmoffice(sink, plan.updates, client)
    if on_progress:
        on_progress(f"{pair.name} to_crmoffice: {sink.report.counts()}")
    return sink.report


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
    items = [(str(r["source_id"]), _values(r, sink.names)) for r in rows]
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

    client.write_many(ops, on_result=on_result)


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
            values = _values(row, changed)
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

    client.write_many(ops, on_result=on_result)


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
    sink = Sink(pair, store, run_id, max_attempts, ApplyReport(pair.name, "to_webcrm"))
    props = {f.name: f.webcrm for f in pair.fields}
    _create_in_webcrm(sink, plan.creates, props, client)
    _update_in_webcrm(sink, plan.updates, props, id_property, client)
    if on_progress:
        on_progress(f"{pair.name} to_webcrm: {sink.report.counts()}")
    return sink.report


def _create_in_webcrm(
    sink: Sink, creates: pd.DataFrame, props: Mapping[str, str], client: WebcrmClient
) -> None:
    if creates.empty:
        return
    rows = creates.to_dict("records")
    items = [(str(r["source_id"]), _values(r, sink.names)) for r in rows]
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
    client.bulk_upsert(sink.pair.webcrm_entity, bodies, on_chunk=on_chunk)


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
                values = _values(row, changed)
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
    client.bulk_upsert(sink.pair.webcrm_entity, bodies, on_chunk=on_chunk)
