"""Feature extraction for labelled datasets and lists of recordings (optionally in worker processes).

The worker reads one recording, extracts the classifier's level-invariant feature vector
(:func:`acoustic.features.shape_features`, the model input and the signature-library vector), the
calibrated 1/3-octave band spectrum (:func:`acoustic.features.extract_features`, for the library)
and the sidecar's ``"calibrated"`` flag, and hashes the file;
warnings raised in a worker are sent back as text and re-issued in the calling process.  Worker
processes use the ``spawn`` start method (numba's OpenMP layer is not fork-safe) and one numba
thread each.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import warnings
from pathlib import Path

import numpy as np

from .._errors import AcousticError, AcousticWarning, DataError, ParameterError
from ._dataset import read_labels

__all__ = ["DatasetFeatures", "RecordingFeatures", "classifier_features", "clipped_fraction", "extract_dataset",
           "extract_paths", "file_sha256", "peak_dbfs", "sample_peak_stats", "sidecar_calibrated"]

#: labels.csv columns copied into the metadata (and the metric breakdowns when present).
META_COLUMNS = ("material", "diameter_mm", "pressure_bar", "sensor_kind", "confounder", "date")
#: Breakdowns reported by training and evaluation, when the dataset has the column.
BREAKDOWN_KEYS = ("confounder", "material", "sensor_kind", "sample_rate_hz")


def file_sha256(path) -> str:
    """SHA-256 (hex) of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclasses.dataclass
class RecordingFeatures:
    """Features of one recording file plus what the library and the model card need."""

    path: Path
    values: np.ndarray
    names: tuple
    units: tuple
    version: str
    band_centres_hz: np.ndarray
    band_levels_db: np.ndarray
    sensor_kind: str
    sample_rate_hz: float
    gain_db: float
    duration_s: float
    start_time: object
    sha256: str
    warnings: list
    clipped_fraction: float = 0.0  # fraction of samples at full scale (see clipped_fraction())
    peak_dbfs: float = 0.0  # largest |sample| in dB re full scale (quantisation matters far below 0)
    calibrated: bool = False  # the sidecar says "calibrated": true (gain_db makes physical units)
    level_p10_db: float = float("nan")  # 10th-percentile 5-900 Hz frame level, dB re 1 calibrated unit
    in_band_fraction: float = 1.0  # share of the energy (5 Hz - 0.45 fs) inside the 5-900 Hz analysis band
    mains_50hz: bool = False
    mains_60hz: bool = False


def peak_dbfs(samples) -> float:
    """Largest absolute sample in dB re digital full scale (-inf for silence)."""
    peak = float(np.max(np.abs(samples))) if np.size(samples) else 0.0
    return 20.0 * np.log10(peak) if peak > 0 else -np.inf


def clipped_fraction(samples) -> float:
    """Fraction of samples at digital full scale (|x| >= 1 - 2**-15), i.e. clipped by the logger."""
    x = np.asarray(samples)
    return float(np.count_nonzero(np.abs(x) >= 1.0 - 2.0 ** -15)) / max(x.size, 1)


def sample_peak_stats(samples) -> tuple[float, float]:
    """``(clipped_fraction(samples), peak_dbfs(samples))`` from two reductions, without temporaries.

    The same values as the two functions (the peak of finite samples is ``max(-min, max)``, and
    nothing is clipped unless the peak reaches full scale); non-finite samples take their path.
    """
    x = np.asarray(samples)
    if x.size == 0:
        return clipped_fraction(x), peak_dbfs(x)
    lo, hi = float(np.min(x)), float(np.max(x))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return clipped_fraction(x), peak_dbfs(x)
    peak = max(-lo, hi)
    clipped = clipped_fraction(x) if peak >= 1.0 - 2.0 ** -15 else 0.0
    return clipped, (20.0 * np.log10(peak) if peak > 0 else -np.inf)


def sidecar_calibrated(rec) -> bool:
    """The sidecar's optional ``"calibrated"`` flag (default False).

    Raises
    ------
    RecordingError
        The key is present but not ``true`` or ``false``.
    """
    from .._errors import RecordingError

    flag = (rec.extra or {}).get("calibrated", False)
    if not isinstance(flag, bool):
        raise RecordingError(f"{rec.name}: sidecar key \"calibrated\" must be true or false, got {flag!r}")
    return flag


