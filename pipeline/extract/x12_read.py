"""Read an X12 837P or 835 file with pyx12: its segments in order, and pyx12's findings.

pyx12's X12ContextReader places each segment in its implementation-guide loop and validates
it against the map; its findings are collected from pyx12's error tree and turned into
warnings located by file segment number. Only a file whose structure cannot be read (see
x12_envelope) raises X12FileError.
"""

from __future__ import annotations

import bisect
import io
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyx12.error_handler
import pyx12.error_visitor
import pyx12.errors
import pyx12.params
import pyx12.segment
import pyx12.x12context

from pipeline.extract.x12_envelope import (
    Finding,
    Interchange,
    X12FileError,
    read_text,
    split_interchanges,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kind:
    """What a reader accepts: GS01 and the GS08 versions, each with the pyx12 map used."""

    name: str
    functional_id: str
    transaction: str
    maps: dict[str, str]  # GS08 -> pyx12 map file
    alias_note: dict[str, str] = field(default_factory=dict)


A1_837P = "837.5010.X222.A1.xml"
KIND_837P = Kind(
    "837P",
    "HC",
    "837",
    {"005010X222A1": A1_837P, "005010X222A2": A1_837P, "005010X222": A1_837P},
    {
        "005010X222A2": "GS08 005010X222A2 (errata A2) read with pyx12's 005010X222A1 map",
        "005010X222": "GS08 005010X222 read with pyx12's 005010X222A1 map",
    },
)
A1_835 = "835.5010.X221.A1.xml"
KIND_835 = Kind(
    "835",
    "HP",
    "835",
    {"005010X221A1": A1_835, "005010X221": A1_835},
    {"005010X221": "GS08 005010X221 read with pyx12's 005010X221A1 map"},
)
# Other GS08 versions, named so a refusal says what the file is.
KNOWN_VERSIONS = {
    "005010X223": "an institutional claim (837I)",
    "005010X224": "a dental claim (837D)",
    "005010X222": "a professional claim (837P)",
    "005010X221": "a remittance advice (835)",
    "005010X279": "an eligibility transaction (270/271)",
    "005010X212": "a claim status transaction (276/277)",
    "005010X231": "an acknowledgment (999)",
    "004010": "an X12 4010 transaction",
}
# Segments whose values may appear in a finding's text; the others (names, addresses, member
# and patient identifiers, birth dates, notes) have their values withheld.
SHOWN = frozenset(
    "ISA GS ST SE GE IEA BHT HL SBR CLM DTP HI LX SV1 SVD CAS BPR TRN CLP SVC DTM AMT QTY LQ "
    "MOA MIA PLB TS3 TS2 CUR RDM PRV CR1 CR2 CRC K3 PWK OI LIN CTP".split()
)
# pyx12 trailer findings that mean the structure is broken (x12_envelope refuses these first).
FATAL = {("ISA", "023"), ("ISA", "024"), ("GS", "3"), ("ST", "2")}


@dataclass
class X12Segment:
    """One segment: its number in the file, ID, implementation-guide loop and elements."""

    number: int
    id: str
    loop: str
    data: pyx12.segment.Segment

    def get(self, ref: str) -> str:
        """The element or component value at `ref` (e.g. 'SV101-2'), stripped; '' if absent."""
        try:
            value = self.data.get_value(ref)
        except (IndexError, pyx12.errors.EngineError):
            return ""
        return (value or "").strip()


@dataclass
class X12Document:
    """The interchanges of one file, with the findings of reading them."""

    source: str
    interchanges: list[Interchange]
    findings: list[Finding] = field(default_factory=list)


def open_document(path: Path, kind: Kind) -> X12Document:
    """Split the file into interchanges and check each group is of `kind`; raise if not."""
    source = str(path)
    doc = X12Document(source, split_interchanges(read_text(Path(path)), source))
    for ix in doc.interchanges:
        doc.findings.extend(ix.findings)
        for group in ix.groups:
            _check_group(group.functional_id, group.version, group.segment, kind, source)
            if group.version in kind.alias_note:
                doc.findings.append(
                    Finding(
                        group.segment, "GS", "GS08", "MAP", kind.alias_note[group.version], "info"
                    )
                )
            for number, st01, _control in group.transactions:
                if st01 != kind.transaction:
                    raise X12FileError(
                        f"transaction set {st01!r} in a {kind.name} group; expected ST01 "
                        f"{kind.transaction}",
                        source=source,
                        segment=number,
                    )
    if not any(g.transactions for ix in doc.interchanges for g in ix.groups):
        raise X12FileError(
            f"the file holds no transaction set; expected {kind.name} claims",
            source=source,
            segment=1,
        )
    return doc


def _check_group(functional_id: str, version: str, number: int, kind: Kind, source: str) -> None:
    if functional_id == kind.functional_id and version in kind.maps:
        return
    what = next((v for k, v in KNOWN_VERSIONS.items() if version.startswith(k)), "")
    what = what or f"a functional group of type {functional_id!r}, version {version!r}"
    hint = {
        "837P": "this pipeline prices professional claims (837P, GS08 005010X222A1 or A2)",
        "835": "remittances must be 835 5010 (GS08 005010X221A1)",
    }[kind.name]
    if kind.name == "835" and functional_id == "HC":
        hint = f"it is a claim file: pass it without --remits; {hint}"
    raise X12FileError(
        f"GS01 {functional_id!r} / GS08 {version!r} is {what}, not a {kind.name}; {hint}",
        source=source,
        segment=number,
    )


def iter_segments(doc: X12Document, kind: Kind) -> Iterator[X12Segment]:
    """Every segment of every interchange in file order, placed in its loop by pyx12.

    Findings are added to `doc.findings` as each interchange is finished.
    """
    for ix in doc.interchanges:
        yield from _read_interchange(ix, doc, kind)


def _read_interchange(ix: Interchange, doc: X12Document, kind: Kind) -> Iterator[X12Segment]:
    errh = pyx12.error_handler.err_handler()
    offset = ix.first_segment - 1
    try:
        reader = pyx12.x12context.X12ContextReader(
            pyx12.params.params(), errh, io.StringIO(ix.text)
        )
    except pyx12.errors.X12Error as exc:
        raise X12FileError(f"pyx12 cannot read the ISA ({exc})", source=doc.source) from exc
    for version, map_file in kind.maps.items():
        if reader.map_index_if.get_filename("00501", version, kind.functional_id) is None:
            reader.map_index_if.add_map(
                "00501", version, kind.functional_id, None, map_file, kind.name
            )
    number = ix.first_segment
    try:
        for node in reader.iter_segments():
            number = offset + (node.cur_line_number or 0)
            seg = node.seg_data
            parent = getattr(node.x12_map_node, "parent", None)
            yield X12Segment(number, seg.get_seg_id() or "", getattr(parent, "id", "") or "", seg)
        reader.src.cleanup()
        errh.handle_errors(reader.src.pop_errors())
    except (pyx12.errors.EngineError, pyx12.errors.X12Error) as exc:
        raise X12FileError(
            f"pyx12 could not place the segment in the {kind.name} implementation guide "
            f"({_withheld(str(exc))}); the file's structure is broken here",
            source=doc.source,
            segment=number + 1,
        ) from exc
    finally:
        reader.close()
    collector = _Findings(offset)
    errh.accept(collector)
    fatal = [f for f in collector.findings if (f.segment_id, f.code) in FATAL]
    if fatal:
        raise X12FileError(fatal[0].message, source=doc.source, segment=fatal[0].segment)
    doc.findings.extend(collector.findings)


def _withheld(text: str) -> str:
    """pyx12's text with any quoted segment content removed."""
    return re.sub(r"seg_date=.*|Segment \S+ ", "", text)[:200]


class _Findings(pyx12.error_visitor.error_visitor):
    """Walks pyx12's error tree into Finding rows, withholding values of personal segments."""

    def __init__(self, offset: int) -> None:
        self.offset = offset
        self.findings: list[Finding] = []
        self._seg: tuple[int, str] | None = None

    def _add(self, number: int, seg_id: str, element: str, code: str, message: str) -> None:
        self.findings.append(Finding(self.offset + number, seg_id, element, code, message))

    def visit_isa_post(self, err_isa) -> None:
        for code, text in err_isa.errors:
            self._add(err_isa.get_cur_line(), "ISA", "", code, text)

    def visit_gs_post(self, err_gs) -> None:
        for code, text in err_gs.errors:
            self._add(err_gs.get_cur_line(), "GS", "", code, text)

    def visit_st_post(self, err_st) -> None:
        for code, text in err_st.errors:
            self._add(err_st.get_cur_line(), "ST", "", code, text)

    def visit_seg(self, err_seg) -> None:
        seg_id = err_seg.seg_id or ""
        self._seg = (err_seg.get_cur_line(), seg_id)
        for code, text, value in err_seg.errors:
            self._add(self._seg[0], seg_id, "", code, _message(seg_id, text, value))

    def visit_ele(self, err_ele) -> None:
        if self._seg is None:
            return
        number, seg_id = self._seg
        element = f"{seg_id}{err_ele.ele_pos:02d}"
        if err_ele.subele_pos:
            element += f"-{err_ele.subele_pos}"
        for code, text, value in err_ele.errors:
            self._add(number, seg_id, element, code, _message(seg_id, text, value))


def _message(seg_id: str, text: str, value: str | None) -> str:
    """pyx12's finding text; values of segments that may identify a person are withheld."""
    text = re.sub(r"\s+", " ", text).strip()
    found = re.match(r"Segment (.*) not found\. Started at (\S+)", text)
    if found:
        shown = found.group(1) if seg_id in SHOWN else seg_id
        return f"Segment {shown} is not expected here (after {found.group(2).rsplit('/', 2)[-2]})"
    if seg_id in SHOWN or not value:
        return text
    for shown in (f"({value})", f'"{value}"', value):
        text = text.replace(shown, "(value withheld)")
    return text


def findings_table(
    findings: list[Finding],
    claims: list[tuple[int, int, str]],
    lines: list[tuple[int, int, str]],
    line_column: str,
) -> pd.DataFrame:
    """Findings as a frame, each with the claim and the line whose segments it falls in.

    `claims` and `lines` are (first segment, last segment, label) spans in file order.
    """
    claim_starts, line_starts = [c[0] for c in claims], [n[0] for n in lines]
    rows = []
    for f in sorted(findings, key=lambda f: f.segment or 0):
        rows.append(
            {
                "segment": f.segment,
                "segment_id": f.segment_id,
                "element": f.element,
                "code": f.code,
                "severity": f.severity,
                "message": f.message,
                "claim_id": _within(claims, claim_starts, f.segment),
                line_column: _within(lines, line_starts, f.segment),
            }
        )
    columns = ["segment", "segment_id", "element", "code", "severity", "message"]
    frame = pd.DataFrame(rows, columns=[*columns, "claim_id", line_column])
    return frame.astype({"segment": "Int64"})


def _within(spans: list[tuple[int, int, str]], starts: list[int], segment: int | None) -> str:
    if not segment or not spans:
        return ""
    at = bisect.bisect_right(starts, segment) - 1
    return spans[at][2] if at >= 0 and segment <= spans[at][1] else ""
