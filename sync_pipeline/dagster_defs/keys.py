"""Every asset key of the code location, built here and nowhere else.

Sources: `<system>/<entity>` (e.g. `webcrm/persons`). Per pair `P`: `P/webcrm_rows`,
`P/crmoffice_rows`, `P/plan_to_crmoffice`, `P/plan_to_webcrm`, `P/plan_links`, then the sinks
`P/apply_links`, `P/apply_to_crmoffice`, `P/apply_to_webcrm`; and `P/backfill`.
"""

from __future__ import annotations

import dagster as dg

from sync_pipeline.core import Direction, PairSpec, Side

PLAN_OUTPUTS = ("plan_to_crmoffice", "plan_to_webcrm", "plan_links")
PLAN_ASSETS = ("webcrm_rows", "crmoffice_rows", *PLAN_OUTPUTS)
SINK_ASSETS = ("apply_links", "apply_to_crmoffice", "apply_to_webcrm")


def source_key(system: Side, entity: str) -> dg.AssetKey:
    """The extract asset of one system entity."""
    return dg.AssetKey([system, entity.lower()])


def pair_key(pair: PairSpec | str, name: str) -> dg.AssetKey:
    """One asset of a pair's group."""
    return dg.AssetKey([pair if isinstance(pair, str) else pair.name, name])


def rows_key(pair: PairSpec, side: Side) -> dg.AssetKey:
    """A side's mapped and validated rows."""
    return pair_key(pair, f"{side}_rows")


def plan_key(pair: PairSpec, direction: Direction | str) -> dg.AssetKey:
    """A direction's plan (`to_crmoffice` / `to_webcrm`) or the link-only plan (`links`)."""
    return pair_key(pair, f"plan_{direction}")


def apply_key(pair: PairSpec, direction: Direction | str) -> dg.AssetKey:
    """A sink step: `links`, `to_crmoffice` or `to_webcrm`."""
    return pair_key(pair, f"apply_{direction}")


def plan_keys(pair: PairSpec) -> list[dg.AssetKey]:
    """What a dry run of the pair materialises: its rows and its plans."""
    return [pair_key(pair, name) for name in PLAN_ASSETS]


def graph_keys(pair: PairSpec) -> list[dg.AssetKey]:
    """The pair's sync graph: its rows, plans and sinks (not its backfill asset)."""
    return [pair_key(pair, name) for name in (*PLAN_ASSETS, *SINK_ASSETS)]
