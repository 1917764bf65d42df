"""Visit-style quality of the noise-logger scorer against baselines, on our fleets and othersim's.

Each visit (logger, date) is scored with only the nights on or before its date, as a crew
would have had it.  Methods, on the same visits:

* ``fleet scorer``: :func:`acoustic.loggers.score_loggers` (fleet-relative level and spread
  combined with the within-logger step, one probability);
* ``old scorer``: the within-logger step score alone (:func:`acoustic.loggers.score_history`
  as of the visit date: data older than 7 nights are not scored);
* ``step test``: vendor-style alarm statistic, median level of the last 3 nights minus the
  median of the 14 nights before them (dB; 0 without 17 nights);
* ``level-spread 7n``: mean of (level - spread) over the last 7 nights with data (dB).

Fleets: our own simulated real fleets (:func:`acoustic.loggers.simulate_real_fleet`, held-out
seeds 200-201; the scorer's weights were fitted on seeds 100-103, ``--fit`` refits them) and
othersim fleets (``bench/othersim``, ``write_fleet`` seeds 1-2, its visits.csv labels, its
truth.csv categories; never used for tuning).  AUC is reported for all visits, pre-existing
leaks (leak_old visits against all no-leak visits), new leaks (leak_new) and stale visits (data
stopped before the visit date); plus detection / false alarm at the scorer's alarm and at the old
scorer's, and the fleet scorer's calibration (Brier score, leak share per probability bin).

``python bench/loggers_quality.py [--small] [--fit]``; writes bench/results/loggers_quality.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from acoustic.loggers import ScoringConfig, read_stats, score_history  # noqa: E402
from acoustic.loggers._fleet import FleetConfig, Z_CLIP, features_for, fleet_positions, score_one  # noqa: E402
from acoustic.loggers._fleetsim import fleet_visits, roc_auc, simulate_real_fleet  # noqa: E402

OWN_SEEDS = (200, 201)
FIT_SEEDS = (100, 101, 102, 103)
OTHER_SEEDS = (1, 2)
#: L2 penalty on the weights (not the intercept) of the fit: a weak prior against the
#: near-separation of the step feature on our simulator (unpenalised, b_step ran to 46).
RIDGE = 1.0


def _hist(rows):
    h = {}
    for r in rows:
        h.setdefault(r.logger_id, []).append(r)
    for v in h.values():
        v.sort(key=lambda r: r.date)
    return h


def _step_test(h, day):
    lv = [r.level for r in h if r.date <= day]
    if len(lv) < 17:
        return 0.0
    return float(np.median(lv[-3:]) - np.median(lv[-17:-3]))


def _level_spread(h, day):
    rs = [r for r in h if r.date <= day][-7:]
    return float(np.mean([r.level - r.spread for r in rs])) if rs else -1e9


def _old(lid, h, day):
    """The old scorer's (score, alarm) as of ``day``."""
    hh = [r for r in h if r.date <= day]
    if not hh:
        return 0.0, False
    s = score_history(lid, [r.date for r in hh], [r.level for r in hh], [r.spread for r in hh], day)
    return s.score, s.alarm


def score_visits(rows, visits):
    """Per visit: label, stale nights and each method's score."""
    hist = _hist(rows)
    pos = fleet_positions(rows, FleetConfig())
    out = []
    for lid, day, label, cat in visits:
        h = hist.get(lid, [])
        s = score_one(lid, h, pos, day)
        old, old_alarm = _old(lid, h, day)
        out.append({"old alarm": old_alarm, "leak": bool(label), "cat": cat, "stale": s.stale_nights or 0, "alarm": s.alarm,
                    "empty": not np.isfinite(s.score) or s.confidence_label == "none",
                    "fleet scorer": s.score, "old scorer": old, "step test": _step_test(h, day),
                    "level-spread 7n": _level_spread(h, day)})
    return out


METHODS = ("fleet scorer", "old scorer", "step test", "level-spread 7n")


def summary(res):
    subsets = {
        "all": (lambda v: True),
        "pre-existing": (lambda v: not v["leak"] or v["cat"] == "leak_old"),
        "new": (lambda v: not v["leak"] or v["cat"] == "leak_new"),
        "stale": (lambda v: v["stale"] > 0),
    }
    out = {}
    for name, keep in subsets.items():
        sub = [v for v in res if keep(v)]
        pos = [v for v in sub if v["leak"]]
        negs = [v for v in sub if not v["leak"]]
        row = {"n_leak": len(pos), "n_no_leak": len(negs)}
        for m in METHODS:
            a = roc_auc([v[m] for v in sub], [v["leak"] for v in sub])
            row[f"auc {m}"] = None if a is None else round(a, 3)
        row["detection"] = round(float(np.mean([v["alarm"] for v in pos])), 3) if pos else None
        row["false_alarm"] = round(float(np.mean([v["alarm"] for v in negs])), 3) if negs else None
        row["old_detection"] = round(float(np.mean([v["old alarm"] for v in pos])), 3) if pos else None
        row["old_false_alarm"] = round(float(np.mean([v["old alarm"] for v in negs])), 3) if negs else None
        out[name] = row
    out["calibration"] = calibration(res)
    out["empty_scores"] = sum(v["empty"] for v in res)
    out["n_visits"] = len(res)
    return out


CAL_BINS = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0)


