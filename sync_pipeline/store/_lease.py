"""A held pair lease (`PairLock`) and its heartbeat: a background thread renewing it every
`heartbeat_seconds`, so a holder that dies stops renewing and the pair is free after one TTL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Engine

from sync_pipeline.store import _lock
from sync_pipeline.store._errors import LeaseLostError
from sync_pipeline.store._lock import Fence


class PairLock:
    """A held pair lease: `fence` goes with every write made under it (`fence=` of the
    `LinkStore` write methods); `refresh`/`ensure` renew it by hand, the heartbeat by itself.
    """

    def __init__(self, engine: Engine, fence: Fence, ttl_seconds: float) -> None:
        self._engine = engine
        self.fence = fence
        self.ttl_seconds = ttl_seconds

    @property
    def pair(self) -> str:
        """The pair this lease is on."""
        return self.fence.pair

    @property
    def owner(self) -> str:
        """Who holds it (as given to `pair_lock`)."""
        return self.fence.owner

    @property
    def token(self) -> int:
        """The fencing token: +1 at every acquisition of the pair, never reused."""
        return self.fence.token

    @property
    def lost(self) -> bool:
        """True once a renewal found the lease gone (or a heartbeat failed)."""
        return self.fence.lost.is_set()

    def refresh(self, *, now: datetime | None = None) -> bool:
        """Push the expiry `ttl_seconds` past the database's now (or `now`, for tests); False
        if the lease is no longer ours, which also marks it lost."""
        if self.lost:
            return False
        return _lock.renew(self._engine, self.fence, self.ttl_seconds, now)

    def ensure(self) -> None:
        """Renew the lease before a remote write batch; raises LeaseLostError if it is gone."""
        if not self.refresh():
            raise LeaseLostError(self.pair, self.token, "taken over or expired before a write")


class _Heartbeat:
    """Renews `lock` every `every` seconds until stopped. A renewal that finds the lease gone
    marks it lost and ends the heartbeat; one that fails (the database busy or unreachable) is
    retried at the next beat, until the lease would have run out since the last success: then
    it too is lost. (The holder's writes check the lease in the database anyway.)"""

    def __init__(self, lock: PairLock, every: float) -> None:
        self._lock = lock
        self._every = every
        self._stop = threading.Event()
        name = f"lease-heartbeat-{lock.pair}-{lock.token}"
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        renewed = time.monotonic()
        while not self._stop.wait(self._every):
            try:
                if not self._lock.refresh():
                    return
                renewed = time.monotonic()
            except Exception:  # a failed renewal: the lease holds only until it runs out
                if time.monotonic() - renewed >= self._lock.ttl_seconds:
                    self._lock.fence.lost.set()
                    return

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


@contextmanager
def pair_lock(
    engine: Engine,
    pair: str,
    owner: str,
    ttl_seconds: float,
    now: datetime | None,
    heartbeat_seconds: float | None,
) -> Iterator[PairLock]:
    """Hold the pair's lease for the block (renewed every `heartbeat_seconds` if given), then
    mark it free if it is still ours. Raises PairLockedError if another live holder has it."""
    lock = PairLock(engine, _lock.acquire(engine, pair, owner, ttl_seconds, now), ttl_seconds)
    try:
        if heartbeat_seconds is None:
            yield lock
        else:
            with _Heartbeat(lock, heartbeat_seconds):
                yield lock
    finally:
        _lock.release(engine, pair, owner, lock.token)
