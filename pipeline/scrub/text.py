"""Build reason sentences for flagged lines only, with Arrow string kernels."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.factorize import factorized


@dataclass(frozen=True)
class Dollars:
    """Marks an integer-cents column to be shown as '$1234.56' in a sentence."""

    cents: np.ndarray | pd.Series


@dataclass(frozen=True)
class Percent:
    """Marks a column in hundredths of a percent to be shown as '62.5%'."""

    bp: np.ndarray | pd.Series


@dataclass(frozen=True)
class Count:
    """Marks a count column to be shown with its noun, singular for 1: '1 unit', '3 units'."""

    values: np.ndarray | pd.Series
    noun: str  # singular; the plural adds "s"


Part = str | np.ndarray | pd.Series | Dollars | Percent | Count

# The two-digit cents of an amount, looked up instead of formatted per row.
_CENTS = pa.array([f"{i:02d}" for i in range(100)], type=pa.string())


def _take(values, sel: np.ndarray) -> pa.Array:
    if isinstance(values, pd.Series):
        values = values.array
    if isinstance(values, pd.Categorical):  # each category converted once, not each row
        codes = values.codes[sel]
        categories = pa.array(np.asarray(values.categories), from_pandas=True)
        return categories.take(pa.array(codes, mask=codes < 0)).cast(pa.string())
    if hasattr(values, "_pa_array"):  # Arrow-backed pandas string column
        arr = values._pa_array
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()
        return arr.take(pa.array(sel)).cast(pa.string())  # pandas may hold large_string
    return pa.array(np.asarray(values)[sel]).cast(pa.string())


def _dollars(cents, sel: np.ndarray) -> list[pa.Array | str]:
    """'$1234.56' pieces (sign, dollars, '.', cents) for the joining kernel."""
    values = cents.array if isinstance(cents, pd.Series) else cents
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        c = values[sel].astype("int64", copy=False)
    else:
        c = np.asarray(pd.Series(values[sel]).fillna(0), dtype="int64")
    mag = np.abs(c)
    negative = c < 0
    sign = pa.array(np.where(negative, "-$", "$")) if negative.any() else "$"
    whole = pa.array(mag // 100).cast(pa.string())
    return [sign, whole, ".", _CENTS.take(pa.array(mag % 100))]


def _worded(values, sel: np.ndarray, word: Callable[[int], str]) -> pa.Array:
    """`word(v)` of each selected integer, worded once per distinct value (they are few)."""
    ids, distinct = factorized(np.asarray(values, dtype="int64")[sel])
    text = pa.array([word(v) for v in np.asarray(distinct).tolist()], type=pa.string())
    return text.take(pa.array(ids))


def _percent(bp, sel: np.ndarray) -> pa.Array:
    return _worded(bp, sel, lambda v: f"{v / 100:g}%")


def _count(count: Count, sel: np.ndarray) -> pa.Array:
    """'1 unit', '3 units'."""
    return _worded(count.values, sel, lambda v: f"{v} {count.noun}" + ("" if v == 1 else "s"))


def render(parts: str | Sequence[Part], sel: np.ndarray) -> pa.Array:
    """Join `parts` into one sentence per selected row (`sel` holds row positions)."""
    if isinstance(parts, str):
        return pa.repeat(pa.scalar(parts, pa.string()), len(sel))
    if not isinstance(parts, tuple | list):
        raise TypeError("reason must be a string or a tuple of parts, not a column")
    pieces: list[pa.Array | str] = []
    for part in parts:
        if isinstance(part, str):
            pieces.append(part)
        elif isinstance(part, Dollars):
            pieces.extend(_dollars(part.cents, sel))
        elif isinstance(part, Percent):
            pieces.append(_percent(part.bp, sel))
        elif isinstance(part, Count):
            pieces.append(_count(part, sel))
        else:
            pieces.append(_take(part, sel))
    merged: list[pa.Array | str] = []  # neighbouring literal text joined once, here
    for piece in pieces:
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] += piece
        else:
            merged.append(piece)
    if len(merged) == 1 and isinstance(merged[0], str):
        return pa.repeat(pa.scalar(merged[0], pa.string()), len(sel))
    if len(merged) == 1:
        return merged[0]
    return pc.binary_join_element_wise(*merged, "")
