"""Read claim-line batches (CSV or Parquet) into the normalized claim-line schema."""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.columns import RESERVED
from pipeline.extract.batch_files import MALFORMED_COLUMN, ROW_COLUMN, read_batch_file
from pipeline.money import parse_money

logger = logging.getLogger(__name__)

MODIFIER_COLUMNS = tuple(f"hcpcs_modifier_{i}" for i in range(1, 5))
# Parts of a header that mark a column as a direct identifier of the patient (see the schema
# page). Headers arrive lower-cased ("MemberID" -> "memberid"), so most are matched inside
# the name; short ones that occur inside ordinary words are matched as whole words only.
_ID_PARTS = (
    "birth",
    "dob",
    "ssn",
    "social",
    "phone",
    "email",
    "address",
    "street",
    "member",
    "subscriber",
    "person",
    "beneficiary",
    "insured",
    "enrollee",
    "hicn",
    "medical_record",
    "account",  # a patient account number (HIPAA identifier); CLM01 is read as claim_id
    "name",
    "guarantor",
    "cardholder",
    "mobile",
    "telephone",
)
_ID_WORDS = frozenset(
    "mbr mem subscr bene mbi mrn hic pt pat nm fname lname surname addr cell zip4 acct".split()
)
# A program's member number (medicare_id, MedicaidNo, hic_no, PatientID, mem_id), or a
# person's name part (patient_last, pt_first, member_middle_initial).
_ID_NUMBER = re.compile(
    r"(medicare|medicaid|hic|patient|mbr|mem|pt|pat)_?(id|no|num|nbr|number)"
    r"|(patient|pt|pat|member|mbr|mem|subscriber|insured)_?(last|first|middle|given|family|full)"
)
# Parts matched once separators are removed: D.O.B. -> d_o_b -> dob.
_ID_COMPACT = ("dob", "ssn", "dateofbirth", "birthdate")
_NAME_OK = frozenset("payer plan provider billing rendering facility locality referring".split())
MAX_UNITS = 99_999
MAX_DOLLARS_DIGITS = 10
ACCEPTED_DATES = "YYYY-MM-DD or YYYYMMDD"
# `participating` values, upper-cased; any other value is priced as participating (flagged).
NON_PARTICIPATING = ("N", "NO", "FALSE", "0")
PARTICIPATING = ("Y", "YES", "TRUE", "1")
# The shapes _parse_dates reads (a time after the date is ignored): a value of one of them
# that does not parse is an impossible date; anything else is a format not accepted.
_DATE_SHAPE = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[ T].*)?|[0-9]{8}")
_EXCEL_SERIAL = re.compile(r"[0-9]{5}(?:\.0*)?")


