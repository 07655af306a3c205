"""WebCRM REST client (vendor spec: `reference/webcrm-swagger-v1.json`).

The entity facts (id and updated-at property, `/Queries` table, page size, bulk chunk size) and
the rate limit come from the system description (`systems.yaml`, `core.systems.SystemSpec`).
Reads page at the entity's maximum `Size` (1000) until a short page; since the API reports no
total, a read whose last page is full costs one more request that returns `[]` (the API's
minimum). A server that serves fewer than `Size` records per page would look finished after its
first page: a short first page of a round length (a multiple of 10, as server caps are) costs
one probe of page 2, and a non-empty answer means pages are counted by that length from then on
(`clients.pagination`; issue 9, kind 3). Incremental reads go through `GET /Queries` on the
entity's `query_table` with an updated-at filter whose literals are UTC .NET round-trip strings
(`2024-09-14T08:00:00.0000000Z`, the vendor's own form, live evidence 3): the account's zone is
not known (evidence 11) and an offset-less literal would be read in it, so the client never
sends one. Bounds are widened (never narrowed) to whole seconds. Timestamps read back carry their
own offset. Writes go through the bulk `PATCH /{entity}` in chunks of the entity's
`write_chunk` (500) with one `ItemResult` per item.

Retrying writes: a chunk of pure updates (every item carries its `<X>Id`) is idempotent and is
retried on any retriable failure. A chunk holding inserts is retried only when the failure proves
the chunk was not applied (429, 503, no connection); otherwise its items come back with
`outcome_unknown=True`, because repeating it could insert duplicates and the caller's create
intents reconcile what did land. `create` (POST) follows the same rule and raises
`WriteOutcomeUnknownError`.

A bulk PATCH refused as a whole with a 4xx (not 429, which is retried) because one item breaks
a field rule would fail every item of the chunk, run after run. Such a chunk is bisected: each
half is sent again, recursively, until the refused items stand alone and fail with the API's
message while the valid ones land (DESIGN section 2, "a bulk request refused as a whole is split
until only the bad items fail"). One bad item among n costs at most 1 + 2*ceil(log2 n) requests.
Re-sending is safe even for inserts: a 4xx is the API's answer that it refused the request,
so nothing of it was applied (unlike a lost response, which is never bisected or repeated).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

import httpx

from sync_pipeline.clients.auth import AccessGrant, grant_from
from sync_pipeline.clients.edge_client import EdgeClient
from sync_pipeline.clients.errors import RecordRejectedError, WriteOutcomeUnknownError, shorten
from sync_pipeline.clients.http import DEFAULT_TIMEOUTS, HttpEdge, Timeouts
from sync_pipeline.clients.pagination import PagedRead, PagePaginator, PaginationLoopError
from sync_pipeline.clients.probe import Probe, probe_of
from sync_pipeline.clients.ratelimit import RateLimiter, SlidingWindowLimiter
from sync_pipeline.clients.retry import RetryPolicy
from sync_pipeline.clients.webcrm_hooks import WebcrmHooks
from sync_pipeline.core.systems import EntitySpec, SystemSpec, packaged_systems

DeclaredLimit = Literal["declared"]


@dataclass(frozen=True)
class ItemResult:
    """The outcome of one item of a bulk upsert: its id on success, else the error."""

    ok: bool
    id: str | None
    error: str | None
    outcome_unknown: bool = False


class WebcrmAuthenticator:
    """`POST /Auth/ApiLogin` with the API token as `authCode`."""

    login_path = "/Auth/ApiLogin"
    credential_name = "the API token"

    def __init__(self, api_token: str, credential_hint: str = "check WEBCRM_API_TOKEN") -> None:
        self._api_token = api_token
        self.credential_hint = credential_hint

    def __repr__(self) -> str:
        return "WebcrmAuthenticator(api_token='***')"

    def login_form(self) -> Mapping[str, str]:
        """The login form."""
        return {"authCode": self._api_token}

    def parse_grant(self, payload: object) -> AccessGrant:
        """`AccessToken` and `ExpiresIn` from a `TokenResponseDto`."""
        if isinstance(payload, dict) and payload.get("IsError"):
            raise ValueError("not a successful TokenResponseDto")
        return grant_from(payload, "AccessToken", "ExpiresIn", "TokenResponseDto")

    def secrets(self) -> tuple[str, ...]:
        """The API token."""
        return (self._api_token,)


class WebcrmClient(EdgeClient, WebcrmHooks):
    """The entities `system` declares (Persons, Users, Products, ...) of one WebCRM account,
    and their hooks (`webcrm_hooks`).

    `system` defaults to the package's `systems.yaml`; `rate_limit_per_minute` to its declared
    limit (`"declared"`), None meaning unpaced.
    """

    system = "WebCRM"

    def __init__(
        self,
        base_url: str,
        api_token: str,
        *,
        transport: httpx.BaseTransport | None = None,
        rate_limit_per_minute: int | DeclaredLimit | None = "declared",
        timeout: Timeouts = DEFAULT_TIMEOUTS,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        credential_hint: str = "check WEBCRM_API_TOKEN",
        system: SystemSpec | None = None,
    ) -> None:
        self.spec = packaged_systems().webcrm if system is None else system
        limit = (
            self.spec.rate_limit.per_minute
            if rate_limit_per_minute == "declared"
            else rate_limit_per_minute
        )
        self._http = HttpEdge(
            base_url,
            system=self.system,
            authenticator=WebcrmAuthenticator(api_token, credential_hint),
            limiter=limiter or SlidingWindowLimiter(limit),
            retry=retry or RetryPolicy(),
            timeout=timeout,
            transport=transport,
        )

    def list_all(self, entity: str) -> list[dict[str, Any]]:
        """Every record of `entity` (a name `systems.yaml` declares, e.g. Persons)."""
        return self.read_all(entity).records

    def read_all(self, entity: str) -> PagedRead:
        """Like `list_all`, as a `PagedRead` (WebCRM reports no total, so a read that paged to
        its end is complete)."""
        paginator = PagePaginator(self.spec.entity(entity).page_size)
        records = [record for page in self._pages(f"/{entity}", {}, paginator) for record in page]
        return PagedRead(records, paginator.complete, paginator.problem)

    def iter_pages(self, entity: str) -> Iterator[list[dict[str, Any]]]:
        """Every record of `entity`, one page of up to the entity's `page_size` at a time."""
        paginator = PagePaginator(self.spec.entity(entity).page_size)
        return self._pages(f"/{entity}", {}, paginator)

    def query_updated(
        self, entity: str, since: datetime, until: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Records of `entity` updated at or after `since` (and before `until`), via /Queries
        on the entity's `query_table`, filtered on its `updated_at` property."""
        spec = self.spec.entity(entity)
        if spec.query_table is None:
            raise ValueError(f"WebCRM entity {entity!r} declares no query_table")
        column = spec.updated_at
        script = f"SELECT * FROM {spec.query_table} WHERE {column} >= '{query_literal(since)}'"
        if until is not None:
            script += f" AND {column} < '{query_literal(until, round_up=True)}'"
        pages = self._pages("/Queries", {"script": script}, PagePaginator(spec.page_size))
        return [record for page in pages for record in page]

    def changed_page(self, entity: str, since: datetime, size: int) -> PagedRead:
        """One `/Queries` page of at most `size` records of `entity` updated at or after `since`
        (a change probe: one request). `PagedRead.complete` is False when the page came back
        full, so more changes may exist than it holds."""
        spec = self.spec.entity(entity)
        if spec.query_table is None:
            raise ValueError(f"WebCRM entity {entity!r} declares no query_table")
        script = (
            f"SELECT * FROM {spec.query_table} WHERE {spec.updated_at} >= '{query_literal(since)}'"
        )
        params = {"script": script, "Page": 1, "Size": size}
        response = self._http.request("GET", "/Queries", params=params)
        records = self._http.json_body(response)
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise self._http.protocol_error(response, "a page that is not a list of records")
        return PagedRead(records, len(records) < size)

    def probe(self, entity: str, size: int = 1) -> Probe:
        """The first page of `size` records of `entity` and the server's clock (a preflight)."""
        self.spec.entity(entity)
        response = self._http.request("GET", f"/{entity}", params={"Page": 1, "Size": size})
        records = self._http.json_body(response)
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise self._http.protocol_error(response, "a page that is not a list of records")
        return probe_of(response, records)

    def get(self, entity: str, record_id: str | int) -> dict[str, Any]:
        """One record by id."""
        self.spec.entity(entity)
        response = self._http.request("GET", f"/{entity}/{_quote_id(record_id)}")
        body = self._http.json_body(response)
        if not isinstance(body, dict):
            raise self._http.protocol_error(response, "a record that is not a JSON object")
        return body

    def create(self, entity: str, record: Mapping[str, Any]) -> str:
        """Insert one record (POST, never retried once it may have landed); return its new id."""
        self.spec.entity(entity)
        response = self._http.request("POST", f"/{entity}", json=dict(record), idempotent=False)
        new_id = _as_id(self._http.json_body(response))
        if new_id is None:
            raise self._http.protocol_error(response, "a create response that is not an id")
        return new_id

    def delete(self, entity: str, record_id: str | int) -> None:
        """Delete one record by id (the API allows it for Products)."""
        self.spec.entity(entity)
        self._http.request("DELETE", f"/{entity}/{_quote_id(record_id)}")

    def bulk_upsert(
        self,
        entity: str,
        items: Sequence[Mapping[str, Any]],
        *,
        on_chunk: Callable[[int, list[ItemResult]], None] | None = None,
    ) -> list[ItemResult]:
        """Update (items with `<X>Id`) or insert (without) via bulk PATCH; one result per item.

        Items go in chunks of the entity's `write_chunk`. `on_chunk(offset, results)` runs after
        each chunk so the caller can persist progress.
        """
        spec: EntitySpec = self.spec.entity(entity)
        results: list[ItemResult] = []
        for offset in range(0, len(items), spec.write_chunk):
            chunk = items[offset : offset + spec.write_chunk]
            chunk_results = self._upsert_chunk(entity, spec.id, chunk)
            if on_chunk is not None:
                on_chunk(offset, chunk_results)
            results.extend(chunk_results)
        return results

    def _upsert_chunk(
        self, entity: str, id_key: str, chunk: Sequence[Mapping[str, Any]]
    ) -> list[ItemResult]:
        updates_only = all(_as_id(item.get(id_key)) is not None for item in chunk)
        try:
            response = self._http.request(
                "PATCH", f"/{entity}", json=[dict(item) for item in chunk], idempotent=updates_only
            )
        except RecordRejectedError as exc:
            return self._bisect(entity, id_key, chunk, exc)
        except WriteOutcomeUnknownError as exc:
            return [ItemResult(False, None, str(exc), outcome_unknown=True)] * len(chunk)
        body = self._http.json_body(response)
        if not isinstance(body, list) or len(body) != len(chunk):
            raise self._http.protocol_error(
                response, f"a PATCH result that is not a list of {len(chunk)} strings"
            )
        return [self._item_result(value) for value in body]

    def _bisect(
        self,
        entity: str,
        id_key: str,
        chunk: Sequence[Mapping[str, Any]],
        refusal: RecordRejectedError,
    ) -> list[ItemResult]:
        """Results of a chunk refused as a whole: an item alone carries the refusal; a longer
        chunk is sent again in halves (safe: a 4xx applied nothing, see module doc)."""
        if len(chunk) == 1 or refusal.status not in _SPLIT_ON:
            return [ItemResult(False, None, f"chunk rejected: {refusal}")] * len(chunk)
        middle = len(chunk) // 2
        return [
            *self._upsert_chunk(entity, id_key, chunk[:middle]),
            *self._upsert_chunk(entity, id_key, chunk[middle:]),
        ]

    def _item_result(self, value: object) -> ItemResult:
        new_id = _as_id(value)
        if new_id is not None:
            return ItemResult(True, new_id, None)
        return ItemResult(False, None, self._http.redact(shorten(str(value))) or "rejected")

    def _pages(
        self, path: str, params: Mapping[str, str], paginator: PagePaginator
    ) -> Iterator[list[dict[str, Any]]]:
        while not paginator.finished:
            query = {**params, "Page": paginator.page, "Size": paginator.page_size}
            response = self._http.request("GET", path, params=query)
            records = self._http.json_body(response)
            if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
                raise self._http.protocol_error(response, "a page that is not a list of records")
            try:
                paginator.advance(records)
            except PaginationLoopError as exc:
                raise self._http.protocol_error(response, str(exc)) from None
            if records:
                yield records


# Whole-request refusals an item's content can cause (bad field, body too large): bisected.
# Others (403, 404, 405...) would refuse every half alike.
_SPLIT_ON = frozenset({400, 413, 422})


def query_literal(moment: datetime, *, round_up: bool = False) -> str:
    """`moment` as the UTC .NET round-trip literal /Queries compares against
    (`2024-09-14T08:00:00.0000000Z`; vendor integration, live evidence 3), which no account zone
    can misread. Rounded to whole seconds down (or up, for an exclusive upper bound), as
    WebCRM stores whole seconds, so the filter only ever widens.

    Raises ValueError for a naive datetime (its zone would be a guess).
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"WebCRM query bounds must be timezone-aware, got {moment!r}")
    utc = moment.astimezone(UTC)
    if round_up and utc.microsecond:
        utc += timedelta(seconds=1)
    return utc.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def _as_id(value: object) -> str | None:
    """A positive integer id as text, from an int or a string of digits; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if value > 0 else None
    text = value.strip() if isinstance(value, str) else ""
    if text.isascii() and text.isdigit() and int(text) > 0:
        return str(int(text))
    return None


def _quote_id(record_id: str | int) -> str:
    return quote(str(record_id), safe="")
