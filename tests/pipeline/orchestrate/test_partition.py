"""Patient partitions: lines of one patient or one claim always stay together."""

from __future__ import annotations

import pandas as pd

from pipeline.extract.batch_files import read_batch_file
from pipeline.extract.releases import bundled_path
from pipeline.orchestrate.partition import assign_partitions, partition_count, patient_groups


def frame(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    """Rows of (claim_id, patient_id, payer)."""
    return pd.DataFrame(rows, columns=["claim_id", "patient_id", "payer"]).astype("string")


def test_partition_count():
    assert partition_count(0, 1000) == 1
    assert partition_count(1000, 1000) == 1
    assert partition_count(1001, 1000) == 2
    assert partition_count(4870, 2500) == 2


def test_groups_follow_patients_and_claims():
    raw = frame(
        [
            ("C1", "P1", "MCR"),  # 0: C1 links P1 and P2 ...
            ("C1", "P2", "MCR"),  # 1
            ("C2", "P2", "MCR"),  # 2: ... so C2 joins them
            ("C3", "P3", "MCR"),  # 3: alone
            ("C4", "", "MCR"),  # 4: no patient id: its claim is its patient
            ("C4", " ", "MCR"),  # 5
            ("C5", "P1", "OTHER"),  # 6: same id at another payer is another patient
            ("C6", " P3 ", "MCR"),  # 7: ids are compared stripped, like the normalizer
        ]
    )
    group, keys = patient_groups(raw)
    assert group[0] == group[1] == group[2]
    assert group[3] == group[7]
    assert group[4] == group[5]
    assert len(set(group[[0, 3, 4, 6]])) == 4
    assert sorted(keys) == ["MCR|P1", "MCR|P3", "OTHER|P1", "claim|C4"]


def test_partitions_do_not_depend_on_row_order():
    raw = frame([(f"C{i}", f"P{i % 7}", "MCR") for i in range(60)])
    parts = pd.Series(assign_partitions(raw, 3), index=raw["claim_id"])
    shuffled = raw.sample(frac=1, random_state=4).reset_index(drop=True)
    again = pd.Series(assign_partitions(shuffled, 3), index=shuffled["claim_id"])
    assert again.sort_index().equals(parts.sort_index())
    assert sorted(set(parts)) == [0, 1, 2]


def test_sample_partitions_keep_patients_and_claims_whole():
    raw = read_batch_file(bundled_path("samples/tuva_professional_2025.csv.gz")).frame
    parts = assign_partitions(raw, 4)
    sizes = pd.Series(parts).value_counts().sort_index()
    assert sizes.index.tolist() == [0, 1, 2, 3] and sizes.sum() == 4870
    per_patient = pd.Series(parts).groupby((raw["payer"] + "|" + raw["patient_id"]).to_numpy())
    per_claim = pd.Series(parts).groupby(raw["claim_id"].to_numpy())
    assert per_patient.nunique().max() == 1
    assert per_claim.nunique().max() == 1
    assert assign_partitions(raw, 1).tolist() == [0] * 4870
