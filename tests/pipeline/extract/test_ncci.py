"""NCCI reference loaders: bundled PTP/MUE/AOC tables, CMS raw layouts, PTP edits in force.

Expected values were read by hand from the files (line numbers are the files' own).
"""

from __future__ import annotations

import gzip
import time
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline.errors import ReferenceFileError
from pipeline.extract.ncci import (
    BUNDLED_PTP,
    NcciRelease,
    bundled_ncci,
    load_aoc,
    load_mue,
    load_ptp,
    mue_effective_date,
    ptp_pairs_in_force,
    ptp_to_arrow,
)
from pipeline.extract.releases import bundled_path
from tests.conftest import DATA

RAW_PTP = DATA / "ncci" / "ccipra-v322r0-f1.excerpt.txt.gz"
RAW_MUE = DATA / "ncci" / "MCR_MUE_PractitionerServices_Eff_07-01-2026.excerpt.csv.gz"
RELEASE_START = date(2024, 4, 1)


@pytest.fixture(scope="module")
def ncci() -> NcciRelease:
    return bundled_ncci()


@pytest.fixture(scope="module")
def raw_ptp() -> pd.DataFrame:
    return load_ptp(RAW_PTP)


def _pair(ptp: pd.DataFrame, column1: str, column2: str) -> pd.DataFrame:
    return ptp[(ptp["column1"] == column1) & (ptp["column2"] == column2)]


def _raw_lines() -> list[str]:
    return gzip.decompress(RAW_PTP.read_bytes()).decode("utf-8").split("\r\n")


def _write_lines(path: Path, lines: list[str]) -> Path:
    path.write_bytes("\r\n".join(lines).encode("latin-1"))
    return path


# --- bundled PTP -------------------------------------------------------------------------------


def test_bundled_ptp_rows_and_types(ncci):
    ptp = ncci.ptp
    assert (ncci.name, ncci.effective) == ("2024Q2", RELEASE_START)
    assert len(ptp) == 2_545_089
    assert int(ptp["deletion_date"].isna().sum()) == 1_669_187
    assert ptp["effective_date"].isna().all()  # the derived file has no effective dates
    assert ptp.dtypes.astype(str).to_dict() == {
        "column1": "string",
        "column2": "string",
        "effective_date": "datetime64[s]",
        "deletion_date": "datetime64[s]",
        "modifier_indicator": "int8",
        "rationale": "category",
    }
    assert ptp["modifier_indicator"].value_counts().to_dict() == {1: 1707255, 0: 738981, 9: 98853}


def test_bundled_parquet_is_small_sorted_and_fast():
    path = bundled_path(BUNDLED_PTP)
    assert path.stat().st_size < 40_000_000
    keys = pq.read_table(path, columns=["column1", "column2"]).to_pandas()
    assert keys.equals(keys.sort_values(["column1", "column2"]).reset_index(drop=True))

    started = time.perf_counter()
    load_ptp(path)
    assert time.perf_counter() - started < 3.0  # about 0.4 s on the 2-core dev machine


def test_lung_imaging_pair_only_one_way(ncci):
    row = _pair(ncci.ptp, "78597", "78580")
    assert len(row) == 1
    assert pd.isna(row["deletion_date"].iloc[0])
    assert row["modifier_indicator"].iloc[0] == 0
    assert row["rationale"].iloc[0] == "HCPCS/CPT procedure code definition"
    assert _pair(ncci.ptp, "78580", "78597").empty


def test_repeated_pair_keeps_history(ncci):
    rows = _pair(ncci.ptp, "99214", "99213")
    assert rows["deletion_date"].tolist()[0] is pd.NaT
    assert rows["deletion_date"].tolist()[1] == pd.Timestamp("2019-12-31")
    assert rows["modifier_indicator"].tolist() == [1, 1]
    assert set(rows["rationale"]) == {"Misuse of Column Two code with Column One code"}


# --- PTP edits in force ------------------------------------------------------------------------


def test_undated_rows_apply_from_release_start(ncci):
    """Without effective dates, the 2024Q2 rows apply from 2024-04-01: its deleted rows never."""
    for day in (date(2019, 12, 31), date(2020, 1, 1), date(2024, 3, 31)):
        assert _pair(ncci.ptp_in_force(day), "99214", "99213").empty
    on_start = _pair(ncci.ptp_in_force(RELEASE_START), "99214", "99213")
    assert len(on_start) == 1 and pd.isna(on_start["deletion_date"].iloc[0])
    assert len(ncci.ptp_in_force(RELEASE_START)) == 1_669_187


