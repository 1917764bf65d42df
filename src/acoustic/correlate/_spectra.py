"""Welch cross-spectrum of a pair with robust (transient-rejecting) segment averaging.

The pair is cut into Hann-windowed frames with 50 % overlap.  Within each of a set of
half-octave frequency groups, a frame whose power in either channel stands above the quiet
level of all frames (traffic, a burst of consumption, a knock) is left out of that group's
average, so intermittent noise cannot dominate the estimate (``physics.md`` 2.4).
The averaged auto-spectra ``G_AA``, ``G_BB``, the cross-spectrum ``G_AB = <X_A conj(X_B)>``
and the magnitude-squared coherence follow (``physics.md`` 3.3).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from ._kernels import accumulate_spectra, group_energies

__all__ = ["CrossSpectrum", "cross_spectrum", "frame_spectra", "hann", "coherence_threshold", "median",
           "HANN_OVERLAP_FACTOR"]

#: Effective number of independent averages per frame for Hann frames at 50 % overlap
#: (Welch 1967: variance ratio 1 + 2 rho^2 with rho = 0.167).
HANN_OVERLAP_FACTOR = 1.0 / (1.0 + 2.0 * 0.167**2)
#: A frame's group power more than this many spreads above the quiet level is an outlier ...
OUTLIER_Z = 3.0
#: ... and it must also exceed it by this many dB.
OUTLIER_MIN_DB = 0.5
#: Fewest frames kept in a group, as a fraction of all frames.
MIN_KEEP_FRACTION = 0.15
#: Lowest frequency (Hz) of the grouping; below it every frame is used.
_GROUP_FMIN_HZ = 4.0


def hann(n: int) -> np.ndarray:
    """Periodic Hann window of ``n`` points (float64), the one Welch averaging at 50 % overlap uses.

    The array is cached and read-only.
    """
    return _hann(int(n))


@functools.lru_cache(maxsize=16)
def _hann(n: int) -> np.ndarray:
    w = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)
    w.flags.writeable = False
    return w


@functools.lru_cache(maxsize=16)
def _hann32(n: int) -> np.ndarray:
    w = _hann(n).astype(np.float32)
    w.flags.writeable = False
    return w


def median(x: np.ndarray) -> float:
    """``numpy.median`` of the values of ``x``, to the bit, without its overhead (a few tens of
    microseconds a call, which the correlator pays several times per pair).

    One partial sort places the middle value(s) and the largest; the mean of the two middle
    values of an even count is ``0.5 (a + b)``, as numpy's; NaN when any value is NaN.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    n = x.size
    h = n // 2
    if n % 2:
        part = np.partition(x, [h, n - 1])
        m = float(part[h])
    else:
        part = np.partition(x, [h - 1, h, n - 1])
        m = 0.5 * (float(part[h - 1]) + float(part[h]))
    return math.nan if math.isnan(part[-1]) else m


def coherence_threshold(n_averages: float, alpha: float = 0.05) -> float:
    """Magnitude-squared coherence exceeded with probability ``alpha`` when the true coherence is 0.

    ``1 - alpha**(1/(n_d - 1))`` for ``n_d`` independent averages (``physics.md`` 3.3).
    """
    n = max(float(n_averages), 2.0)
    return float(1.0 - alpha ** (1.0 / (n - 1.0)))


def frame_spectra(x: np.ndarray, n_fft: int, hop: int, window: np.ndarray) -> np.ndarray:
    """rfft of each windowed frame of ``x`` (single precision).

    Parameters
    ----------
    x : numpy.ndarray, shape (n,)
        Samples.
    n_fft, hop : int
        Frame length and hop in samples.
    window : numpy.ndarray, shape (n_fft,)
        Window.

    Returns
    -------
    numpy.ndarray, shape (n_frames, n_fft // 2 + 1), complex64
    """
    from numpy.lib.stride_tricks import sliding_window_view

    from ._fft import rfft_rows

    x32 = np.asarray(x, dtype=np.float32)
    w32 = _hann32(n_fft) if window is _hann(n_fft) else window.astype(np.float32)
    frames = sliding_window_view(x32, n_fft)[::hop] * w32
    return rfft_rows(frames)


