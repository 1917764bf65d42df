"""Generalised cross-correlation: coherence, tonal lines, band selection, weightings, correlogram.

Everything here works on a :class:`~acoustic.correlate._spectra.CrossSpectrum` and is
zero-phase: the weightings, the band taper and the notches are real and non-negative, so
they change the shape of the correlation peak but never move it.

GCC weightings (Knapp & Carter 1976; ``physics.md`` 3.2), applied to ``G_AB``:

========  ==============================================  ===================================
plain     1                                               basic cross-correlation (BCC)
phat      1 / |G_AB|                                      phase only, sharpest peak
scot      1 / sqrt(G_AA G_BB)                             coherence-weighted phase
roth      1 / G_AA                                        whitened by channel A
ht        gamma^2 / (|G_AB| (1 - gamma^2))                Hannan-Thomson / maximum likelihood,
                                                          with |G_AB| = gamma sqrt(G_AA G_BB)
========  ==============================================  ===================================

``auto`` is HT (ML) with the coherence smoothed and bias-corrected (``gamma^2`` capped at
0.95, so no single bin can dominate), which is the minimum-variance weighting; it is also
the one the accuracy bench found best across materials and confounders.  Its ``|G_AB|`` is
taken from the smoothed coherence and the auto-spectra: the raw ``|G_AB|`` of a bin is mostly
estimation noise where the coherence is low, which spoils the weight exactly where a weak leak
needs it (the Eckart limit of the ML weight).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from .._errors import ParameterError
from ._kernels import (
    correlogram_derivatives, near_peaks, run_points, running_median, running_median_at, running_median_runs,
)
from ._spectra import CrossSpectrum, coherence_threshold, median

__all__ = ["WEIGHTINGS", "resolve_weighting", "smoothed_coherence", "band_smoothing_bins", "tonal_lines",
           "select_band", "weighting_function", "band_taper", "Correlogram", "hann_lag_factor", "hann_noise_factor"]

#: Accepted names of ``weighting`` (``auto`` resolves to ``ht``).
WEIGHTINGS = ("auto", "plain", "phat", "scot", "roth", "ht")
#: Cap on the smoothed coherence used in weights (limits any bin's weight to 19x).
COHERENCE_CAP = 0.95
#: A spectral line stands this many times above the running median of its spectrum.
TONAL_RATIO = 4.0
#: z-score a coherent cluster of bins must reach as a whole to count as a band.
CLUSTER_Z = 6.0
#: A notch covers the bins where the line's window leakage exceeds this fraction of the background.
_LEAKAGE_FRACTION = 0.05
#: Lines this many times above the running median get the wide-floor leakage estimate.
_STRONG_LINE = 100.0
#: Widest half-width (bins) of a notch around a very strong line (its window leakage).
_MAX_NOTCH_BINS = 200
#: Narrowest coherent band accepted, Hz, and as a fraction of its centre frequency (about a third
#: of an octave): leak noise is broadband; narrower clusters are lines, resonances or chance.
MIN_BAND_HZ = 15.0
MIN_BAND_FRACTION = 0.25
#: ... and its notch extends while the ratio stays above this.
TONAL_EDGE_RATIO = 1.6
#: Line heights whose Hann-window leakage falls to _LEAKAGE_FRACTION at u = 2, 3, ... bins: a
#: line of height h needs the half-width 2 + (number of these below h), at most _MAX_NOTCH_BINS.
_LEAKAGE_LEVELS = _LEAKAGE_FRACTION * (np.pi * np.arange(2.0, _MAX_NOTCH_BINS)
                                       * (np.arange(2.0, _MAX_NOTCH_BINS) ** 2 - 1.0)) ** 2


def resolve_weighting(name: str) -> str:
    """Validate ``name`` and resolve ``auto`` to the weighting it means."""
    key = str(name).strip().lower()
    if key not in WEIGHTINGS:
        raise ParameterError(f"weighting must be one of {', '.join(WEIGHTINGS)}; got {name!r}")
    return "ht" if key == "auto" else key


# -- coherence ------------------------------------------------------------------------------
def moving_sum(x: np.ndarray, half) -> np.ndarray:
    """Sum of ``x`` over ``2 half + 1`` neighbouring points, truncated at the ends.

    The same as ``np.convolve(x, np.ones(2 half + 1), mode="same")`` up to rounding, in O(n)
    by a running sum.  ``half`` may also be an integer array, one half-width per point.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    c = np.zeros(n + 1)
    np.cumsum(x, out=c[1:])
    if np.ndim(half):  # one half-width per point
        i = np.arange(n)
        return c[np.minimum(i + half + 1, n)] - c[np.maximum(i - half, 0)]
    # c[min(i + half + 1, n)] - c[max(i - half, 0)], with slices instead of index arrays
    h = min(int(half), n)
    hi = np.empty(n)
    hi[:n - h] = c[h + 1:]
    hi[n - h:] = c[n]
    lo = np.empty(n)
    lo[h:] = c[:n - h]
    lo[:h] = 0.0
    return hi - lo


