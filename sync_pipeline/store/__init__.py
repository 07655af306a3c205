"""The link store: links and shadows, history, cursors, quarantine, intents, failures, holds,
locks, received hook events, shared request budgets.

SQLAlchemy Core over SQLite (WAL) by default; any SQLAlchemy URL (e.g. `postgresql://`) later.
"""

from __future__ import annotations

from sync_pipeline.store._budget import RateBudget, SharedLimiter, budget_key
from sync_pipeline.store._check import IntegrityReport
from sync_pipeline.store._engine import default_state_url, redacted
from sync_pipeline.store._errors import (
    HoldError,
    LeaseLostError,
    PairLockedError,
    SchemaVersionError,
    StateImportError,
    StoreError,
)
from sync_pipeline.store._holds import HoldWrite
from sync_pipeline.store._hook_events import ReceivedEvent
from sync_pipeline.store._lease import PairLock
from sync_pipeline.store._lock import Fence
from sync_pipeline.store._migrate import migrate_store
from sync_pipeline.store._pair_state import PairBasis, PairState, PlanInputs
from sync_pipeline.store._reads import LinkIds
from sync_pipeline.store._schema import SCHEMA_VERSION
from sync_pipeline.store._types import LinkOutcome, LinkWrite, ShadowWrite
from sync_pipeline.store.link_store import LinkStore

__all__ = [
    "SCHEMA_VERSION",
    "Fence",
    "HoldError",
    "HoldWrite",
    "IntegrityReport",
    "LeaseLostError",
    "LinkIds",
    "LinkOutcome",
    "LinkStore",
    "LinkWrite",
    "PairBasis",
    "PairLock",
    "PairLockedError",
    "PairState",
    "PlanInputs",
    "RateBudget",
    "ReceivedEvent",
    "SchemaVersionError",
    "ShadowWrite",
    "SharedLimiter",
    "StateImportError",
    "StoreError",
    "budget_key",
    "default_state_url",
    "migrate_store",
    "redacted",
]
