"""Sound sources: leak noise (four spectral families), pumps, PRVs, consumption, traffic, mains hum,
other machinery and weather, and the ambient background.  All are made in the frequency domain
(Gaussian noise with a drawn power shape) or, where the time structure matters, in the time domain.

Every generator returns the drawn parameters in a ``meta`` dict so that labels.csv / truth.json
can carry them.  Absolute scales are arbitrary here: levels are set later from drawn SNRs.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal

from ._util import (fast_len, gaussian_spectrum, irfft, loguniform, noise_from_psd, random_ripple_db, rfft, rfreqs,
                    slow_walk, smooth_envelope)

# --------------------------------------------------------------------------------------------
# helpers


def _bump(f: np.ndarray, fc: float, sigma_oct: float) -> np.ndarray:
    """A Gaussian bump in log2-frequency (power), 1 at fc."""
    x = np.log2(np.maximum(f, 1e-3) / fc) / sigma_oct
    return np.exp(-0.5 * x * x)


def _add_lines(psd: np.ndarray, f: np.ndarray, centres, powers, widths_hz) -> np.ndarray:
    """Add narrow spectral lines of given total powers (relative units) to a PSD on grid f.

    Each line is a Gaussian of width max(width, bin spacing), normalised so that its summed
    power equals the requested power whatever the grid: a wandering tone, not a pure bin.
    """
    df = f[1] - f[0]
    out = psd.copy()
    for fc, pw, w in zip(centres, powers, widths_hz):
        if fc <= 0 or fc >= f[-1]:
            continue
        w = max(w, df)
        i0 = max(int((fc - 6 * w) / df), 1)
        i1 = min(int((fc + 6 * w) / df) + 2, f.size)
        g = np.exp(-0.5 * ((f[i0:i1] - fc) / w) ** 2)
        s = g.sum()
        if s > 0:
            out[i0:i1] += pw * g / s
    return out


def _broken_power_law(f: np.ndarray, fp: float, s_lo_db_oct: float, s_hi_db_oct: float, kappa: float) -> np.ndarray:
    a_lo = s_lo_db_oct / 3.0103
    a_hi = s_hi_db_oct / 3.0103
    x = np.maximum(f, 1e-3) / fp
    return x ** a_lo / (1.0 + x ** ((a_lo - a_hi) / kappa)) ** kappa


def _am(rng: np.random.Generator, z: np.ndarray, n: int, fs: float, depth: float, corr_s: float) -> np.ndarray:
    """Slow random amplitude modulation of the noise whose spectrum is z."""
    x = irfft(z, n)
    m = 1.0 + slow_walk(rng, n, fs, corr_s, depth)
    return rfft(x * np.maximum(m, 0.0))


# --------------------------------------------------------------------------------------------
# leak noise

#: Leak types: typical peak frequency of the source (Hz, metal pipe, 4 bar) and the size of the
#: opening (mm) used by the jet family.  Assumed from the field bands in physics.md 2.2
#: (50-1000 Hz generic; ~750 Hz over metal, < 700 Hz plastic at the ground) and from
#: Papastefanou et al. 2012 (turbulence, spectra depend on hole size and jet velocity).
LEAK_TYPES = {
    "orifice": (600.0, (1.0, 15.0)),
    "longitudinal_crack": (350.0, (0.3, 3.0)),
    "circumferential_crack": (250.0, (0.3, 4.0)),
    "joint": (150.0, (0.5, 5.0)),
    "service_fitting": (450.0, (1.0, 8.0)),
}
LEAK_FAMILIES = {"envelope": 0.3, "ar": 0.25, "jet": 0.25, "bumps": 0.2}


def draw_leak(rng: np.random.Generator, plastic: bool, leak_type: str | None = None,
              family: str | None = None) -> dict:
    """Draw the parameters of a leak source (not yet its noise)."""
    if leak_type is None:
        w = np.array([0.3, 0.15, 0.15, 0.25, 0.15])
        leak_type = list(LEAK_TYPES)[int(rng.choice(5, p=w))]
    if family is None:
        fam = list(LEAK_FAMILIES)
        family = fam[int(rng.choice(len(fam), p=np.array(list(LEAK_FAMILIES.values()))))]
    f_type, (d_lo, d_hi) = LEAK_TYPES[leak_type]
    pressure_bar = float(rng.uniform(1.5, 8.0))
    fp = f_type * math.sqrt(pressure_bar / 4.0) * (0.5 if plastic else 1.0) * math.exp(rng.normal(0.0, 0.5))
    meta = {"leak_type": leak_type, "family": family, "pressure_bar": round(pressure_bar, 3),
            "opening_mm": round(loguniform(rng, d_lo, d_hi), 3)}
    if family == "envelope":
        meta.update(peak_hz=fp, slope_below_db_oct=float(rng.uniform(-1.0, 9.0)),
                    slope_above_db_oct=float(rng.uniform(-15.0, -4.0)), knee=float(rng.uniform(0.5, 2.0)),
                    ripple_db=float(rng.uniform(1.0, 5.0)), ripple_knots_per_oct=float(rng.uniform(2.0, 4.0)),
                    ripple_seed=int(rng.integers(2 ** 31)))
    elif family == "ar":
        k = int(rng.integers(1, 5))
        meta.update(peak_hz=fp, poles=[{"f_hz": fp * math.exp(rng.normal(0.0, 0.7)),
                                        "bw_frac": float(rng.uniform(0.15, 1.0))} for _ in range(k)],
                    tilt_pole=float(rng.uniform(0.0, 0.9)), floor_db=float(rng.uniform(-30.0, -15.0)))
    elif family == "jet":
        cd = float(rng.uniform(0.6, 0.8))
        u = cd * math.sqrt(2.0 * pressure_bar * 1e5 / 1000.0)
        st = float(rng.uniform(0.1, 0.5))
        fj = st * u / (meta["opening_mm"] * 1e-3)
        meta.update(jet_velocity_m_s=round(u, 3), strouhal=st, peak_hz=min(max(fj, 20.0), 5000.0),
                    m=float(rng.uniform(0.5, 3.0)), n=float(rng.uniform(1.0, 3.0)))
    else:
        k = int(rng.integers(2, 5))
        meta.update(peak_hz=fp, bumps=[{"f_hz": fp * math.exp(rng.normal(0.0, 0.9)),
                                        "sigma_oct": float(rng.uniform(0.3, 1.2)),
                                        "level_db": float(rng.uniform(-12.0, 0.0))} for _ in range(k)],
                    floor_db=float(rng.uniform(-25.0, -12.0)))
    if rng.random() < 0.4:
        meta["am_depth"] = float(rng.uniform(0.02, 0.2))
        meta["am_corr_s"] = float(rng.uniform(0.5, 10.0))
    meta["peak_hz"] = round(float(meta["peak_hz"]), 3)
    return meta


def leak_psd(meta: dict, f: np.ndarray, fs: float, rng: np.random.Generator) -> np.ndarray:
    fam = meta["family"]
    fp = min(meta["peak_hz"], 0.45 * fs)
    ff = np.maximum(f, 0.5)
    if fam == "envelope":
        p = _broken_power_law(ff, fp, meta["slope_below_db_oct"], meta["slope_above_db_oct"], meta["knee"])
        # the ripple has its own seed so that one leak keeps one shape in every recording of it
        r = np.random.default_rng(meta["ripple_seed"])
        p = p * 10 ** (random_ripple_db(r, ff, meta["ripple_db"], meta["ripple_knots_per_oct"]) / 10)
    elif fam == "ar":
        w = 2 * np.pi * ff / fs
        zinv = np.exp(-1j * w)
        a = np.ones_like(zinv)
        for pole in meta["poles"]:
            fc = min(max(pole["f_hz"], 5.0), 0.45 * fs)
            r = math.exp(-math.pi * pole["bw_frac"] * fc / fs)
            th = 2 * math.pi * fc / fs
            a = a * (1 - 2 * r * math.cos(th) * zinv + r * r * zinv * zinv)
        a = a * (1 - meta["tilt_pole"] * zinv)
        p = 1.0 / np.abs(a) ** 2
        p = p / p.max() + 10 ** (meta["floor_db"] / 10)
    elif fam == "jet":
        x = ff / fp
        p = x ** meta["m"] / (1.0 + x * x) ** ((meta["m"] + meta["n"]) / 2)
    else:
        p = np.full(ff.size, 10 ** (meta["floor_db"] / 10))
        for b in meta["bumps"]:
            p = p + 10 ** (b["level_db"] / 10) * _bump(ff, min(max(b["f_hz"], 5.0), 0.45 * fs), b["sigma_oct"])
        p = p * 1.0
    p = p / max(float(p.max()), 1e-300)
    p[0] = 0.0
    return p


def leak_spectrum(rng: np.random.Generator, meta: dict, n: int, fs: float) -> np.ndarray:
    f = rfreqs(n, fs)
    z = gaussian_spectrum(rng, leak_psd(meta, f, fs, rng))
    if "am_depth" in meta:
        z = _am(rng, z, n, fs, meta["am_depth"], meta["am_corr_s"])
    return z


# --------------------------------------------------------------------------------------------
# pumps


def draw_pump(rng: np.random.Generator, mains_hz: float, fs: float) -> dict:
    if rng.random() < 0.5:
        pole_pairs = int(rng.integers(1, 4))
        f_r = mains_hz / pole_pairs * (1.0 - rng.uniform(0.01, 0.04))
        drive = "fixed_speed"
    else:
        f_r = float(rng.uniform(10.0, 120.0))
        drive = "variable_speed"
    blades = int(rng.integers(3, 9))
    n_h = int(min(30, (min(2500.0, 0.42 * fs)) // f_r))
    decay = float(rng.uniform(0.5, 1.5))
    bpf_boost = float(rng.uniform(2.0, 6.0))
    amps = []
    for h in range(1, max(n_h, 1) + 1):
        a = h ** (-decay) * math.exp(rng.normal(0.0, 0.4))
        if h % blades == 0:
            a *= bpf_boost
        amps.append(a)
    return {"shaft_hz": round(f_r, 4), "drive": drive, "blades": blades, "harmonics": len(amps),
            "harmonic_amps": [round(a, 5) for a in amps], "jitter_frac": float(loguniform(rng, 5e-4, 6e-3)),
            "motor_line": bool(rng.random() < 0.5), "mains_hz": mains_hz,
            "flow_noise_hz": float(loguniform(rng, 100.0, 1500.0)), "flow_noise_db": float(rng.uniform(-15.0, 0.0))}


def pump_spectrum(rng: np.random.Generator, meta: dict, n: int, fs: float) -> np.ndarray:
    f = rfreqs(n, fs)
    tonal = sum(a * a for a in meta["harmonic_amps"])
    psd = _bump(np.maximum(f, 0.5), meta["flow_noise_hz"], 1.2)
    psd *= tonal * 10 ** (meta["flow_noise_db"] / 10) / max(psd.sum(), 1e-300)
    centres = [meta["shaft_hz"] * h for h in range(1, meta["harmonics"] + 1)]
    widths = [c * meta["jitter_frac"] for c in centres]
    psd = _add_lines(psd, f, centres, [a * a for a in meta["harmonic_amps"]], widths)
    if meta["motor_line"]:
        psd = _add_lines(psd, f, [2 * meta["mains_hz"]], [0.3 * tonal], [0.02])
    return gaussian_spectrum(rng, psd)


# --------------------------------------------------------------------------------------------
# pressure-reducing valves


def draw_prv(rng: np.random.Generator, fs: float) -> dict:
    fc = min(loguniform(rng, 200.0, 4000.0), 0.40 * fs)
    meta = {"centre_hz": round(fc, 3), "sigma_oct": float(rng.uniform(0.4, 1.3)),
            "skirt_db_oct": float(rng.uniform(6.0, 12.0)), "low_flow_noise_db": float(rng.uniform(-25.0, -8.0))}
    if rng.random() < 0.3:
        meta["whistle_hz"] = round(min(fc * math.exp(rng.normal(0.0, 0.3)), 0.42 * fs), 3)
        meta["whistle_fraction"] = float(rng.uniform(0.1, 0.6))
    if rng.random() < 0.15:
        meta["chatter_hz"] = float(rng.uniform(2.0, 15.0))
        meta["chatter_depth"] = float(rng.uniform(0.2, 0.6))
    return meta


def prv_spectrum(rng: np.random.Generator, meta: dict, n: int, fs: float) -> np.ndarray:
    f = rfreqs(n, fs)
    ff = np.maximum(f, 0.5)
    fc = meta["centre_hz"]
    core = _bump(ff, fc, meta["sigma_oct"])
    skirt = (np.minimum(ff / fc, fc / ff)) ** (meta["skirt_db_oct"] / 3.0103)
    psd = np.maximum(core, 0.1 * skirt) + 10 ** (meta["low_flow_noise_db"] / 10) * _bump(ff, 40.0, 1.5)
    if "whistle_hz" in meta:
        psd = _add_lines(psd, f, [meta["whistle_hz"]], [meta["whistle_fraction"] * psd.sum()], [meta["whistle_hz"] * 2e-3])
    z = gaussian_spectrum(rng, psd)
    if "chatter_hz" in meta:
        x = irfft(z, n)
        t = np.arange(n) / fs
        x *= 1.0 + meta["chatter_depth"] * np.sin(2 * np.pi * meta["chatter_hz"] * t + rng.uniform(0, 2 * np.pi))
        z = rfft(x)
    return z


# --------------------------------------------------------------------------------------------
# consumption (a tap, a cistern refilling, irrigation)


def draw_consumption(rng: np.random.Generator, duration_s: float, continuous: bool | None = None) -> dict:
    if continuous is None:
        continuous = bool(rng.random() < 0.3)
    meta = {"continuous": continuous, "centre_hz": float(loguniform(rng, 250.0, 3000.0)),
            "sigma_oct": float(rng.uniform(0.6, 1.5))}
    if rng.random() < 0.2:
        meta["whistle_hz"] = float(loguniform(rng, 500.0, 2000.0))
    if not continuous:
        n_ev = 1 + int(rng.poisson(duration_s / 30.0))
        evs = []
        for _ in range(n_ev):
            length = loguniform(rng, 2.0, 40.0)
            start = rng.uniform(-0.5 * length, duration_s - 0.5 * length)
            evs.append((round(float(start), 3), round(float(start + length), 3)))
        meta["events_s"] = evs
        meta["ramp_s"] = float(rng.uniform(0.1, 1.5))
        meta["on_fraction"] = round(float(min(1.0, sum(min(b, duration_s) - max(a, 0.0) for a, b in evs
                                                       if b > 0 and a < duration_s) / duration_s)), 4)
    return meta


def consumption_spectrum(rng: np.random.Generator, meta: dict, n: int, fs: float, window_start_s: float) -> np.ndarray:
    """Flow noise with its on/off envelope.  ``window_start_s``: source time of the recording's start."""
    f = rfreqs(n, fs)
    ff = np.maximum(f, 0.5)
    psd = _bump(ff, min(meta["centre_hz"], 0.4 * fs), meta["sigma_oct"]) + 0.02 * _bump(ff, 60.0, 1.5)
    if "whistle_hz" in meta and meta["whistle_hz"] < 0.45 * fs:
        psd = _add_lines(psd, f, [meta["whistle_hz"]], [0.3 * psd.sum()], [meta["whistle_hz"] * 3e-3])
    z = gaussian_spectrum(rng, psd)
    if meta["continuous"]:
        return z
    x = irfft(z, n)
    starts = [a + window_start_s for a, _ in meta["events_s"]]
    ends = [b + window_start_s for _, b in meta["events_s"]]
    env = smooth_envelope(n, fs, starts, ends, meta["ramp_s"])
    return rfft(x * env)


