"""Run a query of sql/ over report Parquet files, local or on S3, without the pipeline.

    python scripts/run_sql.py sql/finance_summary.sql --reports reports/claims_2025-11-30
    python scripts/run_sql.py sql/top_underpaid_codes.sql --reports s3://bucket/scrub --csv out.csv

Needs only duckdb and pyarrow. Every `<view>.parquet` under --reports (searched in every
subfolder except history/, runs/ and .staging/) becomes the DuckDB view of that name (lines, flags,
claims, work_queue, finance_summary, denial_patterns); several batches' files are read as
one table. S3 goes through pyarrow's S3 file system with the usual AWS_* variables
(AWS_ENDPOINT_URL for a non-AWS store), because DuckDB's own S3 extension has to be
downloaded and may not be installable.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from urllib.parse import urlparse

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

logger = logging.getLogger("run_sql")

VIEWS = ("lines", "flags", "claims", "work_queue", "finance_summary", "denial_patterns")
SKIP = ("history", "runs", ".staging")  # .staging: reports being written


def filesystem(location: str) -> tuple[pafs.FileSystem, str]:
    """The pyarrow file system and base path of a folder or s3://bucket/prefix."""
    if not location.startswith("s3://"):
        return pafs.LocalFileSystem(), str(Path(location).resolve())
    options: dict = {"region": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        url = urlparse(endpoint)
        options.update(endpoint_override=url.netloc or url.path, scheme=url.scheme or "https")
    if os.environ.get("AWS_ACCESS_KEY_ID"):
        options.update(
            access_key=os.environ["AWS_ACCESS_KEY_ID"],
            secret_key=os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
        )
    return pafs.S3FileSystem(**options), location.removeprefix("s3://").rstrip("/")


def report_files(fs: pafs.FileSystem, base: str) -> dict[str, list[str]]:
    """{view: [paths of <view>.parquet under base]}, history/, runs/ and .staging/ left out."""
    found: dict[str, list[str]] = {}
    selector = pafs.FileSelector(base, recursive=True, allow_not_found=True)
    for info in fs.get_file_info(selector):
        rel = info.path[len(base) :].strip("/").split("/")
        name = rel[-1].removesuffix(".parquet")
        if info.is_file and name in VIEWS and not set(rel[:-1]) & set(SKIP):
            found.setdefault(name, []).append(info.path)
    return {k: sorted(v) for k, v in found.items()}


def connect(location: str) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with one view per report file name found under `location`."""
    fs, base = filesystem(location)
    files = report_files(fs, base)
    if not files:
        raise SystemExit(f"run_sql: no report Parquet files under {location}; check the path")
    con = duckdb.connect()
    for view, paths in files.items():
        schemas = [pq.read_schema(p, filesystem=fs) for p in paths]
        schema = pa.unify_schemas(schemas, promote_options="permissive")
        con.register(view, ds.dataset(paths, schema=schema, filesystem=fs, format="parquet"))
    return con


def run(sql_file: str | Path, location: str) -> pa.Table:
    """The result of one query file over the reports at `location`."""
    return connect(location).sql(Path(sql_file).read_text()).to_arrow_table()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sql", type=Path, help="a query file, e.g. sql/finance_summary.sql")
    parser.add_argument(
        "--reports", required=True, help="report folder or s3://bucket/prefix (one batch or many)"
    )
    parser.add_argument("--csv", type=Path, help="write the result to this CSV file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="run_sql: %(message)s")
    if not args.sql.is_file():
        parser.error(
            f"{args.sql}: no such query file; the queries are in sql/ (e.g. sql/reconcile.sql)"
        )
    result = run(args.sql, args.reports)
    if args.csv:
        import pyarrow.csv as pcsv

        pcsv.write_csv(result, args.csv)
        logger.info("%d rows written to %s", result.num_rows, args.csv)
    else:
        print(result.to_pandas().to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
