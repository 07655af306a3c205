"""`sync-pipeline state check|export|import`: verify and move the link store."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sync_pipeline.clients import CrmClientError
from sync_pipeline.core import load_field_map
from sync_pipeline.settings import connection, state_url_from
from sync_pipeline.store import LinkStore, StoreError


def _remote_ids() -> dict[tuple[str, str], set[str]]:
    """Every record id of every synced entity, by a full read of both CRMs."""
    from sync_pipeline.clients import CrmofficeClient, WebcrmClient

    field_map = load_field_map()
    env = connection(os.environ)
    webcrm = WebcrmClient(env["WEBCRM_BASE_URL"], env["WEBCRM_API_TOKEN"])
    crmoffice = CrmofficeClient(
        env["CRMOFFICE_BASE_URL"], env["CRMOFFICE_CLIENT_ID"], env["CRMOFFICE_CLIENT_SECRET"]
    )
    ids: dict[tuple[str, str], set[str]] = {}
    for name, spec in field_map.entities["webcrm"].items():
        ids[("webcrm", name)] = {str(r.get(spec.id)) for r in webcrm.list_all(name)}
    for name, spec in field_map.entities["crmoffice"].items():
        ids[("crmoffice", name)] = {str(r.get(spec.id)) for r in crmoffice.list_all(name)}
    return ids


def run_state(args: argparse.Namespace) -> int:
    """Dispatch the `state` verbs."""
    store = LinkStore(state_url_from(os.environ, Path.cwd()))
    try:
        if args.verb == "export":
            counts = store.export_state(Path(args.path))
            print(f"exported the link store to {args.path}: {counts}")
            return 0
        if args.verb == "import":
            counts = store.import_state(Path(args.path), replace=args.replace)
            print(f"imported {args.path} into the link store: {counts}")
            return 0
        pairs = {
            p.name: (p.webcrm_entity, p.crmoffice_entity) for p in load_field_map().pairs.values()
        }
        report = store.check(remote_ids=_remote_ids() if args.full_read else None, pairs=pairs)
        print(f"schema version: {report.schema_version}")
        for title, lines in (
            ("problems", report.problems),
            ("a repair would", report.repairs),
            ("notes", report.notes),
        ):
            print(f"{title}: {'none' if not lines else ''}")
            for line in lines:
                print(f"  - {line}")
        if args.repair and report.repairs:
            for done in store.repair(report):
                print(f"repaired: {done}")
        return 0 if report.ok else 1
    except (StoreError, CrmClientError, ValueError, FileNotFoundError) as error:
        print(f"state {args.verb} failed: {error}", file=sys.stderr)
        return 1
    finally:
        store.close()
