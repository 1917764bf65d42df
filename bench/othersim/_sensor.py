"""Sensors (hydrophone, accelerometer on a fitting), their self-noise, and the logger's digitiser.

Choices (README.md has the reasoning):

* A hydrophone reads pressure through an AC-coupled preamplifier (Butterworth high-pass,
  corner 0.5-8 Hz) and sits in a hydrant or tapping whose water column resonates (0-2 peaks,
  80-1500 Hz, Q 2-12, +3..+15 dB).
* An accelerometer does not read the pipe wall: it sits on a valve spindle or hydrant body.  Its
  response to in-pipe pressure is the textbook -omega^2 wall-acceleration weighting TIMES the
  base-excitation transmissibility of the fitting (a spring-mass at 150-2000 Hz, Q 2-10: above
  it the weighting falls back towards omega^1), times a magnetic-mount resonance (1.5-8 kHz,
  Q 8-30), times 0-2 further fitting resonances or anti-resonances.
* Ground-borne and housing noise (ambient, traffic, wind, rain) reach the sensor through its
  structural path only; electrical noise (mains pickup, interference, self-noise) enters after it.
* The logger's anti-alias filter is a steep linear-phase low-pass at 0.40-0.46 fs (magnitude only;
  equal delays cancel between the two loggers of a pair).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ._util import (butter_highpass, butter_lowpass_mag, loguniform, peaking, transmissibility)

SENSOR_KINDS = ("hydrophone", "accelerometer")

#: Reference physical units: pascal (hydrophone) and m/s^2 (accelerometer).
UNITS = {"hydrophone": "Pa", "accelerometer": "m/s^2"}


@dataclass
class SensorModel:
    kind: str
    hp_fc: float
    hp_order: int
    aa_frac: float
    aa_order: int
    resonances: list = field(default_factory=list)   # (f0, Q, gain_linear)
    fitting: tuple | None = None                     # accelerometer: (f0, Q) transmissibility
    mount: tuple | None = None                       # accelerometer: (f0, Q, gain_linear)
    self_noise_corner_hz: float = 10.0
    self_noise_slope: float = 1.0

    def _common(self, f: np.ndarray, fs: float) -> np.ndarray:
        h = butter_highpass(f, self.hp_fc, self.hp_order).astype(complex)
        h *= butter_lowpass_mag(f, self.aa_frac * fs, self.aa_order)
        for f0, q, g in self.resonances:
            if f0 < 0.5 * fs:
                h *= peaking(f, f0, q, g)
        return h

    def structural(self, f: np.ndarray, fs: float) -> np.ndarray:
        """Response to vibration of the fitting / the water at the sensor (no pressure weighting)."""
        h = self._common(f, fs)
        if self.kind == "accelerometer":
            if self.fitting is not None:
                h *= transmissibility(f, *self.fitting)
            if self.mount is not None and self.mount[0] < 0.5 * fs:
                h *= peaking(f, *self.mount)
        return h

    def pressure(self, f: np.ndarray, fs: float) -> np.ndarray:
        """Response to in-pipe pressure (the path of every pipe-borne source)."""
        h = self.structural(f, fs)
        if self.kind == "accelerometer":
            h = h * (-(f / 100.0) ** 2)
        return h

    def electrical(self, f: np.ndarray, fs: float) -> np.ndarray:
        return butter_lowpass_mag(f, self.aa_frac * fs, self.aa_order).astype(complex)

    def self_noise_psd(self, f: np.ndarray) -> np.ndarray:
        ff = np.maximum(f, 0.1)
        return 1.0 + (self.self_noise_corner_hz / ff) ** self.self_noise_slope

    def as_dict(self) -> dict:
        return {"kind": self.kind, "hp_fc_hz": round(self.hp_fc, 3), "hp_order": self.hp_order,
                "aa_cutoff_fraction_of_fs": round(self.aa_frac, 4), "aa_order": self.aa_order,
                "resonances": [{"f0_hz": round(a, 2), "q": round(b, 2), "gain_db": round(20 * math.log10(c), 2)}
                               for a, b, c in self.resonances],
                "fitting": None if self.fitting is None else {"f0_hz": round(self.fitting[0], 2), "q": round(self.fitting[1], 2)},
                "mount": None if self.mount is None else {"f0_hz": round(self.mount[0], 1), "q": round(self.mount[1], 2),
                                                          "gain_db": round(20 * math.log10(self.mount[2]), 2)},
                "self_noise_corner_hz": round(self.self_noise_corner_hz, 2),
                "self_noise_slope": round(self.self_noise_slope, 3)}


def draw_sensor(rng: np.random.Generator, kind: str, *, resonances: bool = True) -> SensorModel:
    if kind not in SENSOR_KINDS:
        raise ValueError(f"sensor_kind must be one of {SENSOR_KINDS}, got {kind!r}")
    aa_frac = float(rng.uniform(0.40, 0.46))
    aa_order = int(rng.integers(8, 13))
    if kind == "hydrophone":
        res = []
        if resonances:
            for _ in range(int(rng.choice(3, p=[0.3, 0.5, 0.2]))):
                res.append((loguniform(rng, 80.0, 1500.0), float(rng.uniform(2.0, 12.0)),
                            10 ** (rng.uniform(3.0, 15.0) / 20)))
        return SensorModel(kind, loguniform(rng, 0.5, 8.0), int(rng.integers(1, 3)), aa_frac, aa_order, res,
                           None, None, loguniform(rng, 2.0, 100.0), float(rng.uniform(0.8, 1.2)))
    res = []
    fitting = mount = None
    if resonances:
        for _ in range(int(rng.choice(3, p=[0.4, 0.4, 0.2]))):
            res.append((loguniform(rng, 60.0, 1500.0), float(rng.uniform(2.0, 10.0)),
                        10 ** (rng.uniform(-6.0, 12.0) / 20)))
        fitting = (loguniform(rng, 150.0, 2000.0), float(rng.uniform(2.0, 10.0)))
        mount = (loguniform(rng, 1500.0, 8000.0), float(rng.uniform(8.0, 30.0)), 10 ** (rng.uniform(10.0, 25.0) / 20))
    return SensorModel(kind, loguniform(rng, 0.3, 5.0), int(rng.integers(1, 3)), aa_frac, aa_order, res,
                       fitting, mount, loguniform(rng, 5.0, 200.0), float(rng.uniform(0.8, 1.5)))


#: Physical broadband levels (dB re 1 unit rms) of the ambient background and of sensor self-noise.
#: Hydrophone: dB re 1 Pa; accelerometer: dB re 1 m/s^2.  Assumed ranges, not measured values.
AMBIENT_DB = {"hydrophone": (-45.0, -10.0), "accelerometer": (-100.0, -65.0)}
SELF_NOISE_DB = {"hydrophone": (-65.0, -45.0), "accelerometer": (-112.0, -92.0)}
#: Digital gain (dB) that puts a typical ambient at about -35 dBFS.
REFERENCE_GAIN_DB = {"hydrophone": -8.0, "accelerometer": 47.0}


# --------------------------------------------------------------------------------------------
# Digitiser

SUBTYPE_SCALE = {"PCM_16": 2.0 ** 15, "PCM_24": 2.0 ** 23}


@dataclass
class Digitiser:
    subtype: str          # PCM_16, PCM_24 or FLOAT
    container: str        # WAV or FLAC
    dc_offset: float      # full-scale units
    soft_clip: bool       # analog front end saturates smoothly before the ADC's hard limit

    def as_dict(self) -> dict:
        return {"subtype": self.subtype, "container": self.container, "dc_offset": round(self.dc_offset, 6),
                "soft_clip": self.soft_clip}


def draw_digitiser(rng: np.random.Generator, subtypes: dict, flac_fraction: float) -> Digitiser:
    keys = list(subtypes)
    p = np.asarray([subtypes[k] for k in keys], float)
    st = keys[int(rng.choice(len(keys), p=p / p.sum()))]
    container = "FLAC" if (st != "FLOAT" and rng.random() < flac_fraction) else "WAV"
    dc = float(rng.uniform(-0.003, 0.003)) if rng.random() < 0.3 else 0.0
    return Digitiser(st, container, dc, bool(rng.random() < 0.3))


def choose_gain_db(rng: np.random.Generator, kind: str, rms_phys: float, *, overdrive_prob: float) -> tuple:
    """The logger's digital gain: (gain_db, how).  samples = physical * 10**(gain_db/20).

    Half the loggers have a fixed gain (a reference +-40 dB, the unknown factory / coupling
    spread) that an autorange moves in 6-dB steps into -72..-10 dBFS; the others set their gain
    from a short pre-measurement to a target level.  A few are over-driven and clip.
    """
    level_phys = 20 * math.log10(max(rms_phys, 1e-30))
    if rng.random() < overdrive_prob:
        return float(rng.uniform(-14.0, -4.0) - level_phys), "overdriven"  # clips 0-10 % of samples
    if rng.random() < 0.5:
        g = REFERENCE_GAIN_DB[kind] + rng.uniform(-40.0, 40.0)
        while level_phys + g > -10.0:
            g -= 6.0
        while level_phys + g < -72.0:
            g += 6.0
        return float(g), "fixed_autorange"
    return float(rng.uniform(-48.0, -14.0) - level_phys), "agc"


def digitise(x_phys: np.ndarray, gain_db: float, dig: Digitiser) -> tuple:
    """Physical signal -> full-scale samples as the file will hold them: (samples, clipped_fraction)."""
    y = x_phys * 10 ** (gain_db / 20.0) + dig.dc_offset
    if dig.soft_clip:
        knee = 0.8
        a = np.abs(y)
        over = a > knee
        if np.any(over):
            y = y.copy()
            y[over] = np.sign(y[over]) * (knee + (1 - knee) * np.tanh((a[over] - knee) / (1 - knee)))
    if dig.subtype == "FLOAT":
        y = np.clip(y, -1.0, 1.0)
        clipped = float(np.mean(np.abs(y) >= 1.0))
        return y.astype(np.float32).astype(np.float64), clipped
    scale = SUBTYPE_SCALE[dig.subtype]
    q = np.clip(np.round(y * scale), -scale, scale - 1)
    clipped = float(np.mean((q <= -scale) | (q >= scale - 1)))
    return q / scale, clipped
