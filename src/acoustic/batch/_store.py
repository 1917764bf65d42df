"""The batch driver's writes to the ledger: one transaction per unit of work.

Every function here runs inside :meth:`Ledger.transaction` and writes a unit completely or not
at all: the rows of a chunk of recordings together with their features, detections, file
sightings, stat-cache entries and the ``pending`` markers of the logger scores and area surveys
they make necessary.  A batch killed at any moment therefore leaves either all of a unit or none
of it, and the next run recomputes exactly what was not committed.
"""

from __future__ import annotations

import json

from ..ledger._db import dumps, utc_now

__all__ = ["commit_recordings", "commit_duplicates", "commit_stats_file", "commit_logger_scores",
           "commit_area_survey", "clear_area", "earlier_record", "ensure_history", "POINT_MATCH_M"]

#: A new point matches a suspect on the same pipe within max(this, the suspect's interval half-width), m.
POINT_MATCH_M = 2.0


def _mark(conn, kind: str, key: str, batch_id: int) -> None:
    conn.execute("INSERT OR IGNORE INTO pending(kind, key, batch_id) VALUES (?, ?, ?)", (kind, key, batch_id))


def _write_cache(conn, cache_rows) -> None:
    if cache_rows:
        conn.executemany("INSERT OR REPLACE INTO scan_cache(path, size, mtime_ns, sha256) VALUES (?, ?, ?, ?)",
                         cache_rows)


#: The earlier versions of recordings a batch replaced or corrected (a row per replaced version).
#: Created by the batch itself (``CREATE TABLE IF NOT EXISTS``): the ledger's readers need not know it.
HISTORY_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS recording_history ("
    "id INTEGER PRIMARY KEY, recording_id INTEGER NOT NULL REFERENCES recordings(id), revision INTEGER NOT NULL, "
    "sha256 TEXT NOT NULL, sidecar_sha256 TEXT, path TEXT, logger_id TEXT, start_time TEXT, night TEXT, "
    "sample_rate_hz REAL, duration_s REAL, status TEXT, error TEXT, level_db REAL, leak_probability REAL, "
    "label TEXT, model_version TEXT, batch_id INTEGER, processed_utc TEXT, "
    "replaced_utc TEXT NOT NULL, replaced_by_batch INTEGER, reason TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS recording_history_rec ON recording_history(recording_id)",
    # earlier_record looks a re-sent upload up by path: without an index, a scan of every recording per file
    "CREATE INDEX IF NOT EXISTS recordings_path ON recordings(path)",
)
_HISTORY_COLS = ("revision", "sha256", "sidecar_sha256", "path", "logger_id", "start_time", "night", "sample_rate_hz",
                 "duration_s", "status", "error", "level_db", "leak_probability", "label", "model_version", "batch_id",
                 "processed_utc")


def ensure_history(conn) -> None:
    """Create the ``recording_history`` table (and an index of recordings by path) when the ledger
    has none (call inside a transaction)."""
    for sql in HISTORY_SCHEMA:
        conn.execute(sql)


def _keep_history(conn, rec_id: int, batch_id: int, now: str, reason: str) -> None:
    cols = ", ".join(_HISTORY_COLS)
    conn.execute(f"INSERT INTO recording_history(recording_id, {cols}, replaced_utc, replaced_by_batch, reason) "
                 f"SELECT id, {cols}, ?, ?, ? FROM recordings WHERE id = ?", (now, batch_id, reason, rec_id))


