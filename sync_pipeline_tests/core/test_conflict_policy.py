"""The conflict policy: each policy, per-field overrides, and one-line errors at map load."""

from __future__ import annotations

from typing import Any

import pytest

from sync_pipeline.core import ConflictPolicy, Direction, FieldMapError, PairSpec, parse_field_map
from sync_pipeline_tests.core.test_fieldmap import raw_map
from sync_pipeline_tests.core.world import World


def _pair(conflict: object = None, **field_keys: dict[str, Any]) -> PairSpec:
    """persons_contacts from the package map, with a pair `conflict` and per-field extra keys."""
    data = raw_map()
    pair = data["pairs"]["persons_contacts"]
    if conflict is not None:
        pair["conflict"] = conflict
    for item in pair["fields"]:
        item.update(field_keys.get(item["crmoffice"], {}))
    return parse_field_map(data).pairs["persons_contacts"]


def _linked(pair: PairSpec) -> World:
    w = World(pair)
    w.put("webcrm", "1", givenName="Anne", familyName="Hansen", mobilePhone="+45 11 22 33 44")
    w.put("crmoffice", "c1", givenName="Anne", familyName="Hansen", mobilePhone="+45 11 22 33 44")
    w.link("1", "c1")
    return w


@pytest.mark.parametrize(
    ("policy", "winner", "value"),
    [("webcrm_wins", "webcrm", "Older"), ("crmoffice_wins", "crmoffice", "Newer")],
)
def test_side_wins_policy_beats_newest(policy: str, winner: str, value: str) -> None:
    """`webcrm_wins`/`crmoffice_wins`: the named side wins whichever edit is newer."""
    w = _linked(_pair(policy))
    w.put("webcrm", "1", familyName="Older")
    w.put("crmoffice", "c1", familyName="Newer")  # later
    plan = w.plan()
    assert plan.conflicts[["field", "winner", "rule"]].values.tolist() == [
        ["familyName", winner, policy]
    ]
    direction: Direction = "to_crmoffice" if winner == "webcrm" else "to_webcrm"
    assert plan.updates[direction][["changed", "familyName"]].values.tolist() == [
        [("familyName",), value]
    ]


@pytest.mark.parametrize(
    ("policy", "clearing_side"), [("webcrm_wins", "webcrm"), ("crmoffice_wins", "crmoffice")]
)
def test_side_wins_policy_wins_clears_too(policy: str, clearing_side: str) -> None:
    """Under `*_wins` the named side's clear beats the other side's newer non-empty edit."""
    w = _linked(_pair(policy))
    other = "crmoffice" if clearing_side == "webcrm" else "webcrm"
    w.put(clearing_side, "1" if clearing_side == "webcrm" else "c1", familyName="")
    w.put(other, "c1" if other == "crmoffice" else "1", familyName="Newer")
    plan = w.plan()
    assert plan.conflicts[["winner", "rule"]].values.tolist() == [[clearing_side, policy]]
    direction: Direction = "to_crmoffice" if clearing_side == "webcrm" else "to_webcrm"
    assert plan.updates[direction]["familyName"].tolist() == [""]


def test_newest_keeps_non_empty_over_a_newer_clear() -> None:
    """`newest` (the default) still lets a non-empty value beat a newer clear."""
    w = _linked(_pair({"policy": "newest", "tie": "crmoffice"}))
    w.put("webcrm", "1", familyName="Berg")
    w.put("crmoffice", "c1", familyName="")
    plan = w.plan()
    assert plan.conflicts[["winner", "rule"]].values.tolist() == [["webcrm", "non_empty"]]


def test_field_policy_overrides_the_pair() -> None:
    """A field's `conflict` overrides its pair's; the other fields keep the pair's policy."""
    pair = _pair("webcrm_wins", familyName={"conflict": "crmoffice_wins"})
    assert pair.conflict == ConflictPolicy("webcrm_wins")
    assert pair.policies["familyName"] == ConflictPolicy("crmoffice_wins")
    assert pair.policies["givenName"] == ConflictPolicy("webcrm_wins")
    w = _linked(pair)
    w.put("webcrm", "1", givenName="Anna", familyName="Berg")
    w.put("crmoffice", "c1", givenName="Annie", familyName="Borg")
    plan = w.plan()
    assert plan.conflicts[["field", "winner", "rule"]].values.tolist() == [
        ["givenName", "webcrm", "webcrm_wins"],
        ["familyName", "crmoffice", "crmoffice_wins"],
    ]
    assert plan.updates["to_crmoffice"]["changed"].tolist() == [("givenName",)]
    assert plan.updates["to_webcrm"]["changed"].tolist() == [("familyName",)]