def column_words(name: str) -> list[str]:
    """Split a header into lower-case words: 'MemberID' -> ['member', 'id']."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return [w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w]


def identifier_columns(columns: list[str]) -> list[str]:
    """Columns that look like direct identifiers (member ids, names, birth dates, contact).

    `patient_id` itself is kept and replaced by its keyed hash; any other patient-like column
    (a second patient_id, PatientID, pt_first, ...) is dropped.
    """
    out = []
    for col in columns:
        words = column_words(col)
        if words == ["patient", "id"] and col.strip().lower() == "patient_id":
            continue
        if words and words[0] in _NAME_OK:
            continue  # the provider's or payer's own name, address, ...
        joined = "_".join(words)
        compact = "".join(words)
        if (
            _ID_WORDS.intersection(words)
            or any(part in joined for part in _ID_PARTS)
            or any(part in compact for part in _ID_COMPACT)
            or _ID_NUMBER.search(joined)
        ):
            out.append(col)
    return out


WITHHELD = "its values are withheld because the file has identifier columns"


def withheld_rows(raw: pd.DataFrame) -> np.ndarray:
    """Rows that did not split into the header's columns, in a file with identifier columns.

    Such a row may hold an identifier's value under another column's name, so none of its
    values may reach a report, a flag or a validation result (input_row locates it).
    """
    if MALFORMED_COLUMN not in raw:
        return np.zeros(len(raw), dtype=bool)
    split_wrong = (raw[MALFORMED_COLUMN].fillna("") != "").to_numpy(bool)
    if not split_wrong.any() or not identifier_columns(_data_columns(raw)):
        return np.zeros(len(raw), dtype=bool)
    return split_wrong


def withhold_split_rows(raw: pd.DataFrame, withheld: np.ndarray) -> pd.DataFrame:
    """The batch with every value of the `withheld` rows (see withheld_rows) blanked."""
    if not withheld.any():
        return raw
    out = raw.copy()
    for col in _data_columns(raw):
        out[col] = out[col].astype("string").mask(withheld, "")
    return out


def _data_columns(raw: pd.DataFrame) -> list[str]:
    return [c for c in raw.columns if not str(c).startswith("_claims_scrub")]


def read_batch(path: Path) -> pd.DataFrame:
    """Read a batch file into text columns (see batch_files.read_batch_file)."""
    return read_batch_file(path).frame.drop(columns=[ROW_COLUMN, MALFORMED_COLUMN])


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    if column in frame.columns:
        return frame[column].fillna("").astype("string").str.strip()
    return pd.Series("", index=frame.index, dtype="string")


def _distinct(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, pd.Series]:
    """Per-row ids into the column's distinct values, blank-filled and stripped.

    Claim batches repeat the same codes, dates and amounts on many lines, so cleaning and
    parsing each distinct value once is much cheaper than doing it for every line. A missing
    column is one blank value.
    """
    if column not in frame.columns:
        return np.zeros(len(frame), dtype="int64"), pd.Series([""], dtype="string")
    ids, uniques = pd.factorize(frame[column], use_na_sentinel=False)
    text = pd.Series(np.asarray(uniques, dtype=object), dtype="string").fillna("").str.strip()
    return ids.astype("int64"), text


def column_by_unique(frame: pd.DataFrame, column: str, fn=None) -> np.ndarray:
    """`fn` applied to each distinct (stripped) value of a column, spread to the rows."""
    ids, text = _distinct(frame, column)
    result = np.asarray(text if fn is None else fn(text))
    return result[ids] if len(ids) else result[:0]


def categorical_by_unique(frame: pd.DataFrame, column: str, fn=None) -> pd.Categorical:
    """Like column_by_unique, as a categorical: the pricing steps compare integer codes."""
    ids, text = _distinct(frame, column)
    result = np.asarray(text if fn is None else fn(text), dtype=object)
    return as_categorical(ids, result)


def as_categorical(ids: np.ndarray, values: np.ndarray) -> pd.Categorical:
    """Rows taking values[ids], as a categorical over the distinct values (no missing)."""
    cat_ids, categories = pd.factorize(np.asarray(values, dtype=object))
    codes = cat_ids[ids] if len(ids) else np.zeros(0, dtype="int64")
    dtype = pd.CategoricalDtype(pd.Index(categories, dtype=object))
    return pd.Categorical.from_codes(codes, dtype=dtype)


def _obj(values) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=object), dtype=object, copy=False)


def _parse_dates(text: pd.Series) -> np.ndarray:
    dos = pd.to_datetime(text.str[:10], format="%Y-%m-%d", errors="coerce")
    compact = dos.isna() & text.str.fullmatch(r"[0-9]{8}").fillna(False)
    alt = pd.to_datetime(text.where(compact), format="%Y%m%d", errors="coerce")
    return dos.where(~compact, alt).to_numpy("datetime64[s]")


def unreadable_date(value: str, impossible: str) -> str:
    """Why a non-blank date value that did not parse is not a date, to follow "<column> 'v' ".

    `impossible` is said of a value in an accepted format that is no calendar date.
    """
    if _DATE_SHAPE.fullmatch(value):
        return impossible
    said = f"is not in an accepted date format ({ACCEPTED_DATES})"
    if _EXCEL_SERIAL.fullmatch(value):
        said += "; it looks like an Excel date number: format the column as YYYY-MM-DD"
    return said


def _date_notes(column: str, text: pd.Series) -> np.ndarray:
    """For distinct date values that do not parse: what is wrong with each, in words."""
    return np.array(
        [
            f"{column} is blank"
            if v == ""
            else f"{column} '{v}' {unreadable_date(v, 'is not a date (YYYY-MM-DD)')}"
            for v in text.fillna("")
        ],
        dtype=object,
    )


def _parse_units(text: pd.Series) -> np.ndarray:
    """Units as int64: 0 for blank, -1 for anything but a whole number from 1 to 99,999."""
    plain = text.str.fullmatch(r"[0-9]{1,6}(\.0*)?").fillna(False)
    num = pd.to_numeric(text.where(plain), errors="coerce")
    ok = (plain & (num >= 1) & (num <= MAX_UNITS)).fillna(False).to_numpy(bool)
    blank = (text == "").fillna(False).to_numpy(bool)
    return np.where(blank, 0, np.where(ok, num.fillna(1).to_numpy("int64"), -1)).astype("int64")


def _parse_amounts(text: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cents (or a sentinel for blank or bad), a bad-value mask and a negative-amount mask
    (negative amounts are bad too), for distinct amount strings."""
    cents, bad = parse_money(text)
    bad = bad | (_whole_digits(text) > MAX_DOLLARS_DIGITS)
    negative = ~bad & (cents.fillna(0) < 0)
    bad = bad | negative
    cents = cents.where(~bad)
    return cents.fillna(BLANK).to_numpy("int64"), bad.to_numpy(bool), negative.to_numpy(bool)


