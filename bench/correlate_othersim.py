"""``acoustic correlate`` on pairs from ``bench/othersim`` (an independently written generator).

Validation only: nothing in the correlator is tuned on these pairs.  The pairs are written to disk
by ``othersim.write_pair_set`` (WAV + sidecars + pipe.json, the nominal pipe) and read back with
``acoustic.io``, as field data would be.  Scored as in ``correlate_accuracy.py``: located = a reported
position within max(1 m, 2 % of the sensor spacing) of the true leak (either leak where there are
two: the crew digging it finds a leak), covered = the 95 % interval holds it (over pairs given a
position), false detection = a position reported on a leak-free pair.  The baseline is othersim's
own ``textbook_gcc_phat`` (Welch csd, PHAT, argmax within the same allowed delays as the correlator,
no band choice), converted to a position with the nominal piecewise speeds.

Run: ``.venv/bin/python bench/correlate_othersim.py [--n 60] [--seed 1] [--duration 30]``;
writes ``bench/results/correlate_othersim.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _othersim():
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    import othersim

    return othersim


def textbook_position(rec_a, rec_b, path, t_win: float):
    """Position (m from A) by othersim's textbook GCC-PHAT within the delays |d| <= ``t_win``."""
    from scipy.signal import resample_poly

    othersim = _othersim()
    a, b = rec_a.samples, rec_b.samples
    fs = rec_a.sample_rate
    if rec_b.sample_rate != fs:
        from fractions import Fraction

        fr = Fraction(fs / rec_b.sample_rate).limit_denominator(1000)
        b = resample_poly(b, fr.numerator, fr.denominator)
    offset = 0.0
    if rec_a.start_time is not None and rec_b.start_time is not None:
        offset = (rec_b.start_time - rec_a.start_time).total_seconds()
    g = othersim.textbook_gcc_phat(a, b, fs, t_win, stream_offset_s=offset)
    return float(path.position_for_delay(g.delay_s))


def run_pair(pair_dir: Path) -> dict:
    """Correlate one written pair and score it against its truth."""
    from acoustic.correlate import correlate_pair
    from acoustic.correlate._locate import delay_window_s
    from acoustic.io import read_pipe, read_recording

    truth = json.loads((pair_dir / "truth.json").read_text())
    path = read_pipe(pair_dir / "pipe.json")
    a, b = read_recording(pair_dir / "A.wav"), read_recording(pair_dir / "B.wav")
    d = path.length_m
    tol = max(1.0, 0.02 * d)
    leaks = []
    if truth.get("leak"):
        leaks.append(float(truth["leak_distance_from_a_m"]))
        if truth.get("second_leak"):
            x2 = truth["second_leak"].get("distance_from_a_m")
            if x2 is not None:
                leaks.append(float(x2))
    row = dict(pair=pair_dir.name, leak=bool(leaks), length_m=d, confounders=truth.get("confounder_kinds"),
               materials="+".join(dict.fromkeys(s["material"] for s in truth["sections"])),
               snr_pair_db=truth.get("snr_pair_db"), leak_m=leaks[0] if leaks else None)
    t0 = time.perf_counter()
    try:
        res = correlate_pair(a, b, path)
    except Exception as exc:  # an input error is a miss, reported
        row.update(error=f"{type(exc).__name__}: {exc}", detected=False, located=False, covered=None,
                   textbook_located=False, seconds=time.perf_counter() - t0)
        return row
    row["seconds"] = time.perf_counter() - t0
    row.update(detected=res.detected, position_m=res.distance_from_a_m, interval_m=res.interval_m,
               outside=len(res.outside_peaks), weighting=res.weighting, band_hz=list(res.band_hz),
               peaks=[p["distance_from_a_m"] for p in res.peaks])
    x = res.distance_from_a_m
    if leaks and res.detected:
        near = min(leaks, key=lambda v: abs(x - v))
        row.update(located=abs(x - near) <= tol, error_m=x - near,
                   covered=bool(res.interval_m[0] <= near <= res.interval_m[1]))
    else:
        row.update(located=False, covered=None)
    t_win = delay_window_s(path, a.sample_rate)
    try:
        xt = textbook_position(a, b, path, t_win)
        row["textbook_located"] = bool(leaks) and min(abs(xt - v) for v in leaks) <= tol
    except ValueError:
        row["textbook_located"] = False
    return row


