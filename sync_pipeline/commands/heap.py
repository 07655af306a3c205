"""The `sync` process's heap and the garbage collector (https://docs.python.org/3/library/gc.html).

A `sync` process loads Dagster, pandas, SQLAlchemy and the definitions (several hundred thousand
objects, all alive until exit, next to no garbage) and then runs once. The collector's passes
over those objects find nothing and cost about 0.2 s while they load and about 0.35 s while
the run lasts. So the code loads with the collector off and is then frozen out of its passes
(`gc.freeze`); the run's own garbage is collected as usual. Used as:

    with unfrozen_after():
        with loaded_frozen():
            import ...  # the command and its definitions
        run ...

Stdlib only: the CLI imports it before anything heavy.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def loaded_frozen() -> Iterator[None]:
    """Run the block (imports) with the collector off, then freeze every object alive
    (`gc.freeze`: the permanent generation, never traversed) and switch the collector back on
    if it was. Leaves the heap frozen even when the block raises: pair it with
    `unfrozen_after`."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


@contextmanager
def unfrozen_after() -> Iterator[None]:
    """Hand every frozen object back to the collector (`gc.unfreeze`) when the block ends,
    raising or not, so nothing stays out of its passes after a run (tests run many in one
    process)."""
    try:
        yield
    finally:
        gc.unfreeze()
