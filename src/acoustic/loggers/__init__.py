"""Noise-logger statistics: nightly level and spread, ``stats.csv`` I/O, leak scores, simulation.

- :func:`nightly_stats` turns recordings into per-logger, per-night level (L50) and spread
  (L10 - L90) of the calibrated per-frame band levels (definitions in ``_nightly``);
- :func:`read_stats` / :func:`write_stats` read and write the ``stats.csv`` of
  ``interfaces.md`` (validation rules in ``_csvio``);
- :func:`score_loggers` (= :func:`score_fleet`) scores each logger from level and spread:
  its place within the same night's fleet (by area and model) and a lasting step against its
  own history, combined into one probability (``_fleet``; the step test in ``_score``,
  :func:`score_steps` is the step test alone);
- :func:`simulate_logger`, :func:`simulate_fleet` and :func:`evaluate_scoring` make
  single-logger histories and measure the step test; :func:`simulate_real_fleet`,
  :func:`fleet_visits` and :func:`evaluate_fleet` make fleets (areas, models, leaks older than
  the history, stale uploads) and measure visit-style ROC AUC.
"""

from ._csvio import REQUIRED_COLUMNS, StatsRow, read_stats, write_stats
from ._nightly import STATS_COLUMNS, NightStats, night_date, night_statistics, nightly_stats
from ._score import LoggerScore, ScoringConfig, score_history, score_steps
from ._simulate import LOGGER_KINDS, evaluate_scoring, simulate_fleet, simulate_logger
from ._fleet import FleetConfig, fleet_positions, score_fleet, score_loggers
from ._fleetsim import FLEET_CATEGORIES, evaluate_fleet, fleet_visits, roc_auc, simulate_real_fleet

__all__ = [
    "REQUIRED_COLUMNS", "STATS_COLUMNS", "StatsRow", "NightStats", "read_stats", "write_stats",
    "night_date", "night_statistics", "nightly_stats", "LoggerScore", "ScoringConfig", "score_history",
    "score_loggers", "score_steps", "score_fleet", "FleetConfig", "fleet_positions", "FLEET_CATEGORIES",
    "simulate_real_fleet", "fleet_visits", "evaluate_fleet", "roc_auc", "LOGGER_KINDS", "simulate_logger",
    "simulate_fleet", "evaluate_scoring",
]
