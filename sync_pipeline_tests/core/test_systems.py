"""The system descriptions (`systems.yaml`): loaded once, typed, and one-line errors."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from sync_pipeline.core import FieldMapError, SystemsError, load_field_map, parse_systems
from sync_pipeline.core.systems import (
    TIMESTAMP_FORMATS,
    TIMESTAMP_PATTERNS,
    format_timestamp,
    load_systems,
    packaged_systems,
)

PACKAGE = Path(__file__).parents[2] / "sync_pipeline"


def raw_systems() -> dict[str, Any]:
    """The package's systems.yaml as plain data."""
    data: dict[str, Any] = yaml.safe_load((PACKAGE / "systems.yaml").read_text(encoding="utf-8"))
    return data


def test_package_description_matches_design() -> None:
    """WebCRM 250/min, CRMOffice 600/min; page, chunk and timestamp facts per entity."""
    systems = packaged_systems()
    assert (systems.webcrm.name, systems.crmoffice.name) == ("WebCRM", "CRMOffice")
    assert systems.webcrm.rate_limit.per_minute == 250
    assert systems.webcrm.rate_limit.env == "WEBCRM_RATE_LIMIT_PER_MIN"
    assert systems.crmoffice.rate_limit.per_minute == 600
    assert systems.crmoffice.rate_limit.env == "CRMOFFICE_RATE_LIMIT_PER_MIN"
    assert list(systems.webcrm.entities) == ["Persons", "Users", "Products", "Organisations"]
    assert list(systems.crmoffice.entities) == ["contacts", "companies"]
    persons = systems.webcrm.entity("Persons")
    assert (persons.id, persons.updated_at, persons.query_table) == (
        "PersonId",
        "PersonUpdatedAt",
        "Person",
    )
    assert (persons.page_size, persons.write_chunk) == (1000, 500)
    assert persons.timestamp_format == "seconds_local_offset"
    assert "PersonFirstName" in persons.properties
    organisations = systems.webcrm.entity("Organisations")
    assert (organisations.id, organisations.query_table) == ("OrganisationId", "Organisation")
    assert "OrganisationName" in organisations.properties
    contacts = systems.crmoffice.entity("contacts")
    assert (contacts.id, contacts.updated_at, contacts.query_table) == ("id", "updatedAt", None)
    assert (contacts.page_size, contacts.write_chunk) == (500, 1)
    assert contacts.timestamp_format == "utc_millis_z"


def test_an_entity_overrides_the_defaults() -> None:
    """A key set on an entity wins over entity_defaults; the others still apply."""
    data = raw_systems()
    data["systems"]["webcrm"]["entities"]["Users"]["page_size"] = 100
    systems = parse_systems(data)
    assert systems.webcrm.entity("Users").page_size == 100
    assert systems.webcrm.entity("Users").write_chunk == 500
    assert systems.webcrm.entity("Persons").page_size == 1000


def test_the_field_map_carries_the_descriptions() -> None:
    """FieldMap.entities and entity_spec() are the descriptions' EntitySpecs."""
    fm = load_field_map()
    pair = fm.pairs["persons_contacts"]
    assert fm.entity_spec(pair, "webcrm") is fm.systems.webcrm.entity("Persons")
    assert fm.entities["crmoffice"]["contacts"] is fm.systems.crmoffice.entity("contacts")


Mutation = Callable[[dict[str, Any]], None]
W = "systems.webcrm"
C = "systems.crmoffice"


def _web(d: dict[str, Any]) -> dict[str, Any]:
    # why the ignore below: yaml documents are untyped
    return d["systems"]["webcrm"]  # type: ignore[no-any-return]


def _persons(d: dict[str, Any]) -> dict[str, Any]:
    # why the ignore below: yaml documents are untyped
    return _web(d)["entities"]["Persons"]  # type: ignore[no-any-return]


def _contacts(d: dict[str, Any]) -> dict[str, Any]:
    # why the ignore below: yaml documents are untyped
    return d["systems"]["crmoffice"]["entities"]["contacts"]  # type: ignore[no-any-return]


