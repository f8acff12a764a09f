"""Reading claim batches: formats, bad rows kept with a reason, identifiers removed."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.errors import ClaimBatchError
from pipeline.extract.batch_files import read_batch_file
from pipeline.extract.claims import normalize_batch, read_batch
from tests.conftest import allowed, batch, flags_of


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


@pytest.mark.parametrize(
    "encoding",
    [
        pytest.param("utf-16", id="UTF-16 with BOM"),
        pytest.param("utf-16-le", id="UTF-16LE without BOM"),
        pytest.param("utf-16-be", id="UTF-16BE without BOM"),
    ],
)
def test_utf16_is_read_with_or_without_byte_order_mark(tmp_path, encoding):
    text = HEADER + "C1,1,2025-10-15,99213,100,77030\nC1,2,2025-10-15,99214,100,77030\n"
    batch = read_batch_file(_write(tmp_path, "u.csv", text, encoding))
    assert batch.encoding == encoding
    assert batch.frame["hcpcs_code"].tolist() == ["99213", "99214"]


@pytest.mark.parametrize(
    ("separator", "named"),
    [
        pytest.param("\t", "tabs", id="tab"),
        pytest.param(";", "';'", id="semicolon"),
        pytest.param("|", "'|'", id="pipe"),
    ],
)
def test_header_with_another_separator_says_so(tmp_path, separator, named):
    text = (HEADER + "C1,1,2025-10-15,99213,100,77030\n").replace(",", separator)
    with pytest.raises(ClaimBatchError) as error:
        read_batch(_write(tmp_path, "b.csv", text))
    assert (
        f"none of the required columns ['claim_id', 'claim_line_number', "
        f"'claim_line_start_date', 'hcpcs_code']; its names are separated by {named}, not "
        "commas: save the file as comma-separated CSV (the row is not shown"
    ) in str(error.value)


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


def test_identifier_headers_in_any_spelling_are_dropped():
    from pipeline.extract.claims import identifier_columns

    headers = [
        "memberid",  # MemberID, lower-cased by the reader
        "medicare_id",
        "hic_no",
        "ssn4",
        "patientid",
        "first_nm",
        "patient_account_number",
        "acct_no",
        "claim_id",
        "patient_id",
        "payer",
        "patient_paid_amount",
        "medicare_paid",
        "provider_name",
        "hcpcs_code",
    ]
    assert identifier_columns(headers) == [
        "memberid",
        "medicare_id",
        "hic_no",
        "ssn4",
        "patientid",
        "first_nm",
        "patient_account_number",
        "acct_no",
    ]


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


def _write(tmp_path, name: str, text: str, encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


HEADER = "claim_id,claim_line_number,claim_line_start_date,hcpcs_code,charge_amount,service_zip\n"


def test_identifier_like_columns_never_reach_the_report(tmp_path, reference, config):
    from pipeline.report.storage import Destination
    from pipeline.run import scrub_file

    path = _write(
        tmp_path,
        "pii.csv",
        "claim_id,claim_line_number,claim_line_start_date,hcpcs_code,person_id,Member ID,"
        "patient_dob,mbi,subscriber_id,member_name,member_id,member_id,payer_name\n"
        "C1,1,2025-10-15,99213,P9,M1,1950-01-01,1EG4TE5MK73,S1,DOE JANE,M2,M3,Medicare\n",
    )
    scrub_file(path, reference, config, Destination(str(tmp_path / "out")))
    text = (tmp_path / "out" / "pii" / "lines.csv").read_text()
    for value in ("P9", "M1", "1950-01-01", "1EG4TE5MK73", "S1", "DOE JANE", "M2", "M3"):
        assert value not in text
    assert "payer_name" in text.splitlines()[0]


def test_name_and_birth_date_columns_in_odd_spellings_never_reach_the_report(
    tmp_path, reference, config
):
    from pipeline.report.storage import Destination
    from pipeline.run import scrub_file

    path = _write(
        tmp_path,
        "odd.csv",
        "claim_id,claim_line_number,claim_line_start_date,hcpcs_code,Patient_Last,"
        "patient first,D.O.B.,Guarantor,mem_id,cardholder id,Mobile\n"
        "C1,1,2025-10-15,99213,ZZLAST,ZZFIRST,1933-03-17,ZZGUAR,ZZMEM,ZZCARD,555-867-5309\n",
    )
    scrub_file(path, reference, config, Destination(str(tmp_path / "out")))
    for name in ("lines.csv", "claims.csv", "flags.csv", "work_queue.csv"):
        text = (tmp_path / "out" / "odd" / name).read_text()
        for value in ("ZZLAST", "ZZFIRST", "1933-03-17", "ZZGUAR", "ZZMEM", "ZZCARD", "5309"):
            assert value not in text, (name, value)


def test_a_row_split_wrong_never_shows_an_identifier_under_another_name(
    tmp_path, reference, config
):
    """Row 2 lacks its payer field, so member_id's value would land under hcpcs_code."""
    from pipeline.report.storage import Destination
    from pipeline.run import scrub_file

    path = _write(
        tmp_path,
        "shift.csv",
        "claim_id,claim_line_number,claim_line_start_date,payer,member_id,hcpcs_code\n"
        "C1,1,2025-10-15,Medicare,ZZMEMBER1,99213\n"
        "C2,1,2025-10-15,ZZMEMBER2,99213\n",
    )
    config = type(config)(**{**config.__dict__, "max_reject_share": 1.0})
    result = scrub_file(path, reference, config, Destination(str(tmp_path / "out")))
    assert result.lines["line_status"].tolist() == ["priced", "rejected"]
    assert result.lines["input_row"].tolist() == [1, 2]
    for name in ("lines.csv", "lines.parquet", "rejects.csv", "flags.csv"):
        assert b"ZZMEMBER" not in (tmp_path / "out" / "shift" / name).read_bytes(), name


