"""One run of one pair (`PairRun`): the basis it planned from, the lock its writes hold, the
stale-plan check, and where its cursors go afterwards.

A plan is computed from the store as it was; applied later, or by another run, it could create
the same records twice or overwrite newer edits. So a plan is applied only by the run that made
it, and only while no other run has written to the pair since its basis (the pair's newest
history entry and intent, read before the snapshots). Every write step holds the pair lock: a
lease on the store database's clock, renewed by a heartbeat every `HEARTBEAT` seconds, so a
holder that crashed on any host frees the pair within `LOCK_TTL` seconds. Each write carries the
lease's fencing token and stops with `LeaseLostError` once another run took the pair over. A
lock left by a killed process is taken over at once only when its owner provably ran on this
kernel (same boot id) in this pid namespace and its pid is gone; never by hostname alone, which
containers share.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sync_pipeline.store import Fence, LinkStore, PairBasis, PairLock, PairLockedError

Log = Callable[[str], None]
LOCK_TTL = 45.0
ONE_SECOND = timedelta(seconds=1)
_OWNER = re.compile(r"\(pid (\d+) on (.+), boot (\S+), pidns (\S+), instance \w+\)$")
# One per process: two processes that happen to share run id, host and pid stay apart.
_INSTANCE = secrets.token_hex(4)


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
    def writing(
        self, store: LinkStore, run_id: str, *, ttl_seconds: float = LOCK_TTL
    ) -> Iterator[PairLock]:
        """Hold the pair lock (heartbeat every `ttl_seconds / 3`), then check the plan is
        still this run's to apply; every write of the block passes the lock's `fence`.

        Raises `PairLockedError` if another live run holds the pair and `StalePlanError` if the
        plan is not `run_id`'s or another run wrote to the pair since the basis.
        """
        with hold_pair(store, self.pair, run_id, ttl_seconds) as lock:
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
        self,
        store: LinkStore,
        holds: Mapping[str, datetime | None],
        log: Log,
        fence: Fence | None = None,
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
            store.set_cursors(self.pair, values, fence=fence)


def _identity_file(path: str) -> str:
    """This kernel's boot id (`/proc/sys/kernel/random/boot_id`), or "unknown"."""
    try:
        return Path(path).read_text().strip() or "unknown"
    except OSError:
        return "unknown"


def _pid_namespace() -> str:
    """The inode of this process's pid namespace (`/proc/self/ns/pid`), or "unknown"."""
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return "unknown"


def lock_owner(run_id: str, pid: int | None = None) -> str:
    """Who holds a pair lock: the run, the process (pid, host, kernel boot, pid namespace)
    and a per-process random instance id."""
    boot = _identity_file("/proc/sys/kernel/random/boot_id")
    where = f"pid {pid or os.getpid()} on {socket.gethostname()}"
    return f"{run_id} ({where}, boot {boot}, pidns {_pid_namespace()}, instance {_INSTANCE})"


def _dead(owner: str) -> bool:
    """True only when `owner` provably was a process of this kernel boot, in this pid
    namespace, whose pid no longer exists (killed mid-run). A hostname alone proves nothing:
    containers with one hostname see different processes."""
    found = _OWNER.search(owner)
    if found is None or "unknown" in (found.group(3), found.group(4)):
        return False
    boot = _identity_file("/proc/sys/kernel/random/boot_id")
    if (found.group(3), found.group(4)) != (boot, _pid_namespace()):
        return False
    try:
        os.kill(int(found.group(1)), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@contextmanager
def hold_pair(
    store: LinkStore, pair: str, run_id: str, ttl_seconds: float = LOCK_TTL
) -> Iterator[PairLock]:
    """The pair's lock for one write step, renewed every `ttl_seconds / 3` by its heartbeat;
    a lock left by a killed process of this kernel and pid namespace is taken over at once
    instead of blocking the pair until it expires. Raises PairLockedError if a live run (or
    one not provably dead) holds it."""
    owner = lock_owner(run_id)
    beat = ttl_seconds / 3
    with ExitStack() as stack:
        try:
            lock = stack.enter_context(
                store.pair_lock(pair, owner, ttl_seconds=ttl_seconds, heartbeat_seconds=beat)
            )
        except PairLockedError as error:
            if not _dead(error.owner):
                raise
            store.release_lock(pair, error.owner)
            lock = stack.enter_context(
                store.pair_lock(pair, owner, ttl_seconds=ttl_seconds, heartbeat_seconds=beat)
            )
        yield lock