def classifier_features(rec, fv, *, path=None, sha256: str = "", caught=()) -> RecordingFeatures:
    """The classifier's :class:`RecordingFeatures` of a read recording.

    Parameters
    ----------
    rec : Recording
    fv : FeatureVector
        Its :func:`acoustic.features.extract_features` result (only the 1/3-octave bands are used).
    path : Path, optional
        Default ``rec.source``.
    sha256 : str
        Hash of the file.
    caught : sequence of warnings.WarningMessage
        Warnings to keep as text.
    """
    from ..features import shape_features

    sf = shape_features(rec.samples, rec.sample_rate, rec.gain_db, name=rec.name)
    clipped, peak = sample_peak_stats(rec.samples)
    return RecordingFeatures(
        path=Path(path if path is not None else (rec.source or rec.name)), values=sf.values, names=tuple(sf.names),
        units=tuple(sf.units), version=str(sf.version),
        band_centres_hz=np.asarray(fv.band_centres_hz, dtype=np.float64),
        band_levels_db=np.asarray(fv.band_levels_db, dtype=np.float64), sensor_kind=rec.sensor_kind,
        sample_rate_hz=float(rec.sample_rate), gain_db=float(rec.gain_db), duration_s=float(rec.duration_s),
        start_time=rec.start_time, sha256=sha256,
        warnings=[str(w.message) for w in caught if issubclass(w.category, AcousticWarning)],
        clipped_fraction=clipped, peak_dbfs=peak, calibrated=sidecar_calibrated(rec),
        level_p10_db=float(sf.level_p10_db), in_band_fraction=float(sf.in_band_fraction),
        mains_50hz=bool(sf.mains_50hz), mains_60hz=bool(sf.mains_60hz))


def _features_of(path: str) -> RecordingFeatures:
    """Worker body: read, extract, hash (warnings collected as text)."""
    from ..features import extract_features
    from ..io import read_recording

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AcousticWarning)
        rec = read_recording(path)
        fv = extract_features(rec)
    return classifier_features(rec, fv, path=Path(path), sha256=file_sha256(path), caught=caught)


def _worker_init():
    try:
        import numba

        numba.set_num_threads(1)
    except Exception:  # pragma: no cover - numba missing or already initialised
        pass


def extract_paths(paths, *, jobs: int = 1, progress=None) -> list[RecordingFeatures]:
    """Extract features of many recording files, in order.

    Parameters
    ----------
    paths : sequence of str or Path
    jobs : int, default 1
        Worker processes (``spawn``); 1 runs in this process.  Worth it from a few hundred files.
    progress : callable, optional
        Called with the number of files done after each file.

    Raises
    ------
    RecordingError, ParameterError
        The first unreadable or unusable recording (named in the message).
    """
    paths = [str(p) for p in paths]
    if isinstance(jobs, bool) or int(jobs) != jobs or jobs < 1:
        raise ParameterError(f"jobs must be a whole number >= 1, got {jobs!r}")
    jobs = int(min(jobs, max(1, len(paths)), os.cpu_count() or 1))
    out: list[RecordingFeatures] = []
    if jobs == 1:
        for i, p in enumerate(paths, 1):
            out.append(_features_of(p))
            if progress:
                progress(i)
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn"),
                                 initializer=_worker_init) as pool:
            for i, r in enumerate(pool.map(_features_of, paths, chunksize=4), 1):
                out.append(r)
                if progress:
                    progress(i)
    for r in out:
        for msg in r.warnings:
            warnings.warn(msg, AcousticWarning, stacklevel=2)
    if out:
        first = out[0]
        for r in out[1:]:
            if r.names != first.names or r.version != first.version:
                raise DataError(f"{r.path}: feature names/version differ from {first.path}'s "
                                "(the extractor must give the same vector for every sample rate)")
    return out


