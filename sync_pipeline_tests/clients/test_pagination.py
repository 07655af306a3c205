"""The page paginator, driven by hand-built pages."""

from __future__ import annotations

import pytest

from sync_pipeline.clients import PagePaginator
from sync_pipeline.clients.pagination import PaginationLoopError


def _page(start: int, size: int) -> list[dict[str, int]]:
    return [{"id": i} for i in range(start, start + size)]


def test_starts_at_the_first_page() -> None:
    """A new paginator asks for page 1 and is not finished."""
    paginator = PagePaginator(3)
    assert (paginator.page, paginator.finished) == (1, False)


def test_short_page_finishes() -> None:
    """A page shorter than page_size is the last one."""
    paginator = PagePaginator(3)
    paginator.advance(_page(1, 3))
    assert (paginator.page, paginator.finished) == (2, False)
    paginator.advance(_page(4, 2))
    assert paginator.finished
    assert paginator.pages_read == 2


def test_full_last_page_needs_an_empty_page_without_a_total() -> None:
    """Without a total, a full page is followed by one more request; an empty page finishes."""
    paginator = PagePaginator(3)
    paginator.advance(_page(1, 3))
    assert not paginator.finished
    paginator.advance([])
    assert paginator.finished


def test_total_items_finishes_without_the_extra_request() -> None:
    """When the pages read cover total_items, the paginator finishes on a full page."""
    paginator = PagePaginator(3)
    paginator.advance(_page(1, 3), total_items=6)
    assert not paginator.finished
    paginator.advance(_page(4, 3), total_items=6)
    assert paginator.finished


def test_repeated_page_is_a_loop() -> None:
    """A server that ignores the page parameter is detected on the second identical page."""
    paginator = PagePaginator(3)
    paginator.advance(_page(1, 3))
    with pytest.raises(PaginationLoopError, match="page 2 repeats page 1"):
        paginator.advance(_page(1, 3))


def test_advancing_a_finished_paginator_is_a_bug() -> None:
    """Callers must stop when finished."""
    paginator = PagePaginator(3)
    paginator.advance([])
    with pytest.raises(RuntimeError):
        paginator.advance([])


def test_page_size_must_be_positive() -> None:
    """A zero page size is rejected."""
    with pytest.raises(ValueError, match="page_size"):
        PagePaginator(0)


def test_a_page_size_the_server_reports_below_the_asked_one_is_the_size() -> None:
    """Pages capped at 10 (reported) of 25: read on until the total is covered, complete."""
    paginator = PagePaginator(500)
    for start, size in ((1, 10), (11, 10)):
        paginator.advance(_page(start, size), total_items=25, served_size=10)
        assert not paginator.finished
    paginator.advance(_page(21, 5), total_items=25, served_size=10)
    assert (paginator.finished, paginator.complete, paginator.pages_read) == (True, True, 3)


def test_a_total_beyond_a_short_first_page_keeps_reading() -> None:
    """A short first page with a larger total (no page size reported) was capped, not last."""
    paginator = PagePaginator(500)
    paginator.advance(_page(1, 7), total_items=14)
    assert not paginator.finished
    paginator.advance(_page(8, 7), total_items=14)
    assert paginator.finished and paginator.complete


def test_a_round_short_first_page_without_a_total_probes_the_next_page() -> None:
    """Without a total, a short first page of a round length costs one probe: non-empty, and
    the server caps its pages at that length; empty, and the read is done."""
    capped = PagePaginator(1000)
    capped.advance(_page(1, 50))
    assert not capped.finished
    capped.advance(_page(51, 50))
    capped.advance(_page(101, 3))
    assert capped.finished and capped.records_read == 103
    small = PagePaginator(1000)
    small.advance(_page(1, 50))
    small.advance([])
    assert small.finished and small.pages_read == 2


def test_any_other_short_page_is_the_end() -> None:
    """A short first page of an odd length is the end: one request, the API's minimum."""
    paginator = PagePaginator(1000)
    paginator.advance(_page(1, 999))
    assert paginator.finished and paginator.complete


def test_a_total_that_changes_while_paging_makes_the_read_incomplete() -> None:
    """A record deleted between pages shifts the rest: the read may have missed one."""
    paginator = PagePaginator(10)
    paginator.advance(_page(1, 10), total_items=25)
    paginator.advance(_page(12, 10), total_items=24)
    paginator.advance(_page(22, 4), total_items=24)
    assert paginator.finished and not paginator.complete
    assert paginator.problem == "the total changed from 25 to 24 while paging"


def test_a_count_that_does_not_match_the_total_makes_the_read_incomplete() -> None:
    """Pages that end short of the reported total did not read everything."""
    paginator = PagePaginator(10)
    paginator.advance(_page(1, 10), total_items=25)
    paginator.advance(_page(11, 3), total_items=25)
    assert paginator.finished and not paginator.complete
    assert paginator.problem == "read 13 records but the server reported 25"
