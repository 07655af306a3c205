"""The three-way rule as one DuckDB SQL query over the same pandas frames (figure 1's yardstick).

Per field: only one side changed -> it wins; both changed to the same value -> the shadow moves;
both differently -> conflict: non-empty beats empty, else the newer record wins, a tie goes to
`tie_winner`. A record absent from its side frame counts as unchanged (value = shadow).
The query returns one row per touched link with its directions and agreed values.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from sync_pipeline_tests.bench.diff_data import DiffFrames

OLDEST = -(2**63) + 1


def _field_terms(f: str, tie_web: bool) -> dict[str, str]:
    s, w, c = f'"s_{f}"', f'"w_{f}"', f'"c_{f}"'
    wch, cch = f"({w} <> {s})", f"({c} <> {s})"
    conflict = f"({wch} AND {cch} AND {w} <> {c})"
    newer = f"(wu > cu OR (wu = cu AND {str(tie_web).upper()}))"
    web_wins = (
        f"({conflict} AND (({c} = '' AND {w} <> '') OR ({w} <> '' AND {c} <> '' AND {newer})))"
    )
    to_crm = f"(({wch} AND NOT {cch}) OR {web_wins})"
    to_web = f"(({cch} AND NOT {wch}) OR ({conflict} AND NOT {web_wins}))"
    same = f"({wch} AND {cch} AND {w} = {c})"
    agreed = f"CASE WHEN {to_crm} OR {same} THEN {w} WHEN {to_web} THEN {c} ELSE {s} END"
    return {
        "conflict": conflict,
        "to_crm": to_crm,
        "to_web": to_web,
        "same": same,
        "agreed": agreed,
    }


def plan_sql(fields: tuple[str, ...], tie_winner: str = "webcrm") -> str:
    """The whole rule as one query over `links`, `web` and `crm`."""
    values = ",\n".join(
        f'l."{f}" AS "s_{f}", coalesce(w."{f}", l."{f}") AS "w_{f}", '
        f'coalesce(c."{f}", l."{f}") AS "c_{f}"'
        for f in fields
    )
    touched = " OR ".join(f'("w_{f}" <> "s_{f}" OR "c_{f}" <> "s_{f}")' for f in fields)
    terms = {f: _field_terms(f, tie_winner == "webcrm") for f in fields}
    out = [
        "(" + " OR ".join(t["to_crm"] for t in terms.values()) + ") AS to_crmoffice",
        "(" + " OR ".join(t["to_web"] for t in terms.values()) + ") AS to_webcrm",
        "(" + " OR ".join(t["same"] for t in terms.values()) + ") AS shadow_move",
        "(" + " + ".join(f"{t['conflict']}::INT" for t in terms.values()) + ") AS conflicts",
        *(f'{t["agreed"]} AS "{f}"' for f, t in terms.items()),
    ]
    return f"""
WITH j AS (
  SELECT l.webcrm_id, l.crmoffice_id,
         coalesce(epoch_ns(w.updated_at), {OLDEST}) AS wu,
         coalesce(epoch_ns(c.updated_at), {OLDEST}) AS cu,
         {values}
  FROM links l
  LEFT JOIN web w ON w.id = l.webcrm_id
  LEFT JOIN crm c ON c.id = l.crmoffice_id
  WHERE coalesce(l.status, 'active') <> 'orphaned'
)
SELECT webcrm_id, crmoffice_id, {", ".join(out)}
FROM j WHERE {touched}
"""


@dataclass(frozen=True)
class DuckdbPlan:
    """The touched links with directions and agreed values, and their counts."""

    rows: pa.Table

    def counts(self) -> dict[str, int]:
        """The same counts `PairPlan.counts()` reports for these actions."""
        return {
            "updates_to_crmoffice": int(
                pc.sum(self.rows["to_crmoffice"].cast(pa.int64())).as_py() or 0
            ),
            "updates_to_webcrm": int(pc.sum(self.rows["to_webcrm"].cast(pa.int64())).as_py() or 0),
            "conflicts": int(pc.sum(self.rows["conflicts"]).as_py() or 0),
            "shadow_moves": int(pc.sum(self.rows["shadow_move"].cast(pa.int64())).as_py() or 0),
        }


def duckdb_plan(frames: DiffFrames, sql: str, con: duckdb.DuckDBPyConnection) -> DuckdbPlan:
    """Register the pandas frames and run the query, fetching the result as Arrow."""
    con.register("links", frames.links)
    con.register("web", frames.webcrm)
    con.register("crm", frames.crmoffice)
    try:
        return DuckdbPlan(con.sql(sql).to_arrow_table())
    finally:
        for name in ("links", "web", "crm"):
            con.unregister(name)
