"""Rendering: pipe-borne sources through the pipe to each sensor, sensor-local noise, levels.

All pipe-borne sources are made once on a common "source clock" grid and reach each sensor
through a frequency-domain transfer (direct path + first-order echoes, frequency-dependent loss,
exact fractional delays), then through the sensor's pressure response.  The recording of sensor i
starts at ``start_s[i]`` on the absolute clock; the delay and the start offset are applied
together as one linear phase, so sub-sample truths are exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._pipe import PipeLine, paths_to_sensor, transfer
from ._util import fast_len, filter_signal, irfft, mean_square, rfreqs


@dataclass
class Placement:
    name: str          # "A" or "B" (the single recordings use "A")
    start_s: float     # start of the recording on the scene clock (s)
    model: object      # SensorModel


@dataclass
class PipeSource:
    name: str
    u_m: float                  # main-line position (metres from the tee of A; < 0 beyond A)
    make: object                # callable(rng, n, fs, window_start_s) -> complex spectrum on the render grid


def render_pipe_sources(rng: np.random.Generator, line: PipeLine, sources: list, sensors: list,
                        n_out: int, fs: float, *, echoes: bool = True) -> tuple:
    """Render each pipe-borne source at each sensor (sensor output units, arbitrary scale).

    Returns ``(signals, paths, flat)``: ``signals[name][sensor_name]`` is an array of n_out samples;
    ``paths[name][sensor_name]`` the list of Path objects used; ``flat[name][sensor_name]`` the power
    the source delivers through the pipe alone (no sensor response), in the source's units.
    """
    if not sources:
        return {}, {}, {}
    paths = {s.name: {p.name: paths_to_sensor(line, s.u_m, p.name, echoes=echoes) for p in sensors} for s in sources}
    tau_max = max(pp.delay_s for d in paths.values() for lst in d.values() for pp in lst)
    starts = [p.start_s for p in sensors]
    t0 = min(starts) - tau_max - 0.05
    m = fast_len(n_out + int(math.ceil((max(starts) - t0) * fs)) + 16)
    f = rfreqs(m, fs)
    responses = {p.name: p.model.pressure(f, fs) for p in sensors}
    cache: dict = {}
    out: dict = {}
    flat: dict = {}
    for s in sources:
        direct = [paths[s.name][p.name][0].delay_s for p in sensors]
        window_start = min(p.start_s - t0 - d for p, d in zip(sensors, direct))
        z = s.make(rng, m, fs, window_start)
        out[s.name] = {}
        flat[s.name] = {}
        for p in sensors:
            g = transfer(paths[s.name][p.name], f, p.start_s - t0, cache)
            zg = z * g
            flat[s.name][p.name] = float(np.sum(np.abs(zg[1:]) ** 2))
            out[s.name][p.name] = irfft(zg * responses[p.name], m)[:n_out]
    return out, paths, flat


def through(x: np.ndarray, response_fn, fs: float) -> np.ndarray:
    """Filter a local time signal by a sensor response (function of f, fs)."""
    return filter_signal(x, response_fn, fs)


def scale_to_power(x: np.ndarray, power: float) -> np.ndarray:
    p = mean_square(x)
    if p <= 0:
        return x
    return x * math.sqrt(power / p)
