"""Pipes: nominal descriptions, the "true" pipe the sound actually travels in, and transfer functions.

Modelling choices (see README.md for the reasoning and sources):

* Wave speed: the water-hammer formula with the THICK-WALL restraint factor psi of Wylie &
  Streeter (anchored throughout / push-fit joints acting as expansion joints / anchored at one
  end), not the thin-wall psi = 1 form of the leak-noise literature.  The nominal speed assumes
  anchored pipe, 12 degC water and table moduli; the truth draws the modulus (+-8 %), the water
  temperature (4-24 degC; plastics stiffen when cold), the restraint condition, wall tolerance,
  corrosion, cement lining, a little free gas, and (plastics) a soil stiffening factor.  The
  truth is clipped to +-10 % of the nominal.
* Attenuation: an empirical two-term loss in dB/m, a wall-damping term linear in frequency plus
  a soil-radiation / joint term that grows as a power of frequency (exponent drawn), with ranges
  per material anchored on published computed and measured values.  Magnitude only: the phase
  speed is taken as non-dispersive so that a leak's delay is one well-defined number.
* Geometry: a main made of 1-3 sections between two tees; each sensor may sit at the end of a
  short hydrant lateral (a different material) that pipe.json does not list separately (its
  length is folded into the neighbouring section, as crews measure hydrant to hydrant);
  first-order echoes from section interfaces and from a valve or junction beyond a tee.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ._util import LN10_OVER_20, loguniform

MATERIALS = ("pvc", "pe", "cast_iron", "ductile_iron", "steel", "asbestos_cement", "concrete", "copper")
PLASTICS = ("pvc", "pe")
METALS = ("cast_iron", "ductile_iron", "steel", "copper")


@dataclass(frozen=True)
class MaterialProps:
    """Nominal elastic properties (a table value; the truth is drawn around it)."""

    E_gpa: float       # dynamic Young's modulus
    nu: float          # Poisson's ratio
    rho: float         # wall density, kg/m3
    cold_stiffening: float  # relative change of E per degC below 12 degC (viscoelastic plastics)


#: Nominal moduli.  Sources: physics.md table 1.5 (Fuji Tecom list, Muggleton/Scussel, Graf 2014).
#: PE: 1.9 GPa, inside the 1.4-2.2 GPa dynamic range (static values 0.7-0.9 GPa are NOT used).
PROPS = {
    "pvc": MaterialProps(3.3, 0.40, 1400.0, 0.006),
    "pe": MaterialProps(1.9, 0.45, 950.0, 0.015),
    "cast_iron": MaterialProps(100.0, 0.26, 7200.0, 0.0),
    "ductile_iron": MaterialProps(165.0, 0.28, 7100.0, 0.0),
    "steel": MaterialProps(207.0, 0.29, 7850.0, 0.0),
    "asbestos_cement": MaterialProps(24.0, 0.20, 2000.0, 0.0),
    "concrete": MaterialProps(33.0, 0.20, 2400.0, 0.0),
    "copper": MaterialProps(120.0, 0.34, 8900.0, 0.0),
}

NOMINAL_WATER_TEMP_C = 12.0
#: Free-gas pressure used in Wood's mixture law: ~3 bar gauge mains pressure.
GAS_PRESSURE_PA = 4.0e5


def water_sound_speed(temp_c: float) -> float:
    """Speed of sound in fresh water (m/s), cubic fit in temperature (1403 m/s at 0, 1482 at 20 degC)."""
    t = temp_c
    return 1402.4 + 5.04 * t - 0.058 * t * t + 0.00033 * t ** 3


def water_density(temp_c: float) -> float:
    return 1000.0 - 0.0068 * (temp_c - 4.0) ** 2


def water_bulk_modulus(temp_c: float) -> float:
    c = water_sound_speed(temp_c)
    return water_density(temp_c) * c * c


def restraint_factor(condition: str, D: float, e: float, nu: float) -> float:
    """Thick-wall restraint factor psi (Wylie & Streeter).  D internal diameter, e wall (same units)."""
    thick = 2.0 * e / D * (1.0 + nu)
    if condition == "anchored":
        return thick + D * (1.0 - nu * nu) / (D + e)
    if condition == "joints":
        return thick + D / (D + e)
    if condition == "one_end":
        return thick + D * (1.0 - 0.5 * nu) / (D + e)
    raise ValueError(f"unknown restraint condition {condition!r}")


def wave_speed(E_pa: float, nu: float, D_m: float, e_m: float, B_pa: float, rho_w: float,
               condition: str = "anchored") -> float:
    """Fluid-borne wave speed (m/s): c = sqrt(B/rho / (1 + psi * B * D / (E * e)))."""
    psi = restraint_factor(condition, D_m, e_m, nu)
    return math.sqrt(B_pa / rho_w / (1.0 + psi * B_pa * D_m / (E_pa * e_m)))


def nominal_wave_speed(material: str, diameter_mm: float, wall_mm: float) -> float:
    p = PROPS[material]
    t = NOMINAL_WATER_TEMP_C
    return wave_speed(p.E_gpa * 1e9, p.nu, diameter_mm * 1e-3, wall_mm * 1e-3,
                      water_bulk_modulus(t), water_density(t), "anchored")


# --------------------------------------------------------------------------------------------
# Nominal sizes

#: Plastic outside diameters (mm) and SDRs; metal nominal bores (mm).
_PE_OD = (63, 90, 110, 125, 160, 180, 225, 250, 315)
_PE_SDR = (11, 11, 17, 17, 13.6)
_PVC_OD = (90, 110, 160, 200, 250, 315)
_PVC_SDR = (11, 17, 21, 26, 18, 25, 14)
_METAL_DN = {"cast_iron": (75, 100, 150, 200, 250, 300), "ductile_iron": (80, 100, 150, 200, 250, 300, 400),
             "steel": (100, 150, 200, 300, 400, 500), "asbestos_cement": (100, 150, 200, 250, 300),
             "concrete": (400, 500, 600, 800, 1000), "copper": (28, 35, 42, 54)}


def draw_section(rng: np.random.Generator, material: str, *, small: bool = False) -> dict:
    """Nominal internal diameter and wall (mm) of a section of ``material`` (catalogue-like sizes)."""
    if material in PLASTICS:
        ods = _PE_OD if material == "pe" else _PVC_OD
        if small:
            ods = ods[:3]
        od = float(ods[int(rng.integers(len(ods)))])
        sdrs = _PE_SDR if material == "pe" else _PVC_SDR
        sdr = float(sdrs[int(rng.integers(len(sdrs)))])
        wall = round(od / sdr, 1)
        return {"diameter_mm": round(od - 2 * wall, 1), "wall_mm": wall, "od_mm": od, "sdr": sdr}
    dns = _METAL_DN[material]
    if small:
        dns = dns[:2]
    dn = float(dns[int(rng.integers(len(dns)))])
    if material == "ductile_iron":  # EN 545 class K9: e = 9 (0.5 + 0.001 DN), at least 6 mm
        wall = max(6.0, 9.0 * (0.5 + 0.001 * dn))
    elif material == "cast_iron":  # thick pit/spun-cast walls
        wall = 9.0 + 0.03 * dn
    elif material == "steel":
        wall = max(4.0, 0.025 * dn + 2.0)
    elif material == "asbestos_cement":
        wall = 0.085 * dn + 1.0
    elif material == "concrete":
        wall = 0.08 * dn + 20.0
    else:  # copper
        wall = 1.2 if dn < 40 else 1.5
    return {"diameter_mm": dn, "wall_mm": round(wall, 1), "od_mm": dn + 2 * wall, "sdr": None}


# --------------------------------------------------------------------------------------------
# Attenuation

#: Per-material ranges of the loss model alpha(f) = a_wall*(f/100 Hz) + a_soil*(f/f_ref)**p in dB/m.
#: (a_wall range, f_ref, a_soil range (log-uniform) at f_ref, exponent range).
#: Anchors: physics.md 1.7 (buried MDPE ~0.2 dB/m at 50 Hz, 0.55 at 100, 4.6 at 300 Hz; PVC
#: 0.44 at 100 Hz; AC 0.27-0.43 at 500 Hz; metals < 0.05 dB/m to 500 Hz plus joint/service
#: losses), the Memorial University rig (0.12 dB/m at 2 kHz for a pipe in crushed stone) and
#: the Almeida 2014 observation that high-frequency leak noise does not travel in plastic.
ATTEN_RANGES = {
    "pe": ((0.30, 0.70), 300.0, (0.4, 4.0), (1.8, 2.6)),
    "pvc": ((0.20, 0.50), 300.0, (0.3, 3.0), (1.8, 2.8)),
    "asbestos_cement": ((0.015, 0.05), 1000.0, (0.3, 3.0), (1.5, 2.5)),
    "concrete": ((0.02, 0.06), 1000.0, (0.5, 4.0), (1.5, 2.5)),
    "cast_iron": ((0.002, 0.010), 1000.0, (0.02, 0.30), (1.0, 2.0)),
    "ductile_iron": ((0.001, 0.006), 1000.0, (0.02, 0.25), (1.0, 2.0)),
    "steel": ((0.001, 0.005), 1000.0, (0.01, 0.20), (1.0, 2.0)),
    "copper": ((0.001, 0.005), 1000.0, (0.01, 0.15), (1.0, 2.0)),
}

#: Soil / surround multipliers of the radiation term (name -> (low, high)).
SOILS = {"sand": (0.8, 1.2), "clay": (0.6, 1.0), "gravel": (1.0, 1.4), "saturated_clay": (1.1, 1.6),
         "rock_backfill": (0.9, 1.3)}


@dataclass(frozen=True)
class Attenuation:
    a_wall: float   # dB/m at 100 Hz, linear in f
    f_ref: float    # Hz
    a_soil: float   # dB/m at f_ref
    p: float        # exponent of the soil / joint term

    def db_per_m(self, f: np.ndarray) -> np.ndarray:
        f = np.asarray(f, dtype=float)
        return self.a_wall * (f / 100.0) + self.a_soil * (f / self.f_ref) ** self.p


def draw_attenuation(rng: np.random.Generator, material: str, soil: str, diameter_mm: float,
                     wrapped: bool = False) -> Attenuation:
    (w_lo, w_hi), f_ref, (s_lo, s_hi), (p_lo, p_hi) = ATTEN_RANGES[material]
    soil_mult = rng.uniform(*SOILS[soil])
    a_soil = loguniform(rng, s_lo, s_hi) * soil_mult
    if material not in PLASTICS and diameter_mm > 300:
        a_soil *= (diameter_mm / 300.0) ** 0.5  # large mains: more wall area radiating
    if wrapped:
        a_soil *= rng.uniform(1.5, 3.0)  # bitumen wrapping / internal lining absorb
    return Attenuation(float(rng.uniform(w_lo, w_hi)), f_ref, float(a_soil), float(rng.uniform(p_lo, p_hi)))


# --------------------------------------------------------------------------------------------
# The true section


@dataclass
class TrueSection:
    """One section of pipe as the sound sees it (true values) plus its nominal description."""

    material: str
    length_m: float                 # true length
    nominal: dict                   # material, diameter_mm, wall_mm (what pipe.json says)
    diameter_mm: float              # true internal diameter
    wall_mm: float                  # true wall
    c_m_s: float                    # true wave speed
    c_nominal_m_s: float            # the same formula with nominal values
    atten: Attenuation
    soil: str
    draws: dict = field(default_factory=dict)   # every parameter drawn for the truth

    @property
    def impedance(self) -> float:
        """Characteristic acoustic impedance rho c / A (the constant rho cancels in ratios)."""
        area = math.pi * (self.diameter_mm * 1e-3) ** 2 / 4.0
        return self.c_m_s / area

    def truth_dict(self) -> dict:
        return {"material": self.material, "length_m": round(self.length_m, 4),
                "diameter_mm": round(self.diameter_mm, 2), "wall_mm": round(self.wall_mm, 3),
                "wave_speed_m_s": round(self.c_m_s, 3), "nominal_model_wave_speed_m_s": round(self.c_nominal_m_s, 3),
                "attenuation": {"a_wall_db_per_m_at_100hz": round(self.atten.a_wall, 5),
                                "a_soil_db_per_m_at_fref": round(self.atten.a_soil, 5),
                                "f_ref_hz": self.atten.f_ref, "exponent": round(self.atten.p, 3),
                                "db_per_m_at_100hz": round(float(self.atten.db_per_m(100.0)), 5),
                                "db_per_m_at_500hz": round(float(self.atten.db_per_m(500.0)), 5)},
                "soil": self.soil, "draws": self.draws}


MAX_SPEED_DEVIATION = 0.10


def draw_true_section(rng: np.random.Generator, material: str, length_m: float, nominal: dict, *,
                      water_temp_c: float, gas_fraction: float, soil: str) -> TrueSection:
    """Draw the true properties of a section around its nominal description."""
    p = PROPS[material]
    D_nom, e_nom = nominal["diameter_mm"], nominal["wall_mm"]
    c_nom = nominal_wave_speed(material, D_nom, e_nom)
    E = p.E_gpa * (1.0 + rng.uniform(-0.08, 0.08)) * (1.0 + p.cold_stiffening * (NOMINAL_WATER_TEMP_C - water_temp_c))
    cond = ("anchored", "joints", "one_end")[int(rng.choice(3, p=[0.6, 0.25, 0.15]))]
    wall, D = e_nom, D_nom
    lining_mm = 0.0
    if material in PLASTICS:
        wall = e_nom * rng.uniform(1.0, 1.08)  # walls are specified as minimum walls
        D = D_nom - (wall - e_nom) * 2.0
    elif material == "cast_iron":
        wall = e_nom * rng.uniform(0.70, 1.0)  # graphitic corrosion
        D = D_nom * rng.uniform(0.85, 1.0)     # tuberculation narrows the bore
    elif material in ("ductile_iron", "steel") and rng.random() < 0.6:
        lining_mm = rng.uniform(3.0, 8.0)     # cement-mortar lining stiffens the wall
        D = D_nom - 2 * lining_mm
    E_eff_e = E * 1e9 * wall * 1e-3 + (25e9 * lining_mm * 1e-3)
    B = water_bulk_modulus(water_temp_c)
    if gas_fraction > 0:
        B = 1.0 / ((1.0 - gas_fraction) / B + gas_fraction / GAS_PRESSURE_PA)
    rho_w = water_density(water_temp_c)
    e_m = wall * 1e-3
    c = wave_speed(E_eff_e / e_m, p.nu, D * 1e-3, e_m, B, rho_w, cond)
    soil_factor = 1.0
    if material in PLASTICS:
        soil_factor = rng.uniform(0.98, 1.08)  # soil shear stiffness raises the buried speed
        c *= soil_factor
    raw_ratio = c / c_nom
    ratio = min(max(raw_ratio, 1.0 - MAX_SPEED_DEVIATION), 1.0 + MAX_SPEED_DEVIATION)
    c = c_nom * ratio
    wrapped = material == "steel" and rng.random() < 0.4
    atten = draw_attenuation(rng, material, soil, D, wrapped)
    draws = {"E_gpa": round(E, 4), "restraint": cond, "water_temp_c": round(water_temp_c, 2),
             "gas_fraction": gas_fraction, "bulk_modulus_gpa": round(B / 1e9, 4), "lining_mm": round(lining_mm, 2),
             "soil_speed_factor": round(soil_factor, 4), "speed_ratio_unclipped": round(raw_ratio, 4),
             "speed_ratio": round(ratio, 4), "wrapped": wrapped}
    return TrueSection(material, float(length_m), {"material": material, "diameter_mm": D_nom, "wall_mm": e_nom},
                       float(D), float(wall), float(c), float(c_nom), atten, soil, draws)


def draw_environment(rng: np.random.Generator) -> dict:
    """Site-wide draws shared by all sections: water temperature, free gas, soil."""
    gas = 0.0 if rng.random() < 0.8 else loguniform(rng, 1e-7, 1e-5)
    soil = ["sand", "clay", "gravel", "saturated_clay", "rock_backfill"][int(rng.choice(5, p=[0.35, 0.25, 0.15, 0.1, 0.15]))]
    return {"water_temp_c": float(rng.uniform(4.0, 24.0)), "gas_fraction": float(gas), "soil": soil}


# --------------------------------------------------------------------------------------------
# Geometry and paths


@dataclass
class Reflector:
    u_m: float          # position on the main line (0 = tee of sensor A)
    r_from_left: float  # pressure reflection coefficient for a wave travelling towards +u
    kind: str           # "interface" (sign flips for waves from the right) or a point reflector


@dataclass
class PipeLine:
    """A main (sections between the two tees), laterals to the sensors and reflectors.

    Main-line coordinate u: 0 at the tee of sensor A, ``main_length`` at the tee of B.  Beyond A
    (u < 0) the first section continues; beyond B the last one.
    """

    sections: list          # list[TrueSection], ordered A to B
    lateral_a: TrueSection | None = None
    lateral_b: TrueSection | None = None
    reflectors: list = field(default_factory=list)

    @property
    def main_length(self) -> float:
        return float(sum(s.length_m for s in self.sections))

    @property
    def bounds(self) -> list:
        """(u_start, u_end, section) of each main section."""
        out, u = [], 0.0
        for s in self.sections:
            out.append((u, u + s.length_m, s))
            u += s.length_m
        return out

    def lengths_between(self, u1: float, u2: float) -> list:
        """[(section, metres)] traversed between two main-line positions (either order)."""
        lo, hi = min(u1, u2), max(u1, u2)
        out = []
        b = self.bounds
        for i, (s0, s1, sec) in enumerate(b):
            a0 = -math.inf if i == 0 else s0
            a1 = math.inf if i == len(b) - 1 else s1
            ov = min(hi, a1) - max(lo, a0)
            if ov > 0:
                out.append((sec, ov))
        return out

    def interfaces_between(self, u1: float, u2: float) -> list:
        """Indices i of the interfaces (between section i and i+1) strictly between u1 and u2."""
        lo, hi = min(u1, u2), max(u1, u2)
        out = []
        for i, (_, s1, _) in enumerate(self.bounds[:-1]):
            if lo < s1 < hi:
                out.append(i)
        return out

    def sensor_tee(self, sensor: str) -> float:
        return 0.0 if sensor == "A" else self.main_length

    def lateral(self, sensor: str):
        return self.lateral_a if sensor == "A" else self.lateral_b

    def path_to_a_m(self, u: float) -> float:
        """Path distance from sensor A to a point of the main (through A's lateral)."""
        return (self.lateral_a.length_m if self.lateral_a else 0.0) + u

    @property
    def total_length(self) -> float:
        return (self.path_to_a_m(self.main_length) + (self.lateral_b.length_m if self.lateral_b else 0.0))


@dataclass
class Path:
    delay_s: float
    amplitude: float
    lengths: list   # [(section, metres)]
    kind: str       # "direct" | "echo"


def transmission(line: PipeLine, i: int, towards_plus: bool) -> float:
    a, b = line.sections[i], line.sections[i + 1]
    z1, z2 = (a.impedance, b.impedance) if towards_plus else (b.impedance, a.impedance)
    return 2.0 * z2 / (z1 + z2)


def paths_to_sensor(line: PipeLine, u_src: float, sensor: str, *, echoes: bool = True) -> list:
    """Direct and first-order echo paths from a source at main-line position u_src to a sensor."""
    tee = line.sensor_tee(sensor)
    lat = line.lateral(sensor)
    lat_len = [(lat, lat.length_m)] if lat is not None else []
    lat_t = lat.length_m / lat.c_m_s if lat is not None else 0.0
    out = []
    legs = line.lengths_between(u_src, tee)
    amp = 1.0
    towards_plus = tee > u_src
    for i in line.interfaces_between(u_src, tee):
        amp *= transmission(line, i, towards_plus)
    out.append(Path(sum(m / s.c_m_s for s, m in legs) + lat_t, amp, legs + lat_len, "direct"))
    if not echoes:
        return out
    for r in line.reflectors:
        lo, hi = min(u_src, tee), max(u_src, tee)
        if lo < r.u_m < hi:
            continue  # a reflector between source and sensor sends its echo away from the sensor
        if abs(r.u_m - u_src) < 1e-6 or abs(r.u_m - tee) < 1e-6:
            continue
        leg1 = line.lengths_between(u_src, r.u_m)
        leg2 = line.lengths_between(r.u_m, tee)
        coming_from_left = r.u_m > u_src
        R = r.r_from_left if (r.kind != "interface" or coming_from_left) else -r.r_from_left
        if abs(R) < 1e-3:
            continue
        legs_e = _merge(leg1 + leg2)
        out.append(Path(sum(m / s.c_m_s for s, m in legs_e) + lat_t, R, legs_e + lat_len, "echo"))
    return out


def _merge(legs: list) -> list:
    acc: dict = {}
    order = []
    for s, m in legs:
        if id(s) not in acc:
            acc[id(s)] = [s, 0.0]
            order.append(id(s))
        acc[id(s)][1] += m
    return [(acc[k][0], acc[k][1]) for k in order]


def transfer(paths: list, f: np.ndarray, shift_s: float, alpha_cache: dict) -> np.ndarray:
    """Sum over paths of amplitude * 10^(-alpha L / 20) * exp(+i 2 pi f (shift - delay)).

    ``shift_s`` advances the result (render-grid bookkeeping of start times); ``alpha_cache``
    maps id(section) -> alpha(f) in dB/m on this frequency grid.
    """
    h = np.zeros(f.size, dtype=complex)
    for p in paths:
        loss_db = np.zeros(f.size)
        for s, m in p.lengths:
            a = alpha_cache.get(id(s))
            if a is None:
                a = alpha_cache[id(s)] = s.atten.db_per_m(f)
            loss_db += a * m
        mag = p.amplitude * np.exp(-loss_db * LN10_OVER_20)
        h += mag * np.exp(2j * np.pi * f * (shift_s - p.delay_s))
    return h


def travel_time(line: PipeLine, u_src: float, sensor: str) -> float:
    """Direct travel time from a main-line source to a sensor (true speeds)."""
    return paths_to_sensor(line, u_src, sensor, echoes=False)[0].delay_s


def nominal_pipe_json(line: PipeLine, rng: np.random.Generator, length_error_frac: float) -> dict:
    """pipe.json segments as a crew would enter them: nominal sizes, laterals folded in, lengths measured."""
    segs = []
    for i, s in enumerate(line.sections):
        L = s.length_m
        if i == 0 and line.lateral_a is not None:
            L += line.lateral_a.length_m
        if i == len(line.sections) - 1 and line.lateral_b is not None:
            L += line.lateral_b.length_m
        if length_error_frac > 0:
            L *= 1.0 + rng.normal(0.0, length_error_frac)
        segs.append({"material": s.material, "length_m": round(max(L, 0.5), 1),
                     "diameter_mm": float(s.nominal["diameter_mm"]), "wall_mm": float(s.nominal["wall_mm"])})
    return {"segments": segs}
