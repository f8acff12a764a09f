"""Command line: `claims-scrub run INPUT... --out DIR`."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import time
from pathlib import Path

from pipeline.errors import PipelineError, StorageError, short_error

logger = logging.getLogger(__name__)

BUNDLED_SAMPLE = "samples/tuva_professional_2025.csv.gz"
BATCH_SUFFIXES = (".csv", ".csv.gz", ".parquet")
MISSING_HINT = (
    "batches are .csv, .csv.gz, .parquet or X12 837P files, remittances X12 835 files, or "
    "folders of them"
)
X12_SUFFIXES = tuple(s + gz for s in (".837", ".835", ".x12", ".edi") for gz in ("", ".gz"))


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
        help="claim batches (.csv, .csv.gz, .parquet, X12 837P) and X12 835 remittances; "
        "a folder's own files are scrubbed, not its subfolders' (those are named in a warning)",
    )
    run.add_argument(
        "--remits",
        action="append",
        type=Path,
        default=[],
        help="X12 835 remittance files or folders to match with the claims; repeatable",
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
    explain = sub.add_parser(
        "explain",
        help="one code: fee breakdown, NCCI edits, billing tips and denial patterns",
        description="Explain one code from the data the scrub uses (docs/explain.md).",
    )
    explain.add_argument("code", help="HCPCS/CPT code, e.g. 78597")
    explain.add_argument("--date", help="date of service, YYYY-MM-DD (default: newest release)")
    where = explain.add_mutually_exclusive_group()
    where.add_argument("--locality", metavar="CCCCC-LL", help="carrier and locality, e.g. 04412-18")
    where.add_argument("--zip", help="service ZIP code (default: national GPCIs 1.000)")
    explain.add_argument("--json", action="store_true", help="print JSON for tools")
    explain.add_argument(
        "--all-codes",
        action="store_true",
        help="list every NCCI partner code in text (default: the first 40 of each group)",
    )
    explain.add_argument(
        "--reports",
        metavar="OUT",
        help="report folder (or s3://...) of earlier runs, for denial patterns in its history",
    )
    explain.add_argument(
        "--release",
        action="append",
        type=Path,
        default=[],
        help="an extra CMS RVU release (RVUxxX.zip or its folder); repeatable",
    )
    day = sub.add_parser(
        "nightly",
        help="scrub a day's inbox in the object store as the Airflow DAG does, without Airflow",
    )
    day.add_argument("--date", required=True, help="run date YYYY-MM-DD (inbox/<date>/)")
    day.add_argument(
        "--store", help="s3://bucket[/prefix] or a folder (default CLAIMS_PIPELINE_STORE)"
    )
    day.add_argument(
        "--batch", default="", help="redo only this batch (file name without extension)"
    )
    day.add_argument(
        "--partition-lines", type=int, help="split batches above this many lines (1 or more)"
    )
    day.add_argument("--run-id", help="run identifier stamped on every output (default: time)")
    return parser


def _inputs(args: argparse.Namespace) -> list[Path]:
    from pipeline.extract.releases import bundled_path

    paths: list[Path] = [bundled_path(BUNDLED_SAMPLE)] if args.sample else []
    for p in args.inputs:
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if _is_input_name(f))
            skipped = _subfolders_with_inputs(p, getattr(args, "out", None))
            nested = ", ".join(map(str, skipped[:5])) + (", ..." if len(skipped) > 5 else "")
            if not found:
                raise PipelineError(
                    f"no .csv, .csv.gz, .parquet or X12 (.837, .835, .x12, .edi) files in "
                    f"folder {p}"
                    + (
                        f"; subfolders are not searched, and files are in {nested}: pass "
                        "those folders instead"
                        if skipped
                        else ""
                    )
                )
            if skipped:
                logger.warning(
                    "folder %s: subfolders are not searched, so the files in %s were skipped; "
                    "pass those folders as inputs too to scrub them",
                    p,
                    nested,
                )
            paths += found
        elif not p.exists():
            # One mistyped path must not stop the night's other batches.
            args.missing_inputs = [*getattr(args, "missing_inputs", []), p]
        else:
            paths.append(p)
    missing = getattr(args, "missing_inputs", [])
    if not paths and not getattr(args, "remits", []):
        if not missing:
            raise PipelineError("no input given; pass batch files or folders, or --sample")
        raise PipelineError(
            f"{', '.join(map(str, missing))}: no such file or folder; check the path "
            f"({MISSING_HINT}); "
            + ("it was the only input" if len(missing) == 1 else "none of the inputs exists")
            + ", so nothing was scrubbed"
        )
    for p in missing:
        print(
            f"claims-scrub: {p}: no such file or folder; check the path ({MISSING_HINT}); "
            "the other inputs go on",
            file=sys.stderr,
        )
    return paths


def _is_input_name(path: Path) -> bool:
    return path.name.lower().endswith(BATCH_SUFFIXES + X12_SUFFIXES)


def _subfolders_with_inputs(folder: Path, out: str | None, limit: int = 10_000) -> list[Path]:
    """Folders below `folder` holding files with batch or X12 names (--out and its reports
    excluded); at most `limit` folders are looked at, so a huge tree is not walked."""
    skip = Path(out).resolve() if out and "://" not in out else None
    held: list[Path] = []
    for seen, (root, dirs, files) in enumerate(os.walk(folder)):
        if seen >= limit:
            break
        here = Path(root)
        dirs[:] = sorted(d for d in dirs if skip is None or (here / d).resolve() != skip)
        if here != folder and any(_is_input_name(Path(f)) for f in files):
            held.append(here)
    return held


def _once(paths: list[Path]) -> list[Path]:
    """The inputs with each file once: a file given again (the same file by another path, or
    a copy with the same bytes) would be scrubbed twice into the history store."""
    kept: list[Path] = []
    seen: dict[Path, Path] = {}  # resolved path -> the input as given
    by_size: dict[int, list[Path]] = {}  # resolved paths kept, by size
    digests: dict[Path, str] = {}
    for path in paths:
        real = path.resolve()
        try:
            size = real.stat().st_size
        except OSError:  # unreadable: reading it later says why
            kept.append(path)
            continue
        if real in seen:
            first, why = seen[real], "is the same file as"
            if str(first) == str(path):
                why = "is given twice, as"
        else:
            twin = next(
                (q for q in by_size.get(size, []) if _digest(q, digests) == _digest(real, digests)),
                None,
            )
            first, why = (seen[twin] if twin else None), "has the same content as"
        if first is not None:
            print(
                f"claims-scrub: warning: {path} {why} {first}; it is scrubbed once", file=sys.stderr
            )
            continue
        seen[real] = path
        by_size.setdefault(size, []).append(real)
        kept.append(path)
    return kept


def _digest(path: Path, known: dict[Path, str]) -> str:
    """SHA-256 of a file's bytes (computed once per file)."""
    from pipeline.digest import file_sha256

    if path not in known:
        known[path] = file_sha256(path)
    return known[path]


