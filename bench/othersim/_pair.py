"""Synchronised sensor pairs for the correlator: ``pair`` and ``write_pair_set``."""

from __future__ import annotations

import csv
import datetime as _dt
import math
from dataclasses import dataclass, field, fields
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy import signal

from ._io import flat_csv_value, write_audio, write_json
from ._pipe import (PLASTICS, PipeLine, Reflector, draw_environment, draw_section, draw_true_section,
                    nominal_pipe_json, travel_time)
from ._scene import PipeSource, Placement, render_pipe_sources, scale_to_power, through
from ._sensor import (AMBIENT_DB, SELF_NOISE_DB, UNITS, Digitiser, choose_gain_db, digitise, draw_sensor)
from ._single import iso_z
from ._sources import (HumField, ambient_signal, consumption_spectrum, draw_ambient, draw_consumption, draw_leak,
                       draw_prv, draw_pump, draw_traffic, leak_spectrum, prv_spectrum, pump_spectrum, traffic_signal)
from ._util import choice_weighted, db, loguniform, mean_square, noise_from_psd

PAIR_CONFOUNDERS = ("second_leak", "pump_beyond", "prv_beyond", "tap", "hum", "traffic")
LEAK_FREE_KINDS = ("noise_only", "beyond_source", "tap_only")
MAIN_MATERIALS = {"pvc": 0.2, "pe": 0.2, "cast_iron": 0.18, "ductile_iron": 0.2, "steel": 0.08,
                  "asbestos_cement": 0.1, "concrete": 0.04}


def _default(d):
    return field(default_factory=lambda: dict(d))


@dataclass
class PairOptions:
    """Options of ``pair``/``write_pair_set`` (all optional; None means "draw it")."""

    n_sections: int | None = None
    spacing_m: tuple | None = None          # main length between the tees (true), drawn per material if None
    materials: dict | None = None           # weights of the main's material
    sensor_kind: str | None = None          # both sensors
    snr_db: tuple = (-14.0, 4.0)            # mean over the two sensors of the leak-to-background SNR
    confounders: tuple | None = None        # subset of PAIR_CONFOUNDERS; None draws them
    leak_free_kind: str | None = None       # for leak=False: one of LEAK_FREE_KINDS
    leak_distance_m: float | None = None    # true path distance of the leak from A
    echoes: bool = True
    resonances: bool = True
    laterals: bool = True
    start_offsets: bool = True
    start_offset_s: float | None = None     # fixed start(B) - start(A) instead of a draw (rounded to 1 us)
    length_error_frac: float = 0.005        # std of the relative error of pipe.json lengths
    calibrated: bool = False
    mixed_rate: bool = False                # B records at another rate than A
    subtypes: dict = _default({"PCM_16": 0.85, "PCM_24": 0.1, "FLOAT": 0.05})
    clip_prob: float = 0.02
    sample_rates: dict = _default({2048: 0.1, 4000: 0.08, 4096: 0.15, 8000: 0.27, 8192: 0.15, 16000: 0.1,
                                   25600: 0.05, 44100: 0.05, 48000: 0.05})
    max_snr_db: float = 30.0                # cap on the stronger sensor's SNR

    @classmethod
    def from_kwargs(cls, kwargs: dict) -> "PairOptions":
        names = {f.name for f in fields(cls)}
        bad = sorted(set(kwargs) - names)
        if bad:
            raise TypeError(f"unknown option(s) {', '.join(bad)}; known: {', '.join(sorted(names))}")
        o = cls()
        for k, v in kwargs.items():
            if k in ("snr_db", "spacing_m") and v is not None:
                v = (float(v), float(v)) if isinstance(v, (int, float)) else (float(v[0]), float(v[1]))
            if k in ("materials", "subtypes", "sample_rates") and v is not None and not isinstance(v, dict):
                v = {v: 1.0} if isinstance(v, (str, int, float)) else {x: 1.0 for x in v}
            if k == "confounders" and v is not None:
                v = tuple(v)
                unknown = set(v) - set(PAIR_CONFOUNDERS)
                if unknown:
                    raise ValueError(f"confounders: unknown {sorted(unknown)}; known: {', '.join(PAIR_CONFOUNDERS)}")
            if k == "leak_free_kind" and v is not None and v not in LEAK_FREE_KINDS:
                raise ValueError(f"leak_free_kind must be one of {LEAK_FREE_KINDS}, got {v!r}")
            setattr(o, k, v)
        return o


