"""The table `sync-pipeline sync` prints, and the one line that says why a run failed.

Per pair and direction: creates and updates applied, records that `failed` in this run, of
which `waiting` are tried again by the next run, and how many records are `given up` (refused
on every try up to the cap; counted in every run until someone edits them).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import dagster as dg
from dagster_shared.error import SerializableErrorInfo

from sync_pipeline.core import DIRECTIONS

_CLASS_PATH = re.compile(r"[A-Za-z_][\w.]*")
HEADER = ("pair", "direction", "creates", "updates", "failed", "waiting", "given up", "notes")


def _value(result: dg.ExecuteInProcessResult, pair: str, name: str) -> Any:
    """An asset's value from this run; None when its step was skipped or failed."""
    try:
        return result.asset_value(dg.AssetKey([pair, name]))
    except Exception:
        return None


def _links_notes(plan: Any, quarantined: int) -> str:
    if plan is None:
        return "not planned"
    counts = plan.plan.counts()
    parts = [
        f"{label} {counts.get(key, 0)}"
        for key, label in (
            ("matches", "matched"),
            ("adopts", "adopted"),
            ("conflicts", "conflicts"),
            ("orphans", "orphaned"),
            ("held", "held"),
        )
    ]
    return ", ".join([*parts, f"quarantined {quarantined}"])


def _values(result: dg.ExecuteInProcessResult, pair: str, dry_run: bool) -> dict[str, Any]:
    """The pair's rows, plans and sink reports, from its graph or from its backfill step."""
    backfill = _value(result, pair, "backfill")
    if backfill is None:
        names = ["webcrm_rows", "crmoffice_rows", "plan_links"]
        names += [f"{kind}_{d}" for kind in ("plan", "apply") for d in DIRECTIONS]
        values = {name: _value(result, pair, name) for name in names}
        if dry_run:
            values.update({f"apply_{d}": None for d in DIRECTIONS})
        return values
    planned = backfill.planned
    values = {f"{s}_rows": r for s, r in zip(("webcrm", "crmoffice"), backfill.rows, strict=False)}
    values["plan_links"] = None if planned is None else planned.links
    for d in DIRECTIONS:
        values[f"plan_{d}"] = None if planned is None else planned.of(d)
        values[f"apply_{d}"] = backfill.applied.get(d)
    return values


def _pair_rows(
    result: dg.ExecuteInProcessResult, pair: str, dry_run: bool
) -> list[tuple[str, ...]]:
    values = _values(result, pair, dry_run)
    rows_w, rows_c = values.get("webcrm_rows"), values.get("crmoffice_rows")
    quarantined = sum(len(r.frame.quarantined) for r in (rows_w, rows_c) if r is not None)
    out: list[tuple[str, ...]] = []
    for direction in DIRECTIONS:
        planned = values[f"plan_{direction}"]
        applied = values[f"apply_{direction}"]
        if applied is not None:
            done = (applied.created, applied.updated, applied.failed, applied.waiting)
            cells = (*map(str, done), str(applied.given_up), "applied")
        elif planned is not None:
            note = "planned (dry run)" if dry_run else "planned, not applied"
            counts = (str(len(planned.creates)), str(len(planned.updates)))
            cells = (*counts, "-", "-", str(planned.given_up), note)
        else:
            cells = ("-", "-", "-", "-", "-", "not planned")
        out.append((pair, direction, *cells))
    links = values["plan_links"]
    out.append((pair, "links", "-", "-", "-", "-", "-", _links_notes(links, quarantined)))
    return out


def failed_records(result: dg.ExecuteInProcessResult, pairs: Sequence[str]) -> tuple[int, int]:
    """(records that failed in this run and wait for a retry, records given up on now)."""
    waiting = given_up = 0
    for pair in pairs:
        values = _values(result, pair, dry_run=False)
        for direction in DIRECTIONS:
            applied = values[f"apply_{direction}"]
            if applied is not None:
                waiting += applied.waiting
                given_up += applied.gave_up_now
    return waiting, given_up


def sync_table(result: dg.ExecuteInProcessResult, pairs: Sequence[str], *, dry_run: bool) -> str:
    """One row per pair and direction (plus the pair's link-only actions)."""
    rows = [HEADER] + [row for pair in pairs for row in _pair_rows(result, pair, dry_run)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def failure_line(result: dg.ExecuteInProcessResult, *, dry_run: bool = False) -> str:
    """The first blocking check that failed, else the first step failure, in one line."""
    stopped = "would stop the sink" if dry_run else "stopped the sink"
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
            key = evaluation.asset_key.to_user_string()
            description = evaluation.description or "failed"
            return f"{key}: check {evaluation.check_name} {stopped}: {description}"
    for event in result.get_step_failure_events():
        step = str(event.step_key).replace("__", "/")
        return f"{step}: {_message(event.step_failure_data.error)}"
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.RESOURCE_INIT_FAILURE:
            error = getattr(event.event_specific_data, "error", None)
            return f"could not open a resource: {_message(error)}"
    return "the run did not succeed (see the Dagster event log)"


def _message(error: SerializableErrorInfo | None) -> str:
    """The real exception's last line, without its class path (one line for the CLI)."""
    while error is not None and error.cause is not None:
        error = error.cause  # Dagster wraps the real exception; show the real one
    message = error.message.strip().splitlines()[-1] if error else "unknown error"
    head, colon, rest = message.partition(": ")
    if colon and _CLASS_PATH.fullmatch(head):
        message = rest  # "package.module.SomeError: text" -> "text"
    if "DagsterExecutionInterruptedError" in head:
        return "interrupted; what was written is recorded: run the sync again"
    return message
