"""`state export` / `state import`: the whole durable state as one JSON-lines file.

Line 1 is a header (format, format version, schema version); then one `{"table", "row"}` line
per row of links, history, cursors, intents, quarantine and failures; the last line carries the
row counts, so a truncated file is refused. Locks are not exported: they belong to live runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Engine, Table, func, select, text

from sync_pipeline.store._engine import read_transaction, write_transaction
from sync_pipeline.store._errors import StateImportError
from sync_pipeline.store._schema import SCHEMA_VERSION, STATE_TABLES, history, holds, intents
from sync_pipeline.store._time import iso

FORMAT = "sync_pipeline-state"
FORMAT_VERSION = 1
_BATCH = 10_000
_TIME_COLUMNS = {
    "synced_at", "created_at", "at", "updated_at", "value", "first_seen", "last_seen",
    "closed_at", "first_at", "last_at",
}  # fmt: skip
_JSON_COLUMNS = {"shadow", "detail"}
_TABLES = {table.name: table for table in STATE_TABLES}


def _rows(connection: Connection, table: Table) -> Iterator[dict[str, Any]]:
    result = connection.execute(select(table).order_by(*table.primary_key.columns))
    while batch := result.mappings().fetchmany(_BATCH):
        yield from (dict(row) for row in batch)


def export_state(engine: Engine, path: Path, now: datetime) -> dict[str, int]:
    """Write the state to `path` (atomically, via a temporary file); rows per table."""
    counts: dict[str, int] = {}
    partial = path.with_name(path.name + ".partial")
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "schema_version": SCHEMA_VERSION}
    with read_transaction(engine) as connection, partial.open("w", encoding="utf-8") as out:
        out.write(json.dumps(header | {"exported_at": iso(now)}) + "\n")
        for table in STATE_TABLES:
            counts[table.name] = 0
            for row in _rows(connection, table):
                out.write(json.dumps({"table": table.name, "row": row}, ensure_ascii=False) + "\n")
                counts[table.name] += 1
        out.write(json.dumps({"end": True, "counts": counts}) + "\n")
        out.flush()
        os.fsync(out.fileno())
    partial.replace(path)
    return counts


def _check_header(line: str) -> None:
    try:
        header = json.loads(line)
    except json.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise StateImportError("not a sync_pipeline state export (bad header line)")
    if header.get("format_version") != FORMAT_VERSION:
        raise StateImportError(f"export format version {header.get('format_version')} unsupported")
    if header.get("schema_version") != SCHEMA_VERSION:
        raise StateImportError(
            f"export has schema version {header.get('schema_version')}, this store "
            f"{SCHEMA_VERSION}; import it with the sync_pipeline version that exported it"
        )


def _clean(table: Table, row: Any, number: int) -> dict[str, Any]:
    """The row, validated: exactly the table's columns, canonical times, JSON objects."""
    if not isinstance(row, dict) or set(row) != set(table.columns.keys()):
        raise StateImportError(f"line {number}: row does not match table {table.name}")
    for name in _TIME_COLUMNS & set(row):
        if row[name] is not None:
            try:
                row[name] = iso(datetime.fromisoformat(row[name]))
            except (TypeError, ValueError) as error:
                raise StateImportError(f"line {number}: bad time in {name}: {error}") from None
    for name in _JSON_COLUMNS & set(row):
        try:
            valid = isinstance(json.loads(row[name]), dict)
        except (TypeError, ValueError):
            valid = False
        if not valid:
            raise StateImportError(f"line {number}: {name} is not a JSON object")
    return dict(row)


def _parsed(lines: IO[str]) -> Iterator[tuple[int, Table | None, dict[str, Any]]]:
    """(line number, table or None for the end line, row or counts) for every line."""
    for number, line in enumerate(lines, start=2):
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise StateImportError(f"line {number}: not JSON ({error.msg})") from None
        if isinstance(item, dict) and item.get("end") is True:
            yield number, None, item.get("counts") or {}
            return
        table = _TABLES.get(str(item.get("table"))) if isinstance(item, dict) else None
        if table is None:
            raise StateImportError(f"line {number}: unknown table")
        yield number, table, _clean(table, item.get("row"), number)
    raise StateImportError("export file is truncated (no end line)")


def _state_rows(connection: Connection) -> int:
    return sum(
        int(connection.execute(select(func.count()).select_from(table)).scalar_one())
        for table in STATE_TABLES
    )


def _load(connection: Connection, lines: IO[str]) -> dict[str, int]:
    counts = {table.name: 0 for table in STATE_TABLES}
    pending: dict[str, list[dict[str, Any]]] = {name: [] for name in counts}
    expected: dict[str, Any] = {}
    for _number, table, row in _parsed(lines):
        if table is None:
            expected = row
            break
        pending[table.name].append(row)
        counts[table.name] += 1
        if len(pending[table.name]) >= _BATCH:
            connection.execute(table.insert(), pending[table.name])
            pending[table.name] = []
    for table in STATE_TABLES:
        if pending[table.name]:
            connection.execute(table.insert(), pending[table.name])
    if expected != counts:
        raise StateImportError(f"row counts {counts} differ from the export's {expected}")
    return counts


def _reset_sequences(connection: Connection) -> None:
    # PostgreSQL sequences do not follow explicit ids; SQLite's AUTOINCREMENT table does.
    if connection.dialect.name == "postgresql":
        for table in (history, intents, holds):
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                    f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
                )
            )


def import_state(engine: Engine, path: Path, replace: bool) -> dict[str, int]:
    """Load an export in one transaction; rows per table.

    A store already holding state is refused unless `replace`, which empties it first.
    """
    with path.open(encoding="utf-8") as lines, write_transaction(engine) as connection:
        _check_header(lines.readline())
        existing = _state_rows(connection)
        if existing and not replace:
            raise StateImportError(
                f"the store already holds {existing} rows of state; import into an empty store, "
                "or pass replace=True (`--replace`) to overwrite it"
            )
        for table in reversed(STATE_TABLES):
            connection.execute(table.delete())
        counts = _load(connection, lines)
        _reset_sequences(connection)
        return counts
