"""Noise-logger statistics: nightly level and spread, ``stats.csv`` I/O, leak scores, simulation.

- :func:`nightly_stats` turns recordings into per-logger, per-night level (L50) and spread
  (L10 - L90) of the calibrated per-frame band levels (definitions in ``_nightly``);
- :func:`read_stats` / :func:`write_stats` read and write the ``stats.csv`` of
  ``interfaces.md`` (validation rules in ``_csvio``);
- :func:`score_loggers` scores each logger against its own history from level and spread
  alone (method and limits in ``_score``);
- :func:`simulate_logger`, :func:`simulate_fleet` and :func:`evaluate_scoring` make
  realistic multi-night histories and measure detection and false-alarm rates.
"""

from ._csvio import REQUIRED_COLUMNS, StatsRow, read_stats, write_stats
from ._nightly import STATS_COLUMNS, NightStats, night_date, night_statistics, nightly_stats
from ._score import LoggerScore, ScoringConfig, score_history, score_loggers
from ._simulate import LOGGER_KINDS, evaluate_scoring, simulate_fleet, simulate_logger

__all__ = [
    "REQUIRED_COLUMNS", "STATS_COLUMNS", "StatsRow", "NightStats", "read_stats", "write_stats",
    "night_date", "night_statistics", "nightly_stats", "LoggerScore", "ScoringConfig", "score_history",
    "score_loggers", "LOGGER_KINDS", "simulate_logger", "simulate_fleet", "evaluate_scoring",
]
