"""The nightly scrub as steps: find batches, extract and validate, scrub partitions, publish.

Every step takes and returns small dicts (keys, names, counts), never frames; what a step
hands to the next lives in the object store (layout.py). The report a batch gets is the one
`claims-scrub run` writes for the same file: the same scrub_frame, the same files.
"""

from __future__ import annotations

import io
import json
import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pipeline.errors import BatchRejected, ClaimBatchError, ConfigError, PipelineError
from pipeline.extract.batch_files import BatchFile, batch_name, read_batch_file
from pipeline.orchestrate.layout import Layout, check_run_date, history_name
from pipeline.orchestrate.partition import assign_partitions, partition_count

logger = logging.getLogger(__name__)

# What the inbox takes: claim batches as CSV or Parquet, and X12 837P claim files (read by
# content; an 835 remittance there is refused with its reason: match those with
# `claims-scrub run --remits`).
BATCH_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".837", ".x12", ".edi")
STAGED = ("lines", "claims", "flags", "history")


def resolve_run(
    params: dict[str, Any], *, interval_start: datetime | None, run_after: datetime
) -> dict:
    """The run date and batch a run works on: its params, else the day its interval starts."""
    run_date = (params.get("run_date") or "").strip()
    if not run_date:
        run_date = (interval_start or run_after).astimezone(UTC).date().isoformat()
    return {"run_date": check_run_date(run_date), "batch": (params.get("batch") or "").strip()}


def inbox_files(layout: Layout, run_date: str) -> list[str]:
    """Every object in inbox/<run date>/; a ConfigError when a local folder store has no
    such folder (a mistyped store or date). An S3 prefix has no folder: empty there."""
    inbox = layout.inbox(run_date)
    if not inbox.is_s3 and not Path(inbox.root).is_dir():
        where = layout.root.root
        if not Path(where).is_dir():
            raise ConfigError(
                f"the store {where} does not exist, so there is no inbox "
                f"{inbox.root}/; check --store (or CLAIMS_PIPELINE_STORE)"
            )
        raise ConfigError(
            f"the inbox folder {inbox.root}/ does not exist; put the day's claim files "
            f"there, or check --date and --store (or CLAIMS_PIPELINE_STORE)"
        )
    return inbox.list("")


def inbox_batches(layout: Layout, run_date: str, batch: str = "") -> list[dict[str, str]]:
    """The batch files in inbox/<run date>/, each with its report name; `batch` picks one.

    Files with the same name stem (b.csv and b.parquet) get -2, -3 names, in key order.
    """
    inbox = layout.inbox(run_date)
    found: list[dict[str, str]] = []
    seen: dict[str, int] = {}
    for name in inbox.list(""):
        if "/" in name or not name.lower().endswith(BATCH_SUFFIXES):
            logger.warning(
                "%s is not a batch file (.csv, .csv.gz, .parquet, X12 .837/.x12/.edi); skipped",
                inbox.uri(name),
            )
            continue
        stem = batch_name(Path(name))
        seen[stem.lower()] = seen.get(stem.lower(), 0) + 1
        label = stem if seen[stem.lower()] == 1 else f"{stem}-{seen[stem.lower()]}"
        found.append({"run_date": run_date, "batch": label, "file": name, "input": inbox.uri(name)})
    if batch:
        found = [b for b in found if b["batch"] == batch]
        if not found:
            raise PipelineError(
                f"no batch named {batch!r} in {inbox.uri('')}; give the file name without "
                ".csv/.csv.gz/.parquet, or leave the batch parameter empty"
            )
    return found


def list_new_batches(layout: Layout, run_date: str, batch: str = "") -> list[dict[str, str]]:
    """Batches of the day without a report yet; a batch named explicitly is always redone."""
    batches = inbox_batches(layout, run_date, batch)
    if batch:
        return batches
    done = {
        n.split("/")[0] for n in layout.reports(run_date).list("") if n.endswith("/summary.json")
    }
    new = [b for b in batches if b["batch"] not in done]
    logger.info(
        "inbox %s: %d batch(es), %d already reported, %d to scrub",
        run_date,
        len(batches),
        len(batches) - len(new),
        len(new),
    )
    return new