@dataclass
class OtherPair:
    """Two synchronised recordings of one pipe, with the nominal pipe.json and the truth.

    ``truth["delay_s"]`` is arrival time at A minus arrival time at B on the absolute clock
    (the sign convention of interfaces.md); ``truth["stream_delay_s"]`` the same in the two
    sample streams, i.e. ``delay_s + truth["start_offset_s"]`` with start_offset_s = start(B) - start(A).
    """

    samples_a: np.ndarray
    samples_b: np.ndarray
    sample_rate_a_hz: float
    sample_rate_b_hz: float
    sidecar_a: dict
    sidecar_b: dict
    pipe: dict
    truth: dict
    subtype_a: str = "PCM_16"
    subtype_b: str = "PCM_16"

    @property
    def sample_rate_hz(self) -> float:
        return self.sample_rate_a_hz

    def write(self, directory) -> Path:
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        write_audio(d / "A.wav", self.samples_a, self.sample_rate_a_hz, self.subtype_a)
        write_audio(d / "B.wav", self.samples_b, self.sample_rate_b_hz, self.subtype_b)
        write_json(d / "A.json", self.sidecar_a)
        write_json(d / "B.json", self.sidecar_b)
        write_json(d / "pipe.json", self.pipe)
        write_json(d / "truth.json", self.truth)
        return d


# --------------------------------------------------------------------------------------------
# stages


def draw_geometry(rng: np.random.Generator, o: PairOptions) -> tuple:
    """The true pipe between the sensors: (PipeLine, environment, main material)."""
    main = choice_weighted(rng, o.materials or MAIN_MATERIALS)
    n_sec = int(o.n_sections) if o.n_sections else int(rng.choice([1, 2, 3], p=[0.55, 0.35, 0.10]))
    if o.spacing_m is not None:
        total = float(rng.uniform(*o.spacing_m))
    elif main in PLASTICS:
        total = float(rng.uniform(150.0, 350.0)) if (main == "pe" and rng.random() < 0.15) else loguniform(rng, 20.0, 180.0)
    elif main == "concrete":
        total = float(rng.uniform(100.0, 400.0))
    else:
        total = float(rng.uniform(40.0, 400.0))
    props = rng.dirichlet([2.0] * n_sec)
    lengths = np.maximum(props * total, min(5.0, total / n_sec))
    lengths *= total / lengths.sum()
    env = draw_environment(rng)
    sections = []
    weights = o.materials or MAIN_MATERIALS
    for i, length in enumerate(lengths):
        mat = main if (i == 0 or rng.random() < 0.5) else choice_weighted(rng, weights)
        sections.append(draw_true_section(rng, mat, float(length), draw_section(rng, mat), **env))
    lat = [None, None]
    if o.laterals:
        for j in range(2):
            if rng.random() < 0.35:
                mat = ("ductile_iron", "pe", "steel")[int(rng.choice(3, p=[0.6, 0.15, 0.25]))]
                lat[j] = draw_true_section(rng, mat, float(rng.uniform(0.5, 4.0)), draw_section(rng, mat, small=True), **env)
    line = PipeLine(sections, lat[0], lat[1], [])
    u = 0.0
    for i in range(n_sec - 1):
        u += sections[i].length_m
        z1, z2 = sections[i].impedance, sections[i + 1].impedance
        line.reflectors.append(Reflector(u, (z2 - z1) / (z2 + z1), "interface"))
    if o.echoes:
        for side in (-1, 1):
            if rng.random() < 0.5:
                e = float(rng.uniform(3.0, 80.0))
                pos = -e if side < 0 else line.main_length + e
                if rng.random() < 0.5:
                    line.reflectors.append(Reflector(pos, float(rng.uniform(0.3, 0.9)), "closed_valve"))
                else:
                    line.reflectors.append(Reflector(pos, float(rng.uniform(-0.6, -0.2)), "junction"))
    return line, env, main


