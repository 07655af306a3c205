"""Random edits over both CRMs on linked records, and what each must have become at the end.

Each edit targets its own (link, field), so only the deliberate conflicts interact: there both
sides of one field change before a sync, the second edit 1.5 s later, and the policy decides
(a non-empty value beats an empty one; otherwise the more recently updated record wins).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

from sync_pipeline.core import PairSpec
from sync_pipeline.sandbox.server import RunningSandbox
from sync_pipeline.store import LinkStore
from sync_pipeline_tests.reliability.checks import FIELD_MAP, norm, same_value

NAMES = ["Åse", "Bjørn", "Søren", "Kari", "Ærlig", "Ola", "Mette", "Øystein", "Ida", "Jens"]
PHONES = ["+45 20 30 40 50", "+47 915 26 450", "+45 33 12 34 56", "22 33 44 55", "(0045) 70 10"]
# The second edit of a conflict must be newer beyond doubt: each system's clock offset is known
# to its `Date` header's one second, and WebCRM stamps whole seconds, so edits closer than about
# 2 s are a tie (`clock_tie`, the policy's side wins) by design (issue 9 kind 6).
CONFLICT_GAP = 3.5
MAX_SHARE = 0.19


@dataclass(frozen=True)
class Target:
    """One field of one link."""

    pair: str
    webcrm_id: str
    crmoffice_id: str
    field: str


@dataclass(frozen=True)
class Edit:
    """A value set on one side of a target."""

    target: Target
    side: str
    value: str


def pick_targets(
    store: LinkStore, count: int, rng: random.Random, users_share: float = 0.04
) -> list[Target]:
    """Distinct (link, field) targets over the pairs with fields, skipping quarantined records.

    Each pair gets fewer edits than MAX_SHARE of its links: more would (rightly) trip the
    mass-change breaker, which is not what this part measures.
    """
    bad = set(store.quarantine_frame()["record_id"].astype(str))
    targets: list[Target] = []
    for pair in ("users_contacts", "persons_contacts"):
        spec = FIELD_MAP.pairs[pair]
        links = store.links_frame(pair, list(spec.field_names))
        ids = [
            (str(w), str(c))
            for w, c in zip(links["webcrm_id"], links["crmoffice_id"], strict=True)
            if str(w) not in bad and str(c) not in bad
        ]
        rng.shuffle(ids)
        want = round(count * users_share) if pair == "users_contacts" else count - len(targets)
        want = min(want, int(len(links) * MAX_SHARE))
        targets += [Target(pair, w, c, rng.choice(spec.field_names)) for w, c in ids[:want]]
    return targets


def new_value(spec: PairSpec, field: str, rng: random.Random) -> str:
    """A valid value for the field, empty one time in ten (clears must propagate)."""
    if rng.random() < 0.1:
        return ""
    kind = next(f.type for f in spec.fields if f.name == field)
    if kind == "phone":
        return f"{rng.choice(PHONES)} {rng.randrange(10, 99)}"
    return f"{rng.choice(NAMES)}-{rng.randrange(1000)}"


def apply_edit(sandbox: RunningSandbox, edit: Edit) -> None:
    """Make the edit as a user in that CRM's UI would."""
    spec = FIELD_MAP.pairs[edit.target.pair]
    prop = next(f for f in spec.fields if f.name == edit.target.field)
    if edit.side == "webcrm":
        sandbox.webcrm.edit(
            spec.webcrm_entity, int(edit.target.webcrm_id), {prop.webcrm: edit.value}
        )
    else:
        body = {prop.crmoffice: edit.value or None}
        sandbox.crmoffice.edit(spec.crmoffice_entity, edit.target.crmoffice_id, body)


def make_edits(
    sandbox: RunningSandbox, targets: list[Target], rng: random.Random, conflicts: int
) -> dict[Target, str]:
    """Edit every target (the first `conflicts` on both sides); the value each must end with."""
    firsts: list[Edit] = []
    seconds: list[Edit] = []
    for i, target in enumerate(targets):
        spec = FIELD_MAP.pairs[target.pair]
        side = rng.choice(["webcrm", "crmoffice"])
        firsts.append(Edit(target, side, new_value(spec, target.field, rng)))
        if i < conflicts:
            other = "crmoffice" if side == "webcrm" else "webcrm"
            seconds.append(Edit(target, other, new_value(spec, target.field, rng)))
    for edit in firsts:
        apply_edit(sandbox, edit)
    if seconds:
        time.sleep(CONFLICT_GAP)  # the second edit is the newer one, beyond the clocks' doubt
    for edit in seconds:
        apply_edit(sandbox, edit)
    return {e.target: _winner(e, seconds) for e in firsts}


def _winner(first: Edit, seconds: list[Edit]) -> str:
    second = next((s for s in seconds if s.target == first.target), None)
    if second is None:
        return first.value
    if (first.value.strip() == "") != (second.value.strip() == ""):
        return first.value if first.value.strip() else second.value
    return second.value


def count_lost_updates(
    sandbox: RunningSandbox, expected: dict[Target, str]
) -> tuple[int, list[str]]:
    """Targets whose final value on either side is not the value the edits must leave."""
    lost: list[str] = []
    for target, value in expected.items():
        spec = FIELD_MAP.pairs[target.pair]
        prop = next(f for f in spec.fields if f.name == target.field)
        web = sandbox.webcrm.get(spec.webcrm_entity, int(target.webcrm_id)) or {}
        crm = sandbox.crmoffice.get(spec.crmoffice_entity, target.crmoffice_id) or {}
        got = (norm(web.get(prop.webcrm)), norm(crm.get(prop.crmoffice)))
        if not all(same_value(side, value, prop.type) for side in got):
            lost.append(f"{target}: expected {value!r}, have {got}")
    return len(lost), lost[:10]


def record_of(sandbox: RunningSandbox, system: str, entity: str, record_id: str) -> dict[str, Any]:
    """One record by id from either CRM ({} if missing)."""
    if system == "webcrm":
        return sandbox.webcrm.get(entity, int(record_id)) or {}
    return sandbox.crmoffice.get(entity, record_id) or {}
