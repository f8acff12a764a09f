"""Attach the release, locality, GPCIs and RVU rows that price each line, fast.

Lookups are done once per distinct key and spread back to the lines, so their cost follows
the number of distinct codes and localities in a batch, not the number of lines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.columns import INDICATORS
from pipeline.extract.releases import ReferenceData
from pipeline.factorize import factorized, factorized_keys

NATIONAL = "national"
TEXT_FIELDS = ("status", *INDICATORS)
NUMBER_FIELDS = (
    "work_rvu",
    "nf_pe_rvu",
    "f_pe_rvu",
    "mp_rvu",
    "cf",
    "opps_nf_pe",
    "opps_f_pe",
    "opps_mp",
)
FLAG_FIELDS = ("nf_na", "f_na")


def is_in(values, options) -> np.ndarray:
    """Per line: whether the value is one of `options`; cheap for categorical columns."""
    if isinstance(values, pd.Categorical):
        wanted = np.append(
            np.isin(np.asarray(values.categories, dtype=object), list(options)), False
        )
        return wanted[values.codes]  # code -1 (missing) picks the trailing False
    return np.isin(values, list(options))


def group_ids(*columns: pd.Series | np.ndarray) -> np.ndarray:
    """One integer id per distinct combination of the given columns (first seen, first id)."""
    combined = np.zeros(len(columns[0]), dtype="int64")
    span = 1
    for col in columns:
        codes, uniques = factorized(col)
        width = len(uniques) + 1
        if span * width >= 2**62:  # keep the combined key inside int64
            combined, _ = pd.factorize(combined)
            span = int(combined.max()) + 1 if len(combined) else 1
        combined = combined * width + (codes + 1)
        span *= width
    combined, _ = pd.factorize(combined)
    return combined.astype("int64")


@dataclass(frozen=True)
class Codes:
    """A batch's procedure codes, factorized once: per-line ids into `uniques`."""

    ids: np.ndarray
    uniques: np.ndarray

    def matches(self, pattern: str) -> np.ndarray:
        """Per line: whether its code fully matches a regular expression."""
        hit = pd.Series(self.uniques, dtype="string").str.fullmatch(pattern).fillna(False)
        return hit.to_numpy(bool)[self.ids] if len(self.ids) else np.zeros(0, bool)

    @classmethod
    def of(cls, hcpcs: pd.Series | np.ndarray) -> Codes:
        ids, uniques = factorized(hcpcs)
        return cls(ids, uniques)


@dataclass(frozen=True)
class RvuRows:
    """RVU fields for each line (defaults where the key was not found)."""

    found: np.ndarray
    fields: dict[str, np.ndarray]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.fields[name]


