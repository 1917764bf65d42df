"""Ledger operations: list and show suspects, record dig outcomes, statistics, export."""

from __future__ import annotations

import csv
import io
import json

import numpy as np

from .._errors import DataError, ParameterError
from ._db import Ledger, utc_now

__all__ = ["batch_status", "list_suspects", "show_suspect", "dispatch_suspect", "confirm_suspect", "ledger_stats", "export_csv", "export_geojson",
           "SUSPECT_COLUMNS"]

SUSPECT_COLUMNS = ("id", "kind", "status", "area", "pipe_id", "offset_m", "interval_lo_m", "interval_hi_m", "x", "y",
                   "confidence", "score", "from_logger", "to_logger", "pipe_ids", "spacing_m", "model_version",
                   "batch_id", "created_utc")


def _row(r) -> dict:
    d = {k: r[k] for k in r.keys()}
    for key in ("evidence_json", "params_json"):
        if d.get(key):
            d[key[:-5]] = json.loads(d.pop(key))
        else:
            d.pop(key, None)
    if d.get("pipe_ids"):
        d["pipe_ids"] = json.loads(d["pipe_ids"])
    return d


def _has_column(led: Ledger, table: str, column: str) -> bool:
    return any(r[1] == column for r in led.conn.execute(f"PRAGMA table_info({table})"))


def _current(led: Ledger, alias: str = "") -> str:
    """SQL condition excluding suspects a later survey of their area no longer found."""
    if not _has_column(led, "suspects", "superseded_utc"):  # a schema-v1 ledger opened read-only
        return "1=1"
    return f"{alias}superseded_utc IS NULL"


def list_suspects(led: Ledger, *, kind: str | None = None, status: str | None = None,
                  include_superseded: bool = False) -> list[dict]:
    """Suspects, most suspect first within each kind (points, then lines, then areas).

    Suspects that a re-survey of their area and night (after late or corrected files) no longer
    found are left out unless ``include_superseded``.
    """
    q = "SELECT * FROM suspects WHERE " + ("1=1" if include_superseded else _current(led))
    args: list = []
    if kind:
        q += " AND kind = ?"
        args.append(kind)
    if status:
        q += " AND status = ?"
        args.append(status)
    q += " ORDER BY CASE kind WHEN 'point' THEN 0 WHEN 'line' THEN 1 ELSE 2 END, score DESC, id"
    return [_row(r) for r in led.conn.execute(q, args)]


def show_suspect(led: Ledger, suspect_id: int) -> dict:
    """One suspect with its evidence, dispatches and outcome."""
    d = _row(led.suspect(suspect_id))
    d["dispatches"] = [dict(r) for r in led.conn.execute(
        "SELECT dispatched_utc, crew, note FROM dispatches WHERE suspect_id = ? ORDER BY id", (suspect_id,))]
    out = led.conn.execute("SELECT * FROM outcomes WHERE suspect_id = ?", (suspect_id,)).fetchone()
    d["outcome"] = dict(out) if out else None
    return d


def dispatch_suspect(led: Ledger, suspect_id: int, *, crew: str | None = None, note: str | None = None) -> dict:
    """Record that a crew was sent to a point suspect (status ``dispatched``).

    A dispatched suspect is never changed by later batch surveys.  Sending a crew again adds
    another dispatch row.

    Returns
    -------
    dict
        The dispatch row.
    """
    s = led.suspect(suspect_id)
    if s["kind"] != "point":
        raise ParameterError(f"suspect {suspect_id} is a {s['kind']} suspect; crews are dispatched to point suspects")
    if s["status"] in ("confirmed", "no_leak"):
        raise DataError(f"suspect {suspect_id} was already dug ({s['status']}); nothing to dispatch")
    with led.transaction():
        did = led.conn.execute("INSERT INTO dispatches(suspect_id, dispatched_utc, crew, note) VALUES (?, ?, ?, ?)",
                               (suspect_id, utc_now(), crew, note)).lastrowid
        led.conn.execute("UPDATE suspects SET status = 'dispatched' WHERE id = ?", (suspect_id,))
    return dict(led.conn.execute("SELECT * FROM dispatches WHERE id = ?", (did,)).fetchone())


def confirm_suspect(led: Ledger, suspect_id: int, *, found_at_m: float | None = None, no_leak: bool = False,
                    note: str | None = None) -> dict:
    """Record what the dig found for a point suspect.

    Parameters
    ----------
    found_at_m : float, optional
        Where the leak was found, in m from the same pipe's start node as the suspect's ``offset_m``.
    no_leak : bool
        The dig found no leak.

    Returns
    -------
    dict
        The outcome row, with ``error_m`` = |found_at_m - offset_m| (m).
    """
    if (found_at_m is None) == (not no_leak):
        raise ParameterError("give exactly one of --found-at-m X or --no-leak")
    s = led.suspect(suspect_id)
    if s["kind"] != "point":
        raise ParameterError(f"suspect {suspect_id} is a {s['kind']} suspect; only point suspects are dug and confirmed")
    if found_at_m is not None and (not np.isfinite(found_at_m) or found_at_m < 0):
        raise ParameterError(f"--found-at-m must be a non-negative distance in m, got {found_at_m}")
    error = None if no_leak else abs(float(found_at_m) - float(s["offset_m"]))
    with led.transaction():
        if led.conn.execute("SELECT 1 FROM outcomes WHERE suspect_id = ?", (suspect_id,)).fetchone():
            raise DataError(f"suspect {suspect_id} already has an outcome; outcomes are not overwritten")
        led.conn.execute(
            "INSERT INTO outcomes(suspect_id, leak_found, found_at_m, error_m, recorded_utc, note) VALUES (?,?,?,?,?,?)",
            (suspect_id, 0 if no_leak else 1, found_at_m, error, utc_now(), note))
        led.conn.execute("UPDATE suspects SET status = ? WHERE id = ?", ("no_leak" if no_leak else "confirmed", suspect_id))
    return dict(led.conn.execute("SELECT * FROM outcomes WHERE suspect_id = ?", (suspect_id,)).fetchone())


