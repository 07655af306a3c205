"""Which records a run reads: incremental (cursor), full, or an explicit modification window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Mode = Literal["incremental", "full", "window"]
MODES: tuple[Mode, ...] = ("incremental", "full", "window")
DEFAULT_OVERLAP = timedelta(seconds=120)


@dataclass(frozen=True)
class ReadWindow:
    """What to extract for one system entity.

    `since is None` means a full read (the snapshot is complete: absences mean deletions),
    unless `ids` names the only records read (a targeted run: never complete, moves no cursor).
    """

    mode: Mode
    since: datetime | None
    until: datetime | None
    ids: tuple[str, ...] | None = None

    @property
    def complete(self) -> bool:
        """A full read sees every record, so a missing linked record was deleted."""
        return self.since is None and self.until is None and self.ids is None

    def describe(self) -> str:
        """One line for logs and metadata."""
        if self.ids is not None:
            return f"{self.mode}: {len(self.ids)} records by id"
        if self.complete:
            return f"{self.mode}: full read"
        upper = self.until.isoformat() if self.until else "now"
        lower = self.since.isoformat() if self.since else "the beginning"
        return f"{self.mode}: records modified from {lower} to {upper}"


def read_window(
    mode: Mode,
    cursor: datetime | None,
    *,
    window: tuple[datetime, datetime] | None = None,
    overlap: timedelta = DEFAULT_OVERLAP,
) -> ReadWindow:
    """Resolve a run mode into a read window.

    Incremental reads start `overlap` before the cursor: WebCRM stamps whole seconds in local
    time, so a record written in the same second as the cursor must be read again. With no
    cursor yet, an incremental run is a full read.
    """
    if mode == "full" or (mode == "incremental" and cursor is None):
        return ReadWindow("full" if mode == "full" else "incremental", None, None)
    if mode == "incremental":
        assert cursor is not None
        return ReadWindow("incremental", cursor - overlap, None)
    if window is None:
        raise ValueError("a window run needs a start and an end")
    return ReadWindow("window", window[0], window[1])
