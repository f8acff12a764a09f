"""The history store: scrubbed lines kept by month so later batches' edits can see them.

Layout under the report root: `history/month=YYYY-MM/<batch>.parquet`. A rerun of a batch
overwrites its own files, so nothing is counted twice.
"""

from __future__ import annotations

import io
import logging

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.report.storage import Destination

logger = logging.getLogger(__name__)

HISTORY_COLUMNS = (
    "claim_id",
    "claim_line_number",
    "patient_key",
    "provider",
    "dos",
    "hcpcs",
    "mod_1",
    "mod_2",
    "mod_3",
    "mod_4",
    "units",
    "glob_days",
    "line_status",
    "expected_allowed_cents",
    "charge_cents",
)
# Global periods reach 90 days back and the day before surgery forward.
WINDOW_DAYS = 91


def history_rows(lines: pd.DataFrame, batch: str, run_id: str) -> pd.DataFrame:
    """The columns of priced lines the history keeps (patient key hashed, no identifiers)."""
    out = lines[list(HISTORY_COLUMNS)].copy()
    for col in ("claim_id", "claim_line_number"):
        out[col] = out[col].astype(str)
    return out.assign(batch=batch, run_id=run_id)


def write_history(rows: pd.DataFrame, root: Destination, batch: str) -> list[str]:
    """Write one file per month of service; replace this batch's files of earlier runs."""
    store = root.child("history")
    months = rows["dos"].dt.strftime("%Y-%m").fillna("unknown")
    written = []
    for old in store.list(""):
        if old.endswith(f"/{batch}.parquet"):
            store.delete(old)  # a rerun replaces every month of its earlier run
    for month, part in rows.groupby(months.to_numpy()):
        buf = io.BytesIO()
        part.reset_index(drop=True).to_parquet(buf, index=False)
        written.append(store.write_bytes(f"month={month}/{batch}.parquet", buf.getvalue()))
    return written


def read_history(root: Destination, lines: pd.DataFrame, *, exclude_batch: str) -> pd.DataFrame:
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
        data = store.read_bytes(name)
        try:
            frame = pq.read_table(io.BytesIO(data or b"")).to_pandas()
            missing = [c for c in HISTORY_COLUMNS if c not in frame.columns]
            if missing:
                raise ValueError(f"missing columns {missing}")
        except (OSError, ValueError, pa.ArrowException) as exc:
            logger.warning(
                "history file %s is unreadable (%s); it was skipped. Rerun the batch that "
                "wrote it, or delete the file",
                store.uri(name),
                str(exc)[:120],
            )
            continue
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=list(HISTORY_COLUMNS))
    past = pd.concat(frames, ignore_index=True)
    keys = set(zip(lines["patient_key"], lines["provider"], strict=True))
    mine = np.array(
        [k in keys for k in zip(past["patient_key"], past["provider"], strict=True)], dtype=bool
    )
    in_window = (past["dos"] >= start) & (past["dos"] <= end)
    past = past[mine & in_window.to_numpy(bool)].reset_index(drop=True)
    logger.info("history: %d earlier line(s) of the same patients and providers", len(past))
    return past
