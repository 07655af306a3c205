"""The `sync-pipeline` command as a data engineer uses it: exit codes, tables, one-line errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from sync_pipeline.cli import main
from sync_pipeline.sandbox.server import RunningSandbox, SandboxSettings, running_sandbox
from sync_pipeline.store import SCHEMA_VERSION, LinkStore

CLI = str(Path(sys.executable).parent / "sync-pipeline")


@pytest.mark.parametrize(
    "argv",
    [
        ["sync", "--since", "2024-01-01"],
        ["sync", "--since", "2024-02-01", "--until", "2024-01-01"],
        ["sync", "--full", "--since", "2024-01-01", "--until", "2024-01-02"],
        ["sync", "--pair", "no_such_pair"],
        ["sync", "--since", "yesterday", "--until", "2024-01-02"],
        ["sync", "--since", "2099-01-01", "--until", "2099-01-08"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_2(argv: list[str]) -> None:
    """Bad arguments are a usage error: exit code 2."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2


def test_docs_renders_every_pair_as_an_rst_list_table(capsys: pytest.CaptureFixture[str]) -> None:
    """`docs` prints the data-flow document: a list-table per pair with fields."""
    assert main(["docs"]) == 0
    text = capsys.readouterr().out
    for pair in ("persons_contacts", "users_contacts", "products_companies"):
        assert pair in text
    assert text.count(".. list-table::") == 2  # products_companies maps no field yet
    assert "link-only" in text
    assert "PersonFirstName" in text and "givenName" in text


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    """A small seeded sandbox on ephemeral ports."""
    settings = SandboxSettings(
        webcrm_port=0,
        crmoffice_port=0,
        seed=40,
        webcrm_rate_limit=100_000,
        crmoffice_rate_limit=100_000,
    )
    with running_sandbox(settings) as running:
        yield running


def run_cli(
    sandbox: RunningSandbox, tmp_path: Path, *args: str, **extra: str
) -> subprocess.CompletedProcess[str]:
    """`sync-pipeline ARGS` against `sandbox`, with its own Dagster home and link store under
    `tmp_path`; `extra`: more environment."""
    env = {
        **os.environ,
        "WEBCRM_BASE_URL": sandbox.webcrm_url,
        "CRMOFFICE_BASE_URL": sandbox.crmoffice_url,
        "DAGSTER_HOME": str(tmp_path),
        "SYNC_STATE_URL": f"sqlite:///{tmp_path / 'state.sqlite'}",
        **extra,
    }
    return subprocess.run(
        [CLI, *args], env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path
    )


