"""Collect rule hits as rows of one long flag table."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from pipeline.scrub.rules import rule_catalog
from pipeline.scrub.text import Part, render

FLAG_COLUMNS = ("line_index", "rule_code", "severity", "reason", "action", "dollars_at_risk_cents")


class FlagCollector:
    """Accumulates (line, rule) hits; each hit has a reason sentence and dollars at risk.

    Reasons are built only for the lines a rule hits, so a rule that rarely fires costs
    almost nothing on a large batch.
    """

    def __init__(self) -> None:
        self._parts: list[pa.Table] = []

    def add(
        self,
        rule_code: str,
        mask: np.ndarray | pd.Series,
        line_index: np.ndarray,
        reason: str | Sequence[Part],
        at_risk_cents: np.ndarray | pd.Series | int = 0,
    ) -> None:
        """Record `rule_code` on every line where `mask` is true."""
        rule = rule_catalog()[rule_code]  # KeyError here means a rule missing from the catalog
        sel = np.flatnonzero(np.asarray(mask, dtype=bool))
        if not len(sel):
            return
        risk = np.asarray(
            pd.Series(at_risk_cents).fillna(0) if not np.isscalar(at_risk_cents) else at_risk_cents,
            dtype="int64",
        )
        risk = np.broadcast_to(risk, (len(line_index),))[sel]
        n = len(sel)
        self._parts.append(
            pa.table(
                {
                    "line_index": pa.array(np.asarray(line_index)[sel], type=pa.int64()),
                    "rule_code": pa.repeat(pa.scalar(rule_code, pa.string()), n),
                    "severity": pa.repeat(pa.scalar(rule.severity, pa.string()), n),
                    "reason": render(reason, sel),
                    "action": pa.repeat(pa.scalar(rule.action, pa.string()), n),
                    "dollars_at_risk_cents": pa.array(np.maximum(risk, 0), type=pa.int64()),
                }
            )
        )

    def table(self) -> pd.DataFrame:
        """All hits, ordered by line, then in the order the rules ran."""
        if not self._parts:
            return pd.DataFrame(
                {
                    "line_index": pd.Series(dtype="int64"),
                    "rule_code": pd.Series(dtype="string"),
                    "severity": pd.Series(dtype="string"),
                    "reason": pd.Series(dtype="string"),
                    "action": pd.Series(dtype="string"),
                    "dollars_at_risk_cents": pd.Series(dtype="int64"),
                }
            )
        table = pa.concat_tables(self._parts)
        order = np.argsort(table["line_index"].to_numpy(), kind="stable")
        table = table.take(order)
        return table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)
