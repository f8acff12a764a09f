"""The queries of sql/ over the report Parquet files, local and on S3, with exact results."""

from __future__ import annotations

import importlib.util
import shutil
from decimal import Decimal as D
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipeline.report.work_queue import totals

REPO = Path(__file__).parents[3]
SQL = REPO / "sql"


def _load_runner():
    spec = importlib.util.spec_from_file_location("run_sql", REPO / "scripts" / "run_sql.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run_sql = _load_runner()


def rows(table) -> list[tuple]:
    return [tuple(r.values()) for r in table.to_pylist()]


@pytest.mark.parametrize("path", sorted(SQL.glob("*.sql")), ids=lambda p: p.name)
def test_one_statement_per_file_saying_what_it_reads(path):
    text = path.read_text()
    assert len(duckdb.extract_statements(text)) == 1
    assert "Reads:" in text


def test_queries_over_the_local_report(sample_report):
    where = str(sample_report.folder)
    assert rows(run_sql.run(SQL / "reconcile.sql", where)) == [
        (
            D("95859.70"),
            D("95859.70"),
            D("274147.42"),
            D("274147.42"),
            D("176461.07"),
            D("176461.07"),
            D("227236.83"),
            D("227236.83"),
            True,
        )
    ]
    # The query gives finance_summary.parquet exactly, row for row.
    query = run_sql.run(SQL / "finance_summary.sql", where).to_pandas()
    written = pd.read_parquet(sample_report.folder / "finance_summary.parquet")
    written = written.drop(columns=["run_id", "run_started_at"])
    assert list(query.columns) == list(written.columns)
    assert query.astype(object).where(query.notna(), None).values.tolist() == (
        written.astype(object).where(written.notna(), None).values.tolist()
    )
    assert len(query) == 3303

    assert rows(run_sql.run(SQL / "top_underpaid_codes.sql", where))[:3] == [
        ("99214", 257, D("19907.35"), D("-1798.73"), 87, D("1946.86")),
        ("99213", 202, D("10519.56"), D("-1152.69"), 48, D("1197.54")),
        ("93880", 16, D("1785.25"), D("-228.15"), 4, D("452.40")),
    ]
    payers = rows(run_sql.run(SQL / "top_underpaid_payers.sql", where))
    assert len(payers) == 6
    assert payers[0] == (
        "Medicare Part B - Noridian JE",
        1429,
        D("65300.62"),
        D("3931.76"),
        133,
        D("3253.03"),
    )
    assert sum(p[5] for p in payers) == D("9723.73")
    months = rows(run_sql.run(SQL / "monthly_trend.sql", where))
    assert [m[0] for m in months] == [f"2025-{m:02d}" for m in range(1, 13)]
    assert months[0] == (
        "2025-01",
        353,
        D("24317.95"),
        D("13651.44"),
        D("10702.62"),
        D("19648.87"),
        D("4510.13"),
        32,
        D("765.34"),
        D("5275.08"),
    )
    assert sum(m[1] for m in months) == 4870

    # The work-queue totals are the page's totals, to the cent.
    sums = totals(
        pd.read_parquet(sample_report.folder / "work_queue.parquet").assign(
            dollars_at_risk_cents=lambda q: (q["dollars_at_risk"] * 100).astype("int64"),
            dollars_recovered_cents=lambda q: (q["dollars_recovered"] * 100).astype("int64"),
        )
    )
    for name, key in (("payer", "payer"), ("provider", "provider_npi"), ("flag", "primary_flag")):
        got = rows(run_sql.run(SQL / f"work_queue_by_{name}.sql", where))
        assert [(g[0], g[1], g[2], int(g[3] * 100)) for g in got] == [
            tuple(r) for r in sums[name][[name, "claims", "lines", "dollars_at_risk_cents"]].values
        ], key
        assert sum(g[3] for g in got) == D("95859.70")
    assert rows(run_sql.run(SQL / "work_queue_by_payer.sql", where))[0] == (
        "Medicare Part B - Noridian JE",
        524,
        734,
        D("28187.58"),
        D("17122.77"),
    )


def test_queries_over_several_batches(sample_report, tmp_path):
    for name in ("a", "b"):
        shutil.copytree(sample_report.folder, tmp_path / name)
    (tmp_path / "history").mkdir()
    shutil.copy(sample_report.folder / "lines.parquet", tmp_path / "history" / "lines.parquet")
    # A report a killed run left half-written in .staging/ is not a batch either.
    shutil.copytree(sample_report.folder, tmp_path / ".staging" / "r9_c" / "c")
    got = rows(run_sql.run(SQL / "reconcile.sql", str(tmp_path)))[0]
    assert got[0] == got[1] == D("191719.40")  # both batches, history/ and .staging/ left out
    assert got[-1] is True


def test_queries_over_s3_through_a_pyarrow_dataset(sample_report, s3_bucket, s3_server):
    client = s3_server.client()
    for path in sample_report.folder.glob("*.parquet"):
        key = f"scrub/2025-12-01/{sample_report.folder.name}/{path.name}"
        client.put_object(Bucket=s3_bucket, Key=key, Body=path.read_bytes())
    where = f"s3://{s3_bucket}/scrub/2025-12-01"
    assert rows(run_sql.run(SQL / "reconcile.sql", where))[0][0] == D("95859.70")
    assert rows(run_sql.run(SQL / "reconcile.sql", where))[0][-1] is True
    local = run_sql.run(SQL / "finance_summary.sql", str(sample_report.folder))
    assert run_sql.run(SQL / "finance_summary.sql", where).equals(local)


def test_runner_says_when_there_is_nothing_to_read(tmp_path):
    with pytest.raises(SystemExit, match="no report Parquet files under"):
        run_sql.run(SQL / "reconcile.sql", str(tmp_path))