@dataclasses.dataclass
class CrossSpectrum:
    """Averaged spectra of a pair (one-sided, PSD units: calibrated units^2 / Hz).

    Attributes
    ----------
    freqs_hz : numpy.ndarray, shape (n_bins,)
    gaa, gbb : numpy.ndarray, shape (n_bins,)
        Auto-spectra of A and B.
    gab : numpy.ndarray, shape (n_bins,), complex
        Cross-spectrum ``<X_A conj(X_B)>``; its inverse transform peaks at lag = t_A - t_B.
    count : numpy.ndarray, shape (n_bins,)
        Effective number of frames averaged in each bin (``(sum w)^2 / sum w^2``).
    n_frames : int
        Frames available.
    n_fft, hop : int
        Frame length and hop (samples).
    sample_rate_hz : float
    frames_rejected_fraction : float
        Fraction of (frame, group) cells left out as transient (weight 0).
    frame_weight : numpy.ndarray, shape (n_frames, n_groups)
        Weight of each frame in each frequency group.
    """

    freqs_hz: np.ndarray
    gaa: np.ndarray
    gbb: np.ndarray
    gab: np.ndarray
    count: np.ndarray
    n_frames: int
    n_fft: int
    hop: int
    sample_rate_hz: float
    frames_rejected_fraction: float
    frame_weight: np.ndarray = dataclasses.field(default=None, repr=False)

    @property
    def df_hz(self) -> float:
        """Bin spacing in Hz."""
        return self.sample_rate_hz / self.n_fft

    @property
    def n_averages(self) -> np.ndarray:
        """Effective number of independent averages per bin (overlap-corrected)."""
        return np.maximum(self.count * HANN_OVERLAP_FACTOR, 1.0)

    def coherence(self) -> np.ndarray:
        """Raw magnitude-squared coherence ``|G_AB|^2 / (G_AA G_BB)`` per bin (0..1)."""
        den = self.gaa * self.gbb
        with np.errstate(invalid="ignore", divide="ignore"):
            c = np.where(den > 0, (self.gab.real**2 + self.gab.imag**2) / den, 0.0)
        return np.clip(c, 0.0, 1.0)


