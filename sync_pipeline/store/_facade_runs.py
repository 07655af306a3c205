"""`LinkStore`'s run state: create intents, extraction cursors, and one run's view of a pair."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import pandas as pd

from sync_pipeline.store import _intents, _pair_state
from sync_pipeline.store._engine import read_transaction
from sync_pipeline.store._facade import FacadeBase
from sync_pipeline.store._lock import Fence
from sync_pipeline.store._pair_state import PairBasis, PairState, PlanInputs
from sync_pipeline.store._reads import LinkIds
from sync_pipeline.store._time import utc_now


class RunFacade(FacadeBase):
    """Intents and cursors (`_intents`) and a run's snapshots of a pair (`_pair_state`)."""

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