def _sensor_kinds(rng, o: PairOptions, material: str) -> tuple:
    if o.sensor_kind:
        return o.sensor_kind, o.sensor_kind
    p_h = 0.65 if material in PLASTICS else 0.3 if material in ("cast_iron", "ductile_iron", "steel") else 0.5
    ka = "hydrophone" if rng.random() < p_h else "accelerometer"
    kb = ka if rng.random() < 0.92 else ("accelerometer" if ka == "hydrophone" else "hydrophone")
    return ka, kb


def _start_offset(rng, o: PairOptions) -> float:
    if o.start_offset_s is not None:
        return round(float(o.start_offset_s), 6)
    if not o.start_offsets:
        return 0.0
    u = rng.random()
    if u < 0.4:
        return 0.0
    if u < 0.8:
        return round(float(rng.uniform(-0.005, 0.005)), 6)
    return round(float(rng.uniform(-1.5, 1.5)), 6)


def _confounder_set(rng, o: PairOptions, leak: bool) -> tuple:
    """(confounders, leak_free_kind)."""
    kind = None
    if not leak:
        kind = o.leak_free_kind or LEAK_FREE_KINDS[int(rng.choice(3, p=[0.4, 0.4, 0.2]))]
    if o.confounders is not None:
        conf = [c for c in o.confounders if leak or c != "second_leak"]
        return conf, kind
    conf = []
    if leak:
        for name, p in (("second_leak", 0.15), ("pump_beyond", 0.15), ("prv_beyond", 0.12), ("tap", 0.15),
                        ("hum", 0.25), ("traffic", 0.2)):
            if rng.random() < p:
                conf.append(name)
        return conf, kind
    if kind == "beyond_source":
        conf.append("pump_beyond" if rng.random() < 0.5 else "prv_beyond")
    elif kind == "tap_only":
        conf.append("tap")
    for name, p in (("hum", 0.25), ("traffic", 0.2)):
        if rng.random() < p:
            conf.append(name)
    return conf, kind


def _make_fn(kind: str, params: dict):
    if kind in ("leak", "second_leak"):
        return lambda r, m, fs, w: leak_spectrum(r, params, m, fs)
    if kind == "pump_beyond":
        return lambda r, m, fs, w: pump_spectrum(r, params, m, fs)
    if kind == "prv_beyond":
        return lambda r, m, fs, w: prv_spectrum(r, params, m, fs)
    return lambda r, m, fs, w: consumption_spectrum(r, params, m, fs, w)


def draw_pipe_sources(rng, line: PipeLine, leak: bool, conf: list, o: PairOptions, duration_s: float,
                      fs: float, mains_hz: float) -> list:
    """[(name, u_m, params, extra)] of every pipe-borne source."""
    L = line.main_length
    plastic = line.sections[0].material in PLASTICS
    out = []
    lat_a = line.lateral_a.length_m if line.lateral_a else 0.0
    if leak:
        if o.leak_distance_m is not None:
            u = float(o.leak_distance_m) - lat_a
            if not 0.0 <= u <= L:
                raise ValueError(f"leak_distance_m {o.leak_distance_m} is outside the main ({lat_a:.2f}..{lat_a + L:.2f} m)")
        else:
            u = L * float(rng.uniform(0.02, 0.98))
        out.append(("leak", u, draw_leak(rng, plastic), {}))
    if "second_leak" in conf:
        u1 = out[0][1] if out else 0.5 * L
        for _ in range(20):
            u2 = L * float(rng.uniform(0.02, 0.98))
            if abs(u2 - u1) > 0.05 * L:
                break
        out.append(("second_leak", u2, draw_leak(rng, plastic), {"relative_source_db": float(rng.uniform(-12.0, -3.0))}))
    for name in ("pump_beyond", "prv_beyond"):
        if name in conf:
            side = "A" if rng.random() < 0.5 else "B"
            e = loguniform(rng, 10.0, 300.0)
            u = -e if side == "A" else L + e
            params = draw_pump(rng, mains_hz, fs) if name == "pump_beyond" else draw_prv(rng, fs)
            out.append((name, u, params, {"side": side, "beyond_m": e}))
    if "tap" in conf:
        u = L * float(rng.uniform(0.03, 0.97))
        params = draw_consumption(rng, duration_s, continuous=False)
        out.append(("tap", u, params, {}))
    return out


