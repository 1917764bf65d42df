"""Speed of ``acoustic.correlate`` on a 30 s, 8 kHz pair of PCM16 WAV files.

Measured in one process, reading the two files included in every correlation:

* ours: ``read_recording`` x 2 + ``correlate_pair`` (the full method: robust averaging, band,
  notches, CLEAN peaks, interval);
* baseline (b): ``read_recording`` x 2 + textbook GCC-PHAT from ``scipy.signal.csd`` and
  ``scipy.signal.coherence`` with the same frame length and the same start-time and
  travel-time bookkeeping (as in ``bench/correlate_accuracy.py``);
* floor: reading the two files plus the framed real FFTs alone.

Also: the cold wall time of one ``acoustic correlate ... --json`` command (a new process each
time, numba's on-disk cache warm), and each numba kernel against its numpy reference and a
vectorised numpy equivalent.

Run: ``.venv/bin/python bench/correlate_speed.py [--seconds 20] [--cold 5]``; writes
``bench/results/correlate_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _rate(fn, seconds):
    fn()  # warm
    n = 0
    t0 = time.perf_counter()
    while True:
        fn()
        n += 1
        el = time.perf_counter() - t0
        if el >= seconds and n >= 3:
            return n / el, el / n


def _best_of(fn, repeats=30):
    fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def kernels_table():
    from numpy.lib.stride_tricks import sliding_window_view

    from acoustic.correlate._kernels import accumulate_spectra, group_energies, running_median, top_local_maxima
    from acoustic.correlate._spectra import _groups

    rng = np.random.default_rng(0)
    k, f = 57, 4097
    xa = (rng.standard_normal((k, f)) + 1j * rng.standard_normal((k, f))).astype(np.complex64)
    xb = (rng.standard_normal((k, f)) + 1j * rng.standard_normal((k, f))).astype(np.complex64)
    st, sp, bg = _groups(f, 8000.0 / 8192)
    w = rng.uniform(0.5, 1.0, (k, st.size))

    def ge_vec():
        pa = xa.real**2 + xa.imag**2
        pb = xb.real**2 + xb.imag**2
        return np.add.reduceat(pa[:, st[0]:], st - st[0], axis=1), np.add.reduceat(pb[:, st[0]:], st - st[0], axis=1)

    def acc_vec():
        ww = np.ones((k, f), np.float32)
        ww[:, bg >= 0] = w[:, bg[bg >= 0]]
        pa = xa.real**2 + xa.imag**2
        pb = xb.real**2 + xb.imag**2
        return (np.einsum("kf,kf->f", ww, pa), np.einsum("kf,kf->f", ww, pb),
                np.einsum("kf,kf->f", ww, xa * np.conj(xb)), ww.sum(0), (ww * ww).sum(0))

    spec = rng.gamma(2.0, 1.0, f)

    def rm_vec():
        half = 13
        pad = np.pad(spec, half, mode="reflect")
        return np.median(sliding_window_view(pad, 2 * half + 1), axis=1)

    y = np.convolve(rng.standard_normal(16384), np.hanning(15), mode="same")

    def peaks_vec():
        i = np.arange(1, y.size - 1)
        cand = i[(y[i] > y[i - 1]) & (y[i] >= y[i + 1])]
        order = cand[np.argsort(-y[cand])]
        out = []
        for c in order:
            if all(abs(c - o) >= 40 for o in out):
                out.append(c)
                if len(out) == 5:
                    break
        return out

    rows = {
        "group energies (57 x 4097)": (lambda: group_energies(xa, xb, st, sp),
                                       lambda: group_energies(xa, xb, st, sp, use_numba=False), ge_vec),
        "weighted accumulation (57 x 4097)": (lambda: accumulate_spectra(xa, xb, w, bg),
                                              lambda: accumulate_spectra(xa, xb, w, bg, use_numba=False), acc_vec),
        "running median (4097, +-13)": (lambda: running_median(spec, 13),
                                        lambda: running_median(spec, 13, use_numba=False), rm_vec),
        "top local maxima (16384)": (lambda: top_local_maxima(y, 0, y.size, min_separation=40, max_peaks=5),
                                     lambda: top_local_maxima(y, 0, y.size, min_separation=40, max_peaks=5,
                                                              use_numba=False), peaks_vec),
    }
    out = {}
    for name, (nb, ref, vec) in rows.items():
        t_nb = _best_of(nb)
        t_ref = _best_of(ref, 5)
        t_vec = _best_of(vec, 10)
        out[name] = {"numba_ms": t_nb * 1e3, "numpy_reference_ms": t_ref * 1e3, "numpy_vectorised_ms": t_vec * 1e3,
                     "speedup_vs_vectorised": t_vec / t_nb}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=15.0, help="time spent on each throughput measurement")
    ap.add_argument("--cold", type=int, default=5, help="cold command runs (median reported)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "correlate_speed.json")
    args = ap.parse_args()
    warnings.simplefilter("ignore")

    from correlate_accuracy import baseline_phat

    from acoustic.correlate import correlate_pair
    from acoustic.correlate._analysis import choose_frame_length
    from acoustic.correlate._locate import WINDOW_MARGIN
    from acoustic.correlate._prepare import prepare_pair
    from acoustic.correlate._spectra import frame_spectra, hann
    from acoustic.io import read_pipe, read_recording
    from acoustic.pipe import PipePath
    from acoustic.simulate import simulate_pair

    tmp = Path(tempfile.mkdtemp(prefix="corr_speed_"))
    try:
        path = PipePath.uniform(150.0, "ductile_iron")
        sim = simulate_pair(path, 52.0, snr_db=0.0, duration_s=30.0, sample_rate_hz=8000.0,
                            confounders=["hum"], seed=7)
        sim.write(tmp, subtype="PCM_16")
        fa, fb, fp = tmp / "A.wav", tmp / "B.wav", tmp / "pipe.json"
        pipe = read_pipe(fp)

        def ours():
            a, b = read_recording(fa), read_recording(fb)
            return correlate_pair(a, b, pipe)

        res = ours()
        t_win = float(np.sum(pipe.lengths_m / pipe.speeds_m_s())) * WINDOW_MARGIN

        def base_b():
            a, b = read_recording(fa), read_recording(fb)
            prep = prepare_pair(a, b)
            n_fft = choose_frame_length(prep.xa.size, prep.sample_rate_hz, t_win + abs(prep.offset_s))
            return baseline_phat(prep, pipe, t_win, n_fft)

        n_fft = res.frame_length_s * res.sample_rate_hz

        def floor():
            a, b = read_recording(fa), read_recording(fb)
            n = int(n_fft)
            w = hann(n)
            return frame_spectra(a.samples, n, n // 2, w), frame_spectra(b.samples, n, n // 2, w)

        r_ours, t_ours = _rate(ours, args.seconds)
        r_base, t_base = _rate(base_b, args.seconds)
        r_floor, t_floor = _rate(floor, args.seconds)
        x_base = base_b()

        exe = shutil.which("acoustic", path=os.path.dirname(sys.executable)) or "acoustic"
        cmd = [exe, "correlate", str(fa), str(fb), "--pipe", str(fp), "--json"]
        subprocess.run(cmd, check=True, capture_output=True)  # numba's on-disk cache warm
        cold = []
        for _ in range(args.cold):
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            cold.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        py_floor = time.perf_counter() - t0
        kern = kernels_table()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"30 s, 8 kHz PCM16 pair, ductile iron 150 m, leak at 52 m (found at {res.distance_from_a_m:.2f} m; "
          f"baseline (b) {x_base:.2f} m); frame {int(n_fft)} samples, {res.n_frames} frames; load average {load:.1f}")
    print(f"\n{'one process, reading included':34s} {'corr/s':>8s} {'ms each':>8s} {'ratio':>8s}")
    print(f"{'ours (correlate_pair)':34s} {r_ours:8.1f} {t_ours * 1e3:8.1f} {'1.00':>8s}")
    print(f"{'baseline (b) csd GCC-PHAT':34s} {r_base:8.1f} {t_base * 1e3:8.1f} {r_ours / r_base:8.2f}  ours / baseline")
    print(f"{'floor: read + framed rfft':34s} {r_floor:8.1f} {t_floor * 1e3:8.1f} {r_ours / r_floor:8.2f}  ours / floor")
    med = statistics.median(cold)
    print(f"\ncold 'acoustic correlate ... --json': median {med:.2f} s (min {min(cold):.2f}, max {max(cold):.2f}) "
          f"over {len(cold)} runs; python start-up alone {py_floor:.2f} s")
    print(f"\n{'kernel':36s} {'numba ms':>9s} {'ref ms':>9s} {'vec ms':>9s} {'vec/numba':>9s}")
    for k, v in kern.items():
        print(f"{k:36s} {v['numba_ms']:9.3f} {v['numpy_reference_ms']:9.3f} {v['numpy_vectorised_ms']:9.3f} "
              f"{v['speedup_vs_vectorised']:9.2f}")
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps({
        "pair": "30 s, 8 kHz, PCM16 WAV, ductile iron 150 m", "frame_samples": int(n_fft), "n_frames": res.n_frames,
        "load_average_1min": load,
        "ours_per_s": r_ours, "baseline_b_per_s": r_base, "floor_per_s": r_floor,
        "ratio_ours_to_baseline_b": r_ours / r_base, "ratio_ours_to_floor": r_ours / r_floor,
        "cold_command_s": {"median": med, "min": min(cold), "max": max(cold), "runs": cold},
        "python_startup_s": py_floor, "kernels": kern,
    }, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
