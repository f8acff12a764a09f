"""Read X12 5010 835 remittance advice: claim payments, service lines, adjustments, PLB.

One row per service line (SVC), or one claim-level row for a claim payment (CLP) without
service lines, so every paid or denied line of the file is reported once. Every CAS
adjustment (group, reason, amount, quantity; up to six per segment) is kept at its own level,
claim or line, and provider-level adjustments (PLB) at theirs. Amounts are integer cents.
Patient and insured names and ids (NM1*QC, NM1*IL, NM1*74) are never read.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline.extract.x12_envelope import Finding, X12FileError, check_component
from pipeline.extract.x12_read import (
    KIND_835,
    X12Segment,
    findings_table,
    iter_segments,
    open_document,
)

logger = logging.getLogger(__name__)

CLAIM_STATUS = {
    "1": "processed as primary",
    "2": "processed as secondary",
    "3": "processed as tertiary",
    "4": "denied",
    "19": "processed as primary, forwarded to another payer",
    "20": "processed as secondary, forwarded to another payer",
    "21": "processed as tertiary, forwarded to another payer",
    "22": "reversal of previous payment",
    "23": "not our claim, forwarded to another payer",
    "25": "predetermination pricing only, no payment",
}
LINE_COLUMNS = (
    "remit_row",
    "remit_claim",
    "level",
    "x12_segment",
    "x12_claim_segment",
    "x12_transaction",
    "payer",
    "payer_id",
    "payee_npi",
    "trace_number",
    "payment_date",
    "claim_id",
    "claim_status",
    "payer_claim_number",
    "claim_filing_indicator",
    "line",
    "line_control_number",
    "paid_qualifier",
    "paid_code",
    "paid_modifiers",
    "billed_code",
    "billed_modifiers",
    "units_paid",
    "units_billed",
    "service_date",
    "service_end_date",
    "rendering_npi",
    "remark_codes",
    "problem",
    "charge_cents",
    "paid_cents",
    "allowed_cents",
)
# DTM qualifiers of a claim payment (2100), never of a service line (2110).
CLAIM_DATES = frozenset({"232", "233", "036", "050"})
_NOT_COMPARED = "the payment is not compared with the expected payment"
INTEGER_COLUMNS = ("remit_row", "remit_claim", "lines", "x12_segment", "x12_claim_segment")
_AMOUNT = re.compile(r"-?([0-9]+(\.[0-9]*)?|\.[0-9]+)")


# Amounts of $10 trillion or more are read as unreadable (an 18-digit element overflows int64).
MAX_CENTS = 10**15


def cents(text: str) -> int | None:
    """X12 decimal text to integer cents ('-9', '1.5', '.50'); None if blank or not 2 decimals."""
    text = text.strip()
    if not _AMOUNT.fullmatch(text):
        return None
    negative = text.startswith("-")
    whole, _, frac = text.lstrip("-").partition(".")
    if len(frac.rstrip("0")) > 2:
        return None
    value = int(whole or "0") * 100 + int((frac + "00")[:2])
    if value >= MAX_CENTS:  # no payment is that large, and it would not fit the Int64 columns
        return None
    return -value if negative else value


@dataclass
class RemitFile:
    """One 835 file: service lines, adjustments, claim payments and provider adjustments."""

    source: str
    lines: pd.DataFrame
    adjustments: pd.DataFrame
    claims: pd.DataFrame
    provider_adjustments: pd.DataFrame
    findings: pd.DataFrame
    details: dict = field(default_factory=dict)


def read_remittance(path: Path) -> RemitFile:
    """Read an 835 file; raise X12FileError (naming the segment) if it cannot be read."""
    doc = open_document(Path(path), KIND_835)
    mapper = _Mapper(doc)
    for seg in iter_segments(doc, KIND_835):
        mapper.feed(seg)
    mapper.at += 1  # the file's last segment ends what is open
    mapper.close_transaction()
    if not mapper.claims:
        raise X12FileError(
            "the remittance holds no claim payment (CLP); nothing to match",
            source=doc.source,
            segment=1,
        )
    lines = _frame(mapper.lines, LINE_COLUMNS)
    adjustments = _frame(
        mapper.adjustments,
        (
            "remit_claim",
            "remit_row",
            "level",
            "x12_segment",
            "claim_id",
            "group",
            "reason",
            "amount_cents",
            "quantity",
        ),
    )
    claims = _frame(
        mapper.claims,
        (
            "remit_claim",
            "x12_segment",
            "claim_id",
            "claim_status",
            "charge_cents",
            "paid_cents",
            "patient_responsibility_cents",
            "adjustments_cents",
            "lines",
            "balanced",
        ),
    )
    plb = _frame(
        mapper.plb,
        ("x12_segment", "provider_id", "fiscal_period_date", "reason", "reference", "amount_cents"),
    )
    findings = sorted(doc.findings + mapper.findings, key=lambda f: f.segment or 0)
    details = {
        "format": "X12 835",
        "interchanges": len(doc.interchanges),
        "transactions": mapper.transactions,
        "claim_payments": len(claims),
        "service_lines": int((lines["level"] == "line").sum()),
        "claim_level_rows": int((lines["level"] == "claim").sum()),
        "provider_adjustments": len(plb),
        "unbalanced_claims": int((~claims["balanced"].astype(bool)).sum()),
        "service_lines_outside_claim_payments": mapper.outside_claims,
    }
    logger.info(
        "%s: %d claim payments, %d service lines, %d findings",
        Path(path).name,
        len(claims),
        details["service_lines"],
        len(findings),
    )
    return RemitFile(
        doc.source,
        lines,
        adjustments,
        claims,
        plb,
        findings_table(findings, mapper.claim_spans, mapper.line_spans, "remit_row"),
        details,
    )


def _frame(rows: list[dict], columns: tuple[str, ...]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(columns))
    for col in columns:
        if col.endswith("_cents") or col in INTEGER_COLUMNS:
            frame[col] = pd.array(frame[col].tolist(), dtype="Int64")
        elif col == "balanced":
            frame[col] = frame[col].astype(bool)
        else:
            frame[col] = frame[col].astype("string").fillna("")
    return frame


class _Mapper:
    def __init__(self, doc) -> None:
        self.doc = doc
        self.source = doc.source
        self.lines: list[dict] = []
        self.adjustments: list[dict] = []
        self.claims: list[dict] = []
        self.plb: list[dict] = []
        self.findings: list[Finding] = []
        self.claim_spans: list[tuple[int, int, str]] = []  # first, last segment, claim id
        self.line_spans: list[tuple[int, int, str]] = []  # first, last segment, remit row
        self.at = 0  # number of the segment being read
        self.transactions = 0
        self.header: dict[str, str] = {}
        self.bpr_paid: int | None = None
        self.bpr_segment = 0
        self.claim: dict | None = None
        self.claim_lines: list[dict] = []
        self.line: dict | None = None
        self.paid_total = 0
        self.plb_total = 0
        self.unread_paid: list[int] = []  # CLP segments of the transaction without CLP04
        self.outside_claims = 0  # service lines with no claim payment (CLP) of their own

    def note(
        self,
        number: int,
        seg_id: str,
        code: str,
        message: str,
        element: str = "",
        *,
        severity: str = "warning",
    ) -> None:
        self.findings.append(Finding(number, seg_id, element, code, message, severity))

    def amount(
        self, seg: X12Segment, ref: str, *, required: bool = True, effect: str = ""
    ) -> int | None:
        """The amount in element `ref` in cents; None, with a finding, if it cannot be read.
        `effect` says what is then not done with it."""
        text = seg.get(ref)
        value = cents(text)
        if value is None and (text or required):
            self.note(
                seg.number,
                seg.id,
                "AMOUNT",
                f"{ref} {text!r} is not an amount in dollars and cents (e.g. 71.34); read as "
                f"missing{'; ' + effect if effect else ''}. Ask the payer for a corrected 835",
                ref,
            )
        return value

    def feed(self, seg: X12Segment) -> None:
        self.at = seg.number
        handler = getattr(self, f"_on_{seg.id.lower()}", None)
        if handler is not None:
            handler(seg)

    # Transaction header
    def _on_st(self, seg: X12Segment) -> None:
        self.close_transaction()
        self.transactions += 1
        self.header = {"x12_transaction": seg.get("ST02")}
        self.paid_total = self.plb_total = 0
        self.unread_paid = []
        self.bpr_paid = None

    def _on_bpr(self, seg: X12Segment) -> None:
        self.bpr_paid = self.amount(seg, "BPR02")
        self.bpr_segment = seg.number
        self.header["payment_date"] = seg.get("BPR16")

    def _on_trn(self, seg: X12Segment) -> None:
        self.header["trace_number"] = seg.get("TRN02")

    def _on_n1(self, seg: X12Segment) -> None:
        if seg.get("N101") == "PR":
            self.header["payer"] = seg.get("N102")
            self.header["payer_id"] = seg.get("N104")
        elif seg.get("N101") == "PE" and seg.get("N103") == "XX":
            self.header["payee_npi"] = seg.get("N104")

    def _on_ref(self, seg: X12Segment) -> None:
        if seg.get("REF01") == "2U" and self.claim is None:
            self.header["payer_id"] = seg.get("REF02")
        elif seg.get("REF01") == "6R" and self.line is not None:
            self.line["line_control_number"] = seg.get("REF02")

    # Claim payment
    def _on_clp(self, seg: X12Segment) -> None:
        self.close_claim()
        status = seg.get("CLP02")
        if status not in CLAIM_STATUS:
            self.note(
                seg.number, "CLP", "STATUS", f"claim status {status!r} is not a known CLP02 code"
            )
        self.claim = _claim_payment(
            remit_claim=len(self.claims) + 1,
            x12_segment=seg.number,
            claim_id=seg.get("CLP01"),
            claim_status=status,
            charge_cents=self.amount(seg, "CLP03"),
            paid_cents=self.amount(
                seg, "CLP04", effect="the claim's paid total is unknown and not compared"
            ),
            patient_responsibility_cents=self.amount(seg, "CLP05", required=False),
            payer_claim_number=seg.get("CLP07"),
            claim_filing_indicator=seg.get("CLP06"),
        )

    def _open_orphan(self, why: str) -> None:
        """A stand-in claim payment for service lines with no CLP of their own."""
        self.claim = _claim_payment(orphan=True, broken=why)

    def _claim_header_after_lines(self, seg: X12Segment, what: str) -> None:
        """A claim payment's own segment (2100) after its service lines: a CLP is probably
        missing, so the lines that follow are not given to this claim."""
        claim = self.claim
        if claim is None or claim["orphan"] or (self.line is None and not self.claim_lines):
            return
        why = (
            f"{what} at segment {seg.number} follows the service lines of claim "
            f"{claim['claim_id']!r} (CLP at segment {claim['x12_segment']}), so a CLP is "
            "probably missing before it"
        )
        self.close_claim()
        self._open_orphan(why)

    def _on_nm1(self, seg: X12Segment) -> None:
        self._claim_header_after_lines(seg, "NM1")
        if self.claim is not None and seg.get("NM101") == "82" and seg.get("NM108") == "XX":
            self.claim["rendering_npi"] = seg.get("NM109")

    def _on_moa(self, seg: X12Segment) -> None:
        self._claim_header_after_lines(seg, "MOA")
        if self.claim is not None:
            self.claim["remarks"] += [seg.get(f"MOA{i:02d}") for i in range(3, 8)]

    def _on_mia(self, seg: X12Segment) -> None:
        self._claim_header_after_lines(seg, "MIA")
        if self.claim is not None:
            self.claim["remarks"] += [seg.get(f"MIA{i:02d}") for i in (5, 20, 21, 22, 23)]

    def _on_dtm(self, seg: X12Segment) -> None:
        qualifier, value = seg.get("DTM01"), seg.get("DTM02")
        if qualifier in CLAIM_DATES:
            self._claim_header_after_lines(seg, f"DTM*{qualifier}")
        if self.line is not None and qualifier in ("472", "150"):
            self.line["service_date"] = value
        elif self.line is not None and qualifier == "151":
            self.line["service_end_date"] = value
        elif self.line is None and self.claim is not None and qualifier in ("232", "233"):
            self.claim["dates"][0 if qualifier == "232" else 1] = value

    def _on_cas(self, seg: X12Segment) -> None:
        level = "line" if self.line is not None else "claim" if self.claim is not None else ""
        if not level or (level == "claim" and self.claim["orphan"]):
            self.note(
                seg.number,
                "CAS",
                "MAP",
                "CAS outside a claim payment (no CLP before it); its adjustments are not counted",
                severity="error",
            )
            return
        group = seg.get("CAS01")
        for i in range(2, 19, 3):
            reason = seg.get(f"CAS{i:02d}")
            amount_text = seg.get(f"CAS{i + 1:02d}")
            if not reason and not amount_text:
                continue
            amount = cents(amount_text)
            if amount is None:
                self.note(
                    seg.number,
                    "CAS",
                    "AMOUNT",
                    f"CAS{i + 1:02d} {amount_text!r} (adjustment {group}-{reason}) is not an "
                    "amount; the adjustment is not counted",
                    f"CAS{i + 1:02d}",
                )
                continue
            row = {
                "remit_claim": self.claim["remit_claim"],
                "remit_row": None,
                "level": level,
                "x12_segment": seg.number,
                "claim_id": self.claim["claim_id"],
                "group": group,
                "reason": reason,
                "amount_cents": amount,
                "quantity": seg.get(f"CAS{i + 2:02d}"),
            }
            if level == "line":
                self.line["_adjustments"].append(row)
            else:
                self.claim["adjustments_cents"] += amount
                self.claim["_adjustments"].append(row)

    def _on_amt(self, seg: X12Segment) -> None:
        if self.line is not None and seg.get("AMT01") == "B6":
            self.line["allowed_cents"] = self.amount(seg, "AMT02")

    def _on_lq(self, seg: X12Segment) -> None:
        if self.line is not None and seg.get("LQ01") == "HE":
            self.line["_remarks"].append(seg.get("LQ02"))

    # Service line
    def _on_svc(self, seg: X12Segment) -> None:
        if self.claim is None:
            why = f"there is no CLP before it in transaction {self.header['x12_transaction']!r}"
            self._open_orphan(why)
        self.close_line()
        seps = next(
            ix.separators
            for ix in reversed(self.doc.interchanges)
            if ix.first_segment <= seg.number
        )
        check_component(seg.get("SVC01-1"), seps, "SVC01", self.source, seg.number)
        paid_code = seg.get("SVC01-2")
        original = seg.get("SVC06-2")
        problem = ""
        if not paid_code:
            problem = (
                "SVC01 has no procedure code; the line can be matched only by line control number"
            )
        modifiers = ":".join(m for m in (seg.get(f"SVC01-{i}") for i in range(3, 7)) if m)
        self.line = {
            "level": "line",
            "x12_segment": seg.number,
            "paid_qualifier": seg.get("SVC01-1"),
            "paid_code": paid_code,
            "paid_modifiers": modifiers,
            "billed_code": original or paid_code,
            "billed_modifiers": (
                ":".join(m for m in (seg.get(f"SVC06-{i}") for i in range(3, 7)) if m)
                if original
                else modifiers
            ),
            "charge_cents": self.amount(seg, "SVC02"),
            "paid_cents": self.amount(seg, "SVC03", effect=_NOT_COMPARED),
            "units_paid": seg.get("SVC05"),
            "units_billed": seg.get("SVC07") or seg.get("SVC05"),
            "problem": problem,
            "_adjustments": [],
            "_remarks": [],
        }
        if self.line["paid_cents"] is None:
            self.line["problem"] = "; ".join(
                p for p in (problem, "SVC03 (paid) is not an amount; " + _NOT_COMPARED) if p
            )

    def close_line(self) -> None:
        if self.line is None or self.claim is None:
            return
        line = self.line
        self.line = None
        line["line"] = str(len(self.claim_lines) + 1)
        line["_end"] = self.at - 1
        self.claim_lines.append(line)

    def close_claim(self) -> None:
        self.close_line()
        claim = self.claim
        if claim is None:
            return
        self.claim = None
        if claim["orphan"]:
            self._emit_orphans(claim)
            return
        rows = self.claim_lines or [
            {
                "level": "claim",
                "x12_segment": claim["x12_segment"],
                "line": "",
                "charge_cents": claim["charge_cents"],
                "paid_cents": claim["paid_cents"],
                "service_date": claim["dates"][0],
                "service_end_date": claim["dates"][1],
                "_adjustments": [],
                "_remarks": [],
            }
        ]
        if rows[0]["level"] == "claim":  # claim-level adjustments belong to its one row
            for adj in claim["_adjustments"]:
                adj["remit_row"] = len(self.lines) + 1
        self.adjustments.extend(claim["_adjustments"])
        self.claim_spans.append((claim["x12_segment"], self.at - 1, claim["claim_id"]))
        line_adjustments = self._emit(claim, rows)
        charge, paid = claim["charge_cents"], claim["paid_cents"]
        balanced = (
            charge is not None
            and paid is not None
            and charge - claim["adjustments_cents"] - line_adjustments == paid
        )
        if charge is None or paid is None:
            self.note(
                claim["x12_segment"],
                "CLP",
                "BALANCE",
                f"claim {claim['claim_id']!r}: the balance cannot be checked, its "
                f"{'charge (CLP03)' if charge is None else 'paid amount (CLP04)'} is unreadable",
            )
        elif not balanced:
            self.note(
                claim["x12_segment"],
                "CLP",
                "BALANCE",
                f"claim {claim['claim_id']!r}: charge {_money(charge)} less adjustments "
                f"{_money(claim['adjustments_cents'] + line_adjustments)} is not the paid "
                f"amount {_money(paid)}",
            )
        self.paid_total += paid or 0
        if paid is None:
            self.unread_paid.append(claim["x12_segment"])
        self.claims.append(
            {
                "remit_claim": claim["remit_claim"],
                "x12_segment": claim["x12_segment"],
                "claim_id": claim["claim_id"],
                "claim_status": claim["claim_status"],
                "charge_cents": charge,
                "paid_cents": paid,
                "patient_responsibility_cents": claim["patient_responsibility_cents"],
                "adjustments_cents": claim["adjustments_cents"] + line_adjustments,
                "lines": len(rows) if rows[0]["level"] == "line" else 0,
                "balanced": balanced,
            }
        )

    def _emit_orphans(self, claim: dict) -> None:
        """Service lines with no claim payment of their own: kept as unmatched rows, each
        with an error finding, so their payments are seen rather than dropped."""
        rows = self.claim_lines
        for line in rows:
            line["problem"] = "; ".join(
                p
                for p in (
                    line["problem"],
                    f"SVC at segment {line['x12_segment']} cannot be given to a claim payment: "
                    f"{claim['broken']}; its payment ({_money(line['paid_cents'])} paid) is not "
                    "matched to any claim line",
                )
                if p
            )
            self.note(line["x12_segment"], "SVC", "MAP", line["problem"], severity="error")
            self.outside_claims += 1
        self._emit(claim, rows)

    def _emit(self, claim: dict, rows: list[dict]) -> int:
        """Add `rows` of `claim` to the line rows; returns their adjustments' total."""
        shared = {
            **self.header,
            "remit_claim": claim["remit_claim"],
            "x12_claim_segment": claim["x12_segment"],
            "claim_id": claim["claim_id"],
            "claim_status": claim["claim_status"],
            "payer_claim_number": claim["payer_claim_number"],
            "claim_filing_indicator": claim["claim_filing_indicator"],
            "rendering_npi": claim["rendering_npi"],
        }
        line_adjustments = 0
        for line in rows:
            row_id = len(self.lines) + 1
            if line["level"] == "line":
                self.line_spans.append((line["x12_segment"], line.pop("_end"), str(row_id)))
            adjustments = line.pop("_adjustments")
            for adj in adjustments:
                adj["remit_row"] = row_id
            self.adjustments.extend(adjustments)
            total = sum(a["amount_cents"] for a in adjustments)
            line_adjustments += total
            remarks = line.pop("_remarks") + (claim["remarks"] if line["level"] == "claim" else [])
            if line["level"] == "line" and not line.get("service_date"):
                line["service_date"] = claim["dates"][0]
            self._check_line(line, total)
            self.lines.append(
                {
                    **shared,
                    **line,
                    "remit_row": row_id,
                    "remark_codes": ":".join(r for r in remarks if r),
                }
            )
        self.claim_lines = []
        return line_adjustments

    def _check_line(self, line: dict, adjustments: int) -> None:
        if line["level"] != "line":
            return
        charge, paid = line.get("charge_cents"), line.get("paid_cents")
        if charge is None or paid is None:
            which = "charge (SVC02)" if charge is None else "paid amount (SVC03)"
            self.note(
                line["x12_segment"],
                "SVC",
                "BALANCE",
                f"service line: the balance cannot be checked, its {which} is unreadable",
            )
        elif charge - adjustments != paid:
            self.note(
                line["x12_segment"],
                "SVC",
                "BALANCE",
                f"service line: charge {_money(charge)} less adjustments {_money(adjustments)} "
                f"is not the paid amount {_money(paid)}",
            )

    # Provider-level adjustments and the end of the transaction
    def _on_plb(self, seg: X12Segment) -> None:
        self.close_claim()
        for i in range(3, 14, 2):
            reason, amount_text = seg.get(f"PLB{i:02d}-1"), seg.get(f"PLB{i + 1:02d}")
            if not reason and not amount_text:
                continue
            amount = cents(amount_text)
            if amount is None:
                self.note(seg.number, "PLB", "AMOUNT", f"PLB{i + 1:02d} is not an amount; skipped")
                continue
            self.plb_total += amount
            self.plb.append(
                {
                    "x12_segment": seg.number,
                    "provider_id": seg.get("PLB01"),
                    "fiscal_period_date": seg.get("PLB02"),
                    "reason": reason,
                    "reference": seg.get(f"PLB{i:02d}-2"),
                    "amount_cents": amount,
                }
            )

    def _on_se(self, seg: X12Segment) -> None:
        self.close_transaction()

    def close_transaction(self) -> None:
        self.close_claim()
        if self.bpr_paid is not None and self.unread_paid:
            at = ("segments " if len(self.unread_paid) > 1 else "segment ") + ", ".join(
                str(n) for n in self.unread_paid
            )
            self.note(
                self.bpr_segment,
                "BPR",
                "BALANCE",
                f"BPR02 {_money(self.bpr_paid)} cannot be checked against the claims' paid "
                f"total: the paid amount (CLP04) of the claim payment at {at} could not be "
                "read",
                "BPR02",
            )
        elif self.bpr_paid is not None and self.bpr_paid != self.paid_total - self.plb_total:
            self.note(
                self.bpr_segment,
                "BPR",
                "BALANCE",
                f"BPR02 {_money(self.bpr_paid)} is not the claims' paid total "
                f"{_money(self.paid_total)} less provider adjustments {_money(self.plb_total)}",
                "BPR02",
            )
        self.bpr_paid = None


def _claim_payment(**fields) -> dict:
    """A claim payment being read: the CLP's `fields` over those of a payment with no CLP."""
    return {
        "remit_claim": None,
        "x12_segment": None,
        "claim_id": "",
        "claim_status": "",
        "charge_cents": None,
        "paid_cents": None,
        "patient_responsibility_cents": None,
        "payer_claim_number": "",
        "claim_filing_indicator": "",
        "adjustments_cents": 0,
        "_adjustments": [],
        "remarks": [],
        "rendering_npi": "",
        "dates": ["", ""],
        "orphan": False,
    } | fields


def _money(value: int | None) -> str:
    if value is None:
        return "(missing)"
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value) // 100}.{abs(value) % 100:02d}"
