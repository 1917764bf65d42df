"""Nightly level and spread of each logger from its recordings (physics.md 4.3).

Definitions (this project's, aligned with the vendor ones in physics.md 4.2-4.3):

- the *block levels* L_i of a night are the per-frame calibrated levels of all that
  logger's recordings of the night (``FeatureVector.frame_levels_db``: 0.256 s frames,
  50 % overlap, analysis band 20 Hz - min(1800 Hz, 0.45 fs), dB re 1 calibrated unit);
- **level** = L50, the median block level (the HWM-style "Level"; the histogram mode with
  0.5 dB bins is written too, as ``mode``);
- **spread** = L10 - L90, the width of the level distribution in dB (small = constant
  noise, leak-like; wide = transient noise: traffic, consumption);
- extra columns: ``l10``, ``l90`` and ``l95`` (the floor, Gutermann's dBmin analogue),
  ``mode``, ``n_blocks``, ``n_recordings``, ``duration_s``.

A recording belongs to the night of the calendar date (UTC) of ``start_time + 12 h``:
recordings from 12:00 UTC on day D-1 to 11:59:59 UTC on day D make night D, so the
usual 02:00-04:00 window is dated by its own day.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import date, datetime, timedelta

import numpy as np

from .._errors import DataError, RecordingError

__all__ = ["NightStats", "night_date", "night_statistics", "nightly_stats", "STATS_COLUMNS"]

#: Columns written to stats.csv, the first four being the interfaces.md contract.
STATS_COLUMNS = ("logger_id", "date", "level", "spread", "l10", "l90", "l95", "mode", "n_blocks",
                 "n_recordings", "duration_s")


@dataclasses.dataclass(frozen=True)
class NightStats:
    """One logger-night row of stats.csv (levels in dB re the logger's calibrated unit)."""

    logger_id: str
    date: date
    level: float
    spread: float
    l10: float = math.nan
    l90: float = math.nan
    l95: float = math.nan
    mode: float = math.nan
    n_blocks: int = 0
    n_recordings: int = 0
    duration_s: float = math.nan

    def as_row(self) -> dict:
        d = dataclasses.asdict(self)
        d["date"] = self.date.isoformat()
        return d


def night_date(start_time: datetime) -> date:
    """Night a recording belongs to: the UTC date of ``start_time + 12 h``."""
    return (start_time + timedelta(hours=12)).date()


def _mode(levels: np.ndarray, bin_db: float = 0.5) -> float:
    lo = math.floor(levels.min() / bin_db) * bin_db
    n = max(int(math.ceil((levels.max() - lo) / bin_db)), 1)
    counts = np.bincount(np.minimum(((levels - lo) / bin_db).astype(np.int64), n - 1), minlength=n)
    return float(lo + (np.argmax(counts) + 0.5) * bin_db)


def night_statistics(block_levels_db) -> dict:
    """Level statistics of one night's block levels.

    Parameters
    ----------
    block_levels_db : array_like, shape (n,)
        Short-interval levels, dB.

    Returns
    -------
    dict
        ``level`` (L50), ``spread`` (L10 - L90), ``l10``, ``l90``, ``l95``, ``mode`` (dB) and
        ``n_blocks``.  L_x is the level exceeded x % of the time (the (100 - x)th percentile).
    """
    v = np.asarray(block_levels_db, dtype=np.float64).ravel()
    if v.size == 0:
        raise DataError("no block levels for the night")
    if not np.all(np.isfinite(v)):
        raise DataError("block levels must be finite")
    l10, l50, l90, l95 = np.percentile(v, [90.0, 50.0, 10.0, 5.0])
    return {"level": float(l50), "spread": float(l10 - l90), "l10": float(l10), "l90": float(l90),
            "l95": float(l95), "mode": _mode(v), "n_blocks": int(v.size)}


def nightly_stats(recordings, *, on_error=None) -> list[NightStats]:
    """Per-logger, per-night statistics of recordings.

    Parameters
    ----------
    recordings : iterable of Recording or path
        Recordings with a sensor id and a start time (from their sidecars).
    on_error : callable, optional
        ``on_error(item, exc)`` is called for a recording that cannot be used (an
        :class:`~acoustic.AcousticError`) and the others are processed; by default the error
        is raised.

    Returns
    -------
    list of NightStats
        Sorted by logger id, then date.

    Raises
    ------
    RecordingError
        A recording without ``start_time`` (its night is unknown), or unreadable.
    """
    from .._errors import AcousticError
    from ..features import extract_features
    from ..recording import Recording

    groups: dict[tuple[str, date], list] = {}
    for item in recordings:
        try:
            rec = item
            if not isinstance(item, Recording):
                from ..io import read_recording

                rec = read_recording(item)
            if rec.start_time is None:
                raise RecordingError(f"{rec.name}: sidecar has no start_time, so its night is unknown")
            fv = extract_features(rec)
        except AcousticError as exc:
            if on_error is None:
                raise
            on_error(item, exc)
            continue
        key = (rec.sensor_id, night_date(rec.start_time))
        groups.setdefault(key, []).append((fv.frame_levels_db, rec.duration_s))
    rows = []
    for (lid, night), parts in sorted(groups.items()):
        levels = np.concatenate([p[0] for p in parts])
        st = night_statistics(levels)
        rows.append(NightStats(logger_id=lid, date=night, n_recordings=len(parts),
                               duration_s=float(sum(p[1] for p in parts)), **st))
    return rows