@contextmanager
def local_copy(layout: Layout, batch: dict[str, str]) -> Iterator[Path]:
    """The batch file in a temporary folder under its own name (its extension tells its format)."""
    data = layout.inbox(batch["run_date"]).read_bytes(batch["file"])
    if data is None:
        raise ClaimBatchError(
            "the batch file is no longer in the inbox; put it back or rerun without it",
            source=batch["input"],
        )
    with tempfile.TemporaryDirectory(prefix="claims-batch-") as tmp:
        path = Path(tmp) / batch["file"]
        path.write_bytes(data)
        yield path


def _read(path: Path, source: str) -> BatchFile:
    """read_batch_file, with errors naming the inbox object instead of the temporary copy."""
    try:
        return read_batch_file(path)
    except PipelineError as exc:
        raise type(exc)(exc.message.replace(str(path), source), source=source) from exc


def check_batch(batch_file: BatchFile, source: str) -> None:
    """Validation of a readable batch before it is scrubbed.

    This is where batch-level checks plug in (the Great Expectations claim suite of
    pipeline/validate/): raise a PipelineError to refuse the batch; it is then quarantined
    with the error as its reason and its task fails without retrying.
    """
    from pipeline.config import PipelineConfig
    from pipeline.extract.claims import normalize_batch
    from pipeline.validate.claims_suite import validate_claims

    if batch_file.frame.empty:
        raise ClaimBatchError("the batch has a header but no claim lines", source=source)
    # The batch-level limits (required columns, share of rejected lines) apply to the whole
    # batch here; each partition then rejects its own lines (scrub_frame whole_batch=False).
    config = PipelineConfig.from_env()
    lines = normalize_batch(batch_file.frame, patient_key=config.patient_key)
    checked = validate_claims(
        batch_file.frame,
        lines,
        run_date=date.today(),
        max_reject_share=config.max_reject_share,
    )
    if not checked.passed:
        raise BatchRejected(f"failed validation: {checked.failure()}", source=source)


def extract_and_validate(
    layout: Layout, batch: dict[str, str], *, partition_lines: int, run_id: str
) -> dict[str, Any]:
    """Read and check one batch, and decide how many partitions it is scrubbed in.

    A batch that cannot be read or fails validation is copied to quarantine/ with its reason
    and the error is raised again.
    """
    try:
        with local_copy(layout, batch) as path:
            batch_file = _read(path, batch["input"])
            check_batch(batch_file, batch["input"])
    except PipelineError as exc:
        quarantine_batch(layout, batch, exc, run_id=run_id)
        raise
    except Exception as exc:  # a bug must neither lose the batch nor stop the others
        error = ClaimBatchError(
            f"internal error ({type(exc).__name__}: {exc}); the batch was quarantined, "
            "please report this with the file",
            source=batch["input"],
        )
        quarantine_batch(layout, batch, error, run_id=run_id)
        raise error from exc
    lines = len(batch_file.frame)
    parts = partition_count(lines, partition_lines)
    logger.info(
        "batch %s: %d lines read from %s, %d partition(s)",
        batch["batch"],
        lines,
        batch["input"],
        parts,
    )
    return {
        **batch,
        "lines": lines,
        "partitions": parts,
        "input_encoding": batch_file.encoding,
        "malformed_rows": batch_file.malformed_rows,
        "renamed_columns": batch_file.renamed_columns,
    }


def quarantine_batch(
    layout: Layout, batch: dict[str, str], exc: PipelineError, *, run_id: str
) -> str:
    """Copy the batch file and its reason to quarantine/claims/<run date>/<batch>/."""
    dest = layout.claims_quarantine(batch["run_date"], batch["batch"])
    data = layout.inbox(batch["run_date"]).read_bytes(batch["file"])
    if data is not None:
        dest.write_bytes(batch["file"], data)
    reason = {
        "batch": batch["batch"],
        "input": batch["input"],
        "reason": str(exc),
        "reason_code": exc.reason_code,
        "run_id": run_id,
        "quarantined_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "what_to_do": "fix the file, put it in the inbox under the same name and rerun this batch",
    }
    dest.write_json("reason.json", reason)
    logger.error("batch %s quarantined at %s: %s", batch["batch"], dest.uri(""), exc)
    return dest.uri("")


