"""Policy indicators of the RVU file and NCCI indicators, in words.

Paraphrased from the CMS RVU25D record layout (RVU25D.txt, "Attachment A" and the field list)
and the NCCI MUE and PTP documentation summarised in docs/edits.md.
"""

from __future__ import annotations

STATUS = {
    "A": "active: paid separately under the fee schedule",
    "B": "bundled: never paid separately; payment is in other services",
    "C": "carrier-priced: the MAC sets the amount case by case",
    "D": "deleted",
    "E": "excluded from the fee schedule by regulation",
    "F": "deleted (no grace period)",
    "G": "not valid for Medicare; another code is used (grace period)",
    "H": "deleted component (26 or TC)",
    "I": "not valid for Medicare; another code is used",
    "J": "anesthesia: paid by base and time units, no RVUs",
    "M": "measurement code: reported, not paid",
    "N": "not covered by Medicare",
    "P": "bundled or excluded: no separate payment",
    "R": "restricted coverage: carrier-priced when covered",
    "T": "injection: paid only when no other fee-schedule service is billed that day",
    "X": "statutory exclusion: paid under another fee schedule, if at all",
}

# (column in the RVU table, label, meanings by value)
INDICATORS: tuple[tuple[str, str, dict[str, str]], ...] = (
    (
        "pctc",
        "PC/TC",
        {
            "0": "physician service; 26 and TC do not apply",
            "1": "diagnostic test with a professional (26) and a technical (TC) component",
            "2": "professional-component-only code; no 26 or TC",
            "3": "technical-component-only code; no 26 or TC",
            "4": "global-test-only code (its PC and TC have codes of their own)",
            "5": "incident-to service; not payable for hospital patients",
            "6": "laboratory physician interpretation; TC not allowed",
            "7": "therapy service not payable to an independent PT/OT in a hospital",
            "8": "physician interpretation of an abnormal smear (inpatient)",
            "9": "concept does not apply",
        },
    ),
    (
        "glob_days",
        "Global days",
        {
            "000": "minor or endoscopic procedure; pre- and post-op care on the day only",
            "010": "minor procedure; the day of and 10 post-operative days",
            "090": "major surgery; the day before, the day of and 90 post-operative days",
            "MMM": "maternity; the usual global period does not apply",
            "XXX": "global concept does not apply",
            "YYY": "the MAC sets the global period",
            "ZZZ": "included in the global period of another service (add-on)",
        },
    ),
    (
        "mult_proc",
        "Multiple procedure",
        {
            "0": "no multiple-procedure reduction",
            "1": "pre-1995 reduction rules (deleted codes only)",
            "2": "standard reduction: highest 100%, others 50%, 6th and later by report",
            "3": "endoscopy family rules (base code subtracted), then standard ranking",
            "4": "diagnostic imaging: TC of 2nd and later 50%, PC 95% (5% off)",
            "5": "therapy: practice expense of 2nd and later units 50%",
            "6": "diagnostic cardiovascular: TC of 2nd and later 75%",
            "7": "diagnostic ophthalmology: TC of 2nd and later 80%",
            "9": "concept does not apply",
        },
    ),
    (
        "bilat",
        "Bilateral",
        {
            "0": "150% does not apply: both sides together are paid as one (100%)",
            "1": "150% of one side for 50, RT+LT or 2 units",
            "2": "already bilateral: 100% for both sides",
            "3": "each side paid at 100% (radiology and other diagnostic tests)",
            "9": "concept does not apply",
        },
    ),
    (
        "asst",
        "Assistant at surgery",
        {
            "0": "paid only with documentation of medical necessity",
            "1": "never paid (statutory restriction)",
            "2": "payable (16%; 13.6% for a PA/NP/CNS with AS)",
            "9": "concept does not apply",
        },
    ),
    (
        "co_surg",
        "Co-surgeons (62)",
        {
            "0": "not permitted",
            "1": "paid with documentation of medical necessity (62.5% each)",
            "2": "permitted when the two specialties differ (62.5% each)",
            "9": "concept does not apply",
        },
    ),
    (
        "team",
        "Team surgery (66)",
        {
            "0": "not permitted",
            "1": "paid with documentation; priced by report",
            "2": "permitted; priced by report",
            "9": "concept does not apply",
        },
    ),
    (
        "img_family",
        "Imaging family",
        {
            "88": "subject to the diagnostic imaging TC and PC reductions",
            "99": "concept does not apply",
        },
    ),
)

MAI = {
    1: "line edit: units on each claim line are compared; medically necessary extra units "
    "go on another line with 76, 77, 91, an anatomic modifier or 59/X{EPSU}",
    2: "date-of-service edit, policy: units of the day on all claims are summed; never paid "
    "above it, not even on appeal",
    3: "date-of-service edit, clinical: units of the day on all claims are summed; paid above "
    "it only on appeal with the medical records",
}

MODIFIER_INDICATOR = {
    0: "no modifier bypasses the edit",
    1: "an NCCI-associated modifier may bypass the edit when the services were distinct",
}

AOC_EDIT_TYPE = {
    1: "payable only with one of the CMS-listed primary codes the same day",
    2: "CMS lists no primaries; the MAC decides",
    3: "CMS lists some primaries; the MAC may accept others",
}


def indicator_words(column: str, value: str) -> str:
    """Meaning of one indicator value ('unknown value' when CMS defines none)."""
    for name, _label, meanings in INDICATORS:
        if name == column:
            if column == "img_family" and value[:2].isdigit() and value not in meanings:
                return "diagnostic imaging family " + value
            return meanings.get(value, "value not defined in the CMS file documentation")
    raise KeyError(column)
