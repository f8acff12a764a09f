"""Charts as PNG images (base64) for embedding in the HTML pages; no browser or network."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

from pipeline.report.html import shorten


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(width: float, height: float):
    # A bare Figure renders PNG through Agg: no pyplot, no display, no global backend change.
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def variance_by_payer(payers: Sequence[str], variance_cents: Sequence[int]) -> str:
    """Horizontal bars of paid minus expected payment per payer (red: paid less); long payer
    names are shortened (a name of millions of characters cannot be drawn)."""
    height = max(2.0, 0.45 * len(payers) + 1.2)
    fig = _figure(8, height)
    ax = fig.add_subplot()
    dollars = [v / 100 for v in variance_cents]  # display only; tables carry exact cents
    colors = ["#d64545" if v < 0 else "#3f9142" for v in dollars]
    # Bars by position: payers whose shortened names are alike still get a bar each.
    ax.barh(range(len(payers)), dollars, color=colors)
    ax.set_yticks(range(len(payers)), labels=[shorten(p) for p in payers])
    ax.invert_yaxis()
    ax.axvline(0, color="#52606d", linewidth=0.8)
    ax.set_xlabel("paid minus expected payment ($)")
    ax.set_title("Variance by payer")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def trend_by_month(months: Sequence[str], series: dict[str, Sequence[int]]) -> str:
    """One line per series of cents by month of service."""
    fig = _figure(8, 3.6)
    ax = fig.add_subplot()
    for label, cents in series.items():
        ax.plot(list(months), [c / 100 for c in cents], marker="o", label=label)
    ax.axhline(0, color="#52606d", linewidth=0.8)
    ax.set_ylabel("$")
    ax.set_title("Trend by month of service")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=9)
    if len(months) > 8:
        ax.tick_params(axis="x", labelrotation=45)
    return _png(fig)
