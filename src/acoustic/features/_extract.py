"""The fused feature extractor: one framing and one STFT of a recording feed every feature."""

from __future__ import annotations

import dataclasses
import math
import threading
import warnings
from pathlib import Path

import numpy as np

from .._errors import AcousticWarning, ParameterError, RecordingError
from ..recording import MAX_SAMPLE_RATE_HZ, MIN_SAMPLE_RATE_HZ, Recording
from . import _design as D

__all__ = ["FEATURES_VERSION", "LEVEL_REFERENCE", "FeatureVector", "extract_features", "extract_many",
           "feature_names", "feature_units", "feature_descriptions", "min_duration_s"]

#: Version of the feature definitions; bump when a name, order or definition changes.
FEATURES_VERSION = "1"
#: What the dB levels are relative to.
LEVEL_REFERENCE = "dB re 1 calibrated unit (samples / 10**(gain_db/20)); squared for power"

_MIN_FRAMES_STATS = 8


def _tob_label(f) -> str:
    return f"{f:g}"


def _build_schema():
    band = "the analysis band (20 Hz - min(1800 Hz, 0.45 fs))"
    rows = [
        ("rms_level_db", "dB", "Full-band RMS level: energy mean of the per-frame mean squares, calibrated"),
        ("band_level_db", "dB", f"Level in {band}, energy mean over frames"),
    ]
    for f in D.THIRD_OCTAVE_NOMINAL_HZ:
        rows.append((f"third_octave_{_tob_label(f)}hz_db", "dB",
                     f"Calibrated 1/3-octave band level, nominal centre {f:g} Hz (NaN above 0.45 fs)"))
    rows += [
        ("spectral_centroid_hz", "Hz", f"Mean over frames of the magnitude-weighted mean frequency in {band}"),
        ("spectral_centroid_std_hz", "Hz", "Standard deviation over frames of the spectral centroid"),
        ("spectral_bandwidth_hz", "Hz", "Mean over frames of the magnitude-weighted standard deviation of frequency"),
        ("spectral_rolloff_hz", "Hz", "Mean over frames of the frequency below which 85 % of the band's magnitude lies"),
        ("spectral_flatness", "", "Mean over frames of geometric / arithmetic mean power (1 = white, 0 = tonal)"),
        ("contrast_below_100hz_db", "dB", "Spectral contrast (peak/valley, 2 % quantiles), 20-100 Hz"),
        ("contrast_100_200hz_db", "dB", "Spectral contrast, 100-200 Hz"),
        ("contrast_200_400hz_db", "dB", "Spectral contrast, 200-400 Hz"),
        ("contrast_400_800hz_db", "dB", "Spectral contrast, 400-800 Hz"),
        ("contrast_above_800hz_db", "dB", "Spectral contrast, 800 Hz - top of the analysis band"),
        ("zero_crossing_rate", "1/sample", "Mean over frames of zero crossings per sample (full band, rate-dependent)"),
        ("zero_crossings_per_s", "1/s", "Zero crossings per second (zero_crossing_rate x fs)"),
    ]
    for i in range(D.N_MFCC):
        rows.append((f"mfcc_{i}", "dB", f"Mean over frames of MFCC {i} (32 Slaney mel bands over {band})"))
    rows += [
        ("peak_frequency_hz", "Hz", f"Frequency of the maximum of the mean power spectrum in {band} (interpolated)"),
        ("peak_to_median_db", "dB", "Mean-spectrum maximum over its median in the analysis band (narrow-bandness)"),
        ("n_tonal_lines", "", "Number of narrow spectral lines (>= 6 dB above the local background)"),
        ("tonal_max_prominence_db", "dB", "Largest prominence of a spectral line over its local background (0 if none)"),
        ("mains_50hz_flag", "", "1 if lines at >= 2 harmonics of 50 Hz (electrical), else 0"),
        ("mains_60hz_flag", "", "1 if lines at >= 2 harmonics of 60 Hz (electrical), else 0"),
        ("pump_comb_flag", "", "1 if a harmonic comb (>= 3 lines) with a non-mains fundamental is present"),
        ("pump_fundamental_hz", "Hz", "Fundamental of that comb (NaN when none)"),
        ("level_l10_db", "dB", "Per-frame band level exceeded 10 % of the time"),
        ("level_l50_db", "dB", "Per-frame band level exceeded 50 % of the time (median)"),
        ("level_l90_db", "dB", "Per-frame band level exceeded 90 % of the time"),
        ("level_l95_db", "dB", "Per-frame band level exceeded 95 % of the time (floor)"),
        ("level_mode_db", "dB", "Mode of the per-frame band levels (0.5 dB histogram bins)"),
        ("level_spread_db", "dB", "L10 - L90 of the per-frame band levels (small = stationary)"),
        ("level_std_db", "dB", "Standard deviation of the per-frame band levels"),
        ("level_skewness", "", "Skewness of the per-frame band levels (> 0: loud transients)"),
        ("level_kurtosis", "", "Excess kurtosis of the per-frame band levels"),
        ("sample_kurtosis", "", "Excess kurtosis of the samples (0 for Gaussian noise, large for impulses)"),
    ]
    return tuple(rows)


