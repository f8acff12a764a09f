"""Per-batch arrays shared by the pricing steps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.money import div_round_half_up
from pipeline.scrub.flags import FlagCollector


@dataclass
class PricingContext:
    """What every pricing step needs about the batch, as aligned numpy arrays."""

    lines: pd.DataFrame
    flags: FlagCollector
    idx: np.ndarray  # line_index per line
    group: np.ndarray  # id of (patient, provider, date of service)
    units: np.ndarray
    hcpcs: np.ndarray
    mods: tuple[tuple[np.ndarray, np.ndarray], ...]  # (ids, uniques) per modifier column

    @classmethod
    def of(cls, lines: pd.DataFrame) -> PricingContext:
        from pipeline.scrub.lookup import group_ids

        return cls(
            lines=lines,
            flags=FlagCollector(),
            idx=lines["line_index"].to_numpy("int64"),
            group=group_ids(lines["patient_key"], lines["provider"], lines["dos"]),
            units=lines["units"].to_numpy("int64"),
            hcpcs=lines["hcpcs"].to_numpy(object),
            mods=tuple(_factorize(lines[f"mod_{i}"].to_numpy(object)) for i in range(1, 5)),
        )

    @property
    def n(self) -> int:
        return len(self.idx)

    def has_mod(self, *mods: str) -> np.ndarray:
        """Lines carrying any of `mods` in any modifier position."""
        hit = np.zeros(self.n, dtype=bool)
        for ids, uniques in self.mods:
            wanted = np.isin(uniques, mods)
            if wanted.any():
                hit |= wanted[ids]
        return hit


def _factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ids, uniques = pd.factorize(values)
    return ids, np.asarray(uniques, dtype=object)


def fee_1e9(w, pe, mp, gw, gpe, gmp, cf) -> np.ndarray:
    """Exact fee in 1e-9 dollars: RVUs (1e-2) x GPCIs (1e-3) x CF (1e-4)."""
    return (w * gw + pe * gpe + mp * gmp) * cf


def to_cents(x_1e9: np.ndarray) -> np.ndarray:
    """1e-9 dollars to cents, half-up."""
    return div_round_half_up(x_1e9, 10**7)


def apply_bp(cents: np.ndarray, bp: np.ndarray | int) -> np.ndarray:
    """A percentage (in hundredths of a percent) of an amount, half-up to the cent."""
    return div_round_half_up(cents * bp, 10000)
