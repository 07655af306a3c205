"""Exceptions raised by the link store.

StoreError
 ├── SchemaVersionError   the store was written by a newer sync_pipeline
 ├── PairLockedError      another run holds the pair's lock
 ├── LeaseLostError       this run's pair lock was taken over or expired: it must stop writing
 ├── StateImportError     an export file is unreadable or the target store is not empty
 └── HoldError            no such hold, or its resolution would break a rule
"""

from __future__ import annotations

from datetime import datetime


class StoreError(Exception):
    """Base class of every link store error."""


class SchemaVersionError(StoreError):
    """The store's schema version is newer than this code understands."""


class StateImportError(StoreError):
    """An export file cannot be imported into this store."""


class HoldError(StoreError):
    """A hold that does not exist or is settled, or a resolution that would break a rule."""


class PairLockedError(StoreError):
    """Another run holds the pair's lock."""

    def __init__(
        self, pair: str, owner: str, since: datetime, expires_at: datetime, token: int = 0
    ) -> None:
        self.pair = pair
        self.owner = owner
        self.since = since
        self.expires_at = expires_at
        self.token = token
        super().__init__(
            f"pair {pair} is being synced by run {owner} since {since.isoformat()}; wait for it "
            f"to finish, or for its lock to expire at {expires_at.isoformat()}"
        )


class LeaseLostError(StoreError):
    """The holder's lease on a pair is gone (taken over, expired or released): nothing more
    may be written under it. `token` is the holder's fencing token."""

    def __init__(self, pair: str, token: int, why: str) -> None:
        self.pair = pair
        self.token = token
        super().__init__(
            f"pair {pair}: this run lost its lock (token {token}: {why}) and stopped before its "
            "next write; run the sync again once the other run is done"
        )
