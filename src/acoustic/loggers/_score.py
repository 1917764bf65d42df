"""Leak scores of noise loggers from their nightly level and spread alone.

Loggers are not calibrated against each other, so every test compares a logger with its
own history; there is no absolute dB threshold.  For each logger, using only nights dated
on or before ``as_of`` and at most :attr:`ScoringConfig.history_nights` before it:

1. **Step change.**  Every split of the history into a *baseline* (at least
   ``min_baseline_nights``) and a *recent segment* (at least 2 nights) is tried; the split
   with the largest robust step ``z = (median(recent) - median(baseline)) / scatter`` wins,
   where ``scatter = max(1.4826 MAD(baseline levels), 0.5 dB)`` is the logger's own
   night-to-night scatter.  A leak is a lasting rise of the level.
2. **Persistence.**  A night is *high* if its level exceeds the baseline median by
   ``max(3 scatter, 2 dB)``.  The last 3 nights (within the last 7 days) must be high on
   at least 2 ("2 of 3", physics.md 4.3), and most nights since the change must be high:
   single loud nights (traffic, a burst main being flushed) do not make a step.
3. **Level against spread.**  A leak adds constant noise, so the spread (L10 - L90) stays
   or shrinks while the level rises; consumption and traffic raise the level *with* a
   wider spread.  The score is scaled down as the spread widens by more than 1 dB
   (to a quarter at +6 dB).

``score = strength x persistence x consistency x spread factor`` in 0..1, where strength
rises from 0 at z = 3 to 1 at z = 8 (and needs a step of 3 dB for full strength), and an
alarm is raised at ``score >= 0.5`` with at least 2 recent nights.

Limits (stated in every "no step" reason where they matter): noise present since the start
of the history (a PRV, a pump, a leak older than the history) is no step and scores 0;
without spectra, a PRV or pump that starts mid-history looks exactly like a leak; a logger
whose data stopped more than 7 days before ``as_of`` is not scored.  Missing nights are
simply absent: medians and counts use the nights present.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import date, timedelta

import numpy as np

from .._errors import ParameterError

__all__ = ["ScoringConfig", "LoggerScore", "score_steps", "score_history"]


@dataclasses.dataclass(frozen=True)
class ScoringConfig:
    """Tunable constants of :func:`score_loggers` (defaults calibrated on simulated histories)."""

    history_nights: int = 90       #: calendar nights before as_of considered
    min_baseline_nights: int = 5   #: nights needed before a change
    min_scatter_db: float = 0.5    #: floor of the night-to-night scatter, dB
    high_z: float = 3.0            #: a night is high at baseline + max(high_z scatter, high_min_db)
    high_min_db: float = 2.0
    z_start: float = 2.0           #: strength 0 at this z ...
    z_full: float = 6.0            #: ... and 1 at this z
    full_step_db: float = 3.0      #: step needed for full strength, dB
    recent_nights: int = 3         #: nights in the persistence test
    stale_days: int = 7            #: no data in this many days before as_of: not scored
    spread_ok_db: float = 1.0      #: spread widening tolerated without penalty, dB
    spread_bad_db: float = 6.0     #: widening at which the factor reaches spread_floor
    spread_floor: float = 0.25
    alarm_score: float = 0.5


@dataclasses.dataclass
class LoggerScore:
    """The score of one logger (``interfaces.md``) with the numbers behind it."""

    logger_id: str
    score: float
    alarm: bool
    nights_used: int
    reasons: list
    baseline_level_db: float = math.nan
    recent_level_db: float = math.nan
    step_db: float = math.nan
    step_z: float = math.nan
    scatter_db: float = math.nan
    change_date: str | None = None
    last_date: str | None = None
    #: fields filled by the fleet scorer (:func:`acoustic.loggers.score_loggers`)
    confidence: float | None = None        #: 0..1, how much the score rests on (nights of evidence)
    confidence_label: str | None = None    #: low / medium / high
    stale_nights: int = 0                  #: nights from the last night with data to as_of
    fleet_level_z: float = math.nan        #: mean robust z of level within the night's group
    fleet_spread_z: float = math.nan       #: mean robust z of spread within the night's group
    fleet_nights: int = 0                  #: nights averaged for the fleet evidence
    fleet_group: str | None = None         #: the group(s) the logger was placed in
    step_score: float | None = None        #: the within-logger step score, 0..1
    evidence: list | None = None           #: which evidence the score rests on (fleet, step)

    def as_dict(self) -> dict:
        """The JSON object of ``interfaces.md`` (plus the numbers behind the score; NaN -> None)."""
        d = dataclasses.asdict(self)
        d["score"] = round(float(self.score), 3)
        if d["step_score"] is not None:
            d["step_score"] = round(float(d["step_score"]), 3)
        for k in ("baseline_level_db", "recent_level_db", "step_db", "step_z", "scatter_db",
                  "fleet_level_z", "fleet_spread_z"):
            v = d[k]
            d[k] = None if v is None or not math.isfinite(v) else round(float(v), 2)
        return d

    to_json = as_dict


def _clip01(v: float) -> float:
    return 0.0 if v < 0 else 1.0 if v > 1 else float(v)


def _median_sorted(s: list) -> float:
    n = len(s)
    h = n // 2
    return float(s[h]) if n % 2 else 0.5 * (s[h - 1] + s[h])


def _best_split(lv: list, min_base: int, min_scatter: float):
    """Most likely change point of a level history.

    Every split ``tau`` (baseline ``lv[:tau]`` of at least ``min_base`` nights, recent
    segment of at least 2) is scored by the robust two-sample statistic
    ``(median(post) - median(pre)) / s_pooled * sqrt(n_pre n_post / n)`` with ``s_pooled``
    = 1.4826 x the median absolute residual of both segments about their own medians
    (floored at ``min_scatter``); the largest wins (the robust analogue of the CUSUM /
    likelihood-ratio change point for a shift in level).  Returns ``(tau, baseline median,
    recent median, baseline scatter)`` where the baseline scatter is 1.4826 MAD of the
    baseline alone (floored): the logger's own night-to-night scatter.
    """
    n = len(lv)
    best = None
    for tau in range(min_base, n - 1):
        pre = sorted(lv[:tau])
        post = sorted(lv[tau:])
        m1, m2 = _median_sorted(pre), _median_sorted(post)
        res = sorted([abs(v - m1) for v in pre] + [abs(v - m2) for v in post])
        s_pool = max(1.4826 * _median_sorted(res), min_scatter)
        t = (m2 - m1) / s_pool * math.sqrt(tau * (n - tau) / n)
        if best is None or t > best[0] + 1e-12:
            best = (t, tau, m1, m2)
    _, tau, m1, m2 = best
    base_scatter = max(1.4826 * _median_sorted(sorted(abs(v - m1) for v in lv[:tau])), min_scatter)
    return tau, m1, m2, base_scatter


def score_history(logger_id: str, dates, levels, spreads, as_of: date,
                  config: ScoringConfig = ScoringConfig()) -> LoggerScore:
    """Score one logger's history (dates ascending, unique; only dates <= as_of are used).

    Parameters
    ----------
    logger_id : str
    dates : sequence of datetime.date
    levels, spreads : sequence of float
        Nightly level and spread, dB.
    as_of : datetime.date
        Nights after this date are ignored.
    config : ScoringConfig

    Returns
    -------
    LoggerScore
    """
    c = config
    first = as_of - timedelta(days=c.history_nights - 1)
    keep = [i for i, d in enumerate(dates) if first <= d <= as_of]
    ds = [dates[i] for i in keep]
    lv = np.asarray([levels[i] for i in keep], dtype=np.float64)
    sp = np.asarray([spreads[i] for i in keep], dtype=np.float64)
    n = len(ds)
    out = LoggerScore(logger_id, 0.0, False, n, [], last_date=ds[-1].isoformat() if n else None)
    if n == 0:
        out.reasons.append(f"no nights in the {c.history_nights} nights up to {as_of}")
        return out
    span = (ds[-1] - ds[0]).days + 1
    if n < span:
        out.reasons.append(f"{n} of {span} nights present from {ds[0]} to {ds[-1]} ({span - n} missing)")
    stale = (as_of - ds[-1]).days
    if stale >= c.stale_days:
        out.reasons.append(f"no data for {stale} nights before {as_of} (last night {ds[-1]}): not scored")
        return out
    if n < c.min_baseline_nights + 2:
        out.reasons.append(f"only {n} night(s); a baseline needs {c.min_baseline_nights} nights plus 2 to compare")
        return out

    # 1. best split: largest robust step of the median level
    tau, base_med, post_med, scat = _best_split(lv.tolist(), c.min_baseline_nights, c.min_scatter_db)
    step = post_med - base_med
    z = step / scat
    out.baseline_level_db, out.recent_level_db, out.step_db = base_med, post_med, step
    out.step_z, out.scatter_db, out.change_date = z, scat, ds[tau].isoformat()

    # 2. persistence over the last nights and consistency since the change
    # a night is high when it sits nearer the new level than the baseline and clear of the
    # logger's scatter: above baseline + max(2 dB, min(3 scatter, step / 2))
    thr = max(c.high_min_db, min(c.high_z * scat, 0.5 * step))
    recent = [i for i in range(n - 1, -1, -1) if (as_of - ds[i]).days < c.stale_days][:c.recent_nights]
    recent_high = sum(1 for i in recent if lv[i] - base_med >= thr)
    n_recent = len(recent)
    frac_recent = recent_high / n_recent if n_recent else 0.0
    persistence = 1.0 if frac_recent >= 0.999 else 0.8 if frac_recent >= 0.66 else 0.3 if frac_recent >= 0.33 else 0.0
    post_high = int(np.count_nonzero(lv[tau:] - base_med >= thr))
    consistency = post_high / (n - tau)

    # 3. level against spread
    sp_base, sp_post = _median_sorted(sorted(sp[:tau].tolist())), _median_sorted(sorted(sp[tau:].tolist()))
    dsp = sp_post - sp_base
    g = 1.0 - (1.0 - c.spread_floor) * _clip01((dsp - c.spread_ok_db) / (c.spread_bad_db - c.spread_ok_db))

    strength = _clip01((z - c.z_start) / (c.z_full - c.z_start)) * _clip01(step / c.full_step_db)
    score = strength * persistence * consistency * g
    out.score = float(score)
    out.alarm = bool(score >= c.alarm_score and n_recent >= 2)

    r = out.reasons
    if strength > 0:
        r.insert(0, f"level rose {step:+.1f} dB from {ds[tau]}: median {post_med:.1f} dB over {n - tau} night(s) "
                    f"vs baseline {base_med:.1f} dB over {tau} night(s) to {ds[tau - 1]}; "
                    f"{z:.1f} x the logger's night-to-night scatter of {scat:.1f} dB")
        r.append(f"{recent_high} of the last {n_recent} night(s) and {post_high} of {n - tau} since the change "
                 f"above baseline + {thr:.1f} dB")
        if dsp <= c.spread_ok_db:
            r.append(f"spread {sp_base:.1f} -> {sp_post:.1f} dB: steady noise, as a leak makes "
                     "(a PRV or pump that started then would look the same)")
        else:
            r.append(f"spread widened {sp_base:.1f} -> {sp_post:.1f} dB: transient noise (traffic, consumption) "
                     f"is likelier than a leak; score x {g:.2f}")
    else:
        r.insert(0, f"no lasting step: last {n_recent} night(s) at {', '.join(f'{lv[i]:.1f}' for i in recent)} dB "
                    f"vs median {float(np.median(lv)):.1f} dB over {n} nights (scatter {scat:.1f} dB)")
        med_sp = float(np.median(sp))
        if med_sp <= 3.0:
            r.append(f"steady noise throughout (median spread {med_sp:.1f} dB): a PRV, pump or a leak older than "
                     "the history; level and spread alone cannot tell (check spectra)")
    return out


def score_steps(rows, as_of: date | None = None, config: ScoringConfig = ScoringConfig()) -> list[LoggerScore]:
    """Score every logger of a stats table by the within-logger step alone (the scorer before issue 18).

    Parameters
    ----------
    rows : iterable of StatsRow (or objects with logger_id, date, level, spread)
        One row per logger-night (duplicates are refused by :func:`read_stats`).
    as_of : datetime.date, optional
        Use only nights dated on or before it; default the last date in ``rows``.
    config : ScoringConfig

    Returns
    -------
    list of LoggerScore
        Highest score first (ties by logger id).
    """
    rows = list(rows)
    if not rows:
        raise ParameterError("no stats rows to score")
    if as_of is None:
        as_of = max(r.date for r in rows)
    by: dict[str, list] = {}
    for r in rows:
        by.setdefault(r.logger_id, []).append(r)
    out = []
    for lid, rs in by.items():
        rs = sorted(rs, key=lambda r: r.date)
        dates = [r.date for r in rs]
        if len(set(dates)) != len(dates):
            raise ParameterError(f"logger {lid} has more than one row for a night")
        out.append(score_history(lid, dates, [r.level for r in rs], [r.spread for r in rs], as_of, config))
    out.sort(key=lambda s: (-s.score, s.logger_id))
    return out
