"""The revenue-cycle work queue: lines to fix, worst claims first, with reason, fix and dollars.

A line is in the queue when it has a warning or error flag, dollars at risk, or matches a
denial pattern. Its `dollars_at_risk` is the line report's figure, so the queue's dollars add
up to the line report's flagged dollars exactly; `dollars_recovered` is the part that doing
the fix makes payable (fixes.yaml).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.report.html import Column, cards, money, page, table
from pipeline.report.settings import fix_rules
from pipeline.scrub.rules import edit_rules, rule_catalog

ACTIONABLE = ("warning", "error")
COLUMNS = (
    "queue_rank",
    "claim_id",
    "claim_line_number",
    "input_row",
    "payer",
    "provider_npi",
    "date_of_service",
    "procedure_code",
    "modifiers",
    "line_status",
    "worst_severity",
    "flags",
    "primary_flag",
    "reason",
    "fix",
    "billed_cents",
    "expected_allowed_cents",
    "dollars_at_risk_cents",
    "dollars_recovered_cents",
    "claim_dollars_at_risk_cents",
    "risk_note",
    "run_id",
    "run_started_at",
)
_PLACEHOLDER = re.compile(r"\{(line|code)\}")


def _render(template: str, fields: dict[str, pd.Series]) -> pd.Series:
    """Fill {line} and {code} in a fix sentence for many flags at once."""
    parts = _PLACEHOLDER.split(template)
    index = next(iter(fields.values())).index
    out = pd.Series(parts[0], index=index, dtype="string")
    for i in range(1, len(parts), 2):
        out = out + fields[parts[i]] + parts[i + 1]
    return out


def is_em(codes: np.ndarray) -> np.ndarray:
    """Evaluation and management codes (edit_rules.yaml), checked once per distinct code."""
    rules = edit_rules()["evaluation_and_management"]
    ids, uniques = pd.factorize(pd.Series(codes, dtype=object).fillna(""))
    uniques = np.asarray(uniques, dtype=object)
    hit = np.isin(uniques, list(rules["codes"]))
    lengths = np.array([len(c) for c in uniques], dtype="int64")
    for low, high in rules["ranges"]:
        hit |= (lengths == len(low)) & (uniques >= low) & (uniques <= high)
    return hit[ids] if len(ids) else np.zeros(0, dtype=bool)


def _per_line(
    values: pd.Series, offsets: np.ndarray, sep: str | None
) -> pd.arrays.ArrowExtensionArray:
    """Values already ordered by line, as one list (or `sep`-joined text) per line."""
    items = pa.array(values.astype(object).to_numpy(), type=pa.string())
    lists = pa.ListArray.from_arrays(pa.array(offsets, type=pa.int32()), items)
    return pd.arrays.ArrowExtensionArray(pc.binary_join(lists, sep) if sep else lists)


def build_work_queue(
    lines: pd.DataFrame, flags: pd.DataFrame, risk_notes: pd.Series | None = None
) -> pd.DataFrame:
    """The queue from the line report frame and the flag table of one batch.

    `risk_notes` (aligned with `lines`, '' for none) are the denial-pattern notes.
    """
    n = len(lines)
    rules = fix_rules()
    pos = pd.Index(lines["input_row"]).get_indexer(flags["input_row"])
    act = flags[flags["severity"].isin(ACTIONABLE).to_numpy()].assign(
        pos=pos[flags["severity"].isin(ACTIONABLE).to_numpy()]
    )
    act = act.assign(
        dollars=act["dollars_at_risk_cents"].to_numpy("int64"),
        recovers=act["rule_code"].isin(rules.recovers_all).to_numpy(),
        order=np.arange(len(act)),
    )
    # Within a line: the flag with the most dollars first (the line's primary flag).
    act = act.sort_values(["pos", "dollars", "order"], ascending=[True, False, True])
    fields = {
        "line": lines["claim_line_number"].astype("string").to_numpy()[act["pos"].to_numpy()],
        "code": lines["procedure_code"].astype("string").to_numpy()[act["pos"].to_numpy()],
    }
    em = is_em(fields["code"])
    fix = pd.Series("", index=act.index, dtype="string")
    for (code, on_em), idx in act.groupby(["rule_code", em], sort=False).groups.items():
        sel = act.index.get_indexer(idx)
        fix.iloc[sel] = _render(
            rules.fix_template(code, em=bool(on_em)),
            {k: pd.Series(v[sel], index=idx, dtype="string") for k, v in fields.items()},
        ).to_numpy()
    act = act.assign(fix=fix.to_numpy())
    counts = np.bincount(act["pos"].to_numpy("int64"), minlength=n)
    offsets = np.zeros(n + 1, dtype="int64")
    np.cumsum(counts, out=offsets[1:])
    fixes = act[["pos", "fix"]].drop_duplicates()
    fix_offsets = np.zeros(n + 1, dtype="int64")
    np.cumsum(np.bincount(fixes["pos"].to_numpy("int64"), minlength=n), out=fix_offsets[1:])
    recovered = np.zeros(n, dtype="int64")
    np.maximum.at(
        recovered, act["pos"].to_numpy("int64"), np.where(act["recovers"], act["dollars"], 0)
    )
    primary = np.full(n, "", dtype=object)
    has = counts > 0
    primary[has] = act["rule_code"].to_numpy(object)[offsets[:-1][has]]

    notes = (
        pd.Series("", index=lines.index, dtype="string")
        if risk_notes is None
        else risk_notes.astype("string").fillna("")
    )
    at_risk = lines["dollars_at_risk_cents"].fillna(0).to_numpy("int64")
    queue = pd.DataFrame(
        {
            "claim_id": lines["claim_id"].to_numpy(object),
            "claim_line_number": lines["claim_line_number"].to_numpy(object),
            "input_row": lines["input_row"].to_numpy("int64"),
            "payer": lines["payer"].fillna("").to_numpy(object),
            "provider_npi": lines["provider_npi"].fillna("").to_numpy(object),
            "date_of_service": lines["date_of_service"].to_numpy(),
            "procedure_code": lines["procedure_code"].to_numpy(object),
            "modifiers": lines["modifiers"].to_numpy(object),
            "line_status": lines["line_status"].to_numpy(object),
            "worst_severity": lines["worst_severity"].to_numpy(object),
            "flags": _per_line(act["rule_code"], offsets, None),
            "primary_flag": primary,
            "reason": _per_line(act["reason"], offsets, " | "),
            "fix": _per_line(fixes["fix"], fix_offsets, " | "),
            "billed_cents": lines["billed_cents"].to_numpy(),
            "expected_allowed_cents": lines["expected_allowed_cents"].to_numpy(),
            "dollars_at_risk_cents": at_risk,
            "dollars_recovered_cents": np.minimum(recovered, at_risk),
            "risk_note": notes.to_numpy(object),
            "run_id": lines["run_id"].to_numpy(object),
            "run_started_at": lines["run_started_at"].to_numpy(object),
        }
    )
    queue = queue[(counts > 0) | (at_risk > 0) | (queue["risk_note"] != "").to_numpy()]
    claim_total = queue.groupby("claim_id", sort=False)["dollars_at_risk_cents"].transform("sum")
    claim_recovered = queue.groupby("claim_id", sort=False)["dollars_recovered_cents"].transform(
        "sum"
    )
    queue = queue.assign(
        claim_dollars_at_risk_cents=claim_total.to_numpy("int64"),
        _rec=claim_recovered.to_numpy("int64"),
    ).sort_values(
        ["claim_dollars_at_risk_cents", "_rec", "claim_id", "input_row"],
        ascending=[False, False, True, True],
        kind="stable",
    )
    first = ~queue["claim_id"].duplicated().to_numpy()
    queue["queue_rank"] = np.cumsum(first)
    return queue[list(COLUMNS)].reset_index(drop=True)


def totals(queue: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Claims, lines and dollars by primary flag, by payer and by provider.

    A line's dollars count once, under its primary flag (its largest), so each table adds up
    to the queue's total. `lines_with_flag` counts every line carrying the flag.
    """
    out = {}
    for key, col in (("flag", "primary_flag"), ("payer", "payer"), ("provider", "provider_npi")):
        g = queue.groupby(col, sort=False)
        frame = pd.DataFrame(
            {
                key: g.size().index.to_numpy(object),
                "claims": g["claim_id"].nunique().to_numpy("int64"),
                "lines": g.size().to_numpy("int64"),
                "dollars_at_risk_cents": g["dollars_at_risk_cents"].sum().to_numpy("int64"),
                "dollars_recovered_cents": g["dollars_recovered_cents"].sum().to_numpy("int64"),
            }
        )
        out[key] = frame.sort_values(
            ["dollars_at_risk_cents", key], ascending=[False, True], kind="stable"
        ).reset_index(drop=True)
    flags = out["flag"]
    catalog = rule_catalog()
    every = pd.Series(
        pa.chunked_array([pa.array(queue["flags"].array)])
        .combine_chunks()
        .flatten()
        .to_numpy(zero_copy_only=False)
    ).value_counts()
    flags.insert(
        1,
        "title",
        [catalog[c].title if c in catalog else "Denial pattern only" for c in flags["flag"]],
    )
    flags["lines_with_flag"] = [int(every.get(c, 0)) for c in flags["flag"]]
    return out


