"""Single-logger recordings for the leak classifier: ``single`` and ``write_single_set``."""

from __future__ import annotations

import csv
import datetime as _dt
import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from ._io import flat_csv_value, write_audio
from ._pipe import (METALS, PLASTICS, PipeLine, Reflector, draw_environment, draw_section, draw_true_section)
from ._scene import PipeSource, Placement, render_pipe_sources, scale_to_power, through
from ._sensor import (AMBIENT_DB, SELF_NOISE_DB, UNITS, choose_gain_db, digitise, draw_digitiser, draw_sensor)
from ._sources import (HumField, ambient_signal, consumption_spectrum, draw_ambient, draw_consumption, draw_leak,
                       draw_other, draw_prv, draw_pump, draw_traffic, leak_spectrum, other_signal, prv_spectrum,
                       pump_spectrum, traffic_signal)
from ._util import choice_weighted, db, loguniform, mean_square, noise_from_psd

NON_LEAK_CLASSES = ("quiet", "pump", "prv", "traffic", "consumption", "hum", "other")
LABELS = ("leak",) + NON_LEAK_CLASSES
CONFOUNDER_KINDS = ("hum", "traffic", "consumption", "pump", "prv", "other")
PIPE_BORNE = ("pump", "prv", "consumption")


def _default(d):
    return field(default_factory=lambda: dict(d))


@dataclass
class SingleRanges:
    """What ``single``/``write_single_set`` draw from.  Every field can be overridden by keyword."""

    leak_fraction: float = 0.5
    class_weights: dict = _default({"quiet": 0.16, "pump": 0.13, "prv": 0.14, "traffic": 0.14,
                                    "consumption": 0.15, "hum": 0.12, "other": 0.16})
    sample_rates: dict = _default({2000: 0.04, 2048: 0.04, 4000: 0.08, 4096: 0.12, 8000: 0.2, 8192: 0.1,
                                   11025: 0.04, 16000: 0.1, 22050: 0.04, 24000: 0.04, 25600: 0.04,
                                   32000: 0.04, 44100: 0.06, 48000: 0.06})
    duration_s: tuple = (2.0, 60.0)
    snr_db: tuple = (-6.0, 12.0)
    distance_m: tuple = (1.0, 150.0)
    materials: dict = _default({"pvc": 0.2, "pe": 0.2, "cast_iron": 0.17, "ductile_iron": 0.17, "steel": 0.08,
                                "asbestos_cement": 0.1, "concrete": 0.03, "copper": 0.05})
    sensor_kinds: dict | None = None
    recordings_per_site: tuple = (1, 5)
    subtypes: dict = _default({"PCM_16": 0.82, "PCM_24": 0.1, "FLOAT": 0.08})
    flac_fraction: float = 0.08
    confounder_prob: float = 0.35
    clip_prob: float = 0.04
    #: level of the class source relative to the ambient background (dB, mean power)
    class_level_db: dict = _default({"pump": (0.0, 25.0), "prv": (0.0, 20.0), "traffic": (0.0, 20.0),
                                     "consumption": (0.0, 20.0), "hum": (0.0, 25.0), "other": (0.0, 20.0)})
    #: level of a confounder in a leak recording relative to the ambient background (dB)
    confounder_level_db: tuple = (-5.0, 15.0)

    @classmethod
    def from_kwargs(cls, kwargs: dict) -> "SingleRanges":
        names = {f.name for f in fields(cls)}
        bad = sorted(set(kwargs) - names)
        if bad:
            raise TypeError(f"unknown option(s) {', '.join(bad)}; known: {', '.join(sorted(names))}")
        cfg = cls()
        for k, v in kwargs.items():
            if k in ("duration_s", "snr_db", "distance_m", "recordings_per_site", "confounder_level_db"):
                v = (float(v), float(v)) if isinstance(v, (int, float)) else (float(v[0]), float(v[1]))
                if v[0] > v[1]:
                    raise ValueError(f"{k}: low {v[0]} > high {v[1]}")
            elif k in ("sample_rates", "materials", "sensor_kinds", "subtypes", "class_weights"):
                if isinstance(v, (int, float, str)):
                    v = {v: 1.0}
                elif not isinstance(v, dict):
                    v = {x: 1.0 for x in v}
            setattr(cfg, k, v)
        if not 0.0 <= cfg.leak_fraction <= 1.0:
            raise ValueError(f"leak_fraction must be within 0..1, got {cfg.leak_fraction}")
        unknown = set(cfg.class_weights) - set(NON_LEAK_CLASSES)
        if unknown:
            raise ValueError(f"class_weights: unknown classes {sorted(unknown)}")
        return cfg


