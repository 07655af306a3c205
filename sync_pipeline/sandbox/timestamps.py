"""Timestamp formats of the two emulated CRMs.

WebCRM: whole seconds with the offset of the zone the account renders in (`--webcrm-timezone`,
default Europe/London as in the only live sample, evidence 11: `2022-08-11T08:45:34+01:00`);
offset-less literals are read as local time of that zone. CRMOffice: UTC with milliseconds
and `Z` (`2024-09-14T08:00:00.123Z`). Stored instants are integers: epoch seconds for WebCRM,
epoch milliseconds for CRMOffice.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
LONDON = ZoneInfo("Europe/London")
DEFAULT_WEBCRM_ZONE = "Europe/London"

# .NET's DateTimeOffset.MinValue: how an unset date-time property is rendered (a valid RFC 3339
# date-time, so responses still validate against the vendor schema).
WEBCRM_UNSET_DATETIME = "0001-01-01T00:00:00+00:00"

_ISO_SHAPE = re.compile(
    r"^\d{4}-\d{2}-\d{2}"
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,7})?)?)?"
    r"(?:Z|[+-]\d{2}:?\d{2})?$"
)


def webcrm_timestamp(epoch_seconds: int, zone: ZoneInfo = LONDON) -> str:
    """Render epoch seconds as WebCRM does: whole seconds, the offset of `zone`."""
    return datetime.fromtimestamp(epoch_seconds, zone).isoformat()


def parse_webcrm_instant(text: str, zone: ZoneInfo = LONDON) -> float:
    """Parse a WebCRM date-time literal (ISO 8601 or a .NET round-trip string with up to 7
    decimals; no offset means local time in `zone`). Epoch seconds.

    Raises ValueError for anything that is not a date or date-time.
    """
    moment = _parse_iso(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.timestamp()


def crmoffice_timestamp(epoch_millis: int) -> str:
    """Render epoch milliseconds as CRMOffice does: UTC, milliseconds, `Z`."""
    whole = datetime.fromtimestamp(epoch_millis // 1000, UTC)
    return f"{whole:%Y-%m-%dT%H:%M:%S}.{epoch_millis % 1000:03d}Z"


def parse_crmoffice_instant(text: str) -> float:
    """Parse an ISO 8601 date-time that must carry `Z` or an explicit offset; epoch seconds."""
    moment = _parse_iso(text)
    if "T" not in text.upper() or moment.tzinfo is None:
        raise ValueError(f"{text!r} is not an ISO 8601 date-time with an offset")
    return moment.timestamp()


def _parse_iso(text: str) -> datetime:
    stripped = text.strip()
    if not _ISO_SHAPE.match(stripped):
        raise ValueError(f"{text!r} is not an ISO 8601 date-time")
    # Python < 3.12 accepts at most 6 fraction digits; .NET sends up to 7.
    stripped = re.sub(r"(\.\d{6})\d+", r"\1", stripped)
    return datetime.fromisoformat(stripped)
