"""The claim-batch suites: what every batch and every line must satisfy before pricing.

Three Great Expectations suites run on each batch:

* `claim_batch` on the batch as read: it has rows and the required columns. If not, the
  whole batch fails.
* `claim_lines` on one row per line: codes, modifiers, units, charge, dates, place of
  service, NPIs, ICD-10-CM codes, and one patient and billing provider per claim. Checks
  GX has no expectation for (NPI check digit, claim consistency, the first malformed
  diagnosis code) are computed here, vectorized, as columns that a GX expectation asserts,
  so every failure is in the GX results. A line failing any critical check is rejected: it
  stays in the line report unpriced, and is listed in the rejects file with its reasons.
* `claim_reject_share` on the rejected-line flags: at most the configured share rejected.
"""

from __future__ import annotations

import csv
import logging
import math
import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.extract.batch_files import MALFORMED_COLUMN, REQUIRED_COLUMNS
from pipeline.extract.claims import MAX_DOLLARS_DIGITS, MAX_UNITS
from pipeline.money import parse_money
from pipeline.scrub.flags import FlagCollector
from pipeline.validate.runner import Check, SuiteResult, run_suite

logger = logging.getLogger(__name__)

HCPCS_SHAPE = r"^(?:\d{4}[0-9FMTU]|[A-V]\d{4})$"
MODIFIER_SHAPE = r"^[A-Z0-9]{2}$"
WHOLE_NUMBER = r"^\d+(?:\.0*)?$"
LINE_NUMBER = r"^\d{1,6}$"
NPI_SHAPE = r"^\d{10}$"
ICD10CM_SHAPE = r"[A-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,4})?"
DIAGNOSIS_COLUMN = re.compile(r"^diagnosis_code_\d+$")
MODIFIER_COLUMNS = tuple(f"hcpcs_modifier_{i}" for i in range(1, 5))
NPI_COLUMNS = ("rendering_npi", "billing_npi")
INPUT_RULE = "INPUT_INVALID"  # input_problem of lines rejected here (catalog rule)