# --------------------------------------------------------------------------------------------
# ambient background (many colours)


def draw_ambient(rng: np.random.Generator) -> dict:
    meta = {"slope": float(rng.uniform(-2.5, 1.0)), "knee_hz": float(loguniform(rng, 3.0, 40.0)),
            "ripple_db": float(rng.uniform(1.0, 4.0))}
    if rng.random() < 0.5:
        meta["rumble_hz"] = float(rng.uniform(8.0, 60.0))
        meta["rumble_sigma_oct"] = float(rng.uniform(0.5, 1.5))
        meta["rumble_gain_db"] = float(rng.uniform(3.0, 15.0))
    if rng.random() < 0.3:
        meta["shelf_hz"] = float(rng.uniform(1000.0, 5000.0))
        meta["shelf_db"] = float(rng.uniform(-10.0, 8.0))
    if rng.random() < 0.25:
        meta["click_rate_hz"] = float(loguniform(rng, 0.1, 2.0))
    return meta


def ambient_signal(rng: np.random.Generator, meta: dict, n: int, fs: float, response=None) -> np.ndarray:
    """Ambient background, time domain; through ``response(f, fs)`` (the structural path) when given.

    The background is stationary Gaussian noise, so the response enters as |H|^2 in its power
    shape (one FFT instead of three).  Clicks are added after it (logger-side transients).
    """
    def psd_fn(f):
        ff = np.maximum(f, 0.5)
        psd = ((ff * ff + meta["knee_hz"] ** 2) / 100.0 ** 2) ** (meta["slope"] / 2)
        psd *= 10 ** (random_ripple_db(rng, ff, meta["ripple_db"]) / 10)
        if "rumble_hz" in meta:
            psd *= 1.0 + (10 ** (meta["rumble_gain_db"] / 10) - 1.0) * _bump(ff, meta["rumble_hz"], meta["rumble_sigma_oct"])
        if "shelf_hz" in meta:
            psd *= 10 ** (meta["shelf_db"] / 10 / (1.0 + (meta["shelf_hz"] / ff) ** 4))
        if response is not None:
            psd *= np.abs(response(f, fs)) ** 2
        psd[0] = 0.0
        return psd

    x = noise_from_psd(rng, psd_fn, n, fs)
    if "click_rate_hz" in meta:
        k = int(rng.poisson(meta["click_rate_hz"] * n / fs))
        if k:
            rms = math.sqrt(float(np.mean(x * x))) or 1.0
            pos = rng.integers(0, n, k)
            x[pos] += rms * rng.uniform(3.0, 10.0, k) * rng.choice([-1.0, 1.0], k)
    return x


