"""Simulated real fleets (areas, logger models, leaks older than the history) and visit-style evaluation.

A fleet has ``n_areas`` areas of ``n_per_area`` loggers.  Each area uses one or two logger
models; a model has its own calibration offset (-15..+15 dB: models are not calibrated against
each other) and its own spread scale (0.7-1.3: vendors compute L10 - L90 differently), and
each logger of a model deviates from the model's calibration by -3..+3 dB.  A night is 96
blocks (per-block level in dB) reduced to a level and a spread by the model's own statistics
(level L50, L70 or L90; spread L10 - L90 or the interquartile range; dB scale 0.8-1.2).

Sites (levels relative to the site's background): background of the area (15-35 dB) plus a
site offset (sd 3 dB), night jitter (0.3-1.5 dB) and an AR(1) block fluctuation (1-3.5 dB,
correlation 0.6-0.9); categories:

- ``quiet``; ``traffic`` (2-30 bursts a night, 1-3 blocks, +5..+20 dB); ``consumption`` (a
  third of nights, periods of 3-20 blocks, +3..+10 dB);
- ``prv``: constant hiss -3..+12 dB, all along; ``pump``: runs in on/off cycles (30-80 % of
  the night on, +0..+15 dB), all along;
- ``leak_old``: constant noise -6..+15 dB from before the first night (most leaks in a newly
  monitored district); ``leak_new``: the same from an onset night mid-history; leaks grow
  0-0.1 dB a night.

Uploads: 3-15 % of nights missing, a fifth of the loggers with a 3-15-night gap, a sixth
whose data stop 5-25 nights before the end, a third whose history starts up to half-way in.

Visits (``visits``): every leak logger once after its leak is present, a share of the others,
some new-leak loggers before their onset (no leak then); a fifth of the visits fall 1-25
nights after the logger's last upload (stale), and some within the first 14 nights of its
history.  The label is the truth at the visit date.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import numpy as np

from ._csvio import StatsRow

__all__ = ["FLEET_CATEGORIES", "simulate_real_fleet", "fleet_visits", "evaluate_fleet", "roc_auc"]

FLEET_CATEGORIES = {"quiet": 0.43, "traffic": 0.12, "consumption": 0.10, "prv": 0.06, "pump": 0.04,
                    "leak_old": 0.17, "leak_new": 0.08}
N_BLOCKS = 96


def _ar1(rng, shape, sd, rho):
    """AR(1) along the last axis with per-row sd and rho (arrays broadcast over the last axis)."""
    out = np.empty(shape)
    e = rng.standard_normal(shape)
    out[..., 0] = e[..., 0] * sd
    k = sd * np.sqrt(1 - rho ** 2)
    for i in range(1, shape[-1]):
        out[..., i] = rho * out[..., i - 1] + e[..., i] * k
    return out


def _site_blocks(rng, cat: str, n: int, base: float):
    """(n, N_BLOCKS) block levels (dB, relative scale) and the leak onset night (or None)."""
    B = N_BLOCKS
    bg = base + np.cumsum(rng.normal(0, 0.05, n)) + rng.normal(0, rng.uniform(0.3, 1.5), n)
    db = bg[:, None] + _ar1(rng, (n, B), rng.uniform(1.0, 3.5), rng.uniform(0.6, 0.9))
    p = 10 ** (db / 10)
    lam = rng.uniform(2, 30) if cat == "traffic" else rng.uniform(0, 3)
    for i in range(n):
        for _ in range(rng.poisson(lam)):
            d = int(rng.integers(1, 4))
            s = int(rng.integers(0, B - d))
            p[i, s:s + d] += 10 ** ((bg[i] + rng.uniform(5, 20)) / 10)
    if cat == "consumption":
        for i in np.flatnonzero(rng.random(n) < 0.33):
            d = int(rng.integers(3, 21))
            s = int(rng.integers(0, B - d))
            p[i, s:s + d] += 10 ** ((bg[i] + rng.uniform(3, 10)) / 10)
    onset = None
    if cat in ("prv", "leak_old", "leak_new"):
        rel = rng.uniform(-3, 12) if cat == "prv" else rng.uniform(-6, 15)
        first = 0
        if cat == "leak_new":
            first = onset = int(rng.integers(min(10, n - 3), max(n - 4, min(10, n - 3) + 1)))
        growth = rng.uniform(0, 0.1) if cat != "prv" else 0.0
        m = n - first
        src = base + rel + growth * np.arange(m) + rng.normal(0, 0.5, m)
        p[first:] += 10 ** ((src[:, None] + rng.normal(0, 0.4, (m, B))) / 10)
    if cat == "pump":
        rel = rng.uniform(0, 15)
        frac = rng.uniform(0.3, 0.8)
        for i in range(n):
            on = np.zeros(B, bool)
            s = 0
            while s < B:
                run = int(rng.integers(4, 20))
                if rng.random() < frac:
                    on[s:s + run] = True
                s += run
            p[i, on] += 10 ** ((base + rel + rng.normal(0, 0.5)) / 10)
    return 10 * np.log10(p), onset


def _draw_model(rng) -> tuple:
    """A logger model: calibration offset (dB), spread scale, level percentile, spread percentiles, dB scale.

    Vendors differ in the statistic they report: the level is the median (L50), the L90 or the
    L70 of the night's blocks; the spread is L10 - L90 or the interquartile range; their dB
    scale is off by up to 20 % (an uncalibrated detector law).
    """
    lq = float(rng.choice([50.0, 10.0, 30.0]))
    sq = [(90.0, 10.0), (75.0, 25.0)][int(rng.integers(0, 2))]
    return rng.uniform(-15, 15), rng.uniform(0.7, 1.3), lq, sq, rng.uniform(0.8, 1.2)


@dataclasses.dataclass
class FleetTruth:
    """Truth of one simulated logger."""

    logger_id: str
    area: str
    model: str
    category: str
    first: date
    last: date
    onset: date | None     #: leak onset (leak_new); leak_old is present from before ``first``

    def leak_at(self, day: date) -> bool:
        return self.category == "leak_old" or (self.category == "leak_new" and day >= self.onset)


def simulate_real_fleet(rng, *, n_areas: int = 3, n_per_area=200, n_nights: int = 85,
                        start: date = date(2026, 6, 1), categories=None):
    """Simulate a fleet; returns ``(rows, truths)``: StatsRow list (extra ``area``, ``model``), id -> FleetTruth.

    ``n_per_area`` is the loggers of every area, or a sequence of one count per area.
    """
    sizes = [int(n_per_area)] * n_areas if np.ndim(n_per_area) == 0 else [int(v) for v in n_per_area]
    cats = dict(FLEET_CATEGORIES if categories is None else categories)
    names = list(cats)
    probs = np.asarray([cats[k] for k in names], float)
    probs /= probs.sum()
    rows, truths = [], {}
    models = {f"M{j}": _draw_model(rng) for j in range(max(2, n_areas))}
    for a in range(n_areas):
        area = f"A{a}"
        area_models = list(rng.choice(sorted(models), size=int(rng.integers(1, 3)), replace=False))
        area_base = rng.uniform(15, 35)
        for k in range(sizes[a]):
            lid = f"{area}-{k:04d}"
            model = str(area_models[int(rng.integers(0, len(area_models)))])
            cal, sscale, lq, sq, dbs = models[model]
            cal_i = cal + rng.uniform(-3, 3)
            cat = str(rng.choice(names, p=probs))
            f0 = int(rng.integers(0, n_nights // 2)) if rng.random() < 0.33 else 0
            f1 = n_nights - (int(rng.integers(5, 26)) if rng.random() < 0.17 else 0)
            f1 = max(f1, f0 + 1)
            n = f1 - f0
            db, onset = _site_blocks(rng, cat, n, area_base + rng.normal(0, 3))
            if cat == "leak_new" and onset is None:
                cat = "quiet"
            keep = rng.random(n) >= rng.uniform(0.03, 0.15)
            if rng.random() < 0.2 and n > 20:
                g = int(rng.integers(0, n - 15))
                keep[g:g + int(rng.integers(3, 16))] = False
            keep[0] = keep[-1] = True
            hi, lo, lev = np.percentile(db * dbs, [sq[0], sq[1], lq], axis=1)
            for i in np.flatnonzero(keep):
                rows.append(StatsRow(lid, start + timedelta(days=f0 + int(i)), round(float(lev[i] + cal_i), 2),
                                     round(float((hi[i] - lo[i]) * sscale), 2), 0, {"area": area, "model": model}))
            truths[lid] = FleetTruth(lid, area, model, cat, start + timedelta(days=f0), start + timedelta(days=f1 - 1),
                                     start + timedelta(days=f0 + onset) if onset is not None else None)
    rows.sort(key=lambda r: (r.logger_id, r.date))
    return rows, truths


def fleet_visits(rng, truths: dict, *, other_share: float = 0.6) -> list[tuple]:
    """Visits ``(logger_id, date, leak_present)`` (see the module docstring)."""
    out = []
    for lid, t in truths.items():
        leak = t.category.startswith("leak")
        if not leak and rng.random() > other_share:
            continue
        lo = t.first if t.category != "leak_new" else t.onset + timedelta(days=2)
        if lo > t.last:
            lo = t.last
        r = rng.random()
        if r < 0.2:
            day = t.last + timedelta(days=int(rng.integers(1, 26)))
        elif r < 0.3:
            day = lo + timedelta(days=int(rng.integers(0, 14)))
        else:
            day = lo + timedelta(days=int(rng.integers(0, max((t.last - lo).days, 0) + 1)))
        out.append((lid, day, t.leak_at(day)))
        if t.category == "leak_new" and rng.random() < 0.3 and (t.onset - t.first).days > 2:
            out.append((lid, t.first + timedelta(days=int(rng.integers(1, (t.onset - t.first).days))), False))
    return out


def roc_auc(scores, labels) -> float | None:
    """ROC AUC (probability a positive outscores a negative; ties count half); None without both classes."""
    s = np.asarray(scores, float)
    y = np.asarray(labels, bool)
    npos, nneg = int(y.sum()), int((~y).sum())
    if npos == 0 or nneg == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    ss = s[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and ss[j + 1] == ss[i]:
            j += 1
        ranks[order[i:j + 1]] = 0.5 * (i + j) + 1
        i = j + 1
    return float((ranks[y].sum() - npos * (npos + 1) / 2) / (npos * nneg))


def visit_scores(rows, visits, scorer=None) -> list[dict]:
    """Score each visit as of its date with ``scorer(lid, hist, positions, as_of)`` (default the fleet scorer)."""
    from ._fleet import FleetConfig, fleet_positions, score_one

    hist: dict = {}
    for r in rows:
        hist.setdefault(r.logger_id, []).append(r)
    for h in hist.values():
        h.sort(key=lambda r: r.date)
    pos = fleet_positions(rows, FleetConfig())
    out = []
    for lid, day, label in visits:
        h = hist.get(lid, [])
        s = (scorer or score_one)(lid, h, pos, day)
        last = max((r.date for r in h if r.date <= day), default=None)
        out.append({"logger_id": lid, "date": day, "leak": bool(label), "score": float(s.score),
                    "alarm": bool(s.alarm), "stale_nights": (day - last).days if last else None})
    return out


def evaluate_fleet(*, seed: int = 2026, n_areas: int = 3, n_per_area=200, n_nights: int = 85) -> dict:
    """Visit-style evaluation of :func:`acoustic.loggers.score_loggers` on a simulated real fleet.

    Returns ROC AUC over all visits, over pre-existing leaks (leak_old visits against every
    no-leak visit), new leaks, and stale visits (data stopped before the visit), and detection
    (alarm share of leak visits) / false alarms (alarm share of no-leak visits) for each.
    """
    rng = np.random.default_rng(seed)
    rows, truths = simulate_real_fleet(rng, n_areas=n_areas, n_per_area=n_per_area, n_nights=n_nights)
    visits = fleet_visits(rng, truths)
    res = visit_scores(rows, visits)
    cat = {lid: t.category for lid, t in truths.items()}
    return summarise(res, cat) | {"seed": seed, "n_loggers": len(truths), "n_nights": n_nights,
                                  "n_visits": len(res)}


def summarise(res: list[dict], category: dict) -> dict:
    """AUC, detection and false alarms for all visits, pre-existing and new leaks, stale visits."""
    neg = [v for v in res if not v["leak"]]

    def block(pos, negs):
        sc = [v["score"] for v in pos + negs]
        y = [True] * len(pos) + [False] * len(negs)
        return {"n_leak": len(pos), "n_no_leak": len(negs), "auc": roc_auc(sc, y),
                "detection": float(np.mean([v["alarm"] for v in pos])) if pos else None,
                "false_alarm": float(np.mean([v["alarm"] for v in negs])) if negs else None}

    pos = [v for v in res if v["leak"]]
    stale = [v for v in res if v["stale_nights"] and v["stale_nights"] > 0]
    return {
        "all": block(pos, neg),
        "pre_existing": block([v for v in pos if category.get(v["logger_id"]) == "leak_old"], neg),
        "new": block([v for v in pos if category.get(v["logger_id"]) == "leak_new"], neg),
        "stale": block([v for v in stale if v["leak"]], [v for v in stale if not v["leak"]]),
        "empty_scores": sum(1 for v in res if not np.isfinite(v["score"])),
    }