class RvuIndex:
    """All releases' RVU rows, keyed by (release index, HCPCS, modifier).

    Codes and modifiers are numbered once per index; a dense table over (release, code,
    modifier) numbers gives each key's row, so a lookup maps a batch's distinct codes to
    those numbers and then only indexes integer arrays.
    """

    def __init__(self, ref: ReferenceData) -> None:
        table = pd.concat(
            [r.rvu.assign(release_idx=i) for i, r in enumerate(ref.releases)], ignore_index=True
        )
        code_ids, code_vocab = pd.factorize(table["hcpcs"].to_numpy(object))
        mod_ids, mod_vocab = pd.factorize(table["mod"].to_numpy(object))
        self.code_vocab = pd.Index(code_vocab, dtype=object)
        self.mod_vocab = pd.Index(mod_vocab, dtype=object)
        self.n_releases = len(ref.releases)
        width = len(self.code_vocab) * len(self.mod_vocab)
        key = table["release_idx"].to_numpy("int64") * width + code_ids * len(self.mod_vocab)
        key += mod_ids
        # Row of each (release, code, modifier), -1 where absent; a repeated key keeps its
        # first row, as a hash index would.
        self.row_of = np.full(self.n_releases * width + 1, -1, dtype="int64")
        self.row_of[key[::-1]] = np.arange(len(key) - 1, -1, -1)
        rel_code = table["release_idx"].to_numpy("int64") * len(self.code_vocab) + code_ids
        self.code_present = np.zeros(self.n_releases * len(self.code_vocab) + 1, dtype=bool)
        self.code_present[rel_code] = True
        # Each column ends with one default value, picked by position -1 when a key is absent.
        self.columns: dict[str, np.ndarray] = {}
        # Text indicators are small vocabularies: kept as category codes, so per-line tests
        # compare integers.
        self.categories: dict[str, pd.Index] = {}
        for c in TEXT_FIELDS:
            cat = pd.Categorical(np.append(table[c].to_numpy(object), ""))
            self.columns[c] = cat.codes
            self.categories[c] = cat.categories
        for c in NUMBER_FIELDS:
            self.columns[c] = np.append(table[c].to_numpy("int64"), 0)
        for c in FLAG_FIELDS:
            self.columns[c] = np.append(table[c].to_numpy(bool), False)

    def _code_numbers(self, codes: Codes) -> np.ndarray:
        """The index's number of each line's code, -1 where the index has no such code."""
        return np.append(self.code_vocab.get_indexer(codes.uniques), -1)[codes.ids]

    def lookup(
        self,
        rel: np.ndarray,
        codes: Codes,
        mod: np.ndarray | str,
        fields: tuple[str, ...] | None = None,
    ) -> RvuRows:
        """Rows for (release, code, modifier) per line; `mod` is per line or one value."""
        code = self._code_numbers(codes)
        if isinstance(mod, str):
            at = self.mod_vocab.get_indexer([mod])[0]
            mod_number = np.full(len(rel), at, dtype="int64")
        else:
            mod_ids, mod_uniques = factorized(mod)
            mod_number = np.append(self.mod_vocab.get_indexer(mod_uniques), -1)[mod_ids]
        known = (code >= 0) & (mod_number >= 0) & (rel >= 0) & (rel < self.n_releases)
        key = (rel.astype("int64") * len(self.code_vocab) + code) * len(self.mod_vocab)
        key += mod_number
        pos = self.row_of[np.where(known, key, len(self.row_of) - 1)]
        names = fields or tuple(self.columns)
        return RvuRows(pos >= 0, {name: self._take(name, pos) for name in names})

    def _take(self, name: str, pos: np.ndarray):
        values = self.columns[name][pos]
        if name in self.categories:
            return pd.Categorical.from_codes(values, self.categories[name], validate=False)
        return values

    def has_code(self, rel: np.ndarray, codes: Codes) -> np.ndarray:
        """Whether the code has any row (any modifier) in the release."""
        code = self._code_numbers(codes)
        known = (code >= 0) & (rel >= 0) & (rel < self.n_releases)
        key = rel.astype("int64") * len(self.code_vocab) + code
        return self.code_present[np.where(known, key, len(self.code_present) - 1)]


LOCALITY_SOURCES = ("zip", "zip_not_found", "default", NATIONAL, "carrier_locality")


def resolve_locality(
    zip5: pd.Series,
    carrier: pd.Series,
    locality: pd.Series,
    ref: ReferenceData,
    default_locality: str | None,
) -> tuple[pd.Categorical, pd.Categorical, np.ndarray]:
    """Locality key per line, how it was found, and whether the ZIP needs ZIP+4.

    The source is one of "carrier_locality", "zip", "zip_not_found", "default", "national".
    Work is done once per distinct ZIP; keys and sources come back as categoricals.
    """
    zips = ref.zip5.set_index("zip5")
    zip_ids, zip_uniques = factorized(zip5)
    pos_u = zips.index.get_indexer(zip_uniques)
    at = np.clip(pos_u, 0, None)
    key_u = np.where(pos_u >= 0, zips["locality_key"].to_numpy(object)[at], "")
    plus4_u = np.where(pos_u >= 0, zips["plus_four"].to_numpy(bool)[at], False)
    has_zip_u = zip_uniques != ""
    found_u = has_zip_u & (key_u != "")
    fallback = default_locality or NATIONAL
    # Keys: the distinct ZIPs' localities, then the fallback, then any given carrier-locality.
    keys = np.append(np.where(found_u, key_u, fallback), fallback).astype(object)
    source_u = np.where(found_u, 0, np.where(has_zip_u, 1, 2 if default_locality else 3))
    key_ids = zip_ids.copy()
    key_ids[zip_ids < 0] = len(keys) - 1
    source = np.append(source_u, 2 if default_locality else 3)[key_ids]
    plus_four = np.append(plus4_u & found_u, False)[key_ids]
    given = filled(carrier) & filled(locality)
    if given.any():
        at = np.flatnonzero(given)
        given_key = (
            pd.Series(_values_at(carrier, at)).str.zfill(5)
            + "-"
            + pd.Series(_values_at(locality, at)).str.zfill(2)
        )
        ids, uniques = pd.factorize(given_key.to_numpy(object))
        key_ids[given] = len(keys) + ids
        keys = np.concatenate([keys, np.asarray(uniques, dtype=object)])
        source[given] = 4
        plus_four &= ~given
    distinct_ids, distinct = pd.factorize(keys)
    key = pd.Categorical.from_codes(
        distinct_ids[key_ids], dtype=pd.CategoricalDtype(pd.Index(distinct, dtype=object))
    )
    how = pd.Categorical.from_codes(
        source, dtype=pd.CategoricalDtype(pd.Index(LOCALITY_SOURCES, dtype=object))
    )
    return key, how, plus_four


