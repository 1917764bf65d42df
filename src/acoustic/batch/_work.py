"""Worker tasks of a batch run: pure functions from paths and options to plain results.

Each task runs in a worker process (spawn pool or Dask) or in the driver (``workers=0``).
A task never writes the ledger or any file; it returns dictionaries and numpy arrays that the
driver commits.  A bad file never fails a task: it comes back with ``status="quarantined"``
and the reason, and the other files of the task are still processed.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from pathlib import Path

from .._errors import AcousticError, AcousticWarning
from .._warnings import collect_warnings, one_line, warn
from ._engine import single_thread_env

__all__ = ["process_recordings", "process_stats_file", "survey_area", "warm_up", "night_of"]

_MODELS: dict = {}
#: A recording may end this long after the batch's "now" before its start time is called future
#: (a logger clock running fast, s).  A time-zone slip (local time written as UTC) is hours and is
#: caught.  A tolerance for clocks, not a tuned constant.
FUTURE_TOLERANCE_S = 3600.0


def warm_up() -> int:
    """Import the processing stack and load its compiled kernels in a fresh worker.

    Run once per worker while the driver is still scanning, so the first real task is not
    slowed by imports and numba's cache loads (about 1 s of CPU per process).
    """
    single_thread_env()
    import warnings as _w

    import numpy as np

    import acoustic.io  # noqa: F401
    from acoustic.classify._compiled import CompiledPipeline
    from acoustic.features import extract_features
    from acoustic.recording import Recording

    with _w.catch_warnings():
        _w.simplefilter("ignore")
        x = np.sin(np.linspace(0.0, 2000.0, 8000)) + 0.01 * np.cos(np.arange(8000.0) ** 1.5)
        extract_features(Recording(x, 8000.0))
        stump = CompiledPipeline(np.zeros(1), np.zeros(1), np.ones(1), 0.0, np.zeros(1, np.int64), np.zeros(1),
                                 np.zeros(1, bool), np.zeros(1, np.int64), np.zeros(1, np.int64), np.ones(1, bool),
                                 np.zeros(1), np.zeros(1, np.int64))
        stump.predict_proba(np.zeros((1, 1)))
    return os.getpid()


def _model(options: dict):
    """The classifier of a task: the one the driver sent, else loaded (once per process) from its folder."""
    sent = options.get("model_obj")
    if sent is not None:
        return sent
    path = options.get("model")
    if path is None:
        return None
    model = _MODELS.get(path)
    if model is None:
        from ..classify import load_model
        from ..classify._compiled import compile_model

        model = _MODELS[path] = compile_model(load_model(path))
    return model


def night_of(start_time) -> str | None:
    """The night a recording belongs to (``acoustic.loggers.night_date``: UTC date of start + 12 h).

    The convention of ``stats.csv``, so nightly rows derived from recordings and uploaded ones
    carry the same dates.  None when the start time is unknown.
    """
    if start_time is None:
        return None
    from ..loggers import night_date

    return night_date(start_time).isoformat()


def process_recordings(items: list[dict], options: dict) -> list[dict]:
    """Read, measure, extract features and classify a chunk of recordings.

    Parameters
    ----------
    items : list of dict
        Each with ``path`` (str), ``sha256``, ``sidecar_sha256`` and ``kind`` (``new`` or
        ``correction``), passed through to the result, and optionally ``identities``: path ->
        (inode, size, mtime in ns) of the audio file and its sidecar when they were hashed (None:
        no sidecar then); a recording whose files differ after it was read comes back with
        ``status="changed"`` and nothing else (it is left for the next run).
    options : dict
        ``now`` (ISO UTC: the batch's start; a recording ending more than :data:`FUTURE_TOLERANCE_S`
        after it is future-dated: kept, warned about, given no night), ``model`` (model folder or
        None: no classification) and optionally ``model_obj``: the
        loaded model itself (a :class:`acoustic.classify.LeakModel`, usually with a compiled
        pipeline, see :mod:`acoustic.classify._compiled`), sent by the driver so that workers
        need not load the model file (and import scikit-learn) themselves.

    Returns
    -------
    list of dict
        One per item: the item's keys plus ``status`` (``ok`` or ``quarantined``), ``error``,
        ``warnings`` (list of str), and for ``ok``: ``logger_id``, ``start_time`` (ISO UTC or
        None), ``night`` (YYYY-MM-DD or None), ``sample_rate_hz``, ``duration_s``, ``level_db``
        (RMS level, dB re 1 calibrated unit), ``features`` (float32 array), ``features_version``,
        ``block_levels_db`` (float32, the per-frame calibrated levels that
        ``acoustic.loggers`` makes nightly level and spread from), ``block_s`` (frame hop, s),
        ``leak_probability``, ``label``, ``threshold``, ``model_version``, ``future_dated``; a
        quarantined result has the ``logger_id`` and ``start_time`` of its sidecar when it has a
        readable one; the first ok result
        also has ``feature_names`` and ``feature_units``, and the first result ``timing_s`` (seconds spent reading, extracting and classifying the chunk).

    Notes
    -----
    Classification is :func:`acoustic.classify.classify_features`, as ``acoustic classify``
    does it, after :func:`acoustic.classify.check_supported` per recording: a recording the
    model cannot handle (e.g. a sample rate below its training range) is quarantined with that
    reason, and the others of the chunk are classified.
    """
    single_thread_env()
    model = _model(options)
    now = _parse_now(options.get("now"))
    results, feats = [], []
    t_read = t_feat = 0.0
    for item in items:
        res, rf, (dt_read, dt_feat) = _process_one(item, model, now)
        t_read += dt_read
        t_feat += dt_feat
        results.append(res)
        if rf is not None:
            feats.append((res, rf))
    t3 = time.perf_counter()
    _classify_all(model, feats)
    t_cls = time.perf_counter() - t3
    names_sent = False
    for r in results:  # the feature names travel once per chunk, not with every recording
        if r["status"] == "ok":
            if names_sent:
                r.pop("feature_names", None)
                r.pop("feature_units", None)
            names_sent = True
    if results:
        results[0]["timing_s"] = {"read": t_read, "features": t_feat, "classify": t_cls, "n": len(items)}
    return results


def _process_one(item: dict, model, now) -> tuple[dict, object, tuple[float, float]]:
    """Read, measure and extract the features of one recording (a bad file is quarantined, never raised).

    Returns
    -------
    (dict, RecordingFeatures or None, (float, float))
        The result (see :func:`process_recordings`), what the classifier needs of it (None without a
        model or for a quarantined file), and the seconds spent reading and extracting.
    """
    import numpy as np

    from ..features._extract import _extract
    from ..io import read_recording
    from ..recording import format_time

    res = dict(item)
    res.update(status="ok", error=None)
    rf = None
    dt_read = dt_feat = 0.0
    with collect_warnings(foreign="ignore", ignore_deprecations=True) as caught:
        try:
            t0 = time.perf_counter()
            rec = read_recording(item["path"])
            t1 = time.perf_counter()
            fv, cal = _extract(rec)  # the features and the calibrated samples they came from
            dt_read, dt_feat = t1 - t0, time.perf_counter() - t1
            ms = float(np.dot(cal, cal)) / cal.size
            values = np.asarray(fv.values, dtype=np.float64)
            if model is not None:
                rf = _classifier_input(model, rec, fv, values, item["sha256"])
            future = _future_start(rec, now)
            if future:
                warn(future)
            res.update(
                logger_id=rec.sensor_id,
                start_time=None if rec.start_time is None else format_time(rec.start_time),
                night=None if future else night_of(rec.start_time),
                future_dated=bool(future),
                sample_rate_hz=rec.sample_rate,
                duration_s=rec.duration_s,
                level_db=10.0 * math.log10(max(ms, 1e-30)),
                features=values.astype(np.float32),
                features_version=str(fv.version),
                feature_names=tuple(fv.names),
                feature_units=tuple(fv.units),
                block_levels_db=np.asarray(fv.frame_levels_db, dtype=np.float32),
                block_s=float(fv.hop_length) / float(fv.sample_rate),
                leak_probability=None, label=None, threshold=None, model_version=None,
            )
        except AcousticError as exc:
            res.update(status="quarantined", error=one_line(exc))
            res.update(_sidecar_identity(item["path"]))
            rf = None
        except MemoryError:
            res.update(status="quarantined", error="out of memory while processing this file")
            rf = None
        except Exception as exc:  # an unforeseen file problem: quarantine it, keep going
            res.update(status="quarantined", error=f"unexpected {type(exc).__name__}: {one_line(exc)}")
            rf = None
    res["warnings"] = caught.messages
    changed = _changed_since_hashed(item)
    if changed:
        return {**item, "status": "changed", "error": changed, "warnings": []}, None, (dt_read, dt_feat)
    return res, rf, (dt_read, dt_feat)


def _changed_since_hashed(item: dict) -> str | None:
    """Why the files of ``item`` are not the ones the driver hashed (replaced, rewritten, removed or
    created since), or None.  Checked after reading: a file replaced before or while it was read
    shows a new identity then."""
    from ..io import display_path
    from ._scan import current_identity

    for path, then in (item.get("identities") or {}).items():
        now = current_identity(path)
        if (tuple(then) if then is not None else None) != now:
            return (f"{display_path(path)}: changed while the batch ran (replaced or rewritten after it was hashed); "
                    "left for the next run")
    return None


def _classifier_input(model, rec, fv, values, sha256: str):
    """The :class:`acoustic.classify.RecordingFeatures` of one recording (the classifier's level-invariant
    features, :func:`acoustic.classify.classifier_features`), checked against the model
    (:func:`acoustic.classify.check_supported` raises for a recording it cannot handle)."""
    from ..classify import check_supported
    from ..classify._extract import classifier_features

    rf = classifier_features(rec, fv, path=rec.source, sha256=sha256)
    check_supported(model, rf)
    return rf


def _classify_all(model, feats: list) -> None:
    """Classify the chunk's readable recordings in one call and fill in their results."""
    if model is None or not feats:
        return
    from ..classify import classify_features

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AcousticWarning)  # already collected per recording
        out = classify_features(model, [rf for _, rf in feats], check=False)  # each checked above
    version = model_version(model)
    for (res, _), c in zip(feats, out):
        res.update(leak_probability=float(c["leak_probability"]), label=c["label"],
                   threshold=float(c["threshold"]), model_version=version)


