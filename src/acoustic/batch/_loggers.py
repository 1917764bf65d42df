"""Logger scores in a batch: nightly level/spread histories from the ledger -> ``acoustic.loggers``.

A logger's history comes from one source only, because the two are in different units:

- uploaded ``stats.csv`` rows (the logger's own dB units, as the logger computed them), when the
  logger has any;
- otherwise nightly values derived from its recordings in the ledger, exactly as
  ``acoustic loggers stats`` derives them (:func:`acoustic.loggers.night_statistics` over the
  per-frame calibrated levels of all the logger's recordings of the night: level = L50,
  spread = L10 - L90, dB re 1 calibrated unit).

The score (:func:`acoustic.loggers.score_history`: each logger against its own baseline, step,
persistence, level against spread) is computed as of the logger's latest night and stored per
(logger, as_of) in ``logger_scores``.
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


def score_pending_loggers(conn, logger_ids: list[str]) -> tuple[list[tuple], list[dict]]:
    """Nightly rows derived from recordings, and the scores of ``logger_ids``.

    Returns
    -------
    nights : list of tuple
        ``(logger_id, date, level, spread, source)`` to upsert (never over uploaded rows).
    scores : list of dict
        ``logger_id``, ``as_of``, ``score`` (0..1), ``alarm``, ``nights_used``, ``reasons``.
    """
    from ..loggers import score_history

    nights_out: list[tuple] = []
    scores: list[dict] = []
    for lid in logger_ids:
        uploaded = conn.execute("SELECT date, level, spread FROM logger_nights WHERE logger_id = ? "
                                "AND source NOT LIKE 'recordings%' ORDER BY date", (lid,)).fetchall()
        if uploaded:
            history = [(d, lv, sp) for d, lv, sp in uploaded]
            source = "uploaded stats.csv"
        else:
            derived = nightly_from_recordings(conn, lid)
            nights_out.extend(derived)
            history = [(d, lv, sp) for _, d, lv, sp, _ in derived]
            source = "recordings"
        if not history:
            continue
        dates = [date.fromisoformat(d) for d, _, _ in history]
        res = score_history(lid, dates, [h[1] for h in history], [h[2] for h in history], dates[-1]).as_dict()
        res["as_of"] = dates[-1].isoformat()
        res["reasons"] = [*res.get("reasons", []), f"nightly history from {source} ({len(history)} night(s))"]
        scores.append(res)
    return nights_out, scores