LEAK = (
    "claim_id,claim_line_number,claim_line_start_date,hcpcs_code,member_name,member_dob,"
    "charge_amount,service_unit_quantity,service_zip\n"
    "L1,1,2025-05-19,99213,ZZDOE, ZZJANE,1950-02-03,69.55,1,60611\n"
    "L2,1,2025-05-19,99213,ZZROE,1945-02-02,69.55,1,60611\n"
)
WITHHELD_REASON = (
    "row has 10 fields where the header has 9; its values are withheld because the file has "
    "identifier columns"
)


@pytest.mark.parametrize(
    ("share", "folder"),
    [
        pytest.param("1", "leak", id="published"),
        pytest.param("0", "failed", id="batch failed"),
    ],
)
def test_a_shifted_row_in_a_file_with_identifiers_echoes_no_value(
    tmp_path, reference, config, share, folder
):
    """The name's comma shifts the birth date under charge_amount: no report may show it."""
    from pipeline.errors import ClaimBatchError
    from pipeline.report.storage import Destination
    from pipeline.run import scrub_file

    config = type(config)(**{**config.__dict__, "max_reject_share": float(share)})
    path = _write(tmp_path, "leak.csv", LEAK)
    try:
        scrub_file(path, reference, config, Destination(str(tmp_path / "out")), use_history=False)
    except ClaimBatchError:
        assert folder == "failed"
    files = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    written = {p.name for p in files}
    assert {"rejects.csv", "rejects.parquet", "validation.json", "validation.html"} <= written
    for file in files:
        data = file.read_bytes()
        for value in (b"ZZDOE", b"ZZJANE", b"1950-02-03", b"ZZROE", b"1945-02-02"):
            assert value not in data, (file.name, value)
    rejects = pd.read_csv(next(p for p in files if p.name == "rejects.csv"), dtype=str)
    assert rejects["input_row"].tolist() == ["1"]
    assert rejects["reason"].tolist() == [WITHHELD_REASON]


