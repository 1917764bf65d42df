"""A trained leak classifier and its safe persistence.

A model is a folder ``NAME/`` holding ``model.skops`` (a scikit-learn pipeline in the skops
format, which stores no code) and ``model_card.json`` (data summary, features version,
metrics, threshold, seed, package version, and the SHA-256 of ``model.skops``).  Loading
checks the card, the checksum and that the skops file contains only the types on a fixed
allow-list; anything else is refused with :class:`~acoustic.ModelError`.  Nothing from the
file is executed: skops rebuilds objects from data, and only listed types may be built.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from pathlib import Path

from .._errors import ModelError

__all__ = ["EXTRA_INPUTS", "LeakModel", "MODEL_FORMAT", "MODEL_FORMAT_VERSION", "TRUSTED_TYPES", "load_model", "model_inputs",
           "read_model_card", "save_model"]

MODEL_FORMAT = "acoustic-leak-model"
MODEL_FORMAT_VERSION = 1
MODEL_FILE = "model.skops"
CARD_FILE = "model_card.json"

#: The only types a model file may contain (besides builtins and numpy arrays/dtypes that skops trusts).
TRUSTED_TYPES = [
    "sklearn.pipeline.Pipeline",
    "sklearn.impute._base.SimpleImputer",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.Interval",
    "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn.linear_model._logistic.LogisticRegression",
    "builtins.slice",
    "numpy.dtype",
    "numpy.ndarray",
    "numpy.float64",
    "numpy.int64",
    "numpy.random.mtrand.RandomState",
    "collections.OrderedDict",
]


@dataclasses.dataclass
class LeakModel:
    """A fitted pipeline with its decision threshold and model card.

    Attributes
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Maps feature vectors to leak probability (``predict_proba[:, 1]``).
    threshold : float
        Probability at or above which a recording is labelled ``leak``.
    card : dict
        The model card (see module docs).
    path : Path or None
        Folder the model was loaded from.
    """

    pipeline: object
    threshold: float
    card: dict
    path: Path | None = None

    @property
    def feature_names(self) -> list[str]:
        """Names of the extracted features the model reads (in order)."""
        return list(self.card["features"]["names"])

    @property
    def extra_inputs(self) -> list[str]:
        """Inputs appended to the features (``sensor_is_accelerometer``: 1 for accelerometers, else 0)."""
        return list(self.card["features"].get("extra_inputs", []))

    @property
    def features_version(self) -> str:
        return str(self.card["features"]["version"])

    @property
    def level_term(self) -> dict | None:
        """The bounded calibrated-level term of the card (None: the model uses shape evidence only)."""
        return self.card.get("level_term")

    def leak_probability(self, X, sensor_kinds=None, *, levels_db=None, calibrated=None):
        """Leak probability (0..1) for each row of the feature matrix ``X``.

        Parameters
        ----------
        X : array_like, shape (n, n_features)
            Extracted features in the order of :attr:`feature_names` (level-invariant).
        sensor_kinds : sequence of str, optional
            Sensor kind per row; required when the model has :attr:`extra_inputs` or when a
            calibrated level is used.
        levels_db : sequence of float, optional
            10th-percentile level per row, dB re 1 calibrated unit (``RecordingFeatures.level_p10_db``).
        calibrated : sequence of bool, optional
            Per row: may the level be used (the sidecar says ``"calibrated": true``)?  Rows that are
            not calibrated, or any row when the model has no level term, get the shape-only
            probability, which no gain can change.
        """
        p = self.pipeline.predict_proba(model_inputs(X, sensor_kinds, self.feature_names, self.extra_inputs))[:, 1]
        if levels_db is None or calibrated is None or self.level_term is None:
            return p
        return apply_level_term(p, self.level_term, levels_db, calibrated, sensor_kinds)


def level_logit(term: dict, level_db: float, sensor_kind: str) -> float:
    """The bounded logit added for a calibrated level: ``clip(slope (L - centre[kind]), -max, max)``."""
    import math

    centre = term["centre_db"].get(sensor_kind)
    if centre is None or not math.isfinite(level_db):
        return 0.0
    v = float(term["slope_per_db"]) * (float(level_db) - float(centre))
    m = float(term["max_logit"])
    return max(-m, min(m, v))


def apply_level_term(p, term: dict, levels_db, calibrated, sensor_kinds):
    """Shape-only probabilities ``p`` moved by the bounded level term on the calibrated rows."""
    import numpy as np

    p = np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1 - 1e-12)
    logit = np.log(p / (1 - p))
    kinds = sensor_kinds if sensor_kinds is not None else ["hydrophone"] * p.size
    add = np.array([level_logit(term, L, k) if c else 0.0 for L, c, k in zip(levels_db, calibrated, kinds)])
    return 1.0 / (1.0 + np.exp(-(logit + add)))


def check_level_term(term, where) -> None:
    """Refuse a card whose level term is not plain finite numbers within bounds."""
    import math

    if term is None:
        return
    try:
        ok = (isinstance(term, dict) and all(math.isfinite(float(term[k])) for k in ("slope_per_db", "max_logit"))
              and 0 <= float(term["max_logit"]) <= MAX_LEVEL_LOGIT
              and isinstance(term["centre_db"], dict)
              and all(math.isfinite(float(v)) for v in term["centre_db"].values()))
    except (KeyError, TypeError, ValueError):
        ok = False
    if not ok:
        raise ModelError(f"{where}: model card's level_term is malformed (needs finite slope_per_db, centre_db per "
                         f"sensor kind and 0 <= max_logit <= {MAX_LEVEL_LOGIT})")


#: Largest bound a card may give the calibrated-level term, logits (0.5 -> 0.88 at most).
MAX_LEVEL_LOGIT = 2.0


#: Inputs a model may take besides the extracted features.
EXTRA_INPUTS = ("sensor_is_accelerometer",)


def model_inputs(X, sensor_kinds, feature_names, extra_inputs):
    """The pipeline's input matrix: features plus the extra inputs, checked.

    Raises
    ------
    ModelError
        Wrong number of features, unknown extra input, or sensor kinds missing or of another length.
    """
    import numpy as np

    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.shape[1] != len(feature_names):
        raise ModelError(f"model expects {len(feature_names)} features, got array of shape {X.shape}")
    cols = []
    for name in extra_inputs:
        if name != "sensor_is_accelerometer":
            raise ModelError(f"model needs input {name!r}, which this acoustic does not know")
        if sensor_kinds is None or len(sensor_kinds) != X.shape[0]:
            raise ModelError("model needs the sensor kind of every recording")
        cols.append(np.array([1.0 if k == "accelerometer" else 0.0 for k in sensor_kinds]))
    return np.column_stack([X, *cols]) if cols else X


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_model(model: LeakModel, folder) -> Path:
    """Write ``model.skops`` and ``model_card.json`` into ``folder`` (atomically per file)."""
    import skops.io as sio

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".skops.tmp")
    os.close(fd)
    try:
        sio.dump(model.pipeline, tmp)
        card = dict(model.card)
        card.update(format=MODEL_FORMAT, format_version=MODEL_FORMAT_VERSION, threshold=float(model.threshold),
                    model_file=MODEL_FILE, model_sha256=_sha256(Path(tmp)))
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a model is meant to be shared
        os.replace(tmp, folder / MODEL_FILE)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    tmp_card = folder / (CARD_FILE + ".tmp")
    tmp_card.write_text(json.dumps(card, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp_card, folder / CARD_FILE)
    model.card = card
    return folder


def read_model_card(folder) -> tuple[Path, dict]:
    """The model folder and its card, checked without loading the model (milliseconds).

    Everything :func:`load_model` checks before it opens the skops file: the files exist, the card
    is ours and complete, and ``model.skops`` has the card's SHA-256.

    Raises
    ------
    ModelError
        Missing files, a card that is not ours, a checksum mismatch (tampered file).
    """
    folder = Path(folder)
    if folder.is_file() and folder.name in (MODEL_FILE, CARD_FILE):
        folder = folder.parent
    card_path, model_path = folder / CARD_FILE, folder / MODEL_FILE
    if not folder.exists():
        raise ModelError(f"{folder}: model not found")
    if not card_path.is_file() or not model_path.is_file():
        raise ModelError(f"{folder}: not a model folder (needs {CARD_FILE} and {MODEL_FILE})")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{card_path}: model card is not valid JSON ({exc})") from None
    if not isinstance(card, dict) or card.get("format") != MODEL_FORMAT:
        raise ModelError(f"{card_path}: not an acoustic model card (format {card.get('format') if isinstance(card, dict) else None!r})")
    if card.get("format_version") != MODEL_FORMAT_VERSION:
        raise ModelError(f"{card_path}: model format version {card.get('format_version')!r} is not supported "
                         f"(this acoustic reads version {MODEL_FORMAT_VERSION})")
    for key in ("threshold", "model_sha256", "features"):
        if key not in card:
            raise ModelError(f"{card_path}: model card lacks {key!r}")
    check_level_term(card.get("level_term"), card_path)
    if _sha256(model_path) != card["model_sha256"]:
        raise ModelError(f"{model_path}: checksum does not match the model card; the file was changed or corrupted")
    return folder, card


def load_model(folder) -> LeakModel:
    """Load a model folder safely.

    Raises
    ------
    ModelError
        Missing files, a card that is not ours, a checksum mismatch (tampered file), a
        skops file that is corrupt or contains types outside :data:`TRUSTED_TYPES`.
    """
    import skops.io as sio

    folder, card = read_model_card(folder)
    model_path = folder / MODEL_FILE
    try:
        untrusted = sio.get_untrusted_types(file=model_path)
    except Exception as exc:
        raise ModelError(f"{model_path}: not a readable model file ({type(exc).__name__}: {exc})") from None
    foreign = [t for t in untrusted if t not in TRUSTED_TYPES]
    if foreign:
        raise ModelError(f"{model_path}: refused, contains types outside the trusted list: {', '.join(foreign[:5])}")
    try:
        pipeline = sio.load(model_path, trusted=[t for t in untrusted])
    except Exception as exc:
        raise ModelError(f"{model_path}: model cannot be loaded ({type(exc).__name__}: {exc})") from None
    if not hasattr(pipeline, "predict_proba"):
        raise ModelError(f"{model_path}: object has no predict_proba; not a classifier")
    n_inputs = len(card["features"].get("names", [])) + len(card["features"].get("extra_inputs", []))
    if getattr(pipeline, "n_features_in_", n_inputs) != n_inputs:
        raise ModelError(f"{model_path}: the model takes {pipeline.n_features_in_} inputs but its card lists "
                         f"{n_inputs}; card and model do not belong together")
    return LeakModel(pipeline=pipeline, threshold=float(card["threshold"]), card=card, path=folder)