# --------------------------------------------------------------------------------------------
# traffic (ground-borne transients at the sensor housing)


def draw_traffic(rng: np.random.Generator, duration_s: float, force_event: bool = True) -> dict:
    rate = float(loguniform(rng, 0.02, 0.3))
    n = int(rng.poisson(rate * duration_s)) + (1 if force_event else 0)
    # three vehicle classes (cars, vans, heavy vehicles), each with its own ground-borne spectrum
    classes = [{"peak_hz": float(loguniform(rng, lo, hi)), "rolloff": float(rng.uniform(1.5, 3.0))}
               for lo, hi in ((25.0, 60.0), (15.0, 40.0), (8.0, 25.0))]
    events = []
    for _ in range(n):
        events.append({"t_s": round(float(rng.uniform(0.0, duration_s)), 3), "width_s": float(rng.uniform(0.5, 4.0)),
                       "shape": float(rng.uniform(1.0, 2.0)), "vehicle": int(rng.choice(3, p=[0.6, 0.25, 0.15])),
                       "level_db": float(rng.uniform(-10.0, 0.0)), "clank": bool(rng.random() < 0.3)})
    return {"rate_per_s": rate, "classes": classes, "events": events,
            "vehicle_speed_m_s": float(rng.uniform(5.0, 15.0))}


