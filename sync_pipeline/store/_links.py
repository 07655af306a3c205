"""Writing links: new links (with their intents and history), shadow merges, orphans."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from sync_pipeline.store._rows import among, history_row, insert_skipping_conflicts, to_json
from sync_pipeline.store._schema import history, intents, links
from sync_pipeline.store._time import iso
from sync_pipeline.store._types import TARGET_SIDE, LinkOutcome, LinkWrite


def _claims(
    connection: Connection, pair: str, entity: str, rows: Sequence[LinkWrite]
) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """Existing links that a batch would collide with: by webcrm id, and by CRMOffice id."""
    by_webcrm: dict[str, str] = {}
    by_crmoffice: dict[str, tuple[str, str]] = {}
    for condition in among(connection, links.c.webcrm_id, sorted({r.webcrm_id for r in rows})):
        query = select(links.c.webcrm_id, links.c.crmoffice_id).where(
            links.c.pair == pair, condition
        )
        by_webcrm.update(connection.execute(query).all())
    crmoffice_ids = sorted({row.crmoffice_id for row in rows})
    for condition in among(connection, links.c.crmoffice_id, crmoffice_ids):
        query = select(links.c.crmoffice_id, links.c.pair, links.c.webcrm_id).where(
            links.c.crmoffice_entity == entity, condition
        )
        for row in connection.execute(query):
            by_crmoffice[row[0]] = (row[1], row[2])
    return by_webcrm, by_crmoffice


def _refusals(
    pair: str, entity: str, rows: Sequence[LinkWrite], connection: Connection
) -> list[str]:
    """Per row, why it cannot be linked ("" when it can), earlier rows of the batch included."""
    by_webcrm, by_crmoffice = _claims(connection, pair, entity, rows)
    reasons: list[str] = []
    for row in rows:
        if not row.webcrm_id or not row.crmoffice_id:
            reasons.append("empty id")
        elif row.webcrm_id in by_webcrm:
            other = by_webcrm[row.webcrm_id]
            reasons.append(f"already linked: webcrm {row.webcrm_id} to {entity} {other} in {pair}")
        elif row.crmoffice_id in by_crmoffice:
            other_pair, other = by_crmoffice[row.crmoffice_id]
            reasons.append(
                f"already linked: {entity} {row.crmoffice_id} to webcrm {other} in {other_pair}"
            )
        else:
            reasons.append("")
            by_webcrm[row.webcrm_id] = row.crmoffice_id
            by_crmoffice[row.crmoffice_id] = (pair, row.webcrm_id)
    return reasons


def _link_row(pair: str, entity: str, row: LinkWrite, run_id: str, at: str) -> dict[str, Any]:
    return {
        "pair": pair,
        "webcrm_id": row.webcrm_id,
        "crmoffice_entity": entity,
        "crmoffice_id": row.crmoffice_id,
        "status": "active",
        "shadow": to_json(row.shadow),
        "synced_at": at,
        "created_at": at,
        "created_run_id": run_id,
    }


def _insert_links(connection: Connection, values: list[dict[str, Any]]) -> list[str]:
    """Insert the links; per row "" or why not (a concurrent writer linked a record first).

    Rows go in CRMOffice id order: on PostgreSQL two transactions claiming the same records
    wait on each other's uncommitted rows, and one order for all means no deadlock. A row that
    collides with a committed link is skipped (`ON CONFLICT DO NOTHING`, SQLite and PostgreSQL)
    and reported, the rest of the batch kept; SQLite never gets there (its writers take turns
    and `_refusals` saw every link).
    """
    if not values:
        return []
    ordered = sorted(values, key=lambda value: value["crmoffice_id"])
    statement = insert_skipping_conflicts(connection, links).returning(links.c.webcrm_id)
    inserted = set(connection.execute(statement, ordered).scalars())
    return [
        ""
        if value["webcrm_id"] in inserted
        else (
            f"already linked: {value['crmoffice_entity']} {value['crmoffice_id']} or webcrm "
            f"{value['webcrm_id']} was linked by a concurrent run"
        )
        for value in values
    ]


def _intent_target(row: LinkWrite) -> str:
    return row.webcrm_id if TARGET_SIDE.get(row.direction or "") == "webcrm" else row.crmoffice_id


def _record_outcomes(
    connection: Connection,
    pair: str,
    rows: Sequence[LinkWrite],
    reasons: Sequence[str],
    run_id: str,
    at: str,
) -> None:
    """History for every row; intents of linked rows applied, of refused rows held."""
    history_rows, intent_rows = [], []
    for row, reason in zip(rows, reasons, strict=True):
        detail = dict(row.detail) | ({"refused": reason} if reason else {})
        if row.intent_id is not None:
            detail["intent_id"] = row.intent_id
            status = "held" if reason else "applied"
            intent_rows.append(
                {"b_id": row.intent_id, "b_status": status, "b_target": _intent_target(row)}
            )
        kind = "skip" if reason else row.kind
        history_rows.append(
            history_row(
                pair,
                webcrm_id=row.webcrm_id,
                crmoffice_id=row.crmoffice_id,
                run_id=run_id,
                at=at,
                kind=kind,
                direction=row.direction,
                detail=detail,
            )
        )
    if history_rows:
        connection.execute(history.insert(), history_rows)
    if intent_rows:
        statement = (
            update(intents)
            .where(intents.c.id == bindparam("b_id"))
            .values(status=bindparam("b_status"), target_id=bindparam("b_target"), closed_at=at)
        )
        connection.execute(statement, intent_rows)


def add_links(
    connection: Connection,
    pair: str,
    entity: str,
    rows: Sequence[LinkWrite],
    run_id: str,
    now: datetime,
) -> list[LinkOutcome]:
    """Insert links, their history and close their intents; refused rows leave the rest intact."""
    at = iso(now)
    reasons = _refusals(pair, entity, rows, connection)
    accepted = [i for i, reason in enumerate(reasons) if not reason]
    values = [_link_row(pair, entity, rows[i], run_id, at) for i in accepted]
    for i, error in zip(accepted, _insert_links(connection, values), strict=True):
        reasons[i] = error
    _record_outcomes(connection, pair, rows, reasons, run_id, at)
    return [
        LinkOutcome(row.webcrm_id, row.crmoffice_id, ok=not reason, reason=reason)
        for row, reason in zip(rows, reasons, strict=True)
    ]
