"""The leak model's pipeline as flat arrays: the same probabilities without importing scikit-learn.

Batch workers classify a chunk of 32-64 recordings at a time.  Through scikit-learn, each chunk
costs about 8 ms whatever its size (input validation, the OpenMP pool of the gradient-boosting
predictor), and each worker process first spends about 1.5 s importing scikit-learn to unpickle
the pipeline.  :func:`compile_pipeline` turns the pipeline that :func:`acoustic.classify.train_model`
makes - ``SimpleImputer(strategy="median")`` -> ``StandardScaler`` -> binary
``HistGradientBoostingClassifier`` on numeric features - into numpy arrays, and
:class:`CompiledPipeline` evaluates them with scikit-learn's arithmetic in scikit-learn's order:

- missing values (NaN) are replaced by the imputer's medians;
- the scaler subtracts its means, then divides by its scales (float64, in place, as scikit-learn);
- every tree is walked as scikit-learn's ``_predict_one_from_raw_data`` walks it (NaN follows
  ``missing_go_to_left``, else ``x <= threshold`` goes left), and the leaf values are added to the
  baseline tree by tree, in the trees' order;
- the probability is ``scipy.special.expit`` of that sum (scikit-learn's logit link).

So the probabilities are bit-for-bit those of ``pipeline.predict_proba``; :func:`compile_pipeline`
checks that on probe rows (with the numpy twin, so a driver that only compiles does not import
numba) and returns None for any other pipeline (which then runs through scikit-learn as before).
The tree walk is a numba kernel (:mod:`acoustic.classify._forest`) with a numpy twin; the tests
compare both with scikit-learn.

Compiled-model cache.  Loading a model safely (skops, trusted types only) costs 2-3 s of CPU, most
of it importing scikit-learn, pandas and scipy.stats; a nightly batch pays it on its critical path
before any recording is classified.  :func:`save_compiled_model` therefore keeps the compiled arrays
of a model that passed :func:`acoustic.classify.load_model` and :func:`compile_pipeline` in
``compiled-models/`` of the cache folder (``$ACOUSTIC_CACHE_DIR``, else ``$XDG_CACHE_HOME/acoustic``,
else ``~/.cache/acoustic``; ``ACOUSTIC_CACHE_DIR=""`` turns the cache off), as a ``.npz`` of plain
arrays read with ``allow_pickle=False``: loading one runs no code from the file.
:func:`load_compiled_model` uses an entry only for the very model file it was made from: the
model card and the SHA-256 of ``model.skops`` are checked as :func:`acoustic.classify.load_model`
checks them, and the entry's name binds that SHA-256 to the scikit-learn version, the trusted-type
list and the compiled format, so a change of any of them makes a fresh safe load.  Entries are
written atomically and checked for shape and index consistency (zip CRCs catch corrupted bytes); a
bad entry is ignored and rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

__all__ = ["CompiledPipeline", "compile_pipeline", "compile_model", "compiled_cache_dir", "load_compiled_model",
           "save_compiled_model", "CACHE_ENV"]

#: Environment variable naming the cache folder ("" turns the compiled-model cache off).
CACHE_ENV = "ACOUSTIC_CACHE_DIR"
#: Version of the cached arrays' layout and meaning; bump when CompiledPipeline changes.
COMPILED_FORMAT = 1
_ARRAYS = ("fill", "mean", "scale", "feature", "threshold", "missing_left", "left", "right", "is_leaf", "value",
           "roots")


def _forest_reference(X, feature, threshold, missing_left, left, right, is_leaf, value, roots, raw):
    """numpy twin of :func:`acoustic.classify._forest.forest_kernel` (all rows and trees at once, one
    tree level per step)."""
    n = X.shape[0]
    node = np.repeat(roots[None, :], n, axis=0).astype(np.int64)
    rows = np.arange(n)[:, None]
    active = ~is_leaf[node]
    while active.any():
        v = X[rows, feature[node]]
        go_left = np.where(np.isnan(v), missing_left[node], v <= threshold[node])
        node = np.where(active, np.where(go_left, left[node], right[node]), node)
        active = ~is_leaf[node]
    leaf = value[node]
    for t in range(roots.shape[0]):  # tree by tree, as scikit-learn adds them
        raw += leaf[:, t]


class CompiledPipeline:
    """Median imputation, standard scaling and a binary gradient-boosted forest as arrays.

    Has the ``predict_proba`` of the pipeline it was compiled from (see the module docstring);
    picklable and small (~0.3 MB for 300 trees of 15 leaves), so it travels to worker processes
    with their tasks.

    Parameters
    ----------
    fill : ndarray, shape (n_inputs,)
        Imputer medians (what a NaN input becomes).
    mean, scale : ndarray, shape (n_inputs,) or None
        Scaler means and scales (None when the scaler does not centre or scale).
    baseline : float
        Raw score (log-odds) before the first tree.
    feature, threshold, missing_left, left, right, is_leaf, value : ndarray, shape (n_nodes,)
        The nodes of all trees, concatenated (child indices global).
    roots : ndarray, shape (n_trees,)
        Index of each tree's root node, in the order the trees are summed.
    """

    def __init__(self, fill, mean, scale, baseline, feature, threshold, missing_left, left, right, is_leaf, value,
                 roots):
        self.fill = np.ascontiguousarray(fill, dtype=np.float64)
        self.mean = None if mean is None else np.ascontiguousarray(mean, dtype=np.float64)
        self.scale = None if scale is None else np.ascontiguousarray(scale, dtype=np.float64)
        self.baseline = float(baseline)
        self.feature = np.ascontiguousarray(feature, dtype=np.int64)
        self.threshold = np.ascontiguousarray(threshold, dtype=np.float64)
        self.missing_left = np.ascontiguousarray(missing_left, dtype=np.bool_)
        self.left = np.ascontiguousarray(left, dtype=np.int64)
        self.right = np.ascontiguousarray(right, dtype=np.int64)
        self.is_leaf = np.ascontiguousarray(is_leaf, dtype=np.bool_)
        self.value = np.ascontiguousarray(value, dtype=np.float64)
        self.roots = np.ascontiguousarray(roots, dtype=np.int64)

    @property
    def n_features_in_(self) -> int:
        return int(self.fill.size)

    def transform(self, X) -> np.ndarray:
        """Imputed and scaled inputs (float64 copy), as the pipeline's first two steps.

        Raises
        ------
        ValueError
            Wrong number of columns, or an infinite value (scikit-learn refuses those too).
        """
        X = np.array(X, dtype=np.float64, copy=True, ndmin=2)
        if X.ndim != 2 or X.shape[1] != self.fill.size:
            raise ValueError(f"X has shape {X.shape}, the model expects {self.fill.size} inputs per row")
        missing = np.isnan(X)
        if np.isinf(X).any():
            raise ValueError("Input X contains infinity or a value too large for dtype('float64').")
        if missing.any():
            X = np.where(missing, self.fill[None, :], X)
        if self.mean is not None:
            X -= self.mean
        if self.scale is not None:
            X /= self.scale
        return X

    def raw_score(self, X, *, use_numba: bool = True) -> np.ndarray:
        """Log-odds of a leak per row: baseline plus the leaf values of every tree, in tree order."""
        Z = self.transform(X)
        raw = np.zeros(Z.shape[0])
        raw += self.baseline
        if use_numba:
            from ._forest import forest_kernel as walk  # numba is imported only where trees are walked
        else:
            walk = _forest_reference
        walk(Z, self.feature, self.threshold, self.missing_left, self.left, self.right, self.is_leaf, self.value,
             self.roots, raw)
        return raw

    def predict_proba(self, X, *, use_numba: bool = True) -> np.ndarray:
        """Class probabilities, shape (n, 2): column 1 is the leak probability (0..1)."""
        from scipy.special import expit

        raw = self.raw_score(X, use_numba=use_numba)
        proba = np.empty((raw.shape[0], 2))
        proba[:, 1] = expit(raw)
        proba[:, 0] = 1 - proba[:, 1]
        return proba


def _probe_rows(fill, mean, scale, n: int = 256, seed: int = 0) -> np.ndarray:
    """Inputs that visit many branches: around the training means, some far out, some missing."""
    rng = np.random.default_rng(seed)
    m = np.zeros(fill.size) if mean is None else mean
    s = np.ones(fill.size) if scale is None else scale
    X = m[None, :] + s[None, :] * rng.standard_normal((n, fill.size)) * rng.choice([0.3, 1.0, 3.0], size=(n, 1))
    X[rng.random(X.shape) < 0.05] = np.nan
    X[:8] = fill[None, :]
    return X


def compile_pipeline(pipeline) -> CompiledPipeline | None:
    """A :class:`CompiledPipeline` with exactly the pipeline's ``predict_proba``, or None.

    None when the pipeline is not ``SimpleImputer(median, NaN, no indicator)`` ->
    ``StandardScaler`` -> binary ``HistGradientBoostingClassifier`` with numeric features only,
    or when the compiled form does not reproduce ``pipeline.predict_proba`` bit for bit on
    probe rows (e.g. a scikit-learn version that predicts differently).
    """
    try:
        from sklearn._loss.link import LogitLink
        from sklearn._loss.loss import HalfBinomialLoss
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler
    except ImportError:  # pragma: no cover - scikit-learn's private layout changed
        return None
    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 3:
        return None
    imp, sc, hgb = (step for _, step in pipeline.steps)
    if type(imp) is not SimpleImputer or type(sc) is not StandardScaler or type(hgb) is not HistGradientBoostingClassifier:
        return None
    try:
        ok = (imp.strategy == "median" and not imp.add_indicator and isinstance(imp.missing_values, float)
              and np.isnan(imp.missing_values) and imp.statistics_.dtype == np.float64
              and not np.isnan(imp.statistics_).any()
              and hgb.n_trees_per_iteration_ == 1 and len(hgb.classes_) == 2
              and (hgb.is_categorical_ is None or not np.any(hgb.is_categorical_))
              and type(hgb._loss) is HalfBinomialLoss and type(hgb._loss.link) is LogitLink
              and np.asarray(hgb._baseline_prediction).size == 1)
        if not ok:
            return None
        fill = imp.statistics_
        mean = sc.mean_ if sc.with_mean else None
        scale = sc.scale_ if sc.with_std else None
        parts = {k: [] for k in ("feature", "threshold", "missing_left", "left", "right", "is_leaf", "value")}
        roots = []
        offset = 0
        for per_iteration in hgb._predictors:
            (pred,) = per_iteration
            nodes = pred.nodes
            if np.any(nodes["is_categorical"]):
                return None
            roots.append(offset)
            parts["feature"].append(nodes["feature_idx"])
            parts["threshold"].append(nodes["num_threshold"])
            parts["missing_left"].append(nodes["missing_go_to_left"].astype(bool))
            parts["left"].append(nodes["left"].astype(np.int64) + offset)
            parts["right"].append(nodes["right"].astype(np.int64) + offset)
            parts["is_leaf"].append(nodes["is_leaf"].astype(bool))
            parts["value"].append(nodes["value"])
            offset += nodes.shape[0]
        if not roots:
            return None
        compiled = CompiledPipeline(fill, mean, scale, float(np.asarray(hgb._baseline_prediction).ravel()[0]),
                                    **{k: np.concatenate(v) for k, v in parts.items()}, roots=np.asarray(roots))
        probe = _probe_rows(fill, mean, scale)
        want = pipeline.predict_proba(probe)
        if not np.array_equal(compiled.predict_proba(probe, use_numba=False), want):
            return None
    except (AttributeError, TypeError, ValueError, KeyError):  # fitted attributes of another layout
        return None
    return compiled


def compile_model(model):
    """The model with its pipeline replaced by a :class:`CompiledPipeline` when one is exact, else the model."""
    import dataclasses

    compiled = compile_pipeline(model.pipeline)
    if compiled is None:
        return model
    return dataclasses.replace(model, pipeline=compiled)


def compiled_cache_dir() -> Path | None:
    """Folder of cached compiled models, or None when the cache is off (``ACOUSTIC_CACHE_DIR=""``)."""
    env = os.environ.get(CACHE_ENV)
    if env is not None:
        return Path(env) / "compiled-models" if env.strip() else None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "acoustic" / "compiled-models"


def _sklearn_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("scikit-learn")
    except metadata.PackageNotFoundError:  # pragma: no cover - scikit-learn is a dependency
        return "none"


def _cache_file(card: dict) -> Path | None:
    folder = compiled_cache_dir()
    if folder is None:
        return None
    from ._model import TRUSTED_TYPES

    sha = str(card.get("model_sha256", ""))
    if len(sha) != 64:
        return None
    key = hashlib.sha256(json.dumps([sha, COMPILED_FORMAT, _sklearn_version(), sorted(TRUSTED_TYPES)]).encode())
    return folder / f"{sha[:16]}-{key.hexdigest()[:24]}.npz"


def _n_inputs(card: dict) -> int:
    return len(card["features"].get("names", [])) + len(card["features"].get("extra_inputs", []))


def save_compiled_model(model) -> Path | None:
    """Keep the compiled arrays of ``model`` (from :func:`compile_model`) in the cache; best effort.

    Call only with a model that :func:`acoustic.classify.load_model` loaded and
    :func:`compile_pipeline` compiled.  Returns the file written, or None (cache off, not a
    compiled model, or the folder is not writable).
    """
    cp = model.pipeline
    if not isinstance(cp, CompiledPipeline):
        return None
    target = _cache_file(model.card)
    if target is None:
        return None
    arrays = {k: getattr(cp, k) for k in _ARRAYS if getattr(cp, k) is not None}
    arrays["baseline"] = np.array([cp.baseline])
    arrays["n_inputs"] = np.array([_n_inputs(model.card)])
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, target)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass
        return None
    return target


def load_compiled_model(folder):
    """The model in ``folder`` from the compiled-model cache, or None (not cached, cache off, bad entry).

    The model card and the checksum of ``model.skops`` are checked first, as
    :func:`acoustic.classify.load_model` does.

    Raises
    ------
    ModelError
        Missing files, a card that is not ours, a checksum mismatch (as ``load_model``).
    """
    import zipfile

    from ._model import LeakModel, read_model_card

    folder, card = read_model_card(folder)
    path = _cache_file(card)
    if path is None or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            got = {k: z[k] for k in z.files}
        fill = got["fill"]
        n_nodes = got["feature"].shape[0]
        ok = (fill.ndim == 1 and fill.dtype == np.float64 and int(got["n_inputs"][0]) == _n_inputs(card) == fill.size
              and all(got[k].shape == (fill.size,) for k in ("mean", "scale") if k in got)
              and all(got[k].shape == (n_nodes,) for k in _ARRAYS[3:10])
              and got["roots"].ndim == 1 and got["roots"].size >= 1 and got["baseline"].shape == (1,)
              and n_nodes > 0 and got["feature"].min() >= 0 and got["feature"].max() < fill.size
              and min(got["left"].min(), got["right"].min(), got["roots"].min()) >= 0
              and max(got["left"].max(), got["right"].max(), got["roots"].max()) < n_nodes)
        if ok:  # every walk ends: children come after their parent (as scikit-learn stores trees)
            inner = np.flatnonzero(~got["is_leaf"].astype(bool))
            ok = bool(np.all(got["left"][inner] > inner) and np.all(got["right"][inner] > inner))
        if not ok:
            return None
        pipeline = CompiledPipeline(got["fill"], got.get("mean"), got.get("scale"), float(got["baseline"][0]),
                                    *(got[k] for k in _ARRAYS[3:]))
    except (OSError, KeyError, ValueError, IndexError, TypeError, zipfile.BadZipFile):
        return None
    return LeakModel(pipeline=pipeline, threshold=float(card["threshold"]), card=card, path=folder)
