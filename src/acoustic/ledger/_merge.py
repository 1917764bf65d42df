"""One source, one suspect: a located point that is an existing suspect's source enters the
ledger as that suspect, not beside it.

The batch surveys each area on its own; a leak on a pipe between two areas is located by both
surveys, a few metres apart (each sees it from its own side), and one area's survey can place two
points near one leak.  :func:`match_point` (called by the batch when it writes an area survey)
decides which existing point suspect a new point is:

1. the area's own suspect on the same pipe within ``max(point_match_m, the suspect's interval
   half-width)``: the same suspect, updated with the new survey (the batch's rule since v2);
2. otherwise any point suspect, of any area, dug or not (except those dug without a leak), on
   the same pipe or across a node within :data:`SUSPECT_MERGE_M` along the pipes: the same
   source.  It is updated when it belongs to the same area (the estimate moved) or was
   superseded (the other area no longer hears it); otherwise it is left as it is and the new
   point adds nothing (``MERGED``).

A suspect whose dig found a leak stands for that leak only while it may still be heard: up to
:data:`~acoustic.ledger._leaks.LEAK_MERGE_DAYS` after the dig (then it is taken as repaired, the
payment statistics' own rule).  A point placed near it on a later night is a new suspect.

The cost of merging at entry: two distinct leaks within :data:`SUSPECT_MERGE_M` of each other
(on one pipe, or either side of a node) heard at the same time are one suspect.  The crew is sent
to one place; the other leak becomes a suspect of its own only when the survey still places a
point there more than ``LEAK_MERGE_DAYS`` after the first was dug (or, if the first suspect is
dug dry, on the next survey night).  A crew that finds the second leak while digging can enter it
as a pair job (``acoustic correlate --json`` then ``acoustic ledger add``).
"""

from __future__ import annotations

import json
import math

__all__ = ["SUSPECT_MERGE_M", "MERGED", "match_point", "evidence_ends"]

#: Located points within this distance (m, along the pipes) of an existing point suspect are the
#: same source.  Calibrated on simulated batches only: on net3 (acoustic.simulate survey, seed 3,
#: 14 nights, two areas) the two areas' surveys placed one leak 20 m apart on its pipe (the issue's
#: run: three points 12 m apart); two distinct leaks this close at one time are rare at reported
#: leak densities (about one per km), and one excavation at either exposes the question.
SUSPECT_MERGE_M = 25.0
#: Status returned for a point merged into a suspect that must not be updated by it.
MERGED = "merged"


def evidence_ends(offset_m, evidence) -> list[tuple[str, float]]:
    """``(node_id, distance_m)`` of the pipe end a survey point's evidence names (its nearest node;
    the batch's match query looks suspects up by that node, so the far end is not used)."""
    if not isinstance(evidence, dict) or offset_m is None:
        return []
    nn = evidence.get("nearest_node")
    if not isinstance(nn, dict) or nn.get("node_id") is None or not isinstance(nn.get("distance_m"), (int, float)):
        return []
    return [(str(nn["node_id"]), float(nn["distance_m"]))]


def _load(text):
    try:
        v = json.loads(text) if text else None
    except (TypeError, ValueError):
        return None
    return v if isinstance(v, dict) else None


def _distance(pipe_a, off_a, ev_a, pipe_b, off_b, ev_b) -> float:
    if str(pipe_a) == str(pipe_b):
        return abs(float(off_a) - float(off_b))
    best = math.inf
    for na, da in evidence_ends(off_a, ev_a):
        for nb, db in evidence_ends(off_b, ev_b):
            if na == nb:
                best = min(best, da + db)
    return best


def _repaired(dug_on, night) -> bool:
    """Whether a leak dug on ``dug_on`` is taken as repaired by survey night ``night``: more than
    :data:`~acoustic.ledger._leaks.LEAK_MERGE_DAYS` later (the payment statistics' own rule for
    when a leak at the same place is a new one).  False when either date is unknown."""
    import datetime as _dt

    from ._leaks import LEAK_MERGE_DAYS

    try:
        days = (_dt.date.fromisoformat(str(night)[:10]) - _dt.date.fromisoformat(str(dug_on)[:10])).days
    except ValueError:
        return False
    return days > LEAK_MERGE_DAYS


def match_point(conn, area: str, r: dict, taken: set, *, point_match_m: float):
    """The existing suspect a new point row is (module docs), or None for a new suspect.

    Parameters
    ----------
    conn : sqlite3.Connection
    area : str
        The area surveyed.
    r : dict
        The new suspect row (``pipe_id``, ``offset_m``, ``evidence_json``).
    taken : set of int
        Suspects already matched by this survey.
    point_match_m : float
        Rule 1's distance floor (m).

    Returns
    -------
    tuple or None
        ``(id, status, evidence_json, superseded_utc, params_json, night)`` of the suspect; its
        status is :data:`MERGED` when the new point must not update it.
    """
    off = r.get("offset_m")
    if off is None or r.get("pipe_id") is None:
        return None
    ev_new = _load(r.get("evidence_json"))
    near = evidence_ends(off, ev_new)
    cols = ("id, status, evidence_json, superseded_utc, params_json, night, offset_m, interval_lo_m, interval_hi_m, "
            "area, pipe_id, (SELECT o.dug_on FROM outcomes o WHERE o.suspect_id = suspects.id AND o.leak_found = 1)")
    rows = conn.execute(f"SELECT {cols} FROM suspects WHERE kind = 'point' AND status != 'no_leak' AND pipe_id = ?",
                        (r["pipe_id"],)).fetchall()
    if near:
        rows += conn.execute(
            f"SELECT {cols} FROM suspects WHERE kind = 'point' AND status != 'no_leak' AND pipe_id != ? "
            "AND json_valid(evidence_json) AND json_extract(evidence_json, '$.nearest_node.node_id') = ?",
            (r["pipe_id"], near[0][0])).fetchall()
    own, other = None, None
    for row in rows:
        if row[6] is None or _repaired(row[11], r.get("night")):
            continue
        sid, same_area, same_pipe = row[0], row[9] == area, str(row[10]) == str(r["pipe_id"])
        d = _distance(r["pipe_id"], off, ev_new, row[10], row[6], None if same_pipe else _load(row[2]))
        if not math.isfinite(d):
            continue
        half = 0.5 * (row[8] - row[7]) if row[7] is not None and row[8] is not None else 0.0
        if (same_area and sid not in taken and same_pipe and d <= max(point_match_m, half)
                and (own is None or d < own[0])):
            own = (d, row)
        elif d <= SUSPECT_MERGE_M and (other is None or d < other[0]):
            other = (d, row)
    if own is not None:
        return tuple(own[1][:6])
    if other is None:
        return None
    row = other[1]
    update = row[0] not in taken and (row[9] == area or row[3] is not None)
    status = row[1] if update else MERGED
    return (row[0], status, row[2], row[3], row[4], row[5])
