"""`sync` when records fail: exit 3, and the table counts what waits for a retry and what is
given up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sync_pipeline.sandbox.server import RunningSandbox, SandboxSettings, running_sandbox
from sync_pipeline.store import LinkStore
from sync_pipeline_tests.test_cli import run_cli


def _sandbox(**faults: float) -> Iterator[RunningSandbox]:
    settings = SandboxSettings(
        webcrm_port=0,
        crmoffice_port=0,
        seed=40,
        webcrm_rate_limit=100_000,
        crmoffice_rate_limit=100_000,
        **faults,  # type: ignore[arg-type]  # fault options only, all floats
    )
    with running_sandbox(settings) as running:
        yield running


@pytest.fixture
def faulty() -> Iterator[RunningSandbox]:
    """A seeded sandbox that faults a quarter of the API requests (stalls kept short)."""
    yield from _sandbox(fault_rate=0.25, fault_seed=5, fault_stall_seconds=0.5)


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    """A seeded sandbox without faults."""
    yield from _sandbox()


def _row(stdout: str, pair: str, direction: str) -> dict[str, str]:
    lines = [line for line in stdout.splitlines() if not line.startswith("note: ")]
    header = lines[0].split("  ")
    names = [h.strip() for h in header if h.strip()]
    for line in lines[2:]:
        cells = [c.strip() for c in line.split("  ") if c.strip()]
        if cells[:2] == [pair, direction]:
            return dict(zip(names, cells, strict=False))
    raise AssertionError(f"no row {pair} {direction} in:\n{stdout}")


def test_sync_with_failed_records_exits_3_and_says_how_many_wait(
    faulty: RunningSandbox, tmp_path: Path
) -> None:
    """Records that failed in a completed run: exit 3, one stderr line, `waiting` in the table."""
    result = run_cli(faulty, tmp_path, "sync", "--full")
    assert result.returncode == 3, result.stderr[-2000:]
    assert len(result.stderr.strip().splitlines()) == 1
    assert "wait for a retry by the next run" in result.stderr
    waiting = sum(
        int(_row(result.stdout, pair, direction)["waiting"])
        for pair in ("persons_contacts", "users_contacts", "products_companies")
        for direction in ("to_crmoffice", "to_webcrm")
    )
    assert f"{waiting} wait for a retry" in result.stderr and waiting > 0


def test_given_up_records_are_counted_in_every_run(sandbox: RunningSandbox, tmp_path: Path) -> None:
    """A record given up on stays counted in the table of every later run (and exits 0)."""
    assert run_cli(sandbox, tmp_path, "sync", "--full").returncode == 0
    person = sandbox.webcrm.records("Persons")[0]
    with LinkStore(f"sqlite:///{tmp_path / 'state.sqlite'}") as store:
        given_up = store.record_failures(
            "persons_contacts",
            "to_crmoffice",
            [(str(person["PersonId"]), "422 refused")],
            "a-run",
            max_attempts=1,
        )
    assert given_up == [str(person["PersonId"])]
    for _ in range(2):
        result = run_cli(sandbox, tmp_path, "sync")
        assert result.returncode == 0, result.stderr[-2000:]
        row = _row(result.stdout, "persons_contacts", "to_crmoffice")
        assert (row["failed"], row["waiting"], row["given up"]) == ("0", "0", "1")