def smoothing_bins(cs: CrossSpectrum, smooth_hz: float | None = None) -> int:
    """Half-width (bins) of the coherence smoothing: about 2.5 Hz, at least 2 bins."""
    hz = 2.5 if smooth_hz is None else smooth_hz
    return max(2, int(round(hz / cs.df_hz)))


#: Band selection smooths the coherence over +-this fraction of the frequency (at least the
#: weights' 2.5 Hz, at most BAND_SMOOTH_MAX_HZ; so constant-Q between about 40 and 170 Hz): a weak
#: broadband leak is significant over a wide band long before it is in narrow slices.
BAND_SMOOTH_FRACTION = 0.06
#: ... but over at most +-this many Hz (wider smoothing finds faint coherence far above the leak band).
BAND_SMOOTH_MAX_HZ = 10.0


def band_smoothing_bins(cs: CrossSpectrum, half_bins: int) -> np.ndarray:
    """Per-bin half-width (bins) of the band-selection smoothing.

    ``max(half_bins, min(BAND_SMOOTH_FRACTION f, BAND_SMOOTH_MAX_HZ) / df)`` at frequency ``f``.

    Returns
    -------
    numpy.ndarray of int64, shape (n_bins,)
    """
    hz = np.minimum(BAND_SMOOTH_FRACTION * cs.freqs_hz, BAND_SMOOTH_MAX_HZ)
    return np.maximum(int(half_bins), np.rint(hz / cs.df_hz)).astype(np.int64)


def smoothed_coherence(cs: CrossSpectrum, half_bins, exclude=None, coherence=None) -> np.ndarray:
    """Bias-corrected magnitude-squared coherence, averaged over ``2 half_bins + 1`` bins.

    ``half_bins`` is one half-width for every bin, or an array of one per bin.

    The Welch estimate is biased upward by about ``1/n_d``; ``(n_d g - 1)/(n_d - 1)`` removes
    that (``physics.md`` 3.3), then a moving average over neighbouring bins cuts the variance.
    Bins in ``exclude`` (notched tonal lines) take no part in the average, so a line's
    coherence does not spill into its neighbours; they get 0.  ``coherence`` is
    ``cs.coherence()`` when the caller already has it.

    Returns
    -------
    numpy.ndarray, shape (n_bins,)
        Values in [0, 1).
    """
    g = cs.coherence() if coherence is None else coherence
    n = cs.n_averages
    g = np.clip((n * g - 1.0) / np.maximum(n - 1.0, 1.0), 0.0, 1.0)
    use = np.ones_like(g) if exclude is None else (~np.asarray(exclude, dtype=bool)).astype(np.float64)
    num = moving_sum(g * use, half_bins)
    den = moving_sum(use, half_bins)
    out = np.where(den > 0, num / np.maximum(den, 1e-12), 0.0) * use
    return np.clip(out, 0.0, 0.999)


