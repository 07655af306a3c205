"""The conflict policy: who wins when both sides changed a field differently (DESIGN section 2).

Declared in the field map per pair and optionally per field, parsed and validated at load:

- `newest` (the default): a non-empty value beats an empty one; otherwise the record updated
  most recently wins; an exact tie goes to `tie` (default `webcrm`).
- `webcrm_wins` / `crmoffice_wins`: the named side wins every conflict, a clear included (its
  empty value beats the other side's non-empty one: "always wins" means always).

A field that no shadow holds yet on a link (a field added to the map of a live deployment) has
no common ancestor, so it is never a conflict: its initial reconciliation gives the empty side
the other's value, and two different non-empty values follow `initial_winner` (`webcrm`,
`crmoffice`, or `hold`, the default: nothing is written and the link is held for review).

Everything here works on whole columns (numpy), never row by row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, cast, get_args

import numpy as np
import numpy.typing as npt

from sync_pipeline.core.types import SIDES, Side

PolicyName = Literal["newest", "webcrm_wins", "crmoffice_wins"]
InitialWinner = Literal["webcrm", "crmoffice", "hold"]
# The rule a conflict row of the plan names: how its winner was chosen.
# `clock_tie`: the update times differ by less than the clocks' uncertainty (a tie, flagged).
Rule = Literal[
    "non_empty", "newest", "tie", "clock_tie", "webcrm_wins", "crmoffice_wins", "initial_winner"
]

POLICY_NAMES: tuple[PolicyName, ...] = get_args(PolicyName)
INITIAL_WINNERS: tuple[InitialWinner, ...] = get_args(InitialWinner)
_POLICY_KEYS = {"policy", "tie", "initial_winner"}

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
ObjArray = npt.NDArray[np.object_]
Fail = Callable[[str, str], Exception]


def _allowed(values: tuple[str, ...]) -> str:
    return ", ".join(sorted(values))


@dataclass(frozen=True)
class ConflictPolicy:
    """How one field's conflicts are settled: `policy`, the side of a `newest` tie, and the
    winner of two different initial values of a field new to a link (`hold`: nobody).

    Raises `ValueError` (one line) for a value outside the `Literal`s."""

    policy: PolicyName = "newest"
    tie: Side = "webcrm"
    initial_winner: InitialWinner = "hold"

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("policy", self.policy, POLICY_NAMES),
            ("tie", self.tie, SIDES),
            ("initial_winner", self.initial_winner, INITIAL_WINNERS),
        ):
            if value not in allowed:
                raise ValueError(f"unknown {name} {value!r} (allowed: {_allowed(allowed)})")

    def webcrm_wins(
        self, w_empty: BoolArray, c_empty: BoolArray, newer: IntArray
    ) -> tuple[BoolArray, ObjArray]:
        """For conflicting rows: does WebCRM win, and the rule that decided (per row).

        `w_empty`/`c_empty`: the side's value is empty; `newer`: sign of WebCRM's update time
        minus CRMOffice's (0 = a tie)."""
        if self.policy != "newest":
            wins = np.full(len(newer), self.policy == "webcrm_wins", dtype=bool)
            return wins, np.full(len(newer), self.policy, dtype=object)
        one_empty = w_empty != c_empty
        rule = np.where(one_empty, "non_empty", np.where(newer != 0, "newest", "tie"))
        tie_web = self.tie == "webcrm"
        wins = np.where(one_empty, c_empty, (newer > 0) | ((newer == 0) & tie_web))
        return np.asarray(wins, dtype=bool), rule.astype(object)


@dataclass(frozen=True)
class Resolution:
    """One field's outcome over the diffed rows: which side's value is written where, what
    the shadow becomes, and the conflicts (with their winner and rule) and holds."""

    to_crmoffice: BoolArray
    to_webcrm: BoolArray
    agreed: ObjArray  # the value both sides hold after the writes
    moved: BoolArray  # the shadow moves without a write (both sides agree on a new value)
    conflict: BoolArray
    winner_webcrm: BoolArray
    rule: ObjArray
    held: BoolArray  # a field new to the link whose two values differ: written nowhere