def _parse_now(text):
    """The batch's "now" (ISO UTC, sent by the driver so every worker agrees), else this moment."""
    from datetime import datetime, timezone

    from ..recording import parse_time

    return parse_time(text) if text else datetime.now(timezone.utc)


def _future_start(rec, now) -> str | None:
    """A warning when ``rec`` ends after ``now`` (+ :data:`FUTURE_TOLERANCE_S`), else None.

    Such a recording is kept but given no night: a logger whose clock says 2099 must not become
    the night every survey and score is "as of".
    """
    from datetime import timedelta

    from ..io import display_path

    if rec.start_time is None or rec.end_time <= now + timedelta(seconds=FUTURE_TOLERANCE_S):
        return None
    return (f"{display_path(rec.name)}: start time {rec.start_time.isoformat().replace('+00:00', 'Z')} is in the "
            f"future (the batch runs at {now.isoformat(timespec='seconds').replace('+00:00', 'Z')}): is the logger's "
            f"clock right? The recording is kept but left out of nights, logger scores and surveys until its sidecar "
            "is corrected")


def _sidecar_identity(path) -> dict:
    """Logger id and start time from the sidecar of a file that could not be read (for its quarantine entry),
    so that identical broken uploads of two loggers are each listed under their own logger."""
    from ..io import read_sidecar
    from ..recording import format_time

    try:
        with collect_warnings(foreign="ignore"):
            meta = read_sidecar(path)
    except AcousticError:
        return {}
    out = {"logger_id": meta["sensor_id"]} if _has_sidecar(path) else {}
    if meta.get("start_time") is not None:
        out["start_time"] = format_time(meta["start_time"])
    return out


