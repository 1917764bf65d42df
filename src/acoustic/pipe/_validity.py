"""Where the fluid-borne wave model holds, and what a speed over a band is when a band reaches beyond it.

The wall model of :func:`~acoustic.pipe.wavenumber` (hoop stiffness minus wall mass, plus the soil's
load) is the simple one of ``physics.md`` 1.2-1.3.  It holds only while the wall is stiffness-controlled:

* **Ring frequency.**  Below roughly a third of the wall's ring frequency
  ``f_ring = sqrt(E / (rho_p (1 - nu^2))) / (2 pi a)`` the simple model is adequate (``physics.md``
  1.1); towards ``f_ring`` the wall resonates, ``K_p = E(1 + i eta) h / a^2 - rho_p h omega^2`` changes
  sign and the model's speed falls to zero, then turns negative or absurd when fitted over a band.
  A 1500 mm PVC main has ``f_ring`` = 330 Hz, inside the default band.
* **The soil-loaded wall.**  Soil adds mass to the wall (``physics.md`` 1.3, Lu et al. 2022); for
  thin plastic walls it lowers the wall's resonance far below ``f_ring``, the wave slows towards it
  and the buried model's fixed-point solution leaves the fluid-borne wave's branch: 300 mm PVC with a
  1.2 mm wall in sandy soil gave 796 m/s over 100-400 Hz.  This limit is found on the model itself: a
  scan follows the wave from :data:`SCAN_LOW_HZ` upwards and stops where the model finds no solution
  or where its phase or group speed leaves ``[MIN_WAVE_SPEED_M_S, MAX_WAVE_SPEED_M_S]``, the range a
  measured speed is checked against.  A jump to another branch shows as a negative or huge group
  speed, so it is caught too.  (In vacuo the scan binds only for the softest walls accepted, where
  wall mass slows a wave near 100 m/s below it.)

The validity limit of a segment is the lower of the two.  A band that reaches beyond it is evaluated
over its valid part ``(low, limit)``, or over ``(limit / 2, limit)`` (the speed at the limit) when less
than half of that is left; the speed's stated uncertainty is widened for the part given up, by the
distance to what the model says there or, where it says nothing usable, to free-field water's speed
(:func:`beyond_limit_rel_sd`).  The rule is this project's [P]; its physical inputs are cited above.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from .._errors import PipeError

__all__ = [
    "MIN_WAVE_SPEED_M_S", "MAX_WAVE_SPEED_M_S", "RING_FRACTION", "BEYOND_LIMIT_SPAN_SD",
    "ValidityLimit", "BandValidity", "validity_limit", "band_validity", "check_band", "band_freqs",
    "raw_band_speed", "beyond_speed", "beyond_limit_rel_sd",
]

#: Slowest and fastest fluid-borne wave speed accepted (m/s). Heavily aerated water can be
#: slower, but a correlation with such a speed is not trustworthy; nothing exceeds water's ~1500 m/s.
MIN_WAVE_SPEED_M_S = 100.0
MAX_WAVE_SPEED_M_S = 1600.0
#: The simple wall model holds below this fraction of the ring frequency (physics.md 1.1: "Below
#: roughly f_ring/3 the simple model is adequate"; a computed statement [C], not tuned here).
RING_FRACTION = 1.0 / 3.0
#: The scan of the model's wave speeds starts here (Hz; below it the wave is quasi-static) and takes
#: this many frequencies per octave (the 1/24-octave step the correlator quantises its bands with).
SCAN_LOW_HZ = 1.0
SCAN_PER_OCTAVE = 24
#: Beyond the validity limit the speed is not known: the model's own speed there, when it gives a
#: usable one, or else anything up to free-field water's c_f (above the ring frequency the wall is
#: mass-controlled and the fluid-borne wave tends to c_f; Fuller & Fahy 1982 [L]).  The range from the
#: speed evaluated to that speed is read as this many standard deviations of ln speed, as the
#: material spreads read a published range as +-2 s.d. (``_materials.py``) [P].
BEYOND_LIMIT_SPAN_SD = 2.0
#: Points of the least-squares fit of a band speed (linear in frequency).
BAND_POINTS = 16


@dataclasses.dataclass(frozen=True)
class ValidityLimit:
    """The frequency (Hz) below which a segment's wave model holds, and why.

    Attributes
    ----------
    ring_hz : float
        Ring frequency of the wall, Hz.
    limit_hz : float
        Validity limit, Hz: ``ring_hz * RING_FRACTION`` or lower.
    speed_limited : bool
        True when the scan of the model's wave speeds (the soil-loaded wall nearing resonance, or a
        wave slowing below ``MIN_WAVE_SPEED_M_S``), not the ring frequency, sets the limit.
    """

    ring_hz: float
    limit_hz: float
    speed_limited: bool


@dataclasses.dataclass(frozen=True)
class BandValidity:
    """A band asked for, the band the model is evaluated over, and the share of it given up.

    Attributes
    ----------
    asked_hz, evaluated_hz : (float, float)
        Band asked for and band evaluated, Hz (equal when the band lies below the limit).
    limit : ValidityLimit
        The segment's validity limit.
    fraction_beyond : float
        Share of the asked band (linear in frequency, as the band speed's fit is) above the limit.
    """

    asked_hz: tuple[float, float]
    evaluated_hz: tuple[float, float]
    limit: ValidityLimit
    fraction_beyond: float

    @property
    def beyond(self) -> bool:
        """True when the asked band reaches beyond the validity limit."""
        return self.fraction_beyond > 0.0


def check_band(band_hz) -> tuple[float, float]:
    """A band (Hz) as a pair of floats, which must satisfy ``0 < low < high``."""
    lo, hi = float(band_hz[0]), float(band_hz[1])
    if not (0 < lo < hi):
        raise PipeError(f"band must satisfy 0 < low < high Hz, got {band_hz}")
    return lo, hi


def band_freqs(band_hz) -> np.ndarray:
    """The frequencies (Hz) a band speed is fitted over (:func:`check_band`)."""
    lo, hi = check_band(band_hz)
    return np.linspace(lo, hi, BAND_POINTS)


def raw_band_speed(props, band_hz) -> float:
    """Model speed over a band: 1 / (least-squares slope of Re k against omega), m/s, with no validity check.

    The correlation peak of a band-limited signal tracks the band-averaged group delay
    (``physics.md`` 3.6).  The slope is a positively weighted mean of the secant slopes between the
    fitted points, so when the model's group speed stays within a range over the band, so does this.
    """
    f = band_freqs(band_hz)
    w = 2 * np.pi * f
    kr = np.real(props.wavenumber(f))
    slope = np.polyfit(w, kr, 1)[0]
    return float(1.0 / slope)


def validity_limit(props) -> ValidityLimit:
    """The validity limit of the wave model of ``props`` (a ``SegmentProperties``); cached.

    A user-given speed (``speed_scale``) does not move it: the limit is the model's.
    """
    if props.speed_scale != 1.0:
        props = dataclasses.replace(props, speed_scale=1.0)
    return _validity_limit(props)


@functools.lru_cache(maxsize=4096)
def _validity_limit(props) -> ValidityLimit:
    ring = props.ring_frequency_hz()
    top = ring * RING_FRACTION
    scanned = _scan_limit_hz(props, top)
    return ValidityLimit(ring_hz=ring, limit_hz=scanned, speed_limited=scanned < top)


def _scan_limit_hz(props, top_hz: float) -> float:
    """Highest frequency (Hz, at most ``top_hz``) up to which the model's wave, followed from
    :data:`SCAN_LOW_HZ`, keeps its phase and group speeds within the accepted range."""
    if top_hz <= SCAN_LOW_HZ:
        return float(top_hz)
    n = int(math.ceil(SCAN_PER_OCTAVE * math.log2(top_hz / SCAN_LOW_HZ))) + 1
    f = np.geomspace(SCAN_LOW_HZ, top_hz, n)
    w = 2.0 * np.pi * f
    k, solved = props.solve_wavenumber(f)
    kr = np.real(k)
    with np.errstate(divide="ignore", invalid="ignore"):
        phase = w / kr
        group = np.diff(w) / np.diff(kr)
    point_ok = solved & np.isfinite(phase) & (phase >= MIN_WAVE_SPEED_M_S) & (phase <= MAX_WAVE_SPEED_M_S)
    step_ok = np.isfinite(group) & (group >= MIN_WAVE_SPEED_M_S) & (group <= MAX_WAVE_SPEED_M_S)
    last_good = n - 1
    bad_points = np.flatnonzero(~point_ok)
    if bad_points.size:
        last_good = min(last_good, int(bad_points[0]) - 1)
    bad_steps = np.flatnonzero(~step_ok)
    if bad_steps.size:  # the step from f[i] to f[i + 1] fails: f[i] is the last good frequency
        last_good = min(last_good, int(bad_steps[0]))
    if last_good < 0:
        raise PipeError(f"the wave model gives no speed within {MIN_WAVE_SPEED_M_S:g}-{MAX_WAVE_SPEED_M_S:g} m/s "
                        f"even at {SCAN_LOW_HZ:g} Hz for this pipe (phase speed {phase[0]:.4g} m/s): check its "
                        "material, diameter and wall")
    return float(f[last_good])


def band_validity(band_hz, limit: ValidityLimit) -> BandValidity:
    """Which part of ``band_hz`` (Hz) the model is evaluated over, given the validity limit.

    Below the limit the band is kept as it is.  Otherwise the band's valid part, ``(low, limit)``,
    widened downwards to ``(limit / 2, limit)`` when the band starts above half the limit: the speed
    at the limit, from half an octave of valid model.
    """
    lo, hi = check_band(band_hz)
    lim = limit.limit_hz
    if hi <= lim:
        return BandValidity((lo, hi), (lo, hi), limit, 0.0)
    evaluated = (min(lo, 0.5 * lim), lim)
    beyond = (hi - max(lo, lim)) / (hi - lo)
    return BandValidity((lo, hi), evaluated, limit, float(beyond))


def beyond_speed(props, validity: BandValidity) -> float | None:
    """The model's own speed (m/s) over the part of the band beyond the validity limit, if it has one.

    None when the band lies below the limit, or when over that part the model finds no solution or
    gives a speed outside ``[MIN_WAVE_SPEED_M_S, MAX_WAVE_SPEED_M_S]`` (or a negative or infinite one).
    """
    if not validity.beyond:
        return None
    f = band_freqs((max(validity.asked_hz[0], validity.limit.limit_hz), validity.asked_hz[1]))
    k, solved = props.solve_wavenumber(f)
    if not np.all(solved):
        return None
    slope = np.polyfit(2.0 * np.pi * f, np.real(k), 1)[0]
    with np.errstate(divide="ignore"):
        c = 1.0 / slope
    if not (np.isfinite(c) and MIN_WAVE_SPEED_M_S <= c <= MAX_WAVE_SPEED_M_S):
        return None
    return float(c)


def beyond_limit_rel_sd(validity: BandValidity, speed_m_s: float, beyond_speed_m_s: float | None,
                        free_speed_m_s: float) -> float:
    """Extra s.d. of ln speed (dimensionless) for the part of a band given up beyond the validity limit.

    Over that part the speed is not known: it may be what the model says there (``beyond_speed_m_s``,
    from :func:`beyond_speed`) or, where the model says nothing usable, anything up to free-field
    water's ``c_f``.  The range from the speed evaluated (``speed_m_s``) to that speed is read as
    :data:`BEYOND_LIMIT_SPAN_SD` s.d. of ln speed and weighted by the part's share of the band.
    Zero when the band lies below the limit.

    Examples
    --------
    >>> lim = ValidityLimit(ring_hz=330.0, limit_hz=110.0, speed_limited=False)
    >>> bv = band_validity((100.0, 400.0), lim)
    >>> round(bv.fraction_beyond, 3), round(beyond_limit_rel_sd(bv, 450.0, None, 1500.0), 3)
    (0.967, 0.582)
    """
    if not validity.beyond:
        return 0.0
    other = free_speed_m_s if beyond_speed_m_s is None else beyond_speed_m_s
    span = abs(math.log(other / speed_m_s))
    return float(validity.fraction_beyond * span / BEYOND_LIMIT_SPAN_SD)
