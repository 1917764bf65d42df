"""Fleet-relative leak evidence, combined with the within-logger step into one probability.

Loggers are not calibrated against each other, but loggers of one model in one area share a
calibration within a few dB.  So, each night, every logger's level and spread are placed
within the distribution of the same night's loggers of its group (robust z: distance from
the group's median in units of 1.4826 MAD):

- group = (area, model) when the ``stats.csv`` has those columns and the group has at least
  :attr:`FleetConfig.group_min_loggers` loggers that night; otherwise the logger's model
  alone, then its area alone, then the whole fleet of that night (the first with enough
  loggers); fewer than :attr:`FleetConfig.fleet_min_loggers` loggers in the whole night's
  fleet: no fleet evidence that night.
- A leak is constant noise: a logger's level sits high in its group *and* its spread sits
  low (the leak masks the fluctuation of the background).  This holds whether or not the
  level ever changed, so leaks older than the history are found.

The per-night z values of each logger's last :attr:`FleetConfig.recent_nights` nights with
data (on or before ``as_of``) are averaged; the within-logger step evidence is
:func:`acoustic.loggers.score_history` (a lasting step up against the logger's own
baseline) as of the logger's last night.  A logistic model (constants :data:`LOGIT_WEIGHTS`,
fitted on simulated fleets, see its comment) turns both into one probability of a leak.

A logger whose data stop before ``as_of`` is scored from its last nights, with
``stale_nights`` = days from its last night to ``as_of``; a logger with one night is scored
(confidence low).  No logger with any night gets an empty score.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import date, timedelta

import numpy as np

from .._errors import ParameterError
from ._score import LoggerScore, ScoringConfig, score_history

__all__ = ["FleetConfig", "fleet_positions", "score_fleet", "score_loggers", "FleetPosition"]

#: Logistic weights: p = sigmoid(b0 + c * (b_level * zl + b_spread * zs + b_diffc * (zl - zs))
#: + b_step * step_score**2), zl / zs = mean fleet z of level / spread over the recent nights
#: (clipped to +-Z_CLIP), step_score = the within-logger step score (0..1; squared: a weak step
#: alone is no alarm), c = nights with a fleet among the last recent_nights / recent_nights.
#: Fitted (``bench/loggers_quality.py --fit``) by L2-penalised maximum likelihood (RIDGE = 1) on
#: visits to our own simulated fleets (:func:`acoustic.loggers.simulate_real_fleet`, seeds
#: 100-103, 4 x 600 loggers, models with randomised level/spread statistics; 32 % of the 1,747
#: visits with a leak present); never on othersim.  The probability is calibrated on those
#: visits: with another share of leaks among the loggers visited, it shifts.
LOGIT_WEIGHTS = {"b0": -1.871, "b_level": -0.327, "b_spread": -1.256, "b_step": 5.204, "b_diffc": 0.93}
#: fleet z values are clipped here (a logger 40 dB above its group is not 10x more of a leak).
Z_CLIP = 8.0


@dataclasses.dataclass(frozen=True)
class FleetConfig:
    """Constants of the fleet-relative scoring (see the module docstring)."""

    group_min_loggers: int = 12   #: a group needs this many loggers in a night, else the next wider group
    fleet_min_loggers: int = 5    #: fewer loggers in a whole night: no fleet evidence that night
    recent_nights: int = 7        #: last nights with data averaged for the fleet evidence
    mad_floor_db: float = 0.5     #: floor of the group scatter (1.4826 MAD), dB
    history_nights: int = 90      #: nights before the logger's last night used for the step
    alarm_probability: float = 0.5


@dataclasses.dataclass(frozen=True)
class FleetPosition:
    """One logger-night placed within its group: robust z of level and spread, the group used."""

    level_z: float
    spread_z: float
    group: str
    n_group: int
    group_level_db: float = math.nan    #: the group's median level that night, dB
    group_spread_db: float = math.nan   #: the group's median spread that night, dB


def _group_keys(area: str, model: str) -> list[str]:
    keys = []
    if area and model:
        keys.append(f"area={area},model={model}")
    if model:
        keys.append(f"model={model}")
    if area:
        keys.append(f"area={area}")
    keys.append("fleet")
    return keys


def _robust(v: np.ndarray, floor: float) -> tuple[float, float]:
    med = float(np.median(v))
    return med, max(1.4826 * float(np.median(np.abs(v - med))), floor)


def _row_group(r) -> tuple[str, str]:
    extra = getattr(r, "extra", None) or {}
    return str(extra.get("area", "") or "").strip(), str(extra.get("model", "") or "").strip()


def fleet_positions(rows, config: FleetConfig = FleetConfig()) -> dict:
    """Place every logger-night within the same night's fleet.

    Parameters
    ----------
    rows : iterable of StatsRow
        ``extra`` may hold ``area`` and ``model`` (optional stats.csv columns).
    config : FleetConfig

    Returns
    -------
    dict
        ``(logger_id, date) -> FleetPosition``; logger-nights without a fleet that night
        (fewer than ``fleet_min_loggers`` loggers) are absent.
    """
    by_night: dict = {}
    for r in rows:
        by_night.setdefault(r.date, []).append(r)
    out = {}
    for night, rs in by_night.items():
        lv = np.asarray([r.level for r in rs], dtype=np.float64)
        sp = np.asarray([r.spread for r in rs], dtype=np.float64)
        keys = [_group_keys(*_row_group(r)) for r in rs]
        members: dict[str, list[int]] = {}
        for i, ks in enumerate(keys):
            for k in ks:
                members.setdefault(k, []).append(i)
        stats: dict[str, tuple] = {}
        for i, r in enumerate(rs):
            for k in keys[i]:
                idx = members[k]
                need = config.fleet_min_loggers if k == "fleet" else config.group_min_loggers
                if len(idx) < need:
                    continue
                if k not in stats:
                    stats[k] = (_robust(lv[idx], config.mad_floor_db), _robust(sp[idx], config.mad_floor_db))
                (ml, sl), (ms, ss) = stats[k]
                out[(r.logger_id, night)] = FleetPosition((lv[i] - ml) / sl, (sp[i] - ms) / ss, k, len(idx), ml, ms)
                break
    return out


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x > -500 else 0.0


def combine(zl: float, zs: float, step_score: float, c: float, weights=None) -> float:
    """The calibrated probability from the fleet z means, the step score and the night coverage c."""
    w = LOGIT_WEIGHTS if weights is None else weights
    x = w["b0"] + w["b_step"] * step_score ** 2
    if c > 0:
        zl, zs = (float(np.clip(v, -Z_CLIP, Z_CLIP)) for v in (zl, zs))
        x += w["b_level"] * zl * c + w["b_spread"] * zs * c + w["b_diffc"] * c * (zl - zs)
    return _sigmoid(x)


def _confidence(n_fleet: int, n_hist: int, stale: int, cfg: FleetConfig) -> tuple[float, str]:
    """0..1: how much the score rests on (nights of fleet evidence and of own history)."""
    c_fleet = min(n_fleet, cfg.recent_nights) / cfg.recent_nights
    c_hist = min(n_hist, 28) / 28.0
    conf = 0.6 * c_fleet + 0.4 * c_hist
    if stale > 0:
        conf *= 1.0 / (1.0 + stale / 14.0)
    label = "high" if conf >= 0.7 else "medium" if conf >= 0.35 else "low"
    return round(conf, 3), label


def features_for(lid: str, hist: list, positions: dict, as_of: date, cfg: FleetConfig = FleetConfig(),
                 step_config: ScoringConfig = ScoringConfig()) -> dict | None:
    """The evidence of one logger as of ``as_of`` (``hist``: its rows sorted by date)."""
    h = [r for r in hist if r.date <= as_of]
    if not h:
        return None
    last = h[-1].date
    first = last - timedelta(days=cfg.history_nights - 1)
    h = [r for r in h if r.date >= first]
    stale = (as_of - last).days
    step = score_history(lid, [r.date for r in h], [r.level for r in h], [r.spread for r in h], last, step_config)
    recent = [positions[(lid, r.date)] for r in h[::-1] if (lid, r.date) in positions][:cfg.recent_nights]
    n_fleet = len(recent)
    zl = float(np.mean([p.level_z for p in recent])) if recent else math.nan
    zs = float(np.mean([p.spread_z for p in recent])) if recent else math.nan
    groups = sorted({p.group for p in recent})
    return {"step": step, "zl": zl, "zs": zs, "n_fleet": n_fleet, "c": n_fleet / cfg.recent_nights,
            "stale": stale, "last": last, "n_hist": len(h), "groups": groups,
            "n_group": int(np.median([p.n_group for p in recent])) if recent else 0,
            "recent_dates": [r.date for r in h[::-1] if (lid, r.date) in positions][:cfg.recent_nights],
            "group_level": float(np.median([p.group_level_db for p in recent])) if recent else math.nan,
            "group_spread": float(np.median([p.group_spread_db for p in recent])) if recent else math.nan,
            "level_med": float(np.median([r.level for r in h[-cfg.recent_nights:]])),
            "spread_med": float(np.median([r.spread for r in h[-cfg.recent_nights:]]))}


def _reasons(f: dict, p: float, as_of: date, cfg: FleetConfig) -> list[str]:
    r = []
    if f["n_fleet"]:
        ds = f["recent_dates"]
        r.append(f"against the fleet ({', '.join(f['groups'])}, ~{f['n_group']} loggers a night) over "
                 f"{f['n_fleet']} night(s) {ds[-1]}..{ds[0]}: level {f['zl']:+.1f} and spread {f['zs']:+.1f} "
                 f"robust z (its median level {f['level_med']:.1f} dB and spread {f['spread_med']:.1f} dB vs the group's "
                 f"{f['group_level']:.1f} dB and {f['group_spread']:.1f} dB)"
                 + ("; high level with low spread: steady noise, as a leak (or a PRV/pump) makes"
                    if f["zl"] > 1.0 and f["zs"] < 0.0 else ""))
    else:
        r.append(f"no fleet evidence: fewer than {cfg.fleet_min_loggers} loggers on the logger's nights")
    s = f["step"]
    r.append(("within-logger step: " if s.score > 0 else "within-logger: ")
             + (s.reasons[0] if s.reasons else "no step test"))
    if f["stale"] > 0:
        r.append(f"data stop {f['stale']} night(s) before {as_of} (last night {f['last']}): scored from the last nights")
    r.append(f"probability {p:.2f} (fleet evidence x {f['c']:.2f} coverage, step score {s.score:.2f})")
    return r


def score_fleet(rows, as_of: date | None = None, config: FleetConfig = FleetConfig(),
                step_config: ScoringConfig = ScoringConfig(), positions: dict | None = None) -> list[LoggerScore]:
    """Score every logger of a stats table: fleet-relative and within-logger evidence combined.

    Parameters
    ----------
    rows : iterable of StatsRow
        One row per logger-night; ``extra`` may carry ``area`` and ``model``.
    as_of : datetime.date, optional
        Use only nights on or before it; default the last date in ``rows``.
    config : FleetConfig
    step_config : ScoringConfig
        Constants of the within-logger step test.
    positions : dict, optional
        Precomputed :func:`fleet_positions` of ``rows`` (they depend on each night alone).

    Returns
    -------
    list of LoggerScore
        Highest probability first; ``score`` is the probability of a leak (calibrated on
        simulated visits, see :data:`LOGIT_WEIGHTS`), ``confidence`` 0..1 how much it rests on.
    """
    rows = list(rows)
    if not rows:
        raise ParameterError("no stats rows to score")
    if as_of is None:
        as_of = max(r.date for r in rows)
    by: dict[str, list] = {}
    for r in rows:
        by.setdefault(r.logger_id, []).append(r)
    for lid, rs in by.items():
        rs.sort(key=lambda r: r.date)
        if any(a.date == b.date for a, b in zip(rs, rs[1:])):
            raise ParameterError(f"logger {lid} has more than one row for a night")
    if positions is None:
        positions = fleet_positions([r for r in rows if r.date <= as_of], config)
    out = [score_one(lid, rs, positions, as_of, config, step_config) for lid, rs in by.items()]
    out.sort(key=lambda s: (-s.score, s.logger_id))
    return out


def score_one(lid: str, hist: list, positions: dict, as_of: date, config: FleetConfig = FleetConfig(),
              step_config: ScoringConfig = ScoringConfig()) -> LoggerScore:
    """One logger's :class:`LoggerScore` (``hist`` sorted by date; see :func:`score_fleet`)."""
    f = features_for(lid, hist, positions, as_of, config, step_config)
    if f is None:
        return LoggerScore(lid, 0.0, False, 0, [f"no nights on or before {as_of}: nothing to score"],
                           confidence=0.0, confidence_label="none", evidence=[])
    s = f["step"]
    p = combine(f["zl"], f["zs"], s.score, f["c"]) if f["n_fleet"] else combine(0.0, 0.0, s.score, 0.0)
    conf, label = _confidence(f["n_fleet"], f["n_hist"], f["stale"], config)
    ev = (["fleet"] if f["n_fleet"] else []) + (["step"] if s.score > 0 else [])
    out = dataclasses.replace(
        s, score=float(p), alarm=bool(p >= config.alarm_probability), nights_used=f["n_hist"],
        reasons=_reasons(f, p, as_of, config), last_date=f["last"].isoformat())
    out.confidence, out.confidence_label, out.stale_nights = conf, label, f["stale"]
    out.fleet_level_z = f["zl"] if f["n_fleet"] else math.nan
    out.fleet_spread_z = f["zs"] if f["n_fleet"] else math.nan
    out.fleet_nights, out.fleet_group = f["n_fleet"], (", ".join(f["groups"]) or None)
    out.step_score, out.evidence = float(s.score), ev
    return out


#: The project's logger scorer (CLI, batch, survey, report): :func:`score_fleet`.
score_loggers = score_fleet
