"""Load Medicare NCCI reference tables (PTP edits, MUEs, add-on codes) and find PTP edits in force.

Every loader reads both the layout CMS publishes and the compact derived files bundled in
``pipeline/reference_data/ncci`` (see the PROVENANCE.md there). Columns are found by header
name, never by position, and a bad row stops the load with an error naming the file, the line
and the value.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.errors import ReferenceFileError
from pipeline.extract.cms_files import SourceFile, find_column
from pipeline.extract.releases import bundled_path

logger = logging.getLogger(__name__)

BUNDLED_NAME = "2024Q2"
BUNDLED_EFFECTIVE = date(2024, 4, 1)
BUNDLED_PTP = "ncci/ptp_practitioner_2024Q2.parquet"
BUNDLED_MUE = "ncci/MUE_practitioner_2024-04-01_from_northstar.csv.gz"
BUNDLED_AOC = "ncci/AOC_addon_primary_pairs_2024Q2_from_northstar.csv.gz"

PTP_SCHEMA = pa.schema(
    [
        ("column1", pa.string()),
        ("column2", pa.string()),
        ("effective_date", pa.date32()),
        ("deletion_date", pa.date32()),
        ("modifier_indicator", pa.int8()),
        ("rationale", pa.dictionary(pa.int8(), pa.string())),
    ]
)
PTP_COLUMNS = tuple(PTP_SCHEMA.names)
MODIFIER_INDICATORS = (0, 1, 9)
MUE_ADJUDICATION_INDICATORS = (1, 2, 3)
AOC_EDIT_TYPES = (1, 2, 3)

_CODE = r"[A-Z0-9]{5}"
_FIX = "correct the file or download it again from CMS"
_MAX_HEADER_LINES = 50
_NEVER = np.datetime64("9999-12-31", "s")  # stands for a null (`*`) deletion date

Source = SourceFile | Path | str


@dataclass(frozen=True)
class _Rows:
    """Where each row of a frame came from, for error messages ("line 19", "row 7")."""

    unit: str
    numbers: np.ndarray

    def at(self, position: int) -> str:
        return f"{self.unit} {self.numbers[position]}"


@dataclass(frozen=True)
class NcciRelease:
    """One quarterly NCCI release: practitioner PTP edits, practitioner MUEs and add-on codes."""

    name: str
    effective: date
    ptp: pd.DataFrame = field(repr=False)
    mue: pd.DataFrame = field(repr=False)
    aoc: pd.DataFrame = field(repr=False)
    source: str

    def ptp_in_force(self, on: date) -> pd.DataFrame:
        """The PTP edits in force on a date; undated rows apply from this release's start."""
        return ptp_pairs_in_force(self.ptp, on, release_start=self.effective)


def _as_source(source: Source) -> SourceFile:
    return source if isinstance(source, SourceFile) else SourceFile(Path(source))


def _header_text(cell: str) -> str:
    return re.sub(r"\s+", " ", cell.replace("\x1a", "")).strip().upper()


def _reject(
    bad: np.ndarray, rows: _Rows, where: str, problem: Callable[[int], str], expected: str
) -> None:
    """Raise for the first row flagged in `bad`; `problem` is formatted with that row's value."""
    if not bad.any():
        return
    first = int(np.flatnonzero(bad)[0])
    raise ReferenceFileError(
        f"{rows.at(first)}: {problem(first)}; expected {expected} ({int(bad.sum())} bad rows "
        f"in all); {_FIX}",
        source=where,
    )


def _check_codes(codes: pd.Series, rows: _Rows, where: str, what: str) -> None:
    bad = ~codes.str.fullmatch(_CODE).fillna(False).to_numpy(bool)
    _reject(bad, rows, where, lambda i: f"{what} {codes.iloc[i]!r}", "a 5-character HCPCS/CPT code")


