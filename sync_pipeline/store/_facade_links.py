"""`LinkStore`'s links: the link and shadow writes of a run, the link reads, and lineage."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd

from sync_pipeline.store import _history, _links, _reads, _shadows
from sync_pipeline.store._engine import read_transaction
from sync_pipeline.store._facade import FacadeBase
from sync_pipeline.store._lock import Fence
from sync_pipeline.store._reads import LinkIds
from sync_pipeline.store._time import utc_now
from sync_pipeline.store._types import LinkOutcome, LinkWrite, ShadowWrite


class LinkFacade(FacadeBase):
    """Links and shadows of a pair (`_links`, `_shadows`, `_reads`) and their history."""

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

    # lineage -----------------------------------------------------------------------------

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