BLANK = -(2**62)
# After "<column> '<value>'" for a negative paid or deductible amount.
NEGATIVE = {
    "paid": "' is negative: a negative paid amount is a reversal, which belongs in an 835 "
    "remittance (give it with the batch or with --remits)",
    "deductible": "' is negative; a deductible applied is zero or more",
}


def _whole_digits(text: pd.Series) -> np.ndarray:
    """Digits before the decimal point of each amount, other characters ignored."""
    arr = pa.array(text.to_numpy(object, na_value=""), type=pa.string())
    kept = pc.replace_substring_regex(arr, r"[^0-9.]", "")
    lead = pc.struct_field(pc.extract_regex(kept, r"^(?P<d>[0-9]*)"), "d")
    return pc.utf8_length(lead).to_numpy(zero_copy_only=False)


def _zip5(text: pd.Series) -> pd.Series:
    """First five digits of a ZIP or ZIP+4 (with or without its hyphen); a 4-digit ZIP (the
    leading zero of a New England ZIP lost in a spreadsheet) is padded (_zip_padded flags it).
    Any other value, 3 digits included, is kept as written, so it is reported as not found
    rather than turned into someone else's ZIP."""
    digits = text.str.replace(r"[\s-].*$", "", regex=True)
    short = _is_padded_zip(digits)
    zip_like = digits.str.fullmatch(r"[0-9]{5}|[0-9]{9}").fillna(False)
    padded = digits.where(~short, digits.str.zfill(5)).str[:5]
    return padded.where(zip_like | short, text)


def _is_padded_zip(text: pd.Series) -> pd.Series:
    return text.str.fullmatch(r"[0-9]{4}(?:[\s-].*)?").fillna(False)


def _zip_padded(text: pd.Series) -> pd.Series:
    """The ZIP as given where _zip5 padded it, else ""."""
    return text.where(_is_padded_zip(text), "")


def _aside(columns: list[str]) -> dict[str, str]:
    """New names for input columns that share a name with a report column: input_<name>."""
    taken = set(columns) | set(RESERVED)
    renames = {}
    for col in columns:
        if col in RESERVED:
            new = f"input_{col}"
            while new in taken:
                new = f"input_{new}"
            taken.add(new)
            renames[col] = new
    return renames


