"""The claim-batch suites: what every batch and every line must satisfy before pricing.

Three Great Expectations suites run on each batch:

* `claim_batch` on the batch as read: it has rows and the required columns. If not, the
  whole batch fails.
* `claim_lines` on one row per line: codes, modifiers, units, charge, dates, place of
  service, NPIs, ICD-10-CM codes, and one patient and billing provider per claim (the checks
  are in claims_checks, the table they read in claims_table). A line failing any critical
  check is rejected: it stays in the line report unpriced, and is listed in the rejects file
  with its reasons.
* `claim_reject_share` on the rejected-line flags: at most the configured share rejected.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa

from pipeline.extract.claims import withheld_rows, withhold_split_rows
from pipeline.scrub.flags import FlagCollector
from pipeline.validate.claims_checks import INPUT_RULE, REASONS, batch_checks, line_checks
from pipeline.validate.claims_table import validation_frame
from pipeline.validate.runner import Check, SuiteResult, run_suite

logger = logging.getLogger(__name__)


@dataclass
class ClaimValidation:
    """The three suites' results and what they mean for each line of the batch."""

    batch: SuiteResult
    lines: SuiteResult | None = None
    share: SuiteResult | None = None
    rejected: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    failed_checks: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    reasons: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    warning_reasons: dict[str, np.ndarray] = field(default_factory=dict)  # by check name
    run_date: str = ""
    max_reject_share: float = 0.05
    allowed_rejects: int = 0

    @property
    def suites(self) -> list[SuiteResult]:
        return [s for s in (self.batch, self.lines, self.share) if s is not None]

    @property
    def passed(self) -> bool:
        """The batch may be priced and published (rejected lines within the limit)."""
        return self.batch.success and self.share is not None and self.share.success

    @property
    def rejected_count(self) -> int:
        return int(self.rejected.sum())

    @property
    def warned_count(self) -> int:
        """Lines failing at least one warning check."""
        warned = np.zeros(len(self.rejected), dtype=bool)
        for reasons in self.warning_reasons.values():
            warned |= reasons != ""
        return int(warned.sum())

    def failure(self) -> str:
        """Why the batch failed, in one sentence ("" when it passed)."""
        if not self.batch.success:
            failed = self.batch.failed()
            if any(c.name == "batch_has_lines" for c in failed):
                return "the batch has no claim lines"
            missing = [c.kwargs["column"] for c in failed]
            return f"the batch lacks the required column(s) {missing}"
        if self.share is not None and not self.share.success:
            n = len(self.rejected)
            return (
                f"{self.rejected_count:,} of {n:,} lines ({self.rejected_count / n:.1%}) failed "
                f"validation, more than the {self.max_reject_share:.1%} allowed "
                f"(at most {self.allowed_rejects:,} of the {n:,} may fail)"
            )
        return ""

    def summary(self) -> dict:
        """Counts for summary.json."""
        checks = self.lines.checks if self.lines else []
        return {
            "passed": self.passed,
            "lines_checked": len(self.rejected),
            "lines_rejected": self.rejected_count,
            "reject_share": round(self.rejected_count / len(self.rejected), 6)
            if len(self.rejected)
            else None,
            "max_reject_share": self.max_reject_share,
            "run_date": self.run_date,
            "lines_failing_check": {
                c.name: int(c.rows_failed or 0)
                for c in checks
                if not c.success and c.severity == "critical"
            },
            "lines_with_warning": {
                c.name: int(c.rows_failed or 0)
                for c in checks
                if not c.success and c.severity == "warning"
            },
            "failure": self.failure(),
        }


def allowed_rejects(lines: int, max_share: float) -> int:
    """Lines that may be rejected before the batch fails (exact, no float edge at the limit)."""
    return math.floor(lines * max_share + 1e-9)


