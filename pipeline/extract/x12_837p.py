"""Map X12 5010 837P claims to claim lines in the claim-line schema (one row per SV1 line).

The rows are text columns with the same names a CSV batch uses (docs/claim-line-schema.md),
so the usual normalizer turns them into typed lines and replaces `patient_id` with its keyed
hash. Every service line (LX) and every SV1 of the file becomes exactly one row; a line that
cannot be mapped to its own LX and claim keeps its row with the reason (INPUT_MALFORMED_ROW)
and an error finding, so nothing is dropped or silently given to another claim.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline.extract.batch_files import MALFORMED_COLUMN, ROW_COLUMN, BatchFile
from pipeline.extract.x12_envelope import Finding, X12FileError, check_component
from pipeline.extract.x12_read import (
    KIND_837P,
    X12Segment,
    findings_table,
    iter_segments,
    open_document,
)

logger = logging.getLogger(__name__)

# HI qualifiers that carry diagnosis codes (ICD-10: ABK principal, ABF other; ICD-9: BK, BF).
DIAGNOSIS_QUALIFIERS = frozenset({"ABK", "ABF", "BK", "BF"})
# The CPT anesthesia section: the codes with status J in the RVU files, the only ones billed
# in minutes (SV103 MJ).
ANESTHESIA_CODES = ("00100", "01999")
COLUMNS = (
    "claim_id",
    "claim_line_number",
    "line_control_number",
    "patient_id",
    "payer",
    "payer_id",
    "claim_filing_indicator",
    "billing_npi",
    "rendering_npi",
    "claim_line_start_date",
    "claim_line_end_date",
    "place_of_service_code",
    "procedure_code_qualifier",
    "hcpcs_code",
    "hcpcs_modifier_1",
    "hcpcs_modifier_2",
    "hcpcs_modifier_3",
    "hcpcs_modifier_4",
    "service_unit_quantity",
    "unit_basis",
    "charge_amount",
    "diagnosis_code_1",
    "diagnosis_code_2",
    "diagnosis_code_3",
    "diagnosis_code_4",
    "service_zip",
    "claim_frequency_code",
    "x12_transaction",
    "x12_claim_segment",
    "x12_line_segment",
)


@dataclass
class _Claim:
    segment: int
    values: dict[str, str]
    diagnoses: list[str] = field(default_factory=list)  # by HI position; '' where unreadable
    rendering_npi: str = ""
    facility_zip: str = ""
    claim_date: str = ""
    lines: list[dict[str, str]] = field(default_factory=list)
    last_lx: int = 0  # highest LX01 number seen in the claim
    # Why lines from here on cannot belong to this claim (a CLM seems to be missing); or, for
    # the stand-in of lines with no CLM above them, why they belong to no claim.
    broken: str = ""
    orphan: bool = False


@dataclass
class _Context:
    """What the HL levels above the claim say: billing provider, subscriber, patient."""

    transaction: str = ""
    billing_npi: str = ""
    billing_zip: str = ""
    member_id: str = ""
    payer: str = ""
    payer_id: str = ""
    filing: str = ""
    dependent: list[str] | None = None  # identity parts of a 2000C patient


def read_837p_batch(path: Path) -> BatchFile:
    """Read an 837P file into a claim-line frame; raise X12FileError if it is unreadable."""
    doc = open_document(Path(path), KIND_837P)
    mapper = _Mapper(doc.source, doc)
    for seg in iter_segments(doc, KIND_837P):
        mapper.feed(seg)
    mapper.finish()
    rows = mapper.rows
    if not rows:
        raise X12FileError(
            "the file holds no service lines (no LX/SV1 in any claim); nothing to scrub",
            source=doc.source,
            segment=1,
        )
    frame = pd.DataFrame(rows, columns=[*COLUMNS, MALFORMED_COLUMN], dtype=object)
    frame = frame.fillna("").astype("string")
    frame[ROW_COLUMN] = range(1, len(frame) + 1)
    findings = sorted(doc.findings + mapper.findings, key=lambda f: (f.segment or 0))
    details = {
        "format": "X12 837P",
        "interchanges": len(doc.interchanges),
        "transactions": sum(len(g.transactions) for ix in doc.interchanges for g in ix.groups),
        "claims": len(mapper.claim_segments),
        "service_lines": len(rows),
        "versions": sorted({g.version for ix in doc.interchanges for g in ix.groups}),
    }
    table = findings_table(findings, mapper.claim_spans, mapper.line_spans, "input_row")
    logger.info(
        "%s: %d claims, %d service lines, %d findings",
        Path(path).name,
        details["claims"],
        details["service_lines"],
        len(findings),
    )
    return BatchFile(frame, encoding="x12", findings=table, details=details)


class _Mapper:
    """Walks the segments in order and emits one row per service line."""

    def __init__(self, source: str, doc) -> None:
        self.source = source
        self.doc = doc
        self.rows: list[dict[str, str]] = []
        self.findings: list[Finding] = []
        self.claim_segments: dict[int, str] = {}  # CLM segment number -> claim id
        self.claim_spans: list[tuple[int, int, str]] = []  # first, last segment, claim id
        self.line_spans: list[tuple[int, int, str]] = []  # first, last segment, input row
        self.at = 0  # number of the segment being read
        self.ctx = _Context()
        self.claim: _Claim | None = None
        self.line: dict[str, str] | None = None

    def note(
        self, seg: X12Segment | int, message: str, element: str = "", severity: str = "warning"
    ) -> None:
        number, seg_id = (seg.number, seg.id) if isinstance(seg, X12Segment) else (seg, "")
        self.findings.append(Finding(number, seg_id, element, "MAP", message, severity))

    def feed(self, seg: X12Segment) -> None:
        self.at = seg.number
        handler = getattr(self, f"_on_{seg.id.lower()}", None)
        if handler is not None:
            handler(seg)

    def finish(self) -> None:
        self.at += 1  # the file's last segment ends the open claim
        self._close_claim()

    # Envelope and hierarchy
    def _on_st(self, seg: X12Segment) -> None:
        self._close_claim()
        self.ctx = _Context(transaction=seg.get("ST02"))

    def _on_se(self, seg: X12Segment) -> None:
        self._close_claim()

    def _on_hl(self, seg: X12Segment) -> None:
        self._close_claim()
        level = seg.get("HL03")
        if level == "20":
            self.ctx = _Context(transaction=self.ctx.transaction)
        elif level == "22":
            keep = self.ctx
            self.ctx = _Context(keep.transaction, keep.billing_npi, keep.billing_zip)
        elif level == "23":
            self.ctx.dependent = []

    def _on_sbr(self, seg: X12Segment) -> None:
        if seg.loop == "2000B":
            self.ctx.filing = seg.get("SBR09")

    def _on_nm1(self, seg: X12Segment) -> None:
        npi = seg.get("NM109") if seg.get("NM108") == "XX" else ""
        if seg.loop == "2010AA":
            self.ctx.billing_npi = npi
        elif seg.loop == "2010BA":
            self.ctx.member_id = seg.get("NM109")
        elif seg.loop == "2010BB":
            self.ctx.payer, self.ctx.payer_id = seg.get("NM103"), seg.get("NM109")
        elif seg.loop == "2010CA" and self.ctx.dependent is not None:
            self.ctx.dependent[:0] = [seg.get("NM103").upper(), seg.get("NM104").upper()]
        elif seg.loop == "2310B" and self.claim:
            self.claim.rendering_npi = npi
        elif seg.loop == "2420A" and self.line is not None:
            self.line["rendering_npi"] = npi

    def _on_dmg(self, seg: X12Segment) -> None:
        if seg.loop == "2010CA" and self.ctx.dependent is not None:
            self.ctx.dependent.append(seg.get("DMG02"))

    def _on_n4(self, seg: X12Segment) -> None:
        zip_code = seg.get("N403")
        if seg.loop == "2010AA":
            self.ctx.billing_zip = zip_code
        elif seg.loop == "2310C" and self.claim:
            self.claim.facility_zip = zip_code
        elif seg.loop == "2420C" and self.line is not None:
            self.line["service_zip"] = zip_code

    # Claim
    def _on_clm(self, seg: X12Segment) -> None:
        self._close_claim()
        check_component(seg.get("CLM05-1"), self._seps(seg), "CLM05", self.source, seg.number)
        claim_id = seg.get("CLM01")
        if not claim_id:
            self.note(seg, "CLM01 (claim id) is blank; its lines have no claim id", "CLM01")
        ctx = self.ctx
        patient = ctx.member_id
        if ctx.dependent is not None and ctx.member_id:
            # A dependent shares the subscriber's member id; their own name and birth date
            # (hashed with it, never stored) keep two family members apart.
            patient = "|".join([ctx.member_id, *ctx.dependent])
        self.claim = _Claim(
            seg.number,
            {
                "claim_id": claim_id,
                "patient_id": patient,
                "payer": ctx.payer,
                "payer_id": ctx.payer_id,
                "claim_filing_indicator": ctx.filing,
                "billing_npi": ctx.billing_npi,
                "place_of_service_code": seg.get("CLM05-1"),
                "claim_frequency_code": seg.get("CLM05-3"),
                "x12_transaction": ctx.transaction,
                "x12_claim_segment": str(seg.number),
            },
        )
        self.claim_segments[seg.number] = claim_id

    def _on_hi(self, seg: X12Segment) -> None:
        if self.claim is None:
            return
        if self.line is not None:
            self._break_claim(seg, "claim diagnoses (HI) follow the service lines")
            return
        check_component(seg.get("HI01-1"), self._seps(seg), "HI01", self.source, seg.number)
        first = seg.get("HI01-1")
        if first not in DIAGNOSIS_QUALIFIERS and first[:2] in ("BP", "BO", "BG", "BE", "BH"):
            return  # procedure, condition, value or occurrence codes, not diagnoses
        for i in range(1, min(len(seg.data), 12) + 1):
            qualifier, code = seg.get(f"HI{i:02d}-1"), seg.get(f"HI{i:02d}-2")
            ok = qualifier in DIAGNOSIS_QUALIFIERS and code
            self.claim.diagnoses.append(code.replace(".", "").upper() if ok else "")

    def _on_dtp(self, seg: X12Segment) -> None:
        if seg.get("DTP01") != "472":
            return
        fmt, value = seg.get("DTP02"), seg.get("DTP03")
        start, _, end = value.partition("-") if fmt == "RD8" else (value, "", "")
        if self.line is not None:
            self.line["claim_line_start_date"], self.line["claim_line_end_date"] = start, end
        elif self.claim is not None:
            self.claim.claim_date = start

    def _on_ref(self, seg: X12Segment) -> None:
        if self.line is not None and seg.get("REF01") == "6R":
            self.line["line_control_number"] = seg.get("REF02")

    # Service line
    def _on_lx(self, seg: X12Segment) -> None:
        if self.claim is None:
            self._open_orphan(seg)
        self._close_line()
        claim = self.claim
        assert claim is not None
        number = seg.get("LX01")
        if number.isdigit() and not claim.orphan:
            if int(number) <= claim.last_lx:
                self._break_claim(seg, f"LX*{number} restarts the line numbering")
            claim.last_lx = max(claim.last_lx, int(number))
        self.line = {"claim_line_number": number, "x12_line_segment": str(seg.number)}
        self._reject_if_unclaimed(self.line, seg, f"LX*{number} at segment {seg.number}")

    def _on_sv1(self, seg: X12Segment) -> None:
        if self.claim is None:
            self._open_orphan(seg)
        line = self.line
        if line is None or line.get("_sv1"):
            # Each SV1 keeps its own row: one with no LX, or a second one under the same LX,
            # is rejected rather than merged into a line or left out.
            if line is None:
                problem = "has no LX service line segment before it"
            else:
                problem = (
                    f"is a second SV1 under LX*{line['claim_line_number']} (segment "
                    f"{line['x12_line_segment']}); each service line needs its own LX"
                )
            self._close_line()
            line = self.line = {"claim_line_number": "", "x12_line_segment": str(seg.number)}
            if not self._reject_if_unclaimed(line, seg, f"SV1 at segment {seg.number}"):
                claim = self.claim
                assert claim is not None
                line[MALFORMED_COLUMN] = (
                    f"SV1 at segment {seg.number} {problem} (claim {claim.values['claim_id']!r}, "
                    f"CLM at segment {claim.segment}); the line cannot be mapped"
                )
                self.note(seg, line[MALFORMED_COLUMN], severity="error")
        check_component(seg.get("SV101-1"), self._seps(seg), "SV101", self.source, seg.number)
        line["_sv1"] = "y"
        line["procedure_code_qualifier"] = seg.get("SV101-1")
        line["hcpcs_code"] = seg.get("SV101-2")
        for i in range(1, 5):
            line[f"hcpcs_modifier_{i}"] = seg.get(f"SV101-{i + 2}")
        line["charge_amount"] = seg.get("SV102")
        line["unit_basis"] = seg.get("SV103")
        line["service_unit_quantity"] = seg.get("SV104")
        if seg.get("SV105"):
            line["place_of_service_code"] = seg.get("SV105")
        pointers = [seg.get(f"SV107-{i}") for i in range(1, 5)]
        for i, pointer in enumerate(p for p in pointers if p):
            line[f"diagnosis_code_{i + 1}"] = self._diagnosis(seg, pointer)
        self._check_unit_basis(line, seg)

    def _check_unit_basis(self, line: dict[str, str], seg: X12Segment) -> None:
        """Reject minutes (SV103 MJ) on a code that is not anesthesia: they are not units."""
        code = line["hcpcs_code"].strip().upper()
        if line["unit_basis"] != "MJ" or _is_anesthesia(code) or line.get(MALFORMED_COLUMN):
            return
        line[MALFORMED_COLUMN] = (
            f"SV103 'MJ' (minutes) on {code or 'a line without a code'} at segment "
            f"{seg.number}: only anesthesia codes ({ANESTHESIA_CODES[0]}-{ANESTHESIA_CODES[1]}) "
            f"are billed in minutes, so SV104 {line['service_unit_quantity']!r} is not a number "
            "of units; send the line with SV103 'UN' and its units of service"
        )
        self.note(seg, line[MALFORMED_COLUMN], "SV103", severity="error")

    def _open_orphan(self, seg: X12Segment) -> None:
        """A stand-in claim for service lines with no CLM above them in their transaction."""
        self.claim = _Claim(
            seg.number,
            {"x12_transaction": self.ctx.transaction},
            broken=f"there is no CLM above it in transaction {self.ctx.transaction!r}",
            orphan=True,
        )

    def _break_claim(self, seg: X12Segment, what: str) -> None:
        """Lines from here on are not given to the open claim: a CLM seems to be missing."""
        claim = self.claim
        assert claim is not None
        if not claim.broken:
            claim.broken = (
                f"{what} at segment {seg.number} in claim {claim.values['claim_id']!r} (CLM at "
                f"segment {claim.segment}), so a CLM is probably missing before it"
            )

    def _reject_if_unclaimed(self, line: dict[str, str], seg: X12Segment, what: str) -> bool:
        """Reject `line` (with an error finding) when it has no claim; True if it was."""
        claim = self.claim
        if claim is None or not claim.broken:
            return False
        line[MALFORMED_COLUMN] = f"{what} cannot be given to a claim: {claim.broken}"
        line["_unclaimed"] = "y"
        self.note(seg, line[MALFORMED_COLUMN], severity="error")
        return True

    def _diagnosis(self, seg: X12Segment, pointer: str) -> str:
        claim = self.claim
        assert claim is not None
        if claim.orphan:
            return ""
        if not pointer.isdigit() or not 1 <= int(pointer) <= len(claim.diagnoses):
            self.note(
                seg,
                f"diagnosis pointer {pointer!r} does not point to one of the claim's "
                f"{len(claim.diagnoses)} HI diagnosis positions",
                "SV107",
            )
            return ""
        code = claim.diagnoses[int(pointer) - 1]
        if not code:
            self.note(
                seg,
                f"diagnosis pointer {pointer} points to an HI position without a readable "
                "diagnosis code",
                "SV107",
            )
        return code

    def _close_line(self) -> None:
        if self.line is None or self.claim is None:
            return
        if not self.line.pop("_sv1", "") and not self.line.get(MALFORMED_COLUMN):
            self.line[MALFORMED_COLUMN] = (
                f"service line LX*{self.line['claim_line_number']} (segment "
                f"{self.line['x12_line_segment']}) has no SV1 professional service segment"
            )
        self.line["_end"] = str(self.at - 1)
        self.claim.lines.append(self.line)
        self.line = None

    def _close_claim(self) -> None:
        self._close_line()
        claim = self.claim
        if claim is None:
            return
        self.claim = None
        if claim.orphan:
            self._emit(claim)
            return
        if not claim.lines:
            self.note(claim.segment, f"claim {claim.values['claim_id']!r} has no service lines")
            self.claim_spans.append((claim.segment, self.at - 1, claim.values["claim_id"]))
            return
        self.claim_spans.append((claim.segment, self.at - 1, claim.values["claim_id"]))
        self._emit(claim)

    def _emit(self, claim: _Claim) -> None:
        for line in claim.lines:
            end = int(line.pop("_end"))
            self.line_spans.append((int(line["x12_line_segment"]), end, str(len(self.rows) + 1)))
            row = dict(claim.values)
            row["rendering_npi"] = claim.rendering_npi
            row["claim_line_start_date"] = claim.claim_date
            row["service_zip"] = claim.facility_zip or self.ctx.billing_zip
            if line.pop("_unclaimed", ""):
                row["claim_id"] = row["x12_claim_segment"] = ""
            row.update({k: v for k, v in line.items() if v != "" or k == MALFORMED_COLUMN})
            self.rows.append(row)

    def _seps(self, seg: X12Segment):
        for ix in self.doc.interchanges:
            if ix.first_segment <= seg.number < ix.first_segment + ix.segments:
                return ix.separators
        return self.doc.interchanges[-1].separators


def _is_anesthesia(code: str) -> bool:
    return len(code) == 5 and code.isdigit() and ANESTHESIA_CODES[0] <= code <= ANESTHESIA_CODES[1]
