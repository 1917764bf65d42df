"""Recordings per second of the fused feature extractor against librosa, with the floor.

For N recordings of 10 s at 8 kHz (16-bit WAV + sidecar, leak-like coloured noise with
mains and pump lines), in the same run:

- **floor**: read the file (``read_recording``) and compute one STFT with the extractor's
  framing (0.256 s periodic-Hann frames, 50 % overlap);
- **fused**: read + ``extract_features`` (one STFT feeding all 76 features), both with the
  default analysis band and with ``band_hz=(0, fs/2)`` (librosa's full-band definitions);
- **librosa**: read + the librosa calls a user makes for the same features, each
  recomputing its STFT (rms, zero_crossing_rate, spectral_centroid, spectral_bandwidth,
  spectral_rolloff, spectral_flatness, spectral_contrast, mfcc), with the same n_fft, hop,
  window and ``center=False``, and their means over frames.

The fused full-band values are checked against librosa's (printed max relative error)
before timing counts.  librosa has no 1/3-octave levels, tonal-line flags or level
statistics, so the fused extractor does strictly more work than the librosa column.

Run: ``.venv/bin/python bench/features.py [--n 24] [--repeats 5]``; writes
``bench/results/features.json``.
"""

from __future__ import annotations

import os

# One BLAS / OpenMP thread, as the project's workers run (engineering.md): with 2 shared
# cores, multi-threaded BLAS inside librosa's mel projection swings its time tenfold.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics
import sys
import tempfile
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FS = 8000.0
DURATION_S = 10.0


def make_recordings(folder: Path, n: int, seed: int = 4) -> list[Path]:
    from scipy.signal import lfilter

    from acoustic.io import write_recording
    from acoustic.recording import Recording

    rng = np.random.default_rng(seed)
    t = np.arange(int(DURATION_S * FS)) / FS
    paths = []
    for i in range(n):
        x = 0.05 * lfilter([1.0], [1.0, -rng.uniform(0.5, 0.95)], rng.standard_normal(t.size))
        x += 0.01 * np.sin(2 * np.pi * 50.0 * t) + 0.005 * np.sin(2 * np.pi * 150.0 * t)
        f0 = rng.uniform(20, 30)
        for h in range(1, 6):
            x += 0.004 * np.sin(2 * np.pi * h * f0 * t + rng.uniform(0, 6))
        rec = Recording(samples=x / (1.2 * np.max(np.abs(x))), sample_rate=FS, sensor_id=f"L{i:03d}",
                        start_time=datetime(2026, 11, 3, 2, 0, tzinfo=timezone.utc), gain_db=12.0)
        paths.append(write_recording(rec, folder / f"rec{i:03d}.wav"))
    return paths


def run_floor(paths):
    from acoustic.features._design import design_for
    from acoustic.features._extract import stft_blocks
    from acoustic.io import read_recording

    d = design_for(FS)
    for p in paths:
        x = read_recording(p).calibrated()
        for _ in stft_blocks(x, d):  # the extractor's own STFT (reused buffers)
            pass


def run_fused(paths, band):
    from acoustic.features import extract_features
    from acoustic.io import read_recording

    return [extract_features(read_recording(p), band_hz=band) for p in paths]


def librosa_features(y, sr, n_fft, hop):
    import librosa

    kw = dict(n_fft=n_fft, hop_length=hop, center=False)
    out = {
        "rms": librosa.feature.rms(y=y, frame_length=n_fft, hop_length=hop, center=False, dtype=np.float64)[0],
        "zcr": librosa.feature.zero_crossing_rate(y, frame_length=n_fft, hop_length=hop, center=False)[0],
        "centroid": librosa.feature.spectral_centroid(y=y, sr=sr, **kw)[0],
        "bandwidth": librosa.feature.spectral_bandwidth(y=y, sr=sr, **kw)[0],
        "rolloff": librosa.feature.spectral_rolloff(y=y, sr=sr, **kw)[0],
        "flatness": librosa.feature.spectral_flatness(y=y, **kw)[0],
        "contrast": librosa.feature.spectral_contrast(y=y, sr=sr, fmin=100.0, n_bands=4, **kw),
        "mfcc": librosa.feature.mfcc(y=y, sr=sr, n_mfcc=13, n_mels=32, fmin=0.0, fmax=sr / 2, **kw),
    }
    return out


def run_librosa(paths):
    from acoustic.features._design import design_for
    from acoustic.io import read_recording

    d = design_for(FS)
    res = []
    for p in paths:
        y = read_recording(p).calibrated()
        res.append(librosa_features(y, FS, d.n_fft, d.hop))
    return res


