"""Where a part keeps its link store (a SQLite file, or its own PostgreSQL server) and how a
sync process is made to look like another host (`unshare --uts`, `faketime`)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sync_pipeline.local_postgres import temporary_server
from sync_pipeline.store import LinkStore, PairLockedError
from sync_pipeline.store._engine import create_store_engine, write_transaction
from sync_pipeline.store._lock import held_locks

BACKENDS = ("sqlite", "postgresql")
CLOCK_SKEW = "+6m"  # the host 6 minutes ahead
PAST = "2000-01-01T00:00:00.000000+00:00"


@contextmanager
def state_url(backend: str, folder: Path) -> Iterator[str]:
    """The link store's URL for a part under `folder`: the SQLite file in its Dagster home, or
    a database on a PostgreSQL server of its own (stopped at the end)."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'dagster_home' / 'sync_state.sqlite'}"
        return
    with temporary_server() as server:
        url = server.create_database("sync_state")
        LinkStore(url).close()  # created once, before racing processes open it
        yield url


def other_host(hostname: str) -> tuple[list[str], str]:
    """A command prefix running a process as on another host: its own hostname (`unshare
    --uts`, needs root) and a clock `CLOCK_SKEW` ahead (`faketime`); and what it does."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return [], "same host (unshare needs root)"
    fake = f"faketime -f {CLOCK_SKEW} " if shutil.which("faketime") else ""
    what = f"hostname {hostname}" + (f", clock {CLOCK_SKEW}" if fake else ", no faketime")
    script = f'hostname {hostname}; exec {fake}"$@"'
    return ["unshare", "--uts", "sh", "-c", script, "sh"], what


def expire_locks(url: str) -> int:
    """What an operator must do after a SIGKILL otherwise: wait out (here: expire) the leases."""
    engine = create_store_engine(url)
    try:
        with write_transaction(engine) as connection:
            return int(
                connection.exec_driver_sql(f"UPDATE locks SET expires_at = '{PAST}'").rowcount
            )
    finally:
        engine.dispose()


def blocked_seconds(url: str, timeout: float = 120.0) -> float | None:
    """How long the pairs locked now stay blocked for a run of another host (which cannot
    prove the holder dead): seconds until each could be taken; None if no lock is held."""
    with LinkStore(url) as store:
        # why the private engine: the harness looks at the lease rows as the database has them
        with store._engine.connect() as connection:
            pairs = [pair for pair, *_rest in held_locks(connection)]
        if not pairs:
            return None
        started = time.monotonic()
        for pair in pairs:
            while time.monotonic() - started < timeout:
                try:
                    with store.pair_lock(pair, "reliability-probe (another host)"):
                        break
                except PairLockedError:
                    time.sleep(0.2)
        return time.monotonic() - started
