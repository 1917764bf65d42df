"""Wall time of the physics simulator against the naive "delayed copies of noise" generator.

The baseline is what the issue says the simulator must not be: one white-noise source,
delayed by an integer number of samples to each sensor (``np.roll``) plus independent white
noise; no pipe, no sensor, no clock offsets.  It is the floor for generating two noise
streams of the same length, so the ratio says what the physics costs.

Run: ``.venv/bin/python bench/simulate.py [--runs N]``; writes bench/results/simulate.json.
Every run uses a new seed, so the realised pipe properties (and their wavenumbers) differ.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from acoustic.pipe import PipePath, PipeSegment  # noqa: E402
from acoustic.simulate import CONFOUNDERS, simulate_pair, simulate_recording  # noqa: E402


def naive_pair(seed, fs=8000.0, duration_s=30.0, delay_s=-0.04, snr_db=0.0):
    """Baseline: integer-sample delayed copies of one white noise plus independent white noise."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * fs)
    lag = int(round(abs(delay_s) * fs))
    src = rng.standard_normal(n + lag)
    g = 10 ** (-snr_db / 20)
    a = src[lag:] + g * rng.standard_normal(n)
    b = src[:n] + g * rng.standard_normal(n)
    return a, b


def _time(fn, runs):
    fn(10_000)  # warm-up (imports, caches of the nominal wavenumbers)
    times = []
    for i in range(runs):
        t0 = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times), max(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    pvc = PipePath([PipeSegment("pvc", 80.0)])
    metal = PipePath([PipeSegment("ductile_iron", 120.0), PipeSegment("cast_iron", 90.0)])
    cases = {
        "naive delayed copies, 30 s 8 kHz (baseline)": lambda s: naive_pair(s),
        "pair PVC 80 m, 30 s 8 kHz": lambda s: simulate_pair(pvc, 30.0, seed=s),
        "pair DI+CI 210 m, 30 s 8 kHz": lambda s: simulate_pair(metal, 137.0, seed=s),
        "pair DI+CI, all confounders, 30 s 8 kHz": lambda s: simulate_pair(metal, 137.0, seed=s,
                                                                            confounders=CONFOUNDERS),
        "pair DI+CI, 30 s 48 kHz accelerometers": lambda s: simulate_pair(metal, 137.0, seed=s,
                                                                           sample_rate_hz=48000.0,
                                                                           sensor_kind="accelerometer"),
        "recording leak 40 m DI + noises, 10 s 8 kHz": lambda s: simulate_recording(
            leak_distance_m=40.0, noises=("traffic", "pump", "hum"), seed=s),
    }
    rows = {name: _time(fn, args.runs) for name, fn in cases.items()}
    base = rows["naive delayed copies, 30 s 8 kHz (baseline)"][0]
    print(f"{'case':45s} {'median s':>9s} {'min s':>7s} {'max s':>7s} {'x naive':>8s}")
    for name, (med, lo, hi) in rows.items():
        print(f"{name:45s} {med:9.3f} {lo:7.3f} {hi:7.3f} {med / base:8.1f}")
    out = HERE / "results" / "simulate.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({k: {"median_s": v[0], "min_s": v[1], "max_s": v[2], "ratio_to_naive": v[0] / base}
                               for k, v in rows.items()} | {"runs": args.runs}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
