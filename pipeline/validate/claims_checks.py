"""The claim checks: which columns must hold what, and the plain reason shown when not.

Data files: place_of_service.csv (the CMS code set) and modifiers.csv (known modifiers).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from functools import lru_cache
from importlib import resources

from pipeline.extract.batch_files import REQUIRED_COLUMNS
from pipeline.extract.claims import (
    MAX_DOLLARS_DIGITS,
    MAX_UNITS,
    NON_PARTICIPATING,
    PARTICIPATING,
    unreadable_date,
)
from pipeline.validate.runner import Check

HCPCS_SHAPE = r"^(?:[0-9]{4}[0-9FMTU]|[A-V][0-9]{4})$"
MODIFIER_SHAPE = r"^[A-Z0-9]{2}$"
WHOLE_NUMBER = r"^[0-9]+(?:\.0*)?$"
LINE_NUMBER = r"^[0-9]{1,6}$"
NPI_SHAPE = r"^[0-9]{10}$"
ICD10CM_SHAPE = r"[A-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,4})?"
DIAGNOSIS_COLUMN = re.compile(r"^diagnosis_code_[0-9]+$")
MODIFIER_COLUMNS = tuple(f"hcpcs_modifier_{i}" for i in range(1, 5))
NPI_COLUMNS = ("rendering_npi", "billing_npi")
INPUT_RULE = "INPUT_INVALID"  # input_problem of lines rejected here (catalog rule)
PARTICIPATION_VALUES = tuple(
    v for pair in zip(PARTICIPATING, NON_PARTICIPATING, strict=True) for v in pair
)


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
            "participating_known",
            "participating, when given, is Y or N (or YES/NO, TRUE/FALSE, 1/0) (warning only)",
            "participating",
            PARTICIPATION_VALUES,
            "warning",
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


def _date_reason(column: str) -> Callable[[str], str]:
    def reason(v: str) -> str:
        return f"{column} '{v}' {unreadable_date(v, 'is not a real date (YYYY-MM-DD)')}"

    return reason


# Plain reason for a failing line: (text column shown, sentence). "{v}" is the value (or the
# sentence is a function of it); a check whose shown value is blank says "<column> is blank".
REASONS: dict[str, tuple[str | None, str | Callable[[str], str]]] = {
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
    "date_of_service_real": ("claim_line_start_date", _date_reason("claim_line_start_date")),
    "date_of_service_not_future": (
        "claim_line_start_date",
        "claim_line_start_date {v} is after the run date",
    ),
    "line_end_date_real": ("claim_line_end_date", _date_reason("claim_line_end_date")),
    "line_end_date_not_future": (
        "claim_line_end_date",
        "claim_line_end_date {v} is after the run date",
    ),
    "line_end_not_before_start": (
        "claim_line_end_date",
        "claim_line_end_date {v} is before claim_line_start_date",
    ),
    "participating_known": (
        "participating",
        "participating '{v}' is not one of "
        + ", ".join(PARTICIPATION_VALUES)
        + " (any case); priced as participating",
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
