"""Numerical kernels of the correlator: numba versions and their plain-numpy references.

Each public function validates and coerces its inputs, then runs a private numba kernel
(``@njit(cache=True)``) or, with ``use_numba=False``, the numpy reference that the tests
compare it with.  Kernels were kept only where they beat numpy (``bench/correlate_speed.py``
prints the comparison):

* :func:`group_energies` - per-frame, per-frequency-group power of both channels (one pass
  over the frame spectra instead of ``abs()**2`` temporaries plus ``add.reduceat``);
* :func:`accumulate_spectra` - weighted averaging of the auto- and cross-spectra (one pass,
  no (frames x bins) temporaries);
* :func:`running_median` - running median of a spectrum (tonal-line detection);
* :func:`top_local_maxima` - strongest local maxima of a curve with a minimum separation
  (peak search).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["group_energies", "accumulate_spectra", "running_median", "top_local_maxima"]


# -- per-frame group energies -------------------------------------------------------------
@njit(cache=True, nogil=True)
def _group_energies_kernel(xa, xb, starts, stops, out_a, out_b):  # pragma: no cover - compiled
    n_frames = xa.shape[0]
    n_groups = starts.shape[0]
    for k in range(n_frames):
        for g in range(n_groups):
            sa = 0.0
            sb = 0.0
            for j in range(starts[g], stops[g]):
                a = xa[k, j]
                b = xb[k, j]
                sa += a.real * a.real + a.imag * a.imag
                sb += b.real * b.real + b.imag * b.imag
            out_a[k, g] = sa
            out_b[k, g] = sb


def _group_energies_numpy(xa, xb, starts, stops):
    pa = (xa.real.astype(np.float64) ** 2 + xa.imag.astype(np.float64) ** 2)
    pb = (xb.real.astype(np.float64) ** 2 + xb.imag.astype(np.float64) ** 2)
    ca = np.concatenate([np.zeros((pa.shape[0], 1)), np.cumsum(pa, axis=1)], axis=1)
    cb = np.concatenate([np.zeros((pb.shape[0], 1)), np.cumsum(pb, axis=1)], axis=1)
    return ca[:, stops] - ca[:, starts], cb[:, stops] - cb[:, starts]


def _check_spectra(xa, xb):
    xa = np.ascontiguousarray(xa)
    xb = np.ascontiguousarray(xb)
    if xa.ndim != 2 or xa.shape != xb.shape:
        raise ValueError(f"frame spectra must be 2-D arrays of equal shape, got {xa.shape} and {xb.shape}")
    if not np.iscomplexobj(xa) or not np.iscomplexobj(xb):
        raise ValueError("frame spectra must be complex")
    if xa.dtype != xb.dtype:
        xb = xb.astype(xa.dtype)
    return xa, xb


def _check_groups(starts, stops, n_bins):
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    stops = np.ascontiguousarray(stops, dtype=np.int64)
    if starts.shape != stops.shape or starts.ndim != 1:
        raise ValueError("group starts and stops must be 1-D arrays of equal length")
    if starts.size and (starts.min() < 0 or stops.max() > n_bins or np.any(stops < starts)):
        raise ValueError(f"frequency groups must satisfy 0 <= start <= stop <= {n_bins}")
    return starts, stops


def group_energies(xa, xb, starts, stops, *, use_numba=True):
    """Power of each frame of both channels in each frequency group.

    Parameters
    ----------
    xa, xb : numpy.ndarray, shape (n_frames, n_bins), complex
        Windowed frame spectra (rfft) of channels A and B.
    starts, stops : numpy.ndarray of int, shape (n_groups,)
        Bin range ``[start, stop)`` of each group.
    use_numba : bool, default True
        False runs the numpy reference.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray), each shape (n_frames, n_groups), float64
        Sum of ``|X|**2`` over each group's bins for A and for B (spectrum units squared).
    """
    xa, xb = _check_spectra(xa, xb)
    starts, stops = _check_groups(starts, stops, xa.shape[1])
    if not use_numba:
        return _group_energies_numpy(xa, xb, starts, stops)
    out_a = np.empty((xa.shape[0], starts.size))
    out_b = np.empty_like(out_a)
    _group_energies_kernel(xa, xb, starts, stops, out_a, out_b)
    return out_a, out_b


# -- weighted accumulation ----------------------------------------------------------------
@njit(cache=True, nogil=True)
def _accumulate_kernel(xa, xb, weight, bin_group, gaa, gbb, gab_re, gab_im, wsum, w2sum):  # pragma: no cover
    n_frames, n_bins = xa.shape
    for k in range(n_frames):
        for j in range(n_bins):
            g = bin_group[j]
            w = 1.0 if g < 0 else weight[k, g]
            if w == 0.0:
                continue
            a = xa[k, j]
            b = xb[k, j]
            ar = np.float64(a.real)
            ai = np.float64(a.imag)
            br = np.float64(b.real)
            bi = np.float64(b.imag)
            gaa[j] += w * (ar * ar + ai * ai)
            gbb[j] += w * (br * br + bi * bi)
            # a * conj(b)
            gab_re[j] += w * (ar * br + ai * bi)
            gab_im[j] += w * (ai * br - ar * bi)
            wsum[j] += w
            w2sum[j] += w * w


def _accumulate_numpy(xa, xb, weight, bin_group):
    w = np.ones(xa.shape)
    grouped = bin_group >= 0
    w[:, grouped] = weight[:, bin_group[grouped]]
    a = xa.astype(np.complex128)
    b = xb.astype(np.complex128)
    gaa = np.sum(w * np.abs(a) ** 2, axis=0)
    gbb = np.sum(w * np.abs(b) ** 2, axis=0)
    gab = np.sum(w * a * np.conj(b), axis=0)
    return gaa, gbb, gab, w.sum(axis=0), (w**2).sum(axis=0)


def accumulate_spectra(xa, xb, weight, bin_group, *, use_numba=True):
    """Weighted sums of the auto- and cross-spectra over the frames.

    Parameters
    ----------
    xa, xb : numpy.ndarray, shape (n_frames, n_bins), complex
        Windowed frame spectra of channels A and B.
    weight : numpy.ndarray, shape (n_frames, n_groups)
        Weight (>= 0; 0 leaves the frame out) of frame k in frequency group g.
    bin_group : numpy.ndarray of int, shape (n_bins,)
        Group of each bin; ``-1`` means weight 1 in every frame.
    use_numba : bool, default True
        False runs the numpy reference.

    Returns
    -------
    gaa, gbb : numpy.ndarray, shape (n_bins,), float64
        Weighted sums of ``|X_A|**2`` and ``|X_B|**2``.
    gab : numpy.ndarray, shape (n_bins,), complex128
        Weighted sum of ``X_A conj(X_B)``.
    wsum, w2sum : numpy.ndarray, shape (n_bins,), float64
        Sum of the weights and of their squares in each bin (the effective number of
        averages is ``wsum**2 / w2sum``).
    """
    xa, xb = _check_spectra(xa, xb)
    weight = np.ascontiguousarray(weight, dtype=np.float64)
    bin_group = np.ascontiguousarray(bin_group, dtype=np.int64)
    if weight.ndim != 2 or weight.shape[0] != xa.shape[0]:
        raise ValueError(f"weight must have shape (n_frames, n_groups) with n_frames={xa.shape[0]}, "
                         f"got {weight.shape}")
    if not np.all(weight >= 0):
        raise ValueError("weights must be >= 0")
    if bin_group.shape != (xa.shape[1],):
        raise ValueError(f"bin_group must have shape ({xa.shape[1]},), got {bin_group.shape}")
    if bin_group.size and bin_group.max() >= weight.shape[1]:
        raise ValueError("bin_group refers to a group that weight does not have")
    if not use_numba:
        return _accumulate_numpy(xa, xb, weight, bin_group)
    n = xa.shape[1]
    gaa = np.zeros(n)
    gbb = np.zeros(n)
    re = np.zeros(n)
    im = np.zeros(n)
    wsum = np.zeros(n)
    w2sum = np.zeros(n)
    _accumulate_kernel(xa, xb, weight, bin_group, gaa, gbb, re, im, wsum, w2sum)
    return gaa, gbb, re + 1j * im, wsum, w2sum


# -- running median -----------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _running_median_kernel(y, half, out):  # pragma: no cover - compiled
    # a sorted copy of the current window is kept up to date: each step removes the point
    # leaving and inserts the point entering (O(window) per step instead of a sort)
    n = y.shape[0]
    buf = np.empty(2 * half + 1)
    m = 0
    hi_in = 0  # next index to enter
    lo_in = 0  # oldest index still in the window
    for i in range(n):
        lo = max(0, i - half)
        hi = min(n, i + half + 1)
        while lo_in < lo:  # remove y[lo_in]
            v = y[lo_in]
            j = 0
            while buf[j] != v:
                j += 1
            for t in range(j, m - 1):
                buf[t] = buf[t + 1]
            m -= 1
            lo_in += 1
        while hi_in < hi:  # insert y[hi_in]
            v = y[hi_in]
            j = m
            while j > 0 and buf[j - 1] > v:
                buf[j] = buf[j - 1]
                j -= 1
            buf[j] = v
            m += 1
            hi_in += 1
        if m % 2 == 1:
            out[i] = buf[m // 2]
        else:
            out[i] = 0.5 * (buf[m // 2 - 1] + buf[m // 2])


def _running_median_numpy(y, half):
    n = y.size
    out = np.empty(n)
    for i in range(n):
        out[i] = np.median(y[max(0, i - half):min(n, i + half + 1)])
    return out


def running_median(y, half_width, *, use_numba=True):
    """Running median of ``y`` over ``2 * half_width + 1`` points (truncated at the ends).

    Parameters
    ----------
    y : array_like, shape (n,)
        Values (e.g. a power spectrum).
    half_width : int
        Points on each side (>= 1).
    use_numba : bool, default True
        False runs the numpy reference.

    Returns
    -------
    numpy.ndarray, shape (n,), float64
    """
    y = np.ascontiguousarray(y, dtype=np.float64)
    half = int(half_width)
    if not np.all(np.isfinite(y)):
        raise ValueError("running_median needs finite values")
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}")
    if half < 1:
        raise ValueError(f"half_width must be >= 1, got {half_width}")
    if not use_numba:
        return _running_median_numpy(y, half)
    out = np.empty_like(y)
    _running_median_kernel(y, half, out)
    return out


# -- peak search --------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _top_local_maxima_kernel(y, lo, hi, min_sep, max_peaks, out):  # pragma: no cover - compiled
    # candidates: interior local maxima (plateaus: first point) strictly inside (lo, hi - 1),
    # then the window's end points when the curve falls away from them into the window
    n_cand = 0
    cand = np.empty(hi - lo + 2, dtype=np.int64)
    for i in range(lo + 1, hi - 1):
        if y[i] > y[i - 1] and y[i] >= y[i + 1]:
            cand[n_cand] = i
            n_cand += 1
    if lo + 1 >= hi or y[lo] > y[lo + 1]:
        cand[n_cand] = lo
        n_cand += 1
    if hi - 1 > lo and y[hi - 1] > y[hi - 2]:
        cand[n_cand] = hi - 1
        n_cand += 1
    vals = np.empty(n_cand)
    for c in range(n_cand):
        vals[c] = y[cand[c]]
    order = np.argsort(-vals, kind="mergesort")
    n_out = 0
    for o in range(n_cand):
        idx = cand[order[o]]
        ok = True
        for p in range(n_out):
            if abs(idx - out[p]) < min_sep:
                ok = False
                break
        if ok:
            out[n_out] = idx
            n_out += 1
            if n_out >= max_peaks:
                break
    return n_out


def _top_local_maxima_numpy(y, lo, hi, min_sep, max_peaks):
    idx = np.arange(lo + 1, hi - 1)
    cand = list(idx[(y[idx] > y[idx - 1]) & (y[idx] >= y[idx + 1])])
    if lo + 1 >= hi or y[lo] > y[lo + 1]:
        cand.append(lo)
    if hi - 1 > lo and y[hi - 1] > y[hi - 2]:
        cand.append(hi - 1)
    cand = np.array(cand, dtype=np.int64)
    order = np.argsort(-y[cand], kind="mergesort")
    out: list[int] = []
    for i in cand[order]:
        if all(abs(int(i) - p) >= min_sep for p in out):
            out.append(int(i))
            if len(out) >= max_peaks:
                break
    return np.array(out, dtype=np.int64)


def top_local_maxima(y, lo, hi, *, min_separation=1, max_peaks=8, use_numba=True):
    """Indices of the highest local maxima of ``y`` in ``[lo, hi)``, strongest first.

    A local maximum is higher than its left neighbour and not lower than its right one; a
    window end point counts when the curve falls away from it into the window (a peak cut
    by the window).  Maxima closer than ``min_separation`` points to a stronger one are skipped.

    Parameters
    ----------
    y : array_like, shape (n,)
        Curve (e.g. a correlogram envelope).
    lo, hi : int
        Search window ``[lo, hi)`` (indices).
    min_separation : int, default 1
        Minimum distance in points between reported maxima.
    max_peaks : int, default 8
        Most maxima returned.
    use_numba : bool, default True
        False runs the numpy reference.

    Returns
    -------
    numpy.ndarray of int64, shape (<= max_peaks,)
    """
    y = np.ascontiguousarray(y, dtype=np.float64)
    lo, hi = max(0, int(lo)), min(y.size, int(hi))
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}")
    if max_peaks < 1 or min_separation < 1:
        raise ValueError("max_peaks and min_separation must be >= 1")
    if hi <= lo:
        return np.zeros(0, dtype=np.int64)
    if not use_numba:
        return _top_local_maxima_numpy(y, lo, hi, int(min_separation), int(max_peaks))
    out = np.empty(int(max_peaks), dtype=np.int64)
    n = _top_local_maxima_kernel(y, lo, hi, int(min_separation), int(max_peaks), out)
    return out[:n].copy()