def traffic_signal(rng: np.random.Generator, meta: dict, n: int, fs: float, time_shift_s: float = 0.0) -> np.ndarray:
    """Sum of vehicle passages (low-frequency, smooth envelope) and occasional cover clanks."""
    x = np.zeros(n)
    t = np.arange(n) / fs
    for c, cls in enumerate(meta["classes"]):
        evs = [ev for ev in meta["events"] if ev["vehicle"] == c]
        if not evs:
            continue
        fp, ro = cls["peak_hz"], cls["rolloff"]

        def psd_fn(f, fp=fp, ro=ro):
            ff = np.maximum(f, 0.5)
            p = (ff / fp) ** 1.5 / (1.0 + (ff / fp) ** 2) ** ro
            p[0] = 0.0
            return p

        noise = noise_from_psd(rng, psd_fn, n, fs)
        noise /= math.sqrt(float(np.mean(noise * noise))) or 1.0
        env = np.zeros(n)
        for ev in evs:
            tc = ev["t_s"] + time_shift_s
            env += 10 ** (ev["level_db"] / 20) / (1.0 + ((t - tc) / ev["width_s"]) ** 2) ** ev["shape"]
        x += noise * env
    for ev in meta["events"]:
        tc = ev["t_s"] + time_shift_s
        if ev["clank"]:
            i0 = int(tc * fs)
            if 0 <= i0 < n:
                fr = min(loguniform(rng, 100.0, 1500.0), 0.4 * fs)
                tau = float(rng.uniform(0.02, 0.2))
                m = min(n - i0, int(6 * tau * fs) + 1)
                tt = np.arange(m) / fs
                x[i0:i0 + m] += 10 ** (ev["level_db"] / 20) * rng.uniform(2.0, 6.0) * np.exp(-tt / tau) * np.sin(2 * np.pi * fr * tt)
    return x


