"""`claims-scrub run` on an X12 837P and its 835, as a user runs it.

tests/data/x12/synthetic/houston_2025-11-01.837 holds six claims; houston_2025-11-15.835 pays
them. Fee-schedule amounts (RVU25D, CF 32.3465; Houston GPCIs 1.014/1.003/1.409, San
Francisco 1.088/1.419/0.445):
  99214 Houston = (1.92x1.014 + 1.80x1.003 + 0.15x1.409) x 32.3465 = 128.21
  93000 Houston = (0.17x1.014 + 0.24x1.003 + 0.02x1.409) x 32.3465 = 14.27
  99204 San Francisco = (2.60x1.088 + 2.21x1.419 + 0.24x0.445) x 32.3465 = 196.39
  99213 Houston = 91.00, 99212 Houston = 56.06
Remittance expectations (allowed - PR, less 2% sequestration when CO-253 is on the line):
  SYN-1001/1 99214 paid as 99213 71.34: (128.21 - 18.20) = 110.01 - 2.20 = 107.81 -> 36.47 short
  SYN-1001/2 93000 CO-97 80.00, paid 0: denied, 14.27 at risk
  SYN-1002/1 99213 71.34 and /2 99212 43.95 (matched by code and date): paid as expected
  SYN-1003/1 99204 117.60: (196.39 - 30.00) = 166.39 - 3.33 = 163.06 -> 45.46 short
  SYN-1004/1 99213: 63.50, reversed (-63.50), then 71.34: net 71.34 as expected
  SYN-1005/1 99213: reversal of 71.34 only (an earlier 835's payment taken back)
  SYN-1006/1 anesthesia 00790, 45 minutes (MJ): carrier priced, not on the 835
  SYN-9999: on the 835 only, not matched
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline.cli import main

SYNTHETIC = Path(__file__).parent / "data" / "x12" / "synthetic"
CLAIMS = SYNTHETIC / "houston_2025-11-01.837"
REMITS = SYNTHETIC / "houston_2025-11-15.835"
SECRETS = ("SYN0000001A", "SYN0000002A", "SYN0000003A", "JANE", "ROBIN", "CASEY", "19500101")


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _no_personal_data(out: Path) -> None:
    for path in out.rglob("*"):
        if path.suffix in (".csv", ".json"):
            text = path.read_text()
        elif path.suffix == ".parquet":
            text = pq.read_table(path).to_pandas().astype(str).to_csv()
        else:
            continue
        for secret in SECRETS:
            assert secret not in text, (secret, path)


def _check_claim_lines(lines: pd.DataFrame) -> None:
    assert lines["claim_id"].tolist() == [
        "SYN-1001",
        "SYN-1001",
        "SYN-1004",
        "SYN-1002",
        "SYN-1002",
        "SYN-1003",
        "SYN-1005",
        "SYN-1006",
    ]
    assert lines["hcpcs_code"].tolist() == [
        "99214",
        "93000",
        "99213",
        "99213",
        "99212",
        "99204",
        "99213",
        "00790",
    ]
    assert lines["expected_allowed"].tolist() == [
        "128.21",
        "14.27",
        "91.00",
        "91.00",
        "56.06",
        "196.39",
        "91.00",
        "",
    ]
    assert lines["remit_paid"].tolist() == [
        "71.34",
        "0.00",
        "71.34",
        "71.34",
        "43.95",
        "117.60",
        "0.00",  # reversed: nothing paid for the line any more
        "",
    ]
    assert lines["remit_paid_code"].tolist() == [
        "99213",
        "93000",
        "99213",
        "99213",
        "99212",
        "99204",
        "99213",
        "",
    ]
    assert lines["expected_payment"].tolist() == [
        "107.81",
        "14.27",
        "71.34",
        "71.34",
        "43.95",
        "163.06",
        "",
        "",
    ]
    assert lines["paid_variance"].tolist() == [
        "-36.47",
        "-14.27",
        "0.00",
        "0.00",
        "0.00",
        "-45.46",
        "",
        "",
    ]
    assert lines["flags"].tolist() == [
        "PAYER_DOWNCODED;REMIT_UNDERPAID",
        "PAYER_DENIED",
        "",
        "",
        "",
        "REMIT_UNDERPAID",
        "PAYMENT_REVERSED",
        "ANESTHESIA_NOT_PRICED",
    ]
    assert lines["dollars_at_risk"].tolist() == [
        "36.47",
        "14.27",
        "0.00",
        "0.00",
        "0.00",
        "45.46",
        "71.34",
        "0.00",
    ]
    assert lines["remit_adjustments"].tolist()[0] == "CO-45 109.00; CO-253 1.46; PR-2 18.20"
    assert lines["remit_match"].tolist()[3:5] == [
        "claim id + line control number",
        "claim id + procedure code + date of service",
    ]
    assert (lines["unit_basis"].tolist()[7], lines["service_unit_quantity"].tolist()[7]) == (
        "MJ",
        "45",
    )
    # SYN-1003's service facility is in San Francisco (2310C), the billing provider in Houston.
    assert lines["pricing_locality"].tolist()[5] == "01112-05"


def _check_remit_report(folder: Path, matched_in: str) -> None:
    rows = _csv(folder / "remit_lines.csv")
    assert rows["claim_id"].tolist() == [
        "SYN-1001",
        "SYN-1001",
        "SYN-1002",
        "SYN-1002",
        "SYN-1003",
        "SYN-1004",
        "SYN-1004",
        "SYN-1004",
        "SYN-1005",
        "SYN-9999",
    ]
    assert rows["matched_in"].tolist() == [matched_in] * 9 + ["not matched"]
    assert rows["matched_batch"].tolist() == ["houston_2025-11-01"] * 9 + [""]
    assert rows["flags"].tolist() == [
        "PAYER_DOWNCODED;REMIT_UNDERPAID",
        "PAYER_DENIED",
        "",
        "",
        "REMIT_UNDERPAID",
        "",
        "",
        "",
        "PAYMENT_REVERSED",
        "",
    ]
    assert rows["dollars_at_risk"].tolist() == [
        "36.47",
        "14.27",
        "0.00",
        "0.00",
        "45.46",
        "0.00",
        "0.00",
        "0.00",
        "71.34",
        "0.00",
    ]
    # Charge minus adjustments equals paid on every line.
    for charge, adjusted, paid in zip(
        rows["charge"], rows["adjustments_total"], rows["paid"], strict=True
    ):
        assert round(float(charge) - float(adjusted), 2) == float(paid)
    flags = _csv(folder / "flags.csv")
    assert flags["rule_code"].tolist() == [
        "PAYER_DOWNCODED",
        "REMIT_UNDERPAID",
        "PAYER_DENIED",
        "REMIT_UNDERPAID",
        "PAYMENT_REVERSED",
    ]
    assert flags["dollars_at_risk"].tolist() == ["36.47", "36.47", "14.27", "45.46", "71.34"]
    plb = _csv(folder / "provider_adjustments.csv")
    assert plb[["reason", "reference", "amount"]].values.tolist() == [["L6", "SYNINT", "-2.50"]]
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["totals"] == {
        "charge_cents": 98000,
        "paid_cents": 37557,  # BPR02 378.07 less the PLB interest of -2.50
        "adjustments_cents": 60443,
        "provider_adjustments_cents": -250,
        "dollars_at_risk_cents": 16754,
    }
    assert summary["unbalanced_claims"] == 0


def test_837p_and_its_835_in_one_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CLAIMS_PIPELINE_PATIENT_KEY", "cli-x12")
    out = tmp_path / "out"
    assert main(["run", str(CLAIMS), str(REMITS), "--out", str(out), "-q"]) == 0
    printed = capsys.readouterr().out
    assert "houston_2025-11-01: 8 lines read, 7 priced" in printed
    assert "X12 837P: 6 claims, 8 service lines, 0 implementation-guide warnings" in printed
    assert "835: 7 lines matched to a remittance" in printed
    assert (
        "houston_2025-11-15: 835 with 8 claim payments, 10 lines; matched 9 in this run, 0 in "
        "history, 1 not matched; 4 flagged, dollars at risk $167.54"
    ) in printed
    _check_claim_lines(_csv(out / "houston_2025-11-01" / "lines.csv"))
    claims = _csv(out / "houston_2025-11-01" / "claims.csv").set_index("claim_id")
    assert claims.loc["SYN-1001", ["paid", "dollars_at_risk"]].tolist() == ["71.34", "50.74"]
    assert claims.loc["SYN-1004", "paid"] == "71.34"
    _check_remit_report(out / "remits" / "houston_2025-11-15", "this run")
    _no_personal_data(out)


def test_835_on_a_later_night_matches_the_history_store(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CLAIMS_PIPELINE_PATIENT_KEY", "cli-x12")
    out = tmp_path / "out"
    assert main(["run", str(CLAIMS), "--out", str(out), "-q"]) == 0
    lines = _csv(out / "houston_2025-11-01" / "lines.csv")
    assert lines["flags"].tolist()[:7] == [""] * 7  # nothing is known about payment yet
    remits = tmp_path / "remits"
    remits.mkdir()
    shutil.copy(REMITS, remits)
    assert main(["run", "--remits", str(remits), "--out", str(out), "-q"]) == 0
    printed = capsys.readouterr().out
    assert "matched 0 in this run, 9 in history, 1 not matched; 4 flagged" in printed
    _check_remit_report(out / "remits" / "houston_2025-11-15", "history")
    _no_personal_data(out)


def test_malformed_x12_is_quarantined_and_the_rest_goes_on(tmp_path, capsys, monkeypatch):
    """A cut copy of the 837P and an 835 without its SE sit beside the good files."""
    monkeypatch.setenv("CLAIMS_PIPELINE_PATIENT_KEY", "cli-x12")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(CLAIMS, inbox)
    shutil.copy(REMITS, inbox)
    (inbox / "cut.837").write_text(CLAIMS.read_text()[:1500])
    broken = REMITS.read_text().replace("SE*81*0001~\n", "")
    (inbox / "no_se.835").write_text(broken)
    out = tmp_path / "out"
    assert main(["run", str(inbox), "--out", str(out), "-q"]) == 1
    captured = capsys.readouterr()
    assert (
        f"{inbox / 'cut.837'}: segment 59: the file ends inside segment 'SV1': no segment "
        "terminator '~' follows: the file is truncated; ask the sender for the complete file"
    ) in captured.err
    assert (
        f"{inbox / 'no_se.835'}: segment 83: transaction set '0001' (ST at segment 3) has no SE "
        "trailer before GE at segment 83"
    ) in captured.err
    record = json.loads((out / "quarantine" / "cut.837.json").read_text())
    assert (record["segment"], record["file"]) == (59, str(inbox / "cut.837"))
    assert record["reason"].startswith("the file ends inside segment 'SV1'")
    assert (out / "quarantine" / "no_se.835.json").exists()
    assert not (out / "cut").exists()
    _check_claim_lines(_csv(out / "houston_2025-11-01" / "lines.csv"))
    _check_remit_report(out / "remits" / "houston_2025-11-15", "this run")
    assert "claims-scrub: 2 of 4 input files could not be read" in captured.err


def test_remits_option_takes_only_835s(tmp_path, capsys):
    """A --remits file that is not an 835 is refused and quarantined like one in a --remits
    folder (docs/x12.md), and the run exits 1; a path that does not exist is a usage error."""
    out = tmp_path / "out"
    assert main(["run", "--remits", str(CLAIMS), "--out", str(out), "-q"]) == 1
    err = capsys.readouterr().err
    assert (
        f"claims-scrub: {CLAIMS}: segment 2: GS01 'HC' / GS08 '005010X222A1' is a professional "
        "claim (837P), not a 835; it is a claim file: pass it without --remits"
    ) in err
    assert "claims-scrub: 1 of 1 input files could not be read" in err
    record = json.loads((out / "quarantine" / f"{CLAIMS.name}.json").read_text())
    assert (record["file"], record["segment"]) == (str(CLAIMS), 2)
    assert sorted(p.name for p in out.iterdir()) == ["quarantine"]
    missing = tmp_path / "nowhere.835"
    assert main(["run", "--remits", str(missing), "--out", str(out)]) == 2
    assert f"--remits {missing}: no such file or folder" in capsys.readouterr().err


def _without(pattern: str, first_only: bool = False) -> str:
    """The synthetic 837P without the segment(s) starting with `pattern`."""
    segments = CLAIMS.read_text().split("~\n")
    hits = [i for i, s in enumerate(segments) if s.startswith(pattern)]
    for i in reversed(hits[:1] if first_only else hits):
        del segments[i]
    return "~\n".join(segments)


@pytest.mark.parametrize(
    ("name", "text", "claim_ids", "codes", "reasons"),
    [
        (
            "two_sv1",  # LX*2 of SYN-1001 removed: its 93000 SV1 sits under LX*1 with the 99214
            _without("LX*2", first_only=True),
            ["SYN-1001", "SYN-1001", "SYN-1004"],
            ["99214", "93000", "99213"],
            {
                2: "SV1 at segment 29 is a second SV1 under LX*1 (segment 25); each service "
                "line needs its own LX (claim 'SYN-1001', CLM at segment 21); the line cannot "
                "be mapped"
            },
        ),
        (
            "no_lx",  # LX*1 of SYN-1004 removed: its SV1 follows the CLM's HI
            CLAIMS.read_text().replace("HI*ABK:I10~\nLX*1~\n", "HI*ABK:I10~\n", 1),
            ["SYN-1001", "SYN-1001", "SYN-1004"],
            ["99214", "93000", "99213"],
            {
                3: "SV1 at segment 35 has no LX service line segment before it (claim "
                "'SYN-1004', CLM at segment 33); the line cannot be mapped"
            },
        ),
        (
            "no_clm",  # CLM SYN-1004 removed: its line must not become SYN-1001's
            _without("CLM*SYN-1004"),
            ["SYN-1001", "SYN-1001", ""],
            ["99214", "93000", "99213"],
            {
                3: "LX*1 at segment 34 cannot be given to a claim: claim diagnoses (HI) follow "
                "the service lines at segment 33 in claim 'SYN-1001' (CLM at segment 21), so a "
                "CLM is probably missing before it"
            },
        ),
        (
            "no_first_clm",  # CLM SYN-1001 removed: its two lines are in no claim
            _without("CLM*SYN-1001"),
            ["", "", "SYN-1004"],
            ["99214", "93000", "99213"],
            {
                1: "LX*1 at segment 24 cannot be given to a claim: there is no CLM above it in "
                "transaction '0001'",
                2: "LX*2 at segment 28 cannot be given to a claim: there is no CLM above it in "
                "transaction '0001'",
            },
        ),
    ],
)
def test_every_sv1_keeps_its_own_row(
    tmp_path, capsys, monkeypatch, name, text, claim_ids, codes, reasons
):
    """A service line whose LX or CLM is missing is rejected with its segment, never merged
    into another line or given to another claim; the other lines are priced as usual."""
    monkeypatch.setenv("CLAIMS_PIPELINE_PATIENT_KEY", "cli-x12")
    path = tmp_path / f"{name}.837"
    path.write_text(text)
    out = tmp_path / "out"
    args = ["run", str(path), "--out", str(out), "--no-history", "-q"]
    assert main(args) == 1  # one rejected line in eight is over the 5% a batch may lose
    assert main([*args, "--max-reject-share", "0.5"]) == 0
    lines = _csv(out / name / "lines.csv")
    assert len(lines) == 8
    assert lines["claim_id"].tolist()[:3] == claim_ids
    assert lines["hcpcs_code"].tolist() == [*codes, "99213", "99212", "99204", "99213", "00790"]
    status = ["rejected" if i in reasons else "priced" for i in range(1, 4)]
    assert lines["line_status"].tolist() == [*status, *["priced"] * 4, "carrier_priced"]
    rejected = lines[lines["line_status"] == "rejected"]
    assert rejected["flags"].tolist() == ["INPUT_MALFORMED_ROW"] * len(reasons)
    assert "DUPLICATE_LINE" not in "".join(lines["flags"])
    rejects = _csv(out / name / "rejects.csv")
    assert rejects["input_row"].astype(int).tolist() == list(reasons)
    for row, reason in zip(rejects["input_row"].astype(int), rejects["reason"], strict=True):
        assert reason.endswith(reasons[row])
    findings = _csv(out / name / "x12_findings.csv")
    errors = findings[findings["severity"] == "error"]
    assert errors["message"].tolist() == list(reasons.values())
    assert f"{len(reasons)} errors (x12_findings.csv)" in capsys.readouterr().out


def test_a_remittance_given_twice_is_used_once(tmp_path, capsys, monkeypatch):
    """r2 is a copy of r1 (same TRN02 and payer); r3 was re-sent under another trace number,
    so its claim payments (same CLP07, claim, status and amounts) repeat r1's."""
    monkeypatch.setenv("CLAIMS_PIPELINE_PATIENT_KEY", "cli-x12")
    remits = tmp_path / "remits"
    remits.mkdir()
    shutil.copy(REMITS, remits / "r1.835")
    shutil.copy(REMITS, remits / "r2.835")
    resent = REMITS.read_text().replace("TRN*1*SYNEFT0001*", "TRN*1*SYNEFT0002*")
    (remits / "r3.835").write_text(resent)
    out = tmp_path / "out"
    args = ["run", str(CLAIMS), "--remits", str(remits), "--out", str(out), "--no-history"]
    assert main([*args, "-q"]) == 0
    err = capsys.readouterr().err
    assert (
        f"claims-scrub: warning: {remits / 'r2.835'}: the same remittance (TRN02 'SYNEFT0001' "
        f"of payer 'SYNTHETIC MAC') as {remits / 'r1.835'}; used once, from the first file"
    ) in err
    assert (
        f"claims-scrub: warning: {remits / 'r3.835'}: claim payment CLP07 'SYNICN1001' (claim "
        "'SYN-1001', status 1, charge 280.00, paid 71.34) repeats the one in "
        f"{remits / 'r1.835'}; used once, from the first file"
    ) in err
    assert err.count("repeats the one in") == 8  # every claim payment of r3
    lines = _csv(out / "houston_2025-11-01" / "lines.csv")
    assert lines["remit_paid"].tolist() == [
        "71.34",
        "0.00",
        "71.34",
        "71.34",
        "43.95",
        "117.60",
        "0.00",
        "",
    ]
    claims = _csv(out / "houston_2025-11-01" / "claims.csv").set_index("claim_id")
    assert claims.loc["SYN-1001", ["paid", "dollars_at_risk"]].tolist() == ["71.34", "50.74"]
    _check_remit_report(out / "remits" / "r1", "this run")
    assert not (out / "remits" / "r2").exists()
    assert _csv(out / "remits" / "r3" / "remit_lines.csv").empty


