"""`LinkStore`'s pair leases: holding one for a block, freeing a dead holder's."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime

from sync_pipeline.store import _lease, _lock
from sync_pipeline.store._facade import FacadeBase


class LeaseFacade(FacadeBase):
    """Pair leases (`_lease`, `_lock`); each acquisition, renewal and release is its own write
    transaction, and the `fence` of a held lease goes with the writes made under it."""

    def release_lock(self, pair: str, owner: str) -> None:
        """Mark `owner`'s lease on `pair` free (for a holder known to be dead); its token stays
        spent."""
        _lock.release(self._engine, pair, owner)

    def pair_lock(
        self,
        pair: str,
        owner: str,
        *,
        ttl_seconds: float = 3600,
        now: datetime | None = None,
        heartbeat_seconds: float | None = None,
    ) -> AbstractContextManager[_lease.PairLock]:
        """Hold the pair's lease for a block, on the database's clock (`now` overrides it, for
        tests), renewed every `heartbeat_seconds` by a background thread if given; the lock's
        `fence` goes with each write made under it. Raises PairLockedError if another live
        holder has it."""
        return _lease.pair_lock(self._engine, pair, owner, ttl_seconds, now, heartbeat_seconds)
