"""`LinkStore`: the durable state of the sync (links, shadows, history, cursors, intents...)."""

from __future__ import annotations

from sync_pipeline.store._engine import create_store_engine
from sync_pipeline.store._facade_hook_events import HookEventFacade
from sync_pipeline.store._facade_leases import LeaseFacade
from sync_pipeline.store._facade_links import LinkFacade
from sync_pipeline.store._facade_maintenance import MaintenanceFacade
from sync_pipeline.store._facade_problems import ProblemFacade
from sync_pipeline.store._facade_runs import RunFacade
from sync_pipeline.store._migrate import ensure_schema


class LinkStore(
    LinkFacade, RunFacade, ProblemFacade, HookEventFacade, LeaseFacade, MaintenanceFacade
):
    """The link store at a SQLAlchemy URL (SQLite file by default; see `default_state_url`).

    Every write method is one transaction. Ids are strings; times passed as `now` must be
    timezone-aware (omitted: the current UTC time). A write made under a pair lease passes its
    `fence=` (`PairLock.fence`): the transaction first checks the lease still carries that
    token and is unexpired, and raises LeaseLostError (writing nothing) if not.

    The methods live with their concern, one module each (`_facade_links`: links, shadows and
    lineage; `_facade_runs`: intents, cursors and a run's view of a pair; `_facade_problems`:
    quarantine, failures and holds; `_facade_hook_events`; `_facade_leases`;
    `_facade_maintenance`: check, repair, export and import), over the engine they share.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine = create_store_engine(url)
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
