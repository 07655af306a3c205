"""Each system described once, as data: API limits and entity facts, declared in `systems.yaml`.

`parse_systems` validates the whole document once (the habit of dlt's `rest_api` typing and
`_validate_config`: what varies per endpoint is a typed row of data). Every error is a single
`SystemsError` line naming the file and the key path, e.g.
`systems.yaml: systems.webcrm.entities.Persons.page_size: expected a positive integer, got 0`.
Keys in `entity_defaults` apply to every entity of that system that does not set them itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast, get_args

import yaml

from sync_pipeline.core.known_fields import CRMOFFICE_PROPERTIES, webcrm_dto
from sync_pipeline.core.types import SIDES, Side

TimestampFormat = Literal["seconds_local_offset", "utc_millis_z"]
TIMESTAMP_FORMATS: tuple[TimestampFormat, ...] = get_args(TimestampFormat)
SYSTEMS_FILE = "systems.yaml"
# What a timestamp of each format looks like (DESIGN.md section 5).
TIMESTAMP_PATTERNS: dict[TimestampFormat, re.Pattern[str]] = {
    "seconds_local_offset": re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$"),
    "utc_millis_z": re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"),
}
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
# Keys only one system's entities have: WebCRM reads changes through `/Queries` and names the
# vendor DTO its properties come from.
_SIDE_KEYS: dict[Side, frozenset[str]] = {
    "webcrm": frozenset({"dto", "query_table", "create_requires"}),
    "crmoffice": frozenset(),
}
_COMMON_KEYS = frozenset({"id", "updated_at", "page_size", "write_chunk", "timestamp_format"})
_DEFAULTABLE = frozenset({"page_size", "write_chunk", "timestamp_format"})


class SystemsError(ValueError):
    """The system descriptions are invalid; the message is one line naming file and key path."""


@dataclass(frozen=True)
class EntitySpec:
    """One system entity: where its id and update time live and how the API pages and writes it.

    `page_size`: the largest page a list request may ask for; `write_chunk`: records per write
    request; `query_table`: the WebCRM `/Queries` table (None for CRMOffice); `properties`: every
    property the API knows on the entity (the vendor DTO for WebCRM); `create_requires`: the
    properties a new record must carry a value for (WebCRM persons: a last name and an existing
    organisation, live evidence 7 and 8).
    """

    side: Side
    name: str
    id: str
    updated_at: str
    query_table: str | None = None
    page_size: int = 1
    write_chunk: int = 1
    timestamp_format: TimestampFormat = "utc_millis_z"
    dto: str | None = None
    properties: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
    create_requires: tuple[str, ...] = ()


@dataclass(frozen=True)
class RateLimit:
    """Requests per minute per token, and the environment variable that overrides it."""

    per_minute: int
    env: str


@dataclass(frozen=True)
class SystemSpec:
    """One system: its display name, API rate limit and entities (in file order)."""

    side: Side
    name: str
    rate_limit: RateLimit
    entities: Mapping[str, EntitySpec]

    def entity(self, name: str) -> EntitySpec:
        """The entity `name`; ValueError (one line) when this system declares no such entity."""
        try:
            return self.entities[name]
        except KeyError:
            raise ValueError(
                f"unknown {self.name} entity {name!r}; expected one of {sorted(self.entities)}"
            ) from None


@dataclass(frozen=True)
class Systems:
    """Both systems, validated."""

    webcrm: SystemSpec
    crmoffice: SystemSpec

    def __getitem__(self, side: Side) -> SystemSpec:
        return self.webcrm if side == "webcrm" else self.crmoffice

    def entities(self) -> dict[Side, Mapping[str, EntitySpec]]:
        """`{side: {entity name: EntitySpec}}`, the shape `FieldMap.entities` has."""
        return {side: self[side].entities for side in SIDES}


def format_timestamp(moment: datetime, fmt: TimestampFormat) -> str:
    """An aware `moment` written in `fmt`, rounded down: `seconds_local_offset` keeps the
    moment's own offset (`2024-09-14T10:00:00+01:00`), `utc_millis_z` is UTC with milliseconds
    (`2024-09-14T09:00:00.000Z`). ValueError for a naive moment."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"timestamps must be timezone-aware, got {moment!r}")
    if fmt == "seconds_local_offset":
        return moment.replace(microsecond=0).isoformat()
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