def test_bad_files_in_a_remits_folder_are_refused_and_quarantined(tmp_path, capsys):
    remits = tmp_path / "remits"
    remits.mkdir()
    shutil.copy(REMITS, remits)
    (remits / "junk.835").write_bytes(bytes(range(256)) * 4)
    (remits / "empty.835").write_text("")
    shutil.copy(CLAIMS, remits / "claims.edi")
    (remits / "notes.txt").write_text("not X12 by name or content")
    out = tmp_path / "out"
    assert main(["run", "--remits", str(remits), "--out", str(out), "-q"]) == 1
    err = capsys.readouterr().err
    assert (
        f"claims-scrub: {remits / 'claims.edi'}: segment 2: GS01 'HC' / GS08 '005010X222A1' is "
        "a professional claim (837P), not a 835; it is a claim file: pass it without --remits"
    ) in err
    assert (
        f"claims-scrub: {remits / 'empty.835'}: the file is empty; expected an X12 interchange"
    ) in err
    assert f"claims-scrub: {remits / 'junk.835'}: segment 1: not an X12 interchange" in err
    assert "claims-scrub: 3 of 4 input files could not be read" in err
    quarantined = sorted(p.name for p in (out / "quarantine").iterdir())
    assert quarantined == ["claims.edi.json", "empty.835.json", "junk.835.json"]
    record = json.loads((out / "quarantine" / "claims.edi.json").read_text())
    assert (record["file"], record["segment"]) == (str(remits / "claims.edi"), 2)
    assert (out / "remits" / "houston_2025-11-15" / "remit_lines.csv").exists()


