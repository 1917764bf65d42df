"""Ledger operations: list and show suspects, record dig outcomes, statistics, export."""

from __future__ import annotations

import json

from .._errors import DataError, ParameterError
from ._db import Ledger, utc_now

__all__ = ["batch_status", "list_suspects", "show_suspect", "dispatch_suspect", "confirm_suspect", "ledger_stats",
           "export_csv", "export_geojson", "suspect_dict", "csv_cell", "SUSPECT_COLUMNS", "OPEN_STATUSES"]

SUSPECT_COLUMNS = ("id", "kind", "status", "area", "pipe_id", "offset_m", "interval_lo_m", "interval_hi_m", "x", "y",
                   "confidence", "score", "from_logger", "to_logger", "pipe_ids", "spacing_m", "model_version",
                   "batch_id", "created_utc")


def _row(r, where: str = "ledger") -> dict:
    d = {k: r[k] for k in r.keys()}
    for key in ("evidence_json", "params_json"):
        if d.get(key):
            try:
                d[key[:-5]] = json.loads(d.pop(key))
            except (TypeError, ValueError) as exc:
                raise DataError(f"{where}: suspect {d.get('id')} has a damaged {key[:-5]} record (not JSON: {exc}); "
                                "the ledger file may be damaged") from None
        else:
            d.pop(key, None)
    if d.get("pipe_ids"):
        try:
            d["pipe_ids"] = json.loads(d["pipe_ids"])
        except (TypeError, ValueError):
            raise DataError(f"{where}: suspect {d.get('id')} has a damaged pipe list (not JSON)") from None
    return d


def _has_column(led: Ledger, table: str, column: str) -> bool:
    return any(r[1] == column for r in led.conn.execute(f"PRAGMA table_info({table})"))


def _current(led: Ledger, alias: str = "") -> str:
    """SQL condition excluding suspects a later survey of their area no longer found."""
    if not _has_column(led, "suspects", "superseded_utc"):  # a schema-v1 ledger opened read-only
        return "1=1"
    return f"{alias}superseded_utc IS NULL"


current_filter = _current


def suspect_dict(led: Ledger, suspect_id: int) -> dict:
    """One suspect row as a dict with its evidence parsed (DataError when unknown or damaged)."""
    return _row(led.suspect(suspect_id), str(led.path))


#: Statuses of suspects still to be dug (what dig sheets hold).
OPEN_STATUSES = ("open", "dispatched")
STATUS_CHOICES = ("open", "dispatched", "confirmed", "no_leak")


def list_suspects(led: Ledger, *, kind: str | None = None, status=None, include_superseded: bool = False,
                  since: str | None = None, until: str | None = None) -> list[dict]:
    """Suspects, most suspect first within each kind (points, then lines, then areas).

    Parameters
    ----------
    kind : {"area", "line", "point"}, optional
    status : str or list of str, optional
        Only these statuses (``open``, ``dispatched``, ``confirmed``, ``no_leak``).
    include_superseded : bool
        Also suspects that a re-survey of their area and night (after late or corrected files) no
        longer found (left out by default).
    since, until : str, optional
        Only suspects whose survey night (else creation date) is within, ``YYYY-MM-DD`` inclusive.
    """
    q = "SELECT * FROM suspects WHERE " + ("1=1" if include_superseded else _current(led))
    args: list = []
    if kind:
        q += " AND kind = ?"
        args.append(kind)
    if status:
        wanted = [status] if isinstance(status, str) else list(status)
        q += f" AND status IN ({','.join('?' * len(wanted))})"
        args.extend(wanted)
    day = "substr(coalesce(night, created_utc), 1, 10)" if _has_column(led, "suspects", "night") \
        else "substr(created_utc, 1, 10)"
    if since:
        q += f" AND {day} >= ?"
        args.append(since)
    if until:
        q += f" AND {day} <= ?"
        args.append(until)
    q += " ORDER BY CASE kind WHEN 'point' THEN 0 WHEN 'line' THEN 1 ELSE 2 END, score DESC, id"
    return [_row(r, str(led.path)) for r in led.conn.execute(q, args)]


