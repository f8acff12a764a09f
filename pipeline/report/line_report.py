"""Build the line report, the claim ranking and the flag table from priced lines."""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.columns import INTERNAL, MODIFIERS
from pipeline.factorize import factorized
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
    rank = severity_rank(flags["severity"])
    risk, sev = np.zeros(n, dtype="int64"), np.zeros(n, dtype="int64")
    flagged = np.diff(offsets) > 0
    if flagged.any():  # each line's flags are neighbours: reduce each run
        starts = offsets[:-1][flagged]
        dollars = flags["dollars_at_risk_cents"].to_numpy("int64")
        risk[flagged] = np.maximum(np.maximum.reduceat(dollars, starts), 0)
        sev[flagged] = np.maximum(np.maximum.reduceat(rank, starts), 0)
    added = {
        "flags": pd.arrays.ArrowExtensionArray(pa.ListArray.from_arrays(offsets, codes)),
        "dollars_at_risk_cents": risk,
        "worst_severity": _severity_names(sev),
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
    return {
        "provider_npi": _plain(lines["provider"]),
        "date_of_service": lines["dos"],
        "procedure_code": _plain(lines["hcpcs"]),
        "modifiers": pd.Series(_joined_modifiers(lines), index=lines.index, copy=False),
        "billed_cents": lines["charge_cents"],
        "paid_cents": lines["paid_cents"],
    }


def _plain(column: pd.Series) -> pd.Series:
    """A text column as plain object values (pricing keeps some as categoricals)."""
    return pd.Series(np.asarray(column, dtype=object), index=column.index, dtype=object)


def _joined_modifiers(lines: pd.DataFrame):
    """The modifiers of each line joined with ';', blanks left out.

    Lines share few modifier combinations: each combination is joined once, then spread.
    """
    ids, texts = [], []
    for col in MODIFIERS:
        col_ids, values = _filled_ids(lines[col])
        ids.append(col_ids)
        texts.append(["", *(str(v) for v in values)])
    key = np.zeros(len(lines), dtype="int64")
    for col_ids, values in zip(ids, texts, strict=True):
        if len(key) and (int(key.max()) + 1) * len(values) >= 2**62:
            key = pd.factorize(key)[0]  # renumber the combinations so far before they overflow
        key = key * len(values) + col_ids
    at, combos = pd.factorize(key)
    first = np.empty(len(combos), dtype="int64")
    first[at[::-1]] = np.arange(len(key) - 1, -1, -1)  # the first line of each combination
    joined = [
        re.sub(";+", ";", ";".join(t[i[f]] for i, t in zip(ids, texts, strict=True))).strip(";")
        for f in first.tolist()
    ]
    dtype = _arrow_text()
    if dtype is not None:
        return dtype.__from_arrow__(pa.array(joined, type=pa.string()).take(pa.array(at)))
    return np.array(joined, dtype=object)[at]


def _filled_ids(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Ids from 1 into the distinct values of a text column; 0 where it is missing or blank.

    An object column is hashed only where it is filled (most modifiers are blank).
    """
    if series.dtype != object:
        ids, values = factorized(series)
        return ids + 1, values
    text = series.to_numpy()
    filled = np.flatnonzero(text != "")
    filled = filled[~pd.isna(text[filled])]
    ids = np.zeros(len(text), dtype="int64")
    filled_ids, values = pd.factorize(text[filled])
    ids[filled] = filled_ids + 1
    return ids, np.asarray(values, dtype=object)


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
    claim, claim_ids = _claim_key(lines["claim_id"])
    group = _Groups(claim)
    first = group.first
    paid, allowed = lines["paid_cents"], lines["expected_allowed_cents"]
    errors = group.sum(lines["flags_errors"].to_numpy("int64"))
    warnings = group.sum(lines["flags_warnings"].to_numpy("int64"))
    at_risk = group.sum(lines["dollars_at_risk_cents"].to_numpy("int64"))
    weights = edit_rules()["risk_score"]
    risk_score = (
        at_risk + errors * weights["per_error_cents"] + warnings * weights["per_warning_cents"]
    )
    ids = np.asarray(claim_ids, dtype=object)[group.ids]
    id_text = pa.array(ids, type=pa.string())
    # Worst first; claim ids are distinct, so the order is total.
    rank = pc.sort_indices(
        pa.table({"r": risk_score, "d": at_risk, "e": errors, "c": id_text}),
        [("r", "descending"), ("d", "descending"), ("e", "descending"), ("c", "ascending")],
    ).to_numpy()
    at = first[rank]

    def nullable(values: pd.Series) -> pd.arrays.IntegerArray:
        present = group.sum(values.notna().to_numpy("int64"))[rank]
        return pd.arrays.IntegerArray(
            group.sum(values.fillna(0).to_numpy("int64"))[rank], present == 0
        )

    def text(col: str):
        return _text_at(lines[col], at)

    return pd.DataFrame(
        {
            "rank": np.arange(1, len(rank) + 1),
            "claim_id": as_text(ids[rank], id_text.take(rank)),
            "payer": text("payer") if "payer" in lines else "",
            "provider_npi": text("provider"),
            "patient_id": text("patient_id"),
            "first_date_of_service": group.earliest(lines["dos"].to_numpy())[rank],
            "lines": group.size[rank],
            "billed_cents": group.sum(lines["charge_cents"].fillna(0).to_numpy("int64"))[rank],
            "expected_allowed_cents": nullable(allowed),
            "paid_cents": nullable(paid),
            "dollars_at_risk_cents": at_risk[rank],
            "flag_count": group.sum(lines["flag_count"].to_numpy("int64"))[rank],
            "errors": errors[rank],
            "warnings": warnings[rank],
            "rule_codes": _rule_codes_per_claim(group.position(rank), flags),
            "worst_severity": _severity_names(
                group.max(severity_rank(lines["worst_severity"]))[rank]
            ),
            "risk_score_cents": risk_score[rank],
        }
    )


@lru_cache(maxsize=1)
def _arrow_text() -> pd.StringDtype | None:
    """The dtype pandas gives a column of Python strings when that is Arrow text (pandas 3's
    "str"); None when it is object."""
    dtype = pd.Series(np.array(["a"], dtype=object)).dtype
    return dtype if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow" else None


def as_text(values: np.ndarray, arrow: pa.Array | None = None):
    """An object column of text typed as the frame constructor would type it, without the
    constructor's check of every string (`arrow`: the same values already in Arrow)."""
    dtype = _arrow_text()
    if dtype is not None and pd.api.types.infer_dtype(values, skipna=False) == "string":
        return dtype.__from_arrow__(pa.array(values, type=pa.string()) if arrow is None else arrow)
    return values


def _text_at(series: pd.Series, at: np.ndarray):
    """The values of a text column at positions `at`, as a new frame column."""
    values = series.array
    dtype = _arrow_text()
    if isinstance(values, pd.arrays.ArrowStringArray) and dtype is not None and len(at):
        taken = values._pa_array.take(pa.array(at))
        if taken.null_count == 0:  # plain strings: typed as the constructor would type them
            return dtype.__from_arrow__(taken)
    return as_text(np.asarray(values.take(at), dtype=object))


def text_at(series: pd.Series, at: np.ndarray):
    """The values of `series` at positions `at`, typed as `series.to_numpy()[at]` would be in
    a new frame, without going through Python strings when the column is Arrow text."""
    if isinstance(series.array, pd.arrays.ArrowStringArray):
        return _text_at(series, at)
    return series.to_numpy()[at]


def as_text_column(text: pa.Array | pa.ChunkedArray):
    """Arrow text without nulls as the column pandas makes of the same Python strings, or
    None when that column would not be Arrow text (pandas before 3)."""
    dtype = _arrow_text()
    return None if dtype is None else dtype.__from_arrow__(text)


def constant_text(value: str, n: int):
    """A text column of `n` copies of `value`, typed as a frame column set to `value` is."""
    dtype = _arrow_text()
    if dtype is not None:
        return dtype.__from_arrow__(pa.repeat(pa.scalar(value, pa.large_string()), n))
    return np.full(n, value, dtype=object)


def _severity_names(rank: np.ndarray):
    names = np.array(["", "info", "warning", "error"], dtype=object)
    return as_text(names[rank], pa.array(names.tolist()).take(pa.array(rank)))


def _claim_key(claim_id: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer ids of the claims in order of first appearance, and the claim ids.

    A batch lists each claim's lines together: then comparing neighbours finds the claims,
    and only one id per claim is hashed (to make sure no claim comes back later).
    """
    values = claim_id.array
    if isinstance(values, pd.arrays.ArrowStringArray) and len(values) > 1:
        text = values._pa_array.combine_chunks()
        if text.null_count == 0:
            change = pc.not_equal(text[1:], text[:-1]).to_numpy(zero_copy_only=False)
            starts = np.flatnonzero(np.r_[True, change])
            heads = text.take(pa.array(starts))
            if pc.count_distinct(heads).as_py() == len(starts):
                size = np.diff(np.r_[starts, len(text)])
                ids = np.repeat(np.arange(len(starts), dtype="int64"), size)
                return ids, heads.to_numpy(zero_copy_only=False).astype(object)
    return factorized(claim_id)


class _Groups:
    """Lines grouped by an integer key: sums and extremes per key with exact integers."""

    def __init__(self, key: np.ndarray) -> None:
        n = len(key)
        ordered = n < 2 or bool((key[1:] >= key[:-1]).all())
        self.order = None if ordered else np.argsort(key, kind="stable")
        k = key if self.order is None else key[self.order]
        self.starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]]) if n else np.zeros(0, "int64")
        self.ids = k[self.starts]  # the keys present, ascending
        self.first = self.starts if self.order is None else self.order[self.starts]
        self.size = np.diff(np.r_[self.starts, n]).astype("int64")
        self.group_of_line = np.repeat(np.arange(len(self.starts)), self.size)
        if self.order is not None:
            self.group_of_line[self.order] = self.group_of_line.copy()

    def _sorted(self, values: np.ndarray) -> np.ndarray:
        return values if self.order is None else values[self.order]

    def sum(self, values: np.ndarray) -> np.ndarray:
        if not len(self.starts):
            return np.zeros(0, dtype="int64")
        return np.add.reduceat(self._sorted(values.astype("int64", copy=False)), self.starts)

    def max(self, values: np.ndarray) -> np.ndarray:
        if not len(self.starts):
            return np.zeros(0, dtype="int64")
        return np.maximum.reduceat(self._sorted(values), self.starts)

    def earliest(self, dates: np.ndarray) -> np.ndarray:
        """The earliest date of each group, skipping missing dates (NaT when all are)."""
        latest = np.iinfo("int64").max
        as_int = np.where(np.isnat(dates), latest, dates.view("int64"))
        if not len(self.starts):
            return as_int[:0].view(dates.dtype)
        low = np.minimum.reduceat(self._sorted(as_int), self.starts)
        low[low == latest] = np.iinfo("int64").min  # NaT
        return low.view(dates.dtype)

    def position(self, rank: np.ndarray) -> np.ndarray:
        """Each line's row among the groups taken in `rank` order."""
        place = np.empty(len(rank), dtype="int64")
        place[rank] = np.arange(len(rank))
        return place[self.group_of_line]


def _rule_codes_per_claim(claim: np.ndarray, flags: pd.DataFrame):
    """Distinct rule codes of each claim, sorted, as an Arrow list column.

    `claim` holds each line's row in the result (0 .. claims - 1).
    """
    n_claims = int(claim.max()) + 1 if len(claim) else 0
    rules = pd.Categorical(flags["rule_code"])
    names = np.asarray(rules.categories, dtype=object)
    by_name = np.argsort(names, kind="stable")  # alphabetical position -> category
    position = np.empty(len(names), dtype="int64")
    position[by_name] = np.arange(len(names))
    # One cell per (claim, rule); the set cells read row by row are each claim's codes in
    # alphabetical order.
    seen = np.zeros((n_claims, len(names)), dtype=bool)
    seen[claim[flags["line_index"].to_numpy("int64")], position[rules.codes]] = True
    c, r = np.nonzero(seen)
    offsets = np.zeros(n_claims + 1, dtype="int32")
    np.cumsum(seen.sum(axis=1), out=offsets[1:])
    values = pa.array(names[by_name], type=pa.string()).take(pa.array(r))
    return pd.arrays.ArrowExtensionArray(pa.ListArray.from_arrays(offsets, values))
