"""Asset check results built from the core's verdicts (the rules live in `core`)."""

from __future__ import annotations

import dagster as dg

from sync_pipeline.core import PairPlan, PairSpec, mass_change_verdict, quarantine_verdict
from sync_pipeline.dagster_defs.keys import plan_key
from sync_pipeline.dagster_defs.resources import SyncPolicy
from sync_pipeline.sync import PlannedPair, SideRows

ROWS_CHECK = "valid_rows"
BREAKER_CHECK = "mass_change"
GIVEN_UP_CHECK = "given_up"
HOLDS_CHECK = "held_records"
MISSED_CHECK = "missed_changes"


def rows_check(rows: SideRows, policy: SyncPolicy) -> dg.AssetCheckResult:
    """WARN on any quarantined row; ERROR (the pair's sinks stop) above the bad-row share."""
    verdict = quarantine_verdict(rows.frame, rows.state.linked, policy.max_bad_share)
    quarantined = rows.frame.quarantined
    sample = quarantined.head(10)[["record_id", "reason"]]
    return dg.AssetCheckResult(
        check_name=ROWS_CHECK,
        passed=quarantined.empty,
        severity=dg.AssetCheckSeverity.WARN if verdict.passed else dg.AssetCheckSeverity.ERROR,
        description=verdict.message,
        metadata={
            "quarantined": len(quarantined),
            "bad_share": round(verdict.share, 4),
            "sample": dg.MetadataValue.md(
                sample.to_markdown(index=False) if len(sample) else "none"
            ),
        },
    )


def breaker_check(
    pair: PairSpec, plan: PairPlan, linked: int, policy: SyncPolicy
) -> dg.AssetCheckResult:
    """ERROR (the sinks stop) when the run would update too large a share of the links."""
    verdict = mass_change_verdict(
        plan, linked, max_share=policy.max_update_share, min_updates=policy.min_updates_for_breaker
    )
    return dg.AssetCheckResult(
        check_name=BREAKER_CHECK,
        asset_key=plan_key(pair, "links"),
        passed=verdict.passed,
        description=verdict.message,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"share": round(verdict.share, 4)},
    )


def given_up_check(pair: PairSpec, planned: PlannedPair) -> dg.AssetCheckResult:
    """WARN while any record's writes were given up on (refused up to the cap): they stay in
    quarantine, unsynced, until someone edits them; counted in every run until then."""
    counts = {d: planned.of(d).given_up for d in ("to_crmoffice", "to_webcrm")}
    total = sum(counts.values())
    return dg.AssetCheckResult(
        check_name=GIVEN_UP_CHECK,
        asset_key=plan_key(pair, "links"),
        passed=total == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{total} records given up on (fix them in their CRM; an edit retries them)",
        metadata={f"given_up_{d}": n for d, n in counts.items()},
    )


def holds_check(pair: PairSpec, planned: PlannedPair) -> dg.AssetCheckResult:
    """WARN while records are held for an operator (`sync-pipeline holds list`)."""
    held = planned.plan.held
    sample = held.head(10)
    return dg.AssetCheckResult(
        check_name=HOLDS_CHECK,
        asset_key=plan_key(pair, "links"),
        passed=held.empty,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{len(held)} records held (see `sync-pipeline holds list`)",
        metadata={
            "held": len(held),
            "sample": dg.MetadataValue.md(
                sample.to_markdown(index=False) if len(sample) else "none"
            ),
        },
    )


def missed_check(pair: PairSpec, missed: int | None) -> dg.AssetCheckResult:
    """WARN when a full run writes changes the incremental runs should have carried (issue 10;
    `sync.missed_by_incremental`); passes with nothing to compare on other runs."""
    if missed is None:
        description = "not a full run after incremental ones: nothing to compare"
    else:
        description = (
            f"{missed} change(s) made before the incremental cursors written by this full run"
        )
    return dg.AssetCheckResult(
        check_name=MISSED_CHECK,
        asset_key=plan_key(pair, "links"),
        passed=not missed,
        description=description,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"missed_by_incremental": -1 if missed is None else missed},
    )
