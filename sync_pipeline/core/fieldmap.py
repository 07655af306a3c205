"""The field map: which entities pair up and which fields flow, declared in `fieldmap.yaml`.

The entities themselves (id and updated-at properties, known properties, paging) are declared
once in `systems.yaml` (`core.systems`); the field map names them and carries the loaded
`Systems`, so `FieldMap.entities[side][name]` is the system description's `EntitySpec`.
`parse_field_map` validates the whole document once; every error is a single `FieldMapError`
line naming the file and the key path, e.g.
`fieldmap.yaml: pairs.persons_contacts.fields[1].webcrm: 'PersonLastNam' is not a WebCRM
Persons property`.

The conflict policy (`core.conflict_policy`) is declared per pair and optionally per field:
`conflict: newest | webcrm_wins | crmoffice_wins` or `conflict: {policy: newest, tie: webcrm}`
(a field's `conflict` overrides its pair's; keys it leaves out come from the pair), and a field
added to a live deployment says who wins its differing initial values with
`initial_winner: webcrm | crmoffice | hold` (default `hold`). `create_defaults: {to_webcrm:
{PersonOrganisationId: ${WEBCRM_DEFAULT_ORGANISATION_ID}}}` fills what a create requires
(`core.create_rules`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast

from sync_pipeline.core.conflict_policy import ConflictPolicy, declared_policy
from sync_pipeline.core.create_rules import CreateDefaults, parse_create_defaults
from sync_pipeline.core.systems import (
    SYSTEMS_FILE,
    EntitySpec,
    Systems,
    load_systems,
    packaged_systems,
    read_yaml,
)
from sync_pipeline.core.types import DIRECTIONS, SIDES, TARGET_SIDE, Direction, Side

FieldType = Literal["string", "phone"]
FIELD_TYPES: tuple[FieldType, ...] = ("string", "phone")
_SYSTEM_NAME: dict[Side, str] = {"webcrm": "WebCRM", "crmoffice": "CRMOffice"}


class FieldMapError(ValueError):
    """The field map is invalid; the message is one line naming the file and key path."""


@dataclass(frozen=True)
class FieldSpec:
    """One mapped field: the property on each side, the value type, and its conflict policy
    (the pair's unless the field overrides it; `initial_winner` is per field)."""

    webcrm: str
    crmoffice: str
    type: FieldType
    conflict: ConflictPolicy = field(default_factory=ConflictPolicy)

    @property
    def name(self) -> str:
        """The canonical field name used in every frame (the CRMOffice property)."""
        return self.crmoffice

    def prop(self, side: Side) -> str:
        """The API property name of this field on `side`."""
        return self.webcrm if side == "webcrm" else self.crmoffice


@dataclass(frozen=True)
class PairSpec:
    """One synced pair of entities: the fields that flow and the directions creates go."""

    name: str
    webcrm_entity: str
    crmoffice_entity: str
    creates: frozenset[Direction]
    match_keys: tuple[str, ...]
    fields: tuple[FieldSpec, ...]
    conflict: ConflictPolicy = field(default_factory=ConflictPolicy)
    # Per create direction: target properties a create must carry (systems.yaml
    # `create_requires`) and the values that fill them when the record lacks one (`${VAR}`
    # unresolved: see core.create_rules).
    # (Left out of equality and hashing: plans and caches key on a pair by its fields.)
    create_requires: Mapping[Direction, tuple[str, ...]] = field(
        default_factory=dict, compare=False
    )
    create_defaults: CreateDefaults = field(default_factory=dict, compare=False)

    @property
    def field_names(self) -> tuple[str, ...]:
        """Canonical field names in map order."""
        return tuple(f.name for f in self.fields)

    @property
    def policies(self) -> dict[str, ConflictPolicy]:
        """The conflict policy of each field, by canonical name."""
        return {f.name: f.conflict for f in self.fields}

    def entity(self, side: Side) -> str:
        """The entity name of this pair on `side`."""
        return self.webcrm_entity if side == "webcrm" else self.crmoffice_entity


@dataclass(frozen=True)
class FieldMap:
    """The validated field map: the pairs in file order, over the entities of `systems`."""

    version: int
    entities: Mapping[Side, Mapping[str, EntitySpec]]
    pairs: Mapping[str, PairSpec]
    systems: Systems = field(default_factory=packaged_systems, compare=False, repr=False)

    def entity_spec(self, pair: PairSpec, side: Side) -> EntitySpec:
        """The entity spec of `pair` on `side`."""
        return self.entities[side][pair.entity(side)]


class _Ctx:
    """Carries the source file name so every error names it."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, problem: str) -> FieldMapError:
        line = f"{self.source}: {path}: {problem}" if path else f"{self.source}: {problem}"
        return FieldMapError(" ".join(line.split()))

    def mapping(
        self, value: object, path: str, allowed: set[str], required: set[str]
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected a mapping, got {type(value).__name__}")
        for key in value:
            if key not in allowed:
                raise self.fail(
                    _join(path, str(key)), f"unknown key (allowed: {', '.join(sorted(allowed))})"
                )
        for key in sorted(required - set(value)):
            raise self.fail(_join(path, key), "missing required key")
        return cast(dict[str, Any], value)

    def string(self, value: object, path: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, f"expected a non-empty string, got {value!r}")
        return value

    def string_list(self, value: object, path: str) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(path, f"expected a list, got {type(value).__name__}")
        return [self.string(item, f"{path}[{i}]") for i, item in enumerate(value)]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _check_property(ctx: _Ctx, side: Side, entity: EntitySpec, prop: str, path: str) -> None:
    if prop not in entity.properties:
        raise ctx.fail(path, f"{prop!r} is not a {_SYSTEM_NAME[side]} {entity.name} property")


def _parse_fields(
    ctx: _Ctx,
    value: object,
    path: str,
    entities: dict[Side, EntitySpec],
    pair_policy: ConflictPolicy,
) -> tuple[FieldSpec, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ctx.fail(path, f"expected a list, got {type(value).__name__}")
    fields: list[FieldSpec] = []
    seen: dict[tuple[Side, str], int] = {}
    for i, raw in enumerate(value):
        item_path = f"{path}[{i}]"
        allowed = {"webcrm", "crmoffice", "type", "conflict", "initial_winner"}
        spec = ctx.mapping(raw, item_path, allowed, {"webcrm", "crmoffice", "type"})
        props: dict[Side, str] = {}
        for side in SIDES:
            key_path = f"{item_path}.{side}"
            prop = ctx.string(spec[side], key_path)
            entity = entities[side]
            _check_property(ctx, side, entity, prop, key_path)
            if prop in (entity.id, entity.updated_at):
                raise ctx.fail(key_path, f"{prop!r} is the {entity.name} id/updated-at property")
            if (side, prop) in seen:
                raise ctx.fail(
                    key_path, f"duplicate field {prop!r} (also fields[{seen[side, prop]}])"
                )
            seen[side, prop] = i
            props[side] = prop
        type_ = spec["type"]
        if type_ not in FIELD_TYPES:
            raise ctx.fail(
                f"{item_path}.type", f"unknown type {type_!r} (allowed: {', '.join(FIELD_TYPES)})"
            )
        policy = declared_policy(spec, item_path, pair_policy, ctx.fail)
        fields.append(
            FieldSpec(props["webcrm"], props["crmoffice"], cast(FieldType, type_), policy)
        )
    return tuple(fields)


def _parse_pair(
    ctx: _Ctx, name: str, value: object, entities: Mapping[Side, Mapping[str, EntitySpec]]
) -> PairSpec:
    path = f"pairs.{name}"
    if not name.isidentifier():
        raise ctx.fail(path, "a pair name must be an identifier (letters, digits, underscores)")
    allowed = {"webcrm", "crmoffice", "creates", "match_keys", "fields", "conflict"}
    allowed.add("create_defaults")
    spec = ctx.mapping(value, path, allowed, {"webcrm", "crmoffice", "creates"})
    pair_entities: dict[Side, EntitySpec] = {}
    for side in SIDES:
        entity = ctx.string(spec[side], f"{path}.{side}")
        if entity not in entities[side]:
            declared = ", ".join(sorted(entities[side])) or "none"
            raise ctx.fail(
                f"{path}.{side}",
                f"unknown {_SYSTEM_NAME[side]} entity {entity!r} (declared: {declared})",
            )
        pair_entities[side] = entities[side][entity]
    creates = ctx.string_list(spec["creates"], f"{path}.creates")
    for i, direction in enumerate(creates):
        if direction not in DIRECTIONS:
            raise ctx.fail(
                f"{path}.creates[{i}]",
                f"unknown direction {direction!r} (allowed: {', '.join(DIRECTIONS)})",
            )
    policy = declared_policy(spec, path, ConflictPolicy(), ctx.fail)
    fields = _parse_fields(ctx, spec.get("fields"), f"{path}.fields", pair_entities, policy)
    names = [f.name for f in fields]
    keys = ctx.string_list(spec.get("match_keys"), f"{path}.match_keys")
    for i, key in enumerate(keys):
        if key not in names:
            raise ctx.fail(
                f"{path}.match_keys[{i}]",
                f"{key!r} is not one of the pair's fields ({', '.join(names) or 'none'})",
            )
        if key in keys[:i]:
            raise ctx.fail(f"{path}.match_keys[{i}]", f"duplicate match key {key!r}")
    return PairSpec(
        name=name,
        webcrm_entity=pair_entities["webcrm"].name,
        crmoffice_entity=pair_entities["crmoffice"].name,
        creates=frozenset(cast(list[Direction], creates)),
        match_keys=tuple(keys),
        fields=fields,
        conflict=policy,
        create_requires={
            d: pair_entities[TARGET_SIDE[d]].create_requires for d in cast(list[Direction], creates)
        },
        create_defaults=parse_create_defaults(
            spec.get("create_defaults"), f"{path}.create_defaults", pair_entities, ctx.fail
        ),
    )


def parse_field_map(
    data: object, source: str = "fieldmap.yaml", systems: Systems | None = None
) -> FieldMap:
    """Validate a loaded field-map document against `systems` (default: the package's
    `systems.yaml`); raise `FieldMapError` (one line) on the first error."""
    systems = packaged_systems() if systems is None else systems
    ctx = _Ctx(source)
    doc = ctx.mapping(data, "", {"version", "pairs"}, {"version", "pairs"})
    if doc["version"] != 1 or isinstance(doc["version"], bool):
        raise ctx.fail("version", f"unsupported version {doc['version']!r} (supported: 1)")
    entities = systems.entities()
    raw_pairs = {} if doc["pairs"] is None else doc["pairs"]
    if not isinstance(raw_pairs, dict):
        raise ctx.fail("pairs", f"expected a mapping, got {type(raw_pairs).__name__}")
    pairs = {
        str(name): _parse_pair(ctx, str(name), value, entities) for name, value in raw_pairs.items()
    }
    return FieldMap(version=1, entities=entities, pairs=pairs, systems=systems)


def load_field_map(path: Path | None = None, systems: Systems | None = None) -> FieldMap:
    """Load and validate the field map from `path`, or the package's `fieldmap.yaml` if None.

    The entities come from `systems` when given, else from a `systems.yaml` beside `path` when
    there is one, else from the package's `systems.yaml`. Errors in either file raise
    `FieldMapError` (one line naming the file and key path).
    """
    if path is None:
        text = (
            resources.files("sync_pipeline").joinpath("fieldmap.yaml").read_text(encoding="utf-8")
        )
        source = "fieldmap.yaml"
    else:
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise FieldMapError(f"{source}: cannot read: {exc.strerror or exc}") from None
        beside = path.with_name(SYSTEMS_FILE)
        if systems is None and beside.is_file():
            systems = _systems_or_fail(beside)
    data = read_yaml(text, source, FieldMapError)
    return parse_field_map(data, source, systems)


def _systems_or_fail(path: Path) -> Systems:
    try:
        return load_systems(path)
    except ValueError as exc:
        raise FieldMapError(str(exc)) from None
