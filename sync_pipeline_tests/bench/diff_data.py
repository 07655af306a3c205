"""Synthetic frames for the diff figures: n links, 1% changed on each side, some conflicts.

Built column-wise with numpy and Arrow (no per-row Python), so a million rows take a few
seconds and little memory. The frames follow ARCHITECTURE.md: side frames `id`, `updated_at`
(datetime64[ns, UTC]) and one `str` column per field holding its canonical value, as
`prepare_side` makes it (phones `+` and digits; no text columns: the text is then the canonical
value), rows in their own (shuffled) order; the links frame `webcrm_id`, `crmoffice_id`,
`status`, `synced_at` and one shadow column per field (canonical, as the store keeps it).

Of the links, 0.8% change only in WebCRM, 0.8% only in CRMOffice, 0.1% on both sides to the same
value (a shadow move) and 0.1% on both sides differently (conflicts: some against an emptied
value, some at the very same instant), so each side has 1% changed records.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

FIELDS = ("givenName", "familyName", "directPhone", "mobilePhone")
FIRST = ("Søren", "Åse", "Mette", "Ole", "Kari", "Bjørn", "Ingrid", "Jens", "Sigrid", "Lars")
LAST = ("Jørgensen", "Ødegård", "Hansen", "Ås", "Nielsen", "Bråten", "Lie", "Dahl", "Berg")
OLD = pd.Timestamp("2024-03-01", tz="UTC").value
NEW = pd.Timestamp("2026-11-20", tz="UTC").value
DAY_NS = 86_400 * 10**9


@dataclass(frozen=True)
class DiffFrames:
    """Both side frames and the links frame of one pair."""

    webcrm: pd.DataFrame
    crmoffice: pd.DataFrame
    links: pd.DataFrame
    fields: tuple[str, ...] = FIELDS


def _strings(values: pa.Array) -> pd.Series:
    return pd.Series(values, dtype="str")


def _names(rng: np.random.Generator, n: int, words: tuple[str, ...], suffixes: int) -> pa.Array:
    """`<word><number>`: ~len(words) * suffixes distinct names."""
    word = pa.array(words).take(pa.array(rng.integers(0, len(words), n)))
    number = pc.cast(pa.array(rng.integers(0, suffixes, n)), pa.string())
    return pc.binary_join_element_wise(word, number, "")


def _phones(rng: np.random.Generator, n: int, empty_share: float) -> pa.Array:
    digits = pc.cast(pa.array(rng.integers(20_000_000, 99_999_999, n)), pa.string())
    phones = pc.binary_join_element_wise(pa.scalar("+45"), digits, "")
    return pc.if_else(pa.array(rng.random(n) < empty_share), "", phones)


def uuid_strings(rng: np.random.Generator, n: int) -> pa.Array:
    """n random UUID-shaped strings, vectorised (CRMOffice ids are opaque strings)."""
    raw = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    hexdigits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    chars = np.empty((n, 32), dtype=np.uint8)
    chars[:, 0::2], chars[:, 1::2] = hexdigits[raw >> 4], hexdigits[raw & 15]
    dashed = np.full((n, 36), ord("-"), dtype=np.uint8)
    for src, dst in ((slice(0, 8), slice(0, 8)), (slice(8, 12), slice(9, 13))):
        dashed[:, dst] = chars[:, src]
    for src, dst in ((slice(12, 16), slice(14, 18)), (slice(16, 20), slice(19, 23))):
        dashed[:, dst] = chars[:, src]
    dashed[:, 24:] = chars[:, 20:]
    binary = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(36), n, [None, pa.py_buffer(dashed.tobytes())]
    )
    return pc.cast(pc.cast(binary, pa.binary()), pa.string())


def _shadow(rng: np.random.Generator, n: int) -> dict[str, pa.Array]:
    return {
        "givenName": _names(rng, n, FIRST, 500),
        "familyName": _names(rng, n, LAST, 500),
        "directPhone": _phones(rng, n, 0.3),
        "mobilePhone": _phones(rng, n, 0.05),
    }


@dataclass(frozen=True)
class _Changes:
    """Which links change on which side, in which field, and to what."""

    web_rows: np.ndarray  # link rows changed in WebCRM
    crm_rows: np.ndarray
    field: np.ndarray  # per link: the field index its changes touch
    web_values: pa.Array  # per link row: the new WebCRM value (used where changed)
    crm_values: pa.Array
    ties: np.ndarray  # link rows whose two records were updated at the same instant


def _changes(rng: np.random.Generator, n: int) -> _Changes:
    order = rng.permutation(n)
    cuts = np.cumsum([n * 8 // 1000, n * 8 // 1000, n // 1000, n // 1000])
    web_only, crm_only, same, differ = np.split(order[: cuts[-1]], cuts[:-1])
    web_values = pc.binary_join_element_wise("Ny", pc.cast(pa.array(np.arange(n)), pa.string()), "")
    crm_values = pc.binary_join_element_wise(
        "Nyere", pc.cast(pa.array(np.arange(n)), pa.string()), ""
    )
    # A tenth of one-sided changes are clears; the same-value pairs agree; a quarter of the
    # conflicts are against an emptied CRMOffice value (non-empty wins).
    clear = np.zeros(n, dtype=bool)
    clear[
        rng.choice(
            np.concatenate([web_only, crm_only]),
            (len(web_only) + len(crm_only)) // 10,
            replace=False,
        )
    ] = True
    emptied = np.zeros(n, dtype=bool)
    emptied[differ[: len(differ) // 4]] = True
    agree = np.zeros(n, dtype=bool)
    agree[same] = True
    web_values = pc.if_else(pa.array(clear), "", web_values)
    crm_values = pc.if_else(
        pa.array(clear | emptied), "", pc.if_else(pa.array(agree), web_values, crm_values)
    )
    return _Changes(
        web_rows=np.sort(np.concatenate([web_only, same, differ])),
        crm_rows=np.sort(np.concatenate([crm_only, same, differ])),
        field=rng.integers(0, len(FIELDS), n),
        web_values=web_values,
        crm_values=crm_values,
        ties=differ[len(differ) // 4 : len(differ) // 2],
    )


def _stamps(rng: np.random.Generator, n: int, changed: np.ndarray, unit_ns: int) -> np.ndarray:
    """Update times: long ago, or within the last day for changed records (whole `unit_ns`)."""
    stamps = OLD + rng.integers(0, 200 * DAY_NS // unit_ns, n) * unit_ns
    stamps[changed] = NEW + rng.integers(0, DAY_NS // unit_ns, len(changed)) * unit_ns
    return stamps


def _utc(stamps: np.ndarray) -> pd.Series:
    return pd.Series(stamps.astype("datetime64[ns]")).dt.tz_localize("UTC")


def _side(
    shadow: dict[str, pa.Array],
    changes: _Changes,
    side: str,
    ids: pa.Array,
    stamps: np.ndarray,
    order: np.ndarray,
) -> pd.DataFrame:
    """One side frame: the shadow with this side's changes, rows in `order`."""
    rows = changes.web_rows if side == "webcrm" else changes.crm_rows
    values = changes.web_values if side == "webcrm" else changes.crm_values
    take = pa.array(order)
    columns: dict[str, object] = {"id": _strings(ids.take(take)), "updated_at": _utc(stamps[order])}
    for k, name in enumerate(FIELDS):
        mask = np.zeros(len(order), dtype=bool)
        mask[rows[changes.field[rows] == k]] = True
        columns[name] = _strings(pc.if_else(pa.array(mask), values, shadow[name]).take(take))
    return pd.DataFrame(columns)


