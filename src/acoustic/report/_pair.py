"""Pair jobs in a report: a crew's ``acoustic correlate --json`` result, on its own or from the ledger.

A pair job needs no network: its "pipe" is the path from sensor A to sensor B that the result
names (``pipe``), its ends are the two sensors, and the crew digs at a distance from one of them.
The two recordings are correlated again with the same pipe (:func:`acoustic.correlate.correlate_pair`)
for the correlogram and coherence plots; what cannot be recomputed (recordings moved) is said in
the notes and the result's own numbers are shown.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._errors import AcousticError
from .._warnings import collect_warnings
from ._evidence import SuspectEvidence

__all__ = ["pair_point", "pair_dig_sheet", "pair_evidence"]


def pair_point(job, *, ledger_row: dict | None = None) -> dict:
    """The report's point dict of a pair job (:class:`acoustic.ledger._pairs.PairJob`)."""
    r = job.result
    a, b = job.sensor_ids
    off = r.get("distance_from_a_m")
    iv = r.get("interval_m") or [off, off]
    p = {"pipe_id": job.pipe_id, "offset_m": off, "interval_m": [float(iv[0]), float(iv[1])],
         "sd_m": r.get("distance_sd_m"), "confidence": r.get("confidence"), "loggers": [a, b], "origin": "pair",
         "pair_files": [str(f) for f in job.files], "pair_start_times": list(job.start_times),
         "pipe_length_m": job.length_m, "pair_result": r, "pipe_doc": job.pipe_doc, "x": None, "y": None}
    if ledger_row:
        p.update({k: ledger_row.get(k) for k in ("ledger_id", "status", "outcome", "night", "area", "spacing_m")})
    return p


def _segments(doc: dict) -> list[dict]:
    segs = doc.get("segments") if isinstance(doc, dict) else None
    return [s for s in segs if isinstance(s, dict)] if isinstance(segs, list) else []


def pair_dig_sheet(point: dict) -> dict:
    """Dig-sheet numbers of a pair job: distances along the path from each sensor."""
    from ..ledger._network import clamp_offset

    a, b = point["loggers"][:2]
    length = float(point["pipe_length_m"])
    off = clamp_offset(float(point["offset_m"]), length, what=f"pair {a}-{b}: distance from {a}")
    lo, hi = (min(max(float(v), 0.0), length) for v in point["interval_m"])
    segs = _segments(point.get("pipe_doc") or {})
    mats = list(dict.fromkeys(str(s.get("material")) for s in segs if s.get("material")))
    start = {"node_id": a, "x": None, "y": None, "distance_m": off, "interval_m": [lo, hi]}
    end = {"node_id": b, "x": None, "y": None, "distance_m": length - off, "interval_m": [length - hi, length - lo]}
    nearest = start if off <= length - off else end
    first = segs[0] if segs else {}
    return {"pipe_id": point["pipe_id"], "kind": "pair", "reference": "sensor", "material": "/".join(mats) or "unknown",
            "diameter_mm": first.get("diameter_mm"), "wall_mm": first.get("wall_mm"),
            "wall_is_typical": first.get("wall_mm") is None, "pipe_length_m": length, "offset_m": off,
            "sd_m": point.get("sd_m"), "interval_m": [lo, hi], "interval_beyond_pipe": False, "x": None, "y": None,
            "lat": None, "lon": None, "interval_xy": None, "start_node": start, "end_node": end,
            "nearest_node": nearest,
            "nearest_logger": {"logger_id": nearest["node_id"], "distance_m": nearest["distance_m"], "node_id": None,
                               "pipe_id": point["pipe_id"], "offset_m": 0.0 if nearest is start else length},
            "equipment": {}, "segments": segs}


def pair_evidence(rank: int, point: dict, *, correlate_kw=None, cache: dict | None = None) -> SuspectEvidence:
    """The evidence of a pair job: dig numbers, the pair re-correlated (correlogram, coherence)."""
    from ..io import read_recording
    from ..io._pipejson import pipe_from_dict
    from . import _plots

    ev = SuspectEvidence(rank, point)
    cache = {} if cache is None else cache
    ev.dig = pair_dig_sheet(point)
    a, b = point["loggers"][:2]
    files = [Path(f) for f in point.get("pair_files") or []]
    missing = [str(f) for f in files if not f.is_file()]
    ev.correlation = dict(point.get("pair_result") or {})
    if len(files) != 2 or missing:
        ev.notes.append("correlogram left out: the pair's recordings are not there ("
                        + (", ".join(missing) or "not named") + "); the numbers are the result's own")
        return ev
    key = ("pair", str(files[0]), str(files[1]))
    try:
        if key not in cache:
            with collect_warnings(foreign="ignore") as caught:
                from ..correlate import correlate_pair

                path = pipe_from_dict(point["pipe_doc"], where=f"pair {a}-{b} pipe")
                res = correlate_pair(read_recording(files[0]), read_recording(files[1]), path, **(correlate_kw or {}))
            cache[key] = (res, caught.messages)
        res, corr_warnings = cache[key]
    except AcousticError as exc:
        ev.notes.append(f"correlogram left out: the pair {a}-{b} could not be correlated again ({exc})")
        return ev
    js = res.to_json()
    js["warnings"] = list(dict.fromkeys(list(js.get("warnings") or []) + corr_warnings))
    ev.correlation = js
    length = float(point["pipe_length_m"])
    started = point["pair_start_times"][0]
    ev.pair = {"from_logger": a, "to_logger": b, "night": point.get("night") or (str(started)[:10] if started else None),
               "files": [str(f) for f in files], "overlap_s": js.get("duration_s"), "route": [(point["pipe_id"], 0.0,
                                                                                              length)],
               "route_length_m": length, "point_on_route_m": ev.dig["offset_m"],
               "interval_on_route_m": ev.dig["interval_m"], "measured_on_route_m": []}
    cg = res.correlogram
    pos = np.asarray(cg.positions_m, dtype=np.float64)
    inside = (pos > 0.0) & (pos < length)
    order = np.argsort(pos[inside])
    ev.plots["correlogram"] = _plots.plot_correlogram(
        pos[inside][order], np.asarray(cg.values, dtype=np.float64)[inside][order], route_length_m=length,
        label_a=a, label_b=b, point_m=ev.dig["offset_m"], interval_m=tuple(ev.dig["interval_m"]), measured_m=[],
        pipe_breaks=[], title=f"pair {a}-{b}: {'leak-like peak' if js.get('detected') else 'no leak-like peak'}")
    ev.plots["coherence"] = _plots.plot_coherence(
        cg.freqs_hz, cg.coherence, cg.coherence_smooth, band_hz=tuple(cg.band_hz),
        threshold=js.get("coherence_threshold"), notch=cg.notch,
        title=f"coherence {a}-{b} (mean {js.get('coherence_mean') or 0:.2f} in band)")
    ev.notes.append("a pair job: no network map, spectrum or level history (the result names no network)")
    return ev
