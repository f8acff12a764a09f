"""Standalone HTML pages: stamped header, sortable tables, embedded images; no outside files.

Every page works offline in any browser: styles and the small sorting script are inline,
and charts are PNG images inside the page.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from pipeline.report.settings import report_settings
from pipeline.report.stamp import releases_text

STYLE = """
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       margin: 24px; color: #1f2933; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #d9e2ec; padding-bottom: 4px; }
.stamp { color: #52606d; font-size: 12px; margin-bottom: 16px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 12px 0; }
.card { border: 1px solid #d9e2ec; border-radius: 6px; padding: 8px 14px; min-width: 150px; }
.card b { display: block; font-size: 18px; }
.card span { color: #52606d; font-size: 12px; }
.alert { background: #fff3c4; border-left: 4px solid #f0b429; padding: 8px 12px; margin: 6px 0; }
.ok { background: #e3f9e5; border-left: 4px solid #3f9142; padding: 8px 12px; margin: 6px 0; }
.note { color: #52606d; font-size: 12px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { border: 1px solid #d9e2ec; padding: 4px 8px; vertical-align: top; text-align: left; }
th { background: #f0f4f8; position: sticky; top: 0; }
table.sortable th { cursor: pointer; user-select: none; }
th[aria-sort="ascending"]::after { content: " \\25B2"; }
th[aria-sort="descending"]::after { content: " \\25BC"; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.wrap { min-width: 200px; max-width: 420px; }
td.wrap div + div { margin-top: 3px; padding-top: 3px; border-top: 1px dotted #bcccdc; }
tr.error td:first-child { border-left: 4px solid #d64545; }
tr.warning td:first-child { border-left: 4px solid #f0b429; }
img.chart { max-width: 100%; border: 1px solid #d9e2ec; margin: 8px 0; }
"""

# Click a header to sort; click again to reverse. `#sort=TABLE:COLUMN:asc|desc` in the
# address sorts on load (a link can open the page sorted).
SCRIPT = """
function sortTable(table, col, desc) {
  const th = table.tHead.rows[0].cells[col];
  const num = th.classList.contains('num');
  const key = (row) => {
    const cell = row.cells[col];
    const raw = cell.dataset.v !== undefined ? cell.dataset.v : cell.textContent.trim();
    return num ? (raw === '' ? -Infinity : Number(raw)) : raw.toLowerCase();
  };
  const rows = Array.from(table.tBodies[0].rows);
  rows.sort((a, b) => {
    const x = key(a), y = key(b);
    return (x < y ? -1 : x > y ? 1 : 0) * (desc ? -1 : 1);
  });
  rows.forEach((r) => table.tBodies[0].appendChild(r));
  Array.from(table.tHead.rows[0].cells).forEach((c) => c.removeAttribute('aria-sort'));
  th.setAttribute('aria-sort', desc ? 'descending' : 'ascending');
}
document.querySelectorAll('table.sortable').forEach((table) => {
  Array.from(table.tHead.rows[0].cells).forEach((th, i) => {
    th.title = 'Click to sort';
    th.addEventListener('click', () => {
      const desc = th.getAttribute('aria-sort') === 'ascending';
      sortTable(table, i, desc);
    });
  });
});
const wanted = decodeURIComponent(location.hash).match(/^#sort=([\\w-]+):(\\d+):(asc|desc)$/);
if (wanted && document.getElementById(wanted[1])) {
  sortTable(document.getElementById(wanted[1]), Number(wanted[2]), wanted[3] === 'desc');
}
"""


def money(cents: Any) -> str:
    """Integer cents as dollars, exactly: 123456 -> '$1,234.56'; missing -> ''."""
    if cents is None or pd.isna(cents):
        return ""
    cents = int(cents)
    whole, frac = divmod(abs(cents), 100)
    return f"{'-' if cents < 0 else ''}${whole:,}.{frac:02d}"


def shorten(text: str, limit: int | None = None) -> str:
    """`text` cut to `limit` characters (default: html.label_max_chars), ending in "…"."""
    limit = limit or report_settings()["html"]["label_max_chars"]
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plain(value: Any) -> str:
    """A cell value as text: "" when missing, lists joined with ", ", dates as YYYY-MM-DD."""
    if value is None or (not isinstance(value, list | tuple) and pd.isna(value)):
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    return str(value)


def esc(value: Any, limit: int | None = None) -> str:
    """A value as HTML text, shortened to `limit` characters (see `shorten`)."""
    return html.escape(shorten(plain(value), limit))


@dataclass(frozen=True)
class Column:
    """One table column: the frame column, its heading and how to show it."""

    name: str
    label: str
    kind: str = "text"  # text, wrap, lines, int, money, pct

    def cell(self, value: Any) -> str:
        if self.kind == "money":
            raw = "" if value is None or pd.isna(value) else str(int(value))
            return f'<td class="num" data-v="{raw}">{money(value)}</td>'
        if self.kind == "int":
            raw = "" if value is None or pd.isna(value) else str(int(value))
            shown = f"{int(value):,}" if raw else ""
            return f'<td class="num" data-v="{raw}">{shown}</td>'
        if self.kind == "pct":
            raw = "" if value is None or pd.isna(value) else f"{float(value):.6f}"
            shown = f"{float(value):.1f}%" if raw else ""
            return f'<td class="num" data-v="{raw}">{shown}</td>'
        if self.kind == "lines":  # one entry per line: lists, or text joined with " | "
            limit = report_settings()["html"]["text_max_chars"]
            items = value if isinstance(value, list | tuple) else plain(value).split(" | ")
            shown = "".join(f"<div>{esc(i, limit)}</div>" for i in items)
            return f'<td class="wrap">{shown}</td>'
        if self.kind == "wrap":
            return (
                f'<td class="wrap">{esc(value, report_settings()["html"]["text_max_chars"])}</td>'
            )
        return f"<td>{esc(value)}</td>"

    def head(self) -> str:
        cls = ' class="num"' if self.kind in ("money", "int", "pct") else ""
        return f"<th{cls}>{html.escape(self.label)}</th>"


def table(
    frame: pd.DataFrame,
    columns: Sequence[Column],
    *,
    table_id: str,
    row_class: str | None = None,
    sortable: bool = True,
) -> str:
    """A table of the frame's rows (the caller limits how many)."""
    cls = ' class="sortable"' if sortable else ""
    out = [f'<table id="{table_id}"{cls}><thead><tr>']
    out += [c.head() for c in columns]
    out.append("</tr></thead><tbody>")
    values = [frame[c.name].tolist() for c in columns]
    classes = frame[row_class].tolist() if row_class else [""] * len(frame)
    for i, css in enumerate(classes):
        attr = f' class="{html.escape(str(css))}"' if css else ""
        out.append(
            f"<tr{attr}>" + "".join(c.cell(v[i]) for c, v in zip(columns, values, strict=True))
        )
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def cards(items: Iterable[tuple[str, str]]) -> str:
    """Headline figures: (value, label) pairs."""
    body = "".join(
        f'<div class="card"><b>{html.escape(v)}</b><span>{html.escape(k)}</span></div>'
        for v, k in items
    )
    return f'<div class="cards">{body}</div>'


def stamp_block(st: dict[str, Any]) -> str:
    return (
        '<div class="stamp">'
        f"Batch <b>{html.escape(str(st['batch']))}</b> &middot; run "
        f"<b>{html.escape(str(st['run_id']))}</b> &middot; started "
        f"{html.escape(str(st['run_started_at']))} &middot; releases: "
        f"{html.escape(releases_text(st))}</div>"
    )


def page(title: str, st: dict[str, Any], body: str) -> str:
    """A complete standalone page with the run stamp under the title."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="claims-scrub-run-id" content="{html.escape(str(st["run_id"]))}">'
        f"<title>{html.escape(title)} - {html.escape(str(st['batch']))}</title>"
        f"<style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{stamp_block(st)}{body}"
        f"<script>{SCRIPT}</script></body></html>\n"
    )
