"""Find the X12 interchanges in a file and hand each to pyx12 in a form it reads whole.

pyx12 reads one fixed-width ISA, takes the separators from it and splits the rest itself. This
module does only what pyx12 cannot: it finds where each interchange of a file starts (each has
its own ISA and may use other separators), repairs an ISA whose fields were trimmed (not fixed
width), drops blank lines between segments (pyx12 stops reading at the first empty segment),
and refuses a file whose structure cannot be read, naming the segment. Segments are numbered
through the whole file from 1 (the first ISA), which is how every message names them.
"""

from __future__ import annotations

import gzip
import logging
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import ClaimBatchError

logger = logging.getLogger(__name__)

# pyx12 logs each finding with the segment's values (member ids, names) through loggers under
# "pyx12", so none of them may emit. Its findings are read from its error tree instead, where
# values of personal segments are withheld (x12_read).
_PYX12_LOG = logging.getLogger("pyx12")
_PYX12_LOG.setLevel(logging.CRITICAL + 1)
_PYX12_LOG.propagate = False
_PYX12_LOG.addHandler(logging.NullHandler())

# ISA01..ISA16 widths: the ISA is fixed width, 106 characters with its terminator.
ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)
ISA_LENGTH = 106
X12_SUFFIXES = (".837", ".835", ".x12", ".edi")
_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{1,2}")
_NEWLINES = re.compile(r"\r\n|\n|\r")


class X12FileError(ClaimBatchError):
    """An X12 file whose structure cannot be read; it is quarantined, the others go on."""

    reason_code = "x12_structure"

    def __init__(self, message: str, *, source: str | None = None, segment: int | None = None):
        where = f"segment {segment}: " if segment else ""
        super().__init__(where + message, source=source)
        self.segment = segment
        self.reason = message

    def __reduce__(self):
        return (
            self.__class__,
            (self.reason,),
            {"source": self.source, "segment": self.segment, "message": self.message},
        )


@dataclass(frozen=True)
class Finding:
    """One implementation-guide or envelope finding, located by file segment number."""

    segment: int | None
    segment_id: str
    element: str
    code: str
    message: str
    severity: str = "warning"


@dataclass(frozen=True)
class Separators:
    element: str
    component: str
    repetition: str | None
    segment: str  # "\n" stands for any line break


@dataclass
class Group:
    """A functional group (GS ... GE): its kind, version and transaction sets."""

    segment: int
    functional_id: str  # GS01: HC claims, HP remittances
    version: str  # GS08, e.g. 005010X222A1
    transactions: list[tuple[int, str, str]] = field(default_factory=list)  # (segment, ST01, ST02)


@dataclass
class Interchange:
    """One ISA..IEA as text pyx12 reads, and where it sits in the file."""

    text: str
    separators: Separators
    first_segment: int  # file segment number of its ISA
    segments: int
    version: str
    control_number: str
    findings: list[Finding] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)


def is_x12(path: Path) -> bool:
    """Whether a file holds X12 (by name, else by its first characters)."""
    if Path(path).name.lower().removesuffix(".gz").endswith(X12_SUFFIXES):
        return True
    try:
        head = _decode(_read_head(Path(path))).lstrip("\ufeff \t\r\n")
    except (OSError, EOFError, zlib.error):
        return False  # the batch reader reports what is wrong with the file
    return head.startswith("ISA") or bool(re.match(r"ST[^A-Za-z0-9 ]\d{3}", head))


def _read_head(path: Path, size: int = 512) -> bytes:
    with open(path, "rb") as fh:
        data = fh.read(size)
    if data[:2] == b"\x1f\x8b":
        with gzip.open(path, "rb") as fh:
            data = fh.read(size)
    return data


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def read_text(path: Path) -> str:
    """The file as text (gzip recognized by content; UTF-8, else latin-1)."""
    path = Path(path)
    try:
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise X12FileError(
            f"cannot read the file ({type(exc).__name__}: {exc}); check that it is complete",
            source=str(path),
        ) from exc
    return _decode(data)