# -- tonal lines -----------------------------------------------------------------------------
def _median_ratio_near_lines(spec: np.ndarray, half: int, use_numba: bool) -> np.ndarray:
    """``spec / running_median(spec, half)`` where :func:`tonal_lines` needs it, 0 elsewhere.

    A line is a local maximum of the ratio above TONAL_RATIO, and its notch is settled within
    ``half`` bins of it.  A window's median is at least its minimum, so a bin below TONAL_RATIO
    times the running minimum cannot be a line: the median is needed only within ``half + 1``
    bins of the others (all of it when they are many).  Where it is worked out, the ratio is
    the one the full running median gives, to the bit.
    """
    n = spec.size
    starts, stops = near_peaks(spec, half, TONAL_RATIO, half + 1, use_numba=use_numba)
    if np.sum(stops - starts) > n // 4:
        idx, base = np.arange(n), running_median(spec, half, use_numba=use_numba)
    else:
        idx, base = run_points(starts, stops), running_median_runs(spec, half, starts, stops, use_numba=use_numba)
    ratio = np.zeros(n)
    ratio[idx] = np.where(base > 0, spec[idx] / np.maximum(base, 1e-300), 0.0)
    return ratio


def tonal_lines(cs: CrossSpectrum, coh_raw: np.ndarray, *, use_numba: bool = True):
    """Narrow spectral lines (mains hum, pump harmonics) in either auto-spectrum or in the coherence.

    A line is a local maximum standing :data:`TONAL_RATIO` times above the running median
    (over about 25 Hz) of the auto-spectrum, or a narrow coherence peak (coherence odds 4x the
    running median and above 0.5).  Its notch spans the neighbouring bins while the ratio stays
    above :data:`TONAL_EDGE_RATIO`, at least the Hann main lobe (+/-2 bins), and as far as the
    window's leakage of the line (``1/(pi u (u^2-1))^2`` at u bins, for a line so many times
    above the quiet background) exceeds :data:`_LEAKAGE_FRACTION` of the background.

    Returns
    -------
    notch : numpy.ndarray of bool, shape (n_bins,)
        True for bins to give zero weight.
    lines_hz : list of float
        Centre frequency (Hz) of each line found.
    """
    n_bins = cs.freqs_hz.size
    half = max(6, int(round(12.5 / cs.df_hz)))
    notch = np.zeros(n_bins, dtype=bool)
    lines: list[float] = []
    odds = coh_raw / np.maximum(1.0 - coh_raw, 1e-3)
    ratios = []
    spectra = []
    for spec in (cs.gaa, cs.gbb):
        ratios.append(_median_ratio_near_lines(spec, half, use_numba))
        spectra.append(spec)
    # the coherence ratio counts only where the coherence exceeds 0.5 (usually a few bins), so its
    # running median is needed there only
    high = np.flatnonzero(coh_raw > 0.5)
    oratio = np.zeros(n_bins)
    if high.size:
        n_avg = median(cs.n_averages)
        obase = running_median_at(odds, half, high, use_numba=use_numba) if high.size < n_bins // 8 else \
            running_median(odds, half, use_numba=use_numba)[high]
        oratio[high] = odds[high] / np.maximum(obase, 1.0 / n_avg)
    ratios.append(oratio)
    first = max(2, int(math.ceil(2.0 / cs.df_hz)))
    wide = 8 * half
    delta = np.zeros(n_bins + 1, dtype=np.int64)  # +1/-1 at each notch's edges
    for ri, r in enumerate(ratios):
        peaks = np.flatnonzero((r[1:-1] > TONAL_RATIO) & (r[1:-1] >= r[:-2]) & (r[1:-1] >= r[2:])) + 1
        peaks = peaks[peaks >= first]
        if peaks.size == 0:
            continue
        # the notch spans the run of bins with ratio above TONAL_EDGE_RATIO around the line,
        # at most ``half`` bins to either side
        below = np.flatnonzero(r <= TONAL_EDGE_RATIO)  # a line's own bin is above, so not among these
        k = np.searchsorted(below, peaks)
        run_lo = np.append(-1, below)[k]  # last bin not above, before the line
        run_hi = np.append(below, n_bins)[k]  # first bin not above, after it
        lo = np.maximum(run_lo + 1, peaks - half)
        hi = np.minimum(run_hi - 1, peaks + half)
        # the Hann window's leakage of a line r times the background falls as
        # 1/(pi u (u^2 - 1))^2 at u bins; notch until it is below _LEAKAGE_FRACTION of the
        # background, with the height over the quiet background around it (the 10th percentile
        # over a wide stretch: a strong line's own skirt fills the narrow running median)
        height = r[peaks].copy()
        if ri < 2:
            for i in np.flatnonzero(height > _STRONG_LINE):  # weaker lines leak less than 3 bins anyway
                p = peaks[i]
                seg = spectra[ri][max(1, p - wide):p + wide + 1]
                kth = seg.size // 10
                floor = float(np.partition(seg, kth)[kth])  # 10th percentile
                if floor > 0:
                    height[i] = max(height[i], spectra[ri][p] / floor)
        u = 2 + np.searchsorted(_LEAKAGE_LEVELS, height, side="left")
        u = np.minimum(u, _MAX_NOTCH_BINS)
        lo = np.maximum(np.minimum(lo, peaks - u), 0)
        hi = np.minimum(np.maximum(hi, peaks + u), n_bins - 1)
        np.add.at(delta, lo, 1)
        np.add.at(delta, hi + 1, -1)
        lines.extend(float(f) for f in cs.freqs_hz[peaks])
    notch = np.cumsum(delta[:n_bins]) > 0
    # one line per notched run of bins (a line seen in both spectra, or spread over two bins)
    merged: list[float] = []
    for fl in sorted(lines):
        if merged and fl - merged[-1] <= 3.0 * cs.df_hz:
            continue
        merged.append(round(fl, 2))
    return notch, merged