def earlier_record(conn, r: dict):
    """The recording a newly processed upload ``r`` is a re-sent or completed version of, or None.

    The same recording is the same logger with the same start time (whatever the file is called
    now), or, when the start time is unknown, an incomplete upload of the same logger at the same
    path: a WAV file shorter than its header said (:data:`acoustic.io._audio.TRUNCATED_NOTE`).
    Without a start time, a complete file at a path that held another one is a recording of its
    own: a logger that uploads under one name every night overwrites last night's file, and that
    recording must not be replaced by tonight's.  A quarantined entry at the same path (a
    half-written upload, a FIFO put there) is replaced by any readable file that takes its place.

    Returns
    -------
    tuple or None
        ``(id, duration_s, path, status, logger_id, night, start_time)`` of the earlier row.
    """
    cols = "id, duration_s, path, status, logger_id, night, start_time"
    if r["status"] != "ok":  # only the entry of a file that failed before at this path
        return conn.execute(f"SELECT {cols} FROM recordings WHERE status = 'quarantined' AND path = ? ORDER BY id "
                            "DESC LIMIT 1", (r["path"],)).fetchone()
    if r.get("start_time") and r.get("logger_id"):
        row = conn.execute(f"SELECT {cols} FROM recordings WHERE status = 'ok' AND logger_id = ? AND start_time = ? "
                           "ORDER BY id LIMIT 1", (r["logger_id"], r["start_time"])).fetchone()
        if row is not None:
            return row
    elif r.get("logger_id"):
        from ..io._audio import TRUNCATED_NOTE

        row = conn.execute(f"SELECT {cols} FROM recordings WHERE status = 'ok' AND logger_id = ? AND path = ? "
                           "AND start_time IS NULL AND instr(warnings_json, ?) > 0 ORDER BY id DESC LIMIT 1",
                           (r["logger_id"], r["path"], TRUNCATED_NOTE)).fetchone()
        if row is not None:
            return row
    return conn.execute(f"SELECT {cols} FROM recordings WHERE status = 'quarantined' AND path = ? ORDER BY id DESC "
                        "LIMIT 1", (r["path"],)).fetchone()


def _mark_old(conn, old_logger, area_of, batch_id) -> None:
    if old_logger is not None:
        _mark(conn, "logger", old_logger, batch_id)
        if area_of is not None and old_logger in area_of:
            _mark(conn, "area", area_of[old_logger], batch_id)


