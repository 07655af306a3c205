"""`processes.start_hooks`, what `make dev` and `make prod` start for WebCRM hooks, against a
real sandbox over HTTP and a SQLite store (no Dagster started)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync_pipeline.commands.connect import open_webcrm
from sync_pipeline.core.hook_payload import HOOK_ENTITIES
from sync_pipeline.processes import free_port, start_group, start_hooks, stop_group
from sync_pipeline.sandbox.server import RunningSandbox, SandboxSettings, running_sandbox
from sync_pipeline.store import LinkStore
from sync_pipeline_tests.test_hooks import wait_for


class Started:
    """What `start_hooks` launched, its logs in `folder`; stops them all."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.processes: list[subprocess.Popen[bytes]] = []

    def launch(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        self.processes.append(start_group(args, env, log=self.folder / f"{name}.log"))
        return self.processes[-1]

    def stop(self) -> None:
        for process in reversed(self.processes):
            stop_group(process)


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    """A small seeded sandbox on free ports."""
    settings = SandboxSettings(webcrm_port=0, crmoffice_port=0, seed=20)
    with running_sandbox(settings) as running:
        yield running


def deployment_env(sandbox: RunningSandbox, store_url: str) -> dict[str, str]:
    """The env of a deployment on `sandbox` with no hooks settings of its own."""
    env = {**os.environ, "WEBCRM_BASE_URL": sandbox.webcrm_url, "SYNC_STATE_URL": store_url}
    for name in ("SYNC_HOOKS_SECRET", "SYNC_WEBCRM_HOOKS"):
        env.pop(name, None)
    return env


def hook_urls(sandbox: RunningSandbox) -> set[str]:
    """The TargetUrl of every hook of the hooked entities, read over the sandbox's Hooks API."""
    with open_webcrm({"WEBCRM_BASE_URL": sandbox.webcrm_url}) as client:
        return {hook.target_url for e in HOOK_ENTITIES for hook in client.list_hooks(e)}


def test_start_hooks_serves_registers_and_stores_an_edit(
    sandbox: RunningSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A random secret and hooks mode go into the env, the receiver answers, the hooks point
    at it, an edit's event lands in the store; the one printed line shows no secret; a restart
    with a new secret replaces the old hooks."""
    store_url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    env = deployment_env(sandbox, store_url)
    started = Started(tmp_path)
    try:
        url = start_hooks(env, started.launch, port=free_port())
        secret = env["SYNC_HOOKS_SECRET"]
        assert url is not None and env["SYNC_WEBCRM_HOOKS"] == "on" and len(secret) >= 32
        (line,) = capsys.readouterr().out.splitlines()
        assert line.startswith("WebCRM hooks: on") and url in line and secret not in line
        assert hook_urls(sandbox) == {f"{url}/webcrm/hooks/{secret}"}
        person = sandbox.webcrm.records("Persons")[0]["PersonId"]
        sandbox.webcrm.edit("Persons", int(person), {"PersonLastName": "Hooked"})

        def stored() -> bool:
            with LinkStore(store_url) as store:
                events, _ = store.events_after(0, limit=100)
            return ("Persons", str(person)) in {(e.entity, e.record_id) for e in events}

        wait_for(stored, "the edit's event in the store")
        started.stop()
        again = deployment_env(sandbox, store_url)
        url = start_hooks(again, started.launch, port=free_port(), quiet=True)
        assert capsys.readouterr().out == ""
        assert again["SYNC_HOOKS_SECRET"] != secret
        assert hook_urls(sandbox) == {f"{url}/webcrm/hooks/{again['SYNC_HOOKS_SECRET']}"}
    finally:
        started.stop()


def test_start_hooks_keeps_a_set_secret_and_is_off_on_request(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A secret already set is used as is; `SYNC_WEBCRM_HOOKS=off` starts nothing."""
    env = deployment_env(sandbox, f"sqlite:///{tmp_path / 'state.sqlite'}")
    started = Started(tmp_path)
    try:
        assert start_hooks({**env, "SYNC_WEBCRM_HOOKS": "off"}, started.launch) is None
        assert started.processes == [] and hook_urls(sandbox) == set()
        env["SYNC_HOOKS_SECRET"] = "a-secret-set-by-the-operator"
        url = start_hooks(env, started.launch, port=free_port(), quiet=True)
        assert env["SYNC_HOOKS_SECRET"] == "a-secret-set-by-the-operator"
        assert hook_urls(sandbox) == {f"{url}/webcrm/hooks/a-secret-set-by-the-operator"}
    finally:
        started.stop()
