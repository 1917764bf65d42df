"""Training with site-grouped cross-validation, a threshold at a stated false-alarm rate, metrics."""

from __future__ import annotations

import datetime as _dt
import platform

import numpy as np

from .._errors import DataError
from ._dataset import LEAK_LABEL
from ._model import LeakModel, model_inputs

__all__ = ["train_model", "evaluate_model", "classification_metrics", "threshold_for_false_alarm_rate", "MIN_SITES"]

#: Fewest distinct sites that allow grouped cross-validation.
MIN_SITES = 3


def threshold_for_false_alarm_rate(non_leak_scores, far: float) -> float:
    """Smallest probability threshold whose false-alarm rate on ``non_leak_scores`` is <= ``far``."""
    s = np.sort(np.asarray(non_leak_scores, dtype=np.float64))
    if s.size == 0:
        raise DataError("no non-leak recordings to set a false-alarm threshold on")
    allowed = int(np.floor(far * s.size))  # how many non-leaks may score at or above the threshold
    if allowed <= 0:
        return float(np.nextafter(s[-1], np.inf))
    return float(np.nextafter(s[s.size - allowed - 1], np.inf)) if s.size - allowed - 1 >= 0 else 0.0


#: Boosting rounds: one per 4 training recordings, between these bounds (small sets overfit otherwise).
MIN_ROUNDS, MAX_ROUNDS = 50, 300