def test_an_835_never_writes_into_the_claim_report_of_the_same_name(tmp_path, monkeypatch):
    monkeypatch.setenv("CLAIMS_PIPELINE_PATIENT_KEY", "cli-x12")
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(REMITS, src / "houston_2025-11-01.835")  # the same stem as the 837P
    out = tmp_path / "out"
    assert main(["run", str(CLAIMS), "--out", str(out), "-q"]) == 0
    claim_report = sorted(p.name for p in (out / "houston_2025-11-01").iterdir())
    before = {p: p.read_bytes() for p in (out / "houston_2025-11-01").iterdir()}
    assert (
        main(["run", "--remits", str(src / "houston_2025-11-01.835"), "--out", str(out), "-q"]) == 0
    )
    assert sorted(p.name for p in (out / "houston_2025-11-01").iterdir()) == claim_report
    assert {p: p.read_bytes() for p in (out / "houston_2025-11-01").iterdir()} == before
    assert "remit_lines.csv" not in claim_report
    _check_remit_report(out / "remits" / "houston_2025-11-01", "history")
    # In one run the two keep their own names too.
    both = tmp_path / "both"
    assert main(["run", str(CLAIMS), str(src / "houston_2025-11-01.835"), "--out", str(both)]) == 0
    assert (both / "houston_2025-11-01" / "lines.csv").exists()
    assert not (both / "houston_2025-11-01" / "remit_lines.csv").exists()
    _check_remit_report(both / "remits" / "houston_2025-11-01", "this run")


