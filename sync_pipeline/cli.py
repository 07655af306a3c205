"""The `sync-pipeline` console script: argument parsing and dispatch only.

Exit codes: 0 success, 1 failure (one line on stderr says why), 2 usage error; `sync` exits 3
when the run completed but some records failed (retried on the next run), `holds resolve` 1 on
an unknown hold or a link that would break a rule.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import date, timedelta

from sync_pipeline.commands.heap import loaded_frozen, unfrozen_after


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2024-09-14") from None


def _parser(pairs: Sequence[str]) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The command's parser and its `sync` subparser (whose usage its own errors show)."""
    parser = argparse.ArgumentParser(prog="sync-pipeline", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(
        "sandbox", help="run both emulated CRMs (see `sandbox --help`)", add_help=False
    )
    sync = commands.add_parser("sync", help="one sync run through Dagster")
    sync.add_argument(
        "--pair",
        action="append",
        choices=pairs,
        dest="pairs",
        help="only this pair (repeatable; default: every pair)",
    )
    sync.add_argument("--full", action="store_true", help="read everything (finds orphans)")
    sync.add_argument("--dry-run", action="store_true", help="plan only; write nothing")
    sync.add_argument("--since", type=_date, help="re-sync records modified from this date")
    sync.add_argument("--until", type=_date, help="... up to (not including) this date")
    sync.add_argument("-v", "--verbose", action="store_true", help="show Dagster's event log")
    links = commands.add_parser("links", help="a link and its history, by either side's id")
    links.add_argument("record_id", help="a WebCRM or CRMOffice id")
    links.add_argument("--limit", type=int, default=50, help="history entries to show")
    commands.add_parser(
        "doctor", help="read-only preflight against the configured systems (exit 0 ready)"
    )
    holds = commands.add_parser("holds", help="records held back and how to settle them")
    hold_verbs = holds.add_subparsers(dest="verb", required=True, metavar="VERB")
    hold_verbs.add_parser("list", help="the open holds: id, pair, side, record id, reason, since")
    resolve = hold_verbs.add_parser("resolve", help="settle one hold (acted on by the next sync)")
    resolve.add_argument("hold_id", type=int, metavar="ID", help="the hold's id (`holds list`)")
    answer = resolve.add_mutually_exclusive_group(required=True)
    answer.add_argument("--link", metavar="OTHER_ID", help="link it to this other-side record")
    answer.add_argument("--create", action="store_true", help="create it on the other side")
    answer.add_argument("--ignore", action="store_true", help="never sync it")
    hooks = commands.add_parser("hooks", help="the WebCRM hook receiver and its hooks")
    hook_verbs = hooks.add_subparsers(dest="verb", required=True, metavar="VERB")
    serve = hook_verbs.add_parser("serve", help="receive WebCRM hook events into the store")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    serve.add_argument("--port", type=_port, default=8710, help="port (default 8710)")
    register = hook_verbs.add_parser(
        "register", help="register our hooks for every synced WebCRM entity (idempotent)"
    )
    register.add_argument(
        "--target-url",
        required=True,
        metavar="URL",
        help="the receiver's public base URL; /webcrm/hooks/<SYNC_HOOKS_SECRET> is appended",
    )
    hook_verbs.add_parser("list", help="every hook: id, entity, event type, URL, enabled")
    hook_verbs.add_parser("unregister", help="delete the hooks pointing at our receiver")
    docs = commands.add_parser("docs", help="render the field map as the RST data-flow document")
    docs.add_argument("--output", help="write to this file instead of stdout")
    deploy = commands.add_parser(
        "deploy-local",
        help="the production deployment on this machine: PostgreSQL, code server, webserver, "
        "daemon (Ctrl-C stops it)",
    )
    deploy.add_argument("--folder", default=".prod", help="where its state lives (.prod)")
    deploy.add_argument(
        "--check",
        action="store_true",
        help="start it fresh, wait for a scheduled run and a backfill, exit 0 if both succeed",
    )
    state = commands.add_parser("state", help="check, export, import or migrate the link store")
    verbs = state.add_subparsers(dest="verb", required=True, metavar="VERB")
    check = verbs.add_parser("check", help="verify the store; say what a repair would do")
    check.add_argument(
        "--full-read",
        action="store_true",
        help="also read both CRMs fully to find links to missing records",
    )
    check.add_argument("--repair", action="store_true", help="apply the safe repairs")
    export = verbs.add_parser("export", help="write links, history and cursors to a file")
    export.add_argument("path")
    imp = verbs.add_parser("import", help="load a file written by `state export`")
    imp.add_argument("path")
    imp.add_argument("--replace", action="store_true", help="replace a non-empty store")
    verbs.add_parser("migrate", help="create the store or bring its schema up to date, once")
    return parser, sync


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (1-65535)")
    return int(text)


def _check_sync_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if (args.since is None) != (args.until is None):
        parser.error("--since and --until go together")
    if args.since is not None and args.since >= args.until:
        parser.error("--since must be before --until")
    if args.since is not None and args.full:
        parser.error("--full reads everything; it does not take --since/--until")
    if args.since is not None and args.since > date.today() + timedelta(days=1):
        parser.error(f"--since {args.since} is in the future: no record was modified then")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse and dispatch; returns the exit code. Output piped into a reader that stops early
    (`| head`) ends quietly, as the Python docs advise for SIGPIPE. The code a command needs
    loads frozen out of the garbage collector's passes, handed back when it ends (`heap`)."""
    try:
        with unfrozen_after():
            return _dispatch(list(sys.argv[1:] if argv is None else argv))
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def _dispatch(argv: list[str]) -> int:
    if argv[:1] == ["sandbox"]:
        from sync_pipeline.sandbox.command import main as sandbox_main

        return sandbox_main(argv[1:])
    with loaded_frozen():
        from sync_pipeline.core import FieldMapError
        from sync_pipeline.settings import SettingsError, configured_field_map, rate_limits
    try:
        pairs = list(configured_field_map(os.environ).pairs)
    except FieldMapError as error:
        print(f"sync-pipeline: {error}", file=sys.stderr)
        return 1
    parser, sync_parser = _parser(pairs)
    args = parser.parse_args(argv)
    if args.command == "sync":
        _check_sync_args(sync_parser, args)
        try:
            rate_limits(os.environ)  # a bad *_RATE_LIMIT_PER_MIN fails here, in one line
        except SettingsError as error:
            print(f"sync-pipeline: {error}", file=sys.stderr)
            return 1
        with loaded_frozen():
            from sync_pipeline.commands.sync import run_sync

        return run_sync(
            args.pairs or pairs,
            full=args.full,
            dry_run=args.dry_run,
            since=args.since,
            until=args.until,
            verbose=args.verbose,
        )
    if args.command == "links":
        from sync_pipeline.commands.links import show_links

        return show_links(args.record_id, limit=args.limit)
    if args.command == "doctor":
        from sync_pipeline.commands.doctor import run_checks

        return run_checks()
    if args.command == "holds":
        from sync_pipeline.commands.holds import list_holds, resolve_hold

        if args.verb == "list":
            return list_holds()
        resolution = "link" if args.link else "create" if args.create else "ignore"
        return resolve_hold(args.hold_id, resolution, args.link)
    if args.command == "deploy-local":
        from pathlib import Path

        from sync_pipeline.commands.deploy import run_deploy

        return run_deploy(Path(args.folder), check=args.check)
    if args.command == "hooks":
        from sync_pipeline.commands import hooks as hook_commands

        if args.verb == "serve":
            return hook_commands.serve(args.host, args.port)
        if args.verb == "register":
            return hook_commands.register(args.target_url)
        return hook_commands.list_hooks() if args.verb == "list" else hook_commands.unregister()
    if args.command == "docs":
        from sync_pipeline.commands.docs import write_docs

        return write_docs(args.output)
    from sync_pipeline.commands.state import run_state

    return run_state(args)


if __name__ == "__main__":
    sys.exit(main())
