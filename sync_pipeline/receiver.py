"""The WebCRM hook receiver behind `sync-pipeline hooks serve` (Starlette, run by uvicorn).

`POST /webcrm/hooks/<secret>`: the secret (`SYNC_HOOKS_SECRET`, compared in constant time with
`hmac.compare_digest`) is carried in the hook's TargetUrl, since WebCRM's hooks have no header
or signature setting (vendor spec, `PersonHookDto`). The body is parsed by
`core.hook_payload.parse_payload` (our documented assumption) and stored in the link store's
`hook_events` before the answer, so a 2xx means the event is durable:

- 200 `{"received": n, "stored": m}` (m < n: duplicates, already stored; harmless);
- 403 on a wrong secret, nothing read or stored;
- 400 on a body that is not our payload; 413 on a body over `MAX_BODY_BYTES`;
- 503 when the store cannot be written (the sender retries).

`GET /healthz` answers 200 `ok`. The secret is never logged: uvicorn's access log (which logs
paths) is off, and this module logs events, not URLs.
"""

from __future__ import annotations

import hmac
import logging
from datetime import UTC, datetime

import uvicorn
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from sync_pipeline.core.hook_payload import RECEIVER_PATH, parse_payload
from sync_pipeline.store import LinkStore, StoreError

MAX_BODY_BYTES = 1 << 20
MIN_SECRET_LENGTH = 16
SYSTEM = "webcrm"
log = logging.getLogger("sync_pipeline.receiver")


def check_secret(secret: str | None) -> str:
    """The shared secret, if usable in a URL path: at least MIN_SECRET_LENGTH characters of
    letters, digits, `-` and `_` (what `secrets.token_urlsafe` makes). ValueError otherwise,
    naming the variable, never the value."""
    text = (secret or "").strip()
    if not text:
        make = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
        raise ValueError(f"SYNC_HOOKS_SECRET is not set (make one with: {make})")
    usable = all(c.isascii() and (c.isalnum() or c in "-_") for c in text)
    if len(text) < MIN_SECRET_LENGTH or not usable:
        raise ValueError(
            f"SYNC_HOOKS_SECRET must be at least {MIN_SECRET_LENGTH} characters of letters, "
            "digits, '-' and '_'"
        )
    return text


def create_receiver_app(store: LinkStore, secret: str) -> Starlette:
    """The receiver over an open `store`, accepting hooks whose URL carries `secret`."""
    expected = check_secret(secret).encode()

    async def receive(request: Request) -> Response:
        given = str(request.path_params["secret"]).encode()
        if not hmac.compare_digest(given, expected):
            log.warning("refused a hook delivery with a wrong secret")
            return JSONResponse({"error": "wrong secret"}, status_code=403)
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            return JSONResponse({"error": "body too large"}, status_code=413)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return JSONResponse({"error": "body too large"}, status_code=413)
        now = datetime.now(UTC)
        try:
            events = parse_payload(body, now)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        try:
            stored = await run_in_threadpool(store.add_hook_events, SYSTEM, events, now=now)
        except (StoreError, SQLAlchemyError) as exc:
            log.error("could not store %d hook event(s): %s", len(events), type(exc).__name__)
            return JSONResponse({"error": "the store is unavailable"}, status_code=503)
        for event in events:
            log.info("hook event %s %s %s", event.entity, event.record_id, event.event_type)
        return JSONResponse({"received": len(events), "stored": stored})

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route(f"{RECEIVER_PATH}/{{secret}}", receive, methods=["POST"]),
            Route("/healthz", health, methods=["GET"]),
        ]
    )


def serve_receiver(store_url: str, secret: str, host: str, port: int) -> None:
    """Serve the receiver in the foreground until SIGINT/SIGTERM (uvicorn's handling)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    with LinkStore(store_url) as store:
        app = create_receiver_app(store, secret)
        uvicorn.run(app, host=host, port=port, access_log=False, log_level="info")
