"""A property the API left out of a record is not the same as an empty one."""

from __future__ import annotations

import pickle

import pandas as pd

from sync_pipeline.core import ABSENT, prepare_side
from sync_pipeline_tests.core.maps import sandbox_field_map


def test_absent_mapped_property_quarantines_the_record() -> None:
    """A contact without `familyName` at all is quarantined (syncing it would clear the
    person's last name); one with `familyName: null` is valid and empty."""
    field_map = sandbox_field_map()
    pair = field_map.pairs["persons_contacts"]
    stamp = "2024-09-14T08:00:00.000Z"
    raw = pd.DataFrame(
        [
            ["c-1", stamp, "Kari", ABSENT, None, None],
            ["c-2", stamp, "Ola", None, None, None],
        ],
        columns=["id", "updatedAt", "givenName", "familyName", "mobilePhone", "directPhone"],
        dtype=object,
    )
    side = prepare_side(raw, pair, "crmoffice", field_map.entities)
    assert list(side.valid["id"]) == ["c-2"]
    assert side.valid["familyName"].iloc[0] == ""
    [reason] = list(side.quarantined["reason"])
    assert "familyName" in reason and "missing" in reason


def test_absent_survives_pickling_as_the_same_marker() -> None:
    """Snapshots travel between Dagster steps as pickles: ABSENT must stay ABSENT."""
    assert pickle.loads(pickle.dumps(ABSENT)) is ABSENT
