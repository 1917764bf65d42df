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
    for t in range(n_frames):
        s0 = t * hop
        v = x[s0]
        acc = v * v
        prev = np.int64(v < -threshold)
        cnt = np.int64(0)
        for i in range(s0 + 1, s0 + n_fft):
            v = x[i]
            acc += v * v
            neg = np.int64(v < -threshold)
            cnt += neg ^ prev  # branch-free: noise makes the sign unpredictable
            prev = neg
        ms[t] = acc / n_fft
        zcr[t] = cnt / n_fft
    n = x.shape[0]
    mean = 0.0
    for i in range(n):
        mean += x[i]
    mean /= n
    m2 = 0.0
    m4 = 0.0
    for i in range(n):
        d = x[i] - mean
        d2 = d * d
        m2 += d2
        m4 += d2 * d2
    return mean, m2 / n, m4 / n


def _n_frames(n: int, n_fft: int, hop: int) -> int:
    return 0 if n < n_fft else 1 + (n - n_fft) // hop


def time_stats(x, n_fft: int, hop: int, threshold: float = 1e-10):
    """Per-frame mean square and zero-crossing rate, plus sample moments.

    Parameters
    ----------
    x : ndarray, shape (n,)
        Samples (any units).
    n_fft, hop : int
        Frame length and hop in samples; frames start at ``t * hop`` and lie inside ``x``.
    threshold : float
        Samples with ``|x| <= threshold`` count as zero (positive) for zero crossings.

    Returns
    -------
    ms : ndarray, shape (n_frames,)
        Mean square of each (unwindowed) frame, units^2.
    zcr : ndarray, shape (n_frames,)
        Zero crossings per sample in each frame (crossings / n_fft, librosa's definition).
    moments : tuple of float
        Sample mean, second and fourth central moments.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
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
    return ms, zcr, (float(x.mean()), float(np.mean(d ** 2)), float(np.mean(d ** 4)))


# --------------------------------------------------------------------------- spectral
@njit(cache=True, nogil=True)
def _extreme_means(v, a0, a1, k, low, high):  # pragma: no cover - compiled
    """Means of the k smallest and the k largest of v[a0:a1] (k << a1 - a0), by insertion
    into two small sorted buffers: O(n) for the few k the 2 % contrast quantile needs."""
    for q in range(k):
        low[q] = np.inf
        high[q] = -np.inf
    for i in range(a0, a1):
        x = v[i]
        if x < low[k - 1]:
            j = k - 1
            while j > 0 and low[j - 1] > x:
                low[j] = low[j - 1]
                j -= 1
            low[j] = x
        if x > high[k - 1]:
            j = k - 1
            while j > 0 and high[j - 1] < x:
                high[j] = high[j - 1]
                j -= 1
            high[j] = x
    lo = 0.0
    hi = 0.0
    for q in range(k):
        lo += low[q]
        hi += high[q]
    return lo / k, hi / k


@njit(cache=True, nogil=True)
def _spectral_kernel(Z, offset, i0, i1, freqs, bin_scale, roll_percent, segs, mel_ptr, mel_idx, mel_w,
                     amin, contrast_floor, centroid, bandwidth, rolloff, flatness, contrast, band_power,
                     mel, power_sum):  # pragma: no cover - compiled
    nf, nb = Z.shape
    nbb = i1 - i0
    n_mels = mel.shape[1]
    n_seg = segs.shape[0]
    mag = np.empty(nbb)
    kmax = 1
    for b in range(n_seg):
        if segs[b, 2] > kmax:
            kmax = segs[b, 2]
    low_buf = np.empty(kmax)
    high_buf = np.empty(kmax)
    for t in range(nf):
        row = offset + t
        for m in range(n_mels):
            mel[row, m] = 0.0
        for k in range(0, i0):
            z = Z[t, k]
            power_sum[k] += z.real * z.real + z.imag * z.imag
        s = 0.0
        sf = 0.0
        sf2 = 0.0
        lsum = 0.0
        prod = 1.0
        n_prod = 0
        psum = 0.0
        bp = 0.0
        for j in range(nbb):
            k = i0 + j
            z = Z[t, k]
            p = z.real * z.real + z.imag * z.imag
            power_sum[k] += p
            a = np.sqrt(p)
            mag[j] = a
            f = freqs[k]
            s += a
            sf += a * f
            sf2 += a * f * f
            pt = p if p > amin else amin
            # log of the geometric mean by blocks of up to 8 products (8 logs -> 1); a block
            # is closed early when its product leaves 1e-150..1e150, so it cannot overflow
            prod *= pt
            n_prod += 1
            if n_prod == 8 or prod > 1e150 or prod < 1e-150:
                lsum += np.log(prod)
                prod = 1.0
                n_prod = 0
            psum += pt
            bp += p * bin_scale[k]
            for q in range(mel_ptr[j], mel_ptr[j + 1]):
                mel[row, mel_idx[q]] += mel_w[q] * p
        for k in range(i1, nb):
            z = Z[t, k]
            power_sum[k] += z.real * z.real + z.imag * z.imag
        band_power[row] = bp
        lsum += np.log(prod)
        flatness[row] = np.exp(lsum / nbb) / (psum / nbb)
        if s > 0.0:
            c = sf / s
            centroid[row] = c
            var = sf2 / s - c * c
            bandwidth[row] = np.sqrt(var if var > 0.0 else 0.0)
            thr = roll_percent * s
            cum = 0.0
            r = freqs[i1 - 1]
            for j in range(nbb):
                cum += mag[j]
                if cum >= thr:
                    r = freqs[i0 + j]
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
    _spectral_kernel(Z, int(offset), design.i0, design.i1, design.freqs, design.psd_scale * design.df,
                     ROLL_PERCENT, design.contrast, design.mel_ptr, design.mel_idx, design.mel_w,
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