def test_deletion_date_is_inclusive(ncci):
    """99214/99213 with undated rows taken as in force since 1996 (release_start=1996-01-01)."""
    rows = _pair(ncci.ptp, "99214", "99213")
    deleted = rows[rows["deletion_date"].notna()]
    early = date(1996, 1, 1)

    last_day = ptp_pairs_in_force(deleted, date(2019, 12, 31), release_start=early)
    assert last_day["deletion_date"].tolist() == [pd.Timestamp("2019-12-31")]
    assert ptp_pairs_in_force(deleted, date(2020, 1, 1), release_start=early).empty

    for day in (date(2019, 12, 31), date(2020, 1, 1)):  # both rows in force: null deletion wins
        both = ptp_pairs_in_force(rows, day, release_start=early)
        assert len(both) == 1 and pd.isna(both["deletion_date"].iloc[0])


def test_in_force_with_real_effective_dates(raw_ptp):
    start = date(2026, 7, 1)  # v322r0; every row of it has its own effective date
    on = {}
    on["last"] = ptp_pairs_in_force(raw_ptp, date(2022, 12, 31), release_start=start)
    on["after"] = ptp_pairs_in_force(raw_ptp, date(2023, 1, 1), release_start=start)
    assert len(_pair(on["last"], "0001A", "99241")) == 1  # deleted 20221231, line 25
    assert _pair(on["after"], "0001A", "99241").empty
    assert len(_pair(on["after"], "0001A", "99242")) == 1  # deleted 20231231

    before = ptp_pairs_in_force(raw_ptp, date(2021, 12, 31), release_start=start)
    assert _pair(before, "0001A", "0591T").empty  # effective 20220101
    new_year = ptp_pairs_in_force(raw_ptp, date(2022, 1, 1), release_start=start)
    assert _pair(new_year, "0001A", "90473")["modifier_indicator"].tolist() == [9]  # eff = del


def test_repeated_pair_resolution():
    """Latest effective date wins, then latest deletion (null latest), then the later row."""
    ptp = pd.DataFrame(
        {
            "column1": ["11111"] * 3 + ["22222"] * 2,
            "column2": ["99999"] * 5,
            "effective_date": pd.to_datetime(
                ["2020-01-01", "2021-01-01", "2019-01-01", "2020-01-01", "2020-01-01"]
            ).astype("datetime64[s]"),
            "deletion_date": pd.to_datetime([None, "2022-12-31", None, "2021-12-31", None]).astype(
                "datetime64[s]"
            ),
            "modifier_indicator": pd.Series([0, 1, 0, 1, 0], dtype="int8"),
            "rationale": pd.Categorical(["a", "b", "c", "d", "e"]),
        }
    )
    found = ptp_pairs_in_force(ptp, date(2021, 6, 1), release_start=RELEASE_START)
    assert found["rationale"].tolist() == ["b", "e"]
    later = ptp_pairs_in_force(ptp, date(2023, 1, 1), release_start=RELEASE_START)
    assert later["rationale"].tolist() == ["a", "e"]


def test_exact_duplicate_pair_keeps_later_row(ncci):
    """88108/88162 has two rows differing only in rationale (derived file lines 2313740-1)."""
    rows = _pair(ncci.ptp, "88108", "88162")
    found = ptp_pairs_in_force(rows, date(1996, 1, 1), release_start=date(1996, 1, 1))
    assert found["rationale"].tolist() == ["Standards of medical/surgical practice"]


# --- PTP raw CMS layout ------------------------------------------------------------------------


