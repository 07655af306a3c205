"""A quiet incremental plan is made without the frame arithmetic (`planning._nothing_to_plan`)
and is exactly the plan the full path makes; anything pending in the store takes the full path.
On a real SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sync_pipeline.core import PairSpec, Side, prepare_side
from sync_pipeline.store import HoldWrite, LinkStore, LinkWrite, PlanInputs
from sync_pipeline.sync import planning
from sync_pipeline.sync.plans import PlannedPair, SideRows
from sync_pipeline.sync.run_guard import cursor_name
from sync_pipeline_tests.core.maps import sandbox_field_map

NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
FIELD_MAP = sandbox_field_map()
PAIR = FIELD_MAP.pairs["persons_contacts"]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LinkStore]:
    """A store with 30 linked persons, none of them read by the run."""
    with LinkStore(f"sqlite:///{tmp_path / 'links.sqlite'}") as opened:
        shadow = dict.fromkeys(PAIR.field_names, "")
        links = [LinkWrite(str(i), f"c{i}", shadow, "match") for i in range(30)]
        opened.add_links(PAIR.name, PAIR.crmoffice_entity, links, "r0", now=NOW)
        yield opened


def _empty_read(store: LinkStore, pair: PairSpec, side: Side) -> SideRows:
    """What an incremental read that found nothing gives the plan."""
    entity = pair.entity(side)
    state = store.pair_state(pair.name, [cursor_name(side, entity)])
    frame = prepare_side(pd.DataFrame(), pair, side, FIELD_MAP.entities)
    return SideRows(
        pair.name, side, entity, frame, False, None, "incremental", state,
        NOW, timedelta(seconds=2), NOW - timedelta(seconds=1),
    )  # fmt: skip


def _plan(store: LinkStore, pair: PairSpec = PAIR) -> PlannedPair:
    webcrm, crmoffice = (_empty_read(store, pair, side) for side in ("webcrm", "crmoffice"))
    return planning.plan_pair(pair, FIELD_MAP, webcrm, crmoffice, store, run_id="r1", now=NOW)


def _inputs(store: LinkStore, pair: PairSpec = PAIR) -> PlanInputs:
    sharing = {o.name: list(o.field_names) for o in planning.sharing_pairs(pair, FIELD_MAP)}
    names = list(pair.field_names)
    return store.plan_inputs(pair.name, names, pair.crmoffice_entity, sharing, scope=([], []))


def _flat(value: Any, name: str = "") -> dict[str, Any]:
    """Every leaf of a planned pair by path (frames kept whole, to compare with pandas)."""
    if isinstance(value, pd.DataFrame):
        return {name: value}
    if hasattr(value, "__dataclass_fields__"):
        parts = [_flat(getattr(value, f.name), f"{name}.{f.name}") for f in fields(value)]
        return {k: v for part in parts for k, v in part.items()}
    if isinstance(value, dict) and any(isinstance(v, pd.DataFrame) for v in value.values()):
        return {
            k: v for key, item in value.items() for k, v in _flat(item, f"{name}/{key}").items()
        }
    return {name: value}


@pytest.mark.parametrize("name", sorted(FIELD_MAP.pairs))
def test_a_quiet_plan_is_the_plan_the_full_path_makes(
    store: LinkStore, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every frame (columns, dtypes), cut, cursor, count and the breaker's link count alike."""
    pair = FIELD_MAP.pairs[name]
    webcrm = _empty_read(store, pair, "webcrm")
    assert planning._nothing_to_plan(
        webcrm, _empty_read(store, pair, "crmoffice"), _inputs(store, pair)
    )
    quick = _flat(_plan(store, pair))
    monkeypatch.setattr(planning, "_nothing_to_plan", lambda *_: False)
    full = _flat(_plan(store, pair))
    assert sorted(quick) == sorted(full)
    for key, value in full.items():
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(quick[key], value, obj=key)
        else:
            assert quick[key] == value, key
    assert full[".linked"] == (30 if name == PAIR.name else 0)


def _hold(store: LinkStore) -> None:
    hold = HoldWrite("webcrm", "7", "ambiguous_match", "two candidates", {}, NOW)
    store.save_holds(PAIR.name, [hold], [], "r1", now=NOW)


def _intent(store: LinkStore) -> None:
    payload = dict.fromkeys(PAIR.field_names, "x")
    store.open_intents_for(PAIR.name, "to_webcrm", [("c3", payload)], "r1", now=NOW)


def _given_up(store: LinkStore) -> None:
    store.record_failures(PAIR.name, "to_crmoffice", [("4", "422 bad")], "r1", max_attempts=1)


def _sharing_intent(store: LinkStore) -> None:
    payload = dict.fromkeys(FIELD_MAP.pairs["users_contacts"].field_names, "x")
    store.open_intents_for("users_contacts", "to_crmoffice", [("u1", payload)], "r1", now=NOW)


@pytest.mark.parametrize("pending", [_hold, _intent, _given_up, _sharing_intent])
def test_anything_pending_in_the_store_takes_the_full_path(store: LinkStore, pending: Any) -> None:
    """A hold, an open intent, a given-up write (or a sharing pair's intent) is acted on by
    the plan even when nothing was read."""
    pending(store)
    webcrm, crmoffice = (_empty_read(store, PAIR, side) for side in ("webcrm", "crmoffice"))
    assert not planning._nothing_to_plan(webcrm, crmoffice, _inputs(store))
