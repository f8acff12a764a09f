"""A batch's report is published whole or not at all; long labels never break a page."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pipeline.report import finance
from pipeline.report.html import Column, shorten, table
from pipeline.report.storage import Destination
from pipeline.run import scrub_file
from tests.conftest import batch

LONG_PAYER = "X" * 5_000_000


def _batch_file(tmp_path, name: str, *rows):
    path = tmp_path / f"{name}.csv"
    batch(*rows).to_csv(path, index=False)
    return path


def _broken_finance_page(*_args, **_kwargs):
    raise ValueError("chart failed")


def _files(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_failure_while_writing_keeps_the_earlier_report(tmp_path, reference, config, monkeypatch):
    out = tmp_path / "out"
    path = _batch_file(tmp_path, "nightly", {"hcpcs_code": "99213"})
    scrub_file(path, reference, config, Destination(str(out)), run_id="r1")
    before = _files(out / "nightly")
    runs_before = sorted(p.name for p in (out / "runs").iterdir())

    monkeypatch.setattr(finance, "finance_page", _broken_finance_page)
    with pytest.raises(ValueError, match="chart failed") as caught:
        scrub_file(path, reference, config, Destination(str(out)), run_id="r2")
    assert caught.value.__notes__ == [
        f"nothing was published to {out}/nightly/, the reason is in {out}/failed/nightly/r2/"
    ]
    assert _files(out / "nightly") == before  # r1's report, untouched
    assert sorted(p.name for p in (out / "runs").iterdir()) == runs_before  # no r2 record
    assert not (out / ".staging").exists()
    reason = json.loads((out / "failed" / "nightly" / "r2" / "reason.json").read_text())
    assert (reason["reason_code"], reason["published"]) == ("report_not_written", False)
    assert reason["reason"] == (
        "internal error while writing the reports (ValueError: chart failed)"
    )


def test_a_failure_while_writing_leaves_nothing_in_s3(
    s3_bucket, s3_server, tmp_path, reference, config, monkeypatch
):
    path = _batch_file(tmp_path, "nightly", {"hcpcs_code": "99213"})
    monkeypatch.setattr(finance, "finance_page", _broken_finance_page)
    with pytest.raises(ValueError):
        scrub_file(path, reference, config, Destination(f"s3://{s3_bucket}/x"), run_id="r2")
    listed = s3_server.client().list_objects_v2(Bucket=s3_bucket).get("Contents", [])
    assert sorted(o["Key"] for o in listed) == ["x/failed/nightly/r2/reason.json"]


def test_published_report_in_s3_leaves_no_staged_objects(
    s3_bucket, s3_server, tmp_path, reference, config
):
    path = _batch_file(tmp_path, "nightly", {"hcpcs_code": "99213"})
    result = scrub_file(
        path, reference, config, Destination(f"s3://{s3_bucket}/x"), use_history=False
    )
    listed = s3_server.client().list_objects_v2(Bucket=s3_bucket)["Contents"]
    keys = sorted(o["Key"] for o in listed)
    assert [k for k in keys if not k.startswith("x/nightly/")] == []
    assert len(keys) == 22 and "x/nightly/manifest.json" in keys
    assert result.outputs["lines.csv"] == f"s3://{s3_bucket}/x/nightly/lines.csv"


def test_cli_says_nothing_was_published(tmp_path, capsys, monkeypatch):
    from pipeline.cli import main

    monkeypatch.setenv("CLAIMS_PIPELINE_PATIENT_KEY", "cli-test")
    monkeypatch.setattr(finance, "finance_page", _broken_finance_page)
    path = _batch_file(tmp_path, "nightly", {"hcpcs_code": "99213"})
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--run-id", "r3", "-q"]) == 1
    err = capsys.readouterr().err
    assert (
        f"internal error (ValueError: chart failed); nothing was published to {out}/nightly/, "
        f"the reason is in {out}/failed/nightly/r3/; the other batches go on" in err
    )
    assert sorted(p.name for p in out.iterdir()) == ["failed"]


def test_a_huge_payer_name_is_shortened_on_the_pages_not_in_the_files(tmp_path, reference, config):
    path = _batch_file(
        tmp_path,
        "huge",
        {"hcpcs_code": "99213", "payer": LONG_PAYER, "paid_amount": "10.00"},
        {"hcpcs_code": "99214", "payer": "Medicare Part B", "paid_amount": "10.00"},
    )
    # The finance chart used to lay out the whole name (40 s) and then fail to draw it.
    scrub_file(path, reference, config, Destination(str(tmp_path / "out")), use_history=False)
    folder = tmp_path / "out" / "huge"
    for page in ("finance.html", "work_queue.html"):
        text = (folder / page).read_text()
        assert LONG_PAYER not in text and "X" * 59 + "…" in text
        assert len(text) < 500_000
    lines = pd.read_csv(folder / "lines.csv", dtype=str, keep_default_na=False)
    assert lines["payer"].tolist() == [LONG_PAYER, "Medicare Part B"]
    summary = pd.read_parquet(folder / "finance_summary.parquet")
    assert sorted(summary["payer"].str.len()) == [15, 5_000_000]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        pytest.param("Aetna", "Aetna", id="short"),
        pytest.param("A" * 60, "A" * 60, id="at-the-limit"),
        pytest.param("A" * 61, "A" * 59 + "…", id="one-over"),
    ],
)
def test_shorten(text, shown):
    assert shorten(text) == shown


def test_table_cells_are_shortened_after_escaping_nothing_in_half():
    frame = pd.DataFrame({"payer": ["&" * 100], "reason": [["R" * 500, "ok"]]})
    html = table(
        frame, [Column("payer", "payer"), Column("reason", "reason", "lines")], table_id="t"
    )
    assert f"<td>{'&amp;' * 59}…</td>" in html
    assert f'<td class="wrap"><div>{"R" * 399}…</div><div>ok</div></td>' in html


def test_chart_labels_are_shortened_and_alike_payers_keep_their_bars(monkeypatch):
    from pipeline.report import charts

    drawn = []
    monkeypatch.setattr(charts, "_png", lambda fig: drawn.append(fig) or "png")
    assert charts.variance_by_payer(["P" * 80 + "1", "P" * 80 + "2"], [-500, 700]) == "png"
    ax = drawn[0].axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["P" * 59 + "…"] * 2
    assert [bar.get_width() for bar in ax.patches] == [-5.0, 7.0]
