"""One writer per pair: a lease row per pair, taken atomically, released on exit, expiring."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from sync_pipeline.store._engine import write_transaction
from sync_pipeline.store._errors import PairLockedError
from sync_pipeline.store._schema import locks
from sync_pipeline.store._time import iso, parse_iso, utc_now


class PairLock:
    """A held pair lock; `refresh` extends it for long runs."""

    def __init__(self, engine: Engine, pair: str, owner: str, ttl_seconds: float) -> None:
        self._engine = engine
        self.pair = pair
        self.owner = owner
        self.ttl_seconds = ttl_seconds

    def refresh(self, *, now: datetime | None = None) -> bool:
        """Push the expiry `ttl_seconds` past `now`; False if the lock is no longer ours."""
        expires = utc_now(now) + timedelta(seconds=self.ttl_seconds)
        with write_transaction(self._engine) as connection:
            statement = (
                update(locks)
                .where(locks.c.pair == self.pair, locks.c.owner == self.owner)
                .values(expires_at=iso(expires))
            )
            return bool(connection.execute(statement).rowcount)


def _try_acquire(
    connection: Connection, pair: str, values: dict[str, str]
) -> tuple[str, str, str] | bool:
    """True if the lock is now ours, else its holder's row (False if it just vanished)."""
    try:
        with connection.begin_nested():
            connection.execute(insert(locks).values(pair=pair, **values))
        return True
    except IntegrityError:
        pass
    takeover = (
        update(locks)
        .where(locks.c.pair == pair, locks.c.expires_at < values["acquired_at"])
        .values(**values)
    )
    if connection.execute(takeover).rowcount == 1:
        return True
    query = select(locks.c.owner, locks.c.acquired_at, locks.c.expires_at)
    holder = connection.execute(query.where(locks.c.pair == pair)).one_or_none()
    return False if holder is None else (holder[0], holder[1], holder[2])


def acquire(engine: Engine, pair: str, owner: str, ttl_seconds: float, now: datetime) -> None:
    """Take the pair's lock: insert it, or take over an expired one; else PairLockedError."""
    values = {
        "owner": owner,
        "acquired_at": iso(now),
        "expires_at": iso(now + timedelta(seconds=ttl_seconds)),
    }
    # A holder may release between our insert and our look at it (not on SQLite, whose
    # writers are serialised): then simply try again.
    for _attempt in range(3):
        with write_transaction(engine) as connection:
            outcome = _try_acquire(connection, pair, values)
        if outcome is True:
            return
        if not isinstance(outcome, bool):
            owner_, since, expires = outcome
            raise PairLockedError(pair, owner_, parse_iso(since), parse_iso(expires))
    raise PairLockedError(pair, "unknown", now, now)


def release(engine: Engine, pair: str, owner: str) -> None:
    """Drop the pair's lock if `owner` still holds it."""
    with write_transaction(engine) as connection:
        connection.execute(delete(locks).where(locks.c.pair == pair, locks.c.owner == owner))


@contextmanager
def pair_lock(
    engine: Engine, pair: str, owner: str, ttl_seconds: float, now: datetime | None
) -> Iterator[PairLock]:
    """Hold the pair's lock for the block."""
    acquire(engine, pair, owner, ttl_seconds, utc_now(now))
    try:
        yield PairLock(engine, pair, owner, ttl_seconds)
    finally:
        release(engine, pair, owner)
