"""Matched remittance lines kept in the history store, for denial patterns.

Writes the contract that report.denial_patterns reads (docs/reports.md, "Denial patterns"):
one row per matched 835 service line and adjustment reason, under `history/remittance/`.
Each 835 gets one file named by a digest of its bytes, so a rerun of the same 835 replaces
its own file and its lines are never counted twice. No member ids or names are kept.
"""

from __future__ import annotations

import logging

import pandas as pd
import pyarrow as pa

from pipeline.report.denial_patterns import REMITTANCE_PREFIX
from pipeline.report.storage import Destination
from pipeline.scrub.rules import payment_rules

logger = logging.getLogger(__name__)

# The contract's columns, then extra ones that say where each row came from.
COLUMNS = (
    "payer",
    "procedure_code",
    "modifiers",
    "carc_group",
    "carc_code",
    "denied",
    "date_of_service",
    "amount_cents",
    "claim_status",
    "claim_id",
    "claim_line_number",
    "matched_in",
    "remittance",
    "remit_row",
    "run_id",
)


def remittance_rows(remits, index: int, *, run_id: str) -> pd.DataFrame:
    """File `index` of a Remittances set (scrub.remits) as history rows: its matched service
    lines, one row per adjustment group and reason (netted), `denied` when the line got
    PAYER_DENIED and the reason is one the denial names."""
    rules = payment_rules()["remittance"]
    rows = remits.rows
    if rows.empty or not remits.matches:
        return _empty()
    rows = rows[(rows["file"] == index) & (rows["level"] == "line")]
    matches = pd.concat(remits.matches, ignore_index=True).drop_duplicates("remit_key")
    rows = rows.merge(
        matches[["remit_key", "matched_payer", "matched_date", "matched_claim_line_number"]].assign(
            matched_in=matches["matched_in"]
        ),
        on="remit_key",
    )
    adj = remits.adjustments[remits.adjustments["remit_key"].isin(rows["remit_key"])]
    if rows.empty or adj.empty:
        return _empty()
    net = (
        adj.assign(
            remit_key=adj["remit_key"].astype("int64"), amount=adj["amount_cents"].astype("int64")
        )
        .groupby(["remit_key", "group", "reason"], sort=False)["amount"]
        .sum()
        .reset_index()
    )
    # The reasons a denial names, as scrub.remits.summarize reads them: payer-side reasons
    # other than contractual reductions; with none of those and no patient share, all of them.
    payer_side = net["group"] != rules["patient_responsibility_group"]
    contractual = net["reason"].isin(rules["contractual_reasons"])
    other = (payer_side & ~contractual).groupby(net["remit_key"]).transform("any")
    row = rows.set_index("remit_key")
    no_share = row["pr_cents"].reindex(net["remit_key"]).fillna(0).to_numpy() == 0
    flags = pd.concat(remits.row_flags, ignore_index=True) if remits.row_flags else None
    denied_keys = (
        set(flags.loc[flags["rule_code"] == "PAYER_DENIED", "remit_key"].dropna().astype("int64"))
        if flags is not None
        else set()
    )
    denied = net["remit_key"].isin(denied_keys) & payer_side & (~contractual | (~other & no_share))
    at = row.reindex(net["remit_key"])

    def text(col: str) -> pd.Series:
        return at[col].astype("string").fillna("").str.strip().reset_index(drop=True)

    payer = text("matched_payer")
    dates = text("service_date")
    dates = dates.mask(dates == "", text("matched_date"))
    out = pd.DataFrame(
        {
            "payer": payer.mask(payer == "", text("payer")),  # older history kept no payer
            "procedure_code": text("billed_code").str.upper(),
            "modifiers": text("billed_modifiers").str.replace(":", ";", regex=False),
            "carc_group": net["group"].astype("string").str.upper(),
            "carc_code": net["reason"].astype("string").str.upper(),
            "denied": denied.to_numpy(bool),
            "date_of_service": pd.to_datetime(dates, format="%Y%m%d", errors="coerce").dt.date,
            "amount_cents": net["amount"].to_numpy("int64"),
            "claim_status": text("claim_status"),
            "claim_id": text("claim_id"),
            "claim_line_number": text("matched_claim_line_number"),
            "matched_in": text("matched_in"),
            "remittance": remits.names[index],
            "remit_row": at["remit_row"].to_numpy("int64"),
            "run_id": run_id,
        }
    )
    return out[list(COLUMNS)]


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})


def write_remittance_history(rows: pd.DataFrame, root: Destination, digest: str) -> str | None:
    """Write (or replace) `history/remittance/<digest>.parquet`; nothing when no line matched."""
    if rows.empty:
        return None
    schema = pa.schema(
        [
            pa.field(c, pa.bool_() if c == "denied" else pa.string())
            for c in COLUMNS
            if c not in ("date_of_service", "amount_cents", "remit_row")
        ]
        + [
            pa.field("date_of_service", pa.date32()),
            pa.field("amount_cents", pa.int64()),
            pa.field("remit_row", pa.int64()),
        ]
    )
    table = pa.Table.from_pandas(rows, schema=schema, preserve_index=False)
    table = table.select(list(COLUMNS))
    return root.write_parquet(f"{REMITTANCE_PREFIX}{digest}.parquet", table)