def commit_recordings(conn, batch_id: int, results: list[dict], cache_rows, area_of: dict | None,
                      feature_names_seen: set) -> dict:
    """Write one chunk of processed recordings (call inside a transaction).

    A late sidecar correction updates its recording's row in place; so does a re-sent or
    completed upload of a recording already in the ledger (:func:`earlier_record`), when it is at
    least as long as the earlier version (a shorter re-send is kept as a sighting of the recording,
    not used).  Either way the earlier version's row goes to ``recording_history`` first, and its
    logger and area are marked for re-scoring and re-surveying.

    Parameters
    ----------
    results : list of dict
        Output of :func:`acoustic.batch._work.process_recordings` (``row_key``, when present, is
        the row's key instead of the audio hash: a copy of quarantined bytes under another name).
    cache_rows : list of tuple
        ``scan_cache`` rows of the chunk's files.
    area_of : dict or None
        logger_id -> area (from the survey's loggers.csv); None without a survey.
    feature_names_seen : set
        Feature versions whose names are already stored (updated in place).

    Returns
    -------
    dict
        Counts ``new``, ``corrections``, ``replaced``, ``shorter``, ``quarantined``, ``detections``,
        and ``notes``: one line per replacement or shorter re-send, for the batch's output.
    """
    now = utc_now()
    counts = {"new": 0, "corrections": 0, "replaced": 0, "shorter": 0, "quarantined": 0, "detections": 0,
              "notes": []}
    for r in results:
        placed = _place_recording(conn, batch_id, r, area_of, now, counts)
        if placed is None:  # a shorter re-send: a sighting of the recording, nothing else
            continue
        rec_id, sighting = placed
        conn.execute("INSERT INTO sightings(path, sha256, sidecar_sha256, kind, recording_id, batch_id, seen_utc) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (r["path"], r["sha256"], r["sidecar_sha256"], sighting, rec_id, batch_id, now))
        if r["status"] != "ok":
            counts["quarantined"] += 1
            continue
        counts["detections"] += _write_results(conn, batch_id, rec_id, r, area_of, feature_names_seen, now)
    _write_cache(conn, cache_rows)
    return counts


def _row_values(r: dict, batch_id: int, now: str) -> dict:
    """The ``recordings`` columns of a processed upload (all but its key)."""
    return dict(
        path=r["path"], logger_id=r.get("logger_id"), start_time=r.get("start_time"),
        sample_rate_hz=r.get("sample_rate_hz"), duration_s=r.get("duration_s"), status=r["status"],
        error=r.get("error"), level_db=r.get("level_db"), leak_probability=r.get("leak_probability"),
        label=r.get("label"), features_version=r.get("features_version"), model_version=r.get("model_version"),
        batch_id=batch_id, processed_utc=now, sidecar_sha256=r["sidecar_sha256"], night=r.get("night"),
        warnings_json=dumps(r["warnings"]) if r.get("warnings") else None,
    )


def _place_recording(conn, batch_id: int, r: dict, area_of, now: str, counts: dict) -> tuple[int, str] | None:
    """Write the row of one processed upload: a correction or a replacement updates the earlier row
    (its old version to ``recording_history``), anything else is a new row; ``counts`` updated.

    Returns
    -------
    (int, str) or None
        The row's id and the kind of sighting to record; None for a shorter re-send, already
        recorded as a sighting of the recording it repeats.
    """
    key = r.get("row_key") or r["sha256"]
    cols = _row_values(r, batch_id, now)
    if r["kind"] == "correction":
        rec_id, old_logger, _night = conn.execute("SELECT id, logger_id, night FROM recordings WHERE sha256 = ?",
                                                  (key,)).fetchone()
        _mark_old(conn, old_logger, area_of, batch_id)
        _keep_history(conn, rec_id, batch_id, now, f"late sidecar correction from {r['path']}")
        _update(conn, rec_id, cols)
        counts["corrections"] += 1
        return rec_id, "correction"
    prev = earlier_record(conn, r)
    if prev is not None and prev[3] == "ok" and (prev[1] or 0.0) > (r.get("duration_s") or 0.0) + 1e-9:
        # a shorter upload of a recording the ledger has in full: a sighting of it, not used
        conn.execute("INSERT OR IGNORE INTO sightings(path, sha256, sidecar_sha256, kind, recording_id, "
                     "batch_id, seen_utc) VALUES (?, ?, ?, 'duplicate', ?, ?, ?)",
                     (r["path"], r["sha256"], r["sidecar_sha256"], prev[0], batch_id, now))
        counts["shorter"] += 1
        counts["notes"].append(
            f"{r['path']}: {r.get('duration_s', 0):.3g} s of logger {r.get('logger_id')} starting "
            f"{r.get('start_time') or '(unknown)'}, shorter than the {prev[1]:.3g} s already recorded from "
            f"{prev[2]}; kept as a sighting of that recording, not used")
        return None
    if prev is None:
        names = ", ".join(["sha256", *cols])
        marks = ", ".join("?" * (len(cols) + 1))
        rec_id = conn.execute(f"INSERT INTO recordings({names}) VALUES ({marks})", (key, *cols.values())).lastrowid
        counts["new"] += 1
        return rec_id, r["kind"]
    rec_id = prev[0]
    _mark_old(conn, prev[4], area_of, batch_id)
    what = "a quarantined entry" if prev[3] != "ok" else f"{prev[1] or 0:.3g} s"
    _keep_history(conn, rec_id, batch_id, now, f"replaced by {r['path']} ({r.get('duration_s') or 0:.3g} s): a re-sent "
                                                f"or completed upload of {prev[2]} ({what})")
    _update(conn, rec_id, {"sha256": key, **cols})
    if r["status"] == "ok":  # (a failed file where a failed file was: still one entry for the path, no news)
        counts["replaced"] += 1
        counts["notes"].append(f"{r['path']}: a re-sent or completed upload of {prev[2]} ({what}); it "
                               "replaces that record, whose earlier version is kept in its history")
    return rec_id, "correction"


def _write_results(conn, batch_id: int, rec_id: int, r: dict, area_of, feature_names_seen: set, now: str) -> int:
    """Features, a recording detection and the pending marks of a recording processed ``ok``.

    Returns
    -------
    int
        Detections written (0 or 1).
    """
    key = r.get("row_key") or r["sha256"]
    version = r["features_version"]
    if version not in feature_names_seen and r.get("feature_names"):
        conn.execute("INSERT OR IGNORE INTO feature_names(features_version, names_json, units_json) VALUES (?, ?, ?)",
                     (version, json.dumps(list(r["feature_names"])), json.dumps(list(r.get("feature_units") or []))))
        feature_names_seen.add(version)
    conn.execute("INSERT INTO recording_features(recording_id, features_version, values_f32, block_levels_db_f32, "
                 "block_s) VALUES (?, ?, ?, ?, ?)",
                 (rec_id, version, r["features"].tobytes(), r["block_levels_db"].tobytes(), r.get("block_s", 1.0)))
    detected = r.get("label") == "leak"
    if detected:
        conn.execute(
            "INSERT INTO detections(natural_key, kind, recording_id, area, night, logger_ids, score, evidence_json, "
            "model_version, batch_id, created_utc) VALUES (?, 'recording', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (f"recording|{key}", rec_id, (area_of or {}).get(r["logger_id"]), r.get("night"),
             json.dumps([r["logger_id"]]), r["leak_probability"],
             dumps({"leak_probability": r["leak_probability"], "threshold": r.get("threshold"),
                    "level_db": r["level_db"], "file": r["path"]}),
             r["model_version"], batch_id, now))
    _mark(conn, "logger", r["logger_id"], batch_id)
    if area_of is not None and r.get("night") and r["logger_id"] in area_of:
        _mark(conn, "area", area_of[r["logger_id"]], batch_id)
    return int(detected)


