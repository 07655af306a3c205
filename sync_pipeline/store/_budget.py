"""Shared request budgets: one sliding-window rate limit per API token across every run.

The per-process limiter (`clients.ratelimit.SlidingWindowLimiter`) is exact for one process; two
runs on one token each think they have the whole budget. Here the slots live in the store, on
the database's clock, so every process and machine sharing the store draws from one budget:

- a process takes a slot in one write transaction that locks the budget's row
  (`SELECT ... FOR UPDATE` on PostgreSQL, `BEGIN IMMEDIATE` on SQLite), so grants are
  serialised; the slot is stamped `started_at` = the database's `now` and, while the request
  is in flight, `ends_at` = now + `lease_seconds` (a crashed process's slot expires by itself;
  the lease must outlast the time from a slot to its request's arrival: the client's pool,
  connect and write timeouts, 65 s by default, against 300 s);
- when the request ends (answer or failure), `ends_at` becomes the database's `now`: the latest
  instant the API can have counted the request;
- a slot counts until `ends_at` + window + margin, so at most `limit` requests can arrive at the
  API in any window, whatever the latency (the same argument as the per-process limiter).

Two round trips per request (take, release) of a few statements each; at API rates (WebCRM: 250
a minute) that is well under a millisecond of database work per request. Only durations (how
long to wait) are measured on the local clock. Budgets are keyed by `budget_key`, never by the
secret itself.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import (
    Connection,
    Engine,
    delete,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.elements import ColumnElement

from sync_pipeline.store._engine import create_store_engine
from sync_pipeline.store._migrate import ensure_schema
from sync_pipeline.store._rows import insert_skipping_conflicts
from sync_pipeline.store._schema import rate_budgets, rate_grants
from sync_pipeline.store._time import iso, parse_iso, utc_now

Sleep = Callable[[float], None]
_log = logging.getLogger(__name__)

DEFAULT_LEASE_SECONDS = 300.0
_WRITE = "sync_pipeline_write"  # as `_engine.write_transaction`: SQLite's BEGIN IMMEDIATE

# The database's current time as `_time.iso` text (fixed width, UTC), per dialect. PostgreSQL's
# clock_timestamp() is the time of the call, not of the transaction's start (now()).
_NOW_SQL = {
    "postgresql": (
        "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"
    ),
    "sqlite": "strftime('%Y-%m-%dT%H:%M:%f000+00:00', 'now')",
}


def budget_key(system: str, secret: str) -> str:
    """The non-secret key of `secret`'s budget: `system:` + 16 hex digits of its SHA-256.

    E.g. `budget_key("webcrm", token)` -> `"webcrm:3f2a..."`. The digest identifies the token
    without revealing it; 64 bits keep two tokens of one deployment apart.
    """
    return f"{system}:{hashlib.sha256(secret.encode()).hexdigest()[:16]}"


def _db_now(connection: Connection) -> ColumnElement[str]:
    sql = _NOW_SQL.get(connection.dialect.name)
    # Another backend: the local clock, as a literal (only SQLite and PostgreSQL are tested).
    return literal_column(sql) if sql is not None else literal_column(f"'{iso(utc_now())}'")


@contextmanager
def _serialised(engine: Engine) -> Iterator[Connection]:
    """A write transaction whose row locks wait (READ COMMITTED on PostgreSQL, so a row lock
    taken after a concurrent update reads the new row instead of failing)."""
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execution_options(isolation_level="READ COMMITTED")
        connection.execution_options(**{_WRITE: True})
        with connection.begin():
            yield connection


class SharedLimiter:
    """At most `limit` requests per `window_seconds` for one budget key, across processes.

    Satisfies `clients.RateLimiter`: `acquire()` blocks until a slot is granted, `release()`
    ends one of this limiter's in-flight slots, `slot()` does both around a block. `limit`
    None admits everything without touching the database. A database error while taking a
    slot propagates (`sqlalchemy.exc.SQLAlchemyError`: no request is sent); see `release`.
    """

    def __init__(
        self,
        engine: Engine,
        key: str,
        limit: int | None,
        *,
        window_seconds: float = 60.0,
        margin_seconds: float = 0.1,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        sleep: Sleep = time.sleep,
    ) -> None:
        if limit is not None and limit < 1:
            raise ValueError(f"rate limit must be a positive number of requests, got {limit}")
        self.key = key
        self._limit = limit
        self.window_seconds = window_seconds
        self.margin_seconds = margin_seconds
        self.lease_seconds = lease_seconds
        self._engine = engine
        self._sleep = sleep
        self._in_flight: deque[int] = deque()  # ids of this limiter's granted, unended slots
        self._guard = threading.Lock()

    @property
    def limit(self) -> int | None:
        """Requests per window (None: unpaced)."""
        return self._limit

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one request slot for the duration of the block (acquire, then release)."""
        self.acquire()
        try:
            yield
        finally:
            self.release()

    def acquire(self) -> None:
        """Block until the budget has a free slot, then take it."""
        if self._limit is None:
            return
        while True:
            granted, wait = self._try_take(self._limit)
            if granted is not None:
                with self._guard:
                    self._in_flight.append(granted)
                return
            self._sleep(wait)

    def release(self) -> None:
        """End one in-flight slot now (on the database's clock): it counts one window more.

        Never raises for the database: the request has been made and its answer must reach the
        caller; a slot whose end cannot be written counts until its lease ends (safe, slower).
        """
        if self._limit is None:
            return
        with self._guard:
            granted = self._in_flight.popleft()
        try:
            with _serialised(self._engine) as connection:
                connection.execute(
                    update(rate_grants)
                    .where(rate_grants.c.id == granted)
                    .values(ends_at=_db_now(connection))
                )
        except SQLAlchemyError as error:
            _log.warning(
                "rate budget %s: could not end slot %d (%s); it counts until its lease ends",
                self.key,
                granted,
                type(error).__name__,
            )

    def _try_take(self, limit: int) -> tuple[int | None, float]:
        """(the new slot's id, 0) or (None, seconds until a slot can be free)."""
        span = timedelta(seconds=self.window_seconds + self.margin_seconds)
        with _serialised(self._engine) as connection:
            self._lock_budget(connection)
            now = parse_iso(connection.execute(select(_db_now(connection))).scalar_one())
            horizon = now - span
            connection.execute(
                delete(rate_grants).where(
                    rate_grants.c.budget == self.key, rate_grants.c.ends_at <= iso(horizon)
                )
            )
            mine = rate_grants.c.budget == self.key
            used = connection.execute(select(func.count()).where(mine)).scalar_one()
            if used < limit:
                lease_end = now + timedelta(seconds=self.lease_seconds)
                values = {"budget": self.key, "started_at": iso(now), "ends_at": iso(lease_end)}
                made = insert(rate_grants).values(**values).returning(rate_grants.c.id)
                return int(connection.execute(made).scalar_one()), 0.0
            # The (used - limit + 1)-th slot to end must leave the window first.
            first_out = connection.execute(
                select(rate_grants.c.ends_at)
                .where(mine)
                .order_by(rate_grants.c.ends_at)
                .offset(used - limit)
                .limit(1)
            ).scalar_one()
        # It leaves at its end + window + margin; an in-flight one (end = its lease) leaves no
        # sooner than one span from now.
        frees_at = parse_iso(first_out) + span
        wait = min((frees_at - now).total_seconds(), span.total_seconds())
        # At least a millisecond: rounding must not leave a zero-length busy wait.
        return None, max(wait, 0.001)

    def _lock_budget(self, connection: Connection) -> None:
        """Lock the budget's row until the transaction ends (creating the row if new)."""
        locked = select(rate_budgets.c.budget).where(rate_budgets.c.budget == self.key)
        if connection.execute(locked.with_for_update()).first() is not None:
            return
        values = {"budget": self.key, "created_at": iso(utc_now())}
        connection.execute(insert_skipping_conflicts(connection, rate_budgets).values(**values))
        connection.execute(locked.with_for_update()).one()


class RateBudget:
    """The shared request budgets kept in the store at `url` (its own connection pool, so a
    slot is never queued behind the run's store reads; creates or migrates the schema)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine = create_store_engine(url)
        try:
            ensure_schema(self._engine, url)
        except BaseException:
            self._engine.dispose()
            raise

    def limiter(
        self,
        key: str,
        limit: int | None,
        *,
        window_seconds: float = 60.0,
        margin_seconds: float = 0.1,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        sleep: Sleep = time.sleep,
    ) -> SharedLimiter:
        """A limiter drawing on budget `key` (see `budget_key`): `limit` requests per window."""
        return SharedLimiter(
            self._engine,
            key,
            limit,
            window_seconds=window_seconds,
            margin_seconds=margin_seconds,
            lease_seconds=lease_seconds,
            sleep=sleep,
        )

    def now(self) -> datetime:
        """The database's current time (aware, UTC): the clock the budgets run on."""
        with self._engine.connect() as connection:
            return parse_iso(connection.execute(select(_db_now(connection))).scalar_one())

    def close(self) -> None:
        """Release every connection."""
        self._engine.dispose()

    def __enter__(self) -> RateBudget:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
