"""The link store: links and shadows, history, cursors, quarantine, intents, failures, holds,
locks.

SQLAlchemy Core over SQLite (WAL) by default; any SQLAlchemy URL (e.g. `postgresql://`) later.
"""

from __future__ import annotations

from sync_pipeline.store._check import IntegrityReport
from sync_pipeline.store._engine import default_state_url
from sync_pipeline.store._errors import (
    HoldError,
    PairLockedError,
    SchemaVersionError,
    StateImportError,
    StoreError,
)
from sync_pipeline.store._holds import HoldWrite
from sync_pipeline.store._lock import PairLock
from sync_pipeline.store._pair_state import PairBasis, PairState, PlanInputs
from sync_pipeline.store._reads import LinkIds
from sync_pipeline.store._schema import SCHEMA_VERSION
from sync_pipeline.store._types import LinkOutcome, LinkWrite, ShadowWrite
from sync_pipeline.store.link_store import LinkStore

__all__ = [
    "SCHEMA_VERSION",
    "HoldError",
    "HoldWrite",
    "IntegrityReport",
    "LinkIds",
    "LinkOutcome",
    "LinkStore",
    "LinkWrite",
    "PairBasis",
    "PairLock",
    "PairLockedError",
    "PairState",
    "PlanInputs",
    "SchemaVersionError",
    "ShadowWrite",
    "StateImportError",
    "StoreError",
    "default_state_url",
]
