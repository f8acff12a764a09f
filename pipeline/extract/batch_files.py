"""Read claim batch files (CSV, gzipped CSV, Parquet) into all-text frames, losing no row.

Rows a CSV parser cannot split into the header's columns are kept as placeholders with an
`INPUT_MALFORMED_ROW` problem, so every input line still reaches the line report.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from pipeline.errors import ClaimBatchError

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("claim_id", "claim_line_number", "claim_line_start_date", "hcpcs_code")
SCHEMA_DOC = "docs/claim-line-schema.md"
ENCODINGS = ("utf-8", "cp1252", "latin-1")
ROW_COLUMN = "_claims_scrub_input_row"
MALFORMED_COLUMN = "_claims_scrub_malformed"


@dataclass
class BatchFile:
    """A batch as text columns, plus what reading it found."""

    frame: pd.DataFrame
    encoding: str = "utf-8"
    malformed_rows: int = 0
    renamed_columns: dict[str, str] = field(default_factory=dict)
    findings: pd.DataFrame | None = None  # X12: implementation-guide findings by segment
    details: dict = field(default_factory=dict)  # X12: interchanges, claims, versions


def batch_name(path: Path) -> str:
    """The report folder name of a batch: its file name without .csv, .csv.gz, .parquet."""
    name = Path(path).name
    return re.sub(
        r"(\.csv|\.txt|\.837|\.835|\.x12|\.edi)?(\.gz)?$|\.parquet$", "", name, flags=re.IGNORECASE
    )


def read_batch_file(path: Path) -> BatchFile:
    """Read one batch; raise ClaimBatchError (naming the file) if it cannot be read at all."""
    path = Path(path)
    if not path.exists():
        raise ClaimBatchError("file not found; check the path", source=str(path))
    if path.is_dir():
        raise ClaimBatchError("is a folder; pass files, or the folder alone", source=str(path))
    from pipeline.extract.x12_envelope import is_x12

    if is_x12(path):
        from pipeline.extract.x12_837p import read_837p_batch

        return read_837p_batch(path)
    lower = path.name.lower()
    try:
        if lower.endswith(".parquet"):
            batch = BatchFile(_read_parquet(path))
        elif lower.endswith((".csv", ".csv.gz", ".txt", ".txt.gz")):
            batch = _read_csv(path)
        else:
            raise ClaimBatchError(
                "unknown batch format; expected .csv, .csv.gz or .parquet", source=str(path)
            )
    except ClaimBatchError:
        raise
    except (OSError, EOFError, zlib.error, pa.ArrowException, ValueError, csv.Error) as exc:
        raise ClaimBatchError(
            f"cannot read the batch ({type(exc).__name__}: {str(exc)[:200]}); check that the "
            "file is complete and is CSV or Parquet",
            source=str(path),
        ) from exc
    _check_columns(batch, path)
    return batch


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _header(raw: bytes, encoding: str) -> list[str]:
    text = raw.decode(encoding)
    text = text.removeprefix("\ufeff")
    first = next(csv.reader(io.StringIO(text)), [])
    return [c.strip() for c in first]


def _read_csv(path: Path) -> BatchFile:
    data, encoding = _utf8_bytes(path)
    header = _header(data[: 1 << 16], "utf-8")
    names = _unique_names(header)
    frame, bad = _arrow_rows(data, names)
    if _swallowed_lines(data, frame, bad, len(names)):
        logger.warning(
            "%s: a quote is opened and never closed, so whole lines were read as one value; "
            "reading the file line by line instead (fix the quote in the source file)",
            path.name,
        )
        frame, bad = _read_line_by_line(data, names)
    elif extra := _common_extra_fields(bad, len(names), len(frame) + len(bad)):
        frame, bad = _read_with_extra_fields(data, names, extra)
    frame = _with_malformed(frame, bad, names)
    renamed = {h: n for h, n in zip(header, names, strict=True) if h != n}
    malformed = int((frame[MALFORMED_COLUMN] != "").sum())
    return BatchFile(frame, encoding, malformed, renamed)


def _utf8_bytes(path: Path) -> tuple[bytes, str]:
    """The file's bytes (gunzipped) as UTF-8 with LF line ends, and the encoding it had."""
    data = path.read_bytes()
    if _is_gzip(path):
        data = gzip.decompress(data)
    if not data.strip():
        raise ClaimBatchError(
            "the file is empty; expected a header row and claim lines", source=str(path)
        )
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        encoding = "utf-16"  # Excel's "Unicode text"
    elif bomless := _utf16_without_bom(data):
        encoding = bomless
    else:
        encoding = next(e for e in ENCODINGS if _decodes(data, e))
    if encoding != "utf-8":
        logger.warning("%s is not UTF-8; reading it as %s", path.name, encoding)
        data = data.decode(encoding).encode("utf-8")
    return _unix_newlines(data.removeprefix(b"\xef\xbb\xbf")), encoding


