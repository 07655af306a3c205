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
