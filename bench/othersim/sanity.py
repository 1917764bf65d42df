"""Sanity report of the othersim data (printed, not a result): neither trivial nor impossible?

Run from the repository root: ``python bench/othersim/sanity.py [--pairs 40] [--singles 160] [--seed 1]``.

* Pairs: a plain textbook GCC-PHAT (``textbook_gcc_phat``) on each pair, its error against the
  true delay (samples and metres), by material class and SNR.
* Single recordings: per label, the spread of levels (dBFS as stored, and calibrated dB re 1 unit)
  and of spectral centroids / fraction of power below 200 Hz.
* Fleet: per truth category, the median nightly level and spread by logger model.
"""

from __future__ import annotations

import argparse
import collections
import csv
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import signal

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import othersim
else:  # python -m othersim.sanity
    import othersim  # type: ignore


def pct(x, q):
    return float(np.percentile(x, q)) if len(x) else float("nan")


def report_pairs(n: int, seed: int, duration_s: float) -> None:
    print(f"\n== {n} pairs, {duration_s:g} s, drawn sample rates; textbook GCC-PHAT vs truth ==")
    print(f"{'pair':>4} {'mat':<16} {'len_m':>6} {'fs':>6} {'snrA':>6} {'snrB':>6} {'true_ms':>8} {'gcc_ms':>8} "
          f"{'err_smp':>8} {'err_m':>7}  confounders")
    rows = []
    t_gen = 0.0
    for i in range(n):
        t0 = time.process_time()
        leak = i % 5 != 4
        p = othersim.pair(seed * 1000 + i, duration_s=duration_s, leak=leak)
        t_gen += time.process_time() - t0
        t = p.truth
        a, b, fs = p.samples_a, p.samples_b, p.sample_rate_a_hz
        if p.sample_rate_b_hz != fs:
            continue
        g = othersim.textbook_gcc_phat(a, b, fs, t["max_abs_delay_s"], stream_offset_s=t["start_offset_s"])
        mats = "+".join(dict.fromkeys(s["material"] for s in t["sections"]))
        c_mean = t["path_length_m"] / max(t["max_abs_delay_s"], 1e-9)
        if leak:
            err = g.delay_s - t["delay_s"]
            err_m = 0.5 * c_mean * abs(err)
            rows.append((mats, t["path_length_m"], err * fs, err_m, t["snr_pair_db"], t["confounder_kinds"]))
            print(f"{i:>4} {mats[:16]:<16} {t['path_length_m']:>6.0f} {fs:>6.0f} {t['snr_a_db']:>6.1f} {t['snr_b_db']:>6.1f} "
                  f"{1e3 * t['delay_s']:>8.2f} {1e3 * g.delay_s:>8.2f} {err * fs:>8.1f} {err_m:>7.2f}  {','.join(t['confounder_kinds'])}")
        else:
            print(f"{i:>4} {mats[:16]:<16} {t['path_length_m']:>6.0f} {fs:>6.0f} {'-':>6} {'-':>6} {'-':>8} "
                  f"{1e3 * g.delay_s:>8.2f} {'-':>8} {'-':>7}  no leak ({t['leak_free_kind']}) {','.join(t['confounder_kinds'])}")
    if not rows:
        return
    errs_m = np.array([r[3] for r in rows])
    L = np.array([r[1] for r in rows])
    within1 = np.mean(np.abs([r[2] for r in rows]) <= 1.0)
    within5pct = np.mean(errs_m <= 0.05 * L)
    print(f"\nleak pairs: {len(rows)}; |error| <= 1 sample: {100 * within1:.0f} %; <= 5 % of spacing: "
          f"{100 * within5pct:.0f} %; median error {np.median(errs_m):.2f} m; CPU per pair {t_gen / n:.2f} s")
    by = collections.defaultdict(list)
    for mats, length, es, em, snr, conf in rows:
        cls = "plastic" if any(m in mats for m in ("pe", "pvc")) else "metal/AC/concrete"
        by[cls].append(em <= 0.05 * length)
    for k, v in by.items():
        print(f"  {k:<18} n={len(v):>3}  within 5 % of spacing: {100 * np.mean(v):.0f} %")


