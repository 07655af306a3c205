"""The store's tables (SQLAlchemy Core), portable between SQLite and PostgreSQL.

Times are ISO-8601 UTC text of one fixed width (see `_time.iso`), so text order is time order on
every backend. Ids are text. JSON columns are text holding a JSON object.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
)

SCHEMA_VERSION = 5

metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

# Clustered on (pair, webcrm_id) in SQLite (WITHOUT ROWID): a pair's links are read in one
# sequential range scan, which is what `links_frame` does with a million rows.
links = Table(
    "links",
    metadata,
    Column("pair", Text, nullable=False),
    Column("webcrm_id", Text, nullable=False),
    Column("crmoffice_entity", Text, nullable=False),
    Column("crmoffice_id", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("shadow", Text, nullable=False),
    Column("synced_at", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("created_run_id", Text, nullable=False),
    PrimaryKeyConstraint("pair", "webcrm_id", name="links_pair_webcrm"),
    # A CRMOffice record belongs to one link across every pair sharing its entity.
    UniqueConstraint("crmoffice_entity", "crmoffice_id", name="links_crmoffice_record"),
    CheckConstraint("status IN ('active', 'orphaned')", name="links_status"),
    sqlite_with_rowid=False,
)

HISTORY_KINDS = (
    "create",
    "update",
    "shadow_move",
    "conflict",
    "match",
    "adopt",
    "skip",
    "orphan",
    "failure",
)
history = Table(
    "history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("pair", Text, nullable=False),
    Column("webcrm_id", Text, nullable=True),
    Column("crmoffice_id", Text, nullable=True),
    Column("run_id", Text, nullable=False),
    Column("at", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("direction", Text, nullable=True),
    Column("detail", Text, nullable=False),
    CheckConstraint(f"kind IN {HISTORY_KINDS!r}", name="history_kind"),
    Index("history_webcrm", "pair", "webcrm_id"),
    Index("history_crmoffice", "crmoffice_id"),
    sqlite_autoincrement=True,
)

cursors = Table(
    "cursors",
    metadata,
    Column("system", Text, nullable=False),
    Column("entity", Text, nullable=False),
    Column("value", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
    PrimaryKeyConstraint("system", "entity", name="cursors_key"),
)

# `row_key` is the record id, or a digest of the payload when the record has no id, so two
# id-less bad rows stay two quarantine entries.
quarantine = Table(
    "quarantine",
    metadata,
    Column("pair", Text, nullable=False),
    Column("side", Text, nullable=False),
    Column("row_key", Text, nullable=False),
    Column("record_id", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("first_seen", Text, nullable=False),
    Column("last_seen", Text, nullable=False),
    Column("run_id", Text, nullable=False),
    Column("status", Text, nullable=False),
    PrimaryKeyConstraint("pair", "side", "row_key", name="quarantine_key"),
    CheckConstraint("status IN ('open', 'resolved')", name="quarantine_status"),
)

INTENT_STATUSES = ("open", "applied", "not_applied", "held")
intents = Table(
    "intents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("pair", Text, nullable=False),
    Column("direction", Text, nullable=False),
    Column("source_id", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("run_id", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("target_id", Text, nullable=True),
    Column("closed_at", Text, nullable=True),
    CheckConstraint(f"status IN {INTENT_STATUSES!r}", name="intents_status"),
    Index("intents_open", "pair", "status"),
    # Intent ids are never reused, even after an import that replaced the store.
    sqlite_autoincrement=True,
)

failures = Table(
    "failures",
    metadata,
    Column("pair", Text, nullable=False),
    Column("direction", Text, nullable=False),
    Column("record_id", Text, nullable=False),
    Column("error", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("first_at", Text, nullable=False),
    Column("last_at", Text, nullable=False),
    Column("status", Text, nullable=False),
    PrimaryKeyConstraint("pair", "direction", "record_id", name="failures_key"),
    CheckConstraint("status IN ('retrying', 'given_up')", name="failures_status"),
)

# Records held back for an operator (version 2). One row per record and pair; `payload` is the
# record's mapped values (JSON) when last seen, so a later plan weighs it as a match candidate
# without reading its system again. `status`: `open` (waiting), the operator's answer (`link`
# to `other_id`, `create`, `ignore`), or `done` (the record got linked).
HOLD_KINDS = ("ambiguous_match", "ambiguous_intent", "new_field", "missing_required")
HOLD_STATUSES = ("open", "link", "create", "ignore", "done")
holds = Table(
    "holds",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("pair", Text, nullable=False),
    Column("side", Text, nullable=False),
    Column("record_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("record_updated_at", Text, nullable=True),
    Column("since", Text, nullable=False),
    Column("last_seen", Text, nullable=False),
    Column("run_id", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("other_id", Text, nullable=True),
    Column("resolved_at", Text, nullable=True),
    UniqueConstraint("pair", "side", "record_id", name="holds_record"),
    CheckConstraint(f"kind IN {HOLD_KINDS!r}", name="holds_kind"),
    CheckConstraint(f"status IN {HOLD_STATUSES!r}", name="holds_status"),
    Index("holds_status", "pair", "status"),
    sqlite_autoincrement=True,
)

# One lease per pair (version 5), on the database's clock. The row outlives its holders: a
# release marks it `free`, so `token` (the fencing token, +1 at every acquisition) is never
# reused. `owner` names the holder (or the last one); `renewed_at` is its last heartbeat.
LOCK_STATUSES = ("held", "free")
locks = Table(
    "locks",
    metadata,
    Column("pair", Text, primary_key=True),
    Column("owner", Text, nullable=False),
    Column("token", Integer, nullable=False),
    Column("status", Text, nullable=False),
    Column("acquired_at", Text, nullable=False),
    Column("renewed_at", Text, nullable=False),
    Column("expires_at", Text, nullable=False),
    CheckConstraint(f"status IN {LOCK_STATUSES!r}", name="locks_status"),
)

# The shared request budgets (version 4; see `_budget`). One row per budget, locked while a
# process takes a slot, so slots are granted one at a time across every process and machine.
# `budget` is a non-secret key such as `webcrm:` + a digest of the token, never the token.
rate_budgets = Table(
    "rate_budgets",
    metadata,
    Column("budget", Text, primary_key=True),
    Column("created_at", Text, nullable=False),
)

# One row per request slot granted on the database's clock: `started_at` when granted, `ends_at`
# the lease end while the request is in flight, then its completion time. A slot counts against
# its budget until `ends_at` + window + margin.
rate_grants = Table(
    "rate_grants",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("budget", Text, nullable=False),
    Column("started_at", Text, nullable=False),
    Column("ends_at", Text, nullable=False),
    Index("rate_grants_budget_ends", "budget", "ends_at"),
)

# The tables `export_state` writes and `import_state` reads, in dependency order.
STATE_TABLES: tuple[Table, ...] = (
    links,
    history,
    cursors,
    intents,
    quarantine,
    failures,
    holds,
)

# WebCRM hook events as the receiver got them (version 3): an inbox the change sensor reads by
# `id` (its cursor). One row per change: the same event delivered twice is stored once.
hook_events = Table(
    "hook_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("system", Text, nullable=False),
    Column("entity", Text, nullable=False),
    Column("record_id", Text, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("event_time", Text, nullable=False),
    Column("received_at", Text, nullable=False),
    UniqueConstraint(
        "system", "entity", "record_id", "event_type", "event_time", name="hook_events_event"
    ),
    CheckConstraint("event_type IN ('Create', 'Update', 'Delete')", name="hook_events_type"),
    sqlite_autoincrement=True,
)