# -- band ------------------------------------------------------------------------------------
def select_band(cs: CrossSpectrum, coh_s: np.ndarray, half_bins, notch: np.ndarray,
                fmin_hz: float, fmax_hz: float, coherence=None):
    """The coherent band: where the smoothed coherence is significantly above zero.

    Under zero true coherence the raw estimate is Beta(1, n_d - 1) (mean and s.d. about
    ``1/n_d``); its average over ``m`` correlated bins has s.d. about ``1/(n_d sqrt(m/1.5))``.
    Bins whose smoothed, bias-corrected coherence exceeds 3.5 of those s.d. are significant
    (``physics.md`` 3.3).  Clusters of significant bins (gaps up to the smoothing width
    closed) must also be significant as a whole (summed coherence :data:`CLUSTER_Z` s.d.
    above zero, which rules out the narrow clusters that chance makes among thousands of
    bins); they are scored by their summed coherence odds, and the band spans the clusters
    scoring at least 10 % of the best one (two sources make the coherence ripple, which splits
    one band into many clusters).  ``half_bins`` is the smoothing half-width of ``coh_s``: one
    for all bins, or one per bin (:func:`band_smoothing_bins`).  ``coherence`` is
    ``cs.coherence()`` when the caller already has it.

    Returns
    -------
    band : (float, float) or None
        Lower and upper edge in Hz, or None when nothing is coherent.
    significant : numpy.ndarray of bool, shape (n_bins,)
    threshold : float
        The smoothed-coherence level used as significant.
    """
    f = cs.freqs_hz
    n_bin = cs.n_averages
    half = np.broadcast_to(np.asarray(half_bins, dtype=np.int64), f.shape)
    width = 2 * half + 1
    m_eff = np.maximum(width / 1.5, 1.0)
    # the bias-corrected estimate has mean ~0 under H0 and s.d. ~ 1/n_d per bin (n_d per bin:
    # the robust averaging may keep different numbers of frames in different bands)
    sd_s = moving_sum(1.0 / n_bin, half_bins) / width / np.sqrt(m_eff)
    thr_bins = 3.5 * sd_s
    thr = median(thr_bins)
    usable = (f >= fmin_hz) & (f <= fmax_hz) & ~notch
    sig = usable & (coh_s > thr_bins)
    idx = np.flatnonzero(sig)
    if idx.size == 0:
        return None, sig, thr
    # clusters: split where the gap exceeds the smoothing width; notched bins (tonal lines)
    # do not split a band, so the gaps they leave are bridged
    gap = np.maximum(width, 3)
    inrange = (f >= fmin_hz) & (f <= fmax_hz)
    bridge = np.flatnonzero(sig | (notch & inrange))
    splits = np.flatnonzero(np.diff(bridge) > gap[bridge[:-1]]) + 1
    clusters = [c[sig[c]] for c in np.split(bridge, splits)]
    clusters = [c for c in clusters if c.size]
    odds = coh_s / (1.0 - coh_s)
    min_width = max(int(width.min()), int(math.ceil(MIN_BAND_HZ / cs.df_hz)))
    # a cluster must be significant as a whole: the sum of the bias-corrected raw coherence
    # over its bins has s.d. about sqrt(sum 1/n_d^2 / 1.5) under zero coherence
    g_raw = cs.coherence() if coherence is None else coherence
    g_corr = (n_bin * g_raw - 1.0) / np.maximum(n_bin - 1.0, 1.0)
    scored = []
    for c in clusters:
        a, b = c[0], c[-1] + 1
        centre = 0.5 * (f[a] + f[b - 1])
        if b - a < min_width or (f[b - 1] - f[a]) < MIN_BAND_FRACTION * centre:
            continue
        inside = np.arange(a, b)[~notch[a:b]]
        z_cluster = float(np.sum(g_corr[inside])) / math.sqrt(float(np.sum(1.0 / n_bin[inside] ** 2)) / 1.5)
        if z_cluster < CLUSTER_Z:
            continue
        scored.append((float(np.sum(odds[c])), c))
    if not scored:
        return None, sig, thr
    best = max(s for s, _ in scored)
    keep = [c for s, c in scored if s >= 0.1 * best]
    lo = min(c[0] for c in keep)
    hi = max(c[-1] for c in keep)
    return (float(f[lo]), float(f[hi])), sig, thr


