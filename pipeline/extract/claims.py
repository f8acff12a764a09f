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


def normalize_batch(raw: pd.DataFrame, *, patient_key: bytes) -> pd.DataFrame:
    """Return the batch without direct identifiers plus typed pricing columns.

    Added columns: line_index, patient_key, provider, dos, pos, hcpcs, mod_1..mod_4, units,
    units_defaulted, charge_cents, paid_cents, deductible_cents, zip5, carrier, locality,
    participating, input_problem (a rule code, or empty when the row is usable).
    """
    out = raw.drop(columns=[c for c in IDENTIFIER_COLUMNS if c in raw.columns]).copy()
    out.insert(0, "line_index", np.arange(len(out), dtype="int64"))

    payer = _text(raw, "payer")
    out["patient_id"] = hash_patient_ids(payer, _text(raw, "patient_id"), patient_key)
    out["patient_key"] = out["patient_id"]
    rendering, billing = _text(raw, "rendering_npi"), _text(raw, "billing_npi")
    out["provider"] = rendering.where(rendering != "", billing)

    dos_text = _text(raw, "claim_line_start_date")
    dos = pd.to_datetime(dos_text.str[:10], format="%Y-%m-%d", errors="coerce")
    compact = dos.isna() & dos_text.str.fullmatch(r"\d{8}")
    dos = dos.where(
        ~compact, pd.to_datetime(dos_text.where(compact), format="%Y%m%d", errors="coerce")
    )
    out["dos"] = dos.astype("datetime64[s]")

    pos = _text(raw, "place_of_service_code")
    out["pos"] = pos.where(~pos.str.fullmatch(r"\d"), pos.str.zfill(2))
    out["hcpcs"] = _text(raw, "hcpcs_code").str.upper()
    for i, col in enumerate(MODIFIER_COLUMNS, 1):
        out[f"mod_{i}"] = _text(raw, col).str.upper()

    units_text = _text(raw, "service_unit_quantity")
    units_num = pd.to_numeric(units_text, errors="coerce")
    out["units_defaulted"] = units_text == ""
    whole = units_num.notna() & (units_num == units_num.round()) & (units_num > 0)
    out["units"] = units_num.where(whole, 1).fillna(1).astype("int64")

    charge, bad_charge = parse_money(_text(raw, "charge_amount"))
    paid, bad_paid = parse_money(_text(raw, "paid_amount"))
    deductible, bad_ded = parse_money(_text(raw, "deductible_amount"))
    out["charge_cents"], out["paid_cents"], out["deductible_cents"] = charge, paid, deductible

    out["zip5"] = _text(raw, "service_zip").str[:5]
    out["carrier"], out["locality"] = _text(raw, "carrier"), _text(raw, "locality")
    part = _text(raw, "participating").str.upper()
    out["participating"] = ~part.isin(["N", "NO", "FALSE", "0"])

    problem = pd.Series("", index=out.index, dtype="string")
    problem = problem.mask(bad_charge | bad_paid | bad_ded, "INPUT_BAD_AMOUNT")
    bad_units = ~out["units_defaulted"] & ~whole
    problem = problem.mask(bad_units, "INPUT_BAD_UNITS")
    problem = problem.mask(out["dos"].isna(), "INPUT_BAD_DATE")
    problem = problem.mask(out["hcpcs"] == "", "INPUT_MISSING_CODE")
    out["input_problem"] = problem
    return out
