"""Noise-logger fleets: nightly Level/Spread histories (stats.csv), site visits and the truth.

Each logger's night is simulated as a 2-hour window of short-interval noise levels (the way
loggers build their level histogram) from a sum of powers: ambient with within-night and
night-to-night variation, traffic transients, consumption, the logger's own floor, and -- for
some loggers -- a leak, a PRV, a pump, night irrigation or electrical hum.  The nightly numbers
are then computed with the logger MODEL's own statistic (histogram mode / L90 / median for the
level; L10-L90 / interquartile / histogram width for the spread), mapped through the model's own
uncalibrated dB scale and the logger's coupling offset, and rounded to the model's precision.
"""

from __future__ import annotations

import csv
import datetime as _dt
import math
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from ._io import flat_csv_value


@dataclass(frozen=True)
class LoggerModel:
    level_stat: str       # "mode" | "l90" | "median"
    spread_stat: str      # "l10_l90" | "iqr" | "fwhm"
    offset_db: float      # the model's own dB zero relative to the true level
    scale: float          # its dB per true dB (uncalibrated amplifier / detector law)
    spread_scale: float
    precision: float      # reporting step (dB)


#: Three logger models with different statistics and scales (assumed, in the spirit of the
#: vendor definitions in physics.md 4.2: HWM Level/Spread, Gutermann dBmin, Primayer mode/quietest).
MODELS = {
    "HX-2": LoggerModel("mode", "l10_l90", 0.0, 1.0, 1.0, 1.0),
    "ZS-8": LoggerModel("l90", "iqr", 14.0, 0.85, 1.0, 0.1),
    "PX-1": LoggerModel("median", "fwhm", -9.0, 1.2, 1.0, 0.5),
}

CATEGORIES = ("none", "leak_old", "leak_new", "prv", "pump", "irrigation", "hum", "noisy_traffic")


def _default(d):
    return field(default_factory=lambda: dict(d))


@dataclass
class FleetOptions:
    category_weights: dict = _default({"none": 0.68, "leak_old": 0.09, "leak_new": 0.05, "prv": 0.04, "pump": 0.03,
                                       "irrigation": 0.03, "hum": 0.03, "noisy_traffic": 0.05})
    neighbour_hears_prob: float = 0.5
    loggers_per_area: tuple = (15, 40)
    late_start_fraction: float = 0.12
    early_stop_fraction: float = 0.08
    gap_prob: float = 0.04
    intervals_per_night: int = 240      # 2 h at 30 s
    first_date: str | None = None       # YYYY-MM-DD; drawn when None
    visit_find_prob: float = 0.85

    @classmethod
    def from_kwargs(cls, kwargs: dict) -> "FleetOptions":
        names = {f.name for f in fields(cls)}
        bad = sorted(set(kwargs) - names)
        if bad:
            raise TypeError(f"unknown option(s) {', '.join(bad)}; known: {', '.join(sorted(names))}")
        o = cls()
        for k, v in kwargs.items():
            setattr(o, k, v)
        unknown = set(o.category_weights) - set(CATEGORIES)
        if unknown:
            raise ValueError(f"category_weights: unknown {sorted(unknown)}")
        return o


@dataclass
class Logger:
    logger_id: str
    area: str
    model: str
    category: str
    base_db: float
    offset_db: float
    first: int                 # first night index (fleet clock)
    last: int                  # last night index with an upload
    leak_db: float = 0.0
    leak_start: int | None = None   # night index; negative = before the history
    leak_end: int | None = None     # repair night index
    heard_leak_of: str | None = None
    params: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# stages


