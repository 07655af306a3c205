"""The exception tree and the promise that no secret reaches a message."""

from __future__ import annotations

import httpx
import pytest

from sync_pipeline.clients import (
    AuthenticationError,
    CrmClientError,
    CrmofficeClient,
    ProtocolError,
    RecordRejectedError,
    RetriesExhaustedError,
    RetryPolicy,
    WebcrmClient,
    WriteOutcomeUnknownError,
)
from sync_pipeline.clients.errors import redact, shorten
from sync_pipeline_tests.clients.fakes import (
    CRMOFFICE_SECRET,
    WEBCRM_TOKEN,
    FakeCrmoffice,
    FakeWebcrm,
    raises,
)


def test_tree_has_one_root() -> None:
    """Every client error is a CrmClientError."""
    for cls in (
        AuthenticationError,
        RetriesExhaustedError,
        RecordRejectedError,
        WriteOutcomeUnknownError,
        ProtocolError,
    ):
        assert issubclass(cls, CrmClientError)


def test_redact_removes_known_secrets_and_credential_shapes() -> None:
    """Known secrets and bearer/auth-code/token fragments are masked."""
    text = (
        "code s3cr3t in Authorization: Bearer abc.def and authCode=zzz&x=1 "
        '{"access_token": "tok123", "AccessToken":"tok456"} client_secret=qqq'
    )
    cleaned = redact(text, ["s3cr3t"])
    for secret in ("s3cr3t", "abc.def", "zzz", "tok123", "tok456", "qqq"):
        assert secret not in cleaned
    assert "x=1" in cleaned


def test_shorten_caps_long_bodies() -> None:
    """Details are flattened to one line and cut."""
    assert shorten("a\n  b") == "a b"
    assert len(shorten("x" * 1000)) == 300


def _echo_secrets(request: httpx.Request) -> httpx.Response:
    """A hostile server echoing the whole request (headers and body) into its error."""
    echoed = f"{dict(request.headers)} {request.content.decode(errors='replace')}"
    return httpx.Response(400, json={"Message": echoed, "title": WEBCRM_TOKEN})


def _leaks(exc: BaseException, *secrets: str) -> bool:
    texts = [str(exc), repr(exc), str(exc.args), str(vars(exc))]
    return any(secret in text for secret in secrets for text in texts)


def test_webcrm_errors_never_carry_the_token_or_access_token() -> None:
    """Rejections echoing the request keep neither the API token nor the bearer token."""
    fake = FakeWebcrm()
    fake.faults = [None, _echo_secrets]
    client = WebcrmClient("https://w.test", WEBCRM_TOKEN, transport=fake.transport())
    with pytest.raises(RecordRejectedError) as caught:
        client.get("Persons", 1)
    assert not _leaks(caught.value, WEBCRM_TOKEN, "access-1-xyzzy")
    assert "***" in str(caught.value)


def test_login_failure_does_not_echo_the_auth_code() -> None:
    """A login rejection that echoes the form never shows the auth code."""
    fake = FakeWebcrm()
    fake.faults = [lambda r: httpx.Response(401, text=r.content.decode())]
    client = WebcrmClient("https://w.test", WEBCRM_TOKEN, transport=fake.transport())
    with pytest.raises(AuthenticationError) as caught:
        client.list_all("Persons")
    assert not _leaks(caught.value, WEBCRM_TOKEN)


def test_transport_and_exhausted_errors_hide_secrets() -> None:
    """Retry exhaustion messages carry the reason, never a credential."""
    fake = FakeWebcrm()
    fake.faults = [None] + [raises(httpx.ReadTimeout)] * 6
    client = WebcrmClient(
        "https://w.test", WEBCRM_TOKEN, transport=fake.transport(), retry=RetryPolicy.testing()
    )
    with pytest.raises(RetriesExhaustedError) as caught:
        client.list_all("Persons")
    assert "ReadTimeout" in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert not _leaks(caught.value, WEBCRM_TOKEN, "access-1-xyzzy")


def test_crmoffice_errors_never_carry_the_client_secret() -> None:
    """A bad-credentials error and an echoing 4xx both keep the client secret out."""
    fake = FakeCrmoffice()
    fake.faults = [lambda r: httpx.Response(400, text=r.content.decode())]
    client = CrmofficeClient(
        "https://c.test", "sandbox-client", CRMOFFICE_SECRET, transport=fake.transport()
    )
    with pytest.raises(AuthenticationError) as caught:
        client.list_all("contacts")
    assert not _leaks(caught.value, CRMOFFICE_SECRET)
    fake.faults = [None, _echo_secrets]
    with pytest.raises(RecordRejectedError) as rejected:
        client.get("contacts", "c1")
    assert not _leaks(rejected.value, CRMOFFICE_SECRET, "access-1-xyzzy")


def test_reprs_hide_credentials() -> None:
    """Clients and their parts never show a secret in repr, even after login."""
    webcrm_fake, crmoffice_fake = FakeWebcrm(), FakeCrmoffice()
    webcrm = WebcrmClient("https://w.test", WEBCRM_TOKEN, transport=webcrm_fake.transport())
    crmoffice = CrmofficeClient(
        "https://c.test", "id", CRMOFFICE_SECRET, transport=crmoffice_fake.transport()
    )
    webcrm.list_all("Persons")
    crmoffice.list_all("contacts")
    texts = [repr(webcrm), repr(crmoffice), repr(vars(webcrm)), repr(vars(crmoffice))]
    texts += [repr(vars(webcrm._http)), repr(vars(crmoffice._http))]
    for text in texts:
        for secret in (WEBCRM_TOKEN, CRMOFFICE_SECRET, "access-1-xyzzy"):
            assert secret not in text
