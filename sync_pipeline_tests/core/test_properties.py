"""Hypothesis properties of plan + apply over random edit histories on both sides."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync_pipeline.core import plan_pair_sync
from sync_pipeline.core.pairplan import PairPlan
from sync_pipeline_tests.core.maps import sandbox_field_map
from sync_pipeline_tests.core.world import World

FM = sandbox_field_map()
NAMES = ["", "Anne", "Bo", "Åse"]
PHONES = ["", "+45 11", "22 33"]


@dataclass(frozen=True)
class Edit:
    """Set one field of the n-th record of a side (a create when `new`)."""

    side: str
    index: int
    field: int
    value: int
    new: bool


@dataclass(frozen=True)
class Sync:
    """Plan and apply; `crash` kills the run after the creates' requests, before their links."""

    crash: bool
    full: bool


@dataclass(frozen=True)
class SimultaneousEdit:
    """Edit the same field of both records of a link at the very same instant."""

    index: int
    field: int
    values: tuple[int, int]


def ops() -> st.SearchStrategy[list[Edit | Sync | SimultaneousEdit]]:
    """Histories: edits, creates, simultaneous edits and syncs (some crashing)."""
    edit = st.builds(
        Edit,
        st.sampled_from(["webcrm", "crmoffice"]),
        st.integers(0, 5),
        st.integers(0, 3),
        st.integers(0, 3),
        st.booleans(),
    )
    sync = st.builds(Sync, st.booleans(), st.booleans())
    both = st.builds(
        SimultaneousEdit,
        st.integers(0, 5),
        st.integers(0, 3),
        st.tuples(st.integers(0, 3), st.integers(0, 3)),
    )
    return st.lists(st.one_of(edit, edit, sync, both), max_size=25)


def value_for(world: World, field: int, value: int) -> tuple[str, str]:
    """A (field name, value) pair valid for the field's type."""
    spec = world.pair.fields[field % len(world.pair.fields)]
    pool = PHONES if spec.type == "phone" else NAMES
    return spec.name, pool[value % len(pool)]


def run_edit(world: World, op: Edit) -> None:
    """Apply an edit or create to the world."""
    records = world.webcrm if op.side == "webcrm" else world.crmoffice
    name, value = value_for(world, op.field, op.value)
    if op.new or not records:
        world.next_id += 1
        world.put(op.side, f"{'u' if op.side == 'webcrm' else 'k'}{world.next_id}", **{name: value})
    else:
        world.put(op.side, sorted(records)[op.index % len(records)], **{name: value})


def run_both(world: World, op: SimultaneousEdit) -> None:
    """Edit both records of a live link at one instant."""
    live = sorted(k for k in world.links if k not in world.orphaned)
    if not live:
        return
    w, c = live[op.index % len(live)]
    name, first = value_for(world, op.field, op.values[0])
    _, second = value_for(world, op.field, op.values[1])
    world.webcrm[w].values[name] = first
    world.crmoffice[c].values[name] = second
    stamp = world.tick()
    world.webcrm[w].updated_at = world.crmoffice[c].updated_at = stamp


def sync(world: World, *, crash: bool = False, full: bool = True) -> PairPlan:
    """One sync: plan over the world, then apply."""
    plan = world.plan(complete=full)
    check_conflicts_follow_policy(world, plan)
    world.apply(plan, crash_after_create=crash)
    world.tick()
    return plan


def check_conflicts_follow_policy(world: World, plan: PairPlan) -> None:
    """Each conflict's winner is the non-empty side, else the newer, else the policy's side."""
    for row in plan.conflicts.to_dict("records"):
        web, crm = world.webcrm[row["webcrm_id"]], world.crmoffice[row["crmoffice_id"]]
        if (row["webcrm_value"] == "") != (row["crmoffice_value"] == ""):
            expected = "webcrm" if row["crmoffice_value"] == "" else "crmoffice"
        elif web.updated_at != crm.updated_at:
            expected = "webcrm" if web.updated_at > crm.updated_at else "crmoffice"
        else:
            expected = "webcrm"
        assert row["winner"] == expected, row