def test_raw_ptp_layout(raw_ptp):
    assert len(raw_ptp) == 154
    first = raw_ptp.iloc[0]  # line 7: 0001A 0591T (blank) 20220101 20231231 1 CPT Manual ...
    assert (first["column1"], first["column2"]) == ("0001A", "0591T")
    assert first["effective_date"] == pd.Timestamp("2022-01-01")
    assert first["deletion_date"] == pd.Timestamp("2023-12-31")
    assert first["modifier_indicator"] == 1
    assert first["rationale"] == "CPT Manual or CMS manual coding instruction"

    mult = _pair(raw_ptp, "0001M", "80050").iloc[0]  # line 71
    assert (mult["effective_date"], mult["deletion_date"]) == (
        pd.Timestamp("2017-04-01"),
        pd.Timestamp("2018-12-31"),
    )
    assert mult["modifier_indicator"] == 0
    assert mult["rationale"] == "Misuse of Column Two code with Column One code"

    last = _pair(raw_ptp, "0001U", "81166").iloc[0]  # line 160: deletion *
    assert last["effective_date"] == pd.Timestamp("2019-01-01")
    assert pd.isna(last["deletion_date"])


def test_ptp_round_trips_through_parquet(raw_ptp, tmp_path):
    path = tmp_path / "ptp.parquet"
    pq.write_table(ptp_to_arrow(raw_ptp), path)
    pd.testing.assert_frame_equal(load_ptp(path), raw_ptp, check_categorical=False)


# --- PTP errors --------------------------------------------------------------------------------


def _corrupt(lines: list[str], number: int, column: int, value: str) -> list[str]:
    cells = lines[number - 1].split("\t")
    cells[column] = value
    return lines[: number - 1] + ["\t".join(cells)] + lines[number:]


@pytest.mark.parametrize(
    ("line", "column", "value", "message"),
    [
        (9, 5, "5", "line 9: modifier indicator 5; expected one of 0, 1, 9"),
        (9, 5, "x", "line 9: modifier indicator 'x'; expected a whole number"),
        (10, 0, "0001", "line 10: column 1 code '0001'; expected a 5-character HCPCS/CPT code"),
        (11, 3, "20221301", "line 11: effective date '20221301'; expected a date as YYYYMMDD"),
        (12, 3, "20240101", "line 12: effective date 2024-01-01 and deletion date 2022-01-01"),
        (13, 4, "20220101", "with modifier indicator 1; expected a deletion date after"),
    ],
)
def test_bad_ptp_row_names_file_line_and_value(tmp_path, line, column, value, message):
    path = _write_lines(
        tmp_path / "ccipra-v322r0-f1.txt", _corrupt(_raw_lines(), line, column, value)
    )
    with pytest.raises(ReferenceFileError, match="ccipra-v322r0-f1.txt") as caught:
        load_ptp(path)
    assert message in str(caught.value)


def test_ptp_missing_modifier_column(tmp_path):
    lines = ["\t".join(c for i, c in enumerate(x.split("\t")) if i != 5) for x in _raw_lines()]
    path = _write_lines(tmp_path / "ccipra-v322r0-f1.txt", lines)
    with pytest.raises(ReferenceFileError, match=r"exactly one column matching /\^MODIFIER/"):
        load_ptp(path)


def test_ptp_parquet_missing_column(raw_ptp, tmp_path):
    path = tmp_path / "ptp.parquet"
    pq.write_table(ptp_to_arrow(raw_ptp).drop_columns(["modifier_indicator"]), path)
    with pytest.raises(ReferenceFileError, match="missing column.*modifier_indicator") as caught:
        load_ptp(path)
    assert str(path) in str(caught.value)


def test_ptp_parquet_bad_modifier(raw_ptp, tmp_path):
    bad = raw_ptp.assign(modifier_indicator=raw_ptp["modifier_indicator"].replace(9, 5))
    path = tmp_path / "ptp.parquet"
    pq.write_table(ptp_to_arrow(bad), path)
    with pytest.raises(ReferenceFileError, match="row 6: modifier indicator 5"):
        load_ptp(path)


def test_derived_tsv_layout(tmp_path):
    path = tmp_path / "ptp.tsv"
    path.write_text(
        "Column 1\tColumn 2\tDeletion Date\tModifier\tPTP Edit Rationale\n"
        "78597\t78580\t*\t0\tHCPCS/CPT procedure code definition\n"
        "99214\t99213\t20191231\t1\tMisuse of Column Two code with Column One code\n"
    )
    ptp = load_ptp(path)
    assert ptp["effective_date"].isna().all()
    assert ptp["deletion_date"].tolist()[1] == pd.Timestamp("2019-12-31")
    with pytest.raises(ReferenceFileError, match="no header row starting with 'Column 1'"):
        load_ptp(_write_lines(tmp_path / "empty.txt", ["Column1/Column2 Edits"]))