@dataclass
class OtherRecording:
    """One recording as a logger would have stored it.

    ``samples`` are float in the logger's digital full scale [-1, 1], already quantised to
    ``subtype`` and clipped.  ``sidecar`` is what goes into the JSON beside the audio (with
    ``gain_db`` and ``calibrated`` only for calibrated recordings: then ``samples / 10**(gain_db/20)``
    is in pascal (hydrophone) or m/s^2 (accelerometer)).  ``meta`` holds every parameter drawn.
    """

    samples: np.ndarray
    sample_rate_hz: float
    sidecar: dict
    label: str
    meta: dict
    subtype: str = "PCM_16"
    container: str = "WAV"

    @property
    def suffix(self) -> str:
        return ".flac" if self.container == "FLAC" else ".wav"

    def write(self, path) -> Path:
        """Write the audio (format from ``container``; the suffix of ``path`` is replaced) and the sidecar."""
        path = Path(path).with_suffix(self.suffix)
        write_audio(path, self.samples, self.sample_rate_hz, self.subtype, self.container)
        path.with_suffix(".json").write_text(json.dumps(self.sidecar, indent=2) + "\n", encoding="utf-8")
        return path


# --------------------------------------------------------------------------------------------
# site


@dataclass
class Site:
    site_id: str
    material: str
    line: PipeLine
    sensor_kind: str
    sensor: object
    sensor_id: str
    fs: float
    digitiser: object
    mains_hz: float
    ambient: dict
    ambient_db: float
    self_noise_db: float
    env: dict
    leak: dict
    leak_distance_m: float
    behind_leak_reflector: tuple | None
    theme: str
    date: _dt.date
    sources: dict = field(default_factory=dict)


def _sensor_kind_for(rng, material: str, cfg: SingleRanges) -> str:
    if cfg.sensor_kinds:
        return choice_weighted(rng, cfg.sensor_kinds)
    p_hydro = 0.65 if material in PLASTICS else 0.3 if material in METALS else 0.5
    return "hydrophone" if rng.random() < p_hydro else "accelerometer"


def _lateral(rng, env: dict):
    mat = "ductile_iron" if rng.random() < 0.8 else "pe"
    nominal = draw_section(rng, mat, small=True)
    return draw_true_section(rng, mat, float(rng.uniform(0.5, 4.0)), nominal, **env)


def _beyond_reflector(rng, u: float) -> Reflector:
    if rng.random() < 0.5:
        return Reflector(u, float(rng.uniform(0.3, 0.9)), "closed_valve")
    return Reflector(u, float(rng.uniform(-0.6, -0.2)), "junction")


