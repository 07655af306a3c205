"""Part 3: random edit histories interleaved with syncs, planned by the core, kept in the store.

The core-level properties live in `sync_pipeline_tests/core/test_properties.py`; this one keeps
links, shadows and intents in a real SQLite `LinkStore`, written the way the sinks write them
(intent before each create, link + intent closure after it, shadow after each update), so a
store that lost, reordered or mangled a value would break convergence.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync_pipeline.core import PairPlan
from sync_pipeline.store import LinkStore, LinkWrite, ShadowWrite
from sync_pipeline_tests.core import test_properties as core_properties
from sync_pipeline_tests.core.test_properties import FM, Edit, SimultaneousEdit, Sync, ops
from sync_pipeline_tests.core.world import World
from sync_pipeline_tests.reliability.figures import Part

RUN = "property-run"
History = list[Edit | Sync | SimultaneousEdit]


@dataclass
class StoreWorld(World):
    """The core test world with links, shadows and intents in a LinkStore."""

    store: LinkStore | None = None
    runs: int = field(default=0)

    @property
    def db(self) -> LinkStore:
        """The store (always set)."""
        assert self.store is not None
        return self.store

    def links_frame(self) -> pd.DataFrame:
        """Every link of the pair, with its status and shadow, from the store."""
        return self.db.links_frame(self.pair.name, list(self.pair.field_names), status=None)

    def intents_frame(self) -> pd.DataFrame:
        """Open intents, from the store."""
        return self.db.open_intents(self.pair.name, list(self.pair.field_names))

    def refresh(self) -> None:
        """Mirror the store's links into the world (for the core helpers that read them)."""
        frame = self.links_frame()
        names = list(self.pair.field_names)
        self.links = {
            (str(r["webcrm_id"]), str(r["crmoffice_id"])): {f: str(r[f]) for f in names}
            for r in frame.to_dict("records")
        }
        self.orphaned = {
            k for k, r in zip(self.links, frame["status"], strict=True) if r != "active"
        }

    def apply(self, plan: PairPlan, *, crash_after_create: bool = False) -> None:
        """Apply as the sinks do, every store write through the LinkStore API."""
        self.runs += 1
        _apply_links(self, plan)
        for direction, frame in plan.updates.items():
            for row in frame.to_dict("records"):
                self._update(direction, {str(k): v for k, v in row.items()})
        for direction, frame in plan.creates.items():
            _create_all(self, direction, frame, crash_after_create)
        self.refresh()

    def _update(self, direction: str, row: dict[str, object]) -> None:
        target = self.crmoffice if direction == "to_crmoffice" else self.webcrm
        record_id = str(row["crmoffice_id" if direction == "to_crmoffice" else "webcrm_id"])
        # why the ignore below: a plan's `changed` cell holds a tuple of field names
        changed = list(row["changed"])  # type: ignore[call-overload]
        values = {f: str(row[f]) for f in changed}
        target[record_id].values.update(values)
        target[record_id].updated_at = self.tick()
        # why the ignore below: `direction` is a Direction literal read from a plan frame
        write = ShadowWrite(str(row["webcrm_id"]), values, "update", direction)  # type: ignore[arg-type]
        self.db.update_shadows(self.pair.name, [write], RUN, now=self.clock)


def _apply_links(world: StoreWorld, plan: PairPlan) -> None:
    names = list(world.pair.field_names)
    rows = plan.links.to_dict("records")
    new = [
        LinkWrite(
            str(r["webcrm_id"]),
            str(r["crmoffice_id"]),
            {f: str(r[f]) for f in names},
            r["action"],
            None,
            None if pd.isna(r["intent_id"]) else int(r["intent_id"]),
        )
        for r in rows
        if r["action"] in ("match", "adopt")
    ]
    moves = [
        ShadowWrite(str(r["webcrm_id"]), {f: str(r[f]) for f in names}, "shadow_move")
        for r in rows
        if r["action"] == "shadow_move"
    ]
    if new:
        world.db.add_links(world.pair.name, world.pair.crmoffice_entity, new, RUN, now=world.clock)
    if moves:
        world.db.update_shadows(world.pair.name, moves, RUN, now=world.clock)
    if len(plan.intents_not_applied):
        ids = [int(i) for i in plan.intents_not_applied["intent_id"]]
        world.db.close_intents(ids, "not_applied", now=world.clock)
    orphans = [
        (str(r["webcrm_id"]), str(r["crmoffice_id"]), str(r["missing_side"]))
        for r in plan.orphans.to_dict("records")
    ]
    if orphans:
        world.db.mark_orphaned(world.pair.name, orphans, RUN, now=world.clock)


