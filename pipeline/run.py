"""Scrub one claim batch end to end: read, normalize, price, compare paid, report."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.config import PipelineConfig
from pipeline.errors import (
    BatchRejected,
    ClaimBatchError,
    PipelineError,
    StorageError,
    short_error,
)
from pipeline.extract.batch_files import batch_name, read_batch_file
from pipeline.extract.claims import normalize_batch
from pipeline.extract.ncci import NcciRelease, bundled_ncci
from pipeline.extract.releases import ReferenceData
from pipeline.extract.x12_envelope import X12FileError
from pipeline.report.audiences import write_audience_reports
from pipeline.report.history import (
    HISTORY_COLUMNS,
    history_rows,
    key_check,
    read_history,
    write_history,
)
from pipeline.report.line_report import (
    attach_flags,
    claim_summary,
    constant_text,
    csv_view,
    text_at,
    to_arrow,
    to_output,
)
from pipeline.report.manifest import RecordingDestination, write_manifest
from pipeline.report.stamp import stamp
from pipeline.report.storage import Destination, Staging
from pipeline.scrub.edits import apply_edits, release_age
from pipeline.scrub.flags import FlagCollector
from pipeline.scrub.payment import compare_paid
from pipeline.scrub.price import LINE_STATUSES, price_lines
from pipeline.scrub.remits import Remittances, apply_remits
from pipeline.validate.claims_suite import (
    apply_rejections,
    rejects_table,
    validate_claims,
    warning_flags,
)
from pipeline.validate.reference_suites import validate_reference
from pipeline.validate.results import validation_document, validation_html

logger = logging.getLogger(__name__)


@dataclass
class BatchResult:
    """The frames of one scrubbed batch and its run summary."""

    lines: pd.DataFrame
    flags: pd.DataFrame
    claims: pd.DataFrame
    summary: dict[str, Any]
    outputs: dict[str, str] = field(default_factory=dict)
    history: pd.DataFrame | None = None  # this batch's lines as the history store keeps them
    x12_findings: pd.DataFrame | None = None  # X12 input: implementation-guide findings
    rejects: pa.Table | None = None  # the lines validation rejected, with their reasons
    validation: dict[str, Any] | None = None  # validation results (validation.json)


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def scrub_frame(
    raw: pd.DataFrame,
    ref: ReferenceData,
    config: PipelineConfig,
    *,
    default_locality: str | None = None,
    run_id: str | None = None,
    batch: str = "batch",
    progress: Callable[[str], None] | None = None,
    ncci: NcciRelease | None = None,
    history_root: Destination | None = None,
    source: str | None = None,
    remits: Remittances | None = None,
    run_date: date | None = None,
    whole_batch: bool = True,
) -> BatchResult:
    """Scrub a batch already read into a frame of text columns.

    `ncci` defaults to the bundled NCCI release. With `history_root`, edits also see earlier
    batches' lines of the same patients and providers kept there (report.history); those
    lines are never flagged again. With `remits` (this run's 835s), matched lines take their
    paid amount from the remittance and get the remittance flags (scrub.remits).

    The reference files and the batch are validated first (pipeline/validate): lines that
    fail are rejected (kept, unpriced, listed in `rejects`). Raises BatchRejected when the
    batch fails as a whole (no lines, no required columns, too many rejected lines);
    `run_date` (default today) is the date after which a date of service is in the future.
    With `whole_batch` False the frame is one partition of a batch whose batch-level checks
    ran on the whole (pipeline.orchestrate): lines are still checked and rejected, but the
    partition is never refused for being empty or for its own share of rejected lines.
    """
    run_id = run_id or new_run_id()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    timings: dict[str, float] = {}
    say = progress or (lambda _msg: None)

    t = time.perf_counter()
    lines = normalize_batch(raw, patient_key=config.patient_key)
    timings["normalize"] = time.perf_counter() - t
    say(f"normalized {len(lines):,} lines")

    t = time.perf_counter()
    ncci = ncci or bundled_ncci()
    reference = validate_reference(ref, ncci)
    checked = validate_claims(
        raw,
        lines,
        run_date=run_date or date.today(),
        max_reject_share=config.max_reject_share if whole_batch else 1.0,
    )
    document = validation_document(
        run_id=run_id,
        batch=batch,
        claims=checked,
        reference=reference,
        releases_used=[r.name for r in ref.releases],
        releases_refused=list(ref.refused),
    )
    rejects = rejects_table(lines, checked, run_id) if checked.lines is not None else None
    timings["validate"] = time.perf_counter() - t
    if not checked.passed and whole_batch:
        error = BatchRejected(f"batch {batch} failed validation: {checked.failure()}")
        error.validation, error.rejects = document, rejects
        raise error
    lines = apply_rejections(lines, checked)
    say(f"validated {len(lines):,} lines: {checked.rejected_count:,} rejected")

    t = time.perf_counter()
    priced = price_lines(lines, ref, default_locality=default_locality)
    timings["price"] = time.perf_counter() - t
    say(f"priced {len(lines):,} lines")

    t = time.perf_counter()
    key_id = key_check(config.patient_key)
    history = (
        read_history(history_root, lines, exclude_batch=batch, key_id=key_id)
        if history_root
        else None
    )
    edit_flags = FlagCollector()
    mue = _edits_with_history(priced.lines, history, ncci, edit_flags)
    edited = pd.concat([priced.lines, mue.set_index(priced.lines.index)], axis=1)
    timings["edits"] = time.perf_counter() - t
    say(f"ran NCCI edits ({ncci.name})")

    t = time.perf_counter()
    extra = FlagCollector()
    with_remits = remits is not None and not remits.empty
    if with_remits:
        edited = remits.attach(edited, batch)
    compared = compare_paid(edited, extra, tolerance_cents=config.paid_tolerance_cents)
    if with_remits:
        tolerance = config.paid_tolerance_cents
        compared = apply_remits(compared, extra, remits, tolerance_cents=tolerance)
    every = FlagCollector()
    for step in (priced.collector, edit_flags, extra, warning_flags(lines, checked)):
        every.absorb(step)
    flags = every.table()  # by line, then in the order the steps ran
    flagged = attach_flags(compared, flags)
    claims = claim_summary(flagged, flags)
    timings["report"] = time.perf_counter() - t

    summary = _summary(flagged, flags, claims, ref, config, run_id, started, batch, timings)
    summary["ncci_release"] = release_age(ncci, lines["dos"].to_numpy("datetime64[D]"))
    summary["history_lines_seen"] = 0 if history is None else len(history)
    if with_remits:
        matched = flagged["remit_matched"].to_numpy(bool)
        summary["remittance"] = {
            "lines_matched": int(matched.sum()),
            "paid_cents": int(flagged.loc[matched, "remit_paid_cents"].fillna(0).sum()),
        }
    summary["validation"] = checked.summary()
    summary["conservation"] = _conservation(summary, 0 if rejects is None else len(rejects))
    summary["releases_refused"] = list(ref.refused)
    summary["reference_files_validated"] = reference.summary()
    out_lines = to_output(flagged, run_id=run_id, run_started_at=started)
    claims = claims.assign(run_id=run_id, run_started_at=started)
    flag_table = _flag_table(flags, flagged, run_id)
    logger.info(
        "batch %s: %d lines read, %d priced, %d flagged, $%.2f at risk",
        batch,
        summary["lines_read"],
        summary["line_status"].get("priced", 0),
        summary["lines_flagged"],
        summary["totals"]["dollars_at_risk_cents"] / 100,
    )
    past = history_rows(
        priced.lines,
        batch,
        run_id,
        key_id=key_id,
        source=source or batch,
        run_started_at=started,
    )
    return BatchResult(
        out_lines,
        flag_table,
        claims,
        summary,
        history=past,
        rejects=rejects,
        validation=document,
    )


def _flag_table(flags: pd.DataFrame, lines: pd.DataFrame, run_id: str) -> pd.DataFrame:
    """The flag report: each flag with its line's input row, claim and line number."""
    at = flags["line_index"].to_numpy()
    columns = {
        "input_row": lines["input_row"].to_numpy()[at],
        "claim_id": text_at(lines["claim_id"], at),
        "claim_line_number": text_at(lines["claim_line_number"], at),
        **{
            col: flags[col].array
            for col in ("rule_code", "severity", "reason", "action", "dollars_at_risk_cents")
        },
        "run_id": constant_text(run_id, len(flags)),
    }
    return pd.DataFrame(columns, index=flags.index, copy=False)


def _conservation(summary: dict[str, Any], listed_rejects: int) -> dict[str, Any]:
    """Every line read is in the report once: priced, rejected (and listed), or another
    status."""
    status = summary["line_status"]
    read, priced, rejected = summary["lines_read"], status["priced"], status["rejected"]
    other = {s: n for s, n in status.items() if s not in ("priced", "rejected") and n}
    return {
        "lines_read": read,
        "priced": priced,
        "rejected": rejected,
        "other_statuses": sum(other.values()),
        "equation": f"{read} read = {priced} priced + {rejected} rejected + "
        f"{sum(other.values())} other ({', '.join(f'{n} {s}' for s, n in other.items())})",
        "rejects_listed": listed_rejects,
        "ok": read == priced + rejected + sum(other.values()) == summary["lines_written"]
        and listed_rejects == rejected,
    }


def _edits_with_history(lines, history, ncci, flags: FlagCollector) -> pd.DataFrame:
    """Run the edits over this batch plus its history; keep only this batch's results."""
    n = len(lines)
    if history is None or history.empty:
        return apply_edits(lines, ncci, flags)
    # A claim line sent again (a resubmission) replaces its earlier copy, never adds to it.
    current = pd.MultiIndex.from_arrays(
        [lines["claim_id"].astype(str), lines["claim_line_number"].astype(str)]
    )
    resent = pd.MultiIndex.from_arrays([history["claim_id"], history["claim_line_number"]]).isin(
        current
    )
    history = history[~resent]
    if history.empty:
        return apply_edits(lines, ncci, flags)
    past = history.assign(line_index=np.arange(n, n + len(history)))
    for i in range(1, 5):
        past[f"mod_{i}"] = past[f"mod_{i}"].fillna("")
    cols = ["line_index", *HISTORY_COLUMNS]
    both = pd.concat([lines[cols], past[cols]], ignore_index=True)
    inner = FlagCollector(scope=np.arange(len(both)) < n)  # earlier batches are not re-flagged
    mue = apply_edits(both, ncci, inner)
    flags.absorb(inner)
    return mue.iloc[:n].reset_index(drop=True)


def _summary(lines, flags, claims, ref, config, run_id, started, batch, timings) -> dict[str, Any]:
    status_counts = lines["line_status"].value_counts().to_dict()
    used = lines["release"].value_counts()  # a categorical also counts unused releases
    releases_used = used[(used > 0) & (used.index != "")].to_dict()
    described = {r["release"]: r for r in ref.describe()}

    def total(col: str) -> int:
        return int(lines[col].fillna(0).sum())

    return {
        "run_id": run_id,
        "run_started_at": started,
        "batch": batch,
        "lines_read": len(lines),
        "lines_written": len(lines),
        "conservation_ok": bool(len(lines) == lines["line_index"].nunique()),
        "line_status": {s: int(status_counts.get(s, 0)) for s in LINE_STATUSES},
        "lines_flagged": int((lines["flag_count"] > 0).sum()),
        "flags_by_rule": _counts(flags["rule_code"], sort=True),
        "flags_by_severity": _counts(flags["severity"]),
        "claims": len(claims),
        "totals": {
            "billed_cents": total("charge_cents"),
            "expected_allowed_cents": total("expected_allowed_cents"),
            "paid_cents": total("paid_cents"),
            "expected_payment_cents": total("expected_payment_cents"),
            "dollars_at_risk_cents": total("dollars_at_risk_cents"),
        },
        "releases_used": {
            name: {"lines": int(n), **described.get(name, {})} for name, n in releases_used.items()
        },
        "releases_loaded": ref.describe(),
        "zip_locality_file": ref.zip_source,
        "patient_key_source": config.patient_key_source.split(":")[0],
        "paid_tolerance_cents": config.paid_tolerance_cents,
        "timings_seconds": {k: round(v, 3) for k, v in timings.items()},
    }


def _counts(values: pd.Series, *, sort: bool = False) -> dict[str, int]:
    """Counts of the values present (most first, or by name), as plain ints."""
    counts = {str(k): int(v) for k, v in values.value_counts().items() if v}
    return dict(sorted(counts.items())) if sort else counts


def write_batch(
    result: BatchResult, dest: Destination, *, root: Destination | None = None
) -> dict[str, str]:
    """Write the report files, the audience reports, summary.json, then manifest.json.

    `root` is the report root (history/, runs/): with it the work queue notes denial
    patterns and run health compares with the previous run.
    """
    t = time.perf_counter()
    dest = RecordingDestination.of(dest)  # every object goes into manifest.json
    outputs: dict[str, str] = {}
    for stem, frame in (
        ("lines", result.lines),
        ("claims", result.claims),
        ("flags", result.flags),
    ):
        table = to_arrow(frame)  # converted once for Parquet and CSV
        outputs[f"{stem}.parquet"] = dest.write_parquet(f"{stem}.parquet", table)
        outputs[f"{stem}.csv"] = dest.write_csv(f"{stem}.csv", csv_view(table))
        del table
    outputs.update(write_validation(dest, result.validation, result.rejects))
    if result.x12_findings is not None:
        findings = to_arrow(result.x12_findings)
        outputs["x12_findings.parquet"] = dest.write_parquet("x12_findings.parquet", findings)
        outputs["x12_findings.csv"] = dest.write_csv("x12_findings.csv", findings)
    result.summary["timings_seconds"]["write"] = round(time.perf_counter() - t, 3)
    outputs.update(write_audience_reports(result, dest, root=root))
    outputs["summary.json"] = dest.uri("summary.json")
    result.summary["outputs"] = dict(outputs)
    dest.write_json("summary.json", result.summary)
    outputs["manifest.json"] = write_manifest(dest, stamp(result.summary))
    result.outputs = outputs
    return outputs


def publish_batch(
    result: BatchResult, out: Destination, name: str, *, path: Path, root: Destination | None
) -> None:
    """Write the batch's report to `out/<name>/` whole or not at all.

    Everything (the run record under `runs/` too) is written to a staging area and moved into
    place once all of it is written. When writing fails, the staged files are removed, an
    earlier report of the batch is left as it was, and the reason goes to
    `out/failed/<name>/<run_id>/` as for a batch that failed validation.
    """
    run_id = result.summary["run_id"]
    staging = Staging(out, f"{run_id}_{name}")
    try:
        write_batch(result, staging.stage(out.child(name)), root=root)
    except StorageError:
        staging.discard()
        raise  # the store itself cannot be written: the caller stops the run
    except Exception as exc:
        staging.discard()
        try:
            kept = f"the reason is in {write_failed(out, name, run_id, exc, path).root}/"
        except StorageError as storage:
            kept = f"the reason could not be kept ({storage})"
        told = f"nothing was published to {out.uri(name)}/, {kept}"
        if isinstance(exc, PipelineError):
            exc.message = f"{exc.message}; {told}"
        else:
            exc.add_note(told)
        raise
    staging.publish()


def write_validation(
    dest: Destination, document: dict[str, Any] | None, rejects: pa.Table | None
) -> dict[str, str]:
    """rejects.parquet/.csv and validation.json/.html, for whatever was produced."""
    outputs = {}
    if rejects is not None:
        as_text = rejects.set_column(
            rejects.schema.get_field_index("failed_checks"),
            "failed_checks",
            pc.binary_join(rejects["failed_checks"], ";"),
        )
        outputs["rejects.parquet"] = dest.write_parquet("rejects.parquet", rejects)
        outputs["rejects.csv"] = dest.write_csv("rejects.csv", as_text)
    if document is not None:
        outputs["validation.json"] = dest.write_json("validation.json", document)
        outputs["validation.html"] = dest.write_bytes(
            "validation.html", validation_html(document).encode()
        )
    return outputs


def write_failed(
    out: Destination,
    name: str,
    run_id: str,
    error: Exception,
    path: Path,
) -> Destination:
    """Keep what a failed batch produced in OUT/failed/<batch>/<run_id>/, with reason.json.

    Nothing goes to OUT/<batch>/ (an earlier run's report there is left as it was).
    """
    place = out.child("failed").child(name).child(run_id)
    code = getattr(error, "reason_code", "report_not_written")
    files = write_validation(
        place, getattr(error, "validation", None), getattr(error, "rejects", None)
    )
    reason = {
        "batch": name,
        "input": str(path),
        "run_id": run_id,
        "failed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "reason_code": code,
        "reason": str(error)
        if isinstance(error, PipelineError)
        else f"internal error while writing the reports ({short_error(error)})",
        "published": False,
        "report_folder_not_written": out.uri(name),
        "files": sorted(files),
    }
    place.write_json("reason.json", reason)
    logger.warning("batch %s failed (%s); reasons kept in %s", name, code, place.root)
    return place


def scrub_file(
    path: Path,
    ref: ReferenceData,
    config: PipelineConfig,
    out: Destination,
    *,
    default_locality: str | None = None,
    run_id: str | None = None,
    progress: Callable[[str], None] | None = None,
    name: str | None = None,
    use_history: bool = True,
    remits: Remittances | None = None,
) -> BatchResult:
    """Read one batch file, scrub it and write its report to `out/<batch>/`.

    With `use_history`, edits also see earlier batches kept in `out/history/`, and this
    batch's lines are added there.
    """
    name = name or batch_name(path)
    run_id = run_id or new_run_id()
    t = time.perf_counter()
    try:
        batch = read_batch_file(path)
        raw = batch.frame
        read_seconds = time.perf_counter() - t
        if progress:
            progress(f"read {len(raw):,} lines from {Path(path).name}")
        result = scrub_frame(
            raw,
            ref,
            config,
            default_locality=default_locality,
            run_id=run_id,
            batch=name,
            progress=progress,
            history_root=out if use_history else None,
            source=str(path),
            remits=remits,
        )
    except X12FileError:
        raise  # an unreadable X12 file: the caller quarantines it with its segment number
    except ClaimBatchError as exc:
        try:
            place = write_failed(out, name, run_id, exc, path)
            kept = f"the reasons are in {place.root}/ (reason.json" + (
                ", validation.html, rejects.csv)" if getattr(exc, "validation", None) else ")"
            )
        except StorageError as storage:
            kept = f"the reasons could not be kept ({storage})"
        # The same error, told where its reasons went (its other details are kept).
        exc.message = f"{exc.message}; nothing was published to {out.uri(name)}/, {kept}"
        exc.source = exc.source or str(path)
        raise
    result.summary["input"] = str(path)
    result.summary["input_encoding"] = batch.encoding
    result.summary["malformed_rows"] = batch.malformed_rows
    result.summary["renamed_columns"] = batch.renamed_columns
    if batch.findings is not None:  # an X12 837P file
        result.x12_findings = batch.findings
        severities = batch.findings["severity"].value_counts().sort_index()
        result.summary["x12"] = {
            **batch.details,
            "findings": {k: int(v) for k, v in severities.items()},
        }
    result.summary["timings_seconds"] = {
        "read": round(read_seconds, 3),
        **result.summary["timings_seconds"],
    }
    if progress:
        progress(f"writing report to {out.uri(name)}/")
    publish_batch(result, out, name, path=path, root=out if use_history else None)
    if use_history:
        write_history(result.history, out, name)
    return result
