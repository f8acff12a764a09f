"""Finance underpayment summary: payer x procedure code x month of service.

Built from the line report frame (money as integer cents), so every total is the line
report's sum to the cent. `sql/finance_summary.sql` computes the same table from
lines.parquet; a test holds the two equal.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.report import charts
from pipeline.report.html import Column, cards, money, page, table

KEYS = ("payer", "procedure_code", "service_month")
SUMS = (
    "billed_cents",
    "expected_allowed_cents",
    "expected_payment_cents",
    "paid_cents",
    "variance_cents",
)
COLUMNS = (
    *KEYS,
    "lines",
    *SUMS[:3],
    "paid_lines",
    "paid_cents",
    "variance_cents",
    "underpaid_lines",
    "underpaid_cents",
    "overpaid_lines",
    "overpaid_cents",
    "run_id",
    "run_started_at",
)


def finance_summary(lines: pd.DataFrame, flags: pd.DataFrame) -> pd.DataFrame:
    """One row per payer x procedure code x month of service (YYYY-MM; null: no valid date).

    Sums skip lines without the figure and are null when no line has it. Underpaid and
    overpaid lines are the lines flagged UNDERPAID / OVERPAID; their dollars are the
    differences from the expected payment.
    """
    rows = flags["input_row"]
    under = lines["input_row"].isin(rows[flags["rule_code"] == "UNDERPAID"]).to_numpy()
    over = lines["input_row"].isin(rows[flags["rule_code"] == "OVERPAID"]).to_numpy()
    variance = lines["paid_variance_cents"].astype("Int64")
    dos = pd.to_datetime(lines["date_of_service"])
    frame = pd.DataFrame(
        {
            "payer": lines["payer"].fillna("").astype(str).to_numpy(object),
            "procedure_code": lines["procedure_code"].fillna("").astype(str).to_numpy(object),
            "service_month": _months(dos),
            "billed_cents": lines["billed_cents"].astype("Int64").to_numpy(),
            "expected_allowed_cents": lines["expected_allowed_cents"].astype("Int64").to_numpy(),
            "expected_payment_cents": lines["expected_payment_cents"].astype("Int64").to_numpy(),
            "paid_cents": lines["paid_cents"].astype("Int64").to_numpy(),
            "variance_cents": variance.to_numpy(),
            "has_paid": lines["paid_cents"].notna().to_numpy(),
            "under": under,
            "over": over,
            "under_cents": np.where(under, -variance.fillna(0).to_numpy("int64"), 0),
            "over_cents": np.where(over, variance.fillna(0).to_numpy("int64"), 0),
        }
    )
    g = frame.groupby(list(KEYS), sort=False, dropna=False)
    out = g[list(SUMS)].sum(min_count=1)
    out["lines"] = g.size()
    out["paid_lines"] = g["has_paid"].sum()
    out["underpaid_lines"] = g["under"].sum()
    out["underpaid_cents"] = g["under_cents"].sum()
    out["overpaid_lines"] = g["over"].sum()
    out["overpaid_cents"] = g["over_cents"].sum()
    out = out.reset_index().sort_values(list(KEYS), na_position="last", kind="stable")
    for col in SUMS:
        out[col] = out[col].astype("Int64")
    for col in ("lines", "paid_lines", "underpaid_lines", "overpaid_lines"):
        out[col] = out[col].astype("int64")
    out["run_id"] = lines["run_id"].iloc[0] if len(lines) else ""
    out["run_started_at"] = lines["run_started_at"].iloc[0] if len(lines) else ""
    return out[list(COLUMNS)].reset_index(drop=True)


def _months(dos: pd.Series) -> np.ndarray:
    """'YYYY-MM' of each date (None when missing), formatted once per distinct month."""
    ids, uniques = pd.factorize(dos.to_numpy("datetime64[ns]").astype("datetime64[M]"))
    text = np.asarray(list(np.datetime_as_string(uniques, unit="M")) + [None], dtype=object)
    text[:-1][np.isnat(uniques)] = None
    return text[ids]


def rollup(summary: pd.DataFrame, by: str) -> pd.DataFrame:
    """The summary added up by one key (payer, procedure_code or service_month)."""
    g = summary.groupby(by, sort=True, dropna=False)
    out = g[list(SUMS)].sum(min_count=1)
    for col in ("lines", "paid_lines", "underpaid_lines", "underpaid_cents", "overpaid_lines"):
        out[col] = g[col].sum()
    out["overpaid_cents"] = g["overpaid_cents"].sum()
    return out.reset_index()


def top_underpaid(summary: pd.DataFrame, by: str, n: int) -> pd.DataFrame:
    """The `n` codes or payers with the most underpaid dollars (ties by name)."""
    out = rollup(summary, by)
    out = out[out["underpaid_cents"] > 0]
    return out.sort_values(["underpaid_cents", by], ascending=[False, True]).head(n)


def totals(summary: pd.DataFrame) -> dict[str, int]:
    """Whole-batch totals in cents (0 where no line has the figure)."""
    out = {c: int(summary[c].fillna(0).sum()) for c in SUMS}
    for col in ("lines", "paid_lines", "underpaid_lines", "underpaid_cents"):
        out[col] = int(summary[col].sum())
    out["overpaid_lines"] = int(summary["overpaid_lines"].sum())
    out["overpaid_cents"] = int(summary["overpaid_cents"].sum())
    return out


def finance_page(summary: pd.DataFrame, st: dict, *, top: int, max_rows: int) -> str:
    """The underpayment summary as one standalone HTML page with embedded charts."""
    t = totals(summary)
    body = [
        cards(
            [
                (f"{t['lines']:,}", "lines"),
                (money(t["billed_cents"]), "billed"),
                (money(t["expected_allowed_cents"]), "expected allowed"),
                (money(t["expected_payment_cents"]), "expected payment"),
                (money(t["paid_cents"]), f"paid ({t['paid_lines']:,} lines)"),
                (money(t["variance_cents"]), "paid minus expected payment"),
                (money(t["underpaid_cents"]), f"underpaid ({t['underpaid_lines']:,} lines)"),
                (money(t["overpaid_cents"]), f"overpaid ({t['overpaid_lines']:,} lines)"),
            ]
        ),
        '<p class="note">Expected payment is the Medicare allowed amount less deductible, 20% '
        "coinsurance and sequestration. Variance is paid minus expected payment on the lines "
        "with a paid amount that were priced. Underpaid lines are those flagged UNDERPAID "
        "(short by more than the tolerance).</p>",
    ]
    payers = rollup(summary, "payer").sort_values("payer")
    months = rollup(summary, "service_month").dropna(subset=["service_month"])
    months = months.sort_values("service_month")
    body.append("<h2>Variance by payer</h2>")
    if payers["variance_cents"].notna().any():
        png = charts.variance_by_payer(
            [p or "(no payer)" for p in payers["payer"]],
            payers["variance_cents"].fillna(0).astype("int64").tolist(),
        )
        body.append(
            f'<img class="chart" alt="Variance by payer" src="data:image/png;base64,{png}">'
        )
    else:
        body.append('<p class="note">No line has a paid amount to compare.</p>')
    body.append("<h2>Trend by month of service</h2>")
    if len(months) < 2:
        body.append('<p class="note">One month of service or none: no trend to draw.</p>')
    else:
        png = charts.trend_by_month(
            months["service_month"].tolist(),
            {
                "paid minus expected": months["variance_cents"].fillna(0).astype("int64").tolist(),
                "underpaid": (-months["underpaid_cents"]).astype("int64").tolist(),
                "overpaid": months["overpaid_cents"].astype("int64").tolist(),
            },
        )
        body.append(f'<img class="chart" alt="Trend by month" src="data:image/png;base64,{png}">')
    money_cols = [
        Column("lines", "lines", "int"),
        Column("billed_cents", "billed", "money"),
        Column("expected_allowed_cents", "expected allowed", "money"),
        Column("expected_payment_cents", "expected payment", "money"),
        Column("paid_cents", "paid", "money"),
        Column("variance_cents", "variance", "money"),
        Column("underpaid_lines", "underpaid lines", "int"),
        Column("underpaid_cents", "underpaid", "money"),
    ]
    body.append("<h2>Top underpaid codes</h2>")
    codes = top_underpaid(summary, "procedure_code", top)
    body.append(
        table(codes, [Column("procedure_code", "code"), *money_cols], table_id="top-codes")
        if len(codes)
        else '<p class="note">No underpaid lines.</p>'
    )
    body.append("<h2>Top underpaid payers</h2>")
    top_payers = top_underpaid(summary, "payer", top)
    body.append(
        table(top_payers, [Column("payer", "payer"), *money_cols], table_id="top-payers")
        if len(top_payers)
        else '<p class="note">No underpaid lines.</p>'
    )
    body.append("<h2>By month of service</h2>")
    body.append(table(months, [Column("service_month", "month"), *money_cols], table_id="months"))
    body.append("<h2>By payer, code and month</h2>")
    if len(summary) > max_rows:
        body.append(
            f'<p class="note">Showing the {max_rows:,} rows with the most underpaid dollars '
            f"of {len(summary):,}; finance_summary.csv and .parquet hold them all.</p>"
        )
    shown = summary.sort_values(
        ["underpaid_cents", "variance_cents"], ascending=[False, True], na_position="last"
    ).head(max_rows)
    body.append(
        table(
            shown,
            [
                Column("payer", "payer"),
                Column("procedure_code", "code"),
                Column("service_month", "month"),
                *money_cols,
            ],
            table_id="summary",
        )
    )
    return page("Underpayment summary", st, "".join(body))