def show_suspect(led: Ledger, suspect_id: int) -> dict:
    """One suspect with its evidence, dispatches and outcome."""
    d = suspect_dict(led, suspect_id)
    d["dispatches"] = [dict(r) for r in led.conn.execute(
        "SELECT dispatched_utc, crew, note FROM dispatches WHERE suspect_id = ? ORDER BY id", (suspect_id,))]
    out = led.conn.execute("SELECT * FROM outcomes WHERE suspect_id = ?", (suspect_id,)).fetchone()
    d["outcome"] = dict(out) if out else None
    return d


def dispatch_suspect(led: Ledger, suspect_id: int, *, crew: str | None = None, note: str | None = None,
                     by: str | None = None) -> dict:
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
    from ._outcomes import default_user

    with led.transaction():
        did = led.conn.execute("INSERT INTO dispatches(suspect_id, dispatched_utc, crew, note, recorded_by) "
                               "VALUES (?, ?, ?, ?, ?)", (suspect_id, utc_now(), crew, note, by or default_user())
                               ).lastrowid
        led.conn.execute("UPDATE suspects SET status = 'dispatched' WHERE id = ?", (suspect_id,))
    return dict(led.conn.execute("SELECT * FROM dispatches WHERE id = ?", (did,)).fetchone())


def csv_cell(v) -> str:
    """A CSV cell a spreadsheet shows as text (:func:`acoustic.io.csv_safe_cell`: numbers as they are,
    text starting like a formula, ``= + - @``, prefixed with ``'``)."""
    from ..io import csv_safe_cell

    return csv_safe_cell(v)


def export_csv(led: Ledger) -> str:
    """All suspects with their outcomes in force as CSV text (formula-like text neutralised)."""
    extra = ["leak_found", "found_pipe_id", "found_at_m", "measured_m", "measured_from", "error_m", "dug_on",
             "recorded_by"]
    ocols = {r[1] for r in led.conn.execute("PRAGMA table_info(outcomes)")}
    scols = {r[1] for r in led.conn.execute("PRAGMA table_info(suspects)")}
    cols = [c for c in SUSPECT_COLUMNS if c in scols] + [c for c in ("night", "origin") if c in scols]
    sel = ", ".join(f"o.{c}" if c in ocols else f"NULL AS {c}" for c in extra)
    from ..io import format_csv_rows

    q = f"SELECT s.*, {sel} FROM suspects s LEFT JOIN outcomes o ON o.suspect_id = s.id ORDER BY s.id"
    return format_csv_rows(cols + extra, ([r[c] for c in cols + extra] for r in led.conn.execute(q)))


def export_geojson(led: Ledger, cs=None) -> dict:
    """Point suspects (with coordinates) as a GeoJSON FeatureCollection.

    Parameters
    ----------
    cs : acoustic.survey._crs.CoordinateSystem, optional
        The network's coordinate system: with it (and pyproj) the file is RFC 7946 (longitude,
        latitude); without, it is in the network's coordinates and says so
        (:func:`acoustic.survey._geojson.georeference`).
    """
    from ..survey._geojson import georeference

    ocols = {r[1] for r in led.conn.execute("PRAGMA table_info(outcomes)")}
    extra = ", ".join(f"o.{c}" if c in ocols else f"NULL AS {c}" for c in ("found_at_m", "dug_on"))
    feats = []
    for r in led.conn.execute(f"SELECT s.*, o.leak_found, o.error_m, {extra} FROM suspects s LEFT JOIN outcomes o "
                              "ON o.suspect_id = s.id WHERE s.kind = 'point' AND s.x IS NOT NULL ORDER BY s.id"):
        props = {k: r[k] for k in ("id", "status", "area", "pipe_id", "offset_m", "interval_lo_m", "interval_hi_m",
                                   "confidence", "score", "from_logger", "to_logger", "leak_found", "found_at_m",
                                   "error_m", "dug_on")}
        feats.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [r["x"], r["y"]]},
                      "properties": props})
    return georeference({"type": "FeatureCollection", "name": "acoustic ledger suspects", "features": feats}, cs)


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


def __getattr__(name):  # moved: kept importable from here
    if name == "confirm_suspect":
        from ._outcomes import confirm_suspect

        return confirm_suspect
    if name == "ledger_stats":
        from ._leaks import ledger_stats

        return ledger_stats
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
