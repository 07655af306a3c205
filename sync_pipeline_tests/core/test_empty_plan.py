"""`empty_plan` is exactly what `plan_pair_sync` makes of nothing: same frames, columns, dtypes."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime

import pandas as pd
import pytest

from sync_pipeline.core import PairPlan, empty_plan, empty_side_frame, plan_pair_sync
from sync_pipeline_tests.core.maps import sandbox_field_map
from sync_pipeline_tests.core.world import World

NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
PAIRS = sorted(sandbox_field_map().pairs)


def _frames(plan: PairPlan) -> dict[str, pd.DataFrame]:
    """Every frame of a plan by name (`creates/to_webcrm`, `links`, ...)."""
    found: dict[str, pd.DataFrame] = {}
    for spec in fields(plan):
        value = getattr(plan, spec.name)
        if isinstance(value, pd.DataFrame):
            found[spec.name] = value
        elif isinstance(value, dict):
            found.update({f"{spec.name}/{k}": v for k, v in value.items()})
    return found


@pytest.mark.parametrize("complete", [False, True])
@pytest.mark.parametrize("name", PAIRS)
def test_the_empty_plan_is_the_plan_of_nothing(name: str, complete: bool) -> None:
    pair = sandbox_field_map().pairs[name]
    nothing = World(pair)  # no record, link or intent
    planned = plan_pair_sync(
        pair,
        empty_side_frame(pair),
        empty_side_frame(pair),
        nothing.links_frame(),
        nothing.intents_frame(),
        complete=complete,
        now=NOW,
    )
    made = empty_plan(pair, now=NOW, complete=complete)
    assert (made.pair, made.fields, made.planned_at, made.complete) == (
        planned.pair,
        planned.fields,
        planned.planned_at,
        planned.complete,
    )
    expected, actual = _frames(planned), _frames(made)
    assert sorted(actual) == sorted(expected)
    for key, frame in expected.items():
        pd.testing.assert_frame_equal(actual[key], frame, check_index_type=True, obj=key)
    assert made.counts() == planned.counts()