def summarise(rows: list) -> dict:
    lk = [r for r in rows if r["leak"]]
    free = [r for r in rows if not r["leak"]]
    cov = [r["covered"] for r in lk if r["covered"] is not None]
    return dict(n_leak=len(lk), n_leak_free=len(free),
                located=float(np.mean([r["located"] for r in lk])) if lk else None,
                detected=float(np.mean([r["detected"] for r in lk])) if lk else None,
                coverage=float(np.mean(cov)) if cov else None,
                textbook_located=float(np.mean([r["textbook_located"] for r in lk])) if lk else None,
                false_detections=int(sum(r["detected"] for r in free)),
                median_seconds=float(np.median([r["seconds"] for r in rows])) if rows else None)


def run_set(n: int, seed: int, duration_s: float, cache: Path | None = None, progress: bool = True):
    """Write (or reuse) ``n`` othersim pairs and run every one."""
    othersim = _othersim()
    tmp = None
    if cache is None:
        tmp = tempfile.TemporaryDirectory(prefix="othersim_pairs_")
        cache = Path(tmp.name)
    cache = Path(cache) / f"n{n}_s{seed}_d{duration_s:g}"
    if not (cache / "index.csv").exists():
        othersim.write_pair_set(cache, n, seed, duration_s=duration_s)
    rows = []
    t0 = time.perf_counter()
    for i, d in enumerate(sorted(p for p in cache.iterdir() if p.is_dir())):
        rows.append(run_pair(d))
        if progress and (i + 1) % 20 == 0:
            print(f"  othersim {i + 1}/{n} pairs ({time.perf_counter() - t0:.0f} s)", flush=True)
    if tmp is not None:
        tmp.cleanup()
    return rows


def print_summary(s: dict, title: str) -> None:
    def pc(v):
        return "    -" if v is None else f"{100 * v:5.1f}"
    print(f"\n{title}")
    print(f"  leak pairs {s['n_leak']}: located {pc(s['located'])} % (detected {pc(s['detected'])} %), 95 % interval "
          f"holds the leak {pc(s['coverage'])} % of pairs given a position; textbook GCC-PHAT located "
          f"{pc(s['textbook_located'])} %")
    print(f"  leak-free pairs {s['n_leak_free']}: false detections {s['false_detections']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=60, help="othersim pairs (about 3 in 4 with a leak; default 60)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--duration", type=float, default=30.0, help="recording length in s (default 30)")
    ap.add_argument("--cache", type=Path, default=None, help="keep the written pairs here (reused when present)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "correlate_othersim.json")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    rows = run_set(args.n, args.seed, args.duration, args.cache)
    s = summarise(rows)
    print_summary(s, f"othersim pairs ({args.n}, seed {args.seed}, {args.duration:g} s) - validation, never tuned on")
    for r in rows:
        if r["leak"] and not r["located"]:
            print(f"  missed {r['pair']} {r['materials']:24s} D={r['length_m']:.0f} m leak {r['leak_m']:.1f} m "
                  f"got {r.get('position_m')} conf {r['confounders']} snr {r['snr_pair_db']:.1f} "
                  f"textbook {'hit' if r['textbook_located'] else 'miss'} {r.get('error', '')}")
        if not r["leak"] and r["detected"]:
            print(f"  false detection {r['pair']} {r['materials']} at {r['position_m']:.1f} m conf {r['confounders']}")
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps({"n": args.n, "seed": args.seed, "duration_s": args.duration, "summary": s,
                                    "rows": rows}, indent=1, default=float) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
