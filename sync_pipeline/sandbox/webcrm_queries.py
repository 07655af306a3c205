"""The subset of WebCRM's `/Queries` script language the sandbox understands.

    SELECT * FROM Person WHERE PersonUpdatedAt >= '2024-09-14 10:00:00'
        [AND PersonUpdatedAt < '2024-09-15 00:00:00']

Tables: the `query_table` of every entity `systems.yaml` declares (Person, User, Product,
Organisation); keywords and names case-insensitive. Literals are Copenhagen local
time (`YYYY-MM-DD[ HH:MM:SS]`) unless they carry an offset (`2024-09-14T08:00:00Z`, `...+02:00`).
Anything else is rejected, as a strict emulator should.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sync_pipeline.sandbox.timestamps import parse_webcrm_instant
from sync_pipeline.sandbox.webcrm_dto import ENTITIES, QUERY_TABLES

_SCRIPT = re.compile(
    r"^\s*select\s+\*\s+from\s+(?P<table>\w+)"
    r"\s+where\s+(?P<since_field>\w+)\s*>=\s*'(?P<since>[^']*)'"
    r"(?:\s+and\s+(?P<until_field>\w+)\s*<\s*'(?P<until>[^']*)')?"
    r"\s*;?\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class UpdatedQuery:
    """`SELECT * FROM <table> WHERE <X>UpdatedAt >= since [AND <X>UpdatedAt < until]`."""

    entity: str
    since: float
    until: float | None


def parse_script(script: str) -> UpdatedQuery:
    """Parse a query script; ValueError (with the reason) for anything outside the subset."""
    match = _SCRIPT.match(script)
    if match is None:
        raise ValueError(
            "Unsupported script. The sandbox supports: SELECT * FROM "
            f"{'|'.join(e.query_table for e in ENTITIES.values())} "
            "WHERE <X>UpdatedAt >= '<time>' [AND <X>UpdatedAt < '<time>']"
        )
    entity = QUERY_TABLES.get(match["table"].lower())
    if entity is None:
        raise ValueError(f"Unknown table '{match['table']}'.")
    expected = ENTITIES[entity].updated_at.lower()
    for field in (match["since_field"], match["until_field"]):
        if field is not None and field.lower() != expected:
            raise ValueError(f"Unsupported filter column '{field}'.")
    try:
        since = parse_webcrm_instant(match["since"])
        until = None if match["until"] is None else parse_webcrm_instant(match["until"])
    except ValueError as exc:
        raise ValueError(f"Invalid date literal: {exc}") from None
    return UpdatedQuery(entity, since, until)
