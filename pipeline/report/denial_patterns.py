"""Denial patterns: what payers have denied before, as a risk note on new claims.

Input (the contract with remittance matching): matched remittance lines kept in the history
store under `history/remittance/`, any number of Parquet files at any depth, local or S3.
One row per (remittance service line, adjustment reason), with the columns of
`REMITTANCE_COLUMNS` (docs/reports.md, "Denial patterns"). Other columns are ignored.

Denials are counted by payer x procedure code x modifiers x reason code (CARC group and
code). A combination is shown as a pattern, and noted on new lines of the same payer, code
and modifiers, only when at least `min_denials` denials support it (report_settings.yaml);
below that it is counted and not shown.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from pipeline.report.storage import Destination, read_checked_parquet

logger = logging.getLogger(__name__)

REMITTANCE_PREFIX = "history/remittance/"
REMITTANCE_COLUMNS = {
    "payer": "text: the payer as the claim batches name it (their `payer` column)",
    "procedure_code": "text: the HCPCS/CPT code adjudicated (SVC01-2)",
    "modifiers": "text, modifiers separated by ';' (or a list of text); order does not matter",
    "carc_group": "text: claim adjustment group code (CAS01: CO, PR, OA, PI, CR)",
    "carc_code": "text: claim adjustment reason code (CAS02, e.g. 97)",
    "denied": "boolean: true when the line was denied (paid nothing for this reason)",
    "date_of_service": "date: the line's date of service",
}
KEY = ("payer", "procedure_code", "modifiers")
PATTERN_COLUMNS = (
    "payer",
    "procedure_code",
    "modifiers",
    "reason_code",
    "denials",
    "first_date_of_service",
    "last_date_of_service",
)


def canonical_modifiers(values: pd.Series) -> pd.Series:
    """'59;rt' and 'RT;59' -> '59;RT': upper-case, blanks dropped, sorted, ';'-joined."""

    def one(value: str) -> str:
        return ";".join(sorted({m.strip().upper() for m in value.split(";") if m.strip()}))

    if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        values = values.map(
            lambda v: ";".join(str(m) for m in v if m is not None) if _is_list(v) else v
        )
    codes, uniques = pd.factorize(values.fillna("").astype(str))  # few distinct values
    canonical = np.array([one(u) for u in uniques] + [""], dtype=object)
    return pd.Series(canonical[codes], index=values.index, dtype=object)


def _is_list(value) -> bool:
    return isinstance(value, list | tuple | np.ndarray)


def read_remittance(root: Destination) -> pd.DataFrame:
    """Every matched remittance line kept under `history/remittance/` (empty if none)."""
    frames = []
    for name in root.list(REMITTANCE_PREFIX):
        if not name.endswith(".parquet"):
            continue
        frame = read_checked_parquet(
            root,
            name,
            REMITTANCE_COLUMNS,
            "remittance history file %s was skipped (%s); rewrite it with the columns listed "
            "in docs/reports.md (Denial patterns)",
        )
        if frame is not None:
            frames.append(frame[list(REMITTANCE_COLUMNS)])
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in REMITTANCE_COLUMNS})
    return pd.concat(frames, ignore_index=True)


def denial_counts(remit: pd.DataFrame, *, lookback_days: int) -> pd.DataFrame:
    """Denials by payer x code x modifiers x reason code, most first (all counts, shown or not)."""
    if remit.empty:
        return _empty_counts()
    denied = remit[remit["denied"].fillna(False).astype(bool).to_numpy()]
    dos = pd.to_datetime(denied["date_of_service"], errors="coerce")
    if dos.notna().any():
        denied = denied[(dos >= dos.max() - pd.Timedelta(days=lookback_days)).to_numpy()]
        dos = dos[denied.index]
    frame = pd.DataFrame(
        {
            "payer": denied["payer"].fillna("").astype(str).str.strip().to_numpy(object),
            "procedure_code": denied["procedure_code"]
            .fillna("")
            .astype(str)
            .str.strip()
            .str.upper()
            .to_numpy(object),
            "modifiers": canonical_modifiers(denied["modifiers"]).to_numpy(object),
            "reason_code": (
                denied["carc_group"].fillna("").astype(str).str.strip().str.upper()
                + "-"
                + denied["carc_code"].fillna("").astype(str).str.strip().str.upper()
            ).to_numpy(object),
            "dos": dos.to_numpy(),
        }
    )
    g = frame.groupby(list(KEY) + ["reason_code"], sort=True, dropna=False)
    out = g.agg(
        denials=("dos", "size"),
        first_date_of_service=("dos", "min"),
        last_date_of_service=("dos", "max"),
    ).reset_index()
    if out.empty:
        return _empty_counts()
    out["denials"] = out["denials"].astype("int64")
    return out.sort_values(
        ["denials", "payer", "procedure_code", "modifiers", "reason_code"],
        ascending=[False, True, True, True, True],
        kind="stable",
    ).reset_index(drop=True)[list(PATTERN_COLUMNS)]


def _empty_counts() -> pd.DataFrame:
    text = {c: pd.Series(dtype=object) for c in (*KEY, "reason_code")}
    dates = {c: pd.Series(dtype="datetime64[s]") for c in PATTERN_COLUMNS[-2:]}
    return pd.DataFrame({**text, "denials": pd.Series(dtype="int64"), **dates})


def shown_patterns(counts: pd.DataFrame, *, min_denials: int) -> pd.DataFrame:
    """The combinations with at least `min_denials` denials."""
    return counts[counts["denials"] >= min_denials].reset_index(drop=True)


def risk_notes(lines: pd.DataFrame, patterns: pd.DataFrame) -> pd.Series:
    """For each line ('' for none), the patterns its payer, code and modifiers match."""
    notes = pd.Series("", index=lines.index, dtype=object)
    if patterns.empty or lines.empty:
        return notes
    text = (
        "denied "
        + patterns["denials"].astype(str)
        + "x by this payer for "
        + patterns["reason_code"]
        + " ("
        + patterns["first_date_of_service"].dt.strftime("%Y-%m-%d").fillna("?")
        + " to "
        + patterns["last_date_of_service"].dt.strftime("%Y-%m-%d").fillna("?")
        + ")"
    )
    by_key = (
        patterns.assign(note=text)
        .groupby(list(KEY), sort=False)["note"]
        .agg("; ".join)  # one entry per distinct pattern key: few
        .reset_index()
    )
    keys = pd.DataFrame(
        {
            "payer": lines["payer"].fillna("").astype(str).str.strip().to_numpy(object),
            "procedure_code": lines["procedure_code"].fillna("").astype(str).to_numpy(object),
            "modifiers": canonical_modifiers(lines["modifiers"].fillna("")).to_numpy(object),
        }
    )
    matched = keys.merge(by_key, on=list(KEY), how="left")["note"]
    return pd.Series(matched.fillna("").to_numpy(object), index=lines.index)
