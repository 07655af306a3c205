"""Validation of CRMOffice write bodies (rules from `crmoffice_assumptions`): 422 on any fault."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sync_pipeline.sandbox.crmoffice_assumptions import (
    ADDRESS_FIELDS,
    ADDRESS_PARTS,
    MAX_STRING_LENGTH,
    READ_ONLY_FIELDS,
    REFERENCE_FIELDS,
    STRING_FIELDS,
)

FieldErrors = dict[str, list[str]]


class InvalidBody(ValueError):
    """A write body that breaks the rules; `errors` maps each bad field to its reasons."""

    def __init__(self, errors: FieldErrors) -> None:
        super().__init__("; ".join(f"{f}: {', '.join(m)}" for f, m in errors.items()))
        self.errors = errors


def writable_fields(entity: str) -> tuple[str, ...]:
    """Properties a client may write."""
    return (*STRING_FIELDS[entity], *REFERENCE_FIELDS[entity], *ADDRESS_FIELDS[entity])


def validate_body(entity: str, body: Any, exists: Callable[[str, str], bool]) -> dict[str, Any]:
    """Check a PATCH/PUT/POST body; return the values to store. Raises InvalidBody.

    `exists(entity, id)` answers whether a referenced record exists.
    """
    if not isinstance(body, dict):
        raise InvalidBody({"": ["the body must be a JSON object"]})
    errors: FieldErrors = {}
    values: dict[str, Any] = {}
    for name, value in body.items():
        problems = _field_problems(entity, name, value, exists)
        if problems:
            errors[name] = problems
        else:
            values[name] = _stored(entity, name, value)
    if errors:
        raise InvalidBody(errors)
    return values


def _field_problems(
    entity: str, name: str, value: Any, exists: Callable[[str, str], bool]
) -> list[str]:
    if name in READ_ONLY_FIELDS:
        return ["is read-only"]
    if name in STRING_FIELDS[entity]:
        return _string_problems(value)
    if name in ADDRESS_FIELDS[entity]:
        return _address_problems(value)
    target = REFERENCE_FIELDS[entity].get(name)
    if target is not None:
        return _reference_problems(target, value, exists)
    return ["is not a known field"]


def _string_problems(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, str):
        return [f"must be a string or null, not {type(value).__name__}"]
    if len(value) > MAX_STRING_LENGTH:
        return [f"must be at most {MAX_STRING_LENGTH} characters (got {len(value)})"]
    return []


def _address_problems(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, dict):
        return ["must be an address object or null"]
    problems = [f"{key} is not a known field" for key in value if key not in ADDRESS_PARTS]
    for key in ADDRESS_PARTS:
        problems += [f"{key} {p}" for p in _string_problems(value.get(key))]
    return problems


def _reference_problems(target: str, value: Any, exists: Callable[[str, str], bool]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, dict) or set(value) != {"id"} or not isinstance(value["id"], str):
        return ['must be {"id": "<string>"} or null']
    if not exists(target, value["id"]):
        return [f"refers to {target} {value['id']!r}, which does not exist"]
    return []


def _stored(entity: str, name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in ADDRESS_FIELDS[entity]:
        return {key: value.get(key) for key in ADDRESS_PARTS}
    if name in REFERENCE_FIELDS[entity]:
        return {"id": value["id"]}
    return value
