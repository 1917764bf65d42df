"""Speed of ``acoustic.correlate`` on a 30 s, 8 kHz pair of PCM16 WAV files.

Measured in one process, reading the two files included in every correlation, the methods called
in turn, one call each per round (so a change in machine load between them cannot skew the ratios):

* ours: ``read_recording`` x 2 + ``correlate_pair`` (the full method: robust averaging, band,
  notches, CLEAN peaks, interval);
* baseline (b): ``read_recording`` x 2 + textbook GCC-PHAT from ``scipy.signal.csd`` and
  ``scipy.signal.coherence`` with the same frame length and the same start-time and
  travel-time bookkeeping, in double precision as soundfile and scipy give by default (as in
  ``bench/correlate_accuracy.py``); and its leanest form, csd plus two welch calls on the
  single-precision pair ours uses;
* floor: reading the two files plus the framed real FFTs alone;
* ours with ``scipy.fft`` instead of ducc0 (the FFT library it uses when installed).

Everything runs on one core (BLAS, OpenMP and numba limited to one thread).

Also: the same with the numpy twins of the kernels, the leanest textbook baseline (csd and two
welch calls instead of csd and coherence), the cold wall time of one ``acoustic correlate ...
--json`` command (a new process each time), and each numba kernel against its numpy twin.

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

# one process on one core: every method runs in the calling thread (numpy's BLAS would otherwise
# spread the intermittency test's small matrix product over a second core, which a batch running
# a process per core does not have to spare); set before numpy is imported
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _interleaved(fns, seconds):
    """Rate (calls/s) and time per call (s) of each function, called in turn until ``seconds`` pass.

    Calling them round-robin (the order rotating each round) gives every function the same machine
    load, so their ratios hold on a busy machine (timing one after the other lets the load change
    between them).
    """
    for fn in fns:
        fn()  # warm
    rounds = []  # each round's time per function
    t_start = time.perf_counter()
    while True:
        n = len(rounds)
        row = [0.0] * len(fns)
        for r in range(len(fns)):  # the order rotates, so no method always follows the same one
            i = (n + r) % len(fns)
            t0 = time.perf_counter()
            fns[i]()
            row[i] = time.perf_counter() - t0
        rounds.append(row)
        if time.perf_counter() - t_start >= seconds and len(rounds) >= 3:
            spent = np.sum(rounds, axis=0)
            return [(len(rounds) / t, t / len(rounds)) for t in spent], np.asarray(rounds)


def _block_ratios(rounds, num: int, den: int, n_blocks: int = 10):
    """The ratio time[num] / time[den] over each of ``n_blocks`` consecutive stretches of rounds:
    how much the run-wide ratio moves as the machine's speed drifts during the run."""
    blocks = np.array_split(np.arange(len(rounds)), min(n_blocks, len(rounds)))
    return [float(rounds[b, num].sum() / rounds[b, den].sum()) for b in blocks]