def test_malformed_row_is_kept_in_place(tmp_path, reference, config):
    from pipeline.report.storage import Destination
    from pipeline.run import scrub_file

    path = _write(
        tmp_path,
        "ragged.csv",
        HEADER + "C1,1,2025-10-15,99213,100,77030\n"
        "C1,2,2025-10-15,99214,100,77030,extra,extra\n"
        "C1,3,2025-10-15,99215,100,77030\n",
    )
    result = scrub_file(path, reference, config, Destination(str(tmp_path / "out")))
    lines = result.lines
    assert lines["input_row"].tolist() == [1, 2, 3]
    assert lines["line_status"].tolist() == ["priced", "rejected", "priced"]
    assert lines["flags"].iloc[1] == ["INPUT_MALFORMED_ROW"]
    reason = result.flags.loc[result.flags["rule_code"] == "INPUT_MALFORMED_ROW", "reason"]
    assert reason.tolist() == ["Not priced: row has 8 fields where the header has 6."]
    assert result.summary["malformed_rows"] == 1


@pytest.mark.parametrize(
    "most_rows_trail",
    [
        pytest.param(True, id="most rows end in a comma"),
        pytest.param(False, id="a few rows end in a comma"),
    ],
)
def test_blank_extra_fields_are_ignored_and_filled_ones_are_malformed(tmp_path, most_rows_trail):
    trail = "," if most_rows_trail else ""
    path = _write(
        tmp_path,
        "trail.csv",
        HEADER + f"C1,1,2025-10-15,99213,100,77030{trail}\n"
        f"C1,2,2025-10-15,99214,100,77030{trail}\n"
        f"C1,3,2025-10-15,99215,100,77030{trail}\n"
        "C1,4,2025-10-15,99213,100,77030, ,\n"
        "C1,5,2025-10-15,99213,100,77030,late\n"
        "C1,6,2025-10-15,99213,100,77030\n",
    )
    from pipeline.extract.batch_files import MALFORMED_COLUMN

    batch = read_batch_file(path)
    assert batch.frame["claim_line_number"].tolist() == ["1", "2", "3", "4", "5", "6"]
    assert batch.frame["service_zip"].tolist() == ["77030"] * 6
    assert batch.frame[MALFORMED_COLUMN].tolist() == [""] * 4 + [
        "row has 7 fields where the header has 6",
        "",
    ]
    assert batch.malformed_rows == 1


def test_unclosed_quote_loses_no_line(tmp_path, reference, config):
    """A stray quote would swallow every later line into one value; each line still counts."""
    from pipeline.report.storage import Destination
    from pipeline.run import scrub_file

    path = _write(
        tmp_path,
        "quote.csv",
        HEADER + "C1,1,2025-10-15,99213,100,77030\n"
        "\n"
        'C2,1,2025-10-15,"99214,100,77030\n'
        "C3,1,2025-10-15,99215,100,77030\n"
        "\n"
        "C4,1,2025-10-15,99215,100,77030\n",
    )
    result = scrub_file(path, reference, config, Destination(str(tmp_path / "out")))
    lines = result.lines
    assert lines["input_row"].tolist() == [1, 2, 3, 4]
    assert lines["claim_id"].tolist() == ["C1", "C2", "C3", "C4"]
    assert lines["line_status"].tolist() == ["priced", "rejected", "priced", "priced"]
    reason = result.flags.loc[result.flags["rule_code"] == "INPUT_MALFORMED_ROW", "reason"]
    assert reason.tolist() == ["Not priced: row has a quote that is never closed."]


def test_quoted_note_spanning_lines_is_one_value(tmp_path):
    path = _write(
        tmp_path,
        "note.csv",
        "claim_id,claim_line_number,claim_line_start_date,hcpcs_code,note\n"
        'C1,1,2025-10-15,99213,"first line\nsecond, with a comma"\n'
        "C1,2,2025-10-15,99214,plain\n",
    )
    frame = read_batch(path)
    assert frame["note"].tolist() == ["first line\nsecond, with a comma", "plain"]


