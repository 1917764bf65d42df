"""Numerical kernels of the correlator: numba versions and their plain-numpy references.

Each public function validates and coerces its inputs, then runs a private numba kernel
(``@njit(cache=True)``) or, with ``use_numba=False``, the numpy reference that the tests
compare it with.  Kernels were kept only where they beat numpy (``bench/correlate_speed.py``
prints the comparison):

* :func:`group_energies` - per-frame, per-frequency-group power of both channels (one pass
  over the frame spectra instead of ``abs()**2`` temporaries plus ``add.reduceat``);
* :func:`accumulate_spectra` - weighted averaging of the auto- and cross-spectra (one pass,
  no (frames x bins) temporaries);
* :func:`running_median` - running median of a spectrum (tonal-line detection), and
  :func:`running_median_runs` / :func:`running_median_at` - the same over runs of bins or at a
  few bins only (one sliding kernel serves all three);
* :func:`near_peaks` - the runs of bins near a bin that stands a factor above its window's
  minimum (a monotone queue gives the running minimum in O(n)): outside them no tonal line can
  be, so the running median is needed there only;
* :func:`calibrate32` - mean-free, calibrated single-precision samples in one pass (numpy
  needs three: the conversion, the subtraction, the scaling);
* :func:`correlogram_derivatives` - the correlogram and its first two derivatives at one delay
  (Newton refinement of a peak): the phase factor of each bin advanced from the previous bin's
  by one complex multiplication instead of a complex exponential per bin, and the three sums
  in the same pass.

Not kernels, because numpy already does them in one vectorised pass and numba could not beat
it: framing and windowing (``sliding_window_view`` times the window, fed straight to the FFT)
the peak search (``argmax`` over the lag window) and the input checks (sum, minimum and maximum of the samples: a one-pass numba
loop was 20 % slower than numpy's three vectorised reductions, bench/correlate_speed.py).

numba costs about half a second to import and to load its cached machine code, which is more
than a whole correlation takes without it.  ``use_numba=None`` (the default everywhere)
therefore runs the numpy versions for the first call in a process and the kernels from the
second on, so a one-shot ``acoustic correlate`` starts fast and a survey or batch run over many
pairs gets the kernels; ``True`` or ``False`` force the choice (``ACOUSTIC_NUMBA=0``/``1`` in the
environment too).
"""

from __future__ import annotations

import math
import os

import numpy as np

_CALLS = {"n": 0}


def resolve_use_numba(use_numba=None) -> bool:
    """Decide whether to run the numba kernels (see the module doc): True/False as given,
    else ``ACOUSTIC_NUMBA`` from the environment, else numpy for the first call in the process."""
    if use_numba is not None:
        return bool(use_numba)
    env = os.environ.get("ACOUSTIC_NUMBA", "").strip()
    if env in ("0", "1"):
        return env == "1"
    _CALLS["n"] += 1
    return _CALLS["n"] > 1


def njit(*args, **kwargs):
    """``numba.njit`` applied on first use, so importing this module does not import numba."""
    def wrap(fn):
        compiled = {}

        def call(*a):
            if "f" not in compiled:
                from numba import njit as _njit

                compiled["f"] = _njit(*args, **kwargs)(fn)
            return compiled["f"](*a)

        call.__name__ = fn.__name__
        call.__doc__ = fn.__doc__
        call.py_func = fn
        return call

    return wrap

__all__ = ["group_energies", "accumulate_spectra", "running_median", "running_median_at", "running_median_runs",
           "run_points", "near_peaks", "calibrate32",
           "correlogram_derivatives", "resolve_use_numba"]


