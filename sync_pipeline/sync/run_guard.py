"""One run of one pair (`PairRun`): the basis it planned from, the lock its writes hold, the
stale-plan check, and where its cursors go afterwards.

A plan is computed from the store as it was; applied later, or by another run, it could create
the same records twice or overwrite newer edits. So a plan is applied only by the run that made
it, and only while no other run has written to the pair since its basis (the pair's newest
history entry and intent, read before the snapshots). Every write step holds the pair lock,
kept alive while it writes; a lock left by a killed process of this host is taken over at once,
any other expires after `LOCK_TTL` seconds.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sync_pipeline.store import LinkStore, PairBasis, PairLock, PairLockedError

Log = Callable[[str], None]
LOCK_TTL = 300.0
ONE_SECOND = timedelta(seconds=1)
_OWNER = re.compile(r"\(pid (\d+) on (.+)\)$")


class StalePlanError(RuntimeError):
    """The plan was made by another run, or another run wrote to the pair since it was made."""


def cursor_name(side: str, entity: str) -> str:
    """A pair's cursor on one side: `<side>/<entity>` (a shared entity has one per pair)."""
    return f"{side}/{entity}"


@dataclass(frozen=True)
class PairRun:
    """One run of one pair, made once by its plan step and carried to every sink step.

    `basis`: the pair's store state before the snapshots were read; `cursors`: per
    `<side>/<entity>`, the high-water mark to move to once every write step is done (window
    runs move none).
    """

    pair: str
    run_id: str
    basis: PairBasis
    cursors: Mapping[str, datetime]

    @contextmanager
    def writing(self, store: LinkStore, run_id: str) -> Iterator[PairLock]:
        """Hold the pair lock, then check the plan is still this run's to apply.

        Raises `PairLockedError` if another live run holds the pair and `StalePlanError` if the
        plan is not `run_id`'s or another run wrote to the pair since the basis.
        """
        with _pair_lock(store, self.pair, run_id) as lock:
            self._check(store, run_id)
            yield lock

    def _check(self, store: LinkStore, run_id: str) -> None:
        if self.run_id != run_id:
            raise StalePlanError(
                f"{self.pair}: this plan was made by run {self.run_id[:8]}; a plan is applied "
                "only by the run that made it. Nothing was applied: start a new sync"
            )
        foreign = store.writes_since(self.pair, self.basis, run_id)
        if foreign:
            raise StalePlanError(
                f"{self.pair}: another run wrote to this pair after this plan was made "
                f"({foreign} writes since {self.basis.describe()}). Nothing was applied: "
                "run the sync again"
            )

    def move_cursors(
        self, store: LinkStore, holds: Mapping[str, datetime | None], log: Log
    ) -> None:
        """Each side's cursor goes to its snapshot's high-water mark, or to just before the
        oldest record whose write failed (`holds`, per side), so that record is read again."""
        values = {}
        for name, high_water in self.cursors.items():
            hold = holds.get(name.split("/", 1)[0])
            values[name] = high_water if hold is None else min(high_water, hold - ONE_SECOND)
            if hold is not None:
                log(
                    f"{self.pair}: {name} cursor held at {values[name].isoformat()}: failed records"
                )
        if values:
            store.set_cursors(self.pair, values)


def lock_owner(run_id: str) -> str:
    """Who holds a pair lock: the run, and the process and host doing the writing."""
    return f"{run_id} (pid {os.getpid()} on {socket.gethostname()})"


def _dead(owner: str) -> bool:
    """True when `owner` is a process of this host that no longer exists (killed mid-run)."""
    found = _OWNER.search(owner)
    if found is None or found.group(2) != socket.gethostname():
        return False
    try:
        os.kill(int(found.group(1)), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@contextmanager
def _pair_lock(store: LinkStore, pair: str, run_id: str) -> Iterator[PairLock]:
    """The pair's lock for one step; a lock left by a killed process of this host is taken
    over at once instead of blocking the pair until it expires."""
    owner = lock_owner(run_id)
    with ExitStack() as stack:
        try:
            lock = stack.enter_context(store.pair_lock(pair, owner, ttl_seconds=LOCK_TTL))
        except PairLockedError as error:
            if not _dead(error.owner):
                raise
            store.release_lock(pair, error.owner)
            lock = stack.enter_context(store.pair_lock(pair, owner, ttl_seconds=LOCK_TTL))
        yield lock