def centroid_and_low(x: np.ndarray, fs: float) -> tuple:
    f, p = signal.welch(x, fs=fs, nperseg=min(4096, x.size))
    tot = float(p.sum()) or 1e-300
    return float((f * p).sum() / tot), float(p[f < 200.0].sum() / tot)


def report_singles(n: int, seed: int) -> None:
    print(f"\n== {n} single recordings (write_single_set draws), per label ==")
    stats = collections.defaultdict(lambda: collections.defaultdict(list))
    t0 = time.process_time()
    for _, rec in othersim.iter_single_set(n, seed, calibrated_fraction=1.0):
        m = rec.meta
        x = rec.samples
        c, low = centroid_and_low(x, rec.sample_rate_hz)
        rms = math.sqrt(float(np.mean(x * x))) or 1e-12
        s = stats[rec.label]
        s["dbfs"].append(20 * math.log10(rms))
        s["cal_db_" + m["sensor_kind"]].append(20 * math.log10(rms) - m["gain_db"])
        s["centroid"].append(c)
        s["low"].append(low)
        if m["snr_db"] is not None:
            s["snr"].append(m["snr_db"])
    dt = time.process_time() - t0
    print(f"{'label':<12} {'n':>4} {'dBFS p10/p50/p90':>22} {'cal dB hyd p10/p90':>20} {'cal dB acc p10/p90':>20} "
          f"{'centroid Hz p10/p50/p90':>26} {'<200Hz p50':>10}")
    for lab in othersim.LABELS:
        s = stats.get(lab)
        if not s:
            continue
        h, a = s["cal_db_hydrophone"], s["cal_db_accelerometer"]
        print(f"{lab:<12} {len(s['dbfs']):>4} {pct(s['dbfs'], 10):>7.1f}/{pct(s['dbfs'], 50):>6.1f}/{pct(s['dbfs'], 90):>6.1f} "
              f"{pct(h, 10):>9.1f}/{pct(h, 90):>6.1f}   {pct(a, 10):>9.1f}/{pct(a, 90):>6.1f}   "
              f"{pct(s['centroid'], 10):>8.0f}/{pct(s['centroid'], 50):>6.0f}/{pct(s['centroid'], 90):>6.0f}  "
              f"{pct(s['low'], 50):>10.2f}")
    snr = stats["leak"]["snr"]
    if snr:
        print(f"leak SNR (dB) p10/p50/p90: {pct(snr, 10):.1f}/{pct(snr, 50):.1f}/{pct(snr, 90):.1f}; "
              f"CPU per recording {dt / n:.2f} s")


def report_fleet(seed: int) -> None:
    print("\n== fleet (300 loggers, 85 nights): median nightly level / spread by category and model ==")
    with tempfile.TemporaryDirectory() as d:
        r = othersim.write_fleet(d, seed=seed)
        truth = {row["logger_id"]: row for row in csv.DictReader(open(r["truth"]))}
        per = collections.defaultdict(list)
        for row in csv.DictReader(open(r["stats"])):
            per[row["logger_id"]].append((float(row["level"]), float(row["spread"])))
        visits = list(csv.DictReader(open(r["visits"])))
    table = collections.defaultdict(list)
    for lid, vals in per.items():
        t = truth[lid]
        cat = t["category"] if not t["heard_leak_of"] else "hears_neighbour_leak"
        table[(cat, t["model"])].append((np.median([v[0] for v in vals]), np.median([v[1] for v in vals])))
    print(f"{'category':<22} {'model':<6} {'n':>3} {'level p10/p90':>16} {'spread p50':>10}")
    for (cat, model), v in sorted(table.items()):
        lv = [x[0] for x in v]
        sp = [x[1] for x in v]
        print(f"{cat:<22} {model:<6} {len(v):>3} {pct(lv, 10):>7.1f}/{pct(lv, 90):>6.1f} {pct(sp, 50):>10.1f}")
    print(f"rows {r['n_rows']}, visits {len(visits)} ({sum(int(v['leak_found']) for v in visits)} found a leak)")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=40)
    ap.add_argument("--singles", type=int, default=160)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--duration", type=float, default=30.0)
    args = ap.parse_args(argv)
    report_pairs(args.pairs, args.seed, args.duration)
    report_singles(args.singles, args.seed)
    report_fleet(args.seed)


if __name__ == "__main__":
    main()
