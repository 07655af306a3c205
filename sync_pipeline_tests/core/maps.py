"""The packaged field map as a deployment against the sandbox sees it."""

from __future__ import annotations

from sync_pipeline.core import FieldMap, load_field_map
from sync_pipeline.settings import resolve_create_defaults

# The organisation reverse creates belong to (`WEBCRM_DEFAULT_ORGANISATION_ID`).
DEFAULT_ORGANISATION_ID = "1000"


def sandbox_field_map() -> FieldMap:
    """`fieldmap.yaml` with its create defaults resolved (`${WEBCRM_DEFAULT_ORGANISATION_ID}`
    set), so reverse creates are planned rather than held for want of an organisation."""
    env = {"WEBCRM_DEFAULT_ORGANISATION_ID": DEFAULT_ORGANISATION_ID}
    return resolve_create_defaults(load_field_map(), env)