def _source_power(z: np.ndarray) -> float:
    return float(np.sum(np.abs(z[1:]) ** 2))


# --------------------------------------------------------------------------------------------
# public


def pair(seed, *, duration_s: float = 30.0, sample_rate_hz=None, leak: bool = True, **options) -> OtherPair:
    """One synchronised pair of recordings on a pipe, with its nominal pipe.json and the truth.

    Parameters
    ----------
    seed : int
    duration_s : float
        Length of each recording (s).
    sample_rate_hz : float or (float, float), optional
        Rate of both sensors, or of A and B; drawn from common logger rates when None.
    leak : bool
        A leak between the sensors (its true distance from A in ``truth``), or none.
    **options
        Fields of :class:`PairOptions` (e.g. ``snr_db=(0, 4)``, ``confounders=[]``,
        ``materials=["pe"]``, ``echoes=False``, ``calibrated=True``).

    Examples
    --------
    >>> p = pair(1, duration_s=4.0, sample_rate_hz=4096)
    >>> p.samples_a.size == p.samples_b.size == 4 * 4096
    True
    """
    o = PairOptions.from_kwargs(options)
    rng = np.random.default_rng(np.random.SeedSequence(int(seed)))
    line, env, main = draw_geometry(rng, o)

    # sample rates
    if sample_rate_hz is None:
        fs_a = float(choice_weighted(rng, o.sample_rates))
        fs_b = float(choice_weighted(rng, o.sample_rates)) if o.mixed_rate else fs_a
    elif isinstance(sample_rate_hz, (tuple, list)):
        fs_a, fs_b = float(sample_rate_hz[0]), float(sample_rate_hz[1])
    else:
        fs_a = fs_b = float(sample_rate_hz)
    fs = max(fs_a, fs_b)
    n = int(round(duration_s * fs))
    n_a, n_b = int(round(duration_s * fs_a)), int(round(duration_s * fs_b))

    # sensors and clocks
    kind_a, kind_b = _sensor_kinds(rng, o, main)
    sens_a = draw_sensor(rng, kind_a, resonances=o.resonances)
    sens_b = draw_sensor(rng, kind_b, resonances=o.resonances)
    if kind_a == kind_b:  # one logger model: same anti-alias filter in both
        sens_b.aa_frac, sens_b.aa_order = sens_a.aa_frac, sens_a.aa_order
    offset = _start_offset(rng, o)
    placements = [Placement("A", 0.0, sens_a), Placement("B", offset, sens_b)]
    mains = 50.0 if rng.random() < 0.6 else 60.0

    # sources
    conf, lf_kind = _confounder_set(rng, o, leak)
    specs = draw_pipe_sources(rng, line, leak, conf, o, duration_s, fs, mains)
    srcs = [PipeSource(name, u, _make_fn(name, params)) for name, u, params, _ in specs]
    src_power = {}

    def _wrap(s):
        inner = s.make

        def make(r, m, f_s, w):
            z = inner(r, m, f_s, w)
            src_power[s.name] = _source_power(z)
            return z
        return PipeSource(s.name, s.u_m, make)

    rendered, paths, flat = render_pipe_sources(rng, line, [_wrap(s) for s in srcs], placements, n, fs, echoes=o.echoes)

    # sensor-local noise
    local = {"A": {}, "B": {}}
    amb_meta = {}
    hum = HumField(rng, mains, min(0.0, offset), max(0.0, offset) + duration_s) if "hum" in conf else None
    traffic = draw_traffic(rng, duration_s) if "traffic" in conf else None
    for p in placements:
        amb_meta[p.name] = draw_ambient(rng)
        local[p.name]["ambient"] = ambient_signal(rng, amb_meta[p.name], n, fs, p.model.structural)
        local[p.name]["self_noise"] = noise_from_psd(
            rng, lambda f, s=p.model: s.self_noise_psd(f) * np.abs(s.electrical(f, fs)) ** 2, n, fs)
        if hum is not None:
            local[p.name]["hum"] = through(hum.wave(rng, p.start_s + np.arange(n) / fs, fs), p.model.electrical, fs)
        if traffic is not None:
            shift = -p.start_s + (line.total_length / traffic["vehicle_speed_m_s"] if p.name == "B" else 0.0)
            local[p.name]["traffic"] = through(traffic_signal(rng, traffic, n, fs, shift), p.model.structural, fs)

    # levels
    lvl = {}
    amb_db_a = float(rng.uniform(*AMBIENT_DB[kind_a]))
    amb_db = {"A": amb_db_a, "B": amb_db_a + float(rng.uniform(-4.0, 4.0)) if kind_a == kind_b
              else float(rng.uniform(*AMBIENT_DB[kind_b]))}
    kinds = {"A": kind_a, "B": kind_b}
    sig = {"A": {}, "B": {}}
    p_bg = {}
    if leak and kind_a != kind_b:
        # Two sensor types share no unit: set B's background so that the two SNRs differ by what
        # the pipe alone does to the leak (its loss from the leak to each sensor), +-4 dB.
        pa, pb = mean_square(rendered["leak"]["A"]), mean_square(rendered["leak"]["B"])
        snr_diff = db(flat["leak"]["A"] / flat["leak"]["B"]) + float(rng.uniform(-4.0, 4.0))
        amb_db["B"] = amb_db["A"] + db(pb / pa) + snr_diff
    for s in ("A", "B"):
        sig[s]["ambient"] = scale_to_power(local[s]["ambient"], 10 ** (amb_db[s] / 10))
        self_db = float(rng.uniform(*SELF_NOISE_DB[kinds[s]]))
        lvl[f"self_noise_{s}_db"] = self_db
        sig[s]["self_noise"] = scale_to_power(local[s]["self_noise"], 10 ** (self_db / 10))
        p_bg[s] = mean_square(sig[s]["ambient"]) + mean_square(sig[s]["self_noise"])
    snr_target = float(rng.uniform(*o.snr_db))
    p_leak = {"A": 0.0, "B": 0.0}
    if leak:
        pa, pb = mean_square(rendered["leak"]["A"]), mean_square(rendered["leak"]["B"])
        k_db = snr_target - 0.5 * (db(pa / p_bg["A"]) + db(pb / p_bg["B"]))
        strongest = max(db(pa / p_bg["A"]), db(pb / p_bg["B"])) + k_db
        if strongest > o.max_snr_db:
            k_db -= strongest - o.max_snr_db
        k = 10 ** (k_db / 10)
        lvl["leak_scale_db"] = k_db
        for s in ("A", "B"):
            sig[s]["leak"] = rendered["leak"][s] * math.sqrt(k)
            p_leak[s] = mean_square(sig[s]["leak"])
    extra_truth = {}
    for name, u, params, extra in specs:
        if name == "leak":
            continue
        if name == "second_leak":
            rel = extra["relative_source_db"]
            k2 = 10 ** (lvl["leak_scale_db"] / 10) * src_power["leak"] / src_power[name] * 10 ** (rel / 10)
            for s in ("A", "B"):
                sig[s][name] = rendered[name][s] * math.sqrt(k2)
            continue
        if name in ("pump_beyond", "prv_beyond"):
            near = extra["side"]
            rel = float(rng.uniform(0.0, 12.0)) if leak else float(rng.uniform(0.0, 15.0))
            ref = p_leak[near] if leak else p_bg[near]
            target_mean = ref * 10 ** (rel / 10)
            on_frac = 1.0
        else:  # tap: level while running, relative to the leak (or background) at its nearer sensor
            near = "A" if (u + (line.lateral_a.length_m if line.lateral_a else 0)) < 0.5 * line.total_length else "B"
            rel = float(rng.uniform(-6.0, 10.0)) if leak else float(rng.uniform(0.0, 15.0))
            ref = p_leak[near] if leak else p_bg[near]
            on_frac = max(params.get("on_fraction", 1.0), 0.02)
            target_mean = ref * 10 ** (rel / 10) * on_frac
        k3 = target_mean / max(mean_square(rendered[name][near]), 1e-300)
        for s in ("A", "B"):
            sig[s][name] = rendered[name][s] * math.sqrt(k3)
        extra_truth[name] = {"level_rel_db": round(rel, 3), "reference": "leak" if leak else "background",
                             "near_sensor": near, "on_fraction": round(on_frac, 4)}
    for name in ("hum", "traffic"):
        if name in conf:
            extra_truth[name] = {}
            for s in ("A", "B"):
                rel = float(rng.uniform(-10.0, 15.0)) if name == "hum" else float(rng.uniform(-5.0, 15.0))
                sig[s][name] = scale_to_power(local[s][name], p_bg[s] * 10 ** (rel / 10))
                extra_truth[name][f"level_rel_background_{s}_db"] = round(rel, 3)

    # loggers: gains, resampling, quantisation
    phys = {s: sum(sig[s].values()) for s in ("A", "B")}
    fs_out = {"A": fs_a, "B": fs_b}
    for s in ("A", "B"):
        if fs_out[s] != fs:
            fr = Fraction(fs_out[s] / fs).limit_denominator(2000)
            phys[s] = signal.resample_poly(phys[s], fr.numerator, fr.denominator)[: (n_a if s == "A" else n_b)]
    digs, gains, clipped, out = {}, {}, {}, {}
    for s in ("A", "B"):
        keys = list(o.subtypes)
        pw = np.asarray([o.subtypes[k] for k in keys], float)
        st = keys[int(rng.choice(len(keys), p=pw / pw.sum()))] if s == "A" or rng.random() < 0.3 else digs["A"].subtype
        digs[s] = Digitiser(st, "WAV", float(rng.uniform(-0.002, 0.002)) if rng.random() < 0.3 else 0.0,
                            bool(rng.random() < 0.3))
        gains[s] = choose_gain_db(rng, kinds[s], math.sqrt(mean_square(phys[s])), overdrive_prob=o.clip_prob)
        out[s], clipped[s] = digitise(phys[s], gains[s][0], digs[s])

    # clocks and sidecars
    day = _dt.date(2025, 1, 1) + _dt.timedelta(days=int(rng.integers(0, 700)))
    t_a = _dt.datetime(day.year, day.month, day.day, 2, 0, 0) + _dt.timedelta(seconds=float(rng.uniform(0, 3600)))
    t_a = t_a.replace(microsecond=int(rng.integers(0, 1_000_000)))
    t_b = t_a + _dt.timedelta(microseconds=int(round(offset * 1e6)))
    ids = rng.choice(np.arange(100, 10000), 2, replace=False)
    side = {"A": {"sensor_id": f"L{int(ids[0]):04d}", "sensor_kind": kind_a, "start_time": iso_z(t_a)},
            "B": {"sensor_id": f"L{int(ids[1]):04d}", "sensor_kind": kind_b, "start_time": iso_z(t_b)}}
    if o.calibrated:
        for s in ("A", "B"):
            side[s]["gain_db"] = round(gains[s][0], 6)
            side[s]["calibrated"] = True

    pipe_json = nominal_pipe_json(line, rng, o.length_error_frac)
    truth = build_truth(line, specs, paths, sig, p_bg, p_leak, offset, leak, lf_kind, conf, extra_truth,
                        env, placements, digs, gains, clipped, fs_a, fs_b, duration_s, amb_meta, snr_target,
                        pipe_json, kinds, int(seed))
    return OtherPair(out["A"], out["B"], fs_a, fs_b, side["A"], side["B"], pipe_json, truth,
                     digs["A"].subtype, digs["B"].subtype)


