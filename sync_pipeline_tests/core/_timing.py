"""Local timing of the 1M-link plan (not a test): `python -m sync_pipeline_tests.core._timing`."""

from __future__ import annotations

import sys
import time
import uuid
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from sync_pipeline.core.plan import plan_pair_sync
from sync_pipeline_tests.core.maps import sandbox_field_map


def build(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Side frames and links: n linked records, 1% changed per side, 0.1% in conflict."""
    rng = np.random.default_rng(seed)
    fields = ("givenName", "familyName", "directPhone", "mobilePhone")
    names = np.array([f"Name{i}" for i in range(5000)], dtype=object)
    shadow = {f: names[rng.integers(0, len(names), n)] for f in fields}
    web_ids = np.array([str(100_000 + i) for i in range(n)], dtype=object)
    uuids = rng.integers(0, 2**62, n)
    crm_ids = np.array([str(uuid.UUID(int=int(x))) for x in uuids], dtype=object)
    stamp = pd.Timestamp("2024-09-14", tz="UTC")
    web = {f: v.copy() for f, v in shadow.items()}
    crm = {f: v.copy() for f, v in shadow.items()}
    for side in (web, crm):
        rows = rng.choice(n, n // 100, replace=False)
        side[fields[0]][rows] = "Edited"
    both = rng.choice(n, n // 1000, replace=False)
    web[fields[1]][both], crm[fields[1]][both] = "WebWins", "CrmWins"
    offsets = pd.to_timedelta(rng.integers(0, 10_000, n), unit="s")
    webf = pd.DataFrame({"id": web_ids, "updated_at": stamp + offsets, **web})
    crmf = pd.DataFrame({"id": crm_ids, "updated_at": stamp + offsets[::-1], **crm})
    perm = rng.permutation(n)
    links = pd.DataFrame(
        {"webcrm_id": web_ids[perm], "crmoffice_id": crm_ids[perm], "status": "active"}
        | {f: v[perm] for f, v in shadow.items()}
    )
    cast = {c: "str" for c in webf.columns if c != "updated_at"}
    return webf.astype(cast), crmf.astype(cast), links.astype("str")


NOW = datetime(2024, 9, 15, tzinfo=UTC)


def main() -> None:
    """Print the plan time for n links (default 1,000,000)."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    pair = sandbox_field_map().pairs["persons_contacts"]
    web, crm, links = build(n)
    intents = pd.DataFrame({"intent_id": [], "direction": [], "source_id": [], "created_at": []})
    for _ in range(3):
        start = time.perf_counter()
        plan = plan_pair_sync(pair, web, crm, links, intents, complete=False, now=NOW)
        print(f"diff_{n}_seconds: {time.perf_counter() - start:.3f}", plan.counts())


if __name__ == "__main__":
    main()
