"""The store's holds for one plan, and what the plan holds for the store to keep.

Read side (`standing_holds`): holds not yet done become the plan's `StandingHolds`, and each
held record's stored values become a row of its side frame when the run's window did not read
it — the candidate index that lets an incremental plan weigh every unlinked record of the
other side without reading that system in full (an unlinked record outlives a run only when it
is held: anything else unlinked is created or linked by the run, or read again because its
failed write holds the cursor). Write side (`holds_to_keep`): the plan's ambiguous matches
with their values, and the holds of records linked since (settled).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from sync_pipeline.core import SIDES, PairPlan, Side, StandingHolds
from sync_pipeline.store import HoldWrite

# Only these kinds are kept in the store; the others are re-derived by every plan.
KEPT_KINDS = frozenset({"ambiguous_match"})


@dataclass(frozen=True)
class HoldsRead:
    """What the store's holds mean for a plan: the standing holds, the held records' stored
    rows per side, and the (side, id) of holds whose record is linked by now."""

    standing: StandingHolds
    rows: Mapping[Side, pd.DataFrame]
    settled: tuple[tuple[str, str], ...]


def _ids(frame: pd.DataFrame) -> dict[Side, frozenset[str]]:
    return {s: frozenset(frame.loc[frame["side"] == s, "record_id"].astype("str")) for s in SIDES}


def _rows(holds: pd.DataFrame, side: Side, fields: Sequence[str]) -> pd.DataFrame:
    mine = holds[holds["side"] == side]
    payloads = [json.loads(text or "{}") for text in mine["payload"]]
    when = mine["record_updated_at"].fillna(mine["since"])
    frame = pd.DataFrame(
        {"id": mine["record_id"].astype("str").to_numpy(), "updated_at": when.to_numpy()}
    )
    frame["updated_at"] = frame["updated_at"].astype("datetime64[ns, UTC]")
    for f in fields:
        frame[f] = pd.Series([str(p.get(f, "")) for p in payloads], dtype="str")
    return frame


def standing_holds(holds: pd.DataFrame, links: pd.DataFrame, fields: Sequence[str]) -> HoldsRead:
    """`holds`: the pair's holds not done (`LinkStore.holds_frame`); `links`: its links."""
    if holds.empty:
        empty = pd.DataFrame({"id": pd.Series([], dtype="str")})
        return HoldsRead(StandingHolds(), {"webcrm": empty, "crmoffice": empty}, ())
    linked = {"webcrm": set(links["webcrm_id"]), "crmoffice": set(links["crmoffice_id"])}
    done = holds.apply(lambda h: h["record_id"] in linked[h["side"]], axis=1).astype(bool)
    settled = tuple((str(s), str(i)) for s, i in holds.loc[done, ["side", "record_id"]].values)
    live = holds[~done]
    approved = live[live["status"] == "link"]
    # The other side's record of an approved link is linked by this plan, not held by it.
    promised = {
        ("crmoffice" if side == "webcrm" else "webcrm", str(other))
        for side, other in approved[["side", "other_id"]].itertuples(index=False)
    }
    keys = zip(live["side"], live["record_id"], strict=True)
    open_ = live[(live["status"] == "open").to_numpy() & [k not in promised for k in keys]]
    held = pd.DataFrame(
        {
            "side": open_["side"].astype("str").to_numpy(),
            "id": open_["record_id"].astype("str").to_numpy(),
            "reason": open_["reason"].astype("str").to_numpy(),
            "kind": open_["kind"].astype("str").to_numpy(),
        }
    ).astype("str")
    on_web = approved["side"] == "webcrm"
    pairs = pd.DataFrame(
        {
            "webcrm_id": approved["record_id"].where(on_web, approved["other_id"]).to_numpy(),
            "crmoffice_id": approved["other_id"].where(on_web, approved["record_id"]).to_numpy(),
        }
    ).astype("str")
    standing = StandingHolds(
        held=held,
        links=pairs,
        creates=_ids(live[live["status"] == "create"]),
        ignored=_ids(live[live["status"] == "ignore"]),
    )
    rows: dict[Side, pd.DataFrame] = {s: _rows(live, s, fields) for s in SIDES}
    return HoldsRead(standing, rows, settled)


def with_held_rows(frame: pd.DataFrame, stored: pd.DataFrame) -> pd.DataFrame:
    """The side frame plus the stored rows of held records the window did not read."""
    extra = stored[~stored["id"].isin(frame["id"])]
    if extra.empty:
        return frame
    for name in frame.columns.difference(extra.columns):  # columns a payload does not keep
        extra = extra.assign(**{name: pd.Series([""] * len(extra), dtype="str", index=extra.index)})
    return pd.concat([frame, extra[list(frame.columns)]], ignore_index=True)


def holds_to_keep(
    plan: PairPlan, frames: Mapping[Side, pd.DataFrame], read: HoldsRead
) -> tuple[tuple[HoldWrite, ...], tuple[tuple[str, str], ...]]:
    """The plan's holds of kept kinds with their values, and the (side, id) holds settled:
    records linked since, or matched/adopted by this plan."""
    kept = plan.held[plan.held["kind"].isin(KEPT_KINDS)]
    writes: list[HoldWrite] = []
    for side in SIDES:
        mine = kept[kept["side"] == side]
        frame = frames[side]
        rows = frame[frame["id"].isin(mine["id"])].drop_duplicates("id").set_index("id")
        for record_id, reason, kind in mine[["id", "reason", "kind"]].itertuples(index=False):
            if record_id not in rows.index:
                continue
            row = rows.loc[record_id]
            values = {f: str(row[f]) for f in plan.fields}
            when = row["updated_at"]
            at = None if pd.isna(when) else when.to_pydatetime()
            writes.append(HoldWrite(side, str(record_id), str(kind), str(reason), values, at))
    new = plan.links[plan.links["action"].isin(["match", "adopt"])]
    linked = [("webcrm", str(i)) for i in new["webcrm_id"]]
    linked += [("crmoffice", str(i)) for i in new["crmoffice_id"]]
    return tuple(writes), (*read.settled, *linked)
