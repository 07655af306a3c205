"""The sink steps of a pair, with their guards: one writer per pair, and no stale plan.

A plan is computed from the store as it was; applied later, or by another run, it could create
the same records twice or overwrite newer edits. So a plan is applied only by the run that made
it, and only if the pair's store state (`basis`: newest history entry and open create intents)
is still the one it was made from, give or take this run's own earlier steps. Every step holds
the pair lock, kept alive while it writes; a killed run's lock expires after `LOCK_TTL`.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from sync_pipeline.core import PairPlan, PairSpec
from sync_pipeline.store import LinkStore, PairLock, PairLockedError
from sync_pipeline.sync.apply import apply_links
from sync_pipeline.sync.crashpoints import crash_point
from sync_pipeline.sync.planning import DirectionPlan, LinkPlan, SideRows
from sync_pipeline.sync.sink import ApplyReport
from sync_pipeline.sync.to_crmoffice import apply_to_crmoffice
from sync_pipeline.sync.to_webcrm import apply_to_webcrm

Log = Callable[[str], None]
LOCK_TTL = 300.0
ONE_SECOND = timedelta(seconds=1)
_OWNER = re.compile(r"\(pid (\d+) on (.+)\)$")


def lock_owner(run_id: str) -> str:
    """Who holds a pair lock: the run, and the process and host doing the writing."""
    return f"{run_id} (pid {os.getpid()} on {socket.gethostname()})"


def _dead(owner: str) -> bool:
    """True when `owner` is a process of this host that no longer exists (killed mid-run)."""
    found = _OWNER.search(owner)
    if found is None or found.group(2) != socket.gethostname():
        return False
    try:
        os.kill(int(found.group(1)), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@contextmanager
def pair_lock(store: LinkStore, pair: str, run_id: str) -> Iterator[PairLock]:
    """The pair's lock for one step; a lock left by a killed process of this host is taken
    over at once instead of blocking the pair until it expires."""
    owner = lock_owner(run_id)
    with ExitStack() as stack:
        try:
            lock = stack.enter_context(store.pair_lock(pair, owner, ttl_seconds=LOCK_TTL))
        except PairLockedError as error:
            if not _dead(error.owner):
                raise
            store.release_lock(pair, error.owner)
            lock = stack.enter_context(store.pair_lock(pair, owner, ttl_seconds=LOCK_TTL))
        yield lock


class StalePlanError(RuntimeError):
    """The plan was made by another run, or the pair changed since it was made."""


def pair_basis(store: LinkStore, pair: str) -> str:
    """The pair's store state: its newest history entry and its open create intents."""
    newest = store.history_frame(pair=pair, limit=1)
    history = int(newest["id"].iloc[0]) if len(newest) else 0
    intents = store.open_intents(pair, [])["intent_id"]
    return f"history {history}, intents {len(intents)}/{int(intents.max()) if len(intents) else 0}"


def _check(store: LinkStore, pair: str, plan_run: str, run_id: str, expected: str) -> None:
    if plan_run != run_id:
        raise StalePlanError(
            f"{pair}: this plan was made by run {plan_run[:8]}; a plan is applied only by the "
            "run that made it. Nothing was applied: start a new sync"
        )
    current = pair_basis(store, pair)
    if current != expected:
        raise StalePlanError(
            f"{pair}: another run wrote to this pair after this plan was made ({expected} -> "
            f"{current}). Nothing was applied: run the sync again"
        )


def _times(frame: pd.DataFrame, ids: pd.Series) -> dict[str, datetime]:
    rows = frame[frame["id"].isin(ids)]
    return dict(zip(rows["id"], rows["updated_at"].dt.to_pydatetime(), strict=True))


def _conflicts(plan: PairPlan, winner: str) -> dict[str, dict[str, object]]:
    rows = plan.conflicts[plan.conflicts["winner"] == winner]
    keep = ["webcrm_value", "crmoffice_value", "shadow_value", "winner", "rule"]
    return {
        str(webcrm_id): {str(r["field"]): {k: r[k] for k in keep} for r in group.to_dict("records")}
        for webcrm_id, group in rows.groupby("webcrm_id", sort=True)
    }


