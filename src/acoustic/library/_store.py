"""The signature library file: HDF5 layout, safe reading, one-writer atomic appends.

Layout (format ``acoustic-signature-library``, version :data:`LIBRARY_FORMAT_VERSION`)::

    /                      attrs: file_format, file_format_version, features_version, package_version,
                                  created_utc_ns, modified_utc_ns (int64 ns since 1970-01-01 UTC),
                                  n_signatures, content_sha256
    /features/values       float64 (n, n_features), chunked, resizable, gzip + shuffle
                           attrs: names (str array), units (str array)
    /spectra/band_levels_db float64 (n, n_bands), chunked, resizable, gzip + shuffle, NaN above Nyquist
                           attrs: band_centres_hz (float64 array), units = "dB"
    /metadata/<column>     one (n,) dataset per column of :data:`METADATA_COLUMNS`, each with attrs
                           ``units`` and ``description``; strings are UTF-8, unknown numbers are NaN,
                           unknown times are INT64_MIN.

Safety: reading uses h5py data only (no pickled objects, nothing executed).  The root attribute
``content_sha256`` is the SHA-256 of the features, spectra, names and metadata; a file whose content
does not match it (changed by something other than this module, or damaged) is refused.

Concurrency: a writer takes an exclusive ``flock`` on ``<library>.lock`` (a second writer waits up to
``wait_s`` and then gets :class:`LibraryBusyError`).  It copies the library to a temporary file in the
same folder, appends there, fsyncs it and ``os.replace``s it over the library.  Readers therefore see
either the old or the new complete file, never a half-written one, and never block a writer (a reader
that opened the old file keeps reading the old inode).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from .._errors import ModelError, ParameterError

__all__ = [
    "LIBRARY_FORMAT", "LIBRARY_FORMAT_VERSION", "METADATA_COLUMNS", "LibraryBusyError",
    "SignatureLibrary", "add_signatures", "signature_id_for",
]

LIBRARY_FORMAT = "acoustic-signature-library"
LIBRARY_FORMAT_VERSION = 1
#: Marks an unknown time in int64 nanosecond columns.
NO_TIME = np.iinfo(np.int64).min
_CHUNK_ROWS = 1024

#: column -> (kind, units, description).  kind: "str", "float" (NaN = unknown) or "time" (int64 ns, UTC).
METADATA_COLUMNS: dict[str, tuple[str, str, str]] = {
    "signature_id": ("str", "", "unique id (16 hex digits of a SHA-256 of source hash and features)"),
    "label": ("str", "", "leak, or the kind of non-leak noise (pump, prv, traffic, consumption, hum, quiet, ...)"),
    "material": ("str", "", "pipe material (interfaces.md names), empty when unknown"),
    "diameter_mm": ("float", "mm", "internal pipe diameter"),
    "pressure_bar": ("float", "bar", "water pressure when known"),
    "sensor_kind": ("str", "", "hydrophone or accelerometer"),
    "site": ("str", "", "site where it was recorded"),
    "start_time_ns": ("time", "ns since 1970-01-01 UTC", "start of the recording"),
    "sample_rate_hz": ("float", "Hz", "sample rate of the recording"),
    "gain_db": ("float", "dB", "recording gain (levels are calibrated with it)"),
    "duration_s": ("float", "s", "duration of the recording"),
    "source_file": ("str", "", "file name of the recording"),
    "source_sha256": ("str", "", "SHA-256 of the recording file (hex), empty when not from a file"),
    "provenance": ("str", "", "where the signature came from (dataset, command, simulator seed, ...)"),
    "added_time_ns": ("time", "ns since 1970-01-01 UTC", "when the signature was added"),
}
_REQUIRED_META = ("label",)


class LibraryBusyError(ModelError):
    """Another process holds the library's writer lock."""


def _now_ns() -> int:
    return time.time_ns()