def test_sync_prints_a_table_and_a_second_run_changes_nothing(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """`sync --full` exits 0 with a table per pair and direction; the next run writes nothing."""
    first = run_cli(sandbox, tmp_path, "sync", "--full")
    assert first.returncode == 0, first.stderr[-2000:]
    assert first.stdout.startswith("note: no link store at ")  # an initial load, said so
    for pair in ("persons_contacts", "users_contacts", "products_companies"):
        assert f"{pair}  " in first.stdout
    writes = sandbox.stats()
    second = run_cli(sandbox, tmp_path, "sync")
    assert second.returncode == 0, second.stderr[-2000:]
    assert "note:" not in second.stdout
    after = sandbox.stats()
    assert [after[s]["writes"] for s in after] == [writes[s]["writes"] for s in writes]


def test_links_shows_a_record_and_its_history(sandbox: RunningSandbox, tmp_path: Path) -> None:
    """`links ID` finds the link by either side's id and prints its history."""
    person_id = sandbox.webcrm.insert(
        "Persons", {"PersonFirstName": "Åge", "PersonLastName": "Berg"}
    )
    assert run_cli(sandbox, tmp_path, "sync", "--pair", "persons_contacts").returncode == 0
    shown = run_cli(sandbox, tmp_path, "links", str(person_id))
    assert shown.returncode == 0, shown.stderr
    assert f"WebCRM {person_id} <-> CRMOffice" in shown.stdout
    assert "create" in shown.stdout
    missing = run_cli(sandbox, tmp_path, "links", "no-such-id")
    assert missing.returncode == 1 and "no link" in missing.stderr


def test_wrong_credentials_fail_fast_with_one_clear_line(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A wrong WebCRM token: exit 1, one line naming the variable, the token nowhere."""
    secret = "wrong-token-7f3a9c"
    result = run_cli(sandbox, tmp_path, "sync", WEBCRM_API_TOKEN=secret)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("sync failed:") and "WEBCRM_API_TOKEN" in last
    assert secret not in result.stdout + result.stderr


def test_dry_run_writes_nothing(sandbox: RunningSandbox, tmp_path: Path) -> None:
    """`sync --dry-run` shows planned creates and leaves both CRMs untouched."""
    result = run_cli(sandbox, tmp_path, "sync", "--dry-run")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "planned (dry run)" in result.stdout
    assert all(stats["writes"] == 0 for stats in sandbox.stats().values())


def test_state_check_export_and_import(sandbox: RunningSandbox, tmp_path: Path) -> None:
    """`state check --full-read` passes on a synced store; export then import into an empty
    store round-trips the links; importing over a non-empty store is refused in one line."""
    assert run_cli(sandbox, tmp_path, "sync", "--full").returncode == 0
    check = run_cli(
        sandbox, tmp_path, "state", "check", "--full-read", WEBCRM_API_TOKEN="sandbox-webcrm-token"
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "problems: none" in check.stdout
    dump = tmp_path / "state.jsonl"
    assert run_cli(sandbox, tmp_path, "state", "export", str(dump)).returncode == 0
    refused = run_cli(sandbox, tmp_path, "state", "import", str(dump))
    assert refused.returncode == 1 and len(refused.stderr.strip().splitlines()) == 1
    fresh = {"SYNC_STATE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite'}"}
    assert run_cli(sandbox, tmp_path, "state", "import", str(dump), **fresh).returncode == 0
    assert (
        run_cli(
            sandbox, tmp_path, "state", "export", str(tmp_path / "again.jsonl"), **fresh
        ).returncode
        == 0
    )
    links = [line for line in dump.read_text().splitlines() if '"links"' in line]
    again = [
        line for line in (tmp_path / "again.jsonl").read_text().splitlines() if '"links"' in line
    ]
    assert links and links == again


def test_sync_field_map_points_every_command_at_another_map(tmp_path: Path) -> None:
    """`SYNC_FIELD_MAP` names the map in force (a staged copy): `docs` renders it, and a typo
    in it is one line naming that file, exit 1."""
    from importlib import resources

    text = resources.files("sync_pipeline").joinpath("fieldmap.yaml").read_text(encoding="utf-8")
    staged = tmp_path / "fieldmap.yaml"
    added = "      - {webcrm: ProductCombined, crmoffice: name, type: string}\n"
    staged.write_text(text.replace("    fields: []", "    fields:\n" + added))
    env = {**os.environ, "SYNC_FIELD_MAP": str(staged)}
    done = subprocess.run([CLI, "docs"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "ProductCombined" in done.stdout
    staged.write_text(text.replace("PersonLastName", "PersonLastNam"))
    done = subprocess.run([CLI, "docs"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and str(staged) in done.stderr


def test_state_check_shows_held_locks_and_fails_on_an_expired_one(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """`state check` lists a held pair lock with holder, token and age (exit 0); one past its
    expiry is a problem (exit 1) that `--repair` frees."""
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    with LinkStore(url) as store:
        with store.pair_lock("persons_contacts", "live-run", ttl_seconds=600):
            held = run_cli(sandbox, tmp_path, "state", "check")
        dead = store.pair_lock("users_contacts", "dead-run", ttl_seconds=0)
        dead.__enter__()  # never exited: its run died, its lease ran out
        expired = run_cli(sandbox, tmp_path, "state", "check", "--repair")
        after = run_cli(sandbox, tmp_path, "state", "check")
    assert held.returncode == 0, held.stdout + held.stderr
    assert re.search(
        r"pair lock persons_contacts: held by live-run with token 1 for \d+ s, expires in \d+ s",
        held.stdout,
    )
    assert expired.returncode == 1
    assert re.search(
        r"pair lock users_contacts: held by dead-run with token 1 for \d+ s, EXPIRED \d+ s ago",
        expired.stdout,
    )
    assert "repaired: freed 1 expired pair locks" in expired.stdout
    assert after.returncode == 0 and "pair lock" not in after.stdout


def test_state_migrate_creates_then_finds_the_store_up_to_date(
    store_url: str, tmp_path: Path
) -> None:
    """`state migrate` (DESIGN §4) creates a new store at the current schema version, says so
    in one line, and finds it up to date the second time; on each backend."""
    env = {**os.environ, "SYNC_STATE_URL": store_url, "DAGSTER_HOME": str(tmp_path)}

    def migrate() -> subprocess.CompletedProcess[str]:
        command = [CLI, "state", "migrate"]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)

    first, second = migrate(), migrate()
    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    assert first.stdout.startswith("created the link store at ")
    assert first.stdout.rstrip().endswith(f"schema version {SCHEMA_VERSION}")
    assert "is up to date" in second.stdout
    with LinkStore(store_url) as store:
        assert store.schema_version == SCHEMA_VERSION


def test_state_migrate_refuses_a_store_newer_than_this_code_in_one_line(
    sqlite_url: str, tmp_path: Path
) -> None:
    """A store from a newer sync_pipeline is left alone: exit 1 and one line saying what to do."""
    LinkStore(sqlite_url).close()
    engine = create_engine(sqlite_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE meta SET value = '999' WHERE key = 'schema_version'"))
    engine.dispose()
    env = {**os.environ, "SYNC_STATE_URL": sqlite_url, "DAGSTER_HOME": str(tmp_path)}
    done = subprocess.run(
        [CLI, "state", "migrate"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert "newer than this sync_pipeline supports" in done.stderr


def test_code_loads_frozen_with_the_collector_off_and_is_handed_back_raising_or_not() -> None:
    """`commands.heap`: no collector pass while the code loads, frozen after (also when the
    import fails), and nothing left frozen once the command ends."""
    import gc

    from sync_pipeline.commands.heap import loaded_frozen, unfrozen_after

    assert gc.isenabled() and gc.get_freeze_count() == 0
    with unfrozen_after():
        with loaded_frozen():
            assert not gc.isenabled()
        assert gc.isenabled() and gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
    with pytest.raises(ImportError), unfrozen_after(), loaded_frozen():
        raise ImportError("no such module")
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_every_command_hands_the_frozen_heap_back(capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI leaves the collector as it found it after a command that succeeds and after one
    refused once its code has loaded (tests call `main` in process, many times)."""
    import gc

    assert main(["docs"]) == 0
    assert gc.isenabled() and gc.get_freeze_count() == 0
    with pytest.raises(SystemExit):
        main(["sync", "--since", "2024-01-01"])  # refused after the field map loaded
    assert gc.isenabled() and gc.get_freeze_count() == 0
    capsys.readouterr()
