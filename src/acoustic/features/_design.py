"""Fixed analysis design: framing, analysis band, 1/3-octave bands, mel filters, DCT, contrast bands.

Everything here depends only on the sample rate and is cached per rate, so the extractor
itself does no set-up work per recording.  The choices make the feature vector as
independent of the sample rate as the physics allows:

- frames last about 0.256 s at every rate (``n_fft = next fast even length >= 0.256 fs``),
  hop = half a frame, periodic Hann window, frames start at ``t * hop`` (no centring or
  padding, as ``librosa`` with ``center=False``); bin spacing is about 3.9 Hz everywhere;
- spectral-shape features (centroid, bandwidth, roll-off, flatness, contrast, MFCCs, peak
  frequency, tonal lines, per-frame levels) use the fixed *analysis band*
  20 Hz - min(1800 Hz, 0.45 fs): identical for every rate of 4 kHz and above, where leak
  noise lives (50-1000 Hz, physics.md 2.2) and below any anti-alias roll-off;
- 1/3-octave bands have fixed IEC 61260 base-10 centres 20 Hz - 20 kHz; a band whose
  upper edge lies above 0.45 fs is undefined (NaN).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

__all__ = [
    "FRAME_S", "ANALYSIS_BAND_HZ", "ALIAS_FRACTION", "N_MELS", "N_MFCC", "ROLL_PERCENT",
    "CONTRAST_FMIN_HZ", "CONTRAST_N_BANDS", "CONTRAST_QUANTILE", "THIRD_OCTAVE_NOMINAL_HZ",
    "Design", "design_for",
]

#: Nominal frame duration in s (the exact one is ``n_fft / fs``).
FRAME_S = 0.256
#: Analysis band in Hz (the upper edge is capped at ``ALIAS_FRACTION * fs``).
ANALYSIS_BAND_HZ = (20.0, 1800.0)
#: Highest usable frequency as a fraction of the sample rate (anti-alias roll-off).
ALIAS_FRACTION = 0.45
N_MELS = 32
N_MFCC = 13
ROLL_PERCENT = 0.85
CONTRAST_FMIN_HZ = 100.0
CONTRAST_N_BANDS = 4
CONTRAST_QUANTILE = 0.02
#: Nominal 1/3-octave centres (Hz), IEC 61260 / ISO 266, 20 Hz to 20 kHz.
THIRD_OCTAVE_NOMINAL_HZ = (
    20, 25, 31.5, 40, 50, 63, 80, 100, 125, 160, 200, 250, 315, 400, 500, 630, 800,
    1000, 1250, 1600, 2000, 2500, 3150, 4000, 5000, 6300, 8000, 10000, 12500, 16000, 20000,
)
_THIRD_OCTAVE_INDEX = tuple(range(-17, 14))  # exact centre 1000 * 10**(n/10)


def _even_fast_len(n: int) -> int:
    from scipy.fft import next_fast_len

    m = next_fast_len(max(int(n), 16), real=True)
    while m % 2:
        m = next_fast_len(m + 1, real=True)
    return int(m)


def hz_to_mel(f):
    """Slaney mel scale (linear below 1 kHz, logarithmic above), as ``librosa`` with htk=False."""
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = f / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, min_log_hz) / min_log_hz) / logstep, mels)


def mel_to_hz(m):
    """Inverse of :func:`hz_to_mel`."""
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filterbank(sample_rate: float, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Slaney-normalised triangular mel filters, shape (n_mels, n_fft // 2 + 1).

    Same construction as ``librosa.filters.mel(htk=False, norm="slaney")`` (float64 here).
    """
    freqs = np.arange(n_fft // 2 + 1) * (sample_rate / n_fft)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - freqs[None, :]
    w = np.zeros((n_mels, freqs.size))
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        w[i] = np.maximum(0.0, np.minimum(lower, upper))
    w *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, None]
    return w


def dct_ortho_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Orthonormal DCT-II matrix, shape (n_out, n_in): ``y = C @ x`` (scipy ``dct(norm='ortho')``)."""
    n = np.arange(n_in)
    k = np.arange(n_out)[:, None]
    c = np.cos(np.pi * k * (2 * n + 1) / (2.0 * n_in)) * np.sqrt(2.0 / n_in)
    c[0] /= np.sqrt(2.0)
    return c


def third_octave_edges_hz() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact centres, lower and upper edges (Hz) of the 1/3-octave bands (base-10 definition)."""
    centres = 1000.0 * 10.0 ** (np.asarray(_THIRD_OCTAVE_INDEX, dtype=np.float64) / 10.0)
    return centres, centres * 10.0 ** (-1.0 / 20.0), centres * 10.0 ** (1.0 / 20.0)