def _note(target: np.ndarray, mask: np.ndarray, prefix: str, values, suffix: str) -> None:
    """Write "prefix + value + suffix" into `target` where `mask` holds (only those rows).

    `values` is per row, or (ids, distinct values) as _distinct returns them.
    """
    sel = np.flatnonzero(mask)
    if len(sel):
        if isinstance(values, tuple):
            ids, distinct = values
            shown = np.asarray(distinct, dtype=object)[ids[sel]]
        else:
            shown = np.asarray(values, dtype=object)[sel]
        target[sel] = [f"{prefix}{v}{suffix}" for v in shown]


def _patients(raw: pd.DataFrame, key: bytes) -> tuple[pd.Series, pd.Categorical]:
    """The hashed patient id column and the patient grouping key of every line.

    Same-day rules group by patient; a line without a patient id is its claim's own patient,
    never grouped with other claims' blank ids. Hashing is done once per distinct payer and id.
    """
    pay_ids, payer = _distinct(raw, "payer")
    pat_ids, patient = _distinct(raw, "patient_id")
    width = len(patient)
    combo_ids, combo = pd.factorize(pay_ids * width + pat_ids)
    pay_u, pat_u = np.divmod(np.asarray(combo, dtype="int64"), width)
    payer_u = payer.to_numpy(object)[pay_u]
    patient_u = patient.to_numpy(object)[pat_u]
    mac_key = hashlib.blake2b(key).digest()  # any key length -> the 64 bytes BLAKE2b takes
    hashed_u = np.array(
        [
            hashlib.blake2b(f"{p}|{i}".encode(), key=mac_key, digest_size=8).hexdigest()
            if i
            else ""
            for p, i in zip(payer_u, patient_u, strict=True)
        ],
        dtype=object,
    )
    hashed = pd.Series(hashed_u[combo_ids], index=raw.index, dtype="string")
    blank_u = hashed_u == ""
    if not blank_u.any():
        return hashed, as_categorical(combo_ids, hashed_u)
    claim_ids, claims = _distinct(raw, "claim_id")
    blank = blank_u[combo_ids]
    ids = np.where(blank, len(hashed_u) + claim_ids, combo_ids)
    values = np.concatenate([hashed_u, ("claim|" + claims).to_numpy(object)])
    return hashed, as_categorical(ids, values)


def _provider(raw: pd.DataFrame) -> pd.Categorical:
    """The rendering NPI, else the billing NPI, per line."""
    r_ids, rendering = _distinct(raw, "rendering_npi")
    b_ids, billing = _distinct(raw, "billing_npi")
    has_rendering = (rendering != "").to_numpy(bool)[r_ids]
    ids = np.where(has_rendering, r_ids, len(rendering) + b_ids)
    values = np.concatenate([rendering.to_numpy(object), billing.to_numpy(object)])
    return as_categorical(ids, values)


# Claim-line columns and the 837P element each is read from (pipeline.extract.x12_837p).
X12_ELEMENTS = {
    "claim_line_start_date": "DTP*472",
    "charge_amount": "SV102",
    "service_unit_quantity": "SV104",
    "hcpcs_code": "SV101-2",
}


def _x12_wording(detail: np.ndarray, raw: pd.DataFrame) -> np.ndarray:
    """For lines read from an 837P, reasons name the X12 element and the line's LX segment
    instead of the CSV column (`DTP*472 of the LX at segment 41: '20251345' is not a date
    (CCYYMMDD)`)."""
    if "x12_line_segment" not in raw:
        return detail
    text = pd.Series(detail, dtype="string")
    at = _text(raw, "x12_line_segment")
    x12 = (at != "").to_numpy(bool) & (text != "").to_numpy(bool)
    if not x12.any():
        return detail
    shown, seg = text[x12], at[x12]
    for column, element in X12_ELEMENTS.items():
        hit = shown.str.startswith(f"{column} ")
        named = f"{element} of the LX at segment " + seg[hit] + ":"
        shown[hit] = named + shown[hit].str.slice(len(column))
    shown = shown.str.replace(": is blank", " is blank", regex=False)
    shown = shown.str.replace(f"({ACCEPTED_DATES})", "(CCYYMMDD)", regex=False)
    shown = shown.str.replace("(YYYY-MM-DD)", "(CCYYMMDD)", regex=False)
    out = detail.copy()
    out[x12] = shown.to_numpy(object)
    return out


