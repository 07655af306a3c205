"""The lease across real processes: a SIGKILLed holder, writers under other hostnames
(`unshare --uts`), with a clock 6 minutes ahead (`faketime`), in another pid namespace
(`unshare --pid`), all against one store (SQLite file or a real PostgreSQL server)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from sync_pipeline.store import LinkStore, PairLockedError
from sync_pipeline.store._engine import read_transaction
from sync_pipeline.store._schema import intents, locks
from sync_pipeline.store._time import parse_iso

PAIR = "persons_contacts"
TTL = 3.0
ROOT = Path(__file__).resolve().parents[2]
WORKER = [sys.executable, "-m", "sync_pipeline_tests.store.lease_worker"]
needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None, reason="unshare needs root"
)
needs_faketime = pytest.mark.skipif(
    shutil.which("faketime") is None, reason="faketime missing: `make postgres` installs it"
)


class Worker:
    """One `lease_worker` process and the lines it printed so far."""

    def __init__(self, prefix: list[str], url: str, name: str, seconds: float) -> None:
        args = [*WORKER, url, name, str(seconds), str(TTL)]
        self.process = subprocess.Popen(
            [*prefix, *args], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.strip())

    def wait_for(self, prefix: str, timeout: float = 60) -> str:
        """The first line starting with `prefix`, waiting for it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in self.lines if line.startswith(prefix)]
            if found:
                return found[0]
            if self.process.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"no {prefix!r} line; printed {self.lines}")

    def finish(self) -> None:
        """Wait for the process to end (killed after 60 s)."""
        try:
            self.process.wait(60)
        finally:
            if self.process.poll() is None:
                self.process.kill()
        self._reader.join(10)


def in_namespace(hostname: str, *, skew: str | None = None, pid_ns: int = 0) -> list[str]:
    """A command prefix: a new UTS namespace named `hostname`, a clock `skew` ahead
    (faketime), or a new pid namespace in which the writer gets pid `pid_ns`."""
    prefix = ["unshare", "--uts"] + (["--pid", "--fork"] if pid_ns else [])
    # Pids in a new namespace count up from 1 (sh), 2 (hostname); each `/bin/true` takes the
    # next one, and the writer (not exec'd then) the one after.
    forks = "/bin/true; " * (pid_ns - 3) if pid_ns else "exec "
    fake = f"faketime -f {skew} " if skew else ""
    script = f'hostname {hostname}; {forks}{fake}"$@"'
    return [*prefix, "sh", "-c", script, "sh"]


@pytest.fixture
def lease_url(store_url: str) -> str:
    """A new store on each backend, created before the workers start."""
    LinkStore(store_url).close()
    return store_url


@pytest.fixture
def pg_store_url(pg_url: str) -> str:
    """A new PostgreSQL store, created before the workers start."""
    LinkStore(pg_url).close()
    return pg_url


def _lock_row(store: LinkStore) -> tuple[int, str, datetime, datetime]:
    """(token, owner, acquired_at, expires_at) of the pair's lease row."""
    # why the private engine: the test reads the lease row as the database holds it
    with read_transaction(store._engine) as connection:
        query = select(locks.c.token, locks.c.owner, locks.c.acquired_at, locks.c.expires_at)
        token, owner, since, expires = connection.execute(query.where(locks.c.pair == PAIR)).one()
    return int(token), owner, parse_iso(since), parse_iso(expires)


def _writers_in_order(store: LinkStore) -> list[tuple[str, int]]:
    """(writer name, token) of every fenced write, in the order the database took them."""
    with read_transaction(store._engine) as connection:
        run_ids = connection.execute(select(intents.c.run_id).order_by(intents.c.id)).scalars()
        return [(run_id.split(":")[0], int(run_id.split(":")[1])) for run_id in run_ids]


def double_writes(order: list[tuple[str, int]]) -> int:
    """Writes made under a token older than one already seen, or by a second writer of one
    token: what two writers of one pair at once would leave."""
    newest, owners, bad = 0, dict[int, str](), 0
    for name, token in order:
        bad += token < newest or owners.setdefault(token, name) != name
        newest = max(newest, token)
    return bad


def test_a_killed_holder_frees_the_pair_within_the_ttl(lease_url: str) -> None:
    """A holder SIGKILLed mid-write stops renewing; another host (no pid to look at) gets the
    pair once the lease runs out on the database's clock, within the TTL."""
    holder = Worker([], lease_url, "doomed", 60)
    holder.wait_for("acquired 1")
    holder.process.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    holder.finish()
    with LinkStore(lease_url) as store:
        while True:
            try:
                with store.pair_lock(PAIR, "other-host-run") as lock:
                    assert lock.token == 2
                    break
            except PairLockedError:
                assert time.monotonic() - killed < TTL + 2, "the pair stayed blocked"
                time.sleep(0.1)
        assert double_writes(_writers_in_order(store)) == 0


@needs_root
@needs_faketime
def test_other_host_with_a_fast_clock_takes_over_only_after_the_lease(pg_store_url: str) -> None:
    """Writers `alpha` and `beta` (other hostnames; beta's clock 6 minutes ahead): beta does
    not take alpha's live lease; once alpha stalls (SIGSTOP) past its lease beta takes over,
    and alpha, resumed, stops at its next write: one writer at a time, no write twice."""
    alpha = Worker(in_namespace("alpha"), pg_store_url, "alpha", 25)
    alpha.wait_for("acquired 1")
    beta = Worker(in_namespace("beta", skew="+6m"), pg_store_url, "beta", 25)
    beta.wait_for("ready")
    beta.wait_for("locked")
    with LinkStore(pg_store_url) as store:
        time.sleep(2 * TTL)  # two leases' worth of heartbeats: beta must still be locked out
        assert _lock_row(store)[0] == 1 and "acquired" not in " ".join(beta.lines)
        alpha.process.send_signal(signal.SIGSTOP)
        time.sleep(0.5)  # a renewal in flight lands
        _, owner, _, alpha_expires = _lock_row(store)
        assert owner.startswith("alpha (") and "on alpha," in owner
        beta.wait_for("acquired 2", timeout=TTL + 10)
        token, owner, beta_since, _ = _lock_row(store)
        assert token == 2 and "on beta," in owner and beta_since >= alpha_expires
        alpha.process.send_signal(signal.SIGCONT)
        alpha.wait_for("lost 1", timeout=20)
        alpha.finish()
        beta.finish()
        order = _writers_in_order(store)
    assert double_writes(order) == 0
    assert {name for name, token in order if token == 2} == {"beta"}
    assert any(name == "alpha" for name, _ in order)
    assert "locked" in alpha.lines  # after losing, alpha found beta's live lease


@needs_root
def test_same_hostname_in_another_pid_namespace_is_not_taken_over(lease_url: str) -> None:
    """A container-like writer with the same hostname but its own pid namespace holds the
    pair; a writer of this host whose kernel would see no such pid must not take it over."""
    pid_ns = next(p for p in range(40, 400) if not Path(f"/proc/{p}").exists())
    inside = Worker(in_namespace("shared", pid_ns=pid_ns), lease_url, "inside", 12)
    inside.wait_for("acquired 1")
    outside = Worker(in_namespace("shared"), lease_url, "outside", 4)
    outside.wait_for("locked")
    outside.finish()
    inside.finish()
    assert f"(pid {pid_ns} on shared," in inside.wait_for("ready")
    assert not any(line.startswith("acquired") for line in outside.lines)
    with LinkStore(lease_url) as store:
        assert double_writes(_writers_in_order(store)) == 0
