"""numba kernels of the fused extractor, each with a plain numpy reference (compared in the tests).

``_time_kernel``      one pass over the samples: per-frame mean square (unwindowed, as
                      ``librosa.feature.rms``), per-frame zero-crossing rate (as
                      ``librosa.feature.zero_crossing_rate``) and the sample moments.
``_spectral_kernel``  one pass over a block of STFT frames: per-frame centroid, bandwidth,
                      roll-off, flatness, contrast, analysis-band power and mel energies, and
                      the running sum of the power spectrum (for band levels and tonal lines).

The public wrappers :func:`time_stats` and :func:`spectral_stats` validate and allocate;
``time_stats_reference`` / ``spectral_stats_reference`` are the numpy twins.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["time_stats", "time_stats_reference", "spectral_stats", "spectral_stats_reference",
           "FLATNESS_AMIN", "CONTRAST_MAX_DB"]

#: Floor of the power in the flatness geometric mean (calibrated units^2; librosa uses 1e-10
#: on raw full-scale units, which would depend on the gain here).
FLATNESS_AMIN = 1e-30
#: Largest contrast reported (dB): the valley is floored at ``peak * 10**(-CONTRAST_MAX_DB/10)``
#: (librosa clips at 80 dB below the maximum with ``top_db``).
CONTRAST_MAX_DB = 80.0


# --------------------------------------------------------------------------- time domain
@njit(cache=True, nogil=True)
def _time_kernel(x, n_fft, hop, n_frames, threshold, ms, zcr):  # pragma: no cover - compiled
    """One pass over the samples (hop = n_fft / 2): per half-frame sums of squares and zero
    crossings, combined into frames; shifted raw moments; min, max and non-finite count."""
    n = x.shape[0]
    nh = n_frames + 1                    # half-frames covering every frame
    end = nh * hop
    hsq = np.zeros(nh)
    hzc = np.zeros(nh, dtype=np.int64)   # crossings between sample i-1 and i, for i in the half
    first = np.zeros(nh, dtype=np.int64)  # ... of which the half's first sample (i = h * hop)
    m = min(n, hop)
    c = 0.0
    for i in range(m):
        c += x[i]
    c /= m                               # shift for the moments (numerically safe raw sums)
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    s4 = 0.0
    lo = np.inf
    hi = -np.inf
    bad = 0
    prev = np.int64(x[0] < -threshold)   # sample 0 has no predecessor: no crossing counted
    for h in range(nh):
        acc = 0.0
        cnt = np.int64(0)
        i0 = h * hop
        for i in range(i0, i0 + hop):
            v = x[i]
            acc += v * v
            neg = np.int64(v < -threshold)
            cnt += neg ^ prev            # branch-free: noise makes the sign unpredictable
            prev = neg
            d = v - c
            d2 = d * d
            s1 += d
            s2 += d2
            s3 += d2 * d
            s4 += d2 * d2
            if v < lo:
                lo = v
            if v > hi:
                hi = v
            if not np.isfinite(v):
                bad += 1
        hsq[h] = acc
        hzc[h] = cnt
        if h > 0:
            first[h] = np.int64(x[i0 - 1] < -threshold) ^ np.int64(x[i0] < -threshold)
    for i in range(end, n):              # the tail after the last frame: moments only
        v = x[i]
        d = v - c
        d2 = d * d
        s1 += d
        s2 += d2
        s3 += d2 * d
        s4 += d2 * d2
        if v < lo:
            lo = v
        if v > hi:
            hi = v
        if not np.isfinite(v):
            bad += 1
    for t in range(n_frames):
        ms[t] = (hsq[t] + hsq[t + 1]) / n_fft
        zcr[t] = (hzc[t] - first[t] + hzc[t + 1]) / n_fft
    a1 = s1 / n
    a2 = s2 / n
    a3 = s3 / n
    a4 = s4 / n
    m2 = a2 - a1 * a1
    m4 = a4 - 4.0 * a1 * a3 + 6.0 * a1 * a1 * a2 - 3.0 * a1 ** 4
    return c + a1, m2, m4, lo, hi, bad


def _n_frames(n: int, n_fft: int, hop: int) -> int:
    return 0 if n < n_fft else 1 + (n - n_fft) // hop


def time_stats(x, n_fft: int, hop: int, threshold: float = 1e-10):
    """Per-frame mean square and zero-crossing rate, plus sample moments, in one pass.

    Parameters
    ----------
    x : ndarray, shape (n,)
        Samples (any units), at least ``n_fft`` of them.
    n_fft, hop : int
        Frame length and hop in samples, ``hop = n_fft // 2`` (the extractor's framing);
        frames start at ``t * hop`` and lie inside ``x``.
    threshold : float
        Samples with ``|x| <= threshold`` count as zero (positive) for zero crossings.

    Returns
    -------
    ms : ndarray, shape (n_frames,)
        Mean square of each (unwindowed) frame, units^2 (``librosa.feature.rms`` squared).
    zcr : ndarray, shape (n_frames,)
        Zero crossings per sample in each frame (crossings / n_fft, librosa's definition).
    moments : tuple of float
        Sample mean, second and fourth central moments (raw sums about a shift near the
        mean, so a DC offset does not cost precision), minimum, maximum, and the number of
        non-finite samples.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    if 2 * hop != n_fft or x.size < n_fft:
        raise ValueError(f"time_stats needs hop = n_fft / 2 and at least n_fft samples; got n_fft={n_fft}, "
                         f"hop={hop}, {x.size} samples")
    nf = _n_frames(x.size, n_fft, hop)
    ms = np.empty(nf)
    zcr = np.empty(nf)
    mom = _time_kernel(x, int(n_fft), int(hop), nf, float(threshold), ms, zcr)
    return ms, zcr, mom


def time_stats_reference(x, n_fft: int, hop: int, threshold: float = 1e-10):
    """numpy twin of :func:`time_stats`."""
    x = np.asarray(x, dtype=np.float64)
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]
    ms = np.mean(frames ** 2, axis=1)
    neg = frames < -threshold
    zcr = np.count_nonzero(neg[:, 1:] != neg[:, :-1], axis=1) / n_fft
    d = x - x.mean()
    return ms, zcr, (float(x.mean()), float(np.mean(d ** 2)), float(np.mean(d ** 4)), float(np.min(x)),
                     float(np.max(x)), int(np.count_nonzero(~np.isfinite(x))))