def _update(conn, rec_id: int, cols: dict) -> None:
    """Replace a recording row's values (a correction or a replacement): its results are recomputed."""
    sets = ", ".join(f"{k} = ?" for k in cols)
    conn.execute(f"UPDATE recordings SET {sets}, revision = revision + 1 WHERE id = ?", (*cols.values(), rec_id))
    conn.execute("DELETE FROM recording_features WHERE recording_id = ?", (rec_id,))
    conn.execute("DELETE FROM detections WHERE kind = 'recording' AND recording_id = ?", (rec_id,))


def commit_duplicates(conn, batch_id: int, dups: list[dict], cache_rows) -> int:
    """Record files whose exact content (audio and sidecar) is already in the ledger under another name."""
    now = utc_now()
    n = 0
    for d in dups:
        if d["table"] == "recordings":
            row = conn.execute("SELECT id FROM recordings WHERE sha256 = ?", (d["sha256"],)).fetchone()
            conn.execute("INSERT OR IGNORE INTO sightings(path, sha256, sidecar_sha256, kind, recording_id, batch_id, "
                         "seen_utc) VALUES (?, ?, ?, 'duplicate', ?, ?, ?)",
                         (d["path"], d["sha256"], d["sidecar_sha256"], row[0], batch_id, now))
        else:
            row = conn.execute("SELECT id FROM stats_files WHERE sha256 = ?", (d["sha256"],)).fetchone()
            conn.execute("INSERT OR IGNORE INTO sightings(path, sha256, sidecar_sha256, kind, stats_file_id, batch_id, "
                         "seen_utc) VALUES (?, ?, '', 'stats_duplicate', ?, ?, ?)",
                         (d["path"], d["sha256"], row[0], batch_id, now))
        n += 1
    _write_cache(conn, cache_rows)
    return n


def commit_stats_file(conn, batch_id: int, res: dict, cache_rows) -> dict:
    """Write one uploaded stats.csv: its file row, its logger-night rows, pending logger scores.

    A logger-night already in the ledger is overwritten by a later upload (the newest file
    is taken as the correction), and the source column says which file gave the value.
    """
    now = utc_now()
    sid = conn.execute(
        "INSERT INTO stats_files(sha256, path, n_rows, status, error, batch_id, processed_utc, warnings_json) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (res["sha256"], res["path"], len(res["rows"]), res["status"], res["error"], batch_id, now,
         dumps(res["warnings"]) if res.get("warnings") else None)).lastrowid
    conn.execute("INSERT INTO sightings(path, sha256, sidecar_sha256, kind, stats_file_id, batch_id, seen_utc) "
                 "VALUES (?, ?, '', 'stats', ?, ?, ?)", (res["path"], res["sha256"], sid, batch_id, now))
    changed = 0
    loggers = set()
    for logger_id, date, level, spread in res["rows"]:
        cur = conn.execute(
            "INSERT INTO logger_nights(logger_id, date, level, spread, source) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(logger_id, date) DO UPDATE SET level = excluded.level, spread = excluded.spread, "
            "source = excluded.source WHERE logger_nights.level IS NOT excluded.level "
            "OR logger_nights.spread IS NOT excluded.spread",
            (logger_id, date, float(level), float(spread), f"stats:{res['sha256'][:16]}"))
        changed += cur.rowcount
        loggers.add(logger_id)
    for lid in sorted(loggers):
        _mark(conn, "logger", lid, batch_id)
    _write_cache(conn, cache_rows)
    return {"rows": len(res["rows"]), "changed": changed, "quarantined": int(res["status"] != "ok")}


