"""`LinkStore`'s problems: quarantined records, failed writes, and holds for the operator."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import pandas as pd

from sync_pipeline.store import _holds, _problems
from sync_pipeline.store._engine import read_transaction, write_transaction
from sync_pipeline.store._facade import FacadeBase
from sync_pipeline.store._lock import Fence
from sync_pipeline.store._time import utc_now


def _triples(rows: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(record_id, reason, payload) of each quarantined row, as text ("" for a missing value)."""
    values = rows[["record_id", "reason", "payload"]].fillna("").astype(str)
    return list(values.itertuples(index=False, name=None))


class ProblemFacade(FacadeBase):
    """Quarantine and failures (`_problems`) and holds (`_holds`)."""

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
        triples = _triples(rows)
        with self._writing(fence) as connection:
            return _problems.quarantine_rows(connection, pair, side, triples, run_id, utc_now(now))

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
                triples = _triples(rows)
                at = utc_now(now)
                _problems.quarantine_rows(connection, pair, side, triples, run_id, at)
                _problems.resolve_quarantine(connection, pair, side, valid_ids)

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
