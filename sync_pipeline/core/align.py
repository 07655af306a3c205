"""Joining frames on ids without per-row Python: positions of keys in an id column.

Ids are strings. WebCRM ids (and any id column that is canonical decimal text) take an
integer hash join, several times faster than hashing strings; other ids use Arrow's hash
lookup. Either way the result is a numpy position array with -1 where a key is absent.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sync_pipeline.core.normalize import ArrowStrings, to_arrow

IntArray = npt.NDArray[np.int64]


def as_int64(values: ArrowStrings) -> IntArray | None:
    """The values as int64 when every one is canonical decimal text (no sign, no leading 0)."""
    if values.null_count or not pc.all(pc.ascii_is_decimal(values)).as_py():
        return None
    leading_zero = pc.and_(pc.starts_with(values, "0"), pc.greater(pc.utf8_length(values), 1))
    if pc.any(leading_zero).as_py() or pc.max(pc.utf8_length(values)).as_py() > 18:
        return None
    try:
        ints = pc.cast(values, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return np.asarray(ints.to_numpy(zero_copy_only=False), dtype=np.int64)


def positions(keys: pd.Series, ids: pd.Series) -> IntArray:
    """For each key, its row position in `ids` (unique), or -1 where it is absent."""
    key_arr, id_arr = to_arrow(keys), to_arrow(ids)
    if len(key_arr) == 0:
        return np.empty(0, dtype=np.int64)
    id_ints = as_int64(id_arr)
    key_ints = as_int64(key_arr) if id_ints is not None else None
    if id_ints is not None and key_ints is not None:
        index = pd.Index(id_ints)
        if index.is_unique:
            return np.asarray(index.get_indexer(pd.Index(key_ints)), dtype=np.int64)
    found = pc.index_in(key_arr, value_set=id_arr)
    return np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False), dtype=np.int64)


def member_mask(values: pd.Series, members: frozenset[str] | pd.Series) -> npt.NDArray[np.bool_]:
    """True where a value is one of `members`."""
    if len(members) == 0 or len(values) == 0:
        return np.zeros(len(values), dtype=bool)
    member_arr = (
        to_arrow(pd.Series(sorted(members), dtype="str"))
        if isinstance(members, frozenset)
        else to_arrow(members)
    )
    found = pc.is_in(to_arrow(values), value_set=member_arr)
    return np.asarray(pc.fill_null(found, False).to_numpy(zero_copy_only=False), dtype=bool)


def take_strings(values: pd.Series, rows: IntArray) -> pa.Array:
    """`values` at `rows` as Arrow strings; null where a row is -1."""
    indices = pa.array(rows, mask=rows < 0)
    return pc.take(to_arrow(values), indices)
