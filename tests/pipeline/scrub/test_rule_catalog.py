"""Every rule code that can fire is described in the catalog, and nothing in it is dead."""

from __future__ import annotations

import re
from pathlib import Path

from pipeline.scrub.rules import SEVERITIES, rule_catalog

PIPELINE = Path(__file__).parents[3] / "pipeline"


def _literals(pattern: str) -> set[str]:
    found: set[str] = set()
    paths = [*(PIPELINE / "scrub").glob("*.py"), *(PIPELINE / "validate").glob("*.py")]
    for path in [*paths, PIPELINE / "extract" / "claims.py"]:
        found |= set(re.findall(pattern, path.read_text()))
    return found


def test_every_rule_that_can_fire_is_in_the_catalog():
    """Rule codes given to flags.add or opening a rule tuple must be in the catalog."""
    raised = _literals(r'(?:flags\.add\(\s*|\(\s*)"([A-Z][A-Z0-9_]{3,})"')
    assert {"PTP_BUNDLED", "UNKNOWN_CODE", "MUE_LINE_EXCEEDED", "UNDERPAID"} <= raised
    missing = raised - set(rule_catalog())
    assert not missing, f"add these to pipeline/scrub/rule_catalog.yaml: {sorted(missing)}"


def test_every_catalog_entry_can_fire():
    unused = set(rule_catalog()) - _literals(r'"([A-Z][A-Z0-9_]{3,})"')
    assert not unused, f"catalog entries no code raises: {sorted(unused)}"


def test_catalog_entries_are_complete():
    for rule in rule_catalog().values():
        assert rule.severity in SEVERITIES
        assert rule.title and rule.action and rule.dollars_at_risk


def test_catalog_has_no_repeated_rule_codes():
    text = (PIPELINE / "scrub" / "rule_catalog.yaml").read_text()
    codes = re.findall(r"^([A-Z][A-Z0-9_]+):", text, flags=re.MULTILINE)
    assert len(codes) == len(set(codes)), sorted(c for c in codes if codes.count(c) > 1)