def normalize_batch(raw: pd.DataFrame, *, patient_key: bytes) -> pd.DataFrame:
    """Return the batch without direct identifiers plus typed pricing columns.

    Added columns: line_index, claim_key (integer id of the claim id as written),
    patient_key, provider, dos, pos, hcpcs, mod_1..mod_4, units, units_defaulted,
    charge_cents, paid_cents, deductible_cents, zip5, carrier, locality, participating,
    input_problem (a rule code, or empty when the row is usable), input_detail (what was
    wrong), modifier_problem. The text keys (patient_key, provider, pos, hcpcs, modifiers,
    zip5) are categoricals, so later steps compare integer codes.
    """
    raw = raw.reset_index(drop=True)
    withheld = withheld_rows(raw)
    raw = withhold_split_rows(raw, withheld)
    n = len(raw)
    rows = raw[ROW_COLUMN].to_numpy("int64") if ROW_COLUMN in raw else np.arange(1, n + 1)
    malformed = (
        raw[MALFORMED_COLUMN].fillna("").to_numpy(object)
        if MALFORMED_COLUMN in raw
        else np.full(n, "", dtype=object)
    )
    dropped = identifier_columns(_data_columns(raw))
    if dropped:
        logger.warning("dropped %d identifier column(s): %s", len(dropped), ", ".join(dropped))
    keep = raw.drop(columns=dropped + [c for c in (ROW_COLUMN, MALFORMED_COLUMN) if c in raw])
    keep = keep.rename(columns=_aside(list(keep.columns)))
    extra: dict[str, object] = {"line_index": np.arange(n, dtype="int64"), "input_row": rows}

    # Integer id of the claim id as written, so later steps never hash the text again.
    extra["claim_key"] = _distinct(raw, "claim_id")[0]
    hashed, patient_key_column = _patients(raw, patient_key)
    keep["patient_id"] = hashed
    extra["patient_key"] = patient_key_column
    extra["provider"] = _provider(raw)
    dates = _distinct(raw, "claim_line_start_date")
    dos_u = _parse_dates(dates[1])
    dos = dos_u[dates[0]] if n else dos_u[:0]
    extra["dos"] = pd.Series(dos, dtype="datetime64[s]")

    def pos_code(t: pd.Series) -> pd.Series:
        return t.where(~t.str.fullmatch(r"[0-9]"), t.str.zfill(2))

    extra["pos"] = categorical_by_unique(raw, "place_of_service_code", pos_code)
    extra["hcpcs"] = categorical_by_unique(raw, "hcpcs_code", lambda t: t.str.upper())
    bad_mod = np.full(n, "", dtype=object)
    for i, col in enumerate(MODIFIER_COLUMNS, 1):
        ids, text = _distinct(raw, col)
        upper = text.str.upper()
        wrong_u = ((upper != "") & ~upper.str.fullmatch(r"[A-Z0-9]{2}").fillna(False)).to_numpy(
            bool
        )
        if wrong_u.any():
            wrong = wrong_u[ids]
            _note(bad_mod, wrong & (bad_mod == ""), f"{col} '", (ids, upper), "'")
        extra[f"mod_{i}"] = as_categorical(ids, np.where(wrong_u, "", upper.to_numpy(object)))
    extra["modifier_problem"] = _obj(bad_mod)

    units_distinct = _distinct(raw, "service_unit_quantity")
    units_u = _parse_units(units_distinct[1])
    units = units_u[units_distinct[0]] if n else units_u[:0]
    extra["units_defaulted"] = units == 0
    extra["units"] = np.where(units > 0, units, 1)

    detail = np.full(n, "", dtype=object)
    bad_amount = np.zeros(n, dtype=bool)
    paid_note = np.full(n, "", dtype=object)
    for name, col in (
        ("charge", "charge_amount"),
        ("paid", "paid_amount"),
        ("deductible", "deductible_amount"),
    ):
        ids, text = _distinct(raw, col)
        cents_u, bad_u, negative_u = _parse_amounts(text)
        cents, bad, negative = (cents_u[ids], bad_u[ids], negative_u[ids])
        extra[f"{name}_cents"] = pd.arrays.IntegerArray(
            np.where(cents == BLANK, 0, cents).astype("int64"), cents == BLANK
        )
        if not bad.any():
            continue
        if name == "charge":
            _note(
                detail,
                bad & ~negative & (detail == ""),
                f"{col} '",
                (ids, text),
                "' is not a dollar amount",
            )
            _note(detail, negative & (detail == ""), f"{col} '", (ids, text), "' is negative")
            bad_amount |= bad
        else:
            # An unreadable or negative paid or deductible amount does not stop pricing; it
            # is flagged and the paid comparison is skipped for the line.
            _note(
                paid_note,
                bad & ~negative & (paid_note == ""),
                f"{col} '",
                (ids, text),
                "' is not a dollar amount",
            )
            _note(paid_note, negative & (paid_note == ""), f"{col} '", (ids, text), NEGATIVE[name])

    extra["zip5"] = categorical_by_unique(raw, "service_zip", _zip5)
    extra["zip_padded"] = categorical_by_unique(raw, "service_zip", _zip_padded)
    extra["carrier"] = categorical_by_unique(raw, "carrier")
    extra["locality"] = categorical_by_unique(raw, "locality")
    part = column_by_unique(raw, "participating", lambda t: t.str.upper())
    extra["is_participating"] = ~np.isin(part, NON_PARTICIPATING)

    problem = np.full(n, "", dtype=object)
    problem[bad_amount] = "INPUT_BAD_AMOUNT"
    bad_units = units < 0
    problem[bad_units] = "INPUT_BAD_UNITS"
    _note(
        detail,
        bad_units,
        "service_unit_quantity '",
        units_distinct,
        f"' is not a whole number from 1 to {MAX_UNITS:,}",
    )
    no_date = np.isnat(dos)
    problem[no_date] = "INPUT_BAD_DATE"
    if no_date.any():
        ids, values = dates
        unparsed = np.isnat(dos_u)
        notes = np.full(len(values), "", dtype=object)
        notes[unparsed] = _date_notes("claim_line_start_date", values[unparsed])
        _note(detail, no_date, "", (ids, notes), "")
    no_code = np.asarray(extra["hcpcs"] == "")
    problem[no_code] = "INPUT_MISSING_CODE"
    detail[no_code] = "hcpcs_code is blank"
    detail = _x12_wording(detail, raw)
    is_malformed = malformed != ""
    problem[is_malformed] = "INPUT_MALFORMED_ROW"
    detail[is_malformed] = malformed[is_malformed]
    detail[withheld] = [f"{text}; {WITHHELD}" for text in malformed[withheld]]
    extra["input_problem"] = _obj(problem)
    extra["input_detail"] = _obj(detail)
    extra["paid_problem"] = _obj(paid_note)
    extra["carrier_in"] = extra.pop("carrier")
    extra["locality_in"] = extra.pop("locality")
    front = pd.DataFrame(
        {"line_index": extra.pop("line_index"), "input_row": extra.pop("input_row")}
    )
    body = pd.DataFrame(extra, copy=False)
    return pd.concat([front, keep, body], axis=1)
