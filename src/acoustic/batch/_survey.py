"""The survey step of a batch: one :func:`acoustic.survey.run_survey` call per affected area.

The survey folder given with ``--survey`` supplies the network (``network.inp`` + ``pipes.csv``
or ``network.geojson``) and ``loggers.csv`` (with its ``area`` column); the recordings and the
nightly statistics come from the ledger.  For each area touched by new or corrected recordings,
the driver sends a worker the ok recordings of the last ``window_nights`` nights up to the area's
latest night (of every logger: the survey takes the area's neighbours as context, so that area by
area it places the points the whole network's survey places; nights up to a dig that found a leak
in the area are left out, they hear the leak before its repair), and the area's loggers' uploaded
nightly level/spread history up to that night; the worker
builds a private, temporary survey folder of symbolic links (network and loggers.csv from the
survey folder, ``recordings/<logger_id>/`` linking to the uploaded files, a ``stats.csv``
written from the ledger's history), runs the survey restricted to the area, and returns its
JSON.  The driver writes the areas, lines and points as the area's current suspects
(:func:`._store.commit_area_survey`) and the correlated pairs as detections.

Workers must see the uploaded files and the survey folder under the same paths as the driver
(a shared file system, for a Dask cluster on other machines).

Without an ``area`` column every logger belongs to one area, ``ALL_AREAS``, surveyed as a whole.
"""

from __future__ import annotations

import csv
import os
import tempfile
import warnings
from pathlib import Path

from .._errors import AcousticError, AcousticWarning, DataError

__all__ = ["ALL_AREAS", "survey_areas_of", "survey_task", "run_area_survey"]

#: Area name used when loggers.csv has no ``area`` column (the whole survey is one area).
ALL_AREAS = "*"
_NETWORK_FILES = ("network.inp", "pipes.csv", "network.geojson", "loggers.csv")


def survey_areas_of(survey_dir) -> dict[str, str]:
    """logger_id -> area from the survey folder's ``loggers.csv`` (checked, not the network).

    Raises
    ------
    DataError
        No such folder, no network file, no ``loggers.csv`` or one without ``logger_id``.
    """
    root = Path(survey_dir)
    if not root.is_dir():
        raise DataError(f"--survey {root}: survey folder not found")
    if not (root / "network.inp").is_file() and not (root / "network.geojson").is_file():
        raise DataError(f"--survey {root}: no network.inp (with pipes.csv) or network.geojson")
    path = root / "loggers.csv"
    if not path.is_file():
        raise DataError(f"--survey {root}: no loggers.csv (logger_id,node_id[,area] ...)")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            cols = [c.strip() for c in (reader.fieldnames or [])]
            if "logger_id" not in cols:
                raise DataError(f"{path}: no logger_id column (found {', '.join(cols) or 'nothing'})")
            out = {}
            for row in reader:
                row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
                if row.get("logger_id"):
                    out[row["logger_id"]] = row.get("area") or ALL_AREAS
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: not a readable CSV file ({exc})") from None
    if not out:
        raise DataError(f"{path}: lists no loggers")
    return out


def survey_task(conn, survey_dir, area_of: dict, area: str, model, window_nights: int) -> dict | None:
    """The payload of one area survey (plain data for a worker), or None when the area has no recordings.

    The survey is as of the area's latest night with recordings, over the ``window_nights``
    nights up to it (recordings without a start time cannot be placed in a night and are left out).
    """
    from datetime import date, timedelta

    loggers = sorted(lid for lid, a in area_of.items() if a == area)
    marks = ",".join("?" * len(loggers))
    as_of = conn.execute(f"SELECT max(night) FROM recordings WHERE status = 'ok' AND logger_id IN ({marks})",
                         loggers).fetchone()[0]
    if as_of is None:
        return None
    first = (date.fromisoformat(as_of) - timedelta(days=window_nights - 1)).isoformat()
    repaired = _last_repair(conn, area, as_of)
    if repaired is not None and repaired >= first:
        # nights up to a dig that found a leak in the area hear the leak before its repair
        first = (date.fromisoformat(repaired) + timedelta(days=1)).isoformat()
        if first > as_of:
            return None
    # every logger's recordings of the window: the survey takes the area's neighbours as context
    everyone = sorted(area_of)
    marks_all = ",".join("?" * len(everyone))
    recs = conn.execute(
        f"SELECT logger_id, path, sha256, sidecar_sha256 FROM recordings WHERE status = 'ok' AND night >= ? "
        f"AND night <= ? AND logger_id IN ({marks_all}) ORDER BY logger_id, start_time, id",
        (first, as_of, *everyone)).fetchall()
    # the uploaded stats.csv history, as a survey folder would hold it (the nightly values the batch
    # derives from recordings are the survey's own input already, the recordings)
    stats = conn.execute(
        f"SELECT logger_id, date, level, spread FROM logger_nights WHERE date <= ? AND source NOT LIKE 'recordings%' "
        f"AND logger_id IN ({marks}) ORDER BY logger_id, date", (as_of, *loggers)).fetchall()
    return {"survey_dir": str(Path(survey_dir).resolve()), "area": area, "night": as_of, "first_night": first,
            "recordings": [tuple(r) for r in recs], "stats": [tuple(r) for r in stats], "model": model,
            "area_loggers": loggers}