def split_interchanges(text: str, source: str) -> list[Interchange]:
    """Every interchange of the file, ready for pyx12; raise X12FileError if unreadable."""
    if not text.strip():
        raise X12FileError(
            "the file is empty; expected an X12 interchange (ISA ... IEA)", source=source
        )
    interchanges: list[Interchange] = []
    pos = _skip_blank(text, 0)
    number = 1  # file segment number of the next segment
    while pos < len(text):
        if not text.startswith("ISA", pos):
            raise X12FileError(
                _not_isa(text, pos, bool(interchanges)), source=source, segment=number
            )
        seps, isa, end, findings = _parse_isa(text, pos, source, number)
        segments, end, blanks = _segments(text, end, seps, source, number)
        if blanks:
            findings.append(
                Finding(
                    number,
                    "ISA",
                    "",
                    "BLANK",
                    f"{blanks} empty segment(s) or blank line(s) ignored",
                    "info",
                )
            )
        term = "\n" if seps.segment == "\n" else seps.segment
        body = term.join([isa, *segments]) + term
        interchanges.append(
            Interchange(
                text=body,
                separators=seps,
                first_segment=number,
                segments=1 + len(segments),
                version=isa[84:89],
                control_number=isa[90:99],
                findings=findings,
                groups=_check_nesting(segments, seps, source, number, end >= len(text)),
            )
        )
        number += 1 + len(segments)
        pos = _skip_blank(text, end, seps.segment)  # stray terminators after IEA are empty
    return interchanges


def _skip_blank(text: str, pos: int, also: str = "") -> int:
    while pos < len(text) and (text[pos].isspace() or text[pos] in "\ufeff\x1a\x00" + also):
        pos += 1
    return pos


def _not_isa(text: str, pos: int, after_iea: bool) -> str:
    start = re.split(r"[^A-Za-z0-9]", text[pos : pos + 4])[0][:3] or text[pos : pos + 3]
    if after_iea:
        return (
            f"data after the interchange trailer (IEA) starts with {start!r}, not with ISA; "
            "remove it or send it as its own file"
        )
    if re.match(r"ST[^A-Za-z0-9 ]", text[pos : pos + 3]):
        return (
            "the file starts with ST, a transaction set without its ISA/GS envelope, so its "
            "separators are not declared; ask the sender for the whole interchange (ISA ... IEA)"
        )
    return (
        f"not an X12 interchange: it starts with {start!r} where ISA must be; check that this "
        "is an X12 837P or 835 file"
    )


def _parse_isa(
    text: str, pos: int, source: str, number: int
) -> tuple[Separators, str, int, list[Finding]]:
    """Separators and a fixed-width ISA, from a fixed-width or trimmed ISA at `pos`."""
    element = text[pos + 3 : pos + 4]
    if not element or element.isalnum() or element.isspace():
        raise X12FileError(
            f"the ISA element separator (4th character) is {element!r}; it must be a "
            "punctuation character such as '*'",
            source=source,
            segment=number,
        )
    findings: list[Finding] = []
    fields: list[str] = []
    cursor = pos + 4
    for _ in range(15):
        nxt = text.find(element, cursor)
        if nxt != -1 and nxt - cursor > 40 and not re.search(r"[~\r\n]", text[cursor:nxt]):
            # A long run without a segment end is one overlong element, not a cut ISA.
            raise X12FileError(
                f"ISA element ISA{len(fields) + 1:02d} is {nxt - cursor} characters, longer than "
                f"its fixed width of {ISA_WIDTHS[len(fields)]}; the ISA cannot be read",
                source=source,
                segment=number,
            )
        if nxt == -1 or nxt - cursor > 40:
            raise X12FileError(
                f"the ISA segment is incomplete: found {len(fields) + 1} of its 16 elements; "
                "the file is truncated or its ISA is damaged",
                source=source,
                segment=number,
            )
        fields.append(text[cursor:nxt].replace("\r", "").replace("\n", ""))  # wrapped file
        cursor = nxt + 1
    while text[cursor : cursor + 1] in ("\r", "\n"):
        cursor += 1
    component, terminator = text[cursor : cursor + 1], text[cursor + 1 : cursor + 2]
    if not component or not terminator:
        raise X12FileError(
            "the ISA segment is incomplete (no component separator or segment terminator "
            "after ISA16); the file is truncated",
            source=source,
            segment=number,
        )
    fields.append(component)
    end = cursor + 2
    if terminator == "\r" and text[end : end + 1] == "\n":
        end += 1
    segment_term = "\n" if terminator in "\r\n" else terminator
    repetition = fields[10]
    chars = {"element": element, "component": component, "segment terminator": segment_term}
    if terminator.isalnum() or (terminator.isspace() and terminator not in "\r\n"):
        raise X12FileError(
            f"the segment terminator after ISA16 is {terminator!r}; it must be a punctuation "
            "character such as '~' or a line break",
            source=source,
            segment=number,
        )
    if component.isalnum() or component.isspace():
        raise X12FileError(
            f"the component separator (ISA16) is {component!r}; it must be a punctuation "
            "character such as ':'",
            source=source,
            segment=number,
        )
    if len(set(chars.values())) < len(chars):
        raise X12FileError(
            "the ISA declares the same character for two separators "
            f"({', '.join(f'{k} {v!r}' for k, v in chars.items())}); each must differ",
            source=source,
            segment=number,
        )
    version = fields[11]
    if version == "00401":
        raise X12FileError(
            "X12 version 4010 (ISA12 00401): HIPAA requires 5010 since 2012 and this pipeline "
            "reads 5010 (00501) only; ask the sender for a 5010 file",
            source=source,
            segment=number,
        )
    if version != "00501":
        raise X12FileError(
            f"unknown X12 version in ISA12 ({version!r}); expected 00501 (5010)",
            source=source,
            segment=number,
        )
    if repetition.isalnum() or repetition in chars.values():
        findings.append(
            Finding(
                number,
                "ISA",
                "ISA11",
                "ISA11",
                f"ISA11 is {repetition!r}, not a repetition separator (5010 expects e.g. '^'); "
                "repeated elements are not split",
            )
        )
        repetition = None
    wrong = [
        f"ISA{i:02d}"
        for i, (value, width) in enumerate(zip(fields, ISA_WIDTHS, strict=True), 1)
        if len(value) != width
    ]
    if wrong:
        too_long = [
            f"ISA{i:02d}"
            for i, (value, width) in enumerate(zip(fields, ISA_WIDTHS, strict=True), 1)
            if len(value) > width
        ]
        if too_long:
            raise X12FileError(
                f"ISA element(s) {', '.join(too_long)} are longer than their fixed width; the "
                "ISA cannot be read",
                source=source,
                segment=number,
            )
        findings.append(
            Finding(
                number,
                "ISA",
                wrong[0],
                "ISA_WIDTH",
                f"the ISA is not fixed width ({', '.join(wrong)} shorter than the standard); "
                "read with its elements padded",
            )
        )
        fields = [v.ljust(w) for v, w in zip(fields, ISA_WIDTHS, strict=True)]
    isa = "ISA" + element + element.join(fields)
    return Separators(element, component, repetition, segment_term), isa, end, findings


