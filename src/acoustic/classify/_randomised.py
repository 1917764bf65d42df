"""Domain-randomised training recordings for the leak classifier (spectral synthesis, no pipe physics).

The physics simulator (:mod:`acoustic.simulate`) makes one world; a classifier trained on it learns
that world's levels and spectra.  This generator instead draws *every* modelling choice from wide
ranges, so that what separates leaks from the rest is what all the draws share: a leak is a
steady, broadband, line-free hiss whose shape (peak anywhere from ~10 Hz to 1.5 kHz, several
spectrum families, any propagation low-pass) sits over an ambient of any colour; non-leaks are
ambient alone or with lines (mains, pumps), hiss far up (PRV), intermittent flow (consumption) or
passing low-frequency bursts (traffic), or other machinery, rain, wind and interference.

Each recording (seed ``[seed, index]``) draws:

- sample rate from :data:`SAMPLE_RATES_HZ` (2-48 kHz), duration log-uniform 2-120 s (at most
  :data:`MAX_SAMPLES` samples: longer draws are cut, their rate is kept);
- sensor: hydrophone (flat) or accelerometer (f^a weighting, a 0.5-2, flattening above 100 Hz -
  3 kHz), AC-coupling high-pass 0.3-25 Hz of order 1-3, 0-3 resonances (30 Hz - 0.4 fs, Q 1.5-25,
  -10..+20 dB), anti-alias low-pass at 0.38-0.47 fs;
- ambient: power law f^g (g -3..+1) flattened below 2-60 Hz, +-0-4 dB ripple, a rumble bump on
  half, slow level wander, sparse clicks; electrical self-noise (white + 1/f) 10-45 dB under it;
- a leak (label ``leak``): one of four source families (broken power law, log-normal bump,
  resonance sum, low-pass plateau) peaking at 8 Hz - 1.5 kHz, a propagation low-pass
  exp(-(f/fa)^p) (fa 30 Hz - 5 kHz), ripple, slow fluctuation on 40 %; SNR -8..+15 dB over
  everything else; 40 % with one or two confounders;
- or a non-leak class at -5..+25 dB over the ambient: ``quiet``, ``hum`` (50/60 Hz +-0.4 %, drift,
  harmonics to the 10th in odd/even/random patterns), ``pump`` (10-120 Hz fundamental, 3-30
  harmonic comb, blade-pass boost, speed wander, flow noise, cycling), ``prv`` (hiss centred
  200 Hz - 4 kHz, whistle, chatter), ``consumption`` (150 Hz - 3 kHz flow, continuous or events with
  ramps), ``traffic`` (5-80 Hz passages, clanks), ``other`` (rain, wind, electrical bursts,
  compressor); a quarter with a second one;
- digitising: RMS -70..-8 dBFS (4 % over-driven to -12..-3 dBFS and clipped), DC offset on 30 %,
  PCM16 (80 %), PCM24 (10 %) or float; the gain from the sample scale to the drawn physical level
  is ``gain_db`` (an absolute ambient level drawn over 40 dB per sensor kind).

The ranges are judgement, deliberately wider than the physics simulator's, and are not fitted to
any validation set (``bench/othersim`` is never used here).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

__all__ = ["RandomisedRecording", "randomised_recording", "iter_randomised", "SAMPLE_RATES_HZ", "MAX_SAMPLES",
           "NON_LEAK_KINDS"]

#: Logger sample rates drawn (Hz).
SAMPLE_RATES_HZ = (2000.0, 4000.0, 4096.0, 8000.0, 8192.0, 11025.0, 12000.0, 16000.0, 22050.0, 24000.0,
                   32000.0, 44100.0, 48000.0)
#: Longest recording synthesised, samples (keeps a training set of thousands within minutes).
MAX_SAMPLES = 250_000
#: Non-leak classes and their draw weights.
NON_LEAK_KINDS = {"quiet": 0.16, "hum": 0.14, "pump": 0.14, "prv": 0.14, "consumption": 0.14, "traffic": 0.14,
                  "other": 0.14}
CONFOUNDERS = ("hum", "pump", "prv", "consumption", "traffic", "other")
#: Leak power over everything else in the recording, dB (drawn uniformly).
LEAK_SNR_DB = (-8.0, 15.0)
#: Ambient level range per sensor kind, dB re 1 Pa / 1 m/s^2 (for the calibrated level only; assumed).
AMBIENT_DB = {"hydrophone": (-50.0, -10.0), "accelerometer": (-105.0, -65.0)}


@dataclasses.dataclass
class RandomisedRecording:
    """One drawn recording: samples (full scale +-1), rate, label, gain and every draw in ``meta``."""

    samples: np.ndarray
    sample_rate_hz: float
    label: str
    sensor_kind: str
    gain_db: float
    meta: dict


def _lu(rng, lo, hi):
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _freqs(n, fs):
    f = np.fft.rfftfreq(n, 1.0 / fs)
    f[0] = f[1] * 0.5
    return f


def _shaped_noise(rng, amp, n):
    """Gaussian noise whose amplitude spectrum is ``amp`` (on the rfft grid of n samples)."""
    spec = (rng.normal(size=amp.size) + 1j * rng.normal(size=amp.size)) * amp
    spec[0] = 0.0
    return np.fft.irfft(spec, n)


def _ripple(rng, f, max_db):
    lf = np.log2(f)
    out = np.zeros_like(f)
    for _ in range(3):
        out += rng.uniform(0, max_db / 2) * np.sin(2 * np.pi * lf / rng.uniform(0.5, 3.0) + rng.uniform(0, 6.3))
    return 10 ** (out / 20)


def _bump(f, fc, sigma_oct):
    return np.exp(-0.5 * (np.log2(f / fc) / sigma_oct) ** 2)


def _slow_envelope(rng, n, fs, depth, corr_s):
    """1 + depth * smooth Gaussian process (correlation ~corr_s), floored at 0.05."""
    m = max(4, int(n / fs / corr_s * 4) + 2)
    knots = rng.normal(size=m)
    env = np.interp(np.linspace(0, m - 1, n), np.arange(m), knots)
    return np.clip(1.0 + depth * env, 0.05, None)


def _sensor(rng, f, fs, kind):
    fc, order = _lu(rng, 0.3, 25.0), int(rng.integers(1, 4))
    h = (f / fc) ** order / np.sqrt(1 + (f / fc) ** (2 * order))
    info = {"hp_hz": fc, "hp_order": order, "resonances": []}
    if kind == "accelerometer":
        a, fm = rng.uniform(0.5, 2.0), _lu(rng, 100.0, 3000.0)
        h = h * (f / fm) ** a / np.sqrt(1 + (f / fm) ** (2 * a))
        info.update(acc_exponent=a, acc_flat_hz=fm)
    for _ in range(int(rng.integers(0, 4))):
        fr, q, g = _lu(rng, 30.0, 0.4 * fs), _lu(rng, 1.5, 25.0), rng.uniform(-10.0, 20.0)
        gl = 10 ** (g / 20)
        h = h * np.abs(1 + (gl - 1) / (1 + 1j * q * (f / fr - fr / f)))
        info["resonances"].append((fr, q, g))
    return h, info


def _anti_alias(rng, f, fs):
    fa = rng.uniform(0.38, 0.47) * fs
    return 1.0 / np.sqrt(1 + (f / fa) ** 16)


def _ambient(rng, f, n, fs, meta):
    g, knee = rng.uniform(-3.0, 1.0), _lu(rng, 2.0, 60.0)
    amp = (np.maximum(f, knee) / 100.0) ** (g / 2) * _ripple(rng, f, rng.uniform(0, 4))
    if rng.random() < 0.5:
        amp = amp * (1 + rng.uniform(1, 6) * _bump(f, _lu(rng, 8, 80), rng.uniform(0.3, 1.0)))
    if rng.random() < 0.3:  # high-frequency shelf (housing, electronics)
        amp = amp * (1 + rng.uniform(0.5, 4) * (f > _lu(rng, 500, 0.45 * fs)))
    x = _shaped_noise(rng, amp, n)
    if rng.random() < 0.3:
        x *= _slow_envelope(rng, n, fs, rng.uniform(0.05, 0.3), rng.uniform(2, 30))
    if rng.random() < 0.25:  # sparse clicks
        k = rng.poisson(rng.uniform(0.1, 3) * n / fs)
        pos = rng.integers(0, n, size=k)
        x[pos] += rng.normal(size=k) * np.std(x) * rng.uniform(3, 15)
    meta.update(ambient_slope=g, ambient_knee_hz=knee)
    return x


def _self_noise(rng, f, n, fs):
    corner = _lu(rng, 2.0, 200.0)
    amp = np.sqrt(1 + corner / f)
    return _shaped_noise(rng, amp, n)


def _leak(rng, f, n, fs, meta):
    fam = ["power_law", "bump", "resonances", "plateau"][int(rng.integers(0, 4))]
    fp = _lu(rng, 8.0, 1500.0)
    if fam == "power_law":
        a1, a2, s = rng.uniform(0, 3), rng.uniform(0.5, 3.0), rng.uniform(1, 4)
        x = f / fp
        amp = x ** a1 / (1 + x ** (s * (a1 + a2))) ** (1 / s)
    elif fam == "bump":
        amp = _bump(f, fp, rng.uniform(0.4, 2.5)) + 10 ** (rng.uniform(-30, -10) / 20)
    elif fam == "resonances":
        amp = np.full_like(f, 10 ** (rng.uniform(-30, -12) / 20))
        for _ in range(int(rng.integers(1, 5))):
            fr, q = fp * 2 ** rng.uniform(-1.5, 1.5), _lu(rng, 1.0, 8.0)
            amp = amp + rng.uniform(0.3, 1) / np.abs(1 + 1j * q * (f / fr - fr / f))
    else:
        hp = _lu(rng, 2.0, 20.0)
        amp = (f / hp) / np.sqrt(1 + (f / hp) ** 2) / (1 + (f / fp) ** rng.uniform(1, 5))
    fa, p = _lu(rng, 30.0, 5000.0), rng.uniform(1.0, 2.5)
    amp = amp * np.exp(-(f / fa) ** p) * _ripple(rng, f, rng.uniform(1, 5))
    x = _shaped_noise(rng, amp, n)
    if rng.random() < 0.4:
        x *= _slow_envelope(rng, n, fs, rng.uniform(0.02, 0.25), rng.uniform(0.5, 10))
    meta.update(leak_family=fam, leak_peak_hz=fp, leak_att_hz=fa)
    return x


def _tones(rng, fs, n, freqs_hz, amps, wander_frac, corr_s):
    """Sum of tones whose common frequency scale wanders (relative std ``wander_frac``)."""
    t_scale = 1.0 + wander_frac * (_slow_envelope(rng, n, fs, 1.0, corr_s) - 1.0)
    phase_base = 2 * np.pi * np.cumsum(t_scale) / fs
    x = np.zeros(n)
    for fh, a in zip(freqs_hz, amps):
        if fh < 0.45 * fs:
            x += a * np.sin(fh * phase_base + rng.uniform(0, 2 * np.pi))
    return x


def _hum(rng, f, n, fs, meta):
    f0 = (50.0 if rng.random() < 0.5 else 60.0) * (1 + rng.uniform(-0.004, 0.004))
    pattern = ["odd", "even", "random", "fundamental"][int(rng.integers(0, 4))]
    amps = []
    for h in range(1, 11):
        if pattern == "odd":
            db = -rng.uniform(0, 6) * (h - 1) ** 0.7 - (0 if h % 2 else rng.uniform(10, 25))
        elif pattern == "even":  # rectifiers and transformers: 100/120 Hz dominant
            db = -rng.uniform(0, 5) * abs(h - 2) - (0 if h % 2 == 0 else rng.uniform(8, 25))
        elif pattern == "fundamental":
            db = -rng.uniform(6, 15) * (h - 1)
        else:
            db = -rng.uniform(0, 30)
        amps.append(10 ** (db / 20) if rng.random() < 0.85 or h <= 2 else 0.0)
    x = _tones(rng, fs, n, [h * f0 for h in range(1, 11)], amps, rng.uniform(0.0001, 0.001), rng.uniform(5, 60))
    if rng.random() < 0.3:  # buzz around the lines
        x += _shaped_noise(rng, _bump(f, f0 * rng.integers(1, 6), 0.2), n) * np.std(x) * rng.uniform(0.05, 0.3)
    meta.update(mains_hz=f0, hum_pattern=pattern)
    return x, False  # electrical: not through the sensor's mechanical response


def _pump(rng, f, n, fs, meta):
    f0, nh, blades = _lu(rng, 10.0, 120.0), int(rng.integers(3, 31)), int(rng.integers(3, 9))
    tilt = rng.uniform(0, 12)
    amps = [10 ** ((-tilt * math.log2(h) + (rng.uniform(6, 16) if h % blades == 0 else rng.uniform(-10, 3))) / 20)
            for h in range(1, nh + 1)]
    x = _tones(rng, fs, n, [h * f0 for h in range(1, nh + 1)], amps, rng.uniform(0.0005, 0.006), rng.uniform(1, 20))
    flow = _shaped_noise(rng, _bump(f, _lu(rng, 50, 1500), rng.uniform(0.5, 1.5)), n)
    x = x + flow / max(np.std(flow), 1e-30) * np.std(x) * 10 ** (rng.uniform(-20, 3) / 20)
    if rng.random() < 0.3:  # cycling
        on = _slow_envelope(rng, n, fs, 1.0, rng.uniform(2, 20)) > 1.0 + rng.uniform(-0.5, 0.5)
        x = x * (0.02 + on)
    meta.update(pump_hz=f0, pump_harmonics=nh)
    return x, True


def _prv(rng, f, n, fs, meta):
    fc = _lu(rng, 200.0, 4000.0)
    x = _shaped_noise(rng, _bump(f, fc, rng.uniform(0.3, 1.5)) + 10 ** (rng.uniform(-40, -20) / 20), n)
    if rng.random() < 0.3:  # whistle
        x += _tones(rng, fs, n, [fc * 2 ** rng.uniform(-0.5, 0.5)], [np.std(x) * rng.uniform(0.3, 2)], 0.003, 2.0)
    if rng.random() < 0.15:  # chatter
        t = np.arange(n) / fs
        x *= 1 + rng.uniform(0.2, 0.8) * np.sin(2 * np.pi * rng.uniform(2, 15) * t)
    meta.update(prv_hz=fc)
    return x, True


def _events_envelope(rng, n, fs, n_events, dur_range, ramp_range):
    t = np.arange(n) / fs
    env = np.zeros(n)
    for _ in range(n_events):
        d, r = rng.uniform(*dur_range), rng.uniform(*ramp_range)
        t0 = rng.uniform(-d / 2, n / fs)
        env = np.maximum(env, np.clip(np.minimum((t - t0) / r, (t0 + d - t) / r), 0, 1))
    return env


def _consumption(rng, f, n, fs, meta):
    x = _shaped_noise(rng, _bump(f, _lu(rng, 150.0, 3000.0), rng.uniform(0.5, 1.5)), n)
    continuous = rng.random() < 0.35
    if not continuous:
        env = _events_envelope(rng, n, fs, int(rng.integers(1, 5)), (2.0, 40.0), (0.1, 1.5))
        if env.max() == 0:
            env[: n // 3] = 1.0
        x = x * (0.01 + env)
    meta.update(consumption="continuous" if continuous else "events")
    return x, True


def _traffic(rng, f, n, fs, meta):
    dur = n / fs
    k = max(1, rng.poisson(_lu(rng, 0.02, 0.5) * dur))
    t = np.arange(n) / fs
    x = np.zeros(n)
    classes = [_shaped_noise(rng, _bump(f, _lu(rng, 5, 80), rng.uniform(0.5, 1.5)), n)
               for _ in range(int(rng.integers(1, 4)))]  # vehicle classes (one spectrum each)
    for _ in range(k):
        w, t0 = rng.uniform(0.5, 5.0), rng.uniform(0, dur)
        burst = classes[int(rng.integers(0, len(classes)))]
        lo, hi = max(0, int((t0 - 8 * w) * fs)), min(n, int((t0 + 8 * w) * fs))
        x[lo:hi] += burst[lo:hi] * rng.uniform(0.3, 1) / (1 + ((t[lo:hi] - t0) / w) ** 2)
    if rng.random() < 0.3:  # manhole-cover clanks
        for _ in range(int(rng.integers(1, 4))):
            t0, fc = rng.uniform(0, dur), _lu(rng, 100, 1500)
            m = t >= t0
            x[m] += np.std(x) * rng.uniform(2, 10) * np.exp(-(t[m] - t0) * rng.uniform(5, 40)) * np.sin(
                2 * np.pi * fc * (t[m] - t0))
    meta.update(traffic_passages=k)
    return x, True


def _other(rng, f, n, fs, meta):
    kind = ["rain", "wind", "electrical", "compressor"][int(rng.integers(0, 4))]
    t = np.arange(n) / fs
    if kind == "rain":
        x = np.zeros(n)
        k = rng.poisson(_lu(rng, 20, 400) * n / fs)
        x[rng.integers(0, n, size=k)] = rng.normal(size=k)
        x = np.fft.irfft(np.fft.rfft(x) * _bump(f, _lu(rng, 100, 3000), rng.uniform(0.5, 1.5)), n)
    elif kind == "wind":
        x = _shaped_noise(rng, 1 / (1 + (f / _lu(rng, 20, 150)) ** 2), n) * _slow_envelope(rng, n, fs, 0.8, 2.0)
    elif kind == "electrical":
        x = _shaped_noise(rng, np.ones_like(f), n) * _events_envelope(rng, n, fs, int(rng.integers(1, 8)),
                                                                      (0.05, 2.0), (0.001, 0.05))
    else:
        f0 = _lu(rng, 20, 60)
        x = _tones(rng, fs, n, [h * f0 for h in range(1, 8)], [1 / h for h in range(1, 8)], 0.005, 3.0)
        x = x * (0.05 + (np.sin(2 * np.pi * t / rng.uniform(5, 60) + rng.uniform(0, 6.3)) > 0))
    meta.update(other_kind=kind)
    return x, True


_SOURCES = {"hum": _hum, "pump": _pump, "prv": _prv, "consumption": _consumption, "traffic": _traffic,
            "other": _other}


def _through(x, h):
    n = x.size
    return np.fft.irfft(np.fft.rfft(x) * h, n)


def _power(x):
    return float(np.mean(x * x)) + 1e-300


def _digitise(rng, x, meta):
    """Scale to a drawn RMS (dBFS), DC offset, clip at +-1, quantise. Returns (samples, scale)."""
    over = rng.random() < 0.04
    rms_dbfs = rng.uniform(-12, -3) if over else rng.uniform(-70, -8)
    scale = 10 ** (rms_dbfs / 20) / math.sqrt(_power(x))
    y = x * scale
    if rng.random() < 0.3:
        y = y + rng.uniform(-0.01, 0.01)
    if rng.random() < 0.3 and not over:  # soft saturation of the front end
        k = rng.uniform(1.0, 3.0)
        y = np.tanh(k * y) / k
    y = np.clip(y, -1.0, 1.0)
    q = rng.random()
    if q < 0.8:
        y = np.round(y * 32767) / 32767
        meta["quantisation"] = "PCM16"
    elif q < 0.9:
        y = np.round(y * 8388607) / 8388607
        meta["quantisation"] = "PCM24"
    else:
        meta["quantisation"] = "float"
    meta.update(rms_dbfs=rms_dbfs, clipped_fraction=float(np.mean(np.abs(y) >= 1 - 2 ** -15)))
    return y, scale


def randomised_recording(seed: int, index: int, *, leak_fraction: float = 0.5,
                         min_leak_snr_db: float | None = None) -> RandomisedRecording:
    """Draw recording ``index`` of the randomised set ``seed`` (see module docs).

    ``min_leak_snr_db`` narrows the leak SNR range to ``[min_leak_snr_db, 15]`` dB by mapping the same
    draw (every other draw of the recording is unchanged).
    """
    rng = np.random.default_rng([int(seed), int(index)])
    fs = float(SAMPLE_RATES_HZ[int(rng.integers(0, len(SAMPLE_RATES_HZ)))])
    dur = _lu(rng, 2.0, 120.0)
    from scipy.fft import next_fast_len

    n = int(next_fast_len(int(min(dur * fs, MAX_SAMPLES)), real=True))
    kind = "hydrophone" if rng.random() < 0.5 else "accelerometer"
    meta = {"sample_rate_hz": fs, "duration_s": n / fs, "sensor_kind": kind}
    f = _freqs(n, fs)
    h_sensor, sinfo = _sensor(rng, f, fs, kind)
    h_aa = _anti_alias(rng, f, fs)
    meta["sensor"] = sinfo
    amb = _through(_ambient(rng, f, n, fs, meta), h_sensor * h_aa)
    p_amb = _power(amb)
    own = _through(_self_noise(rng, f, n, fs), h_aa)
    background = amb + own * math.sqrt(p_amb / _power(own) * 10 ** (-rng.uniform(10, 45) / 10))

    def source(name):
        x, structural = _SOURCES[name](rng, f, n, fs, meta)
        return _through(x, (h_sensor if structural else 1.0) * h_aa)

    is_leak = rng.random() < leak_fraction
    extras = []
    if is_leak:
        label = "leak"
        if rng.random() < 0.4:
            extras = list(rng.choice(CONFOUNDERS, size=1 + int(rng.random() < 0.25), replace=False))
    else:
        names = list(NON_LEAK_KINDS)
        label = names[int(rng.choice(len(names), p=np.array(list(NON_LEAK_KINDS.values())) / sum(
            NON_LEAK_KINDS.values())))]
        if label != "quiet":
            extras = [label]
        if rng.random() < 0.25:
            extras.append(str(rng.choice([c for c in CONFOUNDERS if c not in extras])))
    total = background.copy()
    for i, name in enumerate(extras):
        s = source(name)
        rel_db = rng.uniform(-5, 25) if (not is_leak and i == 0) else rng.uniform(-10, 10)
        total += s * math.sqrt(p_amb / _power(s) * 10 ** (rel_db / 10))
    if is_leak:
        leak = _through(_leak(rng, f, n, fs, meta), h_sensor * h_aa)
        snr = rng.uniform(LEAK_SNR_DB[0], LEAK_SNR_DB[1])
        if min_leak_snr_db is not None and min_leak_snr_db > LEAK_SNR_DB[0]:  # same draw, mapped into the range
            snr = min_leak_snr_db + (snr - LEAK_SNR_DB[0]) * (LEAK_SNR_DB[1] - min_leak_snr_db) / (
                LEAK_SNR_DB[1] - LEAK_SNR_DB[0])
        total += leak * math.sqrt(_power(total) / _power(leak) * 10 ** (snr / 10))
        meta["snr_db"] = snr
    meta["sources"] = extras
    # physical level: the ambient at a drawn absolute level (per sensor kind), everything relative to it
    amb_db = rng.uniform(*AMBIENT_DB[kind])
    phys = math.sqrt(10 ** (amb_db / 10) / p_amb)
    y, scale = _digitise(rng, total, meta)
    gain_db = 20 * math.log10(scale / phys)
    meta.update(ambient_db=amb_db, gain_db=gain_db, label=label)
    return RandomisedRecording(samples=y, sample_rate_hz=fs, label=label, sensor_kind=kind, gain_db=gain_db,
                               meta=meta)


def iter_randomised(n: int, seed: int, *, leak_fraction: float = 0.5, start: int = 0):
    """Yield recordings ``start .. start+n-1`` of the randomised set ``seed``."""
    for i in range(start, start + n):
        yield randomised_recording(seed, i, leak_fraction=leak_fraction)


@dataclasses.dataclass
class RandomisedFeatures:
    """Features of a randomised set: the model input plus what the card and library need."""

    X: np.ndarray
    labels: list
    levels_db: np.ndarray
    sensor_kinds: list
    sample_rates_hz: np.ndarray
    durations_s: np.ndarray
    band_levels_db: np.ndarray
    band_centres_hz: np.ndarray
    feature_names: list
    feature_units: list
    features_version: str
    meta: list

    def __len__(self) -> int:
        return len(self.labels)


def _features_one(args):
    import warnings

    from ..features import extract_features, shape_features
    from ..recording import Recording

    seed, i, leak_fraction, with_bands, min_snr = args
    r = randomised_recording(seed, i, leak_fraction=leak_fraction, min_leak_snr_db=min_snr)
    sf = shape_features(r.samples, r.sample_rate_hz, r.gain_db)
    bands = centres = None
    if with_bands:  # the calibrated 1/3-octave spectrum, for signature-library rows only
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fv = extract_features(Recording(r.samples, r.sample_rate_hz, sensor_kind=r.sensor_kind,
                                            gain_db=r.gain_db))
        bands, centres = np.asarray(fv.band_levels_db), np.asarray(fv.band_centres_hz)
    keep = {k: r.meta[k] for k in ("leak_family", "leak_peak_hz", "snr_db", "sources", "rms_dbfs", "quantisation",
                                   "clipped_fraction") if k in r.meta}
    return (sf.values, r.label, sf.level_p10_db, r.sensor_kind, r.sample_rate_hz, r.samples.size / r.sample_rate_hz,
            bands, centres, keep)


def randomised_features(n: int, seed: int, *, jobs: int = 1, leak_fraction: float = 0.5, progress=None,
                        bands_for=(), min_leak_snr_db: float | None = None):
    """Draw ``n`` randomised recordings and extract their features (``jobs`` spawn processes).

    ``bands_for``: indices whose calibrated 1/3-octave band levels are also computed (library rows);
    the others get NaN band levels.
    """
    from ..features import SHAPE_VERSION, shape_feature_names, shape_feature_units

    want = set(int(i) for i in bands_for)
    tasks = [(int(seed), i, float(leak_fraction), i in want, min_leak_snr_db) for i in range(n)]
    if jobs <= 1:
        rows = []
        for k, t in enumerate(tasks, 1):
            rows.append(_features_one(t))
            if progress:
                progress(k)
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        from ._extract import _worker_init

        rows = []
        with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn"),
                                 initializer=_worker_init) as pool:
            for k, r in enumerate(pool.map(_features_one, tasks, chunksize=16), 1):
                rows.append(r)
                if progress:
                    progress(k)
    centres = next((r[7] for r in rows if r[7] is not None), np.zeros(0))
    nb = centres.size
    return RandomisedFeatures(
        X=np.vstack([r[0] for r in rows]), labels=[r[1] for r in rows], levels_db=np.array([r[2] for r in rows]),
        sensor_kinds=[r[3] for r in rows], sample_rates_hz=np.array([r[4] for r in rows]),
        durations_s=np.array([r[5] for r in rows]),
        band_levels_db=np.vstack([r[6] if r[6] is not None else np.full(nb, np.nan) for r in rows]),
        band_centres_hz=centres, feature_names=list(shape_feature_names()),
        feature_units=list(shape_feature_units()), features_version=SHAPE_VERSION, meta=[r[8] for r in rows])