def validate_claims(
    raw: pd.DataFrame,
    lines: pd.DataFrame,
    *,
    run_date: date,
    max_reject_share: float,
) -> ClaimValidation:
    """Run the claim suites on a batch (`raw` as read, `lines` as normalize_batch made it)."""
    raw = raw.reset_index(drop=True)
    withheld = withheld_rows(raw)
    raw = withhold_split_rows(raw, withheld)
    batch = run_suite("claim_batch", "claim_batch", raw, batch_checks())
    result = ClaimValidation(batch=batch, run_date=run_date.isoformat())
    result.max_reject_share = max_reject_share
    if not batch.success:
        return result

    frame, shown = validation_frame(raw, lines)
    checks = line_checks()
    suite = run_suite(
        "claim_lines",
        "claim_lines",
        frame,
        checks,
        parameters={"run_date": f"{run_date.isoformat()}T00:00:00"},
        row_positions=True,
    )
    rows = lines["input_row"].to_numpy("int64")
    for check in suite.checks:
        check.sample_rows = [int(rows[i]) for i in check.sample_rows if 0 <= i < len(rows)]
    result.lines = suite

    n = len(frame)
    critical = [c for c in suite.checks if not c.success and c.severity == "critical"]
    warning = [c for c in suite.checks if not c.success and c.severity == "warning"]
    for c in critical + warning:
        if c.failed_rows is None or (c.error and not len(c.failed_rows)):
            # A check GX could not evaluate rejects every line: nothing was verified.
            c.failed_rows = np.arange(n)
    names, reasons = _per_line(critical, shown, n)
    problem = lines["input_problem"].to_numpy(object)
    # A reader problem (e.g. an unsplittable row) is always a reject, with its own reason.
    extra = (problem != "") & (names == "")
    if extra.any():
        names[extra] = problem[extra]
        reasons[extra] = lines["input_detail"].to_numpy(object)[extra]
    # A withheld row's checks saw blanks; its reason is the reader's, which says why.
    reasons[withheld] = lines["input_detail"].to_numpy(object)[withheld]
    result.failed_checks, result.reasons = names, reasons
    result.rejected = names != ""
    result.warning_reasons = {c.name: _per_line([c], shown, n)[1] for c in warning}

    result.allowed_rejects = allowed_rejects(n, max_reject_share)
    share_frame = pd.DataFrame({"line_rejected": result.rejected.astype("int64")})
    result.share = run_suite(
        "claim_reject_share",
        "claim_reject_share",
        share_frame,
        [
            Check(
                "reject_share",
                f"at most {max_reject_share:.1%} of the lines are rejected "
                f"({result.allowed_rejects:,} of {n:,})",
                "ExpectColumnSumToBeBetween",
                {"column": "line_rejected", "max_value": result.allowed_rejects},
            )
        ],
    )
    logger.info(
        "claim validation: %d of %d lines rejected (%d allowed), %d warning lines",
        result.rejected_count,
        n,
        result.allowed_rejects,
        result.warned_count,
    )
    return result


def _per_line(failed, shown: dict[str, pd.Series], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per line: the names of the failed checks (';'-joined) and their plain reasons."""
    names = np.full(n, "", dtype=object)
    reasons = np.full(n, "", dtype=object)
    for check in failed:
        at = check.failed_rows
        if not len(at):
            continue
        column, sentence = REASONS[check.name]
        if column is None:
            texts = np.full(len(at), sentence, dtype=object)
        else:
            values = shown[column].iloc[at].astype(object).fillna("").astype(str).to_numpy(object)
            say = sentence if callable(sentence) else sentence.format
            blank = f"{column} is blank"
            texts = np.array([say(v=v) if v != "" else blank for v in values], dtype=object)
        first = names[at] == ""
        names[at] = np.where(first, check.name, names[at] + ";" + check.name)
        reasons[at] = np.where(first, texts, reasons[at] + "; " + texts)
    return names, reasons


def apply_rejections(lines: pd.DataFrame, validation: ClaimValidation) -> pd.DataFrame:
    """Mark lines rejected by validation so pricing skips them (input_problem INPUT_INVALID).

    A line the reader already marked keeps its own problem code and detail.
    """
    problem = lines["input_problem"].to_numpy(object).copy()
    detail = lines["input_detail"].to_numpy(object).copy()
    new = validation.rejected & (problem == "")
    problem[new] = INPUT_RULE
    detail[new] = validation.reasons[new]
    return lines.assign(
        input_problem=pd.Series(problem, index=lines.index, dtype=object),
        input_detail=pd.Series(detail, index=lines.index, dtype=object),
    )


def rejects_table(lines: pd.DataFrame, validation: ClaimValidation, run_id: str) -> pa.Table:
    """One row per rejected line: where it is, the checks it failed and why."""
    at = np.flatnonzero(validation.rejected)
    names = validation.failed_checks[at]
    offsets = np.zeros(len(at) + 1, dtype="int32")
    split = [str(v).split(";") for v in names]
    np.cumsum([len(s) for s in split], out=offsets[1:])
    flat = pa.array([x for s in split for x in s], type=pa.string())

    def text(column: str) -> pa.Array:
        values = lines[column].to_numpy(object)[at] if column in lines else [""] * len(at)
        return pa.array(["" if pd.isna(v) else str(v) for v in values], type=pa.string())

    return pa.table(
        {
            "input_row": pa.array(lines["input_row"].to_numpy("int64")[at], type=pa.int64()),
            "claim_id": text("claim_id"),
            "claim_line_number": text("claim_line_number"),
            "failed_checks": pa.ListArray.from_arrays(pa.array(offsets), flat),
            "reason": pa.array(validation.reasons[at].tolist(), type=pa.string()),
            "run_id": pa.array([run_id] * len(at), type=pa.string()),
        }
    )


# The flag raised on lines that passed but fail a warning check: (rule code, check name).
WARNING_RULES = (
    ("MODIFIER_UNKNOWN", "modifiers_known"),
    ("PARTICIPATION_UNKNOWN", "participating_known"),
)


def warning_flags(lines: pd.DataFrame, validation: ClaimValidation) -> FlagCollector:
    """A flag per warning check on lines that passed but fail it (WARNING_RULES)."""
    flags = FlagCollector()
    index = lines["line_index"].to_numpy("int64")
    for rule, check in WARNING_RULES:
        reasons = validation.warning_reasons.get(check)
        if reasons is not None:
            flags.add(rule, (reasons != "") & ~validation.rejected, index, (reasons, "."))
    return flags
