"""Load the CMS ZIP5 file that maps a ZIP code to its Medicare carrier and locality."""

from __future__ import annotations

import logging

import pandas as pd

from pipeline.errors import ReferenceFileError
from pipeline.extract.cms_files import SourceFile
from pipeline.extract.gpci import locality_key

logger = logging.getLogger(__name__)


def load_zip5_file(source: SourceFile) -> pd.DataFrame:
    """Parse ZIP5 fixed-width records (layout in ZIP5lyout.txt) into zip -> locality rows."""
    lines = pd.Series(source.read_text().splitlines(), dtype="string").str.rstrip("\r")
    lines = lines[lines.str.len() >= 21]
    frame = pd.DataFrame(
        {
            "zip5": lines.str[2:7],
            "carrier": lines.str[7:12],
            "locality": lines.str[12:14],
            "plus_four": lines.str[20:21] == "1",
            "year_quarter": lines.str[75:80].str.strip(),
        }
    )
    ok = frame["zip5"].str.fullmatch(r"\d{5}") & frame["carrier"].str.fullmatch(r"\d{5}")
    if not ok.all() or frame.empty:
        first = lines[~ok].head(1).tolist()
        raise ReferenceFileError(
            f"{int((~ok).sum())} lines are not ZIP5 records (first {first}); expected the "
            "80-column layout of ZIP5lyout.txt",
            source=str(source),
        )
    frame["locality_key"] = locality_key(frame["carrier"], frame["locality"])
    frame = frame.drop_duplicates("zip5").reset_index(drop=True)
    logger.info("read %d ZIP5 records from %s", len(frame), source.name)
    return frame[["zip5", "locality_key", "plus_four", "year_quarter"]]