def calibration(res):
    """Brier score and, per probability bin, the share of visits that had a leak (fleet scorer)."""
    p = np.asarray([v["fleet scorer"] for v in res])
    y = np.asarray([v["leak"] for v in res], float)
    bins = []
    for lo, hi in zip(CAL_BINS[:-1], CAL_BINS[1:]):
        m = (p >= lo) & ((p < hi) if hi < 1 else (p <= hi))
        if m.any():
            bins.append({"p_range": [lo, hi], "n": int(m.sum()), "mean_p": round(float(p[m].mean()), 3),
                         "leak_share": round(float(y[m].mean()), 3)})
    return {"brier": round(float(np.mean((p - y) ** 2)), 4), "bins": bins}


def own_fleet(seed, n_per_area):
    rng = np.random.default_rng(seed)
    rows, truths = simulate_real_fleet(rng, n_areas=3, n_per_area=n_per_area)
    visits = [(lid, d, lab, truths[lid].category) for lid, d, lab in fleet_visits(rng, truths)]
    return rows, visits


def other_fleet(seed, n_loggers, tmp):
    import othersim

    out = Path(tmp) / f"other{seed}"
    othersim.write_fleet(out, n_loggers=n_loggers, n_nights=85, seed=seed)
    rows = read_stats(out / "stats.csv")
    with open(out / "truth.csv", encoding="utf-8") as fh:
        cat = {r["logger_id"]: r["category"] for r in csv.DictReader(fh)}
    with open(out / "visits.csv", encoding="utf-8") as fh:
        visits = [(r["logger_id"], date.fromisoformat(r["date"]), r["leak_found"] == "1", cat.get(r["logger_id"]))
                  for r in csv.DictReader(fh)]
    return rows, visits


def fit(n_per_area):
    """Refit LOGIT_WEIGHTS on our own fleets (FIT_SEEDS) by Newton-Raphson maximum likelihood."""
    X, Y = [], []
    for seed in FIT_SEEDS:
        rows, visits = own_fleet(seed, n_per_area)
        pos, hist = fleet_positions(rows), _hist(rows)
        for lid, day, lab, _ in visits:
            f = features_for(lid, hist[lid], pos, day, FleetConfig(), ScoringConfig())
            c = f["c"]
            zl = float(np.clip(f["zl"], -Z_CLIP, Z_CLIP)) if f["n_fleet"] else 0.0
            zs = float(np.clip(f["zs"], -Z_CLIP, Z_CLIP)) if f["n_fleet"] else 0.0
            X.append([1.0, zl * c, zs * c, f["step"].score ** 2, c * (zl - zs)])
            Y.append(float(lab))
    X, Y = np.asarray(X), np.asarray(Y)
    w = np.zeros(X.shape[1])
    R = np.diag([1e-6] + [RIDGE] * (X.shape[1] - 1))
    for _ in range(50):
        p = 1 / (1 + np.exp(-X @ w))
        H = X.T @ (X * (p * (1 - p) + 1e-9)[:, None]) + R
        w += np.linalg.solve(H, X.T @ (Y - p) - R @ w)
    print(json.dumps({"weights": dict(zip(["b0", "b_level", "b_spread", "b_step", "b_diffc"], np.round(w, 3).tolist())),
                      "n_visits": len(Y), "leak_share": round(float(Y.mean()), 3)}))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="one small fleet of each kind (iterating)")
    ap.add_argument("--fit", action="store_true", help="refit the scorer's weights on FIT_SEEDS and stop")
    a = ap.parse_args(argv)
    n_per_area = 60 if a.small else 200
    if a.fit:
        fit(n_per_area)
        return
    t0 = time.perf_counter()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind, seeds in (("own (held out)", OWN_SEEDS), ("othersim", OTHER_SEEDS)):
            res = []
            for seed in seeds[:1] if a.small else seeds:
                rows, visits = own_fleet(seed, n_per_area) if kind.startswith("own") else \
                    other_fleet(seed, 3 * n_per_area, tmp)
                res += score_visits(rows, visits)
            results[kind] = summary(res)
    print(f"{'fleet':16s} {'subset':13s} {'leak/no':>9s} " + " ".join(f"{m:>15s}" for m in METHODS)
          + f" {'det':>5s} {'FA':>5s} {'old det':>7s} {'old FA':>6s}")
    for kind, s in results.items():
        for sub in ("all", "pre-existing", "new", "stale"):
            r = s[sub]
            print(f"{kind:16s} {sub:13s} {r['n_leak']:4d}/{r['n_no_leak']:<4d} "
                  + " ".join(f"{r[f'auc {m}'] if r[f'auc {m}'] is not None else float('nan'):15.3f}" for m in METHODS)
                  + f" {r['detection'] or 0:5.2f} {r['false_alarm'] or 0:5.2f} {r['old_detection'] or 0:7.2f}"
                  f" {r['old_false_alarm'] or 0:6.2f}")
        print(f"{kind:16s} empty scores: {s['empty_scores']} of {s['n_visits']} visits; calibration of the fleet "
              f"scorer: Brier {s['calibration']['brier']:.3f}; " + ", ".join(
                  f"p {b['p_range'][0]:.1f}-{b['p_range'][1]:.1f}: {b['leak_share']:.2f} leaks (n {b['n']})"
                  for b in s["calibration"]["bins"]))
    out = {"units": "AUC: dimensionless 0..1 (0.5 = chance); detection / false_alarm: share of visits alarmed",
           "small": a.small, "own_seeds": OWN_SEEDS, "othersim_seeds": OTHER_SEEDS, "fit_seeds": FIT_SEEDS,
           "wall_s": round(time.perf_counter() - t0, 1), "results": results}
    path = ROOT / "bench" / "results" / "loggers_quality.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