@dataclasses.dataclass
class DatasetFeatures:
    """A labelled dataset turned into a feature matrix with its labels, sites and metadata.

    Attributes
    ----------
    X : numpy.ndarray, shape (n, n_features)
    feature_names, feature_units : list of str
    features_version : str
    band_centres_hz : numpy.ndarray, shape (n_bands,)
    band_levels_db : numpy.ndarray, shape (n, n_bands)
    labels, sites : list of str
    files : list of Path
    meta : dict of str -> list
        Per-recording ``material``, ``diameter_mm``, ``pressure_bar``, ``sensor_kind``, ``confounder``,
        ``date``, ``sample_rate_hz``, ``gain_db``, ``duration_s``, ``start_time``, ``source_sha256``.
    columns : set of str
        The optional labels.csv columns the dataset actually has.
    """

    X: np.ndarray
    feature_names: list
    feature_units: list
    features_version: str
    band_centres_hz: np.ndarray
    band_levels_db: np.ndarray
    labels: list
    sites: list
    files: list
    meta: dict
    columns: set
    root: Path

    def __len__(self) -> int:
        return len(self.labels)

    def recording(self, i: int) -> RecordingFeatures:
        """Row ``i`` as a :class:`RecordingFeatures`."""
        m = self.meta
        return RecordingFeatures(
            path=self.files[i], values=self.X[i], names=tuple(self.feature_names), units=tuple(self.feature_units),
            version=self.features_version, band_centres_hz=self.band_centres_hz,
            band_levels_db=self.band_levels_db[i], sensor_kind=m["sensor_kind"][i],
            sample_rate_hz=m["sample_rate_hz"][i], gain_db=m["gain_db"][i], duration_s=m["duration_s"][i],
            start_time=m["start_time"][i], sha256=m["source_sha256"][i], warnings=[],
            clipped_fraction=float(m.get("clipped_fraction", [0.0] * len(self))[i]),
            peak_dbfs=float(m.get("peak_dbfs", [0.0] * len(self))[i]),
            calibrated=bool(m.get("calibrated", [False] * len(self))[i]),
            level_p10_db=float(m.get("level_p10_db", [float("nan")] * len(self))[i]),
            in_band_fraction=float(m.get("in_band_fraction", [1.0] * len(self))[i]),
            mains_50hz=bool(m.get("mains_50hz", [False] * len(self))[i]),
            mains_60hz=bool(m.get("mains_60hz", [False] * len(self))[i]))

    def groups(self) -> dict:
        """Breakdowns for the metrics: confounder (noise kind for non-leaks), material, sensor kind, rate."""
        out = {}
        if "confounder" in self.columns:
            out["confounder"] = [c or ("none" if lab == "leak" else lab)
                                 for c, lab in zip(self.meta["confounder"], self.labels)]
        if "material" in self.columns:
            out["material"] = [m or "unknown" for m in self.meta["material"]]
        out["sensor_kind"] = list(self.meta["sensor_kind"])
        out["sample_rate_hz"] = [f"{r:g}" for r in self.meta["sample_rate_hz"]]
        out["calibrated"] = ["yes" if c else "no" for c in self.meta.get("calibrated", [False] * len(self))]
        dist = self.meta.get("distance_m") or []
        if any(d is not None for d in dist):
            out["leak_distance_m"] = [distance_band(d) if lab == "leak" else "no_leak"
                                      for d, lab in zip(dist, self.labels)]
        return out

    def summary(self) -> dict:
        """Facts for a model card: counts by label and breakdown, sample-rate and gain ranges."""
        rates = np.asarray(self.meta["sample_rate_hz"], dtype=float)
        gains = np.asarray(self.meta["gain_db"], dtype=float)
        summary = {
            "dataset": self.root.name,
            "sample_rate_hz_range": [float(rates.min()), float(rates.max())],
            "sample_rates_hz": sorted({float(r) for r in rates}),
            "gain_db_range": [float(gains.min()), float(gains.max())],
        }
        lv = np.asarray(self.meta.get("level_p10_db", []), dtype=float)
        cal = np.asarray(self.meta.get("calibrated", []), dtype=bool)
        kinds = np.asarray(self.meta["sensor_kind"])
        if lv.size and cal.any():
            summary["level_p10_db_range"] = {str(k): [float(lv[cal & (kinds == k)].min()), float(lv[cal & (kinds == k)].max())]
                                             for k in sorted(set(kinds[cal].tolist()))}
        for key, values in self.groups().items():
            vals, cnt = np.unique(np.asarray(values, dtype=str), return_counts=True)
            summary[f"by_{key}"] = {str(v): int(c) for v, c in zip(vals, cnt)}
        return summary

    def library_metadata(self, provenance: str) -> dict:
        """Metadata columns for :func:`acoustic.library.add_signatures`."""
        return {
            "label": self.labels, "site": self.sites, "material": self.meta["material"],
            "diameter_mm": self.meta["diameter_mm"], "pressure_bar": self.meta["pressure_bar"],
            "sensor_kind": self.meta["sensor_kind"],
            "start_time_ns": [t if t is not None else (d or None)
                              for t, d in zip(self.meta["start_time"], self.meta["date"])],
            "sample_rate_hz": self.meta["sample_rate_hz"], "gain_db": self.meta["gain_db"],
            "duration_s": self.meta["duration_s"], "source_file": [_relative(f, self.root) for f in self.files],
            "source_sha256": self.meta["source_sha256"], "provenance": [provenance] * len(self),
        }


