"""The layering rules of STYLE.md, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "sync_pipeline"
FORBIDDEN_IN_CORE = {"dagster", "httpx", "sqlalchemy", "sqlite3", "requests", "starlette"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _sources(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


def test_core_imports_no_io_or_orchestration() -> None:
    """core/ imports no dagster, httpx, sqlalchemy or sqlite3."""
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(_imports(path) & FORBIDDEN_IN_CORE)
        for path in _sources("core")
        if _imports(path) & FORBIDDEN_IN_CORE
    }
    assert offenders == {}


def test_core_reads_no_environment_or_clock() -> None:
    """core/ never reads os.environ or the clock: `now` is an argument."""
    for path in _sources("core"):
        text = path.read_text(encoding="utf-8")
        for banned in ("os.environ", "datetime.now(", "time.time(", "date.today("):
            assert banned not in text, f"{path.name} uses {banned}"


def test_only_clients_and_sandbox_speak_http() -> None:
    """httpx is imported by clients/ (and the sandbox tooling), never by core, store or sync."""
    for folder in ("core", "store", "sync", "dagster_defs"):
        for path in _sources(folder):
            assert "httpx" not in _imports(path), f"{path.relative_to(PACKAGE)} imports httpx"


def test_sync_steps_know_no_dagster() -> None:
    """sync/ (extract, plan, apply) is plain Python: Dagster stays in dagster_defs/."""
    for path in _sources("sync"):
        assert "dagster" not in _imports(path), f"{path.name} imports dagster"


def _modules(path: Path) -> set[str]:
    """Full dotted names of the modules `path` imports from."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_dagster_adapters_call_one_facade_of_sync() -> None:
    """dagster_defs/ reaches the use cases only through the `sync` package (never its modules),
    and only its resources module touches `store` or `clients` (to open them)."""
    for path in _sources("dagster_defs"):
        modules = _modules(path)
        inner = {m for m in modules if m.startswith("sync_pipeline.sync.")}
        assert inner == set(), f"{path.name} imports sync internals {sorted(inner)}"
        if path.name != "resources.py":
            ports = {
                m for m in modules if m.startswith(("sync_pipeline.store", "sync_pipeline.clients"))
            }
            assert ports == set(), f"{path.name} imports {sorted(ports)}"
