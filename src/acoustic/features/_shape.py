"""Level-invariant ("shape") features of a recording, for a classifier that must not need calibration.

Every feature here is unchanged when the samples are multiplied by any gain: band energies are
taken relative to the recording's own total, levels over time relative to their own median, lines
relative to their local background.  The one absolute quantity, the 10th-percentile frame level in
calibrated units (:attr:`ShapeFeatures.level_p10_db`), is kept *out* of the vector: a classifier
may use it only for recordings whose sidecar says ``"calibrated": true``.

Analysis band
    :data:`BAND_LO_HZ` - :data:`BAND_HI_HZ` (5-900 Hz), split into :data:`N_BANDS` log-spaced bands
    (about 0.54 octave each).  It starts this low because leaks on plastic pipe put most of their
    energy below 60 Hz; it stops at 0.45 x 2 kHz, so every supported rate from 2 kHz up has the
    whole band.  Above it, three octave bands (0.9-1.8, 1.8-3.6, 3.6-7.2 kHz) are given relative to
    the band's total and are NaN when their top edge is above 0.45 fs (the anti-alias region).

Spectrum
    Welch mean power spectrum with Hann windows of a power-of-two length giving <= 1 Hz bins
    (shorter when the recording is under two windows long), 50 % overlap, each segment's mean removed.

Frames (stationarity)
    Non-overlapping Hann frames of about 0.25 s; per frame the power in 5-900 Hz (and in 5-100 and
    100-900 Hz), in dB; statistics of those levels relative to each other.

Mains lines
    Prominence of the spectrum over its running median (+-10 Hz) near each harmonic ``h f0``
    (h = 1..10, f0 = 50 or 60 Hz; multiples of 300 Hz, shared by both families, are left out),
    tolerance ``max(1.5 df, 0.6 % h f0)`` for grid drift.  A family is flagged when it has at least
    two harmonics at :data:`LINE_DB` or one of its first two harmonics (50/100 or 60/120 Hz) at
    :data:`STRONG_LINE_DB`, *and* it scores above the other family: so a 60 Hz grid never raises
    the 50 Hz flag, and a lone strong 100 or 120 Hz line counts for its family.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .._errors import RecordingError

__all__ = ["SHAPE_VERSION", "ShapeFeatures", "shape_feature_names", "shape_feature_units", "shape_features",
           "BAND_LO_HZ", "BAND_HI_HZ", "N_BANDS", "MIN_DURATION_S"]

#: Version of the shape feature definitions; bump when a name, order or definition changes.
SHAPE_VERSION = "shape-1"
#: Analysis band, Hz: from below the plastic-pipe leak band to 0.45 x the lowest supported rate (2 kHz).
BAND_LO_HZ, BAND_HI_HZ = 5.0, 900.0
#: Log-spaced bands over the analysis band.
N_BANDS = 14
#: Octave bands above the analysis band (relative to the band's total; NaN above 0.45 fs).
HIGH_BANDS_HZ = ((900.0, 1800.0), (1800.0, 3600.0), (3600.0, 7200.0))
#: Finest Welch bin width, Hz (resolves 5-10 Hz bands and mains drift).
WELCH_RESOLUTION_HZ = 1.0
#: Frame length of the stationarity statistics, s.
FRAME_S = 0.25
#: Fewest frames accepted (shorter recordings are refused), and the shortest duration the
#: classifier's training covers (shorter ones are "out of domain").
MIN_FRAMES = 4
MIN_DURATION_S = 2.0
#: Running-median half-width of the line background, Hz.
LINE_BG_HALF_HZ = 10.0
#: A line counts at this prominence over its background, dB (Welch noise at >= 4 averages stays
#: below it with high probability); a lone mains line counts at STRONG_LINE_DB.
LINE_DB = 8.0
STRONG_LINE_DB = 12.0
#: Floor of relative energies (dB below the band total) so that empty bands stay finite.
FLOOR_DB = -90.0
_SPLIT_HZ = 100.0
_LOW_EDGE_HZ = 60.0


def _band_edges() -> np.ndarray:
    return BAND_LO_HZ * (BAND_HI_HZ / BAND_LO_HZ) ** (np.arange(N_BANDS + 1) / N_BANDS)


def _schema():
    e = _band_edges()
    rows = [(f"band_{e[i]:.0f}_{e[i + 1]:.0f}hz_rel_db", "dB",
             f"Energy in {e[i]:.1f}-{e[i + 1]:.1f} Hz relative to the 5-900 Hz total") for i in range(N_BANDS)]
    rows += [(f"band_{int(lo)}_{int(hi)}hz_rel_db", "dB",
              f"Energy in {lo:g}-{hi:g} Hz relative to the 5-900 Hz total (NaN above 0.45 fs)")
             for lo, hi in HIGH_BANDS_HZ]
    rows += [
        ("below_60hz_rel_db", "dB", "Energy in 5-60 Hz relative to the 5-900 Hz total"),
        ("band_200_800hz_rel_db", "dB", "Energy in 200-800 Hz relative to the 5-900 Hz total"),
        ("in_band_rel_db", "dB", "Energy in 5-900 Hz relative to all energy from 5 Hz to 0.45 fs"),
        ("log_centroid_hz", "Hz", "Power-weighted geometric mean frequency in 5-900 Hz"),
        ("log_spread_oct", "octave", "Power-weighted standard deviation of log2 frequency in 5-900 Hz"),
        ("slope_db_per_oct", "dB/octave", "Least-squares slope of the band energies (per octave) against log2 f"),
        ("flatness_db", "dB", "Geometric over arithmetic mean of the 5-900 Hz spectrum bins (0 = white)"),
        ("band_flatness_db", "dB", "The same over the 14 band densities (smooth-shape flatness)"),
        ("max_line_db", "dB", "Largest prominence of a bin over the running median, 5-900 Hz"),
        ("n_lines", "", "Number of local maxima at least 8 dB over the running median, 5-900 Hz"),
        ("line_energy_rel_db", "dB", "Energy of bins 8 dB over the running median, relative to the band total"),
        ("mains_score_db", "dB", "Sum of the 3 largest mains-harmonic prominences of the stronger family"),
        ("spread_p90_p10_db", "dB", "L10 - L90 of the 0.25 s frame levels in 5-900 Hz"),
        ("spread_p50_p10_db", "dB", "Median - 10th percentile of the frame levels"),
        ("spread_max_p50_db", "dB", "Loudest frame - median frame level"),
        ("frame_diff_db", "dB", "Median absolute change of level between consecutive frames"),
        ("low_spread_db", "dB", "L10 - L90 of the frame levels in 5-100 Hz"),
        ("mid_spread_db", "dB", "L10 - L90 of the frame levels in 100-900 Hz"),
        ("crest_db", "dB", "Peak over RMS of the (mean-removed) samples"),
        ("kurtosis", "", "Excess kurtosis of the (mean-removed) samples"),
    ]
    return tuple(rows)


_SCHEMA = _schema()


def shape_feature_names() -> tuple[str, ...]:
    """The shape feature names, in vector order (the same at every sample rate)."""
    return tuple(r[0] for r in _SCHEMA)


def shape_feature_units() -> tuple[str, ...]:
    return tuple(r[1] for r in _SCHEMA)


@dataclasses.dataclass(frozen=True, eq=False)
class ShapeFeatures:
    """Level-invariant features of one recording, plus its calibrated level and mains flags.

    Attributes
    ----------
    values : ndarray, shape (n_features,)
        In the order of :func:`shape_feature_names`; NaN where undefined (high bands above 0.45 fs).
    level_p10_db : float
        10th percentile of the 0.25 s frame levels in 5-900 Hz, dB re 1 calibrated unit
        (``samples / 10**(gain_db/20)``): meaningful only for a calibrated recording.
    in_band_fraction : float
        Share (0..1) of the energy from 5 Hz to 0.45 fs that lies in the analysis band.
    mains_50hz, mains_60hz : bool
        Mains-family line flags (see module docs).
    duration_s : float
    """

    values: np.ndarray
    level_p10_db: float
    in_band_fraction: float
    mains_50hz: bool
    mains_60hz: bool
    duration_s: float
    names: tuple = dataclasses.field(default_factory=shape_feature_names)
    units: tuple = dataclasses.field(default_factory=shape_feature_units)
    version: str = SHAPE_VERSION


def _pow2_at_least(x: float) -> int:
    return 1 << max(3, int(math.ceil(math.log2(max(x, 8.0)))))


def _welch(x: np.ndarray, fs: float):
    """Mean power spectrum (Hann, 50 % overlap, mean removed per segment): (freqs, psd, df)."""
    n = x.size
    nper = _pow2_at_least(fs / WELCH_RESOLUTION_HZ)
    while nper > 16 and 2 * nper > n:
        nper //= 2
    hop = nper // 2
    win = np.hanning(nper + 1)[:-1]
    scale = 1.0 / (fs * np.sum(win * win))
    n_seg = 1 + (n - nper) // hop
    acc = np.zeros(nper // 2 + 1)
    step = max(1, (1 << 22) // nper)  # segments per block, ~32 MB of work
    for s0 in range(0, n_seg, step):
        idx = (np.arange(s0, min(n_seg, s0 + step)) * hop)[:, None] + np.arange(nper)[None, :]
        seg = x[idx]
        seg = seg - seg.mean(axis=1, keepdims=True)
        spec = np.fft.rfft(seg * win, axis=1)
        acc += np.sum(spec.real ** 2 + spec.imag ** 2, axis=0)
    psd = acc * scale / n_seg
    psd[1:-1] *= 2.0
    return np.fft.rfftfreq(nper, 1.0 / fs), psd, fs / nper


def _frame_levels(x: np.ndarray, fs: float, bands):
    """Per-frame power in each (lo, hi) band, arbitrary units, shape (n_bands, n_frames)."""
    nper = _pow2_at_least(fs * FRAME_S)
    n_fr = x.size // nper
    freqs = np.fft.rfftfreq(nper, 1.0 / fs)
    win = np.hanning(nper + 1)[:-1]
    masks = [(freqs >= lo) & (freqs < hi) for lo, hi in bands]
    out = np.zeros((len(bands), n_fr))
    step = max(1, (1 << 22) // nper)
    for f0 in range(0, n_fr, step):
        fr = x[f0 * nper:min(n_fr, f0 + step) * nper].reshape(-1, nper)
        fr = fr - fr.mean(axis=1, keepdims=True)
        p = np.abs(np.fft.rfft(fr * win, axis=1)) ** 2
        for b, m in enumerate(masks):
            out[b, f0:f0 + fr.shape[0]] = p[:, m].sum(axis=1)
    return out


def _db(x, ref):
    return 10.0 * np.log10(np.maximum(np.asarray(x, dtype=np.float64), ref * 10.0 ** (FLOOR_DB / 10.0)) / ref)


def _running_median(v: np.ndarray, half: int) -> np.ndarray:
    from scipy.ndimage import median_filter

    return median_filter(v, size=2 * half + 1, mode="nearest")


def mains_family_scores(prom_db: np.ndarray, freqs: np.ndarray, df: float):
    """Per family (50, 60 Hz): (score dB, harmonics >= LINE_DB, max prominence of harmonics 1-2)."""
    out = {}
    for f0 in (50.0, 60.0):
        proms = []
        first_two = 0.0
        for h in range(1, 11):
            fh = h * f0
            if fh > freqs[-1] or fh % 300.0 == 0.0:
                continue
            tol = max(1.5 * df, 0.006 * fh)
            m = (freqs >= fh - tol) & (freqs <= fh + tol)
            if not m.any():
                continue
            p = float(np.max(prom_db[m]))
            proms.append(max(p, 0.0))
            if h <= 2:
                first_two = max(first_two, p)
        proms.sort(reverse=True)
        out[f0] = (float(sum(proms[:3])), int(sum(p >= LINE_DB for p in proms)), first_two)
    return out


def _mains_flags(scores) -> tuple[bool, bool]:
    flags = []
    for f0, other in ((50.0, 60.0), (60.0, 50.0)):
        score, n_lines, first_two = scores[f0]
        present = n_lines >= 2 or first_two >= STRONG_LINE_DB
        flags.append(bool(present and score > scores[other][0]))
    return flags[0], flags[1]


def shape_features(samples, sample_rate: float, gain_db: float = 0.0, *, name: str = "recording") -> ShapeFeatures:
    """Level-invariant features of one recording (see module docs).

    Parameters
    ----------
    samples : array_like, shape (n,)
        Samples as recorded (any scale).
    sample_rate : float
        Hz.
    gain_db : float, default 0
        Only for :attr:`ShapeFeatures.level_p10_db` (``samples / 10**(gain_db/20)`` are calibrated units).
    name : str
        For messages.

    Raises
    ------
    RecordingError
        Fewer than :data:`MIN_FRAMES` frames, silent or constant, non-finite samples.
    """
    x = np.asarray(samples, dtype=np.float64)
    fs = float(sample_rate)
    if x.ndim != 1:
        raise RecordingError(f"{name}: samples must be 1-D")
    if x.size < MIN_FRAMES * _pow2_at_least(fs * FRAME_S):
        raise RecordingError(f"{name}: recording is {x.size / fs:.2f} s long; the classifier's features need at "
                             f"least {MIN_FRAMES * _pow2_at_least(fs * FRAME_S) / fs:.2f} s")
    if not np.all(np.isfinite(x)):
        raise RecordingError(f"{name}: recording holds NaN or Inf samples")
    x = x - x.mean()
    rms = float(np.sqrt(np.mean(x * x)))
    if rms == 0.0:
        raise RecordingError(f"{name}: recording is silent or constant; no signal")
    top = 0.45 * fs
    freqs, psd, df = _welch(x, fs)
    edges = _band_edges()
    inb = (freqs >= BAND_LO_HZ) & (freqs < min(BAND_HI_HZ, top))
    e_tot = float(psd[inb].sum() * df)
    if e_tot <= 0.0:
        raise RecordingError(f"{name}: no energy in {BAND_LO_HZ:g}-{BAND_HI_HZ:g} Hz")
    e_all = float(psd[(freqs >= BAND_LO_HZ) & (freqs < top)].sum() * df)

    def energy(lo, hi):
        return float(psd[(freqs >= lo) & (freqs < hi)].sum() * df)

    bands = np.array([energy(edges[i], edges[i + 1]) for i in range(N_BANDS)])
    rel = _db(bands, e_tot)
    high = [float(_db(energy(lo, hi), e_tot)) if hi <= top else math.nan for lo, hi in HIGH_BANDS_HZ]
    below60 = float(_db(energy(BAND_LO_HZ, _LOW_EDGE_HZ), e_tot))
    mid = float(_db(energy(200.0, 800.0), e_tot))
    in_band = float(_db(e_tot, e_all))

    f, p = freqs[inb], psd[inb]
    w = p / p.sum()
    lf = np.log2(f)
    mu = float(np.sum(w * lf))
    spread = float(math.sqrt(max(float(np.sum(w * (lf - mu) ** 2)), 0.0)))
    centres = np.log2(np.sqrt(edges[:-1] * edges[1:]))
    per_oct = bands / np.diff(np.log2(edges))
    dens_db = _db(per_oct, e_tot)
    slope = float(np.polyfit(centres, dens_db, 1)[0])
    tiny = e_tot * 1e-12
    flat = float(10.0 * (np.mean(np.log10(p + tiny)) - np.log10(np.mean(p) + tiny)))
    dens_hz = bands / np.diff(edges) + tiny
    band_flat = float(10.0 * (np.mean(np.log10(dens_hz)) - np.log10(np.mean(dens_hz))))

    # lines: prominence over a running median of the dB spectrum (bins from 2 Hz so the median sees the band edge)
    sel = (freqs >= 2.0) & (freqs < min(BAND_HI_HZ + 2 * LINE_BG_HALF_HZ, top))
    fs_sel = freqs[sel]
    sdb = 10.0 * np.log10(psd[sel] + tiny / max(df, 1e-12))
    half = max(3, int(round(LINE_BG_HALF_HZ / df)))
    prom = sdb - _running_median(sdb, half)
    band_sel = (fs_sel >= BAND_LO_HZ) & (fs_sel < BAND_HI_HZ)
    pb = prom[band_sel]
    max_line = float(pb.max()) if pb.size else 0.0
    is_peak = np.zeros(pb.size, bool)
    if pb.size >= 3:
        is_peak[1:-1] = (pb[1:-1] >= pb[:-2]) & (pb[1:-1] > pb[2:]) & (pb[1:-1] >= LINE_DB)
    n_lines = int(is_peak.sum())
    lin = psd[sel][band_sel]
    bg = 10.0 ** ((sdb - prom)[band_sel] / 10.0)
    line_e = float(np.sum(np.clip(lin - bg, 0.0, None)[pb >= LINE_DB]) * df)
    line_rel = float(_db(line_e, e_tot))
    scores = mains_family_scores(prom, fs_sel, df)
    m50, m60 = _mains_flags(scores)
    mains_score = max(scores[50.0][0], scores[60.0][0])

    fr = _frame_levels(x, fs, [(BAND_LO_HZ, min(BAND_HI_HZ, top)), (BAND_LO_HZ, _SPLIT_HZ),
                               (_SPLIT_HZ, min(BAND_HI_HZ, top))])
    ref = float(np.max(fr[0])) if np.max(fr[0]) > 0 else 1.0
    lv = _db(fr, ref)
    q10, q50, q90 = np.percentile(lv[0], [10, 50, 90])
    low_sp = float(np.subtract(*np.percentile(lv[1], [90, 10])))
    mid_sp = float(np.subtract(*np.percentile(lv[2], [90, 10])))
    diff = float(np.median(np.abs(np.diff(lv[0])))) if lv.shape[1] > 1 else 0.0
    crest = float(20.0 * np.log10(np.max(np.abs(x)) / rms))
    kurt = float(np.mean(x ** 4) / rms ** 4 - 3.0)

    values = np.array([*rel.tolist(), *high, below60, mid, in_band, 2.0 ** mu, spread, slope, flat, band_flat,
                       max_line, float(n_lines), line_rel, mains_score, float(q90 - q10), float(q50 - q10),
                       float(np.max(lv[0]) - q50), diff, low_sp, mid_sp, crest, kurt], dtype=np.float64)
    # calibrated 10th-percentile level: frame power -> mean square per sample in the band, re 1 calibrated unit
    nper = _pow2_at_least(fs * FRAME_S)
    win = np.hanning(nper + 1)[:-1]
    p10_power = float(np.percentile(fr[0], 10)) * 2.0 / (nper * np.sum(win * win))
    level_p10 = 10.0 * math.log10(max(p10_power, 1e-300)) - float(gain_db)
    return ShapeFeatures(values=values, level_p10_db=level_p10, in_band_fraction=float(e_tot / e_all) if e_all > 0
                         else 1.0, mains_50hz=m50, mains_60hz=m60, duration_s=x.size / fs)
