"""ASGI middlewares around the emulated CRMs: a write log, and record corruption on the wire.

The write log sees every API write a sandbox answers, so a test can tell whether any record was
written twice. The corruptor rewrites records in list responses, for bad input the sandbox's own
storage cannot hold (missing ids, duplicate records, unparseable timestamps, lone surrogates...).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
AUTH_PATHS = frozenset({"/Auth/ApiLogin", "/connect/token"})  # logins write no record
Rewrite = Callable[[dict[str, Any]], list[dict[str, Any]]]


@dataclass(frozen=True)
class WriteEntry:
    """One answered API write: method, path, JSON body (None if not JSON) and status."""

    method: str
    path: str
    body: Any
    status: int


@dataclass
class WriteLog:
    """Every write request a sandbox answered, in order (thread-safe)."""

    entries: list[WriteEntry] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, entry: WriteEntry) -> None:
        """Append one entry."""
        with self._lock:
            self.entries.append(entry)

    def snapshot(self) -> list[WriteEntry]:
        """A copy of the entries so far."""
        with self._lock:
            return list(self.entries)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self.entries.clear()


class WriteLogMiddleware:
    """Records each write request with its body and the status the client was sent."""

    def __init__(self, app: ASGIApp, log: WriteLog) -> None:
        self._app = app
        self._log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if (
            scope["type"] != "http"
            or scope["method"] not in WRITE_METHODS
            or scope["path"] in AUTH_PATHS
        ):
            await self._app(scope, receive, send)
            return
        chunks: list[bytes] = []
        status = [0]

        async def tap_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
            return message

        async def tap_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        await self._app(scope, tap_receive, tap_send)
        self._log.add(
            WriteEntry(scope["method"], scope["path"], _json(b"".join(chunks)), status[0])
        )


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


@dataclass
class Corruptions:
    """Per (id property, id as a string), a rewrite applied wherever that record is listed."""

    id_fields: tuple[str, ...]
    rewrites: dict[tuple[str, str], Rewrite] = field(default_factory=dict)

    def apply(self, records: list[Any]) -> list[Any]:
        """The listed records with every matching rewrite applied (a rewrite may drop or copy)."""
        out: list[Any] = []
        for record in records:
            rewrite = self._rewrite_for(record)
            out.extend(rewrite(dict(record)) if rewrite else [record])
        return out

    def _rewrite_for(self, record: Any) -> Rewrite | None:
        if not isinstance(record, dict):
            return None
        for name in self.id_fields:
            if name in record:
                return self.rewrites.get((name, str(record[name])))
        return None


class CorruptingMiddleware:
    """Rewrites records in successful JSON list responses (bare arrays or `{"items": [...]}`)."""

    def __init__(self, app: ASGIApp, corruptions: Corruptions) -> None:
        self._app = app
        self._corruptions = corruptions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] != "http" or scope["method"] != "GET" or not self._corruptions.rewrites:
            await self._app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        body: list[bytes] = []

        async def hold(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                body.append(message.get("body", b""))
                if not message.get("more_body", False):
                    await self._flush(start, b"".join(body), send)

        await self._app(scope, receive, hold)

    async def _flush(self, start: dict[str, Any], raw: bytes, send: Send) -> None:
        if start.get("status") == 200:
            raw = self._rewrite(raw)
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(raw)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": raw})

    def _rewrite(self, raw: bytes) -> bytes:
        document = _json(raw)
        if isinstance(document, list):
            document = self._corruptions.apply(document)
        elif isinstance(document, dict) and isinstance(document.get("items"), list):
            document["items"] = self._corruptions.apply(document["items"])
        else:
            return raw
        # ensure_ascii: a lone surrogate travels as a \\ud800 escape, as a buggy API sends it
        return json.dumps(document, ensure_ascii=True).encode()


def written_records(entries: list[WriteEntry]) -> Counter[str]:
    """How often each record was written: creates keyed by their values, updates by id."""
    seen: Counter[str] = Counter()
    for entry in entries:
        if not 200 <= entry.status < 300:
            continue
        if entry.method == "PATCH" and isinstance(entry.body, list):  # WebCRM bulk upsert
            for item in entry.body:
                seen[_webcrm_key(item)] += 1
        elif entry.method == "POST" and isinstance(entry.body, dict):
            seen[f"create {entry.path} {sorted(entry.body.items())}"] += 1
        else:
            seen[f"{entry.method} {entry.path}"] += 1
    return seen


def _webcrm_key(item: Any) -> str:
    if isinstance(item, dict) and item.get("PersonId"):
        return f"update Persons {item['PersonId']}"
    return f"create Persons {sorted(item.items()) if isinstance(item, dict) else item}"