def _remittances(paths: list[Path], extra: list[Path]) -> tuple[list[Path], list[Path]]:
    """Claim batches and 835 remittances: inputs split by content, plus the --remits files
    (every X12-named file and 835 of a --remits folder), all read as 835s."""
    from pipeline.extract.x12_envelope import X12_SUFFIXES, is_x12, transaction_kind

    def is_835(p: Path) -> bool:
        return is_x12(p) and transaction_kind(p) == "835"

    claims, remits = [], []
    for p in paths:
        (remits if is_835(p) else claims).append(p)
    for p in extra:
        if p.is_dir():
            # A file named as X12 that is not an 835 is read as one anyway, so it is refused
            # and quarantined with its reason rather than passed over in silence.
            found = sorted(
                f
                for f in p.iterdir()
                if f.is_file()
                and (f.name.lower().removesuffix(".gz").endswith(X12_SUFFIXES) or is_835(f))
            )
            if not found:
                raise PipelineError(f"--remits {p}: no X12 835 files in the folder")
            remits += found
        elif not p.exists():
            raise PipelineError(f"--remits {p}: no such file or folder; check the path")
        else:  # read as an 835 even if it is not one, so it is refused and quarantined
            remits.append(p)
    if not claims and not remits:
        raise PipelineError("no input given; pass batch files or folders, or --sample")
    return claims, remits


# The store's own folders, which no claim batch report may take (".staging": reports being
# written, pipeline.report.storage.Staging).
RESERVED = ("history", "quarantine", "failed", "remits", "runs", ".staging")


