"""Store figures for `make bench`: `python -m sync_pipeline_tests.store.bench_store [N]`.

Prints `name: value` lines: seeding N links (add_links in 50k batches), loading the links
frame of N links with four shadow fields, and one update_shadows call of 10,000 rows.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from sync_pipeline.store import LinkStore, LinkWrite, ShadowWrite

PAIR = "persons_contacts"
FIELDS = ["givenName", "familyName", "mobilePhone", "directPhone"]
BATCH = 50_000


def seed(store: LinkStore, count: int) -> float:
    """Add `count` links with three shadow fields to PAIR, in batches; the seconds it took."""
    started = time.perf_counter()
    for start in range(0, count, BATCH):
        rows = [
            LinkWrite(
                str(i),
                f"c{i:08d}",
                {"givenName": f"Ærlig {i}", "familyName": "Østergård", "mobilePhone": "+45 1"},
                "match",
            )
            for i in range(start, min(count, start + BATCH))
        ]
        store.add_links(PAIR, "contacts", rows, "bench-seed")
    return time.perf_counter() - started


def _best_of(repeats: int, action: object) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        # why the ignore below: the timed actions are zero-argument callables held as object
        action()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return min(times)


def main(count: int = 1_000_000) -> None:
    """Seed a store in a temporary directory and print the figures."""
    with (
        tempfile.TemporaryDirectory() as folder,
        LinkStore(f"sqlite:///{Path(folder) / 'bench.sqlite'}") as store,
    ):
        print(f"store_seed_{count}_links_s: {seed(store, count):.2f}")
        frame_s = _best_of(3, lambda: store.links_frame(PAIR, FIELDS))
        print(f"store_links_frame_{count}_s: {frame_s:.2f}")
        rows = [
            ShadowWrite(str(i), {"givenName": f"Ny {i}"}, "update", "to_crmoffice")
            for i in range(min(count, 10_000))
        ]
        shadows_s = _best_of(3, lambda: store.update_shadows(PAIR, rows, "bench-update"))
        print(f"store_update_shadows_{len(rows)}_s: {shadows_s:.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
