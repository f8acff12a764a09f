"""Render an explain_code() document as plain text for the terminal."""

from __future__ import annotations

import textwrap

from pipeline.explain.fees import COMPONENTS, SETTING_POS

WIDTH = 100
SETTING_WORDS = {"non_facility": "non-facility", "facility": "facility"}
STATUS_WORDS = {
    "carrier_priced": "carrier-priced",
    "not_payable": "not paid",
    "other_fee_schedule": "other schedule",
}


def money(cents: int | None) -> str:
    if cents is None:
        return "not priced"
    return f"{'-' if cents < 0 else ''}${abs(cents) / 100:,.2f}"


def signed(cents: int | None) -> str:
    if cents is None:
        return "n/a"
    return ("+" if cents > 0 else "") + money(cents)


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(
        text,
        WIDTH,
        initial_indent=indent,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )


def _component(mod: str) -> str:
    return COMPONENTS[mod]


def _header(doc: dict) -> list[str]:
    rel, loc, gpci = doc["release"], doc["locality"], doc["locality"]["gpci"]
    if loc["key"] == "national":
        place, via = "national", "no --locality or --zip"
    else:
        place = f"{loc['key']} {loc['name']}, {loc['state']}"
        via = f"ZIP {loc['zip']}" if loc["zip"] else loc["from"]
    out = [
        f"{doc['code']} on {doc['date_of_service']}: release {rel['name']} (in force "
        f"{rel['in_force_from']} to {rel['in_force_until']}), conversion factor "
        f"{rel['conversion_factor']}",
        f"Locality {place} (from {via}): GPCI work {gpci['work']}, PE {gpci['pe']}, "
        f"MP {gpci['mp']}",
    ]
    if loc["zip_needs_plus_four"]:
        out.append("  CMS splits this ZIP by ZIP+4; priced with its ZIP5 locality.")
    out.append(f"Status {doc['status']['code']}: {doc['status']['meaning']}")
    return out


def _rvus(doc: dict) -> list[str]:
    out = ["", f"{'RVUs':<20}{'work':>8}{'PE non-facility':>18}{'PE facility':>16}{'MP':>8}"]
    for r in doc["rvus"]:
        nf = r["pe_non_facility"] + (" NA" if r["pe_non_facility_na"] else "")
        f = r["pe_facility"] + (" NA" if r["pe_facility_na"] else "")
        out.append(f"  {_component(r['modifier']):<18}{r['work']:>8}{nf:>18}{f:>16}{r['mp']:>8}")
    if any(r["pe_non_facility_na"] or r["pe_facility_na"] for r in doc["rvus"]):
        out.append("  NA: CMS marks that setting's practice expense not applicable.")
    return out


def _amounts(doc: dict) -> list[str]:
    heads = [f"{SETTING_WORDS[s]} (POS {pos})" for s, pos in SETTING_POS.items()]
    out = ["", f"{'Allowed':<20}" + "".join(f"{h:>24}" for h in heads)]
    by_component: dict[str, dict[str, dict]] = {}
    for a in doc["amounts"]:
        by_component.setdefault(a["modifier"], {})[a["setting"]] = a
    notes = []
    for mod, cells in by_component.items():
        row = f"  {_component(mod):<18}"
        for setting in SETTING_POS:
            a = cells[setting]
            status = a["line_status"]
            shown = (
                money(a["allowed_cents"])
                if status == "priced"
                else STATUS_WORDS.get(status, status)
            )
            row += f"{shown + (' *' if a['notes'] else ''):>24}"
            notes += [f"{_component(mod)}, {SETTING_WORDS[setting]}: {n}" for n in a["notes"]]
        out.append(row)
    if any(a["line_status"] == "priced" for a in doc["amounts"]):
        out.append(
            "  = (work RVU x GPCI + PE RVU x GPCI + MP RVU x GPCI) x CF, half-up to the cent"
        )
    for note in notes:
        out += _wrap("* " + note, "  ")
    return out


def _indicators(doc: dict) -> list[str]:
    out = ["", "Policy indicators"]
    for i in doc["indicators"]:
        out.append(f"  {i['indicator'] + ' ' + i['value']:<28}{i['meaning']}")
    return out


# Partner codes listed per group in text; a code can have thousands (99213: 5,947 in one).
SHOWN_PARTNERS = 40