def _unique_names(paths: list[Path], reserved: tuple[str, ...] = ()) -> list[tuple[Path, str]]:
    """Give each batch its own report folder: a repeated name gets -2, -3, ..."""
    from pipeline.extract.batch_files import batch_name

    seen: dict[str, int] = dict.fromkeys(reserved, 1)
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


def _out_location(value: str) -> str:
    """--out as given, refusing a mistyped S3 address that would become a local folder."""
    if not value.strip():  # an empty folder name would put the report in the root folder
        raise PipelineError("--out is empty; give the report folder, e.g. --out reports")
    if value.lower().startswith("s3:") and not value.startswith("s3://"):
        raise PipelineError(
            f"--out {value!r}: an S3 location is written s3://bucket/prefix (two slashes)"
        )
    return value


def _money(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def run(args: argparse.Namespace) -> int:
    from pipeline.config import PipelineConfig, parse_share
    from pipeline.extract.releases import load_reference_data
    from pipeline.extract.x12_envelope import X12FileError
    from pipeline.report.storage import Destination
    from pipeline.run import new_run_id, scrub_file
    from pipeline.run_remits import REMITS_FOLDER, finish_remits, load_remits, quarantine

    started = time.perf_counter()
    say = (
        (lambda _m: None)
        if args.quiet
        else (lambda m: print(f"  [{time.perf_counter() - started:6.1f}s] {m}", file=sys.stderr))
    )
    paths = _once(_inputs(args))
    claim_paths, remit_paths = _remittances(paths, args.remits)
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
    out = Destination(_out_location(str(args.out)))
    missing = len(getattr(args, "missing_inputs", []))
    failures = missing
    # Claim batch reports go to OUT/<name>/, remittance reports to OUT/remits/<name>/.
    named = _unique_names(claim_paths, RESERVED) + _unique_names(remit_paths)
    remit_run = load_remits(named[len(claim_paths) :]) if remit_paths else None
    remits = remit_run.remits if remit_run else None
    for repeat in remit_run.repeats if remit_run else []:
        print(f"claims-scrub: warning: {repeat}", file=sys.stderr)
    for path, exc in remit_run.failed if remit_run else []:
        failures += 1
        print(f"claims-scrub: {exc}", file=sys.stderr)
        if isinstance(exc, X12FileError):
            where = quarantine(out, path, exc, run_id)
            print(f"  quarantined: {where} (the other files go on)", file=sys.stderr)
    for path, name in named[: len(claim_paths)]:
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
                remits=remits,
            )
        except StorageError:
            raise  # the output cannot be written: every other batch would fail the same way
        except PipelineError as exc:
            failures += 1
            print(f"claims-scrub: {exc}", file=sys.stderr)
            if isinstance(exc, X12FileError):
                where = quarantine(out, path, exc, run_id)
                print(f"  quarantined: {where} (the other files go on)", file=sys.stderr)
            continue
        except Exception as exc:  # an unexpected failure must not stop the other batches
            if os.environ.get("CLAIMS_PIPELINE_DEBUG"):
                raise
            failures += 1
            logger.debug("unexpected error", exc_info=True)
            told = "".join(f"; {note}" for note in getattr(exc, "__notes__", []))
            print(
                f"claims-scrub: {path}: internal error ({short_error(exc)}){told}; the "
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
            f"  report: {out.uri(s['batch'])}/ (start with work_queue.html; finance.html, "
            "run_health.html, lines.csv, claims.csv, rejects.csv, validation.html, summary.json)"
        )
        if "x12" in s:
            x12 = s["x12"]
            print(
                f"  X12 837P: {x12['claims']:,} claims, {x12['service_lines']:,} service lines, "
                f"{x12['findings'].get('warning', 0):,} implementation-guide warnings"
                + (f", {x12['findings']['error']:,} errors" if x12["findings"].get("error") else "")
                + " (x12_findings.csv)"
            )
        if "remittance" in s:
            print(f"  835: {s['remittance']['lines_matched']:,} lines matched to a remittance")
    if remit_run and not remit_run.remits.empty:
        for s in finish_remits(
            remit_run, out, config, run_id=run_id, use_history=not args.no_history
        ):
            matched = s["matched"]
            print(
                f"{s['remittance']}: 835 with {s['claim_payments']:,} claim payments, "
                f"{s['rows']:,} lines; matched {matched.get('this run', 0):,} in this run, "
                f"{matched.get('history', 0):,} in history, {matched.get('not matched', 0):,} "
                f"not matched; {s['lines_flagged']:,} flagged, dollars at risk "
                f"{_money(s['totals']['dollars_at_risk_cents'])}\n"
                f"  report: {out.uri(REMITS_FOLDER + '/' + s['remittance'])}/ (remit_lines.csv, "
                "flags.csv, summary.json)"
            )
            if s.get("service_lines_outside_claim_payments"):
                print(
                    f"claims-scrub: warning: {s['input']}: "
                    f"{s['service_lines_outside_claim_payments']:,} service payment(s) outside "
                    "any claim payment (a CLP is missing): not matched to claim lines; see the "
                    "errors in x12_findings.csv and ask the payer for a corrected 835",
                    file=sys.stderr,
                )
    if failures:
        print(
            f"claims-scrub: {failures} of {len(named) + missing} input files could not be read "
            "or failed "
            "validation; see the messages above",
            file=sys.stderr,
        )
    if ref.refused:
        print(
            f"claims-scrub: {len(ref.refused)} --release path(s) refused (see above); the "
            "batches were priced on the other loaded releases",
            file=sys.stderr,
        )
    return 1 if failures or ref.refused else 0


