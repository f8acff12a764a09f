"""The billing-tip catalog (coding_tips.yaml): valid codes, and every tip fires in the scrub.

Each tip gets a small batch built from its own catalog entry, so a tip added to the YAML is
tested without a new test; then the correct coding is shown not to fire it.
"""

from __future__ import annotations

import pytest

from pipeline.extract.ncci import bundled_ncci
from pipeline.scrub.tips import KIND_RULES, coding_tips, tips_for
from tests.conftest import flags_of

TIPS = coding_tips()


def _hits(result, tip) -> list[int]:
    """1-based input rows where the tip's own flag fired."""
    f = result.flags
    own = f["reason"].str.contains(f"[tip {tip.id}]", regex=False)
    mine = f[(f["rule_code"] == tip.rule) & own]
    return sorted(int(r) for r in mine["input_row"])


@pytest.fixture
def edits(scrub):
    def run(*rows):
        return scrub(*rows, ncci=bundled_ncci())

    return run


def test_catalog_has_every_kind_and_the_lung_tips():
    ids = {t.id for t in TIPS}
    assert {
        "LUNG_VQ_QUANTITATIVE_COMBINATION",
        "LUNG_PERFUSION_DIFFERENTIAL_PERCENTAGES",
        "LUNG_PERFUSION_AGENT",
    } <= ids
    assert {t.kind for t in TIPS} == set(KIND_RULES)
    assert [t.id for t in tips_for("78597")] == [
        "LUNG_VQ_QUANTITATIVE_COMBINATION",
        "LUNG_PERFUSION_DIFFERENTIAL_PERCENTAGES",
        "LUNG_PERFUSION_AGENT",
    ]


@pytest.mark.parametrize("tip", TIPS, ids=lambda t: t.id)
def test_every_tip_code_exists_in_every_loaded_release(tip, reference):
    for release in reference.releases:
        known = set(release.rvu["hcpcs"])
        missing = [c for c in tip.all_codes if c not in known]
        assert not missing, f"{tip.id}: {missing} not in {release.name}"


@pytest.mark.parametrize("tip", TIPS, ids=lambda t: t.id)
def test_every_source_is_public_and_says_what_it_supports(tip):
    assert tip.sources
    for source in tip.sources:
        assert source.url.startswith("https://") and source.title and source.says


@pytest.mark.parametrize("tip", [t for t in TIPS if t.kind == "combination"], ids=lambda t: t.id)
def test_combination_tip_fires_on_the_separate_codes(tip, edits):
    """The codes billed separately the same day: every line but the first is flagged, also when
    a bypass modifier got it through the PTP edit; one line of the combination code is clean;
    another day or another patient is not the same service."""
    separate = [{"hcpcs_code": c} for c in tip.billed]
    separate[-1]["hcpcs_modifier_1"] = "59"
    result = edits(*separate)
    assert _hits(result, tip) == list(range(2, len(tip.billed) + 1))
    risk = result.flags.query(f"rule_code == '{tip.rule}'")["dollars_at_risk_cents"].tolist()
    assert risk == result.lines["expected_allowed_cents"].iloc[1:].tolist()

    assert _hits(edits({"hcpcs_code": tip.instead}), tip) == []
    apart = [{"hcpcs_code": c, "patient_id": f"P{i}"} for i, c in enumerate(tip.billed)]
    assert _hits(edits(*apart), tip) == []


def test_lung_combination_dollars_at_risk_houston(edits):
    """78597 + 78579-59 in Houston (04412-18), office: PTP 78597/78579 (MI 1) lets 78579 through
    with 59, so only the tip flags it. Its expected allowed is
    (0.49*1.014 + 4.52*1.003 + 0.05*1.409) * 32.3465 = 5.10087 * 32.3465 = 164.9953 -> $165.00."""
    result = edits({"hcpcs_code": "78597"}, {"hcpcs_code": "78579", "hcpcs_modifier_1": "59"})
    assert "COMBINATION_CODE_EXISTS" in flags_of(result, 2)
    assert "PTP_MODIFIER_NEEDED" not in flags_of(result, 2)
    hit = result.flags.query("rule_code == 'COMBINATION_CODE_EXISTS'").iloc[0]
    assert hit["dollars_at_risk_cents"] == 16500
    assert hit["reason"] == (
        "78579 is billed the same day as 78597: bill 78598 once in place of 78597 + 78579, "
        "not a bypass modifier [tip LUNG_VQ_QUANTITATIVE_COMBINATION]."
    )
    assert hit["severity"] == "warning"


@pytest.mark.parametrize("tip", [t for t in TIPS if t.kind == "documentation"], ids=lambda t: t.id)
def test_documentation_tip_fires_on_its_code(tip, edits):
    result = edits({"hcpcs_code": tip.code}, {"hcpcs_code": tip.code, "hcpcs_modifier_1": "26"})
    assert _hits(result, tip) == [1, 2]
    assert set(result.flags.query(f"rule_code == '{tip.rule}'")["severity"]) == {"info"}
    assert _hits(edits({"hcpcs_code": tip.instead}), tip) == []


@pytest.mark.parametrize("tip", [t for t in TIPS if t.kind == "supply"], ids=lambda t: t.id)
def test_supply_tip_fires_without_the_supply(tip, edits):
    """Each study code alone (global, then TC) is flagged; with one code of every supply group
    the same day, or billed -26 (the facility bought the supply), it is not."""
    for code in tip.codes:
        alone = edits({"hcpcs_code": code}, {"hcpcs_code": code, "hcpcs_modifier_1": "TC"})
        assert _hits(alone, tip) == [1, 2]
        supplied = [{"hcpcs_code": code}] + [{"hcpcs_code": group[-1]} for group in tip.needs]
        assert _hits(edits(*supplied), tip) == []
        assert _hits(edits({"hcpcs_code": code, "hcpcs_modifier_1": "26"}), tip) == []


def test_supply_tip_names_each_missing_group(edits):
    result = edits({"hcpcs_code": "78598"})
    reason = result.flags.query("rule_code == 'SUPPLY_NOT_BILLED'")["reason"].iloc[0]
    assert reason.startswith("78598 (global or TC) has no line of A9540 and A9567 or A9558 ")
    half = edits({"hcpcs_code": "78598"}, {"hcpcs_code": "A9558"})
    reason = half.flags.query("rule_code == 'SUPPLY_NOT_BILLED'")["reason"].iloc[0]
    assert reason.startswith("78598 (global or TC) has no line of A9540 the same day")
