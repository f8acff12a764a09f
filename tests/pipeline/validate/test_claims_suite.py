"""Claim validation: each broken line is quarantined with its reason; batches over the limit
fail and publish nothing."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from pipeline.config import PipelineConfig
from pipeline.errors import BatchRejected, ClaimBatchError
from pipeline.report.storage import Destination
from pipeline.run import scrub_file, scrub_frame
from pipeline.validate.claims_suite import allowed_rejects
from pipeline.validate.claims_table import npi_check_digit_ok
from tests.conftest import NO_EDITS, batch

RUN_DATE = date(2025, 12, 1)

# One line broken in each way the suite checks, between good lines. (row, checks, reason)
BROKEN = [
    (
        {"hcpcs_code": "9921"},
        "hcpcs_shape",
        "hcpcs_code '9921' is not the shape of a HCPCS/CPT code",
    ),
    ({"hcpcs_code": ""}, "hcpcs_present", "hcpcs_code is blank"),
    (
        {"hcpcs_code": "99213", "hcpcs_modifier_1": "2X6"},
        "modifier_1_shape",
        "hcpcs_modifier_1 '2X6' is not two letters or digits",
    ),
    (
        {"hcpcs_code": "99213", "service_unit_quantity": "0"},
        "units_positive",
        "service_unit_quantity '0' is not from 1 to 99,999",
    ),
    (
        {"hcpcs_code": "99213", "service_unit_quantity": "1.5"},
        "units_whole",
        "service_unit_quantity '1.5' is not a whole number",
    ),
    (
        {"hcpcs_code": "99213", "charge_amount": "-5.00"},
        "charge_not_negative",
        "charge_amount '-5.00' is negative",
    ),
    (
        {"hcpcs_code": "99213", "charge_amount": "12,5O"},
        "charge_is_amount",
        "charge_amount '12,5O' is not a dollar amount",
    ),
    (
        {"hcpcs_code": "99213", "claim_line_start_date": "2025-02-30"},
        "date_of_service_real",
        "claim_line_start_date '2025-02-30' is not a real date (YYYY-MM-DD)",
    ),
    (
        {"hcpcs_code": "99213", "claim_line_start_date": "2025-12-15"},
        "date_of_service_not_future",
        "claim_line_start_date 2025-12-15 is after the run date",
    ),
    (
        {"hcpcs_code": "99213", "claim_line_end_date": "2025-10-01"},
        "line_end_not_before_start",
        "claim_line_end_date 2025-10-01 is before claim_line_start_date",
    ),
    (
        {"hcpcs_code": "99213", "place_of_service_code": "98"},
        "place_of_service",
        "place_of_service_code '98' is not in the CMS place-of-service code set",
    ),
    (
        {"hcpcs_code": "99213", "rendering_npi": "123456789"},
        "rendering_npi_shape",
        "rendering_npi '123456789' is not ten digits",
    ),
    (
        {"hcpcs_code": "99213", "rendering_npi": "1234567890"},
        "rendering_npi_check_digit",
        "rendering_npi '1234567890' fails the NPI check digit (Luhn, prefix 80840)",
    ),
    (
        {"hcpcs_code": "99213", "diagnosis_code_1": "I25-10"},
        "diagnosis_codes",
        "diagnosis_code_1 'I25-10' is not a well-formed ICD-10-CM code",
    ),
    ({"hcpcs_code": "99213", "claim_id": ""}, "claim_id_present", "claim_id is blank"),
]
# Two lines of one claim for two patients, and two of one claim with two billing NPIs: a
# claim has one patient and one billing provider, so all its lines are rejected.
MIXED_CLAIMS = [
    {"hcpcs_code": "99213", "claim_id": "CX", "patient_id": "P1"},
    {"hcpcs_code": "99214", "claim_id": "CX", "patient_id": "P2"},
    {"hcpcs_code": "99213", "claim_id": "CY", "billing_npi": "1234567893"},
    {"hcpcs_code": "99214", "claim_id": "CY", "billing_npi": "1987654328"},
]
GOOD = [
    {"hcpcs_code": "99213", "diagnosis_code_1": "I2510", "diagnosis_code_2": "E11.9"},
    {"hcpcs_code": "99214", "hcpcs_modifier_1": "25"},
    # Only a warning: a well-formed modifier missing from the known list.
    {"hcpcs_code": "99213", "hcpcs_modifier_1": "ZZ"},
    # Not a validation failure: pricing reports a date outside the loaded releases.
    {"hcpcs_code": "99213", "claim_line_start_date": "2024-06-01"},
]


def _config(share: str) -> PipelineConfig:
    return PipelineConfig.from_env(
        {"CLAIMS_PIPELINE_PATIENT_KEY": "test-key", "CLAIMS_PIPELINE_MAX_REJECT_SHARE": share}
    )


def test_each_broken_line_is_rejected_with_its_reason(reference):
    rows = [GOOD[0], GOOD[1], *(row for row, _, _ in BROKEN), *MIXED_CLAIMS, GOOD[2], GOOD[3]]
    result = scrub_frame(
        batch(*rows), reference, _config("1"), ncci=NO_EDITS, run_date=RUN_DATE, run_id="v1"
    )
    n_broken = len(BROKEN) + len(MIXED_CLAIMS)

    rejects = result.rejects.to_pandas()
    assert rejects["input_row"].tolist() == list(range(3, 3 + n_broken))
    assert [list(c) for c in rejects["failed_checks"]] == [[c] for _, c, _ in BROKEN] + [
        ["claim_one_patient"]
    ] * 2 + [["claim_one_billing_provider"]] * 2
    assert (
        rejects["reason"].tolist()
        == [r for _, _, r in BROKEN]
        + ["claim 'CX' has lines for more than one patient_id"] * 2
        + ["claim 'CY' has lines with different billing_npi values"] * 2
    )
    assert rejects["claim_id"].tolist()[-5:] == ["", "CX", "CX", "CY", "CY"]
    assert set(rejects["run_id"]) == {"v1"}

    lines = result.lines
    status = lines["line_status"].tolist()
    assert status == ["priced"] * 2 + ["rejected"] * n_broken + ["priced", "outside_loaded_years"]
    # 99213 and 99214 in Houston, non-facility, RVU25D: $91.00 and $128.21.
    assert lines["expected_allowed_cents"].tolist() == [9100, 12821] + [pd.NA] * n_broken + [
        9100,
        pd.NA,
    ]
    # A line the reader had already marked keeps its own rule; the others get INPUT_INVALID.
    assert [list(f) for f in lines["flags"]][2:5] == [
        ["INPUT_INVALID"],
        ["INPUT_MISSING_CODE"],
        ["INPUT_INVALID"],
    ]
    assert list(lines["flags"].iloc[-2]) == ["MODIFIER_UNKNOWN"]
    warning = result.flags[result.flags["rule_code"] == "MODIFIER_UNKNOWN"]
    assert warning["reason"].tolist() == ["hcpcs_modifier_1 'ZZ': not a known CPT/HCPCS modifier."]
    assert warning["input_row"].tolist() == [len(rows) - 1]

    s = result.summary
    assert s["conservation"] == {
        "lines_read": 23,
        "priced": 3,
        "rejected": 19,
        "other_statuses": 1,
        "equation": "23 read = 3 priced + 19 rejected + 1 other (1 outside_loaded_years)",
        "rejects_listed": 19,
        "ok": True,
    }
    assert s["validation"]["lines_with_warning"] == {"modifiers_known": 1}
    assert s["validation"]["lines_failing_check"]["claim_one_patient"] == 2
    assert s["validation"]["run_date"] == "2025-12-01"


def test_unsplittable_row_is_listed_in_rejects(tmp_path, reference):
    path = tmp_path / "b.csv"
    batch({"hcpcs_code": "99213"}, {"hcpcs_code": "99214"}).to_csv(path, index=False)
    text = path.read_text().splitlines()
    path.write_text("\n".join([text[0], text[1] + ",extra", text[2]]) + "\n")
    result = scrub_file(
        path, reference, _config("1"), Destination(str(tmp_path / "out")), use_history=False
    )
    rejects = pd.read_csv(tmp_path / "out" / "b" / "rejects.csv", dtype=str)
    assert rejects["input_row"].tolist() == ["1"]
    assert rejects["failed_checks"].tolist() == ["row_complete"]
    assert rejects["reason"].iloc[0] == "row has 13 fields where the header has 12"
    assert result.lines["line_status"].tolist() == ["rejected", "priced"]


def _write_batch(tmp_path, name: str, bad: int, good: int):
    rows = [{"hcpcs_code": "99213", "place_of_service_code": "98"}] * bad + [
        {"hcpcs_code": "99213"}
    ] * good
    path = tmp_path / f"{name}.csv"
    batch(*rows).to_csv(path, index=False)
    return path


def test_batch_over_the_reject_share_fails_and_publishes_nothing(tmp_path, reference):
    out = tmp_path / "out"
    path = _write_batch(tmp_path, "nightly", bad=2, good=18)  # 10% > 5%
    with pytest.raises(BatchRejected) as failed:
        scrub_file(path, reference, _config("0.05"), Destination(str(out)), run_id="r9")
    message = str(failed.value)
    assert (
        "2 of 20 lines (10.0%) failed validation, more than the 5.0% allowed (at most 1 of the "
        "20 may fail)" in message
    )
    assert f"nothing was published to {out}/nightly/" in message
    assert sorted(p.name for p in out.iterdir()) == ["failed"]  # no report, no history
    place = out / "failed" / "nightly" / "r9"
    assert sorted(p.name for p in place.iterdir()) == [
        "reason.json",
        "rejects.csv",
        "rejects.parquet",
        "validation.html",
        "validation.json",
    ]
    reason = json.loads((place / "reason.json").read_text())
    assert reason["reason_code"] == "batch_rejected"
    assert reason["published"] is False
    assert pd.read_csv(place / "rejects.csv")["input_row"].tolist() == [1, 2]
    document = json.loads((place / "validation.json").read_text())
    assert document["outcome"] == "failed"
    share = document["claims"]["suites"][2]["checks"][0]
    assert (share["check"], share["success"], share["observed"]) == ("reject_share", False, 2)
    assert "Nothing was published" in (place / "validation.html").read_text()


def test_batch_at_the_reject_share_passes(tmp_path, reference):
    path = _write_batch(tmp_path, "nightly", bad=1, good=19)  # exactly 5%
    result = scrub_file(path, reference, _config("5%"), Destination(str(tmp_path / "out")))
    assert result.summary["validation"]["lines_rejected"] == 1
    assert result.summary["line_status"]["rejected"] == 1
    assert (tmp_path / "out" / "nightly" / "validation.html").exists()


def test_empty_batch_or_missing_columns_fail(tmp_path, reference):
    config = _config("1")
    columns = batch({"hcpcs_code": "99213"})
    with pytest.raises(BatchRejected, match="the batch has no claim lines"):
        scrub_frame(columns.head(0), reference, config, ncci=NO_EDITS)
    with pytest.raises(BatchRejected, match=r"lacks the required column\(s\) \['hcpcs_code'\]"):
        scrub_frame(columns.drop(columns=["hcpcs_code"]), reference, config, ncci=NO_EDITS)

    out = tmp_path / "out"
    path = tmp_path / "empty.csv"
    columns.head(0).to_csv(path, index=False)
    with pytest.raises(ClaimBatchError, match="header but no claim lines; nothing was published"):
        scrub_file(path, reference, config, Destination(str(out)), run_id="r1")
    reason = json.loads((out / "failed" / "empty" / "r1" / "reason.json").read_text())
    assert reason["reason_code"] == "claim_batch"
    assert not (out / "empty").exists()


def test_npi_check_digit():
    npis = pd.Series(["1234567893", "1234567890", "1987654328", "1987654329"], dtype="string")
    assert npi_check_digit_ok(npis).tolist() == [True, False, True, False]


def test_allowed_rejects_is_exact_at_the_limit():
    assert [allowed_rejects(n, 0.05) for n in (19, 20, 100, 1_000_000)] == [0, 1, 5, 50_000]
    assert allowed_rejects(3, 1.0) == 3
