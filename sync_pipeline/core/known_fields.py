"""Known properties per system entity: systems.yaml and the field map are checked against these.

WebCRM: the DTOs of the vendor spec, vendored verbatim in `sync_pipeline/webcrm_spec.json` (a subset
of `reference/webcrm-swagger-v1.json`; a test compares the two). An entity's DTO is named in
`systems.yaml`. CRMOffice: ASSUMED (no public spec) -- mirrors DESIGN.md section 5; correct it
here and in `sandbox/crmoffice_assumptions.py` together when the real API is known.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

WEBCRM_SPEC_FILE = "webcrm_spec.json"
PropertySchema = Mapping[str, Any]  # one Swagger 2.0 property schema: type, format, enum, ...


@cache
def webcrm_spec() -> Mapping[str, Any]:
    """The vendored Swagger 2.0 subset (`paths`, `definitions`) as loaded JSON."""
    text = resources.files("sync_pipeline").joinpath(WEBCRM_SPEC_FILE).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def webcrm_dto(name: str) -> Mapping[str, PropertySchema] | None:
    """The properties of the vendored DTO `name` (e.g. `PersonDto`) in spec order, or None."""
    definition = webcrm_spec()["definitions"].get(name)
    if not isinstance(definition, dict):
        return None
    properties: dict[str, PropertySchema] = definition.get("properties", {})
    return properties


# ASSUMED: CRMOffice field names (DESIGN.md section 5).
CRMOFFICE_PROPERTIES: dict[str, frozenset[str]] = {
    "contacts": frozenset(
        {
            "id",
            "givenName",
            "familyName",
            "mobilePhone",
            "directPhone",
            "email",
            "title",
            "company",
            "createdAt",
            "updatedAt",
        }
    ),
    "companies": frozenset(
        {
            "id",
            "name",
            "orgNr",
            "postAddress",
            "visitAddress",
            "createdAt",
            "updatedAt",
        }
    ),
}
