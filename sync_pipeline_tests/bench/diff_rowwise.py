"""The three-way rule written the straightforward way: one Python loop over the links.

What a careful engineer would write first: dicts keyed by id for the join, a loop over the
links, a loop over the fields, the rule as `if`s, and the plan frames built from lists of dicts
at the end. Same semantics and counts as the core plan; figure 1 times it on a sample.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from sync_pipeline_tests.bench.diff_data import DiffFrames

Row = tuple[Any, ...]
OLDEST = -(2**63)


def _by_id(frame: pd.DataFrame, fields: tuple[str, ...]) -> dict[str, Row]:
    stamps = frame["updated_at"].array.asi8.tolist()
    columns = [frame[f].tolist() for f in fields]
    return {
        rid: (stamp, *values)
        for rid, stamp, *values in zip(frame["id"].tolist(), stamps, *columns, strict=True)
    }


def _resolve(w: str, c: str, s: str, wu: int, cu: int, tie: str) -> tuple[str, str]:
    """(direction, agreed value) for one field: direction '', 'crm', 'web', 'move' or a
    conflict's winner ('crm!' = WebCRM wins, goes to CRMOffice; 'web!' the other way)."""
    w_changed, c_changed = w != s, c != s
    if w_changed and not c_changed:
        return "crm", w
    if c_changed and not w_changed:
        return "web", c
    if not w_changed:
        return "", s
    if w == c:
        return "move", w
    if (w == "") != (c == ""):
        return ("crm!", w) if c == "" else ("web!", c)  # non-empty beats empty
    web_wins = wu > cu or (wu == cu and tie == "webcrm")
    return ("crm!", w) if web_wins else ("web!", c)


def _conflicts(
    ids: dict[str, Any],
    fields: tuple[str, ...],
    outcome: list[tuple[str, str]],
    values: tuple[Row, Row, list[Any]],
) -> list[dict[str, Any]]:
    """One history row per conflicting field."""
    w_row, c_row, shadow = values
    return [
        {
            **ids,
            "field": fields[i],
            "webcrm_value": w_row[i + 1],
            "crmoffice_value": c_row[i + 1],
            "shadow_value": shadow[i],
            "winner": "webcrm" if d == "crm!" else "crmoffice",
        }
        for i, (d, _) in enumerate(outcome)
        if d.endswith("!")
    ]


def rowwise_plan(frames: DiffFrames, tie: str = "webcrm") -> dict[str, pd.DataFrame]:
    """Updates per direction, shadow moves and conflicts as frames."""
    fields = frames.fields
    web, crm = _by_id(frames.webcrm, fields), _by_id(frames.crmoffice, fields)
    updates: dict[str, list[dict[str, Any]]] = {"to_crmoffice": [], "to_webcrm": []}
    moves: list[dict[str, Any]] = []
    conflicts: list[dict[str, Any]] = []
    columns = [frames.links[c].tolist() for c in ("webcrm_id", "crmoffice_id", "status", *fields)]
    for webcrm_id, crmoffice_id, status, *shadow in zip(*columns, strict=True):
        if status == "orphaned":
            continue
        w_row = web.get(webcrm_id) or (OLDEST, *shadow)
        c_row = crm.get(crmoffice_id) or (OLDEST, *shadow)
        outcome = [
            _resolve(w_row[i + 1], c_row[i + 1], shadow[i], w_row[0], c_row[0], tie)
            for i in range(len(fields))
        ]
        agreed = {f: value for f, (_, value) in zip(fields, outcome, strict=True)}
        ids = {"webcrm_id": webcrm_id, "crmoffice_id": crmoffice_id}
        to_crm = tuple(f for f, (d, _) in zip(fields, outcome, strict=True) if d in ("crm", "crm!"))
        to_web = tuple(f for f, (d, _) in zip(fields, outcome, strict=True) if d in ("web", "web!"))
        if to_crm:
            updates["to_crmoffice"].append({**ids, "changed": to_crm, **agreed})
        if to_web:
            updates["to_webcrm"].append({**ids, "changed": to_web, **agreed})
        if any(d == "move" for d, _ in outcome):
            moves.append({**ids, "action": "shadow_move", **agreed})
        conflicts += _conflicts(ids, fields, outcome, (w_row, c_row, shadow))
    return {
        "to_crmoffice": pd.DataFrame(updates["to_crmoffice"]),
        "to_webcrm": pd.DataFrame(updates["to_webcrm"]),
        "links": pd.DataFrame(moves),
        "conflicts": pd.DataFrame(conflicts),
    }


def rowwise_counts(plan: dict[str, pd.DataFrame]) -> dict[str, int]:
    """The counts `PairPlan.counts()` reports for these actions."""
    return {
        "updates_to_crmoffice": len(plan["to_crmoffice"]),
        "updates_to_webcrm": len(plan["to_webcrm"]),
        "conflicts": len(plan["conflicts"]),
        "shadow_moves": len(plan["links"]),
    }
