"""Per-batch arrays shared by the pricing steps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.factorize import factorized
from pipeline.money import div_round_half_up
from pipeline.scrub.flags import FlagCollector


class Modifiers:
    """The four modifier columns of a batch, factorized once, for "has modifier X" tests."""

    def __init__(self, lines: pd.DataFrame) -> None:
        self.n = len(lines)
        self._columns = []
        for i in range(1, 5):
            self._columns.append(factorized(lines[f"mod_{i}"]))

    def has(self, *mods: str) -> np.ndarray:
        """Lines carrying any of `mods` in any modifier position."""
        hit = np.zeros(self.n, dtype=bool)
        for ids, uniques in self._columns:
            wanted = np.isin(uniques, mods)
            if wanted.any():
                hit |= wanted[ids]
        return hit


@dataclass
class PricingContext:
    """What every pricing step needs about the batch, as aligned numpy arrays."""

    lines: pd.DataFrame
    flags: FlagCollector
    idx: np.ndarray  # line_index per line
    group: np.ndarray  # id of (patient, provider, date of service)
    units: np.ndarray
    hcpcs: pd.api.extensions.ExtensionArray
    mods: Modifiers

    @classmethod
    def of(cls, lines: pd.DataFrame) -> PricingContext:
        from pipeline.scrub.lookup import group_ids

        return cls(
            lines=lines,
            flags=FlagCollector(),
            idx=lines["line_index"].to_numpy("int64"),
            group=group_ids(lines["patient_key"], lines["provider"], lines["dos"]),
            units=lines["units"].to_numpy("int64"),
            hcpcs=lines["hcpcs"].array,  # categorical from normalize: taken only where flagged
            mods=Modifiers(lines),
        )

    @property
    def n(self) -> int:
        return len(self.idx)

    def has_mod(self, *mods: str) -> np.ndarray:
        return self.mods.has(*mods)


def fee_1e9(w, pe, mp, gw, gpe, gmp, cf) -> np.ndarray:
    """Exact fee in 1e-9 dollars: RVUs (1e-2) x GPCIs (1e-3) x CF (1e-4)."""
    return (w * gw + pe * gpe + mp * gmp) * cf


def to_cents(x_1e9: np.ndarray) -> np.ndarray:
    """1e-9 dollars to cents, half-up."""
    return div_round_half_up(x_1e9, 10**7)


def apply_bp(cents: np.ndarray, bp: np.ndarray | int) -> np.ndarray:
    """A percentage (in hundredths of a percent) of an amount, half-up to the cent."""
    return div_round_half_up(cents * bp, 10000)


def setting_fee(row, facility: np.ndarray, gpci) -> tuple[np.ndarray, ...]:
    """Per-unit amounts of RVU rows in each line's setting and locality.

    Returns (PE RVU used, fee-schedule amount, OPPS amount, capped mask) in cents; the cap
    (DRA 2005 s5102(b)) applies where the row has OPPS values and the OPPS amount is lower.
    """
    gw, gpe, gmp = gpci
    w, mp, cf = row["work_rvu"], row["mp_rvu"], row["cf"]
    pe = np.where(facility, row["f_pe_rvu"], row["nf_pe_rvu"])
    fee = to_cents(fee_1e9(w, pe, mp, gw, gpe, gmp, cf))
    opps_pe = np.where(facility, row["opps_f_pe"], row["opps_nf_pe"])
    opps_mp = row["opps_mp"]
    # Only imaging rows carry OPPS values: the OPPS amount is 0 elsewhere and never applies.
    at = np.flatnonzero((opps_pe > 0) | (opps_mp > 0))
    opps = np.zeros(len(fee), dtype="int64")
    opps[at] = to_cents(fee_1e9(w[at], opps_pe[at], opps_mp[at], gw[at], gpe[at], gmp[at], cf[at]))
    capped = np.zeros(len(fee), dtype=bool)
    capped[at] = opps[at] < fee[at]
    return pe, fee, opps, capped


def capped_fee(row, facility: np.ndarray, gpci) -> np.ndarray:
    """The fee after the OPPS cap, 0 where the row was not found."""
    _, fee, opps, capped = setting_fee(row, facility, gpci)
    return np.where(row.found, np.where(capped, opps, fee), 0)
