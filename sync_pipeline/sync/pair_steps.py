"""The sink steps of a pair, with their guards: one writer per pair, and no stale plan.

A plan is computed from the store as it was; if another run changed the pair since, applying
it could create the same records twice. So each plan carries the pair's store `basis` (the
newest history entry when it was made) and every sink step, holding the pair lock, checks that
nothing but this run's own earlier steps has written to the pair since.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sync_pipeline.core import PairPlan, PairSpec
from sync_pipeline.store import LinkStore
from sync_pipeline.sync.apply import apply_links
from sync_pipeline.sync.crashpoints import crash_point
from sync_pipeline.sync.planning import DirectionPlan, LinkPlan, SideRows
from sync_pipeline.sync.sink import ApplyReport
from sync_pipeline.sync.to_crmoffice import apply_to_crmoffice
from sync_pipeline.sync.to_webcrm import apply_to_webcrm

Log = Callable[[str], None]


class StalePlanError(RuntimeError):
    """Another run wrote to the pair after this plan was made."""


def pair_basis(store: LinkStore, pair: str) -> int:
    """The id of the pair's newest history entry (0 when it has none)."""
    newest = store.history_frame(pair=pair, limit=1)
    return int(newest["id"].iloc[0]) if len(newest) else 0


def _check_basis(store: LinkStore, pair: str, expected: int) -> None:
    current = pair_basis(store, pair)
    if current != expected:
        raise StalePlanError(
            f"{pair}: another run wrote to this pair after this plan was made "
            f"(history {expected} -> {current}); nothing was applied, run the sync again"
        )


def _cursors(pair: PairSpec, rows: tuple[SideRows, ...]) -> dict[tuple[str, str], datetime]:
    """New cursor values: only incremental and full reads move them, never a window."""
    return {
        (pair.name, f"{side.side}/{side.entity}"): side.high_water
        for side in rows
        if side.mode != "window" and side.high_water is not None
    }


def split_plan(
    pair: PairSpec, plan: PairPlan, store: LinkStore, webcrm: SideRows, crmoffice: SideRows
) -> tuple[DirectionPlan, DirectionPlan, LinkPlan]:
    """Split a pair plan into what each sink needs, stamped with the store basis."""
    crash_point("after_plan")
    basis = pair_basis(store, pair.name)
    cursors = _cursors(pair, (webcrm, crmoffice))
    to_crmoffice, to_webcrm = (
        DirectionPlan(pair.name, d, plan.creates[d], plan.updates[d], basis, cursors)
        for d in ("to_crmoffice", "to_webcrm")
    )
    return to_crmoffice, to_webcrm, LinkPlan(plan, basis)


def apply_links_step(
    pair: PairSpec,
    planned: LinkPlan,
    webcrm: SideRows,
    crmoffice: SideRows,
    store: LinkStore,
    run_id: str,
) -> ApplyReport:
    """Quarantine bookkeeping, then link-only actions, under the pair lock."""
    with store.pair_lock(pair.name, run_id):
        _check_basis(store, pair.name, planned.basis)
        for rows in (webcrm, crmoffice):
            store.quarantine_rows(pair.name, rows.side, rows.frame.quarantined, run_id)
            store.resolve_quarantine(pair.name, rows.side, list(rows.frame.valid["id"]))
        report = apply_links(pair, planned.plan, store, run_id)
        report.basis_after = pair_basis(store, pair.name)
        return report


def apply_to_crmoffice_step(
    pair: PairSpec,
    plan: DirectionPlan,
    client: Any,
    store: LinkStore,
    run_id: str,
    *,
    earlier: ApplyReport,
    log: Log,
    max_attempts: int,
) -> ApplyReport:
    """CRMOffice writes, only if the pair is as the previous step left it."""
    with store.pair_lock(pair.name, run_id):
        _check_basis(store, pair.name, earlier.basis_after)
        report = apply_to_crmoffice(
            pair, plan, client, store, run_id, max_attempts=max_attempts, on_progress=log
        )
        report.basis_after = pair_basis(store, pair.name)
        return report


def apply_to_webcrm_step(
    pair: PairSpec,
    plan: DirectionPlan,
    client: Any,
    store: LinkStore,
    run_id: str,
    *,
    id_property: str,
    earlier: ApplyReport,
    log: Log,
    max_attempts: int,
) -> ApplyReport:
    """WebCRM writes; then, if no record failed in this run, the pair's cursors move on."""
    with store.pair_lock(pair.name, run_id):
        _check_basis(store, pair.name, earlier.basis_after)
        report = apply_to_webcrm(
            pair,
            plan,
            client,
            store,
            run_id,
            id_property=id_property,
            max_attempts=max_attempts,
            on_progress=log,
        )
        if earlier.failed == 0 and report.failed == 0:
            for (cursor_pair, entity), value in plan.cursors.items():
                store.set_cursor(cursor_pair, entity, value)
        else:
            log(f"{pair.name}: cursors kept where they were, so failed records are read again")
        report.basis_after = pair_basis(store, pair.name)
        return report
