"""Applying one direction of a pair's plan: the same skeleton for both systems.

Creates: an intent is recorded before the request; a created record is linked at once (the link
closes its intent); a refused create closes its intent as not applied; an unknown outcome
leaves it open for the next plan to adopt. Updates: a written update settles the link's shadow
(a conflict resolution, if it was one); a record gone marks the link orphaned; a refused update
is recorded and retried on later runs up to the cap. Unwritten source records hold the pair's
cursor before them. The store is updated after every batch the writer reports, so a crash loses
at most the batch in flight — and those creates are covered by their intents.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sync_pipeline.clients import (
    CrmofficeClient,
    CrmofficeWriter,
    RecordWrite,
    RecordWriter,
    WebcrmClient,
    WebcrmWriter,
    WriteOutcome,
)
from sync_pipeline.core import (
    SOURCE_SIDE,
    TARGET_SIDE,
    Direction,
    PairSpec,
    prepare_side,
    text_column,
)
from sync_pipeline.store import LinkStore, LinkWrite
from sync_pipeline.sync.crashpoints import crash_point
from sync_pipeline.sync.extract import records_frame
from sync_pipeline.sync.plans import DirectionPlan, field_values
from sync_pipeline.sync.sink import ApplyReport, Progress, Sink, open_sink, values_of

# The write steps of a pair run in this order; the last one moves the pair's cursors.
WRITE_ORDER: tuple[Direction, ...] = ("to_crmoffice", "to_webcrm")
# Updates are written in batches of at most this many records, each batch after one re-read of
# the records changed in the target since our read (WebCRM: its bulk PATCH chunk).
REREAD_EVERY = 500
CHANGED_SINCE_READ = "changed in the target after this run read it: left for the next run"


def apply_direction(
    pair: PairSpec,
    plan: DirectionPlan,
    client: WebcrmClient | CrmofficeClient,
    store: LinkStore,
    run_id: str,
    *,
    max_attempts: int,
    earlier: Sequence[ApplyReport] = (),
    log: Progress | None = None,
) -> ApplyReport:
    """Updates then creates of `plan.direction` through the target system's `client`, under
    the pair lock; the last write step (`WRITE_ORDER`) then moves the pair's cursors, never
    past a source record whose write failed here or in an `earlier` step.

    Raises `StalePlanError` / `PairLockedError` (see `PairRun.writing`) before any write, and
    `LeaseLostError` before the next store write or remote batch once another run took the
    pair over (the lease is renewed before each remote batch, and by its heartbeat).
    """
    writer = _writer(client)
    with plan.run.writing(store, run_id) as lock:
        sink = open_sink(pair, plan, store, run_id, max_attempts, log, lock)
        before = writer.counters()
        # Updates first: their re-reads then see no record this step just created.
        _update(sink, writer)
        _create(sink, writer)
        sink.count_requests(before, writer.counters())
        if plan.direction == WRITE_ORDER[-1]:
            holds = {r.source_side: r.hold_before for r in (*earlier, sink.report)}
            plan.run.move_cursors(store, holds, log or (lambda _line: None), lock.fence)
        return sink.report


def _properties(pair: PairSpec, direction: Direction) -> dict[str, str]:
    """Canonical field name -> the target system's property."""
    return {f.name: f.prop(TARGET_SIDE[direction]) for f in pair.fields}