def compare(fused, lib) -> dict:
    """Max relative error of the fused full-band features against librosa's frame means."""
    from acoustic.features._design import design_for
    from acoustic.features._extract import mel_psd_scale

    d = design_for(FS, (0.0, FS / 2))
    mfcc0_offset = np.sqrt(32) * 10 * np.log10(mel_psd_scale(d))
    errs: dict[str, float] = {}

    def upd(key, mine, ref):
        e = abs(mine - ref) / max(abs(ref), 1e-12)
        errs[key] = max(errs.get(key, 0.0), float(e))

    for fv, L in zip(fused, lib):
        upd("rms_level_db", fv["rms_level_db"], 10 * np.log10(np.mean(L["rms"] ** 2)))
        upd("zero_crossing_rate", fv["zero_crossing_rate"], np.mean(L["zcr"]))
        upd("spectral_centroid_hz", fv["spectral_centroid_hz"], np.mean(L["centroid"]))
        upd("spectral_bandwidth_hz", fv["spectral_bandwidth_hz"], np.mean(L["bandwidth"]))
        upd("spectral_rolloff_hz", fv["spectral_rolloff_hz"], np.mean(L["rolloff"]))
        upd("spectral_flatness", fv["spectral_flatness"], np.mean(L["flatness"]))
        names = ("contrast_below_100hz_db", "contrast_100_200hz_db", "contrast_200_400hz_db",
                 "contrast_400_800hz_db", "contrast_above_800hz_db")
        for k, name in enumerate(names):
            upd("spectral_contrast", fv[name], np.mean(L["contrast"][k]))
        mf = L["mfcc"].mean(axis=1)
        upd("mfcc_0 (documented PSD offset removed)", fv["mfcc_0"] - mfcc0_offset, mf[0])
        for i in range(1, 13):
            upd("mfcc_1..12", fv[f"mfcc_{i}"], mf[i])
    return errs


def timed_interleaved(fns: dict, repeats: int) -> dict:
    """Run every method once per round, ``repeats`` rounds (machine-load drifts hit all alike);
    return {name: (median s, min s)}."""
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: (statistics.median(v), min(v)) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=24, help="recordings per timed run")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    import librosa  # noqa: F401  (import cost outside the timings)

    with tempfile.TemporaryDirectory() as tmp:
        paths = make_recordings(Path(tmp), args.n)
        # warm-up: numba cache load / compile, librosa's lazy imports, file cache
        run_floor(paths[:2])
        run_fused(paths[:2], None)
        run_fused(paths[:2], (0.0, FS / 2))
        run_librosa(paths[:2])

        errs = compare(run_fused(paths, (0.0, FS / 2)), run_librosa(paths))
        rows = timed_interleaved({
            "floor: read + one STFT": lambda: run_floor(paths),
            "fused, default band": lambda: run_fused(paths, None),
            "fused, full band (= librosa defs)": lambda: run_fused(paths, (0.0, FS / 2)),
            "librosa, separate calls": lambda: run_librosa(paths),
        }, args.repeats)

    n = args.n
    floor = rows["floor: read + one STFT"][0]
    lib = rows["librosa, separate calls"][0]
    print(f"{n} recordings of {DURATION_S:g} s at {FS:g} Hz; median of {args.repeats} interleaved runs, "
          f"1 BLAS thread; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    lib_best = rows["librosa, separate calls"][1]
    floor_best = rows["floor: read + one STFT"][1]
    print(f"{'method':36s} {'rec/s':>9s} {'ms/rec':>8s} {'x floor time':>13s} {'speed-up vs librosa':>20s}"
          f" {'(best runs)':>12s}")
    table = {}
    for name, (med, best) in rows.items():
        rps = n / med
        table[name] = {"recordings_per_s": rps, "ms_per_recording": 1e3 * med / n, "median_s": med,
                       "best_s": best, "time_over_floor": med / floor, "speedup_vs_librosa": lib / med,
                       "time_over_floor_best": best / floor_best, "speedup_vs_librosa_best": lib_best / best}
        print(f"{name:36s} {rps:9.1f} {1e3 * med / n:8.2f} {med / floor:13.2f} {lib / med:20.2f}"
              f" {lib_best / best:12.2f}")
    print("\nagreement of fused (full band) with librosa frame means, max relative error:")
    for k, v in errs.items():
        print(f"  {k:42s} {v:.2e}")
    goal = table["fused, full band (= librosa defs)"]["speedup_vs_librosa"]
    goal_best = table["fused, full band (= librosa defs)"]["speedup_vs_librosa_best"]
    print(f"\ngoal: >= 5x faster than librosa at matching values -> {goal:.1f}x on medians, "
          f"{goal_best:.1f}x on best runs ({'met' if goal >= 5 else 'NOT met'} on medians)")
    out = HERE / "results" / "features.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({
        "n_recordings": n, "duration_s": DURATION_S, "sample_rate_hz": FS, "repeats": args.repeats,
        "python": sys.version.split()[0], "rows": table, "max_relative_error_vs_librosa": errs,
        "goal_speedup": 5.0, "speedup_at_matching_values": goal, "speedup_at_matching_values_best": goal_best,
        "load_average": os.getloadavg()[0], "cpu_count": os.cpu_count(),
    }, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