_SCHEMA = _build_schema()
_NAMES = tuple(r[0] for r in _SCHEMA)
_UNITS = tuple(r[1] for r in _SCHEMA)
_INDEX = {n: i for i, n in enumerate(_NAMES)}


def feature_names() -> tuple[str, ...]:
    """The fixed feature names, in vector order (the same for every sample rate)."""
    return _NAMES


def feature_units() -> tuple[str, ...]:
    """Units of :func:`feature_names` (``"dB"`` levels are :data:`LEVEL_REFERENCE`)."""
    return _UNITS


def feature_descriptions() -> dict[str, str]:
    """One-line definition of every feature."""
    return {r[0]: r[2] for r in _SCHEMA}


@dataclasses.dataclass(frozen=True, eq=False)
class FeatureVector:
    """Features of one recording.

    Attributes
    ----------
    values : ndarray, shape (n_features,)
        float64, NaN where undefined (e.g. 1/3-octave bands above 0.45 fs).
    names, units : tuple of str
        Same for every recording (:func:`feature_names`, :func:`feature_units`).
    version : str
        :data:`FEATURES_VERSION`.
    band_centres_hz : ndarray, shape (31,)
        Exact 1/3-octave centres, Hz (base-10, 20 Hz - 20 kHz).
    band_levels_db : ndarray, shape (31,)
        Calibrated 1/3-octave band levels, dB re 1 calibrated unit; NaN above 0.45 fs.
    frame_levels_db : ndarray, shape (n_frames,)
        Per-frame analysis-band levels, dB re 1 calibrated unit.
    frame_times_s : ndarray, shape (n_frames,)
        Centre time of each frame from the start of the recording, s.
    sample_rate : float
        Hz.
    frame_length, hop_length : int
        Samples.
    analysis_band_hz : (float, float)
        Band of the spectral-shape features and frame levels, Hz.
    source : str
        File name (or sensor id) the features came from.
    """

    values: np.ndarray
    names: tuple
    units: tuple
    version: str
    band_centres_hz: np.ndarray
    band_levels_db: np.ndarray
    frame_levels_db: np.ndarray
    frame_times_s: np.ndarray
    sample_rate: float
    frame_length: int
    hop_length: int
    analysis_band_hz: tuple
    source: str = ""

    def __getitem__(self, name: str) -> float:
        try:
            return float(self.values[_INDEX[name]])
        except KeyError:
            raise KeyError(f"no feature named {name!r}") from None

    def as_dict(self) -> dict:
        """``{name: value}`` with NaN as ``None`` (JSON-friendly)."""
        return {n: (float(v) if math.isfinite(v) else None) for n, v in zip(self.names, self.values.tolist())}

    def units_dict(self) -> dict:
        """``{name: unit}``."""
        return dict(zip(self.names, self.units))


