"""Labelled data sets for training and augmentation (``acoustic simulate dataset``).

One call writes a folder that ``acoustic train``, ``acoustic evaluate`` and ``acoustic library
build`` read as it is::

    OUT/
      labels.csv            file,label,site,... and every simulation parameter of each recording
      dataset.json          how the set was made (generator, seed, options, counts, package version)
      <site>_<k>.wav        PCM16 recordings (the simulator's samples, quantised as the file holds them)
      <site>_<k>.json       sidecars (sensor_id, sensor_kind, start_time, gain_db, calibrated, ...)
      <site>_<k>.truth.json everything the simulator drew for that recording

The recordings come from the package's synthetic-dataset code (``physics`` generator:
:func:`acoustic.classify._synthetic.synthetic_specs` draws sites and recordings from the seed,
:func:`~acoustic.classify._synthetic.simulate_spec` simulates one with :mod:`acoustic.simulate`).
Sites are the cross-validation groups: a site fixes the pipe, the sensor kind, the sample rate
and the mains frequency; its recordings are leaks at random distances (alone or with one
confounder) and everyday noises.  Everything follows from the seed, and the first ``n``
recordings of a set do not depend on how many are asked for (``n = 10`` is the start of
``n = 100`` with the same seed and ``per_site``), nor on ``jobs``.

``uncalibrated_fraction`` of the recordings get a sidecar whose ``gain_db`` is off by
:data:`UNCALIBRATED_OFFSET_DB` (uniform) and ``"calibrated": false``, as field loggers whose
gain nobody checked; the others are ``"calibrated": true`` (their gain is the simulator's).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

from .._errors import AcousticWarning, ParameterError
from .._progress import ProgressCallback, report_progress
from ._common import jsonable

__all__ = ["SimulatedDataset", "write_dataset", "labels_row", "DATASET_SCHEMA", "GENERATORS",
           "UNCALIBRATED_OFFSET_DB", "MAX_RECORDINGS"]

#: ``schema`` of ``dataset.json`` and of the command's JSON.
DATASET_SCHEMA = "acoustic.simulate.dataset/1"
#: Generators known to this version (``randomised``, the classifier's domain-randomised one, joins
#: when it is exported by :mod:`acoustic.classify`).
GENERATORS = ("physics",)
#: Range of a wrong sidecar gain (dB) for recordings marked uncalibrated: the span the classifier's
#: domain-randomised generator uses for its uncalibrated recordings (issue 15); a project choice,
#: not a field statistic.
UNCALIBRATED_OFFSET_DB = (-40.0, 40.0)
#: Most recordings one call writes (a guard against a typo writing a disk full).
MAX_RECORDINGS = 1_000_000
#: First columns of labels.csv (the rest follow in alphabetical order).
LEAD_COLUMNS = ("file", "label", "site", "sensor_kind", "calibrated", "material", "diameter_mm",
                "leak_distance_m", "snr_db", "noises", "confounder", "sample_rate_hz", "duration_s", "gain_db",
                "gain_offset_db", "seed")


@dataclasses.dataclass
class SimulatedDataset:
    """What :func:`write_dataset` wrote.

    Attributes
    ----------
    out_dir : Path
    files : list of str
        Recording file names (relative to ``out_dir``), in ``labels.csv`` order.
    labels : list of str
    sites : list of str
    manifest : dict
        The content of ``dataset.json``.
    """

    out_dir: Path
    files: list
    labels: list
    sites: list
    manifest: dict

    def to_json(self) -> dict:
        """The JSON document of ``acoustic simulate dataset --json`` (``dataset.json`` plus where)."""
        return {**self.manifest, "out_dir": str(self.out_dir)}


# -- labels.csv rows ---------------------------------------------------------------------------
def _interval_columns(key: str) -> tuple[str, str]:
    """``band_hz`` -> (``band_lo_hz``, ``band_hi_hz``); a key without a unit gets ``_lo``/``_hi``."""
    head, _, unit = key.rpartition("_")
    if head and unit in ("hz", "m", "s", "db", "mm"):
        return f"{head}_lo_{unit}", f"{head}_hi_{unit}"
    return f"{key}_lo", f"{key}_hi"


def _flatten(prefix: str, value, out: dict) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, (list, tuple)):
        items = list(value)
        if all(isinstance(v, str) for v in items):
            out[prefix] = "+".join(items)
        elif len(items) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in items):
            lo, hi = _interval_columns(prefix)
            out[lo], out[hi] = items
        elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in items):
            out[prefix] = " ".join(repr(v) for v in items)
        else:  # realised events and per-logger draws: kept whole, as compact JSON
            out[prefix] = json.dumps(items, separators=(",", ":"), sort_keys=True)
    elif isinstance(value, bool):
        out[prefix] = "true" if value else "false"
    else:
        out[prefix] = value


def labels_row(file: str, truth: dict) -> dict:
    """One ``labels.csv`` row: the file, its label and site, and every parameter of its truth.

    Nested values are flattened with dotted names (``background.slope``,
    ``realised_properties.youngs_modulus_pa``); ``[lo, hi]`` pairs become two columns with the
    unit last (``band_hz`` -> ``band_lo_hz``, ``band_hi_hz``); lists of names are joined with
    ``+`` (``noises``: ``traffic+hum``); booleans are ``true``/``false``; lists of records
    (traffic events, per-logger draws) are compact JSON.

    Examples
    --------
    >>> labels_row("s_0.wav", {"label": "leak", "site": "s", "band_hz": [5.0, 900.0],
    ...                        "noises": ["traffic"], "background": {"slope": 0.8}})
    {'file': 's_0.wav', 'label': 'leak', 'site': 's', 'band_lo_hz': 5.0, 'band_hi_hz': 900.0, 'noises': 'traffic', 'background.slope': 0.8}
    """
    row: dict = {"file": file}
    _flatten("", jsonable(truth), row)
    row["noises"] = row.get("noises") or "none"
    return row


def _columns(rows) -> list[str]:
    seen = {k for r in rows for k in r}
    lead = [c for c in LEAD_COLUMNS if c in seen]
    return lead + sorted(seen.difference(lead))


# -- one recording -----------------------------------------------------------------------------
def _worker_init() -> None:  # pragma: no cover - runs in worker processes
    """One numba/BLAS thread per worker process (the pool provides the parallelism)."""
    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def _render(spec, out_dir: str, sidecar_offset_db: float | None) -> dict:
    """Simulate one spec, write its WAV, sidecar and truth; return its labels.csv row."""
    from ..classify._synthetic import simulate_spec
    from ..io import write_recording

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AcousticWarning)  # the simulator's notes are in the truth
        rec, truth = simulate_spec(spec)
    calibrated = sidecar_offset_db is None
    true_gain = float(rec.gain_db)
    if not calibrated:
        rec.gain_db = true_gain + float(sidecar_offset_db)
    rec.extra = dict(rec.extra, calibrated=calibrated)
    truth = dict(truth, site=spec.site, calibrated=calibrated, gain_db=true_gain,
                 sidecar_gain_db=float(rec.gain_db), sidecar_gain_error_db=float(rec.gain_db) - true_gain)
    out = Path(out_dir)
    name = f"{spec.name}.wav"
    write_recording(rec, out / name, subtype="PCM_16")
    (out / f"{spec.name}.truth.json").write_text(json.dumps(jsonable(truth), indent=2) + "\n", encoding="utf-8")
    return labels_row(name, truth)


# -- the set -----------------------------------------------------------------------------------
def _check(n, per_site, leak_fraction, duration_s, uncalibrated_fraction, jobs, generator) -> None:
    if generator not in GENERATORS:
        raise ParameterError(f"generator must be one of {', '.join(GENERATORS)}, got {generator!r}")
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_RECORDINGS:
        raise ParameterError(f"n must be a whole number of recordings from 1 to {MAX_RECORDINGS}, got {n!r}")
    if not isinstance(per_site, int) or isinstance(per_site, bool) or per_site < 1:
        raise ParameterError(f"per_site must be a whole number >= 1, got {per_site!r}")
    for name, v in (("leak_fraction", leak_fraction), ("uncalibrated_fraction", uncalibrated_fraction)):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and 0.0 <= v <= 1.0):
            raise ParameterError(f"{name} must be a fraction from 0 to 1, got {v!r}")
    if not (isinstance(duration_s, (int, float)) and math.isfinite(duration_s) and 1.0 <= duration_s <= 3600.0):
        raise ParameterError(f"duration_s must be 1-3600 s, got {duration_s!r}")
    if not isinstance(jobs, int) or jobs < 1:
        raise ParameterError(f"jobs must be >= 1, got {jobs!r}")


def _prepare_out(out_dir: Path) -> None:
    if out_dir.exists():
        if not out_dir.is_dir():
            raise ParameterError(f"{out_dir}: exists and is not a folder")
        if any(out_dir.iterdir()):
            raise ParameterError(f"{out_dir}: folder is not empty; give a new or empty folder (nothing was written)")
    out_dir.mkdir(parents=True, exist_ok=True)


def _sidecar_offsets(n: int, seed: int, fraction: float) -> list[float | None]:
    """Per recording: None (calibrated) or the sidecar's gain error in dB.  Drawn from their own
    stream of the seed, in order, so neither ``jobs`` nor ``n`` changes the first recordings'."""
    rng = np.random.default_rng([int(seed), 0x5EED_CA1])
    out = []
    for _ in range(n):
        u, off = rng.random(), rng.uniform(*UNCALIBRATED_OFFSET_DB)
        out.append(float(off) if u < fraction else None)
    return out


