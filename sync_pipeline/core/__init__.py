"""Pure core of the sync: field map, mapped-frame schemas, normalisation, diff and plan types.

No Dagster, HTTP, database, environment or clock: frames, the field map, the policy and `now`
come in as arguments and plain values come out.
"""

from __future__ import annotations

from sync_pipeline.core.breaker import mass_change_verdict, updated_link_count
from sync_pipeline.core.coerce import ABSENT
from sync_pipeline.core.conflict_policy import ConflictPolicy, InitialWinner, PolicyName
from sync_pipeline.core.docs import render_dataflow_rst
from sync_pipeline.core.fieldmap import (
    FieldMap,
    FieldMapError,
    FieldSpec,
    PairSpec,
    load_field_map,
    parse_field_map,
)
from sync_pipeline.core.frames import text_column
from sync_pipeline.core.holds import StandingHolds
from sync_pipeline.core.intents import canonical_payloads
from sync_pipeline.core.mapping import (
    SideFrame,
    bad_share,
    empty_side_frame,
    prepare_side,
    quarantine_verdict,
)
from sync_pipeline.core.normalize import canonical_values, match_key, normalize_values
from sync_pipeline.core.pairplan import PairPlan
from sync_pipeline.core.plan import empty_plan, plan_pair_sync
from sync_pipeline.core.schemas import mapped_frame_model
from sync_pipeline.core.systems import (
    EntitySpec,
    RateLimit,
    Systems,
    SystemsError,
    SystemSpec,
    TimestampFormat,
    load_systems,
    parse_systems,
)
from sync_pipeline.core.types import (
    DIRECTIONS,
    SIDES,
    SOURCE_SIDE,
    TARGET_SIDE,
    Direction,
    Side,
    Verdict,
)

__all__ = [
    "ABSENT",
    "DIRECTIONS",
    "SIDES",
    "SOURCE_SIDE",
    "TARGET_SIDE",
    "ConflictPolicy",
    "Direction",
    "EntitySpec",
    "FieldMap",
    "FieldMapError",
    "FieldSpec",
    "InitialWinner",
    "PairPlan",
    "PairSpec",
    "PolicyName",
    "RateLimit",
    "Side",
    "SideFrame",
    "StandingHolds",
    "SystemSpec",
    "Systems",
    "SystemsError",
    "TimestampFormat",
    "Verdict",
    "bad_share",
    "canonical_payloads",
    "canonical_values",
    "empty_plan",
    "empty_side_frame",
    "load_field_map",
    "load_systems",
    "mapped_frame_model",
    "mass_change_verdict",
    "match_key",
    "normalize_values",
    "parse_field_map",
    "parse_systems",
    "plan_pair_sync",
    "prepare_side",
    "quarantine_verdict",
    "render_dataflow_rst",
    "text_column",
    "updated_link_count",
]