def _create(sink: Sink, writer: RecordWriter) -> None:
    if sink.plan.creates.empty:
        return
    rows = sink.plan.creates.to_dict("records")
    items = [(str(r["source_id"]), values_of(r, sink.names)) for r in rows]
    intents = sink.store.open_intents_for(
        sink.pair.name, sink.direction, items, sink.run_id, fence=sink.fence
    )
    crash_point("after_intents")
    props = _properties(sink.pair, sink.direction)
    defaults = sink.pair.create_defaults.get(sink.direction, {})
    # The shadow and the intent keep canonical values; the request carries the source's text.
    writes = [
        RecordWrite(
            "create",
            _with_defaults({props[n]: str(r[text_column(n)]) for n in sink.names}, defaults),
        )
        for r in rows
    ]

    def on_batch(offset: int, outcomes: list[WriteOutcome]) -> None:
        crash_point("after_create_response")
        links, refused, unknown, dead = [], [], [], []
        for i, outcome in enumerate(outcomes, start=offset):
            source_id, shadow = items[i]
            if outcome.ok and outcome.record_id:
                links.append(
                    _link(sink.direction, source_id, outcome.record_id, shadow, intents[i])
                )
            elif outcome.refused:
                dead.append(intents[i])
                refused.append((source_id, outcome.error))
            else:  # unavailable or outcome unknown: the intent stays open for the next run
                unknown.append((source_id, outcome.error or "create not confirmed"))
        sink.link(links)
        if dead:
            sink.store.close_intents(dead, "not_applied", fence=sink.fence)
        sink.reject(refused)
        sink.miss(unknown)
        sink.tick()

    writer.write(_entity(sink), writes, on_batch, sink.lease.ensure)


def _with_defaults(values: dict[str, str], defaults: Mapping[str, str]) -> dict[str, str]:
    """A create's values, with the pair's `create_defaults` where a value is empty or unmapped
    (e.g. `PersonOrganisationId`; live evidence 8)."""
    filled = {p: v for p, v in defaults.items() if not values.get(p, "").strip()}
    return {**values, **filled}


def _link(
    direction: Direction, source_id: str, target_id: str, shadow: Mapping[str, str], intent: int
) -> LinkWrite:
    webcrm_id, crmoffice_id = (
        (source_id, target_id) if direction == "to_crmoffice" else (target_id, source_id)
    )
    return LinkWrite(
        webcrm_id, crmoffice_id, shadow, "create", direction, intent, {"created": shadow}
    )


def _update(sink: Sink, writer: RecordWriter) -> None:
    """Field-level updates, `REREAD_EVERY` at a time, each batch after a re-read of the records
    changed in the target since the last look (the first: since the snapshot)."""
    rows: list[dict[Hashable, Any]] = sink.plan.updates.to_dict("records")
    reread = _Reread(sink.plan.target_changes_since)
    for start in range(0, len(rows), REREAD_EVERY):
        batch = reread.unchanged(sink, writer, rows[start : start + REREAD_EVERY])
        if batch:
            _write_updates(sink, writer, batch)


