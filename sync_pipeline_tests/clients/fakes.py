"""Small stateful fake CRMs for `httpx.MockTransport`, and a fake clock that records sleeps."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx

WEBCRM_TOKEN = "webcrm-api-token-s3cr3t"
CRMOFFICE_SECRET = "crmoffice-client-s3cr3t"
Fault = Callable[[httpx.Request], httpx.Response]


class FakeClock:
    """A monotonic clock that only moves when something sleeps; every sleep is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        """Advance time instead of waiting."""
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


def status(code: int, body: Any = None, headers: dict[str, str] | None = None) -> Fault:
    """A fault that answers `code` with a JSON body."""
    return lambda request: httpx.Response(code, json=body, headers=headers)


def raises(exc_type: type[httpx.TransportError]) -> Fault:
    """A fault that fails the transport with `exc_type`."""

    def fault(request: httpx.Request) -> httpx.Response:
        raise exc_type("simulated", request=request)

    return fault


@dataclass
class FakeCrm:
    """Shared plumbing: request log, issued tokens, injected faults (one per request, in order)."""

    token_ttl: int = 3600
    faults: list[Fault | None] = field(default_factory=list)  # None: answer normally
    log: list[httpx.Request] = field(default_factory=list)
    valid_tokens: set[str] = field(default_factory=set)
    logins: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def transport(self) -> httpx.MockTransport:
        """This fake as an httpx transport."""
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Log, inject the next fault if any, else route."""
        with self.lock:
            self.log.append(request)
            fault = self.faults.pop(0) if self.faults else None
        if fault is not None:
            return fault(request)
        return self.route(request)

    def route(self, request: httpx.Request) -> httpx.Response:
        raise NotImplementedError

    def issue_token(self) -> str:
        """Mint a new bearer token."""
        with self.lock:
            self.logins += 1
            token = f"access-{self.logins}-xyzzy"
            self.valid_tokens.add(token)
        return token

    def authorised(self, request: httpx.Request) -> bool:
        """Whether the request carries a token this fake issued."""
        header = request.headers.get("Authorization", "")
        return header.startswith("Bearer ") and header[7:] in self.valid_tokens

    def requests_to(self, method: str, path: str) -> list[httpx.Request]:
        """Logged requests with this method and path."""
        return [r for r in self.log if r.method == method and r.url.path == path]


@dataclass
class FakeWebcrm(FakeCrm):
    """WebCRM: ApiLogin, paged lists, /Queries, bulk PATCH, POST, GET by id."""

    persons: dict[int, dict[str, Any]] = field(default_factory=dict)
    reject_names: set[str] = field(default_factory=set)
    scripts: list[str] = field(default_factory=list)

    def add_persons(self, count: int) -> None:
        """Seed `count` persons with ids 1..count."""
        for i in range(1, count + 1):
            self.persons[i] = {"PersonId": i, "PersonFirstName": f"P{i}", "PersonLastName": "Æbelø"}

    def route(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/Auth/ApiLogin":
            return self._login(request)
        if not self.authorised(request):
            return httpx.Response(401, json={"Message": "Authorization has been denied"})
        if path == "/Queries":
            self.scripts.append(request.url.params["script"])
            return self._page(request, list(self.persons.values()))
        if path == "/Persons" and request.method == "GET":
            return self._page(request, list(self.persons.values()))
        if path == "/Persons" and request.method == "PATCH":
            return httpx.Response(200, json=[self._upsert(i) for i in json.loads(request.content)])
        if path == "/Persons" and request.method == "POST":
            return httpx.Response(200, json=int(self._upsert(json.loads(request.content))))
        match = re.fullmatch(r"/Persons/(\d+)", path)
        if match and int(match[1]) in self.persons:
            return httpx.Response(200, json=self.persons[int(match[1])])
        return httpx.Response(404, json={"Message": "Not found"})

    def _login(self, request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        if form.get("authCode") != [WEBCRM_TOKEN]:
            return httpx.Response(
                401,
                json={"IsError": True, "Error": "invalid_grant", "ErrorDescription": "bad code"},
            )
        token = self.issue_token()
        body = {"AccessToken": token, "ExpiresIn": self.token_ttl, "TokenType": "Bearer"}
        return httpx.Response(200, json={**body, "RefreshToken": "r", "IsError": False})

    def _page(self, request: httpx.Request, rows: list[dict[str, Any]]) -> httpx.Response:
        page, size = int(request.url.params["Page"]), int(request.url.params["Size"])
        if not 1 <= size <= 1000:
            return httpx.Response(400, json={"Message": "Size must be 1..1000"})
        return httpx.Response(200, json=rows[(page - 1) * size : page * size])

    def _upsert(self, item: dict[str, Any]) -> str:
        if item.get("PersonFirstName") in self.reject_names:
            return f"Invalid PersonFirstName: {item['PersonFirstName']}"
        with self.lock:
            person_id = item.get("PersonId") or max(self.persons, default=0) + 1
            self.persons.setdefault(person_id, {"PersonId": person_id}).update(item)
        return str(person_id)


@dataclass
class FakeCrmoffice(FakeCrm):
    """CRMOffice: client-credentials token, paged lists with totalItems, CRUD, problem+json."""

    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    delay: Callable[[], None] | None = None
    in_flight: int = 0
    max_in_flight: int = 0

    def add_contacts(self, count: int) -> None:
        """Seed `count` contacts with ids c1..c<count>."""
        for i in range(1, count + 1):
            self.contacts[f"c{i}"] = {"id": f"c{i}", "givenName": f"G{i}", "familyName": "Ødegård"}

    def route(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/connect/token":
            return self._token(request)
        if not self.authorised(request):
            return _problem(401, "Unauthorized", "missing or expired token")
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay is not None:
                self.delay()
            return self._contacts(request)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        if form.get("client_secret") != [CRMOFFICE_SECRET]:
            return _problem(401, "invalid_client", "unknown client")
        token = self.issue_token()
        return httpx.Response(
            200, json={"access_token": token, "token_type": "Bearer", "expires_in": self.token_ttl}
        )

    def _contacts(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        if path == "/contacts" and method == "GET":
            page, size = int(request.url.params["page"]), int(request.url.params["pageSize"])
            rows = list(self.contacts.values())
            items = rows[(page - 1) * size : page * size]
            body = {"items": items, "page": page, "pageSize": size, "totalItems": len(rows)}
            return httpx.Response(200, json=body)
        if path == "/contacts" and method == "POST":
            return self._store(None, json.loads(request.content), 201)
        match = re.fullmatch(r"/contacts/([^/]+)", path)
        if match and match[1] in self.contacts and method == "PATCH":
            return self._store(match[1], json.loads(request.content), 200)
        if match and match[1] in self.contacts and method == "GET":
            return httpx.Response(200, json=self.contacts[match[1]])
        return _problem(404, "Not Found", f"no contact at {path}")

    def _store(self, record_id: str | None, body: dict[str, Any], code: int) -> httpx.Response:
        too_long = [k for k, v in body.items() if isinstance(v, str) and len(v) > 255]
        if too_long:
            return _problem(422, "Invalid field", f"{too_long[0]} is longer than 255 characters")
        with self.lock:
            record_id = record_id or f"c{len(self.contacts) + 1}"
            record = self.contacts.setdefault(record_id, {"id": record_id})
            record.update(body)
            return httpx.Response(code, json=dict(record))


def _problem(code: int, title: str, detail: str) -> httpx.Response:
    body = {"type": "about:blank", "title": title, "status": code, "detail": detail}
    return httpx.Response(
        code, content=json.dumps(body), headers={"Content-Type": "application/problem+json"}
    )
