"""Matched 835 lines reach the history store and come back as denial patterns.

Variants of the synthetic pair (tests/data/x12/synthetic) with their own claim ids: each 835
denies the 93000 of its claim SYN-k001 with CO-97 (one denial per pair, payer "MEDICARE PART
B" from the 837's NM1*PR). Pairs 1-4 are matched in history, pair 5 in the same run; a rerun of
835 no. 5 replaces its own file. At 4 denials nothing is shown; at 5 the pattern is.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from pipeline.cli import main
from tests.test_cli_x12 import CLAIMS, REMITS, _csv, _no_personal_data

PATTERN = "  MEDICARE PART B, modifiers none: CO-97 {n} denials (2025-10-15 to 2025-10-15)"


def _pair(tmp_path: Path, k: int) -> tuple[Path, Path]:
    def variant(source: Path, suffix: str) -> Path:
        text = source.read_text().replace("SYN-100", f"SYN-{k}00").replace("SYN100", f"SYN{k}00")
        # each 835 its own remittance (trace and payer claim numbers), not a repeat of another
        text = text.replace("SYNEFT0001", f"SYNEFT000{k}").replace("SYNICN", f"SYNICN{k}-")
        path = tmp_path / f"houston_{k}{suffix}"
        path.write_text(text)
        return path

    return variant(CLAIMS, ".837"), variant(REMITS, ".835")


def _kept(out: Path) -> pd.DataFrame:
    files = sorted((out / "history" / "remittance").rglob("*.parquet"))
    return pd.concat([pq.read_table(f).to_pandas().assign(file=f.name) for f in files])


def _explain(out: Path, capsys) -> str:
    capsys.readouterr()
    assert main(["explain", "93000", "--reports", str(out)]) == 0
    return capsys.readouterr().out


def test_835_denials_become_patterns_for_the_next_batch(tmp_path, capsys):
    out = tmp_path / "out"
    pairs = [_pair(tmp_path, k) for k in range(1, 7)]
    assert main(["run", *[str(c) for c, _ in pairs[:4]], "--out", str(out)]) == 0
    assert main(["run", *[str(r) for _, r in pairs[:4]], "--out", str(out)]) == 0
    kept = _kept(out)
    # Per 835: 9 matched service lines (SYN-9999 is not matched), 25 adjustment reasons.
    assert kept.groupby("file").size().tolist() == [25, 25, 25, 25]
    assert set(kept["matched_in"]) == {"history"}
    denied = kept[kept["denied"]]
    assert len(denied) == 4
    assert set(
        zip(denied["payer"], denied["procedure_code"], denied["modifiers"], strict=True)
    ) == {("MEDICARE PART B", "93000", "")}
    assert set(denied["carc_group"] + "-" + denied["carc_code"]) == {"CO-97"}
    assert sorted(denied["claim_id"]) == ["SYN-1001", "SYN-2001", "SYN-3001", "SYN-4001"]
    text = _explain(out, capsys)
    assert "Denial patterns (4 denials of 93000 in the remittance history" in text
    assert "  none with enough denials" in text
    assert "CO-97 4 denials" not in text

    # Pair 5 in one run: matched in this run; its own batch is scrubbed before the 835 is read.
    assert main(["run", str(pairs[4][0]), str(pairs[4][1]), "--out", str(out)]) == 0
    kept = _kept(out)
    assert (len(kept), int(kept["denied"].sum())) == (125, 5)
    assert set(kept.loc[kept["claim_id"].str.startswith("SYN-5"), "matched_in"]) == {"this run"}
    assert PATTERN.format(n=5) in _explain(out, capsys)

    # The same 835 again replaces its own file: still 5 denials, not 6.
    assert main(["run", str(pairs[4][1]), "--out", str(out)]) == 0
    kept = _kept(out)
    assert (kept["file"].nunique(), len(kept), int(kept["denied"].sum())) == (5, 125, 5)
    assert PATTERN.format(n=5) in _explain(out, capsys)

    # The next claim batch: its 93000 line carries the risk note; the pattern is listed.
    assert main(["run", str(pairs[5][0]), "--out", str(out)]) == 0
    queue = _csv(out / "houston_6" / "work_queue.csv")
    noted = queue[queue["risk_note"] != ""]
    assert noted["claim_id"].tolist() == ["SYN-6001"]
    assert noted["procedure_code"].tolist() == ["93000"]
    assert noted["risk_note"].tolist() == [
        "denied 5x by this payer for CO-97 (2025-10-15 to 2025-10-15)"
    ]
    patterns = pq.read_table(out / "houston_6" / "denial_patterns.parquet").to_pandas()
    assert patterns[["payer", "procedure_code", "modifiers", "reason_code", "denials"]].to_dict(
        "records"
    ) == [
        {
            "payer": "MEDICARE PART B",
            "procedure_code": "93000",
            "modifiers": "",
            "reason_code": "CO-97",
            "denials": 5,
        }
    ]
    _no_personal_data(out)


def test_no_history_writes_no_remittance_history(tmp_path):
    out = tmp_path / "out"
    claims, remits = _pair(tmp_path, 1)
    assert main(["run", str(claims), str(remits), "--out", str(out), "--no-history"]) == 0
    assert not (out / "history" / "remittance").exists()
