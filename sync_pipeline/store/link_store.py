"""`LinkStore`: the durable state of the sync (links, shadows, history, cursors, intents...)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, Engine

from sync_pipeline.core.hook_payload import HookEvent
from sync_pipeline.store import (
    _check,
    _history,
    _holds,
    _hook_events,
    _intents,
    _lease,
    _links,
    _lock,
    _pair_state,
    _problems,
    _reads,
    _shadows,
    _transfer,
)
from sync_pipeline.store._engine import create_store_engine, read_transaction, write_transaction
from sync_pipeline.store._hook_events import ReceivedEvent
from sync_pipeline.store._lock import Fence
from sync_pipeline.store._migrate import ensure_schema
from sync_pipeline.store._pair_state import PairBasis, PairState, PlanInputs
from sync_pipeline.store._reads import LinkIds
from sync_pipeline.store._time import utc_now
from sync_pipeline.store._types import LinkOutcome, LinkWrite, ShadowWrite


class LinkStore:
    """The link store at a SQLAlchemy URL (SQLite file by default; see `default_state_url`).

    Every write method is one transaction. Ids are strings; times passed as `now` must be
    timezone-aware (omitted: the current UTC time). A write made under a pair lease passes its
    `fence=` (`PairLock.fence`): the transaction first checks the lease still carries that
    token and is unexpired, and raises LeaseLostError (writing nothing) if not.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine = create_store_engine(url)
        try:
            self.schema_version = ensure_schema(self._engine, url)
        except BaseException:
            self._engine.dispose()
            raise

    def close(self) -> None:
        """Release every connection."""
        self._engine.dispose()

    def __enter__(self) -> LinkStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def _writing(self, fence: Fence | None) -> Iterator[Connection]:
        """One write transaction, fenced by `fence` when given (see `_lock.check_fence`)."""
        with write_transaction(self._engine) as connection:
            if fence is not None:
                _lock.check_fence(connection, fence)
            yield connection

    # links -------------------------------------------------------------------------------

    def links_frame(
        self,
        pair: str,
        fields: Sequence[str],
        *,
        status: str | None = "active",
        ids: LinkIds | None = None,
    ) -> pd.DataFrame:
        """`webcrm_id, crmoffice_id, status, synced_at, *fields`: the shadow values; NA where
        the shadow does not hold the field (added to the map since), "" for an agreed empty.
        `ids` = (WebCRM ids, CRMOffice ids): only the links holding one of them."""
        with read_transaction(self._engine) as connection:
            return _reads.links_frame(connection, pair, fields, status, ids)

    def linked_ids(self, crmoffice_entity: str, *, exclude_pair: str | None = None) -> set[str]:
        """CRMOffice ids of the entity linked by any pair other than `exclude_pair`."""
        with read_transaction(self._engine) as connection:
            return _reads.linked_crmoffice_ids(connection, crmoffice_entity, exclude_pair)

    def linked_elsewhere(self, crmoffice_entity: str, pair: str, ids: Sequence[str]) -> set[str]:
        """Which of `ids` (CRMOffice ids of the entity) a pair other than `pair` links."""
        with read_transaction(self._engine) as connection:
            return _reads.linked_elsewhere_among(connection, crmoffice_entity, pair, ids)

    def linked_webcrm_ids(self, pair: str, status: str | None = None) -> set[str]:
        """WebCRM ids linked in `pair` (of any status unless given)."""
        with read_transaction(self._engine) as connection:
            return _reads.linked_webcrm_ids(connection, pair, status)

    def count_links(self, pair: str, status: str | None = "active") -> int:
        """How many links `pair` has (of `status`; None counts all)."""
        with read_transaction(self._engine) as connection:
            return _reads.count_links(connection, pair, status)

    def add_links(
        self,
        pair: str,
        crmoffice_entity: str,
        rows: Sequence[LinkWrite],
        run_id: str,
        *,
        now: datetime | None = None,
        fence: Fence | None = None,
    ) -> list[LinkOutcome]:
        """Insert links + history and close their intents; per-row outcomes, one transaction.

        A row that would link an already-linked record is refused ("already linked: ...",
        history `skip`, its intent `held`) without losing the others.
        """
        with self._writing(fence) as connection:
            return _links.add_links(connection, pair, crmoffice_entity, rows, run_id, utc_now(now))

    def update_shadows(
        self,
        pair: str,
        rows: Sequence[ShadowWrite],
        run_id: str,
        *,
        now: datetime | None = None,
        fence: Fence | None = None,
    ) -> list[str]:
        """Merge values into shadows, write history, clear settled failures; unknown ids back."""
        with self._writing(fence) as connection:
            return _shadows.update_shadows(connection, pair, rows, run_id, utc_now(now))

    def mark_orphaned(
        self,
        pair: str,
        rows: Sequence[tuple[str, str, str]],
        run_id: str,
        *,
        now: datetime | None = None,
        fence: Fence | None = None,
    ) -> int:
        """Mark (webcrm_id, crmoffice_id, missing_side) links orphaned; how many changed."""
        with self._writing(fence) as connection:
            return _shadows.mark_orphaned(connection, pair, rows, run_id, utc_now(now))

    def reactivate_links(
        self,
        pair: str,
        webcrm_ids: Sequence[str],
        run_id: str,
        *,
        now: datetime | None = None,
        fence: Fence | None = None,
    ) -> int:
        """Orphaned links of `webcrm_ids` (both records seen again) active again; how many."""
        with self._writing(fence) as connection:
            return _shadows.reactivate(connection, pair, webcrm_ids, run_id, utc_now(now))

    # intents and cursors -----------------------------------------------------------------

    def open_intents_for(
        self,
        pair: str,
        direction: str,
        items: Sequence[tuple[str, Mapping[str, str]]],
        run_id: str,
        *,
        now: datetime | None = None,
        fence: Fence | None = None,
    ) -> list[int]:
        """Record create intents (source id, payload) before the creates; their ids."""
        with self._writing(fence) as connection:
            return _intents.open_intents_for(
                connection, pair, direction, items, run_id, utc_now(now)
            )

    def open_intents(self, pair: str, fields: Sequence[str]) -> pd.DataFrame:
        """`intent_id (Int64), direction, source_id, created_at, *fields` of open intents."""
        with read_transaction(self._engine) as connection:
            return _intents.open_intents(connection, pair, fields)

    def close_intents(
        self,
        ids: Sequence[int],
        status: str,
        *,
        target_ids: Sequence[str | None] | None = None,
        now: datetime | None = None,
        fence: Fence | None = None,
    ) -> int:
        """Close open intents as applied / not_applied / held; how many were open."""
        with self._writing(fence) as connection:
            return _intents.close_intents(connection, ids, status, target_ids, utc_now(now))

    def get_cursor(self, system: str, entity: str) -> datetime | None:
        """The extraction cursor of a system entity (aware UTC), or None."""
        with read_transaction(self._engine) as connection:
            return _intents.get_cursor(connection, system, entity)

    def set_cursor(
        self,
        system: str,
        entity: str,
        value: datetime,
        *,
        now: datetime | None = None,
        fence: Fence | None = None,
    ) -> None:
        """Store the extraction cursor of a system entity."""
        with self._writing(fence) as connection:
            _intents.set_cursor(connection, system, entity, value, utc_now(now))

    def set_cursors(
        self,
        pair: str,
        values: Mapping[str, datetime],
        *,
        now: datetime | None = None,
        fence: Fence | None = None,
    ) -> None:
        """Store several of a pair's cursors (`<side>/<entity>` -> value) in one transaction."""
        with self._writing(fence) as connection:
            for name, value in values.items():
                _intents.set_cursor(connection, pair, name, value, utc_now(now))

    # one run of one pair -----------------------------------------------------------------

    def pair_state(self, pair: str, cursor_names: Sequence[str]) -> PairState:
        """Basis, cursors and active link count of `pair`, read before a run's snapshots."""
        with read_transaction(self._engine) as connection:
            return _pair_state.pair_state(connection, pair, cursor_names)

    def writes_since(self, pair: str, basis: PairBasis, run_id: str) -> int:
        """How many history entries and intents runs other than `run_id` added after `basis`."""
        with read_transaction(self._engine) as connection:
            return _pair_state.writes_since(connection, pair, basis, run_id)

    def plan_inputs(
        self,
        pair: str,
        fields: Sequence[str],
        crmoffice_entity: str,
        sharing: Mapping[str, Sequence[str]],
        ids: LinkIds | None = None,
        *,
        scope: LinkIds | None = None,
    ) -> PlanInputs:
        """Links, intents, given-up failures and other pairs' claims, as one snapshot; with
        `ids` (WebCRM ids, CRMOffice ids), only the links holding one of them; with `scope`,
        only the links a plan of a partial read can touch (`_pair_state.plan_inputs`)."""
        with read_transaction(self._engine) as connection:
            return _pair_state.plan_inputs(
                connection, pair, fields, crmoffice_entity, sharing, ids, scope=scope
            )

    def settle_quarantine(
        self,
        pair: str,
        sides: Mapping[str, tuple[pd.DataFrame, Sequence[str]]],
        run_id: str,
        *,
        now: datetime | None = None,
        fence: Fence | None = None,
    ) -> None:
        """Per side (quarantined rows, ids read valid): open the new entries, resolve the
        entries of records now valid; one transaction."""
        with self._writing(fence) as connection:
            for side, (rows, valid_ids) in sides.items():
                values = rows[["record_id", "reason", "payload"]].fillna("").astype(str)
                triples = list(values.itertuples(index=False, name=None))
                at = utc_now(now)
                _problems.quarantine_rows(connection, pair, side, triples, run_id, at)
                _problems.resolve_quarantine(connection, pair, side, valid_ids)

    # quarantine and failures -------------------------------------------------------------

    def quarantine_rows(
        self,
        pair: str,
        side: str,
        rows: pd.DataFrame,
        run_id: str,
        *,
        now: datetime | None = None,
        fence: Fence | None = None,
    ) -> int:
        """Upsert rows (`record_id, reason, payload`) as open quarantine entries; how many."""
        values = rows[["record_id", "reason", "payload"]].fillna("").astype(str)
        triples = list(values.itertuples(index=False, name=None))
        with self._writing(fence) as connection:
            return _problems.quarantine_rows(connection, pair, side, triples, run_id, utc_now(now))

    def resolve_quarantine(
        self, pair: str, side: str, record_ids: Sequence[str], *, fence: Fence | None = None
    ) -> int:
        """Mark these records' open quarantine entries resolved; how many."""
        with self._writing(fence) as connection:
            return _problems.resolve_quarantine(connection, pair, side, record_ids)

    def quarantine_frame(
        self, pair: str | None = None, status: str | None = "open"
    ) -> pd.DataFrame:
        """Quarantine entries: pair, side, record_id, reason, payload, first/last_seen, ..."""
        with read_transaction(self._engine) as connection:
            return _problems.quarantine_frame(connection, pair, status)

    def record_failures(
        self,
        pair: str,
        direction: str,
        rows: Sequence[tuple[str, str]],
        run_id: str,
        *,
        max_attempts: int = 5,
        now: datetime | None = None,
        fence: Fence | None = None,
    ) -> list[str]:
        """Count a failed write per (source record id, error); ids given up (and quarantined)."""
        with self._writing(fence) as connection:
            return _problems.record_failures(
                connection, pair, direction, rows, run_id, max_attempts, utc_now(now)
            )

    def failures_frame(
        self, pair: str | None = None, status: str | None = "retrying"
    ) -> pd.DataFrame:
        """Failures: pair, direction, record_id, error, attempts (Int64), first/last_at, status."""
        with read_transaction(self._engine) as connection:
            return _problems.failures_frame(connection, pair, status)

    def clear_failures(
        self, pair: str, direction: str, record_ids: Sequence[str], *, fence: Fence | None = None
    ) -> int:
        """Forget these records' failures in `direction`; how many."""
        with self._writing(fence) as connection:
            return _problems.clear_failures(connection, pair, direction, record_ids)

    # holds -------------------------------------------------------------------------------

    def save_holds(
        self,
        pair: str,
        rows: Sequence[_holds.HoldWrite],
        settled: Sequence[tuple[str, str]],
        run_id: str,
        *,
        now: datetime | None = None,
        fence: Fence | None = None,
    ) -> None:
        """Open or refresh the holds of `rows`; mark the holds of `settled` (side, id) records,
        linked now, `done`; one transaction."""
        with self._writing(fence) as connection:
            _holds.save_holds(connection, pair, rows, settled, run_id, utc_now(now))

    def holds_frame(
        self, pair: str | None = None, statuses: Sequence[str] | None = ("open",)
    ) -> pd.DataFrame:
        """Holds: id (Int64), pair, side, record_id, kind, reason, payload (JSON), times, status,
        other_id; oldest first."""
        with read_transaction(self._engine) as connection:
            return _holds.holds_frame(connection, pair, statuses)

    def resolve_hold(
        self,
        hold_id: int,
        resolution: str,
        *,
        other_id: str | None = None,
        crmoffice_entity: Mapping[str, str],
        now: datetime | None = None,
    ) -> dict[str, object]:
        """The operator's answer to an open hold (`link` to `other_id`, `create`, `ignore`),
        acted on by the pair's next run; raises HoldError (unknown, settled, breaks a rule)."""
        with write_transaction(self._engine) as connection:
            return _holds.resolve_hold(
                connection, hold_id, resolution, other_id, crmoffice_entity, utc_now(now)
            )

    # hook events -------------------------------------------------------------------------

    def add_hook_events(
        self, system: str, events: Sequence[HookEvent], *, now: datetime | None = None
    ) -> int:
        """Store received hook events durably (one transaction); return how many were new:
        an event already stored (same entity, id, type and time) is skipped."""
        with write_transaction(self._engine) as connection:
            return _hook_events.add_events(connection, system, events, utc_now(now))

    def events_after(self, cursor: int = 0, limit: int = 100) -> tuple[list[ReceivedEvent], int]:
        """Up to `limit` hook events stored after `cursor` (0: the first), oldest first, and
        the cursor to pass next time (`cursor` itself when there are none)."""
        with read_transaction(self._engine) as connection:
            events = _hook_events.events_after(connection, cursor, limit)
        return events, events[-1].id if events else cursor

    def last_hook_event_id(self) -> int:
        """The cursor past every hook event stored so far (0 when there are none)."""
        with read_transaction(self._engine) as connection:
            return _hook_events.last_id(connection)

    # lineage and lock --------------------------------------------------------------------

    def find_links(self, record_id: str) -> list[dict[str, object]]:
        """Links with `record_id` on either side (any pair), each with its `history` list."""
        with read_transaction(self._engine) as connection:
            return _history.find_links(connection, record_id)

    def history_frame(
        self,
        pair: str | None = None,
        webcrm_id: str | None = None,
        crmoffice_id: str | None = None,
        limit: int | None = 1000,
    ) -> pd.DataFrame:
        """History rows (newest first): id, pair, ids, run_id, at, kind, direction, detail."""
        with read_transaction(self._engine) as connection:
            return _history.history_frame(connection, pair, webcrm_id, crmoffice_id, limit)

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

    # integrity and transfer --------------------------------------------------------------

    def check(
        self,
        *,
        remote_ids: _check.RemoteIds | None = None,
        pairs: _check.PairEntities | None = None,
        stale_after: timedelta = timedelta(minutes=30),
        now: datetime | None = None,
    ) -> _check.IntegrityReport:
        """Verify the store and say what a repair would do (nothing is changed).

        `remote_ids` are id sets of FULL reads keyed (system, entity); `pairs` maps each pair
        to its (webcrm entity, crmoffice entity) so links and intents can be matched to them.
        """
        with read_transaction(self._engine) as connection:
            at = utc_now(now) if now is not None else _lock.db_now(connection)
            return _check.check(connection, remote_ids or {}, pairs or {}, stale_after, at)

    def repair(self, report: _check.IntegrityReport, *, now: datetime | None = None) -> list[str]:
        """Apply the safe repairs `report` lists (stale intents, expired locks); what was done."""
        with write_transaction(self._engine) as connection:
            at = utc_now(now) if now is not None else _lock.db_now(connection)
            return _check.repair(connection, report, at)

    def export_state(self, path: Path, *, now: datetime | None = None) -> dict[str, int]:
        """Write links, history, cursors, intents, quarantine, failures to one JSON-lines file."""
        return _transfer.export_state(self._engine, Path(path), utc_now(now))

    def import_state(self, path: Path, *, replace: bool = False) -> dict[str, int]:
        """Load an `export_state` file (all or nothing); rows per table.

        Raises StateImportError if the store already holds state (unless `replace`) or the
        file is not a complete export of this schema version.
        """
        return _transfer.import_state(self._engine, Path(path), replace)
