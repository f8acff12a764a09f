"""Exact money arithmetic on scaled integers, rounded half-up only where CMS rounds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


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
    denom = np.asarray(denom, dtype="int64")
    if not numer.size or numer.min() >= 0:  # the usual case: no signs to handle
        return (2 * numer + denom) // (2 * denom)
    sign = np.where(numer < 0, -1, 1)
    mag = np.abs(numer)
    return sign * ((2 * mag + denom) // (2 * denom))


MONEY_PATTERN = r"^(?P<sign>-?)(?P<int>[0-9]*)(?:\.(?P<frac>[0-9]{0,2}))?$"


def parse_money(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse dollar text into nullable integer cents; also return a mask of unparseable values.

    "12.5" -> 1250, "$1,234.56" -> 123456, "" -> <NA>; "12,50" is unparseable (a comma
    separates thousands only). More than two decimals is unparseable,
    because a charge of fractions of a cent is a data error, not something to round away.
    Only ASCII digits are read. Arrow string kernels do the work (no Python per value).
    """
    text = pa.array(values.astype("string").to_numpy(object, na_value=None), type=pa.string())
    text = pc.replace_substring(pc.utf8_trim_whitespace(text), "$", "")
    # Commas only as thousands separators: "1,234.50" is an amount, "12,50" is not.
    grouped = pc.match_substring_regex(text, r"^-?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]*)?$")
    commas_ok = pc.fill_null(pc.or_(pc.invert(pc.match_substring(text, ",")), grouped), True)
    text = pc.replace_substring(text, ",", "")
    present = pc.fill_null(pc.not_equal(text, ""), False)
    matched = pc.and_(pc.fill_null(pc.match_substring_regex(text, MONEY_PATTERN), False), commas_ok)
    parts = pc.extract_regex(pc.if_else(matched, text, "0"), MONEY_PATTERN)
    whole, frac = pc.struct_field(parts, "int"), pc.struct_field(parts, "frac")
    ok = pc.and_(
        matched,
        pc.and_(
            pc.or_(pc.not_equal(whole, ""), pc.not_equal(frac, "")),
            pc.less_equal(pc.utf8_length(whole), 15),  # beyond that is not a charge
        ),
    )
    good = pc.and_(present, ok)
    whole = pc.if_else(pc.and_(good, pc.not_equal(whole, "")), whole, "0")
    frac = pc.if_else(good, pc.utf8_rpad(frac, 2, "0"), "00")
    cents = pc.add(pc.multiply(pc.cast(whole, pa.int64()), 100), pc.cast(frac, pa.int64()))
    negative = pc.and_(good, pc.equal(pc.struct_field(parts, "sign"), "-"))
    cents = pc.if_else(negative, pc.negate(cents), cents)
    index = values.index
    good_np = good.to_numpy(zero_copy_only=False)
    out = pd.Series(
        pd.arrays.IntegerArray(cents.to_numpy(zero_copy_only=False), ~good_np), index=index
    )
    bad = pd.Series(pc.and_(present, pc.invert(ok)).to_numpy(zero_copy_only=False), index=index)
    return out, bad