def _parse_yyyymmdd(text: pd.Series, rows: _Rows, where: str, what: str) -> pd.Series:
    """Parse YYYYMMDD dates; `*` or blank is null. Each distinct value is parsed once."""
    codes, uniques = pd.factorize(text.str.strip(), use_na_sentinel=False)
    uniques = pd.Series(np.asarray(uniques, dtype=object), dtype="string")
    parsed = pd.to_datetime(
        uniques.where(uniques.str.fullmatch(r"\d{8}")), format="%Y%m%d", errors="coerce"
    )
    blank = uniques.isin(["", "*"]).to_numpy(bool)
    bad = (parsed.isna().to_numpy(bool) & ~blank)[codes]
    _reject(bad, rows, where, lambda i: f"{what} {text.iloc[i]!r}", "a date as YYYYMMDD or *")
    values = parsed.to_numpy("datetime64[s]")[codes]
    return pd.Series(values, index=text.index, dtype="datetime64[s]")


def _parse_int(text: pd.Series, rows: _Rows, where: str, what: str, dtype: str) -> pd.Series:
    """Parse whole numbers, each distinct value once; a blank or non-number is an error."""
    codes, uniques = pd.factorize(text.str.strip(), use_na_sentinel=False)
    uniques = pd.Series(np.asarray(uniques, dtype=object), dtype="string")
    numeric = uniques.str.fullmatch(r"\d{1,9}").fillna(False).to_numpy(bool)
    numbers = uniques.where(numeric, "0").astype("int64").to_numpy()
    fits = numeric & (numbers <= np.iinfo(dtype).max)
    limit = f"a whole number up to {np.iinfo(dtype).max}"
    _reject(~fits[codes], rows, where, lambda i: f"{what} {text.iloc[i]!r}", limit)
    values = numbers[codes]
    return pd.Series(values, index=text.index).astype(dtype)


def _check_in(values: pd.Series, allowed: tuple[int, ...], rows: _Rows, where: str, what: str):
    bad = ~values.isin(allowed).to_numpy(bool)
    expected = ", ".join(str(v) for v in allowed)
    _reject(bad, rows, where, lambda i: f"{what} {values.iloc[i]}", f"one of {expected}")


# --- PTP edits ---------------------------------------------------------------------------------


def load_ptp(source: Source) -> pd.DataFrame:
    """Load practitioner or hospital PTP edits, one row per edit row of the file.

    Reads the bundled parquet, the CMS text layout (``ccipra-v322r0-f1.txt``: notice, title,
    wrapped header, tab-separated rows with effective dates) or the derived TSV layout (one
    header row, no effective date). Columns: column1, column2 (string), effective_date and
    deletion_date (datetime64[s]; null when the file has no effective date, or for a `*`
    deletion date, i.e. not deleted), modifier_indicator (int8: 0, 1 or 9), rationale
    (category).
    """
    src = _as_source(source)
    if src.name.lower().endswith(".parquet"):
        frame, rows = _read_ptp_parquet(src)
    else:
        frame, rows = _read_ptp_text(src)
    _check_ptp(frame, rows, str(src))
    logger.info(
        "read %d PTP edit rows from %s (%d not deleted)",
        len(frame),
        src.name,
        int(frame["deletion_date"].isna().sum()),
    )
    return frame


def _read_ptp_parquet(src: SourceFile) -> tuple[pd.DataFrame, _Rows]:
    where = str(src)
    if src.member is not None:
        raise ReferenceFileError("unzip the parquet file and pass its path", source=where)
    try:
        names = pq.read_schema(src.path).names
        missing = [c for c in PTP_COLUMNS if c not in names]
        if missing:
            raise ReferenceFileError(
                f"missing column(s) {', '.join(missing)}; the columns are {', '.join(names)}; "
                "rebuild the file with scripts/build_ncci_reference.py",
                source=where,
            )
        table = pq.read_table(src.path, columns=list(PTP_COLUMNS)).cast(PTP_SCHEMA)
    except (OSError, pa.ArrowException) as exc:
        raise ReferenceFileError(f"cannot read the PTP parquet file: {exc}", source=where) from exc

    frame = table.to_pandas(date_as_object=False)
    frame = frame.astype(
        {
            "column1": "string",
            "column2": "string",
            "effective_date": "datetime64[s]",
            "deletion_date": "datetime64[s]",
        }
    )
    return frame, _Rows("row", np.arange(1, len(frame) + 1))