def draw_loggers(rng: np.random.Generator, n_loggers: int, n_nights: int, o: FleetOptions) -> list:
    loggers = []
    i = 0
    area_no = 0
    cats = list(o.category_weights)
    pw = np.asarray([o.category_weights[c] for c in cats], float)
    pw /= pw.sum()
    models = list(MODELS)
    while i < n_loggers:
        area_no += 1
        size = min(int(rng.integers(o.loggers_per_area[0], o.loggers_per_area[1] + 1)), n_loggers - i)
        area = f"DMA-{area_no:02d}"
        area_models = [models[int(rng.integers(len(models)))]]
        if rng.random() < 0.3:
            area_models.append(models[int(rng.integers(len(models)))])
        area_start = int(rng.integers(0, max(1, min(20, n_nights // 4))))
        for _ in range(size):
            i += 1
            first = area_start + int(rng.integers(0, 4))
            if rng.random() < o.late_start_fraction:
                first += int(rng.integers(10, max(11, n_nights // 2)))
            first = min(first, n_nights - 3)
            last = n_nights - 1
            if rng.random() < o.early_stop_fraction:
                last = int(rng.integers(min(first + 5, n_nights - 2), n_nights - 2))
            lg = Logger(f"NL{i:04d}", area, area_models[int(rng.integers(len(area_models)))],
                        cats[int(rng.choice(len(cats), p=pw))], float(rng.normal(30.0, 6.0)),
                        float(rng.normal(0.0, 4.0)), first, last)
            _draw_category(rng, lg, n_nights)
            loggers.append(lg)
    _neighbours(rng, loggers, o)
    return loggers


def _draw_category(rng, lg: Logger, n_nights: int) -> None:
    p = lg.params
    p["ambient_interval_sd_db"] = float(rng.uniform(1.5, 4.5))
    p["ambient_night_sd_db"] = float(rng.uniform(0.5, 2.0))
    p["traffic_rate"] = float(rng.uniform(0.005, 0.05)) * (5.0 if lg.category == "noisy_traffic" else 1.0)
    p["consumption_beta"] = float(rng.uniform(5.0, 12.0))
    p["floor_below_db"] = float(rng.uniform(3.0, 20.0))
    if lg.category in ("leak_old", "leak_new"):
        lg.leak_db = 3.0 + 27.0 * float(rng.beta(1.3, 2.0))
        p["leak_interval_sd_db"] = float(rng.uniform(0.5, 1.2))
        p["leak_night_sd_db"] = float(rng.uniform(0.3, 1.0))
        if lg.category == "leak_old":
            lg.leak_start = -int(rng.integers(1, 400))
            p["leak_trend_db_per_night"] = float(rng.uniform(-0.02, 0.05))
        else:
            lo = max(lg.first + 3, 8)
            lg.leak_start = int(rng.integers(lo, max(lo + 1, n_nights - 4)))
            p["leak_ramp_nights"] = int(rng.integers(0, 21))
            p["leak_initial_below_db"] = float(rng.uniform(5.0, 15.0))
            p["leak_trend_db_per_night"] = 0.0
    elif lg.category == "prv":
        p["source_db"] = float(rng.uniform(5.0, 25.0))
        p["source_interval_sd_db"] = float(rng.uniform(0.3, 1.5))
        p["source_night_sd_db"] = float(rng.uniform(0.5, 2.0))
        p["flow_dependent"] = bool(rng.random() < 0.3)
    elif lg.category == "pump":
        p["source_db"] = float(rng.uniform(8.0, 30.0))
        p["source_interval_sd_db"] = 0.3
        p["source_night_sd_db"] = float(rng.uniform(0.3, 1.0))
        p["cycling"] = bool(rng.random() < 0.4)
    elif lg.category == "irrigation":
        p["source_db"] = float(rng.uniform(5.0, 15.0))
        p["nights_per_week"] = int(rng.integers(2, 8))
        p["season_start"] = int(rng.integers(0, max(1, n_nights // 2)))
    elif lg.category == "hum":
        p["source_db"] = float(rng.uniform(0.0, 12.0))


def _neighbours(rng, loggers: list, o: FleetOptions) -> None:
    by_area: dict = {}
    for lg in loggers:
        by_area.setdefault(lg.area, []).append(lg)
    for lg in loggers:
        if lg.category not in ("leak_old", "leak_new") or rng.random() >= o.neighbour_hears_prob:
            continue
        cands = [x for x in by_area[lg.area] if x.category in ("none", "noisy_traffic") and x.heard_leak_of is None]
        if not cands:
            continue
        nb = cands[int(rng.integers(len(cands)))]
        d = lg.leak_db - float(rng.uniform(6.0, 15.0))
        if d < 1.0:
            continue
        nb.heard_leak_of = lg.logger_id
        nb.leak_db = d
        nb.leak_start = lg.leak_start
        nb.params.update({k: v for k, v in lg.params.items() if k.startswith("leak_")})


def draw_visits(rng, loggers: list, n_nights: int, o: FleetOptions) -> list:
    """Site visits [(logger_id, night_index, leak_found)]; sets repair nights on found leaks."""
    visits = []
    by_id = {lg.logger_id: lg for lg in loggers}
    for lg in loggers:
        if lg.category in ("leak_old", "leak_new"):
            if lg.category == "leak_old":
                go, when = rng.random() < 0.75, lg.first + int(rng.integers(5, 61))
            else:
                go, when = rng.random() < 0.8, lg.leak_start + int(rng.integers(3, 46))
            if not go:
                continue
            found = rng.random() < o.visit_find_prob
            visits.append((lg.logger_id, when, int(found)))
            if not found and rng.random() < 0.5:
                when = when + int(rng.integers(10, 41))
                found = rng.random() < o.visit_find_prob
                visits.append((lg.logger_id, when, int(found)))
            if found:
                lg.leak_end = when + int(rng.integers(1, 21))
        elif lg.category in ("prv", "pump", "irrigation", "hum", "noisy_traffic"):
            p = {"prv": 0.5, "pump": 0.5, "irrigation": 0.3, "hum": 0.2, "noisy_traffic": 0.15}[lg.category]
            if rng.random() < p:
                visits.append((lg.logger_id, lg.first + int(rng.integers(5, 71)), 0))
        elif lg.category == "none" and lg.heard_leak_of is None and rng.random() < 0.04:
            visits.append((lg.logger_id, lg.first + int(rng.integers(5, n_nights + 30)), 0))
    # neighbours: the crew follows the alarm at the quieter logger too, sometimes finding the leak
    for lg in loggers:
        if lg.heard_leak_of is None:
            continue
        src = by_id[lg.heard_leak_of]
        lg.leak_end = src.leak_end
        if rng.random() < 0.3:
            start = max(lg.first, lg.leak_start if lg.leak_start is not None else lg.first)
            when = start + int(rng.integers(5, 61))
            leak_there = src.leak_end is None or when < src.leak_end
            visits.append((lg.logger_id, when, int(leak_there and rng.random() < 0.4)))
    # loggers that went silent: a crew checks the site, sometimes long after the last upload
    for lg in loggers:
        if lg.last < n_nights - 1 and rng.random() < 0.5:
            when = lg.last + int(rng.integers(5, 61))
            present = lg.leak_start is not None and lg.leak_start <= when and (lg.leak_end is None or when < lg.leak_end)
            visits.append((lg.logger_id, when, int(present and rng.random() < o.visit_find_prob)))
    return visits


def _leak_db_on(lg: Logger, nights: np.ndarray) -> np.ndarray:
    """Leak level above the logger's ambient (dB) per night, -inf where no leak."""
    out = np.full(nights.size, -np.inf)
    if lg.leak_start is None:
        return out
    on = nights >= lg.leak_start
    if lg.leak_end is not None:
        on &= nights < lg.leak_end
    p = lg.params
    lvl = np.full(nights.size, lg.leak_db) + p.get("leak_trend_db_per_night", 0.0) * (nights - max(lg.leak_start, 0))
    ramp = p.get("leak_ramp_nights", 0)
    if ramp and lg.leak_start >= 0:
        frac = np.clip((nights - lg.leak_start) / ramp, 0.0, 1.0)
        lvl = lvl - (1.0 - frac) * p["leak_initial_below_db"]
    out[on] = lvl[on]
    return out


def night_levels(rng, lg: Logger, nights: np.ndarray, dates: list, k: int) -> np.ndarray:
    """Short-interval levels (true dB) of each night: array (len(nights), k)."""
    p = lg.params
    m = nights.size
    # ambient: AR(1) across nights, lognormal within the night
    amb_night = np.zeros(m)
    a = 0.7
    e = rng.normal(0.0, p["ambient_night_sd_db"] * math.sqrt(1 - a * a), m)
    for i in range(m):
        amb_night[i] = (a * amb_night[i - 1] if i else 0.0) + e[i]
    weekend = np.array([d.weekday() >= 4 for d in dates], dtype=float)
    amb = lg.base_db + amb_night[:, None] + rng.normal(0.0, p["ambient_interval_sd_db"], (m, k))
    power = 10 ** (amb / 10)
    # traffic transients (more on Friday/Saturday nights)
    rate = p["traffic_rate"] * (1.0 + 0.5 * weekend)[:, None]
    starts = rng.random((m, k)) < rate
    if starts.any():
        boost = np.zeros((m, k))
        ii, jj = np.nonzero(starts)
        for i, j in zip(ii, jj):
            length = int(rng.integers(1, 5))
            boost[i, j:j + length] = np.maximum(boost[i, j:j + length], rng.uniform(5.0, 25.0))
        power += np.where(boost > 0, 10 ** ((lg.base_db + boost) / 10), 0.0)
    # consumption: on for a random fraction of each night, in runs
    frac = rng.beta(1.0, p["consumption_beta"], m)
    for i in range(m):
        n_on = int(round(frac[i] * k))
        if n_on:
            runs = max(1, int(rng.integers(1, 6)))
            for _ in range(runs):
                j = int(rng.integers(0, k))
                power[i, j:j + max(1, n_on // runs)] += 10 ** ((lg.base_db + rng.uniform(3.0, 15.0)) / 10)
    # the logger's own floor
    power += 10 ** ((lg.base_db - p["floor_below_db"]) / 10)
    # leak (also heard by a neighbour)
    ldb = _leak_db_on(lg, nights)
    if np.isfinite(ldb).any():
        on = np.isfinite(ldb)
        lvl = (lg.base_db + ldb[on, None] + rng.normal(0.0, p["leak_night_sd_db"], (int(on.sum()), 1))
               + rng.normal(0.0, p["leak_interval_sd_db"], (int(on.sum()), k)))
        power[on] += 10 ** (lvl / 10)
    cat = lg.category
    if cat in ("prv", "pump", "hum"):
        sd_i = p.get("source_interval_sd_db", 0.2)
        sd_n = p.get("source_night_sd_db", 0.3)
        lvl = lg.base_db + p["source_db"] + rng.normal(0.0, sd_n, (m, 1)) + rng.normal(0.0, sd_i, (m, k))
        if p.get("flow_dependent"):
            lvl = lvl + 3.0 * np.sin(np.linspace(0, np.pi, k))[None, :] * rng.uniform(0.3, 1.0, (m, 1))
        src = 10 ** (lvl / 10)
        if p.get("cycling"):
            on_frac = rng.uniform(0.2, 0.8, m)
            start = rng.integers(0, k, m)
            mask = np.zeros((m, k), bool)
            for i in range(m):
                n_on = int(on_frac[i] * k)
                idx = (start[i] + np.arange(n_on)) % k
                mask[i, idx] = True
            src = np.where(mask, src, 0.0)
        power += src
    elif cat == "irrigation":
        for i in range(m):
            if nights[i] >= p["season_start"] and rng.random() < p["nights_per_week"] / 7.0:
                n_on = int(rng.uniform(0.4, 1.0) * k)
                j = int(rng.integers(0, k - n_on + 1))
                power[i, j:j + n_on] += 10 ** ((lg.base_db + p["source_db"] + rng.normal(0, 1.0)) / 10)
    return 10 * np.log10(power)


def nightly_stats(levels: np.ndarray, model: LoggerModel) -> tuple:
    """(level, spread) per night (true dB) with the model's own definitions."""
    if model.level_stat == "median":
        level = np.median(levels, axis=1)
    elif model.level_stat == "l90":
        level = np.percentile(levels, 10, axis=1)   # level exceeded 90 % of the time
    else:
        level = np.empty(levels.shape[0])
        for i, row in enumerate(levels):
            b = np.floor(row).astype(int)
            b0 = b.min()
            counts = np.bincount(b - b0)
            level[i] = b0 + int(np.argmax(counts)) + 0.5
    if model.spread_stat == "l10_l90":
        spread = np.percentile(levels, 90, axis=1) - np.percentile(levels, 10, axis=1)
    elif model.spread_stat == "iqr":
        spread = np.percentile(levels, 75, axis=1) - np.percentile(levels, 25, axis=1)
    else:
        spread = np.empty(levels.shape[0])
        for i, row in enumerate(levels):
            b = np.floor(row * 2).astype(int)
            counts = np.bincount(b - b.min())
            spread[i] = 0.5 * int(np.count_nonzero(counts >= 0.5 * counts.max()))
    return level, spread


def _round_to(x: np.ndarray, step: float) -> np.ndarray:
    return np.round(x / step) * step


# --------------------------------------------------------------------------------------------
# public


def write_fleet(out_dir, *, n_loggers: int = 300, n_nights: int = 85, seed: int = 0, **options) -> dict:
    """Write ``stats.csv``, ``visits.csv`` and ``truth.csv`` of a simulated noise-logger fleet.

    stats.csv: ``logger_id,date,level,spread,area,model`` (interfaces.md format plus two extra
    columns), one row per logger per night that was uploaded, in each model's own dB.
    visits.csv: ``logger_id,date,leak_found`` (0/1) -- what a crew reported, not the truth.
    truth.csv: per logger its category (none, leak_old, leak_new, prv, pump, irrigation, hum,
    noisy_traffic), leak dates and size, which leak a neighbour hears, offsets and dates.

    Returns a dict of the paths and row counts.
    """
    o = FleetOptions.from_kwargs(options)
    if n_loggers < 1 or n_nights < 5:
        raise ValueError(f"need n_loggers >= 1 and n_nights >= 5, got {n_loggers}, {n_nights}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 31]))
    if o.first_date:
        day0 = _dt.date.fromisoformat(o.first_date)
    else:
        day0 = _dt.date(2025, 1, 6) + _dt.timedelta(days=int(rng.integers(0, 500)))
    loggers = draw_loggers(rng, n_loggers, n_nights, o)
    visits = draw_visits(rng, loggers, n_nights, o)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # area-wide upload outages (gateway down)
    outages: dict = {}
    for area in sorted({lg.area for lg in loggers}):
        s = set()
        for _ in range(int(rng.poisson(1.0))):
            a = int(rng.integers(0, n_nights))
            s.update(range(a, a + int(rng.integers(1, 6))))
        outages[area] = s
    n_rows = 0
    with open(out / "stats.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["logger_id", "date", "level", "spread", "area", "model"])
        for lg in loggers:
            nights = np.arange(lg.first, lg.last + 1)
            dates = [day0 + _dt.timedelta(days=int(i)) for i in nights]
            lv = night_levels(rng, lg, nights, dates, o.intervals_per_night)
            model = MODELS[lg.model]
            level, spread = nightly_stats(lv, model)
            rep_level = _round_to(model.offset_db + model.scale * (level + lg.offset_db) + rng.normal(0, 0.2, level.size),
                                  model.precision)
            rep_spread = _round_to(np.maximum(model.spread_scale * model.scale * spread, 0.0), model.precision)
            keep = rng.random(nights.size) >= o.gap_prob
            for i, night in enumerate(nights):
                if not keep[i] or int(night) in outages[lg.area]:
                    continue
                w.writerow([lg.logger_id, dates[i].isoformat(), _fmt(rep_level[i], model.precision),
                            _fmt(rep_spread[i], model.precision), lg.area, lg.model])
                n_rows += 1
    with open(out / "visits.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["logger_id", "date", "leak_found"])
        for lid, night, found in sorted(visits, key=lambda v: (v[1], v[0])):
            w.writerow([lid, (day0 + _dt.timedelta(days=int(night))).isoformat(), found])
    with open(out / "truth.csv", "w", newline="", encoding="utf-8") as fh:
        cols = ["logger_id", "area", "model", "category", "leak", "leak_db", "leak_start", "leak_end",
                "heard_leak_of", "offset_db", "base_db", "first_date", "last_date", "source_db", "params"]
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for lg in loggers:
            def d(i):
                return None if i is None else (day0 + _dt.timedelta(days=int(i))).isoformat()
            w.writerow({k: flat_csv_value(v) for k, v in {
                "logger_id": lg.logger_id, "area": lg.area, "model": lg.model, "category": lg.category,
                "leak": int(lg.leak_start is not None), "leak_db": round(lg.leak_db, 3) if lg.leak_start is not None else None,
                "leak_start": None if lg.leak_start is None else ("before" if lg.leak_start < 0 else d(lg.leak_start)),
                "leak_end": d(lg.leak_end), "heard_leak_of": lg.heard_leak_of, "offset_db": round(lg.offset_db, 3),
                "base_db": round(lg.base_db, 3), "first_date": d(lg.first), "last_date": d(lg.last),
                "source_db": lg.params.get("source_db"),
                "params": ";".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(lg.params.items())),
            }.items()})
    return {"stats": out / "stats.csv", "visits": out / "visits.csv", "truth": out / "truth.csv",
            "n_rows": n_rows, "n_visits": len(visits), "n_loggers": len(loggers), "first_date": day0.isoformat()}


def _fmt(x: float, step: float) -> str:
    if step >= 1.0:
        return str(int(round(x)))
    decimals = max(0, int(round(-math.log10(step))))
    return f"{x:.{decimals}f}"
