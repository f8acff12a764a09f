"""The table the claim-line suite validates: one row per line, a column per check.

Values are trimmed Arrow strings with blanks missing (GX skips missing values). What GX has no
expectation for (NPI check digit, unknown modifiers, the first malformed diagnosis code, one
patient and billing provider per claim, charge parsing) is computed here, vectorized over the
distinct values, as columns a GX expectation asserts. No patient identifier is put in it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.extract.batch_files import MALFORMED_COLUMN
from pipeline.extract.claims import MAX_DOLLARS_DIGITS
from pipeline.money import parse_money
from pipeline.validate.claims_checks import (
    DIAGNOSIS_COLUMN,
    ICD10CM_SHAPE,
    MODIFIER_COLUMNS,
    MODIFIER_SHAPE,
    NPI_COLUMNS,
    NPI_SHAPE,
    WHOLE_NUMBER,
    known_modifiers,
)


def _strings(values: pa.Array) -> pd.Series:
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([values])))


def _text(raw: pd.DataFrame, column: str, *, upper: bool = False) -> pd.Series:
    """A column as trimmed Arrow strings, blanks missing (GX skips missing values)."""
    if column not in raw.columns:
        return _strings(pa.nulls(len(raw), pa.large_string()))
    series = raw[column]
    if not isinstance(series.dtype, pd.StringDtype):
        series = series.astype("string")
    values = pa.array(series, from_pandas=True)
    values = pc.utf8_trim_whitespace(values.cast(pa.large_string()))
    if upper:
        values = pc.utf8_upper(values)
    return _strings(pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.large_string()), values))


def _optional_text(values: np.ndarray) -> pd.Series:
    """Object text ("" for none) as Arrow strings with missing values."""
    blank = values == ""
    if blank.all():
        return _strings(pa.nulls(len(values), pa.large_string()))
    return _strings(pa.array(values, type=pa.large_string(), mask=blank))


def _parse_dates(text: pd.Series) -> np.ndarray:
    """YYYY-MM-DD (time part ignored) or YYYYMMDD; anything else NaT."""
    dash = pd.to_datetime(text.str[:10], format="%Y-%m-%d", errors="coerce")
    compact = dash.isna() & text.str.fullmatch(r"[0-9]{8}").fillna(False)
    plain = pd.to_datetime(text.where(compact), format="%Y%m%d", errors="coerce")
    return dash.where(~compact, plain).to_numpy("datetime64[ns]")


def npi_check_digit_ok(npi: pd.Series) -> np.ndarray:
    """For each value: True when it is ten digits with a valid NPI check digit, else False
    (the shape check reports values that are not ten digits).

    The check digit is the Luhn digit of "80840" + the first nine digits: double every other
    digit from the right of the nine, add the digits, add 24 for the prefix.
    """
    out = np.zeros(len(npi), dtype=bool)
    ten = npi.str.fullmatch(r"[0-9]{10}").fillna(False).to_numpy(bool)
    if ten.any():
        digits = np.frombuffer("".join(npi[ten]).encode("ascii"), dtype=np.uint8) - 48
        digits = digits.reshape(-1, 10).astype("int64")
        doubled = digits[:, 0:9:2] * 2
        total = 24 + (doubled // 10 + doubled % 10).sum(axis=1) + digits[:, 1:9:2].sum(axis=1)
        out[ten] = ((10 - total % 10) % 10) == digits[:, 9]
    return out


def _per_value(text: pd.Series, fn, *, only=None) -> tuple[np.ndarray, np.ndarray]:
    """`fn` over the distinct values of `text`, spread to every line; and the missing mask.

    With `only` (a function of the distinct values), lines whose value it rejects count as
    missing too (e.g. the check digit of values that are not ten digits).
    """
    codes, uniques = pd.factorize(text)
    uniques = pd.Series(uniques, dtype="string")
    result = np.asarray(fn(uniques))
    missing = codes < 0
    if only is not None and len(uniques):
        missing |= ~np.asarray(only(uniques), dtype=bool)[np.maximum(codes, 0)]
    if not len(result):
        return np.zeros(len(codes), dtype=result.dtype), missing
    return result[np.maximum(codes, 0)], missing


def _flag(values: np.ndarray, missing: np.ndarray | None = None) -> pd.arrays.BooleanArray:
    values = np.asarray(values, dtype=bool)
    if missing is None:
        missing = np.zeros(len(values), dtype=bool)
    return pd.arrays.BooleanArray(values & ~missing, missing)


def _claim_consistent(claim_codes: np.ndarray, values: pd.Series) -> pd.arrays.BooleanArray:
    """True on lines whose claim has one distinct value (blank counts as a value); missing
    on lines without a claim id (claim_id_present rejects those)."""
    has_claim = claim_codes >= 0
    value_codes, _ = pd.factorize(values, use_na_sentinel=False)
    groups = pd.Series(value_codes[has_claim]).groupby(claim_codes[has_claim])
    one = (groups.min() == groups.max()).to_numpy(bool)
    ok = np.zeros(len(claim_codes), dtype=bool)
    ok[has_claim] = one[claim_codes[has_claim]]
    return _flag(ok, ~has_claim)


def _listed(n: int, parts: list[tuple[str, np.ndarray, pd.Series]]) -> np.ndarray:
    """Per line, "column 'value'" for each (column, mask, values) hit, comma-joined."""
    out = np.full(n, "", dtype=object)
    for column, hit, values in parts:
        at = np.flatnonzero(hit)
        if len(at):
            shown = np.array([f"{column} '{v}'" for v in values.iloc[at]], dtype=object)
            out[at] = np.where(out[at] == "", shown, out[at] + ", " + shown)
    return out


def _pos_text(raw: pd.DataFrame) -> pd.Series:
    """place_of_service_code as the reader reads it: one digit gets a leading zero."""
    text = _text(raw, "place_of_service_code")
    values = pa.array(text.array)
    one = pc.fill_null(pc.match_substring_regex(values, r"^[0-9]$"), False)
    return _strings(pc.if_else(one, pc.utf8_lpad(values, width=2, padding="0"), values))


def validation_frame(raw: pd.DataFrame, lines: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """One row per line with the columns the line checks read, and the text shown in reasons.

    Blank optional values are missing (GX skips them); derived checks are nullable boolean
    columns. No patient identifier is put in the frame.
    """
    raw = raw.reset_index(drop=True)
    n = len(raw)
    text = {c: _text(raw, c) for c in ("claim_id", "claim_line_number")}
    for c in ("hcpcs_code", *MODIFIER_COLUMNS, "participating"):
        text[c] = _text(raw, c, upper=True)
    for c in (
        "service_unit_quantity",
        "charge_amount",
        "claim_line_start_date",
        "claim_line_end_date",
        *NPI_COLUMNS,
    ):
        text[c] = _text(raw, c)
    text["place_of_service_code"] = _pos_text(raw)

    columns: dict[str, object] = {
        c: text[c]
        for c in (
            "claim_id",
            "claim_line_number",
            "hcpcs_code",
            *MODIFIER_COLUMNS,
            "service_unit_quantity",
            "place_of_service_code",
            "participating",
            *NPI_COLUMNS,
        )
    }
    malformed = (
        raw[MALFORMED_COLUMN].fillna("").to_numpy(object)
        if MALFORMED_COLUMN in raw
        else np.full(n, "", dtype=object)
    )
    columns["row_complete"] = _flag(malformed == "")

    known = list(known_modifiers())
    unknown = []
    for c in MODIFIER_COLUMNS:
        odd, missing = _per_value(
            text[c],
            lambda t: (t.str.fullmatch(MODIFIER_SHAPE) & ~t.isin(known)).fillna(False),
        )
        unknown.append((c, odd & ~missing, text[c]))
    unknown_text = _listed(n, unknown)
    columns["unknown_modifiers"] = _optional_text(unknown_text)

    def units(t: pd.Series) -> np.ndarray:
        whole = t.str.fullmatch(WHOLE_NUMBER).fillna(False)
        return pd.to_numeric(t.where(whole), errors="coerce").to_numpy("float64", na_value=np.nan)

    number, missing = _per_value(text["service_unit_quantity"], units)
    columns["units_number"] = np.where(missing, np.nan, number)

    # The reader already parsed every charge; only the unreadable ones are parsed again to
    # tell a negative amount from text that is not an amount.
    charge_text = text["charge_amount"]
    given = charge_text.notna().to_numpy(bool)
    cents = lines["charge_cents"]
    unread = given & cents.isna().to_numpy(bool)
    dollars = cents.to_numpy("float64", na_value=np.nan) / 100
    is_amount = np.ones(n, dtype=bool)
    if unread.any():
        again = charge_text[unread]
        parsed, bad = parse_money(again)
        digits = again.str.replace(r"[^0-9.]", "", regex=True).str.split(".").str[0].str.len()
        bad = (bad | (digits > MAX_DOLLARS_DIGITS).fillna(False)).to_numpy(bool)
        is_amount[unread] = ~bad
        dollars[unread] = np.where(bad, np.nan, parsed.to_numpy("float64", na_value=np.nan) / 100)
    columns["charge_is_amount"] = _flag(is_amount, ~given)
    columns["charge_dollars"] = dollars

    columns["date_of_service"] = lines["dos"].to_numpy("datetime64[ns]")
    end, no_end = _per_value(text["claim_line_end_date"], _parse_dates)
    end = np.where(no_end, np.datetime64("NaT"), end).astype("datetime64[ns]")
    columns["line_end_date"] = end
    columns["line_end_date_is_real"] = _flag(~np.isnat(end), no_end)

    for c in NPI_COLUMNS:
        ok, missing = _per_value(
            text[c], npi_check_digit_ok, only=lambda t: t.str.fullmatch(NPI_SHAPE).fillna(False)
        )
        columns[f"{c}_check_digit_ok"] = _flag(ok, missing)

    bad_dx = np.full(n, "", dtype=object)
    for c in sorted((c for c in raw.columns if DIAGNOSIS_COLUMN.match(c)), key=_dx_order):
        codes = _text(raw, c, upper=True)
        wrong, missing = _per_value(
            codes, lambda t: ~t.str.fullmatch(ICD10CM_SHAPE).fillna(False).to_numpy(bool)
        )
        first = wrong & ~missing & (bad_dx == "")  # the first malformed code of each line
        if first.any():
            bad_dx[first] = [f"{c} '{v}'" for v in codes[first]]
    columns["malformed_diagnosis_code"] = _optional_text(bad_dx)

    claim_codes, _ = pd.factorize(text["claim_id"])
    columns["claim_one_patient"] = _claim_consistent(claim_codes, _text(raw, "patient_id"))
    columns["claim_one_billing_provider"] = _claim_consistent(claim_codes, text["billing_npi"])
    frame = pd.DataFrame(columns, copy=False)

    shown = dict(text)
    shown["participating"] = _text(raw, "participating")  # as given, not upper-cased
    shown["row_problem"] = pd.Series(malformed, dtype=object)
    shown["malformed_diagnosis_code"] = pd.Series(bad_dx, dtype=object)
    shown["unknown_modifiers"] = pd.Series(unknown_text, dtype=object)
    return frame, shown


def _dx_order(column: str) -> int:
    return int(column.rsplit("_", 1)[1])