def commit_logger_scores(conn, batch_id: int, scores: list[dict], nights: list[tuple], loggers: list[str]) -> int:
    """Write logger scores (and nightly rows derived from recordings) and clear their pending marks."""
    now = utc_now()
    for logger_id, date, level, spread, source in nights:
        conn.execute(
            "INSERT INTO logger_nights(logger_id, date, level, spread, source) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(logger_id, date) DO UPDATE SET level = excluded.level, spread = excluded.spread, "
            "source = excluded.source WHERE logger_nights.source LIKE 'recordings%' AND "
            "(logger_nights.level IS NOT excluded.level OR logger_nights.spread IS NOT excluded.spread)",
            (logger_id, date, level, spread, source))
    n = 0
    for s in scores:
        cur = conn.execute(
            "INSERT INTO logger_scores(logger_id, as_of, score, alarm, nights_used, reasons_json, batch_id, updated_utc) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(logger_id, as_of) DO UPDATE SET score = excluded.score, "
            "alarm = excluded.alarm, nights_used = excluded.nights_used, reasons_json = excluded.reasons_json, "
            "batch_id = excluded.batch_id, updated_utc = excluded.updated_utc "
            "WHERE logger_scores.score IS NOT excluded.score OR logger_scores.alarm IS NOT excluded.alarm "
            "OR logger_scores.nights_used IS NOT excluded.nights_used "
            "OR logger_scores.reasons_json IS NOT excluded.reasons_json",
            (s["logger_id"], s["as_of"], s["score"], int(bool(s["alarm"])), s.get("nights_used"),
             dumps(s.get("reasons", [])), batch_id, now))
        n += cur.rowcount
    conn.executemany("DELETE FROM pending WHERE kind = 'logger' AND key = ?", [(lid,) for lid in loggers])
    return n


def _suspect_rows(area: str, night: str, result: dict, params: dict, model_version: str | None) -> list[dict]:
    """Suspect rows from one area survey's areas, lines and points (with their identity keys).

    Areas and lines with a score of 0 (no evidence) are candidates, not suspects, and are left out;
    points are those the survey reports (above its confidence threshold).
    """
    from ._survey import ALL_AREAS

    rows = []
    pkey = dumps(params)
    spacing = {}
    for ln in result.get("lines", []):
        spacing[(ln.get("from_logger"), ln.get("to_logger"))] = ln.get("length_m")
        spacing[(ln.get("to_logger"), ln.get("from_logger"))] = ln.get("length_m")
    for a in result.get("areas", []):
        if (area != ALL_AREAS and a.get("area") != area) or not (a.get("score") or 0) > 0:
            continue
        rows.append(dict(kind="area", natural_key=f"area|{a.get('area')}", area=a.get("area"),
                         score=a.get("score"), evidence_json=dumps(a)))
    for ln in result.get("lines", []):
        if not (ln.get("score") or 0) > 0:  # a candidate run with no evidence is not a suspect
            continue
        pipes = list(ln.get("pipe_ids") or [])
        a, b = sorted([str(ln.get("from_logger")), str(ln.get("to_logger"))])
        rows.append(dict(kind="line", natural_key=f"line|{area}|{a}|{b}", area=area, pipe_ids=json.dumps(pipes),
                         from_logger=ln.get("from_logger"), to_logger=ln.get("to_logger"), score=ln.get("score"),
                         evidence_json=dumps(ln), spacing_m=ln.get("length_m")))
    for p in result.get("points", []):
        lo, hi = (list(p.get("interval_m") or []) + [None, None])[:2]
        loggers = list(p.get("loggers") or [])
        a, b = (loggers + [None, None])[:2]
        rows.append(dict(
            kind="point", natural_key=f"point|{area}|{p.get('pipe_id')}|{float(p['offset_m']):.1f}",
            area=area, pipe_id=p.get("pipe_id"), offset_m=p.get("offset_m"), x=p.get("x"), y=p.get("y"),
            interval_lo_m=lo, interval_hi_m=hi, confidence=p.get("confidence"),
            score=p.get("score", p.get("confidence")), spacing_m=spacing.get((a, b)),
            from_logger=a, to_logger=b, evidence_json=dumps(p)))
    for r in rows:
        r.update(night=night, model_version=model_version, params_json=pkey)
    return rows


