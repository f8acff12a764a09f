"""Benchmark: read an X12 837P and its 835 of N claims; print claims per second.

The claims repeat the synthetic test file's six claims (tests/data/x12/synthetic) with new
claim ids, in one interchange; the 835 pays every one of them.

    .venv/bin/python benchmarks/bench_x12.py --claims 5000
"""

from __future__ import annotations

import argparse
import logging
import re
import tempfile
import time
from pathlib import Path

from pipeline.extract.x12_835 import read_remittance
from pipeline.extract.x12_837p import read_837p_batch
from pipeline.scrub.remits import Remittances

logger = logging.getLogger("bench_x12")
SYNTHETIC = Path(__file__).parents[1] / "tests" / "data" / "x12" / "synthetic"


def _repeat(text: str, copies: int, first: str, last: str) -> str:
    """The file with the segments from `first` up to (not including) `last` repeated."""
    segments = text.rstrip("\n").removesuffix("~").split("~\n")
    start = next(i for i, s in enumerate(segments) if s.startswith(first))
    end = next(i for i, s in enumerate(segments) if s.startswith(last))
    body = segments[start:end]
    out = segments[:start]
    levels = sum(s.startswith("HL*") for s in body)
    for k in range(copies):
        copy = [re.sub(r"SYN-(\d+)", rf"SYN-{k:06d}-\1", s) for s in body]
        out += [_renumber_hl(s, k * levels) for s in copy]
    trailer = segments[end:]
    st = next(i for i, s in enumerate(out) if s.startswith("ST*"))
    se = len(out) - st + 1
    trailer[0] = re.sub(r"^SE\*\d+", f"SE*{se}", trailer[0])
    return "~\n".join(out + trailer) + "~\n"


def _renumber_hl(segment: str, offset: int) -> str:
    """HL numbering continues through the copies (HL01 and its parent HL02)."""
    if not segment.startswith("HL*"):
        return segment
    parts = segment.split("*")
    parts[1] = str(int(parts[1]) + offset)
    if parts[2]:
        parts[2] = str(int(parts[2]) + offset)
    return "*".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=3000, help="claims in the 837P (x6)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    copies = max(args.claims // 6, 1)
    claims = _repeat((SYNTHETIC / "houston_2025-11-01.837").read_text(), copies, "HL*1", "SE*")
    remits = _repeat((SYNTHETIC / "houston_2025-11-15.835").read_text(), copies, "LX*1", "PLB")
    with tempfile.TemporaryDirectory() as tmp:
        c, r = Path(tmp) / "bench.837", Path(tmp) / "bench.835"
        c.write_text(claims)
        r.write_text(remits)
        t = time.perf_counter()
        batch = read_837p_batch(c)
        t837 = time.perf_counter() - t
        t = time.perf_counter()
        remit = read_remittance(r)
        t835 = time.perf_counter() - t
        t = time.perf_counter()
        Remittances.build([remit], ["bench"])
        tbuild = time.perf_counter() - t
    n = batch.details["claims"]
    logger.info(
        "837P: %d claims, %d lines in %.1f s (%.0f claims/s); 835: %d claim payments, %d lines "
        "in %.1f s (%.0f payments/s); remittance set built in %.2f s",
        n,
        len(batch.frame),
        t837,
        n / t837,
        len(remit.claims),
        len(remit.lines),
        t835,
        len(remit.claims) / t835,
        tbuild,
    )


if __name__ == "__main__":
    main()
