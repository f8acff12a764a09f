"""Integer ids for text columns, quick whether they are categorical or Python strings.

`pipeline.factorize.factorized` is free for a categorical column. For an object column it
hashes pandas' wrapper of the array, which is about twice as slow as hashing the bare numpy
array; and for a column of mostly distinct strings (patient keys) Arrow's dictionary encoding
is faster still. Both give the same ids: first-appearance order, missing values -1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from pipeline.factorize import factorized


def text_ids(values, *, mostly_distinct: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Per-row ids (int64, -1 for missing) into an array of the distinct values."""
    array = values.array if isinstance(values, pd.Series) else values
    if isinstance(array, pd.arrays.NumpyExtensionArray):
        array = array.to_numpy()
    if not (isinstance(array, np.ndarray) and array.dtype == object):
        return factorized(array)
    if mostly_distinct:
        try:
            encoded = pa.array(array, type=pa.string(), from_pandas=True).dictionary_encode()
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # not all text: hash the objects
            pass
        else:
            ids = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
            return ids.astype("int64"), encoded.dictionary.to_numpy(zero_copy_only=False)
    ids, uniques = pd.factorize(array)
    return ids.astype("int64"), np.asarray(uniques, dtype=object)


def as_categorical(values: pd.Series) -> pd.Categorical:
    """The column's values as a categorical (taken as they are when it already is one)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.array
    ids, uniques = text_ids(values)
    return pd.Categorical.from_codes(ids, pd.Index(uniques, dtype=object), validate=False)