def _arrow_rows(data: bytes, names: list[str]) -> tuple[pd.DataFrame, list]:
    """The rows that split into `names` as text columns, and (line, fields, text) of the rest."""
    bad: list[tuple[int, int, str]] = []

    def on_bad_row(row) -> str:
        bad.append((row.number or -1, row.actual_columns, row.text or ""))
        return "skip"

    block = min(max(len(data) + 1, 1 << 20), 1 << 30)  # one long quoted note must fit a block
    table = pcsv.read_csv(
        io.BytesIO(data),
        read_options=pcsv.ReadOptions(
            column_names=names, skip_rows=1, use_threads=False, block_size=block
        ),
        parse_options=pcsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_bad_row),
        convert_options=pcsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    return table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get), bad


def _common_extra_fields(bad: list, width: int, records: int) -> int:
    """How many fields past the header most rows have (Excel's trailing comma), else 0.

    Rows the reader refuses are handled one by one in Python; when most rows carry the same
    extra fields, reading the file again with that many more columns is much faster.
    """
    counts = pd.Series([count for _, count, _ in bad if count > width], dtype="int64")
    if counts.empty:
        return 0
    common = int(counts.mode().iloc[0])
    return common - width if (counts == common).sum() * 2 > records else 0


def _read_with_extra_fields(data: bytes, names: list[str], extra: int) -> tuple[pd.DataFrame, list]:
    """Read with `extra` more columns; rows whose extra fields are not all blank are
    malformed, the extra columns are dropped. Rows of the header's width come back as
    refused rows, which _with_malformed keeps as they are."""
    padded = names + [f"_claims_scrub_extra_{i}" for i in range(1, extra + 1)]
    frame, bad = _arrow_rows(data, padded)
    tail = frame[padded[len(names) :]]
    filled = tail.apply(lambda col: col.str.strip() != "").any(axis=1).to_numpy(bool)
    problem = f"row has {len(padded)} fields where the header has {len(names)}"
    frame = frame[names].assign(**{MALFORMED_COLUMN: np.where(filled, problem, "")})
    return frame, bad


