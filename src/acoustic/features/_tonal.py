"""Tonal lines in the mean power spectrum: mains (50/60 Hz harmonics) and pump combs.

A *line* is a local maximum of the frame-averaged power spectrum that

- stands at least ``max(6 dB, chance level)`` above the local background, the 25th
  percentile of the spectrum within +-125 Hz; the chance level is the ratio of the
  (1 - 1e-4) quantile to the 25 % quantile of a mean of ``0.9 n_frames`` exponential
  variables (the Welch estimate of a smooth noise spectrum), so a one-frame spectrum
  needs ~14 dB and a 10 s recording 6 dB;
- is narrow: at least 3 dB above the spectrum two bins away on both sides (a Hann-window
  tone falls by more than 15 dB there; a resonance tens of Hz wide does not).

Line frequencies are refined by parabolic interpolation of the log spectrum.

*Mains*: lines within ``0.3 df + 0.4 % n f`` of at least two harmonics ``n f`` (f = 50 or
60 Hz; harmonics shared by both, multiples of 300 Hz, are not counted).

*Pump comb*: a fundamental f0 in 8-500 Hz (candidates: each line divided by 1..5, and
line spacings) whose harmonics ``h f0`` (tolerance ``0.3 df + 0.5 % h f0``) match at least
3 lines, at least 2 of them not mains harmonics, with the third match no higher than the
6th harmonic (shaft-rate harmonics plus blade-pass lines far up, e.g. 1-4 and 7, 14, 21
for a 7-blade impeller, make one comb); the comb with most matches wins (ties: higher f0,
so a sub-harmonic of the true comb loses).  f0 is
the least-squares fit ``sum(h f_h) / sum(h^2)``.  Limits: a comb of exactly 25 Hz (a
synchronous machine) shares half its lines with 50 Hz mains; two lines closer than
~1.5 bins (6 Hz) merge.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numba import njit

__all__ = ["find_lines", "tonal_summary", "MIN_PROMINENCE_DB"]

MIN_PROMINENCE_DB = 6.0
_BG_HALF_WIDTH_HZ = 125.0
_FALSE_LINE_P = 1e-4


@functools.lru_cache(maxsize=256)
def _chance_ratio(n_frames: int) -> float:
    from scipy.special import gammaincinv  # gamma quantiles without importing scipy.stats (~1 s)

    k = max(0.9 * n_frames, 1.0)
    return float(gammaincinv(k, 1.0 - _FALSE_LINE_P) / gammaincinv(k, 0.25))


def find_lines(psd: np.ndarray, freqs: np.ndarray, df: float, n_frames: int):
    """Narrow spectral lines of a mean power spectrum.

    Parameters
    ----------
    psd : ndarray, shape (n,)
        Mean power spectral density over the analysis band (any units).
    freqs : ndarray, shape (n,)
        Bin frequencies, Hz (uniform spacing ``df``).
    df : float
        Bin spacing, Hz.
    n_frames : int
        Frames averaged into ``psd`` (sets the chance level).

    Returns
    -------
    line_hz : ndarray
        Interpolated line frequencies, Hz, ascending.
    prominence_db : ndarray
        Line power over the local background, dB.
    """
    from scipy.ndimage import percentile_filter

    n = psd.size
    if n < 7:
        return np.zeros(0), np.zeros(0)
    half = max(int(round(_BG_HALF_WIDTH_HZ / df)), 4)
    bg = percentile_filter(psd, 25, size=2 * half + 1, mode="nearest")
    thr = max(10.0 ** (MIN_PROMINENCE_DB / 10.0), _chance_ratio(int(n_frames)))
    p = psd
    k = np.arange(2, n - 2)
    is_max = (p[k] > p[k - 1]) & (p[k] >= p[k + 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        prom = p[k] / bg[k]
        narrow = (p[k] >= 2.0 * p[k - 2]) & (p[k] >= 2.0 * p[k + 2])
    sel = k[is_max & narrow & (prom >= thr) & (bg[k] > 0)]
    if sel.size == 0:
        return np.zeros(0), np.zeros(0)
    lp = np.log(np.maximum(p, 1e-300))
    a, b, c = lp[sel - 1], lp[sel], lp[sel + 1]
    den = a - 2.0 * b + c
    delta = np.where(den < 0, 0.5 * (a - c) / np.where(den < 0, den, -1.0), 0.0)
    delta = np.clip(delta, -0.5, 0.5)
    line_hz = freqs[sel] + delta * df
    return line_hz, 10.0 * np.log10(p[sel] / bg[sel])


def _match(lines: np.ndarray, target: float, tol: float) -> int:
    if lines.size == 0:
        return -1
    i = int(np.argmin(np.abs(lines - target)))
    return i if abs(lines[i] - target) <= tol else -1


def _mains_count_reference(lines, df, fmax, f_mains):
    """Plain-Python twin of :func:`_mains_count` (one harmonic at a time)."""
    other = 60.0 if f_mains == 50.0 else 50.0
    count = 0
    for n in range(1, 21):
        f = n * f_mains
        if f > fmax:
            break
        if abs(f / other - round(f / other)) < 1e-9:
            continue  # shared harmonic (multiple of 300 Hz)
        if _match(lines, f, 0.3 * df + 0.004 * f) >= 0:
            count += 1
    return count


_HARMONICS = np.arange(1, 21)


def _mains_count(lines, df, fmax, f_mains):
    """Harmonics ``n f_mains`` (n = 1..20, up to ``fmax``, not shared by 50 and 60 Hz) with a line
    within ``0.3 df + 0.4 % n f_mains``: all harmonics at once, the same arithmetic as
    :func:`_mains_count_reference` (nearest line = first minimum of the distance)."""
    if lines.size == 0:
        return 0
    other = 60.0 if f_mains == 50.0 else 50.0
    f = _HARMONICS * f_mains
    r = f / other
    d = np.abs(lines[None, :] - f[:, None])
    nearest = d[np.arange(f.size), np.argmin(d, axis=1)]
    hit = (f <= fmax) & ~(np.abs(r - np.round(r)) < 1e-9) & (nearest <= 0.3 * df + 0.004 * f)
    return int(np.count_nonzero(hit))


def _is_mains(f: float, df: float) -> bool:
    for fm in (50.0, 60.0):
        n = round(f / fm)
        if n >= 1 and abs(f - n * fm) <= 0.3 * df + 0.004 * n * fm:
            return True
    return False


def _comb_candidates(lines: np.ndarray) -> np.ndarray:
    """Candidate fundamentals, ascending and distinct: each line over 1..5, and the line spacings."""
    return np.unique(np.concatenate(((lines[:, None] / np.arange(1, 6)[None, :]).ravel(), np.diff(lines))))


def _best_comb_reference(lines: np.ndarray, df: float, fmax: float):
    """Plain-Python twin of :func:`_best_comb` (the definition; see the module docstring)."""
    if lines.size < 3:
        return None
    cands = set()
    for f in lines:
        for h in range(1, 6):
            cands.add(f / h)
    cands.update(np.diff(lines).tolist())
    best = None
    for f0 in sorted(cands):
        if not (8.0 <= f0 <= 500.0) or f0 < 2.0 * df:
            continue
        hs, fs = [], []
        used = set()
        for h in range(1, 31):
            target = h * f0
            if target > fmax + df:
                break
            i = _match(lines, target, 0.3 * df + 0.005 * target)
            if i >= 0 and i not in used:
                used.add(i)
                hs.append(h)
                fs.append(lines[i])
        # at least 3 matches, and no sparser than every other harmonic up to the third match
        # (a shaft-rate comb with blade-pass lines far up still counts; sub-harmonics of a
        # comb, which match only every 2nd or 3rd harmonic, tie at best and lose to higher f0)
        if len(hs) < 3 or hs[2] > 6:
            continue
        n_non_mains = sum(1 for f in fs if not _is_mains(f, df))
        if n_non_mains < 2:
            continue
        h_arr = np.asarray(hs, dtype=np.float64)
        f_fit = float(np.sum(h_arr * np.asarray(fs)) / np.sum(h_arr ** 2))
        key = (len(hs), f0)
        if best is None or key > best[0]:
            best = (key, f_fit, len(hs))
    return best


@njit(cache=True, nogil=True)
def _comb_kernel(lines, cands, df, fmax, hs_out, idx_out):  # pragma: no cover - compiled
    """Index in ``cands`` of the best comb fundamental (-1 if none) and its number of matches;
    its harmonic numbers and matched line indices go to ``hs_out`` / ``idx_out``.  The loops of
    :func:`_best_comb_reference`, in the same order with the same arithmetic."""
    n_lines = lines.shape[0]
    used = np.zeros(n_lines, dtype=np.bool_)
    hs = np.empty(30, dtype=np.int64)
    ix = np.empty(30, dtype=np.int64)
    best = -1
    best_n = 0
    for c in range(cands.shape[0]):
        f0 = cands[c]
        if not (8.0 <= f0 and f0 <= 500.0) or f0 < 2.0 * df:
            continue
        used[:] = False
        m = 0
        for h in range(1, 31):
            target = h * f0
            if target > fmax + df:
                break
            j = 0
            dmin = abs(lines[0] - target)
            for q in range(1, n_lines):  # first minimum, as numpy.argmin
                dq = abs(lines[q] - target)
                if dq < dmin:
                    dmin = dq
                    j = q
            if dmin <= 0.3 * df + 0.005 * target and not used[j]:
                used[j] = True
                hs[m] = h
                ix[m] = j
                m += 1
        if m < 3 or hs[2] > 6:
            continue
        n_non_mains = 0
        for q in range(m):
            f = lines[ix[q]]
            mains = False
            for fm in (50.0, 60.0):
                n = np.rint(f / fm)  # round half to even, as Python's round()
                if n >= 1 and abs(f - n * fm) <= 0.3 * df + 0.004 * n * fm:
                    mains = True
                    break
            if not mains:
                n_non_mains += 1
        if n_non_mains < 2:
            continue
        if m >= best_n:  # (m, f0) beats the best so far: more matches, or as many at a higher f0
            best = c
            best_n = m
            hs_out[:m] = hs[:m]
            idx_out[:m] = ix[:m]
    return best, best_n


def _best_comb(lines: np.ndarray, df: float, fmax: float):
    """The best pump comb: ``((n_matches, f0), f_fit, n_matches)`` or None (see the module docstring).

    The search over candidate fundamentals runs in a numba kernel; :func:`_best_comb_reference`
    is its plain twin (the tests compare them).
    """
    if lines.size < 3:
        return None
    lines = np.ascontiguousarray(lines, dtype=np.float64)
    cands = _comb_candidates(lines)
    hs = np.empty(30, dtype=np.int64)
    ix = np.empty(30, dtype=np.int64)
    c, m = _comb_kernel(lines, cands, float(df), float(fmax), hs, ix)
    if c < 0:
        return None
    h_arr = hs[:m].astype(np.float64)
    f_fit = float(np.sum(h_arr * lines[ix[:m]]) / np.sum(h_arr ** 2))
    return ((int(m), float(cands[c])), f_fit, int(m))


def tonal_summary(psd: np.ndarray, freqs: np.ndarray, df: float, n_frames: int, *, use_numba: bool = True) -> dict:
    """Peak, line and comb features of the mean analysis-band spectrum (see module doc).

    ``use_numba=False`` runs the plain twins of the line searches (tests)."""
    out = {
        "peak_frequency_hz": math.nan, "peak_to_median_db": math.nan, "n_tonal_lines": 0.0,
        "tonal_max_prominence_db": 0.0, "mains_50hz_flag": 0.0, "mains_60hz_flag": 0.0,
        "pump_comb_flag": 0.0, "pump_fundamental_hz": math.nan,
    }
    if psd.size == 0 or not np.any(psd > 0):
        return out
    k = int(np.argmax(psd))
    delta = 0.0
    if 0 < k < psd.size - 1:
        a, b, c = (math.log(max(v, 1e-300)) for v in psd[k - 1:k + 2])
        den = a - 2.0 * b + c
        if den < 0:
            delta = min(max(0.5 * (a - c) / den, -0.5), 0.5)
    out["peak_frequency_hz"] = float(freqs[k] + delta * df)
    med = float(np.median(psd))
    out["peak_to_median_db"] = 10.0 * math.log10(psd[k] / med) if med > 0 else math.nan
    lines, prom = find_lines(psd, freqs, df, n_frames)
    out["n_tonal_lines"] = float(lines.size)
    if lines.size:
        out["tonal_max_prominence_db"] = float(prom.max())
    fmax = float(freqs[-1])
    mains_count = _mains_count if use_numba else _mains_count_reference
    out["mains_50hz_flag"] = float(mains_count(lines, df, fmax, 50.0) >= 2)
    out["mains_60hz_flag"] = float(mains_count(lines, df, fmax, 60.0) >= 2)
    comb = (_best_comb if use_numba else _best_comb_reference)(lines, df, fmax)
    if comb is not None:
        out["pump_comb_flag"] = 1.0
        out["pump_fundamental_hz"] = comb[1]
    return out
