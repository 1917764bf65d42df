"""One logger, with or without a leak, and everyday noises: :func:`simulate_recording`."""

from __future__ import annotations

import numpy as np

from .._errors import ParameterError
from ..pipe import PipeSegment
from . import _sources as src
from ._common import (
    SimulatedRecording, apply_gain, check_common, check_number, jsonable, make_recording, resolve_seed,
    resolve_start,
)
from ._pair import LEAK_BAND_DB, LEAK_LEVEL_RANGE_DB, _band_edges, _contiguous, _rms_from_power
from ._propagation import ccf_slowness, grid_wavenumber

__all__ = ["simulate_recording", "NOISES"]

#: Noise kinds :func:`simulate_recording` can add (``quiet`` = background only).
NOISES = ("traffic", "pump", "prv", "consumption", "hum", "quiet")
#: Ambient background level range (dB re 1 Pa rms in the pipe) when no SNR is asked [P].
BACKGROUND_LEVEL_RANGE_DB = (-25.0, -5.0)
#: Source level (dB re 1 Pa rms) and distance (m) ranges of the noises [P].
NOISE_LEVELS_DB = {"pump": (5.0, 30.0), "prv": (0.0, 25.0), "consumption": (0.0, 25.0)}
NOISE_DISTANCES_M = {"pump": (20.0, 300.0), "prv": (10.0, 200.0), "consumption": (2.0, 100.0)}


def _validate_noises(noises) -> list[str]:
    if isinstance(noises, str):
        noises = [c for c in noises.replace(",", " ").split() if c]
    try:
        names = [str(c).strip().lower() for c in noises]
    except TypeError:
        raise ParameterError(f"noises must be a list of names from {', '.join(NOISES)}") from None
    bad = [c for c in names if c not in NOISES]
    if bad:
        raise ParameterError(f"unknown noise {bad[0]!r}; known: {', '.join(NOISES)}")
    if "quiet" in names and len(set(names)) > 1:
        raise ParameterError("noise 'quiet' (background only) cannot be combined with other noises")
    return [c for c in NOISES if c in names]


