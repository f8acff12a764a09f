"""Attach the release, locality, GPCIs and RVU row that price each line."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.extract.releases import ReferenceData

RVU_FIELDS = (
    "status",
    "work_rvu",
    "nf_pe_rvu",
    "f_pe_rvu",
    "mp_rvu",
    "nf_na",
    "f_na",
    "pctc",
    "glob_days",
    "mult_proc",
    "bilat",
    "asst",
    "co_surg",
    "team",
    "endo_base",
    "cf",
    "img_family",
    "opps_nf_pe",
    "opps_f_pe",
    "opps_mp",
)
NATIONAL = "national"


def group_ids(*columns: pd.Series | np.ndarray) -> np.ndarray:
    """One integer id per distinct combination of the given columns (vectorized)."""
    combined = np.zeros(len(columns[0]), dtype="int64")
    for col in columns:
        codes, uniques = pd.factorize(np.asarray(col) if not isinstance(col, pd.Series) else col)
        combined = combined * (len(uniques) + 1) + (codes + 1)
        combined, _ = pd.factorize(combined)
    return combined.astype("int64")


def rvu_table(ref: ReferenceData) -> pd.DataFrame:
    """All releases' RVU rows in one frame indexed by (release index, HCPCS, modifier)."""
    frames = [r.rvu.assign(release_idx=i) for i, r in enumerate(ref.releases)]
    table = pd.concat(frames, ignore_index=True)
    return table.set_index(["release_idx", "hcpcs", "mod"]).sort_index()


def lookup_rvu(
    table: pd.DataFrame, release_idx: np.ndarray, hcpcs: pd.Series, mod: pd.Series
) -> tuple[pd.DataFrame, np.ndarray]:
    """RVU fields for each (release, code, modifier); also a found mask.

    Lookups run once per distinct key and are spread back to the lines, so the cost follows
    the number of distinct codes, not the number of lines.
    """
    keys = pd.MultiIndex.from_arrays([release_idx, hcpcs.to_numpy(), mod.to_numpy()])
    codes, uniques = keys.factorize()
    pos = table.index.get_indexer(uniques)
    found_u = pos >= 0
    rows = table.iloc[np.where(found_u, pos, 0)][list(RVU_FIELDS)].reset_index(drop=True)
    rows = rows.iloc[codes].reset_index(drop=True)
    return rows, found_u[codes]


def code_exists(table: pd.DataFrame, release_idx: np.ndarray, hcpcs: pd.Series) -> np.ndarray:
    """Whether the code has any row (any modifier) in the release in force."""
    base = table.index.droplevel("mod").unique()
    keys = pd.MultiIndex.from_arrays([release_idx, hcpcs.to_numpy()])
    codes, uniques = keys.factorize()
    return (base.get_indexer(uniques) >= 0)[codes]


def resolve_locality(
    lines: pd.DataFrame, ref: ReferenceData, default_locality: str | None
) -> tuple[pd.Series, pd.Series, np.ndarray]:
    """Locality key per line and how it was found: carrier+locality, ZIP, default or national.

    Returns (locality_key, source, plus_four). The source is one of "carrier_locality",
    "zip", "zip_not_found", "default", "national".
    """
    n = len(lines)
    key = pd.Series(NATIONAL, index=lines.index, dtype="string")
    source = pd.Series(NATIONAL, index=lines.index, dtype="string")

    zips = ref.zip5.set_index("zip5")
    zip_codes, zip_uniques = pd.factorize(lines["zip5"])
    pos = zips.index.get_indexer(zip_uniques)
    zip_key = np.where(pos >= 0, zips["locality_key"].to_numpy()[np.clip(pos, 0, None)], "")[
        zip_codes
    ]
    plus4_u = np.where(pos >= 0, zips["plus_four"].to_numpy()[np.clip(pos, 0, None)], False)
    plus_four = np.asarray(plus4_u[zip_codes], dtype=bool) if n else np.zeros(0, bool)
    has_zip = (lines["zip5"] != "").to_numpy()
    found_zip = has_zip & (zip_key != "")

    if default_locality:
        key[:] = default_locality
        source[:] = "default"
    key = key.mask(found_zip, pd.Series(zip_key, index=lines.index, dtype="string"))
    source = source.mask(found_zip, "zip").mask(has_zip & ~found_zip, "zip_not_found")

    given = (lines["carrier"] != "") & (lines["locality"] != "")
    given_key = lines["carrier"].str.zfill(5) + "-" + lines["locality"].str.zfill(2)
    key = key.mask(given, given_key)
    source = source.mask(given, "carrier_locality")
    return key, source, plus_four & found_zip & ~given.to_numpy()


def attach_gpci(
    ref: ReferenceData, release_idx: np.ndarray, locality: pd.Series
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Work, PE and MP GPCIs (thousandths) per line, national 1.000 where not found."""
    frames = [
        r.gpci.assign(release_idx=i)[
            ["release_idx", "locality_key", "gpci_work", "gpci_pe", "gpci_mp"]
        ]
        for i, r in enumerate(ref.releases)
    ]
    table = pd.concat(frames).set_index(["release_idx", "locality_key"])
    keys = pd.MultiIndex.from_arrays([release_idx, locality.to_numpy()])
    codes, uniques = keys.factorize()
    pos = table.index.get_indexer(uniques)
    missing = pos < 0
    if missing.any():
        # California is served by two carrier numbers (01112, 01182) and CMS's own OPPSCAP
        # file lists Southern California localities under both; a locality number is unique
        # within the carrier family (same first three digits), so match on that.
        alias = _carrier_family_alias(table)
        alt = [(r, alias.get((str(k)[:3], str(k)[-2:]), "")) for r, k in uniques[missing]]
        alt_pos = table.index.get_indexer(pd.MultiIndex.from_tuples(alt)) if alt else []
        pos[missing] = alt_pos
    found = (pos >= 0)[codes]
    values = [
        np.where(pos >= 0, table[c].to_numpy()[np.clip(pos, 0, None)], 1000)[codes]
        for c in ("gpci_work", "gpci_pe", "gpci_mp")
    ]
    return values[0], values[1], values[2], found


def _carrier_family_alias(table: pd.DataFrame) -> dict[tuple[str, str], str]:
    """Map (first three carrier digits, locality) to the one GPCI locality key it names."""
    keys = pd.Series(table.index.get_level_values("locality_key").unique(), dtype="string")
    fam = pd.DataFrame({"key": keys, "fam": keys.str[:3], "loc": keys.str[-2:]})
    unique = fam.drop_duplicates(["fam", "loc", "key"]).groupby(["fam", "loc"])["key"]
    counts = unique.transform("size")
    fam = fam.drop_duplicates(["fam", "loc", "key"])[counts.to_numpy() == 1]
    return {(f, loc): k for f, loc, k in fam[["fam", "loc", "key"]].itertuples(index=False)}