@pytest.mark.parametrize(
    "newline",
    [
        pytest.param("\n", id="LF"),
        pytest.param("\r\n", id="CRLF"),
        pytest.param("\r", id="CR only (Excel for Mac)"),
    ],
)
def test_any_line_ending_is_read(tmp_path, newline):
    text = (
        HEADER.replace(",service_zip", ",note")
        + 'C1,1,2025-10-15,99213,100,"two\nlines"\n'
        + "C1,2,2025-10-15,99214,100,plain\n"
    )
    frame = read_batch(_write(tmp_path, "b.csv", text.replace("\n", newline)))
    assert frame["hcpcs_code"].tolist() == ["99213", "99214"]
    assert frame["note"].tolist() == [
        "two" + ("\n" if newline == "\r" else newline) + "lines",
        "plain",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("", "the file is empty", id="empty"),
        pytest.param(HEADER, "header but no claim lines", id="header only"),
    ],
)
def test_empty_batches_are_refused_clearly(tmp_path, content, message):
    with pytest.raises(ClaimBatchError, match=message):
        read_batch(_write(tmp_path, "b.csv", content))


def test_gzip_named_csv_and_windows_1252(tmp_path):
    import gzip

    text = HEADER + "C1,1,2025-10-15,99213,100,77030\n"
    (tmp_path / "b.csv").write_bytes(gzip.compress(text.encode()))
    assert read_batch(tmp_path / "b.csv")["hcpcs_code"].tolist() == ["99213"]
    windows = "payer," + HEADER + "\u201cMedicare\u201d,C1,1,2025-10-15,99213,100,77030\n"
    raw = read_batch(_write(tmp_path, "w.csv", windows, "cp1252"))
    assert raw["payer"].tolist() == ["\u201cMedicare\u201d"]


def test_truncated_gzip_is_a_clear_error(tmp_path):
    import gzip

    data = gzip.compress((HEADER + "C1,1,2025-10-15,99213,100,77030\n" * 500).encode())
    (tmp_path / "t.csv.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ClaimBatchError, match=r"t\.csv\.gz: cannot read the batch"):
        read_batch(tmp_path / "t.csv.gz")


def test_parquet_with_typed_columns(tmp_path, scrub, reference, config):
    from pipeline.run import scrub_frame

    frame = pd.DataFrame(
        {
            "claim_id": [1, 2],
            "claim_line_number": [1, 1],
            "claim_line_start_date": pd.to_datetime(["2025-10-15", "2025-10-15"]),
            "hcpcs_code": ["99213", "99213"],
            "place_of_service_code": [22.0, 11.0],
            "service_zip": [2110, 77030],
            "charge_amount": [150.0, 150.5],
            "service_unit_quantity": [1, 1],
            "patient_id": ["A", "B"],
        }
    )
    frame.to_parquet(tmp_path / "typed.parquet")
    raw = read_batch(tmp_path / "typed.parquet")
    assert raw.loc[
        0, ["place_of_service_code", "service_zip", "claim_line_start_date"]
    ].tolist() == ["22", "2110", "2025-10-15"]
    lines = scrub_frame(raw, reference, config).lines
    assert lines["setting"].tolist() == ["facility", "non_facility"]
    assert lines["locality_source"].tolist() == ["zip", "zip"]
    assert lines["charge_amount"].tolist() == ["150", "150.5"]


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        pytest.param("charge_amount", "-5", "INPUT_BAD_AMOUNT", id="negative charge"),
        pytest.param(
            "charge_amount", "99999999999999999999.99", "INPUT_BAD_AMOUNT", id="huge charge"
        ),
        pytest.param("service_unit_quantity", "999999999", "INPUT_BAD_UNITS", id="huge units"),
        pytest.param("service_unit_quantity", "inf", "INPUT_BAD_UNITS", id="infinite units"),
        pytest.param("service_unit_quantity", "1e3", "INPUT_BAD_UNITS", id="exponent units"),
        pytest.param("claim_line_start_date", "2025-13-01", "INPUT_BAD_DATE", id="month 13"),
    ],
)
def test_out_of_range_values_are_rejected(scrub, field, value, rule):
    result = scrub({"hcpcs_code": "99213", field: value})
    assert result.lines["line_status"].tolist() == ["rejected"]
    assert flags_of(result, 1) == [rule]
    assert value in result.flags["reason"].iloc[0]


