"""The validation results of a run as JSON and as one self-contained HTML page.

Great Expectations' own Data Docs pages load scripts, styles and a logo from public CDNs,
which neither works offline nor suits patient-adjacent reports, so the page is built here
from the same GX results (what was checked, how many rows, what failed, examples).
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

from pipeline.validate.runner import gx_version


def validation_document(
    *,
    run_id: str,
    batch: str,
    claims: Any,  # claims_suite.ClaimValidation
    reference: Any | None,  # reference_suites.ReferenceValidation
    releases_used: list[str],
    releases_refused: list[dict[str, str]],
) -> dict[str, Any]:
    """Everything checked for one batch: the claim suites and the reference files used."""
    return {
        "run_id": run_id,
        "batch": batch,
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "great_expectations_version": gx_version(),
        "outcome": "passed" if claims.passed else "failed",
        "failure": claims.failure(),
        "claims": {**claims.summary(), "suites": [s.to_json() for s in claims.suites]},
        "reference": {
            "releases_used": releases_used,
            "releases_refused": releases_refused,
            "suites": reference.to_json() if reference is not None else [],
        },
    }


_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:80em}
h1{font-size:1.4em} h2{font-size:1.2em;margin-top:2em} h3{font-size:1em;margin-bottom:.3em}
table{border-collapse:collapse;width:100%;margin-bottom:1em;font-size:.9em}
th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3} td.n{text-align:right;white-space:nowrap}
.ok{color:#176c2f;font-weight:bold} .bad{color:#b00020;font-weight:bold}
.warn{color:#8a5a00;font-weight:bold} .box{padding:.6em 1em;border-radius:4px;margin:1em 0}
.box.ok{background:#e6f4ea} .box.bad{background:#fde7e9} code{font-size:.95em}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _status(check: dict[str, Any]) -> str:
    if check["success"]:
        return '<span class="ok">passed</span>'
    if check["severity"] == "warning":
        return '<span class="warn">warning</span>'
    return '<span class="bad">failed</span>'


def _examples(check: dict[str, Any]) -> str:
    parts = []
    if check["sample_values"]:
        parts.append(
            ", ".join(
                f"<code>{_e(v['value'])}</code> &times;{v['count']}"
                for v in check["sample_values"][:8]
            )
        )
    if check.get("sample_rows"):
        rows = ", ".join(str(r) for r in check["sample_rows"][:10])
        parts.append(f"rows {rows}")
    if check["error"]:
        parts.append(f"could not be checked: {_e(check['error'])}")
    if check["observed"] is not None and not check["sample_values"]:
        parts.append(f"observed {_e(check['observed'])}")
    return "<br>".join(parts)


def _suite_table(suite: dict[str, Any]) -> str:
    head = (
        f"<h3>{_e(suite['asset'])} <small>({_e(suite['suite'])}, {suite['rows']:,} rows, "
        f"{'from cache, ' if suite['cached'] else ''}checked {_e(suite['checked_at'])}"
        f"{', ' + _e(suite['source']) if suite['source'] else ''})</small></h3>"
    )
    rows = []
    for check in suite["checks"]:
        failed = check["rows_failed"]
        checked = check["rows_checked"]
        share = f"{failed / checked:.2%}" if failed and checked else ""
        rows.append(
            "<tr>"
            f"<td>{_status(check)}</td>"
            f"<td>{_e(check['says'])}<br><small><code>{_e(check['expectation_type'])}"
            f"</code> {_e(check['check'])}</small></td>"
            f"<td class=n>{'' if checked is None else f'{checked:,}'}</td>"
            f"<td class=n>{'' if failed is None else f'{failed:,}'}</td>"
            f"<td class=n>{share}</td>"
            f"<td>{_examples(check)}</td>"
            "</tr>"
        )
    return (
        head
        + "<table><tr><th>result</th><th>check</th><th>rows checked</th><th>rows failed</th>"
        + "<th>share</th><th>examples</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def validation_html(doc: dict[str, Any]) -> str:
    """A readable page of a validation document (no scripts, no external resources)."""
    claims = doc["claims"]
    passed = doc["outcome"] == "passed"
    verdict = (
        f'<div class="box ok">Batch passed validation: {claims.get("lines_rejected", 0):,} of '
        f"{claims.get('lines_checked', 0):,} lines rejected (at most "
        f"{claims['max_reject_share']:.1%} allowed). Rejected lines are in rejects.csv and in "
        "lines.csv with line_status <code>rejected</code>.</div>"
        if passed
        else f'<div class="box bad">Batch failed validation: {_e(doc["failure"])}. Nothing '
        "was published to the report folder.</div>"
    )
    ref = doc["reference"]
    refused = "".join(
        f"<li><b>{_e(r['source'])}</b>: {_e(r['reason'])}</li>" for r in ref["releases_refused"]
    )
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Validation: {_e(doc['batch'])}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Validation results: {_e(doc['batch'])}</h1>",
        f"<p>Run <code>{_e(doc['run_id'])}</code>, written {_e(doc['written_at'])}, Great "
        f"Expectations {_e(doc['great_expectations_version'])}. Dates of service are checked "
        f"against the run date {_e(claims.get('run_date'))}.</p>",
        verdict,
        "<h2>Claim batch</h2>",
        *(_suite_table(s) for s in claims["suites"]),
        "<h2>CMS reference files</h2>",
        f"<p>Fee-schedule releases used: {_e(', '.join(ref['releases_used']) or 'none')}.</p>",
        f"<p>Releases refused (not used):</p><ul>{refused}</ul>" if refused else "",
        *(_suite_table(s) for s in ref["suites"]),
        "</body></html>",
    ]
    return "\n".join(parts)