def ledger_stats(led: Ledger, *, tolerance_m: float = 1.0, tolerance_pct: float | None = None) -> dict:
    """Hit rate and location errors over confirmed point suspects: the basis of contractor payment.

    Parameters
    ----------
    tolerance_m : float, default 1.0
        A located leak is payable when its error is within this many metres ...
    tolerance_pct : float, optional
        ... or, when given, within this percentage of the sensor spacing (whichever is larger).
    """
    counts = {r["kind"]: r["n"] for r in led.conn.execute(
        f"SELECT kind, count(*) AS n FROM suspects WHERE {_current(led)} GROUP BY kind")}
    rows = led.conn.execute(
        "SELECT o.leak_found, o.error_m, s.spacing_m FROM outcomes o JOIN suspects s ON s.id = o.suspect_id").fetchall()
    found = [r for r in rows if r["leak_found"]]
    errors = np.array([r["error_m"] for r in found], dtype=np.float64)
    spacing = np.array([r["spacing_m"] if r["spacing_m"] is not None else np.nan for r in found], dtype=np.float64)
    allowed = np.full(errors.shape, float(tolerance_m))
    if tolerance_pct is not None:
        allowed = np.fmax(allowed, spacing * tolerance_pct / 100.0)
    out = {
        "suspects": {k: int(counts.get(k, 0)) for k in ("area", "line", "point")},
        "recordings": {r["status"]: r["n"] for r in led.conn.execute(
            "SELECT status, count(*) AS n FROM recordings GROUP BY status")},
        "dug": len(rows),
        "leaks_found": len(found),
        "no_leak": len(rows) - len(found),
        "hit_rate": (len(found) / len(rows)) if rows else None,
        "location_error_m": None,
        "payable": {"rule": f"error <= max({tolerance_m:g} m" + (f", {tolerance_pct:g} % of spacing)" if tolerance_pct is not None else ")"),
                    "count": int(np.sum(errors <= allowed)) if errors.size else 0},
    }
    if errors.size:
        out["location_error_m"] = {
            "n": int(errors.size), "median": float(np.median(errors)), "p90": float(np.quantile(errors, 0.9)),
            "max": float(errors.max()), "within_1m": float(np.mean(errors <= 1.0)), "within_2m": float(np.mean(errors <= 2.0)),
        }
    return out


def export_csv(led: Ledger) -> str:
    """All suspects with their outcomes as CSV text."""
    buf = io.StringIO()
    cols = list(SUSPECT_COLUMNS) + ["leak_found", "found_at_m", "error_m"]
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    q = ("SELECT s.*, o.leak_found, o.found_at_m, o.error_m FROM suspects s LEFT JOIN outcomes o ON o.suspect_id = s.id "
         "ORDER BY s.id")
    for r in led.conn.execute(q):
        w.writerow(["" if r[c] is None else r[c] for c in cols])
    return buf.getvalue()


def export_geojson(led: Ledger) -> dict:
    """Point suspects (with coordinates) as a GeoJSON FeatureCollection."""
    feats = []
    for r in led.conn.execute("SELECT s.*, o.leak_found, o.error_m FROM suspects s LEFT JOIN outcomes o "
                              "ON o.suspect_id = s.id WHERE s.kind = 'point' AND s.x IS NOT NULL ORDER BY s.id"):
        props = {k: r[k] for k in ("id", "status", "area", "pipe_id", "offset_m", "interval_lo_m", "interval_hi_m",
                                   "confidence", "score", "from_logger", "to_logger", "leak_found", "error_m")}
        feats.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [r["x"], r["y"]]},
                      "properties": props})
    return {"type": "FeatureCollection", "features": feats}


def batch_status(led: Ledger, *, last: int = 5, max_quarantined: int = 100) -> dict:
    """The last batch runs, the quarantined files (newest first) and the work still pending.

    Returns
    -------
    dict
        ``batches`` (newest first: id, started/finished UTC, status, counts), ``recordings``
        (count by status), ``quarantined`` (path, error, batch_id; recordings and stats files),
        ``pending`` (``logger`` scores and ``area`` surveys owed by an interrupted run).
    """
    v2 = _has_column(led, "batches", "n_duplicates")
    cols = "id, started_utc, finished_utc, status, n_files, n_new, n_failed, n_suspects" + (
        ", n_duplicates, n_corrections" if v2 else ", NULL AS n_duplicates, NULL AS n_corrections")
    batches = [dict(r) for r in led.conn.execute(f"SELECT {cols} FROM batches ORDER BY id DESC LIMIT ?", (last,))]
    quarantined = [dict(r) for r in led.conn.execute(
        "SELECT path, error, batch_id, processed_utc, logger_id FROM recordings WHERE status = 'quarantined' "
        "UNION ALL SELECT path, error, batch_id, processed_utc, NULL FROM stats_files WHERE status = 'quarantined' "
        "ORDER BY processed_utc DESC LIMIT ?", (max_quarantined,))]
    pending = {"logger": 0, "area": 0}
    if v2:
        pending.update({r[0]: r[1] for r in led.conn.execute("SELECT kind, count(*) FROM pending GROUP BY kind")})
    return {"batches": batches,
            "recordings": {r[0]: r[1] for r in led.conn.execute("SELECT status, count(*) FROM recordings GROUP BY status")},
            "quarantined": quarantined, "pending": pending}
