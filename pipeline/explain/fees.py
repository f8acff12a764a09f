"""Price a code the way the scrub does: tiny synthetic claims through `price_lines`.

Each claim is its own patient, so lines of different claims never meet in a same-day rule
(multiple procedures, bilateral, injections); lines of one claim do, exactly as in a batch.
The charge is set far above any fee so the lower-of-charge rule never applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from pipeline.extract.claims import normalize_batch
from pipeline.extract.releases import ReferenceData
from pipeline.scrub.price import price_lines

# Place of service used for each setting: office and on-campus hospital outpatient.
SETTING_POS = {"non_facility": "11", "facility": "22"}
COMPONENTS = {"": "global", "26": "professional (26)", "TC": "technical (TC)"}
LOCATION_RULES = frozenset(
    {
        "NO_LOCATION",
        "LOCALITY_DEFAULTED",
        "ZIP_NOT_FOUND",
        "LOCALITY_NOT_FOUND",
        "ZIP_NEEDS_PLUS_FOUR",
    }
)
_CHARGE = "9999999.99"
_KEY = b"claims-scrub explain: synthetic lines only"


@dataclass(frozen=True)
class Place:
    """Where the service is priced: a ZIP, or a carrier and locality, or neither (national)."""

    zip5: str = ""
    carrier: str = ""
    locality: str = ""


@dataclass(frozen=True)
class Claim:
    """Codes billed together for one patient on one day, with one modifier, in one setting."""

    codes: tuple[str, ...]
    modifier: str
    setting: str


@dataclass
class PricedClaim:
    claim: Claim
    lines: list[dict]

    @property
    def allowed_cents(self) -> int | None:
        """Total expected allowed, or None when any line is not priced."""
        amounts = [line["allowed_cents"] for line in self.lines]
        return None if any(a is None for a in amounts) else sum(amounts)


def rvu_text(hundredths) -> str:
    return f"{int(hundredths) / 100:.2f}"


def gpci_text(thousandths) -> str:
    return f"{int(thousandths) / 1000:.3f}"


def cf_text(ten_thousandths) -> str:
    return f"{int(ten_thousandths) / 10000:.4f}"


def _int(value) -> int | None:
    return None if pd.isna(value) else int(value)


def price_claims(
    ref: ReferenceData, dos: date, place: Place, claims: list[Claim]
) -> list[PricedClaim]:
    """Price each claim with the scrub's own pricing; lines keep the breakdown columns."""
    rows = []
    for number, claim in enumerate(claims, 1):
        for line_no, code in enumerate(claim.codes, 1):
            rows.append(
                {
                    "claim_id": f"EXPLAIN-{number}",
                    "claim_line_number": str(line_no),
                    "patient_id": f"explain-{number}",
                    "payer": "Medicare Part B",
                    "rendering_npi": "explain",
                    "billing_npi": "explain",
                    "claim_line_start_date": dos.isoformat(),
                    "place_of_service_code": SETTING_POS[claim.setting],
                    "hcpcs_code": code,
                    "hcpcs_modifier_1": claim.modifier,
                    "service_unit_quantity": "1",
                    "charge_amount": _CHARGE,
                    "service_zip": place.zip5,
                    "carrier": place.carrier,
                    "locality": place.locality,
                }
            )
    raw = pd.DataFrame(rows).astype("string")
    result = price_lines(normalize_batch(raw, patient_key=_KEY), ref)
    notes: dict[int, list[tuple[str, str]]] = {}
    for idx, rule, reason in result.flags[["line_index", "rule_code", "reason"]].itertuples(
        index=False
    ):
        notes.setdefault(int(idx), []).append((str(rule), str(reason)))
    lines = [_line(row, notes.get(i, [])) for i, row in enumerate(result.lines.to_dict("records"))]
    out, at = [], 0
    for claim in claims:
        out.append(PricedClaim(claim, lines[at : at + len(claim.codes)]))
        at += len(claim.codes)
    return out


def _line(row: dict, flags: list[tuple[str, str]]) -> dict:
    priced = row["line_status"] in ("priced", "not_payable", "carrier_priced")
    number = not pd.isna(row["work_rvu"])
    return {
        "code": row["hcpcs"],
        "modifier": row["pricing_modifier"],
        "setting": row["setting"],
        "place_of_service": row["pos"],
        "line_status": row["line_status"],
        "status_code": row["status_code"],
        "release": row["release"],
        "pricing_locality": row["pricing_locality"],
        "locality_source": row["locality_source"],
        "gpci": {
            "work": gpci_text(row["gpci_work"]),
            "pe": gpci_text(row["gpci_pe"]),
            "mp": gpci_text(row["gpci_mp"]),
        },
        "rvu": (
            {
                "work": rvu_text(row["work_rvu"]),
                "pe": rvu_text(row["pe_rvu"]),
                "mp": rvu_text(row["mp_rvu"]),
            }
            if priced and number
            else None
        ),
        "conversion_factor": cf_text(row["conversion_factor"]) if priced and number else None,
        "fee_schedule_cents": _int(row["fee_schedule_cents"]) if priced else None,
        "opps_cap_applied": bool(row["opps_cap_applied"]),
        "allowed_cents": _int(row["expected_allowed_cents"])
        if row["line_status"] == "priced"
        else None,
        "adjustments": row["adjustments"],
        "notes": [f"{rule}: {reason}" for rule, reason in flags if rule not in LOCATION_RULES],
        "location_flags": [rule for rule, _ in flags if rule in LOCATION_RULES],
    }