CASES: list[tuple[str, Mutation, str]] = [
    ("top-level key", lambda d: d.update(extra=1), "systems.yaml: extra: unknown key"),
    ("version", lambda d: d.update(version=2), "systems.yaml: version: unsupported version 2"),
    (
        "missing system",
        lambda d: d["systems"].pop("crmoffice"),
        "systems.yaml: systems.crmoffice: missing required key",
    ),
    (
        "rate limit",
        lambda d: _web(d)["rate_limit"].update(per_minute=0),
        f"systems.yaml: {W}.rate_limit.per_minute: expected a positive integer, got 0",
    ),
    (
        "rate limit env",
        lambda d: _web(d)["rate_limit"].update(env="webcrm limit"),
        f"systems.yaml: {W}.rate_limit.env: 'webcrm limit' does not match",
    ),
    (
        "page size type",
        lambda d: _persons(d).update(page_size="big"),
        f"systems.yaml: {W}.entities.Persons.page_size: expected a positive integer, got 'big'",
    ),
    (
        "bool is no count",
        lambda d: _contacts(d).update(write_chunk=True),
        f"systems.yaml: {C}.entities.contacts.write_chunk: expected a positive integer, got True",
    ),
    (
        "no default and no value",
        lambda d: _web(d)["entity_defaults"].pop("write_chunk"),
        (
            f"systems.yaml: {W}.entities.Persons.write_chunk:"
            " missing (set it here or in entity_defaults)"
        ),
    ),
    (
        "timestamp format",
        lambda d: _persons(d).update(timestamp_format="iso"),
        (
            f"systems.yaml: {W}.entities.Persons.timestamp_format: unknown timestamp format"
            " 'iso' (allowed: seconds_local_offset, utc_millis_z)"
        ),
    ),
    (
        "id property",
        lambda d: _persons(d).update(id="PersonID"),
        f"systems.yaml: {W}.entities.Persons.id: 'PersonID' is not a property of Persons",
    ),
    (
        "crmoffice property",
        lambda d: _contacts(d).update(updated_at="modified"),
        f"systems.yaml: {C}.entities.contacts.updated_at: 'modified' is not a property",
    ),
    (
        "dto",
        lambda d: _persons(d).update(dto="PersonsDto"),
        f"systems.yaml: {W}.entities.Persons.dto: 'PersonsDto' is not a DTO of webcrm_spec.json",
    ),
    (
        "query table on CRMOffice",
        lambda d: _contacts(d).update(query_table="Contact"),
        f"systems.yaml: {C}.entities.contacts.query_table: unknown key",
    ),
    (
        "query table missing",
        lambda d: _persons(d).pop("query_table"),
        f"systems.yaml: {W}.entities.Persons.query_table: missing required key",
    ),
    (
        "entity name",
        lambda d: _web(d)["entities"].update({"Per sons": _persons(d)}),
        f"systems.yaml: {W}.entities.Per sons: 'Per sons' does not match",
    ),
    (
        "no entities",
        lambda d: _web(d).update(entities={}),
        f"systems.yaml: {W}.entities: expected a mapping of entities",
    ),
    (
        "unknown CRMOffice entity",
        lambda d: d["systems"]["crmoffice"]["entities"].update(deals=dict(_contacts(d))),
        f"systems.yaml: {C}.entities.deals: no known CRMOffice properties for 'deals'",
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_description_is_one_line_error_naming_file_and_key(
    mutate: Mutation, expected: str
) -> None:
    """Every invalid description raises SystemsError: one line, the file, the key path."""
    data = copy.deepcopy(raw_systems())
    mutate(data)
    with pytest.raises(SystemsError) as info:
        parse_systems(data)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(expected), message


def test_invalid_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    """A YAML syntax error is one line with the file and the place."""
    bad = tmp_path / "systems.yaml"
    bad.write_text("version: 1\nsystems: [\n", encoding="utf-8")
    with pytest.raises(SystemsError, match=rf"^{bad}: invalid YAML at line 3"):
        load_systems(bad)


def _data_files(tmp_path: Path, systems: dict[str, Any], pairs: dict[str, Any]) -> Path:
    """A folder holding a fieldmap.yaml and a systems.yaml beside it."""
    (tmp_path / "systems.yaml").write_text(yaml.safe_dump(systems), encoding="utf-8")
    path = tmp_path / "fieldmap.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "pairs": pairs}), encoding="utf-8")
    return path


def test_a_field_map_reads_the_systems_yaml_beside_it(tmp_path: Path) -> None:
    """A pair may only name entities the systems.yaml beside the map declares."""
    systems = raw_systems()
    del systems["systems"]["webcrm"]["entities"]["Organisations"]
    pair = {"webcrm": "Organisations", "crmoffice": "companies", "creates": []}
    path = _data_files(tmp_path, systems, {"organisations_companies": pair})
    with pytest.raises(FieldMapError) as info:
        load_field_map(path)
    assert str(info.value) == (
        f"{path}: pairs.organisations_companies.webcrm: unknown WebCRM entity 'Organisations'"
        " (declared: Persons, Products, Users)"
    )


def test_an_error_in_the_systems_yaml_beside_the_map_is_a_field_map_error(tmp_path: Path) -> None:
    """Loading a field map reports its systems.yaml's error in one line naming that file."""
    systems = raw_systems()
    systems["systems"]["crmoffice"]["rate_limit"]["per_minute"] = -5
    path = _data_files(tmp_path, systems, {})
    with pytest.raises(FieldMapError) as info:
        load_field_map(path)
    assert str(info.value) == (
        f"{tmp_path / 'systems.yaml'}: systems.crmoffice.rate_limit.per_minute:"
        " expected a positive integer, got -5"
    )


def test_timestamps_are_written_in_the_declared_formats() -> None:
    """seconds_local_offset keeps the moment's offset in whole seconds; utc_millis_z is UTC."""
    moment = datetime(2024, 9, 14, 10, 0, 5, 987_654, tzinfo=timezone(timedelta(hours=1)))
    assert format_timestamp(moment, "seconds_local_offset") == "2024-09-14T10:00:05+01:00"
    assert format_timestamp(moment, "utc_millis_z") == "2024-09-14T09:00:05.987Z"
    for fmt in TIMESTAMP_FORMATS:
        assert TIMESTAMP_PATTERNS[fmt].match(format_timestamp(moment, fmt))
    with pytest.raises(ValueError, match="timezone-aware"):
        format_timestamp(datetime(2024, 9, 14, 10, 0), "utc_millis_z")
