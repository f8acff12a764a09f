"""The 835 side of a run: read remittances, match what batches did not, report, quarantine."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from pipeline.config import PipelineConfig
from pipeline.digest import file_sha256
from pipeline.errors import PipelineError, short_error
from pipeline.extract.x12_envelope import X12FileError
from pipeline.report.history import read_history_claims
from pipeline.report.remit_report import remit_report, remit_summary, write_remit_report
from pipeline.report.remittance_history import remittance_rows, write_remittance_history
from pipeline.report.storage import Destination
from pipeline.scrub.remits import Remittances, match_history

logger = logging.getLogger(__name__)

REMITS_FOLDER = "remits"  # OUT/remits/<835 name>/: apart from the claim batch reports


@dataclass
class RemitRun:
    """The remittances read for a run, and the files that could not be read."""

    remits: Remittances
    files: list = field(default_factory=list)  # RemitFile per readable input
    failed: list[tuple[Path, PipelineError]] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)  # sha256 of each readable file's bytes
    repeats: list[str] = field(default_factory=list)  # warnings: remittances given twice


def load_remits(named: list[tuple[Path, str]]) -> RemitRun:
    """Read every 835 (path, report name); an unreadable one is kept aside with its error."""
    from pipeline.extract.x12_835 import read_remittance

    files, names, failed = [], [], []
    for path, name in named:
        try:
            files.append(read_remittance(path))
            names.append(name)
        except PipelineError as exc:
            failed.append((path, exc))
        except Exception as exc:  # a reader bug must not stop the other files
            if os.environ.get("CLAIMS_PIPELINE_DEBUG"):
                raise
            logger.debug("unexpected error reading %s", path, exc_info=True)
            message = (
                f"{path}: internal error ({short_error(exc)}); the other files go on. "
                "Rerun with CLAIMS_PIPELINE_DEBUG=1 for the traceback and report it."
            )
            failed.append((path, PipelineError(message)))
    files, names, repeats = _use_once(files, names)
    path_of = {name: path for path, name in named}
    digests = [file_sha256(path_of[name]) for name in names]
    remits = Remittances.build(files, names)
    logger.info(
        "remittances: %d file(s) read, %d rows, %d refused",
        len(files),
        len(remits.rows),
        len(failed),
    )
    return RemitRun(remits, files, failed, digests, repeats)


def _use_once(files: list, names: list[str]) -> tuple[list, list[str], list[str]]:
    """Keep each remittance once: a file whose every transaction (payer + TRN02 trace number)
    was in an earlier file is left out; a claim payment repeated from an earlier file (same
    payer, CLP07, claim id, status, charge and paid) is left out of the later file's rows.
    Returns the files and names kept and a warning per repeat."""
    kept, kept_names, warnings = [], [], []
    traces: dict[tuple[str, str], str] = {}  # (payer, trace number) -> first file
    payments: dict[tuple, str] = {}  # claim payment key -> first file
    for f, name in zip(files, names, strict=True):
        lines = f.lines
        payer = lines["payer_id"].where(lines["payer_id"] != "", lines["payer"]).astype(str)
        mine = {(p, t) for p, t in zip(payer, lines["trace_number"].astype(str), strict=True) if t}
        earlier = {traces[k] for k in mine if k in traces}
        if mine and all(k in traces for k in mine):
            shown = ", ".join(f"TRN02 {t!r} of payer {p!r}" for p, t in sorted(mine))
            warnings.append(
                f"{f.source}: the same remittance ({shown}) as {', '.join(sorted(earlier))}; "
                "used once, from the first file"
            )
            continue
        claims = f.claims.set_index("remit_claim")
        first = lines.assign(payer_key=payer).groupby("remit_claim").first()
        repeated = []
        for remit_claim, row in first.iterrows():
            if not row["payer_claim_number"]:
                continue
            c = claims.loc[remit_claim]
            key = (
                row["payer_key"],
                row["payer_claim_number"],
                c["claim_id"],
                c["claim_status"],
                _cents_or_none(c["charge_cents"]),
                _cents_or_none(c["paid_cents"]),
            )
            if key in payments:
                repeated.append(remit_claim)
                warnings.append(
                    f"{f.source}: claim payment CLP07 {key[1]!r} (claim {key[2]!r}, status "
                    f"{key[3]}, charge {_shown(key[4])}, paid {_shown(key[5])}) repeats "
                    f"the one in {payments[key]}; used once, from the first file"
                )
            else:
                payments[key] = f.source
        if repeated:
            f.lines = lines[~lines["remit_claim"].isin(repeated)].reset_index(drop=True)
            f.adjustments = f.adjustments[~f.adjustments["remit_claim"].isin(repeated)]
        for k in mine:
            traces.setdefault(k, f.source)
        kept.append(f)
        kept_names.append(name)
    if warnings:
        logger.warning("remittances: %d repeated remittance(s) used once", len(warnings))
    return kept, kept_names, warnings


def _cents_or_none(value) -> int | None:
    """A nullable cents value as int, None when the 835's amount could not be read."""
    return None if pd.isna(value) else int(value)


def _shown(cents: int | None) -> str:
    return "(unreadable)" if cents is None else f"{cents / 100:.2f}"


def finish_remits(
    run: RemitRun,
    out: Destination,
    config: PipelineConfig,
    *,
    run_id: str,
    use_history: bool = True,
) -> list[dict]:
    """Match what this run's batches did not against the history store, then write one
    report folder per 835 file and (with `use_history`) its matched lines to
    `history/remittance/` for denial patterns. Returns each file's summary."""
    remits = run.remits
    if remits.empty:
        return []
    if use_history:
        rest = remits.unmatched()
        claims = set(rest["claim_id"].astype(str)) - {""}
        if claims:
            past = read_history_claims(out, claims, months=remits.months())
            match_history(remits, past, tolerance_cents=config.paid_tolerance_cents)
    summaries = []
    for i, (name, source) in enumerate(zip(remits.names, remits.sources, strict=True)):
        frames = remit_report(remits, i, run_id, run.files)
        summary = remit_summary(frames, run.files[i].details, name, run_id)
        summary["input"] = source
        summary["paid_tolerance_cents"] = config.paid_tolerance_cents
        if use_history and run.digests[i]:
            kept = remittance_rows(remits, i, run_id=run_id)
            summary["history_rows"] = len(kept)
            summary["history_denied_rows"] = int(kept["denied"].sum()) if len(kept) else 0
            write_remittance_history(kept, out, run.digests[i][:20])
        write_remit_report(frames, summary, out.child(REMITS_FOLDER).child(name))
        logger.info(
            "remittance %s: %d rows, %s, %d flagged",
            name,
            summary["rows"],
            summary["matched"],
            summary["lines_flagged"],
        )
        summaries.append(summary)
    return summaries


def quarantine(out: Destination, path: Path, exc: X12FileError, run_id: str) -> str:
    """Record why an X12 file was refused in OUT/quarantine/<file>.json.

    The file itself is not copied: it holds member ids and names. It stays where it was;
    fix it there (or ask the sender for a new one) and rerun.
    """
    path = Path(path)
    record = {
        "file": str(path),
        "sha256": file_sha256(path),
        "reason": exc.reason,
        "segment": exc.segment,
        "message": str(exc),
        "run_id": run_id,
        "quarantined_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return out.child("quarantine").write_json(f"{path.name}.json", record)
