"""Turn integer-cent columns into exact Arrow decimals for Parquet."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa


def scaled_to_decimal(values: pd.Series | np.ndarray, scale: int, precision: int = 18) -> pa.Array:
    """Integers holding value x 10**scale become decimal128(precision, scale), nulls kept."""
    series = pd.Series(values)
    mask = series.isna().to_numpy()
    ints = series.fillna(0).to_numpy(dtype="int64")
    as_int = pa.array(ints, type=pa.int64()).cast(pa.decimal128(38, 0))
    # Same 128-bit integer, read with a different scale: exact, no arithmetic.
    validity = pa.array(~mask, type=pa.bool_()).buffers()[1] if mask.any() else None
    return pa.Array.from_buffers(
        pa.decimal128(precision, scale),
        len(ints),
        [validity, as_int.buffers()[1]],
        null_count=int(mask.sum()),
    )
