"""Collect rule hits as rows of one long flag table."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa

from pipeline.scrub.rules import rule_catalog
from pipeline.scrub.text import Part, render


@lru_cache(maxsize=1)
def _dictionaries() -> tuple[list[str], list[str], list[str]]:
    """Rule codes, their actions and the severities, in catalog order.

    Repeated text columns are dictionary-encoded against these fixed lists, so every batch of
    hits shares one dictionary and reordering them moves integers, not strings.
    """
    catalog = rule_catalog()
    actions = list(dict.fromkeys(r.action for r in catalog.values()))
    return list(catalog), actions, ["info", "warning", "error"]


def _repeat(position: int, n: int, dictionary: list[str]) -> pa.DictionaryArray:
    indices = pa.array(np.full(n, position, dtype="int32"))
    return pa.DictionaryArray.from_arrays(indices, pa.array(dictionary, type=pa.string()))


class FlagCollector:
    """Accumulates (line, rule) hits; each hit has a reason sentence and dollars at risk.

    Reasons are built only for the lines a rule hits, so a rule that rarely fires costs
    almost nothing on a large batch.
    """

    def __init__(self, scope: np.ndarray | None = None) -> None:
        self._parts: list[pa.Table] = []
        self._scope = scope  # lines that may be flagged (None: all)

    def absorb(self, other: FlagCollector) -> None:
        """Take over another collector's hits."""
        self._parts.extend(other._parts)

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
        mask = np.asarray(mask, dtype=bool)
        if self._scope is not None:
            mask = mask & self._scope
        sel = np.flatnonzero(mask)
        if not len(sel):
            return
        risk = np.asarray(
            pd.Series(at_risk_cents).fillna(0) if not np.isscalar(at_risk_cents) else at_risk_cents,
            dtype="int64",
        )
        risk = np.broadcast_to(risk, (len(line_index),))[sel]
        n = len(sel)
        codes, actions, severities = _dictionaries()
        position = codes.index(rule_code)
        self._parts.append(
            pa.table(
                {
                    "line_index": pa.array(np.asarray(line_index)[sel], type=pa.int64()),
                    "rule_code": _repeat(position, n, codes),
                    "severity": _repeat(severities.index(rule.severity), n, severities),
                    "reason": render(reason, sel),
                    "action": _repeat(actions.index(rule.action), n, actions),
                    "dollars_at_risk_cents": pa.array(np.maximum(risk, 0), type=pa.int64()),
                }
            )
        )

    def table(self) -> pd.DataFrame:
        """All hits, ordered by line, then in the order the rules ran.

        rule_code, severity and action are categoricals over the fixed catalog lists.
        """
        if not self._parts:
            codes, actions, severities = _dictionaries()
            return pd.DataFrame(
                {
                    "line_index": pd.Series(dtype="int64"),
                    "rule_code": pd.Categorical([], categories=codes),
                    "severity": pd.Categorical([], categories=severities),
                    "reason": pd.Series(dtype="string"),
                    "action": pd.Categorical([], categories=actions),
                    "dollars_at_risk_cents": pd.Series(dtype="int64"),
                }
            )
        table = pa.concat_tables(self._parts).combine_chunks()
        order = np.argsort(table["line_index"].to_numpy(), kind="stable")
        table = table.take(order)
        return table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)