def simulate_recording(*, leak_distance_m: float | None = None, material: str = "ductile_iron",
                       diameter_mm: float = 150.0, sample_rate_hz: float = 8000.0, duration_s: float = 10.0,
                       sensor_kind: str = "hydrophone", noises=(), gain_db: float | None = None,
                       leak_level_db: float | None = None, snr_db: float | None = None, sensor_id: str = "L001",
                       start_time=None, seed: int | None = None, wall_mm: float | None = None,
                       soil: str = "sandy", hum_hz: float = 50.0,
                       keep_components: bool = False) -> SimulatedRecording:
    """Simulate one noise-logger recording: a leak at a chosen distance and/or everyday noises.

    Everything is in calibrated physical units before the gain, so levels carry information:
    a leak 10 m away is louder than the same leak 200 m away (the pipe's attenuation
    ``exp(Im k(f) d)`` over the realised wavenumber of the material).

    Parameters
    ----------
    leak_distance_m : float or None
        Distance (m) along the pipe from the leak to the sensor (0-5000); None: no leak.
    material : str, default "ductile_iron"
        Pipe material (``pipe.json`` names: pvc, pe, cast_iron, ductile_iron, steel, ...).
    diameter_mm : float, default 150
        Internal diameter in mm.
    wall_mm : float or None
        Wall thickness in mm (None: typical for the material).
    soil : str, default "sandy"
        Surrounding soil preset (``sandy``, ``stiff``, ``none``).
    sample_rate_hz : float, default 8000
        Sample rate in Hz (1000-96000).
    duration_s : float, default 10
        Length in s (1-3600).
    sensor_kind : {"hydrophone", "accelerometer"}
        Pressure (Pa) or radial wall acceleration (m/s^2).
    noises : iterable of str
        Any of :data:`NOISES`: ``traffic`` (low-frequency vehicle passes), ``pump`` (shaft and
        blade-pass lines + flow noise, 20-300 m away), ``prv`` (stationary hiss band,
        10-200 m away), ``consumption`` (on/off flow hiss from a tap 2-100 m away), ``hum``
        (50/60 Hz lines), ``quiet`` (background only; not combinable).
    gain_db : float or None
        Recording gain in dB; None: chosen so the peak is near -6 dBFS.
    leak_level_db : float or None
        Leak source level, dB re 1 Pa rms at the leak; None draws 0-30 dB.
    snr_db : float or None
        With a leak: leak-to-background ratio (dB) over the leak band at the sensor.  None: the
        background has its own absolute level (-25..-5 dB re 1 Pa rms), so the leak level
        decides.  Not allowed without a leak.
    sensor_id : str
        Logger id written in the sidecar.
    start_time : datetime or str or None
        UTC time of the first sample; None: random between 02:00 and 03:00 on 2026-11-03.
    seed : int or None
        Seed of every random draw (None draws one, recorded in the truth).
    hum_hz : float, default 50
        Mains frequency (Hz) of ``hum``.
    keep_components : bool
        Keep each contribution (calibrated units) in ``SimulatedRecording.components``.

    Returns
    -------
    SimulatedRecording
        ``recording`` and ``truth``: ``label`` ("leak" with a leak, else the noise kind with
        the most energy, else "quiet"), ``leak_distance_m``, ``leak_level_db`` (source),
        ``leak_level_at_sensor_db`` and ``background_level_db`` (rms, dB re 1 Pa or re 1 m/s^2),
        ``snr_db`` and ``band_hz`` (leak band) with a leak, ``noises`` and ``noise_details``
        (levels in dB, distances in m, times in s), ``speed_m_s`` (realised group speed over the
        leak band), ``attenuation_db_per_m_at_hz``, ``gain_db``, ``start_time``, ``seed``, ...

    Raises
    ------
    ParameterError, PipeError
        Parameters out of range (named), unknown noise or material.
    """
    fs, dur, n = check_common(sample_rate_hz, duration_s, sensor_kind, gain_db)
    dist = check_number("leak_distance_m", leak_distance_m, lo=0.0, hi=5000.0, unit="m", allow_none=True)
    level = check_number("leak_level_db", leak_level_db, lo=-60.0, hi=120.0, unit="dB re 1 Pa", allow_none=True)
    snr = check_number("snr_db", snr_db, lo=-60.0, hi=100.0, unit="dB", allow_none=True)
    if snr is not None and dist is None:
        raise ParameterError("snr_db needs a leak (give leak_distance_m), there is no leak signal to compare")
    hum_f = check_number("hum_hz", hum_hz, lo=10.0, hi=500.0, unit="Hz")
    if hum_f >= 0.45 * fs:
        raise ParameterError(f"hum_hz {hum_f:g} Hz is too close to the Nyquist frequency of {fs:g} Hz")
    noise_names = _validate_noises(noises)
    if not isinstance(sensor_id, str) or not sensor_id.strip():
        raise ParameterError(f"sensor_id must be a non-empty string, got {sensor_id!r}")
    seg = PipeSegment(material, max(dist or 0.0, 1.0), check_number("diameter_mm", diameter_mm, unit="mm"),
                      wall_mm, None, soil)
    seed = resolve_seed(seed)

    from scipy import fft as sfft

    names = ("time", "pipe", "leak", "background", "pump", "prv", "consumption", "hum", "traffic")
    rngs = {k: np.random.default_rng(s) for k, s in zip(names, np.random.SeedSequence(seed).spawn(len(names)))}
    start = resolve_start(start_time, rngs["time"])
    freq = sfft.rfftfreq(n, 1.0 / fs)
    props = seg.draw_properties(rngs["pipe"])
    k = grid_wavenumber(props, freq)
    w = src.sensor_response(sensor_kind, freq, mean_radius_m=props.mean_radius_m, wall_m=props.wall_m,
                            youngs_modulus_pa=props.youngs_modulus_pa)
    w2 = np.abs(w) ** 2

    def amplitude(power, level_db):
        return np.sqrt(power) * (10.0 ** (level_db / 20.0) / _rms_from_power(power, n))

    def db(x):
        r = float(np.sqrt(np.mean(np.square(x))))
        return 20.0 * np.log10(r) if r > 0 else -np.inf

    spectra: dict[str, np.ndarray] = {}
    details: dict[str, dict] = {}
    truth_leak: dict = {}
    band = None
    p_sig = None

    # -- the leak ---------------------------------------------------------------------------------------
    rl = rngs["leak"]
    shape = src.draw_leak_shape(rl, fs)
    lvl_draw = float(rl.uniform(*LEAK_LEVEL_RANGE_DB))
    leak_white = src.white_spectrum(rl, n)  # drawn even without a leak: the streams stay aligned
    if dist is not None:
        level = lvl_draw if level is None else level
        amp = amplitude(src.leak_power(shape, freq), level)
        h = np.exp(-1j * k * dist)
        spectra["leak"] = leak_white * amp * h * w
        p_sig = amp**2 * np.abs(h) ** 2 * w2
        peak = int(np.argmax(p_sig))
        band = _contiguous(p_sig >= p_sig[peak] * 10 ** (-LEAK_BAND_DB / 10.0), peak)
        sel = band & (freq > 0)
        slope = ccf_slowness(2 * np.pi * freq[sel], k[sel].real, p_sig[sel])
        truth_leak = {"leak_shape": shape, "band_hz": _band_edges(freq, band), "speed_m_s": float(1.0 / slope),
                      "nominal_speed_m_s": seg.speed_m_s(_band_edges(freq, band) if band.sum() > 1 else (100, 400))}

    # -- background ----------------------------------------------------------------------------------
    rb = rngs["background"]
    bshape = src.draw_background_shape(rb)
    pb = src.background_power(bshape, freq, w2)
    if snr is not None:
        scale = src.band_rms_scale(p_sig, band) / (src.band_rms_scale(pb, band) * 10 ** (snr / 10.0))
        bshape["level_db"] = None
    else:
        bl = float(rb.uniform(*BACKGROUND_LEVEL_RANGE_DB))
        ambient = src.background_power(bshape, freq, np.ones_like(freq)) - 10 ** (bshape["self_noise_db"] / 10.0)
        scale = 10 ** (bl / 10.0) / _rms_from_power(np.maximum(ambient, 0.0), n) ** 2
        bshape["level_db"] = bl
    pb = pb * scale
    spectra["background"] = src.shaped_noise_spectrum(rb, n, np.sqrt(pb))

    # -- noises that travel along the pipe (attenuation magnitude only: no wrap-around of bursts) ---
    for name in ("pump", "prv", "consumption"):
        if name not in noise_names:
            continue
        r = rngs[name]
        d = float(r.uniform(*NOISE_DISTANCES_M[name]))
        lvl = float(r.uniform(*NOISE_LEVELS_DB[name]))
        att = np.exp(k.imag * d) * w
        if name == "pump":
            pump = src.draw_pump(r, fs)
            spectrum = sfft.rfft(src.pump_time_signal(r, pump, n, fs) * 10 ** (lvl / 20.0))
            info = {kk: pump[kk] for kk in ("rpm", "shaft_hz", "blades", "blade_pass_hz", "lines_hz")}
        elif name == "prv":
            hiss = src.draw_hiss_shape(r, fs, 300.0, 2000.0, (0.5, 1.0))
            spectrum = src.shaped_noise_spectrum(r, n, amplitude(src.hiss_power(hiss, freq), lvl))
            info = {"shape": hiss}
        else:
            hiss = src.draw_hiss_shape(r, fs, 200.0, 1500.0, (1.0, 2.0))
            bursts = src.draw_bursts(r, dur)
            steady = sfft.irfft(src.shaped_noise_spectrum(r, n, amplitude(src.hiss_power(hiss, freq), lvl)), n)
            spectrum = sfft.rfft(steady * src.burst_envelope(bursts, n, fs))
            info = {"shape": hiss, "on_intervals_s": bursts["intervals_s"], "ramp_s": bursts["ramp_s"]}
        spectra[name] = spectrum * att
        details[name] = {"distance_m": d, "level_db": lvl, **info}

    comps = {kk: sfft.irfft(v, n) for kk, v in spectra.items()}
    bg_rms = float(np.sqrt(np.mean(comps["background"] ** 2)))
    if "hum" in noise_names:
        rh = rngs["hum"]
        hum = src.draw_hum(rh, hum_f, fs)
        sig, phases = src.hum_time_signal(rh, hum, n, fs)
        r_db = float(rh.uniform(0.0, 10.0))
        comps["hum"] = sig * bg_rms * 10 ** (r_db / 20.0)
        details["hum"] = {**hum, "phases_rad": phases, "rel_background_db": r_db}
    if "traffic" in noise_names:
        rt = rngs["traffic"]
        tr = src.draw_traffic(rt, dur)
        r_db = float(rt.uniform(10.0, 25.0))
        comps["traffic"] = src.traffic_time_signal(rt, tr, n, fs) * bg_rms * 10 ** (r_db / 20.0)
        details["traffic"] = {**tr, "peak_rel_background_db": r_db}
    for name in details:
        details[name]["level_at_sensor_db"] = db(comps[name])

    x = sum(comps.values())
    samples, gain = apply_gain(x, gain_db, f"recording {sensor_id}")
    rec = make_recording(samples, fs, sensor_id, sensor_kind, start, gain, f"simulated recording (seed {seed})")

    if dist is not None:
        label = "leak"
    else:
        present = [nm for nm in noise_names if nm != "quiet"]
        label = max(present, key=lambda nm: details[nm]["level_at_sensor_db"]) if present else "quiet"
    realised_snr = None
    if dist is not None and band is not None:
        realised_snr = 10 * np.log10(src.band_rms_scale(p_sig, band) / src.band_rms_scale(pb, band))
    att_freqs = [100.0, 500.0, 1000.0]
    truth = {
        "kind": "recording",
        "label": label,
        "leak_distance_m": dist,
        "leak_level_db": level if dist is not None else None,
        "leak_level_at_sensor_db": db(comps["leak"]) if "leak" in comps else None,
        "background_level_db": bshape["level_db"],
        "background_level_at_sensor_db": db(comps["background"]),
        "snr_db": realised_snr,
        "noises": noise_names,
        "noise_details": details,
        "material": seg.material,
        "diameter_mm": seg.diameter_mm,
        "wall_mm": seg.wall_thickness_mm,
        "soil": seg.soil,
        "attenuation_db_per_m_at_hz": {f"{f:g}": float(-20 / np.log(10) * np.interp(f, freq, k.imag))
                                       for f in att_freqs if f < fs / 2},
        "sensor_kind": sensor_kind,
        "units": "Pa" if sensor_kind == "hydrophone" else "m/s^2",
        "sample_rate_hz": fs,
        "duration_s": n / fs,
        "n_samples": n,
        "sensor_id": sensor_id,
        "start_time": start,
        "gain_db": gain,
        "background": bshape,
        "realised_properties": {"youngs_modulus_pa": props.youngs_modulus_pa, "loss_factor": props.loss_factor,
                                "wall_m": props.wall_m, "mean_radius_m": props.mean_radius_m,
                                "fluid_bulk_pa": props.fluid_bulk_pa},
        "seed": seed,
        **truth_leak,
    }
    return SimulatedRecording(recording=rec, truth=jsonable(truth), components=comps if keep_components else None)
