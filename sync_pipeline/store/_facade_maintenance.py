"""`LinkStore`'s maintenance: integrity check and repair, export and import of the state."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sync_pipeline.store import _check, _lock, _transfer
from sync_pipeline.store._engine import read_transaction, write_transaction
from sync_pipeline.store._facade import FacadeBase
from sync_pipeline.store._time import utc_now


class MaintenanceFacade(FacadeBase):
    """Integrity (`_check`) and transfer (`_transfer`) of the whole store."""

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
