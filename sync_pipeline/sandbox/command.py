"""`sync-pipeline sandbox`: both emulated CRMs in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sync_pipeline.sandbox.access import RETRY_AFTER_FORMATS
from sync_pipeline.sandbox.crmoffice_assumptions import CLIENT_ID, CLIENT_SECRET, DEFAULT_RATE_LIMIT
from sync_pipeline.sandbox.realism import BULK_REJECTIONS
from sync_pipeline.sandbox.server import (
    RunningSandbox,
    SandboxSettings,
    check_loopback,
    running_sandbox,
)
from sync_pipeline.sandbox.timestamps import DEFAULT_WEBCRM_ZONE
from sync_pipeline.sandbox.webcrm_app import DEFAULT_AUTH_CODE
from sync_pipeline.sandbox.webcrm_app import DEFAULT_RATE_LIMIT as WEBCRM_RATE_LIMIT
from sync_pipeline.sandbox.webcrm_rules import default_reference

DEFAULT_SEED = 200


def build_parser() -> argparse.ArgumentParser:
    """The command line of `sync-pipeline sandbox`."""
    parser = argparse.ArgumentParser(
        prog="sync-pipeline sandbox",
        description="Run the emulated WebCRM and CRMOffice APIs on loopback until interrupted.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--webcrm-port", type=_port, default=8701)
    parser.add_argument("--crmoffice-port", type=_port, default=8702)
    data = parser.add_mutually_exclusive_group()
    data.add_argument(
        "--seed",
        type=_non_negative_int,
        metavar="N",
        help="sample records per entity (default 200)",
    )
    data.add_argument("--empty", action="store_true", help="start both systems empty")
    parser.add_argument("--data-dir", metavar="DIR", help="keep the state in DIR across restarts")
    parser.add_argument(
        "--webcrm-rate-limit", type=_positive_int, default=WEBCRM_RATE_LIMIT, metavar="PER_MIN"
    )
    parser.add_argument(
        "--crmoffice-rate-limit", type=_positive_int, default=DEFAULT_RATE_LIMIT, metavar="PER_MIN"
    )
    parser.add_argument(
        "--fault-rate",
        type=_share,
        default=0.0,
        metavar="F",
        help="share of faulted requests, 0..1",
    )
    parser.add_argument("--fault-seed", type=int, default=0, metavar="S")
    parser.add_argument(
        "--fault-stall",
        type=_non_negative_float,
        default=35.0,
        metavar="SECONDS",
        help="length of a stalled response",
    )
    parser.add_argument("--token-ttl", type=_positive_float, default=3600.0, metavar="SECONDS")
    parser.add_argument(
        "--retry-after-format",
        choices=RETRY_AFTER_FORMATS,
        default="seconds",
        help="how both systems' 429s state Retry-After: seconds (default) or an HTTP-date",
    )
    _add_realism(parser)
    parser.add_argument(
        "--crmoffice-clock-offset",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="CRMOffice's clock (its updatedAt stamps and Date header) runs this far ahead "
        "of this machine's (negative: behind)",
    )
    parser.add_argument(
        "--crmoffice-max-page-size",
        type=_positive_int,
        default=None,
        metavar="N",
        help="CRMOffice serves at most N items per list page (the envelope says so)",
    )
    parser.add_argument(
        "--webcrm-timezone",
        type=_zone,
        default=DEFAULT_WEBCRM_ZONE,
        metavar="ZONE",
        help="IANA zone WebCRM renders times in and reads offset-less /Queries dates in "
        f"(default {DEFAULT_WEBCRM_ZONE})",
    )
    parser.add_argument(
        "--webcrm-create-failure-rate",
        type=_share,
        default=0.0,
        metavar="F",
        help="share of WebCRM API creates failing on id generation, seeded by --fault-seed",
    )
    return parser


def _add_realism(parser: argparse.ArgumentParser) -> None:
    """The realism options (sandbox/realism.py, documented in sandbox/README.md)."""
    parser.add_argument(
        "--crmoffice-phone-format",
        choices=("as-sent", "compact"),
        default="as-sent",
        help="how CRMOffice stores phones written through the API (compact: + and digits)",
    )
    parser.add_argument(
        "--webcrm-phone-format",
        choices=("as-sent", "grouped"),
        default="as-sent",
        help="how WebCRM stores phones written through the API (grouped: +45 12 34 56 78)",
    )
    parser.add_argument(
        "--webcrm-bulk-rejection",
        choices=BULK_REJECTIONS,
        default="per-item",
        help="a bulk PATCH item breaking a field rule fails alone, or the whole request (400)",
    )


def settings_from(args: argparse.Namespace) -> SandboxSettings:
    """SandboxSettings from parsed arguments."""
    return SandboxSettings(
        host=args.host,
        webcrm_port=args.webcrm_port,
        crmoffice_port=args.crmoffice_port,
        seed=None if args.empty else (DEFAULT_SEED if args.seed is None else args.seed),
        empty=args.empty,
        data_dir=args.data_dir,
        webcrm_rate_limit=args.webcrm_rate_limit,
        crmoffice_rate_limit=args.crmoffice_rate_limit,
        fault_rate=args.fault_rate,
        fault_seed=args.fault_seed,
        fault_stall_seconds=args.fault_stall,
        token_ttl=args.token_ttl,
        retry_after_format=args.retry_after_format,
        crmoffice_phone_format=args.crmoffice_phone_format,
        webcrm_phone_format=args.webcrm_phone_format,
        webcrm_bulk_rejection=args.webcrm_bulk_rejection,
        crmoffice_max_page_size=args.crmoffice_max_page_size,
        crmoffice_clock_offset=args.crmoffice_clock_offset,
        webcrm_timezone=args.webcrm_timezone,
        webcrm_create_failure_rate=args.webcrm_create_failure_rate,
    )


def main(argv: list[str]) -> int:
    """Run the sandbox; 0 after a clean stop, 1 if it cannot start, 2 on usage errors."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_loopback(args.host)
    except ValueError as exc:
        parser.error(str(exc))
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        with running_sandbox(settings_from(args)) as sandbox:
            _announce(sandbox, args)
            while not stop.wait(0.5):
                pass
            print("sandbox: stopping", flush=True)
    except OSError as exc:
        print(f"sync-pipeline sandbox: cannot listen: {exc}", file=sys.stderr)
        return 1
    return 0


