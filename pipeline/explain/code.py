"""`claims-scrub explain CODE`: everything the scrub knows about one code, as one document.

The fee breakdown comes from the scrub's own pricing (fees.py), the NCCI facts from the tables
the edits apply, the tips from the catalog that raises the scrub's tip flags. The result is a
JSON-ready dict; text.py renders it for the terminal.
"""

from __future__ import annotations

import logging
import re
from datetime import date

import numpy as np

from pipeline.errors import PipelineError
from pipeline.explain import ncci_facts
from pipeline.explain.denials import denial_patterns
from pipeline.explain.fees import (
    COMPONENTS,
    SETTING_POS,
    Claim,
    Place,
    cf_text,
    price_claims,
    rvu_text,
)
from pipeline.explain.tip_effects import explain_tips
from pipeline.explain.words import INDICATORS, STATUS, indicator_words
from pipeline.extract.ncci import NcciRelease, bundled_ncci
from pipeline.extract.releases import BEFORE_FIRST_RELEASE, OUTSIDE_LOADED_YEARS, ReferenceData
from pipeline.report.storage import Destination

logger = logging.getLogger(__name__)

_CODE = re.compile(r"[A-Z0-9]{5}")
# What each priced line shows; release, locality and GPCIs are the same for all and shown once.
AMOUNT_FIELDS = (
    "modifier",
    "setting",
    "place_of_service",
    "line_status",
    "status_code",
    "rvu",
    "conversion_factor",
    "fee_schedule_cents",
    "opps_cap_applied",
    "allowed_cents",
    "adjustments",
    "notes",
)


def parse_date(text: str | None, ref: ReferenceData) -> tuple[date, int]:
    """The date of service (default: the newest release's first day) and its release index."""
    if text is None:
        newest = ref.releases[-1]
        return newest.effective, len(ref.releases) - 1
    try:
        dos = date.fromisoformat(text.strip())
    except ValueError:
        raise PipelineError(f"--date {text!r} is not a date; use YYYY-MM-DD") from None
    rel = int(ref.release_index(np.array([dos], dtype="datetime64[D]"))[0])
    loaded = ", ".join(
        f"{r['release']} {r['in_force_from']} to {r['in_force_until']}" for r in ref.describe()
    )
    if rel == OUTSIDE_LOADED_YEARS:
        raise PipelineError(
            f"--date {dos} is outside the loaded fee-schedule years ({loaded}); pick a date "
            "in them, or load that year's CMS release with --release PATH"
        )
    if rel == BEFORE_FIRST_RELEASE:
        raise PipelineError(
            f"no loaded release is in force yet on {dos} ({loaded}); load the earlier quarterly "
            "release of that year with --release PATH"
        )
    return dos, rel


def _check_code(text: str, ref: ReferenceData, rel: int, dos: date) -> str:
    code = text.strip().upper()
    if not _CODE.fullmatch(code):
        raise PipelineError(
            f"{text!r} is not a HCPCS/CPT code; give its 5 letters or digits, e.g. 78597"
        )
    release = ref.releases[rel]
    if not (release.rvu["hcpcs"] == code).any():
        elsewhere = [r.name for r in ref.releases if (r.rvu["hcpcs"] == code).any()]
        hint = f"; it is in {', '.join(elsewhere)}: pick a date in force there" if elsewhere else ""
        raise PipelineError(
            f"code {code} is not in release {release.name} (in force on {dos}){hint}; check "
            "the code (Medicare may pay it under another fee schedule or code)"
        )
    return code


def _place(locality: str | None, zip5: str | None, ref: ReferenceData, rel: int) -> Place:
    if locality and zip5:
        raise PipelineError("give --locality or --zip, not both")
    gpci = ref.releases[rel].gpci
    if locality:
        key = locality.strip()
        if not re.fullmatch(r"\d{5}-\d{2}", key) or not (gpci["locality_key"] == key).any():
            example = ", ".join(gpci["locality_key"].head(3))
            raise PipelineError(
                f"--locality {locality!r} is not a carrier-locality of the GPCI file of "
                f"{ref.releases[rel].name}; use CCCCC-LL as listed there (e.g. {example}, "
                "04412-18), or --zip"
            )
        return Place(carrier=key[:5], locality=key[6:])
    if zip5:
        text = zip5.strip()
        if re.fullmatch(r"[0-9]{3,4}", text):
            text = text.zfill(5)  # leading zeros lost in a spreadsheet, as in a batch
        if not re.fullmatch(r"[0-9]{5}(-?[0-9]{4})?", text):
            raise PipelineError(f"--zip {zip5!r} is not a ZIP code; give 5 digits, e.g. 77030")
        if not (ref.zip5["zip5"] == text[:5]).any():
            raise PipelineError(
                f"--zip {text[:5]} is not in the CMS ZIP file {ref.zip_source}; check the ZIP, "
                "or give the carrier and locality with --locality CCCCC-LL"
            )
        return Place(zip5=text[:5])
    return Place()