def build_truth(line, specs, paths, sig, p_bg, p_leak, offset, leak, lf_kind, conf, extra_truth, env,
                placements, digs, gains, clipped, fs_a, fs_b, duration_s, amb_meta, snr_target, pipe_json,
                kinds, seed) -> dict:
    lat_a = line.lateral_a.length_m if line.lateral_a else 0.0
    t_ab = travel_time(line, 0.0, "B") + (line.lateral_a.length_m / line.lateral_a.c_m_s if line.lateral_a else 0.0)

    def delay(name):
        ta = paths[name]["A"][0].delay_s
        tb = paths[name]["B"][0].delay_s
        return ta - tb

    sources = []
    main = None
    second = None
    for name, u, params, extra in specs:
        item = {"kind": name, "main_line_position_m": round(u, 4), "params": params, **extra,
                "delay_s": round(delay(name), 9), "stream_delay_s": round(delay(name) + offset, 9),
                "echo_paths": [{"sensor": s, "delay_s": round(p.delay_s, 9), "amplitude": round(p.amplitude, 5)}
                               for s in ("A", "B") for p in paths[name][s][1:]]}
        if 0.0 <= u <= line.main_length:
            item["distance_from_a_m"] = round(lat_a + u, 4)
            item["distance_from_b_m"] = round(line.total_length - (lat_a + u), 4)
        if name in extra_truth:
            item.update(extra_truth[name])
        if name == "leak":
            main = item
        elif name == "second_leak":
            second = item
        else:
            sources.append(item)
    for name in ("hum", "traffic"):
        if name in conf:
            sources.append({"kind": name, "local": True, **extra_truth.get(name, {})})

    def snr(s):
        return round(db(p_leak[s] / p_bg[s]), 3) if leak else None

    def snr_all(s):
        if not leak:
            return None
        total = sum(mean_square(v) for v in sig[s].values())
        return round(db(p_leak[s] / max(total - p_leak[s], 1e-300)), 3)

    return {
        "leak": bool(leak),
        "leak_distance_from_a_m": main["distance_from_a_m"] if main else None,
        "leak_distance_from_b_m": main["distance_from_b_m"] if main else None,
        "delay_s": main["delay_s"] if main else None,
        "stream_delay_s": main["stream_delay_s"] if main else None,
        "start_offset_s": offset,
        "max_abs_delay_s": round(t_ab, 9),
        "leak_source": main,
        "second_leak": second,
        "leak_free_kind": lf_kind,
        "confounders": sources,
        "confounder_kinds": [c for c in conf],
        "snr_a_db": snr("A"), "snr_b_db": snr("B"),
        "snr_pair_db": None if not leak else round(0.5 * (snr("A") + snr("B")), 3),
        "snr_target_db": round(snr_target, 3) if leak else None,
        "snr_vs_all_a_db": snr_all("A"), "snr_vs_all_b_db": snr_all("B"),
        "path_length_m": round(line.total_length, 4),
        "main_length_m": round(line.main_length, 4),
        "nominal_length_m": round(sum(s["length_m"] for s in pipe_json["segments"]), 3),
        "sections": [s.truth_dict() for s in line.sections],
        "wave_speeds_m_s": [round(s.c_m_s, 3) for s in line.sections],
        "nominal_model_wave_speeds_m_s": [round(s.c_nominal_m_s, 3) for s in line.sections],
        "lateral_a": None if line.lateral_a is None else line.lateral_a.truth_dict(),
        "lateral_b": None if line.lateral_b is None else line.lateral_b.truth_dict(),
        "reflectors": [{"main_line_position_m": round(r.u_m, 4), "r": round(r.r_from_left, 5), "kind": r.kind}
                       for r in line.reflectors],
        "environment": env,
        "sensors": {p.name: {**p.model.as_dict(), "units": UNITS[kinds[p.name]], "gain_db": round(gains[p.name][0], 6),
                             "gain_mode": gains[p.name][1], "digitiser": digs[p.name].as_dict(),
                             "clipped_fraction": round(clipped[p.name], 6), "ambient": amb_meta[p.name],
                             "ambient_db": round(db(mean_square(sig[p.name]["ambient"])), 3),
                             "background_db": round(db(p_bg[p.name]), 3)} for p in placements},
        "sample_rate_a_hz": fs_a, "sample_rate_b_hz": fs_b, "duration_s": duration_s, "seed": seed,
    }


