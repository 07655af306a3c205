"""Rate limits in force: systems.yaml, or the *_RATE_LIMIT_PER_MIN override, validated."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from sync_pipeline.cli import main
from sync_pipeline.dagster_defs.resources import (
    CrmofficeResource,
    LinkStoreResource,
    WebcrmResource,
)
from sync_pipeline.definitions import build_resources
from sync_pipeline.settings import SettingsError, poll_settings, rate_limits


def test_declared_limits_apply_when_nothing_is_set() -> None:
    """Without overrides the limits are systems.yaml's: WebCRM 250, CRMOffice 600 a minute."""
    assert rate_limits({}) == {"webcrm": 250, "crmoffice": 600}
    assert rate_limits({"WEBCRM_RATE_LIMIT_PER_MIN": " "}) == {"webcrm": 250, "crmoffice": 600}


def test_an_override_replaces_the_declared_limit() -> None:
    """Each variable overrides its own system's limit only."""
    env = {"WEBCRM_RATE_LIMIT_PER_MIN": "100", "CRMOFFICE_RATE_LIMIT_PER_MIN": "1200"}
    assert rate_limits(env) == {"webcrm": 100, "crmoffice": 1200}
    assert rate_limits({"CRMOFFICE_RATE_LIMIT_PER_MIN": "30"}) == {"webcrm": 250, "crmoffice": 30}


@pytest.mark.parametrize("value", ["0", "-3", "ten", "1.5", "²"])
def test_a_bad_override_is_one_line_naming_the_variable(value: str) -> None:
    """Anything but a positive whole number is refused, naming the variable and the value."""
    with pytest.raises(SettingsError) as info:
        rate_limits({"CRMOFFICE_RATE_LIMIT_PER_MIN": value})
    assert str(info.value) == (
        f"CRMOFFICE_RATE_LIMIT_PER_MIN={value!r}: expected a positive whole number of requests"
        " per minute"
    )


def test_build_resources_passes_the_limits_in_force(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Dagster resources get the overridden WebCRM limit and the declared CRMOffice one."""
    monkeypatch.setenv("WEBCRM_RATE_LIMIT_PER_MIN", "42")
    monkeypatch.delenv("CRMOFFICE_RATE_LIMIT_PER_MIN", raising=False)
    resources = build_resources()
    webcrm, crmoffice = resources["webcrm"], resources["crmoffice"]
    assert isinstance(webcrm, WebcrmResource) and isinstance(crmoffice, CrmofficeResource)
    assert (webcrm.rate_limit_per_minute, crmoffice.rate_limit_per_minute) == (42, 600)


def test_sync_with_a_bad_override_fails_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`sync-pipeline sync` with WEBCRM_RATE_LIMIT_PER_MIN=fast exits 1 with one stderr line."""
    monkeypatch.setenv("WEBCRM_RATE_LIMIT_PER_MIN", "fast")
    assert main(["sync"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "sync-pipeline: WEBCRM_RATE_LIMIT_PER_MIN='fast': expected a positive whole number of"
        " requests per minute\n"
    )


def test_build_resources_share_the_stores_rate_budget(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Both clients draw on the rate budgets kept in the link store the run uses."""
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    monkeypatch.setenv("SYNC_STATE_URL", url)
    resources = build_resources()
    webcrm, crmoffice, store = resources["webcrm"], resources["crmoffice"], resources["link_store"]
    assert isinstance(webcrm, WebcrmResource) and isinstance(crmoffice, CrmofficeResource)
    assert isinstance(store, LinkStoreResource)
    assert webcrm.rate_budget_url == crmoffice.rate_budget_url == store.url
    assert store.url == dg.EnvVar("SYNC_STATE_URL")  # Dagster resolves it when the run starts


def test_a_store_password_never_reaches_dagsters_resource_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The store URL comes in as an `EnvVar`: the config Dagster keeps and shows (in the UI's
    resource view) names the variable, never the URL with its password."""
    monkeypatch.setenv("SYNC_STATE_URL", "postgresql://sync:hunter2-secret@db.internal/sync")
    for resource in build_resources().values():
        if isinstance(resource, dg.ConfigurableResource):
            assert "hunter2-secret" not in repr(resource.model_dump())


def test_poll_settings_default_to_five_seconds_and_a_tenth_of_the_budget() -> None:
    assert poll_settings({}) == (5.0, 0.10)
    assert poll_settings({"SYNC_POLL_SECONDS": "2", "SYNC_PROBE_BUDGET_SHARE": "0.2"}) == (2.0, 0.2)


@pytest.mark.parametrize(
    ("name", "value"),
    [("SYNC_POLL_SECONDS", "0"), ("SYNC_POLL_SECONDS", "soon"), ("SYNC_PROBE_BUDGET_SHARE", "1.5")],
)
def test_a_bad_poll_setting_is_one_line_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        poll_settings({name: value})
