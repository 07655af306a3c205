"""Property: any sequence of link writes leaves the store equal to a simple in-memory model."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync_pipeline.store import LinkStore, LinkWrite, ShadowWrite
from sync_pipeline.store._schema import meta, metadata
from sync_pipeline_tests.store.conftest import execute_sql

PAIRS = ("persons_contacts", "users_contacts")
FIELDS = ["givenName", "mobilePhone"]
ids = st.sampled_from(["1", "2", "3", "4"])
values = st.dictionaries(st.sampled_from(FIELDS), st.text(max_size=4), max_size=2)
add = st.tuples(
    st.just("add"), st.sampled_from(PAIRS), ids, st.sampled_from(["c1", "c2", "c3"]), values
)
shadow = st.tuples(st.just("shadow"), st.sampled_from(PAIRS), ids, st.just(""), values)
orphan = st.tuples(
    st.just("orphan"), st.sampled_from(PAIRS), ids, st.just(""), st.just(dict[str, str]())
)
Model = dict[tuple[str, str], tuple[str, str, dict[str, str]]]


def _apply(store: LinkStore, model: Model, op: tuple[str, str, str, str, dict[str, str]]) -> None:
    kind, pair, webcrm_id, crmoffice_id, fields = op
    if kind == "add":
        [outcome] = store.add_links(
            pair, "contacts", [LinkWrite(webcrm_id, crmoffice_id, fields, "match")], "r"
        )
        claimed = any(c == crmoffice_id for c, _s, _f in model.values())
        assert outcome.ok == ((pair, webcrm_id) not in model and not claimed)
        if outcome.ok:
            model[(pair, webcrm_id)] = (crmoffice_id, "active", dict(fields))
    elif kind == "shadow":
        store.update_shadows(pair, [ShadowWrite(webcrm_id, fields, "update")], "r")
        if (pair, webcrm_id) in model:
            model[(pair, webcrm_id)][2].update(fields)
    elif (pair, webcrm_id) in model:
        crmoffice, _status, stored = model[(pair, webcrm_id)]
        store.mark_orphaned(pair, [(webcrm_id, crmoffice, "webcrm")], "r")
        model[(pair, webcrm_id)] = (crmoffice, "orphaned", stored)


@pytest.fixture
def new_store_url(store_url: str, tmp_path: Path) -> Callable[[], str]:
    """A maker of URLs of empty stores, one per example: a new SQLite file, or on PostgreSQL
    the test's database emptied (a new database per example would cost a second each)."""
    if store_url.startswith("postgresql"):
        url = store_url
        LinkStore(url).close()
        tables = ", ".join(table.name for table in metadata.sorted_tables if table is not meta)

        def emptied() -> str:
            execute_sql(url, f"TRUNCATE {tables} RESTART IDENTITY")
            return url

        return emptied
    numbers = itertools.count()
    return lambda: f"sqlite:///{tmp_path / f'model_{next(numbers)}.sqlite'}"


# why the suppressed function_scoped_fixture check: the fixture is a maker called per example
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(ops=st.lists(st.one_of(add, shadow, orphan), max_size=12))
def test_store_matches_model(
    new_store_url: Callable[[], str], ops: list[tuple[str, str, str, str, dict[str, str]]]
) -> None:
    """Links, statuses and shadows always equal the model; no contact is ever claimed twice."""
    with LinkStore(new_store_url()) as store:
        model: Model = {}
        for op in ops:
            _apply(store, model, op)
        for pair in PAIRS:
            frame = store.links_frame(pair, FIELDS, status=None)
            got = {
                (pair, row["webcrm_id"]): (
                    row["crmoffice_id"],
                    row["status"],
                    [None if pd.isna(row[f]) else row[f] for f in FIELDS],
                )
                for row in frame.to_dict("records")
            }
            want = {
                key: (c, s, [f.get(name) for name in FIELDS])  # None: never in the shadow
                for key, (c, s, f) in model.items()
                if key[0] == pair
            }
            assert got == want
        assert store.check().ok