def test_x12_input_flags_name_the_segment(tmp_path, monkeypatch):
    monkeypatch.setenv("CLAIMS_PIPELINE_PATIENT_KEY", "cli-x12")
    text = CLAIMS.read_text().replace("DTP*472*D8*20251015~", "DTP*472*D8*20251345~", 1)
    text = text.replace("SV1*HC:93000*80.00", "SV1*HC:93000*8x.00", 1)
    path = tmp_path / "bad.837"
    path.write_text(text)
    out = tmp_path / "out"
    args = ["run", str(path), "--out", str(out), "--no-history", "-q"]
    assert main([*args, "--max-reject-share", "0.5"]) == 0
    flags = _csv(out / "bad" / "flags.csv")
    flags = flags[flags["rule_code"].str.startswith("INPUT_")]
    assert flags[["rule_code", "reason"]].values.tolist() == [
        [
            "INPUT_BAD_DATE",
            "Not priced: DTP*472 of the LX at segment 25: '20251345' is not a date (CCYYMMDD).",
        ],
        [
            "INPUT_BAD_AMOUNT",
            "Not priced: SV102 of the LX at segment 29: '8x.00' is not a dollar amount.",
        ],
    ]
    assert "YYYY-MM-DD in a CSV, CCYYMMDD in an 837P" in flags["action"].iloc[0]


