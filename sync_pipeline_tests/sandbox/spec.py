"""The vendor's Swagger 2.0 spec as JSON Schema validators (draft 4, `#/definitions` inlined)."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator, FormatChecker

SUBSET = Path(__file__).resolve().parents[2] / "sync_pipeline" / "webcrm_spec.json"
_REPO = Path(__file__).resolve().parents[2]
FULL_SPEC_CANDIDATES = (
    _REPO / "reference" / "webcrm-swagger-v1.json",
    _REPO.parent / "shared" / "reference" / "webcrm-swagger-v1.json",
)
# The spec's /Queries response refers to `#/definitions/ObjectDto`, which it never defines;
# a query row is an object of columns.
DANGLING = {"ObjectDto": {"type": "object"}}
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _is_date_time(value: object) -> bool:
    return not isinstance(value, str) or bool(_RFC3339.match(value))


def _is_int32(value: object) -> bool:
    return not isinstance(value, int) or -(2**31) <= value < 2**31


# jsonschema checks "date-time" only with an optional package installed; check RFC 3339 here.
formats = FormatChecker(formats=())
formats.checkers["date-time"] = (_is_date_time, ())
formats.checkers["int32"] = (_is_int32, ())


@cache
def spec() -> dict[str, Any]:
    """The vendored subset of the vendor spec."""
    loaded: dict[str, Any] = json.loads(SUBSET.read_text(encoding="utf-8"))
    return loaded


def operation(path: str, method: str) -> dict[str, Any]:
    """One operation object of the spec."""
    found: dict[str, Any] = spec()["paths"][path][method.lower()]
    return found


def response_validator(path: str, method: str, status: str = "200") -> Draft4Validator | None:
    """A validator for an operation's documented response body (None if it has no schema)."""
    schema = operation(path, method)["responses"][status].get("schema")
    if schema is None:
        return None
    definitions = {**spec()["definitions"], **DANGLING}
    return Draft4Validator({**schema, "definitions": definitions}, format_checker=formats)


def definition_validator(name: str) -> Draft4Validator:
    """A validator for one named definition, e.g. PersonDto."""
    definitions = {**spec()["definitions"], **DANGLING}
    return Draft4Validator(
        {**definitions[name], "definitions": definitions}, format_checker=formats
    )


def without_nulls(body: Any) -> Any:
    """`body` with every null object member left out: the live API sends null where the 2019
    spec types a property as string or date-time (evidence 10), so types are checked on the
    values present."""
    if isinstance(body, dict):
        return {k: without_nulls(v) for k, v in body.items() if v is not None}
    if isinstance(body, list):
        return [without_nulls(v) for v in body]
    return body


def assert_valid(validator: Draft4Validator | None, body: Any) -> None:
    """Fail with every schema error of `body` (null members aside, see `without_nulls`)."""
    assert validator is not None
    found = validator.iter_errors(without_nulls(body))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in found]
    assert not errors, "\n".join(errors[:20])
