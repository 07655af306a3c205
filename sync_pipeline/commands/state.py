"""`sync-pipeline state check|export|import|migrate`: verify, move and migrate the link store."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from sync_pipeline.clients import CrmClientError
from sync_pipeline.commands.connect import open_clients
from sync_pipeline.core import SIDES
from sync_pipeline.settings import configured_field_map, state_url_from
from sync_pipeline.store import LinkStore, RateBudget, StoreError, migrate_store, redacted


def _remote_ids(state_url: str) -> dict[tuple[str, str], set[str]]:
    """Every record id of every synced entity (those the pairs name), by a full read of both
    CRMs under the store's shared rate budgets; ids are read from the property `systems.yaml`
    declares for each entity."""
    field_map = configured_field_map(os.environ)
    ids: dict[tuple[str, str], set[str]] = {}
    with RateBudget(state_url) as budget:
        webcrm, crmoffice = open_clients(os.environ, budget)
        with webcrm, crmoffice:
            for side in SIDES:
                for name in sorted({pair.entity(side) for pair in field_map.pairs.values()}):
                    spec = field_map.systems[side].entity(name)
                    client = webcrm if side == "webcrm" else crmoffice
                    ids[(side, name)] = {str(r.get(spec.id)) for r in client.list_all(name)}
    return ids


def run_state(args: argparse.Namespace) -> int:
    """Dispatch the `state` verbs."""
    url = state_url_from(os.environ, Path.cwd())
    if args.verb == "migrate":
        return _migrate(url)
    store = LinkStore(url)
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
            p.name: (p.webcrm_entity, p.crmoffice_entity)
            for p in configured_field_map(os.environ).pairs.values()
        }
        report = store.check(
            remote_ids=_remote_ids(store.url) if args.full_read else None, pairs=pairs
        )
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


def _migrate(url: str) -> int:
    """Create or migrate the store; one line saying which. Exit 0, or 1 with the reason."""
    try:
        before, after = migrate_store(url)
    except (StoreError, SQLAlchemyError) as error:
        print(f"state migrate failed: {str(error).splitlines()[0]}", file=sys.stderr)
        return 1
    where = redacted(url)
    if before is None:
        print(f"created the link store at {where}: schema version {after}")
    elif before == after:
        print(f"the link store at {where} is up to date: schema version {after}")
    else:
        print(f"migrated the link store at {where}: schema version {before} -> {after}")
    return 0