def min_duration_s(sample_rate: float) -> float:
    """Shortest recording the extractor accepts at ``sample_rate`` (one frame), s."""
    d = D.design_for(float(sample_rate))
    return d.n_fft / d.sample_rate


def _check_rate(fs: float, where: str) -> None:
    if not (MIN_SAMPLE_RATE_HZ <= fs <= MAX_SAMPLE_RATE_HZ):
        raise ParameterError(f"{where}: sample rate {fs:g} Hz is outside the supported 1000-96000 Hz")


def _percentile_levels(levels: np.ndarray):
    """L10, L50, L90, L95: the levels exceeded 10/50/90/95 % of the time, i.e. the 90th, 50th,
    10th and 5th percentiles with linear interpolation (``numpy.percentile``'s default)."""
    v = np.sort(levels)
    n = v.size
    out = []
    for q in (0.90, 0.50, 0.10, 0.05):
        pos = q * (n - 1)
        i = int(pos)
        f = pos - i
        out.append(float(v[i]) if i + 1 >= n else float(v[i] + (v[i + 1] - v[i]) * f))
    return tuple(out)


def _mode_db(levels: np.ndarray, bin_db: float = 0.5) -> float:
    lo = math.floor(levels.min() / bin_db) * bin_db
    n = max(int(math.ceil((levels.max() - lo) / bin_db)), 1)
    counts = np.bincount(np.minimum(((levels - lo) / bin_db).astype(np.int64), n - 1), minlength=n)
    return float(lo + (np.argmax(counts) + 0.5) * bin_db)


def _moments(v: np.ndarray):
    d = v - v.mean()
    m2 = float(np.mean(d * d))
    if v.size < 4 or m2 <= 1e-18:
        return float(math.sqrt(m2)), math.nan, math.nan
    return math.sqrt(m2), float(np.mean(d ** 3) / m2 ** 1.5), float(np.mean(d ** 4) / m2 ** 2 - 3.0)


def extract_features(rec: Recording, *, band_hz: tuple[float, float] | None = None,
                     use_numba: bool = True) -> FeatureVector:
    """Extract the feature vector of one recording in one fused pass.

    One framing (``design_for(fs)``: ~0.256 s periodic-Hann frames, 50 % overlap, frames
    inside the recording) and one STFT, processed block by block, feed all features: the
    time-domain pass gives per-frame RMS and zero-crossing rate; the spectral pass gives
    per-frame centroid, bandwidth, roll-off, flatness, contrast, band power and mel
    energies, and the mean power spectrum from which the 1/3-octave levels, peak frequency
    and tonal lines come.

    Parameters
    ----------
    rec : Recording
        The recording; levels use ``rec.calibrated()`` (samples / 10**(gain_db/20)).
    band_hz : (float, float), optional
        Override the analysis band (Hz).  The default, 20 Hz - min(1800 Hz, 0.45 fs), keeps
        the vector rate-independent; ``(0, fs/2)`` reproduces librosa's full-band
        definitions (benchmark and tests).
    use_numba : bool, default True
        Use the compiled kernels (False runs the numpy references, for tests).

    Returns
    -------
    FeatureVector

    Raises
    ------
    ParameterError
        Sample rate outside 1-96 kHz, or a bad ``band_hz``.
    RecordingError
        Recording shorter than one frame, silent, constant or with non-finite samples.

    Warns
    -----
    AcousticWarning
        Fewer than 8 frames (stationarity statistics unreliable); digitally silent frames.
    """
    return _extract(rec, band_hz, use_numba)[0]


