"""Simulated multi-night noise-logger histories, and the detection / false-alarm evaluation.

Each night is simulated at the level of the logger's short-interval blocks (default 720
blocks of 10 s = the 02:00-04:00 window), in linear power, and reduced to level and spread
by the same :func:`~acoustic.loggers.night_statistics` that ``acoustic loggers stats``
uses.  Sources (levels relative to the logger's own uncalibrated background, physics.md 2.4):

- **background**: the logger's base level (uniform 10-50 dB: loggers are not calibrated
  against each other), a slow random-walk drift (0.1 dB/night), night-to-night jitter
  (0.5-1.5 dB) and block-to-block AR(1) fluctuation (1-3 dB, correlation 0.8);
- **traffic**: Poisson bursts (a few per night; 30-80 on "traffic nights") of 1-4 blocks,
  5-20 dB above the background;
- **consumption / irrigation**: on some nights, or a run of 5-10 consecutive nights, 1-3
  periods of 5-40 min, 3-10 dB up with 2 dB fluctuation;
- **PRV**: constant hiss at -3..+12 dB relative to the background, 0.5 dB block and night
  jitter, present from the start (``prv``) or from a night mid-history (``prv_onset``);
- **leak**: constant noise from an onset night, -6..+15 dB relative to the background, growing
  0-0.2 dB/night, 0.3 dB block and 0.5 dB night jitter;
- **missing nights**: a fraction of nights dropped, plus a gap of 3-8 nights.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import numpy as np

from ._nightly import NightStats, night_statistics

__all__ = ["LOGGER_KINDS", "simulate_logger", "simulate_fleet", "evaluate_scoring"]

LOGGER_KINDS = ("quiet", "traffic", "consumption", "prv", "prv_onset", "leak", "leak_traffic", "leak_missing",
                "quiet_missing")


def _ar1(rng, shape, sd, rho=0.8):
    e = rng.standard_normal(shape) * sd * np.sqrt(1 - rho ** 2)
    out = np.empty(shape)
    out[..., 0] = rng.standard_normal(shape[:-1]) * sd
    for i in range(1, shape[-1]):
        out[..., i] = rho * out[..., i - 1] + e[..., i]
    return out


def simulate_logger(kind: str, rng, *, n_nights: int = 60, start: date = date(2026, 9, 1), logger_id: str = "L000",
                    n_blocks: int = 720, leak_db: float | None = None, onset: int | None = None):
    """Simulate one logger's nightly statistics.

    Parameters
    ----------
    kind : str
        One of :data:`LOGGER_KINDS`.
    rng : numpy.random.Generator
    n_nights : int
        Nights simulated (some may be dropped as missing).
    start : datetime.date
        First night.
    logger_id : str
    n_blocks : int
        Blocks per night.
    leak_db, onset : optional
        Leak (or PRV-onset) level relative to the background (dB) and onset night index.

    Returns
    -------
    rows : list of NightStats
    truth : dict
        ``kind``, ``leak`` (bool), ``onset_date`` (date or None), ``source_db`` (relative level).
    """
    if kind not in LOGGER_KINDS:
        raise ValueError(f"kind must be one of {LOGGER_KINDS}, got {kind!r}")
    N, B = n_nights, n_blocks
    base = rng.uniform(10.0, 50.0)
    drift = np.cumsum(rng.normal(0.0, 0.1, N))
    night_sd = rng.uniform(0.5, 1.5)
    bg_night = base + drift + rng.normal(0.0, night_sd, N)
    blocks_db = bg_night[:, None] + _ar1(rng, (N, B), rng.uniform(1.0, 3.0))
    power = 10.0 ** (blocks_db / 10.0)

    # traffic bursts
    heavy = np.zeros(N, dtype=bool)
    if kind in ("traffic", "leak_traffic"):
        heavy = rng.random(N) < 0.25
    for n in range(N):
        lam = rng.uniform(30, 80) if heavy[n] else rng.uniform(0.0, 6.0)
        for _ in range(rng.poisson(lam)):
            dur = int(rng.integers(1, 5))
            s = int(rng.integers(0, B - dur + 1))
            lvl = bg_night[n] + rng.uniform(5.0, 20.0)
            power[n, s:s + dur] += 10.0 ** (lvl / 10.0) * np.hanning(dur + 2)[1:-1]

    # consumption / irrigation
    if kind == "consumption":
        nights = set(np.flatnonzero(rng.random(N) < 0.25).tolist())
        if rng.random() < 0.5:  # a dry spell: a run of consecutive irrigation nights
            s = int(rng.integers(N // 3, N - 5))
            nights |= set(range(s, min(s + int(rng.integers(5, 11)), N)))
        for n in nights:
            for _ in range(int(rng.integers(1, 4))):
                dur = int(rng.integers(30, 241))
                s = int(rng.integers(0, max(B - dur, 1)))
                lvl = bg_night[n] + rng.uniform(3.0, 10.0) + rng.normal(0.0, 2.0, min(dur, B - s))
                power[n, s:s + dur] += 10.0 ** (lvl / 10.0)

    truth = {"kind": kind, "leak": kind.startswith("leak"), "onset_date": None, "source_db": None}
    # constant sources: PRV from the start, PRV from mid-history, leak from mid-history
    if kind in ("prv", "prv_onset") or truth["leak"]:
        if kind == "prv":
            first, rel = 0, rng.uniform(-3.0, 12.0)
        else:
            first = int(onset) if onset is not None else int(rng.integers(N // 3, N - 6))
            rel = float(leak_db) if leak_db is not None else (rng.uniform(-6.0, 15.0) if truth["leak"]
                                                             else rng.uniform(-3.0, 12.0))
        growth = rng.uniform(0.0, 0.2) if truth["leak"] else 0.0
        k = np.arange(N - first)
        src_night = base + rel + growth * k + rng.normal(0.0, 0.5, N - first)
        src = src_night[:, None] + rng.normal(0.0, 0.5 if kind.startswith("prv") else 0.3, (N - first, B))
        power[first:] += 10.0 ** (src / 10.0)
        truth["onset_date"] = start + timedelta(days=first) if first > 0 else None
        truth["source_db"] = float(rel)

    levels = 10.0 * np.log10(power)
    keep = np.ones(N, dtype=bool)
    if kind.endswith("_missing"):
        keep &= rng.random(N) >= 0.2
        g = int(rng.integers(5, N - 8))
        keep[g:g + int(rng.integers(3, 9))] = False
        keep[-1] = True  # scored on its last night
    rows = []
    for n in np.flatnonzero(keep):
        st = night_statistics(levels[n])
        rows.append(NightStats(logger_id=logger_id, date=start + timedelta(days=int(n)), n_recordings=1,
                               duration_s=10.0 * B, **st))
    return rows, truth


#: Default mix of logger kinds for :func:`simulate_fleet` (fractions).
DEFAULT_MIX = {"quiet": 0.16, "traffic": 0.12, "consumption": 0.12, "prv": 0.10, "prv_onset": 0.05,
               "leak": 0.20, "leak_traffic": 0.10, "leak_missing": 0.07, "quiet_missing": 0.08}


def simulate_fleet(n_loggers: int, rng, *, n_nights: int = 60, start: date = date(2026, 9, 1), mix=None,
                   n_blocks: int = 720):
    """Simulate ``n_loggers`` loggers with kinds drawn from ``mix``; returns (rows, truths)."""
    mix = dict(DEFAULT_MIX if mix is None else mix)
    kinds = list(mix)
    p = np.asarray([mix[k] for k in kinds], dtype=np.float64)
    p /= p.sum()
    exact = p * n_loggers
    counts = np.floor(exact).astype(int)
    short = n_loggers - int(counts.sum())       # largest remainders get the rest
    counts[np.argsort(-(exact - counts), kind="stable")[:short]] += 1
    all_rows, truths = [], {}
    i = 0
    for kind, cnt in zip(kinds, counts):
        for _ in range(cnt):
            lid = f"L{i:04d}"
            rows, truth = simulate_logger(kind, rng, n_nights=n_nights, start=start, logger_id=lid, n_blocks=n_blocks)
            all_rows += rows
            truths[lid] = truth
            i += 1
    return all_rows, truths


@dataclasses.dataclass
class _Hist:
    dates: list
    levels: list
    spreads: list


def evaluate_scoring(n_loggers: int = 300, *, seed: int = 2026, n_nights: int = 60, fa_window: int = 30,
                     n_blocks: int = 720, config=None) -> dict:
    """Detection and false-alarm rates of :func:`score_loggers` on a simulated fleet.

    Every logger is scored as of each of its last ``fa_window`` calendar nights (no row after
    ``as_of`` is ever used).  Reported:

    - ``detection``: fraction of leak loggers alarmed as of the last night (leak onset at
      least 3 nights earlier), overall and by leak level relative to the background;
    - ``nights_to_detect``: median nights from onset to the first alarm;
    - ``false_alarm_logger_night``: alarms per scored logger-night for loggers without a
      leak (and leak loggers before their onset), by kind; ``prv_onset`` is reported apart
      (the documented limitation: it looks like a leak);
    - ``false_alarm_any``: fraction of no-leak loggers alarmed on any of the window's nights.
    """
    from ._score import ScoringConfig, score_history

    cfg = config or ScoringConfig()
    rng = np.random.default_rng(seed)
    start = date(2026, 9, 1)
    rows, truths = simulate_fleet(n_loggers, rng, n_nights=n_nights, start=start, n_blocks=n_blocks)
    hist: dict[str, _Hist] = {}
    for r in rows:
        h = hist.setdefault(r.logger_id, _Hist([], [], []))
        h.dates.append(r.date)
        h.levels.append(r.level)
        h.spreads.append(r.spread)
    last = start + timedelta(days=n_nights - 1)
    as_ofs = [last - timedelta(days=k) for k in range(fa_window - 1, -1, -1)]
    fa_nights: dict[str, list[int]] = {}
    fa_any: dict[str, list[int]] = {}
    det = []
    first_alarm = []
    for lid, truth in truths.items():
        h = hist[lid]
        alarms = {a: score_history(lid, h.dates, h.levels, h.spreads, a, cfg).alarm for a in as_ofs}
        onset = truth["onset_date"]
        kind = truth["kind"]
        if truth["leak"]:
            pre = [alarms[a] for a in as_ofs if a < onset]
            fa_nights.setdefault("leak loggers before onset", [0, 0])
            fa_nights["leak loggers before onset"][0] += sum(pre)
            fa_nights["leak loggers before onset"][1] += len(pre)
            if (last - onset).days >= 3:
                det.append((truth["source_db"], alarms[last]))
                post = [a for a in as_ofs if a >= onset and alarms[a]]
                if post and onset >= as_ofs[0]:
                    first_alarm.append((post[0] - onset).days)
        else:
            key = "prv_onset (limitation)" if kind == "prv_onset" else kind
            v = fa_nights.setdefault(key, [0, 0])
            v[0] += sum(alarms.values())
            v[1] += len(alarms)
            fa_any.setdefault(key, []).append(any(alarms.values()))
    det_arr = np.asarray([d[1] for d in det], dtype=float)
    src = np.asarray([d[0] for d in det])
    bins = [(-6, 0), (0, 3), (3, 6), (6, 10), (10, 15)]
    by_level = {f"{lo:+d}..{hi:+d} dB": {"n": int(np.sum((src >= lo) & (src < hi))),
                                         "rate": float(det_arr[(src >= lo) & (src < hi)].mean())
                                         if np.any((src >= lo) & (src < hi)) else None} for lo, hi in bins}
    no_leak = [k for k in fa_nights if k not in ("prv_onset (limitation)", "leak loggers before onset")]
    tot = np.sum([fa_nights[k] for k in no_leak], axis=0)
    any_all = [x for k in no_leak for x in fa_any[k]]
    return {
        "n_loggers": n_loggers, "n_nights": n_nights, "seed": seed,
        "detection": {"n": int(det_arr.size), "rate": float(det_arr.mean()) if det_arr.size else None,
                      "rate_leak_at_least_3db": float(det_arr[src >= 3].mean()) if np.any(src >= 3) else None,
                      "by_leak_level_re_background": by_level},
        "nights_to_detect_median": float(np.median(first_alarm)) if first_alarm else None,
        "false_alarm_logger_night": {k: {"alarms": int(v[0]), "nights": int(v[1]),
                                         "rate": v[0] / v[1] if v[1] else None} for k, v in fa_nights.items()},
        "false_alarm_logger_night_all_no_leak": float(tot[0] / tot[1]) if tot[1] else None,
        "false_alarm_any_in_window": float(np.mean(any_all)) if any_all else None,
        "prv_onset_alarm_any": float(np.mean(fa_any["prv_onset (limitation)"])) if "prv_onset (limitation)" in fa_any else None,
    }


def _main(argv=None) -> None:  # pragma: no cover - a measurement entry point
    """Print the evaluation as JSON, or write a simulated stats.csv (and print the truth).

    ``python -c "from acoustic.loggers._simulate import _main; _main()" [N] [SEED] [--csv OUT]``
    """
    import argparse
    import json

    from ._csvio import write_stats

    ap = argparse.ArgumentParser(description=evaluate_scoring.__doc__)
    ap.add_argument("n", nargs="?", type=int, default=300)
    ap.add_argument("seed", nargs="?", type=int, default=2026)
    ap.add_argument("--csv", help="also write a simulated stats.csv of this many loggers' histories")
    args = ap.parse_args(argv)
    if args.csv:
        rows, truths = simulate_fleet(args.n, np.random.default_rng(args.seed))
        write_stats(rows, args.csv)
        print(json.dumps({k: {**v, "onset_date": str(v["onset_date"]) if v["onset_date"] else None}
                          for k, v in truths.items()}, indent=1))
        return
    print(json.dumps(evaluate_scoring(args.n, seed=args.seed), indent=2))
