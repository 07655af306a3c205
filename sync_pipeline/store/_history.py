"""Per-link lineage: the links of a record (by either side's id) and the history table."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from sqlalchemy import Connection, or_, select

from sync_pipeline.store._rows import typed_frame
from sync_pipeline.store._schema import history, links
from sync_pipeline.store._time import parse_iso

HISTORY_COLUMNS = (
    "id",
    "pair",
    "webcrm_id",
    "crmoffice_id",
    "run_id",
    "at",
    "kind",
    "direction",
    "detail",
)


def history_frame(
    connection: Connection,
    pair: str | None,
    webcrm_id: str | None,
    crmoffice_id: str | None,
    limit: int | None,
) -> pd.DataFrame:
    """History rows matching every given filter, newest first (`detail` as JSON text)."""
    query = select(*(history.c[name] for name in HISTORY_COLUMNS))
    for column, value in (("pair", pair), ("webcrm_id", webcrm_id), ("crmoffice_id", crmoffice_id)):
        if value is not None:
            query = query.where(history.c[column] == value)
    query = query.order_by(history.c.id.desc()).limit(limit)
    rows = connection.execute(query).all()
    return typed_frame(rows, HISTORY_COLUMNS, times=["at"], ints=["id"])


def _link_history(connection: Connection, link: dict[str, Any]) -> list[dict[str, Any]]:
    """History of one link, oldest first, including rows that name only one of its ids."""
    query = (
        select(*(history.c[name] for name in HISTORY_COLUMNS))
        .where(
            history.c.pair == link["pair"],
            or_(
                history.c.webcrm_id == link["webcrm_id"],
                history.c.crmoffice_id == link["crmoffice_id"],
            ),
        )
        .order_by(history.c.id)
    )
    events = []
    for row in connection.execute(query).mappings():
        event = dict(row)
        event["at"] = parse_iso(event["at"])
        event["detail"] = json.loads(event["detail"])
        events.append(event)
    return events


def find_links(connection: Connection, record_id: str) -> list[dict[str, Any]]:
    """Every link (any pair, any status) with `record_id` on either side, with its history."""
    query = (
        select(links)
        .where(or_(links.c.webcrm_id == record_id, links.c.crmoffice_id == record_id))
        .order_by(links.c.pair, links.c.webcrm_id)
    )
    found = []
    for row in connection.execute(query).mappings():
        link = dict(row)
        link["shadow"] = json.loads(link["shadow"])
        for key in ("synced_at", "created_at"):
            link[key] = parse_iso(link[key])
        link["history"] = _link_history(connection, link)
        found.append(link)
    return found
