"""The sandbox behaves as systems.yaml describes the two systems."""

from __future__ import annotations

from typing import Any

from sync_pipeline.core import SIDES
from sync_pipeline.core.systems import TIMESTAMP_PATTERNS, packaged_systems
from sync_pipeline.sandbox import RunningSandbox


def test_records_carry_updated_at_in_the_declared_format(sandbox: RunningSandbox) -> None:
    """Every seeded entity's updated-at renders as its declared timestamp format says."""
    states: dict[str, Any] = {"webcrm": sandbox.webcrm, "crmoffice": sandbox.crmoffice}
    for side in SIDES:
        state = states[side]
        for name, entity in packaged_systems()[side].entities.items():
            records = state.records(name)
            assert records, f"{side} {name} is not seeded"
            pattern = TIMESTAMP_PATTERNS[entity.timestamp_format]
            bad = [r[entity.updated_at] for r in records if not pattern.match(r[entity.updated_at])]
            assert bad == [], f"{side} {name}: {bad[:3]}"
            assert all(str(r[entity.id]) for r in records)
