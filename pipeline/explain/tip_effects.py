"""Billing tips for one code, each with the dollar effect of the correct coding.

The effect is priced with the scrub's own pricing (fees.price_claims) at the chosen locality
and date: the correct coding's expected allowed minus the incorrect coding's. It can be
negative: then the fix is a compliance fix, not revenue.
"""

from __future__ import annotations

from datetime import date

from pipeline.explain.fees import Claim, Place, price_claims
from pipeline.explain.words import STATUS
from pipeline.extract.releases import ReferenceData, Release
from pipeline.scrub.tips import Tip, tips_for


def variants(release: Release, codes: tuple[str, ...]) -> list[tuple[str, str]]:
    """The billing situations a tip is priced in: (modifier, setting).

    Codes that all have 26 and TC rows: global in the office, the professional component in a
    facility, the technical component in the office. Other codes: global in both settings.
    """
    rvu = release.rvu
    rows = rvu[rvu["hcpcs"].isin(codes)]
    has = {m: set(rows.loc[rows["mod"] == m, "hcpcs"]) >= set(codes) for m in ("26", "TC")}
    if has["26"] and has["TC"]:
        return [("", "non_facility"), ("26", "facility"), ("TC", "non_facility")]
    return [("", "non_facility"), ("", "facility")]


def _effect(
    ref: ReferenceData, release: Release, dos: date, place: Place, tip: Tip
) -> dict[str, object]:
    wrong = tip.billed if tip.kind == "combination" else (tip.code,)
    right = (tip.instead,)
    cases = variants(release, (*wrong, *right))
    claims = [Claim(codes, mod, setting) for mod, setting in cases for codes in (wrong, right)]
    priced = price_claims(ref, dos, place, claims)
    rows = []
    for i, (mod, setting) in enumerate(cases):
        before, after = priced[2 * i].allowed_cents, priced[2 * i + 1].allowed_cents
        rows.append(
            {
                "modifier": mod,
                "setting": setting,
                "incorrect_cents": before,
                "correct_cents": after,
                "effect_cents": None if before is None or after is None else after - before,
            }
        )
    if tip.kind == "combination":
        compared = f"{' + '.join(wrong)} all paid (e.g. through a bypass modifier)"
    else:
        compared = f"{tip.code} billed without {tip.requires}"
    return {"incorrect": list(wrong), "correct": list(right), "compared": compared, "cases": rows}


def _supplies(release: Release, tip: Tip) -> list[dict[str, str]]:
    rvu = release.rvu
    out = []
    for group in tip.needs:
        for code in group:
            status = rvu.loc[(rvu["hcpcs"] == code) & (rvu["mod"] == ""), "status"]
            value = str(status.iloc[0]) if len(status) else ""
            out.append(
                {
                    "code": code,
                    "status": value,
                    "meaning": STATUS.get(value, "not in this release"),
                }
            )
    return out


def explain_tips(
    ref: ReferenceData, release: Release, dos: date, place: Place, code: str
) -> list[dict]:
    """Every catalog tip that names `code`, with its effect or, for supplies, their status."""
    out = []
    for tip in tips_for(code):
        entry: dict[str, object] = {
            "id": tip.id,
            "kind": tip.kind,
            "scrub_rule": tip.rule,
            "title": tip.title,
            "advice": tip.advice,
            "sources": [
                {"title": s.title, "url": s.url, "says": s.says, "read": s.read or None}
                for s in tip.sources
            ],
        }
        if tip.kind == "supply":
            supplies = _supplies(release, tip)
            entry["supplies"] = supplies
            entry["effect"] = None
            carrier = all(s["status"] == "C" for s in supplies)
            entry["effect_note"] = (
                "carrier-priced (status C): no fee-schedule dollar figure; the MAC pays the "
                "acquisition cost"
                if carrier
                else "supply statuses: " + ", ".join(f"{s['code']} {s['status']}" for s in supplies)
            )
        else:
            entry["effect"] = _effect(ref, release, dos, place, tip)
        out.append(entry)
    return out
