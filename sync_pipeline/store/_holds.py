"""Records held back for an operator, kept until resolved (DESIGN section 2, initial matching).

A hold is one row per (pair, side, record): its `kind` (`ambiguous_match` today; the table also
fits `ambiguous_intent`, `new_field` and `missing_required`), a one-line reason, the record's
mapped values when last seen (`payload`, JSON: the candidate a later plan weighs without
reading the record's system again), and its status: `open`, the operator's answer (`link` to
`other_id`, `create`, `ignore`), or `done` once the record is linked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, and_, bindparam, insert, or_, select, update

from sync_pipeline.store._errors import HoldError
from sync_pipeline.store._rows import among, typed_frame
from sync_pipeline.store._schema import holds, links
from sync_pipeline.store._time import iso

HOLD_COLUMNS = (
    "id",
    "pair",
    "side",
    "record_id",
    "kind",
    "reason",
    "payload",
    "record_updated_at",
    "since",
    "last_seen",
    "run_id",
    "status",
    "other_id",
    "resolved_at",
)
RESOLUTIONS = ("link", "create", "ignore")


@dataclass(frozen=True)
class HoldWrite:
    """A record a plan holds: side, id, kind, reason, its mapped values and modification time."""

    side: str
    record_id: str
    kind: str
    reason: str
    values: Mapping[str, str]
    updated_at: datetime | None = None


def _statuses(
    connection: Connection, pair: str, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for side in ("webcrm", "crmoffice"):
        ids = sorted({record_id for s, record_id in keys if s == side})
        for condition in among(connection, holds.c.record_id, ids):
            query = select(holds.c.record_id, holds.c.status).where(
                holds.c.pair == pair, holds.c.side == side, condition
            )
            found.update({(side, r): status for r, status in connection.execute(query)})
    return found


def save_holds(
    connection: Connection,
    pair: str,
    rows: Sequence[HoldWrite],
    settled: Sequence[tuple[str, str]],
    run_id: str,
    now: datetime,
) -> None:
    """Open holds for new records, refresh the values of held ones (an operator's answer is
    kept), and mark the holds of `settled` (side, id) records — linked now — `done`."""
    at = iso(now)
    statuses = _statuses(connection, pair, [(r.side, r.record_id) for r in rows])
    fresh, seen = [], []
    for row in rows:
        values: dict[str, Any] = {
            "payload": json.dumps(dict(row.values), ensure_ascii=False, sort_keys=True),
            "record_updated_at": iso(row.updated_at) if row.updated_at is not None else None,
            "last_seen": at,
            "run_id": run_id,
        }
        status = statuses.get((row.side, row.record_id))
        if status is None:
            keys = {"pair": pair, "side": row.side, "record_id": row.record_id}
            opened = {"kind": row.kind, "reason": row.reason, "since": at, "status": "open"}
            fresh.append({**keys, **opened, **values})
        else:
            reopen = {"status": "open", "since": at} if status == "done" else {}
            seen.append({"b_side": row.side, "b_id": row.record_id, **values, **reopen})
    if fresh:
        connection.execute(insert(holds), fresh)
    for group in _by_keys(seen):
        statement = (
            update(holds)
            .where(
                holds.c.pair == pair,
                holds.c.side == bindparam("b_side"),
                holds.c.record_id == bindparam("b_id"),
            )
            .values({k: bindparam(k) for k in group[0] if not k.startswith("b_")})
        )
        connection.execute(statement, group)
    _settle(connection, pair, settled, at)


def _by_keys(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Rows grouped by their key set (one executemany per shape)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    return list(groups.values())


def _settle(connection: Connection, pair: str, settled: Sequence[tuple[str, str]], at: str) -> None:
    for side in ("webcrm", "crmoffice"):
        ids = sorted({record_id for s, record_id in settled if s == side})
        for condition in among(connection, holds.c.record_id, ids):
            connection.execute(
                update(holds)
                .where(
                    holds.c.pair == pair,
                    holds.c.side == side,
                    condition,
                    holds.c.status != "done",
                )
                .values(status="done", resolved_at=at)
            )


def holds_frame(
    connection: Connection, pair: str | None, statuses: Sequence[str] | None
) -> pd.DataFrame:
    """Holds (of one pair, of some statuses), oldest first; `payload` is JSON text."""
    query = select(*(holds.c[name] for name in HOLD_COLUMNS))
    if pair is not None:
        query = query.where(holds.c.pair == pair)
    if statuses is not None:
        query = query.where(holds.c.status.in_(list(statuses)))
    rows = connection.execute(query.order_by(holds.c.id)).all()
    times = ["record_updated_at", "since", "last_seen", "resolved_at"]
    return typed_frame(rows, HOLD_COLUMNS, times=times, ints=["id"])


def resolve_hold(
    connection: Connection,
    hold_id: int,
    resolution: str,
    other_id: str | None,
    crmoffice_entity: Mapping[str, str],
    now: datetime,
) -> dict[str, Any]:
    """Record the operator's answer to an open hold; the hold's row (as a dict) back.

    `crmoffice_entity` maps each pair to its CRMOffice entity (a contact belongs to one link
    across the pairs sharing it). Raises HoldError: no such hold, not open, or a link that
    would break a rule (a record already linked, or promised to another held record)."""
    if resolution not in RESOLUTIONS:
        raise HoldError(f"unknown resolution {resolution!r}")
    found = connection.execute(select(holds).where(holds.c.id == hold_id)).mappings().first()
    if found is None:
        raise HoldError(f"no hold {hold_id}")
    hold = dict(found)
    if hold["status"] != "open":
        raise HoldError(f"hold {hold_id} is not open (it is {hold['status']})")
    if resolution == "link":
        if not other_id:
            raise HoldError("--link needs the other side's record id")
        _check_link(connection, hold, other_id, crmoffice_entity)
    connection.execute(
        update(holds)
        .where(holds.c.id == hold_id)
        .values(status=resolution, other_id=other_id, resolved_at=iso(now))
    )
    return {**hold, "status": resolution, "other_id": other_id}


def _linked(connection: Connection, pair: str, side: str, record_id: str, entity: str) -> str:
    """The partner of `record_id` on `side` in any link that owns it, or ""."""
    if side == "webcrm":
        query = select(links.c.crmoffice_id).where(
            links.c.pair == pair, links.c.webcrm_id == record_id
        )
    else:
        query = select(links.c.webcrm_id).where(
            links.c.crmoffice_entity == entity, links.c.crmoffice_id == record_id
        )
    return str(connection.execute(query).scalars().first() or "")


def _check_link(
    connection: Connection,
    hold: Mapping[str, Any],
    other_id: str,
    crmoffice_entity: Mapping[str, str],
) -> None:
    pair, side, record_id = hold["pair"], hold["side"], hold["record_id"]
    other_side = "crmoffice" if side == "webcrm" else "webcrm"
    entity = crmoffice_entity.get(pair, "")
    for s, r in ((side, record_id), (other_side, other_id)):
        partner = _linked(connection, pair, s, r, entity)
        if partner:
            raise HoldError(f"{s} {r} is already linked to {partner} in {pair}")
    promised = connection.execute(
        select(holds.c.id).where(
            holds.c.pair == pair,
            holds.c.status == "link",
            or_(
                and_(holds.c.side == side, holds.c.other_id == other_id),
                and_(holds.c.side == other_side, holds.c.record_id == other_id),
            ),
        )
    ).scalar()
    if promised is not None:
        raise HoldError(f"{other_side} {other_id} is already promised by hold {promised}")
