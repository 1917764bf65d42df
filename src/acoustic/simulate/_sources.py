"""Source spectra, sensor responses and time-domain noise generators of the simulator.

Everything here is a pure function of its arguments and a ``numpy.random.Generator``:
random *shapes* are drawn as small JSON-serialisable parameter dicts (kept in the truth
file), and separate functions evaluate them on a frequency grid.

Conventions
-----------
* Power shapes ``P(f)`` are one-sided, dimensionless and evaluated on ``freq_hz``; the
  corresponding amplitude spectrum is ``sqrt(P)``.
* Stationary noise is made in the frequency domain as ``rfft(white) * amplitude``: the
  expected power in a band is then proportional to the sum of ``P`` over its bins, which
  is what the SNR scaling uses.
* Levels are rms values in dB re 1 Pa (pressure in the pipe) or re 1 m/s^2 (wall
  acceleration); electrical pickup (hum) and traffic are given relative to the
  background at the sensor.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "draw_leak_shape", "leak_power", "draw_background_shape", "background_power",
    "draw_hiss_shape", "hiss_power", "sensor_response", "shaped_noise_spectrum", "white_spectrum",
    "draw_pump", "pump_time_signal", "draw_bursts", "burst_envelope",
    "draw_hum", "hum_time_signal", "draw_traffic", "traffic_time_signal", "band_rms_scale",
]

_REF_HZ = 100.0


def _loguniform(rng, lo, hi) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _highpass_power(f, fc, order):
    x = (np.asarray(f, dtype=np.float64) / fc) ** (2 * order)
    return x / (1.0 + x)


def _lowpass_power(f, fc, order):
    return 1.0 / (1.0 + (np.asarray(f, dtype=np.float64) / fc) ** (2 * order))


# -- leak source ------------------------------------------------------------------------
def draw_leak_shape(rng: np.random.Generator, sample_rate_hz: float) -> dict:
    """Draw the random spectral shape of one leak source.

    A leak jet is broadband turbulence noise (``physics.md`` 2.2: "a uniform mixture of
    frequencies, primarily 50 to 1000 Hz").  The shape is a band between a high-pass corner
    ``low_hz`` (log-uniform 10-50 Hz, 18 dB/octave) and a low-pass corner ``high_hz``
    (log-uniform 800-4000 Hz, capped at 0.4 x the sample rate, 24 dB/octave), a spectral
    tilt ``tilt_db_per_octave`` (uniform -6..0 dB/octave re 100 Hz) and a broad hump
    (centre log-uniform 100-1500 Hz, width 0.5-2 octaves (s.d. in octaves), 0-12 dB).
    The pipe then filters this source; plastic pipes keep only its low end.

    Returns
    -------
    dict
        ``low_hz``, ``high_hz``, ``tilt_db_per_octave``, ``hump_hz``, ``hump_octaves``,
        ``hump_db`` (all floats).
    """
    high = min(_loguniform(rng, 800.0, 4000.0), 0.4 * sample_rate_hz)
    return {
        "low_hz": _loguniform(rng, 10.0, 50.0),
        "high_hz": high,
        "tilt_db_per_octave": float(rng.uniform(-6.0, 0.0)),
        "hump_hz": min(_loguniform(rng, 100.0, 1500.0), 0.3 * sample_rate_hz),
        "hump_octaves": float(rng.uniform(0.5, 2.0)),
        "hump_db": float(rng.uniform(0.0, 12.0)),
    }


def leak_power(shape: dict, freq_hz) -> np.ndarray:
    """Power shape (dimensionless, one-sided) of a leak source at ``freq_hz`` (Hz)."""
    f = np.maximum(np.asarray(freq_hz, dtype=np.float64), 1e-3)
    octaves = np.log2(f / _REF_HZ)
    hump = np.exp(-0.5 * (np.log2(f / shape["hump_hz"]) / shape["hump_octaves"]) ** 2)
    p = (_highpass_power(f, shape["low_hz"], 3) * _lowpass_power(f, shape["high_hz"], 4)
         * 10.0 ** (shape["tilt_db_per_octave"] * octaves / 10.0)
         * 10.0 ** (shape["hump_db"] * hump / 10.0))
    return np.where(np.asarray(freq_hz) > 0, p, 0.0)


# -- background --------------------------------------------------------------------------
def draw_background_shape(rng: np.random.Generator) -> dict:
    """Draw the shape of the independent background at one sensor.

    Ambient pipe noise (distant flow, ground-borne traffic rumble) is red: power falling as
    ``f**-slope`` with ``slope`` uniform 0.5-1.5, below a 3 Hz high-pass, plus a flat sensor
    self-noise floor ``self_noise_db`` (uniform -40..-30 dB) relative to the ambient power
    at 100 Hz.
    """
    return {"slope": float(rng.uniform(0.5, 1.5)), "self_noise_db": float(rng.uniform(-40.0, -30.0))}


def background_power(shape: dict, freq_hz, weighting_power) -> np.ndarray:
    """Background power shape in sensor units: ambient x sensor weighting plus the self-noise floor.

    Parameters
    ----------
    shape : dict
        From :func:`draw_background_shape`.
    freq_hz : array_like
        Frequencies (Hz).
    weighting_power : array_like
        ``|W(f)|^2`` of the sensor (pressure -> sensor units), same shape as ``freq_hz``.
    """
    f = np.maximum(np.asarray(freq_hz, dtype=np.float64), 1e-3)
    ambient = _highpass_power(f, 3.0, 2) * (f / _REF_HZ) ** (-shape["slope"])
    w2 = np.asarray(weighting_power, dtype=np.float64)
    at_ref = np.interp(_REF_HZ, f, w2) if f.size > 1 else float(w2.ravel()[0])
    floor = 10.0 ** (shape["self_noise_db"] / 10.0) * at_ref
    return np.where(np.asarray(freq_hz) > 0, ambient * w2 + floor, 0.0)


# -- hiss (PRV, consumption flow noise) ---------------------------------------------------
def draw_hiss_shape(rng: np.random.Generator, sample_rate_hz: float, lo_hz=300.0, hi_hz=2000.0,
                    octaves=(0.7, 1.5)) -> dict:
    """Draw a band of flow hiss: a log-Gaussian hump (centre log-uniform ``lo_hz``-``hi_hz``).

    PRVs and throttled valves hiss in a fairly narrow band; taps and services a broader one.
    """
    return {"centre_hz": min(_loguniform(rng, lo_hz, hi_hz), 0.3 * sample_rate_hz),
            "octaves": float(rng.uniform(*octaves))}


def hiss_power(shape: dict, freq_hz) -> np.ndarray:
    """Power shape of a hiss band at ``freq_hz`` (Hz)."""
    f = np.maximum(np.asarray(freq_hz, dtype=np.float64), 1e-3)
    p = np.exp(-0.5 * (np.log2(f / shape["centre_hz"]) / shape["octaves"]) ** 2)
    return np.where(np.asarray(freq_hz) > 0, p, 0.0)


# -- sensors -----------------------------------------------------------------------------
def sensor_response(sensor_kind: str, freq_hz, *, mean_radius_m: float, wall_m: float,
                    youngs_modulus_pa: float) -> np.ndarray:
    """Complex response from pipe pressure (Pa) to sensor units at ``freq_hz``.

    * hydrophone: pressure, flat above a 2nd-order Butterworth high-pass at 2 Hz (Pa -> Pa);
    * accelerometer: radial wall acceleration ``-omega^2 w`` with the quasi-static wall
      displacement ``w = p a^2 / (E h)`` (``physics.md`` 2.1), times a 2nd-order
      high-pass at 5 Hz (Pa -> m/s^2).

    Both sensors of a pair share the high-pass, so it does not shift the delay.
    """
    f = np.asarray(freq_hz, dtype=np.float64)
    fc = 2.0 if sensor_kind == "hydrophone" else 5.0
    s = 1j * f / fc
    hp = s**2 / (s**2 + np.sqrt(2.0) * s + 1.0)
    if sensor_kind == "hydrophone":
        return hp
    w = 2.0 * np.pi * f
    return -(w**2) * (mean_radius_m**2 / (youngs_modulus_pa * wall_m)) * hp


def white_spectrum(rng: np.random.Generator, n: int) -> np.ndarray:
    """Spectrum (length n//2+1) distributed exactly as ``rfft`` of ``n`` white unit-variance Gaussian samples.

    Complex Gaussian bins of variance ``n`` (real DC and, for even ``n``, Nyquist bins of
    variance ``n``), drawn directly: half the work of generating and transforming the samples.
    """
    nb = n // 2 + 1
    z = rng.standard_normal((2, nb))
    out = (z[0] + 1j * z[1]) * np.sqrt(n / 2.0)
    out[0] = z[0, 0] * np.sqrt(n)
    if n % 2 == 0:
        out[-1] = z[0, -1] * np.sqrt(n)
    return out


def shaped_noise_spectrum(rng: np.random.Generator, n: int, amplitude) -> np.ndarray:
    """Spectrum of ``n`` samples of Gaussian noise with amplitude shape ``amplitude`` (length n//2+1).

    Its inverse rfft has expected power ``(a0^2 + 2 sum a_k^2 [- a_nyq^2]) / n``.
    """
    return white_spectrum(rng, n) * amplitude


def band_rms_scale(power, band_mask) -> float:
    """Mean of a power shape over a band mask (the quantity the SNR scaling compares)."""
    p = np.asarray(power)[band_mask]
    return float(np.mean(p)) if p.size else 0.0


# -- pumps -------------------------------------------------------------------------------
def draw_pump(rng: np.random.Generator, sample_rate_hz: float) -> dict:
    """Draw a pump: shaft speed, blade count and the relative levels of its lines.

    Induction-motor pumps run near 1450/1750 (4-pole) or 2900/3500 rpm (2-pole) at 50/60 Hz
    mains (``physics.md`` 2.4: 1450 rpm -> 24.2 Hz shaft, blade-pass = blades x shaft).
    Lines: shaft harmonics 1-4 and blade-pass harmonics 1-3 (strongest), plus broadband
    flow noise 10 dB below the tonal power.
    """
    rpm = float(rng.choice([1450.0, 1750.0, 2900.0, 3500.0])) * float(rng.uniform(0.97, 1.0))
    shaft = rpm / 60.0
    blades = int(rng.integers(5, 8))
    lines, amps = [], []
    for h in range(1, 5):
        lines.append(h * shaft)
        amps.append(float(10 ** (rng.uniform(-20.0, -8.0) / 20.0) / h))
    for h in range(1, 4):
        lines.append(h * blades * shaft)
        amps.append(float(10 ** (rng.uniform(-6.0, 0.0) / 20.0) / h))
    keep = [i for i, f in enumerate(lines) if f < 0.45 * sample_rate_hz]
    return {
        "rpm": rpm, "shaft_hz": shaft, "blades": blades, "blade_pass_hz": blades * shaft,
        "lines_hz": [lines[i] for i in keep], "line_amplitudes": [amps[i] for i in keep],
        "phases_rad": [float(p) for p in rng.uniform(0, 2 * np.pi, len(keep))],
        "flow": draw_hiss_shape(rng, sample_rate_hz, 50.0, 400.0, (1.0, 2.0)),
        "flow_rel_db": -10.0,
    }


def pump_time_signal(rng: np.random.Generator, pump: dict, n: int, sample_rate_hz: float) -> np.ndarray:
    """Pump source pressure (unit rms) over ``n`` samples: tonal lines plus flow noise."""
    from scipy import fft as sfft

    t = np.arange(n) / sample_rate_hz
    tones = np.zeros(n)
    for f, a, ph in zip(pump["lines_hz"], pump["line_amplitudes"], pump["phases_rad"]):
        tones += a * np.cos(2 * np.pi * f * t + ph)
    tones /= max(float(np.sqrt(np.mean(tones**2))), 1e-300)
    freqs = sfft.rfftfreq(n, 1.0 / sample_rate_hz)
    flow = sfft.irfft(shaped_noise_spectrum(rng, n, np.sqrt(hiss_power(pump["flow"], freqs))), n)
    flow /= max(float(np.sqrt(np.mean(flow**2))), 1e-300)
    x = tones + 10 ** (pump["flow_rel_db"] / 20.0) * flow
    return x / float(np.sqrt(np.mean(x**2)))


# -- intermittent consumption --------------------------------------------------------------
def draw_bursts(rng: np.random.Generator, duration_s: float, *, mean_on_s=None, mean_off_s=None) -> dict:
    """Draw on/off intervals of intermittent use (taps, WC cisterns, irrigation).

    Alternating exponential on and off durations (means log-uniform 1.5-6 s on, 2-8 s off
    unless given) over ``duration_s``; the first state is random.  At least one on and one
    off interval lie inside a clip of 3 s or more.

    Returns
    -------
    dict
        ``intervals_s``: list of [start, end] (s) of the on periods from the clip start,
        ``ramp_s``: raised-cosine switching time (s).
    """
    on_mean = mean_on_s if mean_on_s is not None else _loguniform(rng, 1.5, 6.0)
    off_mean = mean_off_s if mean_off_s is not None else _loguniform(rng, 2.0, 8.0)
    on_mean = min(on_mean, 0.4 * duration_s)
    off_mean = min(off_mean, 0.4 * duration_s)
    for _ in range(100):
        t = -float(rng.uniform(0, on_mean + off_mean))
        state = bool(rng.integers(0, 2))
        intervals = []
        while t < duration_s:
            d = max(float(rng.exponential(on_mean if state else off_mean)), 0.3)
            if state:
                intervals.append([max(t, 0.0), min(t + d, duration_s)])
            t += d
            state = not state
        intervals = [iv for iv in intervals if iv[1] - iv[0] > 0.05]
        on_total = sum(b - a for a, b in intervals)
        if duration_s < 3.0 or (intervals and 0.1 * duration_s < on_total < 0.9 * duration_s):
            break
    return {"intervals_s": intervals, "ramp_s": 0.2}


def burst_envelope(bursts: dict, n: int, sample_rate_hz: float, t0_s: float = 0.0) -> np.ndarray:
    """0..1 envelope of the on periods over ``n`` samples whose first sample is at ``t0_s`` (s)."""
    t = t0_s + np.arange(n) / sample_rate_hz
    env = np.zeros(n)
    r = bursts["ramp_s"]
    for a, b in bursts["intervals_s"]:
        up = np.clip((t - a) / r + 0.5, 0.0, 1.0)
        down = np.clip((b - t) / r + 0.5, 0.0, 1.0)
        env = np.maximum(env, np.minimum(0.5 - 0.5 * np.cos(np.pi * up), 0.5 - 0.5 * np.cos(np.pi * down)))
    return env


# -- mains hum -------------------------------------------------------------------------------
def draw_hum(rng: np.random.Generator, hum_hz: float, sample_rate_hz: float) -> dict:
    """Draw the mains hum shared by the loggers: exact frequency and harmonic amplitudes.

    The grid frequency deviates from nominal by a few mHz (normal, s.d. 0.01 Hz).  Harmonics
    up to the 9th below 0.45 x the sample rate; odd harmonics (transformer saturation,
    rectifiers) are stronger than even ones.
    """
    f0 = hum_hz + float(rng.normal(0.0, 0.01))
    harmonics, amps = [], []
    for h in range(1, 10):
        if h * f0 >= 0.45 * sample_rate_hz:
            break
        base = 0.0 if h == 1 else (-6.0 if h % 2 else -15.0) - 2.0 * h
        harmonics.append(h)
        amps.append(float(10 ** ((base + rng.uniform(-4.0, 4.0)) / 20.0)))
    return {"frequency_hz": f0, "harmonics": harmonics, "relative_amplitudes": amps}


def hum_time_signal(rng: np.random.Generator, hum: dict, n: int, sample_rate_hz: float,
                    t0_s: float = 0.0) -> tuple[np.ndarray, list]:
    """One logger's hum pickup (unit rms) over ``n`` samples from absolute time ``t0_s`` (s).

    Same frequencies at every logger (one grid) but a phase and amplitude of its own per
    harmonic (wiring, earthing).  Returns the signal and the per-harmonic phases (rad).
    """
    t = t0_s + np.arange(n) / sample_rate_hz
    x = np.zeros(n)
    phases = []
    for h, a in zip(hum["harmonics"], hum["relative_amplitudes"]):
        ph = float(rng.uniform(0, 2 * np.pi))
        g = a * float(10 ** (rng.uniform(-3.0, 3.0) / 20.0))
        x += g * np.cos(2 * np.pi * h * hum["frequency_hz"] * t + ph)
        phases.append(ph)
    rms = float(np.sqrt(np.mean(x**2)))
    return (x / rms if rms > 0 else x), phases


# -- traffic -------------------------------------------------------------------------------------
def draw_traffic(rng: np.random.Generator, duration_s: float) -> dict:
    """Draw vehicle passes: Poisson arrivals (rate log-uniform 0.05-0.4 per s, at least one),
    each a Gaussian-enveloped low-frequency rumble (s.d. 0.3-1.5 s, band centre 8-40 Hz)."""
    rate = _loguniform(rng, 0.05, 0.4)
    k = max(1, int(rng.poisson(rate * duration_s)))
    events = []
    for _ in range(k):
        events.append({"time_s": float(rng.uniform(0, duration_s)), "sd_s": float(rng.uniform(0.3, 1.5)),
                       "centre_hz": _loguniform(rng, 8.0, 40.0), "peak_rel_db": float(rng.uniform(-6.0, 0.0))})
    return {"rate_per_s": rate, "events": events}


def traffic_time_signal(rng: np.random.Generator, traffic: dict, n: int, sample_rate_hz: float) -> np.ndarray:
    """Traffic rumble over ``n`` samples, normalised so a 0 dB pass has unit rms at its peak.

    Each pass is band noise (log-Gaussian band, 0.8 octave s.d., around ``centre_hz``) under
    a Gaussian envelope, made only over +-4 envelope s.d. around its time.
    """
    from scipy import fft as sfft

    x = np.zeros(n)
    for ev in traffic["events"]:
        half = int(np.ceil(4.0 * ev["sd_s"] * sample_rate_hz))
        centre = int(round(ev["time_s"] * sample_rate_hz))
        lo, hi = max(0, centre - half), min(n, centre + half + 1)
        if hi - lo < 8:
            continue
        m = 2 * half + 1
        freqs = sfft.rfftfreq(m, 1.0 / sample_rate_hz)
        shape = {"centre_hz": ev["centre_hz"], "octaves": 0.8}
        rumble = sfft.irfft(shaped_noise_spectrum(rng, m, np.sqrt(hiss_power(shape, freqs))), m)
        rumble /= max(float(np.sqrt(np.mean(rumble**2))), 1e-300)
        t = (np.arange(m) - half) / sample_rate_hz
        env = np.exp(-0.5 * (t / ev["sd_s"]) ** 2)
        seg = 10 ** (ev["peak_rel_db"] / 20.0) * env * rumble
        x[lo:hi] += seg[lo - (centre - half):hi - (centre - half)]
    return x