def _write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_dataset(out_dir, *, n: int, seed: int | None = None, per_site: int = 6, leak_fraction: float = 0.5,
                  duration_s: float = 10.0, sample_rates_hz=None, sensor_kinds=None, materials=None,
                  min_leak_snr_db: float | None = None, max_leak_snr_db: float | None = None,
                  uncalibrated_fraction: float = 0.0, generator: str = "physics", jobs: int = 1,
                  progress: ProgressCallback | None = None) -> SimulatedDataset:
    """Write a labelled data set of ``n`` simulated recordings into ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        A new or empty folder (a folder with files in it is refused: nothing is overwritten).
    n : int
        Recordings to write (1 - :data:`MAX_RECORDINGS`).
    seed : int, optional
        Seed of every draw; default a fresh one (written into ``dataset.json``).
    per_site : int, default 6
        Recordings per site (the cross-validation groups).
    leak_fraction : float, default 0.5
        Expected fraction of leak recordings.
    duration_s : float, default 10
        Length of each recording in s (1-3600).
    sample_rates_hz, sensor_kinds, materials : sequences, optional
        What sites draw from (default: 4-48 kHz logger rates, both sensor kinds, every material).
    min_leak_snr_db, max_leak_snr_db : float, optional
        Keep leaks whose leak-to-background SNR at the sensor (dB over the leak band) is in this
        range (redrawn until they are).
    uncalibrated_fraction : float, default 0
        Fraction of recordings whose sidecar gain is wrong by :data:`UNCALIBRATED_OFFSET_DB`
        (``"calibrated": false``).
    generator : {"physics"}
        Which generator makes the recordings.
    jobs : int, default 1
        Worker processes.
    progress : callable, optional
        ``progress(stage, done, total)`` (see :mod:`acoustic._progress`): stage
        ``"simulating recordings"`` with total ``n``.

    Returns
    -------
    SimulatedDataset

    Raises
    ------
    ParameterError
        Bad counts, fractions or ranges, an unknown material, or an ``out_dir`` that is a file or
        holds files.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "ds"
    >>> ds = write_dataset(out, n=2, seed=1, duration_s=2.0, sample_rates_hz=[4000.0])
    >>> sorted(p.name for p in out.iterdir())[:3]
    ['dataset.json', 'labels.csv', 'site0000_0.json']
    >>> ds.manifest["n_recordings"], ds.manifest["schema"]
    (2, 'acoustic.simulate.dataset/1')
    """
    from .. import __version__
    from ..classify._synthetic import DEFAULT_SAMPLE_RATES_HZ, MATERIAL_SPECS, synthetic_specs
    from ..io import write_csv_rows

    _check(n, per_site, leak_fraction, duration_s, uncalibrated_fraction, jobs, generator)
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1, dtype=np.uint32)[0] >> 1)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ParameterError(f"seed must be a non-negative whole number, got {seed!r}")
    options = {
        "per_site": per_site, "leak_fraction": float(leak_fraction), "duration_s": float(duration_s),
        "sample_rates_hz": [float(r) for r in (sample_rates_hz or DEFAULT_SAMPLE_RATES_HZ)],
        "sensor_kinds": list(sensor_kinds or ("hydrophone", "accelerometer")),
        "materials": list(materials or MATERIAL_SPECS),
        "min_leak_snr_db": min_leak_snr_db, "max_leak_snr_db": max_leak_snr_db,
        "uncalibrated_fraction": float(uncalibrated_fraction),
    }
    for name, v in (("min_leak_snr_db", min_leak_snr_db), ("max_leak_snr_db", max_leak_snr_db)):
        if v is not None and not (isinstance(v, (int, float)) and math.isfinite(v)):
            raise ParameterError(f"{name} must be a finite number of dB, got {v!r}")
    if min_leak_snr_db is not None and max_leak_snr_db is not None and min_leak_snr_db >= max_leak_snr_db:
        raise ParameterError(f"min_leak_snr_db ({min_leak_snr_db:g} dB) must be below max_leak_snr_db "
                             f"({max_leak_snr_db:g} dB)")
    for r in options["sample_rates_hz"]:
        if not (math.isfinite(r) and 1000.0 <= r <= 96000.0):
            raise ParameterError(f"sample rates must be 1000-96000 Hz, got {r:g}")
    specs = synthetic_specs(math.ceil(n / per_site), seed=seed, per_site=per_site, leak_fraction=leak_fraction,
                            sample_rates_hz=tuple(options["sample_rates_hz"]),
                            sensor_kinds=tuple(options["sensor_kinds"]), materials=tuple(options["materials"]),
                            duration_s=float(duration_s), min_leak_snr_db=min_leak_snr_db,
                            max_leak_snr_db=max_leak_snr_db)[:n]
    offsets = _sidecar_offsets(n, seed, uncalibrated_fraction)
    out = Path(out_dir)
    _prepare_out(out)
    rows = _render_all(specs, offsets, out, jobs, progress)
    write_csv_rows(out / "labels.csv", _columns(rows), rows)
    labels = [r["label"] for r in rows]
    manifest = {
        "schema": DATASET_SCHEMA, "generator": generator, "seed": int(seed), "n_recordings": len(rows),
        "n_sites": len({r["site"] for r in rows}), "options": options,
        "by_label": dict(sorted(Counter(labels).items())),
        "n_uncalibrated": sum(o is not None for o in offsets),
        "package_version": __version__, "labels_file": "labels.csv",
    }
    _write_text_atomic(out / "dataset.json", json.dumps(manifest, indent=2) + "\n")
    return SimulatedDataset(out_dir=out, files=[r["file"] for r in rows], labels=labels,
                            sites=[r["site"] for r in rows], manifest=manifest)


def _render_all(specs, offsets, out: Path, jobs: int, progress) -> list[dict]:
    stage, total = "simulating recordings", len(specs)
    report_progress(progress, stage, 0, total)
    if jobs == 1 or total == 1:
        rows = []
        for i, (spec, off) in enumerate(zip(specs, offsets), 1):
            rows.append(_render(spec, str(out), off))
            report_progress(progress, stage, i, total)
        return rows
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    rows = [None] * total
    with ProcessPoolExecutor(max_workers=min(jobs, total), mp_context=mp.get_context("spawn"),
                             initializer=_worker_init) as pool:
        futures = {pool.submit(_render, spec, str(out), off): i for i, (spec, off) in enumerate(zip(specs, offsets))}
        from concurrent.futures import as_completed

        for done, fut in enumerate(as_completed(futures), 1):
            rows[futures[fut]] = fut.result()
            report_progress(progress, stage, done, total)
    return rows
