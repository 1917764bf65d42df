"""Training with site-grouped cross-validation, a threshold at a stated false-alarm rate, metrics."""

from __future__ import annotations

import datetime as _dt
import platform

import numpy as np

from .._errors import DataError
from ._dataset import LEAK_LABEL
from ._model import LeakModel, model_inputs

__all__ = ["train_model", "evaluate_model", "classification_metrics", "threshold_for_false_alarm_rate", "MIN_SITES",
           "fit_level_term", "domain_stats", "domain_distance"]

#: Bound of the calibrated-level term, logits: a chosen cap (not fitted), so that a calibrated level can
#: move a probability of 0.5 at most to 0.27..0.73 whatever the gain error.
LEVEL_TERM_MAX_LOGIT = 1.0
#: L2 penalty of the level-term fit (per row, on the slope in logits/dB) - keeps a weak level weak.
LEVEL_TERM_L2 = 1e-3
#: Training-distance quantile beyond which a recording is "far from the training data".
DOMAIN_QUANTILE = 0.999

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
        Breakdowns: for each key (e.g. ``material``) the per-recording value.  A key starting with
        ``leak_`` (e.g. ``leak_distance_m``) breaks down the leaks only: each of its groups is
        reported together with all non-leak recordings (so its AUC is "these leaks against every
        non-leak"), and ``no_leak`` is the non-leaks alone.
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
        if key.startswith("leak_"):  # a breakdown of the leaks only: each group against all non-leaks
            result["by"][key] = {v: block((values == v) | (~y if v != "no_leak" else False))
                                 for v in sorted(set(values.tolist()))}
        else:
            result["by"][key] = {v: block(values == v) for v in sorted(set(values.tolist()))}
    return result


def fit_level_term(scores, y, levels_db, sensor_kinds, *, max_logit: float = LEVEL_TERM_MAX_LOGIT) -> dict | None:
    """Fit the bounded calibrated-level term on out-of-fold shape scores.

    The model is ``logit p = logit p_shape + clip(slope (L - centre[kind]), -max_logit, max_logit)``,
    fitted (Newton, without the clip, small L2 on the slope) as a logistic regression with the shape
    logit as offset, on the rows whose level is known.

    Returns
    -------
    dict or None
        ``slope_per_db`` (logits/dB), ``centre_db`` per sensor kind (dB re 1 calibrated unit),
        ``max_logit``, ``max_probability_change_per_10db`` (largest change of a probability a
        10 dB gain error can cause), ``n_rows``; None when fewer than 20 rows have a level.
    """
    L = np.asarray(levels_db, dtype=np.float64)
    ok = np.isfinite(L)
    if ok.sum() < 20:
        return None
    kinds = np.asarray(sensor_kinds)[ok]
    kind_names = sorted(set(kinds.tolist()))
    p = np.clip(np.asarray(scores, dtype=np.float64)[ok], 1e-6, 1 - 1e-6)
    off = np.log(p / (1 - p))
    yy = np.asarray(y, dtype=np.float64)[ok]
    mu = float(L[ok].mean())
    Z = np.column_stack([L[ok] - mu] + [(kinds == k).astype(float) for k in kind_names])
    w = np.zeros(Z.shape[1])
    pen = np.zeros(Z.shape[1])
    pen[0] = LEVEL_TERM_L2 * yy.size
    for _ in range(50):
        eta = off + Z @ w
        q = 1.0 / (1.0 + np.exp(-eta))
        g = Z.T @ (q - yy) + pen * w
        H = (Z * (q * (1 - q))[:, None]).T @ Z + np.diag(pen + 1e-9)
        step = np.linalg.solve(H, g)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    slope = float(w[0])
    centre = {}
    for j, k in enumerate(kind_names):
        lk = L[ok][kinds == k]
        centre[str(k)] = float(mu - w[1 + j] / slope) if abs(slope) > 1e-6 else float(np.median(lk))
        lo, hi = np.percentile(lk, [1, 99])
        centre[str(k)] = float(np.clip(centre[str(k)], lo, hi))
    delta = min(abs(slope) * 10.0, 2.0 * max_logit)
    return {"slope_per_db": slope, "centre_db": centre, "max_logit": float(max_logit),
            "max_probability_change_per_10db": float(2.0 / (1.0 + np.exp(-delta / 2.0)) - 1.0),
            "n_rows": int(ok.sum()), "level": "10th-percentile 5-900 Hz frame level, dB re 1 calibrated unit"}


def domain_stats(X) -> dict:
    """Per-feature median and robust scale of the training features, and the distance threshold."""
    X = np.asarray(X, dtype=np.float64)
    med = np.nanmedian(X, axis=0)
    q25, q75 = np.nanpercentile(X, [25, 75], axis=0)
    scale = (q75 - q25) / 1.349
    scale = np.where(np.isfinite(scale) & (scale > 1e-9), scale, 1.0)
    med = np.where(np.isfinite(med), med, 0.0)
    d = domain_distance(X, med, scale)
    return {"median": med.tolist(), "scale": scale.tolist(),
            "max_distance": float(np.quantile(d, DOMAIN_QUANTILE)), "quantile": DOMAIN_QUANTILE,
            "distance": "root-mean-square robust z-score over defined features, each capped at 10"}


def domain_distance(X, median, scale) -> np.ndarray:
    """Distance of each row from the training data (see :func:`domain_stats`)."""
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    z = np.minimum(((X - np.asarray(median)) / np.asarray(scale)) ** 2, 100.0)
    z = np.where(np.isfinite(X), z, np.nan)
    with np.errstate(invalid="ignore"):
        return np.sqrt(np.nanmean(z, axis=1))


def train_model(X, labels, sites, *, feature_names, features_version, target_far=0.05, seed=0,
                groups: dict | None = None, data_summary: dict | None = None, n_splits=5,
                sensor_kinds=None, n_threads: int = 1, levels_db=None, level_sensor_kinds=None) -> LeakModel:
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
    levels_db : sequence of float, optional
        Calibrated 10th-percentile level per row (NaN where the calibration is unknown); when given,
        the card gets a bounded ``level_term`` (:func:`fit_level_term`) that
        :meth:`LeakModel.leak_probability` applies to recordings marked calibrated.
    level_sensor_kinds : sequence of str, optional
        Sensor kind per row for the level term (required with ``levels_db``).
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
    level_term = metrics_cal = None
    if levels_db is not None:
        level_term = fit_level_term(oof, y, levels_db, level_sensor_kinds)
    if level_term is not None:
        from ._model import apply_level_term

        lv = np.asarray(levels_db, dtype=np.float64)
        known = np.isfinite(lv)
        p_cal = apply_level_term(oof[known], level_term, lv[known], [True] * int(known.sum()),
                                 list(np.asarray(level_sensor_kinds)[known]))
        metrics_cal = classification_metrics(p_cal, labels[known], threshold, target_far=target_far)
        metrics_cal.pop("by", None)
    card = {
        "level_term": level_term,
        "metrics_calibrated": metrics_cal,
        "domain": domain_stats(X),
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


def evaluate_model(model: LeakModel, X, labels, groups: dict | None = None, sensor_kinds=None, *,
                   levels_db=None, calibrated=None) -> dict:
    """Metrics of a trained model on a labelled (held-out) set, at the model's own threshold.

    ``levels_db`` and ``calibrated`` (per row) let the model use the calibrated level of the
    recordings marked calibrated, as :func:`acoustic.classify.classify_features` does.

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
    p = model.leak_probability(X, sensor_kinds, levels_db=levels_db, calibrated=calibrated)
    return classification_metrics(p, labels, model.threshold, groups,
                                  target_far=model.card.get("target_false_alarm_rate", 0.05))
