"""Reading error responses: Retry-After sources and human-readable details."""

from __future__ import annotations

import httpx

from sync_pipeline.clients.responses import error_detail, retry_after_seconds


def test_header_wins_over_body() -> None:
    """Retry-After header seconds take precedence over WebCRM's body field."""
    response = httpx.Response(429, json={"RetryAfterSeconds": 9}, headers={"Retry-After": "2"})
    assert retry_after_seconds(response, now=0.0) == 2.0


def test_body_field_and_absence() -> None:
    """RetryAfterSeconds in the body is used; nothing usable means None."""
    assert retry_after_seconds(httpx.Response(429, json={"RetryAfterSeconds": 4}), 0.0) == 4.0
    assert retry_after_seconds(httpx.Response(503, text="busy"), 0.0) is None
    assert retry_after_seconds(httpx.Response(503, json={"RetryAfterSeconds": True}), 0.0) is None


def test_detail_from_webcrm_problem_and_text_bodies() -> None:
    """WebCRM Message, problem+json title/detail, and plain text all yield a detail."""
    assert error_detail(httpx.Response(400, json={"Message": "Bad Size"})) == "Bad Size"
    problem = {"title": "Not Found", "detail": "no contact c9", "status": 404}
    assert error_detail(httpx.Response(404, json=problem)) == "Not Found: no contact c9"
    assert error_detail(httpx.Response(400, text="plain words")) == "plain words"
    assert error_detail(httpx.Response(404)) == "Not Found"
