"""The WebCRM DTOs the sandbox emulates: property types from the vendor spec, coercion, rendering.

Generic over the entities `systems.yaml` declares: each names its DTO, whose properties and
types come from the vendored vendor spec (`sync_pipeline/webcrm_spec.json`, a verbatim subset of
`reference/webcrm-swagger-v1.json`), as do the operations the entity answers (its `paths`).
Adding an entity is data: its row in `systems.yaml` and its paths and DTO in the spec file.
Values are stored sparse (defaults left out) and rendered full, shaped like the live API
(evidence 10 in `reference/webcrm-live-evidence.md`): `null` for unset strings, Plus/Member
properties and the last-login time, 0/false for numbers and booleans, the first member for enums,
.NET's minimum date (`0001-01-01T00:00:00+00:00`) for other unset date-times, and the properties
the live API sends beyond the 2019 spec (`PersonMarketDataId`, `PersonMarketDataProviderId`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sync_pipeline.core.known_fields import PropertySchema, webcrm_dto, webcrm_spec
from sync_pipeline.core.systems import SystemSpec, packaged_systems
from sync_pipeline.sandbox.timestamps import (
    LONDON,
    WEBCRM_UNSET_DATETIME,
    parse_webcrm_instant,
    webcrm_timestamp,
)

Kind = Literal["string", "int", "number", "bool", "datetime", "enum"]

_INT32 = (-(2**31), 2**31 - 1)
# Evidence 10: the live person record carries these (null) beyond the 2019 spec.
# Keyed by DTO prefix.
LIVE_EXTRA_FIELDS: dict[str, tuple[str, ...]] = {
    "Person": ("PersonMarketDataId", "PersonMarketDataProviderId"),
}
# Evidence 10: unset Plus fields, obsolete Member fields and the last-login time read null.
_NULL_WHEN_UNSET = ("Plus", "Member", "LastLogin")
_KIND_OF_TYPE: dict[str, Kind] = {"integer": "int", "number": "number", "boolean": "bool"}


@dataclass(frozen=True)
class EntitySpec:
    """One emulated WebCRM entity: collection name, property prefix, ids, types, operations."""

    name: str
    prefix: str
    kinds: dict[str, Kind]
    enums: dict[str, tuple[str, ...]]
    id_field: str = ""
    updated_at: str = ""
    query_table: str = ""
    collection_methods: tuple[str, ...] = ("GET", "POST", "PATCH")
    record_methods: tuple[str, ...] = ("GET", "PUT")

    @property
    def created_at(self) -> str:
        """The creation time property."""
        return f"{self.prefix}CreatedAt"

    @property
    def server_fields(self) -> frozenset[str]:
        """Properties the server maintains; values sent by clients are ignored."""
        p = self.prefix
        return frozenset(
            {self.id_field, self.created_at, self.updated_at, f"{p}CreatedBy", f"{p}UpdatedBy"}
        )


def _kind(schema: PropertySchema) -> Kind:
    """The emulated kind of one Swagger property schema."""
    if "enum" in schema:
        return "enum"
    if schema.get("format") == "date-time":
        return "datetime"
    return _KIND_OF_TYPE.get(str(schema.get("type")), "string")


def _methods(path: str) -> tuple[str, ...]:
    operations: Mapping[str, Any] = webcrm_spec()["paths"].get(path, {})
    return tuple(method.upper() for method in operations)


def emulated_entities(system: SystemSpec) -> dict[str, EntitySpec]:
    """The emulated entity of every WebCRM entity `system` declares (ValueError if the vendored
    spec lacks its DTO or its paths)."""
    entities: dict[str, EntitySpec] = {}
    for name, entity in system.entities.items():
        properties = webcrm_dto(entity.dto or "")
        collection, record = _methods(f"/{name}"), _methods(f"/{name}/{{id}}")
        if properties is None or not collection or not record:
            raise ValueError(f"webcrm_spec.json lacks the DTO or the paths of {name}")
        entities[name] = EntitySpec(
            name=name,
            prefix=(entity.dto or "").removesuffix("Dto"),
            kinds={prop: _kind(schema) for prop, schema in properties.items()},
            enums={p: tuple(s["enum"]) for p, s in properties.items() if "enum" in s},
            id_field=entity.id,
            updated_at=entity.updated_at,
            query_table=entity.query_table or "",
            collection_methods=collection,
            record_methods=record,
        )
    return entities


ENTITIES: dict[str, EntitySpec] = emulated_entities(packaged_systems().webcrm)
QUERY_TABLES: dict[str, str] = {e.query_table.lower(): e.name for e in ENTITIES.values()}

# ASSUMED: neither the spec nor the live evidence gives field lengths; phone properties hold
# at most 30 characters here (a phone column's usual size), so an over-long phone fails the
# way a real field rule would: alone in a bulk PATCH, or the whole request (see `realism`).
PHONE_PROPERTIES = frozenset(
    {"PersonDirectPhone", "PersonMobilePhone", "UserMobilePhone", "UserTelephone"}
)
PHONE_MAX_LENGTH = 30


def field_rule_errors(values: dict[str, Any]) -> list[str]:
    """The field rules (beyond types) that coerced `values` break, one message each."""
    return [
        f"{name} must be at most {PHONE_MAX_LENGTH} characters (got {len(value)})."
        for name, value in values.items()
        if name in PHONE_PROPERTIES and isinstance(value, str) and len(value) > PHONE_MAX_LENGTH
    ]


def default_record(spec: EntitySpec) -> dict[str, Any]:
    """The full rendering of a record with nothing set, as the live API renders it (evidence 10):
    null strings, Plus/Member/last-login properties; 0, false, the first enum member; .NET's
    minimum date; and the live-only extra properties (null)."""
    defaults = {
        "string": None,
        "int": 0,
        "number": 0,
        "bool": False,
        "datetime": WEBCRM_UNSET_DATETIME,
    }
    record = {
        name: spec.enums[name][0] if kind == "enum" else defaults[kind]
        for name, kind in spec.kinds.items()
    }
    for name in record:
        if any(part in name for part in _NULL_WHEN_UNSET) and spec.kinds[name] != "bool":
            record[name] = None
    return {**record, **dict.fromkeys(LIVE_EXTRA_FIELDS.get(spec.prefix, ()))}


def render(
    spec: EntitySpec, stored: dict[str, Any], defaults: dict[str, Any], zone: ZoneInfo = LONDON
) -> dict[str, Any]:
    """Render a sparse stored record as the API returns it (every property present), date-times
    with the offset of `zone` (evidence 11)."""
    full = {**defaults, **stored}
    for name, value in stored.items():
        if spec.kinds[name] == "datetime":
            full[name] = webcrm_timestamp(value, zone)
    return full


def coerce(spec: EntitySpec, name: str, value: Any, zone: ZoneInfo = LONDON) -> Any:
    """Validate one incoming property value; return the stored form (None = unset). An
    offset-less date-time is local time in `zone`.

    Raises ValueError with a model-binding style message when the value has the wrong type.
    """
    kind = spec.kinds.get(name)
    if kind is None:
        raise ValueError(f"Could not find member '{name}' on object of type '{spec.prefix}Dto'")
    if value is None:
        return None
    try:
        if kind == "datetime":
            return _datetime(value, zone)
        return _COERCERS[kind](spec, name, value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"The value {value!r} is not valid for {name} ({kind}).") from None


def _string(spec: EntitySpec, name: str, value: Any) -> Any:
    if not isinstance(value, str):
        raise TypeError
    return value or None


def _int(spec: EntitySpec, name: str, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError
    if not _INT32[0] <= value <= _INT32[1]:
        raise OverflowError
    return value or None


def _number(spec: EntitySpec, name: str, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TypeError
    return value or None


def _bool(spec: EntitySpec, name: str, value: Any) -> Any:
    if not isinstance(value, bool):
        raise TypeError
    return value or None


def _datetime(value: Any, zone: ZoneInfo) -> Any:
    if not isinstance(value, str):
        raise TypeError
    if value == "" or value.startswith("0001-01-01"):
        return None
    return int(parse_webcrm_instant(value, zone))


def _enum(spec: EntitySpec, name: str, value: Any) -> Any:
    members = spec.enums[name]
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(members):
        chosen = members[value]
    elif isinstance(value, str) and value.lower() in (m.lower() for m in members):
        chosen = next(m for m in members if m.lower() == value.lower())
    else:
        raise TypeError
    return None if chosen == members[0] else chosen


_COERCERS = {
    "string": _string,
    "int": _int,
    "number": _number,
    "bool": _bool,
    "enum": _enum,
}


def coerce_body(spec: EntitySpec, body: Any, zone: ZoneInfo = LONDON) -> dict[str, Any]:
    """Validate a DTO body; return {property: stored value or None}, server fields dropped
    (offset-less date-times are local time in `zone`).

    Raises ValueError naming every bad property (unknown names, wrong types).
    """
    if not isinstance(body, dict):
        raise ValueError(f"The request body must be a JSON object ({spec.prefix}Dto).")
    errors: list[str] = []
    changes: dict[str, Any] = {}
    for name, value in body.items():
        if name in LIVE_EXTRA_FIELDS.get(spec.prefix, ()):
            continue  # read-only live extras (evidence 10): a client may echo them back
        try:
            stored = coerce(spec, name, value, zone)
        except ValueError as exc:
            errors.append(str(exc))
            continue
        if name not in spec.server_fields:
            changes[name] = stored
    if errors:
        raise ValueError(" ".join(errors))
    return changes
