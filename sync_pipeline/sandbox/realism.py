"""Realism options: how a production CRM rewrites or refuses what an API client sends.

Off by default (the emulators store what they are sent and answer per item); each is a
`sync-pipeline sandbox` option documented in `sandbox/README.md`:

- `--crmoffice-phone-format compact`: CRMOffice stores a phone as `+` and digits
  (`+45 12 34 56 78` -> `+4512345678`), as CRMs that normalise to E.164 do.
- `--webcrm-phone-format grouped`: WebCRM stores a phone grouped in pairs after a two-digit
  country code (`+4512345678` -> `+45 12 34 56 78`), as the Danish UI renders numbers.
- `--webcrm-bulk-rejection whole-chunk`: a bulk `PATCH` with any item that breaks a field rule
  is refused as a whole with 400 (nothing applied), instead of that item failing alone.

Both reformatting rules apply to API writes only; state-handle edits (a user typing in the UI)
keep what the test typed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from sync_pipeline.sandbox.webcrm_dto import PHONE_PROPERTIES, field_rule_errors

PhoneFormat = Literal["as-sent", "compact", "grouped"]
BulkRejection = Literal["per-item", "whole-chunk"]
PHONE_FORMATS: tuple[str, ...] = get_args(PhoneFormat)
BULK_REJECTIONS: tuple[str, ...] = get_args(BulkRejection)

# ASSUMED (sandbox): the phone properties each system may reformat.
CRMOFFICE_PHONE_FIELDS = frozenset({"mobilePhone", "directPhone"})
WEBCRM_PHONE_FIELDS = PHONE_PROPERTIES
_COUNTRY_DIGITS = 2


def compact_phone(text: str) -> str:
    """`+` (when one comes before the first digit) and the digits: `+45 12-34` -> `+451234`."""
    digits = re.sub(r"[^0-9]", "", text)
    plus = re.match(r"^[^0-9]*\+", text) is not None
    return "+" + digits if plus and digits else digits


def group_phone(text: str) -> str:
    """Digits in pairs, after `+` and a two-digit country code: `+4512345678` ->
    `+45 12 34 56 78`; `12345678` -> `12 34 56 78`. Text without a digit is kept."""
    compact = compact_phone(text)
    if not compact:
        return text
    head, digits = "", compact
    if compact.startswith("+"):
        head, digits = compact[: 1 + _COUNTRY_DIGITS], compact[1 + _COUNTRY_DIGITS :]
    pairs = [digits[i : i + 2] for i in range(0, len(digits), 2)]
    return " ".join(part for part in (head, *pairs) if part)


def reformat_phones(
    values: Mapping[str, Any], fields: Iterable[str], style: PhoneFormat
) -> dict[str, Any]:
    """`values` with every non-empty string among `fields` stored in `style`."""
    result = dict(values)
    if style == "as-sent":
        return result
    rewrite = compact_phone if style == "compact" else group_phone
    for name in fields:
        value = result.get(name)
        if isinstance(value, str) and value.strip():
            result[name] = rewrite(value)
    return result


@dataclass(frozen=True)
class WebcrmWriteRules:
    """How the emulated WebCRM stores and refuses written values (field rules + realism)."""

    phone_format: PhoneFormat = "as-sent"
    bulk_rejection: BulkRejection = "per-item"

    def stored(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """What the account keeps of valid coerced values."""
        return reformat_phones(values, WEBCRM_PHONE_FIELDS, self.phone_format)

    def single(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """One record's values as stored; ValueError naming the field rules it breaks."""
        errors = field_rule_errors(dict(values))
        if errors:
            raise ValueError(" ".join(errors))
        return self.stored(values)

    def bulk_errors(self, batch: list[dict[str, Any]]) -> list[str]:
        """Per bulk item, the field rules it breaks ("" when none); ValueError for the whole
        request when `bulk_rejection` is `whole-chunk` and any item breaks one."""
        errors = [" ".join(field_rule_errors(values)) for values in batch]
        if self.bulk_rejection == "whole-chunk" and any(errors):
            named = " ".join(f"Item {i}: {e}" for i, e in enumerate(errors) if e)
            raise ValueError(f"{named} Nothing was saved.")
        return errors
