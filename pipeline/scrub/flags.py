"""Collect rule hits as rows of one long flag table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.scrub.rules import rule_catalog

FLAG_COLUMNS = ("line_index", "rule_code", "severity", "reason", "action", "dollars_at_risk_cents")


class FlagCollector:
    """Accumulates (line, rule) hits; each hit has a reason sentence and dollars at risk."""

    def __init__(self) -> None:
        self._parts: list[pd.DataFrame] = []

    def add(
        self,
        rule_code: str,
        mask: np.ndarray | pd.Series,
        line_index: np.ndarray,
        reason: str | pd.Series,
        at_risk_cents: np.ndarray | pd.Series | int = 0,
    ) -> None:
        """Record `rule_code` on every line where `mask` is true."""
        rule = rule_catalog()[rule_code]  # KeyError here means a rule missing from the catalog
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        n = int(mask.sum())
        reasons = (
            pd.Series([reason] * n, dtype="string")
            if isinstance(reason, str)
            else pd.Series(np.asarray(reason, dtype=object)[mask], dtype="string")
        )
        risk = np.broadcast_to(np.asarray(at_risk_cents, dtype="int64"), mask.shape)[mask]
        self._parts.append(
            pd.DataFrame(
                {
                    "line_index": np.asarray(line_index)[mask],
                    "rule_code": rule_code,
                    "severity": rule.severity,
                    "reason": reasons.to_numpy(),
                    "action": rule.action,
                    "dollars_at_risk_cents": np.maximum(risk, 0),
                }
            )
        )

    def table(self) -> pd.DataFrame:
        """All hits, ordered by line and rule code."""
        if not self._parts:
            return pd.DataFrame({c: pd.Series(dtype="object") for c in FLAG_COLUMNS}).astype(
                {"line_index": "int64", "dollars_at_risk_cents": "int64"}
            )
        out = pd.concat(self._parts, ignore_index=True)
        return out.sort_values(["line_index", "rule_code"], kind="stable").reset_index(drop=True)
