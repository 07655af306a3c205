"""Serve both emulated CRMs with uvicorn in a background thread (tests, demo, the command)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from sync_pipeline.sandbox.access import RetryAfterFormat
from sync_pipeline.sandbox.clock import Clock, DateHeader, skewed
from sync_pipeline.sandbox.crmoffice_app import create_crmoffice_app
from sync_pipeline.sandbox.crmoffice_assumptions import DEFAULT_RATE_LIMIT
from sync_pipeline.sandbox.crmoffice_state import CrmofficeState
from sync_pipeline.sandbox.faults import FaultSettings, silence_expected_cuts
from sync_pipeline.sandbox.hook_delivery import DeliveryPolicy, HookDeliverer
from sync_pipeline.sandbox.persistence import PeriodicFlusher, SnapshotFile
from sync_pipeline.sandbox.realism import BulkRejection, PhoneFormat, WebcrmWriteRules
from sync_pipeline.sandbox.seed import seed_sandbox
from sync_pipeline.sandbox.stats import RequestStats
from sync_pipeline.sandbox.timestamps import DEFAULT_WEBCRM_ZONE
from sync_pipeline.sandbox.webcrm_app import DEFAULT_RATE_LIMIT as WEBCRM_RATE_LIMIT
from sync_pipeline.sandbox.webcrm_app import create_webcrm_app
from sync_pipeline.sandbox.webcrm_hooks import HookBook
from sync_pipeline.sandbox.webcrm_rules import CreateFailures
from sync_pipeline.sandbox.webcrm_state import WebcrmState

STARTUP_TIMEOUT = 10.0


@dataclass(frozen=True)
class SandboxSettings:
    """Everything `sync-pipeline sandbox` can be told (DESIGN.md section 4)."""

    host: str = "127.0.0.1"
    webcrm_port: int = 8701
    crmoffice_port: int = 8702
    seed: int | None = 200
    empty: bool = False
    data_dir: Path | str | None = None
    webcrm_rate_limit: int = WEBCRM_RATE_LIMIT
    crmoffice_rate_limit: int = DEFAULT_RATE_LIMIT
    fault_rate: float = 0.0
    fault_seed: int = 0
    fault_stall_seconds: float = 35.0
    token_ttl: float = 3600.0
    retry_after_format: RetryAfterFormat = "seconds"
    # CRMOffice's clock (its stamps and `Date` header) runs this many seconds ahead of ours.
    crmoffice_clock_offset: float = 0.0
    # CRMOffice serves at most this many items per list page, whatever `pageSize` asks.
    crmoffice_max_page_size: int | None = None
    # The rate limits' sliding window; 60 s as both APIs count. Only tests and the quick bench
    # shorten it, to meet a limit and its Retry-After within seconds (no command-line option).
    rate_window_seconds: float = 60.0
    # Realism options (sandbox/realism.py); the defaults store what is sent, item by item.
    crmoffice_phone_format: PhoneFormat = "as-sent"
    webcrm_phone_format: PhoneFormat = "as-sent"
    webcrm_bulk_rejection: BulkRejection = "per-item"
    # Live-WebCRM realism (reference/webcrm-live-evidence.md 9, 11): the zone times are rendered
    # in and offset-less /Queries literals read in; the share of API creates failing on id
    # generation (drawn from a stream seeded by fault_seed).
    webcrm_timezone: str = DEFAULT_WEBCRM_ZONE
    webcrm_create_failure_rate: float = 0.0
    # Hook delivery's retries (sandbox/hook_delivery.py): tests scale them down to meet a
    # receiver outage in seconds (no command-line option).
    hook_delivery: DeliveryPolicy = field(default_factory=DeliveryPolicy)


@dataclass
class RunningSandbox:
    """Both CRMs, listening: their base URLs, state handles and request statistics."""

    webcrm_url: str
    crmoffice_url: str
    webcrm: WebcrmState
    crmoffice: CrmofficeState
    webcrm_stats: RequestStats
    crmoffice_stats: RequestStats
    restored: bool
    hooks: HookBook | None = None

    def stats(self) -> dict[str, dict[str, Any]]:
        """`{"webcrm": {...}, "crmoffice": {...}}`, each as served at `/_sandbox/stats`."""
        return {
            "webcrm": self.webcrm_stats.snapshot(),
            "crmoffice": self.crmoffice_stats.snapshot(),
        }

    def arrivals(self) -> dict[str, list[tuple[float, str]]]:
        """Per system, each API request's (seconds since the last reset, family)."""
        return {
            "webcrm": self.webcrm_stats.arrivals(),
            "crmoffice": self.crmoffice_stats.arrivals(),
        }

    def reset_stats(self) -> None:
        """Zero both systems' counters."""
        self.webcrm_stats.reset()
        self.crmoffice_stats.reset()


def check_loopback(host: str) -> None:
    """Refuse to serve on anything but a loopback address (ValueError)."""
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"the sandbox only binds loopback addresses, not {host!r}")