def draw_site(rng: np.random.Generator, cfg: SingleRanges, site_id: str, *, sensor_kind=None,
              sample_rate_hz=None) -> Site:
    material = choice_weighted(rng, cfg.materials)
    nominal = draw_section(rng, material)
    env = draw_environment(rng)
    section = draw_true_section(rng, material, 1000.0, nominal, **env)
    kind = sensor_kind or _sensor_kind_for(rng, material, cfg)
    sensor = draw_sensor(rng, kind)
    fs = float(sample_rate_hz) if sample_rate_hz else float(choice_weighted(rng, cfg.sample_rates))
    reflectors = [_beyond_reflector(rng, -float(rng.uniform(1.0, 60.0)))] if rng.random() < 0.5 else []
    line = PipeLine([section], _lateral(rng, env) if rng.random() < 0.3 else None, None, reflectors)
    lo, hi = cfg.distance_m
    theme = choice_weighted(rng, cfg.class_weights) if cfg.class_weights else "quiet"
    return Site(
        site_id=site_id, material=material, line=line, sensor_kind=kind, sensor=sensor,
        sensor_id=("H" if kind == "hydrophone" else "X") + f"{int(rng.integers(100, 10000)):04d}",
        fs=fs, digitiser=draw_digitiser(rng, cfg.subtypes, cfg.flac_fraction),
        mains_hz=50.0 if rng.random() < 0.6 else 60.0, ambient=draw_ambient(rng),
        ambient_db=float(rng.uniform(*AMBIENT_DB[kind])), self_noise_db=float(rng.uniform(*SELF_NOISE_DB[kind])),
        env=env, leak=draw_leak(rng, material in PLASTICS), leak_distance_m=loguniform(rng, lo, hi) if hi > lo else lo,
        behind_leak_reflector=(float(rng.uniform(2.0, 60.0)), _beyond_reflector(rng, 0.0)) if rng.random() < 0.3 else None,
        theme=theme, date=_dt.date(2025, 1, 1) + _dt.timedelta(days=int(rng.integers(0, 700))))


def _site_source(rng, site: Site, kind: str, duration_s: float) -> dict:
    """Parameters of a pipe-borne source at a site (drawn once, reused by later recordings)."""
    if kind in site.sources and kind != "consumption":
        return site.sources[kind]
    side = 1.0 if rng.random() < 0.5 else -1.0
    if kind == "pump":
        src = {"params": draw_pump(rng, site.mains_hz, site.fs), "distance_m": loguniform(rng, 10.0, 500.0)}
    elif kind == "prv":
        src = {"params": draw_prv(rng, site.fs), "distance_m": loguniform(rng, 5.0, 300.0)}
    else:
        prev = site.sources.get("consumption")
        d = prev["distance_m"] if prev else loguniform(rng, 1.0, 80.0)
        src = {"params": draw_consumption(rng, duration_s, None if site.theme == "consumption" else False),
               "distance_m": d}
    src["side"] = side
    site.sources[kind] = src
    return src


# --------------------------------------------------------------------------------------------
# one recording


def _night_start(rng, date: _dt.date) -> _dt.datetime:
    t = _dt.datetime(date.year, date.month, date.day, 1, 0, 0) + _dt.timedelta(
        seconds=float(rng.uniform(0.0, 3.5 * 3600.0)))
    return t.replace(microsecond=int(rng.integers(0, 1_000_000)))


