"""`sync-pipeline links ID`: a record's links and their history (per-record lineage)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sync_pipeline.settings import state_url_from
from sync_pipeline.store import LinkStore


def show_links(record_id: str, *, limit: int) -> int:
    """Print every link that has `record_id` on either side, then its history, newest first."""
    store = LinkStore(state_url_from(os.environ, Path.cwd()))
    try:
        links = store.find_links(record_id)
        if not links:
            print(f"no link has {record_id!r} on either side", file=sys.stderr)
            return 1
        for link in links:
            print(
                f"{link['pair']}: WebCRM {link['webcrm_id']} <-> CRMOffice "
                f"{link['crmoffice_id']} ({link['status']}, synced {link['synced_at']})"
            )
            print(f"  shadow: {link['shadow']}")
            history = store.history_frame(
                pair=str(link["pair"]), webcrm_id=str(link["webcrm_id"]), limit=limit
            )
            for entry in history.to_dict("records"):
                print(
                    f"  {entry['at']}  {entry['kind']:<9} {entry['direction'] or '':<13} "
                    f"run {str(entry['run_id'])[:8]}  {entry['detail']}"
                )
        return 0
    finally:
        store.close()
