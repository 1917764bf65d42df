"""Leak location between two sensors on a (multi-segment) pipe path.

The delay of a source at x m from A is ``2 T(x) - T(D)`` with T the piecewise travel time
from A (``physics.md`` 3.9), so the position is ``T^-1((T(D) + delay) / 2)``.  The 95 %
interval is a Monte Carlo over the delay (normal, the peak's standard deviation) and every
segment's wave speed (log-normal with the material's spread over the band used), so a speed
error weighs nothing at mid-span and grows toward the sensors (``physics.md`` 3.7).

A peak whose delay is at the edge of the possible delays (within two standard deviations of
+/-T(D)) is noise arriving from outside the pair: it is reported as such in ``warnings`` and
``outside_peaks``, never as a leak at a sensor.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings

import numpy as np

from .._errors import AcousticWarning, ParameterError
from ..pipe import DEFAULT_BAND_HZ, PipePath
from ..recording import Recording
from ._analysis import Peak, analyse
from ._kernels import resolve_use_numba
from ._prepare import prepare_pair
from ._spectra import median

__all__ = ["CorrelationResult", "CorrelogramData", "correlate_pair", "physics_band", "DETECTION_PFA", "DELAY_SD_FLOOR_SAMPLES"]

#: A peak is a detection when noise alone would make one this high with at most this probability.
DETECTION_PFA = 0.01
#: Model error added to every delay s.d. (in samples): clock and start-time rounding,
#: dispersion within the band, fittings.  Calibrated on simulated pairs (bench/correlate_accuracy).
DELAY_SD_FLOOR_SAMPLES = 0.5
#: Relative model error of the delay (dispersion, band-weighting mismatch), calibrated likewise.
DELAY_SD_REL = 0.003
#: Least relative standard deviation of each segment's wave speed in the 95 % interval.  The pipe
#: model's own spread (1-2 % for metal, 3-5 % for plastic) holds for its own physics; field speeds
#: are off the table value by up to +-10 % (soil, joints, wall thinning, temperature).  On the
#: model-mismatch pairs of bench/correlate_accuracy.py (speeds off by a normal of s.d. 4 %,
#: truncated at 10 %) the model's spread alone left 65 % of the intervals holding the leak; with
#: this floor (calibrated over both the own-simulator and the mismatch pairs) see docs/correlate.md.
SPEED_REL_SD_FLOOR = 0.0
#: The lag search extends to T(D) times this: every speed 20 % slower than nominal (over 3.5
#: standard deviations for every material; plastics' dispersion over the possible bands included).
WINDOW_MARGIN = 1.25
#: A peak within this many standard deviations of +/-T(D) is from outside the pair.
_EDGE_SD = 2.0


@dataclasses.dataclass
class CorrelogramData:
    """Arrays of one correlation, for plots and for fusing several pairs.

    Attributes
    ----------
    lags_s : numpy.ndarray, shape (m,)
        Absolute-time delays (arrival at A minus arrival at B, s) over the possible delays.
    values : numpy.ndarray, shape (m,)
        Weighted cross-correlation (real part), scaled so a fully coherent source reaches 1.
    envelope : numpy.ndarray, shape (m,)
        Its envelope (magnitude of the analytic correlogram), same scale.
    positions_m : numpy.ndarray, shape (m,)
        Position along the pipe from A (m) of a source at each lag (clipped to 0..D).
    freqs_hz : numpy.ndarray, shape (k,)
        Frequencies of the spectra (Hz).
    coherence : numpy.ndarray, shape (k,)
        Magnitude-squared coherence (raw Welch estimate).
    coherence_smooth : numpy.ndarray, shape (k,)
        Bias-corrected, smoothed coherence used for the band and the weights.
    band_hz : (float, float)
        Band used (Hz).
    notch : numpy.ndarray of bool, shape (k,)
        Bins given zero weight as tonal lines.
    noise_sd : float
        Standard deviation of the correlogram noise at zero lag (same scale as ``values``).
    """

    lags_s: np.ndarray
    values: np.ndarray
    envelope: np.ndarray
    positions_m: np.ndarray
    freqs_hz: np.ndarray
    coherence: np.ndarray
    coherence_smooth: np.ndarray
    band_hz: tuple
    notch: np.ndarray
    noise_sd: float


@dataclasses.dataclass
class CorrelationResult:
    """Result of :func:`correlate_pair`.

    Attributes mirror the ``acoustic correlate`` JSON of ``interfaces.md`` (distances in m from
    sensor A, delays in s as arrival at A minus arrival at B, speeds in m/s, band in Hz); see
    :meth:`to_json` for the full list.  ``correlogram`` holds the arrays.  ``band_hz`` is the band
    the delay comes from (the coherent band; the wave speeds are the pipe model's over it),
    ``analysis_band_hz`` the band correlated over: wider when HT weights widen a coherent band
    narrower than two octaves.  When nothing stood out in the coherent band and a SCOT scan of
    the pipe's leak-noise band found a peak, both are the scanned band and
    ``rescanned_from_hz`` is the coherent band (else None); ``snr_db`` is then None.
    """

    detected: bool
    distance_from_a_m: float | None
    distance_from_b_m: float | None
    interval_m: tuple | None
    distance_sd_m: float | None
    delay_s: float | None
    delay_sd_s: float | None
    wave_speed_m_s: float
    wave_speed_sd_m_s: float
    confidence: float
    band_hz: tuple
    analysis_band_hz: tuple
    peaks: list
    outside_peaks: list
    warnings: list
    weighting: str
    path_length_m: float
    max_delay_s: float
    segment_speeds_m_s: list
    sample_rate_hz: float
    duration_s: float
    start_offset_s: float
    n_frames: int
    frames_rejected_fraction: float
    frame_length_s: float
    coherent_band: bool
    coherence_mean: float
    coherence_threshold: float
    snr_db: float | None
    peak_snr_db: float | None
    tonal_lines_hz: list
    correlogram: CorrelogramData = dataclasses.field(repr=False)
    rescanned_from_hz: tuple[float, float] | None = None

    def to_json(self) -> dict:
        """The ``acoustic correlate`` JSON object (``interfaces.md``) plus the added fields."""
        r = _round
        out = {
            "detected": bool(self.detected),
            "distance_from_a_m": r(self.distance_from_a_m, 2),
            "distance_from_b_m": r(self.distance_from_b_m, 2),
            "interval_m": None if self.interval_m is None else [r(self.interval_m[0], 2), r(self.interval_m[1], 2)],
            "delay_s": r(self.delay_s, 6),
            "wave_speed_m_s": r(self.wave_speed_m_s, 1),
            "confidence": r(self.confidence, 3),
            "band_hz": [r(self.band_hz[0], 1), r(self.band_hz[1], 1)],
            "analysis_band_hz": [r(self.analysis_band_hz[0], 1), r(self.analysis_band_hz[1], 1)],
            "peaks": [_round_peak(p) for p in self.peaks],
            "warnings": list(self.warnings),
            "distance_sd_m": r(self.distance_sd_m, 3),
            "delay_sd_s": r(self.delay_sd_s, 7),
            "wave_speed_sd_m_s": r(self.wave_speed_sd_m_s, 1),
            "segment_speeds_m_s": [r(c, 1) for c in self.segment_speeds_m_s],
            "path_length_m": r(self.path_length_m, 3),
            "max_delay_s": r(self.max_delay_s, 6),
            "outside_peaks": [_round_peak(p) for p in self.outside_peaks],
            "weighting": self.weighting,
            "coherent_band": bool(self.coherent_band),
            "rescanned_from_hz": None if self.rescanned_from_hz is None else [r(b, 1) for b in self.rescanned_from_hz],
            "coherence_mean": r(self.coherence_mean, 4),
            "coherence_threshold": r(self.coherence_threshold, 4),
            "snr_db": r(self.snr_db, 1),
            "peak_snr_db": r(self.peak_snr_db, 1),
            "tonal_lines_hz": [r(f, 2) for f in self.tonal_lines_hz],
            "sample_rate_hz": r(self.sample_rate_hz, 3),
            "duration_s": r(self.duration_s, 3),
            "start_offset_s": r(self.start_offset_s, 7),
            "n_frames": int(self.n_frames),
            "frames_rejected_fraction": r(self.frames_rejected_fraction, 3),
            "frame_length_s": r(self.frame_length_s, 4),
        }
        return out


def _round_peak(p: dict) -> dict:
    out = {}
    for k, v in p.items():
        if isinstance(v, (float, np.floating)):
            out[k] = _round(v, 7 if k.startswith("delay") else 3)
        else:
            out[k] = v
    return out


def _round(v, nd):
    if v is None:
        return None
    v = float(v)
    if not math.isfinite(v):
        return None
    return round(v, nd)


def _quantise_band(band) -> tuple[float, float]:
    """Band edges rounded to 1/24 octave, so speed look-ups of similar bands share a cache."""
    q = 24.0
    lo = 2.0 ** (round(math.log2(max(band[0], 1e-3)) * q) / q)
    hi = 2.0 ** (round(math.log2(max(band[1], 1e-3)) * q) / q)
    if hi <= lo:
        hi = lo * 2.0 ** (1.0 / q)
    return (lo, hi)


def position_interval(path: PipePath, delay_s: float, delay_sd_s: float, speeds_m_s, speed_rel_sd, *,
                      coverage: float = 0.95, n_draws: int = 2000, seed: int = 0):
    """95 % interval (m from A) of a source at ``delay_s``: Monte Carlo over delay and speeds.

    The delay is normal with s.d. ``delay_sd_s``; each segment's speed is log-normal around
    ``speeds_m_s`` with relative s.d. ``speed_rel_sd``
    (as :meth:`acoustic.pipe.PipePath.position_interval`, which it otherwise mirrors).

    Returns
    -------
    (float, float, float)
        Lower and upper bound (m) and the standard deviation (m) of the position.
    """
    c0 = np.asarray(speeds_m_s, dtype=np.float64)
    sd = np.asarray(speed_rel_sd, dtype=np.float64)
    z_speed, z_delay = _standard_draws(int(n_draws), c0.size, int(seed))
    c = c0 * np.exp(z_speed * sd)
    d = delay_s + z_delay * delay_sd_s
    x = path.position_for_delay(d, speeds_m_s=c)
    a = (1.0 - coverage) / 2.0
    lo, hi = _quantiles(x, (a, 1.0 - a))
    return lo, hi, float(np.std(x))


def _quantiles(x: np.ndarray, qs) -> list[float]:
    """``numpy.quantile(x, qs)`` (its default linear method, to the bit) of a 1-D array of finite
    values, from one partial sort instead of numpy's general machinery."""
    n = x.size
    pos = [(n - 1) * q for q in qs]
    below = [min(int(math.floor(v)), n - 1) for v in pos]
    part = np.partition(x, sorted({j for i in below for j in (i, min(i + 1, n - 1))}))
    out = []
    for v, i in zip(pos, below):
        lo, hi = float(part[i]), float(part[min(i + 1, n - 1)])
        g = v - i
        # numpy's interpolation: from the nearer end
        out.append(hi - (hi - lo) * (1.0 - g) if g >= 0.5 else lo + (hi - lo) * g)
    return out


@functools.lru_cache(maxsize=32)
def _standard_draws(n_draws: int, n_segments: int, seed: int):
    """The standard-normal draws of :func:`position_interval` (fixed by the seed, so cached)."""
    rng = np.random.default_rng(seed)
    z_speed = rng.standard_normal((n_draws, n_segments))
    z_delay = rng.standard_normal(n_draws)
    z_speed.flags.writeable = False
    z_delay.flags.writeable = False
    return z_speed, z_delay


def _travel_time_sd(path: PipePath, speeds: np.ndarray, rel_sd: np.ndarray) -> float:
    """Relative standard deviation of T(D) from independent segment speed errors."""
    t = path.lengths_m / speeds
    return float(math.sqrt(np.sum((t * rel_sd) ** 2)) / np.sum(t))


def physics_band(path: PipePath, sample_rate_hz: float, max_loss_db: float = 40.0) -> tuple[float, float]:
    """Band where leak noise can cross the whole path: from 10 Hz up to where the nominal
    attenuation over the path length reaches ``max_loss_db`` (``physics.md`` 2.1), at most
    0.45 x the sample rate.  Used when the coherence shows no band."""
    return _physics_band(tuple(path.segments), float(sample_rate_hz), float(max_loss_db))


@functools.lru_cache(maxsize=256)
def _physics_band(segments, sample_rate_hz, max_loss_db):
    top = 0.45 * sample_rate_hz
    f = np.geomspace(10.0, top, 48)
    loss = np.zeros_like(f)
    for seg in segments:
        loss += seg.length_m * np.asarray(seg.attenuation_db_per_m(f), dtype=np.float64)
    ok = f[loss <= max_loss_db]
    hi = float(ok[-1]) if ok.size else 50.0
    return (10.0, float(min(max(hi, 50.0), top)))


def _warn_collect(msg: str, out: list) -> None:
    out.append(msg)


def correlate_pair(rec_a: Recording, rec_b: Recording, path: PipePath, *, weighting: str = "auto",
                   band_hz=None, max_peaks: int = 3, robust: bool = True, detection_pfa: float = DETECTION_PFA,
                   use_numba: bool | None = None) -> CorrelationResult:
    """Locate a leak between two synchronized sensors.

    Parameters
    ----------
    rec_a, rec_b : Recording
        Recordings of sensor A and sensor B (any sample rates from 1 to 96 kHz; start times from
        the sidecars align them in absolute time).
    path : PipePath
        Pipe from A to B (segments, materials, optional measured speeds).
    weighting : {"auto", "plain", "phat", "scot", "roth", "ht"}, default "auto"
        GCC weighting (``auto``: HT/maximum likelihood with smoothed coherence).
    band_hz : (float, float) or None
        Analysis band in Hz; None selects the coherent band.
    max_peaks : int, default 3
        Most leak peaks reported.
    robust : bool, default True
        Leave transient frames (traffic, bursts of consumption) out of the averages.
    detection_pfa : float, default 0.01
        False-alarm probability of a detection (per pair).
    use_numba : bool or None, default None
        Use the numba kernels (False: their numpy twins; None: numpy for the first correlation
        in a process, numba after, since importing numba costs more than one correlation).

    Returns
    -------
    CorrelationResult

    Raises
    ------
    RecordingError
        Empty, NaN, silent recordings, no overlap in time, too short an overlap.
    ParameterError
        Unknown weighting, impossible band, bad ``max_peaks``.
    PipeError
        Impossible pipe description.

    Warns
    -----
    AcousticWarning
        Resampling, unknown start times, noise from outside the pair, nothing coherent, ...
        (also listed in ``result.warnings``).
    """
    if not isinstance(path, PipePath):
        raise ParameterError(f"path must be a PipePath, got {type(path).__name__}")
    if isinstance(max_peaks, bool) or not isinstance(max_peaks, (int, np.integer)) or not (1 <= max_peaks <= 20):
        raise ParameterError(f"max_peaks must be an integer from 1 to 20, got {max_peaks!r}")
    if not (0.0 < float(detection_pfa) < 1.0):
        raise ParameterError(f"detection_pfa must be between 0 and 1, got {detection_pfa!r}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AcousticWarning)
        result = _correlate(rec_a, rec_b, path, weighting, band_hz, int(max_peaks), robust, float(detection_pfa),
                            use_numba)
    msgs = []
    for w in caught:
        if issubclass(w.category, AcousticWarning):
            m = str(w.message)
            if m not in msgs:
                msgs.append(m)
        else:  # pragma: no cover - foreign warnings pass through untouched
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    result.warnings = msgs + [m for m in result.warnings if m not in msgs]
    for m in msgs:
        warnings.warn(m, AcousticWarning, stacklevel=2)
    for m in result.warnings[len(msgs):]:
        warnings.warn(m, AcousticWarning, stacklevel=2)
    return result


def delay_window_s(path: PipePath, sample_rate_hz: float) -> float:
    """Half-width (s) of the lag window searched for sources between the sensors: the largest delay
    the path allows with every speed at its slow extreme (:data:`WINDOW_MARGIN` times the travel
    time at the table speeds), plus two samples."""
    c_def = path.speeds_m_s(DEFAULT_BAND_HZ)
    return float(np.sum(path.lengths_m / c_def)) * WINDOW_MARGIN + 2.0 / float(sample_rate_hz)


@dataclasses.dataclass
class PathSpeeds:
    """The pipe's wave speeds over the band the delay comes from (:func:`path_speeds`).

    ``speeds_m_s`` and ``rel_sd`` per segment, ``max_delay_s`` the travel time T(D), ``travel_rel_sd``
    its relative standard deviation, ``mean_m_s`` the path's mean speed D / T(D).
    """

    speeds_m_s: np.ndarray
    rel_sd: np.ndarray
    max_delay_s: float
    travel_rel_sd: float
    mean_m_s: float


@dataclasses.dataclass
class Position:
    """The located leak (:func:`locate_peak`); every field None when nothing is located."""

    distance_from_a_m: float | None = None
    distance_from_b_m: float | None = None
    interval_m: tuple | None = None
    distance_sd_m: float | None = None
    delay_s: float | None = None
    delay_sd_s: float | None = None
    confidence: float = 0.0
    peak_snr_db: float | None = None


def path_speeds(path: PipePath, band_hz) -> PathSpeeds:
    """Wave speeds of ``path`` over ``band_hz`` (quantised, :func:`_quantise_band`)."""
    band_q = _quantise_band(band_hz)
    speeds = path.speeds_m_s(band_q)
    rel_sd = np.maximum(path.speed_rel_sd(band_q), SPEED_REL_SD_FLOOR)
    t_d = path.max_delay_s(speeds_m_s=speeds)
    return PathSpeeds(speeds_m_s=speeds, rel_sd=rel_sd, max_delay_s=t_d,
                      travel_rel_sd=_travel_time_sd(path, speeds, rel_sd), mean_m_s=path.length_m / t_d)


def _band_notes(an, notes: list) -> None:
    """The notes on the band: nothing coherent, or the coherent band rescanned."""
    if not an.coherent:
        _warn_collect(f"no coherent band between the sensors (coherence nowhere significantly above zero); "
                      f"correlated with {an.weighting.upper()} over {an.band_hz[0]:.0f}-{an.band_hz[1]:.0f} Hz, "
                      "within the band where leak noise can cross this pipe", notes)
    elif an.rescanned_from_hz is not None:
        c_lo, c_hi = an.rescanned_from_hz
        _warn_collect(f"nothing stood out in the coherent band ({c_lo:.0f}-{c_hi:.0f} Hz: probably another source's, "
                      f"such as a pump's beyond a sensor); correlated with {an.weighting.upper()} over "
                      f"{an.band_hz[0]:.0f}-{an.band_hz[1]:.0f} Hz, the band where a peak stands out most among those "
                      "scanned within this pipe's leak-noise band", notes)


def split_peaks(peaks, sp: PathSpeeds, sample_rate_hz: float, pfa: float, notes: list):
    """Detected peaks (false-alarm probability at most ``pfa``) split into those between the sensors
    and those at the edge of the possible delays (within :data:`_EDGE_SD` standard deviations of
    +/-T(D): noise from outside the pair, noted).

    Returns
    -------
    (list of (Peak, float), list of dict)
        The peaks between the sensors with their total delay s.d. (s; the peak's, the floor and
        the relative model error), strongest first; the outside peaks' JSON objects.
    """
    floor = DELAY_SD_FLOOR_SAMPLES / sample_rate_hz
    t_d, s_t = sp.max_delay_s, sp.travel_rel_sd
    inside: list[tuple[Peak, float]] = []
    outside: list[dict] = []
    for pk in peaks:
        if pk.p_false_alarm > pfa:
            continue
        sd_tot = math.sqrt(pk.delay_sd_s**2 + floor**2 + (DELAY_SD_REL * abs(pk.delay_s)) ** 2)
        edge = t_d * (1.0 - _EDGE_SD * s_t) - _EDGE_SD * sd_tot
        if abs(pk.delay_s) < edge:
            inside.append((pk, sd_tot))
            continue
        side = "beyond_a" if pk.delay_s < 0 else "beyond_b"
        outside.append({"side": side, "delay_s": pk.delay_s, "strength": pk.strength, "z": pk.z})
        _warn_collect(
            f"correlation peak at the edge of the possible delays (delay {pk.delay_s:+.4f} s, "
            f"max {t_d:.4f} s): noise from outside the pair, {'beyond A' if side == 'beyond_a' else 'beyond B'}; "
            "not a leak between the sensors", notes)
    inside.sort(key=lambda p: -p[0].strength)
    return inside, outside


def peaks_to_json(inside, path: PipePath, speeds_m_s) -> list[dict]:
    """The JSON objects of the peaks between the sensors (positions in m from A)."""
    return [{"distance_from_a_m": float(path.position_for_delay(pk.delay_s, speeds_m_s=speeds_m_s)),
             "delay_s": pk.delay_s, "strength": pk.strength, "delay_sd_s": sd_tot,
             "confidence": 1.0 - pk.p_false_alarm, "intermittent": pk.intermittent,
             "shared_with_intermittent": pk.shared} for pk, sd_tot in inside]


def choose_located(inside, peaks_json: list, notes: list) -> int | None:
    """Index of the located peak: the strongest steady one (a source that comes and goes, a tap or
    other consumption, stays in the list, flagged, but is not where the crew digs); None if none."""
    steady = [i for i, (pk, _) in enumerate(inside) if not pk.intermittent]
    if steady and steady[0] > 0:
        _warn_collect(f"the strongest peak, {peaks_json[0]['distance_from_a_m']:.1f} m from A, comes and goes "
                      "with time (a tap or other consumption, not a leak); located the strongest steady peak, "
                      f"{peaks_json[steady[0]]['distance_from_a_m']:.1f} m from A", notes)
    elif inside and not steady:
        where = ", ".join(f"{p['distance_from_a_m']:.1f}" for p in peaks_json)
        _warn_collect(f"every correlation peak between the sensors ({where} m from A) comes and goes with time "
                      "(a tap or other consumption, not a leak): no leak located", notes)
    if not steady:
        return None
    if inside[steady[0]][0].shared:
        _warn_collect(f"the located peak, {peaks_json[steady[0]]['distance_from_a_m']:.1f} m from A, also comes and goes "
                      "with time: a steady source (the leak) lies under a tap or other consumption near it; "
                      "the position is the combined peak's", notes)
    return steady[0]


def locate_peak(path: PipePath, best: Peak, sd_best: float, sp: PathSpeeds, notes: list) -> Position:
    """Position, 95 % interval and confidence of the located peak (noted when near a sensor)."""
    x = float(path.position_for_delay(best.delay_s, speeds_m_s=sp.speeds_m_s))
    lo, hi, sd_x = position_interval(path, best.delay_s, sd_best, sp.speeds_m_s, sp.rel_sd)
    frac = x / path.length_m
    if min(frac, 1.0 - frac) < 0.2:
        _warn_collect(f"leak located {min(x, path.length_m - x):.1f} m from a sensor (outside the middle "
                      "60 % of the span): the position depends strongly on the wave speed; verify the "
                      "speed in place (acoustic velocity) or move the near sensor farther away", notes)
    return Position(distance_from_a_m=x, distance_from_b_m=path.length_m - x, interval_m=(min(lo, x), max(hi, x)),
                    distance_sd_m=sd_x, delay_s=best.delay_s, delay_sd_s=sd_best, confidence=1.0 - best.p_false_alarm,
                    peak_snr_db=20.0 * math.log10(max(best.z, 1e-12)))


def _not_located(an, pfa: float, outside: list, inside: list, notes: list) -> Position:
    """No leak located: the confidence is the best peak's (0 when a detected peak was set aside)."""
    cand = [p for p in an.peaks if p.p_false_alarm <= pfa]
    confidence = 0.0 if cand else float(max((1.0 - p.p_false_alarm for p in an.peaks), default=0.0))
    if an.coherent and not outside and not inside:
        _warn_collect("no correlation peak stands out from the noise: no leak located", notes)
    return Position(confidence=confidence)


def coherence_summary(an):
    """Mean smoothed coherence over the signal band, and the SNR (dB) its median implies (None
    when the band is not a coherent one)."""
    cs = an.cs
    in_band = (cs.freqs_hz >= an.signal_band_hz[0]) & (cs.freqs_hz <= an.signal_band_hz[1]) & ~an.notch
    coh_mean = float(np.mean(an.coherence_smooth[in_band])) if np.any(in_band) else 0.0
    snr_db = None
    if an.coherent and an.rescanned_from_hz is None and np.any(in_band):
        g = float(np.sqrt(np.clip(median(an.coherence_smooth[in_band]), 1e-9, 0.999)))
        snr_db = 10.0 * math.log10(g / (1.0 - g))
    return coh_mean, snr_db


def correlogram_data(an, path: PipePath, speeds_m_s) -> CorrelogramData:
    """The arrays of an analysis over the window, with each lag's position along the path."""
    sel = (an.lags_s >= an.window_s[0]) & (an.lags_s <= an.window_s[1])
    lags = an.lags_s[sel]
    positions = path.position_for_delay(lags, speeds_m_s=speeds_m_s)
    cs = an.cs
    return CorrelogramData(lags_s=lags, values=an.values[sel], envelope=an.envelope[sel],
                           positions_m=np.asarray(positions), freqs_hz=cs.freqs_hz, coherence=an.coherence_raw,
                           coherence_smooth=an.coherence_smooth, band_hz=tuple(an.band_hz), notch=an.notch,
                           noise_sd=an.noise_sd / an.correlogram.norm)


#: Bands (Hz) over which the edge of the possible delays is worked out before the analysis (the
#: nearest edge over them: plastics' speeds change with frequency).
_EDGE_BANDS_HZ = ((10.0, 200.0), DEFAULT_BAND_HZ, (200.0, 2000.0))


def edge_delay_s(path: PipePath) -> float:
    """|delay| (s) from which a peak is taken, before the analysis, for a source outside the pair:
    the travel time T(D) less :data:`_EDGE_SD` of its standard deviations, the least over
    :data:`_EDGE_BANDS_HZ` (the band of the delay is not known yet)."""
    return min(sp.max_delay_s * (1.0 - _EDGE_SD * sp.travel_rel_sd)
               for sp in (path_speeds(path, b) for b in _EDGE_BANDS_HZ))


def _correlate(rec_a, rec_b, path: PipePath, weighting, band_hz, max_peaks, robust, pfa, use_numba):
    notes: list[str] = []
    use_numba = resolve_use_numba(use_numba)
    prep = prepare_pair(rec_a, rec_b, use_numba=use_numba)
    fs = prep.sample_rate_hz
    t_win = delay_window_s(path, fs)
    an = analyse(prep, (-t_win, t_win), weighting=weighting, band_hz=band_hz, max_components=max_peaks + 3,
                 robust=robust, use_numba=use_numba, band_fallback_hz=physics_band(path, fs), candidate_pfa=pfa,
                 rescan_pfa=pfa, edge_s=edge_delay_s(path))
    sp = path_speeds(path, an.signal_band_hz)
    _band_notes(an, notes)
    inside, outside = split_peaks(an.peaks, sp, fs, pfa, notes)
    inside = inside[:max_peaks]
    peaks_json = peaks_to_json(inside, path, sp.speeds_m_s)
    i_best = choose_located(inside, peaks_json, notes)
    if i_best is not None:
        pos = locate_peak(path, *inside[i_best], sp, notes)
    else:
        pos = _not_located(an, pfa, outside, inside, notes)
    coh_mean, snr_db = coherence_summary(an)
    cs = an.cs
    return CorrelationResult(
        detected=i_best is not None, distance_from_a_m=pos.distance_from_a_m, distance_from_b_m=pos.distance_from_b_m,
        interval_m=pos.interval_m, distance_sd_m=pos.distance_sd_m, delay_s=pos.delay_s, delay_sd_s=pos.delay_sd_s,
        wave_speed_m_s=sp.mean_m_s, wave_speed_sd_m_s=sp.mean_m_s * sp.travel_rel_sd,
        confidence=float(np.clip(pos.confidence, 0.0, 1.0)),
        band_hz=tuple(float(b) for b in an.signal_band_hz), analysis_band_hz=tuple(float(b) for b in an.band_hz),
        peaks=peaks_json, outside_peaks=outside, warnings=notes,
        weighting=an.weighting, path_length_m=path.length_m, max_delay_s=sp.max_delay_s,
        segment_speeds_m_s=[float(c) for c in sp.speeds_m_s], sample_rate_hz=fs, duration_s=prep.duration_s,
        start_offset_s=prep.offset_s, n_frames=cs.n_frames, frames_rejected_fraction=cs.frames_rejected_fraction,
        frame_length_s=cs.n_fft / fs, coherent_band=an.coherent, coherence_mean=coh_mean,
        rescanned_from_hz=an.rescanned_from_hz,
        coherence_threshold=an.coherence_threshold, snr_db=snr_db, peak_snr_db=pos.peak_snr_db,
        tonal_lines_hz=list(an.tonal_lines_hz), correlogram=correlogram_data(an, path, sp.speeds_m_s),
    )
