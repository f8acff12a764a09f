"""Denial patterns for one code from the organization's own remittances.

Reads the matched remittance lines that `claims-scrub run` keeps under
`OUT/history/remittance/` (report.denial_patterns.read_remittance, the same reader and
counting as the work queue's risk notes; docs/reports.md, "Denial patterns"). A payer x
modifiers x reason combination of the code is shown only when at least
`denial_patterns.min_denials` denials support it (report_settings.yaml).
"""

from __future__ import annotations

import logging

from pipeline.report.denial_patterns import (
    REMITTANCE_PREFIX,
    denial_counts,
    read_remittance,
    shown_patterns,
)
from pipeline.report.settings import report_settings
from pipeline.report.storage import Destination

logger = logging.getLogger(__name__)


def denial_patterns(root: Destination | None, code: str) -> dict[str, object]:
    """Denial patterns of `code` supported by enough denials, most denials first."""
    if root is None:
        return {
            "available": False,
            "note": "no remittance history (pass --reports OUT, the folder given to "
            "`claims-scrub run --out`)",
        }
    remit = read_remittance(root)
    if remit.empty:
        return {
            "available": False,
            "note": f"no remittance history: no matched remittance lines in "
            f"{root.uri(REMITTANCE_PREFIX)} (run `claims-scrub run --remits FILE.835 --out "
            f"{root.root}` to add them)",
        }
    rules = report_settings()["denial_patterns"]
    counts = denial_counts(remit, lookback_days=rules["lookback_days"])
    counts = counts[counts["procedure_code"] == code]
    patterns = shown_patterns(counts, min_denials=rules["min_denials"])
    return {
        "available": True,
        "remittance_rows": len(remit),
        "denials": int(counts["denials"].sum()),
        "minimum_per_pattern": int(rules["min_denials"]),
        "lookback_days": int(rules["lookback_days"]),
        "patterns": [
            {
                "payer": p["payer"],
                "modifiers": p["modifiers"],
                "reason_code": p["reason_code"],
                "denials": int(p["denials"]),
                "first_date_of_service": _day(p["first_date_of_service"]),
                "last_date_of_service": _day(p["last_date_of_service"]),
            }
            for p in patterns.to_dict("records")
        ],
    }


def _day(value) -> str | None:
    return None if value is None or value != value else value.strftime("%Y-%m-%d")