def _extract(rec: Recording, band_hz=None, use_numba: bool = True):
    """:func:`extract_features` plus the calibrated samples it worked on (``rec.calibrated()``).

    Its warnings name the caller of :func:`extract_features` (one frame up from here).
    """
    if not isinstance(rec, Recording):
        raise ParameterError(f"extract_features expects a Recording, got {type(rec).__name__}")
    where = rec.name
    fs = float(rec.sample_rate)
    _check_rate(fs, where)
    if band_hz is not None:
        lo, hi = (float(v) for v in band_hz)
        if not (0.0 <= lo < hi <= fs / 2.0):
            raise ParameterError(f"band_hz must satisfy 0 <= low < high <= {fs / 2:g} Hz, got {band_hz}")
        band_hz = (lo, hi)
    d = D.design_for(fs, band_hz)
    n = rec.n_samples
    if n < d.n_fft:
        raise RecordingError(
            f"{where}: recording is {n / fs:.3f} s long; features need at least one frame of "
            f"{d.n_fft} samples ({d.n_fft / fs:.3f} s at {fs:g} Hz)"
        )
    x = rec.calibrated()
    cal = 10.0 ** (-rec.gain_db / 20.0)
    nf = 1 + (n - d.n_fft) // d.hop
    ms, zcr, mom, st = frame_passes(x, d, cal=cal, use_numba=use_numba)
    _, m2, m4, lo, hi, bad = mom
    if bad:
        raise RecordingError(f"{where}: recording holds {bad} NaN or Inf sample(s)")
    if lo == hi:
        if hi == 0.0:
            raise RecordingError(f"{where}: recording is silent (all samples are zero)")
        raise RecordingError(f"{where}: recording is constant ({x[0]:g}); no signal")
    if nf < _MIN_FRAMES_STATS:
        warnings.warn(f"{where}: only {nf} frame(s) of {d.n_fft / fs:.3f} s; level statistics "
                      f"(L10..L95, spread, kurtosis) are unreliable below {_MIN_FRAMES_STATS}",
                      AcousticWarning, stacklevel=3)
    return _assemble(rec, d, nf, ms, zcr, m2, m4, st, use_numba=use_numba), x


_WORK = threading.local()
#: Size of the reusable STFT work buffers (input frames), bytes.
_BLOCK_BYTES = 4 << 20
_NUMPY_FFT_OUT = np.lib.NumpyVersion(np.__version__) >= "2.0.0"


