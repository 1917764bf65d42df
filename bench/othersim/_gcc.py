"""A plain textbook GCC-PHAT, as a baseline for benches (Knapp & Carter 1976)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal


@dataclass
class GccResult:
    delay_s: float        # arrival at A minus arrival at B on the absolute clock (interfaces.md sign)
    peak: float           # height of the PHAT correlation at the chosen lag
    lags_s: np.ndarray    # absolute-clock delays (A minus B) of ``values``, within the allowed window
    values: np.ndarray    # PHAT-weighted correlation at those delays


def textbook_gcc_phat(a, b, fs: float, max_delay_s: float, *, stream_offset_s: float = 0.0,
                      nperseg: int | None = None) -> GccResult:
    """Delay between two recordings by textbook GCC-PHAT (no band selection, no interpolation).

    The cross-spectrum is Welch-averaged by ``scipy.signal.csd`` (Hann, 50 % overlap), every bin
    is divided by its magnitude, and the inverse FFT is searched for its largest value among
    the delays |delay| <= ``max_delay_s`` that the pipe allows.

    Parameters
    ----------
    a, b : array_like
        The two recordings (same sample rate ``fs``).
    fs : float
        Sample rate (Hz).
    max_delay_s : float
        Largest physically possible |delay| (travel time between the sensors, s).
    stream_offset_s : float
        start_time(B) - start_time(A) (s); the returned delay is on the absolute clock.
    nperseg : int, optional
        Welch segment length; default the smallest power of two >= 4 * max_delay_s * fs (at least 256),
        capped at the recording length.

    Returns
    -------
    GccResult
        ``delay_s`` = arrival at A minus arrival at B (s), integer-sample resolution.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> s = rng.standard_normal(20000)
    >>> a, b = s[90:10090], s[100:10100]   # the sound reached B 10 samples before A
    >>> round(textbook_gcc_phat(a, b, 1000.0, 0.05).delay_s, 3)
    0.01
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    n = min(a.size, b.size)
    a, b = a[:n], b[:n]
    if nperseg is None:
        nperseg = max(256, 1 << int(math.ceil(math.log2(max(4.0 * (max_delay_s + abs(stream_offset_s)) * fs, 2.0)))))
    nperseg = int(min(nperseg, n))
    _, pxy = signal.csd(a, b, fs=fs, nperseg=nperseg, noverlap=nperseg // 2, window="hann")
    mag = np.abs(pxy)
    w = np.where(mag > 0, pxy / np.maximum(mag, 1e-300), 0.0)
    r = np.fft.irfft(w, n=nperseg)
    r = np.fft.fftshift(r)
    lag_stream = (np.arange(nperseg) - nperseg // 2) / fs      # b(t + lag) matches a(t): B later by lag
    delay_abs = -lag_stream - stream_offset_s                    # A minus B on the absolute clock
    keep = np.abs(delay_abs) <= max_delay_s + 0.5 / fs
    if not np.any(keep):
        raise ValueError("no lag inside the allowed window; recording too short for max_delay_s")
    lags, vals = delay_abs[keep], r[keep]
    i = int(np.argmax(vals))
    return GccResult(float(lags[i]), float(vals[i]), lags[::-1].copy(), vals[::-1].copy())