def _read_ptp_header(buf: io.StringIO, where: str) -> tuple[list[str], int]:
    """Read up to the first data row; return the column names and that row's line number.

    The header row starts with "Column 1"; CMS wraps it over the following lines, whose
    first cell is blank. Lines above it (copyright notice, title) are skipped.
    """
    parts: list[list[str]] | None = None
    for number in range(1, _MAX_HEADER_LINES + 1):
        at = buf.tell()
        cells = buf.readline().rstrip("\r\n").split("\t")
        if parts is None:
            if re.fullmatch(r"COLUMN ?1", _header_text(cells[0])):
                parts = [[cell] for cell in cells]
            continue
        if _header_text(cells[0]) or not any(c.strip() for c in cells):
            buf.seek(at)
            names = [_header_text(" ".join(p)) or f"UNNAMED {i}" for i, p in enumerate(parts)]
            return names, number
        for part, cell in zip(parts, cells, strict=False):
            part.append(cell)
    raise ReferenceFileError(
        f"no header row starting with 'Column 1' in the first {_MAX_HEADER_LINES} lines; "
        "pass a tab-separated CMS PTP edit file (ccipra-*.txt) or the bundled parquet",
        source=where,
    )


def _read_ptp_text(src: SourceFile) -> tuple[pd.DataFrame, _Rows]:
    where = str(src)
    buf = io.StringIO(src.read_text().replace("\x1a", ""))
    names, first_line = _read_ptp_header(buf, where)
    try:
        raw = pd.read_csv(
            buf,
            sep="\t",
            header=None,
            names=names,
            dtype="string",
            na_filter=False,
            quoting=csv.QUOTE_NONE,
            skip_blank_lines=False,
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise ReferenceFileError(
            f"cannot read the PTP rows below the header: {exc}; {_FIX}", source=where
        ) from exc

    filled = (raw != "").any(axis=1).to_numpy(bool)
    raw = raw[filled].reset_index(drop=True)
    rows = _Rows("line", np.flatnonzero(filled) + first_line)
    return _ptp_from_text(raw, rows, where), rows


def _ptp_from_text(raw: pd.DataFrame, rows: _Rows, where: str) -> pd.DataFrame:
    """Type the text cells of a PTP file, finding each column by its header."""
    col1 = find_column(raw, r"^COLUMN ?1$", source=where)
    col2 = find_column(raw, r"^COLUMN ?2$", source=where)
    effective = find_column(raw, r"^EFFECTIVE", source=where, required=False)
    deletion = find_column(raw, r"^DELETION", source=where)
    modifier = find_column(raw, r"^MODIFIER", source=where)
    rationale = find_column(raw, r"RATIONALE", source=where, required=False)

    no_date = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[s]")
    return pd.DataFrame(
        {
            "column1": raw[col1].str.strip(),
            "column2": raw[col2].str.strip(),
            "effective_date": (
                _parse_yyyymmdd(raw[effective], rows, where, "effective date")
                if effective
                else no_date
            ),
            "deletion_date": _parse_yyyymmdd(raw[deletion], rows, where, "deletion date"),
            "modifier_indicator": _parse_int(
                raw[modifier], rows, where, "modifier indicator", "int8"
            ),
            "rationale": (
                raw[rationale].str.strip() if rationale else pd.Series(pd.NA, index=raw.index)
            ).astype("category"),
        }
    )


def _check_ptp(frame: pd.DataFrame, rows: _Rows, where: str) -> None:
    """Codes of 5 characters, modifier indicator 0/1/9, effective date not after deletion.

    Only indicator 9 rows ("not applicable") may have the same effective and deletion date.
    """
    _check_codes(frame["column1"], rows, where, "column 1 code")
    _check_codes(frame["column2"], rows, where, "column 2 code")
    modifier = frame["modifier_indicator"]
    _check_in(modifier, MODIFIER_INDICATORS, rows, where, "modifier indicator")

    effective = frame["effective_date"].to_numpy("datetime64[s]")
    deletion = frame["deletion_date"].to_numpy("datetime64[s]")
    dated = ~np.isnat(effective) & ~np.isnat(deletion)
    after = dated & (effective > deletion)
    same = dated & (effective == deletion) & (modifier.to_numpy() != 9)

    def dates(i: int) -> str:
        return f"effective date {effective[i]!s:.10} and deletion date {deletion[i]!s:.10}"

    _reject(after, rows, where, dates, "an effective date on or before the deletion date")
    _reject(
        same,
        rows,
        where,
        lambda i: dates(i) + f" with modifier indicator {modifier.iloc[i]}",
        "a deletion date after the effective date (only indicator 9 rows may have both equal)",
    )


def _date32(values: pd.Series) -> pa.Array:
    return pa.array(values.to_numpy("datetime64[D]"), pa.date32(), from_pandas=True)


def ptp_to_arrow(ptp: pd.DataFrame) -> pa.Table:
    """The PTP frame as an Arrow table in the bundled parquet's schema (dates as date32)."""
    return pa.table(
        {
            "column1": pa.array(ptp["column1"], pa.string()),
            "column2": pa.array(ptp["column2"], pa.string()),
            "effective_date": _date32(ptp["effective_date"]),
            "deletion_date": _date32(ptp["deletion_date"]),
            "modifier_indicator": pa.array(ptp["modifier_indicator"], pa.int8()),
            "rationale": pa.array(ptp["rationale"].astype("category")),
        }
    ).cast(PTP_SCHEMA)


def ptp_pairs_in_force(ptp: pd.DataFrame, on: date, *, release_start: date) -> pd.DataFrame:
    """The PTP rows in force on a date, one per (column1, column2) pair.

    A row is in force from its effective date (a null effective date counts as
    `release_start`, the start of the release the row came from) through its deletion date
    inclusive (null: not deleted). When several rows of a pair are in force, the one with the
    latest effective date wins, then the latest deletion date (null is latest), then the later
    row of the frame. Indicator 9 rows are returned like any other (the edit does not apply).
    """
    day = np.datetime64(on, "s")
    start = ptp["effective_date"].to_numpy("datetime64[s]")
    start = np.where(np.isnat(start), np.datetime64(release_start, "s"), start)
    end = ptp["deletion_date"].to_numpy("datetime64[s]")
    end = np.where(np.isnat(end), _NEVER, end)
    in_force = (start <= day) & (day <= end)
    found = ptp[in_force]

    repeated = found.duplicated(["column1", "column2"], keep=False).to_numpy(bool)
    if not repeated.any():
        return found.reset_index(drop=True)

    rank = pd.DataFrame(
        {
            "column1": found["column1"].to_numpy()[repeated],
            "column2": found["column2"].to_numpy()[repeated],
            "start": start[in_force][repeated],
            "end": end[in_force][repeated],
            "position": np.flatnonzero(repeated),
        }
    ).sort_values(["column1", "column2", "start", "end", "position"])
    losers = rank["position"][rank.duplicated(["column1", "column2"], keep="last")]
    keep = np.ones(len(found), dtype=bool)
    keep[losers.to_numpy()] = False
    return found[keep].reset_index(drop=True)


# --- CSV tables (MUE, AOC) ---------------------------------------------------------------------


def _read_csv_table(src: SourceFile, first_column: str, what: str) -> tuple[pd.DataFrame, _Rows]:
    """Read a CSV whose header row starts with a cell matching `first_column` (a regex on the
    upper-cased, whitespace-collapsed text); rows above it (notices) are skipped."""
    where = str(src)
    reader = csv.reader(io.StringIO(src.read_text().replace("\x1a", "")))
    names: list[str] | None = None
    body: list[list[str]] = []
    lines: list[int] = []
    try:
        for record in reader:
            if names is None:
                if record and re.fullmatch(first_column, _header_text(record[0])):
                    names = [_header_text(c) or f"UNNAMED {i}" for i, c in enumerate(record)]
            elif any(cell.strip() for cell in record):
                body.append([c.strip() for c in record])
                lines.append(reader.line_num)
    except csv.Error as exc:
        raise ReferenceFileError(f"line {reader.line_num}: {exc}; {_FIX}", source=where) from exc
    if names is None:
        raise ReferenceFileError(
            f"no header row whose first cell matches /{first_column}/; is this a CMS {what} file?",
            source=where,
        )

    long = [i for i, r in enumerate(body) if len(r) > len(names) and any(r[len(names) :])]
    if long:
        raise ReferenceFileError(
            f"line {lines[long[0]]}: more cells than the {len(names)} header columns; {_FIX}",
            source=where,
        )
    cells = [r[: len(names)] + [""] * (len(names) - len(r)) for r in body]
    frame = pd.DataFrame(cells, columns=names, dtype="string")
    return frame, _Rows("line", np.asarray(lines))


def load_mue(source: Source) -> pd.DataFrame:
    """Load an MUE table (practitioner, outpatient hospital or DME supplier).

    Reads the CMS CSV (copyright notice, wrapped "HCPCS/ CPT Code" header) and the bundled
    derived CSVs. Columns: hcpcs (string), mue_value (int64), mai (int8 1/2/3), mai_text
    (e.g. "Date of Service Edit: Clinical"), rationale (string). See `mue_effective_date`.
    """
    src = _as_source(source)
    where = str(src)
    raw, rows = _read_csv_table(src, r"HCPCS ?/ ?CPT CODE", "MUE")
    hcpcs = find_column(raw, r"^HCPCS", source=where)
    value = find_column(raw, r"MUE VALUES?$", source=where)
    mai = find_column(raw, r"ADJUDICATION INDICATOR", source=where)
    rationale = find_column(raw, r"RATIONALE", source=where)

    parts = raw[mai].str.extract(r"^(\d)\b\s*(.*)$")
    frame = pd.DataFrame(
        {
            "hcpcs": raw[hcpcs],
            "mue_value": _parse_int(raw[value], rows, where, "MUE value", "int64"),
            "mai": _parse_int(parts[0].fillna(raw[mai]), rows, where, "MAI", "int8"),
            "mai_text": parts[1].fillna(""),
            "rationale": raw[rationale],
        }
    )
    _check_codes(frame["hcpcs"], rows, where, "HCPCS code")
    _check_in(frame["mai"], MUE_ADJUDICATION_INDICATORS, rows, where, "MUE adjudication indicator")
    twice = frame["hcpcs"].duplicated().to_numpy(bool)
    _reject(
        twice,
        rows,
        where,
        lambda i: f"HCPCS code {frame['hcpcs'].iloc[i]!r} repeated",
        "one row per code",
    )
    logger.info("read %d MUE rows from %s", len(frame), src.name)
    return frame


def mue_effective_date(source: Source) -> date:
    """The effective date in an MUE file's name: ``..._Eff_07-01-2026.csv`` (CMS) or
    ``..._2024-04-01_...csv`` (bundled)."""
    src = _as_source(source)
    if found := re.search(r"EFF_(\d{2})-(\d{2})-(\d{4})", src.name, re.IGNORECASE):
        month, day, year = (int(g) for g in found.groups())
    elif found := re.search(r"(\d{4})-(\d{2})-(\d{2})", src.name):
        year, month, day = (int(g) for g in found.groups())
    else:
        raise ReferenceFileError(
            "no effective date in the file name; keep the CMS name (e.g. "
            "MCR_MUE_PractitionerServices_Eff_07-01-2026.csv)",
            source=str(src),
        )
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise ReferenceFileError(f"bad date in the file name: {exc}", source=str(src)) from exc


def load_aoc(source: Source) -> pd.DataFrame:
    """Load add-on code edits: one row per add-on and primary code.

    Columns: addon, primary (string; ``CCCCC`` means the contractor defines the primaries),
    edit_type (int8 1/2/3), effective_year (int16), deletion_year and addon_deletion_year
    (nullable Int16), notes (string).
    """
    src = _as_source(source)
    where = str(src)
    raw, rows = _read_csv_table(src, r"ADD-?ON CODE", "add-on code (AOC)")
    addon = find_column(raw, r"^ADD-?ON CODE$", source=where)
    primary = find_column(raw, r"^PRIMARY CODE$", source=where)
    edit_type = find_column(raw, r"EDIT TYPE$", source=where)
    effective = find_column(raw, r"^AOC EDIT EFFECTIVE", source=where)
    deletion = find_column(raw, r"^AOC EDIT DELETION", source=where)
    addon_deletion = find_column(raw, r"^ADD-?ON CODE DELETION", source=where)
    notes = find_column(raw, r"NOTES", source=where)

    frame = pd.DataFrame(
        {
            "addon": raw[addon],
            "primary": raw[primary],
            "edit_type": _parse_int(raw[edit_type], rows, where, "AOC edit type", "int8"),
            "effective_year": _parse_year(raw[effective], rows, where, "effective year", False),
            "deletion_year": _parse_year(raw[deletion], rows, where, "deletion year", True),
            "addon_deletion_year": _parse_year(
                raw[addon_deletion], rows, where, "add-on code deletion year", True
            ),
            "notes": raw[notes],
        }
    )
    _check_aoc(frame, rows, where)
    logger.info("read %d add-on code rows from %s", len(frame), src.name)
    return frame


def _parse_year(text: pd.Series, rows: _Rows, where: str, what: str, blank_ok: bool) -> pd.Series:
    blank = (text == "").to_numpy(bool)
    bad = ~text.str.fullmatch(r"\d{4}").to_numpy(bool) & ~(blank & blank_ok)
    _reject(bad, rows, where, lambda i: f"{what} {text.iloc[i]!r}", "a 4-digit year")
    return text.replace("", pd.NA).astype("Int16" if blank_ok else "int16")


def _check_aoc(frame: pd.DataFrame, rows: _Rows, where: str) -> None:
    _check_codes(frame["addon"], rows, where, "add-on code")
    _check_codes(frame["primary"], rows, where, "primary code")
    _check_in(frame["edit_type"], AOC_EDIT_TYPES, rows, where, "AOC edit type")
    early = (frame["deletion_year"] < frame["effective_year"]).fillna(False).to_numpy(bool)
    _reject(
        early,
        rows,
        where,
        lambda i: f"deletion year {frame['deletion_year'].iloc[i]} before effective year "
        f"{frame['effective_year'].iloc[i]}",
        "a deletion year on or after the effective year",
    )


# --- bundled release ---------------------------------------------------------------------------


@lru_cache(maxsize=1)
def bundled_ncci() -> NcciRelease:
    """The bundled NCCI 2024Q2 release (effective 2024-04-01), loaded once per process."""
    release = NcciRelease(
        name=BUNDLED_NAME,
        effective=BUNDLED_EFFECTIVE,
        ptp=load_ptp(bundled_path(BUNDLED_PTP)),
        mue=load_mue(bundled_path(BUNDLED_MUE)),
        aoc=load_aoc(bundled_path(BUNDLED_AOC)),
        source=str(bundled_path("ncci")),
    )
    logger.info(
        "loaded NCCI %s (in force from %s): %d PTP rows, %d MUEs, %d add-on rows",
        release.name,
        release.effective,
        len(release.ptp),
        len(release.mue),
        len(release.aoc),
    )
    return release
