"""The history store: scrubbed lines kept by month so later batches' edits can see them.

Layout under the report root: `history/month=YYYY-MM/<batch>.parquet`. A rerun of a batch
overwrites its own files, and a claim line kept in several files is read once (its newest
copy), so nothing is counted twice.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.columns import HISTORY, HISTORY_OPTIONAL
from pipeline.report.line_report import as_text_column, constant_text
from pipeline.report.storage import Destination, read_checked_parquet

logger = logging.getLogger(__name__)

HISTORY_COLUMNS = HISTORY
# Global periods reach 90 days back and the day before surgery forward.
WINDOW_DAYS = 91


def key_check(patient_key: bytes) -> str:
    """A short fingerprint of the patient-hash key, to notice history hashed with another key."""
    return hmac.new(patient_key, b"claims-scrub history key check", hashlib.sha256).hexdigest()[:12]


def history_rows(
    lines: pd.DataFrame,
    batch: str,
    run_id: str,
    *,
    key_id: str,
    source: str,
    run_started_at: str = "",
) -> pd.DataFrame:
    """The columns of priced lines the history keeps (patient key hashed, no identifiers)."""
    optional = [c for c in HISTORY_OPTIONAL if c in lines.columns]
    out = {}
    for col in (*HISTORY_COLUMNS, *optional):
        values = lines[col]
        if col in ("claim_id", "claim_line_number", *optional):
            out[col] = _text(values, blank_missing=col == "payer")
        elif isinstance(values.dtype, pd.CategoricalDtype):
            out[col] = values.astype(object)  # plain text in the store, like older files
        else:
            out[col] = values
    n = len(lines)
    for col, value in (
        ("batch", batch),
        ("run_id", run_id),
        ("key_id", key_id),
        ("input", source),
        ("run_started_at", run_started_at),
    ):
        out[col] = pd.Series(constant_text(value, n), index=lines.index, copy=False)
    return pd.DataFrame(out, index=lines.index, copy=False)


def _text(values: pd.Series, *, blank_missing: bool) -> pd.Series:
    """A column as text (missing values "" with `blank_missing`)."""
    if isinstance(values.array, pd.arrays.ArrowStringArray):  # no Python strings needed
        arrow = values.array._pa_array
        arrow = pc.fill_null(arrow, "") if blank_missing else arrow
        text = as_text_column(arrow) if arrow.null_count == 0 else None
        if text is not None:
            return pd.Series(text, index=values.index, copy=False)
    text = values.astype(object)
    if blank_missing:
        text = text.where(text.notna(), "")
    return text.astype(str)


def write_history(rows: pd.DataFrame, root: Destination, batch: str) -> list[str]:
    """Write one file per month of service; replace this batch's files of earlier runs."""
    store = root.child("history")
    months = rows["dos"].dt.strftime("%Y-%m").fillna("unknown")
    old = [
        name
        for name in store.list("")
        if name.startswith("month=") and name.endswith(f"/{batch}.parquet")
    ]  # other folders (history/remittance/) are not this batch's
    _warn_if_other_input(store, old, rows)
    new = []
    for month, part in rows.groupby(months.to_numpy()):
        buf = io.BytesIO()
        part.reset_index(drop=True).to_parquet(buf, index=False)
        name = f"month={month}/{batch}.parquet"
        store.write_bytes(name, buf.getvalue())
        new.append(name)
    for name in set(old) - set(new):
        store.delete(name)  # a rerun replaces every month of its earlier run
    return [store.uri(n) for n in new]


def _warn_if_other_input(store: Destination, old: list[str], rows: pd.DataFrame) -> None:
    """A batch name reused by another input file replaces that file's history: say so."""
    if not old or rows.empty:
        return
    try:
        before = pq.read_table(io.BytesIO(store.read_bytes(old[0]) or b""), columns=["input"])
        previous = before.column("input")[0].as_py() if before.num_rows else None
    except (OSError, ValueError, KeyError, pa.ArrowException):
        return
    current = rows["input"].iloc[0]
    if previous and previous != current:
        logger.warning(
            "history of batch %r came from %s and is now replaced by %s; give each nightly "
            "file its own name (e.g. claims_2025-11-30.csv) to keep both",
            rows["batch"].iloc[0],
            previous,
            current,
        )