#: Leak-distance bands (m) of the evaluation breakdown.
DISTANCE_BANDS_M = (3.0, 10.0, 30.0, 100.0)


def distance_band(d) -> str:
    """The ``leak_distance_m`` breakdown value of a distance (m; None: unknown)."""
    if d is None:
        return "unknown"
    lo = 0.0
    for hi in DISTANCE_BANDS_M:
        if d <= hi:
            return f"{lo:g}-{hi:g}"
        lo = hi
    return f">{lo:g}"


def _relative(path: Path, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return Path(path).name


def extract_dataset(dataset_dir, *, jobs: int = 1, allow_missing: bool = False, progress=None) -> DatasetFeatures:
    """Read ``labels.csv`` of a dataset folder and extract every recording's features.

    Parameters
    ----------
    dataset_dir : str or Path
        Folder with ``labels.csv`` (``file,label`` plus optional ``site,material,diameter_mm,
        pressure_bar,sensor_kind,confounder,date``) and the recordings.
    jobs : int, default 1
        Worker processes for the extraction.
    allow_missing : bool, default False
        Skip listed recordings that are missing (with a warning) instead of refusing.
    progress : callable, optional
        Called with the number of recordings done.

    Raises
    ------
    DataError
        Bad ``labels.csv`` (see :func:`read_labels`), numbers that are not numbers.
    RecordingError
        A listed recording cannot be read (the message names it).
    """
    rows = read_labels(dataset_dir, allow_missing=allow_missing)
    root = Path(dataset_dir)
    try:
        feats = extract_paths([r.path for r in rows], jobs=jobs, progress=progress)
    except AcousticError as exc:
        raise type(exc)(f"{root / 'labels.csv'}: {exc}") from None
    columns = set()
    meta = {k: [] for k in ("material", "diameter_mm", "pressure_bar", "sensor_kind", "confounder", "date",
                            "sample_rate_hz", "gain_db", "duration_s", "start_time", "source_sha256",
                            "clipped_fraction", "peak_dbfs", "calibrated", "level_p10_db", "in_band_fraction",
                            "mains_50hz", "mains_60hz", "distance_m")}
    for r, f in zip(rows, feats):
        columns |= {c for c in META_COLUMNS if c in r.extra}
        meta["material"].append(r.extra.get("material", "").lower())
        for col in ("diameter_mm", "pressure_bar"):
            v = r.extra.get(col)
            try:
                meta[col].append(float(v) if v not in (None, "") else None)
            except ValueError:
                raise DataError(f"{root / 'labels.csv'}: {r.path.name}: {col} {v!r} is not a number") from None
        kind = r.extra.get("sensor_kind") or f.sensor_kind
        if kind != f.sensor_kind:
            warnings.warn(f"{r.path.name}: labels.csv says sensor_kind {kind}, the sidecar {f.sensor_kind}; "
                          "using labels.csv", AcousticWarning, stacklevel=2)
        meta["sensor_kind"].append(kind)
        meta["confounder"].append(r.extra.get("confounder", "").lower())
        meta["date"].append(r.extra.get("date", ""))
        meta["sample_rate_hz"].append(f.sample_rate_hz)
        meta["gain_db"].append(f.gain_db)
        meta["duration_s"].append(f.duration_s)
        meta["start_time"].append(f.start_time)
        meta["source_sha256"].append(f.sha256)
        meta["clipped_fraction"].append(f.clipped_fraction)
        meta["peak_dbfs"].append(f.peak_dbfs)
        for key in ("calibrated", "level_p10_db", "in_band_fraction", "mains_50hz", "mains_60hz"):
            meta[key].append(getattr(f, key))
        meta["distance_m"].append(r.distance_m)
    first = feats[0]
    return DatasetFeatures(
        X=np.vstack([f.values for f in feats]), feature_names=list(first.names), feature_units=list(first.units),
        features_version=first.version, band_centres_hz=first.band_centres_hz,
        band_levels_db=np.vstack([f.band_levels_db for f in feats]), labels=[r.label for r in rows],
        sites=[r.site for r in rows], files=[r.path for r in rows], meta=meta, columns=columns, root=root)
