"""The subset of WebCRM's `/Queries` script language the sandbox understands (evidence 3, 4).

    SELECT * | <column>[, <column> ...] FROM <table>
    [WHERE <column> <op> <literal> [AND <column> <op> <literal> ...]]
    [ORDER BY <column> [ASC | DESC]] [;]

Tables: the `query_table` of every entity `systems.yaml` declares (Person, User, Product,
Organisation); columns: any property of the entity's DTO, custom fields included; operators
`= <> != < <= > >=`; literals `'text'` or numbers. Keywords and names are case-insensitive and
the script may span lines. A date-time literal is ISO 8601 or a .NET round-trip string
(`2024-09-14T08:00:00.0000000Z`, up to 7 decimals); one without an offset is local time in the
account's zone (`--webcrm-timezone`). Anything else (JOIN, OR, functions, ...) is a 400, as a
strict emulator should.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sync_pipeline.sandbox.timestamps import parse_webcrm_instant
from sync_pipeline.sandbox.webcrm_dto import ENTITIES, QUERY_TABLES, EntitySpec

_SCRIPT = re.compile(
    r"^\s*select\s+(?P<columns>\*|\w+(?:\s*,\s*\w+)*)\s+from\s+(?P<table>\w+)"
    r"(?:\s+where\s+(?P<where>.+?))?"
    r"(?:\s+order\s+by\s+(?P<order>\w+)(?:\s+(?P<direction>asc|desc))?)?"
    r"\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_CONDITION = re.compile(
    r"^\s*(?P<column>\w+)\s*(?P<op><>|!=|<=|>=|=|<|>)\s*"
    r"(?:'(?P<text>(?:[^']|'')*)'|(?P<number>[+-]?\d+(?:\.\d+)?))\s*$",
    re.DOTALL,
)
_AND = re.compile(r"\s+and\s+(?=(?:[^']*'[^']*')*[^']*$)", re.IGNORECASE)
_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "<>": operator.ne,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
SUPPORTED = (
    "SELECT * | <columns> FROM <table> [WHERE <column> <op> '<value>' [AND ...]] "
    "[ORDER BY <column> [ASC|DESC]]"
)


@dataclass(frozen=True)
class Condition:
    """`<column> <op> <value>`, the value already in the column's stored form."""

    column: str
    op: str
    value: Any

    def holds(self, spec: EntitySpec, stored: dict[str, Any]) -> bool:
        """Whether a stored (sparse) record satisfies the condition; an unset date-time is
        NULL and satisfies nothing."""
        current = comparable(spec, self.column, stored.get(self.column))
        if current is None:
            return False
        return _OPERATORS[self.op](current, self.value)


@dataclass(frozen=True)
class Query:
    """A parsed script: entity, selected columns (None = all), filters, order."""

    entity: str
    columns: tuple[str, ...] | None
    conditions: tuple[Condition, ...]
    order_by: str | None = None
    descending: bool = False


def parse_script(script: str, zone: ZoneInfo) -> Query:
    """Parse a query script; ValueError (with the reason) for anything outside the subset."""
    match = _SCRIPT.match(script)
    if match is None:
        raise ValueError(f"Unsupported script. The sandbox supports: {SUPPORTED}")
    entity = QUERY_TABLES.get(match["table"].lower())
    if entity is None:
        raise ValueError(f"Unknown table '{match['table']}'.")
    spec = ENTITIES[entity]
    columns = None
    if match["columns"] != "*":
        columns = tuple(_column(spec, c) for c in match["columns"].split(","))
    where = match["where"]
    parts = _AND.split(where.strip()) if where else []
    conditions = tuple(_condition(spec, part, zone) for part in parts)
    order = None if match["order"] is None else _column(spec, match["order"])
    descending = (match["direction"] or "").lower() == "desc"
    return Query(entity, columns, conditions, order, descending)


def comparable(spec: EntitySpec, column: str, stored: Any) -> Any:
    """A stored value in comparable form: text lower-cased (the default collation is
    case-insensitive), numbers as floats, unset text `""`, unset numbers 0, unset dates None."""
    kind = spec.kinds[column]
    if kind == "datetime":
        return stored
    if kind in ("int", "number"):
        return float(stored or 0)
    if kind == "bool":
        return bool(stored)
    return str(stored or "").lower()


def _column(spec: EntitySpec, name: str) -> str:
    wanted = name.strip().lower()
    found = next((c for c in spec.kinds if c.lower() == wanted), None)
    if found is None:
        raise ValueError(f"Invalid column name '{name.strip()}'.")
    return found


def _condition(spec: EntitySpec, text: str, zone: ZoneInfo) -> Condition:
    match = _CONDITION.match(text)
    if match is None:
        raise ValueError(f"Unsupported condition '{text.strip()}'. Supported: {SUPPORTED}")
    column = _column(spec, match["column"])
    raw = match["number"] if match["text"] is None else match["text"].replace("''", "'")
    kind = spec.kinds[column]
    try:
        if kind == "datetime":
            value: Any = parse_webcrm_instant(raw, zone)
        elif kind in ("int", "number"):
            value = float(raw)
        elif kind == "bool":
            value = raw.strip().lower() in ("1", "true")
        else:
            value = raw.lower()
    except ValueError as exc:
        raise ValueError(f"Invalid literal for {column}: {exc}") from None
    return Condition(column, match["op"], value)