@pytest.mark.parametrize(
    ("given", "locality", "rule", "reason"),
    [
        pytest.param(
            "6061",
            "13102-00",
            "ZIP_PADDED",
            "ZIP 6061 has 4 digits; read as 06061, priced at locality 13102-00.",
            id="4 digits padded",
        ),
        pytest.param(
            "6061-1234",
            "13102-00",
            "ZIP_PADDED",
            "ZIP 6061-1234 has 4 digits; read as 06061, priced at locality 13102-00.",
            id="4 digits and plus four",
        ),
        pytest.param(
            "606",
            "national",
            "ZIP_NOT_FOUND",
            "ZIP 606 is not in the CMS ZIP5 file.",
            id="3 digits",
        ),
        pytest.param("77030-1234", "04412-18", None, None, id="ZIP+4"),
        pytest.param("06061", "13102-00", None, None, id="5 digits"),
    ],
)
def test_short_zip_is_padded_with_a_flag_or_not_a_zip(scrub, given, locality, rule, reason):
    result = scrub({"hcpcs_code": "99213", "service_zip": given})
    assert result.lines["pricing_locality"].tolist() == [locality]
    zip_flags = result.flags[result.flags["rule_code"].astype(str).str.startswith("ZIP")]
    assert zip_flags["rule_code"].astype(str).tolist() == ([rule] if rule else [])
    assert zip_flags["reason"].tolist() == ([reason] if reason else [])


def test_malformed_modifier_rejects_the_line(scrub):
    result = scrub({"hcpcs_code": "78580", "hcpcs_modifier_1": "26 TC"})
    assert result.lines["line_status"].tolist() == ["rejected"]
    assert flags_of(result, 1) == ["INPUT_INVALID"]
    assert result.flags["reason"].tolist() == [
        "Not priced: hcpcs_modifier_1 '26 TC' is not two letters or digits."
    ]


def test_duplicate_claim_lines_are_flagged(scrub):
    result = scrub(
        {"hcpcs_code": "99213", "claim_line_number": "1"},
        {"hcpcs_code": "99213", "claim_line_number": "1"},
    )
    assert flags_of(result, 1) == []
    assert "DUPLICATE_LINE" in flags_of(result, 2)


def test_input_columns_named_like_outputs_are_kept_aside(scrub):
    result = scrub(
        {"hcpcs_code": "99213", "expected_allowed": "12.00", "input_row": "7", "line_status": "old"}
    )
    lines = result.lines
    assert lines["input_expected_allowed"].tolist() == ["12.00"]
    assert lines["input_input_row"].tolist() == ["7"]
    assert lines["line_status"].tolist() == ["priced"]
    assert list(lines.columns).count("input_row") == 1


def test_digits_other_than_ascii_are_not_numbers(scrub):
    """Arabic-Indic and full-width digits are rejected with the field named, never a crash."""
    result = scrub(
        {"hcpcs_code": "99213", "service_unit_quantity": "٣", "patient_id": "A"},
        {"hcpcs_code": "99213", "service_unit_quantity": "１", "patient_id": "B"},
        {"hcpcs_code": "99213", "charge_amount": "١٢", "patient_id": "C"},
        {"hcpcs_code": "99213", "rendering_npi": "١١٢٤٠٠٢٧٤٦", "patient_id": "D"},
        {"hcpcs_code": "99213", "patient_id": "E"},
        whole_batch=False,
    )
    assert result.lines["line_status"].tolist()[:4] == ["rejected"] * 4
    assert result.lines["line_status"].tolist()[4] == "priced"
    assert [flags_of(result, row) for row in (1, 2, 3)] == [
        ["INPUT_BAD_UNITS"],
        ["INPUT_BAD_UNITS"],
        ["INPUT_BAD_AMOUNT"],
    ]
    assert flags_of(result, 4) == ["INPUT_INVALID"]


