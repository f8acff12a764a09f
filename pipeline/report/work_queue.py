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
from pipeline.report.line_report import as_text
from pipeline.report.settings import fix_rules
from pipeline.scrub.rules import edit_rules, rule_catalog

ACTIONABLE = ("warning", "error")
_PLACEHOLDER = re.compile(r"\{(line|code)\}")


def _render(template: str, **fields: pa.Array) -> pa.Array:
    """Fill {line} and {code} of a fix sentence for many flags at once, in Arrow."""
    parts = _PLACEHOLDER.split(template)
    pieces: list = [pa.scalar(parts[0], pa.string())]
    for i in range(1, len(parts), 2):
        pieces += [fields[parts[i]], pa.scalar(parts[i + 1], pa.string())]
    if len(pieces) == 1:
        size = len(next(iter(fields.values())))
        return pa.repeat(pieces[0], size)
    return pc.binary_join_element_wise(*pieces, "")


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


def _arrow_text(values: pd.Series) -> pa.Array | pa.ChunkedArray:
    """A text column in Arrow (no copy when the column is Arrow-backed already)."""
    if isinstance(values.dtype, pd.StringDtype | pd.ArrowDtype):
        out = pa.array(values.array)
        return out if pa.types.is_string(out.type) else out.cast(pa.string())
    return pa.array(values.to_numpy(object), type=pa.string())


def _take(values: pa.Array | pa.ChunkedArray, at: np.ndarray) -> pa.Array:
    out = values.take(pa.array(at, type=pa.int64()))
    return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out


def _joined(items: pa.Array, at: np.ndarray, n: int, sep: str | None) -> pa.Array:
    """Items already ordered by row (`at`: their row), as a list (or `sep`-joined) per row."""
    offsets = np.zeros(n + 1, dtype="int32")
    np.cumsum(np.bincount(at, minlength=n)[:n], out=offsets[1:])
    lists = pa.ListArray.from_arrays(pa.array(offsets, type=pa.int32()), items)
    return pc.binary_join(lists, sep) if sep is not None else lists


