"""In-place wave-speed measurement from a known source (``physics.md`` 3.8).

* Out-of-bracket source (a hydrant opened or a tap test beyond one sensor, both sensors on
  one side of it): the noise passes one sensor and then the other, so ``|delay| = D / c``
  and ``c = D / |delay|``.  Beyond A it reaches A first (``delay < 0``), beyond B it reaches
  B first.
* In-bracket known source at x m from A: ``delay = (2x - D) / c``, so ``c = (D - 2x) / (-delay)``;
  the source must not be near mid-span (there the delay is ~0 and says nothing about c).

The measured speed is the group speed over the band used; put it on the span's segment in
``pipe.json`` as ``"wave_speed_m_s"`` (measure over a single material and diameter).
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np

from .._errors import AcousticWarning, ParameterError, RecordingError
from ..pipe import MAX_WAVE_SPEED_M_S, MIN_WAVE_SPEED_M_S
from ..recording import Recording
from ._analysis import analyse
from ._locate import DELAY_SD_FLOOR_SAMPLES, DELAY_SD_REL, DETECTION_PFA, CorrelogramData, _round
from ._prepare import prepare_pair

__all__ = ["VelocityResult", "measure_velocity", "SOURCES"]

#: Where the known source is: beyond sensor A, beyond sensor B, or at a known position inside.
SOURCES = ("beyond_a", "beyond_b", "at")


@dataclasses.dataclass
class VelocityResult:
    """Result of :func:`measure_velocity` (speeds in m/s, delays in s, distances in m, band in Hz)."""

    wave_speed_m_s: float
    wave_speed_sd_m_s: float
    interval_m_s: tuple
    delay_s: float
    delay_sd_s: float
    distance_m: float
    source: str
    source_m: float | None
    band_hz: tuple
    confidence: float
    strength: float
    weighting: str
    sample_rate_hz: float
    duration_s: float
    n_frames: int
    tonal_lines_hz: list
    warnings: list
    correlogram: CorrelogramData = dataclasses.field(repr=False)

    @property
    def feed_back(self) -> str:
        """How to use the measured speed."""
        return (f'set "wave_speed_m_s": {self.wave_speed_m_s:.1f} on the segment between the two sensors in '
                f"pipe.json (measured over {self.band_hz[0]:.0f}-{self.band_hz[1]:.0f} Hz on one material and "
                "diameter)")

    def to_json(self) -> dict:
        """JSON object of ``acoustic velocity``."""
        r = _round
        return {
            "wave_speed_m_s": r(self.wave_speed_m_s, 1),
            "wave_speed_sd_m_s": r(self.wave_speed_sd_m_s, 2),
            "interval_m_s": [r(self.interval_m_s[0], 1), r(self.interval_m_s[1], 1)],
            # the convention's name (docs/cli.md); interval_m_s stays for a release
            "wave_speed_interval_m_s": [r(self.interval_m_s[0], 1), r(self.interval_m_s[1], 1)],
            "delay_s": r(self.delay_s, 6),
            "delay_sd_s": r(self.delay_sd_s, 7),
            "distance_m": r(self.distance_m, 3),
            "source": self.source,
            "source_m": r(self.source_m, 3),
            "band_hz": [r(self.band_hz[0], 1), r(self.band_hz[1], 1)],
            "confidence": r(self.confidence, 3),
            "strength": r(self.strength, 3),
            "weighting": self.weighting,
            "sample_rate_hz": r(self.sample_rate_hz, 3),
            "duration_s": r(self.duration_s, 3),
            "n_frames": int(self.n_frames),
            "tonal_lines_hz": [r(f, 2) for f in self.tonal_lines_hz],
            "feed_back": self.feed_back,
            "warnings": list(self.warnings),
        }


def _finite_positive(v, name):
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) or not math.isfinite(v):
        raise ParameterError(f"{name} must be a finite number, got {v!r}")
    return float(v)


def measure_velocity(rec_a: Recording, rec_b: Recording, distance_m: float, *, source: str = "beyond_a",
                     source_m: float | None = None, distance_sd_m: float = 0.0,
                     speed_range_m_s=(MIN_WAVE_SPEED_M_S, MAX_WAVE_SPEED_M_S), weighting: str = "auto",
                     band_hz=None, use_numba: bool | None = None) -> VelocityResult:
    """Measure the pipe's wave speed from a pair recorded while a known source runs.

    Parameters
    ----------
    rec_a, rec_b : Recording
        Sensor A and sensor B.
    distance_m : float
        Pipe length between the sensors (m, > 0), along the pipe.
    source : {"beyond_a", "beyond_b", "at"}, default "beyond_a"
        Out-of-bracket source beyond A or beyond B, or an in-bracket source at ``source_m``.
    source_m : float or None
        Position of an in-bracket source in m from A (with ``source="at"``).
    distance_sd_m : float, default 0
        Standard deviation of ``distance_m`` (and of ``source_m``), m.
    speed_range_m_s : (float, float)
        Speeds considered (m/s); bounds the delay search.
    weighting, band_hz, use_numba
        As for :func:`correlate_pair`.

    Returns
    -------
    VelocityResult

    Raises
    ------
    ParameterError
        Non-positive distance, unknown source, an in-bracket source near mid-span or outside
        the span, an impossible speed range.
    RecordingError
        Bad recordings, or no coherent source in the recordings.
    """
    d = _finite_positive(distance_m, "distance_m")
    if d <= 0:
        raise ParameterError(f"distance_m must be a positive number of metres, got {distance_m!r}")
    key = str(source).strip().lower().replace("-", "_")
    if key not in SOURCES:
        raise ParameterError(f"source must be one of {', '.join(SOURCES)}; got {source!r}")
    sd_d = _finite_positive(distance_sd_m, "distance_sd_m")
    if sd_d < 0:
        raise ParameterError(f"distance_sd_m must be >= 0, got {distance_sd_m!r}")
    c_lo, c_hi = (_finite_positive(c, "speed_range_m_s") for c in speed_range_m_s)
    if not (MIN_WAVE_SPEED_M_S <= c_lo < c_hi <= MAX_WAVE_SPEED_M_S):
        raise ParameterError(f"speed_range_m_s must lie within {MIN_WAVE_SPEED_M_S:g}-{MAX_WAVE_SPEED_M_S:g} m/s "
                             f"with low < high, got {c_lo:g} {c_hi:g}")
    if key == "at":
        if source_m is None:
            raise ParameterError("source 'at' needs source_m, the source position in m from A")
        x = _finite_positive(source_m, "source_m")
        if not (0.0 <= x <= d):
            raise ParameterError(f"source_m {x:g} m is outside the span 0-{d:g} m")
        lever = d - 2.0 * x
        if abs(lever) < 0.2 * d:
            raise ParameterError(f"source_m {x:g} m is too near mid-span ({d / 2:g} m): its delay says almost "
                                 "nothing about the speed; use a source in the outer 40 % of the span")
    else:
        x = None
        lever = d if key == "beyond_a" else -d
    # expected sign: delay = -lever / c (beyond A: negative)
    t_lo, t_hi = abs(lever) / c_hi, abs(lever) / c_lo
    sign = -1.0 if lever > 0 else 1.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AcousticWarning)
        prep = prepare_pair(rec_a, rec_b)
        fs = prep.sample_rate_hz
        an = analyse(prep, (-t_hi - 2.0 / fs, t_hi + 2.0 / fs), weighting=weighting, band_hz=band_hz,
                     max_components=3, use_numba=use_numba)
    msgs = []
    for w in caught:
        if issubclass(w.category, AcousticWarning) and str(w.message) not in msgs:
            msgs.append(str(w.message))
    sig = [p for p in an.peaks if p.p_false_alarm <= DETECTION_PFA]
    if not sig:
        raise RecordingError(
            f"{prep.name_a}, {prep.name_b}: no coherent source found (no correlation peak stands out); "
            "check that the source ran while both sensors recorded"
        )
    best = max(sig, key=lambda p: p.strength)
    tau = best.delay_s
    if tau * sign <= 0 or abs(tau) < t_lo * 0.98:
        where = "beyond B" if tau > 0 else "beyond A"
        raise RecordingError(
            f"the strongest source is at delay {tau:+.4f} s, which does not fit a source "
            f"{'beyond A' if key == 'beyond_a' else 'beyond B' if key == 'beyond_b' else f'at {x:g} m'} "
            f"with speeds {c_lo:g}-{c_hi:g} m/s (it looks {where} or inside the span)"
        )
    sd_tau = math.sqrt(best.delay_sd_s**2 + (DELAY_SD_FLOOR_SAMPLES / fs) ** 2 + (DELAY_SD_REL * tau) ** 2)
    c = abs(lever) / abs(tau)
    sd_lever = sd_d if key != "at" else math.sqrt(sd_d**2 + 4.0 * sd_d**2)
    rel = math.sqrt((sd_tau / tau) ** 2 + (sd_lever / abs(lever)) ** 2)
    interval = (c * math.exp(-1.96 * rel), c * math.exp(1.96 * rel))
    if c > 0.98 * c_hi or c < 1.02 * c_lo:
        msgs.append(f"measured speed {c:.1f} m/s is at the edge of the range searched ({c_lo:g}-{c_hi:g} m/s)")
    if len(sig) > 1:
        other = [p for p in sig if p is not best and p.strength > 0.5 * best.strength]
        if other:
            msgs.append(f"{len(other)} other strong source(s) in the recordings; check the known source was the "
                        "loudest")
    for m in msgs:
        warnings.warn(m, AcousticWarning, stacklevel=2)
    cs = an.cs
    sel = (an.lags_s >= an.window_s[0]) & (an.lags_s <= an.window_s[1])
    lags = an.lags_s[sel]
    cgd = CorrelogramData(lags_s=lags, values=an.values[sel], envelope=an.envelope[sel],
                          positions_m=np.full(lags.shape, np.nan), freqs_hz=cs.freqs_hz,
                          coherence=an.coherence_raw, coherence_smooth=an.coherence_smooth,
                          band_hz=tuple(an.band_hz), notch=an.notch, noise_sd=an.noise_sd / an.correlogram.norm)
    return VelocityResult(
        wave_speed_m_s=c, wave_speed_sd_m_s=c * rel, interval_m_s=interval, delay_s=tau, delay_sd_s=sd_tau,
        distance_m=d, source=key, source_m=x, band_hz=tuple(an.signal_band_hz), confidence=1.0 - best.p_false_alarm,
        strength=best.strength, weighting=an.weighting, sample_rate_hz=fs, duration_s=prep.duration_s,
        n_frames=cs.n_frames, tonal_lines_hz=list(an.tonal_lines_hz), warnings=msgs, correlogram=cgd,
    )
