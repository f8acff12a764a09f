"""Build the line report, the claim ranking and the flag table from priced lines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.columns import INTERNAL, MODIFIERS
from pipeline.report.arrow import scaled_to_decimal
from pipeline.scrub.rules import edit_rules

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


def severity_rank(severity: pd.Series) -> np.ndarray:
    """0 (none) to 3 (error) per row; one dictionary lookup per category, not per row."""
    cat = pd.Categorical(severity)
    ranks = np.array([SEVERITY_RANK.get(c, 0) for c in cat.categories] + [0], dtype="int64")
    return ranks[cat.codes]


def attach_flags(lines: pd.DataFrame, flags: pd.DataFrame) -> pd.DataFrame:
    """Add `flags` (list of rule codes), worst severity and dollars at risk to each line.

    A line's dollars at risk is the largest figure among its flags, so one problem counted by
    two rules is not counted twice. `flags` must be ordered by line_index.
    """
    n = len(lines)
    at = flags["line_index"].to_numpy("int64")
    offsets = np.zeros(n + 1, dtype="int32")
    np.cumsum(np.bincount(at, minlength=n)[:n], out=offsets[1:])
    codes = pa.array(flags["rule_code"], from_pandas=True).cast(pa.string())
    risk = np.zeros(n, dtype="int64")
    np.maximum.at(risk, at, flags["dollars_at_risk_cents"].to_numpy("int64"))
    rank = severity_rank(flags["severity"])
    sev = np.zeros(n, dtype="int64")
    np.maximum.at(sev, at, rank)
    added = {
        "flags": pd.arrays.ArrowExtensionArray(pa.ListArray.from_arrays(offsets, codes)),
        "dollars_at_risk_cents": risk,
        "worst_severity": np.array(["", "info", "warning", "error"], dtype=object)[sev],
        "flag_count": np.diff(offsets),
    }
    for level in ("error", "warning"):
        hits = at[(rank == SEVERITY_RANK[level])] if len(flags) else at
        added[f"flags_{level}s"] = np.bincount(hits, minlength=n)[:n]
    return pd.concat([lines, pd.DataFrame(added, index=lines.index, copy=False)], axis=1)


def to_output(lines: pd.DataFrame, *, run_id: str, run_started_at: str) -> pd.DataFrame:
    """Line report frame: input columns (identifiers removed) plus the pricing breakdown.

    Money and RVU columns stay scaled integers here (e.g. `expected_allowed_cents`); the
    writers turn them into exact decimals named without the suffix.
    """
    out = lines.drop(columns=[c for c in INTERNAL if c in lines.columns])
    if "payer" not in out.columns:
        out["payer"] = ""  # an optional input column; the reports group by it
    added = pd.DataFrame(_normalized(lines), index=lines.index)
    added["run_id"] = run_id
    added["run_started_at"] = run_started_at
    return pd.concat([out, added], axis=1)


def _normalized(lines: pd.DataFrame) -> dict[str, object]:
    """The values the pipeline read from the input, typed, for reports and SQL."""
    mods = lines[list(MODIFIERS)].fillna("").astype(str)
    joined = mods[MODIFIERS[0]].str.cat([mods[c] for c in MODIFIERS[1:]], sep=";")
    return {
        "provider_npi": _plain(lines["provider"]),
        "date_of_service": lines["dos"],
        "procedure_code": _plain(lines["hcpcs"]),
        "modifiers": joined.str.replace(r";+", ";", regex=True).str.strip(";"),
        "billed_cents": lines["charge_cents"],
        "paid_cents": lines["paid_cents"],
    }


def _plain(column: pd.Series) -> pd.Series:
    """A text column as plain object values (pricing keeps some as categoricals)."""
    return pd.Series(np.asarray(column, dtype=object), index=column.index, dtype=object)


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
        elif col in ("flags", "rule_codes"):
            arrays.append(pa.array(series.array, type=pa.list_(pa.string())))
        elif isinstance(series.dtype, pd.CategoricalDtype):
            # Categories are an in-memory economy; readers get plain text columns.
            arrays.append(pa.array(series, from_pandas=True).cast(pa.string()))
        elif pd.api.types.is_datetime64_any_dtype(series):
            arrays.append(pa.array(series, from_pandas=True).cast(pa.date32()))
        else:
            arrays.append(pa.array(series, from_pandas=True))
        names.append(col)
    return pa.table(arrays, names=names)


def to_csv_table(frame: pd.DataFrame) -> pa.Table:
    """CSV view of a report frame: exact decimals as text and lists joined with ';'."""
    return csv_view(to_arrow(frame))


def csv_view(table: pa.Table) -> pa.Table:
    """CSV view of a report table made by `to_arrow`: lists joined with ';'."""
    for i, field in enumerate(table.schema):
        if pa.types.is_list(field.type):
            table = table.set_column(i, field.name, pc.binary_join(table.column(i), ";"))
    return table


def claim_summary(lines: pd.DataFrame, flags: pd.DataFrame) -> pd.DataFrame:
    """One row per claim, ranked by dollars at risk (worst first)."""
    claim, claim_ids = pd.factorize(lines["claim_id"])
    df = pd.DataFrame(
        {
            "c": claim,
            "billed_cents": lines["charge_cents"].fillna(0).to_numpy("int64"),
            "expected_allowed_cents": lines["expected_allowed_cents"].fillna(0).to_numpy("int64"),
            "paid_cents": lines["paid_cents"].fillna(0).to_numpy("int64"),
            "has_paid": lines["paid_cents"].notna().to_numpy(),
            "has_allowed": lines["expected_allowed_cents"].notna().to_numpy(),
            "dollars_at_risk_cents": lines["dollars_at_risk_cents"].to_numpy("int64"),
            "flag_count": lines["flag_count"].to_numpy("int64"),
            "errors": lines["flags_errors"].to_numpy("int64"),
            "warnings": lines["flags_warnings"].to_numpy("int64"),
            "sev": severity_rank(lines["worst_severity"]),
            "dos": lines["dos"].to_numpy(),
        },
        copy=False,
    )
    g = df.groupby("c", sort=True)
    sums = g[
        [
            "billed_cents",
            "expected_allowed_cents",
            "paid_cents",
            "has_paid",
            "has_allowed",
            "dollars_at_risk_cents",
            "flag_count",
            "errors",
            "warnings",
        ]
    ].sum()
    first = np.unique(claim, return_index=True)[1]
    claims = pd.DataFrame(
        {
            "claim_id": np.asarray(claim_ids, dtype=object),
            "payer": lines["payer"].to_numpy(object)[first] if "payer" in lines else "",
            "provider_npi": lines["provider"].to_numpy(object)[first],
            "patient_id": lines["patient_id"].to_numpy(object)[first],
            "first_date_of_service": g["dos"].min().to_numpy(),
            "lines": g.size().to_numpy(),
            "billed_cents": sums["billed_cents"].to_numpy(),
            "expected_allowed_cents": pd.arrays.IntegerArray(
                sums["expected_allowed_cents"].to_numpy("int64"),
                sums["has_allowed"].to_numpy() == 0,
            ),
            "paid_cents": pd.arrays.IntegerArray(
                sums["paid_cents"].to_numpy("int64"), sums["has_paid"].to_numpy() == 0
            ),
            "dollars_at_risk_cents": sums["dollars_at_risk_cents"].to_numpy(),
            "flag_count": sums["flag_count"].to_numpy(),
            "errors": sums["errors"].to_numpy(),
            "warnings": sums["warnings"].to_numpy(),
            "rule_codes": _rule_codes_per_claim(claim, flags, len(claim_ids)),
            "worst_severity": np.array(["", "info", "warning", "error"], dtype=object)[
                g["sev"].max().to_numpy()
            ],
        }
    )
    weights = edit_rules()["risk_score"]
    claims["risk_score_cents"] = (
        claims["dollars_at_risk_cents"]
        + claims["errors"] * weights["per_error_cents"]
        + claims["warnings"] * weights["per_warning_cents"]
    )
    claims = claims.sort_values(
        ["risk_score_cents", "dollars_at_risk_cents", "errors", "claim_id"],
        ascending=[False, False, False, True],
        kind="stable",
    ).reset_index(drop=True)
    claims.insert(0, "rank", np.arange(1, len(claims) + 1))
    return claims


def _rule_codes_per_claim(claim: np.ndarray, flags: pd.DataFrame, n_claims: int):
    """Distinct rule codes of each claim, sorted, as an Arrow list column."""
    rules = pd.Categorical(flags["rule_code"])
    names = np.asarray(rules.categories, dtype=object)
    by_name = np.argsort(names, kind="stable")  # alphabetical position -> category
    position = np.empty(len(names), dtype="int64")
    position[by_name] = np.arange(len(names))
    width = len(names) + 1
    keys = claim[flags["line_index"].to_numpy("int64")] * width + position[rules.codes]
    keys = np.sort(pd.unique(keys))  # hash out the repeats first: far fewer to sort
    c, r = np.divmod(keys, width)
    offsets = np.zeros(n_claims + 1, dtype="int32")
    np.cumsum(np.bincount(c, minlength=n_claims), out=offsets[1:])
    values = pa.array(names[by_name][r], type=pa.string())
    return pd.arrays.ArrowExtensionArray(pa.ListArray.from_arrays(offsets, values))
