"""Read CMS text files as CMS ships them: gzip or zip members, latin-1, CRLF, preambles."""

from __future__ import annotations

import csv
import gzip
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.errors import ReferenceFileError


@dataclass(frozen=True)
class SourceFile:
    """A file inside a release: a plain path, a .gz path, or a member of a zip archive."""

    path: Path
    member: str | None = None

    @property
    def name(self) -> str:
        name = self.member or self.path.name
        return Path(name).name.removesuffix(".gz")

    def __str__(self) -> str:
        return f"{self.path}!{self.member}" if self.member else str(self.path)

    def read_text(self) -> str:
        """Return the decoded text. CMS files are latin-1; UTF-8 is accepted when it decodes."""
        try:
            if self.member is not None:
                with zipfile.ZipFile(self.path) as zf:
                    raw = zf.read(self.member)
            elif self.path.suffix == ".gz":
                raw = gzip.decompress(self.path.read_bytes())
            else:
                raw = self.path.read_bytes()
        except (OSError, zipfile.BadZipFile, gzip.BadGzipFile, KeyError) as exc:
            raise ReferenceFileError(f"cannot read file: {exc}", source=str(self)) from exc
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")


def list_release_files(path: Path) -> list[SourceFile]:
    """List the files of a release given as a folder or a zip (nested zips are opened too)."""
    if path.is_dir():
        return sorted((SourceFile(p) for p in path.iterdir() if p.is_file()), key=lambda s: s.name)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
        return [SourceFile(path, n) for n in sorted(names)]
    raise ReferenceFileError(
        "not a folder or a zip archive; pass the unzipped release folder or the RVUxxX.zip "
        "downloaded from CMS",
        source=str(path),
    )


def _normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\x1a", "")).strip().upper()


def read_wrapped_csv(source: SourceFile, first_column: str) -> tuple[list[str], pd.DataFrame]:
    """Read a CMS CSV whose header is wrapped over several rows above its first data row.

    The header row is the first row whose first cell is `first_column`. Rows just above it
    that carry text from the fourth column on are the upper parts of the wrapped header; the
    rows above those are the preamble (title, copyright, release date), returned as text.
    Column names are the wrapped parts joined with spaces, upper-cased.
    """
    rows = list(csv.reader(io.StringIO(source.read_text())))
    want = _normalize(first_column)
    header_at = next((i for i, row in enumerate(rows) if row and _normalize(row[0]) == want), None)
    if header_at is None:
        raise ReferenceFileError(
            f"no header row starting with {first_column!r}; is this the right CMS file?",
            source=str(source),
        )

    top = header_at
    while top > 0 and any(cell.strip() for cell in rows[top - 1][3:]):
        top -= 1
    width = len(rows[header_at])
    names = []
    for col in range(width):
        parts = [r[col] for r in rows[top : header_at + 1] if col < len(r) and r[col].strip()]
        names.append(_normalize(" ".join(parts)) or f"COLUMN {col}")
    preamble = [_normalize(" ".join(r)) for r in rows[:top] if any(c.strip() for c in r)]

    body = [r + [""] * (width - len(r)) for r in rows[header_at + 1 :]]
    frame = pd.DataFrame([r[:width] for r in body], columns=names, dtype="string")
    frame = frame.apply(lambda s: s.str.strip())
    keep = frame.iloc[:, 0].str.replace("\x1a", "", regex=False).str.strip() != ""
    return preamble, frame[keep].reset_index(drop=True)


def find_column(frame: pd.DataFrame, pattern: str, *, source: str, required: bool = True):
    """Return the one column whose header matches a regular expression."""
    hits = [c for c in frame.columns if re.search(pattern, c)]
    if len(hits) == 1:
        return hits[0]
    if not hits and not required:
        return None
    found = "none" if not hits else ", ".join(hits)
    raise ReferenceFileError(
        f"expected exactly one column matching /{pattern}/, found {found}; columns are: "
        + ", ".join(frame.columns),
        source=source,
    )
