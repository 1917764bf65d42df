"""Pipe segments, multi-segment paths, travel times and wave-speed uncertainty.

Sign convention (``interfaces.md``): ``delay_s`` is the arrival time at sensor A minus
the arrival time at sensor B, so a leak at distance x from A gives
``delay = 2 T(x) - T(D)`` where T is the travel time from A along the path.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from .._errors import PipeError
from .._warnings import warn
from ._materials import WATER, Fluid, Material, get_material
from ._validity import (
    MAX_WAVE_SPEED_M_S, MIN_WAVE_SPEED_M_S, BandValidity, band_validity, beyond_limit_rel_sd, check_band,
    beyond_speed, raw_band_speed, validity_limit,
)
from ._wavenumber import ring_frequency_hz, solve_buried, wavenumber

__all__ = [
    "Soil", "SOILS", "PipeSegment", "SegmentProperties", "PipePath",
    "MIN_WAVE_SPEED_M_S", "MAX_WAVE_SPEED_M_S", "DEFAULT_BAND_HZ", "MAX_PIPE_LENGTH_M",
    "MAX_DIAMETER_TO_WALL", "MIN_DIAMETER_TO_WALL", "BandValidity", "thinnest_wall_mm",
]

#: Band used for a speed when none is given (Hz).
DEFAULT_BAND_HZ = (100.0, 400.0)
#: Relative standard deviation of a wave speed the user gave (measured in place).
OVERRIDE_SPEED_REL_SD = 0.02
#: Longest segment and longest path accepted, m.  Correlating sensors need to be within a few km
#: of each other (physics.md, attenuation); a longer "pipe" is a unit or typing error, and a
#: simulation of it would allocate memory in proportion to its travel time.
MAX_PIPE_LENGTH_M = 100_000.0
#: Thinnest wall accepted, as the largest internal diameter / wall ratio.  The thinnest pressure
#: water pipes are PVC-O (SDR about 45, D/h about 43) and large welded steel mains (D/h 150-200);
#: for walls of micrometres the wall model's speed becomes NaN.  A validity bound of the model, not
#: a tuned constant.  A softer wall is refused sooner: see :func:`thinnest_wall_mm` (PE below D/h 188,
#: where its quasi-static speed falls under MIN_WAVE_SPEED_M_S).
MAX_DIAMETER_TO_WALL = 250.0
#: Thickest wall accepted, as the smallest internal diameter / wall ratio (SDR 4: the thickest
#: plastic pressure pipe is SDR 6, D/h = 4).
MIN_DIAMETER_TO_WALL = 2.0


@dataclasses.dataclass(frozen=True)
class Soil:
    """Surrounding medium: dilatational and shear speeds (m/s), density (kg/m^3)."""

    dilatational_m_s: float
    shear_m_s: float
    density_kg_m3: float


#: Soil presets: the UK test site (sandy) and a stiffer soil (``physics.md`` 1.3); ``none`` is in vacuo.
SOILS: dict[str, Soil | None] = {
    "sandy": Soil(200.0, 100.0, 2000.0),
    "stiff": Soil(1000.0, 150.0, 2000.0),
    "none": None,
}


@dataclasses.dataclass(frozen=True)
class SegmentProperties:
    """Physical parameters of one realisation of a segment (nominal or drawn).

    All SI: Pa, kg/m^3, m, m/s; ``poisson`` is the wall's Poisson's ratio.  ``speed_scale``
    multiplies the phase speed (user override).
    """

    youngs_modulus_pa: float
    loss_factor: float
    wall_density_kg_m3: float
    mean_radius_m: float
    wall_m: float
    fluid_bulk_pa: float
    fluid_density_kg_m3: float
    soil: Soil | None
    poisson: float
    speed_scale: float = 1.0

    def free_speed_m_s(self) -> float:
        """Free-field sound speed of the fluid, sqrt(B / rho), m/s."""
        return math.sqrt(self.fluid_bulk_pa / self.fluid_density_kg_m3)

    def ring_frequency_hz(self) -> float:
        """Ring frequency of the wall in Hz (``physics.md`` 1.1; :func:`acoustic.pipe.ring_frequency_hz`)."""
        return ring_frequency_hz(youngs_modulus_pa=self.youngs_modulus_pa, poisson=self.poisson,
                                 wall_density_kg_m3=self.wall_density_kg_m3, mean_radius_m=self.mean_radius_m)

    def wavenumber(self, freq_hz):
        """Complex wavenumber (rad/m) at ``freq_hz`` (``exp(-i k x)`` convention)."""
        return self.solve_wavenumber(freq_hz)[0]

    def solve_wavenumber(self, freq_hz):
        """Complex wavenumber (rad/m) at ``freq_hz`` and, per frequency, whether the model solved for
        it (always, in vacuo; see :func:`acoustic.pipe._wavenumber.solve_buried` for the buried model)."""
        kw = dict(youngs_modulus_pa=self.youngs_modulus_pa, loss_factor=self.loss_factor,
                  wall_density_kg_m3=self.wall_density_kg_m3, mean_radius_m=self.mean_radius_m,
                  wall_m=self.wall_m, fluid_bulk_pa=self.fluid_bulk_pa,
                  fluid_density_kg_m3=self.fluid_density_kg_m3)
        if self.soil is None:
            k = wavenumber(freq_hz, **kw)
            solved = np.ones(np.shape(k), dtype=bool)
        else:
            k, solved = solve_buried(freq_hz, soil_dilatational_m_s=self.soil.dilatational_m_s,
                                     soil_shear_m_s=self.soil.shear_m_s,
                                     soil_density_kg_m3=self.soil.density_kg_m3, **kw)
        if self.speed_scale != 1.0:
            k = k.real / self.speed_scale + 1j * k.imag
        return k, solved


@dataclasses.dataclass(frozen=True)
class PipeSegment:
    """A uniform run of pipe.

    Parameters
    ----------
    material : str
        One of :data:`acoustic.pipe.MATERIALS` (``pvc``, ``pe``, ``cast_iron``, ...).
    length_m : float
        Length along the pipe in m (> 0).
    diameter_mm : float, default 150
        Internal diameter in mm.
    wall_mm : float or None
        Wall thickness in mm; a typical wall for the material when None.
    wave_speed_m_s : float or None
        Measured or known fluid-wave speed in m/s; overrides the model's speed.
    soil : str, default "sandy"
        Surrounding medium, a key of :data:`SOILS`.
    """

    material: str
    length_m: float
    diameter_mm: float = 150.0
    wall_mm: float | None = None
    wave_speed_m_s: float | None = None
    soil: str = "sandy"

    def __post_init__(self) -> None:
        mat = get_material(self.material)
        object.__setattr__(self, "material", mat.name)
        for name in ("length_m", "diameter_mm", "wall_mm", "wave_speed_m_s"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating))):
                raise PipeError(f"{name} must be a number, got {v!r}")
        if not np.isfinite(self.length_m) or self.length_m <= 0:
            raise PipeError(f"length_m must be a positive number of metres, got {self.length_m!r}")
        if self.length_m > MAX_PIPE_LENGTH_M:
            raise PipeError(f"length_m {self.length_m:g} m is longer than any pipe between two sensors "
                            f"(at most {MAX_PIPE_LENGTH_M:g} m)")
        if not np.isfinite(self.diameter_mm) or not (5.0 <= self.diameter_mm <= 5000.0):
            raise PipeError(f"diameter_mm must be between 5 and 5000 mm, got {self.diameter_mm!r}")
        if self.wall_mm is not None:
            if not np.isfinite(self.wall_mm) or self.wall_mm <= 0:
                raise PipeError(f"wall_mm must be a positive number of mm, got {self.wall_mm!r}")
            thinnest = thinnest_wall_mm(mat, self.diameter_mm)
            thickest = self.diameter_mm / MIN_DIAMETER_TO_WALL
            if self.wall_mm < thinnest:
                if thinnest > self.diameter_mm / MAX_DIAMETER_TO_WALL:
                    why = (f"a thinner {mat.label} wall would carry the leak-noise wave slower than "
                           f"{MIN_WAVE_SPEED_M_S:g} m/s")
                else:
                    why = f"internal diameter / wall at most {MAX_DIAMETER_TO_WALL:g}"
                raise PipeError(f"wall_mm {self.wall_mm:g} mm is thinner than any pressure pipe's wall for "
                                f"diameter_mm {self.diameter_mm:g} mm (at least {thinnest:.3g} mm: {why})")
            if self.wall_mm > thickest:
                raise PipeError(f"wall_mm {self.wall_mm:g} mm is thicker than any pressure pipe's wall for "
                                f"diameter_mm {self.diameter_mm:g} mm (at most {thickest:.3g} mm: half the "
                                "internal diameter)")
        if self.wave_speed_m_s is not None:
            c = self.wave_speed_m_s
            if not np.isfinite(c) or not (MIN_WAVE_SPEED_M_S <= c <= MAX_WAVE_SPEED_M_S):
                raise PipeError(
                    f"wave_speed_m_s {c!r} is outside what water in a pipe can carry "
                    f"({MIN_WAVE_SPEED_M_S:g}-{MAX_WAVE_SPEED_M_S:g} m/s)"
                )
        if self.soil not in SOILS:
            raise PipeError(f"unknown soil {self.soil!r}; known: {', '.join(SOILS)}")

    @property
    def mat(self) -> Material:
        """The :class:`Material` of this segment."""
        return get_material(self.material)

    @property
    def wall_thickness_mm(self) -> float:
        """Wall thickness in mm (given, or the material's typical wall)."""
        return self.wall_mm if self.wall_mm is not None else self.mat.default_wall_mm(self.diameter_mm)

    def properties(self, fluid: Fluid = WATER) -> SegmentProperties:
        """Nominal physical parameters."""
        mat, h = self.mat, self.wall_thickness_mm * 1e-3
        props = SegmentProperties(
            youngs_modulus_pa=mat.youngs_modulus_pa, loss_factor=mat.loss_factor,
            wall_density_kg_m3=mat.density_kg_m3, mean_radius_m=(self.diameter_mm * 1e-3 + h) / 2.0,
            wall_m=h, fluid_bulk_pa=fluid.bulk_modulus_pa, fluid_density_kg_m3=fluid.density_kg_m3,
            soil=SOILS[self.soil], poisson=mat.poisson,
        )
        if self.wave_speed_m_s is not None:
            model = _band_speed(props, DEFAULT_BAND_HZ)
            props = dataclasses.replace(props, speed_scale=self.wave_speed_m_s / model)
        return props

    def draw_properties(self, rng: np.random.Generator, fluid: Fluid = WATER) -> SegmentProperties:
        """Draw one realisation around the nominal parameters (log-normal spreads of the material).

        A real pipe differs from the table: modulus, wall, loss, water bulk modulus and the
        soil vary.  With a user-given speed only that speed varies (2 % s.d.).
        """
        mat, nom = self.mat, self.properties(fluid)
        if self.wave_speed_m_s is not None:
            return dataclasses.replace(nom, speed_scale=nom.speed_scale * float(np.exp(rng.normal(0, OVERRIDE_SPEED_REL_SD))))
        h = nom.wall_m * float(np.exp(rng.normal(0.0, mat.wall_rel_sd)))
        soil = nom.soil
        if soil is not None:  # the soil around a real pipe differs from the preset
            sd_p, sd_s, sd_rho = SOIL_REL_SD
            soil = Soil(soil.dilatational_m_s * float(np.exp(rng.normal(0.0, sd_p))),
                        soil.shear_m_s * float(np.exp(rng.normal(0.0, sd_s))),
                        soil.density_kg_m3 * float(np.exp(rng.normal(0.0, sd_rho))))
        return dataclasses.replace(
            nom,
            youngs_modulus_pa=nom.youngs_modulus_pa * float(np.exp(rng.normal(0.0, mat.youngs_rel_sd))),
            loss_factor=nom.loss_factor * float(np.exp(rng.normal(0.0, mat.loss_rel_sd))),
            wall_m=h,
            mean_radius_m=(self.diameter_mm * 1e-3 + h) / 2.0,
            fluid_bulk_pa=nom.fluid_bulk_pa * float(np.exp(rng.normal(0.0, fluid.bulk_modulus_rel_sd))),
            soil=soil,
        )

    def wavenumber(self, freq_hz):
        """Nominal complex wavenumber (rad/m) at ``freq_hz``."""
        return self.properties().wavenumber(freq_hz)

    def phase_speed_m_s(self, freq_hz):
        """Nominal phase speed in m/s at ``freq_hz``."""
        f = np.asarray(freq_hz, dtype=np.float64)
        return 2.0 * np.pi * f / np.real(self.wavenumber(f))

    def attenuation_db_per_m(self, freq_hz):
        """Nominal attenuation in dB/m at ``freq_hz``."""
        return -20.0 / np.log(10.0) * np.imag(self.wavenumber(freq_hz))

    @property
    def ring_frequency_hz(self) -> float:
        """Ring frequency of the wall in Hz, ``sqrt(E / (rho_p (1 - nu^2))) / (2 pi a)`` (nominal)."""
        return _segment_limit(self._unit()).ring_hz

    @property
    def validity_limit_hz(self) -> float:
        """Frequency (Hz) below which the wave model of this segment holds: a third of the ring
        frequency, or lower where the soil-loaded wall nears resonance (``acoustic.pipe._validity``)."""
        return _segment_limit(self._unit()).limit_hz

    def band_validity(self, band_hz=DEFAULT_BAND_HZ) -> BandValidity:
        """The part of ``band_hz`` (Hz) the speed is evaluated over and the share of it given up."""
        return band_validity(check_band(band_hz), _segment_limit(self._unit()))

    def describe(self) -> str:
        """The segment in words (material, bore, wall, length, soil), for messages."""
        soil = "in vacuo" if self.soil == "none" else f"{self.soil} soil"
        return (f"{self.material} {self.diameter_mm:g} mm bore, {self.wall_thickness_mm:.3g} mm wall, "
                f"{self.length_m:g} m, {soil}")

    def speed_m_s(self, band_hz=DEFAULT_BAND_HZ) -> float:
        """Effective (group) speed over a band: 1 / (least-squares slope of Re k against omega), m/s.

        This is the speed a correlator's band-averaged delay corresponds to.  Where the band reaches
        beyond :attr:`validity_limit_hz` the speed is the model's over the band's valid part (or at
        the limit), with an :class:`~acoustic.AcousticWarning`; :meth:`speed_rel_sd` widens with it.

        Examples
        --------
        >>> round(PipeSegment("ductile_iron", 100.0, 150.0).speed_m_s((100.0, 400.0)))
        1284
        """
        band = check_band(band_hz)
        self._warn_beyond(band)
        return _segment_speed(self._unit(), band)

    def speed_rel_sd(self, band_hz=DEFAULT_BAND_HZ) -> float:
        """Relative standard deviation of :meth:`speed_m_s` from the parameter spreads of
        :meth:`draw_properties` (first-order propagation; dimensionless, s.d. of ln speed), widened
        for any part of the band beyond :attr:`validity_limit_hz` (``_validity.beyond_limit_rel_sd``)."""
        band = check_band(band_hz)
        self._warn_beyond(band)
        return _speed_rel_sd(self._unit(), band)

    def _warn_beyond(self, band, index: int = 0, count: int = 1) -> None:
        """Warn (AcousticWarning) when ``band`` reaches beyond the validity limit of the model; the
        message names the segment (and its place, ``index`` of ``count``, in a path of several)."""
        if self.wave_speed_m_s is not None:  # a measured speed: the model only scales it between bands
            return
        bv = self.band_validity(band)
        if not bv.beyond:
            return
        label = self.describe() if count == 1 else f"{index + 1} of {count} ({self.describe()})"
        lim = bv.limit
        why = (f"where the model's wave speed leaves {MIN_WAVE_SPEED_M_S:g}-{MAX_WAVE_SPEED_M_S:g} m/s; ring "
               f"frequency {_hz(lim.ring_hz)} Hz" if lim.speed_limited
               else f"a third of its ring frequency {_hz(lim.ring_hz)} Hz")
        c = _segment_speed(self._unit(), band)
        extra = _beyond_rel_sd(self._unit(), band)
        warn(f"pipe segment {label}: the wave model holds below {_hz(lim.limit_hz)} Hz ({why}); the band "
             f"{_hz(band[0])}-{_hz(band[1])} Hz reaches beyond it, so the speed is the model's over "
             f"{_hz(bv.evaluated_hz[0])}-{_hz(bv.evaluated_hz[1])} Hz ({c:.0f} m/s) and its uncertainty is "
             f"widened by {100.0 * extra:.0f} % (s.d.)", stacklevel=3)

    def _unit(self) -> "PipeSegment":
        """The same pipe with a 1 m length: the key of the speed caches (speeds do not depend on length)."""
        return self if self.length_m == 1.0 else dataclasses.replace(self, length_m=1.0)


def thinnest_wall_mm(material: Material | str, diameter_mm: float) -> float:
    """Thinnest wall (mm) accepted for a pipe of ``material`` and internal diameter ``diameter_mm`` (mm).

    The larger of ``diameter_mm / MAX_DIAMETER_TO_WALL`` and the wall at which the material's
    quasi-static (Korteweg) speed in water falls to :data:`MIN_WAVE_SPEED_M_S`,
    ``h = B D / (alpha E - B)`` with ``alpha = (c_f / c_min)^2 - 1`` (``physics.md`` 1.2, mean radius
    ``(D + h) / 2``).  Only PE is bound by the second (D/h 188; no PE pressure pipe is thinner than SDR 41).

    Examples
    --------
    >>> round(thinnest_wall_mm("pvc", 150.0), 3), round(thinnest_wall_mm("pe", 150.0), 3)
    (0.6, 0.797)
    """
    mat = material if isinstance(material, Material) else get_material(material)
    d = float(diameter_mm)
    alpha = (WATER.free_speed_m_s / MIN_WAVE_SPEED_M_S) ** 2 - 1.0
    korteweg = WATER.bulk_modulus_pa * d / (alpha * mat.youngs_modulus_pa - WATER.bulk_modulus_pa)
    return float(max(d / MAX_DIAMETER_TO_WALL, korteweg))


def _hz(x: float) -> str:
    """A frequency for a message: whole hertz, three digits below 100 Hz."""
    return f"{x:.0f}" if x >= 100 else f"{x:.3g}"


def _band_speed(props: SegmentProperties, band_hz) -> float:
    """Speed (m/s) of ``props`` over ``band_hz``, the model evaluated only below its validity limit."""
    bv = band_validity(band_hz, validity_limit(props))
    return raw_band_speed(props, bv.evaluated_hz)


@functools.lru_cache(maxsize=4096)
def _segment_speed(seg: PipeSegment, band_hz) -> float:
    return _band_speed(seg.properties(), band_hz)


@functools.lru_cache(maxsize=4096)
def _segment_limit(seg: PipeSegment):
    """Validity limit of the nominal model of ``seg`` (a unit-length segment, the cache key)."""
    return validity_limit(seg.properties())


#: Relative (log-normal) spreads of the soil around a real pipe, as drawn by
#: :meth:`PipeSegment.draw_properties`: dilatational speed, shear speed, density.
SOIL_REL_SD = (0.15, 0.10, 0.10)


@functools.lru_cache(maxsize=512)
def _speed_rel_sd(seg: PipeSegment, band_hz) -> float:
    """s.d. of ln(speed) over the parameter spreads of :meth:`PipeSegment.draw_properties`.

    First-order propagation (delta method): each log-normal parameter moved by one s.d. either
    way (central difference of ln speed), the contributions added in quadrature.  Against a
    2000-draw Monte Carlo of the same spreads it agrees within 5 % for every material and band
    (tests/test_pipe.py); a 64-draw Monte Carlo, used before, came out 15-25 % low for metals and
    took four times as long.
    """
    if seg.wave_speed_m_s is not None:
        return OVERRIDE_SPEED_REL_SD
    mat, nom = seg.mat, seg.properties()
    # every move is evaluated over the nominal model's valid band, so that the differences are of the
    # speed alone, not of a band edge moving with the limit
    bv = band_validity(band_hz, _segment_limit(seg))

    def log_speed(**changes) -> float:
        return math.log(raw_band_speed(dataclasses.replace(nom, **changes), bv.evaluated_hz))

    def wall(h):
        return {"wall_m": h, "mean_radius_m": (seg.diameter_mm * 1e-3 + h) / 2.0}

    moves = [  # (s.d. of the log parameter, the properties at ln(parameter) + d)
        (mat.youngs_rel_sd, lambda d: {"youngs_modulus_pa": nom.youngs_modulus_pa * math.exp(d)}),
        (mat.loss_rel_sd, lambda d: {"loss_factor": nom.loss_factor * math.exp(d)}),
        (mat.wall_rel_sd, lambda d: wall(nom.wall_m * math.exp(d))),
        (WATER.bulk_modulus_rel_sd, lambda d: {"fluid_bulk_pa": nom.fluid_bulk_pa * math.exp(d)}),
    ]
    soil = nom.soil
    if soil is not None:
        sd_p, sd_s, sd_rho = SOIL_REL_SD
        moves += [
            (sd_p, lambda d: {"soil": Soil(soil.dilatational_m_s * math.exp(d), soil.shear_m_s, soil.density_kg_m3)}),
            (sd_s, lambda d: {"soil": Soil(soil.dilatational_m_s, soil.shear_m_s * math.exp(d), soil.density_kg_m3)}),
            (sd_rho, lambda d: {"soil": Soil(soil.dilatational_m_s, soil.shear_m_s, soil.density_kg_m3 * math.exp(d))}),
        ]
    var = 0.0
    for sd, change in moves:
        if sd > 0:
            var += (0.5 * (log_speed(**change(sd)) - log_speed(**change(-sd)))) ** 2
    var += _beyond_rel_sd(seg, band_hz) ** 2
    return float(math.sqrt(var))


@functools.lru_cache(maxsize=512)
def _beyond_rel_sd(seg: PipeSegment, band_hz) -> float:
    """Extra s.d. of ln speed of ``seg`` over ``band_hz`` for the part of the band beyond its validity limit."""
    nom = seg.properties()
    bv = band_validity(band_hz, _segment_limit(seg))
    if not bv.beyond:
        return 0.0
    return beyond_limit_rel_sd(bv, _segment_speed(seg, band_hz), beyond_speed(nom, bv), nom.free_speed_m_s())


class PipePath:
    """An ordered run of segments from sensor A to sensor B.

    Parameters
    ----------
    segments : sequence of PipeSegment
        Ordered from A to B.
    """

    def __init__(self, segments):
        segs = tuple(segments)
        if not segs:
            raise PipeError("a pipe path needs at least one segment")
        for i, seg in enumerate(segs):
            if not isinstance(seg, PipeSegment):
                raise PipeError(f"segment {i} must be a PipeSegment, got {type(seg).__name__}")
        total = float(sum(s.length_m for s in segs))
        if total > MAX_PIPE_LENGTH_M:
            raise PipeError(f"the path's segments add up to {total:g} m, longer than any pipe between two "
                            f"sensors (at most {MAX_PIPE_LENGTH_M:g} m)")
        self.segments = segs
        self.lengths_m = np.array([s.length_m for s in segs], dtype=np.float64)
        self.boundaries_m = np.concatenate([[0.0], np.cumsum(self.lengths_m)])

    def __repr__(self) -> str:
        parts = ", ".join(f"{s.material} {s.length_m:g} m" for s in self.segments)
        return f"PipePath({parts})"

    @property
    def length_m(self) -> float:
        """Total path length D in m."""
        return float(self.boundaries_m[-1])

    @classmethod
    def uniform(cls, length_m, material=None, *, speed_m_s=None, diameter_mm=150.0, wall_mm=None, soil="sandy"):
        """One segment of ``material`` (or of a known speed, material then only sets attenuation)."""
        if length_m is None or not np.isfinite(length_m) or length_m <= 0:
            raise PipeError(f"distance must be a positive number of metres, got {length_m!r}")
        return cls([PipeSegment(material or "ductile_iron", float(length_m), diameter_mm, wall_mm, speed_m_s, soil)])

    # -- speeds and travel times -----------------------------------------------------------
    def speeds_m_s(self, band_hz=DEFAULT_BAND_HZ) -> np.ndarray:
        """Nominal effective speed of each segment over ``band_hz`` (m/s); an AcousticWarning names
        each segment whose validity limit the band reaches beyond (:meth:`PipeSegment.speed_m_s`)."""
        band = check_band(band_hz)
        self._warn_beyond(band)
        return np.array([_segment_speed(s._unit(), band) for s in self.segments])

    def speed_rel_sd(self, band_hz=DEFAULT_BAND_HZ) -> np.ndarray:
        """Relative standard deviation of each segment's speed (widened beyond a validity limit)."""
        band = check_band(band_hz)
        self._warn_beyond(band)
        return np.array([_speed_rel_sd(s._unit(), band) for s in self.segments])

    def _warn_beyond(self, band) -> None:
        for i, s in enumerate(self.segments):
            s._warn_beyond(band, i, len(self.segments))

    def mean_speed_m_s(self, band_hz=DEFAULT_BAND_HZ) -> float:
        """Length-weighted harmonic-mean speed D / T(D) in m/s."""
        return self.length_m / self.travel_time_s(self.length_m, self.speeds_m_s(band_hz))

    def travel_time_s(self, x_m, speeds_m_s):
        """Travel time T(x) in s from A to position ``x_m`` (piecewise linear).

        ``speeds_m_s`` has one entry per segment, or shape (n_draws, n_segments) for draws;
        the result then has the broadcast shape of draws by positions.
        """
        x = np.clip(np.asarray(x_m, dtype=np.float64), 0.0, self.length_m)
        c = np.asarray(speeds_m_s, dtype=np.float64)
        inside = np.clip(x[..., None] - self.boundaries_m[:-1], 0.0, self.lengths_m)  # (..., nseg)
        if c.ndim == 1:
            return inside @ (1.0 / c)
        return np.einsum("...s,ds->d...", inside, 1.0 / c)

    def position_for_time(self, t_s, speeds_m_s):
        """Inverse of :meth:`travel_time_s`: the position (m) reached after ``t_s`` seconds.

        ``t_s`` may be an array; with 2-D ``speeds_m_s`` (draws) it must have one entry per draw.
        """
        c = np.atleast_2d(np.asarray(speeds_m_s, dtype=np.float64))
        t = np.asarray(t_s, dtype=np.float64)
        seg_t = self.lengths_m / c  # (d, nseg)
        cum_t = np.concatenate([np.zeros((c.shape[0], 1)), np.cumsum(seg_t, axis=1)], axis=1)
        tt = np.broadcast_to(t, np.broadcast_shapes(t.shape, (c.shape[0],))) if c.shape[0] > 1 else t
        tt = np.clip(tt, 0.0, cum_t[:, -1] if c.shape[0] > 1 else cum_t[0, -1])
        x = np.zeros(np.shape(tt))
        for i in range(len(self.segments)):
            t0 = cum_t[:, i] if c.shape[0] > 1 else cum_t[0, i]
            ci = c[:, i] if c.shape[0] > 1 else c[0, i]
            within = np.clip(tt - t0, 0.0, None) * ci
            x = x + np.minimum(within, self.lengths_m[i])
        return x

    def delay_for_position(self, x_m, band_hz=DEFAULT_BAND_HZ, speeds_m_s=None):
        """Delay (s) = arrival at A minus arrival at B, for a source at ``x_m`` from A."""
        c = self.speeds_m_s(band_hz) if speeds_m_s is None else speeds_m_s
        return 2.0 * self.travel_time_s(x_m, c) - self.travel_time_s(self.length_m, c)

    def position_for_delay(self, delay_s, band_hz=DEFAULT_BAND_HZ, speeds_m_s=None):
        """Position (m from A) of a source whose delay (A minus B) is ``delay_s``; clipped to [0, D]."""
        c = self.speeds_m_s(band_hz) if speeds_m_s is None else np.asarray(speeds_m_s)
        if len(self.segments) == 1:  # T^-1((T(D) + delay) / 2) = (D + c delay) / 2 on one segment
            c1 = np.asarray(c, dtype=np.float64)[..., 0]
            return np.clip(0.5 * (self.length_m + c1 * np.asarray(delay_s, dtype=np.float64)), 0.0, self.length_m)
        total = self.travel_time_s(self.length_m, c)
        return self.position_for_time((total + np.asarray(delay_s)) / 2.0, c)

    def max_delay_s(self, band_hz=DEFAULT_BAND_HZ, speeds_m_s=None) -> float:
        """Largest possible |delay| in s: T(D)."""
        c = self.speeds_m_s(band_hz) if speeds_m_s is None else speeds_m_s
        return float(self.travel_time_s(self.length_m, c))

    def position_interval(self, delay_s, delay_sd_s, band_hz=DEFAULT_BAND_HZ, *, coverage=0.95,
                          n_draws=4000, seed=0):
        """Interval (m from A) for a source at ``delay_s`` with delay s.d. ``delay_sd_s``.

        Monte Carlo over the delay (normal) and each segment's speed (log-normal with the
        material's spread), so speed errors grow with the offset from mid-span as in
        ``physics.md`` 3.7.

        Returns
        -------
        (float, float, float)
            Lower and upper bounds (m) and the standard deviation (m).
        """
        rng = np.random.default_rng(seed)
        c0 = self.speeds_m_s(band_hz)
        sd = self.speed_rel_sd(band_hz)
        c = c0 * np.exp(rng.normal(0.0, 1.0, (n_draws, c0.size)) * sd)
        d = delay_s + rng.normal(0.0, 1.0, n_draws) * delay_sd_s
        # the delay was measured in the real pipe; the draws ask where the source would be if
        # the speeds were c: scale so that the nominal speeds map delay_s to the point estimate.
        x = self.position_for_delay(d, speeds_m_s=c)
        a = (1.0 - coverage) / 2.0
        lo, hi = np.quantile(x, [a, 1.0 - a])
        return float(lo), float(hi), float(np.std(x))

    def segment_at(self, x_m) -> int:
        """Index of the segment containing position ``x_m``."""
        return int(np.clip(np.searchsorted(self.boundaries_m, x_m, side="right") - 1, 0, len(self.segments) - 1))
