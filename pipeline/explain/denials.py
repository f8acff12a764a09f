"""Denial patterns for one code from the organization's own remittances (depends on issue #6).

Reading X12 835 remittances and matching them to claim lines is issue #6, built separately.
This module is only the reading end: it looks in the history store that `claims-scrub run`
keeps (OUT/history/month=YYYY-MM/<batch>.parquet) for lines that carry a `denial_reason`
column (the CARC group and code of the denial, e.g. "CO-97"; empty for a paid line). A
reason is shown as a pattern only when at least MIN_DENIALS denials of the code share it.
Until #6 writes that column, every history store answers "no remittance history".
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

DENIAL_COLUMN = "denial_reason"
MIN_DENIALS = 5
_WANTED = ("hcpcs", DENIAL_COLUMN, "mod_1", "mod_2", "mod_3", "mod_4", "charge_cents", "dos")


def _denial_lines(store: Destination, code: str) -> tuple[pd.DataFrame | None, int]:
    """The code's lines from every history file with denial records; how many files had them."""
    frames, with_column = [], 0
    for name in store.list(""):
        if not name.endswith(".parquet"):
            continue
        data = store.read_bytes(name) or b""
        try:
            names = pq.read_schema(io.BytesIO(data)).names
            if DENIAL_COLUMN not in names or "hcpcs" not in names:
                continue
            columns = [c for c in _WANTED if c in names]
            table = pq.read_table(io.BytesIO(data), columns=columns)
        except (OSError, ValueError, pa.ArrowException) as exc:
            logger.warning("history file %s is unreadable (%s); skipped", store.uri(name), exc)
            continue
        with_column += 1
        frame = table.to_pandas()
        frames.append(frame[frame["hcpcs"] == code])
    if not with_column:
        return None, 0
    return pd.concat(frames, ignore_index=True), with_column


def denial_patterns(root: Destination | None, code: str) -> dict[str, object]:
    """Denial reasons of `code` supported by at least MIN_DENIALS denials, most frequent first."""
    if root is None:
        return {
            "available": False,
            "note": "no remittance history (pass --reports OUT, the folder given to "
            "`claims-scrub run --out`)",
        }
    store = root.child("history")
    lines, files = _denial_lines(store, code)
    if lines is None:
        return {
            "available": False,
            "note": f"no remittance history: no denial records in {store.uri('')} (remittances "
            "are read into the history store by issue #6)",
        }
    reason = lines[DENIAL_COLUMN].fillna("").astype(str).str.strip()
    denied = lines[reason != ""].assign(reason=reason[reason != ""])
    modifiers = pd.Series("", index=denied.index, dtype=object)
    for col in ("mod_1", "mod_2", "mod_3", "mod_4"):
        if col in denied:
            mod = denied[col].fillna("").astype(str).str.strip()
            modifiers = np.where(
                mod == "", modifiers, np.where(modifiers == "", mod, modifiers + " " + mod)
            )
    denied = denied.assign(modifiers=modifiers)
    patterns = []
    for why, group in denied.groupby("reason", sort=False):
        if len(group) < MIN_DENIALS:
            continue
        top = group["modifiers"].value_counts()
        patterns.append(
            {
                "denial_reason": why,
                "denials": len(group),
                "most_common_modifiers": top.index[0] or "none",
                "with_those_modifiers": int(top.iloc[0]),
                "denied_charge_cents": int(group["charge_cents"].fillna(0).sum())
                if "charge_cents" in group
                else None,
            }
        )
    patterns.sort(key=lambda p: (-p["denials"], p["denial_reason"]))
    return {
        "available": True,
        "history_files": files,
        "lines": len(lines),
        "denials": len(denied),
        "minimum_per_pattern": MIN_DENIALS,
        "patterns": patterns,
    }