def band_taper(freqs_hz: np.ndarray, band_hz, taper_fraction: float = 0.15) -> np.ndarray:
    """Zero-phase band-pass weight: 1 inside ``band_hz``, raised-cosine edges, 0 outside.

    The edges taper over ``taper_fraction`` of the band width (inside the band), which keeps
    the side lobes of the correlation peak low.
    """
    lo, hi = float(band_hz[0]), float(band_hz[1])
    f = np.asarray(freqs_hz, dtype=np.float64)
    w = ((f >= lo) & (f <= hi)).astype(np.float64)
    t = taper_fraction * (hi - lo)
    if t > 0:
        up = (f >= lo) & (f < lo + t)
        w[up] = 0.5 - 0.5 * np.cos(np.pi * (f[up] - lo) / t)
        dn = (f > hi - t) & (f <= hi)
        w[dn] = 0.5 - 0.5 * np.cos(np.pi * (hi - f[dn]) / t)
    return w


def weighting_function(name: str, cs: CrossSpectrum, coh_s: np.ndarray) -> np.ndarray:
    """The GCC weight psi(f) of ``name`` (already resolved, not ``auto``); 0 where undefined."""
    gaa, gbb, gab = cs.gaa, cs.gbb, cs.gab
    with np.errstate(divide="ignore", invalid="ignore"):
        if name == "plain":
            psi = np.ones_like(gaa)
        elif name == "phat":
            psi = 1.0 / np.abs(gab)
        elif name == "scot":
            psi = 1.0 / np.sqrt(gaa * gbb)
        elif name == "roth":
            psi = 1.0 / gaa
        elif name == "ht":
            # |G_AB| of the ML weight taken from the smoothed coherence, sqrt(g G_AA G_BB): the raw
            # |G_AB| is mostly estimation noise where the coherence is low (Eckart weight there)
            g = np.minimum(coh_s, COHERENCE_CAP)
            psi = np.sqrt(g) / ((1.0 - g) * np.sqrt(gaa * gbb))
        else:  # pragma: no cover - resolve_weighting guards this
            raise ParameterError(f"unknown weighting {name!r}")
    return np.where(np.isfinite(psi), psi, 0.0)


# -- window lag factors ----------------------------------------------------------------------
def hann_lag_factor(lag_samples, n_fft: int):
    """Normalised autocorrelation of the Hann window at ``lag_samples``.

    Segment averaging with frames of ``n_fft`` samples sees a delay of u samples only through
    the overlap of the two windows: the cross-correlation estimate is scaled by this factor.
    """
    x = np.minimum(np.abs(np.asarray(lag_samples, dtype=np.float64)) / n_fft, 1.0)
    return _hann_overlap(x, np.cos, np.sin)


