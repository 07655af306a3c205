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
    `sharing_holds`: CRMOffice ids the sharing pairs hold (never this pair's to take).
    """

    links: pd.DataFrame
    intents: pd.DataFrame
    given_up: pd.DataFrame
    linked_elsewhere: frozenset[str]
    sharing_intents: Mapping[str, pd.DataFrame]
    holds: pd.DataFrame = field(default_factory=pd.DataFrame)
    sharing_holds: frozenset[str] = frozenset()


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


def plan_inputs(
    connection: Connection,
    pair: str,
    fields: Sequence[str],
    crmoffice_entity: str,
    sharing: Mapping[str, Sequence[str]],
    ids: _reads.LinkIds | None = None,
) -> PlanInputs:
    """Everything the store holds for a plan of `pair`; `sharing` maps the other pairs on the
    same CRMOffice entity to their field names; `ids` (WebCRM ids, CRMOffice ids) limits the
    links to those holding one of them (a targeted run)."""
    open_of_others = {
        name: _to_crmoffice(_intents.open_intents(connection, name, names))
        for name, names in sharing.items()
    }
    return PlanInputs(
        links=_reads.links_frame(connection, pair, fields, None, ids),
        intents=_intents.open_intents(connection, pair, fields),
        given_up=_problems.failures_frame(connection, pair, "given_up"),
        linked_elsewhere=frozenset(_reads.linked_crmoffice_ids(connection, crmoffice_entity, pair)),
        sharing_intents=open_of_others,
        holds=_holds.holds_frame(connection, pair, _LIVE_HOLDS),
        sharing_holds=frozenset(
            record_id
            for name in sharing
            for side, record_id in _holds.holds_frame(connection, name, _LIVE_HOLDS)[
                ["side", "record_id"]
            ].itertuples(index=False)
            if side == "crmoffice"
        ),
    )


_LIVE_HOLDS = ("open", "link", "create", "ignore")


def _to_crmoffice(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["direction"] == "to_crmoffice"].reset_index(drop=True)
