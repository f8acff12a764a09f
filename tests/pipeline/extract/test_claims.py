"""Reading claim batches: formats, bad rows kept with a reason, identifiers removed."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.errors import ClaimBatchError
from pipeline.extract.claims import normalize_batch, read_batch
from tests.conftest import batch, flags_of


def test_csv_and_parquet_read_the_same(tmp_path):
    raw = batch({"hcpcs_code": "99213"}, {"hcpcs_code": "78580", "hcpcs_modifier_1": "26"})
    raw.to_csv(tmp_path / "b.csv", index=False)
    raw.to_parquet(tmp_path / "b.parquet")
    a, b = read_batch(tmp_path / "b.csv"), read_batch(tmp_path / "b.parquet")
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


def test_latin1_file_is_read(tmp_path):
    raw = batch({"hcpcs_code": "99213", "payer": "Médicare"})
    (tmp_path / "b.csv").write_bytes(raw.to_csv(index=False).encode("latin-1"))
    assert read_batch(tmp_path / "b.csv")["payer"].iloc[0] == "Médicare"


def test_missing_required_columns_is_a_clear_error(tmp_path):
    pd.DataFrame({"claim_id": ["1"], "code": ["99213"]}).to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(
        ClaimBatchError, match=r"b\.csv.*missing required column.*claim-line-schema"
    ):
        read_batch(tmp_path / "b.csv")


def test_unknown_format_and_missing_file(tmp_path):
    with pytest.raises(ClaimBatchError, match="file not found"):
        read_batch(tmp_path / "nope.csv")
    (tmp_path / "b.xlsx").write_bytes(b"x")
    with pytest.raises(ClaimBatchError, match="unknown batch format"):
        read_batch(tmp_path / "b.xlsx")


def test_identifiers_removed_and_patient_hashed():
    raw = batch({"hcpcs_code": "99213", "patient_id": "M123"}).assign(
        member_id="M123", birth_date="1950-01-01", patient_name="DOE JANE"
    )
    lines = normalize_batch(raw, patient_key=b"k")
    assert not {"member_id", "birth_date", "patient_name"} & set(lines.columns)
    assert lines["patient_id"].iloc[0] != "M123" and len(lines["patient_id"].iloc[0]) == 16
    again = normalize_batch(raw, patient_key=b"k")["patient_id"].iloc[0]
    other_key = normalize_batch(raw, patient_key=b"other")["patient_id"].iloc[0]
    assert lines["patient_id"].iloc[0] == again != other_key


def test_bad_rows_are_kept_with_a_reason(scrub):
    result = scrub(
        {"hcpcs_code": "99213"},
        {"hcpcs_code": ""},
        {"hcpcs_code": "99213", "claim_line_start_date": "2025-02-30"},
        {"hcpcs_code": "99213", "service_unit_quantity": "-1"},
        {"hcpcs_code": "99213", "service_unit_quantity": "1.5"},
        {"hcpcs_code": "99213", "charge_amount": "12,5O"},
        {"hcpcs_code": "99213", "service_unit_quantity": ""},
        {"hcpcs_code": "99213", "claim_line_start_date": "20251015"},
    )
    assert len(result.lines) == 8
    assert result.lines["input_row"].tolist() == list(range(1, 9))
    assert result.lines["line_status"].tolist() == [
        "priced",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "priced",
        "priced",
    ]
    assert [flags_of(result, i) for i in range(2, 8)] == [
        ["INPUT_MISSING_CODE"],
        ["INPUT_BAD_DATE"],
        ["INPUT_BAD_UNITS"],
        ["INPUT_BAD_UNITS"],
        ["INPUT_BAD_AMOUNT"],
        ["UNITS_DEFAULTED"],
    ]
    assert result.summary["line_status"]["rejected"] == 5
    assert result.summary["conservation_ok"]