def _hann_overlap(x, cos, sin):
    """The Hann window's normalised autocorrelation at ``x`` frame lengths (0 <= x <= 1), with
    ``math`` or ``numpy`` functions (a scalar needs no array)."""
    return ((1.0 - x) * (2.0 + cos(2.0 * math.pi * x)) + 1.5 / math.pi * sin(2.0 * math.pi * x)) / 3.0


@functools.lru_cache(maxsize=16)
def _hann_sq_autocorr(n_fft: int) -> np.ndarray:
    w = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)
    w2 = w * w
    spec = np.fft.rfft(w2, 2 * n_fft)
    ac = np.fft.irfft(np.abs(spec) ** 2, 2 * n_fft)[:n_fft + 1]
    return ac / ac[0]


def hann_noise_factor(lag_samples, n_fft: int):
    """Relative standard deviation of the correlation estimate's noise at ``lag_samples``.

    For independent noise the variance at lag u scales with the autocorrelation of the squared
    window at u; this returns its square root (1 at zero lag).
    """
    ac = _hann_sq_autocorr(int(n_fft))
    u = np.minimum(np.abs(np.asarray(lag_samples, dtype=np.float64)), n_fft)
    return np.sqrt(np.maximum(np.interp(u, np.arange(n_fft + 1), ac), 1e-6))


