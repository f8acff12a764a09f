"""Run health for ops: what a batch read, rejected, priced and flagged, how long each step
took, and how that compares with the previous run (sudden jumps are called out).

Each batch's record is kept at `runs/<UTC start>_<run id>/<batch>.json` under the report
root (`runs/<run id>/` when the id starts with its UTC time, as the default ids do); the
previous run is the latest earlier run id there, all its batches added up.
"""

from __future__ import annotations

import html
import json
import logging
import re
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

import pandas as pd

from pipeline.errors import StorageError
from pipeline.report.html import Column, cards, money, page, table
from pipeline.report.storage import Destination

logger = logging.getLogger(__name__)

RUNS = "runs/"
COUNTS = (
    "lines_read",
    "rejected",
    "priced",
    "not_payable",
    "not_priced",
    "flagged_lines",
    "warning_or_error_lines",
    "error_lines",
    "claims",
)
# (measure, numerator count) compared as a share of lines read.
RATES = (
    ("rejected", "rejected"),
    ("not priced", "not_priced"),
    ("flagged (warning or error)", "warning_or_error_lines"),
    ("with an error flag", "error_lines"),
)
# A runs/ folder: "<UTC start>_<run id>", or the run id alone when it starts with its own
# UTC time as the default ids do ("20251130T020000Z-0f57b9"). Folders of both forms are read.
_FOLDER = re.compile(r"^(\d{8}T\d{6}Z)_(.+)$")
_TIMED_ID = re.compile(r"^(\d{8}T\d{6}Z)-[A-Za-z0-9]+$")


def run_folder(run_id: str, started: str) -> str:
    """`runs/` folder of a run: sortable UTC start time, then the run id made path-safe."""
    if _TIMED_ID.match(run_id):
        return run_id
    when = datetime.fromisoformat(started).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{when}_{re.sub(r'[^A-Za-z0-9._-]', '_', run_id)}"


def _folder_parts(folder: str) -> tuple[str, str] | None:
    """(UTC start, run id) of a runs/ folder name, or None when it is not one."""
    found = _FOLDER.match(folder) or _TIMED_ID.match(folder)
    if found is None:
        return None
    return (found.group(1), found.group(2) if found.re is _FOLDER else folder)


def health_record(
    summary: dict[str, Any], lines: pd.DataFrame, st: dict[str, Any], extra: dict[str, Any]
) -> dict[str, Any]:
    """This batch's counts, dollars, durations and inputs."""
    status = summary["line_status"]
    worst = lines["worst_severity"].value_counts()
    counts = {
        "lines_read": summary["lines_read"],
        "rejected": status.get("rejected", 0),
        "priced": status.get("priced", 0),
        "not_payable": status.get("not_payable", 0),
        "not_priced": summary["lines_read"]
        - status.get("priced", 0)
        - status.get("not_payable", 0)
        - status.get("rejected", 0),
        "flagged_lines": summary["lines_flagged"],
        "warning_or_error_lines": int(worst.get("warning", 0) + worst.get("error", 0)),
        "error_lines": int(worst.get("error", 0)),
        "claims": summary["claims"],
    }
    return {
        **st,
        "inputs": [
            {
                "input": summary.get("input", st["batch"]),
                "encoding": summary.get("input_encoding"),
                "malformed_rows": summary.get("malformed_rows", 0),
                "renamed_columns": summary.get("renamed_columns", {}),
            }
        ],
        "counts": counts,
        "line_status": summary["line_status"],
        "flags_by_severity": summary.get("flags_by_severity", {}),
        "totals_cents": summary["totals"],
        "history_lines_seen": summary.get("history_lines_seen", 0),
        "durations_seconds": dict(summary.get("timings_seconds", {})),
        **extra,
    }


def previous_run(root: Destination, record: dict[str, Any]) -> dict[str, Any] | None:
    """The latest earlier run's records (every batch) added up; None when there is none."""
    try:
        names = root.list(RUNS)
    except StorageError as exc:
        logger.warning("run history unreadable (%s); no comparison with the previous run", exc)
        return None
    current = _folder_parts(run_folder(record["run_id"], record["run_started_at"]))
    runs: dict[str, list[str]] = {}
    latest: dict[str, str] = {}
    for name in names:
        parts = PurePosixPath(name).parts
        found = _folder_parts(parts[1]) if len(parts) == 3 else None
        if not found or not name.endswith(".json") or current is None:
            continue
        when, run_id = found
        if run_id == current[1] or when > current[0]:
            continue
        runs.setdefault(run_id, []).append(name)
        latest[run_id] = max(latest.get(run_id, ""), when)
    if not runs:
        return None
    prev = max(latest, key=lambda r: (latest[r], r))
    records = []
    for name in sorted(runs[prev]):
        try:
            records.append(json.loads(root.read_bytes(name) or b"{}"))
        except ValueError:
            logger.warning("run record %s is not JSON; skipped", root.uri(name))
    records = [r for r in records if "counts" in r]
    if not records:
        return None
    return {
        "run_id": records[0]["run_id"],
        "run_started_at": min(r["run_started_at"] for r in records),
        "batches": sorted(r["batch"] for r in records),
        "counts": {c: sum(int(r["counts"].get(c, 0)) for r in records) for c in COUNTS},
    }


