"""numba kernel of :class:`acoustic.classify._compiled.CompiledPipeline`: walk every tree of the forest.

Its numpy twin is :func:`acoustic.classify._compiled._forest_reference`; the tests compare both
with scikit-learn's ``predict_proba``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["forest_kernel"]


@njit(cache=True, nogil=True)
def forest_kernel(X, feature, threshold, missing_left, left, right, is_leaf, value, roots,
                  raw):  # pragma: no cover - compiled
    """Add the leaf value of every tree (in order) to ``raw`` for each row of ``X``."""
    n = X.shape[0]
    for t in range(roots.shape[0]):
        for i in range(n):
            node = roots[t]
            while not is_leaf[node]:
                v = X[i, feature[node]]
                if np.isnan(v):
                    node = left[node] if missing_left[node] else right[node]
                elif v <= threshold[node]:
                    node = left[node]
                else:
                    node = right[node]
            raw[i] += value[node]
