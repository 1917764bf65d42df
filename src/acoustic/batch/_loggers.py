"""Logger scores in a batch: nightly level/spread histories from the ledger -> ``acoustic.loggers``.

A logger's history comes from one source only, because the two are in different units:

- uploaded ``stats.csv`` rows (the logger's own dB units, as the logger computed them), when the
  logger has any;
- otherwise nightly values derived from its recordings in the ledger, exactly as
  ``acoustic loggers stats`` derives them (:func:`acoustic.loggers.night_statistics` over the
  per-frame calibrated levels of all the logger's recordings of the night: level = L50,
  spread = L10 - L90, dB re 1 calibrated unit).

The score is the project's one logger scorer (:func:`acoustic.loggers.score_loggers`: the
logger's level and spread placed within the same night's fleet -- the ledger's loggers, by area
when the batch knows the areas and by history source -- combined with the step against its own
history), computed as of the logger's latest night and stored per (logger, as_of) in
``logger_scores``.  The ledger's ``logger_nights`` has no area or model column: an uploaded
stats.csv's ``model`` column is not kept, so uploaded histories form one group per area.
"""

from __future__ import annotations

from datetime import date

import numpy as np

__all__ = ["nightly_from_recordings", "score_pending_loggers"]


def nightly_from_recordings(conn, logger_id: str) -> list[tuple]:
    """``(logger_id, night, level_db, spread_db, source)`` per night with ok recordings of ``logger_id``."""
    from ..loggers import night_statistics

    rows = conn.execute(
        "SELECT r.night, f.block_levels_db_f32 FROM recordings r JOIN recording_features f ON f.recording_id = r.id "
        "WHERE r.logger_id = ? AND r.status = 'ok' AND r.night IS NOT NULL ORDER BY r.night, r.start_time, r.id",
        (logger_id,)).fetchall()
    by_night: dict[str, list] = {}
    for night, blob in rows:
        if blob:
            by_night.setdefault(night, []).append(np.frombuffer(blob, dtype=np.float32))
    out = []
    for night, parts in sorted(by_night.items()):
        st = night_statistics(np.concatenate(parts).astype(np.float64))
        out.append((logger_id, night, round(st["level"], 4), round(st["spread"], 4), f"recordings:{len(parts)}"))
    return out


def _fleet_rows(conn, pending_derived: dict, areas: dict | None) -> dict:
    """Every logger's history in the ledger as StatsRows, one source per logger.

    Uploaded rows where the logger has any, else its nights derived from recordings (those of
    ``pending_derived`` replace the stored ones).  ``extra``: ``area`` from ``areas`` when known,
    ``model`` the history's source kind (uploaded stats are in the logger's own dB, derived
    nights in calibrated dB: they are never compared in one group).
    """
    from ..loggers import StatsRow

    hist: dict[str, list] = {}
    kind: dict[str, str] = {}
    for lid, d, lv, sp, src in conn.execute("SELECT logger_id, date, level, spread, source FROM logger_nights "
                                            "ORDER BY logger_id, date"):
        k = "recordings" if (src or "").startswith("recordings") else "uploaded"
        if kind.get(lid) == "uploaded" and k == "recordings":
            continue
        if kind.get(lid) == "recordings" and k == "uploaded":
            hist[lid] = []
        kind[lid] = k
        hist.setdefault(lid, []).append((d, lv, sp))
    for lid, rows in pending_derived.items():
        if kind.get(lid) != "uploaded":
            hist[lid] = [(d, lv, sp) for _, d, lv, sp, _ in rows]
            kind[lid] = "recordings"
    out = {}
    for lid, h in hist.items():
        extra = {"area": str((areas or {}).get(lid) or ""), "model": f"source={kind[lid]}"}
        out[lid] = [StatsRow(lid, date.fromisoformat(d), float(lv), float(sp), 0, extra) for d, lv, sp in h
                    if lv is not None and sp is not None]
    return out


def score_pending_loggers(conn, logger_ids: list[str], areas: dict | None = None) -> tuple[list[tuple], list[dict]]:
    """Nightly rows derived from recordings, and the scores of ``logger_ids``.

    Each logger is scored by :func:`acoustic.loggers.score_loggers`' scorer (the same as
    ``acoustic loggers score`` and the survey): placed within the ledger's fleet of the same
    nights (grouped by area when ``areas`` maps logger ids to areas, and by the source of the
    history) and against its own history, as of its latest night.

    Returns
    -------
    nights : list of tuple
        ``(logger_id, date, level, spread, source)`` to upsert (never over uploaded rows).
    scores : list of dict
        ``logger_id``, ``as_of``, ``score`` (probability 0..1), ``alarm``, ``nights_used``,
        ``reasons`` (plus confidence, stale_nights and the evidence numbers).
    """
    from ..loggers import FleetConfig, fleet_positions
    from ..loggers._fleet import score_one

    nights_out: list[tuple] = []
    derived: dict[str, list] = {}
    for lid in logger_ids:
        n_up = conn.execute("SELECT COUNT(*) FROM logger_nights WHERE logger_id = ? AND source NOT LIKE 'recordings%'",
                            (lid,)).fetchone()[0]
        if not n_up:
            derived[lid] = nightly_from_recordings(conn, lid)
            nights_out.extend(derived[lid])
    fleet = _fleet_rows(conn, derived, areas)
    positions = fleet_positions([r for rs in fleet.values() for r in rs], FleetConfig())
    scores: list[dict] = []
    for lid in logger_ids:
        h = fleet.get(lid)
        if not h:
            continue
        res = score_one(lid, h, positions, h[-1].date).as_dict()
        res["as_of"] = h[-1].date.isoformat()
        source = "recordings" if lid in derived else "uploaded stats.csv"
        res["reasons"] = [*res.get("reasons", []), f"nightly history from {source} ({len(h)} night(s))"]
        scores.append(res)
    return nights_out, scores