def _utf16_without_bom(data: bytes) -> str | None:
    """ "utf-16-le" or "utf-16-be" when the text is UTF-16 without a byte-order mark, else None.

    ASCII text in UTF-16 has a NUL byte beside every character: at odd offsets in
    little-endian, at even ones in big-endian. Text in any 8-bit encoding has hardly any NUL.
    """
    sample = data[: min(len(data), 4096) // 2 * 2]
    if len(sample) < 8:
        return None
    half = len(sample) // 2
    even, odd = sample[0::2].count(0) / half, sample[1::2].count(0) / half
    if odd > 0.9 and even < 0.1:
        return "utf-16-le"
    if even > 0.9 and odd < 0.1:
        return "utf-16-be"
    return None


def _unix_newlines(data: bytes) -> bytes:
    """A file whose lines end in CR alone (Excel for Mac's "CSV (Macintosh)") with LF endings.

    Only when no LF occurs at all: in a CRLF file a lone CR inside a quoted value is data.
    """
    if b"\r" in data and b"\n" not in data:
        return data.replace(b"\r", b"\n")
    return data


def _swallowed_lines(data: bytes, frame: pd.DataFrame, bad: list, width: int) -> bool:
    """Whether a value spans lines that look like whole claim rows (an unclosed quote).

    Quoted values may legitimately hold line breaks (a note); a line inside one that holds
    as many commas as a row of the file does is taken as a row swallowed by a stray quote.
    """
    body = data.rstrip(b"\r\n")
    if body.count(b"\n") <= len(frame) + len(bad):  # header + one line per record
        return False
    row_like = re.compile(r"\n[^\n]*" + r",[^\n]*" * max(width - 1, 1))
    texts = [text for _, _, text in bad]
    for col in frame.columns:
        values = frame[col]
        multi = values[values.str.contains("\n", regex=False).fillna(False)]
        texts.extend(multi.head(100).tolist())
    return any(row_like.search(t) for t in texts)


def _read_line_by_line(data: bytes, names: list[str]) -> tuple[pd.DataFrame, list]:
    """Every non-blank line is one record; a line with an unclosed quote is malformed."""
    lines = data.decode("utf-8").splitlines()[1:]
    good, bad = [], []
    records = [line for line in lines if line.strip()]  # blank lines are no records
    for record, line in enumerate(records, start=1):
        fields = next(csv.reader([line]), [])
        if line.count('"') % 2 or len(fields) != len(names):
            bad.append((record + 1, len(fields), line))  # numbered as the CSV reader does
        else:
            good.append(fields)
    frame = pd.DataFrame(good, columns=names, dtype="string")
    if not good:
        frame = frame.astype({c: pd.StringDtype("pyarrow") for c in names})
    return frame.astype(pd.StringDtype("pyarrow")), bad


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
        return True
    except UnicodeDecodeError:
        return False


def _unique_names(header: list[str]) -> list[str]:
    """Lower-cased names; a repeated name gets a numeric suffix (member_id, member_id_2)."""
    seen: dict[str, int] = {}
    out = []
    for raw in header:
        name = re.sub(r"\s+", "_", raw.strip().lower()) or "unnamed"
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out


def _with_malformed(
    frame: pd.DataFrame, bad: list[tuple[int, int, str]], names: list[str]
) -> pd.DataFrame:
    """Number the rows in file order and keep each malformed row where it was.

    A malformed row keeps the fields that could be split (the first ones, so its claim id and
    line number are usually there) and carries the problem in MALFORMED_COLUMN. The CSV reader
    reports its physical line; with the header on line 1 that is record line - 1, unless
    quoted values spanning lines came before it, in which case the rows go at the end.
    """
    total = len(frame) + len(bad)
    bad = sorted(bad)
    records = [number - 1 for number, _, _ in bad]
    if len(set(records)) != len(records) or any(not 1 <= r <= total for r in records):
        records = list(range(total - len(bad) + 1, total + 1))
    good = sorted(set(range(1, total + 1)) - set(records))
    problems = frame[MALFORMED_COLUMN].to_numpy(object) if MALFORMED_COLUMN in frame else ""
    frame = frame.drop(columns=MALFORMED_COLUMN, errors="ignore")
    frame = frame.assign(**{ROW_COLUMN: good, MALFORMED_COLUMN: problems})
    if not bad:
        return frame
    rows = []
    for (_, count, text), record in zip(bad, records, strict=True):
        fields = next(csv.reader(io.StringIO(text)), []) if text else []
        rows.append(
            dict(zip(names, (fields + [""] * len(names))[: len(names)], strict=True))
            | {ROW_COLUMN: record, MALFORMED_COLUMN: _row_problem(text, fields, count, names)}
        )
    filler = pd.DataFrame(rows).astype({c: frame[c].dtype for c in names})
    frame = pd.concat([frame, filler], ignore_index=True)
    return frame.sort_values(ROW_COLUMN, kind="stable").reset_index(drop=True)


def _row_problem(text: str, fields: list[str], count: int, names: list[str]) -> str:
    """Why a row the CSV reader refused cannot be used ("" when it can after all).

    Extra fields that are all blank (Excel's trailing comma on every row) are ignored.
    """
    if text.count('"') % 2:
        return "row has a quote that is never closed"
    extra = fields[len(names) :]
    if count == len(names) == len(fields):
        return ""  # read again with extra columns (_read_with_extra_fields): it fits the header
    if count > len(names) and len(fields) == count and not any(f.strip() for f in extra):
        return ""
    return f"row has {count} fields where the header has {len(names)}"


def _read_parquet(path: Path) -> pd.DataFrame:
    """Parquet columns of any type become text: 11.0 -> '11', dates -> 'YYYY-MM-DD'."""
    table = pq.read_table(path)
    names = _unique_names([str(n) for n in table.column_names])
    columns = {}
    for name, col in zip(names, table.columns, strict=True):
        columns[name] = _as_text(col.to_pandas())
    frame = pd.DataFrame(columns)
    frame[ROW_COLUMN] = range(1, len(frame) + 1)
    frame[MALFORMED_COLUMN] = ""
    return frame


def _as_text(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.strftime("%Y-%m-%d").fillna("").astype("string")
    if pd.api.types.is_float_dtype(values):
        # 15 significant digits undo binary noise (0.1 + 0.2 -> '0.3'); 22.0 -> '22'.
        return values.map(lambda v: "" if pd.isna(v) else f"{v:.15g}").astype("string")
    if pd.api.types.is_object_dtype(values) and len(values):
        sample = values.dropna().head(1).tolist()
        if sample and hasattr(sample[0], "isoformat"):
            return values.map(lambda v: "" if v is None else v.isoformat()[:10]).astype("string")
    return values.astype("string").fillna("")


def _separator(columns: list[str]) -> str:
    """How a header read as one column is separated, when it is ('tabs', "';'"), else ""."""
    if len(columns) != 1:
        return ""
    found = [
        name for char, name in (("\t", "tabs"), (";", "';'"), ("|", "'|'")) if char in columns[0]
    ]
    return found[0] if found else ""


def _check_columns(batch: BatchFile, path: Path) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in batch.frame.columns]
    if len(missing) == len(REQUIRED_COLUMNS):
        as_written = {name: header for header, name in batch.renamed_columns.items()}
        columns = [
            as_written.get(c, c) for c in batch.frame.columns if not c.startswith("_claims_scrub")
        ]
        separator = _separator(columns)
        hint = (
            f"its names are separated by {separator}, not commas: save the file as "
            "comma-separated CSV"
            if separator
            else "is the header row missing?"
        )
        raise ClaimBatchError(
            f"the first row names none of the required columns {list(REQUIRED_COLUMNS)}; "
            f"{hint} (the row is not shown: it may hold patient data)",
            source=str(path),
        )
    if missing:
        found = [c for c in batch.frame.columns if not c.startswith("_")][:12]
        raise ClaimBatchError(
            f"missing required column(s) {missing}; the claim-line schema is in {SCHEMA_DOC} "
            f"(found columns: {found})",
            source=str(path),
        )
    if batch.frame.empty:
        raise ClaimBatchError("the file has a header but no claim lines", source=str(path))