def iso_z(t: _dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _pipe_source(kind: str, u: float, params: dict):
    if kind == "leak":
        return PipeSource(kind, u, lambda r, m, fs, w: leak_spectrum(r, params, m, fs))
    if kind == "pump":
        return PipeSource(kind, u, lambda r, m, fs, w: pump_spectrum(r, params, m, fs))
    if kind == "prv":
        return PipeSource(kind, u, lambda r, m, fs, w: prv_spectrum(r, params, m, fs))
    return PipeSource(kind, u, lambda r, m, fs, w: consumption_spectrum(r, params, m, fs, w))


def make_recording(rng: np.random.Generator, site: Site, cfg: SingleRanges, *, label: str,
                   duration_s: float | None = None, calibrated: bool = False, moved: bool = False) -> OtherRecording:
    """Draw and render one recording at ``site`` with the given label."""
    if label not in LABELS:
        raise ValueError(f"label must be one of {', '.join(LABELS)}, got {label!r}")
    fs = site.fs
    dur = float(duration_s) if duration_s else float(rng.uniform(*cfg.duration_s))
    n = max(int(round(dur * fs)), 64)
    dur = n / fs
    if moved:
        lo, hi = cfg.distance_m
        site.leak_distance_m = loguniform(rng, lo, hi) if hi > lo else lo

    # which sources are present, at what level relative to the ambient background
    extras: list = []   # (kind, level_db)
    if label == "leak":
        if rng.random() < cfg.confounder_prob:
            k1 = CONFOUNDER_KINDS[int(rng.integers(len(CONFOUNDER_KINDS)))]
            extras.append((k1, float(rng.uniform(*cfg.confounder_level_db))))
            if rng.random() < 0.25:
                k2 = CONFOUNDER_KINDS[int(rng.integers(len(CONFOUNDER_KINDS)))]
                if k2 != k1:
                    extras.append((k2, float(rng.uniform(*cfg.confounder_level_db))))
    elif label == "quiet":
        if rng.random() < 0.3:
            extras.append(("hum", float(rng.uniform(-20.0, -8.0))))
    else:
        extras.append((label, float(rng.uniform(*cfg.class_level_db[label]))))
        if rng.random() < 0.2:
            k2 = ("hum", "traffic")[int(rng.integers(2))]
            if k2 != label:
                extras.append((k2, float(rng.uniform(-10.0, 5.0))))

    # pipe-borne sources
    line = site.line
    line.reflectors = [r for r in line.reflectors if r.kind != "behind_source"]
    pipe_sources, source_meta = [], {}
    if label == "leak":
        d = site.leak_distance_m
        pipe_sources.append(_pipe_source("leak", d, site.leak))
        if site.behind_leak_reflector is not None:
            off, r = site.behind_leak_reflector
            line.reflectors.append(Reflector(d + off, r.r_from_left, "behind_source"))
    for kind, _ in extras:
        if kind in PIPE_BORNE:
            src = _site_source(rng, site, kind, dur)
            u = src["side"] * src["distance_m"]
            pipe_sources.append(_pipe_source(kind, u, src["params"]))
            source_meta[kind] = {"distance_m": round(src["distance_m"], 3), "side": "far" if src["side"] > 0 else "near",
                                 **src["params"]}
    placement = [Placement("A", 0.0, site.sensor)]
    rendered, _paths, _flat = render_pipe_sources(rng, line, pipe_sources, placement, n, fs, echoes=True)
    comps = {k: v["A"] for k, v in rendered.items()}

    # sensor-local components
    sens = site.sensor
    comps["ambient"] = ambient_signal(rng, site.ambient, n, fs, sens.structural)
    comps["self_noise"] = noise_from_psd(rng, lambda f: sens.self_noise_psd(f) * np.abs(sens.electrical(f, fs)) ** 2, n, fs)
    start = _night_start(rng, site.date)
    for kind, _ in extras:
        if kind == "traffic":
            tm = draw_traffic(rng, dur)
            source_meta["traffic"] = tm
            comps["traffic"] = through(traffic_signal(rng, tm, n, fs), sens.structural, fs)
        elif kind == "hum":
            hf = HumField(rng, site.mains_hz, 0.0, dur)
            source_meta["hum"] = hf.meta()
            comps["hum"] = through(hf.wave(rng, np.arange(n) / fs, fs), sens.electrical, fs)
        elif kind == "other":
            om = draw_other(rng, fs, dur, site.mains_hz)
            source_meta["other"] = om
            x, path = other_signal(rng, om, n, fs)
            comps["other"] = through(x, sens.structural if path == "structural" else sens.electrical, fs)

    # levels (physical units: Pa or m/s^2)
    p_amb = 10 ** ((site.ambient_db + rng.normal(0.0, 2.0)) / 10)
    scaled = {"ambient": scale_to_power(comps["ambient"], p_amb),
              "self_noise": scale_to_power(comps["self_noise"], 10 ** (site.self_noise_db / 10))}
    levels = {}
    for kind, lvl in extras:
        if kind in comps:
            scaled[kind] = scale_to_power(comps[kind], p_amb * 10 ** (lvl / 10))
            levels[kind] = lvl
    snr_target = None
    if label == "leak":
        snr_target = float(rng.uniform(*cfg.snr_db))
        p_rest = sum(mean_square(v) for v in scaled.values())
        scaled["leak"] = scale_to_power(comps["leak"], p_rest * 10 ** (snr_target / 10))
    x = sum(scaled.values())
    p_leak = mean_square(scaled["leak"]) if "leak" in scaled else 0.0
    p_other = sum(mean_square(v) for k, v in scaled.items() if k != "leak")
    p_class = sum(mean_square(scaled[k]) for k in scaled if k == label)

    # logger
    rms = math.sqrt(mean_square(x))
    gain_db, gain_mode = choose_gain_db(rng, site.sensor_kind, rms, overdrive_prob=cfg.clip_prob)
    samples, clipped = digitise(x, gain_db, site.digitiser)

    sidecar = {"sensor_id": site.sensor_id, "sensor_kind": site.sensor_kind, "start_time": iso_z(start)}
    if calibrated:
        sidecar["gain_db"] = round(gain_db, 6)
        sidecar["calibrated"] = True
    sec = line.sections[0]
    meta = {
        "label": label, "site": site.site_id, "material": site.material,
        "diameter_mm": sec.nominal["diameter_mm"], "wall_mm": sec.nominal["wall_mm"],
        "sensor_kind": site.sensor_kind, "sensor_id": site.sensor_id, "units": UNITS[site.sensor_kind],
        "sample_rate_hz": fs, "duration_s": round(dur, 6), "n_samples": n,
        "snr_db": None if label != "leak" else round(db(p_leak / p_other), 3),
        "class_to_rest_db": None if label in ("leak", "quiet") else round(db(p_class / max(p_other - p_class, 1e-300)), 3),
        "distance_m": round(site.leak_distance_m, 3) if label == "leak" else None,
        "leak": dict(site.leak) if label == "leak" else None,
        "confounders": [k for k, _ in extras] if label == "leak" else [k for k, _ in extras if k != label],
        "levels_rel_ambient_db": {k: round(v, 3) for k, v in levels.items()},
        "sources": source_meta,
        "ambient": dict(site.ambient), "ambient_db": round(db(p_amb), 3), "self_noise_db": round(site.self_noise_db, 3),
        "pipe": sec.truth_dict(), "environment": site.env,
        "lateral": None if line.lateral_a is None else line.lateral_a.truth_dict(),
        "reflectors": [{"u_m": round(r.u_m, 3), "r": round(r.r_from_left, 4), "kind": r.kind} for r in line.reflectors],
        "sensor": sens.as_dict(), "digitiser": site.digitiser.as_dict(), "mains_hz": site.mains_hz,
        "gain_db": round(gain_db, 6), "gain_mode": gain_mode, "calibrated": bool(calibrated),
        "rms_dbfs": round(20 * math.log10(max(math.sqrt(mean_square(samples)), 1e-12)), 3),
        "clipped_fraction": round(clipped, 6), "start_time": sidecar["start_time"],
    }
    return OtherRecording(samples, fs, sidecar, label, meta, site.digitiser.subtype, site.digitiser.container)


# --------------------------------------------------------------------------------------------
# public


def single(seed, *, label=None, sample_rate_hz=None, duration_s=None, sensor_kind=None, calibrated=False,
           **ranges) -> OtherRecording:
    """One single-logger recording.

    Parameters
    ----------
    seed : int
        Everything is drawn from this seed (same seed, same recording).
    label : str, optional
        ``leak`` or one of ``quiet, pump, prv, traffic, consumption, hum, other``; drawn when None
        (leak with probability ``leak_fraction``, 0.5 by default).
    sample_rate_hz, duration_s : float, optional
        Fixed values instead of draws (2-48 kHz, 2-60 s by default).
    sensor_kind : {"hydrophone", "accelerometer"}, optional
    calibrated : bool
        Put ``gain_db`` and ``"calibrated": true`` in the sidecar.
    **ranges
        Any field of :class:`SingleRanges` (e.g. ``snr_db=(0, 6)``, ``materials=["pe"]``).

    Examples
    --------
    >>> rec = single(3, label="leak", sample_rate_hz=4096, duration_s=2.0)
    >>> rec.label, rec.sample_rate_hz, rec.samples.size
    ('leak', 4096.0, 8192)
    """
    cfg = SingleRanges.from_kwargs(ranges)
    ss = np.random.SeedSequence(int(seed))
    site_rng, rec_rng = (np.random.default_rng(s) for s in ss.spawn(2))
    site = draw_site(site_rng, cfg, f"S{int(seed)}", sensor_kind=sensor_kind, sample_rate_hz=sample_rate_hz)
    if label is None:
        label = "leak" if rec_rng.random() < cfg.leak_fraction else choice_weighted(rec_rng, cfg.class_weights)
    rec = make_recording(rec_rng, site, cfg, label=label, duration_s=duration_s, calibrated=calibrated)
    rec.meta["seed"] = int(seed)
    return rec


#: Flat labels.csv columns after file,label,distance_m,site (every one drawn or derived).
LABEL_COLUMNS = (
    "material", "diameter_mm", "wall_mm", "sensor_kind", "sensor_id", "sample_rate_hz", "duration_s", "snr_db",
    "class_to_rest_db", "confounder", "n_confounders", "leak_type", "leak_family", "leak_peak_hz", "pressure_bar",
    "source_kind", "source_distance_m", "ambient_db", "ambient_slope", "self_noise_db", "wave_speed_m_s",
    "nominal_model_wave_speed_m_s", "atten_db_per_m_100hz", "atten_db_per_m_500hz", "soil", "water_temp_c",
    "mains_hz", "sensor_resonances", "hp_fc_hz", "gain_db", "gain_mode", "calibrated", "subtype", "container",
    "rms_dbfs", "clipped_fraction", "dc_offset", "start_time", "seed", "index_in_site",
)


def _label_row(file: str, rec: OtherRecording, seed_text: str, index_in_site: int) -> dict:
    m = rec.meta
    leak = m["leak"] or {}
    src_kind = src_dist = None
    if rec.label in m["sources"]:
        s = m["sources"][rec.label]
        src_kind = s.get("kind", rec.label)
        src_dist = s.get("distance_m")
    elif rec.label in ("pump", "prv", "consumption", "traffic", "hum", "other"):
        src_kind = rec.label
    res = m["sensor"]["resonances"]
    return {
        "file": file, "label": rec.label, "distance_m": m["distance_m"], "site": m["site"],
        "material": m["material"], "diameter_mm": m["diameter_mm"], "wall_mm": m["wall_mm"],
        "sensor_kind": m["sensor_kind"], "sensor_id": m["sensor_id"], "sample_rate_hz": m["sample_rate_hz"],
        "duration_s": m["duration_s"], "snr_db": m["snr_db"], "class_to_rest_db": m["class_to_rest_db"],
        "confounder": ";".join(m["confounders"]), "n_confounders": len(m["confounders"]),
        "leak_type": leak.get("leak_type"), "leak_family": leak.get("family"), "leak_peak_hz": leak.get("peak_hz"),
        "pressure_bar": leak.get("pressure_bar"), "source_kind": src_kind, "source_distance_m": src_dist,
        "ambient_db": m["ambient_db"], "ambient_slope": round(m["ambient"]["slope"], 4),
        "self_noise_db": m["self_noise_db"], "wave_speed_m_s": m["pipe"]["wave_speed_m_s"],
        "nominal_model_wave_speed_m_s": m["pipe"]["nominal_model_wave_speed_m_s"],
        "atten_db_per_m_100hz": m["pipe"]["attenuation"]["db_per_m_at_100hz"],
        "atten_db_per_m_500hz": m["pipe"]["attenuation"]["db_per_m_at_500hz"], "soil": m["pipe"]["soil"],
        "water_temp_c": round(m["environment"]["water_temp_c"], 3), "mains_hz": m["mains_hz"],
        "sensor_resonances": len(res) + (m["sensor"]["mount"] is not None) + (m["sensor"]["fitting"] is not None),
        "hp_fc_hz": m["sensor"]["hp_fc_hz"], "gain_db": m["gain_db"], "gain_mode": m["gain_mode"],
        "calibrated": int(m["calibrated"]), "subtype": m["digitiser"]["subtype"],
        "container": m["digitiser"]["container"], "rms_dbfs": m["rms_dbfs"], "clipped_fraction": m["clipped_fraction"],
        "dc_offset": m["digitiser"]["dc_offset"], "start_time": m["start_time"], "seed": seed_text,
        "index_in_site": index_in_site,
    }


def iter_single_set(n: int, seed: int, *, calibrated_fraction: float = 0.0, **ranges):
    """Yield ``(index, OtherRecording)`` for the set ``write_single_set`` writes (same draws)."""
    cfg = SingleRanges.from_kwargs(ranges)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    root = np.random.SeedSequence(int(seed))
    plan_rng = np.random.default_rng(root.spawn(1)[0])
    i = 0
    site_no = 0
    lo, hi = int(cfg.recordings_per_site[0]), int(cfg.recordings_per_site[1])
    while i < n:
        site_no += 1
        k = min(int(plan_rng.integers(lo, hi + 1)), n - i)
        site_ss = np.random.SeedSequence([int(seed), 1, site_no])
        site_rng = np.random.default_rng(site_ss)
        site = draw_site(site_rng, cfg, f"site{site_no:04d}")
        has_leak = plan_rng.random() < cfg.leak_fraction
        repaired_at = int(plan_rng.integers(1, k)) if (has_leak and k > 1 and plan_rng.random() < 0.15) else None
        calibrated_site = plan_rng.random() < calibrated_fraction
        for j in range(k):
            rec_rng = np.random.default_rng(np.random.SeedSequence([int(seed), 2, site_no, j]))
            if has_leak and (repaired_at is None or j < repaired_at):
                label = "leak"
            elif rec_rng.random() < 0.7 or not cfg.class_weights:
                label = site.theme
            else:
                label = choice_weighted(rec_rng, cfg.class_weights)
            moved = j > 0 and rec_rng.random() < 0.4
            rec = make_recording(rec_rng, site, cfg, label=label, calibrated=calibrated_site, moved=moved)
            rec.meta["seed"] = f"{int(seed)}/{site_no}/{j}"
            rec.meta["index_in_site"] = j
            yield i, rec
            i += 1


def write_single_set(out_dir, n: int, seed: int, *, calibrated_fraction: float = 0.0, **ranges) -> Path:
    """Write ``n`` recordings (WAV/FLAC + JSON sidecar), ``labels.csv`` and ``meta.jsonl``.

    Recordings come in sites of ``recordings_per_site`` (1-5) made at one place with one logger;
    ``site`` in labels.csv groups them for cross-validation.  About ``leak_fraction`` of the sites
    have a leak (then every recording there is ``leak``, except sometimes the last ones, made
    after a repair).  ``calibrated_fraction`` of the sites write ``gain_db`` and ``calibrated``.

    Returns the path of labels.csv.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    with open(out / "meta.jsonl", "w", encoding="utf-8") as mfh:
        for i, rec in iter_single_set(n, seed, calibrated_fraction=calibrated_fraction, **ranges):
            path = rec.write(out / f"rec{i:05d}")
            rows.append(_label_row(path.name, rec, rec.meta["seed"], rec.meta["index_in_site"]))
            mfh.write(json.dumps({"file": path.name, **rec.meta}, default=_json_default) + "\n")
    with open(out / "labels.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["file", "label", "distance_m", "site", *LABEL_COLUMNS])
        w.writeheader()
        for r in rows:
            w.writerow({k: flat_csv_value(v) for k, v in r.items()})
    return out / "labels.csv"


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (_dt.date, _dt.datetime)):
        return o.isoformat()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
