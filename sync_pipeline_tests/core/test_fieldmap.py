"""The field map: loading, one-line validation errors, and fields added in YAML alone."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from sync_pipeline.core import (
    FieldMapError,
    load_field_map,
    mapped_frame_model,
    parse_field_map,
    plan_pair_sync,
    prepare_side,
    render_dataflow_rst,
)
from sync_pipeline_tests.core.world import World

PACKAGE_MAP = Path(__file__).parents[2] / "sync_pipeline" / "fieldmap.yaml"


def raw_map() -> dict[str, Any]:
    """The package's field map as plain data."""
    data: dict[str, Any] = yaml.safe_load(PACKAGE_MAP.read_text(encoding="utf-8"))
    return data


def test_package_map_matches_design() -> None:
    """The shipped map has the three pairs of DESIGN section 1 with their directions."""
    fm = load_field_map()
    assert list(fm.pairs) == ["persons_contacts", "users_contacts", "products_companies"]
    persons = fm.pairs["persons_contacts"]
    assert [(f.webcrm, f.name, f.type) for f in persons.fields] == [
        ("PersonFirstName", "givenName", "string"),
        ("PersonLastName", "familyName", "string"),
        ("PersonDirectPhone", "directPhone", "phone"),
        ("PersonMobilePhone", "mobilePhone", "phone"),
    ]
    assert persons.creates == {"to_crmoffice", "to_webcrm"}
    users = fm.pairs["users_contacts"]
    assert [(f.webcrm, f.name) for f in users.fields] == [
        ("UserMobilePhone", "mobilePhone"),
        ("UserTelephone", "directPhone"),
    ]
    assert users.creates == {"to_crmoffice"} and users.match_keys == ("mobilePhone",)
    products = fm.pairs["products_companies"]
    assert (
        products.fields == () and products.creates == {"to_crmoffice"} and products.match_keys == ()
    )
    assert fm.entities["webcrm"]["Persons"].query_table == "Person"
    assert fm.entity_spec(persons, "crmoffice") is fm.systems.crmoffice.entities["contacts"]


Mutation = Callable[[dict[str, Any]], None]

