"""Moving shadows forward after writes, and marking links whose record disappeared."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, select, update

from sync_pipeline.store._rows import among, history_row, to_json
from sync_pipeline.store._schema import failures, history, links
from sync_pipeline.store._time import iso
from sync_pipeline.store._types import SOURCE_SIDE, ShadowWrite

_DIRECTIONS = ("to_crmoffice", "to_webcrm")


def _current(
    connection: Connection, pair: str, webcrm_ids: Sequence[str]
) -> dict[str, tuple[str, str]]:
    """webcrm id -> (crmoffice id, shadow JSON) of the pair's links among `webcrm_ids`."""
    found: dict[str, tuple[str, str]] = {}
    for condition in among(connection, links.c.webcrm_id, sorted(set(webcrm_ids))):
        query = select(links.c.webcrm_id, links.c.crmoffice_id, links.c.shadow).where(
            links.c.pair == pair, condition
        )
        found.update((w, (c, s)) for w, c, s in connection.execute(query))
    return found


def _failure_keys(row: ShadowWrite, crmoffice_id: str) -> list[dict[str, str]]:
    """The failure rows a successful write settles: the source record's, in its direction."""
    directions = (row.direction,) if row.direction else _DIRECTIONS
    ids = {"webcrm": row.webcrm_id, "crmoffice": crmoffice_id}
    return [{"b_direction": d, "b_record": ids[SOURCE_SIDE[d]]} for d in directions]


def _settle_failures(connection: Connection, pair: str, keys: list[dict[str, str]]) -> None:
    if keys:
        statement = delete(failures).where(
            failures.c.pair == pair,
            failures.c.direction == bindparam("b_direction"),
            failures.c.record_id == bindparam("b_record"),
        )
        connection.execute(statement, keys)


def update_shadows(
    connection: Connection, pair: str, rows: Sequence[ShadowWrite], run_id: str, now: datetime
) -> list[str]:
    """Merge new values into the shadows, with history; return the webcrm ids not linked.

    A row without `detail` gets `{field: [old, new]}` from the shadow it replaces.
    """
    at = iso(now)
    current = _current(connection, pair, [row.webcrm_id for row in rows])
    shadows: dict[str, dict[str, str]] = {}
    history_rows: list[dict[str, Any]] = []
    settled: list[dict[str, str]] = []
    for row in [row for row in rows if row.webcrm_id in current]:
        crmoffice_id, stored = current[row.webcrm_id]
        shadow = shadows.setdefault(row.webcrm_id, json.loads(stored))
        detail = dict(row.detail) or {f: [shadow.get(f, ""), v] for f, v in row.values.items()}
        shadow.update(row.values)
        settled += _failure_keys(row, crmoffice_id)
        history_rows.append(
            history_row(
                pair,
                webcrm_id=row.webcrm_id,
                crmoffice_id=crmoffice_id,
                run_id=run_id,
                at=at,
                kind=row.kind,
                direction=row.direction,
                detail=detail,
            )
        )
    _write_shadows(connection, pair, shadows, at)
    if history_rows:
        connection.execute(history.insert(), history_rows)
    _settle_failures(connection, pair, settled)
    return sorted({row.webcrm_id for row in rows} - current.keys())


def _write_shadows(
    connection: Connection, pair: str, shadows: dict[str, dict[str, str]], at: str
) -> None:
    if not shadows:
        return
    statement = (
        update(links)
        .where(links.c.pair == pair, links.c.webcrm_id == bindparam("b_webcrm"))
        .values(shadow=bindparam("b_shadow"), synced_at=at)
    )
    params = [{"b_webcrm": w, "b_shadow": to_json(shadow)} for w, shadow in shadows.items()]
    connection.execute(statement, params)


def mark_orphaned(
    connection: Connection,
    pair: str,
    rows: Sequence[tuple[str, str, str]],
    run_id: str,
    now: datetime,
) -> int:
    """Mark active links orphaned (never deleted), with history; return how many changed."""
    missing = {webcrm_id: side for webcrm_id, _crmoffice_id, side in rows}
    change = _StatusChange("active", "orphaned", "orphan")
    return change.apply(
        connection, pair, missing, run_id, iso(now), lambda w: {"missing_side": missing[w]}
    )


def reactivate(
    connection: Connection,
    pair: str,
    webcrm_ids: Sequence[str],
    run_id: str,
    now: datetime,
) -> int:
    """Make orphaned links of `webcrm_ids` active again, with history (kind `match`: the two
    records are linked again, detail `reactivated`); return how many changed."""
    detail = {"reactivated": True, "reason": "both records seen again after being orphaned"}
    change = _StatusChange("orphaned", "active", "match")
    return change.apply(connection, pair, webcrm_ids, run_id, iso(now), lambda _w: detail)


@dataclass(frozen=True)
class _StatusChange:
    """Links of one status moved to another, each with a history row of `kind`."""

    old: str
    new: str
    kind: str

    def apply(
        self,
        connection: Connection,
        pair: str,
        webcrm_ids: Iterable[str],
        run_id: str,
        at: str,
        detail_of: Callable[[str], dict[str, object]],
    ) -> int:
        """Move the pair's links of `webcrm_ids` still in `old`; return how many moved."""
        found: list[tuple[str, str]] = []
        for condition in among(connection, links.c.webcrm_id, sorted(set(webcrm_ids))):
            query = select(links.c.webcrm_id, links.c.crmoffice_id).where(
                links.c.pair == pair, links.c.status == self.old, condition
            )
            found += [(w, c) for w, c in connection.execute(query)]
        if not found:
            return 0
        connection.execute(
            update(links)
            .where(links.c.pair == pair, links.c.webcrm_id == bindparam("b_webcrm"))
            .values(status=self.new),
            [{"b_webcrm": w} for w, _c in found],
        )
        rows = [
            history_row(
                pair,
                webcrm_id=w,
                crmoffice_id=c,
                run_id=run_id,
                at=at,
                kind=self.kind,
                direction=None,
                detail=detail_of(w),
            )
            for w, c in found
        ]
        connection.execute(history.insert(), rows)
        return len(found)
