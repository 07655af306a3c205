"""One writer per pair: a lease row per pair on the DATABASE's clock, with a fencing token.

Acquiring, renewing and expiring compare against the database's time (PostgreSQL
`clock_timestamp()`; SQLite is a file on this host, so this host's clock is its clock), never
the caller's: a client whose clock is ahead cannot take over a live lease. Each acquisition
(a free or expired lease, or the first) adds 1 to the pair's `token`; the row is kept on
release (`status = 'free'`), so a token is never handed out twice. Every write made under a
lease checks, in its own transaction, that the pair's row still carries the holder's token
and is unexpired (`check_fence`): a holder whose lease was taken over writes nothing more.
See M. Kleppmann, "How to do distributed locking" (2016), on fencing tokens.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from sync_pipeline.store._engine import write_transaction
from sync_pipeline.store._errors import LeaseLostError, PairLockedError
from sync_pipeline.store._schema import locks
from sync_pipeline.store._time import iso, parse_iso


@dataclass(frozen=True)
class Fence:
    """A holder's claim on a pair: the lease's fencing `token` and who holds it.

    `lost` is set once the holder knows the lease is gone (a failed renewal or heartbeat);
    every later fenced write then raises `LeaseLostError` without asking the database.
    """

    pair: str
    token: int
    owner: str
    lost: threading.Event = field(default_factory=threading.Event, compare=False, repr=False)


def db_now(connection: Connection) -> datetime:
    """The database's current time (aware UTC): PostgreSQL's `clock_timestamp()` (the time of
    the call, not of the transaction's start); for SQLite, a file on this host, this host's."""
    if connection.dialect.name == "postgresql":
        moment = connection.execute(select(func.clock_timestamp())).scalar_one()
        assert isinstance(moment, datetime)
        return moment.astimezone(UTC)
    return datetime.now(UTC)


def _lease_values(owner: str, now: datetime, ttl_seconds: float) -> dict[str, str]:
    return {
        "owner": owner,
        "status": "held",
        "acquired_at": iso(now),
        "renewed_at": iso(now),
        "expires_at": iso(now + timedelta(seconds=ttl_seconds)),
    }


def _try_acquire(
    connection: Connection, pair: str, owner: str, ttl_seconds: float, now: datetime | None
) -> int | tuple[str, int, str, str] | None:
    """Our new token, else the holder's (owner, token, acquired_at, expires_at); None if the
    row vanished between our insert and our look (an operator deleted it): try again."""
    at = now or db_now(connection)
    values = _lease_values(owner, at, ttl_seconds)
    try:
        with connection.begin_nested():
            connection.execute(insert(locks).values(pair=pair, token=1, **values))
        return 1
    except IntegrityError:
        pass
    takeover = (
        update(locks)
        .where(locks.c.pair == pair, or_(locks.c.status == "free", locks.c.expires_at < iso(at)))
        .values(token=locks.c.token + 1, **values)
        .returning(locks.c.token)
    )
    token = connection.execute(takeover).scalar_one_or_none()
    if token is not None:
        return int(token)
    query = select(locks.c.owner, locks.c.token, locks.c.acquired_at, locks.c.expires_at)
    holder = connection.execute(query.where(locks.c.pair == pair)).one_or_none()
    return None if holder is None else (holder[0], int(holder[1]), holder[2], holder[3])


def acquire(
    engine: Engine, pair: str, owner: str, ttl_seconds: float, now: datetime | None = None
) -> Fence:
    """Take the pair's lease (new, free, or expired on the database's clock) with the next
    token; raises PairLockedError naming the live holder. `now` overrides the database's
    clock (deterministic tests only)."""
    for _attempt in range(3):
        with write_transaction(engine) as connection:
            outcome = _try_acquire(connection, pair, owner, ttl_seconds, now)
        if isinstance(outcome, int):
            return Fence(pair, outcome, owner)
        if outcome is not None:
            holder, token, since, expires = outcome
            raise PairLockedError(pair, holder, parse_iso(since), parse_iso(expires), token)
    moment = now or datetime.now(UTC)
    raise PairLockedError(pair, "unknown", moment, moment)


def renew(engine: Engine, fence: Fence, ttl_seconds: float, now: datetime | None = None) -> bool:
    """Push the lease's expiry `ttl_seconds` past the database's now, if it still carries
    `fence.token` and has not expired; False (and `fence.lost` set) otherwise."""
    with write_transaction(engine) as connection:
        at = now or db_now(connection)
        statement = (
            update(locks)
            .where(
                locks.c.pair == fence.pair,
                locks.c.token == fence.token,
                locks.c.status == "held",
                locks.c.expires_at > iso(at),
            )
            .values(renewed_at=iso(at), expires_at=iso(at + timedelta(seconds=ttl_seconds)))
        )
        renewed = connection.execute(statement).rowcount == 1
    if not renewed:
        fence.lost.set()
    return renewed


def check_fence(connection: Connection, fence: Fence) -> None:
    """In the caller's write transaction, before its writes: raise LeaseLostError unless the
    pair's lease still carries `fence.token`, is held and is unexpired on the database's clock.

    The lease row is locked (`FOR UPDATE` on PostgreSQL; SQLite writers are serialised) until
    the transaction ends, so no takeover can slip in between this check and the commit.
    """
    if fence.lost.is_set():
        raise LeaseLostError(fence.pair, fence.token, "its renewal failed")
    query = select(locks.c.owner, locks.c.token, locks.c.status, locks.c.expires_at)
    row = connection.execute(query.where(locks.c.pair == fence.pair).with_for_update()).first()
    if row is None or int(row.token) != fence.token or row.status != "held":
        fence.lost.set()
        what = "no lease row" if row is None else f"token {row.token} is {row.status}"
        held_by = "" if row is None or row.status != "held" else f" by {row.owner}"
        raise LeaseLostError(fence.pair, fence.token, f"{what}{held_by}")
    now = db_now(connection)
    if row.expires_at <= iso(now):
        fence.lost.set()
        raise LeaseLostError(fence.pair, fence.token, f"it expired at {row.expires_at}")


def release(engine: Engine, pair: str, owner: str, token: int | None = None) -> None:
    """Mark the pair's lease free if `owner` (with `token`, when given) still holds it; the
    row and its token stay, so the next acquisition gets a new token."""
    with write_transaction(engine) as connection:
        at = db_now(connection)
        statement = update(locks).where(
            locks.c.pair == pair, locks.c.owner == owner, locks.c.status == "held"
        )
        if token is not None:
            statement = statement.where(locks.c.token == token)
        connection.execute(statement.values(status="free", expires_at=iso(at)))


def held_locks(connection: Connection) -> list[tuple[str, str, int, datetime, datetime]]:
    """Every held lease: (pair, owner, token, acquired_at, expires_at), by pair."""
    query = select(
        locks.c.pair, locks.c.owner, locks.c.token, locks.c.acquired_at, locks.c.expires_at
    ).where(locks.c.status == "held")
    return [
        (pair, owner, int(token), parse_iso(since), parse_iso(expires))
        for pair, owner, token, since, expires in connection.execute(query.order_by(locks.c.pair))
    ]
