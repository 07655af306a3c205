"""What a sink step did (`ApplyReport`), its progress log, and the context every write shares."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sync_pipeline.core import SOURCE_SIDE, Direction, PairSpec
from sync_pipeline.store import Fence, LinkStore, LinkWrite, PairLock, ShadowWrite
from sync_pipeline.sync.plans import DirectionPlan

MAX_ERROR_SAMPLES = 5
Progress = Callable[[str], None]


@dataclass
class ApplyReport:
    """What one sink step did, for metadata, the CLI table and the cursors.

    `direction`: `links`, `to_crmoffice` or `to_webcrm`. `hold_before`: the oldest
    modification time among source records whose write failed in this step; the pair's cursor
    on the source side must stay before it so they are read again. `given_up`: the pair's
    source records whose writes in this direction were given up on (the cap of refusals), left
    in quarantine until someone edits them; `gave_up_now`: how many of them this step gave up.
    """

    pair: str
    direction: str
    created: int = 0
    updated: int = 0
    linked: int = 0
    failed: int = 0
    orphaned: int = 0
    errors: list[str] = field(default_factory=list)
    requests: int = 0
    throttled_429s: int = 0
    hold_before: datetime | None = None
    given_up: int = 0
    gave_up_now: int = 0

    @property
    def waiting(self) -> int:
        """Records that failed in this step and are tried again by the next run."""
        return self.failed - self.gave_up_now

    @property
    def source_side(self) -> str:
        """The side whose records this step's writes come from (`links` for link-only)."""
        sides = {str(direction): str(side) for direction, side in SOURCE_SIDE.items()}
        return sides.get(self.direction, self.direction)

    def fail(self, record_id: str, message: str, source_time: datetime | None = None) -> None:
        """Count a per-record failure, keep a few samples, and hold the cursor before it."""
        self.failed += 1
        if len(self.errors) < MAX_ERROR_SAMPLES:
            self.errors.append(f"{record_id}: {message}")
        if source_time is not None and (self.hold_before is None or source_time < self.hold_before):
            self.hold_before = source_time

    def counts(self) -> dict[str, int]:
        """The numeric outcome."""
        return {
            "created": self.created,
            "updated": self.updated,
            "linked": self.linked,
            "failed": self.failed,
            "waiting": self.waiting,
            "given_up": self.given_up,
            "orphaned": self.orphaned,
        }


@dataclass
class ProgressLog:
    """Says how far a long write step is (at most every `every` seconds, and at the end)."""

    label: str
    total: int
    log: Progress | None
    every: float = 10.0
    last: float = field(default_factory=time.monotonic)

    def tick(self, report: ApplyReport) -> None:
        """Called after each batch of writes."""
        done = report.created + report.updated + report.failed + report.orphaned
        now = time.monotonic()
        if now - self.last >= self.every or done >= self.total:
            self.last = now
            if self.log:
                self.log(f"{self.label}: {done} of {self.total} done, {report.failed} failed")


@dataclass(frozen=True)
class Sink:
    """Everything a write step shares: the plan, the store, the pair's lease, the report and
    the progress log; each method records one kind of outcome in the store (fenced by the
    lease) and the report."""

    pair: PairSpec
    plan: DirectionPlan
    store: LinkStore
    run_id: str
    max_attempts: int
    report: ApplyReport
    progress: ProgressLog
    lease: PairLock

    @property
    def fence(self) -> Fence:
        """The lease's fence, passed with every store write of the step."""
        return self.lease.fence

    @property
    def direction(self) -> Direction:
        """The direction this sink writes."""
        return self.plan.direction

    @property
    def names(self) -> list[str]:
        """Canonical field names of the pair."""
        return list(self.pair.field_names)

    def tick(self) -> None:
        """Progress after a batch."""
        self.progress.tick(self.report)

    def reject(self, rows: Sequence[tuple[str, str]]) -> None:
        """The API refused these records (4xx): recorded, retried on later runs up to the cap."""
        if rows:
            given_up = self.store.record_failures(
                self.pair.name,
                self.direction,
                list(rows),
                self.run_id,
                max_attempts=self.max_attempts,
                fence=self.fence,
            )
            self.report.given_up += len(given_up)
            self.report.gave_up_now += len(given_up)
        self.miss(rows)

    def miss(self, rows: Sequence[tuple[str, str]]) -> None:
        """Not written (the API refused, was unavailable, or the outcome is unknown): counted,
        and the cursor is held so the next run reads them again."""
        for source_id, error in rows:
            self.report.fail(source_id, error, self.plan.source_times.get(source_id))

    def link(self, writes: Sequence[LinkWrite]) -> None:
        """Write new links (each closes its intent) and count them."""
        if not writes:
            return
        outcomes = self.store.add_links(
            self.pair.name, self.pair.crmoffice_entity, writes, self.run_id, fence=self.fence
        )
        to_crmoffice = self.direction == "to_crmoffice"
        for write, outcome in zip(writes, outcomes, strict=True):
            if outcome.ok:
                self.report.created += 1
            else:
                source = write.webcrm_id if to_crmoffice else write.crmoffice_id
                self.report.fail(source, outcome.reason)

    def settle(self, webcrm_id: str, values: dict[str, str]) -> ShadowWrite:
        """The shadow write for a successful update (a conflict resolution, if it was one)."""
        conflict = self.plan.conflicts.get(webcrm_id)
        detail: dict[str, object] = {"written": values}
        if conflict is None:
            return ShadowWrite(webcrm_id, values, "update", self.direction, detail)
        detail["conflict"] = conflict
        return ShadowWrite(webcrm_id, values, "conflict", self.direction, detail)

    def settle_all(self, writes: Sequence[ShadowWrite]) -> None:
        """Store the shadows of written updates and count them."""
        if writes:
            self.store.update_shadows(self.pair.name, writes, self.run_id, fence=self.fence)
            self.report.updated += len(writes)

    def orphan(self, rows: Sequence[tuple[str, str, str]]) -> None:
        """Links whose target record is gone: (webcrm id, crmoffice id, missing side)."""
        if rows:
            self.report.orphaned += self.store.mark_orphaned(
                self.pair.name, rows, self.run_id, fence=self.fence
            )

    def count_requests(self, before: Mapping[str, int], after: Mapping[str, int]) -> None:
        """Requests and 429s the step made, from the writer's counters before and after."""
        self.report.requests = after["requests"] - before["requests"]
        self.report.throttled_429s = after["throttled_429s"] - before["throttled_429s"]


def open_sink(
    pair: PairSpec,
    plan: DirectionPlan,
    store: LinkStore,
    run_id: str,
    max_attempts: int,
    on_progress: Progress | None,
    lease: PairLock,
) -> Sink:
    """A write step's context under `lease`: an empty report and a progress log over the
    plan's rows."""
    report = ApplyReport(pair.name, plan.direction, given_up=plan.given_up)
    total = len(plan.creates) + len(plan.updates)
    progress = ProgressLog(f"{pair.name} {plan.direction}", total, on_progress)
    return Sink(pair, plan, store, run_id, max_attempts, report, progress, lease)


def values_of(row: Mapping[Any, Any], names: Sequence[str]) -> dict[str, str]:
    """The named field values of a plan row, as strings; NA (a field that stays unset in the
    shadow, e.g. one held for review) is left out."""
    return {name: str(row[name]) for name in names if isinstance(row[name], str)}
