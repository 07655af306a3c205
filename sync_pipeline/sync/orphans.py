"""Orphans, confirmed before they are marked, and orphaned links seen again (DESIGN.md section 2,
"Deletes"; issue 9, kind 3).

The pure plan proposes orphans from complete reads only: a linked record missing from its
side's full list. A list can still leave out a live record while adding up (a lagging index, a
server that counts what it serves), so each would-be orphan is confirmed by a GET by id of its
missing record(s) before the plan keeps it: 404 (or 410) confirms it gone; a record found, or
any other answer, keeps the link active. At most `MAX_LOOKUPS` records per side are looked up
per run (in id order): the rest stay candidates for the next full run, and that many orphans at
once trips the mass-change breaker anyway.

An orphaned link both of whose records this run read (valid or quarantined) is active again:
the plan diffs it as any other link, and the links step marks it active before the writes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, replace
from typing import Any, Protocol

import pandas as pd

from sync_pipeline.clients import CrmClientError, RecordRejectedError
from sync_pipeline.core import SIDES, PairPlan, PairSpec, Side

MAX_LOOKUPS = 100
GONE_STATUSES = frozenset({404, 410})
_MISSING = {"webcrm": ("webcrm", "both"), "crmoffice": ("crmoffice", "both")}


class RecordLookup(Protocol):
    """The part of a client that reads one record by id (`WebcrmClient`, `CrmofficeClient`)."""

    def get(self, entity: str, record_id: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class OrphanCheck:
    """What confirming a plan's orphans found: `candidates` (links the read proposed),
    `confirmed` (kept: a record gone by its GET), `found` (records a GET found alive: the
    list missed them), `unchecked` (over `MAX_LOOKUPS`, or the GET failed: left active)."""

    candidates: int = 0
    confirmed: int = 0
    found: tuple[str, ...] = ()
    unchecked: int = 0


def confirm_orphans(
    plan: PairPlan,
    pair: PairSpec,
    lookups: Mapping[Side, RecordLookup] | None,
    limit: int = MAX_LOOKUPS,
) -> tuple[PairPlan, OrphanCheck]:
    """`plan` keeping only the orphans whose missing record(s) a GET by id confirms gone.

    Without `lookups` nothing can be confirmed, so no link is orphaned.
    """
    orphans = plan.orphans
    if orphans.empty:
        return plan, OrphanCheck()
    gone: dict[Side, set[str]] = {}
    found: list[str] = []
    unchecked = 0
    for side in SIDES:
        ids = sorted(set(orphans.loc[orphans["missing_side"].isin(_MISSING[side]), f"{side}_id"]))
        lookup = None if lookups is None else lookups.get(side)
        answers = {i: _gone(lookup, pair.entity(side), i) for i in ids[:limit]}
        gone[side] = {i for i, answer in answers.items() if answer is True}
        found += [i for i, answer in answers.items() if answer is False]
        unchecked += len(ids) - len(answers) + sum(a is None for a in answers.values())
    kept = _missing_sides(orphans, gone["webcrm"], gone["crmoffice"])
    check = OrphanCheck(len(orphans), len(kept), tuple(found), unchecked)
    return replace(plan, orphans=kept), check


@dataclass(frozen=True)
class ReadById:
    """What `read_by_id` found: the records, the ids the API says do not exist (404/410), and
    the ids it refused for good (another 4xx) with its one-line answer."""

    records: list[dict[str, Any]]
    gone: list[str]
    refused: dict[str, str]


def read_by_id(
    lookup: RecordLookup, entity: str, ids: Sequence[str], *, keep_refused: bool = False
) -> ReadById:
    """One `GET /{entity}/{id}` per distinct id, in order. A 404/410 is `gone`; a refusal for
    good (`RecordRejectedError`) is `refused` with `keep_refused`, else raised at once. Any
    other failure (transport, 5xx or 429 through every retry, credentials) raises
    `CrmClientError`."""
    records: list[dict[str, Any]] = []
    gone: list[str] = []
    refused: dict[str, str] = {}
    for record_id in dict.fromkeys(str(i) for i in ids):
        try:
            records.append(lookup.get(entity, record_id))
        except CrmClientError as error:
            if error.status in GONE_STATUSES:
                gone.append(record_id)
            elif keep_refused and isinstance(error, RecordRejectedError):
                refused[record_id] = str(error)
            else:
                raise
    return ReadById(records, gone, refused)


def _gone(lookup: RecordLookup | None, entity: str, record_id: str) -> bool | None:
    """True: the API says the record does not exist; False: it answered with it; None: no
    answer either way."""
    if lookup is None:
        return None
    try:
        lookup.get(entity, record_id)
    except CrmClientError as error:
        return True if error.status in GONE_STATUSES else None
    return False


def _missing_sides(orphans: pd.DataFrame, gone_w: Set[str], gone_c: Set[str]) -> pd.DataFrame:
    """The orphan rows with a confirmed missing record, `missing_side` saying which."""
    web = orphans["missing_side"].isin(_MISSING["webcrm"]) & orphans["webcrm_id"].isin(gone_w)
    crm = orphans["missing_side"].isin(_MISSING["crmoffice"]) & orphans["crmoffice_id"].isin(gone_c)
    kept = orphans.assign(missing_side=orphans["missing_side"].astype(object))
    kept.loc[web & ~crm, "missing_side"] = "webcrm"
    kept.loc[crm & ~web, "missing_side"] = "crmoffice"
    kept.loc[web & crm, "missing_side"] = "both"
    return kept[web | crm].reset_index(drop=True).astype(orphans.dtypes.to_dict())


def seen_again(links: pd.DataFrame, webcrm_ids: Set[str], crmoffice_ids: Set[str]) -> pd.Series:
    """Mask of the orphaned links both of whose records were read (ids of either side's
    valid or quarantined rows)."""
    return (
        (links["status"] == "orphaned")
        & links["webcrm_id"].isin(webcrm_ids)
        & links["crmoffice_id"].isin(crmoffice_ids)
    )
