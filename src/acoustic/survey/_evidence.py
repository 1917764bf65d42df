"""Per-recording and per-logger evidence: calibrated band levels, classifier probability, stats score.

Recordings are read once and kept in a small cache for the pair correlations.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np

from .._errors import AcousticError, AcousticWarning, ModelError
from ._folder import RecordingInfo, SurveyFolder

__all__ = ["RecordingCache", "LoggerEvidence", "band_level_db", "logger_evidence"]


class RecordingCache:
    """Reads each recording once; keeps its Welch power spectrum for band levels."""

    def __init__(self):
        self._recs: dict[Path, object] = {}
        self._psd: dict[Path, tuple[np.ndarray, np.ndarray]] = {}

    def get(self, info: RecordingInfo):
        rec = self._recs.get(info.path)
        if rec is None:
            from ..io import read_recording

            rec = self._recs[info.path] = read_recording(info.path)
        return rec

    def psd(self, info: RecordingInfo) -> tuple[np.ndarray, np.ndarray]:
        """One-sided Welch PSD of the calibrated samples: (freqs Hz, power per Hz)."""
        out = self._psd.get(info.path)
        if out is None:
            from scipy.signal import welch

            rec = self.get(info)
            nper = int(min(rec.n_samples, 2 ** int(np.round(np.log2(rec.sample_rate / 2.0)))))
            f, p = welch(rec.calibrated(), fs=rec.sample_rate, nperseg=max(nper, 16))
            out = self._psd[info.path] = (f, p)
        return out


def band_level_db(freqs, psd, band_hz) -> float:
    """Level (dB re 1 calibrated unit) of the power in ``band_hz`` (Hz)."""
    lo, hi = band_hz
    sel = (freqs >= lo) & (freqs <= hi)
    if not np.any(sel):
        return float("nan")
    df = float(freqs[1] - freqs[0]) if freqs.size > 1 else 1.0
    return float(10.0 * np.log10(max(float(np.sum(psd[sel])) * df, 1e-300)))


@dataclasses.dataclass
class LoggerEvidence:
    """What one logger's own recordings say.

    Attributes
    ----------
    logger_id : str
    leak_probability : float or None
        Median over nights of the classifier's leak probability (None without a model).
    probabilities : list of float
        Per recording.
    stats_score : float or None
        ``loggers score`` on ``stats.csv`` (None when absent).
    stats_alarm : bool or None
    score : float
        Combined 0..1 (see :func:`logger_evidence`).
    alarm : bool
        Score at or above the model's threshold (or the stats alarm).
    reasons : list of str
    sensor_kind : str
    """

    logger_id: str
    leak_probability: float | None
    probabilities: list
    stats_score: float | None
    stats_alarm: bool | None
    score: float
    alarm: bool
    reasons: list
    sensor_kind: str = "hydrophone"
    level_db: float | None = None

    def to_json(self) -> dict:
        return {"logger_id": self.logger_id, "score": round(self.score, 4), "alarm": self.alarm,
                "leak_probability": None if self.leak_probability is None else round(self.leak_probability, 4),
                "stats_score": None if self.stats_score is None else round(self.stats_score, 4),
                "level_db": None if self.level_db is None else round(self.level_db, 2),
                "n_recordings": len(self.probabilities), "reasons": list(self.reasons)}


def load_classifier(model):
    """The classifier to use: ``"default"`` (shipped model), a path, a LeakModel, or None (none).

    A missing default model is a warning (the survey then rests on correlation and statistics);
    an explicitly named model that does not load is an error.
    """
    if model is None:
        return None
    if model == "default":
        from ..classify import load_model
        from ..classify._predict import default_model_dir

        try:
            return load_model(default_model_dir())
        except ModelError as exc:
            warnings.warn(f"no leak classifier ({exc}); logger scores use statistics and correlation only",
                          AcousticWarning, stacklevel=2)
            return None
    if isinstance(model, (str, Path)):
        from ..classify import load_model

        return load_model(model)
    return model


def _classify(classifier, infos: list[RecordingInfo]) -> dict[Path, float]:
    from ..classify import extract_paths
    from ..classify._predict import check_supported

    feats = extract_paths([str(i.path) for i in infos])
    feats = getattr(feats, "recordings", feats)
    out = {}
    good, rows = [], []
    for rf in feats:
        try:
            check_supported(classifier, rf)
        except AcousticError as exc:
            warnings.warn(f"{rf.path}: not classified ({exc})", AcousticWarning, stacklevel=2)
            continue
        good.append(rf)
        rows.append(rf.values)
    if rows:
        p = classifier.leak_probability(np.vstack(rows))
        for rf, v in zip(good, p):
            out[Path(rf.path)] = float(v)
    return out


def _stats_scores(path: Path, loggers) -> dict[str, dict]:
    from ..loggers import read_stats, score_loggers

    scores = score_loggers(read_stats(path))
    out = {}
    for s in scores:
        d = s if isinstance(s, dict) else s.to_json()
        if d["logger_id"] in loggers:
            out[d["logger_id"]] = d
    return out


#: Band (Hz) of the calibrated level each logger is compared on.
LEVEL_BAND_HZ = (20.0, 1000.0)
#: A logger this many dB above the median of its sensor kind scores 0.5 on level alone; the score
#: rises by a logistic of width :data:`LEVEL_WIDTH_DB`.
LEVEL_MID_DB = 10.0
LEVEL_WIDTH_DB = 3.0


def logger_evidence(folder: SurveyFolder, loggers, classifier, cache: RecordingCache | None = None
                    ) -> dict[str, LoggerEvidence]:
    """Per-logger score from the classifier (median over nights), ``stats.csv`` when present, and
    the calibrated level heard.

    The combined score is the classifier's median leak probability, raised by the statistics
    score when the level/spread history alarms (``1 - (1 - p)(1 - s)`` : either kind of evidence
    can make a logger suspect); without a classifier it is the statistics score.  Without either,
    the level decides: recordings are calibrated (the sidecar's gain), so a logger much louder
    than the median of the loggers with the same sensor (over :data:`LEVEL_BAND_HZ`) hears
    something; its score is a logistic of its dB above that median (0.5 at :data:`LEVEL_MID_DB`).
    Every logger's level is reported in its reasons.
    """
    cache = cache or RecordingCache()
    levels: dict[str, float] = {}
    for lid in loggers:
        ls = [band_level_db(*cache.psd(i), LEVEL_BAND_HZ) for i in folder.recordings.get(lid, [])]
        ls = [v for v in ls if np.isfinite(v)]
        if ls:
            levels[lid] = float(np.median(ls))
    medians = {}
    for kind in {folder.sites[l].sensor_kind for l in loggers}:
        vals = [levels[l] for l in loggers if l in levels and folder.sites[l].sensor_kind == kind]
        if vals:
            medians[kind] = float(np.median(vals))
    threshold = float(getattr(classifier, "threshold", 0.5)) if classifier is not None else 0.5
    probs: dict[Path, float] = {}
    if classifier is not None:
        infos = [i for lid in loggers for i in folder.recordings.get(lid, [])]
        if infos:
            probs = _classify(classifier, infos)
    stats: dict[str, dict] = {}
    if folder.stats_path is not None:
        try:
            stats = _stats_scores(folder.stats_path, set(loggers))
        except ImportError:  # pragma: no cover - acoustic.loggers is part of the package
            stats = {}
    out = {}
    for lid in loggers:
        ps = [probs[i.path] for i in folder.recordings.get(lid, []) if i.path in probs]
        p = float(np.median(ps)) if ps else None
        st = stats.get(lid)
        s = None if st is None else float(st["score"])
        reasons = []
        if p is not None:
            reasons.append(f"classifier leak probability {p:.2f} (median of {len(ps)} recording(s); "
                           f"threshold {threshold:.2f})")
        if st is not None:
            reasons.append(f"level/spread history score {s:.2f}" + ("" if not st.get("reasons") else
                                                                    f" ({'; '.join(st['reasons'][:2])})"))
        kind = folder.sites[lid].sensor_kind
        above = levels[lid] - medians[kind] if lid in levels else None
        unit = "Pa" if kind == "hydrophone" else "m/s^2"
        if above is not None:
            reasons.append(f"level {levels[lid]:.1f} dB re 1 {unit} over {LEVEL_BAND_HZ[0]:g}-{LEVEL_BAND_HZ[1]:g} Hz, "
                           f"{above:+.1f} dB against the median {kind}")
        if p is not None and s is not None:
            score = 1.0 - (1.0 - p) * (1.0 - s)
        elif p is not None:
            score = p
        elif s is not None:
            score = s
        elif above is not None:
            score = float(1.0 / (1.0 + np.exp(-(above - LEVEL_MID_DB) / LEVEL_WIDTH_DB)))
            reasons.append(f"no classifier or statistics: level score {score:.2f}")
        else:
            score = 0.5
        alarm = bool((p is not None and p >= threshold) or (st is not None and st.get("alarm"))
                     or (p is None and st is None and score >= 0.5))
        out[lid] = LoggerEvidence(lid, p, ps, s, None if st is None else bool(st.get("alarm")), float(score), alarm,
                                  reasons, kind, levels.get(lid))
    return out
