"""Integer indexes over an NCCI release's tables, built once per release and kept beside it.

A batch maps its few thousand distinct codes to the release's code ids once; every per-line
lookup after that is an array take on integers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pandas as pd

from pipeline.extract.ncci import NcciRelease
from pipeline.factorize import factorized

T = TypeVar("T")
# A PTP bitmap of up to 2**30 bits (128 MiB) covers releases of about 32,000 codes; a wider
# release is searched instead.
MAX_BITMAP_BITS = 2**30


def _cached(ncci: NcciRelease, name: str, build: Callable[[NcciRelease], T]) -> T:
    cached = ncci.__dict__.get(name)  # frozen dataclass: cache beside the fields
    if cached is None:
        cached = build(ncci)
        ncci.__dict__[name] = cached
    return cached


@dataclass(frozen=True)
class PtpIndex:
    """A release's PTP rows keyed by one integer per (column 1, column 2) code pair.

    key = column-1 id * width + column-2 id. A bitmap over all possible keys answers "is this
    pair edited?" with one memory read per candidate pair; only the pairs it finds are then
    located (binary search) among the sorted distinct keys.
    """

    vocab: pd.Index  # every code in either column
    in_column1: np.ndarray  # per vocab code: appears in column 1
    in_column2: np.ndarray
    keys: np.ndarray  # distinct pair keys, sorted
    starts: np.ndarray  # per distinct key: its first position in `rows` (one extra at the end)
    rows: np.ndarray  # PTP rows ordered by pair key (release order within a key)
    bitmap: np.ndarray  # uint8, bit `key` set when the key is in `keys` (empty: too wide)

    @property
    def width(self) -> int:
        return len(self.vocab) + 1

    @classmethod
    def of(cls, ncci: NcciRelease) -> PtpIndex:
        return _cached(ncci, "_ptp_index", cls._build)

    @classmethod
    def _build(cls, ncci: NcciRelease) -> PtpIndex:
        ids1, codes1 = factorized(ncci.ptp["column1"])
        ids2, codes2 = factorized(ncci.ptp["column2"])
        vocab = pd.Index(codes1, dtype=object).union(pd.Index(codes2, dtype=object))
        id1 = vocab.get_indexer(codes1)[ids1].astype("int64")
        id2 = vocab.get_indexer(codes2)[ids2].astype("int64")
        width = len(vocab) + 1
        keys = id1 * width + id2
        rows = np.argsort(keys, kind="stable")  # CMS files come sorted: nearly free
        ordered = keys[rows]
        starts = np.flatnonzero(np.diff(ordered, prepend=-1) != 0)
        distinct = ordered[starts]
        in1, in2 = np.zeros(len(vocab), bool), np.zeros(len(vocab), bool)
        in1[id1], in2[id2] = True, True
        starts = np.append(starts, len(rows))
        bitmap = np.zeros(0, dtype="uint8")
        if len(vocab) * width <= MAX_BITMAP_BITS:
            bitmap = np.zeros(len(vocab) * width // 8 + 1, dtype="uint8")
            byte = distinct >> 3
            bits = np.left_shift(1, distinct & 7).astype("uint8")
            first = np.flatnonzero(np.diff(byte, prepend=-1) != 0)  # keys are sorted
            if len(first):
                bitmap[byte[first]] = np.bitwise_or.reduceat(bits, first)
        return cls(vocab, in1, in2, distinct, starts, rows, bitmap)

    def contains(self, keys: np.ndarray) -> np.ndarray:
        """Per key (from this index's ids): whether the release has a row for that pair."""
        if not len(self.bitmap):  # a release too wide for a bitmap: binary search
            if not len(self.keys):
                return np.zeros(len(keys), dtype=bool)
            at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
            return self.keys[at] == keys
        return ((self.bitmap[keys >> 3] >> (keys & 7).astype("uint8")) & 1).astype(bool)

    def locate(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """First position in `rows` and row count for keys known to be present."""
        at = np.searchsorted(self.keys, keys)
        lo = self.starts[at]
        return lo, self.starts[at + 1] - lo


@dataclass(frozen=True)
class MueIndex:
    """A release's MUE value and MAI per code (the first row of a code wins)."""

    codes: pd.Index
    value: np.ndarray  # one extra 0 at the end, picked by position -1
    mai: np.ndarray

    @classmethod
    def of(cls, ncci: NcciRelease) -> MueIndex:
        return _cached(ncci, "_mue_index", cls._build)

    @classmethod
    def _build(cls, ncci: NcciRelease) -> MueIndex:
        mue = ncci.mue.drop_duplicates("hcpcs")
        return cls(
            pd.Index(mue["hcpcs"].to_numpy(object), dtype=object),
            np.append(mue["mue_value"].to_numpy("int64"), 0),
            np.append(mue["mai"].to_numpy("int64"), 0),
        )