@pytest.mark.parametrize(
    ("bad", "as_remits", "element", "balance"),
    [
        pytest.param(
            "CLP*SYN-1001*1*280.00*ABC*",
            True,
            "CLP04",
            "claim 'SYN-1001': the balance cannot be checked, its paid amount (CLP04) is "
            "unreadable",
            id="paid-abc-with-remits",
        ),
        pytest.param(
            "CLP*SYN-1001*1*$280*71.34*",
            False,
            "CLP03",
            "claim 'SYN-1001': the balance cannot be checked, its charge (CLP03) is unreadable",
            id="charge-dollar-sign-plain-input",
        ),
        pytest.param(
            "CLP*SYN-1001*1*280.00*999999999999999999*",
            False,
            "CLP04",
            "claim 'SYN-1001': the balance cannot be checked, its paid amount (CLP04) is "
            "unreadable",
            id="paid-18-digits-overflows-int64",
        ),
    ],
)
def test_a_bad_claim_payment_amount_is_a_finding_not_a_crash(
    tmp_path, capsys, monkeypatch, bad, as_remits, element, balance
):
    """An unreadable CLP03/CLP04 used to crash the repeat check (int of a missing amount):
    now it is a finding naming segment 14, and the 837 and the 835 still get their reports."""
    monkeypatch.setenv("CLAIMS_PIPELINE_PATIENT_KEY", "cli-x12")
    path = tmp_path / "r_bad.835"
    path.write_text(REMITS.read_text().replace("CLP*SYN-1001*1*280.00*71.34*", bad, 1))
    out = tmp_path / "out"
    remits = ["--remits", str(path)] if as_remits else [str(path)]
    assert main(["run", str(CLAIMS), *remits, "--out", str(out), "--no-history", "-q"]) == 0
    printed = capsys.readouterr().out
    assert "houston_2025-11-01: 8 lines read, 7 priced" in printed
    assert "r_bad: 835 with 8 claim payments, 10 lines; matched 9 in this run" in printed
    assert len(_csv(out / "houston_2025-11-01" / "lines.csv")) == 8
    findings = _csv(out / "remits" / "r_bad" / "x12_findings.csv")
    ours = findings[findings["code"].isin(["AMOUNT", "BALANCE"])]
    assert ours[["segment", "element", "code"]].values.tolist()[-2:] == [
        ["14", element, "AMOUNT"],
        ["14", "", "BALANCE"],
    ]
    assert ours["message"].tolist()[-1] == balance
    assert ours["message"].tolist()[-2].startswith(f"{element} ")
    claims = _csv(out / "remits" / "r_bad" / "remit_claims.csv")
    assert claims.loc[0, ["charge", "paid"]].tolist() == (
        ["280.00", ""] if element == "CLP04" else ["", "71.34"]
    )
    # The service lines keep their own amounts and flags.
    rows = _csv(out / "remits" / "r_bad" / "remit_lines.csv")
    assert rows["flags"].tolist()[:2] == ["PAYER_DOWNCODED;REMIT_UNDERPAID", "PAYER_DENIED"]


