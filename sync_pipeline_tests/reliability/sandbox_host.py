"""Both emulated CRMs served in this process with credentials of our choosing.

`running_sandbox` (and the `sandbox` command) only take the public default credentials, so the
secrets part could never tell a leaked default from a printed one. This host builds the same
apps with fresh random credentials, records every access token the sandbox issues (to scan the
run's outputs for them), and wraps each app in a write log and an optional corruptor.
"""

from __future__ import annotations

import logging
import secrets
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp

from sync_pipeline.sandbox import access
from sync_pipeline.sandbox.crmoffice_app import create_crmoffice_app
from sync_pipeline.sandbox.crmoffice_state import CrmofficeState
from sync_pipeline.sandbox.faults import FaultSettings
from sync_pipeline.sandbox.realism import WebcrmWriteRules
from sync_pipeline.sandbox.server import RunningSandbox, SandboxSettings, serving
from sync_pipeline.sandbox.stats import RequestStats
from sync_pipeline.sandbox.webcrm_app import create_webcrm_app
from sync_pipeline.sandbox.webcrm_rules import default_reference
from sync_pipeline.sandbox.webcrm_state import WebcrmState
from sync_pipeline_tests.reliability.wire import (
    CorruptingMiddleware,
    Corruptions,
    WriteLog,
    WriteLogMiddleware,
)

HOST = "127.0.0.1"
UNLIMITED = 1_000_000
WEBCRM_IDS = ("PersonId", "UserId", "ProductId")
ISSUED_TOKENS: set[str] = set()
_issue_lock = threading.Lock()


@dataclass(frozen=True)
class Credentials:
    """The WebCRM API token and the CRMOffice client credentials a sandbox accepts."""

    webcrm_token: str
    client_id: str
    client_secret: str

    @classmethod
    def fresh(cls) -> Credentials:
        """Random, never-printed credentials."""
        return cls(
            f"wt-{secrets.token_hex(16)}", f"client-{secrets.token_hex(4)}", secrets.token_hex(16)
        )

    def env(self) -> dict[str, str]:
        """The environment variables a sync process reads them from."""
        return {
            "WEBCRM_API_TOKEN": self.webcrm_token,
            "CRMOFFICE_CLIENT_ID": self.client_id,
            "CRMOFFICE_CLIENT_SECRET": self.client_secret,
        }


CONFIGURED_SECRETS: set[str] = set()
CLIENT_IDS: set[str] = set()


def record_issued_tokens() -> None:
    """Remember every access token any sandbox of this process hands out (idempotent)."""
    if getattr(access.TokenBook.issue, "_recording", False):
        return
    original = access.TokenBook.issue

    def issue(self: access.TokenBook, caller: str) -> access.IssuedToken:
        token = original(self, caller)
        with _issue_lock:
            ISSUED_TOKENS.add(token.value)
        return token

    # why the ignore below: a marker on the wrapper function, so it is installed once
    issue._recording = True  # type: ignore[attr-defined]
    # why the ignore below: records the tokens the sandbox issues, for the secret scan
    access.TokenBook.issue = issue  # type: ignore[method-assign]


def secrets_in_use() -> set[str]:
    """Every secret the run has used so far: configured credentials and issued tokens."""
    with _issue_lock:
        return set(ISSUED_TOKENS) | set(CONFIGURED_SECRETS)


@dataclass
class HostedSandbox(RunningSandbox):
    """A running sandbox plus its credentials, write logs and corruptors."""

    credentials: Credentials = field(default_factory=Credentials.fresh)
    webcrm_writes: WriteLog = field(default_factory=WriteLog)
    crmoffice_writes: WriteLog = field(default_factory=WriteLog)
    webcrm_corruptions: Corruptions = field(default_factory=lambda: Corruptions(WEBCRM_IDS))
    crmoffice_corruptions: Corruptions = field(default_factory=lambda: Corruptions(("id",)))

    def env(self) -> dict[str, str]:
        """Environment for a `sync-pipeline` process against this sandbox."""
        default = default_reference(self.webcrm)  # persons created from contacts belong to it
        return {
            "WEBCRM_BASE_URL": self.webcrm_url,
            "CRMOFFICE_BASE_URL": self.crmoffice_url,
            **self.credentials.env(),
            **({} if default is None else {"WEBCRM_DEFAULT_ORGANISATION_ID": str(default[1])}),
        }


@contextmanager
def hosted_sandbox(
    settings: SandboxSettings, credentials: Credentials | None = None
) -> Iterator[HostedSandbox]:
    """Serve both CRMs (empty unless the caller fills them) until the block ends."""
    record_issued_tokens()
    credentials = credentials or Credentials.fresh()
    CONFIGURED_SECRETS.update({credentials.webcrm_token, credentials.client_secret})
    CLIENT_IDS.add(credentials.client_id)
    webcrm, crmoffice = WebcrmState(), CrmofficeState()
    stats = RequestStats(), RequestStats()
    logs = WriteLog(), WriteLog()
    corruptions = Corruptions(WEBCRM_IDS), Corruptions(("id",))
    apps = _apps(settings, credentials, webcrm, crmoffice, stats)
    wrapped = [
        CorruptingMiddleware(WriteLogMiddleware(app, log), bad)
        for app, log, bad in zip(apps, logs, corruptions, strict=True)
    ]
    sockets = [_bind(), _bind()]
    quiet_client_disconnects()
    with serving(list(wrapped), sockets):
        urls = [f"http://{HOST}:{s.getsockname()[1]}" for s in sockets]
        yield HostedSandbox(
            urls[0], urls[1], webcrm, crmoffice, stats[0], stats[1], False, None,
            credentials, logs[0], logs[1], corruptions[0], corruptions[1],
        )  # fmt: skip


class _ClientDisconnectFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        info = record.exc_info
        return not (info and info[0] is not None and issubclass(info[0], ClientDisconnect))


def quiet_client_disconnects() -> None:
    """A client that gave up on a stalled request is expected here, not a server error."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _ClientDisconnectFilter) for f in logger.filters):
        logger.addFilter(_ClientDisconnectFilter())


def _apps(
    settings: SandboxSettings,
    credentials: Credentials,
    webcrm: WebcrmState,
    crmoffice: CrmofficeState,
    stats: tuple[RequestStats, RequestStats],
) -> tuple[ASGIApp, ASGIApp]:
    faults = FaultSettings(settings.fault_rate, settings.fault_seed, settings.fault_stall_seconds)
    common: dict[str, Any] = {"token_ttl": settings.token_ttl, "faults": faults}
    return (
        create_webcrm_app(
            webcrm,
            stats=stats[0],
            auth_code=credentials.webcrm_token,
            rate_limit=settings.webcrm_rate_limit,
            rules=WebcrmWriteRules(settings.webcrm_phone_format, settings.webcrm_bulk_rejection),
            **common,
        ),
        create_crmoffice_app(
            crmoffice,
            stats=stats[1],
            credentials=(credentials.client_id, credentials.client_secret),
            rate_limit=settings.crmoffice_rate_limit,
            phone_format=settings.crmoffice_phone_format,
            max_page_size=settings.crmoffice_max_page_size,
            **common,
        ),
    )


def _bind() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    return sock
