"""What a run costs the link store: a no-op incremental run reads each pair's state once."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from sync_pipeline.store import LinkStore
from sync_pipeline_tests.pipeline.conftest import Pipeline
from sync_pipeline_tests.pipeline.helpers import PERSON

# Before the run guard (one PairRun per pair and run) a no-op incremental run over the three
# pairs made 103 LinkStore calls; it makes 32 now (per pair: its state once per entity read,
# its plan inputs once, and per sink step one lock and one basis check).
MAX_NOOP_STORE_CALLS = 40


def _counting(calls: Counter[str], name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[name] += 1
        return method(*args, **kwargs)

    return counted


def test_noop_incremental_run_makes_few_store_calls(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A no-op incremental run of every pair makes at most 40 LinkStore calls (was 103)."""
    for n in range(5):
        pipeline.sandbox.webcrm.insert("Persons", {**PERSON, "PersonFirstName": f"N{n}"})
    pipeline.sync()
    pipeline.sync()
    calls: Counter[str] = Counter()
    for name in dir(LinkStore):  # its methods live in its bases (store/_facade_*.py)
        method = getattr(LinkStore, name)
        if callable(method) and not name.startswith("_") and name != "close":
            monkeypatch.setattr(LinkStore, name, _counting(calls, name, method))
    before = pipeline.writes()
    pipeline.sync()
    assert pipeline.writes() == before
    assert sum(calls.values()) <= MAX_NOOP_STORE_CALLS, dict(calls)
    assert calls["pair_state"] == 6  # one per pair and entity it reads (contacts: two pairs)
    assert calls["plan_inputs"] == 3  # one per pair