def plan_partitions(prepared: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One scrub task per partition of every batch that passed validation."""
    return [{**batch, "part": i} for batch in prepared for i in range(int(batch["partitions"]))]


def scrub_partition(
    layout: Layout, part: dict[str, Any], *, run_id: str, reference: dict[str, Any]
) -> dict[str, Any]:
    """Scrub one partition of a batch and stage its report tables in work/.

    Every partition task reads the batch file itself and keeps its own lines, so no copy of
    the input batch is made in the store; only report tables are staged.
    """
    from pipeline.config import PipelineConfig
    from pipeline.extract.ncci import bundled_ncci
    from pipeline.orchestrate.reference import reference_data
    from pipeline.report.line_report import to_arrow
    from pipeline.run import scrub_frame

    with local_copy(layout, part) as path:
        raw = _read(path, part["input"]).frame
    if int(part["partitions"]) > 1:
        raw = raw[assign_partitions(raw, int(part["partitions"])) == int(part["part"])]
    ref = reference_data(layout, reference.get("published", []))
    result = scrub_frame(
        raw,
        ref,
        PipelineConfig.from_env(),
        run_id=run_id,
        batch=history_name(part["run_date"], part["batch"]),
        ncci=bundled_ncci(),
        history_root=layout.history_root,
        source=part["input"],
        whole_batch=False,
    )
    work = layout.work(part["run_date"], part["batch"], run_id).child(
        f"part-{int(part['part']):05d}"
    )
    work.write_parquet("lines.parquet", to_arrow(result.lines))
    work.write_parquet("claims.parquet", to_arrow(result.claims))
    work.write_parquet("flags.parquet", to_arrow(result.flags))
    buf = io.BytesIO()
    result.history.reset_index(drop=True).to_parquet(buf, index=False)
    work.write_bytes("history.parquet", buf.getvalue())
    work.write_json("summary.json", result.summary)
    return {
        "batch": part["batch"],
        "part": int(part["part"]),
        "lines": len(raw),
        "work": work.uri(""),
    }


def _staged(work, part: int, batch: str) -> tuple[dict[str, Any], dict[str, Any]]:
    import pyarrow.parquet as pq

    folder = work.child(f"part-{part:05d}")
    summary = folder.read_bytes("summary.json")
    if summary is None:
        raise PipelineError(
            f"partition {part} of batch {batch} has no output at {folder.uri('')}; its "
            "scrub_partition task failed (see its log). Rerun the batch with the batch parameter"
        )
    tables = {}
    for name in STAGED:
        data = folder.read_bytes(f"{name}.parquet")
        if data is None:
            raise PipelineError(f"{folder.uri(name)}.parquet is missing; rerun batch {batch}")
        tables[name] = pq.read_table(io.BytesIO(data))
    return tables, json.loads(summary)


def _as_written(table):
    """The frame a staged Parquet table was written from: text columns that were Python
    objects become objects again, so the history file matches the CLI's column types."""
    frame = table.to_pandas()
    for column in (table.schema.pandas_metadata or {}).get("columns", []):
        name = column["name"]
        if column.get("numpy_type") == "object" and name in frame and frame[name].dtype != object:
            frame[name] = frame[name].astype(object)
    return frame


def publish_batch(
    layout: Layout, batch: dict[str, Any], *, run_id: str, reference: dict[str, Any]
) -> dict[str, Any]:
    """Merge a batch's partitions into reports/<run date>/<batch>/ and add it to the history.

    A rerun of the batch overwrites exactly these objects: its report files, its history
    files and its own quarantine entry; its work/ files are deleted at the end.
    """
    import pyarrow as pa

    from pipeline.orchestrate.merge import merge_summaries, merge_tables, write_report
    from pipeline.report.history import write_history

    work = layout.work(batch["run_date"], batch["batch"], run_id)
    staged = [_staged(work, i, batch["batch"]) for i in range(int(batch["partitions"]))]
    tables = merge_tables([t for t, _ in staged])
    summary = merge_summaries([s for _, s in staged])
    if summary["lines_read"] != int(batch["lines"]):
        raise PipelineError(
            f"batch {batch['batch']}: the partitions hold {summary['lines_read']} lines but the "
            f"file has {batch['lines']}; rerun the batch"
        )
    summary.update(
        batch=batch["batch"],
        run_date=batch["run_date"],
        partitions=int(batch["partitions"]),
        input=batch["input"],
        input_encoding=batch["input_encoding"],
        malformed_rows=batch["malformed_rows"],
        renamed_columns=batch["renamed_columns"],
        reference=reference,
    )
    report = layout.report(batch["run_date"], batch["batch"])
    outputs = write_report(report, tables, summary)
    history = pa.concat_tables([t["history"] for t, _ in staged], promote_options="permissive")
    write_history(
        _as_written(history), layout.history_root, history_name(batch["run_date"], batch["batch"])
    )
    quarantine = layout.claims_quarantine(batch["run_date"], batch["batch"])
    for name in quarantine.list(""):
        quarantine.delete(name)  # an earlier failed attempt of this batch is resolved
    for name in work.list(""):
        work.delete(name)
    totals = summary["totals"]
    logger.info(
        "batch %s: report at %s (%d lines, %d flagged, $%.2f at risk)",
        batch["batch"],
        report.uri(""),
        summary["lines_read"],
        summary["lines_flagged"],
        totals["dollars_at_risk_cents"] / 100,
    )
    return {
        "batch": batch["batch"],
        "report": report.uri(""),
        "summary": outputs["summary.json"],
        "lines": summary["lines_read"],
        "lines_flagged": summary["lines_flagged"],
        "expected_allowed_cents": totals["expected_allowed_cents"],
        "dollars_at_risk_cents": totals["dollars_at_risk_cents"],
    }


def finish_run(
    run: dict[str, str], listed: list[dict[str, Any]], published: list[dict[str, Any]]
) -> dict[str, Any]:
    """The run's totals; a PipelineError naming every batch that did not get its report."""
    done = {p["batch"] for p in published}
    missing = [b["batch"] for b in listed if b["batch"] not in done]
    summary = {
        "run_date": run["run_date"],
        "batches": len(published),
        "lines": sum(int(p["lines"]) for p in published),
        "dollars_at_risk_cents": sum(int(p["dollars_at_risk_cents"]) for p in published),
    }
    logger.info(
        "run %s: %d batch(es), %d lines, $%.2f at risk",
        run["run_date"],
        summary["batches"],
        summary["lines"],
        summary["dollars_at_risk_cents"] / 100,
    )
    if missing:
        raise PipelineError(
            f"{len(missing)} batch(es) of {run['run_date']} got no report: {', '.join(missing)}; "
            "see the failed tasks (and quarantine/claims/) and rerun each with the batch parameter"
        )
    return summary


def run_day(
    layout: Layout, run_date: str, *, batch: str = "", partition_lines: int, run_id: str
) -> dict[str, Any]:
    """The nightly DAG's steps one after another in this process (`claims-scrub nightly`).

    Published releases are used as in the DAG; there is no Airflow asset event to record.
    A batch that fails is logged and quarantined as in the DAG; the others go on. Returns
    the run's totals plus `failed`, the batches that got no report.
    """
    from pipeline.orchestrate.reference import published_releases

    run = {"run_date": check_run_date(run_date), "batch": batch}
    reference = {"published": published_releases(layout), "asset_event": None}
    listed = list_new_batches(layout, run_date, batch)
    published = []
    for entry in listed:
        try:
            prepared = extract_and_validate(
                layout, entry, partition_lines=partition_lines, run_id=run_id
            )
            for part in plan_partitions([prepared]):
                scrub_partition(layout, part, run_id=run_id, reference=reference)
            published.append(publish_batch(layout, prepared, run_id=run_id, reference=reference))
        except PipelineError as exc:
            logger.error("batch %s got no report: %s", entry["batch"], exc)
        except Exception as exc:  # an unexpected failure must not stop the other batches
            logger.error(
                "batch %s got no report: internal error (%s: %s); please report it",
                entry["batch"],
                type(exc).__name__,
                exc,
            )
    summary = finish_run(run, published, published)
    done = {p["batch"] for p in published}
    return {**summary, "failed": [b["batch"] for b in listed if b["batch"] not in done]}
