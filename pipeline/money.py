"""Exact money arithmetic on scaled integers, rounded half-up only where CMS rounds."""

from __future__ import annotations

import numpy as np
import pandas as pd


def parse_scaled(values: pd.Series, digits: int, *, source: str, column: str) -> np.ndarray:
    """Parse decimal strings ("1.3", "0.869", "", "NA") to integers scaled by 10**digits.

    Blank and "NA" become 0. Parsing is done on the text, never through floats, so "0.57"
    is exactly 57 hundredths. A value with more decimals than `digits` is an error.
    """
    from pipeline.errors import ReferenceFileError

    text = values.astype("string").fillna("").str.strip().str.replace(",", "", regex=False)
    text = text.where(~text.isin(["", "NA", "N/A"]), "0")
    parts = text.str.extract(r"^(?P<sign>-?)(?P<int>\d*)(?:\.(?P<frac>\d*))?$")
    bad = parts["int"].isna() | ((parts["int"] == "") & (parts["frac"].fillna("") == ""))
    if bad.any():
        first = values[bad].iloc[0]
        raise ReferenceFileError(
            f"column {column!r} holds {bad.sum()} non-numeric value(s), first {first!r}; "
            "expected decimal numbers such as 1.30",
            source=source,
        )
    frac = parts["frac"].fillna("")
    too_long = frac.str.len() > digits
    if too_long.any() and (frac[too_long].str[digits:].str.strip("0") != "").any():
        first = values[too_long].iloc[0]
        raise ReferenceFileError(
            f"column {column!r} has more than {digits} decimals (e.g. {first!r})", source=source
        )
    frac = frac.str[:digits].str.ljust(digits, "0")
    whole = parts["int"].replace("", "0").astype("int64").to_numpy()
    scaled = whole * 10**digits + (frac.astype("int64").to_numpy() if digits else 0)
    return np.where(parts["sign"].to_numpy() == "-", -scaled, scaled).astype("int64")


def div_round_half_up(numer: np.ndarray, denom: int | np.ndarray) -> np.ndarray:
    """Divide non-negative or negative integers, rounding halves away from zero."""
    numer = np.asarray(numer, dtype="int64")
    sign = np.where(numer < 0, -1, 1)
    mag = np.abs(numer)
    return sign * ((2 * mag + denom) // (2 * np.asarray(denom, dtype="int64")))


def parse_money(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse dollar text into nullable integer cents; also return a mask of unparseable values.

    "12.5" -> 1250, "$1,234.56" -> 123456, "" -> <NA>. More than two decimals is unparseable,
    because a charge of fractions of a cent is a data error, not something to round away.
    """
    text = values.astype("string").str.strip().str.replace(r"[$,]", "", regex=True)
    parts = text.str.extract(r"^(?P<sign>-?)(?P<int>\d*)(?:\.(?P<frac>\d{0,2}))?$")
    present = text.notna() & (text != "")
    ok = parts["int"].notna() & ~((parts["int"] == "") & (parts["frac"].fillna("") == ""))
    ok = ok & (parts["int"].str.len() <= 15).fillna(False)  # beyond that is not a charge
    bad = present & ~ok
    good = present & ok
    whole = parts["int"].where(good).replace("", "0").fillna("0").astype("int64")
    frac = parts["frac"].where(good).fillna("").str.ljust(2, "0").replace("", "00")
    cents = whole * 100 + frac.astype("int64")
    cents = cents.where(parts["sign"] != "-", -cents)
    return cents.astype("Int64").where(good, pd.NA), bad