def _create_all(world: StoreWorld, direction: str, frame: pd.DataFrame, crash: bool) -> None:
    names = list(world.pair.field_names)
    rows = frame.to_dict("records")
    if not rows:
        return
    items = [(str(r["source_id"]), {f: str(r[f]) for f in names}) for r in rows]
    intents = world.db.open_intents_for(world.pair.name, direction, items, RUN, now=world.clock)
    writes = []
    for (source_id, values), intent_id in zip(items, intents, strict=True):
        world.next_id += 1
        new_id = f"{'c' if direction == 'to_crmoffice' else ''}{world.next_id}"
        world.put("crmoffice" if direction == "to_crmoffice" else "webcrm", new_id, **values)
        pair = (source_id, new_id) if direction == "to_crmoffice" else (new_id, source_id)
        world.created.append(pair)
        # why the ignore below: `direction` is a Direction literal read from a plan frame
        writes.append(LinkWrite(pair[0], pair[1], values, "create", direction, intent_id))  # type: ignore[arg-type]
    if not crash:
        world.db.add_links(
            world.pair.name, world.pair.crmoffice_entity, writes, RUN, now=world.clock
        )


def play(world: StoreWorld, history: History) -> None:
    """Play a history; after each sync (re-run at once if it crashed) the next plan is empty."""
    for op in history:
        if isinstance(op, Edit):
            core_properties.run_edit(world, op)
        elif isinstance(op, SimultaneousEdit):
            core_properties.run_both(world, op)
        else:
            plan = core_properties.sync(world, crash=op.crash, full=op.full)
            if op.crash:
                plan = core_properties.sync(world, full=op.full)
            if plan.intents_not_applied.empty:  # a closed intent is re-planned as a create
                echo = world.plan(complete=op.full)
                assert echo.is_empty, f"no-edit sync after a sync plans {echo.counts()}"


def check_store_history(history: History, pair: str) -> None:
    """After any history and a quiet sync: agreement, no duplicates, empty plans, a clean store."""
    with tempfile.TemporaryDirectory() as tmp, LinkStore(f"sqlite:///{Path(tmp) / 's.db'}") as db:
        world = StoreWorld(FM.pairs[pair], store=db)
        play(world, history)
        core_properties.settle(world)
        assert world.disagreements() == []
        core_properties.check_nothing_created_twice(world)
        assert world.plan(complete=False).is_empty
        assert world.plan(complete=True).is_empty
        report = db.check(now=world.clock)
        assert report.ok, report.problems


def run_property(test: object, examples: int, part: Part, name: str) -> None:
    """Run a hypothesis property with `examples` examples; count a falsified one."""
    part.figure(f"{name}_examples", examples)
    try:
        # why the ignore below: hypothesis' decorated test is callable with no arguments
        test()  # type: ignore[operator]
        part.figure(f"{name}_failures", 0)
    except Exception as error:  # hypothesis re-raises the minimal failing example(s)
        part.figure(f"{name}_failures", 1)
        part.note(f"{name}: {type(error).__name__}: {str(error).splitlines()[:3]}")


def store_property(examples: int) -> object:
    """The store-backed property with `examples` examples."""
    config = settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    pairs = st.sampled_from(["persons_contacts", "users_contacts"])
    return config(given(history=ops(), pair=pairs)(check_store_history))


def core_property(examples: int) -> object:
    """The core-level convergence property of the core tests, with `examples` examples."""
    # why the ignore below: hypothesis attaches `.hypothesis` to the test at run time
    inner = core_properties.test_histories_converge.hypothesis.inner_test  # type: ignore[attr-defined]
    config = settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    pairs = st.sampled_from(["persons_contacts", "users_contacts"])
    return config(given(history=ops(), pair=pairs)(inner))


def run_convergence(folder: Path, examples: int = 200) -> Part:
    """Part 3; figures core/store examples and failures (0)."""
    part = Part("convergence")
    run_property(core_property(examples), examples, part, "core_property")
    run_property(store_property(examples), examples, part, "store_property")
    return part