# --------------------------------------------------------------------------------------------
# mains hum (electrical pickup in the logger)


class HumField:
    """Mains frequency with a slow drift shared by every logger on the same grid."""

    def __init__(self, rng: np.random.Generator, mains_hz: float, t_start_s: float, t_end_s: float):
        self.mains_hz = mains_hz
        self.drift_std_hz = float(loguniform(rng, 0.005, 0.05))
        self.corr_s = float(rng.uniform(5.0, 60.0))
        self.t0 = t_start_s - 1.0
        rate = 20.0
        m = int(math.ceil((t_end_s - self.t0 + 2.0) * rate)) + 2
        dev = slow_walk(rng, m, rate, self.corr_s, self.drift_std_hz, rate_hz=rate)
        self._t = self.t0 + np.arange(m) / rate
        self._cum = np.concatenate([[0.0], np.cumsum(dev[:-1]) / rate])  # integral of the deviation (cycles)
        self.odd_weight = float(rng.uniform(0.3, 1.0))
        self.decay = float(rng.uniform(0.5, 1.5))

    def meta(self) -> dict:
        return {"mains_hz": self.mains_hz, "drift_std_hz": round(self.drift_std_hz, 5), "drift_corr_s": round(self.corr_s, 2)}

    def wave(self, rng: np.random.Generator, t_abs: np.ndarray, fs: float) -> np.ndarray:
        cyc = self.mains_hz * (t_abs - self.t0) + np.interp(t_abs, self._t, self._cum)
        x = np.zeros(t_abs.size)
        h_max = int(min(12, (0.42 * fs) // self.mains_hz))
        for h in range(1, h_max + 1):
            a = h ** (-self.decay) * (1.0 if h % 2 else self.odd_weight * rng.uniform(0.0, 0.5))
            a *= math.exp(rng.normal(0.0, 0.3))
            x += a * np.cos(2 * np.pi * h * cyc + rng.uniform(0, 2 * np.pi))
        return x


# --------------------------------------------------------------------------------------------
# other mechanical / electrical / weather noise

OTHER_KINDS = ("transformer", "compressor", "generator", "rain", "wind", "interference", "cathodic_protection")


def draw_other(rng: np.random.Generator, fs: float, duration_s: float, mains_hz: float, kind: str | None = None) -> dict:
    if kind is None:
        kind = OTHER_KINDS[int(rng.integers(len(OTHER_KINDS)))]
    meta = {"kind": kind, "mains_hz": mains_hz}
    if kind == "transformer":
        meta.update(n_harm=int(rng.integers(2, 7)), decay=float(rng.uniform(0.3, 1.5)))
    elif kind == "compressor":
        on = float(rng.uniform(-duration_s, 0.8 * duration_s))
        run = max(loguniform(rng, 5.0, 600.0), 0.2 * duration_s - on)
        meta.update(f_rot=float(rng.uniform(20.0, 60.0)), on_at_s=round(on, 3), run_s=round(run, 3),
                    broadband_db=float(rng.uniform(-15.0, -3.0)))
    elif kind == "generator":
        meta.update(f_fire=float(rng.uniform(15.0, 60.0)), jitter=float(rng.uniform(0.005, 0.03)),
                    am_depth=float(rng.uniform(0.1, 0.4)))
    elif kind == "rain":
        meta.update(rate_hz=float(loguniform(rng, 20.0, 400.0)), f_res=min(loguniform(rng, 500.0, 5000.0), 0.4 * fs),
                    decay_s=float(rng.uniform(0.002, 0.02)))
    elif kind == "wind":
        meta.update(cutoff_hz=float(rng.uniform(30.0, 150.0)), gust_depth=float(rng.uniform(0.3, 1.0)),
                    gust_corr_s=float(rng.uniform(0.5, 5.0)))
    elif kind == "interference":
        meta.update(burst_rate_hz=float(rng.uniform(0.2, 5.0)), burst_s=float(rng.uniform(0.005, 0.05)),
                    tone_hz=min(loguniform(rng, 200.0, 3000.0), 0.4 * fs))
    else:  # cathodic protection rectifier ripple
        meta.update(pulses=int(rng.choice([2, 6])))
    return meta


def other_signal(rng: np.random.Generator, meta: dict, n_out: int, fs: float) -> tuple:
    """(time signal, path) where path is "structural" or "electrical"."""
    x, path = _other_signal(rng, meta, fast_len(n_out), fs)
    return x[:n_out], path


def _other_signal(rng: np.random.Generator, meta: dict, n: int, fs: float) -> tuple:
    kind = meta["kind"]
    f = rfreqs(n, fs)
    ff = np.maximum(f, 0.5)
    t = np.arange(n) / fs
    mains = meta["mains_hz"]
    if kind == "transformer":  # magnetostriction: twice mains and its harmonics
        psd = 1e-4 * _bump(ff, 300.0, 2.0)
        c = [2 * mains * h for h in range(1, meta["n_harm"] + 1)]
        psd = _add_lines(psd, f, c, [h ** (-meta["decay"]) for h in range(1, len(c) + 1)], [0.01] * len(c))
        return irfft(gaussian_spectrum(rng, psd), n), "structural"
    if kind == "compressor":
        c = [meta["f_rot"] * h for h in range(1, 15)]
        psd = 10 ** (meta["broadband_db"] / 10) * _bump(ff, 400.0, 1.5) * 14 / max(_bump(ff, 400.0, 1.5).sum(), 1e-300)
        psd = _add_lines(psd, f, c, [h ** -1.0 for h in range(1, 15)], [x * 0.003 for x in c])
        x = irfft(gaussian_spectrum(rng, psd), n)
        env = smooth_envelope(n, fs, [meta["on_at_s"]], [meta["on_at_s"] + meta["run_s"]], 0.5)
        return x * env, "structural"
    if kind == "generator":
        c = [meta["f_fire"] * h for h in range(1, 20)]
        psd = 0.05 * _bump(ff, 800.0, 1.5) * 20 / max(_bump(ff, 800.0, 1.5).sum(), 1e-300)
        psd = _add_lines(psd, f, c, [h ** -0.8 for h in range(1, 20)], [x * meta["jitter"] for x in c])
        x = irfft(gaussian_spectrum(rng, psd), n)
        return x * (1.0 + slow_walk(rng, n, fs, 0.7, meta["am_depth"])), "structural"
    if kind == "rain":
        k = int(rng.poisson(meta["rate_hz"] * n / fs))
        imp = np.zeros(n)
        if k:
            np.add.at(imp, rng.integers(0, n, k), rng.lognormal(0.0, 0.8, k))
        m = int(8 * meta["decay_s"] * fs) + 2
        tt = np.arange(m) / fs
        kern = np.exp(-tt / meta["decay_s"]) * np.sin(2 * np.pi * meta["f_res"] * tt)
        return signal.fftconvolve(imp, kern)[:n], "structural"
    if kind == "wind":
        psd = 1.0 / (1.0 + (ff / meta["cutoff_hz"]) ** 4)
        psd[0] = 0.0
        x = irfft(gaussian_spectrum(rng, psd), n)
        g = np.exp(slow_walk(rng, n, fs, meta["gust_corr_s"], meta["gust_depth"]))
        return x * g, "structural"
    if kind == "interference":
        x = np.zeros(n)
        period = 1.0 / meta["burst_rate_hz"]
        t0 = rng.uniform(0.0, period)
        tone = np.sign(np.sin(2 * np.pi * meta["tone_hz"] * t))
        starts = np.arange(t0, n / fs, period)
        env = smooth_envelope(n, fs, starts, starts + meta["burst_s"], 0.0005)
        x = tone * env
        return x, "electrical"
    # cathodic protection: rectified-sine ripple (2 or 6 pulses per mains cycle)
    ph = 2 * np.pi * mains * t
    if meta["pulses"] == 2:
        x = np.abs(np.sin(ph))
    else:
        x = np.max(np.abs(np.stack([np.sin(ph - k * np.pi / 3) for k in range(3)])), axis=0)
    return x - x.mean(), "electrical"
