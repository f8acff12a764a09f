"""Build the line report, the claim ranking and the flag table from priced lines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from pipeline.report.arrow import scaled_to_decimal, scaled_to_text

# Internal working columns that never reach a report.
INTERNAL = (
    "line_index",
    "patient_key",
    "provider",
    "dos",
    "pos",
    "hcpcs",
    "mod_1",
    "mod_2",
    "mod_3",
    "mod_4",
    "units",
    "units_defaulted",
    "charge_cents",
    "paid_cents",
    "deductible_cents",
    "zip5",
    "input_problem",
    "input_detail",
    "modifier_problem",
    "carrier_in",
    "locality_in",
    "is_participating",
    "flags_errors",
    "flags_warnings",
)
# (column, scale) of integer columns written as exact decimals.
DECIMALS = {
    "expected_allowed_cents": ("expected_allowed", 2),
    "dollars_at_risk_cents": ("dollars_at_risk", 2),
    "fee_schedule_cents": ("fee_schedule_amount", 2),
    "mppr_reduction_cents": ("mppr_reduction", 2),
    "fee_adjusted_cents": ("fee_adjusted_amount", 2),
    "limiting_charge_cents": ("limiting_charge", 2),
    "expected_payment_cents": ("expected_payment", 2),
    "paid_variance_cents": ("paid_variance", 2),
    "gpci_work": ("gpci_work", 3),
    "gpci_pe": ("gpci_pe", 3),
    "gpci_mp": ("gpci_mp", 3),
    "work_rvu": ("work_rvu", 2),
    "pe_rvu": ("pe_rvu", 2),
    "mp_rvu": ("mp_rvu", 2),
    "conversion_factor": ("conversion_factor", 4),
    "bilateral_pct_bp": ("bilateral_pct", 2),
    "role_pct_bp": ("surgical_role_pct", 2),
}
SEVERITY_RANK = {"info": 1, "warning": 2, "error": 3}


def attach_flags(lines: pd.DataFrame, flags: pd.DataFrame) -> pd.DataFrame:
    """Add `flags` (list of rule codes), worst severity and dollars at risk to each line.

    A line's dollars at risk is the largest figure among its flags, so one problem counted by
    two rules is not counted twice.
    """
    out = lines.copy()
    n = len(out)
    codes = [[] for _ in range(n)]
    for i, code in zip(flags["line_index"].to_numpy(), flags["rule_code"].to_numpy(), strict=True):
        codes[i].append(code)
    out["flags"] = codes
    risk = np.zeros(n, dtype="int64")
    if len(flags):
        np.maximum.at(
            risk, flags["line_index"].to_numpy(), flags["dollars_at_risk_cents"].to_numpy()
        )
    out["dollars_at_risk_cents"] = risk
    sev = np.zeros(n, dtype="int64")
    if len(flags):
        np.maximum.at(
            sev, flags["line_index"].to_numpy(), flags["severity"].map(SEVERITY_RANK).to_numpy()
        )
    names = np.array(["", "info", "warning", "error"], dtype=object)
    out["worst_severity"] = names[sev]
    for level in ("error", "warning"):
        hits = flags.loc[flags["severity"] == level, "line_index"].to_numpy()
        out[f"flags_{level}s"] = np.bincount(hits.astype("int64"), minlength=n)[:n]
    return out


def to_output(lines: pd.DataFrame, *, run_id: str, run_started_at: str) -> pd.DataFrame:
    """Line report frame: input columns (identifiers removed) plus the pricing breakdown.

    Money and RVU columns stay scaled integers here (e.g. `expected_allowed_cents`); the
    writers turn them into exact decimals named without the suffix.
    """
    out = lines.drop(columns=[c for c in INTERNAL if c in lines.columns])
    out["run_id"] = run_id
    out["run_started_at"] = run_started_at
    return out


def to_arrow(frame: pd.DataFrame) -> pa.Table:
    """Arrow table with decimals exact and flags as a list column."""
    arrays, names = [], []
    for col in frame.columns:
        series = frame[col]
        if col in DECIMALS:
            name, scale = DECIMALS[col]
            arrays.append(scaled_to_decimal(series, scale))
            col = name
        elif col.endswith("_cents"):
            arrays.append(scaled_to_decimal(series, 2))
            col = col.removesuffix("_cents")
        elif col == "flags":
            arrays.append(pa.array(series.tolist(), type=pa.list_(pa.string())))
        else:
            arrays.append(pa.array(series, from_pandas=True))
        names.append(col)
    return pa.table(arrays, names=names)


def to_csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """CSV view: decimals as text, flags joined with ';'."""
    out = frame.copy()
    for col in list(out.columns):
        if col in DECIMALS:
            name, scale = DECIMALS[col]
            out[col] = scaled_to_text(out[col], scale)
            out = out.rename(columns={col: name})
        elif col.endswith("_cents"):
            out[col.removesuffix("_cents")] = scaled_to_text(out.pop(col), 2)
    for col in ("flags", "rule_codes"):
        if col in out.columns:
            out[col] = out[col].map(";".join)
    return out


def claim_summary(lines: pd.DataFrame) -> pd.DataFrame:
    """One row per claim, ranked by dollars at risk (worst first)."""
    df = pd.DataFrame(
        {
            "claim_id": lines["claim_id"],
            "payer": lines["payer"] if "payer" in lines else "",
            "provider_npi": lines["provider"],
            "patient_id": lines["patient_key"],
            "first_date_of_service": lines["dos"],
            "billed_cents": lines["charge_cents"].fillna(0),
            "expected_allowed_cents": lines["expected_allowed_cents"].fillna(0),
            "paid_cents": lines["paid_cents"],
            "dollars_at_risk_cents": lines["dollars_at_risk_cents"],
            "flag_count": lines["flags"].map(len),
            "errors": lines["flags_errors"],
            "warnings": lines["flags_warnings"],
            "sev": lines["worst_severity"].map(SEVERITY_RANK).fillna(0),
            "flags": lines["flags"],
        }
    )
    grouped = df.groupby("claim_id", sort=False)
    claims = grouped.agg(
        payer=("payer", "first"),
        provider_npi=("provider_npi", "first"),
        patient_id=("patient_id", "first"),
        first_date_of_service=("first_date_of_service", "min"),
        lines=("claim_id", "size"),
        billed_cents=("billed_cents", "sum"),
        expected_allowed_cents=("expected_allowed_cents", "sum"),
        paid_cents=("paid_cents", lambda s: s.sum(min_count=1)),
        dollars_at_risk_cents=("dollars_at_risk_cents", "sum"),
        flag_count=("flag_count", "sum"),
        errors=("errors", "sum"),
        warnings=("warnings", "sum"),
        sev=("sev", "max"),
    ).reset_index()
    claims["rule_codes"] = (
        grouped["flags"].agg(lambda s: sorted({c for f in s for c in f})).to_numpy()
    )
    names = np.array(["", "info", "warning", "error"], dtype=object)
    claims["worst_severity"] = names[claims.pop("sev").astype(int)]
    claims = claims.sort_values(
        ["dollars_at_risk_cents", "errors", "warnings", "claim_id"],
        ascending=[False, False, False, True],
        kind="stable",
    ).reset_index(drop=True)
    claims.insert(0, "rank", np.arange(1, len(claims) + 1))
    return claims