def signature_id_for(source_sha256: str, features) -> str:
    """Deterministic signature id: 16 hex digits of SHA-256(source hash, feature bytes)."""
    h = hashlib.sha256(str(source_sha256).encode())
    h.update(np.ascontiguousarray(features, dtype="<f8").tobytes())
    return h.hexdigest()[:16]


# -- column coercion ------------------------------------------------------------------------------


def _coerce_column(name: str, values, n: int) -> np.ndarray:
    kind = METADATA_COLUMNS[name][0]
    if values is None:
        values = [None] * n
    values = list(values)
    if len(values) != n:
        raise ParameterError(f"metadata column {name!r} has {len(values)} values for {n} signatures")
    if kind == "str":
        return np.array(["" if v is None else str(v) for v in values], dtype=object)
    if kind == "float":
        out = np.empty(n, dtype=np.float64)
        for i, v in enumerate(values):
            if v is None or (isinstance(v, str) and v.strip() == ""):
                out[i] = np.nan
                continue
            try:
                out[i] = float(v)
            except (TypeError, ValueError):
                raise ParameterError(f"metadata column {name!r}: {v!r} is not a number") from None
        return out
    out = np.empty(n, dtype=np.int64)
    for i, v in enumerate(values):
        if v is None or (isinstance(v, str) and v.strip() == ""):
            out[i] = NO_TIME
        elif isinstance(v, _dt.datetime):
            if v.tzinfo is None:
                raise ParameterError(f"metadata column {name!r}: time {v} has no time zone (UTC expected)")
            d = v - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
            out[i] = (d.days * 86400 + d.seconds) * 1_000_000_000 + d.microseconds * 1000
        elif isinstance(v, _dt.date):
            out[i] = (v - _dt.date(1970, 1, 1)).days * 86400 * 1_000_000_000
        elif isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            out[i] = int(v)
        elif isinstance(v, str):
            from ..recording import parse_time

            try:
                t = parse_time(v) if "T" in v else _dt.datetime.fromisoformat(v).replace(tzinfo=_dt.timezone.utc)
            except ValueError:
                raise ParameterError(f"metadata column {name!r}: {v!r} is not an ISO-8601 date or time") from None
            out[i] = _coerce_column(name, [t], 1)[0]
        else:
            raise ParameterError(f"metadata column {name!r}: {v!r} is not a time")
    return out