def _make_pipeline(seed: int, n_samples: int = 10**6):
    """Median imputation, scaling, gradient-boosted trees (``min(300, max(50, n/4))`` rounds)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([
        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
        ("scale", StandardScaler()),
        ("model", HistGradientBoostingClassifier(max_iter=int(np.clip(n_samples // 4, MIN_ROUNDS, MAX_ROUNDS)),
                                                 learning_rate=0.06, max_leaf_nodes=15,
                                                 l2_regularization=1.0, random_state=seed)),
    ])


def classification_metrics(scores, labels, threshold: float, groups: dict | None = None,
                           target_far: float | None = None) -> dict:
    """Metrics of leak scores against labels.

    Parameters
    ----------
    scores : array_like
        Leak probabilities (0..1).
    labels : sequence of str
        True labels (``leak`` or a kind of noise).
    threshold : float
        Decision threshold on the probability.
    groups : dict of str -> sequence, optional
        Breakdowns: for each key (e.g. ``material``) the per-recording value.
    target_far : float, optional
        Also report ``recall_at_target_far``: the fraction of leaks detected when the threshold is
        re-chosen on *these* scores for a false-alarm rate of at most ``target_far`` (a
        threshold-free measure of separation; the model's own threshold gives ``recall``).

    Returns
    -------
    dict
        ``n``, ``n_leak``, ``roc_auc``, ``precision``, ``recall`` (leaks detected),
        ``false_alarm_rate``, ``threshold``, ``confusion_by_kind`` (per label: n and fraction
        called leak), ``by`` (the same block per value of each breakdown).
    """
    from sklearn.metrics import roc_auc_score

    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    y = labels == LEAK_LABEL
    pred = scores >= threshold

    def block(mask):
        yy, pp, ss = y[mask], pred[mask], scores[mask]
        out = {"n": int(mask.sum()), "n_leak": int(yy.sum())}
        out["roc_auc"] = float(roc_auc_score(yy, ss)) if 0 < yy.sum() < yy.size else None
        out["recall"] = float(pp[yy].mean()) if yy.any() else None
        out["false_alarm_rate"] = float(pp[~yy].mean()) if (~yy).any() else None
        out["precision"] = float(yy[pp].mean()) if pp.any() else None
        return out

    result = block(np.ones_like(y))
    result["threshold"] = float(threshold)
    if target_far is not None and y.any() and (~y).any():
        t = threshold_for_false_alarm_rate(scores[~y], target_far)
        result["target_false_alarm_rate"] = float(target_far)
        result["recall_at_target_far"] = float((scores[y] >= t).mean())
        result["false_alarm_rate_at_target_far"] = float((scores[~y] >= t).mean())
    result["confusion_by_kind"] = {
        str(k): {"n": int((labels == k).sum()), "called_leak": float(pred[labels == k].mean())}
        for k in sorted(set(labels.tolist()))
    }
    result["by"] = {}
    for key, values in (groups or {}).items():
        values = np.asarray([str(v) for v in values])
        result["by"][key] = {v: block(values == v) for v in sorted(set(values.tolist()))}
    return result


def train_model(X, labels, sites, *, feature_names, features_version, target_far=0.05, seed=0,
                groups: dict | None = None, data_summary: dict | None = None, n_splits=5,
                sensor_kinds=None, n_threads: int = 1) -> LeakModel:
    """Fit a leak classifier with cross-validation grouped by site.

    No site appears in both a training and a test fold, so the reported metrics are
    leave-site-out.  The threshold is set on the out-of-fold scores of the non-leak
    recordings so that their false-alarm rate is at most ``target_far``; the final
    pipeline is then fitted on all data.

    Parameters
    ----------
    X : array_like, shape (n, n_features)
        Feature matrix (NaN allowed: imputed by the median).
    labels : sequence of str
        ``leak`` or a kind of noise per row.
    sites : sequence of str
        Site per row (the CV groups).
    feature_names : list of str
    features_version : str
    target_far : float, default 0.05
        False-alarm rate the threshold is chosen for (0 < far < 0.5).
    seed : int
        Random seed of the model and of the fold assignment.
    groups : dict, optional
        Breakdowns for the metrics (e.g. material, sensor kind, confounder).
    data_summary : dict, optional
        Extra facts for the model card.
    n_splits : int, default 5
        Cross-validation folds (fewer when there are fewer sites).
    sensor_kinds : sequence of str, optional
        Sensor kind per row; when given the model also takes ``sensor_is_accelerometer`` as an
        input (callers must then pass sensor kinds to :meth:`LeakModel.leak_probability`).  The
        default model and ``acoustic train`` do not use it: on 4,800 simulated recordings it moved
        the leave-site-out ROC AUC only from 0.9817 to 0.9821 (the spectra already tell the kinds apart).
    n_threads : int, default 1
        OpenMP threads for the boosted trees.  One by default: on the project's shared 2-core
        machine two threads made a small training 8x slower (21 s against 2.6 s) when other
        processes were busy.

    Raises
    ------
    DataError
        A single class, too few sites, mismatched lengths or a bad false-alarm rate.
    """
    from sklearn.model_selection import StratifiedGroupKFold, cross_val_predict

    from .. import __version__

    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels)
    sites = np.asarray(sites)
    if X.ndim != 2 or X.shape[1] != len(feature_names):
        raise DataError(f"feature matrix of shape {X.shape} does not match {len(feature_names)} feature names")
    if not (X.shape[0] == labels.size == sites.size):
        raise DataError(f"feature rows ({X.shape[0]}), labels ({labels.size}) and sites ({sites.size}) differ")
    if not (0.0 < target_far < 0.5):
        raise DataError(f"target false-alarm rate must be between 0 and 0.5, got {target_far}")
    y = labels == LEAK_LABEL
    if y.all() or not y.any():
        raise DataError(f"the dataset has a single class ({labels[0]!r} only); training needs leak and non-leak recordings")
    n_sites = len(set(sites.tolist()))
    if n_sites < MIN_SITES:
        raise DataError(f"too few sites to group cross-validation: {n_sites} (need at least {MIN_SITES}); "
                        "add a 'site' column with distinct sites")
    leak_sites = len(set(sites[y].tolist()))
    quiet_sites = len(set(sites[~y].tolist()))
    k = int(min(n_splits, n_sites, max(2, min(leak_sites, quiet_sites))))
    if k < 2:
        raise DataError("leak and non-leak recordings must come from at least two sites each for grouped CV")
    extra = ["sensor_is_accelerometer"] if sensor_kinds is not None else []
    if sensor_kinds is not None and len(sensor_kinds) != labels.size:
        raise DataError(f"sensor kinds ({len(sensor_kinds)}) and labels ({labels.size}) differ")
    inputs = model_inputs(X, sensor_kinds, feature_names, extra)
    from threadpoolctl import threadpool_limits

    cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    with threadpool_limits(limits=int(n_threads)):
        oof = cross_val_predict(_make_pipeline(seed, labels.size), inputs, y, groups=sites, cv=cv,
                                method="predict_proba")[:, 1]
    threshold = threshold_for_false_alarm_rate(oof[~y], target_far)
    metrics = classification_metrics(oof, labels, threshold, groups, target_far=target_far)
    with threadpool_limits(limits=int(n_threads)):
        pipeline = _make_pipeline(seed, labels.size).fit(inputs, y)
    card = {
        "created_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "package_version": __version__,
        "python": platform.python_version(),
        "seed": int(seed),
        "target_false_alarm_rate": float(target_far),
        "features": {"version": str(features_version), "names": list(feature_names), "extra_inputs": extra,
                     "always_defined": [n for n, ok in zip(feature_names, np.isfinite(X).all(axis=0)) if ok]},
        "cross_validation": {"kind": "StratifiedGroupKFold by site", "n_splits": k, "n_sites": n_sites},
        "metrics": metrics,
        "data": {
            "n_recordings": int(labels.size),
            "by_label": {str(k_): int((labels == k_).sum()) for k_ in sorted(set(labels.tolist()))},
            "n_sites": n_sites,
            **(data_summary or {}),
        },
    }
    return LeakModel(pipeline=pipeline, threshold=threshold, card=card)


def evaluate_model(model: LeakModel, X, labels, groups: dict | None = None, sensor_kinds=None) -> dict:
    """Metrics of a trained model on a labelled (held-out) set, at the model's own threshold.

    Returns the same structure as the model card's ``metrics`` (:func:`classification_metrics`),
    with ``recall_at_target_far`` for the model's target false-alarm rate.

    Raises
    ------
    DataError
        Mismatched lengths.
    """
    labels = np.asarray(labels)
    X = np.asarray(X, dtype=np.float64)
    if X.shape[0] != labels.size:
        raise DataError(f"feature rows ({X.shape[0]}) and labels ({labels.size}) differ")
    if labels.size == 0:
        raise DataError("nothing to evaluate: no recordings")
    p = model.leak_probability(X, sensor_kinds)
    return classification_metrics(p, labels, model.threshold, groups,
                                  target_far=model.card.get("target_false_alarm_rate", 0.05))