def _rule_ids(rule_code: pd.Series, sel: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Ids of the rule codes at `sel` in order of first appearance, and the codes."""
    if isinstance(rule_code.dtype, pd.CategoricalDtype):  # integers, not strings, hashed
        ids, codes = pd.factorize(rule_code.array.codes[sel])
        if not (codes < 0).any():
            return ids, list(np.asarray(rule_code.cat.categories, dtype=object)[codes])
    ids, names = pd.factorize(rule_code.to_numpy(object)[sel])
    return ids, list(names)


def build_work_queue(
    lines: pd.DataFrame, flags: pd.DataFrame, risk_notes: pd.Series | None = None
) -> pd.DataFrame:
    """The queue from the line report frame and the flag table of one batch.

    `risk_notes` (aligned with `lines`, '' for none) are the denial-pattern notes. The
    order and the figures come first, from integers; the text is then built once, already
    in queue order (a large batch queues most of its flags).
    """
    n = len(lines)
    rules = fix_rules()
    pos = pd.Index(lines["input_row"]).get_indexer(flags["input_row"])
    idx = np.flatnonzero(flags["severity"].isin(ACTIONABLE).to_numpy())
    dollars = flags["dollars_at_risk_cents"].to_numpy("int64")[idx]
    # Within a line: the flag with the most dollars first (the line's primary flag).
    perm = np.lexsort((np.arange(len(idx)), -dollars, pos[idx]))
    sel, at, dollars = idx[perm], pos[idx][perm].astype("int64"), dollars[perm]
    rule_id, rule_names = _rule_ids(flags["rule_code"], sel)

    counts = np.bincount(at, minlength=n)[:n]
    recovers = np.array([r in rules.recovers_all for r in rule_names] + [False])[rule_id]
    recovered = np.zeros(n, dtype="int64")
    np.maximum.at(recovered, at, np.where(recovers, dollars, 0))
    first = np.zeros(n + 1, dtype="int64")
    np.cumsum(counts, out=first[1:])
    primary = np.full(n, len(rule_names), dtype="int64")  # the last name: "" (no flag)
    primary[counts > 0] = rule_id[first[:-1][counts > 0]]

    notes = _arrow_text(
        pd.Series("", index=lines.index, dtype="string")
        if risk_notes is None
        else risk_notes.fillna("").astype("string")
    )
    at_risk = lines["dollars_at_risk_cents"].fillna(0).to_numpy("int64")
    recovered = np.minimum(recovered, at_risk)
    noted = pc.not_equal(notes, "").to_numpy(zero_copy_only=False)
    rows = np.flatnonzero((counts > 0) | (at_risk > 0) | noted)
    # Claims by dollars at risk, then dollars recovered, then claim id; lines in input order.
    claim, _ = pd.factorize(lines["claim_id"].to_numpy(object)[rows], sort=True)
    claim_risk = np.bincount(claim, weights=at_risk[rows]).astype("int64")
    claim_rec = np.bincount(claim, weights=recovered[rows]).astype("int64")
    input_row = lines["input_row"].to_numpy("int64")[rows]
    perm = np.lexsort((input_row, claim, -claim_rec[claim], -claim_risk[claim]))
    rows, claim = rows[perm], claim[perm]
    m = len(rows)

    # The flags in queue order: by their line's row, then as ordered within the line.
    row_of_line = np.full(n, -1, dtype="int64")
    row_of_line[rows] = np.arange(m)
    perm = np.argsort(row_of_line[at], kind="stable")
    sel, row, rule_id = sel[perm], row_of_line[at][perm], rule_id[perm]
    codes = lines["procedure_code"].fillna("")
    group = rule_id * 2 + is_em(codes.to_numpy(object))[at[perm]]
    # One fix sentence per rule (and per E/M or not), filled with the line and code.
    fields = {
        "line": _take(_arrow_text(lines["claim_line_number"].fillna("")), at[perm]),
        "code": _take(_arrow_text(codes), at[perm]),
    }
    order = np.argsort(group, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(group[order]) != 0])[: len(sel)]
    chunks = [pa.array([], type=pa.string())]
    for start, end in zip(starts, np.r_[starts[1:], len(sel)][: len(starts)], strict=True):
        part = pa.array(order[start:end])
        g = int(group[order[start]])
        template = rules.fix_template(rule_names[g // 2], em=bool(g % 2))
        chunks.append(_render(template, **{k: v.take(part) for k, v in fields.items()}))
    del fields
    # The same fix twice on a line (one rule hit twice) is shown once.
    once = ~pd.Series(row * (2 * len(rule_names) + 2) + group).duplicated().to_numpy()
    back = np.argsort(order, kind="stable")[once]
    fix = _take(pa.chunked_array(chunks), back)
    del chunks

    def take(col: str) -> object:
        return lines[col].array.take(rows)

    first_of_claim = np.r_[True, claim[1:] != claim[:-1]] if m else np.zeros(0, bool)
    rule_text = pa.array(rule_names, type=pa.string()).take(pa.array(rule_id))
    return pd.DataFrame(
        {
            "queue_rank": np.cumsum(first_of_claim),
            **{c: take(c) for c in ("claim_id", "claim_line_number", "input_row")},
            "payer": lines["payer"].fillna("").array.take(rows),
            "provider_npi": lines["provider_npi"].fillna("").array.take(rows),
            **{c: take(c) for c in ("date_of_service", "procedure_code", "modifiers")},
            **{c: take(c) for c in ("line_status", "worst_severity")},
            "flags": pd.arrays.ArrowExtensionArray(_joined(rule_text, row, m, None)),
            "primary_flag": as_text(
                np.asarray(rule_names + [""], dtype=object)[primary[rows]],
                pa.array(rule_names + [""], type=pa.string()).take(pa.array(primary[rows])),
            ),
            "reason": pd.arrays.ArrowExtensionArray(
                _joined(_take(_arrow_text(flags["reason"]), sel), row, m, " | ")
            ),
            "fix": pd.arrays.ArrowExtensionArray(_joined(fix, row[once], m, " | ")),
            **{c: take(c) for c in ("billed_cents", "expected_allowed_cents")},
            "dollars_at_risk_cents": at_risk[rows],
            "dollars_recovered_cents": recovered[rows],
            "claim_dollars_at_risk_cents": claim_risk[claim],
            "risk_note": pd.arrays.ArrowExtensionArray(_take(notes, rows)),
            **{c: take(c) for c in ("run_id", "run_started_at")},
        }
    )


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
