"""Labelled synthetic datasets from the physics simulator (quality checks, tests, `acoustic simulate dataset`;
the default model is trained on :mod:`acoustic.classify._randomised` instead).

A dataset is a set of *sites*.  Each site draws a pipe (material, internal diameter, soil), a
sensor kind and a sample rate; its recordings are leaks at random distances (alone or with one
confounder: traffic, pump, prv, consumption or hum) and non-leak recordings of every noise kind
(alone or with a second noise).  Every recording also gets a gain offset (the logger's gain set
lower or higher than ideal) and is quantised to PCM16 exactly as a WAV file would store it.
Sites are the cross-validation groups, so a held-out set made with another seed shares no site,
leak or noise draw with the training set.

Everything is drawn from one seed (:func:`synthetic_specs`), so the same call makes the same data.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np

from .._errors import AcousticWarning, ParameterError

__all__ = ["SyntheticSpec", "synthetic_specs", "simulate_spec", "synthetic_features", "write_synthetic_dataset",
           "DEFAULT_SAMPLE_RATES_HZ", "CONFOUNDER_KINDS"]

#: Sample rates (Hz) the default training set spans (4-48 kHz).
DEFAULT_SAMPLE_RATES_HZ = (4000.0, 8000.0, 11025.0, 16000.0, 22050.0, 32000.0, 44100.0, 48000.0)
#: Noises that can accompany a leak (the "confounders").
CONFOUNDER_KINDS = ("traffic", "pump", "prv", "consumption", "hum")
NOISE_KINDS = ("traffic", "pump", "prv", "consumption", "hum", "quiet")
#: Natural redraws of a leak whose SNR is outside the asked range; after them the SNR is set directly.
MAX_REDRAWS = 20
#: material -> (internal diameters in mm, leak-to-sensor distance range in m).
MATERIAL_SPECS = {
    "pvc": ((90.0, 110.0, 160.0, 200.0, 250.0), (2.0, 60.0)),
    "pe": ((90.0, 110.0, 160.0, 200.0), (2.0, 50.0)),
    "cast_iron": ((80.0, 100.0, 150.0, 200.0, 300.0), (5.0, 200.0)),
    "ductile_iron": ((100.0, 150.0, 200.0, 300.0), (5.0, 200.0)),
    "steel": ((80.0, 100.0, 150.0, 200.0, 300.0), (5.0, 250.0)),
    "asbestos_cement": ((100.0, 150.0, 200.0), (3.0, 120.0)),
    "concrete": ((300.0, 400.0, 600.0), (3.0, 100.0)),
    "copper": ((22.0, 28.0, 54.0), (2.0, 100.0)),
}


@dataclasses.dataclass(frozen=True)
class SyntheticSpec:
    """One recording to simulate: simulator keywords plus the dataset bookkeeping."""

    name: str
    site: str
    label_hint: str  # "leak" or "no_leak" (the simulator decides the noise kind)
    confounder: str  # "none" or a noise kind (for non-leaks: the noises joined by "+")
    gain_offset_db: float
    kwargs: dict
    snr_range_db: tuple = (None, None)  # accepted leak-to-background SNR at the sensor (dB); None: any
    distance_range_m: tuple = (None, None)


def synthetic_specs(n_sites: int, *, seed: int, per_site: int = 6, leak_fraction: float = 0.5,
                    sample_rates_hz=DEFAULT_SAMPLE_RATES_HZ, sensor_kinds=("hydrophone", "accelerometer"),
                    materials=tuple(MATERIAL_SPECS), gain_offset_db=(-30.0, 3.0), duration_s: float = 10.0,
                    site_prefix: str = "site", min_leak_snr_db: float | None = None,
                    max_leak_snr_db: float | None = None) -> list[SyntheticSpec]:
    """Draw the recordings of a synthetic labelled dataset.

    Parameters
    ----------
    n_sites : int
        Number of sites (cross-validation groups).
    seed : int
        Seed of every draw (sites, recordings, simulator seeds).
    per_site : int, default 6
        Recordings per site.
    leak_fraction : float, default 0.5
        Expected fraction of leak recordings.
    sample_rates_hz, sensor_kinds, materials : sequences
        What sites are drawn from (uniformly).
    gain_offset_db : (float, float)
        Range (dB) of the offset added to the ideal gain (negative: quieter stored samples,
        more quantisation noise; positive: clipping).
    duration_s : float, default 10
        Length of each recording (s).
    site_prefix : str
        Site names are ``{site_prefix}{index}``.
    min_leak_snr_db, max_leak_snr_db : float, optional
        Keep only leaks whose leak-to-background SNR at the sensor (dB, over the leak band, as the
        simulator reports it) lies in this range: a leak drawn outside it is redrawn (distance and
        simulator seed) until it fits, i.e. leaks are drawn from the natural population
        conditioned on the SNR range; where that is rare (after 20 draws) the simulator is asked
        for an SNR drawn uniformly in the range (it scales the background to meet it).

    Returns
    -------
    list of SyntheticSpec
    """
    if n_sites < 1 or per_site < 1:
        raise ParameterError(f"n_sites and per_site must be >= 1, got {n_sites} and {per_site}")
    unknown = [m for m in materials if m not in MATERIAL_SPECS]
    if unknown:
        raise ParameterError(f"unknown material(s) {', '.join(unknown)}; known: {', '.join(MATERIAL_SPECS)}")
    rng = np.random.default_rng(seed)
    specs = []
    for s in range(n_sites):
        site = f"{site_prefix}{s:04d}"
        material = str(rng.choice(list(materials)))
        diameters, (dmin, dmax) = MATERIAL_SPECS[material]
        diameter = float(rng.choice(diameters))
        sensor = str(rng.choice(list(sensor_kinds)))
        rate = float(rng.choice(list(sample_rates_hz)))
        soil = str(rng.choice(["sandy", "stiff"]))
        hum_hz = float(rng.choice([50.0, 60.0]))
        for r in range(per_site):
            base = dict(material=material, diameter_mm=diameter, sample_rate_hz=rate, duration_s=duration_s,
                        sensor_kind=sensor, soil=soil, hum_hz=hum_hz, sensor_id=f"{site}-L{r}",
                        seed=int(rng.integers(0, 2**31 - 1)))
            if rng.random() < leak_fraction:
                conf = str(rng.choice(("none",) + CONFOUNDER_KINDS))
                # log-uniform distance: near and far leaks equally represented per octave
                dist = float(np.exp(rng.uniform(np.log(dmin), np.log(dmax))))
                kwargs = dict(base, leak_distance_m=round(dist, 2), noises=() if conf == "none" else (conf,))
                hint = "leak"
            else:
                first = str(rng.choice(NOISE_KINDS))
                noises = [first]
                if first != "quiet" and rng.random() < 0.25:
                    noises.append(str(rng.choice([k for k in CONFOUNDER_KINDS if k != first])))
                conf = "+".join(sorted(noises))
                kwargs = dict(base, noises=tuple(noises))
                hint = "no_leak"
            specs.append(SyntheticSpec(name=f"{site}_{r}", site=site, label_hint=hint, confounder=conf,
                                       gain_offset_db=float(rng.uniform(*gain_offset_db)), kwargs=kwargs,
                                       snr_range_db=(min_leak_snr_db, max_leak_snr_db),
                                       distance_range_m=(dmin, dmax)))
    return specs


def simulate_spec(spec: SyntheticSpec, *, gain_offset_db: float | None = None):
    """Simulate one spec: (Recording, truth) with the gain offset applied and PCM16 quantisation.

    The returned recording holds exactly what a PCM16 WAV file of it would hold.
    """
    from ..simulate import simulate_recording

    lo, hi = spec.snr_range_db
    kwargs = dict(spec.kwargs)
    redraw = np.random.default_rng(kwargs["seed"] + 7919)
    for attempt in range(MAX_REDRAWS + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AcousticWarning)
            sim = simulate_recording(**kwargs)
        snr = sim.truth.get("snr_db")
        if kwargs.get("leak_distance_m") is None or snr is None or (
                (lo is None or snr >= lo) and (hi is None or snr < hi)):
            break
        if attempt == MAX_REDRAWS:
            raise ParameterError(f"{spec.name}: no leak with an SNR in [{lo}, {hi}) dB")  # pragma: no cover
        dmin, dmax = spec.distance_range_m
        kwargs.update(seed=int(redraw.integers(0, 2**31 - 1)),
                      leak_distance_m=round(float(np.exp(redraw.uniform(np.log(dmin), np.log(dmax)))), 2))
        if attempt + 1 == MAX_REDRAWS:  # rare at this site: ask the simulator for an SNR in the range
            s_lo = lo if lo is not None else hi - 20.0
            s_hi = hi if hi is not None else lo + 30.0
            kwargs["snr_db"] = float(redraw.uniform(s_lo, s_hi))
    rec = sim.recording
    off = spec.gain_offset_db if gain_offset_db is None else float(gain_offset_db)
    full = 1.0 - 2.0 ** -15
    y = np.clip(rec.samples * 10.0 ** (off / 20.0), -1.0, full)
    y = np.round(y * 32768.0) / 32768.0  # PCM16 as soundfile writes and reads it
    if not np.any(y):
        y[0] = 1.0 / 32768.0  # keep a file that the reader would not call silent
    rec = rec.with_samples(y, note=f"gain offset {off:+.1f} dB, PCM16 quantisation")
    rec.gain_db = rec.gain_db + off
    truth = dict(sim.truth, gain_db=rec.gain_db, gain_offset_db=off, site=spec.site, confounder=spec.confounder)
    return rec, truth


def _spec_features(spec: SyntheticSpec):
    from ..features import extract_features

    rec, truth = simulate_spec(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AcousticWarning)
        fv = extract_features(rec)
    from ._extract import clipped_fraction, peak_dbfs

    truth["clipped_fraction"] = clipped_fraction(rec.samples)
    truth["peak_dbfs"] = peak_dbfs(rec.samples)
    return (np.asarray(fv.values, dtype=np.float64), np.asarray(fv.band_levels_db, dtype=np.float64),
            truth, tuple(fv.names), tuple(fv.units), str(fv.version), np.asarray(fv.band_centres_hz))


def synthetic_features(specs, *, jobs: int = 1, progress=None):
    """Simulate and extract features of every spec (in worker processes when ``jobs`` > 1).

    Returns
    -------
    DatasetFeatures
        With ``meta`` from the truth (material, diameter, sensor kind, confounder, rate, gain, SNR).
    """
    from ._extract import DatasetFeatures, _worker_init

    specs = list(specs)
    if jobs > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn"),
                                 initializer=_worker_init) as pool:
            results = []
            for i, r in enumerate(pool.map(_spec_features, specs, chunksize=8), 1):
                results.append(r)
                if progress:
                    progress(i)
    else:
        results = []
        for i, s in enumerate(specs, 1):
            results.append(_spec_features(s))
            if progress:
                progress(i)
    X = np.vstack([r[0] for r in results])
    S = np.vstack([r[1] for r in results])
    truths = [r[2] for r in results]
    names, units, version, centres = results[0][3], results[0][4], results[0][5], results[0][6]
    meta = {
        "material": [t["material"] for t in truths], "diameter_mm": [t["diameter_mm"] for t in truths],
        "pressure_bar": [None] * len(truths), "sensor_kind": [t["sensor_kind"] for t in truths],
        "confounder": [s.confounder if s.label_hint == "leak" else "" for s in specs],
        "noises": [",".join(t.get("noises") or []) or "none" for t in truths], "date": [""] * len(truths),
        "sample_rate_hz": [float(t["sample_rate_hz"]) for t in truths], "gain_db": [t["gain_db"] for t in truths],
        "duration_s": [float(t["duration_s"]) for t in truths], "start_time": [None] * len(truths),
        "source_sha256": [""] * len(truths),
        "snr_db": [t.get("snr_db") for t in truths], "leak_distance_m": [t.get("leak_distance_m") for t in truths],
        "seed": [t["seed"] for t in truths], "gain_offset_db": [t["gain_offset_db"] for t in truths],
        "clipped_fraction": [t["clipped_fraction"] for t in truths], "peak_dbfs": [t["peak_dbfs"] for t in truths],
    }
    return DatasetFeatures(
        X=X, feature_names=list(names), feature_units=list(units), features_version=version, band_centres_hz=centres,
        band_levels_db=S, labels=[t["label"] for t in truths], sites=[s.site for s in specs],
        files=[Path(s.name + ".wav") for s in specs], meta=meta, columns={"material", "sensor_kind", "confounder"},
        root=Path("synthetic"))


def write_synthetic_dataset(specs, out_dir) -> Path:
    """Write specs as a labelled dataset folder: WAV + sidecar per recording and ``labels.csv``.

    ``labels.csv`` columns: ``file,label,site,material,diameter_mm,sensor_kind,confounder,noises``
    (``confounder``: the noise with a leak, "none" for a leak alone, empty for non-leaks, whose
    label is their noise kind; ``noises``: every noise in the recording).
    """
    import csv

    from ..io import write_recording

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for spec in specs:
        rec, truth = simulate_spec(spec)
        write_recording(rec, out / f"{spec.name}.wav")
        rows.append({"file": f"{spec.name}.wav", "label": truth["label"], "site": spec.site,
                     "material": truth["material"], "diameter_mm": f"{truth['diameter_mm']:g}",
                     "sensor_kind": truth["sensor_kind"],
                     "confounder": spec.confounder if spec.label_hint == "leak" else "",
                     "noises": "+".join(truth.get("noises") or []) or "none"})
    with open(out / "labels.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return out