@contextmanager
def running_sandbox(settings: SandboxSettings | None = None) -> Iterator[RunningSandbox]:
    """Serve both CRMs until the block ends; state is restored from/flushed to `data_dir`."""
    settings = settings or SandboxSettings()
    check_loopback(settings.host)
    crmoffice_clock = skewed(settings.crmoffice_clock_offset)
    webcrm = WebcrmState(zone=settings.webcrm_timezone)
    crmoffice = CrmofficeState(crmoffice_clock)
    hooks = HookBook(zone=settings.webcrm_timezone)
    files = _snapshot_files(settings, webcrm, crmoffice, hooks)
    restored = any([f.restore() for f in files])
    if not restored and not settings.empty and settings.seed:
        seed_sandbox(webcrm, crmoffice, settings.seed)
    flusher = PeriodicFlusher(files)
    flusher.flush_all()
    stats = RequestStats(), RequestStats()
    apps = _apps(settings, webcrm, crmoffice, stats, hooks)
    sockets = _bind_both(settings)
    deliverer = HookDeliverer(hooks, stats[0], settings.hook_delivery)
    webcrm.add_listener(deliverer.record_changed)
    flusher.start()
    deliverer.start()
    try:
        with serving(apps, sockets, clocks=[time.time, crmoffice_clock]):
            urls = [_url(settings.host, s) for s in sockets]
            yield RunningSandbox(
                urls[0], urls[1], webcrm, crmoffice, stats[0], stats[1], restored, hooks
            )
    finally:
        deliverer.stop()
        flusher.stop()


@contextmanager
def serving(
    apps: Sequence[ASGIApp],
    sockets: Sequence[socket.socket],
    clocks: Sequence[Clock] | None = None,
) -> Iterator[None]:
    """Serve each app on its bound socket (uvicorn, one background thread) for the block,
    each answering `Date` by its clock (default: this machine's); the sockets are closed
    afterwards."""
    clocks = clocks or [time.time] * len(apps)
    servers = [_server(DateHeader(app, clock)) for app, clock in zip(apps, clocks, strict=True)]
    thread = threading.Thread(target=_serve, args=(servers, sockets), name="sandbox", daemon=True)
    silence_expected_cuts()
    thread.start()
    try:
        _wait_started(servers, thread)
        yield
    finally:
        for server in servers:
            server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT)
        for sock in sockets:
            sock.close()


def _snapshot_files(
    settings: SandboxSettings, webcrm: WebcrmState, crmoffice: CrmofficeState, hooks: HookBook
) -> list[SnapshotFile]:
    if settings.data_dir is None:
        return []
    directory = Path(settings.data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    return [
        SnapshotFile(directory / "webcrm.json", webcrm),
        SnapshotFile(directory / "crmoffice.json", crmoffice),
        SnapshotFile(directory / "webcrm_hooks.json", hooks),
    ]


def _apps(
    settings: SandboxSettings,
    webcrm: WebcrmState,
    crmoffice: CrmofficeState,
    stats: tuple[RequestStats, RequestStats],
    hooks: HookBook,
) -> tuple[ASGIApp, ASGIApp]:
    faults = FaultSettings(settings.fault_rate, settings.fault_seed, settings.fault_stall_seconds)
    return (
        create_webcrm_app(
            webcrm,
            stats=stats[0],
            rate_limit=settings.webcrm_rate_limit,
            token_ttl=settings.token_ttl,
            faults=faults,
            rate_window=settings.rate_window_seconds,
            retry_after_format=settings.retry_after_format,
            rules=WebcrmWriteRules(settings.webcrm_phone_format, settings.webcrm_bulk_rejection),
            create_failures=CreateFailures(
                settings.webcrm_create_failure_rate, settings.fault_seed
            ),
            hooks=hooks,
        ),
        create_crmoffice_app(
            crmoffice,
            stats=stats[1],
            rate_limit=settings.crmoffice_rate_limit,
            token_ttl=settings.token_ttl,
            faults=faults,
            rate_window=settings.rate_window_seconds,
            retry_after_format=settings.retry_after_format,
            phone_format=settings.crmoffice_phone_format,
            max_page_size=settings.crmoffice_max_page_size,
        ),
    )


def _bind_both(settings: SandboxSettings) -> list[socket.socket]:
    first = _bind(settings.host, settings.webcrm_port)
    try:
        return [first, _bind(settings.host, settings.crmoffice_port)]
    except OSError:
        first.close()
        raise


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets that say they are TCP,
    # and without it every keep-alive response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _server(app: ASGIApp) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
        date_header=False,  # each app sends `Date` by its own clock (see `clock.DateHeader`)
    )
    return uvicorn.Server(config)


def _serve(servers: list[uvicorn.Server], sockets: list[socket.socket]) -> None:
    async def serve_all() -> None:
        await asyncio.gather(
            *(s.serve(sockets=[sock]) for s, sock in zip(servers, sockets, strict=True))
        )

    asyncio.run(serve_all())


def _wait_started(servers: list[uvicorn.Server], thread: threading.Thread) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not all(s.started for s in servers):
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the sandbox servers did not start")
        time.sleep(0.01)


def _url(host: str, sock: socket.socket) -> str:
    port = sock.getsockname()[1]
    shown = f"[{host.strip('[]')}]" if ":" in host else host
    return f"http://{shown}:{port}"
