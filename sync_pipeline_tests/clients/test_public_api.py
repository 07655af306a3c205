"""The package's public surface."""

from __future__ import annotations

import sync_pipeline.clients as clients


def test_all_names_exist_and_are_sorted() -> None:
    """Every name in __all__ is importable from the package, listed once, in order."""
    assert sorted(set(clients.__all__)) == clients.__all__
    for name in clients.__all__:
        assert getattr(clients, name) is not None


def test_all_lists_every_public_class() -> None:
    """No public class defined in the submodules is left out of __all__."""
    exported = set(clients.__all__)
    public = {
        name
        for name, value in vars(clients).items()
        if isinstance(value, type) and not name.startswith("_")
    }
    assert public <= exported


def test_exceptions_form_one_tree() -> None:
    """Every exported exception derives from CrmClientError."""
    exceptions = [
        value
        for value in map(lambda name: getattr(clients, name), clients.__all__)
        if isinstance(value, type) and issubclass(value, Exception)
    ]
    assert len(exceptions) == 6
    assert all(issubclass(value, clients.CrmClientError) for value in exceptions)