@functools.lru_cache(maxsize=16)
def _groups(n_bins: int, df: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Half-octave groups of at least 8 bins above ``_GROUP_FMIN_HZ``; bin -> group map (cached
    per size, read-only)."""
    first = max(1, int(np.ceil(_GROUP_FMIN_HZ / df)))
    edges = [first]
    f = first * df
    while edges[-1] < n_bins:
        f *= 2 ** 0.5
        nxt = max(int(round(f / df)), edges[-1] + 8)
        edges.append(min(nxt, n_bins))
    if len(edges) > 2 and edges[-1] - edges[-2] < 8:
        edges.pop(-2)
    starts = np.array(edges[:-1], dtype=np.int64)
    stops = np.array(edges[1:], dtype=np.int64)
    bin_group = np.full(n_bins, -1, dtype=np.int64)
    for g, (a, b) in enumerate(zip(starts, stops)):
        bin_group[a:b] = g
    for arr in (starts, stops, bin_group):
        arr.flags.writeable = False
    return starts, stops, bin_group


def _quantiles(x: np.ndarray, *qs: float):
    """Quantiles of each column of a small 2-D array (linear interpolation, as numpy's default)."""
    srt = np.sort(x, axis=0)
    n = srt.shape[0]
    out = []
    for q in qs:
        pos = q * (n - 1)
        i = int(np.floor(pos))
        j = min(i + 1, n - 1)
        out.append(srt[i] + (pos - i) * (srt[j] - srt[i]))
    return out


def _frame_weights(energy: np.ndarray, n_bins: np.ndarray, n_channels: int = 1) -> np.ndarray:
    """Weight of each frame (row) in each group (column): 1 when quiet, less when raised.

    ``energy`` may hold several channels side by side (``n_channels`` equal blocks of columns,
    ``n_bins`` repeated), each weighed on its own as if alone; one call does them all.

    The leak is stationary and intermittent noises only add power, so the reference is the
    quiet part of the distribution (``physics.md`` 2.4: consumption raises the upper tail, not
    the minimum): the clean median is ``q25 + 0.674 s`` with the spread ``s`` from the lower tail
    ``(q25 - q5) / 0.97``, never below the chi-square spread of a stationary frame's power over
    the group's bins.  Frames more than :data:`OUTLIER_Z` spreads (and :data:`OUTLIER_MIN_DB`)
    above it get weight 0; frames in between get ``(P_clean / P)^2``, so a source that is on
    for part of the time adds little to the average.  A frame whose mean excess over all groups
    (in spreads) is an outlier in the same sense is left out of every group.
    """
    with np.errstate(divide="ignore"):
        lev = 10.0 * np.log10(np.maximum(energy, 1e-300))
    q5, q25 = _quantiles(lev, 0.05, 0.25)
    s_expected = 10.0 / np.log(10.0) * np.sqrt(1.5 / np.maximum(n_bins, 1))
    s = np.maximum((q25 - q5) / 0.97, s_expected)
    clean = q25 + 0.674 * s
    limit = clean + np.maximum(OUTLIER_Z * s, OUTLIER_MIN_DB)
    excess = np.maximum(lev - clean - 2.0 * s, 0.0)  # dB above the stationary scatter
    w = np.where(lev <= limit, 10.0 ** (-2.0 * excess / 10.0), 0.0)
    # a broadband intermittent source (a tap, a WC cistern) raises many groups a little at once:
    # pooled over the groups, a frame's activity shows it even when no single group does
    z = (lev - clean) / s
    n_frames, n_cols = z.shape
    per = n_cols // n_channels
    act = np.mean(z.reshape(n_frames, n_channels, per), axis=2)  # (frames, channels)
    a5, a25 = _quantiles(act, 0.05, 0.25)
    sa = np.maximum((a25 - a5) / 0.97, 1.0 / math.sqrt(max(per, 1)))
    active = act > a25 + 0.674 * sa + OUTLIER_Z * sa  # (frames, channels)
    w[np.repeat(active, per, axis=1)] = 0.0
    return w


#: A frame overlapping a recording dropout by more than this fraction of its length is left out.
GAP_FRAME_FRACTION = 0.05


def frames_in_gaps(n_frames: int, n_fft: int, hop: int, gaps) -> np.ndarray:
    """Which of ``n_frames`` frames (``n_fft`` samples every ``hop``) overlap the sample ranges
    ``gaps`` by more than :data:`GAP_FRAME_FRACTION` of their length (bool, shape (n_frames,))."""
    start = np.arange(n_frames) * hop
    covered = np.zeros(n_frames)
    for a, b in gaps:
        covered += np.clip(np.minimum(start + n_fft, b) - np.maximum(start, a), 0, None)
    return covered > GAP_FRAME_FRACTION * n_fft


def cross_spectrum(xa: np.ndarray, xb: np.ndarray, sample_rate_hz: float, n_fft: int, *,
                   robust: bool = True, use_numba: bool = True, return_frames: bool = False,
                   gaps=()):
    """Averaged auto- and cross-spectra of two equally long, time-aligned signals.

    Parameters
    ----------
    xa, xb : numpy.ndarray, shape (n,)
        Samples of A and B (same rate, same start up to a fraction of a sample).
    sample_rate_hz : float
        Sampling rate in Hz.
    n_fft : int
        Frame length in samples (hop = n_fft // 2, Hann window).
    robust : bool, default True
        Leave out transient frames per half-octave group (see module doc).
    use_numba : bool, default True
        Use the numba kernels (False: numpy references).
    return_frames : bool, default False
        Also return the frame spectra of A and B (:func:`frame_spectra`, unscaled).
    gaps : sequence of (int, int)
        Sample ranges ``[start, stop)`` where a recording has no signal (dropouts): frames that
        overlap one by more than :data:`GAP_FRAME_FRACTION` of their length are left out.

    Returns
    -------
    CrossSpectrum
        Or ``(CrossSpectrum, frames_a, frames_b)`` with ``return_frames``.
    """
    hop = n_fft // 2
    window = hann(n_fft)
    fa = frame_spectra(xa, n_fft, hop, window)
    fb = frame_spectra(xb, n_fft, hop, window)
    if len(gaps):
        live = ~frames_in_gaps(fa.shape[0], n_fft, hop, gaps)
        fa, fb = fa[live], fb[live]
    n_frames, n_bins = fa.shape
    df = sample_rate_hz / n_fft
    starts, stops, bin_group = _groups(n_bins, df)
    if robust and n_frames >= 4:
        ea, eb = group_energies(fa, fb, starts, stops, use_numba=use_numba)
        n_in = (stops - starts).astype(np.float64)
        both = _frame_weights(np.concatenate([ea, eb], axis=1), np.concatenate([n_in, n_in]), n_channels=2)
        weight = both[:, :n_in.size] * both[:, n_in.size:]
        # keep at least MIN_KEEP_FRACTION of a group's frames (the quietest, by both channels)
        need = max(min(n_frames, 8), int(np.ceil(MIN_KEEP_FRACTION * n_frames)))
        # ... each scaled to the level of the quietest of them: frames of very unequal power
        # (traffic passes) would otherwise let a few frames dominate the average and make
        # independent noise look coherent
        for g in np.flatnonzero(np.count_nonzero(weight, axis=0) < need):
            tot = ea[:, g] / median(ea[:, g]) + eb[:, g] / median(eb[:, g])
            keep = tot <= np.sort(tot)[need - 1]
            e = np.sqrt(np.maximum(ea[:, g] * eb[:, g], 1e-300))
            fill = np.where(keep, float(np.min(e[keep])) / e, 0.0)
            weight[:, g] = np.where(weight[:, g] > 0, weight[:, g], fill)
    else:
        weight = np.ones((n_frames, starts.size))
    gaa, gbb, gab, wsum, w2sum = accumulate_spectra(fa, fb, weight, bin_group, use_numba=use_numba)
    wsum_safe = np.maximum(wsum, 1e-12)
    scale = 2.0 / (sample_rate_hz * float(np.sum(window**2)) * wsum_safe)
    scale_dc = scale.copy()
    scale_dc[0] /= 2.0
    if n_fft % 2 == 0:
        scale_dc[-1] /= 2.0
    count = wsum**2 / np.maximum(w2sum, 1e-300)  # effective number of frames
    freqs = np.arange(n_bins) * df
    rejected = 1.0 - float(np.count_nonzero(weight)) / weight.size if weight.size else 0.0
    cs = CrossSpectrum(freqs_hz=freqs, gaa=gaa * scale_dc, gbb=gbb * scale_dc, gab=gab * scale_dc,
                       count=count, n_frames=n_frames, n_fft=n_fft, hop=hop,
                       sample_rate_hz=float(sample_rate_hz), frames_rejected_fraction=rejected,
                       frame_weight=weight)
    return (cs, fa, fb) if return_frames else cs