INDEX_COLUMNS = ("pair", "leak", "leak_distance_from_a_m", "delay_s", "stream_delay_s", "start_offset_s",
                 "max_abs_delay_s", "path_length_m", "nominal_length_m", "n_sections", "materials", "sensor_kinds",
                 "sample_rate_a_hz", "sample_rate_b_hz", "duration_s", "snr_a_db", "snr_b_db", "snr_pair_db",
                 "snr_vs_all_a_db", "snr_vs_all_b_db", "confounders", "second_leak_m", "leak_free_kind",
                 "wave_speeds_m_s", "nominal_model_wave_speeds_m_s", "leak_type", "leak_family", "leak_peak_hz",
                 "laterals", "echo_reflectors", "subtypes", "clipped", "seed")


def index_row(name: str, p: OtherPair) -> dict:
    t = p.truth
    ls = t["leak_source"] or {}
    return {
        "pair": name, "leak": int(t["leak"]), "leak_distance_from_a_m": t["leak_distance_from_a_m"],
        "delay_s": t["delay_s"], "stream_delay_s": t["stream_delay_s"], "start_offset_s": t["start_offset_s"],
        "max_abs_delay_s": t["max_abs_delay_s"], "path_length_m": t["path_length_m"],
        "nominal_length_m": t["nominal_length_m"], "n_sections": len(t["sections"]),
        "materials": ";".join(s["material"] for s in t["sections"]),
        "sensor_kinds": f"{p.sidecar_a['sensor_kind']};{p.sidecar_b['sensor_kind']}",
        "sample_rate_a_hz": p.sample_rate_a_hz, "sample_rate_b_hz": p.sample_rate_b_hz, "duration_s": t["duration_s"],
        "snr_a_db": t["snr_a_db"], "snr_b_db": t["snr_b_db"], "snr_pair_db": t["snr_pair_db"],
        "snr_vs_all_a_db": t["snr_vs_all_a_db"], "snr_vs_all_b_db": t["snr_vs_all_b_db"],
        "confounders": ";".join(t["confounder_kinds"]),
        "second_leak_m": (t["second_leak"] or {}).get("distance_from_a_m"), "leak_free_kind": t["leak_free_kind"],
        "wave_speeds_m_s": ";".join(f"{c:.1f}" for c in t["wave_speeds_m_s"]),
        "nominal_model_wave_speeds_m_s": ";".join(f"{c:.1f}" for c in t["nominal_model_wave_speeds_m_s"]),
        "leak_type": (ls.get("params") or {}).get("leak_type"), "leak_family": (ls.get("params") or {}).get("family"),
        "leak_peak_hz": (ls.get("params") or {}).get("peak_hz"),
        "laterals": int(t["lateral_a"] is not None) + int(t["lateral_b"] is not None),
        "echo_reflectors": sum(1 for r in t["reflectors"] if r["kind"] != "interface"),
        "subtypes": f"{p.subtype_a};{p.subtype_b}",
        "clipped": int(t["sensors"]["A"]["clipped_fraction"] > 0 or t["sensors"]["B"]["clipped_fraction"] > 0),
        "seed": t["seed"],
    }


