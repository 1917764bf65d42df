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
"""

from __future__ import annotations

import numpy as np

__all__ = ["CompiledPipeline", "compile_pipeline", "compile_model"]


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
