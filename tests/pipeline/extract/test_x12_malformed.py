"""Malformed and unusual X12 files: one clear error naming the segment, or read with findings.

Each variant is made from a shipped sample here, so the change is visible next to the
assertion. lfh_demo.example1.837 has 44 segments (ISA = 1, GS = 2, ST = 3, CLM = 27, LX = 30,
33, 36, 39, SE = 42, GE = 43, IEA = 44), one claim 26463774 and four service lines.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from pipeline.extract.batch_files import read_batch_file
from pipeline.extract.x12_835 import read_remittance
from pipeline.extract.x12_837p import read_837p_batch
from pipeline.extract.x12_envelope import X12FileError

X12 = Path(__file__).parents[2] / "data" / "x12"
EXAMPLE1 = (X12 / "837p" / "lfh_demo.example1.837").read_text()
SEPARATORS = (X12 / "837p" / "imsweb_x12_valid_different_separators.x12").read_text()
SEGMENTS = EXAMPLE1.rstrip("\n").removesuffix("~").split("~\n")


def _write(tmp_path: Path, text: str, name: str = "variant.837") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _refused(tmp_path: Path, text: str) -> X12FileError:
    with pytest.raises(X12FileError) as err:
        read_837p_batch(_write(tmp_path, text))
    return err.value


def test_example1_has_44_segments():
    assert len(SEGMENTS) == 44
    assert (SEGMENTS[2][:2], SEGMENTS[41][:2], SEGMENTS[43][:3]) == ("ST", "SE", "IEA")


def test_truncated_inside_a_segment(tmp_path):
    err = _refused(tmp_path, EXAMPLE1[:700])
    assert err.segment == 23
    assert err.reason == (
        "the file ends inside segment 'NM1': no segment terminator '~' follows: the file is "
        "truncated; ask the sender for the complete file"
    )
    assert str(err).startswith(f"{tmp_path / 'variant.837'}: segment 23: ")


def test_truncated_after_a_whole_segment(tmp_path):
    err = _refused(tmp_path, "~\n".join(SEGMENTS[:30]) + "~\n")
    assert (err.segment, err.reason) == (
        30,
        "the interchange ends at segment 30 inside transaction set '0021' (ST at segment 3) "
        "without SE, GE, IEA: the file is truncated; ask the sender for the complete file",
    )


def test_missing_se(tmp_path):
    err = _refused(tmp_path, EXAMPLE1.replace("SE*40*0021~\n", ""))
    assert (err.segment, err.reason) == (
        42,
        "transaction set '0021' (ST at segment 3) has no SE trailer before GE at segment 42; "
        "the file is cut or its segments were lost",
    )


def test_wrong_element_separator(tmp_path):
    err = _refused(tmp_path, EXAMPLE1[:106] + EXAMPLE1[106:].replace("*", "|"))
    assert (err.segment, err.reason) == (
        2,
        "segment 2 does not start with a segment ID followed by the element separator '*' "
        "declared in the ISA (it starts 'GS|'); the separators in the file differ from the "
        "ISA's, or the data is damaged",
    )


def test_wrong_segment_terminator(tmp_path):
    err = _refused(tmp_path, EXAMPLE1[:106] + EXAMPLE1[106:].replace("~", ""))
    assert (err.segment, err.reason) == (
        2,
        "the file ends inside segment 'GS': its segments from here on (43 lines) do not end "
        "with the terminator '~' its ISA declares; fix the ISA or the segment terminators",
    )


def test_wrong_component_separator(tmp_path):
    """ISA16 says ':' but the lines use '>' (as four shipped LinuxForHealth samples do)."""
    err = _refused(tmp_path, EXAMPLE1.replace("SV1*HC:99213", "SV1*HC>99213"))
    assert err.segment == 31
    assert "but SV101 is 'HC>99213': the file separates components with '>'" in err.reason


@pytest.mark.parametrize(
    ("change", "segment", "reason"),
    [
        (
            ("*00501*", "*00401*"),
            1,
            "X12 version 4010 (ISA12 00401): HIPAA requires 5010 since 2012 and this pipeline "
            "reads 5010 (00501) only; ask the sender for a 5010 file",
        ),
        (
            ("005010X222A2", "005010X223A2"),
            2,
            "GS01 'HC' / GS08 '005010X223A2' is an institutional claim (837I), not a 837P; this "
            "pipeline prices professional claims (837P, GS08 005010X222A1 or A2)",
        ),
        (
            ("005010X222A2", "005010X224A2"),
            2,
            "GS01 'HC' / GS08 '005010X224A2' is a dental claim (837D), not a 837P; this "
            "pipeline prices professional claims (837P, GS08 005010X222A1 or A2)",
        ),
        (
            ("GS*HC*", "GS*HP*"),
            2,
            "GS01 'HP' / GS08 '005010X222A2' is a professional claim (837P), not a 837P; this "
            "pipeline prices professional claims (837P, GS08 005010X222A1 or A2)",
        ),
    ],
)
def test_not_a_5010_837p(tmp_path, change, segment, reason):
    err = _refused(tmp_path, EXAMPLE1.replace(*change))
    assert (err.segment, err.reason) == (segment, reason)


def test_an_835_is_not_read_as_claims():
    with pytest.raises(X12FileError) as err:
        read_837p_batch(X12 / "835" / "lfh_managed-care.835")
    assert (err.value.segment, err.value.reason) == (
        2,
        "GS01 'HP' / GS08 '005010X221A1' is a remittance advice (835), not a 837P; this "
        "pipeline prices professional claims (837P, GS08 005010X222A1 or A2)",
    )


def test_empty_and_not_x12(tmp_path):
    assert _refused(tmp_path, "").reason == (
        "the file is empty; expected an X12 interchange (ISA ... IEA)"
    )
    assert _refused(tmp_path, "claim_id,hcpcs_code\n1,99213\n").reason == (
        "not an X12 interchange: it starts with 'cla' where ISA must be; check that this is an "
        "X12 837P or 835 file"
    )


def test_data_after_the_last_iea(tmp_path):
    err = _refused(tmp_path, EXAMPLE1 + "HELLO WORLD")
    assert (err.segment, err.reason) == (
        45,
        "data after the interchange trailer (IEA) starts with 'HEL', not with ISA; remove it "
        "or send it as its own file",
    )


def test_missing_iea_before_the_next_interchange(tmp_path):
    err = _refused(tmp_path, EXAMPLE1.replace("IEA*1*000000907~", "") + SEPARATORS)
    assert (err.segment, err.reason) == (
        43,
        "the interchange ends at segment 43 without IEA: the next interchange starts without "
        "it; ask the sender for the complete file",
    )


def test_wrong_se_count_is_only_a_warning(tmp_path):
    batch = read_837p_batch(_write(tmp_path, EXAMPLE1.replace("SE*40*0021", "SE*41*0021")))
    assert len(batch.frame) == 4
    row = batch.findings[batch.findings["code"] == "4"].iloc[0]
    assert (row["segment"], row["segment_id"], row["severity"], row["message"]) == (
        42,
        "ST",
        "warning",
        "SE count of 41 for SE02=0021 is wrong. I count 40",
    )


def test_newline_terminators_crlf_and_blank_lines(tmp_path):
    """Segment terminator a line break (ISA16 followed by a newline), CRLF after '~', and
    blank lines between newline-terminated segments (pyx12 alone stops at the first)."""
    newline = "\n".join(SEGMENTS)  # no '~' at all; the last line has no line break
    crlf = EXAMPLE1.replace("~\n", "~\r\n")
    blank = "\n\n".join(SEGMENTS) + "\n"
    for name, text in (("nl", newline), ("crlf", crlf), ("blank", blank)):
        batch = read_837p_batch(_write(tmp_path, text, f"{name}.837"))
        assert batch.frame["hcpcs_code"].tolist() == ["99213", "87070", "99214", "86663"], name
        warnings = batch.findings[batch.findings["severity"] == "warning"]
        assert warnings.empty, name
    info = batch.findings.set_index("code")["message"].to_dict()
    assert info["BLANK"] == "43 empty segment(s) or blank line(s) ignored"


def test_trimmed_isa_is_padded_with_a_warning(tmp_path):
    text = EXAMPLE1.replace("*000000005      *", "*000000005*").replace(
        "*12345          *", "*12345*"
    )
    batch = read_837p_batch(_write(tmp_path, text))
    assert len(batch.frame) == 4
    first = batch.findings.iloc[0]
    assert (first["segment"], first["code"], first["message"]) == (
        1,
        "ISA_WIDTH",
        "the ISA is not fixed width (ISA06, ISA08 shorter than the standard); read with its "
        "elements padded",
    )


def test_several_interchanges_with_their_own_separators(tmp_path):
    """example1 (* : ~, 44 segments) then the imsweb file with element '~', component '^' and
    segment terminator '_' (38 segments): 3 claims, 6 lines, HL numbering restarting in each,
    and the second file's findings numbered from its ISA at segment 45."""
    batch = read_837p_batch(_write(tmp_path, EXAMPLE1 + SEPARATORS))
    f = batch.frame
    assert batch.details["interchanges"] == 2
    assert f["claim_id"].tolist() == ["26463774"] * 4 + ["A37YH556", "A37YH667"]
    assert f["hcpcs_code"].tolist()[4:] == ["99211", "478331"]
    assert f["hcpcs_modifier_1"].tolist()[4:] == ["25", "25"]
    assert f["x12_line_segment"].tolist() == ["30", "33", "36", "39", "68", "77"]
    se = batch.findings[batch.findings["code"] == "4"]
    assert se["segment"].tolist() == [45 + 35]  # SE of the second interchange
    assert se["message"].tolist() == ["SE count of 25 for SE02=987654 is wrong. I count 34"]


