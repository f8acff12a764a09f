"""Collect rule hits as rows of one long flag table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa

from pipeline.scrub.rules import rule_catalog
from pipeline.scrub.text import Part, render


@lru_cache(maxsize=1)
def _dictionaries() -> tuple[list[str], list[str], list[str]]:
    """Rule codes, their actions and the severities, in catalog order.

    The repeated text columns of the table are categoricals over these fixed lists, so every
    batch of hits shares them and reordering hits moves integers, not strings.
    """
    catalog = rule_catalog()
    actions = list(dict.fromkeys(r.action for r in catalog.values()))
    return list(catalog), actions, ["info", "warning", "error"]


@lru_cache(maxsize=1)
def _rule_positions() -> tuple[dict[str, int], np.ndarray, np.ndarray]:
    """Position of each rule code, and the severity and action position of each rule."""
    catalog = rule_catalog()
    codes, actions, severities = _dictionaries()
    severity = np.array([severities.index(catalog[c].severity) for c in codes], dtype="int8")
    action = np.array([actions.index(catalog[c].action) for c in codes], dtype="int16")
    return {c: i for i, c in enumerate(codes)}, severity, action


@dataclass(frozen=True)
class _Hits:
    """The hits of one `add` call, in line order."""

    rule: int  # position in the catalog
    line_index: np.ndarray  # int64
    reason: pa.Array  # string
    risk: np.ndarray  # int64, not negative


def _risk(at_risk_cents, sel: np.ndarray, n: int) -> np.ndarray:
    """Dollars at risk of the selected rows: missing counts as 0, negative as 0."""
    if np.isscalar(at_risk_cents):
        risk = np.full(len(sel), at_risk_cents, dtype="int64")
    elif isinstance(at_risk_cents, np.ndarray) and at_risk_cents.dtype.kind in "iub":
        risk = np.broadcast_to(at_risk_cents, (n,))[sel].astype("int64", copy=False)
    else:
        values = pd.Series(at_risk_cents)
        at = sel if len(values) != 1 else np.zeros(len(sel), dtype="int64")  # one broadcasts
        risk = np.asarray(values.iloc[at].fillna(0), dtype="int64")
    return np.maximum(risk, 0)


class FlagCollector:
    """Accumulates (line, rule) hits; each hit has a reason sentence and dollars at risk.

    Reasons are built only for the lines a rule hits, so a rule that rarely fires costs
    almost nothing on a large batch.
    """

    def __init__(self, scope: np.ndarray | None = None) -> None:
        self._parts: list[_Hits] = []
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
        position = _rule_positions()[0][rule_code]  # KeyError: a rule missing from the catalog
        mask = np.asarray(mask, dtype=bool)
        if self._scope is not None:
            mask = mask & self._scope
        sel = np.flatnonzero(mask)
        if not len(sel):
            return
        self._parts.append(
            _Hits(
                rule=position,
                line_index=np.asarray(line_index)[sel].astype("int64", copy=False),
                reason=render(reason, sel),
                risk=_risk(at_risk_cents, sel, len(line_index)),
            )
        )

    def table(self) -> pd.DataFrame:
        """All hits, ordered by line, then in the order the rules ran.

        rule_code, severity and action are categoricals over the fixed catalog lists.
        """
        codes, actions, severities = _dictionaries()
        if not self._parts:
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
        parts = self._parts
        line = np.concatenate([p.line_index for p in parts])
        # Each part is in line order already: a stable sort only merges the runs.
        order = np.argsort(line, kind="stable")
        rule = np.repeat(
            np.array([p.rule for p in parts], dtype="int16"),
            [len(p.line_index) for p in parts],
        )[order]
        _, severity, action = _rule_positions()
        # One pass over the reason text, straight into line order (no combined copy first).
        reason = pa.chunked_array([p.reason for p in parts], type=pa.string()).take(order)
        return pd.DataFrame(
            {
                "line_index": line[order],
                "rule_code": pd.Categorical.from_codes(rule, categories=codes),
                "severity": pd.Categorical.from_codes(severity[rule], categories=severities),
                "reason": pd.StringDtype("pyarrow").__from_arrow__(reason),
                "action": pd.Categorical.from_codes(action[rule], categories=actions),
                "dollars_at_risk_cents": np.concatenate([p.risk for p in parts])[order],
            },
            copy=False,
        )
