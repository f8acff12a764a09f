"""The report of one 835 remittance: its lines, adjustments, provider adjustments and flags."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from pipeline.report.line_report import to_arrow, to_csv_table
from pipeline.report.storage import Destination

# remit_lines columns, in order (money columns keep their _cents names until written).
LINE_COLUMNS = (
    "remit_row",
    "level",
    "x12_segment",
    "x12_claim_segment",
    "x12_transaction",
    "payer",
    "payer_id",
    "payee_npi",
    "trace_number",
    "payment_date",
    "claim_id",
    "claim_status",
    "payer_claim_number",
    "claim_filing_indicator",
    "line",
    "line_control_number",
    "paid_qualifier",
    "paid_code",
    "paid_modifiers",
    "billed_code",
    "billed_modifiers",
    "units_paid",
    "units_billed",
    "service_date",
    "service_end_date",
    "rendering_npi",
    "remark_codes",
    "charge_cents",
    "paid_cents",
    "allowed_cents",
    "adjustments_text",
    "adjustments_total_cents",
    "pr_cents",
    "seq_cents",
    "problem",
)
RENAMED = {
    "adjustments_text": "adjustments",
    "adjustments_total_cents": "adjustments_total_cents",
    "pr_cents": "patient_responsibility_cents",
    "seq_cents": "sequestration_cents",
}
MATCH_COLUMNS = (
    "matched_in",
    "matched_batch",
    "matched_claim_id",
    "matched_claim_line_number",
    "match",
)


def remit_report(remits, index: int, run_id: str, files) -> dict[str, pd.DataFrame]:
    """Frames of file `index` of a Remittances set: remit_lines, adjustments, PLB, flags."""
    rows = remits.rows[remits.rows["file"] == index]
    lines = rows[["remit_key", *LINE_COLUMNS]].rename(columns=RENAMED)
    matches = (
        pd.concat(remits.matches, ignore_index=True)
        if remits.matches
        else pd.DataFrame(columns=["remit_key", *MATCH_COLUMNS])
    )
    lines = lines.merge(matches[["remit_key", *MATCH_COLUMNS]], on="remit_key", how="left")
    for col in MATCH_COLUMNS:
        lines[col] = lines[col].astype("string").fillna("")
    lines["matched_in"] = lines["matched_in"].mask(lines["matched_in"] == "", "not matched")
    flags = (
        pd.concat(remits.row_flags, ignore_index=True)
        if remits.row_flags
        else pd.DataFrame(
            columns=[
                "remit_key",
                "rule_code",
                "severity",
                "reason",
                "action",
                "dollars_at_risk_cents",
                "matched_in",
            ]
        )
    )
    flags = flags[flags["remit_key"].isin(lines["remit_key"])]
    per_row = flags.groupby("remit_key").agg(
        flags=("rule_code", list), dollars_at_risk_cents=("dollars_at_risk_cents", "max")
    )
    lines = lines.join(per_row, on="remit_key")
    lines["flags"] = [v if isinstance(v, list) else [] for v in lines["flags"]]
    lines["dollars_at_risk_cents"] = lines["dollars_at_risk_cents"].fillna(0).astype("int64")
    lines["run_id"] = run_id
    row_of = rows.set_index("remit_key")["remit_row"]
    flag_table = flags.assign(
        remit_row=row_of.reindex(flags["remit_key"]).to_numpy(),
        claim_id=rows.set_index("remit_key")["claim_id"].reindex(flags["remit_key"]).to_numpy(),
        run_id=run_id,
    )[
        [
            "remit_row",
            "claim_id",
            "rule_code",
            "severity",
            "reason",
            "action",
            "dollars_at_risk_cents",
            "matched_in",
            "run_id",
        ]
    ]
    source = files[index]
    return {
        "remit_lines": lines.drop(columns=["remit_key"]).reset_index(drop=True),
        "remit_adjustments": source.adjustments.assign(run_id=run_id),
        "remit_claims": source.claims.assign(run_id=run_id),
        "provider_adjustments": source.provider_adjustments.assign(run_id=run_id),
        "flags": flag_table.reset_index(drop=True),
        "x12_findings": source.findings,
    }


def remit_summary(frames: dict[str, pd.DataFrame], details: dict, name: str, run_id: str) -> dict:
    lines = frames["remit_lines"]
    flags = frames["flags"]
    adjustments = frames["remit_adjustments"]
    plb = frames["provider_adjustments"]
    findings = frames["x12_findings"]

    def total(frame: pd.DataFrame, col: str) -> int:
        return int(frame[col].fillna(0).sum()) if len(frame) else 0

    return {
        "run_id": run_id,
        "remittance": name,
        **details,
        "rows": len(lines),
        "matched": {k: int(v) for k, v in lines["matched_in"].value_counts().sort_index().items()},
        "lines_flagged": int((lines["flags"].map(len) > 0).sum()),
        "flags_by_rule": {
            k: int(v) for k, v in flags["rule_code"].value_counts().sort_index().items()
        },
        "totals": {
            "charge_cents": total(frames["remit_claims"], "charge_cents"),
            "paid_cents": total(frames["remit_claims"], "paid_cents"),
            "adjustments_cents": total(adjustments, "amount_cents"),
            "provider_adjustments_cents": total(plb, "amount_cents"),
            "dollars_at_risk_cents": int(lines["dollars_at_risk_cents"].sum()),
        },
        "findings": {
            k: int(v) for k, v in findings["severity"].value_counts().sort_index().items()
        },
    }


def write_remit_report(frames: dict[str, pd.DataFrame], summary: dict, dest: Destination) -> dict:
    outputs = {}
    for name, frame in frames.items():
        table = to_arrow(_plain(frame))
        outputs[f"{name}.parquet"] = dest.write_parquet(f"{name}.parquet", table)
        outputs[f"{name}.csv"] = dest.write_csv(f"{name}.csv", to_csv_table(_plain(frame)))
    outputs["summary.json"] = dest.uri("summary.json")
    summary["outputs"] = outputs
    dest.write_json("summary.json", summary)
    return outputs


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Nullable integer columns that are not money stay integers; lists become Arrow lists."""
    out = frame.copy()
    if "flags" in out:
        out["flags"] = pd.arrays.ArrowExtensionArray(
            pa.array(out["flags"].tolist(), type=pa.list_(pa.string()))
        )
    for col in out.columns:
        if out[col].dtype == object and col != "flags":
            out[col] = out[col].astype("string")
        if col == "balanced":
            out[col] = out[col].astype(np.bool_)
    return out