def _best_of(fn, repeats=30):
    fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def kernels_table():
    """Each numba kernel against its numpy twin (the vectorised version the tests compare it with)."""
    from acoustic.correlate._kernels import (
        accumulate_spectra, calibrate32, correlogram_derivatives, group_energies, near_peaks, running_median,
        running_median_at, running_median_runs,
    )
    from acoustic.correlate._spectra import _groups

    rng = np.random.default_rng(0)
    k, f = 54, 4097
    xa = (rng.standard_normal((k, f)) + 1j * rng.standard_normal((k, f))).astype(np.complex64)
    xb = (rng.standard_normal((k, f)) + 1j * rng.standard_normal((k, f))).astype(np.complex64)
    st, sp, bg = _groups(f, 8000.0 / 8192)
    w = rng.uniform(0.5, 1.0, (k, st.size))
    spec = rng.gamma(2.0, 1.0, f)
    at = np.sort(rng.choice(f, 200, replace=False))
    run_starts = np.arange(10) * 400 + 20  # the runs of bins near ten tonal lines
    lined = rng.gamma(40.0, 1.0 / 40.0, f)
    lined[run_starts + 14] *= 30.0
    pcm = np.round(rng.standard_normal(240000) * 3000.0) / 0x8000
    band = np.delete(np.arange(30, 1340), np.r_[20:25, 170:173, 320:323, 700:702])  # notched lines leave gaps
    omega, dw = 2 * np.pi * band * 8000.0 / 8192, 2 * np.pi * 8000.0 / 8192
    cspec = rng.standard_normal(band.size) + 1j * rng.standard_normal(band.size)
    rows = {
        "group energies (54 x 4097)": (lambda: group_energies(xa, xb, st, sp),
                                       lambda: group_energies(xa, xb, st, sp, use_numba=False)),
        "weighted accumulation (54 x 4097)": (lambda: accumulate_spectra(xa, xb, w, bg),
                                              lambda: accumulate_spectra(xa, xb, w, bg, use_numba=False)),
        "running median (4097, +-13)": (lambda: running_median(spec, 13),
                                        lambda: running_median(spec, 13, use_numba=False)),
        "running median at 200 of 4097 bins": (lambda: running_median_at(spec, 13, at),
                                               lambda: running_median_at(spec, 13, at, use_numba=False)),
        "running median over 10 runs of 29 bins": (
            lambda: running_median_runs(spec, 13, run_starts, run_starts + 29),
            lambda: running_median_runs(spec, 13, run_starts, run_starts + 29, use_numba=False)),
        "bins near a 4x peak (4097, +-13)": (lambda: near_peaks(lined, 13, 4.0, 14),
                                             lambda: near_peaks(lined, 13, 4.0, 14, use_numba=False)),
        "calibrated float32 (240000 samples)": (lambda: calibrate32(pcm, 0.01, 0.1),
                                                lambda: calibrate32(pcm, 0.01, 0.1, use_numba=False)),
        "correlogram derivatives (1297 bins, 4 gaps)": (
            lambda: correlogram_derivatives(cspec, omega, band, dw, 0.0372),
            lambda: correlogram_derivatives(cspec, omega, band, dw, 0.0372, use_numba=False)),
    }
    out = {}
    for name, (nb, ref) in rows.items():
        t_nb = _best_of(nb)
        t_ref = _best_of(ref)
        out[name] = {"numba_ms": t_nb * 1e3, "numpy_ms": t_ref * 1e3, "speedup": t_ref / t_nb}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=15.0,
                    help="time per method; the six are timed call by call in turn (default 15)")
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

        def base_b4():
            # the same textbook method with the fewest STFTs, csd + two welch (coherence by hand),
            # on the single-precision prepared pair: the fastest fair baseline
            from scipy.signal import csd, welch

            a, b = read_recording(fa), read_recording(fb)
            prep = prepare_pair(a, b)
            n = choose_frame_length(prep.xa.size, prep.sample_rate_hz, t_win + abs(prep.offset_s))
            f, pab = csd(prep.xb, prep.xa, fs=prep.sample_rate_hz, nperseg=n)
            _, paa = welch(prep.xa, fs=prep.sample_rate_hz, nperseg=n)
            _, pbb = welch(prep.xb, fs=prep.sample_rate_hz, nperseg=n)
            coh = np.abs(pab) ** 2 / np.maximum(paa * pbb, 1e-300)
            k = (prep.xa.size - n) // (n // 2) + 1
            band = coh > 1.0 - 0.05 ** (1.0 / max(k - 1, 1))
            wgt = np.where(band, pab / np.maximum(np.abs(pab), 1e-300), 0.0) * np.exp(-2j * np.pi * f * prep.offset_s)
            r = np.fft.irfft(wgt, n * 4)
            return r.argmax()

        def ours_numpy():
            a, b = read_recording(fa), read_recording(fb)
            return correlate_pair(a, b, pipe, use_numba=False)

        import acoustic.correlate._fft as fft_mod

        backend = fft_mod.fft_backend()

        def ours_scipy_fft():
            fft_mod._found["default"] = "scipy"
            try:
                return ours()
            finally:
                fft_mod._found["default"] = backend

        rates, rounds = _interleaved([ours, ours_numpy, base_b, base_b4, floor, ours_scipy_fft], 6.0 * args.seconds)
        (r_ours, t_ours), (r_ours_np, t_ours_np), (r_base, t_base), (r_base4, t_base4), (r_floor, t_floor), \
            (r_sp, t_sp) = rates
        block = _block_ratios(rounds, 2, 0)  # baseline (b) time / ours, stretch by stretch
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
    print(f"{'ours (correlate_pair, numba)':34s} {r_ours:8.1f} {t_ours * 1e3:8.1f} {'1.00':>8s}")
    print(f"{'ours, numpy twins (use_numba=False)':34s} {r_ours_np:8.1f} {t_ours_np * 1e3:8.1f} "
          f"{r_ours / r_ours_np:8.2f}  numba / numpy")
    print(f"{'baseline (b) csd + coherence PHAT':34s} {r_base:8.1f} {t_base * 1e3:8.1f} {r_ours / r_base:8.2f}  "
          f"ours / baseline (b); over {len(block)} stretches of the run {min(block):.2f}-{max(block):.2f}")
    print(f"{'baseline (b) lean: csd+2 welch, f32':34s} {r_base4:8.1f} {t_base4 * 1e3:8.1f} {r_ours / r_base4:8.2f}  "
          "ours / leanest textbook")
    print(f"{'floor: read + framed rfft':34s} {r_floor:8.1f} {t_floor * 1e3:8.1f} {r_ours / r_floor:8.2f}  ours / floor")
    print(f"{'ours with scipy.fft':34s} {r_sp:8.1f} {t_sp * 1e3:8.1f} {r_ours / r_sp:8.2f}  "
          f"{backend} / scipy.fft ({r_sp / r_base:.2f}x baseline (b))")
    med = statistics.median(cold)
    print(f"\ncold 'acoustic correlate ... --json': median {med:.2f} s (min {min(cold):.2f}, max {max(cold):.2f}) "
          f"over {len(cold)} runs; python start-up alone {py_floor:.2f} s")
    print(f"\n{'kernel':36s} {'numba ms':>9s} {'numpy ms':>9s} {'speed-up':>9s}")
    for k, v in kern.items():
        print(f"{k:36s} {v['numba_ms']:9.3f} {v['numpy_ms']:9.3f} {v['speedup']:9.2f}")
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps({
        "pair": "30 s, 8 kHz, PCM16 WAV, ductile iron 150 m", "frame_samples": int(n_fft), "n_frames": res.n_frames,
        "load_average_1min": load,
        "ours_per_s": r_ours, "ours_numpy_per_s": r_ours_np, "baseline_b_per_s": r_base,
        "baseline_b_lean_per_s": r_base4, "floor_per_s": r_floor,
        "ratio_ours_to_baseline_b": r_ours / r_base, "ratio_ours_to_baseline_b_by_stretch": block,
        "rounds": len(rounds), "ratio_ours_to_baseline_b_lean": r_ours / r_base4,
        "ratio_ours_to_floor": r_ours / r_floor, "fft_backend": backend, "ours_scipy_fft_per_s": r_sp,
        "ratio_ours_scipy_fft_to_baseline_b": r_sp / r_base, "threads": 1,
        "cold_command_s": {"median": med, "min": min(cold), "max": max(cold), "runs": cold},
        "python_startup_s": py_floor, "kernels": kern,
    }, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
