"""Asset check results built from the core's verdicts (the rules live in `core`)."""

from __future__ import annotations

import dagster as dg

from sync_pipeline.core import PairPlan, PairSpec, mass_change_verdict, quarantine_verdict
from sync_pipeline.dagster_defs.keys import plan_key
from sync_pipeline.dagster_defs.resources import SyncPolicy
from sync_pipeline.sync import SideRows

ROWS_CHECK = "valid_rows"
BREAKER_CHECK = "mass_change"
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
