"""The store package's surface: a checked `__all__`, and no reading of the environment."""

from __future__ import annotations

from pathlib import Path

import sync_pipeline.store as store_package


def test_public_names_exist_and_are_exported() -> None:
    """Every name in `__all__` is importable, and the documented API is in it."""
    for name in store_package.__all__:
        assert hasattr(store_package, name), name
    assert {"LinkStore", "LinkWrite", "ShadowWrite", "PairLockedError", "IntegrityReport"} <= set(
        store_package.__all__
    )
    assert {"default_state_url", "SchemaVersionError", "StateImportError"} <= set(
        store_package.__all__
    )


def test_store_never_reads_the_environment() -> None:
    """Configuration arrives as arguments: no module of the store touches os.environ or getenv."""
    folder = Path(store_package.__file__).parent
    for module in folder.glob("*.py"):
        source = module.read_text(encoding="utf-8")
        assert "environ" not in source and "getenv" not in source, module.name
