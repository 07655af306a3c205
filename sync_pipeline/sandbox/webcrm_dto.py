"""The WebCRM DTOs the sandbox emulates: property types from the vendor spec, coercion, rendering.

Property names come from `core.known_fields` (taken from the vendor spec); this module adds the
types of the non-string properties (`reference/webcrm-swagger-v1.json`, PersonDto/UserDto/
ProductDto). A test checks both against the spec. Values are stored sparse (defaults left out)
and rendered full, as the vendor's .NET serializer does: "" for unset strings, 0/false for
numbers and booleans, the first member for enums, .NET's minimum date for unset date-times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from sync_pipeline.core.known_fields import WEBCRM_PROPERTIES
from sync_pipeline.sandbox.timestamps import (
    WEBCRM_UNSET_DATETIME,
    parse_webcrm_instant,
    webcrm_timestamp,
)

Kind = Literal["string", "int", "number", "bool", "datetime", "enum"]

_INT32 = (-(2**31), 2**31 - 1)


@dataclass(frozen=True)
class EntitySpec:
    """One WebCRM entity: its collection name, property prefix and property types."""

    name: str
    prefix: str
    kinds: dict[str, Kind]
    enums: dict[str, tuple[str, ...]]

    @property
    def id_field(self) -> str:
        """The integer id property, e.g. `PersonId`."""
        return f"{self.prefix}Id"

    @property
    def created_at(self) -> str:
        """The creation time property."""
        return f"{self.prefix}CreatedAt"

    @property
    def updated_at(self) -> str:
        """The modification time property."""
        return f"{self.prefix}UpdatedAt"

    @property
    def server_fields(self) -> frozenset[str]:
        """Properties the server maintains; values sent by clients are ignored."""
        p = self.prefix
        return frozenset(
            {f"{p}Id", f"{p}CreatedAt", f"{p}UpdatedAt", f"{p}CreatedBy", f"{p}UpdatedBy"}
        )


def _kinds(
    entity: str,
    ints: str = "",
    numbers: str = "",
    bools: str = "",
    datetimes: str = "",
    enums: dict[str, tuple[str, ...]] | None = None,
) -> dict[str, Kind]:
    kinds: dict[str, Kind] = dict.fromkeys(sorted(WEBCRM_PROPERTIES[entity]), "string")
    for names, kind in (
        (ints, "int"),
        (numbers, "number"),
        (bools, "bool"),
        (datetimes, "datetime"),
    ):
        for name in names.split():
            kinds[name] = kind  # type: ignore[assignment]  # kind is one of the Kind literals
    for name in enums or {}:
        kinds[name] = "enum"
    return kinds


_PERSON_ENUMS: dict[str, tuple[str, ...]] = {
    "PersonStatus": ("Active", "Resigned", "Other", "Guest")
}
_USER_ENUMS: dict[str, tuple[str, ...]] = {
    "UserAddressFormat": ("Scandinavian", "UK", "US"),
    "UserBccMode": ("NoTag", "TagBeginning", "TagEnd"),
    "UserCalendarColorScheme": ("Dashboard", *(f"Scheme{i}" for i in range(10))),
    "UserDateFormat": ("DDhMMhYYYY", "YYYYhMMhDD", "MMsDDsYYYY", "DDpMMpYYYY", "YYYYpMMpDD"),
    "UserSupportCaseNotificationType": ("Never", "StatusEmail", "StatusEmailAndMessage", "Default"),
    "UserSupportCaseStatus": ("Available", "Busy", "OffLine", "Absent"),
    "UserSynchronizationMode": ("Enabled", "Disabled"),
    "UserTimeFormat": ("Hours24", "Hours12"),
}

ENTITIES: dict[str, EntitySpec] = {
    "Persons": EntitySpec(
        "Persons",
        "Person",
        _kinds(
            "Persons",
            ints="PersonCampaignWrongPasswordCount PersonId PersonMemberGroupId "
            "PersonMemberLanguageId PersonMemberStatusId PersonMemberWrongPasswordCount "
            "PersonOrganisationId PersonSortOrder PersonSupportLanguageId",
            bools="PersonBlockMassEmail PersonBlockMassEmail2 PersonEmailBounces "
            "PersonEmail2Bounces " + " ".join(f"PersonCheckMark{i}" for i in range(1, 11)),
            datetimes="PersonBirthday PersonCreatedAt PersonLastLoginDateTime "
            "PersonMemberStartDate PersonUpdatedAt",
            enums=_PERSON_ENUMS,
        ),
        _PERSON_ENUMS,
    ),
    "Users": EntitySpec(
        "Users",
        "User",
        _kinds(
            "Users",
            ints="UserAccessId UserAccessLevel UserDefaultSupportCaseChannel "
            "UserDefaultMemberGroupId UserDefaultOpportunity2ndResponsible "
            "UserDefaultOrganisation2ndResponsible UserGmtDifference UserGroupId UserId "
            "UserLanguageId UserLoginCount UserSmsLogin UserWrongPasswordCount",
            bools="UserIsRestApiEnabled UserIsSpellCheckerEnabled "
            "UserIsSupportCaseAvailableStatusEnabled UserPasswordInUrl",
            datetimes="UserCreatedAt UserLastLoginDateTime UserLastTryDateTime "
            "UserPasswordUpdatedAt UserSupportCaseExpirationDateTime UserSupportCaseLatest "
            "UserTicketExpirationDateTime UserUpdatedAt",
            enums=_USER_ENUMS,
        ),
        _USER_ENUMS,
    ),
    "Products": EntitySpec(
        "Products",
        "Product",
        _kinds(
            "Products",
            ints="ProductId ProductOrganisationId ProductPersonId ProductProductYear "
            "ProductSortOrder",
            numbers="ProductCostPrice ProductDiscount ProductListPrice ProductPrice "
            "ProductQuantity",
            datetimes="ProductCreatedAt ProductUpdatedAt",
        ),
        {},
    ),
}

QUERY_TABLES: dict[str, str] = {"person": "Persons", "user": "Users", "product": "Products"}

# ASSUMED: neither the spec nor the live evidence gives field lengths; phone properties hold
# at most 30 characters here (a phone column's usual size), so an over-long phone fails the
# way a real field rule would: alone in a bulk PATCH, or the whole request (see `realism`).
PHONE_PROPERTIES = frozenset(
    {"PersonDirectPhone", "PersonMobilePhone", "UserMobilePhone", "UserTelephone"}
)
PHONE_MAX_LENGTH = 30


def field_rule_errors(values: dict[str, Any]) -> list[str]:
    """The field rules (beyond types) that coerced `values` break, one message each."""
    return [
        f"{name} must be at most {PHONE_MAX_LENGTH} characters (got {len(value)})."
        for name, value in values.items()
        if name in PHONE_PROPERTIES and isinstance(value, str) and len(value) > PHONE_MAX_LENGTH
    ]


def default_record(spec: EntitySpec) -> dict[str, Any]:
    """The full rendering of a record with nothing set."""
    defaults = {
        "string": "",
        "int": 0,
        "number": 0,
        "bool": False,
        "datetime": WEBCRM_UNSET_DATETIME,
    }
    return {
        name: spec.enums[name][0] if kind == "enum" else defaults[kind]
        for name, kind in spec.kinds.items()
    }


def render(spec: EntitySpec, stored: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """Render a sparse stored record as the API returns it (every property present)."""
    full = {**defaults, **stored}
    for name, value in stored.items():
        if spec.kinds[name] == "datetime":
            full[name] = webcrm_timestamp(value)
    return full


def coerce(spec: EntitySpec, name: str, value: Any) -> Any:
    """Validate one incoming property value; return the stored form (None = unset).

    Raises ValueError with a model-binding style message when the value has the wrong type.
    """
    kind = spec.kinds.get(name)
    if kind is None:
        raise ValueError(f"Could not find member '{name}' on object of type '{spec.prefix}Dto'")
    if value is None:
        return None
    checker = _COERCERS[kind]
    try:
        return checker(spec, name, value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"The value {value!r} is not valid for {name} ({kind}).") from None


def _string(spec: EntitySpec, name: str, value: Any) -> Any:
    if not isinstance(value, str):
        raise TypeError
    return value or None


def _int(spec: EntitySpec, name: str, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError
    if not _INT32[0] <= value <= _INT32[1]:
        raise OverflowError
    return value or None


def _number(spec: EntitySpec, name: str, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TypeError
    return value or None


def _bool(spec: EntitySpec, name: str, value: Any) -> Any:
    if not isinstance(value, bool):
        raise TypeError
    return value or None


def _datetime(spec: EntitySpec, name: str, value: Any) -> Any:
    if not isinstance(value, str):
        raise TypeError
    if value == "" or value.startswith("0001-01-01"):
        return None
    return int(parse_webcrm_instant(value))


def _enum(spec: EntitySpec, name: str, value: Any) -> Any:
    members = spec.enums[name]
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(members):
        chosen = members[value]
    elif isinstance(value, str) and value.lower() in (m.lower() for m in members):
        chosen = next(m for m in members if m.lower() == value.lower())
    else:
        raise TypeError
    return None if chosen == members[0] else chosen


_COERCERS = {
    "string": _string,
    "int": _int,
    "number": _number,
    "bool": _bool,
    "datetime": _datetime,
    "enum": _enum,
}


def coerce_body(spec: EntitySpec, body: Any) -> dict[str, Any]:
    """Validate a DTO body; return {property: stored value or None}, server fields dropped.

    Raises ValueError naming every bad property (unknown names, wrong types).
    """
    if not isinstance(body, dict):
        raise ValueError(f"The request body must be a JSON object ({spec.prefix}Dto).")
    errors: list[str] = []
    changes: dict[str, Any] = {}
    for name, value in body.items():
        try:
            stored = coerce(spec, name, value)
        except ValueError as exc:
            errors.append(str(exc))
            continue
        if name not in spec.server_fields:
            changes[name] = stored
    if errors:
        raise ValueError(" ".join(errors))
    return changes
