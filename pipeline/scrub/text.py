"""Build reason sentences for flagged lines only, with Arrow string kernels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True)
class Dollars:
    """Marks an integer-cents column to be shown as '$1234.56' in a sentence."""

    cents: np.ndarray | pd.Series


@dataclass(frozen=True)
class Percent:
    """Marks a column in hundredths of a percent to be shown as '62.5%'."""

    bp: np.ndarray | pd.Series


Part = str | np.ndarray | pd.Series | Dollars | Percent


def _take(values, sel: np.ndarray) -> pa.Array:
    if isinstance(values, pd.Series):
        values = values.array
    if hasattr(values, "_pa_array"):  # Arrow-backed pandas string column
        arr = values._pa_array
        arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
        return arr.take(pa.array(sel)).cast(pa.string())  # pandas may hold large_string
    return pa.array(np.asarray(values)[sel]).cast(pa.string())


def _dollars(cents, sel: np.ndarray) -> pa.Array:
    c = np.asarray(pd.Series(cents).fillna(0), dtype="int64")[sel]
    sign = pa.array(np.where(c < 0, "-$", "$"))
    mag = np.abs(c)
    whole = pa.array(mag // 100).cast(pa.string())
    frac = pc.utf8_lpad(pa.array(mag % 100).cast(pa.string()), 2, "0")
    return pc.binary_join_element_wise(sign, whole, ".", frac, "")


def _percent(bp, sel: np.ndarray) -> pa.Array:
    b = np.asarray(bp, dtype="int64")[sel]
    text = pd.Series(b / 100).map("{:g}%".format)
    return pa.array(text.to_numpy(), type=pa.string())


def render(parts: str | Sequence[Part], sel: np.ndarray) -> pa.Array:
    """Join `parts` into one sentence per selected row (`sel` holds row positions)."""
    if isinstance(parts, str):
        return pa.repeat(pa.scalar(parts, pa.string()), len(sel))
    if not isinstance(parts, tuple | list):
        raise TypeError("reason must be a string or a tuple of parts, not a column")
    arrays: list[pa.Array | str] = []
    for part in parts:
        if isinstance(part, str):
            arrays.append(part)
        elif isinstance(part, Dollars):
            arrays.append(_dollars(part.cents, sel))
        elif isinstance(part, Percent):
            arrays.append(_percent(part.bp, sel))
        else:
            arrays.append(_take(part, sel))
    if not any(isinstance(a, pa.Array) for a in arrays):
        return pa.repeat(pa.scalar("".join(arrays), pa.string()), len(sel))
    return pc.binary_join_element_wise(*arrays, "")