def run_history(world: World, history: list[Edit | Sync | SimultaneousEdit]) -> None:
    """Play a history; a crashed sync is re-run at once, as an operator would."""
    for op in history:
        if isinstance(op, Edit):
            run_edit(world, op)
        elif isinstance(op, SimultaneousEdit):
            run_both(world, op)
        else:
            sync(world, crash=op.crash, full=op.full)
            if op.crash:
                sync(world, full=op.full)


def settle(world: World) -> None:
    """Sync until quiet (closed intents need one more run to be created again)."""
    for _ in range(4):
        if sync(world).is_empty:
            return
    raise AssertionError("did not converge in 4 syncs")


def check_nothing_created_twice(world: World) -> None:
    """No source record was created twice and no record belongs to two links."""
    sources = [pair for pair in world.created]
    assert len(set(sources)) == len(sources)
    per_direction: dict[str, list[str]] = {}
    for w, c in world.created:
        origin = "webcrm" if c.startswith("c") else "crmoffice"
        per_direction.setdefault(origin, []).append(w if origin == "webcrm" else c)
    for ids in per_direction.values():
        assert len(set(ids)) == len(ids), ids
    webs = [w for w, _ in world.links]
    crms = [c for _, c in world.links]
    assert len(set(webs)) == len(webs) and len(set(crms)) == len(crms)


PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(history=ops(), pair=st.sampled_from(["persons_contacts", "users_contacts"]))
def test_histories_converge(history: list[Edit | Sync | SimultaneousEdit], pair: str) -> None:
    """After any history and a quiet sync, every link agrees on every field; no duplicates."""
    world = World(FM.pairs[pair])
    run_history(world, history)
    settle(world)
    assert world.disagreements() == []
    check_nothing_created_twice(world)
    assert world.plan(complete=False).is_empty
    assert world.plan(complete=True).is_empty


@PROPERTY
@given(history=ops(), seed=st.integers(0, 2**32 - 1))
def test_plan_does_not_depend_on_row_order(
    history: list[Edit | Sync | SimultaneousEdit], seed: int
) -> None:
    """Shuffling every input frame yields exactly the same plan."""
    world = World(FM.pairs["persons_contacts"])
    run_history(world, [op for op in history if not (isinstance(op, Sync) and op.crash)])
    frames = [
        world.side_frame("webcrm"),
        world.side_frame("crmoffice"),
        world.links_frame(),
        world.intents_frame(),
    ]
    rng = random.Random(seed)
    shuffled = [
        f.sample(frac=1.0, random_state=rng.randrange(2**31)).reset_index(drop=True) for f in frames
    ]
    args = {"complete": True, "now": world.clock}
    # why the ignore below: keyword overrides of plan_pair_sync's mixed-type options
    first = plan_pair_sync(world.pair, *frames, **args)  # type: ignore[arg-type]
    # why the ignore below: keyword overrides of plan_pair_sync's mixed-type options
    second = plan_pair_sync(world.pair, *shuffled, **args)  # type: ignore[arg-type]
    for name in ("links", "conflicts", "orphans", "held", "intents_not_applied"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(second, name))
    for direction in ("to_crmoffice", "to_webcrm"):
        pd.testing.assert_frame_equal(first.creates[direction], second.creates[direction])
        pd.testing.assert_frame_equal(first.updates[direction], second.updates[direction])


@PROPERTY
@given(history=ops())
def test_sync_without_edits_plans_nothing(history: list[Edit | Sync | SimultaneousEdit]) -> None:
    """Right after a clean sync, a sync with no edits in between plans nothing."""
    world = World(FM.pairs["persons_contacts"])
    run_history(world, history)
    plan = sync(world)
    if plan.intents_not_applied.empty:
        assert world.plan().is_empty, world.plan().counts()


def test_crash_at_every_create_adopts_without_duplicates() -> None:
    """Creates crashing before their link writes are adopted by the re-run, never duplicated."""
    world = World(FM.pairs["persons_contacts"])
    for i in range(5):
        world.put("webcrm", str(i), givenName="Same", familyName="Name")
        world.put("crmoffice", f"k{i}", givenName=f"K{i}")
    sync(world, crash=True)
    assert len(world.intents) == 10
    world.clock += timedelta(seconds=1)
    settle(world)
    assert len(world.webcrm) == 10 and len(world.crmoffice) == 10
    assert len(world.links) == 10 and world.disagreements() == []
