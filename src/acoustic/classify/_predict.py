"""Classify recordings with a trained model, with the nearest library signatures as evidence.

Evidence.  The model reads level-invariant features only (:func:`acoustic.features.shape_features`:
band energies relative to the recording's own total, spectral shape, lines, stationarity), so a
recording's probability does not depend on its ``gain_db`` at all.  Only a recording whose sidecar
says ``"calibrated": true`` adds its absolute level (10th-percentile level in calibrated units), and
then through a bounded term (the model card's ``level_term``: at most ``max_logit`` logits, with
``max_probability_change_per_10db`` the largest change a 10 dB gain error can cause).  The result
says which evidence was used (``"calibrated"``).

Domain.  A recording gets ``"in_domain": false`` and a reason when it is shorter than the training
recordings (:data:`acoustic.features._shape.MIN_DURATION_S`), when less than
:data:`MIN_IN_BAND_FRACTION` of its energy lies in the 5-900 Hz analysis band, or when its features
are farther from the training data than the card's ``domain.max_distance``; its probability is then
a guess.

Clipping and gain.  A recording with more than 1 % of its samples at full scale is refused:
clipping spreads energy over the whole spectrum and makes noise look like a leak.  One whose peak
is below -40 dB re full scale gets a warning (coarse quantisation).

Sample rates.  The feature vector has the same names at every sample rate; features that need
frequencies above a recording's Nyquist frequency are NaN.  The model card lists the features that
were defined in every training recording (``features.always_defined``) and the training sample-rate
range.  A recording that lacks one of those features *because its sample rate is below the training
range* is refused (:class:`~acoustic.RecordingError`): the model would have to guess them.  Missing
features at a trained rate, and rates or gains outside the trained ranges, give an
:class:`~acoustic.AcousticWarning` and a probability computed as usual (the pipeline imputes
missing features with their training medians).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from .._errors import AcousticWarning, ModelError, RecordingError

__all__ = ["classify_features", "default_library_path", "default_model_dir", "check_supported"]

#: Environment variable naming a folder that holds ``default/`` (model + signature library).
MODELS_ENV = "ACOUSTIC_MODELS_DIR"
#: Recordings with more clipped samples than this are refused: clipping spreads energy over the
#: spectrum and the classifier over-calls leaks (measured on the default model: 8 % false alarms at
#: a median 0.5 % of samples clipped, 32 % at 12 %; 5 % without clipping).
MAX_CLIPPED_FRACTION = 0.01
#: Below this peak level (dB re full scale) a warning says quantisation noise may dominate: the default
#: model's randomised training recordings go down to an RMS of -70 dBFS (peaks near -58 dBFS) in PCM16.
MIN_PEAK_DBFS = -60.0
DEFAULT_LIBRARY_FILE = "signatures.h5"
#: Below this share of its energy in the 5-900 Hz analysis band a recording is out of domain (the model
#: sees only its band-edge tail).  Judgement: one percent, i.e. 20 dB more energy outside than inside.
MIN_IN_BAND_FRACTION = 0.01


def _models_root() -> Path:
    env = os.environ.get(MODELS_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "models"  # <repo>/src/acoustic/classify -> <repo>/models


def default_model_dir() -> Path:
    """Folder of the shipped default model: ``$ACOUSTIC_MODELS_DIR/default`` or ``<repo>/models/default``.

    Raises
    ------
    ModelError
        No model there.
    """
    folder = _models_root() / "default"
    if not (folder / "model_card.json").is_file():
        raise ModelError(f"{folder}: no default model found; pass --model PATH, set {MODELS_ENV}, "
                         "or make it with scripts/train_default.py")
    return folder


def default_library_path() -> Path | None:
    """The shipped default signature library (``models/default/signatures.h5``), or None if absent."""
    path = _models_root() / "default" / DEFAULT_LIBRARY_FILE
    return path if path.is_file() else None


def check_supported(model, rf) -> None:
    """Refuse (or warn about) a recording the model cannot handle.

    Parameters
    ----------
    model : LeakModel
    rf : RecordingFeatures
        Features of the recording (see :func:`acoustic.classify.extract_paths`).

    Raises
    ------
    ModelError
        Features of another version or with other names than the model's.
    RecordingError
        The sample rate is below the trained range and features the model always had are undefined,
        or more than :data:`MAX_CLIPPED_FRACTION` of the samples are clipped.
    """
    name = rf.path.name
    clipped = float(getattr(rf, "clipped_fraction", 0.0) or 0.0)
    if clipped > MAX_CLIPPED_FRACTION:
        raise RecordingError(f"{name}: {100 * clipped:.1f} % of the samples are clipped at full scale (more than "
                             f"{100 * MAX_CLIPPED_FRACTION:g} %); the spectrum is distorted and the leak probability "
                             "would be meaningless; record with a lower logger gain")
    peak = float(getattr(rf, "peak_dbfs", 0.0))
    if peak < MIN_PEAK_DBFS:
        warnings.warn(f"{name}: the loudest sample is only {peak:.0f} dB re full scale; quantisation noise may "
                      "dominate the quiet bands and the leak probability is less certain (raise the logger gain)",
                      AcousticWarning, stacklevel=2)
    if str(rf.version) != model.features_version:
        raise ModelError(f"{model.path}: model was trained on features version {model.features_version}, "
                         f"this acoustic extracts version {rf.version}; retrain the model")
    if list(rf.names) != model.feature_names:
        raise ModelError(f"{model.path}: model feature names differ from the extractor's; retrain the model")
    card = model.card
    lo, hi = (card.get("data", {}).get("sample_rate_hz_range") or [None, None])
    undefined = ~np.isfinite(np.asarray(rf.values, dtype=np.float64))
    missing = []
    if undefined.any():
        always = set(card["features"].get("always_defined", []))
        missing = [n for n, bad in zip(rf.names, undefined.tolist()) if bad and n in always]
    rate = rf.sample_rate_hz
    if missing:
        listed = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
        if lo is not None and rate < lo:
            raise RecordingError(
                f"{name}: sample rate {rate:g} Hz is below the {lo:g}-{hi:g} Hz the model was trained on and "
                f"{len(missing)} feature(s) it always had are undefined here ({listed}); "
                "use a model trained at this rate")
        warnings.warn(f"{name}: {len(missing)} feature(s) the model always had are undefined ({listed}); "
                      "they are replaced by their training medians", AcousticWarning, stacklevel=2)
    if lo is not None and not (lo <= rate <= hi):
        warnings.warn(f"{name}: sample rate {rate:g} Hz is outside the {lo:g}-{hi:g} Hz the model was "
                      "trained on; its probability is less certain", AcousticWarning, stacklevel=2)
    term = model.level_term
    if getattr(rf, "calibrated", False) and term is not None:
        lo_l, hi_l = (card.get("data", {}).get("level_p10_db_range", {}).get(rf.sensor_kind) or [None, None])
        lvl = float(getattr(rf, "level_p10_db", float("nan")))
        if lo_l is not None and not (lo_l <= lvl <= hi_l):
            warnings.warn(f"{name}: calibrated level {lvl:.0f} dB is outside the {lo_l:.0f}..{hi_l:.0f} dB of the "
                          f"training data; the level can move the probability by at most "
                          f"{term['max_logit']:g} logit, the rest of the evidence is the spectral shape",
                          AcousticWarning, stacklevel=2)


def classify_features(model, feats, *, library=None, k: int = 3, check: bool = True) -> list[dict]:
    """Leak probability, label and nearest signatures for recordings whose features are extracted.

    Parameters
    ----------
    model : LeakModel
    feats : sequence of RecordingFeatures
    library : SignatureLibrary, optional
        Signature library for the ``nearest`` evidence (empty list without one); each recording is
        compared with the signatures of its own sensor kind.
    k : int, default 3
        Nearest signatures per recording.
    check : bool, default True
        Run :func:`check_supported` on every recording first; False when the caller has just done
        so (the batch workers check each recording on its own, to quarantine only the bad ones).

    Returns
    -------
    list of dict
        ``file``, ``leak_probability`` (0..1), ``label`` (``leak`` when the probability is at or above
        the model's threshold, else ``no_leak``), ``threshold``, ``nearest`` (``signature_id``,
        ``label``, ``similarity`` 0..1, ...).
    """
    if not feats:
        return []
    if check:
        for rf in feats:
            check_supported(model, rf)
    X = np.vstack([rf.values for rf in feats])
    kinds = [rf.sensor_kind for rf in feats]
    cal = [bool(getattr(rf, "calibrated", False)) for rf in feats]
    p = model.leak_probability(X, kinds, levels_db=[float(getattr(rf, "level_p10_db", np.nan)) for rf in feats],
                               calibrated=cal)
    domain = in_domain(model, feats, X)
    nearest = [[] for _ in feats]
    if library is not None and len(library):
        library.check_features(feats[0].names, feats[0].version)
        nearest = library.match(X, k=k, sensor_kinds=[rf.sensor_kind for rf in feats])
    out = []
    used_level = model.level_term is not None
    for rf, prob, near, c, (ok, why) in zip(feats, p, nearest, cal, domain):
        out.append({
            "file": str(rf.path),
            "leak_probability": float(prob),
            "label": "leak" if prob >= model.threshold else "no_leak",
            "threshold": float(model.threshold),
            "calibrated": bool(c and used_level),
            "evidence": "shape+level" if (c and used_level) else "shape",
            "in_domain": ok,
            "in_domain_reason": why,
            "tonal": {"mains_50hz": bool(getattr(rf, "mains_50hz", False)),
                      "mains_60hz": bool(getattr(rf, "mains_60hz", False))},
            "nearest": near,
            "sample_rate_hz": rf.sample_rate_hz,
            "sensor_kind": rf.sensor_kind,
        })
    return out


def in_domain(model, feats, X=None) -> list[tuple[bool, str | None]]:
    """``(in_domain, reason)`` per recording (see module docs); reason None when in domain."""
    from ..features._shape import MIN_DURATION_S
    from ._train import domain_distance

    if X is None:
        X = np.vstack([rf.values for rf in feats])
    dom = model.card.get("domain")
    dist = (domain_distance(X, dom["median"], dom["scale"]) if dom else np.zeros(len(feats)))
    out = []
    for rf, d in zip(feats, dist):
        reasons = []
        if rf.duration_s < MIN_DURATION_S:
            reasons.append(f"too short ({rf.duration_s:.1f} s; the model was trained on {MIN_DURATION_S:g} s and longer)")
        frac = float(getattr(rf, "in_band_fraction", 1.0))
        if frac < MIN_IN_BAND_FRACTION:
            reasons.append(f"energy mostly outside the 5-900 Hz analysis band ({100 * frac:.2g} % inside)")
        if dom and np.isfinite(d) and d > float(dom["max_distance"]):
            reasons.append(f"far from the training data (feature distance {d:.1f} > {float(dom['max_distance']):.1f})")
        out.append((not reasons, "; ".join(reasons) or None))
    return out
