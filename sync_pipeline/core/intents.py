"""Reconciling open create intents before anything else is planned (crash-safe creates).

An intent is written before each create. If the run died between the request and the link
write, the created record exists unlinked on the target side. Per intent payload (all mapped
fields, canonical), the candidates are the unlinked target records holding exactly those values
and updated no earlier than the intent's creation minus a tolerance:

- candidates <= intents: adopt them pairwise in time order (links action `adopt`); intents left
  without a candidate are returned in `not_applied` (the store closes them) and their source is
  created again by this very plan: the create failed or never reached the target, and a record
  it made would be in the target's snapshot (read after the intent, from a cursor before it);
- candidates > intents: ambiguous; the sources and the candidates are all held.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from sync_pipeline.core.fieldmap import PairSpec
from sync_pipeline.core.frames import held_frame, intents_not_applied_frame
from sync_pipeline.core.normalize import (
    KEY_SEPARATOR,
    canonical_values,
    join_columns,
    normalize_values,
    to_arrow,
)
from sync_pipeline.core.types import DIRECTIONS, SOURCE_SIDE, TARGET_SIDE, Direction, Side


@dataclass(frozen=True)
class IntentOutcome:
    """Adoptions (`webcrm_id`, `crmoffice_id`, `intent_id` + payload), closures and holds."""

    adopted: pd.DataFrame
    not_applied: pd.DataFrame
    held: pd.DataFrame
    blocked: dict[Side, frozenset[str]]  # never matched or created in this plan


def canonical_payloads(intents: pd.DataFrame, pair: PairSpec) -> pd.DataFrame:
    """Open intents with each payload column in its field's canonical form (payloads recorded
    before canonical forms existed hold text), so they compare with side frames."""
    fields = [f for f in pair.fields if f.name in intents.columns]
    if intents.empty or not fields:
        return intents
    return intents.assign(**{f.name: canonical_values(intents[f.name], f.type) for f in fields})


def payload_keys(frame: pd.DataFrame, fields: tuple[str, ...]) -> pd.Series:
    """All mapped field values joined into one comparable key per row."""
    if not fields:
        return pd.Series([""] * len(frame), dtype="str", index=frame.index)
    blank = pd.Series([""] * len(frame), dtype="str", index=frame.index)
    parts = [to_arrow(normalize_values(frame[f] if f in frame.columns else blank)) for f in fields]
    return pd.Series(join_columns(parts), dtype="str", index=frame.index)


def _empty_adopted(fields: tuple[str, ...]) -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series([], dtype="str") for c in ("webcrm_id", "crmoffice_id")})
    frame["intent_id"] = pd.Series([], dtype="int64")
    for f in fields:
        frame[f] = pd.Series([], dtype="str")
    return frame


@dataclass
class _Acc:
    adopted: list[dict[str, object]]
    not_applied: list[dict[str, object]]
    held: list[dict[str, object]]
    retry: list[tuple[Side, str]]  # sources whose create made nothing: created again now


def _reconcile_group(
    group: pd.DataFrame,
    candidates: pd.DataFrame,
    direction: Direction,
    tolerance: pd.Timedelta,
    acc: _Acc,
) -> None:
    """One payload key: adopt in time order, close the surplus, or hold when ambiguous."""
    group = group.sort_values(["created_at", "intent_id"], kind="stable")
    earliest = group["created_at"].iloc[0] - tolerance
    cands = candidates[candidates["updated_at"] >= earliest].sort_values(
        ["updated_at", "id"], kind="stable"
    )
    source, target = SOURCE_SIDE[direction], TARGET_SIDE[direction]
    if len(cands) > len(group):
        why = (
            f"ambiguous intent: {len(cands)} unlinked {target} records match {len(group)} intent(s)"
        )
        acc.held += [{"side": source, "id": i, "reason": why} for i in group["source_id"]]
        acc.held += [{"side": target, "id": i, "reason": why} for i in cands["id"]]
        return
    intent: Any
    for k, intent in enumerate(group.itertuples(index=False)):
        if k < len(cands):
            ids = {source: str(intent.source_id), target: str(cands["id"].iloc[k])}
            acc.adopted.append(
                {
                    "webcrm_id": ids["webcrm"],
                    "crmoffice_id": ids["crmoffice"],
                    "intent_id": int(intent.intent_id),
                    "key": intent.key,
                }
            )
        else:
            acc.not_applied.append(
                _closure(
                    intent, direction, f"no unlinked {target} record holds the intent's values"
                )
            )
            acc.retry.append((source, str(intent.source_id)))


def _reconcile_direction(
    intents: pd.DataFrame,
    target: pd.DataFrame,
    fields: tuple[str, ...],
    direction: Direction,
    tolerance: pd.Timedelta,
    acc: _Acc,
) -> None:
    """Reconcile one direction's intents against its unlinked target records, per payload."""
    if intents.empty:
        return
    target = target.assign(key=payload_keys(target, fields))
    target = target[target["key"].isin(set(intents["key"]))]
    for key, group in intents.groupby("key", sort=True):
        _reconcile_group(group, target[target["key"] == key], direction, tolerance, acc)


