"""Command line: `claims-scrub run INPUT... --out DIR`."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import time
from pathlib import Path

from pipeline.errors import PipelineError

logger = logging.getLogger(__name__)

BUNDLED_SAMPLE = "samples/tuva_professional_2025.csv.gz"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="claims-scrub",
        description="Price professional claim lines on the Medicare Physician Fee Schedule "
        "and flag what will be denied, reduced or underpaid.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="scrub claim batches and write one report folder each")
    run.add_argument(
        "inputs",
        nargs="*",
        type=Path,
        help="claim batches (.csv, .csv.gz, .parquet); folders are searched",
    )
    run.add_argument(
        "--sample",
        action="store_true",
        help="scrub the bundled real sample batch (Tuva synthetic claims, 2025)",
    )
    run.add_argument(
        "--out",
        required=True,
        help="report folder, or s3://bucket/prefix (AWS_* environment variables)",
    )
    run.add_argument(
        "--release",
        action="append",
        type=Path,
        default=[],
        help="an extra CMS RVU release (RVUxxX.zip or its folder); repeatable",
    )
    run.add_argument(
        "--default-locality",
        metavar="CARRIER-LOCALITY",
        help="locality for lines without ZIP or locality, e.g. 04412-18",
    )
    run.add_argument(
        "--max-reject-share",
        metavar="SHARE",
        help="fail a batch when more than this share of its lines fail validation, e.g. 0.05 "
        "or 5%% (default: CLAIMS_PIPELINE_MAX_REJECT_SHARE, else 0.05)",
    )
    run.add_argument("--run-id", help="run identifier stamped on every output (default: time)")
    run.add_argument(
        "--no-history",
        action="store_true",
        help="neither read nor add to OUT/history/ (an ad hoc check of one file)",
    )
    run.add_argument("-q", "--quiet", action="store_true", help="print only the summary")
    sub.add_parser("releases", help="list the fee-schedule releases that would be used")
    return parser


def _inputs(args: argparse.Namespace) -> list[Path]:
    from pipeline.extract.releases import bundled_path

    paths: list[Path] = [bundled_path(BUNDLED_SAMPLE)] if args.sample else []
    for p in args.inputs:
        if p.is_dir():
            found = sorted(
                f for f in p.iterdir() if f.name.lower().endswith((".csv", ".csv.gz", ".parquet"))
            )
            if not found:
                raise PipelineError(f"no .csv, .csv.gz or .parquet files in folder {p}")
            paths += found
        elif not p.exists():
            raise PipelineError(
                f"{p}: no such file or folder; check the path (batches are .csv, .csv.gz or "
                ".parquet files, or folders of them)"
            )
        else:
            paths.append(p)
    if not paths:
        raise PipelineError("no input given; pass batch files or folders, or --sample")
    return paths


def _unique_names(paths: list[Path]) -> list[tuple[Path, str]]:
    """Give each batch its own report folder: a repeated name gets -2, -3, ..."""
    from pipeline.extract.batch_files import batch_name

    seen: dict[str, int] = {"history": 1, "failed": 1}  # history store, failed batches
    out = []
    for path in paths:
        name = batch_name(path)
        key = name.lower()  # B1/ and b1/ are one folder on some file systems
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            new = f"{name}-{seen[key]}"
            print(
                f"claims-scrub: {path}: another input is also named {name!r}; its report "
                f"goes to {new}/",
                file=sys.stderr,
            )
            name = new
        out.append((path, name))
    return out


def _check_locality(value: str | None, ref) -> str | None:
    """Validate --default-locality against the loaded GPCI files."""
    if value is None:
        return None
    known = {k for r in ref.releases for k in r.gpci["locality_key"]}
    if value not in known:
        example = ", ".join(sorted(known)[:3])
        raise PipelineError(
            f"--default-locality {value!r} is not a carrier-locality in the loaded GPCI files; "
            f"use CCCCC-LL as listed there (e.g. {example}, 04412-18)"
        )
    return value


def _money(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def run(args: argparse.Namespace) -> int:
    from pipeline.config import PipelineConfig, parse_share
    from pipeline.extract.releases import load_reference_data
    from pipeline.report.storage import Destination
    from pipeline.run import new_run_id, scrub_file

    started = time.perf_counter()
    say = (
        (lambda _m: None)
        if args.quiet
        else (lambda m: print(f"  [{time.perf_counter() - started:6.1f}s] {m}", file=sys.stderr))
    )
    paths = _inputs(args)
    config = PipelineConfig.from_env()
    if args.max_reject_share is not None:
        share = parse_share(args.max_reject_share, "--max-reject-share")
        config = dataclasses.replace(config, max_reject_share=share)
    say("loading fee-schedule releases")
    ref = load_reference_data(tuple(args.release))
    for refused in ref.refused:
        print(
            f"claims-scrub: release {refused['source']} refused and not used: "
            f"{refused['reason']}; the loaded releases stay in force",
            file=sys.stderr,
        )
    say("loaded " + ", ".join(f"{r['release']} ({r['in_force_from']})" for r in ref.describe()))
    default_locality = _check_locality(args.default_locality, ref)
    run_id = args.run_id or new_run_id()
    out = Destination(str(args.out))
    failures = 0
    for path, name in _unique_names(paths):
        try:
            result = scrub_file(
                path,
                ref,
                config,
                out,
                default_locality=default_locality,
                run_id=run_id,
                progress=say,
                name=name,
                use_history=not args.no_history,
            )
        except PipelineError as exc:
            failures += 1
            print(f"claims-scrub: {exc}", file=sys.stderr)
            continue
        except Exception as exc:  # an unexpected failure must not stop the other batches
            if os.environ.get("CLAIMS_PIPELINE_DEBUG"):
                raise
            failures += 1
            logger.debug("unexpected error", exc_info=True)
            print(
                f"claims-scrub: {path}: internal error ({type(exc).__name__}: {exc}); the "
                "other batches go on. Rerun with CLAIMS_PIPELINE_DEBUG=1 for the traceback "
                "and report it.",
                file=sys.stderr,
            )
            continue
        s = result.summary
        status = s["line_status"]
        print(
            f"{s['batch']}: {s['lines_read']:,} lines read, {status['priced']:,} priced, "
            f"{status['not_payable']:,} not payable, {status['rejected']:,} rejected, "
            f"{s['lines_read'] - status['priced'] - status['not_payable'] - status['rejected']:,}"
            f" not priced (see line_status), {s['lines_flagged']:,} flagged; "
            f"expected allowed {_money(s['totals']['expected_allowed_cents'])}, "
            f"dollars at risk {_money(s['totals']['dollars_at_risk_cents'])}\n"
            f"  report: {out.uri(s['batch'])}/ (lines.csv, claims.csv, rejects.csv, "
            "validation.html, summary.json)"
        )
    if failures:
        print(
            f"claims-scrub: {failures} of {len(paths)} batches could not be scrubbed; see the "
            "messages above",
            file=sys.stderr,
        )
    return 1 if failures else 0


def releases(_args: argparse.Namespace) -> int:
    from pipeline.extract.releases import bundled_reference_data

    for r in bundled_reference_data().describe():
        print(
            f"{r['release']}: {r['in_force_from']} to {r['in_force_until']}, "
            f"CF {r['conversion_factor']}, {r['rvu_rows']} RVU rows, GPCIs from {r['gpci_source']}"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(logging.WARNING)
    try:
        return {"run": run, "releases": releases}[args.command](args)
    except PipelineError as exc:
        print(f"claims-scrub: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
