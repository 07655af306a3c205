"""Records that did not sync: the quarantine (bad input) and per-record write failures."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, bindparam, delete, insert, select, update

from sync_pipeline.store._rows import among, history_row, typed_frame
from sync_pipeline.store._schema import failures, history, quarantine
from sync_pipeline.store._time import iso
from sync_pipeline.store._types import SOURCE_SIDE

QUARANTINE_COLUMNS = (
    "pair",
    "side",
    "record_id",
    "reason",
    "payload",
    "first_seen",
    "last_seen",
    "run_id",
    "status",
)
FAILURE_COLUMNS = (
    "pair",
    "direction",
    "record_id",
    "error",
    "attempts",
    "first_at",
    "last_at",
    "status",
)
_ERROR_CHARS = 2000


def row_key(record_id: str, payload: str) -> str:
    """The record id, or for a record without one a digest of its payload."""
    digest = hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()[:20]
    return record_id if record_id else f"payload-sha256:{digest}"


def _existing_keys(connection: Connection, pair: str, side: str, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for condition in among(connection, quarantine.c.row_key, sorted(keys)):
        query = select(quarantine.c.row_key).where(
            quarantine.c.pair == pair, quarantine.c.side == side, condition
        )
        found.update(connection.execute(query).scalars())
    return found


def quarantine_rows(
    connection: Connection,
    pair: str,
    side: str,
    rows: Sequence[tuple[str, str, str]],
    run_id: str,
    now: datetime,
) -> int:
    """Upsert (record_id, reason, payload) rows as open; return how many distinct records."""
    at = iso(now)
    fresh: dict[str, dict[str, Any]] = {}
    for record_id, reason, payload in rows:
        key = row_key(record_id, payload)
        fresh[key] = {"b_key": key, "record_id": record_id, "reason": reason, "payload": payload}
    known = _existing_keys(connection, pair, side, list(fresh))
    common = {"last_seen": at, "run_id": run_id, "status": "open"}
    updates = [row for key, row in fresh.items() if key in known]
    inserts = [
        {"pair": pair, "side": side, "row_key": row.pop("b_key"), "first_seen": at, **row, **common}
        for key, row in fresh.items()
        if key not in known
    ]
    if updates:
        statement = (
            update(quarantine)
            .where(
                quarantine.c.pair == pair,
                quarantine.c.side == side,
                quarantine.c.row_key == bindparam("b_key"),
            )
            .values(reason=bindparam("reason"), payload=bindparam("payload"), **common)
        )
        connection.execute(
            statement, [{k: v for k, v in r.items() if k != "record_id"} for r in updates]
        )
    if inserts:
        connection.execute(insert(quarantine), inserts)
    return len(fresh)


def resolve_quarantine(
    connection: Connection, pair: str, side: str, record_ids: Sequence[str]
) -> int:
    """Mark the open quarantine rows of these records resolved; return how many."""
    resolved = 0
    for condition in among(connection, quarantine.c.record_id, sorted(set(record_ids))):
        statement = (
            update(quarantine)
            .where(
                quarantine.c.pair == pair,
                quarantine.c.side == side,
                quarantine.c.status == "open",
                condition,
            )
            .values(status="resolved")
        )
        resolved += connection.execute(statement).rowcount
    return resolved


def quarantine_frame(connection: Connection, pair: str | None, status: str | None) -> pd.DataFrame:
    """The quarantine (of one pair, of one status), oldest first."""
    query = select(*(quarantine.c[name] for name in QUARANTINE_COLUMNS))
    if pair is not None:
        query = query.where(quarantine.c.pair == pair)
    if status is not None:
        query = query.where(quarantine.c.status == status)
    rows = connection.execute(query.order_by(quarantine.c.first_seen)).all()
    return typed_frame(rows, QUARANTINE_COLUMNS, times=["first_seen", "last_seen"])


def _attempts_so_far(
    connection: Connection, pair: str, direction: str, ids: Sequence[str]
) -> dict[str, tuple[int, str]]:
    """record id -> (attempts, first_at) of the existing failure rows."""
    found: dict[str, tuple[int, str]] = {}
    for condition in among(connection, failures.c.record_id, sorted(set(ids))):
        query = select(failures.c.record_id, failures.c.attempts, failures.c.first_at).where(
            failures.c.pair == pair,
            failures.c.direction == direction,
            condition,
        )
        for record_id, attempts, first_at in connection.execute(query):
            found[record_id] = (attempts, first_at)
    return found


def _failure_history(
    connection: Connection, pair: str, direction: str, rows: list[dict[str, Any]], run_id: str
) -> None:
    source = SOURCE_SIDE[direction]
    connection.execute(
        history.insert(),
        [
            history_row(
                pair,
                webcrm_id=row["record_id"] if source == "webcrm" else None,
                crmoffice_id=row["record_id"] if source == "crmoffice" else None,
                run_id=run_id,
                at=row["last_at"],
                kind="failure",
                direction=direction,
                detail={k: row[k] for k in ("error", "attempts", "status")},
            )
            for row in rows
        ],
    )


def record_failures(
    connection: Connection,
    pair: str,
    direction: str,
    rows: Sequence[tuple[str, str]],
    run_id: str,
    max_attempts: int,
    now: datetime,
) -> list[str]:
    """Count one more failed write per record, with history; return the ids given up now.

    `record_id` is the source record's id (webcrm for `to_crmoffice`, crmoffice for
    `to_webcrm`). At `max_attempts` the failure is `given_up` and the record is quarantined.
    """
    if not rows:
        return []
    at = iso(now)
    errors = {record_id: error[:_ERROR_CHARS] for record_id, error in rows}
    before = _attempts_so_far(connection, pair, direction, list(errors))
    written: list[dict[str, Any]] = []
    for record_id, error in errors.items():
        attempts, first_at = before.get(record_id, (0, at))
        status = "given_up" if attempts + 1 >= max_attempts else "retrying"
        written.append(
            {
                **{"pair": pair, "direction": direction, "record_id": record_id, "error": error},
                **{"attempts": attempts + 1, "first_at": first_at, "last_at": at, "status": status},
            }
        )
    _replace_failures(connection, pair, direction, written)
    _failure_history(connection, pair, direction, written, run_id)
    given_up: list[str] = [row["record_id"] for row in written if row["status"] == "given_up"]
    reason = f"gave up after {max_attempts} failed writes {direction}"
    quarantined = [(i, f"{reason}: {errors[i]}", "") for i in given_up]
    quarantine_rows(connection, pair, SOURCE_SIDE[direction], quarantined, run_id, now)
    return given_up


def _replace_failures(
    connection: Connection, pair: str, direction: str, rows: list[dict[str, Any]]
) -> None:
    clear_failures(connection, pair, direction, [row["record_id"] for row in rows])
    if rows:
        connection.execute(insert(failures), rows)


def clear_failures(
    connection: Connection, pair: str, direction: str, record_ids: Sequence[str]
) -> int:
    """Forget the failures of these records in this direction; return how many."""
    cleared = 0
    for condition in among(connection, failures.c.record_id, sorted(set(record_ids))):
        statement = delete(failures).where(
            failures.c.pair == pair,
            failures.c.direction == direction,
            condition,
        )
        cleared += connection.execute(statement).rowcount
    return cleared


def failures_frame(connection: Connection, pair: str | None, status: str | None) -> pd.DataFrame:
    """Per-record write failures (of one pair, of one status), oldest first."""
    query = select(*(failures.c[name] for name in FAILURE_COLUMNS))
    if pair is not None:
        query = query.where(failures.c.pair == pair)
    if status is not None:
        query = query.where(failures.c.status == status)
    rows = connection.execute(query.order_by(failures.c.first_at)).all()
    return typed_frame(rows, FAILURE_COLUMNS, times=["first_at", "last_at"], ints=["attempts"])