def _closure(intent: Any, direction: Direction, reason: str) -> dict[str, object]:
    return {
        "intent_id": int(intent.intent_id),
        "direction": direction,
        "source_id": str(intent.source_id),
        "reason": reason,
    }


def reconcile_intents(
    intents: pd.DataFrame,
    fields: tuple[str, ...],
    free: dict[Side, pd.DataFrame],
    linked_sources: dict[Side, frozenset[str]],
    tolerance_seconds: float,
) -> IntentOutcome:
    """Adopt, close or hold every open intent (see module doc).

    `free[side]`: the unlinked side-frame records eligible as targets; `linked_sources[side]`:
    intent source ids on `side` that already have a link (their intent is stale: closed)."""
    acc = _Acc([], [], [], [])
    if intents.empty:
        return IntentOutcome(
            _empty_adopted(fields),
            intents_not_applied_frame(),
            held_frame(),
            {"webcrm": frozenset(), "crmoffice": frozenset()},
        )
    intents = intents.assign(
        key=payload_keys(intents, fields), source_id=intents["source_id"].astype("str")
    )
    blocked: dict[Side, set[str]] = {"webcrm": set(), "crmoffice": set()}
    for direction in DIRECTIONS:
        blocked[SOURCE_SIDE[direction]] |= set(
            intents.loc[intents["direction"] == direction, "source_id"]
        )
    tolerance = pd.Timedelta(seconds=tolerance_seconds)
    for direction in DIRECTIONS:
        mine = intents[intents["direction"] == direction]
        stale = mine["source_id"].isin(linked_sources[SOURCE_SIDE[direction]])
        acc.not_applied += [
            _closure(i, direction, "source already linked")
            for i in mine[stale].itertuples(index=False)
        ]
        target = free[TARGET_SIDE[direction]]
        target = target[~target["id"].isin(blocked[TARGET_SIDE[direction]])]
        _reconcile_direction(mine[~stale], target, fields, direction, tolerance, acc)
    return _outcome(acc, fields, blocked)


def _outcome(acc: _Acc, fields: tuple[str, ...], blocked: dict[Side, set[str]]) -> IntentOutcome:
    adopted = _empty_adopted(fields)
    if acc.adopted:
        raw = pd.DataFrame(acc.adopted)
        values = raw["key"].str.split(KEY_SEPARATOR, regex=False) if fields else None
        adopted = pd.DataFrame(
            {
                "webcrm_id": raw["webcrm_id"].astype("str"),
                "crmoffice_id": raw["crmoffice_id"].astype("str"),
                "intent_id": raw["intent_id"].astype("int64"),
            }
        )
        for i, f in enumerate(fields):
            assert values is not None
            adopted[f] = pd.Series([v[i] for v in values], dtype="str")
    for side, source_id in acc.retry:
        blocked[side].discard(source_id)
    for row in acc.adopted:
        blocked["webcrm"].add(str(row["webcrm_id"]))
        blocked["crmoffice"].add(str(row["crmoffice_id"]))
    for row in acc.held:
        blocked["webcrm" if row["side"] == "webcrm" else "crmoffice"].add(str(row["id"]))
    not_applied = intents_not_applied_frame(
        {
            k: [r[k] for r in acc.not_applied]
            for k in ("intent_id", "direction", "source_id", "reason")
        }
    )
    held = (
        held_frame({k: [r[k] for r in acc.held] for k in ("side", "id", "reason")})
        if acc.held
        else held_frame()
    )
    return IntentOutcome(adopted, not_applied, held, {s: frozenset(v) for s, v in blocked.items()})