def filled(values: pd.Series) -> np.ndarray:
    """Per line: whether the text is neither blank nor missing (once per distinct value)."""
    ids, uniques = factorized(values)
    return np.append(np.asarray(uniques, dtype=object) != "", False)[ids]


def _values_at(values: pd.Series, at: np.ndarray) -> np.ndarray:
    """The text of the lines at positions `at`, as an object array."""
    ids, uniques = factorized(values)
    return np.asarray(uniques, dtype=object)[ids[at]]


def attach_gpci(
    ref: ReferenceData, rel: np.ndarray, locality: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Work, PE and MP GPCIs (thousandths) per line; national 1.000 where not found."""
    frames = [r.gpci.assign(release_idx=i) for i, r in enumerate(ref.releases)]
    table = pd.concat(frames).set_index(["release_idx", "locality_key"])
    loc_ids, loc_uniques = factorized(locality)
    key = rel.astype("int64") * (len(loc_uniques) + 1) + loc_ids
    key_ids, key_uniques = factorized_keys(
        key, (int(rel.max(initial=0)) + 1) * (len(loc_uniques) + 1)
    )
    r, l_u = np.divmod(key_uniques, len(loc_uniques) + 1)
    wanted_loc = np.asarray(loc_uniques, dtype=object)[l_u]
    pos = table.index.get_indexer(pd.MultiIndex.from_arrays([r, wanted_loc]))
    missing = pos < 0
    if missing.any():
        # California is served by two carrier numbers (01112, 01182) and CMS's own OPPSCAP
        # file lists Southern California localities under both; a locality number is unique
        # within the carrier family (same first three digits), so match on that.
        alias = _carrier_family_alias(table)
        alt = [alias.get((str(k)[:3], str(k)[-2:]), "") for k in wanted_loc[missing]]
        pos[missing] = table.index.get_indexer(pd.MultiIndex.from_arrays([r[missing], alt]))
    found_u = pos >= 0
    safe = np.clip(pos, 0, None)
    values = [
        np.where(found_u, table[c].to_numpy("int64")[safe], 1000)[key_ids]
        for c in ("gpci_work", "gpci_pe", "gpci_mp")
    ]
    return values[0], values[1], values[2], found_u[key_ids]


def _carrier_family_alias(table: pd.DataFrame) -> dict[tuple[str, str], str]:
    """Map (first three carrier digits, locality) to the one GPCI locality key it names."""
    keys = pd.Series(table.index.get_level_values("locality_key").unique(), dtype=object)
    fam = pd.DataFrame({"key": keys, "fam": keys.str[:3], "loc": keys.str[-2:]})
    counts = fam.groupby(["fam", "loc"])["key"].transform("size")
    fam = fam[counts.to_numpy() == 1]
    return {(f, loc): k for f, loc, k in fam[["fam", "loc", "key"]].itertuples(index=False)}