# --------------------------------------------------------------------------- spectral
#: fastmath flags of the reduction loops: reassociation lets LLVM vectorise the sums (results
#: change in the last bits only); no assumptions about NaN or Inf are made.
_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}


@njit(cache=True, nogil=True, fastmath=True)
def _block_bounds(v, a0, a1, k):  # pragma: no cover - compiled
    """Largest of k block minima and smallest of k block maxima of v[a0:a1] (vectorised
    min/max: full fastmath, magnitudes are finite here)."""
    n = a1 - a0
    size = n // k
    tlo = -np.inf
    thi = np.inf
    for b in range(k):
        s0 = a0 + b * size
        s1 = a1 if b == k - 1 else s0 + size
        mn = v[s0]
        mx = v[s0]
        for i in range(s0 + 1, s1):
            x = v[i]
            mn = min(mn, x)
            mx = max(mx, x)
        tlo = max(tlo, mn)
        thi = min(thi, mx)
    return tlo, thi


@njit(cache=True, nogil=True)
def _extreme_means(v, a0, a1, k, low, high):  # pragma: no cover - compiled
    """Means of the k smallest and the k largest of v[a0:a1] (k << a1 - a0), by insertion
    into two small sorted buffers whose k-th entries are kept as running thresholds: O(n)
    for the few k the 2 % contrast quantile needs."""
    if k == 1:
        lo = v[a0]
        hi = v[a0]
        for i in range(a0 + 1, a1):
            x = v[i]
            lo = min(lo, x)
            hi = max(hi, x)
        return lo, hi
    for q in range(k):
        low[q] = np.inf
        high[q] = -np.inf
    # Bounds from k blocks: the smallest block maximum is <= the k-th largest value (the k
    # block maxima are k distinct elements), likewise the largest block minimum is >= the
    # k-th smallest; only values beyond them are offered to the insertion buffers, which
    # cuts the (branchy) insertions several-fold on real spectra.
    lthr = np.inf
    hthr = -np.inf
    n = a1 - a0
    if n >= 8 * k:
        tlo, thi = _block_bounds(v, a0, a1, k)
        lthr = np.nextafter(tlo, np.inf)   # offer x <= tlo
        hthr = np.nextafter(thi, -np.inf)  # offer x >= thi
    blo = lthr
    bhi = hthr
    for i in range(a0, a1):
        x = v[i]
        if x < lthr:
            j = k - 1
            while j > 0 and low[j - 1] > x:
                low[j] = low[j - 1]
                j -= 1
            low[j] = x
            lthr = min(low[k - 1], blo)
        if x > hthr:
            j = k - 1
            while j > 0 and high[j - 1] < x:
                high[j] = high[j - 1]
                j -= 1
            high[j] = x
            hthr = max(high[k - 1], bhi)
    lo = 0.0
    hi = 0.0
    for q in range(k):
        lo += low[q]
        hi += high[q]
    return lo / k, hi / k


@njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _band_sums(mag, pw, i0, fb, bsc, amin):  # pragma: no cover - compiled
    s = 0.0
    sf = 0.0
    sf2 = 0.0
    psum = 0.0
    bp = 0.0
    for j in range(mag.shape[0]):
        a = mag[j]
        f = fb[j]
        s += a
        sf += a * f
        sf2 += a * f * f
        p = pw[i0 + j]
        psum += max(p, amin)
        bp += p * bsc[j]
    return s, sf, sf2, psum, bp


@njit(cache=True, nogil=True)
def _log_sum(pw, i0, n, amin):  # pragma: no cover - compiled
    """sum(log(max(pw[i0:i0+n], amin))) with one log per 8 values (a product of 8 powers
    stays inside the float64 range unless the powers pass 1e37; such blocks fall back to
    one log per value)."""
    lsum = 0.0
    j = 0
    while j + 8 <= n:
        prod = 1.0
        for q in range(8):
            prod *= max(pw[i0 + j + q], amin)
        if 1e-300 < prod < 1e300:
            lsum += np.log(prod)
        else:
            for q in range(8):
                lsum += np.log(max(pw[i0 + j + q], amin))
        j += 8
    while j < n:
        lsum += np.log(max(pw[i0 + j], amin))
        j += 1
    return lsum


@njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _mel_energies(pw, i0, mel_start, mel_ptr, mel_w, row, mel):  # pragma: no cover - compiled
    # one filter at a time: independent accumulators (a bin-wise scatter would serialise
    # on the shared filter sums)
    for m in range(mel_start.shape[0]):
        acc = 0.0
        b0 = i0 + mel_start[m]
        q0 = mel_ptr[m]
        for q in range(mel_ptr[m + 1] - q0):
            acc += mel_w[q0 + q] * pw[b0 + q]
        mel[row, m] = acc


@njit(cache=True, nogil=True)
def _spectral_kernel(Z, offset, i0, i1, freqs, bin_scale, roll_percent, segs, mel_start, mel_ptr, mel_w,
                     amin, contrast_floor, centroid, bandwidth, rolloff, flatness, contrast, band_power,
                     mel, power_sum):  # pragma: no cover - compiled
    nf, nb = Z.shape
    nbb = i1 - i0
    n_seg = segs.shape[0]
    mag = np.empty(nbb)
    pw = np.empty(nb)
    fb = freqs[i0:i1].copy()
    bsc = bin_scale[i0:i1].copy()
    kmax = 1
    for b in range(n_seg):
        if segs[b, 2] > kmax:
            kmax = segs[b, 2]
    low_buf = np.empty(kmax)
    high_buf = np.empty(kmax)
    for t in range(nf):
        row = offset + t
        for k in range(nb):
            z = Z[t, k]
            p = z.real * z.real + z.imag * z.imag
            pw[k] = p
            power_sum[k] += p
        for j in range(nbb):
            mag[j] = np.sqrt(pw[i0 + j])
        s, sf, sf2, psum, bp = _band_sums(mag, pw, i0, fb, bsc, amin)
        lsum = _log_sum(pw, i0, nbb, amin)
        _mel_energies(pw, i0, mel_start, mel_ptr, mel_w, row, mel)
        band_power[row] = bp
        flatness[row] = np.exp(lsum / nbb) / (psum / nbb)
        if s > 0.0:
            c = sf / s
            centroid[row] = c
            var = sf2 / s - c * c
            bandwidth[row] = np.sqrt(var if var > 0.0 else 0.0)
            thr = roll_percent * s
            cum = 0.0
            r = fb[nbb - 1]
            for j in range(nbb):
                cum += mag[j]
                if cum >= thr:
                    r = fb[j]
                    break
            rolloff[row] = r
        else:
            centroid[row] = np.nan
            bandwidth[row] = np.nan
            rolloff[row] = np.nan
        for b in range(n_seg):
            a0 = segs[b, 0]
            a1 = segs[b, 1]
            na = segs[b, 2]
            if a1 - a0 < 2:
                contrast[row, b] = np.nan
                continue
            lo, hi = _extreme_means(mag, a0, a1, na, low_buf, high_buf)
            fl = hi * contrast_floor
            if lo < fl:
                lo = fl
            if hi <= 0.0:
                contrast[row, b] = 0.0
            else:
                contrast[row, b] = 10.0 * np.log10(hi / lo)


