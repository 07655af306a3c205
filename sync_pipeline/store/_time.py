"""Time as the store keeps it: ISO-8601 UTC text of one fixed width, so text order is time order."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now(now: datetime | None = None) -> datetime:
    """`now` if given (it must carry a UTC offset), else the current UTC time."""
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"naive datetime {now!r}: pass a timezone-aware time")
    return now


def iso(moment: datetime) -> str:
    """`moment` as fixed-width UTC text, e.g. `2024-09-14T08:00:00.000000+00:00`."""
    return utc_now(moment).astimezone(UTC).isoformat(timespec="microseconds")


def parse_iso(text: str) -> datetime:
    """The aware UTC datetime stored as `text`."""
    return datetime.fromisoformat(text).astimezone(UTC)
