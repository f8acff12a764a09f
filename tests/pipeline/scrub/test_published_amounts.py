"""Reproduce amounts CMS itself published, to the cent, for every locality."""

from __future__ import annotations

import csv
import gzip
import io

import pandas as pd
import pytest

from pipeline.extract.releases import bundled_path
from tests.conftest import DATA, batch


def _pfrev_76145() -> pd.DataFrame:
    """PFREV25C rows: year, carrier, locality, HCPCS, modifier, non-facility, facility amount."""
    text = gzip.decompress((DATA / "PFREV25C_76145_payment_amounts.txt.gz").read_bytes()).decode()
    rows = [r for r in csv.reader(io.StringIO(text)) if r and not r[0].startswith("TRL")]
    return pd.DataFrame(
        [
            (r[1], r[2], r[3], int(round(float(r[5]) * 100)), int(round(float(r[6]) * 100)))
            for r in rows
        ],
        columns=["carrier", "locality", "hcpcs", "nonfacility", "facility"],
    )


def _price_everywhere(reference, config, frame: pd.DataFrame, pos: str, mods=None):
    from pipeline.run import scrub_frame

    raw = batch(
        *(
            {
                "hcpcs_code": h,
                "carrier": c,
                "locality": loc,
                "service_zip": "",
                "patient_id": str(i),
                "place_of_service_code": pos,
                "hcpcs_modifier_1": "" if mods is None else mods[i],
            }
            for i, (c, loc, h) in enumerate(
                frame[["carrier", "locality", "hcpcs"]].itertuples(index=False)
            )
        )
    )
    return scrub_frame(raw, reference, config).lines


def test_pfrev25c_76145_all_109_localities(reference, config):
    """CMS PFREV25C publishes 76145 for all 109 localities; every amount must match."""
    pfrev = _pfrev_76145()
    assert len(pfrev) == 109
    lines = _price_everywhere(reference, config, pfrev, "11")
    assert (lines["line_status"] == "priced").all()
    assert lines["pricing_locality"].nunique() == 109
    assert lines["fee_schedule_cents"].tolist() == pfrev["nonfacility"].tolist()
    lines = _price_everywhere(reference, config, pfrev, "22")
    assert lines["fee_schedule_cents"].tolist() == pfrev["facility"].tolist()


@pytest.mark.parametrize(("column", "pos"), [("FACILITY PRICE", "22"), ("NON-FACILTY PRICE", "11")])
def test_oppscap_file_amounts(reference, config, column, pos):
    """OPPSCAP_Oct lists, for each capped imaging code and locality, the amount after the cap.
    All 6,670 priced rows (global and TC) are reproduced from the RVU file's OPPS columns.
    """
    cap = pd.read_csv(bundled_path("mpfs/rvu25d/OPPSCAP_Oct.csv.gz"), dtype=str)
    cap = cap[cap["PROCSTAT"] == "A"].reset_index(drop=True)
    assert len(cap) == 6670
    frame = cap.rename(columns={"CARRIER": "carrier", "LOCALITY": "locality", "HCPCS": "hcpcs"})
    lines = _price_everywhere(reference, config, frame, pos, mods=cap["MOD"].fillna("").tolist())
    expected = [int(round(float(v) * 100)) for v in cap[column]]
    assert lines["fee_schedule_cents"].tolist() == expected
    assert lines["opps_cap_applied"].all()