class SpectralStats:
    """Per-frame outputs of the spectral pass (arrays filled block by block)."""

    __slots__ = ("centroid", "bandwidth", "rolloff", "flatness", "contrast", "band_power", "mel", "power_sum")

    def __init__(self, n_frames: int, n_bins: int, n_mels: int, n_contrast: int):
        self.centroid = np.empty(n_frames)
        self.bandwidth = np.empty(n_frames)
        self.rolloff = np.empty(n_frames)
        self.flatness = np.empty(n_frames)
        self.contrast = np.empty((n_frames, n_contrast))
        self.band_power = np.empty(n_frames)
        self.mel = np.empty((n_frames, n_mels))
        self.power_sum = np.zeros(n_bins)


def spectral_stats(Z, design, out: SpectralStats, offset: int) -> None:
    """Run the spectral pass on a block of STFT frames ``Z`` (n_block, n_bins), writing rows
    ``offset .. offset + n_block`` of ``out`` and adding to ``out.power_sum``.

    ``Z`` is the unnormalised rFFT of Hann-windowed frames (librosa's ``stft`` scaling).
    """
    from ._design import ROLL_PERCENT

    Z = np.ascontiguousarray(Z, dtype=np.complex128)
    if Z.ndim != 2 or Z.shape[1] != design.n_bins:
        raise ValueError(f"STFT block must have shape (n, {design.n_bins}), got {Z.shape}")
    _spectral_kernel(Z, int(offset), design.i0, design.i1, design.freqs, design.bin_power_scale,
                     ROLL_PERCENT, design.contrast, design.mel_start, design.mel_ptr, design.mel_w,
                     FLATNESS_AMIN, 10.0 ** (-CONTRAST_MAX_DB / 10.0), out.centroid, out.bandwidth,
                     out.rolloff, out.flatness, out.contrast, out.band_power, out.mel, out.power_sum)


def spectral_stats_reference(Z, design) -> SpectralStats:
    """numpy twin of :func:`spectral_stats` on a whole STFT (n_frames, n_bins)."""
    from ._design import ROLL_PERCENT

    Z = np.asarray(Z, dtype=np.complex128)
    nf = Z.shape[0]
    out = SpectralStats(nf, design.n_bins, design.mel_dense.shape[0], design.contrast.shape[0])
    P = np.abs(Z) ** 2
    out.power_sum[:] = P.sum(axis=0)
    Pb = P[:, design.i0:design.i1]
    S = np.sqrt(Pb)
    f = design.freqs[design.i0:design.i1]
    tot = S.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        Sn = S / tot[:, None]
        c = Sn @ f
        out.centroid[:] = c
        out.bandwidth[:] = np.sqrt(np.sum(Sn * (f[None, :] - c[:, None]) ** 2, axis=1))
        cum = np.cumsum(S, axis=1)
        idx = np.argmax(cum >= ROLL_PERCENT * cum[:, -1:], axis=1)
        out.rolloff[:] = np.where(tot > 0, f[idx], np.nan)
    Pt = np.maximum(Pb, FLATNESS_AMIN)
    out.flatness[:] = np.exp(np.mean(np.log(Pt), axis=1)) / np.mean(Pt, axis=1)
    out.band_power[:] = Pb @ (design.psd_scale * design.df)[design.i0:design.i1]
    out.mel[:] = Pb @ design.mel_dense.T
    floor = 10.0 ** (-CONTRAST_MAX_DB / 10.0)
    for b, (a0, a1, na) in enumerate(design.contrast):
        if a1 - a0 < 2:
            out.contrast[:, b] = np.nan
            continue
        srt = np.sort(S[:, a0:a1], axis=1)
        lo = srt[:, :na].mean(axis=1)
        hi = srt[:, -na:].mean(axis=1)
        lo = np.maximum(lo, hi * floor)
        with np.errstate(invalid="ignore", divide="ignore"):
            out.contrast[:, b] = np.where(hi > 0, 10.0 * np.log10(hi / lo), 0.0)
    return out