# -- per-frame group energies -------------------------------------------------------------
@njit(cache=True, nogil=True)
def _group_energies_kernel(xa, xb, starts, stops, out_a, out_b):  # pragma: no cover - compiled
    # two frames at a time: four independent sums instead of two (each sum's additions wait on
    # the one before); every sum still runs over its bins in order
    n_frames = xa.shape[0]
    n_groups = starts.shape[0]
    for k0 in range(0, n_frames, 2):
        k1 = min(k0 + 1, n_frames - 1)  # an odd last frame: computed twice, the same
        for g in range(n_groups):
            sa0 = 0.0
            sb0 = 0.0
            sa1 = 0.0
            sb1 = 0.0
            for j in range(starts[g], stops[g]):
                a = xa[k0, j]
                b = xb[k0, j]
                c = xa[k1, j]
                d = xb[k1, j]
                sa0 += a.real * a.real + a.imag * a.imag
                sb0 += b.real * b.real + b.imag * b.imag
                sa1 += c.real * c.real + c.imag * c.imag
                sb1 += d.real * d.real + d.imag * d.imag
            out_a[k0, g] = sa0
            out_b[k0, g] = sb0
            out_a[k1, g] = sa1
            out_b[k1, g] = sb1


def _group_energies_numpy(xa, xb, starts, stops):
    def one(x):
        p = x.real * x.real + x.imag * x.imag
        p = np.concatenate([p, np.zeros((p.shape[0], 1), dtype=p.dtype)], axis=1)
        edges = np.empty(2 * starts.size, dtype=np.int64)
        edges[0::2] = starts
        edges[1::2] = stops
        sums = np.add.reduceat(p, edges, axis=1, dtype=np.float64)[:, 0::2]
        return np.where(stops > starts, sums, 0.0)

    return one(xa), one(xb)


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
def _accumulate_kernel(xa, xb, weight, bin_group, gaa, gbb, gab_re, gab_im):  # pragma: no cover
    # two frames per sweep over the bins: half the read-modify-writes of the (L2-resident)
    # accumulators, which bound this loop; the weight sums depend on the group only (numpy)
    n_frames, n_bins = xa.shape
    for k0 in range(0, n_frames, 2):
        k1 = min(k0 + 1, n_frames - 1)
        both = 1.0 if k1 > k0 else 0.0  # an odd last frame is added once
        for j in range(n_bins):
            g = bin_group[j]
            w0 = 1.0 if g < 0 else weight[k0, g]
            w1 = both if g < 0 else both * weight[k1, g]
            a = xa[k0, j]
            b = xb[k0, j]
            c = xa[k1, j]
            d = xb[k1, j]
            ar = np.float64(a.real)
            ai = np.float64(a.imag)
            br = np.float64(b.real)
            bi = np.float64(b.imag)
            cr = np.float64(c.real)
            ci = np.float64(c.imag)
            dr = np.float64(d.real)
            di = np.float64(d.imag)
            gaa[j] += w0 * (ar * ar + ai * ai) + w1 * (cr * cr + ci * ci)
            gbb[j] += w0 * (br * br + bi * bi) + w1 * (dr * dr + di * di)
            # a * conj(b)
            gab_re[j] += w0 * (ar * br + ai * bi) + w1 * (cr * dr + ci * di)
            gab_im[j] += w0 * (ai * br - ar * bi) + w1 * (ci * dr - cr * di)


def _accumulate_numpy(xa, xb, weight, bin_group):
    wt = np.concatenate([weight, np.ones((weight.shape[0], 1))], axis=1)  # column -1: weight 1
    w = wt[:, bin_group].astype(np.float32)
    pa = xa.real * xa.real + xa.imag * xa.imag
    pb = xb.real * xb.real + xb.imag * xb.imag
    gaa = np.einsum("kf,kf->f", w, pa, dtype=np.float64)
    gbb = np.einsum("kf,kf->f", w, pb, dtype=np.float64)
    gab = np.einsum("kf,kf->f", w, xa * np.conj(xb), dtype=np.complex128)
    w64 = wt[:, bin_group]
    return gaa, gbb, gab, w64.sum(axis=0), (w64 * w64).sum(axis=0)


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
    _accumulate_kernel(xa, xb, weight, bin_group, gaa, gbb, re, im)
    wt = np.concatenate([weight, np.ones((weight.shape[0], 1))], axis=1)  # column -1: weight 1
    return gaa, gbb, re + 1j * im, wt.sum(axis=0)[bin_group], (wt * wt).sum(axis=0)[bin_group]


