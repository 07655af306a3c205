"""Vectorised value normalisation, matching keys and validity predicates.

Three forms of a mapped value, each vectorised over Arrow strings:

- **Text** (`normalize_arrow`): what a side holds, as we would write it elsewhere. Empty is one
  value: `None`, NaN, `""` and whitespace-only all become `""`; otherwise stripped of leading/
  trailing whitespace and in Unicode NFC.
- **Canonical** (`canonical_arrow`): the form every comparison uses, on both sides and in the
  shadow (DESIGN section 2, "Empty is one value"): a phone is `+` (when one comes before the
  first digit) and its digits; a string is NFC with every run of Unicode whitespace (`str.
  isspace`: NBSP, thin and ideographic spaces, line separators, ...) one space, stripped. A
  target that stores `+45 12 34 56 78` as `+4512345678`, or `Anne  Marie` as `Anne Marie`,
  holds the same canonical value: no change, nothing written back.
- **Match key** (`match_key`, initial matching only; never written anywhere): strings in NFKC,
  without invisible format characters (Unicode category Cf: zero-width space/joiner, soft
  hyphen, BOM), whitespace runs one space, casefolded, NFKC again (compatibility caseless
  matching, Unicode Standard section 3.13, D146, in composed form); phones keep their digits
  only, with a leading `+` read as the international prefix `00` (so `+45 12 34 56 78` and
  `0045 12345678` match, while the national `12 34 56 78` deliberately does not: a missed match
  is reported by the dry run, a wrong match would merge two people).
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sync_pipeline.core.fieldmap import FieldType

MAX_STRING_LENGTH = 255
CONTROL_CHARACTERS = r"[\x00-\x1f\x7f-\x9f]"
# Every Unicode whitespace character (`str.isspace`), as an RE2 class (RE2's `\s` is ASCII-only).
WHITESPACE = r"[\t-\r\x{1c}-\x{1f}\x{85}\p{Z}]"
# Invisible format characters (category Cf): ZWSP, ZWNJ/ZWJ, soft hyphen, word joiner, BOM...
INVISIBLE = r"\p{Cf}"
# Digits, `+ - ( ) .` and spaces (any Unicode space separator: a target may group with NBSP).
PHONE_PATTERN = r"^[0-9+\-().\p{Zs}]*[0-9][0-9+\-().\p{Zs}]*$"
# Joins several values into one comparable string; a control character never in a valid value.
KEY_SEPARATOR = "\x1f"

BoolArray: TypeAlias = npt.NDArray[np.bool_]
ArrowStrings: TypeAlias = pa.Array | pa.ChunkedArray


def to_arrow(values: pd.Series) -> pa.Array:
    """The values as an Arrow string array (zero-copy for Arrow-backed `str` series)."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        arr = pa.array(values.array)
        return arr if arr.type == pa.large_string() else arr.cast(pa.large_string())
    return pa.array(values.to_numpy(dtype=object), type=pa.large_string(), from_pandas=True)


def from_arrow(values: ArrowStrings, index: pd.Index | None = None) -> pd.Series:
    """An Arrow string array as a pandas `str` series."""
    return pd.Series(values, dtype="str", index=index)


def normalize_arrow(values: ArrowStrings) -> ArrowStrings:
    """Normalise Arrow strings: null -> "", stripped, NFC."""
    filled = pc.fill_null(values, "")
    return pc.utf8_normalize(pc.utf8_trim_whitespace(filled), form="NFC")


def normalize_values(values: pd.Series) -> pd.Series:
    """Normalise a series of strings/None/NaN to a `str` series with no NA (see module doc)."""
    return from_arrow(normalize_arrow(to_arrow(values)), values.index)


def _fold_whitespace(values: ArrowStrings) -> ArrowStrings:
    """Every run of Unicode whitespace one space; leading/trailing whitespace removed."""
    return pc.utf8_trim(pc.replace_substring_regex(values, WHITESPACE + "+", " "), " ")


def canonical_arrow(values: ArrowStrings, type_: FieldType) -> ArrowStrings:
    """The comparison form of text values (see module doc); null -> ""."""
    values = pc.fill_null(values, "")
    if type_ == "phone":
        digits = pc.replace_substring_regex(values, r"[^0-9]", "")
        plus = pc.and_(pc.match_substring_regex(values, r"^[^0-9]*\+"), pc.not_equal(digits, ""))
        sign = pa.scalar("+", digits.type)
        empty = pa.scalar("", digits.type)
        return pc.if_else(plus, pc.binary_join_element_wise(empty, digits, sign), digits)
    return _fold_whitespace(pc.utf8_normalize(values, form="NFC"))


def canonical_values(values: pd.Series, type_: FieldType) -> pd.Series:
    """`canonical_arrow` of a series, as a `str` series on the same index."""
    return from_arrow(canonical_arrow(to_arrow(values), type_), values.index)


def match_key(values: pd.Series, type_: FieldType) -> pd.Series:
    """The matching key of values: NFKC-casefolded text, or the digits of a phone."""
    arr = pc.utf8_normalize(pc.fill_null(to_arrow(values), ""), form="NFKC")
    if type_ == "phone":
        arr = pc.replace_substring_regex(arr, r"^[^0-9]*\+", "00")
        arr = pc.replace_substring_regex(arr, r"[^0-9]", "")
        return from_arrow(arr, values.index)
    arr = _fold_whitespace(pc.replace_substring_regex(arr, INVISIBLE, ""))
    folded = from_arrow(arr).str.casefold()  # Arrow has no casefold (ß -> ss)
    arr = pc.utf8_normalize(to_arrow(folded), form="NFKC")
    return from_arrow(arr, values.index)


def _mask(result: ArrowStrings) -> BoolArray:
    return np.asarray(pc.fill_null(result, False).to_numpy(zero_copy_only=False), dtype=bool)


def too_long(values: ArrowStrings) -> BoolArray:
    """True where a normalised string is over `MAX_STRING_LENGTH` characters."""
    return _mask(pc.greater(pc.utf8_length(values), MAX_STRING_LENGTH))


def has_control_characters(values: ArrowStrings) -> BoolArray:
    """True where a string contains a C0/C1 control character (tab and newline included)."""
    return _mask(pc.match_substring_regex(values, CONTROL_CHARACTERS))


def is_valid_phone(values: ArrowStrings) -> BoolArray:
    """True where a normalised value is empty or a phone: digits, spaces, `+ - ( ) .`."""
    empty = pc.equal(values, "")
    return _mask(pc.or_(empty, pc.match_substring_regex(values, PHONE_PATTERN)))


def is_valid_string(values: ArrowStrings) -> BoolArray:
    """True where a normalised string fits in 255 characters and has no control characters."""
    return ~(too_long(values) | has_control_characters(values))


def join_columns(columns: list[ArrowStrings]) -> ArrowStrings:
    """Row-wise join of string columns with `KEY_SEPARATOR` (null if any value is null)."""
    if len(columns) == 1:
        return columns[0]
    separator = pa.scalar(KEY_SEPARATOR, pa.large_string())
    return pc.binary_join_element_wise(*[c.cast(pa.large_string()) for c in columns], separator)
