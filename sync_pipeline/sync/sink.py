"""What a sink step did (`ApplyReport`), its progress log, and the context every write shares."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sync_pipeline.core import PairSpec
from sync_pipeline.store import LinkStore, LinkWrite

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
    requests: int = 0
    throttled_429s: int = 0

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


@dataclass
class ProgressLog:
    """Says how far a long write step is, at most every `every` seconds and at the end."""

    label: str
    total: int
    log: Progress | None
    every: float = 10.0
    last: float = field(default_factory=time.monotonic)

    def tick(self, report: ApplyReport) -> None:
        """Called after each record or chunk."""
        done = report.created + report.updated + report.failed + report.orphaned
        now = time.monotonic()
        if self.log and (now - self.last >= self.every or done >= self.total):
            self.last = now
            self.log(f"{self.label}: {done} of {self.total} records done, {report.failed} failed")


@dataclass(frozen=True)
class Sink:
    """Everything a write step needs besides the plan."""

    pair: PairSpec
    store: LinkStore
    run_id: str
    max_attempts: int
    report: ApplyReport
    progress: ProgressLog

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


def ticking(sink: Sink, callback: Callable[[int, Any], None]) -> Callable[[int, Any], None]:
    """The client's per-result callback, followed by a progress tick."""

    def wrapped(index: int, result: Any) -> None:
        callback(index, result)
        sink.progress.tick(sink.report)

    return wrapped


def values_of(row: Mapping[Any, Any], names: Sequence[str]) -> dict[str, str]:
    return {name: str(row[name]) for name in names}


def count_requests(report: ApplyReport, before: dict[str, int], after: dict[str, int]) -> None:
    """Requests and 429s a step made, from the client's counters before and after."""
    report.requests = after["requests"] - before["requests"]
    report.throttled_429s = after["throttled_429s"] - before["throttled_429s"]