def test_a_line_that_cannot_be_mapped_keeps_its_row(tmp_path):
    """LX*2 without its SV1 stays in the frame with the reason; the other lines are kept."""
    text = EXAMPLE1.replace("SV1*HC:87070*15.00*UN*1.00***1~\n", "")
    batch = read_837p_batch(_write(tmp_path, text))
    f = batch.frame
    assert f["claim_line_number"].tolist() == ["1", "2", "3", "4"]
    assert f["_claims_scrub_malformed"].tolist() == [
        "",
        "service line LX*2 (segment 33) has no SV1 professional service segment",
        "",
        "",
    ]


def test_member_ids_and_names_never_reach_findings_or_logs(tmp_path, caplog):
    """A bad code in the subscriber's NM1 (member id JS00111223333, name SMITH JANE) and in the
    patient's DMG: the finding says which element is wrong without the value."""
    text = EXAMPLE1.replace(
        "NM1*IL*1*SMITH*JANE****MI*JS00111223333", "NM1*IL*1*SMITH*JANE****ZZ*JS00111223333"
    ).replace("DMG*D8*19730501*M", "DMG*D8*19730599*M")
    caplog.set_level(logging.DEBUG)
    batch = read_837p_batch(_write(tmp_path, text))
    messages = " ".join(batch.findings["message"])
    for secret in ("JS00111223333", "SMITH", "JANE", "19730599"):
        assert secret not in messages
        assert secret not in caplog.text
    nm1 = batch.findings[batch.findings["segment_id"] == "NM1"]
    assert nm1["message"].tolist() == [
        "(value withheld) is not a valid code for Identification Code Qualifier (NM108)"
    ]
    assert "value withheld" in " ".join(
        batch.findings[batch.findings["segment_id"] == "DMG"]["message"]
    )