def write_pair_set(out_dir, n: int, seed: int, *, leak_fraction: float = 0.75, duration_s: float = 30.0,
                   sample_rate_hz=None, **options) -> Path:
    """Write ``n`` pairs as ``pairNNN/{A.wav,A.json,B.wav,B.json,pipe.json,truth.json}`` plus ``index.csv``.

    Pair i is ``pair(child_seed_i, leak=..., ...)`` with the child seeds spawned from ``seed``
    (its ``truth["seed"]``); about ``leak_fraction`` of them have a leak.  Returns index.csv's path.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plan = np.random.default_rng(np.random.SeedSequence([int(seed), 7]))
    width = max(3, len(str(max(n - 1, 0))))
    rows = []
    for i in range(n):
        child = int(np.random.SeedSequence([int(seed), 8, i]).generate_state(1)[0])
        has_leak = bool(plan.random() < leak_fraction)
        p = pair(child, duration_s=duration_s, sample_rate_hz=sample_rate_hz, leak=has_leak, **options)
        name = f"pair{i:0{width}d}"
        p.write(out / name)
        rows.append(index_row(name, p))
    with open(out / "index.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(INDEX_COLUMNS))
        w.writeheader()
        for r in rows:
            w.writerow({k: flat_csv_value(v) for k, v in r.items()})
    return out / "index.csv"
