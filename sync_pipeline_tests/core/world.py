"""A tiny in-memory model of both CRMs and the link store, to plan and apply against."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import cast

import pandas as pd

from sync_pipeline.core import (
    ConflictPolicy,
    PairPlan,
    PairSpec,
    canonical_values,
    plan_pair_sync,
    text_column,
)

T0 = datetime(2024, 9, 14, 8, 0, tzinfo=UTC)


def with_policy(pair: PairSpec, policy: ConflictPolicy) -> PairSpec:
    """`pair` with `policy` declared on the pair and on every field."""
    fields = tuple(replace(f, conflict=policy) for f in pair.fields)
    return replace(pair, conflict=policy, fields=fields)


@dataclass
class Record:
    """One record: field values and its update time."""

    values: dict[str, str]
    updated_at: datetime


@dataclass
class World:
    """Both systems' records, the links with their shadows, and open intents."""

    pair: PairSpec
    webcrm: dict[str, Record] = field(default_factory=dict)
    crmoffice: dict[str, Record] = field(default_factory=dict)
    links: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    orphaned: set[tuple[str, str]] = field(default_factory=set)
    intents: list[dict[str, object]] = field(default_factory=list)
    clock: datetime = T0
    next_id: int = 1000
    created: list[tuple[str, str]] = field(default_factory=list)
    # Most worlds are about other rules: a create needs nothing beyond its fields unless a
    # test asks for the target's requirements (WebCRM persons: last name, organisation).
    require_create_values: bool = False

    def __post_init__(self) -> None:
        if not self.require_create_values:
            self.pair = replace(self.pair, create_requires={})

    def tick(self, seconds: int = 1) -> datetime:
        """Advance the clock."""
        self.clock += timedelta(seconds=seconds)
        return self.clock

    def put(self, side: str, record_id: str, **values: str) -> None:
        """Create or edit a record on `side` (unnamed fields keep their value or are "")."""
        records = self.webcrm if side == "webcrm" else self.crmoffice
        old = records.get(record_id)
        merged = {f: "" for f in self.pair.field_names} | (old.values if old else {}) | values
        records[record_id] = Record(merged, self.tick())

    def canonical(self, values: dict[str, str]) -> dict[str, str]:
        """Each field's canonical form (what the shadow stores)."""
        types = {f.name: f.type for f in self.pair.fields}
        return {
            f: str(canonical_values(pd.Series([v], dtype="str"), types[f]).iloc[0])
            for f, v in values.items()
        }

    def link(self, webcrm_id: str, crmoffice_id: str) -> None:
        """Link two records whose values already agree (shadow = the webcrm values)."""
        self.links[webcrm_id, crmoffice_id] = self.canonical(self.webcrm[webcrm_id].values)

    def side_frame(self, side: str) -> pd.DataFrame:
        """The valid side frame as prepare_side would produce it: canonical values, texts."""
        records = self.webcrm if side == "webcrm" else self.crmoffice
        columns: dict[str, object] = {
            "id": pd.Series(list(records), dtype="str"),
            "updated_at": pd.Series(
                [r.updated_at for r in records.values()], dtype="datetime64[ns, UTC]"
            ),
        }
        texts = {}
        for f in self.pair.fields:
            text = pd.Series([r.values[f.name] for r in records.values()], dtype="str")
            columns[f.name] = canonical_values(text, f.type)
            texts[text_column(f.name)] = text
        return pd.DataFrame(columns | texts)

    def links_frame(self) -> pd.DataFrame:
        """The link store's links frame for the pair."""
        keys = list(self.links)
        columns: dict[str, object] = {
            "webcrm_id": pd.Series([k[0] for k in keys], dtype="str"),
            "crmoffice_id": pd.Series([k[1] for k in keys], dtype="str"),
            "status": pd.Series(
                ["orphaned" if k in self.orphaned else "active" for k in keys], dtype="str"
            ),
            "synced_at": pd.Series([T0] * len(keys), dtype="datetime64[ns, UTC]"),
        }
        for f in self.pair.field_names:
            # NA where the shadow does not hold the field, as the store reads it
            columns[f] = pd.Series([self.links[k].get(f) for k in keys], dtype="str")
        return pd.DataFrame(columns)

    def intents_frame(self) -> pd.DataFrame:
        """Open intents as the store returns them."""
        frame = pd.DataFrame(
            {
                "intent_id": pd.Series([i["intent_id"] for i in self.intents], dtype="int64"),
                "direction": pd.Series([i["direction"] for i in self.intents], dtype="str"),
                "source_id": pd.Series([i["source_id"] for i in self.intents], dtype="str"),
                "created_at": pd.Series(
                    [i["created_at"] for i in self.intents], dtype="datetime64[ns, UTC]"
                ),
            }
        )
        for f in self.pair.field_names:
            # why the ignore below: intent payloads are dicts of field values
            frame[f] = pd.Series([i["payload"][f] for i in self.intents], dtype="str")  # type: ignore[index]
        return frame

    def plan(
        self, *, complete: bool = True, policy: ConflictPolicy | None = None, **kwargs: object
    ) -> PairPlan:
        """Plan a sync of the current state (`policy`: for every field instead of the map's)."""
        return plan_pair_sync(
            self.pair if policy is None else with_policy(self.pair, policy),
            self.side_frame("webcrm"),
            self.side_frame("crmoffice"),
            self.links_frame(),
            self.intents_frame(),
            complete=complete,
            now=self.clock,
            # why the ignore below: keyword overrides of plan_pair_sync's mixed-type options
            **kwargs,  # type: ignore[arg-type]
        )

    def apply(self, plan: PairPlan, *, crash_after_create: bool = False) -> None:
        """Apply a plan as the sink would: links, closures, orphans, updates, then creates."""
        for row in plan.links.to_dict("records"):
            key = (str(row["webcrm_id"]), str(row["crmoffice_id"]))
            shadow = {f: row[f] for f in self.pair.field_names if isinstance(row[f], str)}
            self.links.setdefault(key, {}).update(shadow)
            if row["action"] == "adopt":
                self.intents = [i for i in self.intents if i["intent_id"] != int(row["intent_id"])]
        closed = set(plan.intents_not_applied["intent_id"].tolist())
        self.intents = [i for i in self.intents if i["intent_id"] not in closed]
        for row in plan.orphans.to_dict("records"):
            self.orphaned.add((str(row["webcrm_id"]), str(row["crmoffice_id"])))
        for direction, frame in plan.updates.items():
            for row in frame.to_dict("records"):
                self._update(direction, {str(k): v for k, v in row.items()})
        for direction, frame in plan.creates.items():
            for row in frame.to_dict("records"):
                self._create(direction, {str(k): v for k, v in row.items()}, crash_after_create)

    def _update(self, direction: str, row: dict[str, object]) -> None:
        key = (str(row["webcrm_id"]), str(row["crmoffice_id"]))
        target = self.crmoffice if direction == "to_crmoffice" else self.webcrm
        record = target[key[1] if direction == "to_crmoffice" else key[0]]
        changed = cast(tuple[str, ...], row["changed"])  # a plan's `changed` cell is a tuple
        record.values.update({f: str(row[text_column(f)]) for f in changed})
        record.updated_at = self.tick()
        self.links[key].update({f: str(row[f]) for f in changed})

    def _create(self, direction: str, row: dict[str, object], crash: bool) -> None:
        values = {f: str(row[text_column(f)]) for f in self.pair.field_names}
        shadow = {f: str(row[f]) for f in self.pair.field_names}
        self.next_id += 1
        intent = {
            "intent_id": self.next_id,
            "direction": direction,
            "source_id": str(row["source_id"]),
            "created_at": self.clock,
            "payload": shadow,
        }
        self.intents.append(intent)
        new_id = f"{'c' if direction == 'to_crmoffice' else ''}{self.next_id}"
        self.put("crmoffice" if direction == "to_crmoffice" else "webcrm", new_id, **values)
        pair = (
            (str(row["source_id"]), new_id)
            if direction == "to_crmoffice"
            else (new_id, str(row["source_id"]))
        )
        self.created.append(pair)
        if not crash:
            self.links[pair] = shadow
            self.intents.remove(intent)

    def disagreements(self) -> list[tuple[str, str, str]]:
        """(webcrm_id, crmoffice_id, field) where a live link's two records differ."""
        out = []
        for w, c in self.links:
            if (w, c) in self.orphaned or w not in self.webcrm or c not in self.crmoffice:
                continue
            web, crm = (
                self.canonical(self.webcrm[w].values),
                self.canonical(self.crmoffice[c].values),
            )
            out += [(w, c, f) for f in self.pair.field_names if web[f] != crm[f]]
        return out
