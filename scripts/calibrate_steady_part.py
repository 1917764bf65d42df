"""Check the steady-part test on taps alone: how often it would take a tap for a leak under it.

A leak with a tap near it makes one peak that comes and goes; ``acoustic.correlate._analysis.
_steady_part`` looks for a steady source under such a peak (a Hotelling test at
``_STEADY_PFA``, and the steady part at least ``_STEADY_MIN_FRACTION`` of the peak).  This script
simulates pairs with a tap switched on and off between the sensors and no leak (as the tap-only
block of ``bench/correlate_accuracy.py``, on its own seeds), runs the correlator, and records the
test's p-value and steady fraction for every peak the intermittency test flagged.  Any flagged
peak passing both would be a tap taken for a leak.

Run: ``.venv/bin/python scripts/calibrate_steady_part.py [--n 40] [--seeds 11 12 13] [--duration 30]``;
prints one line per flagged peak and a summary.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=40, help="tap-only pairs per seed (default 40)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[11, 12, 13])
    ap.add_argument("--duration", type=float, default=30.0, help="recording length in s (default 30)")
    args = ap.parse_args()

    import correlate_accuracy as bench

    import acoustic.correlate._analysis as analysis
    from acoustic.correlate import correlate_pair
    from acoustic.pipe import PipePath
    from acoustic.simulate import simulate_pair

    seen = []
    real = analysis._steady_part

    def recording(*a, **k):
        out = real(*a, **k)
        seen.append(out)
        return out

    analysis._steady_part = recording
    warnings.simplefilter("ignore")
    rows = []
    for seed in args.seeds:
        rng = np.random.default_rng(seed)
        for i in range(args.n):
            mat = bench.MATERIALS[i % len(bench.MATERIALS)]
            d = float(rng.uniform(30.0, 120.0) if mat in bench.PLASTIC else rng.uniform(60.0, 300.0))
            path = PipePath.uniform(d, mat)
            snr = float(rng.choice(bench.SNRS))
            sim = simulate_pair(path, float(rng.uniform(0.1, 0.9)) * d, snr_db=snr, duration_s=args.duration,
                                confounders=["consumption"], seed=int(rng.integers(2**31)), keep_components=True)
            a, b = (dataclasses.replace(rec, samples=sim.components[k]["consumption"] + sim.components[k]["background"])
                    for rec, k in ((sim.a, "a"), (sim.b, "b")))
            seen.clear()
            res = correlate_pair(a, b, path)
            for p, frac in seen:
                rows.append((p, frac))
                print(f"seed {seed} pair {i:3d} {mat:16s} p {p:9.2e} steady fraction {frac:5.3f} "
                      f"detected {res.detected}", flush=True)
    p = np.array([r[0] for r in rows])
    frac = np.array([r[1] for r in rows])
    passed = (p <= analysis._STEADY_PFA) & (frac >= analysis._STEADY_MIN_FRACTION)
    print(f"\n{len(args.seeds) * args.n} tap-only pairs of {args.duration:g} s; {len(rows)} peaks flagged intermittent")
    print(f"p <= {analysis._STEADY_PFA:g}: {int(np.sum(p <= analysis._STEADY_PFA))}, with steady fractions "
          f"{np.round(np.sort(frac[p <= analysis._STEADY_PFA]), 3).tolist()}")
    print(f"taken for a steady source (both limits): {int(np.sum(passed))}")


if __name__ == "__main__":
    main()