def _segments(
    text: str, start: int, seps: Separators, source: str, isa_number: int
) -> tuple[list[str], int, int]:
    """Segments after the ISA up to and including its IEA (or up to the next ISA / the end)."""
    segments: list[str] = []
    blanks = 0
    pos = start
    newline = seps.segment == "\n"
    while pos < len(text):
        begin = pos
        if newline:
            match = _NEWLINES.search(text, pos)
            cut, after = (match.start(), match.end()) if match else (-1, -1)
        else:
            cut = text.find(seps.segment, pos)
            after = cut + 1
        if cut == -1:
            tail = text[pos:].strip()
            if not tail:
                return segments, len(text), blanks
            number = isa_number + 1 + len(segments)
            seg_id = re.split(re.escape(seps.element), tail, maxsplit=1)[0][:3]
            # A last line without a line break, or a complete IEA without its terminator, is
            # the end of the file, not a cut.
            if newline or (seg_id == "IEA" and "\n" not in tail):
                segments.append(tail)
                return segments, len(text), blanks
            lines = tail.count("\n")
            cause = (
                f"its segments from here on ({lines + 1} lines) do not end with the "
                f"terminator {_show(seps.segment)} its ISA declares; fix the ISA or the "
                "segment terminators"
                if lines >= 2
                else f"no segment terminator {_show(seps.segment)} follows: the file is "
                "truncated; ask the sender for the complete file"
            )
            raise X12FileError(
                f"the file ends inside segment {seg_id!r}: {cause}",
                source=source,
                segment=number,
            )
        raw = text[pos:cut]
        # Line breaks are never data: files wrapped at a fixed width read as one stream.
        raw = raw.strip("\r\n") if newline else raw.replace("\r", "").replace("\n", "")
        pos = after
        if not raw.strip():
            blanks += 1
            continue
        seg = raw.lstrip()
        number = isa_number + 1 + len(segments)
        seg_id = seg.split(seps.element, 1)[0]
        if seg_id == "ISA":
            return segments, begin, blanks  # its IEA is missing: pyx12 reports that
        if not _SEGMENT_ID.fullmatch(seg_id):
            shown = seg_id[:3] if _SEGMENT_ID.match(seg_id[:3]) else seg_id[:6]
            raise X12FileError(
                f"segment {number} does not start with a segment ID followed by the element "
                f"separator {seps.element!r} declared in the ISA (it starts {shown!r}); the "
                "separators in the file differ from the ISA's, or the data is damaged",
                source=source,
                segment=number,
            )
        segments.append(raw)
        if seg_id == "IEA":
            return segments, pos, blanks
    return segments, pos, blanks


def _show(sep: str) -> str:
    return "(a line break)" if sep == "\n" else repr(sep)