def _match(conn, area: str, r: dict, taken: set):
    """The existing suspect a new row is: same area and kind, and the same place.

    Areas by name, lines by their logger pair, points on the same pipe within
    max(:data:`POINT_MATCH_M`, the suspect's interval half-width).  Open suspects (current or
    superseded), dispatched ones and confirmed ones (a found leak stays audible until it is
    repaired) are matched; only a place dug without finding a leak (``no_leak``) can become a
    new suspect again, with the dry dig on record beside it.  A point within
    :data:`acoustic.ledger._merge.SUSPECT_MERGE_M` of any area's suspect is that suspect's source
    (:func:`acoustic.ledger._merge.match_point`; status ``merged`` when it must not update it).
    """
    if r["kind"] != "point":
        row = conn.execute("SELECT id, status, evidence_json, superseded_utc, params_json, night FROM suspects "
                           "WHERE natural_key = ?", (r["natural_key"],)).fetchone()
        return row if row is not None and row[1] != "no_leak" and row[0] not in taken else None
    from ..ledger._merge import match_point  # one source, one suspect: across areas and nodes too

    return match_point(conn, area, r, taken, point_match_m=POINT_MATCH_M)


def clear_area(conn, area: str) -> None:
    """Drop the pending mark of an area that could not be surveyed (recorded in the batch summary)."""
    conn.execute("DELETE FROM pending WHERE kind = 'area' AND key = ?", (area,))


def commit_area_survey(conn, batch_id: int, area: str, night: str, result: dict, params: dict,
                       model_version: str | None) -> dict:
    """Write one area survey (as of ``night``) as the area's current suspects; clear its pending mark.

    A suspect is a place, not a night: a leak heard night after night stays one suspect, its
    evidence, score and ``night`` (the latest survey night) updated in place.  New places are
    inserted; open suspects of the area that the survey no longer finds are marked superseded
    (kept, hidden from ``acoustic ledger list``).  Dispatched, confirmed and no-leak suspects are
    never changed, and a place matching a dispatched or confirmed one adds no new suspect (see
    :func:`_match`).  An identical result changes no row.
    """
    now = utc_now()
    counts = {"new": 0, "updated": 0, "superseded": 0, "detections": 0}
    taken: set = set()
    for r in _suspect_rows(area, night, result, params, model_version):
        old = _match(conn, area, r, taken)
        if old is None:
            key = r["natural_key"]
            if conn.execute("SELECT 1 FROM suspects WHERE natural_key = ?", (key,)).fetchone():
                r["natural_key"] = f"{key}|{night}|{batch_id}"  # dug before without a leak: a new suspect
            cols = ["batch_id", "created_utc", *r]
            sid = conn.execute(f"INSERT INTO suspects({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                               (batch_id, now, *r.values())).lastrowid
            counts["new"] += 1
        else:
            sid = old[0]
            same = (old[2] == r["evidence_json"] and old[3] is None and old[4] == r["params_json"]
                    and old[5] == r["night"])
            if old[1] == "open" and not same:
                upd = {k: v for k, v in r.items() if k != "natural_key"}
                sets = ", ".join(f"{k} = ?" for k in upd)
                conn.execute(f"UPDATE suspects SET {sets}, superseded_utc = NULL, batch_id = ? WHERE id = ?",
                             (*upd.values(), batch_id, sid))
                counts["updated"] += 1
        taken.add(sid)
    for (sid,) in conn.execute("SELECT id FROM suspects WHERE area = ? AND status = 'open' "
                               "AND superseded_utc IS NULL", (area,)).fetchall():
        if sid not in taken:
            conn.execute("UPDATE suspects SET superseded_utc = ? WHERE id = ?", (now, sid))
            counts["superseded"] += 1
    # correlated neighbours with a leak-like peak: the area's pair detections, replaced as a whole
    old_pairs = {r[0]: r[1] for r in conn.execute(
        "SELECT natural_key, evidence_json FROM detections WHERE kind = 'pair' AND area = ?", (area,))}
    new_pairs = {}
    for d in result.get("pairs", []):
        if d.get("detected"):
            a, b = d.get("from_logger"), d.get("to_logger")
            new_pairs[f"pair|{area}|{a}|{b}|{d.get('night')}"] = (a, b, d)
    if {k: dumps(v[2]) for k, v in new_pairs.items()} != old_pairs:
        conn.execute("DELETE FROM detections WHERE kind = 'pair' AND area = ?", (area,))
        for key, (a, b, d) in new_pairs.items():
            conn.execute(
                "INSERT INTO detections(natural_key, kind, area, night, logger_ids, score, evidence_json, "
                "model_version, batch_id, created_utc) VALUES (?, 'pair', ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, area, d.get("night"), json.dumps([a, b]), d.get("confidence"), dumps(d), model_version,
                 batch_id, now))
            counts["detections"] += 1
    clear_area(conn, area)
    return counts
