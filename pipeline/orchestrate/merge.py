"""Merge the partitions of one batch into the batch's report, as one scrub would write it."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.report.line_report import csv_view
from pipeline.report.storage import Destination

REPORT_TABLES = ("lines", "claims", "flags")
# The claim ranking of pipeline.report.line_report.claim_summary, on the written columns.
CLAIM_ORDER = [
    ("risk_score", "descending"),
    ("dollars_at_risk", "descending"),
    ("errors", "descending"),
    ("claim_id", "ascending"),
]


def merge_tables(parts: list[dict[str, pa.Table]]) -> dict[str, pa.Table]:
    """Lines and flags back in input order; claims ranked again over the whole batch.

    Partitions never share a claim, so the claims of all partitions are simply re-ranked.
    """
    merged = {}
    for name in REPORT_TABLES:
        table = pa.concat_tables([p[name] for p in parts], promote_options="permissive")
        if name in ("lines", "flags"):
            # sort_indices is stable: a line's flags keep their order
            table = table.take(pc.sort_indices(table, [("input_row", "ascending")]))
        else:
            table = table.take(pc.sort_indices(table, CLAIM_ORDER))
            rank = table.schema.get_field_index("rank")
            ranks = pa.array(range(1, table.num_rows + 1), type=table.schema.field(rank).type)
            table = table.set_column(rank, "rank", ranks)
        merged[name] = table
    return merged


def _add(total: dict, part: dict) -> dict:
    out = Counter(total)
    out.update({k: int(v) for k, v in part.items()})
    return dict(out)


def merge_summaries(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One batch summary from the partitions' summaries (counts and totals added up)."""
    first = parts[0]
    out = dict(first)
    for key in ("lines_read", "lines_written", "lines_flagged", "claims", "history_lines_seen"):
        out[key] = sum(int(p.get(key, 0)) for p in parts)
    out["conservation_ok"] = all(p.get("conservation_ok", False) for p in parts)
    for key in ("line_status", "flags_by_rule", "flags_by_severity", "totals"):
        merged: dict[str, int] = {}
        for p in parts:
            merged = _add(merged, p.get(key, {}))
        out[key] = {k: merged.get(k, 0) for k in first.get(key, {})} | {
            k: v for k, v in merged.items() if k not in first.get(key, {})
        }
    out["flags_by_rule"] = dict(sorted(out["flags_by_rule"].items()))
    out["flags_by_severity"] = dict(
        sorted(out["flags_by_severity"].items(), key=lambda kv: (-kv[1], kv[0]))
    )
    used: dict[str, dict[str, Any]] = {}
    for p in parts:
        for name, info in p.get("releases_used", {}).items():
            entry = used.setdefault(name, {**info, "lines": 0})
            entry["lines"] += int(info["lines"])
    out["releases_used"] = dict(sorted(used.items(), key=lambda kv: -kv[1]["lines"]))
    newest = [p for p in parts if (p.get("ncci_release") or {}).get("newest_date_of_service")]
    if newest:
        out["ncci_release"] = max(
            (p["ncci_release"] for p in newest), key=lambda r: r["newest_date_of_service"]
        )
    out["run_started_at"] = min(p["run_started_at"] for p in parts)
    timings: Counter = Counter()
    for p in parts:
        timings.update(p.get("timings_seconds", {}))
    out["timings_seconds"] = {k: round(v, 3) for k, v in timings.items()}
    return out


def write_report(
    dest: Destination, tables: dict[str, pa.Table], summary: dict[str, Any]
) -> dict[str, str]:
    """Write the files pipeline.run.write_batch writes, summary.json last."""
    t = time.perf_counter()
    outputs = {}
    for name in REPORT_TABLES:
        outputs[f"{name}.parquet"] = dest.write_parquet(f"{name}.parquet", tables[name])
        outputs[f"{name}.csv"] = dest.write_csv(f"{name}.csv", csv_view(tables[name]))
    order = ["lines.parquet", "lines.csv", "claims.parquet", "claims.csv"]
    outputs = {k: outputs[k] for k in [*order, "flags.parquet", "flags.csv"]}
    outputs["summary.json"] = dest.uri("summary.json")
    summary["outputs"] = dict(outputs)
    summary.setdefault("timings_seconds", {})["write"] = round(time.perf_counter() - t, 3)
    dest.write_json("summary.json", summary)
    return outputs
