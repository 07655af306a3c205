"""ASSUMED: every detail of the CRMOffice API that the sandbox emulates, in one place.

CRMOffice publishes no spec. Everything below is our documented assumption (DESIGN.md section 5),
modelled on its known `{"items": [...]}` list envelope and field names. When the real API is
known, correct it here (and field names in `core/known_fields.py`, which this module re-exports).
The entities, their largest page and the rate limit are the ones `systems.yaml` declares.
"""

from __future__ import annotations

from sync_pipeline.core.known_fields import CRMOFFICE_PROPERTIES
from sync_pipeline.core.systems import packaged_systems

_DECLARED = packaged_systems().crmoffice

__all__ = [
    "ADDRESS_FIELDS",
    "ADDRESS_PARTS",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "CRMOFFICE_PROPERTIES",
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_RATE_LIMIT",
    "ENTITIES",
    "FIELD_ORDER",
    "FIRST_ID_NUMBER",
    "ID_PREFIX",
    "MAX_PAGE_SIZE",
    "MAX_STRING_LENGTH",
    "PROBLEM_TYPE_BASE",
    "READ_ONLY_FIELDS",
    "REFERENCE_FIELDS",
    "STRING_FIELDS",
    "TOKEN_PATH",
]

# ASSUMED (systems.yaml): the entities, as URL path segments.
ENTITIES = tuple(_DECLARED.entities)

# ASSUMED: ids are strings, a prefix plus a decimal number counting up from 1 per entity.
ID_PREFIX = {"contacts": "c-", "companies": "co-"}
FIRST_ID_NUMBER = 1

# ASSUMED: property types. Every writable property is nullable; strings are at most 255 chars.
STRING_FIELDS = {
    "contacts": ("givenName", "familyName", "mobilePhone", "directPhone", "email", "title"),
    "companies": ("name", "orgNr"),
}
REFERENCE_FIELDS = {"contacts": {"company": "companies"}, "companies": {}}  # {"id": "..."} | null
ADDRESS_FIELDS = {"contacts": (), "companies": ("postAddress", "visitAddress")}
ADDRESS_PARTS = ("streetAddress", "postCode", "postalArea", "country")
READ_ONLY_FIELDS = ("id", "createdAt", "updatedAt")  # sending any of them is a 422
MAX_STRING_LENGTH = 255

# The order properties are rendered in (all of CRMOFFICE_PROPERTIES, checked by a test).
FIELD_ORDER = {
    entity: (
        "id",
        *STRING_FIELDS[entity],
        *REFERENCE_FIELDS[entity],
        *ADDRESS_FIELDS[entity],
        "createdAt",
        "updatedAt",
    )
    for entity in ENTITIES
}

# ASSUMED: paging. `page` from 1, `pageSize` 1..page_size of systems.yaml (500; default 50),
# items in id order; `updatedSince` is an ISO 8601 date-time with an offset, inclusive
# (updatedAt >= updatedSince).
MAX_PAGE_SIZE = {name: entity.page_size for name, entity in _DECLARED.entities.items()}
DEFAULT_PAGE_SIZE = 50

# ASSUMED: OAuth2 client credentials (form-encoded, client id/secret in the body or HTTP Basic).
TOKEN_PATH = "/connect/token"
CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-secret"

# ASSUMED (systems.yaml: 600): requests per minute per API client (sliding window); 429 with
# Retry-After.
DEFAULT_RATE_LIMIT = _DECLARED.rate_limit.per_minute

# ASSUMED: RFC 9457 problem documents; the `type` URIs are ours.
PROBLEM_TYPE_BASE = "https://crmoffice.invalid/problems/"
