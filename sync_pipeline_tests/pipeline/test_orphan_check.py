"""`sync.orphans.confirm_orphans`: a plan's orphans kept only once a GET by id confirms them,
over a small stateful lookup (a CRM that answers from a dict)."""

from __future__ import annotations

from typing import Any

from sync_pipeline.clients import RecordRejectedError, RetriesExhaustedError
from sync_pipeline.core import load_field_map
from sync_pipeline.sync.orphans import confirm_orphans
from sync_pipeline_tests.core.world import World

PERSONS = load_field_map().pairs["persons_contacts"]


class Lookup:
    """Answers GET by id from `alive`; `down` ids fail as an API that is down; logs calls."""

    def __init__(self, alive: set[str], down: frozenset[str] = frozenset()) -> None:
        self.alive, self.down = alive, down
        self.calls: list[str] = []

    def get(self, entity: str, record_id: str) -> dict[str, Any]:
        self.calls.append(record_id)
        if record_id in self.down:
            raise RetriesExhaustedError("down", system="CRMOffice", status=503, attempts=5)
        if record_id not in self.alive:
            raise RecordRejectedError("404", system="CRMOffice", status=404, detail="gone")
        return {"id": record_id}


def _world_missing(contacts: list[str]) -> World:
    """Five linked pairs; the CRMOffice records `contacts` missing from a complete read."""
    w = World(PERSONS)
    for i in range(5):
        w.put("webcrm", str(i), givenName=f"N{i}")
        w.put("crmoffice", f"c{i}", givenName=f"N{i}")
        w.link(str(i), f"c{i}")
    for contact_id in contacts:
        del w.crmoffice[contact_id]
    return w


def test_only_records_a_get_says_are_gone_are_orphaned() -> None:
    """Of three candidates: 404 orphans, a record found stays linked, an API that is down
    leaves the link active (unchecked)."""
    plan = _world_missing(["c0", "c1", "c2"]).plan()
    assert len(plan.orphans) == 3
    lookup = Lookup(alive={"c1"}, down=frozenset({"c2"}))
    kept, check = confirm_orphans(plan, PERSONS, {"webcrm": Lookup(set()), "crmoffice": lookup})
    assert kept.orphans.to_dict("records") == [
        {"webcrm_id": "0", "crmoffice_id": "c0", "missing_side": "crmoffice"}
    ]
    assert (check.candidates, check.confirmed, check.found, check.unchecked) == (3, 1, ("c1",), 1)
    assert sorted(lookup.calls) == ["c0", "c1", "c2"]


def test_lookups_are_bounded_and_nothing_is_orphaned_without_them() -> None:
    """At most `limit` GETs per side (the rest wait for the next full run); no lookups, no
    orphans."""
    plan = _world_missing(["c0", "c1", "c2", "c3"]).plan()
    lookup = Lookup(alive=set())
    kept, check = confirm_orphans(plan, PERSONS, {"crmoffice": lookup}, limit=2)
    assert lookup.calls == ["c0", "c1"] and len(kept.orphans) == 2 and check.unchecked == 2
    unconfirmed, _ = confirm_orphans(plan, PERSONS, None)
    assert unconfirmed.orphans.empty
