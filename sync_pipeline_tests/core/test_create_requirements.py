"""Creates carry what their target requires (systems.yaml `create_requires`) from the record or
the pair's `create_defaults`; a create that cannot is held with a reason (live evidence 7, 8)."""

from __future__ import annotations

from typing import Any

import pytest

from sync_pipeline.core import FieldMapError, PairSpec, load_field_map, parse_field_map
from sync_pipeline.settings import resolve_create_defaults
from sync_pipeline_tests.core.test_fieldmap import raw_map
from sync_pipeline_tests.core.world import World


def _persons(env: dict[str, str]) -> PairSpec:
    return resolve_create_defaults(load_field_map(), env).pairs["persons_contacts"]


def _held(pair: PairSpec) -> tuple[list[str], dict[str, str]]:
    w = World(pair, require_create_values=True)
    w.put("crmoffice", "c1", givenName="Kari", familyName="Nordmann")
    w.put("crmoffice", "c2", givenName="Kun", familyName="  ")
    plan = w.plan()
    created = plan.creates["to_webcrm"]["source_id"].tolist()
    return created, dict(zip(plan.held["id"], plan.held["reason"], strict=True))


def test_persons_require_a_last_name_and_an_organisation() -> None:
    """systems.yaml declares the live API's requirements on a new person."""
    pair = load_field_map().pairs["persons_contacts"]
    assert pair.create_requires["to_webcrm"] == ("PersonLastName", "PersonOrganisationId")
    assert pair.create_requires["to_crmoffice"] == ()
    assert pair.create_defaults == {
        "to_webcrm": {"PersonOrganisationId": "${WEBCRM_DEFAULT_ORGANISATION_ID}"}
    }


def test_a_contact_without_family_name_is_held_the_rest_created() -> None:
    """With the organisation default set, only the contact lacking a family name is held."""
    created, held = _held(_persons({"WEBCRM_DEFAULT_ORGANISATION_ID": "1000"}))
    assert created == ["c1"]
    assert held == {"c2": "familyName is empty; Persons need PersonLastName"}


def test_an_unset_default_holds_every_reverse_create_naming_the_variable() -> None:
    """An unset `${WEBCRM_DEFAULT_ORGANISATION_ID}` holds the creates and says which variable."""
    created, held = _held(_persons({}))
    assert created == []
    assert held["c1"] == (
        "WEBCRM_DEFAULT_ORGANISATION_ID is not set; Persons need PersonOrganisationId "
        "(create_defaults)"
    )


def test_resolution_substitutes_only_where_the_environment_is_read() -> None:
    """load_field_map keeps `${VAR}` as written; resolve_create_defaults fills it in."""
    env = {"WEBCRM_DEFAULT_ORGANISATION_ID": " 4711 "}
    assert _persons(env).create_defaults["to_webcrm"]["PersonOrganisationId"] == "4711"


@pytest.mark.parametrize(
    ("defaults", "message"),
    [
        ({"to_nowhere": {}}, "create_defaults.to_nowhere: unknown direction"),
        ({"to_webcrm": {"PersonOrganisationID": 1}}, "is not a property of Persons"),
        ({"to_webcrm": {"PersonOrganisationId": [1]}}, "expected a string or an integer"),
        ({"to_webcrm": "1000"}, "create_defaults.to_webcrm: expected a mapping"),
    ],
)
def test_bad_create_defaults_are_one_line_errors(defaults: Any, message: str) -> None:
    """Unknown directions or properties and non-scalar values are refused at load."""
    data = raw_map()
    data["pairs"]["persons_contacts"]["create_defaults"] = defaults
    with pytest.raises(FieldMapError, match=message):
        parse_field_map(data)