def _data_file(name: str) -> list[dict[str, str]]:
    text = (resources.files("pipeline") / "validate" / name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


@lru_cache(maxsize=1)
def place_of_service_codes() -> tuple[str, ...]:
    """The CMS place-of-service code set (pipeline/validate/place_of_service.csv)."""
    return tuple(row["code"] for row in _data_file("place_of_service.csv"))


@lru_cache(maxsize=1)
def known_modifiers() -> tuple[str, ...]:
    """CPT and HCPCS Level II modifier codes (pipeline/validate/modifiers.csv)."""
    return tuple(row["code"] for row in _data_file("modifiers.csv"))


def batch_checks() -> list[Check]:
    checks = [
        Check(
            "batch_has_lines",
            "the batch has at least one claim line",
            "ExpectTableRowCountToBeBetween",
            {"min_value": 1},
        )
    ]
    for column in REQUIRED_COLUMNS:
        checks.append(
            Check(
                f"{column}_column",
                f"the batch has a {column} column",
                "ExpectColumnToExist",
                {"column": column},
            )
        )
    return checks


def line_checks() -> list[Check]:
    """The row-level checks, in the order their reasons are listed."""

    def regex(name, says, column, pattern, severity="critical"):
        return Check(
            name,
            says,
            "ExpectColumnValuesToMatchRegex",
            {"column": column, "regex": pattern},
            severity,
        )

    def in_set(name, says, column, values, severity="critical"):
        return Check(
            name,
            says,
            "ExpectColumnValuesToBeInSet",
            {"column": column, "value_set": list(values)},
            severity,
        )

    def present(name, says, column):
        return Check(name, says, "ExpectColumnValuesToNotBeNull", {"column": column})

    run_date = {"$PARAMETER": "run_date"}
    checks = [
        present("claim_id_present", "claim_id is not blank", "claim_id"),
        present("claim_line_number_present", "claim_line_number is not blank", "claim_line_number"),
        regex(
            "claim_line_number_whole",
            "claim_line_number is a whole number",
            "claim_line_number",
            LINE_NUMBER,
        ),
        in_set("row_complete", "the row splits into the header's columns", "row_complete", [True]),
        present("hcpcs_present", "hcpcs_code is not blank", "hcpcs_code"),
        regex(
            "hcpcs_shape",
            "hcpcs_code is 5 digits, 4 digits and F/M/T/U, or a letter A-V and 4 digits",
            "hcpcs_code",
            HCPCS_SHAPE,
        ),
    ]
    for i, column in enumerate(MODIFIER_COLUMNS, 1):
        checks.append(
            regex(
                f"modifier_{i}_shape", f"{column} is two letters or digits", column, MODIFIER_SHAPE
            )
        )
    checks.append(
        Check(
            "modifiers_known",
            "each modifier is a known CPT/HCPCS modifier (warning only)",
            "ExpectColumnValuesToBeNull",
            {"column": "unknown_modifiers"},
            "warning",
        )
    )
    checks += [
        regex(
            "units_whole",
            "service_unit_quantity is a whole number",
            "service_unit_quantity",
            WHOLE_NUMBER,
        ),
        Check(
            "units_positive",
            f"service_unit_quantity is from 1 to {MAX_UNITS:,}",
            "ExpectColumnValuesToBeBetween",
            {"column": "units_number", "min_value": 1, "max_value": MAX_UNITS},
        ),
        in_set(
            "charge_is_amount",
            f"charge_amount is a dollar amount (at most {MAX_DOLLARS_DIGITS} digits before the "
            "point, 2 after)",
            "charge_is_amount",
            [True],
        ),
        Check(
            "charge_not_negative",
            "charge_amount is not negative",
            "ExpectColumnValuesToBeBetween",
            {"column": "charge_dollars", "min_value": 0},
        ),
        present(
            "date_of_service_real",
            "claim_line_start_date is a real date (YYYY-MM-DD or YYYYMMDD)",
            "date_of_service",
        ),
        Check(
            "date_of_service_not_future",
            "claim_line_start_date is not after the run date",
            "ExpectColumnValuesToBeBetween",
            {"column": "date_of_service", "max_value": run_date},
        ),
        in_set(
            "line_end_date_real",
            "claim_line_end_date, when given, is a real date",
            "line_end_date_is_real",
            [True],
        ),
        Check(
            "line_end_date_not_future",
            "claim_line_end_date is not after the run date",
            "ExpectColumnValuesToBeBetween",
            {"column": "line_end_date", "max_value": run_date},
        ),
        Check(
            "line_end_not_before_start",
            "claim_line_end_date is not before claim_line_start_date",
            "ExpectColumnPairValuesAToBeGreaterThanB",
            {
                "column_A": "line_end_date",
                "column_B": "date_of_service",
                "or_equal": True,
                "ignore_row_if": "either_value_is_missing",
            },
        ),
        in_set(
            "place_of_service",
            "place_of_service_code, when given, is in the CMS place-of-service code set",
            "place_of_service_code",
            place_of_service_codes(),
        ),
    ]
    for column in NPI_COLUMNS:
        checks.append(regex(f"{column}_shape", f"{column} is ten digits", column, NPI_SHAPE))
        checks.append(
            in_set(
                f"{column}_check_digit",
                f"{column} has a valid NPI check digit (Luhn with prefix 80840)",
                f"{column}_check_digit_ok",
                [True],
            )
        )
    checks += [
        Check(
            "diagnosis_codes",
            "every diagnosis_code_N is a well-formed ICD-10-CM code",
            "ExpectColumnValuesToBeNull",
            {"column": "malformed_diagnosis_code"},
        ),
        in_set(
            "claim_one_patient",
            "all lines of a claim have the same patient_id",
            "claim_one_patient",
            [True],
        ),
        in_set(
            "claim_one_billing_provider",
            "all lines of a claim have the same billing_npi",
            "claim_one_billing_provider",
            [True],
        ),
    ]
    return checks


# Plain reason for a failing line: (text column shown, sentence). "{v}" is the value; a check
# whose shown value is blank says "<column> is blank" instead.
REASONS: dict[str, tuple[str | None, str]] = {
    "claim_id_present": (None, "claim_id is blank"),
    "claim_line_number_present": (None, "claim_line_number is blank"),
    "claim_line_number_whole": (
        "claim_line_number",
        "claim_line_number '{v}' is not a whole number",
    ),
    "row_complete": ("row_problem", "{v}"),
    "hcpcs_present": (None, "hcpcs_code is blank"),
    "hcpcs_shape": ("hcpcs_code", "hcpcs_code '{v}' is not the shape of a HCPCS/CPT code"),
    **{
        f"modifier_{i}_shape": (c, f"{c} '{{v}}' is not two letters or digits")
        for i, c in enumerate(MODIFIER_COLUMNS, 1)
    },
    "modifiers_known": ("unknown_modifiers", "{v}: not a known CPT/HCPCS modifier"),
    "units_whole": ("service_unit_quantity", "service_unit_quantity '{v}' is not a whole number"),
    "units_positive": (
        "service_unit_quantity",
        f"service_unit_quantity '{{v}}' is not from 1 to {MAX_UNITS:,}",
    ),
    "charge_is_amount": ("charge_amount", "charge_amount '{v}' is not a dollar amount"),
    "charge_not_negative": ("charge_amount", "charge_amount '{v}' is negative"),
    "date_of_service_real": (
        "claim_line_start_date",
        "claim_line_start_date '{v}' is not a real date (YYYY-MM-DD)",
    ),
    "date_of_service_not_future": (
        "claim_line_start_date",
        "claim_line_start_date {v} is after the run date",
    ),
    "line_end_date_real": (
        "claim_line_end_date",
        "claim_line_end_date '{v}' is not a real date (YYYY-MM-DD)",
    ),
    "line_end_date_not_future": (
        "claim_line_end_date",
        "claim_line_end_date {v} is after the run date",
    ),
    "line_end_not_before_start": (
        "claim_line_end_date",
        "claim_line_end_date {v} is before claim_line_start_date",
    ),
    "place_of_service": (
        "place_of_service_code",
        "place_of_service_code '{v}' is not in the CMS place-of-service code set",
    ),
    **{f"{c}_shape": (c, f"{c} '{{v}}' is not ten digits") for c in NPI_COLUMNS},
    **{
        f"{c}_check_digit": (c, f"{c} '{{v}}' fails the NPI check digit (Luhn, prefix 80840)")
        for c in NPI_COLUMNS
    },
    "diagnosis_codes": ("malformed_diagnosis_code", "{v} is not a well-formed ICD-10-CM code"),
    "claim_one_patient": ("claim_id", "claim '{v}' has lines for more than one patient_id"),
    "claim_one_billing_provider": (
        "claim_id",
        "claim '{v}' has lines with different billing_npi values",
    ),
}


@dataclass
class ClaimValidation:
    """The three suites' results and what they mean for each line of the batch."""

    batch: SuiteResult
    lines: SuiteResult | None = None
    share: SuiteResult | None = None
    rejected: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    failed_checks: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    reasons: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    warnings: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
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
                f"({self.allowed_rejects:,} lines)"
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
    result.failed_checks, result.reasons = names, reasons
    result.rejected = names != ""
    _, result.warnings = _per_line(warning, shown, n)

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
        int((result.warnings != "").sum()),
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
            blank = f"{column} is blank"
            texts = np.array(
                [sentence.format(v=v) if v != "" else blank for v in values], dtype=object
            )
        first = names[at] == ""
        names[at] = np.where(first, check.name, names[at] + ";" + check.name)
        reasons[at] = np.where(first, texts, reasons[at] + "; " + texts)
    return names, reasons


def _strings(values: pa.Array) -> pd.Series:
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([values])))


