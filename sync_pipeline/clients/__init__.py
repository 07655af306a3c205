"""HTTP clients for WebCRM and CRMOffice: auth, pagination, retry, rate limit, one client per CRM.

Import from this package; its submodules are internal. `__all__` is the public surface.
"""

from __future__ import annotations

from sync_pipeline.clients.auth import AccessGrant, Authenticator
from sync_pipeline.clients.crmoffice import CrmofficeClient, WriteOp, WriteResult
from sync_pipeline.clients.errors import (
    AuthenticationError,
    CrmClientError,
    ProtocolError,
    RecordRejectedError,
    RetriesExhaustedError,
    WriteOutcomeUnknownError,
)
from sync_pipeline.clients.http import ClientStats, Timeouts
from sync_pipeline.clients.pagination import PagedRead, PagePaginator
from sync_pipeline.clients.probe import Probe
from sync_pipeline.clients.ratelimit import RateLimiter, SlidingWindowLimiter
from sync_pipeline.clients.retry import RetryPolicy
from sync_pipeline.clients.server_clock import ClockReading, ServerClock
from sync_pipeline.clients.webcrm import ItemResult, WebcrmClient, query_literal
from sync_pipeline.clients.webcrm_hooks import Hook
from sync_pipeline.clients.writers import (
    ChangedRecords,
    CrmofficeWriter,
    RecordWrite,
    RecordWriter,
    WebcrmWriter,
    WriteOutcome,
)

__all__ = [
    "AccessGrant",
    "AuthenticationError",
    "Authenticator",
    "ChangedRecords",
    "ClientStats",
    "ClockReading",
    "CrmClientError",
    "CrmofficeClient",
    "CrmofficeWriter",
    "Hook",
    "ItemResult",
    "PagePaginator",
    "PagedRead",
    "Probe",
    "ProtocolError",
    "RateLimiter",
    "RecordRejectedError",
    "RecordWrite",
    "RecordWriter",
    "RetriesExhaustedError",
    "RetryPolicy",
    "ServerClock",
    "SlidingWindowLimiter",
    "Timeouts",
    "WebcrmClient",
    "WebcrmWriter",
    "WriteOp",
    "WriteOutcome",
    "WriteOutcomeUnknownError",
    "WriteResult",
    "query_literal",
]
