"""`core.echo.pair_changes`: which probed records a pair must sync, and which are echoes."""

from __future__ import annotations

import pandas as pd

from sync_pipeline.core import load_field_map
from sync_pipeline.core.echo import pair_changes

FIELD_MAP = load_field_map()


def _links(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["webcrm_id", "crmoffice_id", "mobilePhone"]).assign(
        directPhone=""
    )


def _contacts(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["id", "mobilePhone"]).assign(directPhone="")


def test_equal_to_the_shadow_is_an_echo_and_a_difference_is_a_change() -> None:
    pair = FIELD_MAP.pairs["users_contacts"]
    links = _links([("1", "c-1", "+4520304050"), ("2", "c-2", "+4520304051")])
    valid = _contacts([("c-1", "+4520304050"), ("c-2", "+4599999999")])
    found = pair_changes(pair, "crmoffice", valid, [], links, set())
    assert found.changed == ("c-2",) and found.echoes == ("c-1",)


def test_a_new_record_is_a_change_only_where_the_pair_creates_from_its_side() -> None:
    """users_contacts never creates users from contacts; a contact another pair links is that
    pair's; a new person creates a contact."""
    users = FIELD_MAP.pairs["users_contacts"]
    valid = _contacts([("c-9", "+4520304050")])
    assert pair_changes(users, "crmoffice", valid, [], _links([]), set()).changed == ()
    persons = FIELD_MAP.pairs["persons_contacts"]
    new = valid.assign(givenName="Ada", familyName="Lovelace")
    links = _links([]).assign(givenName="", familyName="")
    assert pair_changes(persons, "crmoffice", new, [], links, {"c-9"}).changed == ()
    assert pair_changes(persons, "crmoffice", new, [], links, set()).changed == ("c-9",)
