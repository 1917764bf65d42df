"""Training with site-grouped cross-validation, a threshold at a stated false-alarm rate, metrics."""

from __future__ import annotations

import datetime as _dt
import platform

import numpy as np

from .._errors import DataError
from ._dataset import LEAK_LABEL
from ._model import LeakModel

__all__ = ["train_model", "classification_metrics", "threshold_for_false_alarm_rate", "MIN_SITES"]

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


def _make_pipeline(seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([
        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
        ("scale", StandardScaler()),
        ("model", HistGradientBoostingClassifier(max_iter=300, learning_rate=0.06, max_leaf_nodes=15,
                                                 l2_regularization=1.0, random_state=seed)),
    ])


def classification_metrics(scores, labels, threshold: float, groups: dict | None = None) -> dict:
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

    Returns
    -------
    dict
        ``roc_auc``, ``precision``, ``recall`` (leaks detected), ``false_alarm_rate``,
        ``confusion_by_kind`` (per label: n and fraction called leak), ``by`` (breakdowns).
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
                groups: dict | None = None, data_summary: dict | None = None, n_splits=5) -> LeakModel:
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
    cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    oof = cross_val_predict(_make_pipeline(seed), X, y, groups=sites, cv=cv, method="predict_proba")[:, 1]
    threshold = threshold_for_false_alarm_rate(oof[~y], target_far)
    metrics = classification_metrics(oof, labels, threshold, groups)
    pipeline = _make_pipeline(seed).fit(X, y)
    card = {
        "created_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "package_version": __version__,
        "python": platform.python_version(),
        "seed": int(seed),
        "target_false_alarm_rate": float(target_far),
        "features": {"version": str(features_version), "names": list(feature_names)},
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
