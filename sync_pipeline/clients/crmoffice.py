"""CRMOffice REST client (no public spec: DESIGN.md section 5 is the documented assumption).

The entity facts and the rate limit come from the system description (`systems.yaml`). Lists
ask for pages of the entity's `page_size` (500) but count pages by the size the envelope says
was served (`pageSize`, a server may cap it lower), and stop once the pages cover `totalItems`
(or on a short page), so a read costs exactly ceil(total / served size) requests (one for an
empty list). A read whose total changed while paging, or whose count does not match it, is
reported incomplete (`read_all`: see `clients.pagination`). Writes
are one request per record; `write_many` runs them with bounded concurrency under the shared
rate limiter and returns every outcome instead of raising for a rejected record. A create (POST)
is retried only when the failure proves it did not land (429, 503, no connection); otherwise its
result says `outcome_unknown` so the caller's create intent reconciles it rather than risking a
duplicate.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

import httpx

from sync_pipeline.clients.auth import AccessGrant, grant_from
from sync_pipeline.clients.edge_client import EdgeClient
from sync_pipeline.clients.errors import (
    AuthenticationError,
    CrmClientError,
    RecordRejectedError,
    RetriesExhaustedError,
    WriteOutcomeUnknownError,
)
from sync_pipeline.clients.http import DEFAULT_TIMEOUTS, HttpEdge, Timeouts
from sync_pipeline.clients.pagination import PagedRead, PagePaginator, PaginationLoopError
from sync_pipeline.clients.probe import Probe, probe_of
from sync_pipeline.clients.ratelimit import RateLimiter, SlidingWindowLimiter
from sync_pipeline.clients.retry import RetryPolicy
from sync_pipeline.core.systems import SystemSpec, format_timestamp, packaged_systems


@dataclass(frozen=True)
class WriteOp:
    """One write for `write_many`: a create (no id) or a patch of record `id`."""

    kind: Literal["create", "patch"]
    entity: str
    body: Mapping[str, Any]
    id: str | None = None

    def __post_init__(self) -> None:
        packaged_systems().crmoffice.entity(self.entity)
        if self.kind == "patch" and self.id is None:
            raise ValueError("a patch WriteOp needs the record id")
        if self.kind == "create" and self.id is not None:
            raise ValueError("a create WriteOp takes no id")


@dataclass(frozen=True)
class WriteResult:
    """The outcome of one `WriteOp`: the stored record, or the error (and HTTP status if any)."""

    op: WriteOp
    ok: bool
    record: dict[str, Any] | None = None
    status: int | None = None
    error: str | None = None
    outcome_unknown: bool = False


class CrmofficeAuthenticator:
    """OAuth2 client credentials at `POST /connect/token`."""

    login_path = "/connect/token"
    credential_name = "the client credentials"

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        credential_hint: str = "check CRMOFFICE_CLIENT_ID and CRMOFFICE_CLIENT_SECRET",
    ) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self.credential_hint = credential_hint

    def __repr__(self) -> str:
        return f"CrmofficeAuthenticator(client_id={self._client_id!r}, client_secret='***')"

    def login_form(self) -> Mapping[str, str]:
        """The token request form."""
        return {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._client_secret,
        }

    def parse_grant(self, payload: object) -> AccessGrant:
        """`access_token` and `expires_in` from the token response."""
        return grant_from(payload, "access_token", "expires_in", "token response")

    def secrets(self) -> tuple[str, ...]:
        """The client secret."""
        return (self._client_secret,)


class CrmofficeClient(EdgeClient):
    """The entities `system` declares (contacts, companies) of one CRMOffice tenant.

    `system` defaults to the package's `systems.yaml`; `rate_limit_per_minute` to its declared
    limit (`"declared"`), None meaning unpaced.
    """

    system = "CRMOffice"

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        transport: httpx.BaseTransport | None = None,
        rate_limit_per_minute: int | Literal["declared"] | None = "declared",
        max_concurrency: int = 8,
        timeout: Timeouts = DEFAULT_TIMEOUTS,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        credential_hint: str = "check CRMOFFICE_CLIENT_ID and CRMOFFICE_CLIENT_SECRET",
        system: SystemSpec | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be positive, got {max_concurrency}")
        self.spec = packaged_systems().crmoffice if system is None else system
        limit = (
            self.spec.rate_limit.per_minute
            if rate_limit_per_minute == "declared"
            else rate_limit_per_minute
        )
        self.max_concurrency = max_concurrency
        self._http = HttpEdge(
            base_url,
            system=self.system,
            authenticator=CrmofficeAuthenticator(client_id, client_secret, credential_hint),
            limiter=limiter or SlidingWindowLimiter(limit),
            retry=retry or RetryPolicy(),
            timeout=timeout,
            transport=transport,
            max_connections=max_concurrency + 2,
        )

    def list_all(self, entity: str, updated_since: datetime | None = None) -> list[dict[str, Any]]:
        """Every record of `entity` (updated at or after `updated_since`, when given)."""
        return self.read_all(entity, updated_since).records

    def read_all(self, entity: str, updated_since: datetime | None = None) -> PagedRead:
        """Like `list_all`, and whether the pages added up (`PagedRead.complete`: the count
        matches `totalItems` and the total never changed while paging)."""
        paginator = PagePaginator(self.spec.entity(entity).page_size)
        pages = self._pages(entity, updated_since, paginator)
        records = [record for page in pages for record in page]
        return PagedRead(records, paginator.complete, paginator.problem)

    def iter_pages(
        self, entity: str, updated_since: datetime | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """Like `list_all`, one page of up to the entity's `page_size` records at a time."""
        return self._pages(entity, updated_since, PagePaginator(self.spec.entity(entity).page_size))

    def changed_page(self, entity: str, since: datetime, size: int) -> PagedRead:
        """One page of at most `size` records of `entity` updated at or after `since` (a change
        probe: one request). `PagedRead.complete` is False when `totalItems` says more exist."""
        spec = self.spec.entity(entity)
        params: dict[str, str | int] = {
            "page": 1,
            "pageSize": size,
            "updatedSince": format_timestamp(since, spec.timestamp_format),
        }
        response = self._http.request("GET", f"/{entity}", params=params)
        body = self._http.json_body(response)
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise self._http.protocol_error(response, "a page without an `items` list")
        total = _count(body, "totalItems")
        return PagedRead(items, len(items) < size if total is None else total <= len(items))

    def probe(self, entity: str, size: int = 1) -> Probe:
        """The first page of `size` records of `entity` and the server's clock (a preflight)."""
        self.spec.entity(entity)
        params = {"page": 1, "pageSize": size}
        response = self._http.request("GET", f"/{entity}", params=params)
        body = self._http.json_body(response)
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise self._http.protocol_error(response, "a page without an `items` list")
        return probe_of(response, items)

    def get(self, entity: str, record_id: str) -> dict[str, Any]:
        """One record by id."""
        return self._record("GET", self._record_path(entity, record_id))

    def create(self, entity: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create a record (201) and return it; raises `WriteOutcomeUnknownError` when unsure."""
        self.spec.entity(entity)
        return self._record("POST", f"/{entity}", json=dict(body), idempotent=False)

    def patch(self, entity: str, record_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Change only the fields in `body`; return the record."""
        return self._record("PATCH", self._record_path(entity, record_id), json=dict(body))

    def delete(self, entity: str, record_id: str) -> None:
        """Delete a record."""
        self._http.request("DELETE", self._record_path(entity, record_id))

    def write_many(
        self,
        ops: Sequence[WriteOp],
        *,
        on_result: Callable[[int, WriteResult], None] | None = None,
        before_each: Callable[[], None] | None = None,
    ) -> list[WriteResult]:
        """Apply `ops` concurrently (at most `max_concurrency` at once); results in op order.

        Per-record failures come back as results; only `AuthenticationError` (or an exception
        from `on_result`) is raised. `on_result(index, result)` runs in the calling thread as
        each op completes. Once one op exhausts its retries the API is deemed down: ops not yet
        started are returned unattempted rather than each waiting out its own retry budget.
        `before_each()` runs (in the worker thread) right before each op's request; an
        exception from it stops the ops not yet started and is raised here.
        """
        results: list[WriteResult | None] = [None] * len(ops)
        stop = threading.Event()
        down: list[str] = []
        with ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="crmoffice") as pool:
            futures = {
                pool.submit(self._run_op, op, stop, down, before_each): i
                for i, op in enumerate(ops)
            }
            try:
                self._collect(futures, results, on_result)
            finally:
                stop.set()
                for future in futures:
                    future.cancel()
        return [result for result in results if result is not None]

    def _collect(
        self,
        futures: dict[Future[WriteResult], int],
        results: list[WriteResult | None],
        on_result: Callable[[int, WriteResult], None] | None,
    ) -> None:
        for future in as_completed(futures):
            index = futures[future]
            result = future.result()
            results[index] = result
            if on_result is not None:
                on_result(index, result)

    def _run_op(
        self,
        op: WriteOp,
        stop: threading.Event,
        down: list[str],
        before: Callable[[], None] | None,
    ) -> WriteResult:
        if stop.is_set() or down:
            reason = down[0] if down else "stopped"
            return WriteResult(op, False, error=f"not attempted: {reason}")
        if before is not None:
            try:
                before()
            except BaseException:
                stop.set()
                raise
        try:
            if op.kind == "create":
                return WriteResult(op, True, record=self.create(op.entity, op.body), status=201)
            assert op.id is not None
            return WriteResult(op, True, record=self.patch(op.entity, op.id, op.body), status=200)
        except RecordRejectedError as exc:
            return WriteResult(op, False, status=exc.status, error=exc.detail)
        except WriteOutcomeUnknownError as exc:
            return WriteResult(op, False, status=exc.status, error=str(exc), outcome_unknown=True)
        except RetriesExhaustedError as exc:
            down.append(f"{self.system} unavailable ({exc})")
            return WriteResult(op, False, status=exc.status, error=str(exc))
        except AuthenticationError:
            raise
        except CrmClientError as exc:
            return WriteResult(op, False, status=exc.status, error=str(exc))

    def _record(self, method: str, path: str, **content: Any) -> dict[str, Any]:
        response = self._http.request(method, path, **content)
        if not response.content and method == "PATCH":
            return {}
        body = self._http.json_body(response)
        if not isinstance(body, dict):
            raise self._http.protocol_error(response, "a record that is not a JSON object")
        return body

    def _record_path(self, entity: str, record_id: str) -> str:
        self.spec.entity(entity)
        return f"/{entity}/{quote(str(record_id), safe='')}"

    def _pages(
        self, entity: str, updated_since: datetime | None, paginator: PagePaginator
    ) -> Iterator[list[dict[str, Any]]]:
        spec = self.spec.entity(entity)
        params: dict[str, str | int] = {"pageSize": spec.page_size}
        if updated_since is not None:
            params["updatedSince"] = format_timestamp(updated_since, spec.timestamp_format)
        while not paginator.finished:
            query = {**params, "page": paginator.page}
            response = self._http.request("GET", f"/{entity}", params=query)
            body = self._http.json_body(response)
            items = body.get("items") if isinstance(body, dict) else None
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                raise self._http.protocol_error(response, "a page without an `items` list")
            try:
                paginator.advance(
                    items,
                    total_items=_count(body, "totalItems"),
                    served_size=_count(body, "pageSize"),
                )
            except PaginationLoopError as exc:
                raise self._http.protocol_error(response, str(exc)) from None
            if items:
                yield items


def _count(body: Mapping[str, Any], key: str) -> int | None:
    value = body.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def utc_millis(moment: datetime) -> str:
    """`moment` as ISO-8601 UTC with milliseconds and `Z`, rounded down to the millisecond."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"CRMOffice timestamps must be timezone-aware, got {moment!r}")
    return format_timestamp(moment, "utc_millis_z")
