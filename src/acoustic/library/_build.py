"""Library contents from recordings: build from a labelled dataset, add recordings, export."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np

from .._errors import ParameterError
from ._store import METADATA_COLUMNS, SignatureLibrary, add_signatures

__all__ = ["build_library", "add_recordings", "export_library", "signatures_from_dataset"]


def signatures_from_dataset(data, provenance: str) -> dict:
    """Keyword arguments for :func:`add_signatures` from a :class:`~acoustic.classify.DatasetFeatures`."""
    return dict(features=data.X, band_levels_db=data.band_levels_db, metadata=data.library_metadata(provenance),
                feature_names=data.feature_names, feature_units=data.feature_units,
                features_version=data.features_version, band_centres_hz=data.band_centres_hz)


def build_library(dataset_dir, out, *, overwrite: bool = False, jobs: int = 1, wait_s: float = 0.0,
                  progress=None) -> dict:
    """Build a signature library from a labelled dataset folder (``labels.csv``).

    Parameters
    ----------
    dataset_dir : str or Path
        Folder with ``labels.csv`` and recordings (see :func:`acoustic.classify.extract_dataset`).
    out : str or Path
        Library file to create (``.h5``).
    overwrite : bool, default False
        Replace an existing library; otherwise the dataset's signatures are appended to it.
    jobs : int, default 1
        Worker processes for feature extraction.
    wait_s : float, default 0
        How long to wait for another writer (s).
    progress : callable, optional
        ``progress(stage, done, total)`` (:mod:`acoustic._progress`): stages ``extracting features``
        (recordings) and ``writing`` (1).

    Returns
    -------
    dict
        ``added``, ``skipped`` (signature ids), ``n_signatures``.
    """
    from .._progress import report_progress
    from ..classify._dataset import read_labels
    from ..classify._extract import extract_dataset

    step = None
    if progress is not None:
        total = len(read_labels(dataset_dir))  # (labels.csv is read again by extract_dataset: small)
        report_progress(progress, "extracting features", 0, total)

        def step(done: int) -> None:
            report_progress(progress, "extracting features", done, total)

    data = extract_dataset(dataset_dir, jobs=jobs, progress=step)
    prov = f"acoustic library build {Path(dataset_dir).resolve().name} (labels.csv)"
    report_progress(progress, "writing", 0, 1)
    out = add_signatures(out, create=True, overwrite=overwrite, wait_s=wait_s, **signatures_from_dataset(data, prov))
    report_progress(progress, "writing", 1, 1)
    return out


def add_recordings(library_path, paths, *, label: str, site: str = "", material: str = "",
                   diameter_mm: float | None = None, pressure_bar: float | None = None, provenance: str = "",
                   create: bool = False, jobs: int = 1, wait_s: float = 0.0) -> dict:
    """Add recordings with one label and shared metadata to a library.

    Parameters
    ----------
    library_path : str or Path
    paths : sequence of str or Path
        WAV/FLAC recordings (with sidecars: sensor kind, gain and start time come from them).
    label : str
        ``leak`` or the kind of noise (see :data:`acoustic.classify.LABELS`).
    site, material : str
    diameter_mm : float, optional
        Internal pipe diameter (mm).
    pressure_bar : float, optional
        Water pressure (bar).
    provenance : str
        Free text; defaults to ``acoustic library add``.
    create : bool, default False
        Create the library when it does not exist.

    Returns
    -------
    dict
        ``added``, ``skipped`` (ids already present), ``n_signatures``.
    """
    from ..classify._dataset import LABELS
    from ..classify._extract import extract_paths

    if label not in LABELS:
        raise ParameterError(f"label must be one of {', '.join(LABELS)}; got {label!r}")
    for name, v in (("diameter_mm", diameter_mm), ("pressure_bar", pressure_bar)):
        if v is not None and not (math.isfinite(v) and v > 0):
            raise ParameterError(f"{name} must be a positive number, got {v}")
    paths = [Path(p) for p in paths]
    if not paths:
        raise ParameterError("no recordings given")
    feats = extract_paths(paths, jobs=jobs)
    n = len(feats)
    meta = {
        "label": [label] * n, "site": [site] * n, "material": [material.lower()] * n,
        "diameter_mm": [diameter_mm] * n, "pressure_bar": [pressure_bar] * n,
        "sensor_kind": [f.sensor_kind for f in feats], "start_time_ns": [f.start_time for f in feats],
        "sample_rate_hz": [f.sample_rate_hz for f in feats], "gain_db": [f.gain_db for f in feats],
        "duration_s": [f.duration_s for f in feats], "source_file": [f.path.name for f in feats],
        "source_sha256": [f.sha256 for f in feats], "provenance": [provenance or "acoustic library add"] * n,
    }
    first = feats[0]
    return add_signatures(library_path, np.vstack([f.values for f in feats]),
                          np.vstack([f.band_levels_db for f in feats]), meta, feature_names=first.names,
                          feature_units=first.units, features_version=first.version,
                          band_centres_hz=first.band_centres_hz, create=create, wait_s=wait_s)


def export_library(library: SignatureLibrary, out=None, *, fmt: str = "csv", include_features: bool = True,
                   include_bands: bool = False):
    """Write a library's signatures as CSV (one row each) or JSON (header + list of rows).

    Parameters
    ----------
    library : SignatureLibrary
    out : str, Path or text file, optional
        Destination; ``None`` returns the text.
    fmt : {"csv", "json"}
    include_features, include_bands : bool
        Add the feature columns / the band levels (``band_<centre>_hz_db``).
    """
    import io

    if fmt not in ("csv", "json"):
        raise ParameterError(f"export format must be csv or json, got {fmt!r}")
    rows = library.rows(include_features=include_features, include_bands=include_bands)
    buf = io.StringIO()
    if fmt == "csv":
        header = [c.replace("_ns", "_utc") if METADATA_COLUMNS[c][0] == "time" else c for c in METADATA_COLUMNS]
        if include_features:
            header += library.feature_names
        if include_bands:
            header += [f"band_{c:g}_hz_db" for c in library.band_centres_hz]
        w = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if v is None else (repr(v) if isinstance(v, float) else v)) for k, v in r.items()})
    else:
        doc = {
            "file_format": "acoustic-signature-library-export",
            "library": library.summary(),
            "feature_names": library.feature_names if include_features else [],
            "feature_units": library.feature_units if include_features else [],
            "band_centres_hz": library.band_centres_hz.tolist() if include_bands else [],
            "columns": {c: {"units": METADATA_COLUMNS[c][1], "description": METADATA_COLUMNS[c][2]}
                        for c in METADATA_COLUMNS},
            "signatures": list(rows),
        }
        json.dump(doc, buf, indent=1)
        buf.write("\n")
    text = buf.getvalue()
    if out is None:
        return text
    if hasattr(out, "write"):
        out.write(text)
        return None
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    return out