def check_component(
    value: str | None, seps: Separators, where: str, source: str, number: int
) -> None:
    """Refuse a composite whose qualifier is glued to its code by another separator.

    `value` is the first component of a composite whose first component is a short code
    (SV101-1 'HC', CLM05-1 '11', SVC01-1 'HC'). 'HC>99213' there means the file separates
    components with '>' while its ISA16 declares another character: no composite of the file
    can be split correctly.
    """
    if not value or len(value) <= 2:
        return
    match = re.match(r"[A-Za-z0-9]{1,3}([^A-Za-z0-9 ])", value)
    if match and match.group(1) != seps.component:
        raise X12FileError(
            f"the ISA declares {seps.component!r} (ISA16) as the component separator, but "
            f"{where} is {value!r}: the file separates components with {match.group(1)!r}. "
            "Fix ISA16 or the composites, then send the file again",
            source=source,
            segment=number,
        )


def _check_nesting(
    segments: list[str], seps: Separators, source: str, isa_number: int, at_end: bool
) -> list[Group]:
    """Check ISA (GS (ST ... SE)+ GE)+ IEA nesting; return the groups and their transactions.

    A missing trailer means the data cannot be told apart from the next transaction or a cut
    file, so the file is refused here; wrong counts and control numbers in the trailers are
    left to pyx12, which reports them as findings.
    """
    groups: list[Group] = []
    group: Group | None = None
    st: tuple[int, str] | None = None  # (segment, control number) of the open transaction
    number = isa_number
    for i, raw in enumerate(segments):
        number = isa_number + 1 + i
        elements = raw.lstrip().split(seps.element)
        seg_id = elements[0]
        problem = ""
        if seg_id == "GS":
            if st:
                problem = _no_trailer(st, "GS", number)
            elif group:
                problem = f"functional group at segment {group.segment} has no GE before this GS"
            else:
                group = Group(number, _element(elements, 1), _element(elements, 8))
                groups.append(group)
        elif seg_id == "ST":
            if group is None:
                problem = "transaction set (ST) outside a functional group: no GS before it"
            elif st:
                problem = _no_trailer(st, "ST", number)
            else:
                st = (number, _element(elements, 2))
                group.transactions.append((number, _element(elements, 1), st[1]))
        elif seg_id == "SE":
            if st is None:
                problem = "SE without a transaction set (ST) open before it"
            st = None
        elif seg_id == "GE":
            if st:
                problem = _no_trailer(st, "GE", number)
            elif group is None:
                problem = "GE without a functional group (GS) open before it"
            group = None
        elif seg_id == "IEA":
            if st:
                problem = _no_trailer(st, "IEA", number)
            elif group:
                problem = f"functional group at segment {group.segment} has no GE before this IEA"
        elif seg_id != "TA1" and st is None:
            problem = f"segment {seg_id} is outside a transaction set (ST ... SE)"
        if problem:
            raise X12FileError(problem, source=source, segment=number)
    if (
        st
        or group
        or not segments
        or _element(segments[-1].lstrip().split(seps.element), 0) != "IEA"
    ):
        where = f"inside transaction set {st[1]!r} (ST at segment {st[0]}) " if st else ""
        missing = [t for t, gone in (("SE", st), ("GE", st or group), ("IEA", True)) if gone]
        cut = "the file is truncated" if at_end else "the next interchange starts without it"
        raise X12FileError(
            f"the interchange ends at segment {number} {where}without {', '.join(missing)}: "
            f"{cut}; ask the sender for the complete file",
            source=source,
            segment=number,
        )
    return groups


def _element(elements: list[str], k: int) -> str:
    return elements[k].strip() if len(elements) > k else ""


def _no_trailer(st: tuple[int, str], found: str, number: int) -> str:
    return (
        f"transaction set {st[1]!r} (ST at segment {st[0]}) has no SE trailer before {found} "
        f"at segment {number}; the file is cut or its segments were lost"
    )


def transaction_kind(path: Path) -> str:
    """'835', '837' or '' for a file, from its first functional group or transaction set."""
    try:
        head = _decode(_read_head(Path(path), 4096)).lstrip("\ufeff \t\r\n")
    except (OSError, EOFError, zlib.error):
        return ""
    if head.startswith("ISA") and len(head) > 3:
        sep = re.escape(head[3])
        group = re.search(rf"GS{sep}([A-Z]{{2}}){sep}", head)
        if group:
            return {"HP": "835", "HC": "837"}.get(group.group(1), "")
    st = re.search(r"(?:^|[^A-Za-z0-9])ST[^A-Za-z0-9 ](\d{3})", head)
    return st.group(1) if st else ""