def _work_buffers(d):
    """Per-thread windowed-frame and spectrum buffers for design ``d``, reused between calls.

    Allocating fresh megabyte arrays for every STFT costs more than the FFT itself (first
    touch of new pages), so the blocks are written into the same buffers each time.
    """
    rows = max(4, min(512, _BLOCK_BYTES // (8 * d.n_fft)))
    key = (d.n_fft, rows)
    bufs = getattr(_WORK, "bufs", None)
    if bufs is None or bufs[0] != key:
        bufs = (key, np.empty((rows, d.n_fft)), np.empty((rows, d.n_bins), dtype=np.complex128))
        _WORK.bufs = bufs
    return bufs[1], bufs[2]


def stft_blocks(x: np.ndarray, d):
    """Yield ``(first_frame, Z)`` blocks of the STFT of ``x`` with design ``d``.

    ``Z`` (n_block, n_bins) is the unnormalised rFFT of periodic-Hann-windowed frames that
    start at ``t * hop`` (librosa's ``stft(center=False)`` scaling); it is a reused buffer,
    valid until the next block.
    """
    nf = 1 + (x.size - d.n_fft) // d.hop
    frames = np.lib.stride_tricks.sliding_window_view(x, d.n_fft)[::d.hop]
    win, spec = _work_buffers(d)
    rows = win.shape[0]
    for a in range(0, nf, rows):
        b = min(a + rows, nf)
        w = win[:b - a]
        np.multiply(frames[a:b], d.window, out=w)
        if _NUMPY_FFT_OUT:
            z = spec[:b - a]
            np.fft.rfft(w, axis=1, out=z)
        else:  # pragma: no cover - numpy < 2 has no out=
            from scipy.fft import rfft

            z = rfft(w, axis=1)
        yield a, z


def frame_passes(x: np.ndarray, d, *, cal: float = 1.0, use_numba: bool = True):
    """The two passes of the extractor over calibrated samples ``x`` with design ``d``.

    Returns per-frame mean squares ``ms`` and zero-crossing rates ``zcr`` (n_frames,), the
    sample statistics ``(mean, m2, m4, min, max, n_nonfinite)`` and the :class:`~acoustic.features._kernels.SpectralStats`
    (per-frame spectral arrays and the summed power spectrum).  ``cal`` is the calibration
    factor (zero-crossing threshold 1e-10 full scale).  One STFT, computed block by block
    (:func:`stft_blocks`); ``use_numba=False`` runs the numpy twins on the whole STFT.
    """
    from . import _kernels as K

    nf = 1 + (x.size - d.n_fft) // d.hop
    if use_numba:
        ms, zcr, mom = K.time_stats(x, d.n_fft, d.hop, 1e-10 * cal)
        st = K.SpectralStats(nf, d.n_bins, D.N_MELS, d.contrast.shape[0])
        for a, z in stft_blocks(x, d):
            K.spectral_stats(z, d, st, a)
    else:
        from scipy.fft import rfft

        ms, zcr, mom = K.time_stats_reference(x, d.n_fft, d.hop, 1e-10 * cal)
        frames = np.lib.stride_tricks.sliding_window_view(x, d.n_fft)[::d.hop]
        st = K.spectral_stats_reference(rfft(frames * d.window, axis=1), d)
    return ms, zcr, mom, st


_TOB_SLICE = slice(_INDEX["third_octave_20hz_db"], _INDEX["third_octave_20000hz_db"] + 1)
_CONTRAST_SLICE = slice(_INDEX["contrast_below_100hz_db"], _INDEX["contrast_above_800hz_db"] + 1)
_MFCC_SLICE = slice(_INDEX["mfcc_0"], _INDEX[f"mfcc_{D.N_MFCC - 1}"] + 1)
_SHAPE_NAMES = ("spectral_centroid_hz", "spectral_bandwidth_hz", "spectral_rolloff_hz", "spectral_flatness")


def _frame_mean(a: np.ndarray, axis=None):
    """Mean over frames ignoring NaN (frames with no signal), without nanmean's overhead."""
    m = np.mean(a, axis=axis)
    if np.all(np.isfinite(m)):
        return m
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(a, axis=axis)


def _assemble(rec, d, nf, ms, zcr, m2, m4, st, *, use_numba: bool = True) -> FeatureVector:
    from ._tonal import tonal_summary

    fs = d.sample_rate
    where = rec.name
    v = np.full(len(_NAMES), np.nan)
    ix = _INDEX
    tiny = 1e-300
    v[ix["rms_level_db"]] = 10.0 * math.log10(max(float(np.mean(ms)), tiny))
    bp = st.band_power
    n_silent = int(np.count_nonzero(bp <= 0.0))
    if n_silent:
        warnings.warn(f"{where}: {n_silent} of {nf} frames hold no signal in the analysis band",
                      AcousticWarning, stacklevel=4)
    v[ix["band_level_db"]] = 10.0 * math.log10(max(float(np.mean(bp)), tiny))
    frame_levels = 10.0 * np.log10(np.maximum(bp, tiny))

    psd = st.power_sum * (d.psd_scale / nf)  # mean one-sided PSD, units^2/Hz
    tob = 10.0 * np.log10(np.maximum(psd @ d.tob_weights, tiny))
    tob[~d.tob_valid] = np.nan
    v[_TOB_SLICE] = tob

    shape = _frame_mean(np.stack((st.centroid, st.bandwidth, st.rolloff, st.flatness)), axis=1)
    for name, val in zip(_SHAPE_NAMES, shape.tolist()):
        v[ix[name]] = val
    c = st.centroid[np.isfinite(st.centroid)]
    v[ix["spectral_centroid_std_hz"]] = float(np.std(c)) if c.size else np.nan
    v[_CONTRAST_SLICE] = _frame_mean(st.contrast, axis=0)
    zc = float(np.mean(zcr))
    v[ix["zero_crossing_rate"]] = zc
    v[ix["zero_crossings_per_s"]] = zc * fs
    v[_MFCC_SLICE] = np.mean(mfcc_from_mel(st.mel * mel_psd_scale(d), d.dct), axis=0)

    for k, val in tonal_summary(psd[d.i0:d.i1], d.freqs[d.i0:d.i1], d.df, nf, use_numba=use_numba).items():
        v[ix[k]] = val

    l10, l50, l90, l95 = _percentile_levels(frame_levels)
    v[ix["level_l10_db"]] = l10
    v[ix["level_l50_db"]] = l50
    v[ix["level_l90_db"]] = l90
    v[ix["level_l95_db"]] = l95
    v[ix["level_mode_db"]] = _mode_db(frame_levels)
    v[ix["level_spread_db"]] = l10 - l90
    sd, sk, ku = _moments(frame_levels)
    v[ix["level_std_db"]] = sd
    v[ix["level_skewness"]] = sk
    v[ix["level_kurtosis"]] = ku
    v[ix["sample_kurtosis"]] = m4 / m2 ** 2 - 3.0 if m2 > 0 else np.nan

    times = (np.arange(nf) * d.hop + d.n_fft / 2.0) / fs
    return FeatureVector(
        values=v, names=_NAMES, units=_UNITS, version=FEATURES_VERSION,
        band_centres_hz=d.tob_centres_hz.copy(), band_levels_db=tob, frame_levels_db=frame_levels,
        frame_times_s=times, sample_rate=fs, frame_length=d.n_fft, hop_length=d.hop,
        analysis_band_hz=(d.band_lo_hz, d.band_hi_hz), source=where,
    )


def mel_psd_scale(d) -> float:
    """Factor turning librosa-scaled mel energies (sums of ``|X|^2``) into PSD units (units^2/Hz).

    MFCCs are computed from PSD-scaled mel energies so that they do not depend on the frame
    length in samples (hence on the sample rate); relative to ``librosa.feature.mfcc`` only
    ``mfcc_0`` changes, by ``sqrt(n_mels) * 10 log10(2 / (fs * sum(window**2)))`` dB.
    """
    return 2.0 / (d.sample_rate * d.window_power)


#: MFCC dB floor below the recording's loudest mel energy (librosa clips at 80 dB with ``top_db``).
MFCC_FLOOR_DB = 120.0


def mfcc_from_mel(mel: np.ndarray, dct: np.ndarray) -> np.ndarray:
    """MFCCs (n_frames, n_mfcc) from mel energies (n_frames, n_mels): orthonormal DCT-II of
    ``10 log10(mel)``, floored :data:`MFCC_FLOOR_DB` below the maximum (gain-independent)."""
    if mel.size == 0:
        return np.zeros((0, dct.shape[0]))
    top = float(np.max(mel))
    floor = max(top * 10.0 ** (-MFCC_FLOOR_DB / 10.0), 1e-300)
    db = 10.0 * np.log10(np.maximum(mel, floor))
    return db @ dct.T


def extract_many(recs, *, channel: int = 0) -> tuple[np.ndarray, tuple[str, ...]]:
    """Feature matrix of several recordings.

    Parameters
    ----------
    recs : iterable of Recording or path
        Recordings, or WAV/FLAC paths (read with their sidecars).
    channel : int, default 0
        Channel to read from multi-channel files.

    Returns
    -------
    X : ndarray, shape (n_recs, n_features)
    names : tuple of str
        :func:`feature_names`.
    """
    rows = []
    for r in recs:
        if isinstance(r, (str, Path)):
            from ..io import read_recording

            r = read_recording(r, channel=channel)
        rows.append(extract_features(r).values)
    X = np.vstack(rows) if rows else np.zeros((0, len(_NAMES)))
    return X, _NAMES
