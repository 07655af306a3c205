"""Reading links: the links frame (fast, a million rows in seconds), id sets and counts.

The links frame is the hot read. The database renders each link as one JSON line (the shadow is
already JSON text) and pyarrow parses the lines in bulk. SQLite builds them in C and Python only
joins them: no per-row Python object beyond one string per link. PostgreSQL streams them with
`COPY (SELECT ...) TO STDOUT` (PostgreSQL docs, "COPY"), straight into one buffer: no per-row
Python object at all. Rows come in `webcrm_id` order (byte order) on every backend.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.json as pa_json
from sqlalchemy import Connection, func, or_, select

from sync_pipeline.store._rows import among
from sync_pipeline.store._schema import links

LINK_COLUMNS = ("webcrm_id", "crmoffice_id", "status", "synced_at")
_FETCH = 100_000
_SQLITE_LINE = (
    """'{"w":' || json_quote(webcrm_id) || ',"c":' || json_quote(crmoffice_id)"""
    """ || ',"s":"' || status || '","t":"' || synced_at || '","h":' || shadow || '}'"""
)
_POSTGRESQL_LINE = (
    """'{"w":' || to_json(webcrm_id)::text || ',"c":' || to_json(crmoffice_id)::text"""
    """ || ',"s":"' || status || '","t":"' || synced_at || '","h":' || shadow || '}'"""
)
# COPY's CSV format with a quote and a delimiter that JSON text never holds raw (it escapes
# every control character), so each line arrives exactly as built, one per link.
_COPY_OPTIONS = "FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01'"


def _sqlite_lines(connection: Connection, pair: str, status: str | None) -> Iterator[bytes]:
    where = "pair = :pair" + (" AND status = :status" if status else "")
    # The DBAPI cursor, inside this connection's transaction: no Row object per link.
    cursor = connection.connection.cursor()
    try:
        cursor.execute(
            f"SELECT {_SQLITE_LINE} FROM links WHERE {where} ORDER BY webcrm_id",
            {"pair": pair, "status": status},
        )
        while batch := cursor.fetchmany(_FETCH):
            yield "\n".join([row[0] for row in batch]).encode()
    finally:
        cursor.close()


def _postgresql_lines(connection: Connection, pair: str, status: str | None) -> Iterator[bytes]:
    where = "pair = %(pair)s" + (" AND status = %(status)s" if status else "")
    # psycopg2's cursor, inside this connection's transaction (and so its snapshot). COPY takes
    # no bind parameters: the driver quotes the values into the query (`mogrify`).
    cursor: Any = connection.connection.cursor()
    try:
        query = cursor.mogrify(
            f'SELECT {_POSTGRESQL_LINE} FROM links WHERE {where} ORDER BY webcrm_id COLLATE "C"',
            {"pair": pair, "status": status},
        ).decode()
        buffer = io.BytesIO()
        cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH ({_COPY_OPTIONS})", buffer)
    finally:
        cursor.close()
    if buffer.tell():
        yield buffer.getvalue()


# A targeted read's ids: (WebCRM ids, CRMOffice ids); a link matches when either side does.
LinkIds = tuple[Sequence[str], Sequence[str]]


def _portable_lines(
    connection: Connection, pair: str, status: str | None, ids: LinkIds | None = None
) -> Iterator[bytes]:
    columns = (links.c.webcrm_id, links.c.crmoffice_id, links.c.status, links.c.synced_at)
    query = select(*columns, links.c.shadow).where(links.c.pair == pair).order_by(links.c.webcrm_id)
    if status:
        query = query.where(links.c.status == status)
    if ids is not None:
        webcrm_ids, crmoffice_ids = (list(dict.fromkeys(map(str, side))) for side in ids)
        query = query.where(
            or_(links.c.webcrm_id.in_(webcrm_ids), links.c.crmoffice_id.in_(crmoffice_ids))
        )
    result = connection.execute(query)
    while batch := result.fetchmany(_FETCH):
        lines = (
            json.dumps({"w": w, "c": c, "s": s, "t": t}, ensure_ascii=False)[:-1] + f',"h":{h}}}'
            for w, c, s, t, h in batch
        )
        yield "\n".join(lines).encode()


def _line_schema(fields: Sequence[str]) -> pa.Schema:
    columns = [(key, pa.string()) for key in ("w", "c", "s", "t")]
    if fields:
        columns.append(("h", pa.struct([(name, pa.string()) for name in fields])))
    return pa.schema(columns)


def links_frame(
    connection: Connection,
    pair: str,
    fields: Sequence[str],
    status: str | None,
    ids: LinkIds | None = None,
) -> pd.DataFrame:
    """`webcrm_id, crmoffice_id, status, synced_at, *fields` for the pair's links (only those
    holding one of `ids` when given: an indexed lookup, not the whole table); a field the
    shadow does not hold (added to the map since the link's last sync) is NA."""
    fields = list(dict.fromkeys(fields))
    schema = _line_schema(fields)
    options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    if ids is not None:
        chunks = _portable_lines(connection, pair, status, ids)
    else:
        lines = {"sqlite": _sqlite_lines, "postgresql": _postgresql_lines}.get(
            connection.dialect.name, _portable_lines
        )
        chunks = lines(connection, pair, status)
    tables = [pa_json.read_json(io.BytesIO(chunk), parse_options=options) for chunk in chunks]
    table = pa.concat_tables(tables) if tables else schema.empty_table()
    times = pd.Series(table.column("t"), dtype="str")
    frame = pd.DataFrame(
        {
            "webcrm_id": pd.Series(table.column("w"), dtype="str"),
            "crmoffice_id": pd.Series(table.column("c"), dtype="str"),
            "status": pd.Series(table.column("s"), dtype="str"),
            "synced_at": pd.to_datetime(times, format="ISO8601", utc=True),
        }
    )
    frame["synced_at"] = frame["synced_at"].astype("datetime64[ns, UTC]")
    if fields:
        shadow = table.column("h").combine_chunks()
        for name in fields:
            frame[name] = pd.Series(shadow.field(name), dtype="str")
    return frame


def linked_crmoffice_ids(connection: Connection, entity: str, exclude_pair: str | None) -> set[str]:
    """CRMOffice ids of `entity` held by any link (of any status) outside `exclude_pair`."""
    query = select(links.c.crmoffice_id).where(links.c.crmoffice_entity == entity)
    if exclude_pair is not None:
        query = query.where(links.c.pair != exclude_pair)
    return set(connection.execute(query).scalars())


def linked_elsewhere_among(
    connection: Connection, entity: str, pair: str, ids: Sequence[str]
) -> set[str]:
    """Which of `ids` (CRMOffice ids of `entity`) a pair other than `pair` links."""
    found: set[str] = set()
    for condition in among(connection, links.c.crmoffice_id, sorted(set(ids))):
        query = select(links.c.crmoffice_id).where(
            links.c.crmoffice_entity == entity,
            links.c.pair != pair,
            condition,
        )
        found |= set(connection.execute(query).scalars())
    return found


def linked_webcrm_ids(connection: Connection, pair: str, status: str | None) -> set[str]:
    """WebCRM ids linked in `pair` (optionally only links of `status`)."""
    query = select(links.c.webcrm_id).where(links.c.pair == pair)
    if status is not None:
        query = query.where(links.c.status == status)
    return set(connection.execute(query).scalars())


def count_links(connection: Connection, pair: str, status: str | None) -> int:
    """How many links `pair` has (optionally only of `status`)."""
    query = select(func.count()).select_from(links).where(links.c.pair == pair)
    if status is not None:
        query = query.where(links.c.status == status)
    return int(connection.execute(query).scalar_one())