def releases(_args: argparse.Namespace) -> int:
    from pipeline.extract.releases import bundled_reference_data

    for r in bundled_reference_data().describe():
        print(
            f"{r['release']}: {r['in_force_from']} to {r['in_force_until']}, "
            f"CF {r['conversion_factor']}, {r['rvu_rows']} RVU rows, GPCIs from {r['gpci_source']}"
        )
    return 0


def explain(args: argparse.Namespace) -> int:
    import json

    from pipeline.explain.code import explain_code
    from pipeline.explain.text import render
    from pipeline.extract.releases import bundled_reference_data, load_reference_data
    from pipeline.report.storage import Destination

    ref = load_reference_data(tuple(args.release)) if args.release else bundled_reference_data()
    doc = explain_code(
        args.code,
        ref,
        dos=args.date,
        locality=args.locality,
        zip5=args.zip,
        reports=Destination(str(args.reports)) if args.reports else None,
    )
    text = json.dumps(doc, indent=2) if args.json else render(doc, all_codes=args.all_codes)
    print(text, end="\n" if args.json else "")
    return 0


def nightly(args: argparse.Namespace) -> int:
    from pipeline.errors import ConfigError
    from pipeline.orchestrate.layout import Layout
    from pipeline.orchestrate.nightly import inbox_files, run_day
    from pipeline.orchestrate.settings import Settings
    from pipeline.run import new_run_id

    if args.partition_lines is not None and args.partition_lines < 1:
        raise ConfigError(
            f"--partition-lines {args.partition_lines} is not a number of lines; give 1 or "
            "more (e.g. 500000), or leave it out to use CLAIMS_PIPELINE_PARTITION_LINES"
        )
    settings = Settings.from_env()
    layout = Layout.at(args.store or settings.store)
    inbox = layout.inbox(args.date)
    if not inbox_files(layout, args.date) and not args.batch:
        print(
            f"claims-scrub: warning: the inbox {inbox.uri('')} is empty: no claim files for "
            f"{args.date}, nothing was scrubbed; put the day's files there and run again",
            file=sys.stderr,
        )
        return 0
    result = run_day(
        layout,
        args.date,
        batch=args.batch,
        partition_lines=args.partition_lines or settings.partition_lines,
        run_id=args.run_id or new_run_id(),
    )
    print(
        f"{result['run_date']}: {result['batches']} batch(es) scrubbed, {result['lines']:,} "
        f"lines, dollars at risk {_money(result['dollars_at_risk_cents'])}; "
        + (
            f"reports in {layout.reports(result['run_date']).uri('')}"
            if result["batches"]
            else f"no new batch in {inbox.uri('')}"
        )
    )
    if result["failed"]:
        print(
            f"claims-scrub: no report for {', '.join(result['failed'])}; see the messages above "
            f"and {layout.root.uri('quarantine/claims/' + result['run_date'])}/",
            file=sys.stderr,
        )
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(logging.WARNING)
    try:
        commands = {"run": run, "releases": releases, "explain": explain, "nightly": nightly}
        return commands[args.command](args)
    except PipelineError as exc:
        print(f"claims-scrub: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like: nothing left to say
        # Point stdout at /dev/null so that flushing it at exit does not fail a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