def queue_page(
    queue: pd.DataFrame,
    sums: dict[str, pd.DataFrame],
    patterns: pd.DataFrame,
    st: dict,
    *,
    max_rows: int,
) -> str:
    """The work queue as one standalone, sortable HTML page."""
    total = int(queue["dollars_at_risk_cents"].sum())
    recovered = int(queue["dollars_recovered_cents"].sum())
    body = [
        cards(
            [
                (f"{queue['claim_id'].nunique():,}", "claims to work"),
                (f"{len(queue):,}", "lines"),
                (money(total), "dollars at risk"),
                (money(recovered), "recovered by the fixes"),
                (f"{int((queue['risk_note'] != '').sum()):,}", "lines matching a denial pattern"),
            ]
        ),
        '<p class="note">Claims are ranked by dollars at risk. A line\'s dollars at risk is the '
        "largest figure among its flags; dollars recovered is what doing the fix makes payable. "
        "Click a column heading to sort.</p>",
        "<h2>Queue</h2>",
    ]
    shown = queue.head(max_rows)
    if len(queue) > max_rows:
        body.append(
            f'<p class="note">Showing the first {max_rows:,} of {len(queue):,} lines; '
            "work_queue.csv and work_queue.parquet hold them all.</p>"
        )
    body.append(
        table(
            shown,
            [
                Column("queue_rank", "rank", "int"),
                Column("claim_id", "claim"),
                Column("claim_line_number", "line"),
                Column("payer", "payer"),
                Column("provider_npi", "provider"),
                Column("date_of_service", "date"),
                Column("procedure_code", "code"),
                Column("modifiers", "mods"),
                Column("dollars_at_risk_cents", "at risk", "money"),
                Column("dollars_recovered_cents", "recovered", "money"),
                Column("claim_dollars_at_risk_cents", "claim at risk", "money"),
                Column("flags", "flags", "lines"),
                Column("reason", "reason", "lines"),
                Column("fix", "fix", "lines"),
                Column("risk_note", "denial pattern", "lines"),
            ],
            table_id="queue",
            row_class="worst_severity",
        )
    )
    money_cols = [
        Column("claims", "claims", "int"),
        Column("lines", "lines", "int"),
        Column("dollars_at_risk_cents", "at risk", "money"),
        Column("dollars_recovered_cents", "recovered", "money"),
    ]
    body.append("<h2>Totals by flag type</h2>")
    body.append(
        '<p class="note">Each line counted once, under its largest flag; "lines with flag" '
        "counts every line that carries it.</p>"
    )
    body.append(
        table(
            sums["flag"],
            [
                Column("flag", "flag"),
                Column("title", "meaning", "wrap"),
                *money_cols,
                Column("lines_with_flag", "lines with flag", "int"),
            ],
            table_id="by-flag",
        )
    )
    body.append("<h2>Totals by payer</h2>")
    body.append(table(sums["payer"], [Column("payer", "payer"), *money_cols], table_id="by-payer"))
    body.append("<h2>Totals by provider</h2>")
    body.append(
        table(
            sums["provider"],
            [Column("provider", "provider NPI"), *money_cols],
            table_id="by-provider",
        )
    )
    body.append("<h2>Denial patterns</h2>")
    if patterns.empty:
        body.append(
            '<p class="note">No denial pattern is supported by enough denials in the '
            "remittance history (or no remittances are in the history yet).</p>"
        )
    else:
        body.append(
            table(
                patterns,
                [
                    Column("payer", "payer"),
                    Column("procedure_code", "code"),
                    Column("modifiers", "mods"),
                    Column("reason_code", "reason code"),
                    Column("denials", "denials", "int"),
                    Column("first_date_of_service", "from"),
                    Column("last_date_of_service", "to"),
                ],
                table_id="patterns",
            )
        )
    return page("Work queue", st, "".join(body))