# -- running median -----------------------------------------------------------------------
def _series(y, half_width, name: str):
    """``y`` as contiguous float64 and ``half_width`` as int, checked: 1-D, finite, half-width >= 1."""
    y = np.ascontiguousarray(y, dtype=np.float64)
    half = int(half_width)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}")
    if half < 1:
        raise ValueError(f"half_width must be >= 1, got {half_width}")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{name} needs finite values")
    return y, half


def run_points(starts, stops) -> np.ndarray:
    """The points of runs ``[starts[r], stops[r])``, run after run (int64)."""
    return np.concatenate([np.arange(a, b) for a, b in zip(starts, stops)] + [np.zeros(0, dtype=np.int64)])


@njit(cache=True, nogil=True)
def _running_median_kernel(y, half, starts, stops, out):  # pragma: no cover - compiled
    # the medians at the points of each run [starts[r], stops[r]), one after the other in ``out``.
    # A sorted copy of the current window is kept up to date.  In the middle of the signal a
    # step swaps the point leaving for the point entering (found by bisection, then moved to
    # its place: one shift over the rank change); at the ends the window grows or shrinks by
    # one point.  O(window) per step instead of a sort.
    n = y.shape[0]
    buf = np.empty(2 * half + 1)
    q = 0
    for r in range(starts.shape[0]):
        m = 0
        lo_in = max(0, starts[r] - half)  # oldest index still in the window
        hi_in = lo_in  # next index to enter
        for i in range(starts[r], stops[r]):
            lo = max(0, i - half)
            hi = min(n, i + half + 1)
            while lo_in < lo:  # y[lo_in] leaves
                v = y[lo_in]
                a = 0
                b = m
                while a < b:  # first position holding v
                    c = (a + b) >> 1
                    if buf[c] < v:
                        a = c + 1
                    else:
                        b = c
                lo_in += 1
                if hi_in < hi:  # ... and y[hi_in] takes its place
                    w = y[hi_in]
                    j = a
                    if w >= v:
                        while j + 1 < m and buf[j + 1] < w:
                            buf[j] = buf[j + 1]
                            j += 1
                    else:
                        while j > 0 and buf[j - 1] > w:
                            buf[j] = buf[j - 1]
                            j -= 1
                    buf[j] = w
                    hi_in += 1
                else:  # the window shrinks at the end
                    for t in range(a, m - 1):
                        buf[t] = buf[t + 1]
                    m -= 1
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
                out[q] = buf[m // 2]
            else:
                out[q] = 0.5 * (buf[m // 2 - 1] + buf[m // 2])
            q += 1


def _running_median_numpy(y, half):
    from numpy.lib.stride_tricks import sliding_window_view

    n = y.size
    out = np.empty(n)
    if n > 2 * half:
        out[half:n - half] = np.median(sliding_window_view(y, 2 * half + 1), axis=1)
        ends = list(range(half)) + list(range(n - half, n))
    else:
        ends = range(n)
    for i in ends:  # truncated windows at the ends
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
    y, half = _series(y, half_width, "running_median")
    if not use_numba:
        return _running_median_numpy(y, half)
    out = np.empty_like(y)
    _running_median_kernel(y, half, np.zeros(1, dtype=np.int64), np.full(1, y.size, dtype=np.int64), out)
    return out



# -- running median at a few points ------------------------------------------------------
def _running_median_at_numpy(y, half, idx):
    from numpy.lib.stride_tricks import sliding_window_view

    n = y.size
    out = np.empty(idx.size)
    inner = (idx >= half) & (idx < n - half)
    if np.any(inner) and n >= 2 * half + 1:
        out[inner] = np.median(sliding_window_view(y, 2 * half + 1)[idx[inner] - half], axis=1)
    for k in np.flatnonzero(~inner):
        i = int(idx[k])
        out[k] = np.median(y[max(0, i - half):min(n, i + half + 1)])
    return out


def running_median_at(y, half_width, idx, *, use_numba=True):
    """:func:`running_median` of ``y`` at the points ``idx`` only.

    Parameters
    ----------
    y : array_like, shape (n,)
        Values (e.g. a power spectrum).
    half_width : int
        Points on each side (>= 1).
    idx : array_like of int, shape (m,)
        Points (0 <= idx < n) where the median is wanted.
    use_numba : bool, default True
        False runs the numpy reference.

    Returns
    -------
    numpy.ndarray, shape (m,), float64
        ``running_median(y, half_width)[idx]``.
    """
    y, half = _series(y, half_width, "running_median_at")
    idx = np.ascontiguousarray(idx, dtype=np.int64)
    if idx.ndim != 1:
        raise ValueError(f"idx must be 1-D, got shape {idx.shape}")
    if idx.size and (idx.min() < 0 or idx.max() >= y.size):
        raise ValueError(f"idx must lie in 0..{y.size - 1}")
    if not use_numba:
        return _running_median_at_numpy(y, half, idx)
    # the sliding kernel over each run of consecutive points (the ones wanted usually cluster)
    points = idx if np.all(idx[1:] > idx[:-1]) else np.unique(idx)
    brk = np.flatnonzero(points[1:] != points[:-1] + 1) + 1
    starts = points[np.concatenate([[0], brk])] if points.size else points
    stops = points[np.concatenate([brk - 1, [points.size - 1]])] + 1 if points.size else points
    out = _median_runs(y, half, starts, stops)
    return out if points is idx else out[np.searchsorted(points, idx)]


def _median_runs(y, half, starts, stops):
    out = np.empty(int(np.sum(stops - starts)))
    _running_median_kernel(y, half, starts, stops, out)
    return out


def running_median_runs(y, half_width, starts, stops, *, use_numba=True):
    """:func:`running_median` of ``y`` over runs of consecutive points.

    Parameters
    ----------
    y : array_like, shape (n,)
        Values, all finite.
    half_width : int
        Points on each side (>= 1).
    starts, stops : array_like of int, shape (m,)
        Run r covers the points ``starts[r] <= i < stops[r]`` (``0 <= starts[r] <= stops[r] <= n``).
    use_numba : bool, default True
        False runs the numpy reference.

    Returns
    -------
    numpy.ndarray, shape (sum(stops - starts),), float64
        The medians at the points of the first run, then of the second, and so on.
    """
    y, half = _series(y, half_width, "running_median_runs")
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    stops = np.ascontiguousarray(stops, dtype=np.int64)
    if starts.shape != stops.shape or starts.ndim != 1:
        raise ValueError("run starts and stops must be 1-D arrays of equal length")
    if starts.size and (starts.min() < 0 or stops.max() > y.size or np.any(stops < starts)):
        raise ValueError(f"runs must satisfy 0 <= start <= stop <= {y.size}")
    if not use_numba:
        return _running_median_at_numpy(y, half, run_points(starts, stops))
    return _median_runs(y, half, starts, stops)


# -- where a spectral line can be ------------------------------------------------------------
@njit(cache=True, nogil=True)
def _near_peaks_kernel(y, half, ratio, reach, starts, stops):  # pragma: no cover - compiled
    # running minimum over 2 half + 1 points by a monotone queue of indices (O(n)); every bin
    # above ratio x its window's minimum marks the bins within reach of it; the marked bins
    # are written as runs [start, stop); returns the number of runs
    n = y.shape[0]
    queue = np.empty(n, dtype=np.int64)
    head = 0
    tail = 0
    nxt = 0  # next index to enter the queue
    last_stop = -1
    n_runs = 0
    for i in range(n):
        hi = min(n, i + half + 1)
        while nxt < hi:
            v = y[nxt]
            while tail > head and y[queue[tail - 1]] >= v:
                tail -= 1
            queue[tail] = nxt
            tail += 1
            nxt += 1
        while queue[head] < i - half:
            head += 1
        if y[i] > ratio * y[queue[head]]:
            a = max(0, i - reach)
            b = min(n, i + reach + 1)
            if n_runs > 0 and a <= last_stop:
                stops[n_runs - 1] = b
            else:
                starts[n_runs] = a
                stops[n_runs] = b
                n_runs += 1
            last_stop = b
    return n_runs


def _near_peaks_numpy(y, half, ratio, reach):
    n, w = y.size, 2 * half + 1
    m = -(-(n + w - 1) // w) * w
    padded = np.full(m, np.inf)  # running minimum by van Herk / Gil-Werman (block prefix and suffix minima)
    padded[half:half + n] = y
    blocks = padded.reshape(-1, w)
    prefix = np.minimum.accumulate(blocks, axis=1).ravel()
    suffix = np.minimum.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].ravel()
    low = np.minimum(suffix[:n], prefix[w - 1:w - 1 + n])
    hits = np.flatnonzero(y > ratio * low)
    lo = np.maximum(hits - reach, 0)
    hi = np.minimum(hits + reach + 1, n)
    brk = np.flatnonzero(lo[1:] > hi[:-1]) + 1
    if hits.size == 0:
        return hits, hits
    return lo[np.concatenate([[0], brk])], hi[np.concatenate([brk - 1, [hits.size - 1]])]


def near_peaks(y, half_width, ratio, reach, *, use_numba=True):
    """Runs of points within ``reach`` of a point more than ``ratio`` times its window's minimum.

    The minimum is over ``2 half_width + 1`` points (truncated at the ends).  A window's median
    is at least its minimum, so outside these runs no point is ``ratio`` times its running median
    (:func:`running_median`) or within ``reach`` of one that is.

    Parameters
    ----------
    y : array_like, shape (n,)
        Values (e.g. a power spectrum), all finite.
    half_width : int
        Points on each side of the window (>= 1).
    ratio : float
        Factor over the window's minimum.
    reach : int
        Points on either side of each such point included in its run (>= 0).
    use_numba : bool, default True
        False runs the numpy reference.

    Returns
    -------
    starts, stops : numpy.ndarray of int64, shape (m,)
        Run r covers ``starts[r] <= i < stops[r]``; ascending, disjoint and not touching.
    """
    y, half = _series(y, half_width, "near_peaks")
    reach = int(reach)
    if reach < 0:
        raise ValueError(f"reach must be >= 0, got {reach}")
    if not use_numba:
        return _near_peaks_numpy(y, half, float(ratio), reach)
    starts = np.empty(y.size, dtype=np.int64)
    stops = np.empty(y.size, dtype=np.int64)
    m = _near_peaks_kernel(y, half, float(ratio), reach, starts, stops)
    return starts[:m], stops[:m]


# -- calibrated single-precision samples ----------------------------------------------------
@njit(cache=True, nogil=True)
def _calibrate32_kernel(x, mean, scale, out):  # pragma: no cover - compiled
    for i in range(x.shape[0]):
        out[i] = (np.float32(x[i]) - mean) * scale


def _calibrate32_numpy(x, mean, scale):
    out = x.astype(np.float32)  # always a copy
    out -= mean
    out *= scale
    return out


def calibrate32(x, mean, scale, *, use_numba=True):
    """``(float32(x) - float32(mean)) * float32(scale)``, element by element in single precision.

    Parameters
    ----------
    x : array_like, shape (n,)
        Samples (any real dtype; 16- and 24-bit audio keeps its full resolution in float32's
        24-bit mantissa).
    mean : float
        Value subtracted (the mean of ``x``), in the units of ``x``.
    scale : float
        Factor applied after the subtraction (the calibration, e.g. ``10**(-gain_db/20)``).
    use_numba : bool, default True
        False runs the numpy reference.

    Returns
    -------
    numpy.ndarray, shape (n,), float32
        A new array.
    """
    x = np.ascontiguousarray(x)
    if x.ndim != 1:
        raise ValueError(f"x must be 1-D, got shape {x.shape}")
    if not np.isrealobj(x):
        raise ValueError("x must be real")
    m, g = np.float32(mean), np.float32(scale)
    if not use_numba:
        return _calibrate32_numpy(x, m, g)
    out = np.empty(x.size, dtype=np.float32)
    _calibrate32_kernel(x, m, g, out)
    return out


# -- correlogram and its derivatives at one delay ---------------------------------------------
#: The kernel recomputes the phase factor exactly every this many bins (the recurrence's rounding
#: error grows by about one unit in the last place per step).
_REANCHOR_BINS = 256


@njit(cache=True, nogil=True)
def _derivatives_kernel(spec, omega, bin_index, d_omega, tau):  # pragma: no cover - compiled
    step_c, step_s = math.cos(d_omega * tau), math.sin(d_omega * tau)
    pc = ps = 0.0
    z0r = z0i = z1r = z1i = z2r = z2i = 0.0
    for k in range(omega.shape[0]):
        w = omega[k]
        if k % _REANCHOR_BINS == 0 or bin_index[k] != bin_index[k - 1] + 1:
            pc, ps = math.cos(w * tau), math.sin(w * tau)
        else:  # exp(i w_k tau) = exp(i w_{k-1} tau) exp(i d_omega tau)
            pc, ps = pc * step_c - ps * step_s, pc * step_s + ps * step_c
        sr, si = spec[k].real, spec[k].imag
        er = sr * pc - si * ps
        ei = sr * ps + si * pc
        z0r += er
        z0i += ei
        z1r += er * w
        z1i += ei * w
        z2r += er * w * w
        z2i += ei * w * w
    return z0r, z0i, z1r, z1i, z2r, z2i


def _derivatives_numpy(spectrum, omega, tau):
    e = spectrum * np.exp(1j * omega * tau)
    return complex(e.sum()), complex((e * omega).sum() * 1j), complex(-(e * (omega * omega)).sum())


def correlogram_derivatives(spectrum, omega, bin_index, d_omega, tau, *, use_numba=True):
    """``z(tau) = sum_k S_k exp(i w_k tau)`` and its first and second derivatives in ``tau``.

    Parameters
    ----------
    spectrum : array_like, shape (n,), complex
        Weighted cross-spectrum ``S_k`` of the band's bins.
    omega : array_like, shape (n,)
        Angular frequency ``w_k = 2 pi f_k`` of each bin (rad/s), ascending.
    bin_index : array_like of int, shape (n,)
        Index of each bin in the full spectrum (``w_k = bin_index[k] d_omega``); where it
        steps by one the kernel advances the phase factor by a multiplication.
    d_omega : float
        Angular bin spacing (rad/s).
    tau : float
        Delay (s).
    use_numba : bool, default True
        False runs the numpy reference (a complex exponential per bin).

    Returns
    -------
    (complex, complex, complex)
        ``z``, ``dz/dtau`` (per s) and ``d2z/dtau2`` (per s^2).
    """
    spectrum = np.ascontiguousarray(spectrum, dtype=np.complex128)
    omega = np.ascontiguousarray(omega, dtype=np.float64)
    if spectrum.ndim != 1 or spectrum.shape != omega.shape:
        raise ValueError(f"spectrum and omega must be 1-D of one length, got {spectrum.shape} and {omega.shape}")
    if not use_numba:
        return _derivatives_numpy(spectrum, omega, float(tau))
    bin_index = np.ascontiguousarray(bin_index, dtype=np.int64)
    if bin_index.shape != omega.shape:
        raise ValueError(f"bin_index must match omega's shape {omega.shape}, got {bin_index.shape}")
    z0r, z0i, z1r, z1i, z2r, z2i = _derivatives_kernel(spectrum, omega, bin_index, float(d_omega), float(tau))
    return complex(z0r, z0i), complex(-z1i, z1r), complex(-z2r, -z2i)
