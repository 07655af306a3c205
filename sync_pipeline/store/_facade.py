"""What the parts of the `LinkStore` façade share: the store's engine and its fenced writes.

`LinkStore` combines one part per concern (`_facade_links`, `_facade_runs`,
`_facade_problems`, `_facade_hook_events`, `_facade_leases`, `_facade_maintenance`). Each
method of a part is one transaction: one `read_transaction` (a consistent snapshot) or one
`_writing` (a write transaction, its fence checked inside it before any write).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine

from sync_pipeline.store import _lock
from sync_pipeline.store._engine import write_transaction
from sync_pipeline.store._lock import Fence


class FacadeBase:
    """A part of `LinkStore`: methods over `_engine` (set by `LinkStore.__init__`)."""

    _engine: Engine

    @contextmanager
    def _writing(self, fence: Fence | None) -> Iterator[Connection]:
        """One write transaction, fenced by `fence` when given (see `_lock.check_fence`)."""
        with write_transaction(self._engine) as connection:
            if fence is not None:
                _lock.check_fence(connection, fence)
            yield connection
