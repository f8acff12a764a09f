"""Load the national PFS relative value file (PPRRVU) into a typed table."""

from __future__ import annotations

import logging
import re
from datetime import date

import numpy as np
import pandas as pd

from pipeline.errors import ReferenceFileError
from pipeline.extract.cms_files import SourceFile, find_column, read_wrapped_csv
from pipeline.money import parse_scaled

logger = logging.getLogger(__name__)

MONTHS = {
    m: i
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1
    )
}
QUARTER_LETTERS = {1: "A", 4: "B", 7: "C", 10: "D"}

# Header patterns, matched against the joined wrapped header. Later years may add columns;
# they are ignored. Values are (pattern, kind) where kind is "text" or the decimal digits.
RVU_COLUMNS: dict[str, tuple[str, str | int]] = {
    "hcpcs": (r"^HCPCS$", "text"),
    "mod": (r"^MOD$", "text"),
    "status": (r"^STATUS CODE$", "text"),
    "work_rvu": (r"^WORK RVU$", 2),
    "nf_pe_rvu": (r"^NON-FAC(ILITY)? PE RVU$", 2),
    "nf_na": (r"^NON-FAC(ILITY)? NA INDICATOR$", "text"),
    "f_pe_rvu": (r"^FACILITY PE RVU$", 2),
    "f_na": (r"^FACILITY NA INDICATOR$", "text"),
    "mp_rvu": (r"^MP RVU$", 2),
    "nf_total": (r"^NON-FACILITY TOTAL$", 2),
    "f_total": (r"^FACILITY TOTAL$", 2),
    "pctc": (r"^PCTC IND$", "text"),
    "glob_days": (r"^GLOB DAYS$", "text"),
    "pre_op": (r"^PRE OP$", 2),
    "intra_op": (r"^INTRA OP$", 2),
    "post_op": (r"^POST OP$", 2),
    "mult_proc": (r"^MULT PROC$", "text"),
    "bilat": (r"^BILAT SURG$", "text"),
    "asst": (r"^ASST SURG$", "text"),
    "co_surg": (r"^CO- ?SURG$", "text"),
    "team": (r"^TEAM SURG$", "text"),
    "endo_base": (r"^ENDO BASE$", "text"),
    "cf": (r"^CONV FACTOR$", 4),
    "img_family": (r"DIAGNOSTIC IMAGING FAMILY", "text"),
    "opps_nf_pe": (r"^NON-FACILITY PE USED FOR OPPS", 2),
    "opps_f_pe": (r"^FACILITY PE USED FOR OPPS", 2),
    "opps_mp": (r"^MP USED FOR OPPS", 2),
}


def release_date_from_title(preamble: list[str], file_name: str) -> date | None:
    """Read the effective date from the title ("2025 ... FILE OCTOBER RELEASE") or file name."""
    for line in preamble:
        m = re.search(
            r"(20\d\d) NATIONAL PHYSICIAN FEE SCHEDULE.*?\b([A-Z]{3})[A-Z]* RELEASE", line
        )
        if m and m.group(2) in MONTHS:
            return date(int(m.group(1)), MONTHS[m.group(2)], 1)
    m = re.search(r"PPRRVU(20)?(\d\d)_?([A-Z]{3})", file_name.upper())
    if m and m.group(3) in MONTHS:
        return date(2000 + int(m.group(2)), MONTHS[m.group(3)], 1)
    m = re.search(r"RVU(\d\d)([ABCD])", file_name.upper())
    if m:
        month = {v: k for k, v in QUARTER_LETTERS.items()}[m.group(2)]
        return date(2000 + int(m.group(1)), month, 1)
    return None


def release_name(effective: date) -> str:
    """CMS's own name for a quarterly release, e.g. RVU25D for October 2025."""
    letter = QUARTER_LETTERS.get(effective.month, f"M{effective.month:02d}")
    return f"RVU{effective.year % 100:02d}{letter}"


def load_rvu_file(source: SourceFile) -> tuple[date | None, pd.DataFrame]:
    """Parse a PPRRVU CSV into one row per (HCPCS, modifier) with RVUs as integer hundredths."""
    preamble, raw = read_wrapped_csv(source, "HCPCS")
    where = str(source)
    out = pd.DataFrame(index=raw.index)
    for name, (pattern, kind) in RVU_COLUMNS.items():
        col = find_column(raw, pattern, source=where)
        if kind == "text":
            out[name] = raw[col].fillna("").str.strip().str.upper()
        else:
            out[name] = parse_scaled(raw[col], int(kind), source=where, column=col)

    out["hcpcs"] = out["hcpcs"].where(
        ~out["hcpcs"].str.fullmatch(r"\d{1,4}"), out["hcpcs"].str.zfill(5)
    )
    out["glob_days"] = out["glob_days"].where(
        ~out["glob_days"].str.fullmatch(r"\d{1,2}"), out["glob_days"].str.zfill(3)
    )
    out["nf_na"] = out["nf_na"] == "NA"
    out["f_na"] = out["f_na"] == "NA"
    for col in ("mult_proc", "bilat", "asst", "co_surg", "team", "pctc"):
        out[col] = out[col].str[:1]

    dupes = out.duplicated(["hcpcs", "mod"])
    if dupes.any():
        first = out.loc[dupes, ["hcpcs", "mod"]].iloc[0].tolist()
        raise ReferenceFileError(
            f"{int(dupes.sum())} duplicate HCPCS+MOD rows (first {first}); the file may be "
            "two releases concatenated",
            source=where,
        )
    if len(out) == 0:
        raise ReferenceFileError("no data rows under the header", source=where)
    logger.info("read %d RVU rows from %s", len(out), source.name)
    return release_date_from_title(preamble, source.name), out.reset_index(drop=True)


def conversion_factor(rvu: pd.DataFrame, *, source: str) -> int:
    """Return the single conversion factor (1/10000 dollars) the release carries."""
    values = np.unique(rvu.loc[rvu["cf"] > 0, "cf"])
    if len(values) != 1:
        raise ReferenceFileError(
            f"expected one conversion factor, found {[v / 10000 for v in values]}", source=source
        )
    return int(values[0])
