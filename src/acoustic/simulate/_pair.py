"""Two loggers on a pipe path with a leak between them: :func:`simulate_pair`."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np

from .._errors import ParameterError
from ..pipe import PipePath
from . import _sources as src
from ._common import (
    SimulatedPair, apply_gain, check_common, check_number, make_recording, resolve_seed, resolve_start,
)
from ._propagation import ccf_slowness, realise_path, weighted_group_slope

__all__ = ["simulate_pair", "CONFOUNDERS"]

#: Confounders :func:`simulate_pair` can add (each switchable).
CONFOUNDERS = ("hum", "pump", "prv", "consumption", "second_leak", "traffic")
#: Distance range (m) of a pump or PRV beyond the end of the pair.
OUTSIDE_DISTANCE_M = (20.0, 300.0)
#: Leak source level range (dB re 1 Pa rms in the pipe at the leak) when none is given [P].
LEAK_LEVEL_RANGE_DB = (0.0, 30.0)
#: The leak band: where the expected leak cross-spectrum is within this many dB of its peak.
LEAK_BAND_DB = 20.0
_SAFETY_S = 0.25


def _rms_from_power(power: np.ndarray, n: int) -> float:
    """Expected time-domain rms of ``irfft(rfft(white_n) * sqrt(power))``."""
    tot = power[0] + 2.0 * power[1:].sum()
    if n % 2 == 0:
        tot -= power[-1]
    return math.sqrt(max(tot, 0.0) / n)


def _contiguous(mask: np.ndarray, centre: int) -> np.ndarray:
    """The contiguous run of True in ``mask`` that contains index ``centre`` (all False if none)."""
    out = np.zeros_like(mask)
    if not mask[centre]:
        return out
    lo = centre
    while lo > 0 and mask[lo - 1]:
        lo -= 1
    hi = centre
    while hi < mask.size - 1 and mask[hi + 1]:
        hi += 1
    out[lo:hi + 1] = True
    return out


def _strongest_run(mask: np.ndarray, power: np.ndarray) -> np.ndarray:
    """The contiguous run of True in ``mask`` holding the most ``power`` (all False if none)."""
    out = np.zeros_like(mask)
    if not mask.any():
        return out
    edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(np.int8), 0]))
    starts, stops = edges[::2], edges[1::2]
    best = max(range(starts.size), key=lambda i: float(power[starts[i]:stops[i]].sum()))
    out[starts[best]:stops[best]] = True
    return out


def _band_edges(freq: np.ndarray, mask: np.ndarray):
    if not mask.any():
        return None
    idx = np.flatnonzero(mask)
    return [float(freq[idx[0]]), float(freq[idx[-1]])]


def _validate_confounders(confounders, second_leak_m) -> list[str]:
    if isinstance(confounders, str):
        confounders = [c for c in confounders.replace(",", " ").split() if c]
    try:
        names = [str(c).strip().lower() for c in confounders]
    except TypeError:
        raise ParameterError(f"confounders must be a list of names from {', '.join(CONFOUNDERS)}") from None
    bad = [c for c in names if c not in CONFOUNDERS]
    if bad:
        raise ParameterError(f"unknown confounder {bad[0]!r}; known: {', '.join(CONFOUNDERS)}")
    if second_leak_m is not None and "second_leak" not in names:
        names.append("second_leak")
    return [c for c in CONFOUNDERS if c in names]


def simulate_pair(path: PipePath, leak_m: float, *, sample_rate_hz: float = 8000.0, duration_s: float = 30.0,
                  snr_db: float = 0.0, sensor_kind: str = "hydrophone", confounders=(),
                  second_leak_m: float | None = None, second_leak_rel_db: float = -6.0,
                  start_offset_s: float | None = None, hum_hz: float = 50.0, gain_db: float | None = None,
                  start_time=None, seed: int | None = None, leak_level_db: float | None = None,
                  sensor_ids=("L001", "L002"), keep_components: bool = False) -> SimulatedPair:
    """Simulate two synchronised-clock loggers at the ends of a pipe path with a leak between them.

    The leak is stationary broadband noise with a random spectral shape
    (:func:`acoustic.simulate._sources.draw_leak_shape`), made in the frequency domain and
    propagated to each sensor through the *realised* path: every segment's properties are
    drawn around the nominal ones (``PipeSegment.draw_properties``) and each piece of pipe
    multiplies the spectrum by ``exp(-i k(f) L)`` (dispersion and attenuation from the
    wavenumber model; the magnitude of the pressure transmission coefficient at material
    changes).  A tool that assumes the nominal speeds therefore sees a realistic speed error.
    A longer block (clip + travel times + offset + margin) is synthesised and cut, so there is
    no circular wrap-around.

    Parameters
    ----------
    path : PipePath
        Pipe from sensor A (0 m) to sensor B (``path.length_m``).
    leak_m : float
        Leak position in m from A (0 <= leak_m <= length).
    sample_rate_hz : float, default 8000
        Sample rate in Hz (1000-96000).
    duration_s : float, default 30
        Clip length in s (1-3600).
    snr_db : float, default 0
        Leak-signal-to-background ratio in dB at each sensor, over the leak band (where the
        expected leak cross-spectrum is within 20 dB of its peak); -60..100 dB.
    sensor_kind : {"hydrophone", "accelerometer"}
        Pressure (Pa) or radial wall acceleration (m/s^2: ``-omega^2 a^2/(E h)`` times pressure).
    confounders : iterable of str
        Any of :data:`CONFOUNDERS`: ``hum`` (50/60 Hz lines picked up electrically at both
        loggers, own phase/amplitude each, rms -6..+6 dB re the rest of the recording), ``pump`` (shaft and blade-pass lines plus flow
        noise, 20-300 m beyond A or B), ``prv`` (stationary hiss from 20-300 m beyond A or B),
        ``consumption`` (on/off flow hiss from a tap at a random point between the sensors),
        ``second_leak`` (another leak), ``traffic`` (low-frequency passes, independent per logger).
    second_leak_m : float or None
        Position (m from A) of a second leak; implies ``second_leak``; random when the
        confounder is asked without a position (at least 10 % of the length from the main leak).
    second_leak_rel_db : float, default -6
        Source level of the second leak relative to the main one (dB, -60..20).
    start_offset_s : float or None
        B's logger starts this many seconds after A's (exact to the microsecond, written into
        the sidecars).  None: random within +-2 s; 0: synchronised.
    hum_hz : float, default 50
        Mains frequency in Hz (10-500; 50 or 60 in practice).
    gain_db : float or None
        Recording gain in dB for both loggers; None chooses each logger's gain so the peak is
        near -6 dBFS.  Calibrated units are ``samples / 10**(gain_db/20)``.
    start_time : datetime or str or None
        UTC start of logger A; None: a random time between 02:00 and 03:00 on 2026-11-03.
    seed : int or None
        Seed of every random draw; None draws one (recorded in the truth).
    leak_level_db : float or None
        Leak source level, dB re 1 Pa rms in the pipe at the leak; None draws 0-30 dB.
    sensor_ids : (str, str)
        Logger ids of A and B.
    keep_components : bool, default False
        Keep each contribution (calibrated units) in ``SimulatedPair.components``.

    Returns
    -------
    SimulatedPair
        ``a``, ``b`` (Recordings) and ``truth``, a JSON-serialisable dict with (units in the
        names): ``leak_m``, ``distance_from_b_m``, ``length_m``, ``delay_s`` (arrival at A
        minus arrival at B, absolute time, of the main leak, from the realised properties:
        the band-averaged delay at which the cross-correlation peaks, see
        :func:`acoustic.simulate._propagation.ccf_slowness`), ``group_delay_s`` (the
        weighted group delay over the same band), ``speeds_m_s`` (realised effective speed
        of each segment over that band, so ``delay_s = 2 T(x) - T(D)`` with them),
        ``nominal_speeds_m_s`` (same band, nominal properties), ``speed_error_rel``
        (nominal / realised - 1), ``second_leak_m``, ``second_delay_s``, ``confounders``,
        ``confounder_details``, ``snr_db``, ``snr_band_hz``, ``band_hz`` (the contiguous band, inside
        the leak band, where the leak is above the background at both sensors and holds the
        most leak power; null if there is none), ``sensor_kind``, ``sample_rate_hz``,
        ``duration_s``, ``start_offset_s``, ``start_time_a``/``_b``, ``gain_db_a``/``_b``,
        ``leak_level_db``, ``leak_shape``, ``realised_properties``, ``seed``.

    Raises
    ------
    ParameterError
        A parameter outside its range (named in the message), an unknown confounder, a
        leak outside the path.
    """
    if not isinstance(path, PipePath):
        raise ParameterError(f"path must be an acoustic.pipe.PipePath, got {type(path).__name__}")
    fs, dur, n = check_common(sample_rate_hz, duration_s, sensor_kind, gain_db)
    length = path.length_m
    x_leak = check_number("leak_m", leak_m, unit="m")
    if not 0.0 <= x_leak <= length:
        raise ParameterError(f"leak_m {x_leak:g} m is outside the path (0-{length:g} m)")
    snr = check_number("snr_db", snr_db, lo=-60.0, hi=100.0, unit="dB")
    rel2 = check_number("second_leak_rel_db", second_leak_rel_db, lo=-60.0, hi=20.0, unit="dB")
    x2 = check_number("second_leak_m", second_leak_m, unit="m", allow_none=True)
    if x2 is not None and not 0.0 <= x2 <= length:
        raise ParameterError(f"second_leak_m {x2:g} m is outside the path (0-{length:g} m)")
    off_in = check_number("start_offset_s", start_offset_s, lo=-3600.0, hi=3600.0, unit="s", allow_none=True)
    hum_f = check_number("hum_hz", hum_hz, lo=10.0, hi=500.0, unit="Hz")
    if hum_f >= 0.45 * fs:
        raise ParameterError(f"hum_hz {hum_f:g} Hz is too close to the Nyquist frequency of {fs:g} Hz")
    level = check_number("leak_level_db", leak_level_db, lo=-60.0, hi=120.0, unit="dB re 1 Pa", allow_none=True)
    conf = _validate_confounders(confounders, x2)
    if len(sensor_ids) != 2 or not all(isinstance(s, str) and s.strip() for s in sensor_ids):
        raise ParameterError(f"sensor_ids must be two non-empty strings, got {sensor_ids!r}")
    seed = resolve_seed(seed)

    from scipy import fft as sfft

    # independent streams: switching a confounder on does not change the leak or the pipe
    names = ("time", "pipe", "leak", "background", "second_leak", "consumption", "pump", "prv", "hum",
             "traffic", "geometry")
    rngs = {k: np.random.default_rng(s) for k, s in zip(names, np.random.SeedSequence(seed).spawn(len(names)))}

    # -- clocks -------------------------------------------------------------------------------
    start_a = resolve_start(start_time, rngs["time"])
    off_draw = float(rngs["time"].uniform(-2.0, 2.0))
    off_us = int(round((off_draw if off_in is None else off_in) * 1e6))
    off = off_us / 1e6
    start_b = start_a + timedelta(microseconds=off_us)

    # -- geometry of the outside sources (drawn before sizing the block) ------------------------
    geo = rngs["geometry"]
    outside = {k: {"side": str(geo.choice(["A", "B"])), "distance_beyond_m": float(geo.uniform(*OUTSIDE_DISTANCE_M))}
               for k in ("pump", "prv")}
    x_tap = float(geo.uniform(0.1, 0.9) * length)
    if "second_leak" in conf and x2 is None:
        for _ in range(1000):
            x2 = float(geo.uniform(0.05, 0.95) * length)
            if abs(x2 - x_leak) >= 0.1 * length:
                break

    # -- block size: clip + the longest travel time (slowest plausible speed) + offset + margin --
    slow = 0.6 * float(np.min(path.speeds_m_s((5.0, 50.0))))
    t_max = (length + OUTSIDE_DISTANCE_M[1]) / slow + _SAFETY_S
    pre = int(math.ceil((t_max + max(0.0, -off)) * fs))
    post = int(math.ceil((max(0.0, off) + _SAFETY_S) * fs))
    m = sfft.next_fast_len(pre + n + post, real=True)
    freq = sfft.rfftfreq(m, 1.0 / fs)
    omega = 2.0 * np.pi * freq

    real = realise_path(path, rngs["pipe"], freq)
    p_first, p_last = real.properties[0], real.properties[-1]
    w_a = src.sensor_response(sensor_kind, freq, mean_radius_m=p_first.mean_radius_m, wall_m=p_first.wall_m,
                              youngs_modulus_pa=p_first.youngs_modulus_pa)
    w_b = src.sensor_response(sensor_kind, freq, mean_radius_m=p_last.mean_radius_m, wall_m=p_last.wall_m,
                              youngs_modulus_pa=p_last.youngs_modulus_pa)
    shift_b = np.exp(2j * np.pi * freq * off)  # B's clock starts `off` later: advance its signal
    w2_a, w2_b = np.abs(w_a) ** 2, np.abs(w_b) ** 2

    spectra_a: dict[str, np.ndarray] = {}
    spectra_b: dict[str, np.ndarray] = {}
    details: dict[str, dict] = {}

    def source_amplitude(power, level_db):
        rms = _rms_from_power(power, m)
        return np.sqrt(power) * (10.0 ** (level_db / 20.0) / rms)

    def delay_between(exp_a, exp_b, weights, group=False):
        # arrival at A minus arrival at B (s) where the cross-correlation peaks (or group delay)
        sel = weights > 0
        fn = weighted_group_slope if group else ccf_slowness
        return fn(omega[sel], (exp_a - exp_b).real[sel], weights[sel])

    def inside_source(name, x_src, spectrum):
        h_a = real.transfer(x_src, 0.0)
        h_b = real.transfer(x_src, length)
        spectra_a[name] = spectrum * h_a * w_a
        spectra_b[name] = spectrum * h_b * w_b * shift_b
        return h_a, h_b

    # -- main leak --------------------------------------------------------------------------------
    rl = rngs["leak"]
    shape = src.draw_leak_shape(rl, fs)
    lvl_draw = float(rl.uniform(*LEAK_LEVEL_RANGE_DB))
    level = lvl_draw if level is None else level
    amp = source_amplitude(src.leak_power(shape, freq), level)
    h_a, h_b = inside_source("leak", x_leak, src.shaped_noise_spectrum(rl, m, amp))
    p_a = amp**2 * np.abs(h_a) ** 2 * w2_a
    p_b = amp**2 * np.abs(h_b) ** 2 * w2_b
    cross = np.sqrt(p_a * p_b)
    if not np.isfinite(cross).all() or cross.max() <= 0:
        raise ParameterError(f"the leak at {x_leak:g} m does not reach both sensors (pipe too long or lossy)")
    peak = int(np.argmax(cross))
    band = _contiguous(cross >= cross[peak] * 10 ** (-LEAK_BAND_DB / 10.0), peak)
    weights = np.where(band, cross, 0.0)
    exp_a = real.phase_exponent(real.pieces(x_leak, 0.0))
    exp_b = real.phase_exponent(real.pieces(x_leak, length))
    delay = delay_between(exp_a, exp_b, weights)
    group_delay = delay_between(exp_a, exp_b, weights, group=True)
    speeds = real.segment_speeds_m_s(weights)
    nominal = real.segment_speeds_m_s(weights, nominal=True)

    # -- background at each sensor, scaled to the SNR over the leak band -------------------------
    rb = rngs["background"]
    bg_shapes, bg_power = [], []
    for w2, p_sig, key, spectra in ((w2_a, p_a, "a", spectra_a), (w2_b, p_b, "b", spectra_b)):
        bshape = src.draw_background_shape(rb)
        pb = src.background_power(bshape, freq, w2)
        scale = src.band_rms_scale(p_sig, band) / (src.band_rms_scale(pb, band) * 10 ** (snr / 10.0))
        pb = pb * scale
        spectra["background"] = src.shaped_noise_spectrum(rb, m, np.sqrt(pb))
        bshape["rms"] = _rms_from_power(pb, m)
        bg_shapes.append(bshape)
        bg_power.append(pb)
    above = _strongest_run((p_a > bg_power[0]) & (p_b > bg_power[1]) & band, cross)

    # -- confounders between the sensors -------------------------------------------------------------
    second_delay = None
    if "second_leak" in conf:
        r2 = rngs["second_leak"]
        shape2 = src.draw_leak_shape(r2, fs)
        amp2 = source_amplitude(src.leak_power(shape2, freq), level + rel2)
        g_a, g_b = inside_source("second_leak", x2, src.shaped_noise_spectrum(r2, m, amp2))
        c2 = amp2**2 * np.abs(g_a) * np.abs(g_b) * np.sqrt(w2_a * w2_b)
        pk2 = int(np.argmax(c2))
        band2 = _contiguous(c2 >= c2[pk2] * 10 ** (-LEAK_BAND_DB / 10.0), pk2)
        second_delay = delay_between(real.phase_exponent(real.pieces(x2, 0.0)),
                                     real.phase_exponent(real.pieces(x2, length)), np.where(band2, c2, 0.0))
        details["second_leak"] = {"position_m": x2, "level_db": level + rel2, "rel_db": rel2,
                                  "delay_s": second_delay, "shape": shape2}
    if "consumption" in conf:
        rc = rngs["consumption"]
        hiss = src.draw_hiss_shape(rc, fs, 200.0, 1500.0, (1.0, 2.0))
        lvl = level + float(rc.uniform(0.0, 10.0))
        bursts = src.draw_bursts(rc, dur)
        amp_c = source_amplitude(src.hiss_power(hiss, freq), lvl)
        steady = sfft.irfft(src.shaped_noise_spectrum(rc, m, amp_c), m)
        env = src.burst_envelope(bursts, m, fs, t0_s=-pre / fs)
        g_a, g_b = inside_source("consumption", x_tap, sfft.rfft(steady * env))
        cc = amp_c**2 * np.abs(g_a) * np.abs(g_b) * np.sqrt(w2_a * w2_b)
        sel = cc >= cc.max() * 10 ** (-LEAK_BAND_DB / 10.0)
        details["consumption"] = {
            "position_m": x_tap, "level_db": lvl, "shape": hiss,
            "on_intervals_s": bursts["intervals_s"], "ramp_s": bursts["ramp_s"],
            "delay_s": delay_between(real.phase_exponent(real.pieces(x_tap, 0.0)),
                                     real.phase_exponent(real.pieces(x_tap, length)), np.where(sel, cc, 0.0)),
        }

    # -- sources outside the pair (beyond A or B) ------------------------------------------------------
    full = real.transfer(0.0, length)
    full_exp = real.phase_exponent(real.pieces(0.0, length))
    for name in ("pump", "prv"):
        if name not in conf:
            continue
        r = rngs[name]
        side, y = outside[name]["side"], outside[name]["distance_beyond_m"]
        k_end = real.k[0] if side == "A" else real.k[-1]
        near = np.exp(-1j * k_end * y)
        if name == "pump":
            pump = src.draw_pump(r, fs)
            lvl = level + float(r.uniform(0.0, 15.0))
            spectrum = sfft.rfft(src.pump_time_signal(r, pump, m, fs) * 10 ** (lvl / 20.0))
            info = {k: pump[k] for k in ("rpm", "shaft_hz", "blades", "blade_pass_hz", "lines_hz")}
            pw = src.hiss_power(pump["flow"], freq)
        else:
            hiss = src.draw_hiss_shape(r, fs, 300.0, 2000.0, (0.7, 1.5))
            lvl = level + float(r.uniform(-5.0, 10.0))
            pw = src.hiss_power(hiss, freq)
            spectrum = src.shaped_noise_spectrum(r, m, source_amplitude(pw, lvl))
            info = {"shape": hiss}
        h_near, h_far = near, near * full
        h_a, h_b = (h_near, h_far) if side == "A" else (h_far, h_near)
        spectra_a[name] = spectrum * h_a * w_a
        spectra_b[name] = spectrum * h_b * w_b * shift_b
        cw = pw * np.abs(h_a) * np.abs(h_b) * np.sqrt(w2_a * w2_b)
        sel = cw >= cw.max() * 10 ** (-LEAK_BAND_DB / 10.0)
        sign = -1.0 if side == "A" else 1.0
        d = sign * ccf_slowness(omega[sel], full_exp.real[sel], cw[sel])
        details[name] = {"side": side, "distance_beyond_m": y,
                         "position_m": -y if side == "A" else length + y, "level_db": lvl, "delay_s": d, **info}

    # -- to the time domain, cut the clip -----------------------------------------------------------------
    def to_time(spectra):
        if keep_components:
            return {k: sfft.irfft(v, m)[pre:pre + n] for k, v in spectra.items()}
        return {"all": sfft.irfft(sum(spectra.values()), m)[pre:pre + n]}

    comp_a, comp_b = to_time(spectra_a), to_time(spectra_b)
    bg_rms = [bg_shapes[0]["rms"], bg_shapes[1]["rms"]]

    if "hum" in conf:
        # electrical pickup: its rms is -6..+6 dB relative to everything else the logger records
        rh = rngs["hum"]
        hum = src.draw_hum(rh, hum_f, fs)
        rel = []
        for comp, t0 in ((comp_a, 0.0), (comp_b, off)):
            rest = float(np.sqrt(np.mean(sum(comp.values()) ** 2)))
            sig, phases = src.hum_time_signal(rh, hum, n, fs, t0_s=t0)
            r_db = float(rh.uniform(-6.0, 6.0))
            comp["hum"] = sig * rest * 10 ** (r_db / 20.0)
            rel.append({"rel_signal_db": r_db, "phases_rad": phases})
        details["hum"] = {**hum, "loggers": rel}
    if "traffic" in conf:
        rt = rngs["traffic"]
        per = []
        for i, comp in enumerate((comp_a, comp_b)):
            tr = src.draw_traffic(rt, dur)
            r_db = float(rt.uniform(6.0, 20.0))
            comp["traffic"] = src.traffic_time_signal(rt, tr, n, fs) * bg_rms[i] * 10 ** (r_db / 20.0)
            per.append({**tr, "peak_rel_background_db": r_db})
        details["traffic"] = {"loggers": per}

    x_a = sum(comp_a.values())
    x_b = sum(comp_b.values())
    samples_a, gain_a = apply_gain(x_a, gain_db, f"sensor A ({sensor_ids[0]})")
    samples_b, gain_b = apply_gain(x_b, gain_db, f"sensor B ({sensor_ids[1]})")
    note = f"simulated pair (seed {seed})"
    rec_a = make_recording(samples_a, fs, sensor_ids[0], sensor_kind, start_a, gain_a, note + ", sensor A")
    rec_b = make_recording(samples_b, fs, sensor_ids[1], sensor_kind, start_b, gain_b, note + ", sensor B")

    from ..io._pipejson import pipe_to_dict

    truth = {
        "kind": "pair",
        "leak_m": x_leak,
        "distance_from_b_m": length - x_leak,
        "length_m": length,
        "delay_s": delay,
        "group_delay_s": group_delay,
        "speeds_m_s": speeds.tolist(),
        "nominal_speeds_m_s": nominal.tolist(),
        "speed_error_rel": (nominal / speeds - 1.0).tolist(),
        "second_leak_m": x2 if "second_leak" in conf else None,
        "second_delay_s": second_delay,
        "confounders": conf,
        "confounder_details": details,
        "snr_db": snr,
        "snr_band_hz": _band_edges(freq, band),
        "band_hz": _band_edges(freq, above),
        "sensor_kind": sensor_kind,
        "units": "Pa" if sensor_kind == "hydrophone" else "m/s^2",
        "sample_rate_hz": fs,
        "duration_s": n / fs,
        "n_samples": n,
        "start_offset_s": off,
        "start_time_a": start_a,
        "start_time_b": start_b,
        "sensor_ids": list(sensor_ids),
        "gain_db_a": gain_a,
        "gain_db_b": gain_b,
        "leak_level_db": level,
        "leak_shape": shape,
        "background": bg_shapes,
        "pipe": pipe_to_dict(path),
        "realised_properties": [
            {"youngs_modulus_pa": p.youngs_modulus_pa, "loss_factor": p.loss_factor, "wall_m": p.wall_m,
             "mean_radius_m": p.mean_radius_m, "fluid_bulk_pa": p.fluid_bulk_pa,
             "soil": None if p.soil is None else {"dilatational_m_s": p.soil.dilatational_m_s,
                                                  "shear_m_s": p.soil.shear_m_s,
                                                  "density_kg_m3": p.soil.density_kg_m3},
             "speed_scale": p.speed_scale}
            for p in real.properties
        ],
        "seed": seed,
    }
    components = None
    if keep_components:
        components = {"a": comp_a, "b": comp_b}
    from ._common import jsonable

    return SimulatedPair(a=rec_a, b=rec_b, truth=jsonable(truth), path=path, components=components)
