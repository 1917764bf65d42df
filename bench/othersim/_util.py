"""Numerical helpers shared by the generators (private).

Everything here is plain numpy/scipy; nothing knows about pipes or labels.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft as sfft
from scipy import signal

LN10_OVER_20 = math.log(10.0) / 20.0


def loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    """A value whose logarithm is uniform between log(lo) and log(hi)."""
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def choice_weighted(rng: np.random.Generator, weights: dict):
    """One key of ``weights`` (a mapping key -> non-negative weight)."""
    keys = list(weights)
    p = np.asarray([float(weights[k]) for k in keys], dtype=float)
    if p.sum() <= 0:
        raise ValueError("all weights are zero")
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def fast_len(n: int) -> int:
    """A length >= n whose FFT is fast (products of small primes), even."""
    m = sfft.next_fast_len(int(n), real=True)
    return m + (m % 2)


def rfreqs(n: int, fs: float) -> np.ndarray:
    """Frequencies (Hz) of the real FFT bins of an n-sample signal at fs."""
    return np.fft.rfftfreq(n, 1.0 / fs)


def gaussian_spectrum(rng: np.random.Generator, psd: np.ndarray) -> np.ndarray:
    """Random complex spectrum whose inverse real FFT is Gaussian noise with power shape ``psd``.

    The absolute scale is arbitrary: every component is rescaled to a drawn level later.
    The DC bin is zeroed (no sensor passes DC); the Nyquist bin is made real.
    """
    amp = np.sqrt(np.maximum(psd, 0.0) * 0.5)
    z = rng.standard_normal(2 * psd.size).view(np.complex128)
    z *= amp
    z[0] = 0.0
    z[-1] = z[-1].real * math.sqrt(2.0)
    return z


def irfft(z: np.ndarray, n: int) -> np.ndarray:
    return sfft.irfft(z, n=n)


def rfft(x: np.ndarray) -> np.ndarray:
    return sfft.rfft(x)


def noise_from_psd(rng: np.random.Generator, psd_fn, n: int, fs: float) -> np.ndarray:
    """n samples of Gaussian noise with power shape ``psd_fn(f)`` (made on a fast FFT length, cropped)."""
    m = fast_len(n)
    return irfft(gaussian_spectrum(rng, psd_fn(rfreqs(m, fs))), m)[:n]


def filter_signal(x: np.ndarray, response_fn, fs: float) -> np.ndarray:
    """Filter a time signal by a frequency response ``response_fn(f, fs)`` (zero-padded to a fast length)."""
    n = x.size
    m = fast_len(n)
    return irfft(rfft(np.pad(x, (0, m - n))) * response_fn(rfreqs(m, fs), fs), m)[:n]


def mean_square(x: np.ndarray) -> float:
    # einsum, not np.dot: a BLAS dot spins threads, which costs 50x on a loaded machine
    return float(np.einsum("i,i->", x, x) / max(x.size, 1))


def db(power_ratio: float) -> float:
    return 10.0 * math.log10(max(power_ratio, 1e-300))


def random_ripple_db(rng: np.random.Generator, f: np.ndarray, sigma_db: float,
                     knots_per_octave: float = 3.0, f_lo: float = 2.0) -> np.ndarray:
    """A smooth random curve in dB over log-frequency: knots N(0, sigma) joined linearly."""
    f_hi = max(float(f[-1]), f_lo * 2.0)
    n_knots = max(3, int(math.ceil(math.log2(f_hi / f_lo) * knots_per_octave)) + 1)
    knots_f = np.geomspace(f_lo, f_hi, n_knots)
    vals = rng.normal(0.0, sigma_db, n_knots)
    return np.interp(np.log(np.maximum(f, f_lo)), np.log(knots_f), vals)


def slow_walk(rng: np.random.Generator, n: int, fs: float, corr_time_s: float,
              std: float, t_offset_s: float = 0.0, rate_hz: float = 20.0) -> np.ndarray:
    """A smooth stationary random process (first-order low-pass of white noise), std ``std``.

    Made at ``rate_hz`` and linearly interpolated to the n samples at fs, so it costs little
    for long recordings.  Used for mains-frequency drift, flow fluctuations, speed wander.
    """
    dur = n / fs + t_offset_s
    m = int(math.ceil(dur * rate_hz)) + 3
    a = math.exp(-1.0 / (corr_time_s * rate_hz))
    w = rng.standard_normal(m) * math.sqrt(1.0 - a * a)
    y = signal.lfilter([1.0], [1.0, -a], w, zi=[rng.standard_normal() * a])[0]
    t_low = np.arange(m) / rate_hz
    t = t_offset_s + np.arange(n) / fs
    return std * np.interp(t, t_low, y)


def peaking(f: np.ndarray, f0: float, q: float, gain: float) -> np.ndarray:
    """Complex response of a minimum-phase resonant peak: 1 far from f0, ``gain`` at f0."""
    jw = 1j * f * f0 / q
    return (f0 * f0 - f * f + gain * jw) / (f0 * f0 - f * f + jw)


def transmissibility(f: np.ndarray, f0: float, q: float) -> np.ndarray:
    """Base-excitation transmissibility of a damped spring-mass (flat, peak Q at f0, then ~1/f)."""
    jw = 1j * f * f0 / q
    return (f0 * f0 + jw) / (f0 * f0 - f * f + jw)


def butter_highpass(f: np.ndarray, fc: float, order: int) -> np.ndarray:
    """Complex response of an analog Butterworth high-pass (the AC coupling of an amplifier)."""
    b, a = signal.butter(order, 2 * math.pi * fc, btype="high", analog=True)
    _, h = signal.freqs(b, a, worN=2 * math.pi * np.maximum(f, 1e-9))
    return h


def butter_lowpass_mag(f: np.ndarray, fc: float, order: int) -> np.ndarray:
    """Magnitude of a Butterworth low-pass (anti-alias filters are linear-phase: no phase here)."""
    return 1.0 / np.sqrt(1.0 + (np.maximum(f, 0.0) / fc) ** (2 * order))


def smooth_envelope(n: int, fs: float, starts_s, ends_s, ramp_s: float) -> np.ndarray:
    """0/1 on-off envelope with raised-cosine ramps (valves open and close in finite time)."""
    t = np.arange(n) / fs
    env = np.zeros(n)
    for t0, t1 in zip(starts_s, ends_s):
        if t1 <= t0:
            continue
        r = max(ramp_s, 1.0 / fs)
        up = np.clip((t - t0) / r, 0.0, 1.0)
        down = np.clip((t1 - t) / r, 0.0, 1.0)
        e = np.minimum(up, down)
        env = np.maximum(env, 0.5 - 0.5 * np.cos(np.pi * e))
    return env
