"""Page-number pagination as a tiny state object (the meltano/singer-sdk habit).

A paginator knows the parameters of the next request, whether it is `finished`, and refuses to
loop: a server that answers two consecutive pages with the same full page is ignoring the page
parameter, and reading on would never end.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class PaginationLoopError(Exception):
    """The server returned the same page twice in a row."""


class PagePaginator:
    """Pages numbered from `first_page`, `page_size` records each, done on a short page.

    When the server reports `total_items`, reading stops as soon as the pages seen cover it,
    without the extra request for an empty page.
    """

    def __init__(self, page_size: int, *, first_page: int = 1) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be positive, got {page_size}")
        self.page_size = page_size
        self.page = first_page
        self.pages_read = 0
        self.finished = False
        self._last_signature: tuple[int, Any, Any] | None = None

    def advance(self, records: Sequence[Any], *, total_items: int | None = None) -> None:
        """Record the page just read and move to the next one (or finish)."""
        if self.finished:
            raise RuntimeError("advance() called on a finished paginator")
        signature = (len(records), records[0], records[-1]) if records else None
        if signature is not None and signature == self._last_signature:
            raise PaginationLoopError(
                f"page {self.page} repeats page {self.page - 1}: the server ignores paging"
            )
        self._last_signature = signature
        self.pages_read += 1
        covered = self.pages_read * self.page_size
        if len(records) < self.page_size or (total_items is not None and covered >= total_items):
            self.finished = True
        else:
            self.page += 1