class _Reread:
    """Targets changed since the snapshot, learnt incrementally: each look asks only for what
    changed since the newest change the previous look saw (our own batches included, so one
    request per batch), and the changes accumulate for the batches still to come."""

    def __init__(self, since: datetime | None) -> None:
        self.since = since
        self.changed: dict[str, datetime | None] = {}
        self.records: dict[str, Mapping[str, Any]] = {}

    def unchanged(
        self, sink: Sink, writer: RecordWriter, rows: list[dict[Hashable, Any]]
    ) -> list[dict[Hashable, Any]]:
        """The rows whose target nobody changed since our read; the others are left for the
        next run, which sees both edits and settles them by the conflict policy (a user's edit
        made between our read and our write is never overwritten).

        A target re-read with the stamp we read is unchanged when that stamp's second was over
        before our read began (`DirectionPlan.target_settled_before`); otherwise an edit after
        our read may share it (WebCRM stamps whole seconds), and its field values must also
        equal those we read (`DirectionPlan.target_values`)."""
        if self.since is None:
            return rows
        fresh = writer.changed_since(_entity(sink), self.since)
        self.changed.update(fresh.stamps)
        self.records.update(fresh.records)
        stamps = [t for t in fresh.stamps.values() if t is not None]
        self.since = max([self.since, *stamps])
        target_id = f"{TARGET_SIDE[sink.direction]}_id"
        targets = [str(r[target_id]) for r in rows]
        stamps_read = {t: stamp for t in targets if (stamp := self._stamp_read(sink, t))}
        settled = sink.plan.target_settled_before
        ambiguous = {t for t, stamp in stamps_read.items() if settled is None or stamp > settled}
        values = self._values(sink, writer, ambiguous)
        keep: list[dict[Hashable, Any]] = []
        left: list[dict[Hashable, Any]] = []
        for row, target in zip(rows, targets, strict=True):
            unchanged = target not in self.changed or (
                target in stamps_read
                and (
                    target not in ambiguous
                    or _same(values.get(target), sink.plan.target_values.get(target))
                )
            )
            (keep if unchanged else left).append(row)
        source_id = f"{SOURCE_SIDE[sink.direction]}_id"
        sink.miss([(str(r[source_id]), CHANGED_SINCE_READ) for r in left])
        return keep

    def _stamp_read(self, sink: Sink, target: str) -> datetime | None:
        """The re-read stamp of `target` when it is the one our snapshot read, else None."""
        stamp = self.changed.get(target)
        return stamp if stamp is not None and stamp == sink.plan.target_times.get(target) else None

    def _values(
        self, sink: Sink, writer: RecordWriter, ids: set[str]
    ) -> dict[str, dict[str, object]]:
        """Canonical field values of the re-read records `ids` (a record that does not map
        cleanly is absent: treated as changed)."""
        if not ids:
            return {}
        side = TARGET_SIDE[sink.direction]
        spec = writer.entity_spec(_entity(sink))
        props = [f.prop(side) for f in sink.pair.fields]
        columns = list(dict.fromkeys([spec.id, spec.updated_at, *props]))
        frame = records_frame([self.records[i] for i in sorted(ids)], columns)
        valid = prepare_side(frame, sink.pair, side, {side: {_entity(sink): spec}}).valid
        return field_values(valid, sink.pair, ids)


def _same(now: Mapping[str, object] | None, read: Mapping[str, object] | None) -> bool:
    """Whether a record's field values equal those we read (unknown either way: no)."""
    return now is not None and read is not None and dict(now) == dict(read)


def _write_updates(sink: Sink, writer: RecordWriter, rows: list[dict[Hashable, Any]]) -> None:
    props = _properties(sink.pair, sink.direction)
    target_id = f"{TARGET_SIDE[sink.direction]}_id"
    source_id = f"{SOURCE_SIDE[sink.direction]}_id"
    writes = [
        RecordWrite(
            "update", {props[n]: str(r[text_column(n)]) for n in r["changed"]}, str(r[target_id])
        )
        for r in rows
    ]

    def on_batch(offset: int, outcomes: list[WriteOutcome]) -> None:
        crash_point("after_update_response")
        settled, refused, unknown, orphans = [], [], [], []
        for row, outcome in zip(rows[offset : offset + len(outcomes)], outcomes, strict=True):
            webcrm_id, crmoffice_id = str(row["webcrm_id"]), str(row["crmoffice_id"])
            if outcome.ok:
                settled.append(sink.settle(webcrm_id, values_of(row, list(row["changed"]))))
            elif outcome.not_found:
                orphans.append((webcrm_id, crmoffice_id, TARGET_SIDE[sink.direction]))
            elif outcome.refused:
                refused.append((str(row[source_id]), outcome.error))
            else:
                unknown.append((str(row[source_id]), outcome.error or "update not confirmed"))
        sink.settle_all(settled)
        sink.orphan(orphans)
        sink.reject(refused)
        sink.miss(unknown)
        sink.tick()

    writer.write(_entity(sink), writes, on_batch, sink.lease.ensure)


def _entity(sink: Sink) -> str:
    return sink.pair.entity(TARGET_SIDE[sink.direction])


def _writer(client: WebcrmClient | CrmofficeClient) -> RecordWriter:
    """The write port over `client`; WebCRM's bulk PATCH names a record by its `<X>Id`."""
    if isinstance(client, WebcrmClient):
        return WebcrmWriter(client)
    return CrmofficeWriter(client)