class _Reader:
    """Typed reads of a loaded YAML tree; every failure names the source and the key path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, problem: str) -> SystemsError:
        line = f"{self.source}: {path}: {problem}" if path else f"{self.source}: {problem}"
        return SystemsError(" ".join(line.split()))

    def mapping(
        self, value: object, path: str, allowed: frozenset[str], required: frozenset[str]
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected a mapping, got {type(value).__name__}")
        for key in value:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                raise self.fail(_join(path, str(key)), f"unknown key (allowed: {known})")
        for key in sorted(required - set(value)):
            raise self.fail(_join(path, key), "missing required key")
        return cast(dict[str, Any], value)

    def string(self, value: object, path: str, pattern: re.Pattern[str] | None = None) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, f"expected a non-empty string, got {value!r}")
        if pattern is not None and not pattern.match(value):
            raise self.fail(path, f"{value!r} does not match {pattern.pattern}")
        return value

    def positive_int(self, value: object, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.fail(path, f"expected a positive integer, got {value!r}")
        return value

    def timestamp_format(self, value: object, path: str) -> TimestampFormat:
        if value not in TIMESTAMP_FORMATS:
            allowed = ", ".join(TIMESTAMP_FORMATS)
            raise self.fail(path, f"unknown timestamp format {value!r} (allowed: {allowed})")
        return value  # narrowed by the membership test


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _properties(read: _Reader, side: Side, name: str, raw: dict[str, Any], path: str) -> set[str]:
    if side == "crmoffice":
        if name not in CRMOFFICE_PROPERTIES:
            raise read.fail(path, f"no known CRMOffice properties for {name!r} (core/known_fields)")
        return set(CRMOFFICE_PROPERTIES[name])
    dto = read.string(raw["dto"], f"{path}.dto", _NAME)
    properties = webcrm_dto(dto)
    if properties is None:
        raise read.fail(f"{path}.dto", f"{dto!r} is not a DTO of webcrm_spec.json")
    return set(properties)


def _entity(
    read: _Reader, side: Side, name: str, raw: object, defaults: dict[str, Any], path: str
) -> EntitySpec:
    read.string(name, path, _NAME)
    allowed = _COMMON_KEYS | _SIDE_KEYS[side]
    required_keys = allowed - _DEFAULTABLE - {"create_requires"}
    row = {**defaults, **read.mapping(raw, path, allowed, required_keys)}
    for key in sorted(_DEFAULTABLE - set(row)):
        raise read.fail(f"{path}.{key}", "missing (set it here or in entity_defaults)")
    known = _properties(read, side, name, row, path)
    props = {key: read.string(row[key], f"{path}.{key}") for key in ("id", "updated_at")}
    for key, prop in props.items():
        if prop not in known:
            raise read.fail(f"{path}.{key}", f"{prop!r} is not a property of {name}")
    table = row.get("query_table")
    required = tuple(
        read.string(prop, f"{path}.create_requires[{i}]", _NAME)
        for i, prop in enumerate(row.get("create_requires") or ())
    )
    for i, prop in enumerate(required):
        if prop not in known:
            raise read.fail(f"{path}.create_requires[{i}]", f"{prop!r} is not a property of {name}")
    return EntitySpec(
        side=side,
        name=name,
        id=props["id"],
        updated_at=props["updated_at"],
        query_table=None if table is None else read.string(table, f"{path}.query_table", _NAME),
        page_size=read.positive_int(row["page_size"], f"{path}.page_size"),
        write_chunk=read.positive_int(row["write_chunk"], f"{path}.write_chunk"),
        timestamp_format=read.timestamp_format(row["timestamp_format"], f"{path}.timestamp_format"),
        dto=row.get("dto"),
        properties=frozenset(known),
        create_requires=required,
    )


def _system(read: _Reader, side: Side, raw: object) -> SystemSpec:
    path = f"systems.{side}"
    keys = frozenset({"name", "rate_limit", "entity_defaults", "entities"})
    spec = read.mapping(raw, path, keys, keys - {"entity_defaults"})
    limit_keys = frozenset({"per_minute", "env"})
    limit = read.mapping(spec["rate_limit"], f"{path}.rate_limit", limit_keys, limit_keys)
    rate_limit = RateLimit(
        per_minute=read.positive_int(limit["per_minute"], f"{path}.rate_limit.per_minute"),
        env=read.string(limit["env"], f"{path}.rate_limit.env", _ENV_NAME),
    )
    defaults = read.mapping(
        spec.get("entity_defaults") or {}, f"{path}.entity_defaults", _DEFAULTABLE, frozenset()
    )
    raw_entities = spec["entities"]
    if not isinstance(raw_entities, dict) or not raw_entities:
        raise read.fail(f"{path}.entities", f"expected a mapping of entities, got {raw_entities!r}")
    entities = {
        str(name): _entity(read, side, str(name), value, defaults, f"{path}.entities.{name}")
        for name, value in raw_entities.items()
    }
    return SystemSpec(side, read.string(spec["name"], f"{path}.name"), rate_limit, entities)


def parse_systems(data: object, source: str = SYSTEMS_FILE) -> Systems:
    """Validate a loaded systems document; raise `SystemsError` (one line) on the first error."""
    read = _Reader(source)
    keys = frozenset({"version", "systems"})
    doc = read.mapping(data, "", keys, keys)
    if doc["version"] != 1 or isinstance(doc["version"], bool):
        raise read.fail("version", f"unsupported version {doc['version']!r} (supported: 1)")
    systems = read.mapping(doc["systems"], "systems", frozenset(SIDES), frozenset(SIDES))
    return Systems(
        webcrm=_system(read, "webcrm", systems["webcrm"]),
        crmoffice=_system(read, "crmoffice", systems["crmoffice"]),
    )


def read_yaml(text: str, source: str, error: type[ValueError]) -> object:
    """`yaml.safe_load(text)`; a syntax error becomes `error` with one line naming the place."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise error(" ".join(f"{source}: invalid YAML{where}: {problem}".split())) from None


def load_systems(path: Path | None = None) -> Systems:
    """Load and validate `path`, or the package's `systems.yaml` (cached) when None."""
    if path is None:
        return packaged_systems()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SystemsError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_systems(read_yaml(text, str(path), SystemsError), str(path))


@cache
def packaged_systems() -> Systems:
    """The package's `systems.yaml`, loaded and validated once per process."""
    text = resources.files("sync_pipeline").joinpath(SYSTEMS_FILE).read_text(encoding="utf-8")
    return parse_systems(read_yaml(text, SYSTEMS_FILE, SystemsError), SYSTEMS_FILE)
