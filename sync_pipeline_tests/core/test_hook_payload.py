"""The hook payload assumption: what the sandbox sends is what the receiver reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from sync_pipeline.core.hook_payload import (
    HookEvent,
    build_payload,
    is_receiver_url,
    parse_payload,
    redacted_url,
    target_url,
)

NOW = datetime(2026, 11, 30, 9, 40, 1, 123000, tzinfo=UTC)


def test_a_built_payload_parses_back_to_the_same_event() -> None:
    """build_payload then parse_payload gives the event back (times to the millisecond)."""
    event = HookEvent("Persons", "1042", "Update", NOW)
    body = json.dumps(build_payload(event, hook_id=7)).encode()
    assert parse_payload(body, NOW + timedelta(seconds=5)) == [event]


def test_lenient_forms_parse() -> None:
    """Any member case, singular entity, `<Prefix>Id`, string ids, offsets and arrays parse."""
    body = json.dumps(
        [
            {"entity": "person", "eventtype": "create", "PersonId": "17"},
            {
                "Entity": "Organisations",
                "EventType": "Delete",
                "Id": 3,
                "Time": "2026-11-30T10:40:01+01:00",
            },
        ]
    ).encode()
    first, second = parse_payload(body, NOW)
    assert first == HookEvent("Persons", "17", "Create", NOW)
    assert second.event_time == datetime(2026, 11, 30, 9, 40, 1, tzinfo=UTC)
    assert second.event_time.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b"42",
        b'{"Entity": "Invoices", "EventType": "Update", "Id": 1}',
        b'{"Entity": "Persons", "EventType": "Touch", "Id": 1}',
        b'{"Entity": "Persons", "EventType": "Update", "Id": 0}',
        b'{"Entity": "Persons", "EventType": "Update", "Id": true}',
        b'{"Entity": "Persons", "EventType": "Update", "Id": 2147483648}',
        b'{"Entity": "Persons", "EventType": "Update", "Id": "99999999999999999999"}',
        b'{"Entity": "Persons", "EventType": "Update"}',
        b'{"Entity": "Persons", "EventType": "Update", "Id": 1, "EventTime": "2026-11-30T09:40"}',
        b'{"Entity": "Persons", "EventType": "Update", "Id": 1, "EventTime": "yesterday"}',
    ],
)
def test_bad_payloads_are_refused(body: bytes) -> None:
    """Anything but our payload is a ValueError (the receiver answers 400)."""
    with pytest.raises(ValueError):
        parse_payload(body, NOW)


def test_target_url_carries_the_secret_and_redacts_it() -> None:
    """The TargetUrl is base + /webcrm/hooks/<secret>; it is ours; printing hides the secret."""
    url = target_url("https://sync.example.com/", "s3cret-s3cret-s3cret")
    assert url == "https://sync.example.com/webcrm/hooks/s3cret-s3cret-s3cret"
    assert target_url("https://sync.example.com/webcrm/hooks", "abc") == target_url(
        "https://sync.example.com", "abc"
    )
    assert is_receiver_url(url) and not is_receiver_url("https://other.example.com/hook")
    assert redacted_url(url) == "https://sync.example.com/webcrm/hooks/***"
    assert redacted_url("https://u:p@x.example/h?key=1") == "https://***@x.example/h?***"


@pytest.mark.parametrize(
    "base",
    [
        "sync.example.com",
        "ftp://x.example",
        "https://x.example/?a=1",
        "http://127.0.0.1:8710/webcrm/hooks/abc",
        "https://x.example/prefix/webcrm/hooks/abc/",
    ],
)
def test_target_url_refuses_what_is_not_an_http_base(base: str) -> None:
    """A base URL without http(s), a host, with a query, or a whole receiver URL (its secret
    segment included) is a ValueError naming --target-url."""
    with pytest.raises(ValueError, match="--target-url"):
        target_url(base, "secret")