def compare(
    counts: dict[str, int], previous: dict[str, Any] | None, *, min_points: float, ratio: float
) -> tuple[list[dict[str, Any]], list[str]]:
    """Each rate now and before, and the sentences calling out sudden rises."""
    rows, alerts = [], []
    for label, key in RATES:
        now = 100.0 * counts[key] / counts["lines_read"] if counts["lines_read"] else 0.0
        row: dict[str, Any] = {"measure": f"lines {label}", "count": counts[key], "pct": now}
        if previous and previous["counts"]["lines_read"]:
            before = 100.0 * previous["counts"][key] / previous["counts"]["lines_read"]
            jump = now - before >= min_points and now >= ratio * before
            row.update(previous_count=previous["counts"][key], previous_pct=before, jump=jump)
            row["change_points"] = now - before
            if jump:
                alerts.append(
                    f"Lines {label} jumped to {now:.1f}% of lines read ({counts[key]:,}) from "
                    f"{before:.1f}% ({previous['counts'][key]:,}) in run {previous['run_id']}."
                )
        rows.append(row)
    return rows, alerts


def save_record(root: Destination, record: dict[str, Any]) -> str:
    """Keep this batch's record for the next run's comparison."""
    folder = run_folder(record["run_id"], record["run_started_at"])
    return root.write_json(f"{RUNS}{folder}/{record['batch']}.json", record)


def health_page(record: dict[str, Any]) -> str:
    """Run health as one standalone HTML page."""
    c = record["counts"]
    t = record["totals_cents"]
    prev = record.get("previous_run")
    body = [
        cards(
            [
                (f"{c['lines_read']:,}", "lines read"),
                (f"{c['rejected']:,}", "rejected"),
                (f"{c['priced']:,}", "priced"),
                (f"{c['not_payable']:,}", "not payable"),
                (f"{c['not_priced']:,}", "not priced here"),
                (f"{c['warning_or_error_lines']:,}", "lines flagged (warning or error)"),
                (money(t["dollars_at_risk_cents"]), "dollars at risk"),
            ]
        ),
        "<h2>Compared with the previous run</h2>",
    ]
    if prev:
        body.append(
            f'<p class="note">Previous run {html.escape(prev["run_id"])} started '
            f"{html.escape(prev['run_started_at'])}: {html.escape(', '.join(prev['batches']))} "
            f"({prev['counts']['lines_read']:,} lines read).</p>"
        )
    else:
        body.append('<p class="note">No earlier run in this report folder to compare with.</p>')
    for alert in record["alerts"]:
        body.append(f'<div class="alert">{html.escape(alert)}</div>')
    if prev and not record["alerts"]:
        body.append('<div class="ok">No sudden jump in rejected or flagged lines.</div>')
    rows = pd.DataFrame(record["comparison"])
    for col in ("previous_count", "previous_pct", "change_points"):
        if col not in rows:
            rows[col] = None
    body.append(
        table(
            rows,
            [
                Column("measure", "measure"),
                Column("count", "this run", "int"),
                Column("pct", "share", "pct"),
                Column("previous_count", "previous run", "int"),
                Column("previous_pct", "previous share", "pct"),
                Column("change_points", "change (points)", "pct"),
            ],
            table_id="comparison",
        )
    )
    body.append("<h2>Lines by status</h2>")
    status = pd.DataFrame(
        {"status": list(record["line_status"]), "lines": list(record["line_status"].values())}
    )
    body.append(
        table(
            status, [Column("status", "status"), Column("lines", "lines", "int")], table_id="status"
        )
    )
    body.append("<h2>Durations</h2>")
    steps = pd.DataFrame(
        {
            "step": list(record["durations_seconds"]),
            "seconds": [f"{v:.3f}" for v in record["durations_seconds"].values()],
        }
    )
    body.append(
        table(steps, [Column("step", "step"), Column("seconds", "seconds")], table_id="steps")
    )
    body.append("<h2>Inputs and releases</h2>")
    inputs = pd.DataFrame(record["inputs"])
    body.append(
        table(
            inputs,
            [
                Column("input", "input"),
                Column("encoding", "encoding"),
                Column("malformed_rows", "malformed rows", "int"),
            ],
            table_id="inputs",
            sortable=False,
        )
    )
    rel = pd.DataFrame(record["fee_schedule_releases"])
    if len(rel):
        body.append(
            table(
                rel,
                [
                    Column("release", "fee schedule"),
                    Column("in_force_from", "in force from"),
                    Column("in_force_until", "until"),
                    Column("gpci_source", "GPCIs"),
                    Column("lines", "lines", "int"),
                ],
                table_id="releases",
                sortable=False,
            )
        )
    body.append(
        f'<p class="note">NCCI {html.escape(str(record.get("ncci_release")))} (effective '
        f"{html.escape(str(record.get('ncci_effective')))}); ZIP file "
        f"{html.escape(str(record.get('zip_locality_file')))}; denial patterns: "
        f"{record.get('denial_combinations', 0):,} combinations counted, "
        f"{record.get('denial_patterns_shown', 0):,} shown.</p>"
    )
    return page("Run health", record, "".join(body))
