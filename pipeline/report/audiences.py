"""Write the reports for the three audiences with every batch (docs/reports.md).

Revenue cycle: work_queue.parquet/.csv/.html. Finance: finance_summary.parquet/.csv and
finance.html. Ops: run_health.json/.html (and a record under `runs/` for the next run's
comparison). Denial patterns: denial_patterns.parquet/.csv, noted in the work queue.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.report import finance, run_health, work_queue
from pipeline.report.denial_patterns import (
    denial_counts,
    read_remittance,
    risk_notes,
    shown_patterns,
)
from pipeline.report.line_report import to_arrow
from pipeline.report.manifest import RecordingDestination
from pipeline.report.settings import report_settings
from pipeline.report.stamp import stamp, with_stamp
from pipeline.report.storage import Destination

if TYPE_CHECKING:
    from pipeline.run import BatchResult

logger = logging.getLogger(__name__)


def _csv_view(table: pa.Table) -> pa.Table:
    """The CSV form of a report table: list columns joined with ';' (as the line report)."""
    for i, field in enumerate(table.schema):
        if pa.types.is_list(field.type):
            table = table.set_column(i, field.name, pc.binary_join(table.column(i), ";"))
    return table


def write_audience_reports(
    result: BatchResult, dest: RecordingDestination, *, root: Destination | None = None
) -> dict[str, str]:
    """Write every audience report of one batch to `dest`; return {file name: uri}.

    With `root` (the report root), denial patterns come from `root/history/remittance/`
    and the run-health page compares with the previous run recorded under `root/runs/`.
    """
    t = time.perf_counter()
    settings = report_settings()
    st = stamp(result.summary)
    lines, flags = result.lines, result.flags
    remit = read_remittance(root) if root is not None else None
    rules = settings["denial_patterns"]
    counts = denial_counts(
        remit if remit is not None else pd.DataFrame(), lookback_days=rules["lookback_days"]
    )
    patterns = shown_patterns(counts, min_denials=rules["min_denials"])
    outputs: dict[str, str] = {}

    def tables(stem: str, frame: pd.DataFrame) -> None:
        table = with_stamp(to_arrow(frame), st)  # converted once for Parquet and CSV
        outputs[f"{stem}.parquet"] = dest.write_parquet(f"{stem}.parquet", table)
        outputs[f"{stem}.csv"] = dest.write_csv(f"{stem}.csv", _csv_view(table))

    def page(name: str, text: str) -> None:
        outputs[name] = dest.write_bytes(name, text.encode("utf-8"))

    queue = work_queue.build_work_queue(lines, flags, risk_notes(lines, patterns))
    result.summary["work_queue"] = {
        "claims": int(queue["claim_id"].nunique()),
        "lines": len(queue),
        "dollars_at_risk_cents": int(queue["dollars_at_risk_cents"].sum()),
        "dollars_recovered_cents": int(queue["dollars_recovered_cents"].sum()),
        "lines_matching_denial_patterns": int((queue["risk_note"] != "").sum()),
    }
    tables("work_queue", queue)
    page(
        "work_queue.html",
        work_queue.queue_page(
            queue,
            work_queue.totals(queue),
            patterns,
            st,
            max_rows=settings["work_queue"]["html_max_rows"],
        ),
    )
    del queue  # a large batch's queue is big: free it before the next report
    summary = finance.finance_summary(lines, flags)
    tables("finance_summary", summary)
    page(
        "finance.html",
        finance.finance_page(
            summary,
            st,
            top=settings["finance"]["top"],
            max_rows=settings["finance"]["html_max_rows"],
        ),
    )
    finance_rows = len(summary)
    del summary
    stamped = patterns.assign(run_id=st["run_id"], run_started_at=st["run_started_at"])
    tables("denial_patterns", stamped)

    result.summary["denial_patterns"] = {"counted": len(counts), "shown": len(patterns)}
    result.summary["timings_seconds"]["reports"] = round(time.perf_counter() - t, 3)

    health = settings["run_health"]
    record = run_health.health_record(
        result.summary,
        lines,
        st,
        {"denial_combinations": len(counts), "denial_patterns_shown": len(patterns)},
    )
    previous = run_health.previous_run(root, record) if root is not None else None
    rows, alerts = run_health.compare(
        record["counts"],
        previous,
        min_points=float(health["jump_min_points"]),
        ratio=float(health["jump_ratio"]),
    )
    record.update(previous_run=previous, comparison=rows, alerts=alerts)
    for alert in alerts:
        logger.warning("batch %s: %s", st["batch"], alert)
    result.summary["run_health_alerts"] = alerts
    outputs["run_health.json"] = dest.write_json("run_health.json", record)
    page("run_health.html", run_health.health_page(record))
    if root is not None:
        outputs["run_record"] = run_health.save_record(dest.sibling(root), record)
    logger.info(
        "batch %s reports: work queue %d lines ($%.2f at risk), finance %d rows, %d denial "
        "pattern(s), %d alert(s)",
        st["batch"],
        result.summary["work_queue"]["lines"],
        result.summary["work_queue"]["dollars_at_risk_cents"] / 100,
        finance_rows,
        len(patterns),
        len(alerts),
    )
    return outputs
