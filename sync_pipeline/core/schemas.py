"""pandera models for the mapped frames, generated from the field map per pair and side.

A mapped frame has `id` (str), `updated_at` (datetime64[ns, UTC]) and one `str` column per
field (canonical name). Checks carry stable names; `CHECK_REASONS` turns a failed check into
the one-line quarantine reason.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc

if TYPE_CHECKING:
    import pandera.pandas as pa

# pandera is imported where a model is built, not here: it costs ~0.3 s, and a no-op run
# (nothing read) never validates a row.

from sync_pipeline.core.align import as_int64
from sync_pipeline.core.fieldmap import PairSpec
from sync_pipeline.core.normalize import (
    MAX_STRING_LENGTH,
    ArrowStrings,
    BoolArray,
    has_control_characters,
    is_valid_phone,
    to_arrow,
    too_long,
)
from sync_pipeline.core.types import Side

TIMESTAMP_DTYPE = pd.DatetimeTZDtype("ns", "UTC")

# check name -> reason template ({prop} is the API property of the failing column)
CHECK_REASONS: dict[str, str] = {
    "id_present": "missing or blank id",
    "id_unique": "duplicate id",
    "id_printable": "{prop}: id has control characters or is over 255 characters",
    "not_nullable": "{prop}: missing or unparseable timestamp",
    "max_length": f"{{prop}}: longer than {MAX_STRING_LENGTH} characters",
    "no_control_characters": "{prop}: contains control characters",
    "phone": "{prop}: not a phone number (digits, spaces and + - ( ) . only)",
}


def _rejects(predicate: Callable[[ArrowStrings], BoolArray]) -> Callable[[pd.Series], pd.Series]:
    """A vectorised check failing where `predicate` (over Arrow strings) is True."""

    def check(values: pd.Series) -> pd.Series:
        return pd.Series(~predicate(to_arrow(values)), index=values.index)

    return check


def _not_phone(values: ArrowStrings) -> BoolArray:
    return ~is_valid_phone(values)


def _not_printable_id(values: ArrowStrings) -> BoolArray:
    return too_long(values) | has_control_characters(values)


def _blank(values: ArrowStrings) -> BoolArray:
    return np.asarray(pc.fill_null(pc.equal(values, ""), True).to_numpy(zero_copy_only=False))


def _id_unique(values: pd.Series) -> pd.Series:
    ints = as_int64(to_arrow(values))  # WebCRM ids: hashing integers is much cheaper
    keys = values if ints is None else pd.Series(ints, index=values.index)
    return ~(keys.duplicated(keep=False) & (values.fillna("") != ""))


def _model_check(column: str, name: str, test: Callable[[pd.Series], pd.Series]) -> Any:
    """A DataFrameModel check method named `name` on `column`."""

    import pandera.pandas as pa

    def check(cls: type, values: pd.Series) -> pd.Series:
        return test(values)

    check.__name__ = f"check_{column}_{name}"
    return pa.check(column, name=name, error=name)(classmethod(check))


def _checks(pair: PairSpec) -> list[tuple[str, str, Callable[[pd.Series], pd.Series]]]:
    """(column, check name, vectorised test) for every column of the mapped frame."""
    checks: list[tuple[str, str, Callable[[pd.Series], pd.Series]]] = [
        ("id", "id_present", _rejects(_blank)),
        ("id", "id_unique", _id_unique),
        ("id", "id_printable", _rejects(_not_printable_id)),
    ]
    for field in pair.fields:
        checks.append((field.name, "max_length", _rejects(too_long)))
        checks.append((field.name, "no_control_characters", _rejects(has_control_characters)))
        if field.type == "phone":
            checks.append((field.name, "phone", _rejects(_not_phone)))
    return checks


@lru_cache(maxsize=64)
def mapped_frame_model(pair: PairSpec, side: Side) -> type[pa.DataFrameModel]:
    """A strict pandera `DataFrameModel` for the mapped frame of `pair` on `side`."""
    import pandera.pandas as pa
    from pandera.typing import Series

    annotations: dict[str, Any] = {
        "id": Series[str],
        "updated_at": Series[Annotated[pd.DatetimeTZDtype, "ns", "UTC"]],
    }
    attrs: dict[str, Any] = {"id": pa.Field(), "updated_at": pa.Field(nullable=False)}
    for i, field in enumerate(pair.fields):
        # Attribute names are positional so a field can never shadow a DataFrameModel member.
        annotations[f"field_{i}"] = Series[str]
        attrs[f"field_{i}"] = pa.Field(alias=field.name)
    for i, (column, name, test) in enumerate(_checks(pair)):
        attrs[f"_check_{i}"] = _model_check(column, name, test)

    class Config:
        strict = True
        coerce = False

    attrs["__annotations__"] = annotations
    attrs["Config"] = Config
    title = "".join(part.title() for part in pair.name.split("_"))
    name = f"{title}{'Webcrm' if side == 'webcrm' else 'Crmoffice'}Rows"
    return type(name, (pa.DataFrameModel,), attrs)