def ns_to_iso(ns: int) -> str | None:
    """int64 ns since the epoch -> ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (None when unknown)."""
    if int(ns) == NO_TIME:
        return None
    t = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc) + _dt.timedelta(microseconds=int(ns) // 1000)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- digest ---------------------------------------------------------------------------------------


def _content_digest(features, spectra, meta: dict, names, units, version: str, centres) -> str:
    h = hashlib.sha256()
    h.update(f"{LIBRARY_FORMAT}/{LIBRARY_FORMAT_VERSION}/{version}\x1e".encode())
    h.update("\x1f".join(names).encode() + b"\x1e" + "\x1f".join(units).encode() + b"\x1e")
    h.update(np.ascontiguousarray(centres, dtype="<f8").tobytes())
    h.update(np.ascontiguousarray(features, dtype="<f8").tobytes())
    h.update(np.ascontiguousarray(spectra, dtype="<f8").tobytes())
    for col in METADATA_COLUMNS:
        v = meta[col]
        h.update(col.encode() + b"\x1e")
        if METADATA_COLUMNS[col][0] == "str":
            h.update("\x1f".join(v.tolist()).encode("utf-8", "surrogatepass"))
        elif METADATA_COLUMNS[col][0] == "float":
            h.update(np.ascontiguousarray(v, dtype="<f8").tobytes())
        else:
            h.update(np.ascontiguousarray(v, dtype="<i8").tobytes())
    return h.hexdigest()


# -- reading --------------------------------------------------------------------------------------


def _h5py():
    import h5py

    return h5py


def _refuse(path, what: str):
    raise ModelError(f"{path}: {what}")


class SignatureLibrary:
    """A signature library loaded into memory (read-only).

    Open with :meth:`open`.  The feature matrix is loaded once; :meth:`match` answers a query
    with one vectorised pass over it.

    Attributes
    ----------
    path : Path
        The HDF5 file.
    features_version : str
        Version of the feature extractor the vectors come from.
    feature_names, feature_units : list of str
        Names and units of the feature columns.
    band_centres_hz : numpy.ndarray, shape (n_bands,)
        Centre frequencies (Hz) of the 1/3-octave band spectrum.
    features : numpy.ndarray, shape (n, n_features)
        Feature vectors (float64, NaN where undefined).
    band_levels_db : numpy.ndarray, shape (n, n_bands)
        Calibrated band levels (dB), NaN above the recording's Nyquist frequency.
    metadata : dict of str -> numpy.ndarray, each shape (n,)
        The columns of :data:`METADATA_COLUMNS`.
    """

    def __init__(self, *, path, features_version, feature_names, feature_units, band_centres_hz, features,
                 band_levels_db, metadata, attrs=None):
        self.path = Path(path) if path is not None else None
        self.features_version = str(features_version)
        self.feature_names = list(feature_names)
        self.feature_units = list(feature_units)
        self.band_centres_hz = np.asarray(band_centres_hz, dtype=np.float64)
        self.features = np.asarray(features, dtype=np.float64)
        self.band_levels_db = np.asarray(band_levels_db, dtype=np.float64)
        self.metadata = metadata
        self.attrs = dict(attrs or {})
        self._matcher = None

    def __len__(self) -> int:
        return int(self.features.shape[0])

    def __repr__(self) -> str:
        return (f"SignatureLibrary({str(self.path)!r}, n={len(self)}, features_version={self.features_version!r}, "
                f"n_features={len(self.feature_names)})")

    @classmethod
    def open(cls, path, *, verify: bool = True) -> "SignatureLibrary":
        """Load a library file.

        Parameters
        ----------
        path : str or Path
            The HDF5 library.
        verify : bool, default True
            Check the content against the stored SHA-256 (refuses changed or damaged files).

        Raises
        ------
        ModelError
            Missing, truncated, corrupt, foreign (not an acoustic signature library), unsupported
            version, inconsistent or tampered file.
        """
        h5py = _h5py()
        path = Path(path)
        if not path.exists():
            _refuse(path, "signature library not found")
        if path.is_dir():
            _refuse(path, "is a directory, expected a signature library file (.h5)")
        try:
            fh = h5py.File(path, "r")
        except OSError as exc:
            _refuse(path, f"not a readable HDF5 signature library; truncated or corrupt? ({_short(exc)})")
        try:
            with fh:
                return cls._read(fh, path, verify)
        except ModelError:
            raise
        except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
            _refuse(path, f"signature library is damaged ({type(exc).__name__}: {_short(exc)})")

    @classmethod
    def _read(cls, fh, path, verify):
        fmt = _attr_str(fh.attrs.get("file_format"))
        if fmt != LIBRARY_FORMAT:
            _refuse(path, f"not an acoustic signature library (file_format {fmt!r}, expected {LIBRARY_FORMAT!r})")
        version = _attr_plain(fh.attrs.get("file_format_version"))
        if not isinstance(version, int) or version != LIBRARY_FORMAT_VERSION:
            _refuse(path, f"signature library format version {version!r} is not supported "
                          f"(this acoustic reads version {LIBRARY_FORMAT_VERSION})")
        for group in ("features", "spectra", "metadata"):
            if group not in fh or not isinstance(fh[group], _h5py().Group):
                _refuse(path, f"signature library is damaged: group /{group} is missing")
        if "values" not in fh["features"] or "band_levels_db" not in fh["spectra"]:
            _refuse(path, "signature library is damaged: /features/values or /spectra/band_levels_db is missing")
        fv = fh["features/values"]
        names = [_attr_str(x) for x in fv.attrs.get("names", [])]
        units = [_attr_str(x) for x in fv.attrs.get("units", [])]
        features = fv[()]
        sp = fh["spectra/band_levels_db"]
        centres = np.asarray(sp.attrs.get("band_centres_hz", []), dtype=np.float64)
        spectra = sp[()]
        n = features.shape[0] if features.ndim == 2 else -1
        if features.ndim != 2 or features.shape[1] != len(names) or len(units) != len(names):
            _refuse(path, f"signature library is damaged: feature matrix {features.shape} does not match "
                          f"{len(names)} feature names")
        if spectra.ndim != 2 or spectra.shape != (n, centres.size):
            _refuse(path, f"signature library is damaged: band spectra {spectra.shape} do not match "
                          f"{n} signatures x {centres.size} bands")
        meta = {}
        for col, (kind, _, _) in METADATA_COLUMNS.items():
            if col not in fh["metadata"]:
                _refuse(path, f"signature library is damaged: metadata column {col!r} is missing")
            ds = fh["metadata"][col]
            if ds.shape != (n,):
                _refuse(path, f"signature library is damaged: metadata column {col!r} has shape {ds.shape}, "
                              f"expected ({n},)")
            if kind == "str":
                if ds.dtype.kind not in "OS":
                    _refuse(path, f"signature library is damaged: metadata column {col!r} is not text")
                meta[col] = np.asarray(ds.asstr()[()], dtype=object) if n else np.array([], dtype=object)
            else:
                arr = ds[()]
                want = np.float64 if kind == "float" else np.int64
                if arr.dtype != want:
                    _refuse(path, f"signature library is damaged: metadata column {col!r} is {arr.dtype}, "
                                  f"expected {np.dtype(want)}")
                meta[col] = arr
        fversion = _attr_str(fh.attrs.get("features_version"))
        stored_n = fh.attrs.get("n_signatures")
        if stored_n is None or int(stored_n) != n:
            _refuse(path, f"signature library is damaged: header says {stored_n} signatures, file holds {n}")
        attrs = {k: _attr_plain(v) for k, v in fh.attrs.items()}
        if verify:
            digest = _content_digest(features, spectra, meta, names, units, fversion, centres)
            if digest != _attr_str(fh.attrs.get("content_sha256")):
                _refuse(path, "signature library content does not match its checksum; "
                              "the file was changed outside acoustic or is damaged")
        ids = meta["signature_id"]
        if n and len(set(ids.tolist())) != n:
            _refuse(path, "signature library is damaged: duplicate signature ids")
        return cls(path=path, features_version=fversion, feature_names=names, feature_units=units,
                   band_centres_hz=centres, features=features, band_levels_db=spectra, metadata=meta, attrs=attrs)

    # -- queries ---------------------------------------------------------------------------------
    def check_features(self, names, version) -> None:
        """Refuse feature vectors of another version or with other names than the library's."""
        if str(version) != self.features_version:
            raise ModelError(f"{self.path}: library holds features version {self.features_version}, "
                             f"the recordings have version {version}; rebuild the library with this acoustic")
        if list(names) != self.feature_names:
            raise ModelError(f"{self.path}: library feature names differ from the extractor's "
                             f"({len(self.feature_names)} vs {len(list(names))} features); rebuild the library")

    def match(self, X, *, k: int = 5, names=None, version=None, sensor_kinds=None) -> list[list[dict]]:
        """Nearest signatures of each query feature vector.

        Parameters
        ----------
        X : array_like, shape (n_features,) or (m, n_features)
            Query feature vectors (NaN features are left out of that query's distance).
        k : int, default 5
            Number of neighbours per query (fewer when the library is smaller).
        names, version : optional
            Feature names and version of ``X``; checked against the library's when given.
        sensor_kinds : str or sequence of str, optional
            Sensor kind of each query.  A query is compared only with signatures of its own sensor
            kind (calibrated levels of hydrophones, dB re 1 Pa, and of accelerometers,
            dB re 1 m/s^2, are not comparable), standardised with that subset's statistics; with
            the whole library when the kind is not given or the library has none of it.

        Returns
        -------
        list of list of dict
            Per query, the ``k`` nearest signatures, most similar first: ``signature_id``, ``label``,
            ``similarity`` (0..1, see :mod:`acoustic.library._match`), ``distance`` (RMS difference
            of the standardised features), ``material``, ``sensor_kind``, ``site``.
        """
        if names is not None or version is not None:
            self.check_features(names if names is not None else self.feature_names,
                                version if version is not None else self.features_version)
        Q = np.atleast_2d(np.asarray(X, dtype=np.float64))
        m = Q.shape[0]
        if sensor_kinds is None or isinstance(sensor_kinds, str):
            kinds = [sensor_kinds] * m
        else:
            kinds = list(sensor_kinds)
            if len(kinds) != m:
                raise ParameterError(f"{len(kinds)} sensor kinds for {m} queries")
        present = set(self.metadata["sensor_kind"].tolist())
        kinds = [kd if kd in present else None for kd in kinds]
        out: list = [None] * m
        meta = self.metadata
        for kind in dict.fromkeys(kinds):
            rows = [i for i, kd in enumerate(kinds) if kd == kind]
            matcher, idx = self._matcher_for(kind)
            found, sim, dist = matcher.query(Q[rows], k=k)
            for r, row_i, row_s, row_d in zip(rows, found, sim, dist):
                out[r] = [
                    {"signature_id": meta["signature_id"][idx[i]], "label": meta["label"][idx[i]],
                     "similarity": float(s_), "distance": float(d_), "material": meta["material"][idx[i]],
                     "sensor_kind": meta["sensor_kind"][idx[i]], "site": meta["site"][idx[i]]}
                    for i, s_, d_ in zip(row_i, row_s, row_d)
                ]
        return out

    def _matcher_for(self, kind):
        """(Matcher, library row indices) for one sensor kind (None: every signature), built once."""
        from ._match import Matcher

        if self._matcher is None:
            self._matcher = {}
        if kind not in self._matcher:
            idx = (np.arange(len(self)) if kind is None
                   else np.flatnonzero(self.metadata["sensor_kind"] == kind))
            self._matcher[kind] = (Matcher(self.features[idx]), idx)
        return self._matcher[kind]

    def summary(self) -> dict:
        """Counts by label, material and sensor kind; sites; features version; sample-rate range (Hz)."""
        m = self.metadata

        def counts(col):
            vals, cnt = np.unique(np.asarray([v or "unknown" for v in m[col]], dtype=object).astype(str),
                                  return_counts=True) if len(self) else ([], [])
            return {str(v): int(c) for v, c in zip(vals, cnt)}

        rates = m["sample_rate_hz"][np.isfinite(m["sample_rate_hz"])]
        return {
            "path": str(self.path) if self.path else None,
            "n_signatures": len(self),
            "features_version": self.features_version,
            "n_features": len(self.feature_names),
            "n_bands": int(self.band_centres_hz.size),
            "by_label": counts("label"),
            "by_material": counts("material"),
            "by_sensor_kind": counts("sensor_kind"),
            "n_sites": int(len(set(m["site"].tolist()) - {""})),
            "sample_rate_hz_range": [float(rates.min()), float(rates.max())] if rates.size else None,
            "created_utc": ns_to_iso(int(self.attrs.get("created_utc_ns", NO_TIME))),
            "modified_utc": ns_to_iso(int(self.attrs.get("modified_utc_ns", NO_TIME))),
        }

    def rows(self, *, include_features: bool = True, include_bands: bool = False):
        """Yield one dict per signature (metadata, then features and band levels if asked)."""
        m = self.metadata
        band_names = [f"band_{c:g}_hz_db" for c in self.band_centres_hz]
        for i in range(len(self)):
            row = {}
            for col, (kind, _, _) in METADATA_COLUMNS.items():
                v = m[col][i]
                if kind == "time":
                    row[col.replace("_ns", "_utc")] = ns_to_iso(int(v))
                elif kind == "float":
                    row[col] = float(v) if np.isfinite(v) else None
                else:
                    row[col] = str(v)
            if include_features:
                row.update({n: (float(v) if np.isfinite(v) else None)
                            for n, v in zip(self.feature_names, self.features[i])})
            if include_bands:
                row.update({n: (float(v) if np.isfinite(v) else None)
                            for n, v in zip(band_names, self.band_levels_db[i])})
            yield row


def _short(exc) -> str:
    return " ".join(str(exc).split())[:200]


def _attr_str(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray) and v.shape == ():
        return _attr_str(v.item())
    return str(v)


def _attr_plain(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray):
        return [_attr_plain(x) for x in v.tolist()]
    if isinstance(v, np.generic):
        return v.item()
    return v


# -- writing --------------------------------------------------------------------------------------


@contextlib.contextmanager
def writer_lock(path, *, wait_s: float = 0.0):
    """Hold the exclusive writer lock ``<library>.lock`` (POSIX ``flock``) for the block.

    Raises
    ------
    LibraryBusyError
        Another writer holds the lock for longer than ``wait_s`` seconds.
    """
    import fcntl

    path = Path(path)
    lock_path = path.with_name(path.name + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ModelError(f"{lock_path}: cannot create the library lock file ({exc.strerror})") from None
    deadline = time.monotonic() + max(0.0, float(wait_s))
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                    raise LibraryBusyError(
                        f"{path}: library is locked by another writer (pid {holder}); try again when it has "
                        "finished, or wait for it (--wait SECONDS)") from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def _string_array(values):
    h5py = _h5py()
    return np.array([str(v) for v in values], dtype=h5py.string_dtype("utf-8"))


def _create_layout(fh, *, names, units, version, centres, n_bands):
    from .. import __version__

    h5py = _h5py()
    now = _now_ns()
    fh.attrs["file_format"] = LIBRARY_FORMAT
    fh.attrs["file_format_version"] = np.int64(LIBRARY_FORMAT_VERSION)
    fh.attrs["features_version"] = str(version)
    fh.attrs["package_version"] = __version__
    fh.attrs["created_utc_ns"] = np.int64(now)
    fh.attrs["modified_utc_ns"] = np.int64(now)
    fh.attrs["n_signatures"] = np.int64(0)
    p = len(names)
    fv = fh.create_group("features").create_dataset(
        "values", shape=(0, p), maxshape=(None, p), dtype="<f8", chunks=(_CHUNK_ROWS, max(p, 1)),
        compression="gzip", compression_opts=4, shuffle=True)
    fv.attrs["names"] = _string_array(names)
    fv.attrs["units"] = _string_array(units)
    sp = fh.create_group("spectra").create_dataset(
        "band_levels_db", shape=(0, n_bands), maxshape=(None, n_bands), dtype="<f8",
        chunks=(_CHUNK_ROWS, max(n_bands, 1)), compression="gzip", compression_opts=4, shuffle=True)
    sp.attrs["band_centres_hz"] = np.asarray(centres, dtype=np.float64)
    sp.attrs["units"] = "dB (calibrated 1/3-octave band levels)"
    mg = fh.create_group("metadata")
    for col, (kind, unit, desc) in METADATA_COLUMNS.items():
        dtype = {"str": h5py.string_dtype("utf-8"), "float": "<f8", "time": "<i8"}[kind]
        ds = mg.create_dataset(col, shape=(0,), maxshape=(None,), dtype=dtype, chunks=(_CHUNK_ROWS * 4,),
                               compression="gzip", compression_opts=4, shuffle=True)
        ds.attrs["units"] = unit
        ds.attrs["description"] = desc
        if kind == "time":
            ds.attrs["unknown"] = np.int64(NO_TIME)


def _append(ds, arr):
    n0 = ds.shape[0]
    ds.resize(n0 + arr.shape[0], axis=0)
    ds[n0:] = arr


def _fsync_path(path: Path, *, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def add_signatures(path, features, band_levels_db, metadata: dict, *, feature_names, features_version,
                   band_centres_hz, feature_units=None, create: bool = False, overwrite: bool = False,
                   wait_s: float = 0.0, skip_duplicates: bool = True) -> dict:
    """Append signatures to a library file (creating it when asked), atomically and under the writer lock.

    Parameters
    ----------
    path : str or Path
        The HDF5 library.
    features : array_like, shape (n, n_features)
        Feature vectors.
    band_levels_db : array_like, shape (n, n_bands)
        Calibrated 1/3-octave band levels (dB).
    metadata : dict of str -> sequence of length n
        Columns of :data:`METADATA_COLUMNS` (``label`` required; others default to unknown).
        ``signature_id`` defaults to :func:`signature_id_for` (source hash, features);
        ``added_time_ns`` to now.
    feature_names : sequence of str
    features_version : str
    band_centres_hz : array_like, shape (n_bands,)
    feature_units : sequence of str, optional
    create : bool, default False
        Create the library if it does not exist.
    overwrite : bool, default False
        Replace an existing library instead of appending (with ``create``).
    wait_s : float, default 0
        How long to wait for another writer to finish (s).
    skip_duplicates : bool, default True
        Leave out signatures whose id is already in the library (otherwise refuse them).

    Returns
    -------
    dict
        ``added`` (ids), ``skipped`` (duplicate ids), ``n_signatures`` (total after the write).

    Raises
    ------
    ModelError
        The library is missing (without ``create``), foreign, damaged, or holds another
        features version or other feature names.
    LibraryBusyError
        Another writer holds the lock.
    ParameterError
        Arrays of inconsistent shapes, unknown metadata columns, bad values.
    """
    from ..classify._dataset import LABELS

    h5py = _h5py()
    path = Path(path)
    X = np.atleast_2d(np.asarray(features, dtype=np.float64))
    S = np.atleast_2d(np.asarray(band_levels_db, dtype=np.float64))
    names = [str(n) for n in feature_names]
    units = [str(u) for u in (feature_units if feature_units is not None else [""] * len(names))]
    centres = np.asarray(band_centres_hz, dtype=np.float64).ravel()
    n = X.shape[0]
    if X.ndim != 2 or X.shape[1] != len(names):
        raise ParameterError(f"features must have shape (n, {len(names)}), got {X.shape}")
    if len(units) != len(names):
        raise ParameterError(f"{len(units)} feature units for {len(names)} features")
    if S.shape != (n, centres.size):
        raise ParameterError(f"band_levels_db must have shape ({n}, {centres.size}), got {S.shape}")
    unknown = sorted(set(metadata) - set(METADATA_COLUMNS))
    if unknown:
        raise ParameterError(f"unknown metadata column(s) {', '.join(unknown)}; "
                             f"known: {', '.join(METADATA_COLUMNS)}")
    for col in _REQUIRED_META:
        if col not in metadata:
            raise ParameterError(f"metadata column {col!r} is required")
    meta = {col: _coerce_column(col, metadata.get(col), n) for col in METADATA_COLUMNS
            if col not in ("signature_id", "added_time_ns")}
    bad = sorted({lab for lab in meta["label"].tolist() if lab not in LABELS})
    if bad:
        raise ParameterError(f"unknown label(s) {', '.join(map(repr, bad))}; labels: {', '.join(LABELS)}")
    if "signature_id" in metadata:
        meta["signature_id"] = _coerce_column("signature_id", metadata["signature_id"], n)
    else:
        meta["signature_id"] = np.array([signature_id_for(meta["source_sha256"][i], X[i]) for i in range(n)],
                                        dtype=object)
    meta["added_time_ns"] = (_coerce_column("added_time_ns", metadata["added_time_ns"], n)
                             if "added_time_ns" in metadata else np.full(n, _now_ns(), dtype=np.int64))
    if any(s == "" for s in meta["signature_id"].tolist()):
        raise ParameterError("signature_id must not be empty")

    path.parent.mkdir(parents=True, exist_ok=True)
    with writer_lock(path, wait_s=wait_s):
        exists = path.exists()
        if exists and not overwrite:
            old = SignatureLibrary.open(path)  # validates format, version, checksum
            old.check_features(names, features_version)
            if not np.allclose(old.band_centres_hz, centres, rtol=1e-9, atol=0, equal_nan=True) or \
                    old.band_centres_hz.size != centres.size:
                raise ModelError(f"{path}: library band centres differ from the new signatures'; rebuild the library")
        elif not exists and not create:
            raise ModelError(f"{path}: signature library not found (build one with `acoustic library build`)")
        else:
            old = None
        existing = set(old.metadata["signature_id"].tolist()) if old is not None else set()
        keep, seen, skipped = [], set(), []
        for i, sid in enumerate(meta["signature_id"].tolist()):
            if sid in existing or sid in seen:
                if not skip_duplicates:
                    raise ModelError(f"{path}: signature {sid} is already in the library")
                skipped.append(sid)
                continue
            seen.add(sid)
            keep.append(i)
        keep = np.asarray(keep, dtype=np.intp)
        X_new, S_new = X[keep], S[keep]
        meta_new = {c: v[keep] for c, v in meta.items()}

        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        tmp = Path(tmp)
        try:
            if old is not None:
                shutil.copyfile(path, tmp)
                fh = h5py.File(tmp, "r+")
            else:
                fh = h5py.File(tmp, "w")
                _create_layout(fh, names=names, units=units, version=features_version, centres=centres,
                               n_bands=centres.size)
            with fh:
                if keep.size:
                    _append(fh["features/values"], X_new)
                    _append(fh["spectra/band_levels_db"], S_new)
                    for col, (kind, _, _) in METADATA_COLUMNS.items():
                        v = meta_new[col]
                        _append(fh["metadata"][col], _string_array(v) if kind == "str" else v)
                if old is not None:
                    all_X = np.concatenate([old.features, X_new])
                    all_S = np.concatenate([old.band_levels_db, S_new])
                    all_meta = {c: np.concatenate([old.metadata[c], meta_new[c]]) for c in METADATA_COLUMNS}
                    centres_w, names_w, units_w, version_w = (old.band_centres_hz, old.feature_names,
                                                             old.feature_units, old.features_version)
                else:
                    all_X, all_S, all_meta = X_new, S_new, meta_new
                    centres_w, names_w, units_w, version_w = centres, names, units, str(features_version)
                fh.attrs["n_signatures"] = np.int64(all_X.shape[0])
                fh.attrs["modified_utc_ns"] = np.int64(_now_ns())
                fh.attrs["content_sha256"] = _content_digest(all_X, all_S, all_meta, names_w, units_w,
                                                             version_w, centres_w)
            # mkstemp makes the file private: keep the library's mode (or the usual 0644 for a new one)
            os.chmod(tmp, (path.stat().st_mode & 0o777) if path.exists() else 0o644)
            _fsync_path(tmp)
            os.replace(tmp, path)
            _fsync_path(path.parent, directory=True)
        finally:
            if tmp.exists():
                tmp.unlink()
    return {"added": meta_new["signature_id"].tolist(), "skipped": skipped, "n_signatures": int(all_X.shape[0])}