def _bin_band_weights(freqs: np.ndarray, df: float, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Fraction of each bin's width ``[f - df/2, f + df/2]`` inside each band; shape (n_bins, n_bands)."""
    a = freqs[:, None] - df / 2.0
    b = freqs[:, None] + df / 2.0
    overlap = np.clip(np.minimum(b, hi[None, :]) - np.maximum(a, lo[None, :]), 0.0, None)
    return overlap / df


def contrast_segments(freqs_band: np.ndarray, fmin: float, n_bands: int, quantile: float):
    """Sub-band index segments of spectral contrast, with librosa's rules, on the analysis-band bins.

    Returns an int array of shape (n_bands + 1, 3): start, stop (exclusive, band-local bin
    indices) and the number of bins averaged for peak and valley; a segment with fewer
    than 2 bins is marked with ``start = stop = 0`` (contrast undefined, NaN).
    """
    octa = np.zeros(n_bands + 2)
    octa[1:] = fmin * 2.0 ** np.arange(n_bands + 1)
    segs = np.zeros((n_bands + 1, 3), dtype=np.int64)
    nb = freqs_band.size
    for k in range(n_bands + 1):
        f_low, f_high = octa[k], octa[k + 1]
        mask = (freqs_band >= f_low) & (freqs_band <= f_high)
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            continue
        start, stop = int(idx[0]), int(idx[-1]) + 1
        if k > 0 and start > 0:
            start -= 1
        if k == n_bands:
            stop = nb
        count = stop - start  # librosa counts the band before dropping its last bin
        if k < n_bands:
            stop -= 1
        if stop - start < 2:
            continue
        n_avg = max(int(np.rint(quantile * count)), 1)
        segs[k] = (start, stop, n_avg)
    return segs


@dataclasses.dataclass(frozen=True)
class Design:
    """Everything fixed by the sample rate (see the module docstring)."""

    sample_rate: float
    n_fft: int
    hop: int
    window: np.ndarray          # periodic Hann, (n_fft,)
    window_power: float         # sum(window**2)
    freqs: np.ndarray           # bin centre frequencies, Hz, (n_bins,)
    df: float                   # bin spacing, Hz
    band_lo_hz: float
    band_hi_hz: float
    i0: int                     # first analysis-band bin
    i1: int                     # one past the last analysis-band bin
    psd_scale: np.ndarray       # |X|^2 -> one-sided PSD (units^2/Hz), (n_bins,)
    bin_power_scale: np.ndarray # psd_scale * df: |X|^2 -> power in the bin (units^2)
    mel_start: np.ndarray       # per mel filter: first band-local bin with a nonzero weight
    mel_ptr: np.ndarray         # per mel filter: its weights are mel_w[mel_ptr[m]:mel_ptr[m+1]]
    mel_w: np.ndarray
    mel_dense: np.ndarray       # (N_MELS, n_band_bins) for the numpy reference
    dct: np.ndarray             # (N_MFCC, N_MELS)
    contrast: np.ndarray        # (CONTRAST_N_BANDS + 1, 3)
    tob_centres_hz: np.ndarray  # exact 1/3-octave centres
    tob_valid: np.ndarray       # bool, band below 0.45 fs
    tob_weights: np.ndarray     # (n_bins, n_bands) fractions, times df

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def frame_s(self) -> float:
        return self.n_fft / self.sample_rate


@functools.lru_cache(maxsize=32)
def design_for(sample_rate: float, band_hz: tuple[float, float] | None = None) -> Design:
    """The analysis design for one sample rate (cached).

    Parameters
    ----------
    sample_rate : float
        Hz.
    band_hz : (float, float) or None
        Analysis band override (Hz); default :data:`ANALYSIS_BAND_HZ` capped at 0.45 fs.
        ``(0, fs/2)`` gives librosa's full-band definitions (used by the benchmark).
    """
    fs = float(sample_rate)
    n_fft = _even_fast_len(math.ceil(FRAME_S * fs - 1e-9))
    hop = n_fft // 2
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)  # periodic Hann
    wp = float(np.sum(window ** 2))
    n_bins = n_fft // 2 + 1
    freqs = np.arange(n_bins) * (fs / n_fft)
    df = fs / n_fft
    if band_hz is None:
        lo, hi = ANALYSIS_BAND_HZ[0], min(ANALYSIS_BAND_HZ[1], ALIAS_FRACTION * fs)
    else:
        lo, hi = float(band_hz[0]), float(band_hz[1])
    i0 = int(np.searchsorted(freqs, lo - 1e-9))
    i1 = int(np.searchsorted(freqs, hi + 1e-9))
    psd_scale = np.full(n_bins, 2.0 / (fs * wp))
    psd_scale[0] /= 2.0
    psd_scale[-1] /= 2.0
    fb = freqs[i0:i1]
    mel = mel_filterbank(fs, n_fft, N_MELS, max(lo, 0.0), hi)[:, i0:i1]
    starts = np.zeros(N_MELS, dtype=np.int64)
    ptr = np.zeros(N_MELS + 1, dtype=np.int64)
    wts: list = []
    for m in range(N_MELS):
        nz = np.flatnonzero(mel[m] > 0)
        if nz.size:
            starts[m] = nz[0]
            wts.extend(mel[m, nz[0]:nz[-1] + 1].tolist())  # contiguous support of the triangle
        ptr[m + 1] = len(wts)
    c, clo, chi = third_octave_edges_hz()
    valid = chi <= ALIAS_FRACTION * fs + 1e-9
    tw = _bin_band_weights(freqs, df, clo, chi)
    return Design(
        sample_rate=fs, n_fft=n_fft, hop=hop, window=window, window_power=wp, freqs=freqs, df=df,
        band_lo_hz=lo, band_hi_hz=hi, i0=i0, i1=i1, psd_scale=psd_scale, bin_power_scale=psd_scale * df,
        mel_start=starts, mel_ptr=ptr, mel_w=np.asarray(wts, dtype=np.float64),
        mel_dense=mel, dct=dct_ortho_matrix(N_MELS, N_MFCC),
        contrast=contrast_segments(fb, CONTRAST_FMIN_HZ, CONTRAST_N_BANDS, CONTRAST_QUANTILE),
        tob_centres_hz=c, tob_valid=valid, tob_weights=tw * df,
    )
