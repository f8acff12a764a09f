"""Read claim-line batches (CSV or Parquet) into the normalized claim-line schema."""

from __future__ import annotations

import hashlib
import hmac
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import ClaimBatchError
from pipeline.money import parse_money

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("claim_id", "claim_line_number", "claim_line_start_date", "hcpcs_code")
MODIFIER_COLUMNS = tuple(f"hcpcs_modifier_{i}" for i in range(1, 5))
# Direct identifiers never travel past extraction (see docs/claim-line-schema.md).
IDENTIFIER_COLUMNS = (
    "member_id",
    "patient_name",
    "patient_first_name",
    "patient_last_name",
    "first_name",
    "last_name",
    "name",
    "birth_date",
    "date_of_birth",
    "patient_birth_date",
    "dob",
    "ssn",
    "address",
    "patient_address",
    "phone",
)
SCHEMA_DOC = "docs/claim-line-schema.md"


def read_batch(path: Path) -> pd.DataFrame:
    """Read a CSV (optionally .gz) or Parquet batch with every column as text."""
    path = Path(path)
    if not path.exists():
        raise ClaimBatchError("file not found; check the path", source=str(path))
    name = path.name.lower()
    try:
        if name.endswith(".parquet"):
            frame = pd.read_parquet(path).astype("string")
        elif name.endswith((".csv", ".csv.gz", ".txt")):
            frame = _read_csv(path)
        else:
            raise ClaimBatchError(
                "unknown batch format; expected .csv, .csv.gz or .parquet", source=str(path)
            )
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise ClaimBatchError(f"cannot read the batch: {exc}", source=str(path)) from exc
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ClaimBatchError(
            f"missing required column(s) {missing}; the claim-line schema is in {SCHEMA_DOC} "
            f"(found columns: {list(frame.columns)[:12]})",
            source=str(path),
        )
    return frame.reset_index(drop=True)


def _read_csv(path: Path) -> pd.DataFrame:
    kwargs = dict(dtype="string", keep_default_na=False, na_values=[], skipinitialspace=True)
    try:
        return pd.read_csv(path, encoding="utf-8", **kwargs)
    except UnicodeDecodeError:
        logger.warning("%s is not UTF-8; reading it as latin-1", path.name)
        return pd.read_csv(path, encoding="latin-1", **kwargs)


def hash_patient_ids(payer: pd.Series, patient_id: pd.Series, key: bytes) -> pd.Series:
    """Keyed hash (HMAC-SHA256, 16 hex chars) of payer + patient id; blank ids stay blank."""
    combined = payer.fillna("").str.strip() + "|" + patient_id.fillna("").str.strip()
    codes, uniques = pd.factorize(combined)
    hashed = np.array(
        [hmac.new(key, u.encode(), hashlib.sha256).hexdigest()[:16] for u in uniques],
        dtype=object,
    )
    out = pd.Series(hashed[codes], index=patient_id.index, dtype="string")
    return out.where(patient_id.fillna("").str.strip() != "", "")


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    if column in frame.columns:
        return frame[column].fillna("").astype("string").str.strip()
    return pd.Series("", index=frame.index, dtype="string")


def by_unique(values: pd.Series, fn) -> np.ndarray:
    """Apply `fn` (Series -> array-like) to the distinct values only and spread the result.

    Claim batches repeat the same codes, dates and amounts on many lines, so parsing each
    distinct value once is much cheaper than parsing every line.
    """
    codes, uniques = pd.factorize(values.fillna(""))
    result = np.asarray(fn(pd.Series(np.asarray(uniques, dtype=object), dtype="string")))
    return result[codes] if len(codes) else result[:0]


def _obj(values) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=object), dtype=object)


def _parse_dates(text: pd.Series) -> np.ndarray:
    dos = pd.to_datetime(text.str[:10], format="%Y-%m-%d", errors="coerce")
    compact = dos.isna() & text.str.fullmatch(r"\d{8}").fillna(False)
    alt = pd.to_datetime(text.where(compact), format="%Y%m%d", errors="coerce")
    return dos.where(~compact, alt).to_numpy("datetime64[s]")