def split_plan(
    pair: PairSpec,
    plan: PairPlan,
    webcrm: SideRows,
    crmoffice: SideRows,
    run_id: str,
) -> tuple[DirectionPlan, DirectionPlan, LinkPlan]:
    """Split a pair plan into what each sink needs, stamped with the run and the store basis
    read before the snapshots were (a write by another run since then makes the plan stale)."""
    crash_point("after_plan")
    if webcrm.basis != crmoffice.basis:
        raise StalePlanError(
            f"{pair.name}: another run wrote to this pair while this run read it "
            f"({webcrm.basis} -> {crmoffice.basis}). Nothing was applied: run the sync again"
        )
    basis = webcrm.basis
    cursors = {
        (pair.name, f"{side.side}/{side.entity}"): side.high_water
        for side in (webcrm, crmoffice)
        if side.mode != "window" and side.high_water is not None
    }
    web, crm = webcrm.frame.valid, crmoffice.frame.valid
    to_c, to_w = plan.creates, plan.updates
    to_crmoffice = DirectionPlan(
        pair.name,
        "to_crmoffice",
        run_id,
        basis,
        to_c["to_crmoffice"],
        to_w["to_crmoffice"],
        _times(
            web, pd.concat([to_c["to_crmoffice"]["source_id"], to_w["to_crmoffice"]["webcrm_id"]])
        ),
        _conflicts(plan, "webcrm"),
        cursors,
    )
    to_webcrm = DirectionPlan(
        pair.name,
        "to_webcrm",
        run_id,
        basis,
        to_c["to_webcrm"],
        to_w["to_webcrm"],
        _times(crm, pd.concat([to_c["to_webcrm"]["source_id"], to_w["to_webcrm"]["crmoffice_id"]])),
        _conflicts(plan, "crmoffice"),
        cursors,
    )
    return to_crmoffice, to_webcrm, LinkPlan(plan, run_id, basis)


def apply_links_step(
    pair: PairSpec,
    planned: LinkPlan,
    webcrm: SideRows,
    crmoffice: SideRows,
    store: LinkStore,
    run_id: str,
) -> ApplyReport:
    """Quarantine bookkeeping, then link-only actions, under the pair lock."""
    with _guarded(store, pair.name, planned.run_id, run_id, planned.basis):
        for rows in (webcrm, crmoffice):
            store.quarantine_rows(pair.name, rows.side, rows.frame.quarantined, run_id)
            store.resolve_quarantine(pair.name, rows.side, list(rows.frame.valid["id"]))
        report = apply_links(pair, planned.plan, store, run_id)
        report.basis_after = pair_basis(store, pair.name)
        return report


@contextmanager
def _guarded(
    store: LinkStore, pair: str, plan_run: str, run_id: str, basis: str
) -> Iterator[PairLock]:
    """A sink step's guard: the pair lock, then the plan's run and basis checked under it."""
    with pair_lock(store, pair, run_id) as lock:
        _check(store, pair, plan_run, run_id, basis)
        yield lock


def _move_cursors(
    plan: DirectionPlan, holds: dict[str, datetime | None], store: LinkStore, log: Log
) -> None:
    """Each side's cursor goes to its snapshot's high-water mark, or to just before the oldest
    record whose write failed (`holds`, per side), so that record is read again."""
    for (cursor_pair, side_entity), high_water in plan.cursors.items():
        hold = holds[side_entity.split("/", 1)[0]]
        value = high_water if hold is None else min(high_water, hold - ONE_SECOND)
        store.set_cursor(cursor_pair, side_entity, value)
        if hold is not None:
            log(f"{cursor_pair}: {side_entity} cursor held at {value.isoformat()}: failed records")


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
    with _guarded(store, pair.name, plan.run_id, run_id, earlier.basis_after) as lock:
        report = apply_to_crmoffice(
            pair,
            plan,
            client,
            store,
            run_id,
            max_attempts=max_attempts,
            on_progress=log,
            heartbeat=lock.refresh,
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
    """WebCRM writes; then the pair's cursors move on, but never past a record that failed."""
    with _guarded(store, pair.name, plan.run_id, run_id, earlier.basis_after) as lock:
        report = apply_to_webcrm(
            pair,
            plan,
            client,
            store,
            run_id,
            id_property=id_property,
            max_attempts=max_attempts,
            on_progress=log,
            heartbeat=lock.refresh,
        )
        holds = {"webcrm": earlier.hold_before, "crmoffice": report.hold_before}
        _move_cursors(plan, holds, store, log)
        report.basis_after = pair_basis(store, pair.name)
        return report
