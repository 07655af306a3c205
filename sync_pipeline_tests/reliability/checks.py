"""What the figures count, read from both CRMs and the link store at the end of a part.

- duplicates: a record the sync created that no link holds (the second copy of a create),
  a record linked twice within a pair, or a contact linked by two pairs.
- mismatched_fields: a mapped field whose canonical values (DESIGN section 2: phone `+` and
  digits, string NFC with Unicode whitespace folded) differ across an active link; each side
  may keep its own formatting of one value.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sync_pipeline.core import FieldMap, canonical_values, load_field_map
from sync_pipeline.core.fieldmap import FieldType
from sync_pipeline.sandbox.server import RunningSandbox
from sync_pipeline.store import LinkStore

FIELD_MAP = load_field_map()


def norm(value: Any) -> str:
    """Empty is one value; surrounding whitespace does not count."""
    return "" if value is None else str(value).strip()


def same_value(a: Any, b: Any, type_: FieldType) -> bool:
    """Whether two systems' values of one field are one value (canonical forms equal)."""
    canonical = canonical_values(pd.Series([norm(a), norm(b)], dtype="str"), type_)
    return bool(canonical.iloc[0] == canonical.iloc[1])


@dataclass(frozen=True)
class Inventory:
    """Record ids that existed before the sync (or that the test itself inserted)."""

    webcrm: dict[str, set[str]]
    crmoffice: dict[str, set[str]]

    @classmethod
    def take(cls, sandbox: RunningSandbox, field_map: FieldMap = FIELD_MAP) -> Inventory:
        """Every record id in both CRMs now."""
        return cls(
            {e: set(_ids(sandbox, "webcrm", e, field_map)) for e in field_map.entities["webcrm"]},
            {
                e: set(_ids(sandbox, "crmoffice", e, field_map))
                for e in field_map.entities["crmoffice"]
            },
        )

    def add(self, system: str, entity: str, record_id: str) -> None:
        """Remember a record the test made (not the sync)."""
        (self.webcrm if system == "webcrm" else self.crmoffice)[entity].add(str(record_id))


def _ids(sandbox: RunningSandbox, system: str, entity: str, field_map: FieldMap) -> list[str]:
    # why the ignore below: `system` is a Side literal read from a loop over plain strings
    id_field = field_map.entities[system][entity].id  # type: ignore[index]
    state = sandbox.webcrm if system == "webcrm" else sandbox.crmoffice
    return [str(r[id_field]) for r in state.records(entity)]


def _links(store: LinkStore, field_map: FieldMap) -> dict[str, Any]:
    return {
        pair: store.links_frame(pair, list(spec.field_names), status=None)
        for pair, spec in field_map.pairs.items()
    }


def count_duplicates(
    sandbox: RunningSandbox, store: LinkStore, before: Inventory, field_map: FieldMap = FIELD_MAP
) -> tuple[int, list[str]]:
    """How many duplicate records exist, with a few samples."""
    links = _links(store, field_map)
    samples: list[str] = []
    linked: dict[tuple[str, str], set[str]] = {}
    for pair, frame in links.items():
        spec = field_map.pairs[pair]
        for side, entity in (("webcrm", spec.webcrm_entity), ("crmoffice", spec.crmoffice_entity)):
            ids = frame[f"{side}_id"].astype(str)
            linked.setdefault((side, entity), set()).update(ids)
            samples += [
                f"{pair}: {side} {i} linked twice" for i, n in Counter(ids).items() if n > 1
            ]
    shared = Counter(
        str(i)
        for pair, frame in links.items()
        if field_map.pairs[pair].crmoffice_entity == "contacts"
        for i in frame["crmoffice_id"]
    )
    samples += [f"contact {i} linked by two pairs" for i, n in shared.items() if n > 1]
    now = Inventory.take(sandbox, field_map)
    for system, entities in (("webcrm", now.webcrm), ("crmoffice", now.crmoffice)):
        old = before.webcrm if system == "webcrm" else before.crmoffice
        for entity, ids in entities.items():
            made = ids - old.get(entity, set())
            stray = sorted(made - linked.get((system, entity), set()))
            samples += [
                f"{system} {entity} {i} created by the sync but linked to nothing" for i in stray
            ]
    return len(samples), samples[:10]


def count_mismatches(
    sandbox: RunningSandbox,
    store: LinkStore,
    field_map: FieldMap = FIELD_MAP,
    skip: frozenset[str] = frozenset(),
) -> tuple[int, list[str]]:
    """Mapped fields that differ across an active link (records in `skip` are left out)."""
    samples: list[str] = []
    for pair, spec in field_map.pairs.items():
        frame = store.links_frame(pair, list(spec.field_names))
        web = _by_id(sandbox, "webcrm", spec.webcrm_entity, field_map)
        crm = _by_id(sandbox, "crmoffice", spec.crmoffice_entity, field_map)
        for w, c in zip(
            frame["webcrm_id"].astype(str), frame["crmoffice_id"].astype(str), strict=True
        ):
            if w in skip or c in skip or w not in web or c not in crm:
                continue
            for f in spec.fields:
                if not same_value(web[w].get(f.webcrm), crm[c].get(f.crmoffice), f.type):
                    samples.append(
                        f"{pair} {w}/{c} {f.name}: {web[w].get(f.webcrm)!r} vs "
                        f"{crm[c].get(f.crmoffice)!r}"
                    )
    return len(samples), samples[:10]


def _by_id(
    sandbox: RunningSandbox, system: str, entity: str, field_map: FieldMap
) -> dict[str, dict[str, Any]]:
    # why the ignore below: `system` is a Side literal read from a loop over plain strings
    id_field = field_map.entities[system][entity].id  # type: ignore[index]
    state = sandbox.webcrm if system == "webcrm" else sandbox.crmoffice
    return {str(r[id_field]): r for r in state.records(entity)}


def integrity_problems(store: LinkStore, field_map: FieldMap = FIELD_MAP) -> list[str]:
    """What `LinkStore.check` finds wrong (stale intents or locks count only as notes there)."""
    pairs = {name: (p.webcrm_entity, p.crmoffice_entity) for name, p in field_map.pairs.items()}
    return list(store.check(pairs=pairs).problems)