def _text(raw: pd.DataFrame, column: str, *, upper: bool = False) -> pd.Series:
    """A column as trimmed Arrow strings, blanks missing (GX skips missing values)."""
    if column not in raw.columns:
        return _strings(pa.nulls(len(raw), pa.large_string()))
    series = raw[column]
    if not isinstance(series.dtype, pd.StringDtype):
        series = series.astype("string")
    values = pa.array(series, from_pandas=True)
    values = pc.utf8_trim_whitespace(values.cast(pa.large_string()))
    if upper:
        values = pc.utf8_upper(values)
    return _strings(pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.large_string()), values))


def _optional_text(values: np.ndarray) -> pd.Series:
    """Object text ("" for none) as Arrow strings with missing values."""
    blank = values == ""
    if blank.all():
        return _strings(pa.nulls(len(values), pa.large_string()))
    return _strings(pa.array(values, type=pa.large_string(), mask=blank))


def _parse_dates(text: pd.Series) -> np.ndarray:
    """YYYY-MM-DD (time part ignored) or YYYYMMDD; anything else NaT."""
    dash = pd.to_datetime(text.str[:10], format="%Y-%m-%d", errors="coerce")
    compact = dash.isna() & text.str.fullmatch(r"\d{8}").fillna(False)
    plain = pd.to_datetime(text.where(compact), format="%Y%m%d", errors="coerce")
    return dash.where(~compact, plain).to_numpy("datetime64[ns]")