def _locality(first: dict, place: Place, ref: ReferenceData, rel: int) -> dict[str, object]:
    key = first["pricing_locality"]
    if place.zip5 and key == "national":
        raise PipelineError(
            f"--zip {place.zip5} maps to a locality that is not in the GPCI file of "
            f"{ref.releases[rel].name}; give --locality CCCCC-LL"
        )
    gpci = ref.releases[rel].gpci
    row = gpci[gpci["locality_key"] == key]
    if row.empty and key != "national":  # California's two carrier numbers share localities
        row = gpci[
            (gpci["locality_key"].str[:3] == key[:3]) & (gpci["locality_key"].str[-2:] == key[-2:])
        ]
    return {
        "key": key,
        "name": "national (GPCIs 1.000)"
        if key == "national"
        else str(row["locality_name"].iloc[0]),
        "state": None if row.empty else str(row["state"].iloc[0]),
        "from": {"zip": "zip", "carrier_locality": "--locality"}.get(
            first["locality_source"], "national"
        ),
        "zip": place.zip5 or None,
        "zip_needs_plus_four": "ZIP_NEEDS_PLUS_FOUR" in first["location_flags"],
        "gpci": first["gpci"],
    }


def _rvu_rows(release, code: str) -> list[dict[str, object]]:
    rows = release.rvu[release.rvu["hcpcs"] == code]
    out = []
    for row in rows.to_dict("records"):
        out.append(
            {
                "modifier": row["mod"],
                "status": row["status"],
                "work": rvu_text(row["work_rvu"]),
                "pe_non_facility": rvu_text(row["nf_pe_rvu"]),
                "pe_non_facility_na": bool(row["nf_na"]),
                "pe_facility": rvu_text(row["f_pe_rvu"]),
                "pe_facility_na": bool(row["f_na"]),
                "mp": rvu_text(row["mp_rvu"]),
                "opps_pe_non_facility": rvu_text(row["opps_nf_pe"]),
                "opps_pe_facility": rvu_text(row["opps_f_pe"]),
                "opps_mp": rvu_text(row["opps_mp"]),
            }
        )
    return out


def _indicators(release, code: str) -> list[dict[str, str]]:
    rvu = release.rvu
    rows = rvu[(rvu["hcpcs"] == code)]
    row = rows[rows["mod"] == ""].iloc[0] if (rows["mod"] == "").any() else rows.iloc[0]
    out = []
    for column, label, _meanings in INDICATORS:
        value = str(row[column])
        out.append({"indicator": label, "value": value, "meaning": indicator_words(column, value)})
    if row["endo_base"]:
        out.append(
            {
                "indicator": "Endoscopic base code",
                "value": str(row["endo_base"]),
                "meaning": "the base endoscopy of this code's family",
            }
        )
    return out


def explain_code(
    code: str,
    ref: ReferenceData,
    *,
    dos: str | None = None,
    locality: str | None = None,
    zip5: str | None = None,
    reports: Destination | None = None,
    ncci: NcciRelease | None = None,
) -> dict[str, object]:
    """The fee breakdown, edits, tips and denial patterns of one code (see docs/explain.md)."""
    day, rel = parse_date(dos, ref)
    code = _check_code(code, ref, rel, day)
    place = _place(locality, zip5, ref, rel)
    release = ref.releases[rel]
    described = ref.describe()[rel]

    mods = [
        m for m in COMPONENTS if (release.rvu["hcpcs"].eq(code) & release.rvu["mod"].eq(m)).any()
    ]
    claims = [Claim((code,), mod, setting) for mod in mods for setting in SETTING_POS]
    lines = [priced.lines[0] for priced in price_claims(ref, day, place, claims)]
    where = _locality(lines[0], place, ref, rel)
    amounts = [
        {"component": COMPONENTS[line["modifier"]], **{k: line[k] for k in AMOUNT_FIELDS}}
        for line in lines
    ]

    ncci = ncci or bundled_ncci()
    status = str(release.rvu.loc[release.rvu["hcpcs"].eq(code), "status"].iloc[0])
    result = {
        "code": code,
        "date_of_service": day.isoformat(),
        "release": {
            "name": release.name,
            "in_force_from": described["in_force_from"],
            "in_force_until": described["in_force_until"],
            "conversion_factor": cf_text(release.cf),
        },
        "locality": where,
        "status": {"code": status, "meaning": STATUS.get(status, "not defined")},
        "rvus": _rvu_rows(release, code),
        "amounts": amounts,
        "indicators": _indicators(release, code),
        "ncci": {
            "release": ncci.name,
            "effective": ncci.effective.isoformat(),
            "days_older_than_the_quarter": ncci_facts.lag_days(ncci, day),
            **ncci_facts.ptp_partners(ncci, code, day),
            "mue": ncci_facts.mue(ncci, code),
            "addon": ncci_facts.addon(ncci, code, day),
        },
        "tips": explain_tips(ref, release, day, place, code),
        "denials": denial_patterns(reports, code),
    }
    logger.info("explained %s on %s at %s", code, day, where["key"])
    return result