def test_comma_as_decimal_point_and_six_digit_zip(scrub):
    """'12,50' is not read as $1,250.00; a six-digit ZIP is not cut to someone else's ZIP."""
    result = scrub(
        {"hcpcs_code": "99213", "charge_amount": "12,50", "patient_id": "A"},
        {"hcpcs_code": "99213", "charge_amount": "$1,250.00", "patient_id": "B"},
        {"hcpcs_code": "99213", "service_zip": "123456", "patient_id": "C"},
        whole_batch=False,
    )
    assert result.lines["line_status"].tolist() == ["rejected", "priced", "priced"]
    assert flags_of(result, 1) == ["INPUT_BAD_AMOUNT"]
    assert result.lines["billed_cents"].tolist()[1] == 125000
    assert flags_of(result, 3) == ["ZIP_NOT_FOUND"]
    assert "ZIP 123456 is not in the CMS ZIP5 file." in result.flags["reason"].tolist()


FORMAT = "is not in an accepted date format (YYYY-MM-DD or YYYYMMDD)"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        pytest.param("5/19/2025", f"claim_line_start_date '5/19/2025' {FORMAT}", id="US date"),
        pytest.param("2025/05/19", f"claim_line_start_date '2025/05/19' {FORMAT}", id="slashes"),
        pytest.param(
            "45796",
            f"claim_line_start_date '45796' {FORMAT}; it looks like an Excel date number: "
            "format the column as YYYY-MM-DD",
            id="Excel serial",
        ),
        pytest.param(
            "2025-02-30",
            "claim_line_start_date '2025-02-30' is not a date (YYYY-MM-DD)",
            id="Feb 30",
        ),
        pytest.param("", "claim_line_start_date is blank", id="blank"),
    ],
)
def test_bad_date_flag_and_reject_reason_agree(scrub, value, reason):
    result = scrub({"hcpcs_code": "99213", "claim_line_start_date": value})
    assert flags_of(result, 1) == ["INPUT_BAD_DATE"]
    assert result.flags["reason"].tolist() == [f"Not priced: {reason}."]
    real = reason.replace("is not a date", "is not a real date")  # the validation's wording
    assert result.rejects.to_pandas()["reason"].tolist() == [real]


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        pytest.param(
            "paid_amount", "N/A", "paid_amount 'N/A' is not a dollar amount", id="paid not dollars"
        ),
        pytest.param(
            "paid_amount",
            "-10.00",
            "paid_amount '-10.00' is negative: a negative paid amount is a reversal, which "
            "belongs in an 835 remittance (give it with the batch or with --remits)",
            id="negative paid",
        ),
        pytest.param(
            "deductible_amount",
            "-5.00",
            "deductible_amount '-5.00' is negative; a deductible applied is zero or more",
            id="negative deductible",
        ),
    ],
)
def test_bad_or_negative_paid_amount_skips_the_paid_comparison(scrub, field, value, reason):
    result = scrub({"hcpcs_code": "99213", "paid_amount": "10.00", field: value})
    assert result.lines["line_status"].tolist() == ["priced"]
    assert flags_of(result, 1) == ["INPUT_BAD_PAID"]
    assert result.flags["reason"].tolist() == [f"Paid comparison skipped: {reason}."]
    assert result.lines["paid_variance_cents"].isna().tolist() == [True]


def test_unknown_participation_value_is_flagged_and_priced_as_participating(scrub):
    result = scrub(
        {"hcpcs_code": "99213", "participating": "X", "patient_id": "A"},
        {"hcpcs_code": "99213", "participating": "n", "patient_id": "B"},
        {"hcpcs_code": "99213", "participating": "yes", "patient_id": "C"},
        {"hcpcs_code": "99213", "participating": "", "patient_id": "D"},
    )
    # 99213 in Houston, non-facility, RVU25D: $91.00; non-participating 95%: $86.45.
    assert allowed(result) == [9100, 8645, 9100, 9100]
    assert [flags_of(result, i) for i in (1, 2, 3, 4)] == [
        ["PARTICIPATION_UNKNOWN"],
        ["LIMITING_CHARGE_EXCEEDED"],  # non-participating, a $5,000 charge
        [],
        [],
    ]
    reasons = result.flags.loc[result.flags["rule_code"] == "PARTICIPATION_UNKNOWN", "reason"]
    assert reasons.tolist() == [
        "participating 'X' is not one of Y, N, YES, NO, TRUE, FALSE, 1, 0 (any case); priced "
        "as participating."
    ]
    assert result.summary["validation"]["lines_with_warning"] == {"participating_known": 1}