def read_history(
    root: Destination, lines: pd.DataFrame, *, exclude_batch: str, key_id: str | None = None
) -> pd.DataFrame:
    """Earlier batches' lines of the same patients and providers near these dates."""
    dos = lines["dos"].dropna()
    if dos.empty:
        return pd.DataFrame(columns=list(HISTORY_COLUMNS))
    start = dos.min() - pd.Timedelta(days=WINDOW_DAYS)
    end = dos.max() + pd.Timedelta(days=WINDOW_DAYS)
    months = {p.strftime("%Y-%m") for p in pd.period_range(start, end, freq="M")}
    store = root.child("history")
    frames = []
    for name in store.list(""):
        month_dir, _, file = name.partition("/")
        if (
            not month_dir.startswith("month=")
            or month_dir[6:] not in months
            or not file.endswith(".parquet")
            or "/" in file
            or file == f"{exclude_batch}.parquet"
        ):
            continue
        frame = read_checked_parquet(
            store,
            name,
            HISTORY_COLUMNS,
            "history file %s is unreadable (%s); it was skipped. Rerun the batch that wrote "
            "it, or delete the file",
        )
        if frame is not None:
            frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=list(HISTORY_COLUMNS))
    past = pd.concat(frames, ignore_index=True)
    if key_id is not None and "key_id" in past:
        other_key = (past["key_id"] != key_id).to_numpy(bool)
        if other_key.any():
            logger.warning(
                "%d history line(s) were hashed with another patient key and cannot be matched; "
                "set CLAIMS_PIPELINE_PATIENT_KEY (or _KEY_FILE) to the key used before",
                int(other_key.sum()),
            )
            past = past[~other_key]
    keys = pd.MultiIndex.from_arrays([lines["patient_key"], lines["provider"]])
    mine = pd.MultiIndex.from_arrays([past["patient_key"], past["provider"]]).isin(keys)
    in_window = (past["dos"] >= start) & (past["dos"] <= end)
    past = newest_copies(past[mine & in_window.to_numpy(bool)]).reset_index(drop=True)
    logger.info("history: %d earlier line(s) of the same patients and providers", len(past))
    return past


def newest_copies(past: pd.DataFrame) -> pd.DataFrame:
    """Each claim line (claim id, line number, patient key) once, as most recently scrubbed.

    The same line can sit in several batch files: one file scrubbed under two names, or a
    batch name reused by another file. Counting every copy would add up its units twice.
    Files written before `run_started_at` was kept count as the oldest.
    """
    line = ["claim_id", "claim_line_number", "patient_key"]
    if past.empty or not past.duplicated(line).any():
        return past
    when = past["run_started_at"].fillna("") if "run_started_at" in past else ""
    order = past.assign(_when=when).sort_values("_when", kind="stable")
    kept = order[~order.duplicated(line, keep="last")].drop(columns="_when")
    logger.info("history: %d repeated copy(ies) of claim lines left out", len(past) - len(kept))
    return kept.sort_index()


def read_history_claims(
    root: Destination, claim_ids: set[str], *, months: set[str] | None
) -> pd.DataFrame:
    """Earlier batches' lines of these claims (for matching remittances), any provider.

    `months` (YYYY-MM of service) limits the files read; None reads every month.
    """
    store = root.child("history")
    frames = []
    for name in store.list(""):
        month_dir, _, file = name.partition("/")
        if not month_dir.startswith("month=") or not file.endswith(".parquet") or "/" in file:
            continue
        if months is not None and month_dir[6:] not in months:
            continue
        try:
            frame = pq.read_table(io.BytesIO(store.read_bytes(name) or b"")).to_pandas()
        except (OSError, ValueError, pa.ArrowException) as exc:
            logger.warning("history file %s is unreadable (%s); skipped", store.uri(name), exc)
            continue
        if "claim_id" not in frame.columns:
            continue
        frame = frame[frame["claim_id"].astype(str).isin(claim_ids)]
        if len(frame):
            frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=[*HISTORY_COLUMNS, "batch", "run_id"])
    past = pd.concat(frames, ignore_index=True)
    logger.info("history: %d earlier line(s) of remitted claims", len(past))
    return past