def test_minutes_on_a_code_that_is_not_anesthesia_are_not_units(tmp_path, monkeypatch):
    """SV1*HC:99212*100.00*MJ*30 used to price as 30 visits (MUE error, $1,581.80 at risk).
    Minutes are rejected on it with the segment and the fix; the anesthesia line 00790 of
    45 minutes (MJ) is still carrier priced."""
    monkeypatch.setenv("CLAIMS_PIPELINE_PATIENT_KEY", "cli-x12")
    path = tmp_path / "minutes.837"
    text = CLAIMS.read_text().replace("SV1*HC:99212*100.00*UN*1*", "SV1*HC:99212*100.00*MJ*30*")
    path.write_text(text)
    out = tmp_path / "out"
    args = ["run", str(path), "--out", str(out), "--no-history", "-q"]
    assert main([*args, "--max-reject-share", "0.5"]) == 0
    lines = _csv(out / "minutes" / "lines.csv").set_index("hcpcs_code")
    assert lines.loc[
        "99212", ["unit_basis", "line_status", "expected_allowed", "flags"]
    ].tolist() == [
        "MJ",
        "rejected",
        "",
        "INPUT_MALFORMED_ROW",
    ]
    assert lines.loc["99212", "dollars_at_risk"] == "100.00"
    assert lines.loc["00790", ["line_status", "flags"]].tolist() == [
        "carrier_priced",
        "ANESTHESIA_NOT_PRICED",
    ]
    reason = (
        "SV103 'MJ' (minutes) on 99212 at segment 59: only anesthesia codes (00100-01999) are "
        "billed in minutes, so SV104 '30' is not a number of units; send the line with SV103 "
        "'UN' and its units of service"
    )
    flags = _csv(out / "minutes" / "flags.csv")
    assert flags.loc[flags["input_row"] == "5", "reason"].tolist() == [f"Not priced: {reason}."]
    findings = _csv(out / "minutes" / "x12_findings.csv")
    errors = findings[findings["severity"] == "error"]
    assert errors[["segment", "element", "message"]].values.tolist() == [["59", "SV103", reason]]