def _last_repair(conn, area: str, as_of: str) -> str | None:
    """Night (ISO date) of the area's latest dig up to ``as_of`` that found a leak, or None."""
    try:
        row = conn.execute(
            "SELECT max(o.dug_on) FROM outcomes o JOIN suspects s ON s.id = o.suspect_id "
            "WHERE o.leak_found = 1 AND s.area = ? AND o.dug_on <= ?", (area, as_of + "T99")).fetchone()
    except Exception:  # a ledger without outcomes yet
        return None
    return None if row is None or row[0] is None else str(row[0])[:10]


def _link(src: Path, dst: Path) -> None:
    try:
        os.symlink(src, dst)
    except OSError:  # file systems without symbolic links
        import shutil

        shutil.copyfile(src, dst)


def run_area_survey(payload: dict) -> dict:
    """Worker body: survey one area on one night (see the module docs).

    Returns
    -------
    dict
        The survey JSON (``areas``, ``lines``, ``points``, ``pairs``, ...) plus ``params``
        (what the survey was run with), or ``{"error": ...}`` when the area cannot be surveyed
        (e.g. fewer than two of its loggers have recordings that night).
    """
    from ..io import sidecar_path
    from ..survey import SurveyOptions, run_survey

    root = Path(payload["survey_dir"])
    area = payload["area"]
    own = set(payload.get("area_loggers") or [r[0] for r in payload["recordings"]])
    if len({r[0] for r in payload["recordings"] if r[0] in own}) < 1 or len({r[0] for r in payload["recordings"]}) < 2:
        return {"error": f"area {area}: fewer than two loggers have recordings in the nights "
                         f"{payload['first_night']} to {payload['night']}; nothing to correlate", "skipped": True}
    opts = SurveyOptions()
    with tempfile.TemporaryDirectory(prefix="acoustic-survey-") as tmp:
        view = Path(tmp)
        for name in _NETWORK_FILES:
            if (root / name).exists():
                _link(root / name, view / name)
        for logger_id, path, sha, _side in payload["recordings"]:
            src = Path(path)
            folder = view / "recordings" / logger_id
            folder.mkdir(parents=True, exist_ok=True)
            dst = folder / f"{src.stem}-{sha[:10]}{src.suffix}"
            _link(src, dst)
            side = sidecar_path(src)
            if side.exists():
                _link(side, dst.with_suffix(".json"))
        if payload["stats"]:
            with open(view / "stats.csv", "w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow(["logger_id", "date", "level", "spread"])
                w.writerows(payload["stats"])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", AcousticWarning)
            try:
                res = run_survey(view, model=payload["model"], areas=None if area == ALL_AREAS else [area],
                                 options=opts)
            except AcousticError as exc:  # the area's data cannot be surveyed: reported, not retried
                return {"error": " ".join(str(exc).split()).replace(str(view), f"<view of {root}>")}
            except Exception as exc:  # a bug: reported, and retried by the next run
                import traceback

                where = traceback.extract_tb(exc.__traceback__)[-1]
                return {"error": f"the survey failed unexpectedly ({type(exc).__name__}: {exc} at "
                                 f"{Path(where.filename).name}:{where.lineno}); it is retried by the next run",
                        "retry": True}
        out = res.to_json()
        out.pop("survey_dir", None)
        out["warnings"] = [str(w.message).replace(str(view), f"<view of {root}>") for w in caught
                           if issubclass(w.category, AcousticWarning)]
        # paths inside the evidence point at the temporary view: name the uploaded files instead
        out = _unview(out, str(view), payload)
    import dataclasses

    import hashlib

    shas = sorted(r[2] for r in payload["recordings"])
    out["params"] = {"survey_options": dataclasses.asdict(opts), "survey_dir": str(root), "area": area,
                     "nights": [payload["first_night"], payload["night"]],
                     "recordings": {"n": len(shas),  # which recordings the survey saw, as one digest
                                    "sha256_of_sorted_sha256": hashlib.sha256("".join(shas).encode()).hexdigest()}}
    return out


def _unview(obj, view: str, payload: dict):
    if isinstance(obj, dict):
        return {k: _unview(v, view, payload) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_unview(v, view, payload) for v in obj]
    if isinstance(obj, str) and view in obj:
        return obj.replace(view, f"<view of {payload['survey_dir']}>")
    return obj
