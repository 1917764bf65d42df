"""Classify recordings with a trained model, with the nearest library signatures as evidence.

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
#: model was trained down to peaks near -36 dBFS; at -51 dBFS its false alarms rose to 17 %.
MIN_PEAK_DBFS = -40.0
DEFAULT_LIBRARY_FILE = "signatures.h5"


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
    glo, ghi = (card.get("data", {}).get("gain_db_range") or [None, None])
    if glo is not None and not (glo - 1e-9 <= rf.gain_db <= ghi + 1e-9):
        warnings.warn(f"{name}: gain {rf.gain_db:g} dB is outside the {glo:g}..{ghi:g} dB the model was trained "
                      "on (levels are calibrated, so this matters only through quantisation and clipping)",
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
    p = model.leak_probability(X, [rf.sensor_kind for rf in feats])
    nearest = [[] for _ in feats]
    if library is not None and len(library):
        library.check_features(feats[0].names, feats[0].version)
        nearest = library.match(X, k=k, sensor_kinds=[rf.sensor_kind for rf in feats])
    out = []
    for rf, prob, near in zip(feats, p, nearest):
        out.append({
            "file": str(rf.path),
            "leak_probability": float(prob),
            "label": "leak" if prob >= model.threshold else "no_leak",
            "threshold": float(model.threshold),
            "nearest": near,
            "sample_rate_hz": rf.sample_rate_hz,
            "sensor_kind": rf.sensor_kind,
        })
    return out
