"""Load geographic practice cost indices (GPCI) by carrier and locality."""

from __future__ import annotations

import logging

import pandas as pd

from pipeline.errors import ReferenceFileError
from pipeline.extract.cms_files import SourceFile, find_column, read_wrapped_csv
from pipeline.money import parse_scaled

logger = logging.getLogger(__name__)


def locality_key(carrier: pd.Series, locality: pd.Series) -> pd.Series:
    """Build the 'CCCCC-LL' key used everywhere for a Medicare payment locality."""
    return carrier.str.strip().str.zfill(5) + "-" + locality.str.strip().str.zfill(2)


def load_gpci_file(source: SourceFile) -> pd.DataFrame:
    """Parse GPCIyyyy.csv: one row per locality with work, PE and MP GPCIs in thousandths."""
    _, raw = read_wrapped_csv(source, "Medicare Administrative Contractor (MAC)")
    where = str(source)
    mac = find_column(raw, r"^MEDICARE ADMINISTRATIVE CONTRACTOR", source=where)
    loc = find_column(raw, r"^LOCALITY NUMBER$", source=where)
    name = find_column(raw, r"^LOCALITY NAME$", source=where)
    state = find_column(raw, r"^STATE$", source=where)
    work = find_column(raw, r"PW GPCI", source=where)
    pe = find_column(raw, r"PE GPCI", source=where)
    mp = find_column(raw, r"MP GPCI", source=where)

    raw = raw[raw[mac].str.fullmatch(r"\d{4,5}") & raw[loc].str.fullmatch(r"\d{1,2}")]
    out = pd.DataFrame(
        {
            "locality_key": locality_key(raw[mac], raw[loc]),
            "state": raw[state],
            "locality_name": raw[name],
            "gpci_work": parse_scaled(raw[work], 3, source=where, column=work),
            "gpci_pe": parse_scaled(raw[pe], 3, source=where, column=pe),
            "gpci_mp": parse_scaled(raw[mp], 3, source=where, column=mp),
        }
    ).reset_index(drop=True)
    if out.empty or out["locality_key"].duplicated().any():
        raise ReferenceFileError(
            "expected one row per MAC + locality; found none or duplicates", source=where
        )
    logger.info("read %d GPCI localities from %s", len(out), source.name)
    return out