def _crmoffice_ids(rng: np.random.Generator, n: int, style: str) -> pa.Array:
    """UUID-shaped ids (opaque strings: the conservative case), or the sandbox's `c-<n>`."""
    if style == "uuid":
        return uuid_strings(rng, n)
    numbers = pc.cast(pa.array(rng.permutation(n) + 1), pa.string())
    return pc.binary_join_element_wise("c-", numbers, "")


def build_frames(n: int, seed: int = 0, crmoffice_ids: str = "uuid") -> DiffFrames:
    """n linked records of `persons_contacts` (see the module doc for what changed);
    `crmoffice_ids` is "uuid" or "sandbox" (`c-<n>`, as the emulator numbers contacts)."""
    rng = np.random.default_rng(seed)
    shadow = _shadow(rng, n)
    changes = _changes(rng, n)
    web_ids = pc.cast(pa.array(np.arange(100_000, 100_000 + n)), pa.string())
    crm_ids = _crmoffice_ids(rng, n, crmoffice_ids)
    web_stamps = _stamps(rng, n, changes.web_rows, 10**9)
    crm_stamps = _stamps(rng, n, changes.crm_rows, 10**6)
    crm_stamps[changes.ties] = web_stamps[changes.ties]
    webcrm = _side(shadow, changes, "webcrm", web_ids, web_stamps, rng.permutation(n))
    crmoffice = _side(shadow, changes, "crmoffice", crm_ids, crm_stamps, rng.permutation(n))
    links = pd.DataFrame(
        {
            "webcrm_id": _strings(web_ids),
            "crmoffice_id": _strings(crm_ids),
            "status": _strings(pa.array(["active"] * n)),
            "synced_at": _utc(np.full(n, OLD + 250 * DAY_NS)),
            **{name: _strings(shadow[name]) for name in FIELDS},
        }
    )
    return DiffFrames(webcrm, crmoffice, links)