@functools.lru_cache(maxsize=16)
def _grid_lag_samples(n_fft: int, upsample: int) -> np.ndarray:
    m = n_fft * upsample
    out = (np.arange(m) - m // 2) / float(upsample)
    out.flags.writeable = False
    return out


@functools.lru_cache(maxsize=16)
def _grid_factors(n_fft: int, upsample: int):
    u = _grid_lag_samples(n_fft, upsample)
    lag = hann_lag_factor(u, n_fft)
    noise = hann_noise_factor(u, n_fft)
    lag.flags.writeable = False
    noise.flags.writeable = False
    return lag, noise


# -- correlogram -----------------------------------------------------------------------------
@dataclasses.dataclass
class Correlogram:
    """A weighted cross-spectrum and its analytic inverse transform.

    The complex correlogram ``z(tau) = sum_f S(f) exp(i 2 pi f tau)`` over the bins of the band
    has the generalised cross-correlation as its real part and the peak envelope as its
    magnitude.  ``tau`` is the absolute-time delay (arrival at A minus arrival at B, s).

    Attributes
    ----------
    freqs_hz : numpy.ndarray, shape (n_band,)
        Frequencies of the bins with non-zero weight.
    spectrum : numpy.ndarray, shape (n_band,), complex
        Weighted cross-spectrum (start-time offset and polarity applied).
    psf : numpy.ndarray, shape (n_band,)
        Weighted magnitude of a single source's cross-spectrum (the peak shape's spectrum).
    noise_weight : numpy.ndarray, shape (n_band,)
        Spectral density of the correlogram's estimation noise (relative).
    norm : float
        Value of a fully coherent, perfectly aligned peak (strength = |z| / norm).
    bins : numpy.ndarray of int, shape (n_band,)
        Index of each band bin in the cross-spectrum.
    bin_weight : numpy.ndarray, shape (n_band,), complex
        What multiplies ``G_AB`` in each band bin (weighting, taper, start-time ramp, polarity):
        applied to one frame's ``X_A conj(X_B)`` it gives that frame's share of ``spectrum``.
    n_fft : int
        Frame length of the spectra (samples), for the window lag factors.
    sample_rate_hz : float
    """

    freqs_hz: np.ndarray
    spectrum: np.ndarray
    psf: np.ndarray
    noise_weight: np.ndarray
    norm: float
    bins: np.ndarray
    bin_weight: np.ndarray
    n_fft: int
    sample_rate_hz: float

    def evaluate(self, tau_s, spectrum=None) -> np.ndarray:
        """Complex correlogram at the delays ``tau_s`` (s) by direct summation."""
        s = self.spectrum if spectrum is None else spectrum
        tau = np.atleast_1d(np.asarray(tau_s, dtype=np.float64))
        ph = np.exp(2j * np.pi * np.outer(tau, self.freqs_hz))
        return ph @ s

    def derivatives(self, tau_s: float, spectrum=None, *, use_numba: bool = False):
        """The complex correlogram and its first and second derivatives (per s, per s^2) at ``tau_s``.

        ``use_numba`` runs :func:`~acoustic.correlate._kernels.correlogram_derivatives`' kernel.
        """
        s = self.spectrum if spectrum is None else spectrum
        cache = self.__dict__.setdefault("_cache", {})
        if "omega" not in cache:
            cache["omega"] = 2.0 * np.pi * self.freqs_hz
        return correlogram_derivatives(s, cache["omega"], self.bins, 2.0 * np.pi * self.sample_rate_hz / self.n_fft,
                                       float(tau_s), use_numba=use_numba)

    def grid(self, spectrum=None, upsample: int = 2):
        """Complex correlogram on a regular lag grid by inverse FFT.

        Returns
        -------
        lags_s : numpy.ndarray, shape (m,)
            Delays from ``-m/2`` to ``m/2 - 1`` steps of ``1/(upsample fs)`` (s), ascending.
        z : numpy.ndarray, shape (m,), complex
        """
        from ._fft import ifft_forward_norm

        s = self.spectrum if spectrum is None else spectrum
        lags, idx, sign = self._grid_layout(int(upsample))
        buf = np.zeros(lags.size, dtype=np.complex128)
        # (-1)**k on the bins moves lag 0 to the middle of the inverse transform (fftshift
        # without the copy; m is even, n_fft being a power of two); norm="forward" leaves the
        # sum unscaled
        buf[idx] = s * sign
        z = ifft_forward_norm(buf)
        if lags.size % 2:  # odd length: no sign trick, shift explicitly
            z = np.fft.fftshift(z)
        return lags, z

    def _grid_layout(self, upsample: int):
        key = ("grid", upsample)
        cache = self.__dict__.setdefault("_cache", {})
        if key not in cache:
            m = self.n_fft * upsample
            df = self.sample_rate_hz / self.n_fft
            idx = np.rint(self.freqs_hz / df).astype(np.int64)
            # exp(i pi k): a shift by m/2 lags (odd m: shifted after the transform instead)
            sign = np.where(idx % 2 == 0, 1.0, -1.0) if m % 2 == 0 else np.ones(idx.size)
            lags = _grid_lag_samples(self.n_fft, upsample) / self.sample_rate_hz
            cache[key] = (lags, idx, sign)
        return cache[key]

    def grid_factors(self, upsample: int = 2):
        """:meth:`lag_factor` and :meth:`noise_factor` at every lag of :meth:`grid` (cached per frame length)."""
        return _grid_factors(int(self.n_fft), int(upsample))

    def lag_factor(self, tau_s):
        """Window-overlap scaling of the correlation at ``tau_s`` (1 at zero lag)."""
        if isinstance(tau_s, (float, int, np.floating)):
            return _hann_overlap(min(abs(float(tau_s)) * self.sample_rate_hz / self.n_fft, 1.0), math.cos, math.sin)
        return hann_lag_factor(np.asarray(tau_s) * self.sample_rate_hz, self.n_fft)

    def noise_factor(self, tau_s):
        """Relative noise standard deviation of the correlation at ``tau_s``."""
        if isinstance(tau_s, (float, int, np.floating)):
            ac = _hann_sq_autocorr(int(self.n_fft))
            u = min(abs(float(tau_s)) * self.sample_rate_hz, float(self.n_fft))
            i = min(int(u), self.n_fft - 1)
            v = ac[i] + (u - i) * (ac[i + 1] - ac[i])
            return math.sqrt(max(float(v), 1e-6))
        return hann_noise_factor(np.asarray(tau_s) * self.sample_rate_hz, self.n_fft)

    def psf_moments(self):
        """Mean frequency and rms bandwidth (Hz) of the peak shape, and the noise's rms
        bandwidth about that mean (Hz)."""
        p = self.psf
        tot = float(np.sum(p))
        if tot <= 0:
            return 0.0, 0.0, 0.0
        fbar = float(np.sum(p * self.freqs_hz) / tot)
        bs = math.sqrt(max(float(np.sum(p * (self.freqs_hz - fbar) ** 2) / tot), 0.0))
        nw = self.noise_weight
        ntot = float(np.sum(nw))
        bn = math.sqrt(max(float(np.sum(nw * (self.freqs_hz - fbar) ** 2) / ntot), 0.0)) if ntot > 0 else bs
        return fbar, bs, bn

    def noise_rms_bandwidth_hz(self) -> float:
        """rms bandwidth (Hz) of the correlogram noise about its own mean frequency."""
        nw = self.noise_weight
        tot = float(np.sum(nw))
        if tot <= 0:
            return 0.0
        m = float(np.sum(nw * self.freqs_hz) / tot)
        return math.sqrt(max(float(np.sum(nw * (self.freqs_hz - m) ** 2) / tot), 0.0))


def build_correlogram(cs: CrossSpectrum, psi: np.ndarray, taper: np.ndarray, coh_s: np.ndarray, *,
                      offset_s: float = 0.0, polarity: float = 1.0) -> Correlogram:
    """Weighted spectrum, peak-shape spectrum and noise weights over the bins with weight > 0.

    ``offset_s`` (start of A minus start of B, s) is applied as a phase ramp so that lags are
    absolute-time delays; ``polarity`` flips the sign for mixed hydrophone/accelerometer pairs.
    """
    w = psi * taper
    sel = np.flatnonzero(w > 0)
    f = cs.freqs_hz[sel]
    ws = w[sel]
    bin_weight = ws * np.exp(-2j * np.pi * f * offset_s) * polarity
    spec = bin_weight * cs.gab[sel]
    # a single source's peak shape: the weighted magnitude of its cross-spectrum, modelled as
    # sqrt(G_AA G_BB) times the coherence magnitude smoothed over a tenth of the band.  The raw
    # |G_AB| would not do: with two sources it ripples (they interfere), and subtracting a
    # rippled shape plants ghost peaks at 2 d1 - d2.
    band_bins = sel[-1] - sel[0] + 1 if sel.size else 1
    half = max(2, band_bins // 20)
    g = np.sqrt(np.clip(coh_s, 0.0, 1.0))
    inband = (w > 0).astype(np.float64)
    g_broad = moving_sum(g * inband, half) / np.maximum(moving_sum(inband, half), 1e-12)
    psf = ws * np.sqrt(cs.gaa[sel] * cs.gbb[sel]) * g_broad[sel]
    noise = ws**2 * cs.gaa[sel] * cs.gbb[sel]
    norm = float(np.sum(ws * np.sqrt(cs.gaa[sel] * cs.gbb[sel])))
    return Correlogram(freqs_hz=f, spectrum=spec, psf=psf, noise_weight=noise / max(noise.max(), 1e-300),
                       norm=norm if norm > 0 else 1.0, bins=sel, bin_weight=bin_weight, n_fft=cs.n_fft,
                       sample_rate_hz=cs.sample_rate_hz)


def false_alarm_probability(z: float, window_s: float, rms_bandwidth_hz: float) -> float:
    """Probability that noise alone gives an envelope z-score of at least ``z`` somewhere in the window.

    The analytic correlogram's noise is complex Gaussian, so at one lag
    ``P(|z|/sigma > u) = exp(-u^2/2)``; over a window of ``window_s`` seconds Rice's formula
    adds the expected number of up-crossings of the envelope, ``sqrt(2 pi) B u exp(-u^2/2)``
    per second with B the rms bandwidth (Hz) of the noise about its mean frequency.
    """
    u = float(z)
    rate = math.sqrt(2.0 * math.pi) * max(float(rms_bandwidth_hz), 0.0) * u
    return float(min(1.0, math.exp(-0.5 * u * u) * (1.0 + max(float(window_s), 0.0) * rate)))


def significance_threshold(window_s: float, rms_bandwidth_hz: float, p_false_alarm: float) -> float:
    """Envelope z-score at which :func:`false_alarm_probability` equals ``p_false_alarm``."""
    lo, hi = 0.0, 40.0
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if false_alarm_probability(mid, window_s, rms_bandwidth_hz) > p_false_alarm:
            lo = mid
        else:
            hi = mid
    return hi


__all__ += ["build_correlogram", "significance_threshold", "false_alarm_probability", "smoothing_bins",
            "coherence_threshold"]
