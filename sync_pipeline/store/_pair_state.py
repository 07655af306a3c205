"""What one run of one pair reads from the store, each in one transaction.

`pair_state` is read before a run's snapshots: the pair's basis (newest history entry and
intent), its cursors and its link count. `plan_inputs` is everything a plan needs, read as one
consistent snapshot. `writes_since` tells a sink step whether another run wrote to the pair
after the basis (its own earlier steps do not count).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, func, select

from sync_pipeline.store import _holds, _intents, _problems, _reads
from sync_pipeline.store._schema import history, intents


@dataclass(frozen=True, order=True)
class PairBasis:
    """The pair's store state a plan is made from: its newest history id and intent id."""

    history_id: int = 0
    intent_id: int = 0

    def describe(self) -> str:
        """One line for error messages."""
        return f"history {self.history_id}, intent {self.intent_id}"


@dataclass(frozen=True)
class PairState:
    """Read before a run's snapshots: basis, cursors (by `<side>/<entity>`), active links."""

    basis: PairBasis
    cursors: Mapping[str, datetime | None]
    linked: int


@dataclass(frozen=True)
class PlanInputs:
    """The store's side of a plan, read in one transaction (frames as `LinkStore` returns).

    `links`: every link of the pair (any status); `intents`: the pair's open intents;
    `given_up`: failures given up on; `linked_elsewhere`: CRMOffice ids of the entity linked
    by other pairs; `sharing_intents`: open `to_crmoffice` intents of the sharing pairs;
    `holds`: the pair's holds not yet done (open, or answered and waiting for this run);
    `sharing_holds`: CRMOffice ids the sharing pairs hold (never this pair's to take);
    `links_complete`: False when `links` holds only some of the pair's links (`plan_inputs`).
    """

    links: pd.DataFrame
    intents: pd.DataFrame
    given_up: pd.DataFrame
    linked_elsewhere: frozenset[str]
    sharing_intents: Mapping[str, pd.DataFrame]
    holds: pd.DataFrame = field(default_factory=pd.DataFrame)
    sharing_holds: frozenset[str] = frozenset()
    links_complete: bool = True


def pair_state(connection: Connection, pair: str, cursor_names: Sequence[str]) -> PairState:
    """The pair's basis, the named cursors (`<side>/<entity>`) and its active link count."""
    newest_history = select(func.max(history.c.id)).where(history.c.pair == pair)
    newest_intent = select(func.max(intents.c.id)).where(intents.c.pair == pair)
    basis = PairBasis(
        int(connection.execute(newest_history).scalar_one() or 0),
        int(connection.execute(newest_intent).scalar_one() or 0),
    )
    cursors = {name: _intents.get_cursor(connection, pair, name) for name in cursor_names}
    return PairState(basis, cursors, _reads.count_links(connection, pair, "active"))


def writes_since(connection: Connection, pair: str, basis: PairBasis, run_id: str) -> int:
    """History entries and intents other runs added to the pair after `basis`."""
    foreign_history = select(func.count()).where(
        history.c.pair == pair, history.c.id > basis.history_id, history.c.run_id != run_id
    )
    foreign_intents = select(func.count()).where(
        intents.c.pair == pair, intents.c.id > basis.intent_id, intents.c.run_id != run_id
    )
    return int(connection.execute(foreign_history).scalar_one()) + int(
        connection.execute(foreign_intents).scalar_one()
    )


# A plan scoped to some ids reads their links by an indexed lookup; past this many ids (the
# scope plus the ids the pair's holds and intents name), one scan of the pair's links is cheaper.
SCOPE_MAX_IDS = 2_000


def plan_inputs(
    connection: Connection,
    pair: str,
    fields: Sequence[str],
    crmoffice_entity: str,
    sharing: Mapping[str, Sequence[str]],
    ids: _reads.LinkIds | None = None,
    *,
    scope: _reads.LinkIds | None = None,
) -> PlanInputs:
    """Everything the store holds for a plan of `pair`; `sharing` maps the other pairs on the
    same CRMOffice entity to their field names.

    `ids` (WebCRM ids, CRMOffice ids): a targeted run's records; `links` holds exactly the
    links holding one of them. `scope` (same shape): the records a partial (incremental or
    window) read saw; `links` holds their links and those of the records the pair's holds and
    open intents name, which is every link such a plan can touch, without reading the whole
    table, and `linked_elsewhere` only the CRMOffice ids among them; past `SCOPE_MAX_IDS` ids
    in all, every link.
    """
    open_of_others = {
        name: _to_crmoffice(_intents.open_intents(connection, name, names))
        for name, names in sharing.items()
    }
    pair_holds = _holds.holds_frame(connection, pair, _LIVE_HOLDS)
    pair_intents = _intents.open_intents(connection, pair, fields)
    linked_elsewhere: set[str] | None = None
    if ids is None:
        ids = _widened(scope, pair_holds, pair_intents)
        if ids is not None:
            linked_elsewhere = _reads.linked_elsewhere_among(
                connection, crmoffice_entity, pair, ids[1]
            )
    if linked_elsewhere is None:
        linked_elsewhere = _reads.linked_crmoffice_ids(connection, crmoffice_entity, pair)
    return PlanInputs(
        links=_reads.links_frame(connection, pair, fields, None, ids),
        intents=pair_intents,
        given_up=_problems.failures_frame(connection, pair, "given_up"),
        linked_elsewhere=frozenset(linked_elsewhere),
        sharing_intents=open_of_others,
        holds=pair_holds,
        sharing_holds=frozenset(
            record_id
            for name in sharing
            for side, record_id in _holds.holds_frame(connection, name, _LIVE_HOLDS)[
                ["side", "record_id"]
            ].itertuples(index=False)
            if side == "crmoffice"
        ),
        links_complete=ids is None,
    )


def _widened(
    scope: _reads.LinkIds | None, pair_holds: pd.DataFrame, pair_intents: pd.DataFrame
) -> _reads.LinkIds | None:
    """`scope` plus every record the holds (either record of a hold) and the open intents
    (their source, on whichever side) name; None for every link (no scope, or too many)."""
    if scope is None:
        return None
    named: set[str] = set()
    for frame, columns in ((pair_holds, ("record_id", "other_id")), (pair_intents, ("source_id",))):
        for column in columns:
            if column in frame:
                named |= {str(i) for i in frame[column].dropna() if str(i)}
    webcrm = set(map(str, scope[0])) | named
    crmoffice = set(map(str, scope[1])) | named
    if len(webcrm) + len(crmoffice) > SCOPE_MAX_IDS:
        return None
    return sorted(webcrm), sorted(crmoffice)


_LIVE_HOLDS = ("open", "link", "create", "ignore")


def _to_crmoffice(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["direction"] == "to_crmoffice"].reset_index(drop=True)