@pytest.mark.parametrize(
    ("clp", "rows", "why"),
    [
        pytest.param(
            "CLP*SYN-1001*",
            {16: ("99214", "71.34"), 22: ("93000", "0.00")},
            "there is no CLP before it in transaction '0001'",
            id="first-clp-missing",
        ),
        pytest.param(
            "CLP*SYN-1002*",
            {29: ("99213", "71.34"), 35: ("99212", "43.95")},
            "NM1 at segment 28 follows the service lines of claim 'SYN-1001' (CLP at segment "
            "14), so a CLP is probably missing before it",
            id="later-clp-missing",
        ),
    ],
)
def test_service_payments_without_their_clp_are_shown_not_dropped(
    tmp_path, capsys, monkeypatch, clp, rows, why
):
    """Without its CLP a claim's SVCs were dropped (first claim) or silently given to the
    claim before them (later claim). They are kept as unmatched rows, each with an error
    finding, and the run says so; the file was read, so it exits 0 (README)."""
    monkeypatch.setenv("CLAIMS_PIPELINE_PATIENT_KEY", "cli-x12")
    segments = REMITS.read_text().split("~\n")
    path = tmp_path / "no_clp.835"
    path.write_text("~\n".join(s for s in segments if not s.startswith(clp)))
    out = tmp_path / "out"
    assert main(["run", str(CLAIMS), str(path), "--out", str(out), "--no-history", "-q"]) == 0
    err = capsys.readouterr().err
    assert (
        f"claims-scrub: warning: {path}: 2 service payment(s) outside any claim payment (a CLP "
        "is missing): not matched to claim lines"
    ) in err
    remit_lines = _csv(out / "remits" / "no_clp" / "remit_lines.csv")
    assert len(remit_lines) == 10
    lost = remit_lines[remit_lines["claim_id"] == ""]
    assert lost["x12_segment"].astype(int).tolist() == list(rows)
    assert lost[["billed_code", "paid"]].values.tolist() == [list(v) for v in rows.values()]
    assert lost["matched_in"].tolist() == ["not matched"] * 2
    expected = [
        f"SVC at segment {n} cannot be given to a claim payment: {why}; its payment "
        f"(${paid} paid) is not matched to any claim line"
        for n, (_, paid) in rows.items()
    ]
    assert lost["problem"].tolist() == expected
    findings = _csv(out / "remits" / "no_clp" / "x12_findings.csv")
    errors = findings[findings["severity"] == "error"]
    assert errors[["segment", "segment_id", "message"]].values.tolist() == [
        [str(n), "SVC", message] for n, message in zip(rows, expected, strict=True)
    ]
    # The adjustments under those SVCs are kept with their rows, not ignored.
    adjustments = _csv(out / "remits" / "no_clp" / "remit_adjustments.csv")
    assert set(lost["remit_row"]) <= set(adjustments["remit_row"])
    lines = _csv(out / "houston_2025-11-01" / "lines.csv")
    claim_id = clp.split("*")[1]
    unpaid = lines[lines["claim_id"] == claim_id]
    assert unpaid[["hcpcs_code", "remit_match"]].values.tolist() == [
        [code, ""] for code, _ in rows.values()
    ]
