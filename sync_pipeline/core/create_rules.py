"""What a create must carry, and where the values come from when the source record lacks them.

A target entity may declare `create_requires` in `systems.yaml` (WebCRM persons: a last name and
an existing organisation, live evidence 7 and 8). A pair fills such properties from the mapped
field's value or from its `create_defaults` in `fieldmap.yaml`:

    create_defaults:
      to_webcrm:
        PersonOrganisationId: ${WEBCRM_DEFAULT_ORGANISATION_ID}

`${NAME}` stays as written here (core reads no environment): `settings.resolve_create_defaults`
substitutes the variables where the environment is read. A create that still lacks a required
value is held with a one-line reason instead of being sent to fail
(`core.create_holds.hold_incomplete_creates`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import cast

from sync_pipeline.core.systems import EntitySpec
from sync_pipeline.core.types import DIRECTIONS, TARGET_SIDE, Direction, Side

CreateDefaults = Mapping[Direction, Mapping[str, str]]
PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
Fail = Callable[[str, str], Exception]


def parse_create_defaults(
    value: object, path: str, entities: Mapping[Side, EntitySpec], fail: Fail
) -> CreateDefaults:
    """`{direction: {target property: text}}` from a pair's `create_defaults` (None → {});
    `fail(path, problem)` builds the error raised for an unknown direction or property or a
    value that is not a scalar."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise fail(path, f"expected a mapping, got {type(value).__name__}")
    parsed: dict[Direction, dict[str, str]] = {}
    for direction, values in value.items():
        where = f"{path}.{direction}"
        if direction not in DIRECTIONS:
            raise fail(where, f"unknown direction {direction!r} (allowed: {', '.join(DIRECTIONS)})")
        if not isinstance(values, dict):
            raise fail(where, f"expected a mapping, got {type(values).__name__}")
        target = entities[TARGET_SIDE[cast(Direction, direction)]]
        parsed[cast(Direction, direction)] = {
            str(prop): _default_text(prop, raw, f"{where}.{prop}", target, fail)
            for prop, raw in values.items()
        }
    return parsed


def _default_text(prop: object, raw: object, path: str, target: EntitySpec, fail: Fail) -> str:
    if prop not in target.properties:
        raise fail(path, f"{prop!r} is not a property of {target.name}")
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise fail(path, f"expected a string or an integer, got {raw!r}")
    return str(raw)


def unresolved(text: str) -> str | None:
    """The first `${NAME}` left in a default value (its variable was not set), else None."""
    found = PLACEHOLDER.search(text)
    return None if found is None else found.group(1)