def _codes_line(label: str, rows: list[dict], all_codes: bool) -> list[str]:
    if not rows:
        return []
    shown = rows if all_codes else rows[:SHOWN_PARTNERS]
    codes = " ".join(r["code"] for r in shown)
    if len(shown) < len(rows):
        codes += f" ... and {len(rows) - len(shown):,} more (--all-codes lists them)"
    return _wrap(f"{label} ({len(rows):,}): {codes}", "    ")


def _ncci(doc: dict, all_codes: bool = False) -> list[str]:
    n, code = doc["ncci"], doc["code"]
    lag = f"; {n['days_older_than_the_quarter']} days older than this date's quarter"
    out = [
        "",
        f"NCCI edits (practitioner tables {n['release']}, from {n['effective']}"
        f"{lag if n['days_older_than_the_quarter'] else ''})",
    ]
    for side, words in (
        ("bundles", f"{code} bundles these (it is column 1; the other line is denied)"),
        ("bundled_into", f"These bundle {code} (it is column 2; the {code} line is denied)"),
    ):
        rows = n[side]
        if not rows:
            out.append(f"  {words}: none")
            continue
        out.append(f"  {words}:")
        never = [r for r in rows if r["modifier_indicator"] == 0]
        out += _codes_line("MI 0, no modifier bypasses", never, all_codes)
        bypass = [r for r in rows if r["modifier_indicator"] == 1]
        if bypass:
            label = f"MI 1, a modifier may bypass: {bypass[0]['bypass_modifiers']}"
            out += _codes_line(label, bypass, all_codes)
    mue = n["mue"]
    if mue:
        per = "line" if mue["mai"] == 1 else "day"
        out += _wrap(f"MUE: {mue['units']} per {per}, MAI {mue['mai']}: {mue['meaning']}", "  ")
    else:
        out.append("  MUE: none published (some MUEs are confidential)")
    addon = n["addon"]
    if addon:
        primaries = " ".join(addon["primaries"]) or "none listed"
        if addon["contractor_defined"]:
            primaries += " (plus primaries the MAC defines)"
        out += _wrap(
            f"Add-on code, edit type {addon['edit_type']} ({addon['meaning']}); primaries: "
            f"{primaries}",
            "  ",
        )
    else:
        out.append("  Add-on: no")
    return out


def _tips(doc: dict) -> list[str]:
    out = ["", "Billing tips (pipeline/scrub/coding_tips.yaml; the scrub raises the same as flags)"]
    if not doc["tips"]:
        out.append("  none for this code")
    for number, tip in enumerate(doc["tips"], 1):
        out += _wrap(f"{number}. {tip['title']} [{tip['id']}, flag {tip['scrub_rule']}]", "  ")
        out += _wrap(tip["advice"], "     ")
        effect = tip["effect"]
        if effect:
            out += _wrap(
                f"Effect of the correct coding ({' + '.join(effect['correct'])}) at "
                f"{doc['locality']['key']}, against {effect['compared']}:",
                "     ",
            )
            for case in effect["cases"]:
                label = f"{_component(case['modifier'])}, {SETTING_WORDS[case['setting']]}"
                out.append(
                    f"       {label:<34}{money(case['incorrect_cents']):>12} -> "
                    f"{money(case['correct_cents']):>10}   {signed(case['effect_cents'])}"
                )
        else:
            out += _wrap("Effect: " + tip["effect_note"], "     ")
        for source in tip["sources"]:
            out += _wrap(f"Source: {source['title']}: {source['says']}.", "     ")
            out.append(f"       {source['url']}")
    return out


def _denials(doc: dict) -> list[str]:
    d = doc["denials"]
    if not d["available"]:
        return ["", f"Denial patterns: {d['note']}"]
    out = [
        "",
        f"Denial patterns ({d['denials']} denials of {doc['code']} in the remittance history, "
        f"{d['lookback_days']} days back from the newest; a pattern needs "
        f"{d['minimum_per_pattern']} or more)",
    ]
    if not d["patterns"]:
        out.append("  none with enough denials")
    for p in d["patterns"]:
        out.append(
            f"  {p['payer'] or 'payer not named'}, modifiers {p['modifiers'] or 'none'}: "
            f"{p['reason_code']} {p['denials']} denials ({p['first_date_of_service']} to "
            f"{p['last_date_of_service']})"
        )
    return out


def render(doc: dict, *, all_codes: bool = False) -> str:
    """The whole document as text lines; NCCI partners shortened unless `all_codes`."""
    lines = [*_header(doc), *_rvus(doc), *_amounts(doc), *_indicators(doc)]
    lines += [*_ncci(doc, all_codes), *_tips(doc), *_denials(doc)]
    return "\n".join(lines) + "\n"