def npi_check_digit_ok(npi: pd.Series) -> np.ndarray:
    """For each value: True when it is ten digits with a valid NPI check digit, else False
    (the shape check reports values that are not ten digits).

    The check digit is the Luhn digit of "80840" + the first nine digits: double every other
    digit from the right of the nine, add the digits, add 24 for the prefix.
    """
    out = np.zeros(len(npi), dtype=bool)
    ten = npi.str.fullmatch(r"\d{10}").fillna(False).to_numpy(bool)
    if ten.any():
        digits = np.frombuffer("".join(npi[ten]).encode("ascii"), dtype=np.uint8) - 48
        digits = digits.reshape(-1, 10).astype("int64")
        doubled = digits[:, 0:9:2] * 2
        total = 24 + (doubled // 10 + doubled % 10).sum(axis=1) + digits[:, 1:9:2].sum(axis=1)
        out[ten] = ((10 - total % 10) % 10) == digits[:, 9]
    return out


def _per_value(text: pd.Series, fn, *, only=None) -> tuple[np.ndarray, np.ndarray]:
    """`fn` over the distinct values of `text`, spread to every line; and the missing mask.

    With `only` (a function of the distinct values), lines whose value it rejects count as
    missing too (e.g. the check digit of values that are not ten digits).
    """
    codes, uniques = pd.factorize(text)
    uniques = pd.Series(uniques, dtype="string")
    result = np.asarray(fn(uniques))
    missing = codes < 0
    if only is not None and len(uniques):
        missing |= ~np.asarray(only(uniques), dtype=bool)[np.maximum(codes, 0)]
    if not len(result):
        return np.zeros(len(codes), dtype=result.dtype), missing
    return result[np.maximum(codes, 0)], missing


def _flag(values: np.ndarray, missing: np.ndarray | None = None) -> pd.arrays.BooleanArray:
    values = np.asarray(values, dtype=bool)
    if missing is None:
        missing = np.zeros(len(values), dtype=bool)
    return pd.arrays.BooleanArray(values & ~missing, missing)


def _claim_consistent(claim_codes: np.ndarray, values: pd.Series) -> pd.arrays.BooleanArray:
    """True on lines whose claim has one distinct value (blank counts as a value); missing
    on lines without a claim id (claim_id_present rejects those)."""
    has_claim = claim_codes >= 0
    value_codes, _ = pd.factorize(values, use_na_sentinel=False)
    groups = pd.Series(value_codes[has_claim]).groupby(claim_codes[has_claim])
    one = (groups.min() == groups.max()).to_numpy(bool)
    ok = np.zeros(len(claim_codes), dtype=bool)
    ok[has_claim] = one[claim_codes[has_claim]]
    return _flag(ok, ~has_claim)


def _listed(n: int, parts: list[tuple[str, np.ndarray, pd.Series]]) -> np.ndarray:
    """Per line, "column 'value'" for each (column, mask, values) hit, comma-joined."""
    out = np.full(n, "", dtype=object)
    for column, hit, values in parts:
        at = np.flatnonzero(hit)
        if len(at):
            shown = np.array([f"{column} '{v}'" for v in values.iloc[at]], dtype=object)
            out[at] = np.where(out[at] == "", shown, out[at] + ", " + shown)
    return out


def _pos_text(raw: pd.DataFrame) -> pd.Series:
    """place_of_service_code as the reader reads it: one digit gets a leading zero."""
    text = _text(raw, "place_of_service_code")
    values = pa.array(text.array)
    one = pc.fill_null(pc.match_substring_regex(values, r"^\d$"), False)
    return _strings(pc.if_else(one, pc.utf8_lpad(values, width=2, padding="0"), values))


def validation_frame(raw: pd.DataFrame, lines: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """One row per line with the columns the line checks read, and the text shown in reasons.

    Blank optional values are missing (GX skips them); derived checks are nullable boolean
    columns. No patient identifier is put in the frame.
    """
    raw = raw.reset_index(drop=True)
    n = len(raw)
    text = {c: _text(raw, c) for c in ("claim_id", "claim_line_number")}
    for c in ("hcpcs_code", *MODIFIER_COLUMNS):
        text[c] = _text(raw, c, upper=True)
    for c in (
        "service_unit_quantity",
        "charge_amount",
        "claim_line_start_date",
        "claim_line_end_date",
        *NPI_COLUMNS,
    ):
        text[c] = _text(raw, c)
    text["place_of_service_code"] = _pos_text(raw)

    columns: dict[str, object] = {
        c: text[c]
        for c in (
            "claim_id",
            "claim_line_number",
            "hcpcs_code",
            *MODIFIER_COLUMNS,
            "service_unit_quantity",
            "place_of_service_code",
            *NPI_COLUMNS,
        )
    }
    malformed = (
        raw[MALFORMED_COLUMN].fillna("").to_numpy(object)
        if MALFORMED_COLUMN in raw
        else np.full(n, "", dtype=object)
    )
    columns["row_complete"] = _flag(malformed == "")

    known = list(known_modifiers())
    unknown = []
    for c in MODIFIER_COLUMNS:
        odd, missing = _per_value(
            text[c],
            lambda t: (t.str.fullmatch(MODIFIER_SHAPE) & ~t.isin(known)).fillna(False),
        )
        unknown.append((c, odd & ~missing, text[c]))
    unknown_text = _listed(n, unknown)
    columns["unknown_modifiers"] = _optional_text(unknown_text)

    def units(t: pd.Series) -> np.ndarray:
        whole = t.str.fullmatch(WHOLE_NUMBER).fillna(False)
        return pd.to_numeric(t.where(whole), errors="coerce").to_numpy("float64", na_value=np.nan)

    number, missing = _per_value(text["service_unit_quantity"], units)
    columns["units_number"] = np.where(missing, np.nan, number)

    # The reader already parsed every charge; only the unreadable ones are parsed again to
    # tell a negative amount from text that is not an amount.
    charge_text = text["charge_amount"]
    given = charge_text.notna().to_numpy(bool)
    cents = lines["charge_cents"]
    unread = given & cents.isna().to_numpy(bool)
    dollars = cents.to_numpy("float64", na_value=np.nan) / 100
    is_amount = np.ones(n, dtype=bool)
    if unread.any():
        again = charge_text[unread]
        parsed, bad = parse_money(again)
        digits = again.str.replace(r"[^0-9.]", "", regex=True).str.split(".").str[0].str.len()
        bad = (bad | (digits > MAX_DOLLARS_DIGITS).fillna(False)).to_numpy(bool)
        is_amount[unread] = ~bad
        dollars[unread] = np.where(bad, np.nan, parsed.to_numpy("float64", na_value=np.nan) / 100)
    columns["charge_is_amount"] = _flag(is_amount, ~given)
    columns["charge_dollars"] = dollars

    columns["date_of_service"] = lines["dos"].to_numpy("datetime64[ns]")
    end, no_end = _per_value(text["claim_line_end_date"], _parse_dates)
    end = np.where(no_end, np.datetime64("NaT"), end).astype("datetime64[ns]")
    columns["line_end_date"] = end
    columns["line_end_date_is_real"] = _flag(~np.isnat(end), no_end)

    for c in NPI_COLUMNS:
        ok, missing = _per_value(
            text[c], npi_check_digit_ok, only=lambda t: t.str.fullmatch(NPI_SHAPE).fillna(False)
        )
        columns[f"{c}_check_digit_ok"] = _flag(ok, missing)

    bad_dx = np.full(n, "", dtype=object)
    for c in sorted((c for c in raw.columns if DIAGNOSIS_COLUMN.match(c)), key=_dx_order):
        codes = _text(raw, c, upper=True)
        wrong, missing = _per_value(
            codes, lambda t: ~t.str.fullmatch(ICD10CM_SHAPE).fillna(False).to_numpy(bool)
        )
        first = wrong & ~missing & (bad_dx == "")  # the first malformed code of each line
        if first.any():
            bad_dx[first] = [f"{c} '{v}'" for v in codes[first]]
    columns["malformed_diagnosis_code"] = _optional_text(bad_dx)

    claim_codes, _ = pd.factorize(text["claim_id"])
    columns["claim_one_patient"] = _claim_consistent(claim_codes, _text(raw, "patient_id"))
    columns["claim_one_billing_provider"] = _claim_consistent(claim_codes, text["billing_npi"])
    frame = pd.DataFrame(columns, copy=False)

    shown = dict(text)
    shown["row_problem"] = pd.Series(malformed, dtype=object)
    shown["malformed_diagnosis_code"] = pd.Series(bad_dx, dtype=object)
    shown["unknown_modifiers"] = pd.Series(unknown_text, dtype=object)
    return frame, shown


def _dx_order(column: str) -> int:
    return int(column.rsplit("_", 1)[1])


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


def warning_flags(lines: pd.DataFrame, validation: ClaimValidation) -> pd.DataFrame:
    """MODIFIER_UNKNOWN on lines that passed but carry a modifier not in the known list."""
    flags = FlagCollector()
    flags.add(
        "MODIFIER_UNKNOWN",
        (validation.warnings != "") & ~validation.rejected,
        lines["line_index"].to_numpy("int64"),
        (validation.warnings, "."),
    )
    return flags.table()
