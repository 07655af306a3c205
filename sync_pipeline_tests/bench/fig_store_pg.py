"""Figure `links_frame_1m_pg_over_sqlite`: the links frame of N links (1M by default) loaded
from PostgreSQL, over the same load from SQLite (target <= 1.5).

A SQLite store and a fresh database of a PostgreSQL server this figure starts itself (Debian's
package, `sync_pipeline.local_postgres`) are seeded alike through `add_links` (four shadow
fields, three of them set). Each load is timed best of three, in this process, warm.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sync_pipeline.local_postgres import temporary_server
from sync_pipeline.store import LinkStore
from sync_pipeline_tests.bench.config import BenchConfig
from sync_pipeline_tests.bench.harness import Figures
from sync_pipeline_tests.store.bench_store import FIELDS, PAIR, seed

FIGURES = ("links_frame_1m_pg_over_sqlite", "links_frame_1m_sqlite_s", "links_frame_1m_pg_s")
_REPEATS = 3


def _best_load(store: LinkStore, count: int) -> float:
    def load() -> None:
        assert len(store.links_frame(PAIR, FIELDS)) == count

    return min(_timed(load) for _ in range(_REPEATS))


def _timed(action: Callable[[], None]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def measure_store_pg(config: BenchConfig) -> Figures:
    """Seed both stores, time both loads; seconds and their ratio."""
    folder = Path(tempfile.mkdtemp(prefix="bench-store-"))
    try:
        with LinkStore(f"sqlite:///{folder / 'bench.sqlite'}") as lite:
            seed(lite, config.pg_links)
            sqlite_s = _best_load(lite, config.pg_links)
        with temporary_server() as server, LinkStore(server.create_database("bench")) as pg:
            seed(pg, config.pg_links)
            pg_s = _best_load(pg, config.pg_links)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "links_frame_1m_pg_over_sqlite": pg_s / sqlite_s,
        "links_frame_1m_sqlite_s": sqlite_s,
        "links_frame_1m_pg_s": pg_s,
    }
