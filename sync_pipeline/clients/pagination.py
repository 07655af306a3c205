"""Page-number pagination as a tiny state object (the meltano/singer-sdk habit).

A paginator knows the parameters of the next request, whether it is `finished`, whether what it
read adds up (`complete`, else `problem` says why), and refuses to loop: a server that answers
two consecutive pages with the same full page is ignoring the page parameter, and reading on
would never end.

Pages are counted by the size the server actually serves, not the size asked for (issue 9,
kind 3: a server that caps its pages below the asked size would otherwise look finished after
one page):

- a size the server reports (CRMOffice's envelope `pageSize`) below the asked one is the size;
- a total the server reports (`totalItems`) larger than a short first page means the page was
  capped: that page's length is the size;
- with neither (WebCRM: a bare array), a short first page whose length is a round number (a
  multiple of `ROUND_CAP`, as server caps are: 10, 50, 100, 500) costs one probe of the next
  page: empty, and the read is done; not empty, and the server caps its pages.
  Any other short page is the end (the API's minimum: one request for a small list).

A read whose total changed between pages, or whose record count does not match the last total,
is not `complete`: records may have moved between pages (deleted, inserted) and been missed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

ROUND_CAP = 10


class PaginationLoopError(Exception):
    """The server returned the same page twice in a row."""


@dataclass(frozen=True)
class PagedRead:
    """Every record of one paged read; `complete` False (with `problem`, one line) when the
    pages did not add up, so the read may have missed records."""

    records: list[dict[str, Any]]
    complete: bool = True
    problem: str | None = None


class PagePaginator:
    """Pages numbered from `first_page`, `page_size` records asked for each (see the module)."""

    def __init__(self, page_size: int, *, first_page: int = 1) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be positive, got {page_size}")
        self.page_size = page_size
        self.page = first_page
        self.pages_read = 0
        self.records_read = 0
        self.finished = False
        self.problem: str | None = None
        self._served = page_size
        self._total: int | None = None
        self._last_signature: tuple[int, Any, Any] | None = None

    @property
    def complete(self) -> bool:
        """True when every page added up (the count matches the server's total, if it gave one,
        and the total never changed while paging)."""
        return self.problem is None

    def advance(
        self,
        records: Sequence[Any],
        *,
        total_items: int | None = None,
        served_size: int | None = None,
    ) -> None:
        """Record the page just read (with the server's `total_items` and page size, when it
        reports them) and move to the next one, or finish."""
        if self.finished:
            raise RuntimeError("advance() called on a finished paginator")
        signature = (len(records), records[0], records[-1]) if records else None
        if signature is not None and signature == self._last_signature:
            raise PaginationLoopError(
                f"page {self.page} repeats page {self.page - 1}: the server ignores paging"
            )
        self._last_signature = signature
        self.pages_read += 1
        self.records_read += len(records)
        self._note_total(total_items)
        if self.pages_read == 1:
            self._learn_size(len(records), served_size)
        if self._done(len(records)):
            self._finish()
        else:
            self.page += 1

    def _note_total(self, total: int | None) -> None:
        if total is None:
            return
        if self._total is not None and total != self._total and self.problem is None:
            self.problem = f"the total changed from {self._total} to {total} while paging"
        self._total = total

    def _learn_size(self, count: int, served: int | None) -> None:
        """The size the server actually serves, from its first page."""
        if served is not None and 0 < served < self._served:
            self._served = served
        elif 0 < count < self._served:
            more = self._total is not None and self._total > count
            if more or (self._total is None and count % ROUND_CAP == 0):
                self._served = count

    def _done(self, count: int) -> bool:
        if count == 0 or count < self._served:
            return True
        return self._total is not None and self.records_read >= self._total

    def _finish(self) -> None:
        self.finished = True
        if self.problem is None and self._total is not None and self.records_read != self._total:
            self.problem = f"read {self.records_read} records but the server reported {self._total}"