def test_835_refusals_and_readable_variants(tmp_path):
    text = (X12 / "835" / "lfh_managed-care.835").read_text()
    with pytest.raises(X12FileError) as err:
        read_remittance(_write(tmp_path, text.replace("SE*26*112233~\n", ""), "r.835"))
    assert err.value.segment == 28  # the GE that follows where SE should be
    with pytest.raises(X12FileError) as err:
        read_remittance(_write(tmp_path, text[:500], "r.835"))
    assert err.value.reason.startswith("the file ends inside segment")
    with pytest.raises(X12FileError) as err:
        read_remittance(X12 / "837p" / "lfh_demo.example1.837")
    assert err.value.reason.startswith("GS01 'HC' / GS08 '005010X222A2' is a professional claim")


def test_batch_reader_sends_x12_by_content(tmp_path):
    """An 837P named .txt is read as X12 (not CSV); a gzipped one too."""
    import gzip

    path = tmp_path / "claims.txt"
    path.write_text(EXAMPLE1)
    assert read_batch_file(path).frame["hcpcs_code"].tolist()[0] == "99213"
    gz = tmp_path / "claims.837.gz"
    gz.write_bytes(gzip.compress(EXAMPLE1.encode()))
    assert len(read_batch_file(gz).frame) == 4


def test_file_wrapped_at_80_columns(tmp_path):
    flat = EXAMPLE1.replace("\n", "")
    wrapped = "\n".join(flat[i : i + 80] for i in range(0, len(flat), 80))
    batch = read_837p_batch(_write(tmp_path, wrapped))
    assert batch.frame["charge_amount"].tolist() == ["40.00", "15.00", "35.00", "10.00"]
    assert (batch.findings["severity"] == "warning").sum() == 0


@pytest.mark.parametrize("length", [21, 85])
def test_an_overlong_isa_element_is_named(tmp_path, length):
    """ISA06 padded out to `length` characters: named as too long, not as a cut ISA."""
    isa06 = SEGMENTS[0].split("*")[6]
    assert len(isa06) == 15
    text = EXAMPLE1.replace(
        f"*{isa06}*", f"*{isa06.rstrip()}{'X' * (length - len(isa06.rstrip()))}*", 1
    )
    err = _refused(tmp_path, text)
    assert err.segment == 1
    if length > 40:
        assert err.reason == (
            f"ISA element ISA06 is {length} characters, longer than its fixed width of 15; the "
            "ISA cannot be read"
        )
    else:
        assert err.reason == (
            "ISA element(s) ISA06 are longer than their fixed width; the ISA cannot be read"
        )
