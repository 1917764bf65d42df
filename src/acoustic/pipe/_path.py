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
from ._materials import WATER, Fluid, Material, get_material
from ._wavenumber import buried_wavenumber, wavenumber

__all__ = [
    "Soil", "SOILS", "PipeSegment", "SegmentProperties", "PipePath",
    "MIN_WAVE_SPEED_M_S", "MAX_WAVE_SPEED_M_S", "DEFAULT_BAND_HZ", "MAX_PIPE_LENGTH_M",
    "MAX_DIAMETER_TO_WALL", "MIN_DIAMETER_TO_WALL",
]

#: Slowest and fastest fluid-borne wave speed accepted (m/s). Heavily aerated water can be
#: slower, but a correlation with such a speed is not trustworthy; nothing exceeds water's ~1500 m/s.
MIN_WAVE_SPEED_M_S = 100.0
MAX_WAVE_SPEED_M_S = 1600.0
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
#: below D/h = 250 the wall model's speed falls under 100 m/s and, for walls of micrometres,
#: becomes NaN.  A validity bound of the model, not a tuned constant.
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

    All SI: Pa, kg/m^3, m, m/s.  ``speed_scale`` multiplies the phase speed (user override).
    """

    youngs_modulus_pa: float
    loss_factor: float
    wall_density_kg_m3: float
    mean_radius_m: float
    wall_m: float
    fluid_bulk_pa: float
    fluid_density_kg_m3: float
    soil: Soil | None
    speed_scale: float = 1.0

    def wavenumber(self, freq_hz):
        """Complex wavenumber (rad/m) at ``freq_hz`` (``exp(-i k x)`` convention)."""
        kw = dict(youngs_modulus_pa=self.youngs_modulus_pa, loss_factor=self.loss_factor,
                  wall_density_kg_m3=self.wall_density_kg_m3, mean_radius_m=self.mean_radius_m,
                  wall_m=self.wall_m, fluid_bulk_pa=self.fluid_bulk_pa,
                  fluid_density_kg_m3=self.fluid_density_kg_m3)
        if self.soil is None:
            k = wavenumber(freq_hz, **kw)
        else:
            k = buried_wavenumber(freq_hz, soil_dilatational_m_s=self.soil.dilatational_m_s,
                                  soil_shear_m_s=self.soil.shear_m_s,
                                  soil_density_kg_m3=self.soil.density_kg_m3, **kw)
        if self.speed_scale != 1.0:
            k = k.real / self.speed_scale + 1j * k.imag
        return k


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
            thinnest = self.diameter_mm / MAX_DIAMETER_TO_WALL
            thickest = self.diameter_mm / MIN_DIAMETER_TO_WALL
            if self.wall_mm < thinnest:
                raise PipeError(f"wall_mm {self.wall_mm:g} mm is thinner than any pressure pipe's wall for "
                                f"diameter_mm {self.diameter_mm:g} mm (at least {thinnest:.3g} mm: internal "
                                f"diameter / wall at most {MAX_DIAMETER_TO_WALL:g})")
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
            soil=SOILS[self.soil],
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

    def speed_m_s(self, band_hz=DEFAULT_BAND_HZ) -> float:
        """Effective (group) speed over a band: 1 / (least-squares slope of Re k against omega), m/s.

        This is the speed a correlator's band-averaged delay corresponds to.
        """
        return _segment_speed(self._unit(), tuple(float(b) for b in band_hz))

    def speed_rel_sd(self, band_hz=DEFAULT_BAND_HZ) -> float:
        """Relative standard deviation of :meth:`speed_m_s` from the parameter spreads of
        :meth:`draw_properties` (first-order propagation; dimensionless, s.d. of ln speed)."""
        return _speed_rel_sd(self._unit(), tuple(float(b) for b in band_hz))

    def _unit(self) -> "PipeSegment":
        """The same pipe with a 1 m length: the key of the speed caches (speeds do not depend on length)."""
        return self if self.length_m == 1.0 else dataclasses.replace(self, length_m=1.0)


def _band_freqs(band_hz) -> np.ndarray:
    lo, hi = float(band_hz[0]), float(band_hz[1])
    if not (0 < lo < hi):
        raise PipeError(f"band must satisfy 0 < low < high Hz, got {band_hz}")
    return np.linspace(lo, hi, 16)


def _band_speed(props: SegmentProperties, band_hz) -> float:
    f = _band_freqs(band_hz)
    w = 2 * np.pi * f
    kr = np.real(props.wavenumber(f))
    # the correlation peak of a band-limited signal tracks the band-averaged group delay
    # (physics.md 3.6): the least-squares slope d(Re k)/d(omega) over the band
    slope = np.polyfit(w, kr, 1)[0]
    return float(1.0 / slope)


@functools.lru_cache(maxsize=4096)
def _segment_speed(seg: PipeSegment, band_hz) -> float:
    return _band_speed(seg.properties(), band_hz)


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

    def log_speed(**changes) -> float:
        return math.log(_band_speed(dataclasses.replace(nom, **changes), band_hz))

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
    return float(math.sqrt(var))


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
        """Nominal effective speed of each segment over ``band_hz`` (m/s)."""
        return np.array([s.speed_m_s(band_hz) for s in self.segments])

    def speed_rel_sd(self, band_hz=DEFAULT_BAND_HZ) -> np.ndarray:
        """Relative standard deviation of each segment's speed."""
        return np.array([s.speed_rel_sd(band_hz) for s in self.segments])

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