def test_field_mapping_inherits_the_pairs_tie() -> None:
    """A field's `{policy: newest}` keeps the pair's tie side; its own `tie` replaces it."""
    pair = _pair(
        {"policy": "crmoffice_wins"},
        givenName={"conflict": {"policy": "newest"}},
        familyName={"conflict": {"policy": "newest", "tie": "crmoffice"}},
    )
    assert pair.policies["givenName"] == ConflictPolicy("newest", "webcrm")
    assert pair.policies["familyName"] == ConflictPolicy("newest", "crmoffice")


def test_package_map_declares_newest_with_webcrm_on_a_tie() -> None:
    """Unless the map says otherwise every field is `newest`, WebCRM on a tie, initial `hold`."""
    pair = _pair()
    assert set(pair.policies.values()) == {ConflictPolicy("newest", "webcrm", "hold")}


ERRORS: list[tuple[object, dict[str, dict[str, Any]], str]] = [
    (
        {"policy": "crmofice_wins"},
        {},
        "fieldmap.yaml: pairs.persons_contacts.conflict.policy: unknown policy 'crmofice_wins' "
        "(allowed: crmoffice_wins, newest, webcrm_wins)",
    ),
    (
        "newst",
        {},
        "fieldmap.yaml: pairs.persons_contacts.conflict: unknown policy 'newst' "
        "(allowed: crmoffice_wins, newest, webcrm_wins)",
    ),
    (
        {"policy": "newest", "tie": "webcrn"},
        {},
        "fieldmap.yaml: pairs.persons_contacts.conflict.tie: unknown tie 'webcrn' "
        "(allowed: crmoffice, webcrm)",
    ),
    (
        {"policy": "webcrm_wins", "tie": "crmoffice"},
        {},
        "fieldmap.yaml: pairs.persons_contacts.conflict.tie: a tie only matters to policy "
        "newest, not 'webcrm_wins'",
    ),
    (
        {"polcy": "newest"},
        {},
        "fieldmap.yaml: pairs.persons_contacts.conflict.polcy: unknown key "
        "(allowed: initial_winner, policy, tie)",
    ),
    (
        ["newest"],
        {},
        "fieldmap.yaml: pairs.persons_contacts.conflict: expected a policy name or a mapping, "
        "got list",
    ),
    (
        None,
        {"familyName": {"conflict": "crmoffice_win"}},
        "fieldmap.yaml: pairs.persons_contacts.fields[1].conflict: unknown policy "
        "'crmoffice_win' (allowed: crmoffice_wins, newest, webcrm_wins)",
    ),
    (
        None,
        {"familyName": {"initial_winner": "newest"}},
        "fieldmap.yaml: pairs.persons_contacts.fields[1].initial_winner: unknown "
        "initial_winner 'newest' (allowed: crmoffice, hold, webcrm)",
    ),
]


@pytest.mark.parametrize(("conflict", "fields", "message"), ERRORS)
def test_bad_policy_is_a_one_line_error_at_load(
    conflict: object, fields: dict[str, dict[str, Any]], message: str
) -> None:
    """A misspelt policy, tie or initial winner fails at load with one line naming the key."""
    with pytest.raises(FieldMapError) as caught:
        _pair(conflict, **fields)
    assert str(caught.value) == message


def test_policy_value_is_checked_in_code_too() -> None:
    """Built in code, an unknown policy is a ValueError, not a silent default."""
    with pytest.raises(ValueError, match="unknown policy 'crmofice_wins'"):
        # why the ignore below: deliberately wrong, to test the runtime check
        ConflictPolicy("crmofice_wins")  # type: ignore[arg-type]