def resolve_known(
    w: ObjArray, c: ObjArray, s: ObjArray, newer: IntArray, policy: ConflictPolicy
) -> Resolution:
    """The three-way rule for rows whose shadow `s` holds the field (see module doc)."""
    w_ch, c_ch = w != s, c != s
    same = w_ch & c_ch & (w == c)
    conflict = w_ch & c_ch & (w != c)
    wins, rule = policy.webcrm_wins(w == "", c == "", newer)
    web_wins = conflict & wins
    to_crm = (w_ch & ~c_ch) | web_wins
    to_web = (c_ch & ~w_ch) | (conflict & ~wins)
    return Resolution(
        to_crmoffice=to_crm,
        to_webcrm=to_web,
        agreed=np.where(to_crm | same, w, np.where(to_web, c, s)),
        moved=same,
        conflict=conflict,
        winner_webcrm=web_wins,
        rule=np.where(conflict, rule, ""),
        held=np.zeros(len(w), dtype=bool),
    )


def resolve_initial(w: ObjArray, c: ObjArray, policy: ConflictPolicy) -> Resolution:
    """The initial reconciliation of rows whose shadow lacks the field (both values read):
    equal values are agreed as they are; the empty side takes the other's value; two
    different non-empty values follow `policy.initial_winner` (`hold` writes nothing)."""
    w_empty, c_empty = w == "", c == ""
    differ = (w != c) & ~w_empty & ~c_empty
    decided = differ & (policy.initial_winner != "hold")
    pick_web = policy.initial_winner == "webcrm"
    to_crm = (c_empty & ~w_empty) | (decided & pick_web)
    to_web = (w_empty & ~c_empty) | (decided & (not pick_web))
    return Resolution(
        to_crmoffice=to_crm,
        to_webcrm=to_web,
        agreed=np.where(to_web, c, w),
        moved=w == c,
        conflict=decided,
        winner_webcrm=decided & pick_web,
        rule=np.where(decided, "initial_winner", "").astype(object),
        held=differ & (policy.initial_winner == "hold"),
    )


def declared_policy(
    entry: Mapping[str, object], path: str, inherited: ConflictPolicy, fail: Fail
) -> ConflictPolicy:
    """The policy a pair's or a field's entry in the map declares: its `conflict` and (on a
    field) `initial_winner` over `inherited` (the pair's, or the default for a pair)."""
    policy = inherited
    if "conflict" in entry:
        policy = parse_policy(entry["conflict"], f"{path}.conflict", policy, fail)
    if "initial_winner" in entry:
        key_path = f"{path}.initial_winner"
        policy = parse_initial_winner(entry["initial_winner"], key_path, policy, fail)
    return policy


def parse_policy(value: object, path: str, inherited: ConflictPolicy, fail: Fail) -> ConflictPolicy:
    """A `conflict:` entry of the field map: a policy name, or a mapping of `policy`, `tie`
    (and, on a field, `initial_winner`); keys left out come from `inherited`.

    Raises what `fail(path, problem)` returns, e.g. `pairs.p.conflict.policy: unknown policy
    'crmofice_wins' (allowed: crmoffice_wins, newest, webcrm_wins)`."""
    if isinstance(value, str):
        value = {"policy": value}
        where = path
    else:
        where = f"{path}.policy"
    if not isinstance(value, dict):
        raise fail(path, f"expected a policy name or a mapping, got {type(value).__name__}")
    for key in value:
        if key not in _POLICY_KEYS:
            raise fail(f"{path}.{key}", f"unknown key (allowed: {_allowed(tuple(_POLICY_KEYS))})")
    checks = (
        ("policy", where, POLICY_NAMES),
        ("tie", f"{path}.tie", SIDES),
        ("initial_winner", f"{path}.initial_winner", INITIAL_WINNERS),
    )
    for key, key_path, allowed in checks:
        if key in value and value[key] not in allowed:
            raise fail(key_path, f"unknown {key} {value[key]!r} (allowed: {_allowed(allowed)})")
    policy = cast(PolicyName, value.get("policy", inherited.policy))
    if "tie" in value and policy != "newest":
        raise fail(f"{path}.tie", f"a tie only matters to policy newest, not {policy!r}")
    return ConflictPolicy(
        policy=policy,
        tie=cast(Side, value.get("tie", inherited.tie)),
        initial_winner=cast(InitialWinner, value.get("initial_winner", inherited.initial_winner)),
    )


def parse_initial_winner(
    value: object, path: str, inherited: ConflictPolicy, fail: Fail
) -> ConflictPolicy:
    """A field's `initial_winner:` shorthand (`webcrm` | `crmoffice` | `hold`) on its policy."""
    if value not in INITIAL_WINNERS:
        problem = f"unknown initial_winner {value!r} (allowed: {_allowed(INITIAL_WINNERS)})"
        raise fail(path, problem)
    return ConflictPolicy(inherited.policy, inherited.tie, value)