# --- MUE ---------------------------------------------------------------------------------------


def test_bundled_mue(ncci):
    mue = ncci.mue.set_index("hcpcs")
    assert len(mue) == 14_679
    assert mue.loc["78580", ["mue_value", "mai"]].tolist() == [1, 3]
    assert mue.loc["99213", ["mue_value", "mai"]].tolist() == [2, 3]
    assert mue.loc["99213", "rationale"] == "Clinical: Data"
    assert mue.loc["G0008", ["mue_value", "mai"]].tolist() == [1, 2]
    assert mue.loc["G0008", "mai_text"] == "Date of Service Edit: Policy"
    assert mue_effective_date(
        bundled_path("ncci/MUE_practitioner_2024-04-01_from_northstar.csv.gz")
    ) == (RELEASE_START)


@pytest.mark.parametrize(
    ("name", "rows"),
    [
        ("MUE_outpatient_hospital_2024-04-01_from_northstar", 14_629),
        ("MUE_dme_supplier_2024-04-01_from_northstar", 2_894),
    ],
)
def test_other_bundled_mue_tables(name, rows):
    assert len(load_mue(bundled_path(f"ncci/{name}.csv.gz"))) == rows


def test_raw_mue_layout():
    mue = load_mue(RAW_MUE)
    assert len(mue) == 44
    assert mue_effective_date(RAW_MUE) == date(2026, 7, 1)
    first = mue.iloc[0]  # 0001U,1,2 Date of Service Edit: Policy,Code Descriptor / CPT Instruction
    assert (first["hcpcs"], first["mue_value"], first["mai"]) == ("0001U", 1, 2)
    assert first["rationale"] == "Code Descriptor / CPT Instruction"
    assert mue.set_index("hcpcs").loc["0009U", ["mue_value", "mai"]].tolist() == [2, 3]


def test_bad_mue_rows(tmp_path):
    header = (
        "HCPCS/CPT Code,Practitioner Services MUE Values,MUE Adjudication Indicator,MUE Rationale"
    )
    path = tmp_path / "MUE_2024-04-01.csv"
    path.write_text(f"{header}\n99213,2,4 Date of Service Edit: Clinical,Clinical: Data\n")
    with pytest.raises(ReferenceFileError, match="line 2: MUE adjudication indicator 4"):
        load_mue(path)
    path.write_text(f"{header}\n99213,2,3 X,Y\n99213,3,3 X,Y\n")
    with pytest.raises(ReferenceFileError, match="line 3: HCPCS code '99213' repeated"):
        load_mue(path)
    with pytest.raises(ReferenceFileError, match="no effective date in the file name"):
        mue_effective_date(tmp_path / "mue.csv")


# --- AOC ---------------------------------------------------------------------------------------


def test_bundled_aoc(ncci):
    aoc = ncci.aoc
    assert len(aoc) == 8_186
    row = aoc[(aoc["addon"] == "99292") & (aoc["primary"] == "99291")].iloc[0]  # line 7803
    assert (row["edit_type"], row["effective_year"]) == (1, 2013)
    assert pd.isna(row["deletion_year"]) and pd.isna(row["addon_deletion_year"])

    deleted = aoc[(aoc["addon"] == "0092T") & (aoc["primary"] == "22856")].iloc[0]  # line 13
    assert deleted[["effective_year", "deletion_year", "addon_deletion_year"]].tolist() == [
        2013,
        2014,
        2014,
    ]
    contractor = aoc[aoc["primary"] == "CCCCC"]
    assert contractor["edit_type"].value_counts().to_dict() == {2: 41, 3: 8}
    assert aoc.loc[0, "notes"] == "Contractor Defined Primary Codes"  # 0054T,CCCCC,2,2013


def test_bad_aoc_row(tmp_path):
    path = tmp_path / "aoc.csv"
    path.write_text(
        "Add-on Code,Primary Code,AOC Edit Type,AOC Edit Effective Year,AOC Edit Deletion Year,"
        "Add-on Code Deletion Year,Special Instruction Notes\n"
        "99292,99291,4,2013,,,\n"
    )
    with pytest.raises(ReferenceFileError, match="aoc.csv: line 2: AOC edit type 4"):
        load_aoc(path)