def _announce(sandbox: RunningSandbox, args: argparse.Namespace) -> None:
    origin = "restored from " + str(args.data_dir) if sandbox.restored else _contents(args)
    print(
        f"WebCRM sandbox:    {sandbox.webcrm_url}\n"
        f"CRMOffice sandbox: {sandbox.crmoffice_url}\n"
        f"State: {origin}; stats at /_sandbox/stats on each. Ctrl-C to stop.\n\n"
        "Use it with:\n"
        f"  export WEBCRM_BASE_URL={sandbox.webcrm_url}\n"
        f"  export WEBCRM_API_TOKEN={DEFAULT_AUTH_CODE}\n"
        f"  export CRMOFFICE_BASE_URL={sandbox.crmoffice_url}\n"
        f"  export CRMOFFICE_CLIENT_ID={CLIENT_ID}\n"
        f"  export CRMOFFICE_CLIENT_SECRET={CLIENT_SECRET}" + _default_organisation(sandbox),
        flush=True,
    )


def _default_organisation(sandbox: RunningSandbox) -> str:
    """The export line naming an organisation for persons created from contacts (if any)."""
    found = default_reference(sandbox.webcrm)
    return "" if found is None else f"\n  export WEBCRM_DEFAULT_ORGANISATION_ID={found[1]}"


def _contents(args: argparse.Namespace) -> str:
    if args.empty:
        return "empty"
    return f"seeded with --seed {DEFAULT_SEED if args.seed is None else args.seed}"


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a port number")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def _zone(text: str) -> str:
    try:
        ZoneInfo(text)
    except (ValueError, ZoneInfoNotFoundError):
        raise argparse.ArgumentTypeError(f"{text!r} is not an IANA time zone") from None
    return text


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
