"""One pair synced in one call: read both sides, validate, plan, check, apply.

The asset graph runs these steps as separate assets so the UI shows each one; a backfill over a
date range (and any run that only needs the result) runs them here in one step, with the same
guards: the pair's `PairRun`, the bad-row share and the mass-change breaker.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sync_pipeline.clients import CrmofficeClient, WebcrmClient
from sync_pipeline.core import (
    SIDES,
    TARGET_SIDE,
    FieldMap,
    PairSpec,
    Side,
    Verdict,
    mass_change_verdict,
    quarantine_verdict,
)
from sync_pipeline.store import LinkStore
from sync_pipeline.sync.apply import apply_links_step
from sync_pipeline.sync.apply_direction import WRITE_ORDER, apply_direction
from sync_pipeline.sync.extract import read_entity, read_warnings
from sync_pipeline.sync.planning import plan_pair, side_rows
from sync_pipeline.sync.plans import PlannedPair, SideRows
from sync_pipeline.sync.sink import ApplyReport, Progress
from sync_pipeline.sync.targeted import read_ids, with_partners
from sync_pipeline.sync.window import Mode


@dataclass(frozen=True)
class Clients:
    """The run's client of each system."""

    webcrm: WebcrmClient
    crmoffice: CrmofficeClient

    def of(self, side: Side) -> WebcrmClient | CrmofficeClient:
        """The client of `side`."""
        return self.webcrm if side == "webcrm" else self.crmoffice


class SyncBlockedError(RuntimeError):
    """A safeguard stopped the pair before any write (the message is the verdict's line)."""


@dataclass(frozen=True)
class Safeguards:
    """The blocking limits (DESIGN.md section 2): shares are fractions of 1."""

    max_bad_share: float = 0.10
    max_update_share: float = 0.20
    min_updates_for_breaker: int = 25
    max_failure_attempts: int = 5


@dataclass
class PairSyncReport:
    """What `sync_pair` did: the rows, the plan and each sink step's report (in order)."""

    pair: str
    rows: list[SideRows] = field(default_factory=list)
    planned: PlannedPair | None = None
    applied: dict[str, ApplyReport] = field(default_factory=dict)

    @property
    def quarantined(self) -> int:
        """Rows of both sides held back by validation."""
        return sum(len(rows.frame.quarantined) for rows in self.rows)


@dataclass(frozen=True)
class PairSyncRequest:
    """Which records to read (`mode`, and the `window` for a window run) and how; `ids` per
    side makes it a targeted run: only those records, planned against their links only
    (`sync.targeted`; `mode` is then ignored)."""

    mode: Mode
    window: tuple[datetime, datetime] | None = None
    overlap: timedelta = timedelta(seconds=120)
    safeguards: Safeguards = field(default_factory=Safeguards)
    claimed_elsewhere: Set[str] = frozenset()
    ids: Mapping[Side, tuple[str, ...]] | None = None


def sync_pair(
    pair: PairSpec,
    field_map: FieldMap,
    clients: Clients,
    store: LinkStore,
    run_id: str,
    request: PairSyncRequest,
    log: Progress | None = None,
) -> PairSyncReport:
    """Read, validate, plan and apply one pair; raise `SyncBlockedError` (nothing written) when
    a safeguard fails, and `StalePlanError`/`PairLockedError` as the sink steps do."""
    report = PairSyncReport(pair.name)
    limits = request.safeguards
    ids = None if request.ids is None else with_partners(store, pair, request.ids)
    for side in SIDES:
        if ids is not None:
            snapshot = read_ids(
                clients.of(side), store, field_map, side, pair.entity(side), ids[side]
            )
        else:
            snapshot = read_entity(
                clients.of(side),
                store,
                field_map,
                side,
                pair.entity(side),
                mode=request.mode,
                partitions=request.window,
                overlap=request.overlap,
            )
        if log is not None:
            for line in read_warnings(snapshot):
                log(f"{pair.name}: {side} {pair.entity(side)}: {line}")
        rows = side_rows(snapshot, pair, side, field_map, store)
        _stop_unless(quarantine_verdict(rows.frame, rows.state.linked, limits.max_bad_share))
        report.rows.append(rows)
    webcrm, crmoffice = report.rows
    report.planned = plan_pair(
        pair,
        field_map,
        webcrm,
        crmoffice,
        store,
        run_id=run_id,
        now=datetime.now(UTC),
        claimed_elsewhere=request.claimed_elsewhere,
        lookups={"webcrm": clients.webcrm, "crmoffice": clients.crmoffice},
        link_ids=None if ids is None else (ids["webcrm"], ids["crmoffice"]),
    )
    _stop_unless(
        mass_change_verdict(
            report.planned.plan,
            # A targeted run planned against its own links only: weigh it against them all.
            max(report.planned.linked, webcrm.state.linked) if ids else report.planned.linked,
            max_share=limits.max_update_share,
            min_updates=limits.min_updates_for_breaker,
        )
    )
    _apply(pair, field_map, clients, store, run_id, report, limits, log)
    return report


def _apply(
    pair: PairSpec,
    field_map: FieldMap,
    clients: Clients,
    store: LinkStore,
    run_id: str,
    report: PairSyncReport,
    limits: Safeguards,
    log: Progress | None,
) -> None:
    assert report.planned is not None
    planned = report.planned
    webcrm, crmoffice = report.rows
    earlier = apply_links_step(pair, planned.links, webcrm, crmoffice, store, run_id)
    report.applied["links"] = earlier
    for direction in WRITE_ORDER:
        earlier = apply_direction(
            pair,
            planned.of(direction),
            clients.of(TARGET_SIDE[direction]),
            store,
            run_id,
            max_attempts=limits.max_failure_attempts,
            earlier=[earlier],
            log=log,
        )
        report.applied[direction] = earlier


def _stop_unless(verdict: Verdict) -> None:
    if not verdict.passed:
        raise SyncBlockedError(verdict.message)