def _parse_units(text: pd.Series) -> np.ndarray:
    """Units as int64, with -1 for a value that is not a positive whole number, 0 for blank."""
    num = pd.to_numeric(text, errors="coerce")
    whole = num.notna() & (num == num.round()) & (num > 0) & (num < 10**9)
    return np.where(text == "", 0, np.where(whole, num.fillna(1), -1)).astype("int64")


def normalize_batch(raw: pd.DataFrame, *, patient_key: bytes) -> pd.DataFrame:
    """Return the batch without direct identifiers plus typed pricing columns.

    Added columns: line_index, patient_key, provider, dos, pos, hcpcs, mod_1..mod_4, units,
    units_defaulted, charge_cents, paid_cents, deductible_cents, zip5, carrier, locality,
    participating, input_problem (a rule code, or empty when the row is usable).
    """
    raw = raw.reset_index(drop=True)
    out = raw.drop(columns=[c for c in IDENTIFIER_COLUMNS if c in raw.columns])
    out.insert(0, "line_index", np.arange(len(out), dtype="int64"))
    extra: dict[str, object] = {}

    payer = _text(raw, "payer")
    hashed = hash_patient_ids(payer, _text(raw, "patient_id"), patient_key)
    out["patient_id"] = hashed
    extra["patient_key"] = _obj(hashed)
    rendering, billing = _text(raw, "rendering_npi"), _text(raw, "billing_npi")
    extra["provider"] = _obj(rendering.where(rendering != "", billing))
    dos = by_unique(_text(raw, "claim_line_start_date"), _parse_dates)
    extra["dos"] = pd.Series(dos, dtype="datetime64[s]")

    def pos_code(t: pd.Series) -> pd.Series:
        return t.where(~t.str.fullmatch(r"\d"), t.str.zfill(2))

    extra["pos"] = _obj(by_unique(_text(raw, "place_of_service_code"), pos_code))
    extra["hcpcs"] = _obj(by_unique(_text(raw, "hcpcs_code"), lambda t: t.str.upper()))
    for i, col in enumerate(MODIFIER_COLUMNS, 1):
        extra[f"mod_{i}"] = _obj(by_unique(_text(raw, col), lambda t: t.str.upper()))

    units = by_unique(_text(raw, "service_unit_quantity"), _parse_units)
    extra["units_defaulted"] = units == 0
    extra["units"] = np.where(units > 0, units, 1)

    bad_amount = np.zeros(len(out), dtype=bool)
    for name, col in (("charge", "charge_amount"), ("paid", "paid_amount"),
                      ("deductible", "deductible_amount")):
        cents = by_unique(_text(raw, col), lambda t: parse_money(t)[0].fillna(-(2**62)))
        bad = by_unique(_text(raw, col), lambda t: parse_money(t)[1])
        extra[f"{name}_cents"] = pd.arrays.IntegerArray(
            np.where(cents == -(2**62), 0, cents).astype("int64"), cents == -(2**62)
        )
        bad_amount |= bad.astype(bool)

    extra["zip5"] = _obj(_text(raw, "service_zip").str[:5])
    extra["carrier"] = _obj(_text(raw, "carrier"))
    extra["locality"] = _obj(_text(raw, "locality"))
    part = by_unique(_text(raw, "participating"), lambda t: t.str.upper())
    extra["participating"] = ~np.isin(part, ["N", "NO", "FALSE", "0"])

    problem = np.full(len(out), "", dtype=object)
    problem[bad_amount] = "INPUT_BAD_AMOUNT"
    problem[units < 0] = "INPUT_BAD_UNITS"
    problem[np.isnat(dos)] = "INPUT_BAD_DATE"
    problem[np.asarray(extra["hcpcs"]) == ""] = "INPUT_MISSING_CODE"
    extra["input_problem"] = _obj(problem)
    clash = [c for c in extra if c in out.columns]
    out = out.drop(columns=clash)
    return pd.concat([out, pd.DataFrame(extra, index=out.index)], axis=1)