CASES: list[tuple[str, Mutation, str]] = [
    ("top-level key", lambda d: d.update(extra=1), "fieldmap.yaml: extra: unknown key"),
    ("version", lambda d: d.update(version=2), "fieldmap.yaml: version: unsupported version 2"),
    (
        "entities moved to systems.yaml",
        lambda d: d.update(entities={"webcrm": {}}),
        "fieldmap.yaml: entities: unknown key (allowed: pairs, version)",
    ),
    (
        "pair entity",
        lambda d: d["pairs"]["users_contacts"].update(webcrm="Usrs"),
        "fieldmap.yaml: pairs.users_contacts.webcrm: unknown WebCRM entity 'Usrs'",
    ),
    (
        "pair key",
        lambda d: d["pairs"]["users_contacts"].update(create=["to_webcrm"]),
        "fieldmap.yaml: pairs.users_contacts.create: unknown key",
    ),
    (
        "webcrm property",
        lambda d: d["pairs"]["persons_contacts"]["fields"][1].update(webcrm="PersonLastNam"),
        (
            "fieldmap.yaml: pairs.persons_contacts.fields[1].webcrm:"
            " 'PersonLastNam' is not a WebCRM Persons property"
        ),
    ),
    (
        "crmoffice property",
        lambda d: d["pairs"]["persons_contacts"]["fields"][0].update(crmoffice="firstName"),
        (
            "fieldmap.yaml: pairs.persons_contacts.fields[0].crmoffice:"
            " 'firstName' is not a CRMOffice contacts property"
        ),
    ),
    (
        "type",
        lambda d: d["pairs"]["persons_contacts"]["fields"][2].update(type="int"),
        "fieldmap.yaml: pairs.persons_contacts.fields[2].type: unknown type 'int'",
    ),
    (
        "direction",
        lambda d: d["pairs"]["persons_contacts"].update(creates=["to_crm"]),
        "fieldmap.yaml: pairs.persons_contacts.creates[0]: unknown direction 'to_crm'",
    ),
    (
        "match key",
        lambda d: d["pairs"]["users_contacts"].update(match_keys=["givenName"]),
        (
            "fieldmap.yaml: pairs.users_contacts.match_keys[0]:"
            " 'givenName' is not one of the pair's fields"
        ),
    ),
    (
        "duplicate field",
        lambda d: d["pairs"]["users_contacts"]["fields"].append(
            {"webcrm": "UserMobilePhone", "crmoffice": "title", "type": "string"}
        ),
        "fieldmap.yaml: pairs.users_contacts.fields[2].webcrm: duplicate field 'UserMobilePhone'",
    ),
    (
        "missing key",
        lambda d: d["pairs"]["persons_contacts"]["fields"][0].pop("type"),
        "fieldmap.yaml: pairs.persons_contacts.fields[0].type: missing required key",
    ),
    (
        "id as field",
        lambda d: d["pairs"]["persons_contacts"]["fields"][0].update(webcrm="PersonId"),
        (
            "fieldmap.yaml: pairs.persons_contacts.fields[0].webcrm:"
            " 'PersonId' is the Persons id/updated-at property"
        ),
    ),
    (
        "not a list",
        lambda d: d["pairs"]["persons_contacts"].update(fields="givenName"),
        "fieldmap.yaml: pairs.persons_contacts.fields: expected a list",
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_map_is_one_line_error_naming_file_and_key(mutate: Mutation, expected: str) -> None:
    """Every invalid map raises FieldMapError: one line, the file, the key path, the problem."""
    data = copy.deepcopy(raw_map())
    mutate(data)
    with pytest.raises(FieldMapError) as info:
        parse_field_map(data)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(expected), message


def test_yaml_syntax_error_is_one_line(tmp_path: Path) -> None:
    """A YAML syntax error names the file and line on one line."""
    bad = tmp_path / "map.yaml"
    bad.write_text("version: 1\npairs: [\n", encoding="utf-8")
    with pytest.raises(FieldMapError) as info:
        load_field_map(bad)
    assert str(info.value).startswith(f"{bad}: invalid YAML at line")
    assert "\n" not in str(info.value)


def test_product_name_is_not_a_vendor_property() -> None:
    """The vendor spec's ProductDto has no ProductName: the map says so instead of guessing."""
    data = raw_map()
    data["pairs"]["products_companies"]["fields"] = [
        {"webcrm": "ProductName", "crmoffice": "name", "type": "string"}
    ]
    with pytest.raises(
        FieldMapError, match=r"fields\[0\]\.webcrm: 'ProductName' is not a WebCRM Products property"
    ):
        parse_field_map(data)


def test_field_added_in_yaml_flows_through_schemas_and_diff(tmp_path: Path) -> None:
    """Adding ProductCombined→name to the YAML alone makes it validated, diffed and created."""
    data = raw_map()
    data["pairs"]["products_companies"]["fields"] = [
        {"webcrm": "ProductCombined", "crmoffice": "name", "type": "string"}
    ]
    path = tmp_path / "fieldmap.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    fm = load_field_map(path)
    pair = fm.pairs["products_companies"]
    assert "name" in mapped_frame_model(pair, "crmoffice").to_schema().columns
    raw = pd.DataFrame(
        [
            {
                "ProductId": 1,
                "ProductUpdatedAt": "2024-09-14T10:00:00+02:00",
                "ProductCombined": " Widget ",
            },
            {
                "ProductId": 2,
                "ProductUpdatedAt": "2024-09-14T10:00:00+02:00",
                "ProductCombined": "x" * 256,
            },
            {
                "ProductId": 3,
                "ProductUpdatedAt": "2024-09-14T10:00:00+02:00",
                "ProductCombined": "Gadget",
            },
        ],
        dtype=object,
    )
    side = prepare_side(raw, pair, "webcrm", fm.entities)
    assert side.valid[["id", "name"]].values.tolist() == [["1", "Widget"], ["3", "Gadget"]]
    assert side.quarantined["reason"].tolist() == ["ProductCombined: longer than 255 characters"]
    crm_raw = pd.DataFrame(
        [{"id": "co1", "updatedAt": "2024-09-14T07:00:00.000Z", "name": "Old"}], dtype=object
    )
    crm = prepare_side(crm_raw, pair, "crmoffice", fm.entities).valid
    links = pd.DataFrame(
        {"webcrm_id": ["1"], "crmoffice_id": ["co1"], "status": ["active"], "name": ["Old"]}
    )
    plan = plan_pair_sync(
        pair,
        side.valid,
        crm,
        links,
        World(pair).intents_frame(),
        complete=True,
        now=World(pair).clock,
    )
    assert plan.updates["to_crmoffice"][["crmoffice_id", "changed", "name"]].values.tolist() == [
        ["co1", ("name",), "Widget"]
    ]
    assert plan.creates["to_crmoffice"][["source_id", "name"]].values.tolist() == [["3", "Gadget"]]
    assert "ProductCombined" in render_dataflow_rst(fm)


def test_field_added_before_any_shadow_exists() -> None:
    """A new field with no shadow column yet: the non-empty side is written, nothing flaps."""
    fm = load_field_map()
    pair = fm.pairs["persons_contacts"]
    w = World(pair)
    w.put("webcrm", "1", givenName="Anne", familyName="Hansen")
    w.put("crmoffice", "c1", givenName="Anne")
    links = w.links_frame()
    links = pd.DataFrame({"webcrm_id": ["1"], "crmoffice_id": ["c1"], "givenName": ["Anne"]})
    plan = plan_pair_sync(
        pair,
        w.side_frame("webcrm"),
        w.side_frame("crmoffice"),
        links,
        w.intents_frame(),
        complete=True,
        now=w.clock,
    )
    assert plan.updates["to_crmoffice"][["changed", "familyName"]].values.tolist() == [
        [("familyName",), "Hansen"]
    ]
    assert plan.conflicts.empty