def _has_sidecar(path) -> bool:
    from ..io import sidecar_path

    return os.path.isfile(sidecar_path(path))


def model_version(model) -> str:
    """``<folder name>@<first 12 hex digits of the model file's SHA-256>``."""
    return model_version_of(getattr(model, "path", None), model.card)


def model_version_of(folder, card: dict) -> str:
    """:func:`model_version` of the model in ``folder`` (None: ``model``) with model card ``card``."""
    name = Path(folder).name if folder is not None else "model"
    return f"{name}@{str(card.get('model_sha256', ''))[:12]}"


def process_stats_file(item: dict) -> dict:
    """Read one uploaded logger statistics file (``interfaces.md`` stats.csv).

    Rows dated after the night the batch runs in (``item["now"]``, ISO UTC, + :data:`FUTURE_TOLERANCE_S`)
    are left out with a warning: a logger whose clock says 2099 must not become every score's "as of".

    Returns
    -------
    dict
        The item's keys plus ``status`` (``ok``, ``quarantined``, or ``changed``: the file is not
        the one hashed, see ``identities``), ``error``, ``warnings`` and ``rows``: a list of
        ``(logger_id, date, level, spread)`` tuples (level and spread in the logger's dB units).
    """
    single_thread_env()
    from ..loggers import read_stats

    res = dict(item)
    res.update(status="ok", error=None, rows=[])
    with collect_warnings(foreign="ignore") as caught:
        try:
            rows = _present_rows(read_stats(item["path"]), item["path"], _parse_now(item.get("now")))
            res["rows"] = [(r.logger_id, r.date.isoformat(), float(r.level), float(r.spread)) for r in rows]
        except AcousticError as exc:
            res.update(status="quarantined", error=one_line(exc))
        except Exception as exc:
            res.update(status="quarantined", error=f"unexpected {type(exc).__name__}: {one_line(exc)}")
    res["warnings"] = caught.messages
    changed = _changed_since_hashed(item)
    if changed:  # (what was read is not what was hashed: the next run reads it again)
        return {**item, "status": "changed", "error": changed, "warnings": [], "rows": []}
    return res


def _present_rows(rows, path, now) -> list:
    """The rows of a stats file not dated after the night of ``now`` (others: one warning, left out)."""
    from datetime import timedelta

    from ..io import display_path
    from ..loggers import night_date

    latest = night_date(now + timedelta(seconds=FUTURE_TOLERANCE_S))
    future = [r for r in rows if r.date > latest]
    if not future:
        return list(rows)
    first = min(future, key=lambda r: r.line)
    warn(f"{display_path(path)}: {len(future)} row(s) dated after {latest.isoformat()} (the night the batch runs in) "
         f"are in the future and left out (first on line {first.line}: logger {first.logger_id}, "
         f"{first.date.isoformat()}); is the logger's clock right?")
    return [r for r in rows if r.date <= latest]


def survey_area(payload: dict) -> dict:
    """Area -> line -> point narrowing of one area on one night (:func:`._survey.run_area_survey`)."""
    single_thread_env()
    from ._survey import run_area_survey

    return run_area_survey(payload)
