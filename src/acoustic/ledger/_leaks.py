"""One leak, one payment: dig outcomes resolved to physical leaks, and the contractor statistics.

Digs are taken in the order they happened (dig date, then the order the digs were first entered:
a later correction of a dig keeps its place).  A dig that found a leak within :data:`LEAK_MERGE_M`
along the pipes (on one pipe, or on two pipes through the node they share) of the dig that first
found an earlier leak, and within :data:`LEAK_MERGE_DAYS` of that first dig, found that leak again;
otherwise it found a new leak.  Distances and days are measured from the leak's first dig, not
from any dig of it, so digs never chain into one leak beyond those limits (a leak found again at
the same place months later, after its repair, is a new leak, however often it was dug between).
Each leak is counted once:

- its *first* dig located it; that dig's location error decides whether it is payable;
- later digs that found it again are ``repeat digs``: neither a hit nor a miss.

Leaks are resolved over the whole history; a period (``since``/``until``) then holds the leaks
whose first dig lies in it, its dry digs and its repeat digs.  So a leak is paid in the statement
of the period it was first found in, never again in a later one, and the statements of
consecutive periods add up to the whole history.

Hit rate = leaks found / (leaks found + digs that found no leak).  Location errors and the
payable count are over leaks.  Only the outcome in force of each suspect counts (amended and
undone outcomes stay in the history, not in the numbers).
"""

from __future__ import annotations

import collections
import dataclasses
import math

import numpy as np

from .._errors import ParameterError

__all__ = ["LEAK_MERGE_M", "LEAK_MERGE_DAYS", "OutcomePoint", "Leak", "PeriodDigs", "found_point", "points_distance_m",
           "resolve_leaks", "period_digs", "ledger_stats", "check_tolerance", "allowed_error_m", "outcome_rows"]

#: A dig whose found position lies within this distance (m, along the pipes) of a leak's first dig found that leak.
#: A crew measures a found leak along the pipe from a fitting to about 1-2 m over 100-200 m, and
#: one excavation exposes 2-3 m of main: two records within 5 m are one leak; two leaks that close
#: are one repair.  Not tuned on any simulation.
LEAK_MERGE_M = 5.0
#: ... when it was dug within this many days of that first dig: a found leak is repaired within days to
#: weeks, so a leak at the same place more than a month later is a new failure.  Not tuned.
LEAK_MERGE_DAYS = 30


def check_tolerance(tolerance_m, tolerance_pct) -> None:
    """Refuse impossible tolerance rules (:class:`~acoustic.ParameterError` naming the option)."""
    if isinstance(tolerance_m, bool) or not isinstance(tolerance_m, (int, float)) or not math.isfinite(tolerance_m) \
            or tolerance_m < 0:
        raise ParameterError(f"--tolerance-m must be a non-negative number of metres, got {tolerance_m}")
    if tolerance_pct is not None and (isinstance(tolerance_pct, bool) or not isinstance(tolerance_pct, (int, float))
                                      or not math.isfinite(tolerance_pct) or not 0 < tolerance_pct <= 100):
        raise ParameterError(f"--tolerance-pct must be a percentage in (0, 100], got {tolerance_pct}")


def check_merge(merge_m) -> float:
    if isinstance(merge_m, bool) or not isinstance(merge_m, (int, float)) or not math.isfinite(merge_m) \
            or not 0 <= merge_m <= 1000:
        raise ParameterError(f"--merge-m must be a distance of 0-1000 m, got {merge_m}")
    return float(merge_m)


def allowed_error_m(tolerance_m: float, tolerance_pct: float | None, spacing_m) -> float:
    """Largest payable location error (m) of one leak: ``max(tolerance_m, tolerance_pct % of the
    sensor spacing)``; ``tolerance_m`` alone when the spacing is unknown."""
    allowed = float(tolerance_m)
    if tolerance_pct is not None and spacing_m is not None and math.isfinite(float(spacing_m)):
        allowed = max(allowed, float(spacing_m) * float(tolerance_pct) / 100.0)
    return allowed


@dataclasses.dataclass(frozen=True)
class OutcomePoint:
    """Where a dig found a leak: pipe, m from its start node, and the pipe's ends when known."""

    suspect_id: int
    pipe_id: str
    offset_m: float
    start_node: str | None = None
    end_node: str | None = None
    length_m: float | None = None


def points_distance_m(a: OutcomePoint, b: OutcomePoint, net=None, *, cutoff_m: float = math.inf) -> float:
    """Distance along the pipes (m) between two found positions.

    With the network: the shortest route.  Without it: along one pipe, or through a node both
    pipes end at (each pipe's end nodes as recorded with the outcome); otherwise infinite.

    Parameters
    ----------
    cutoff_m : float, optional
        Distances certainly above this (m) may be returned as infinite without a route search:
        between two pipes a route leaves each through one of its ends.
    """
    if str(a.pipe_id) != str(b.pipe_id) and _to_nearer_end_m(a, net) + _to_nearer_end_m(b, net) > cutoff_m:
        return math.inf
    if net is not None and str(a.pipe_id) in net.network.pipes and str(b.pipe_id) in net.network.pipes:
        return net.along_pipes_m((str(a.pipe_id), a.offset_m), (str(b.pipe_id), b.offset_m))
    if str(a.pipe_id) == str(b.pipe_id):
        return abs(float(a.offset_m) - float(b.offset_m))
    best = math.inf
    for na, da in _ends(a):
        for nb, db in _ends(b):
            if na == nb:
                best = min(best, da + db)
    return best


def _to_nearer_end_m(p: OutcomePoint, net) -> float:
    """Distance (m) from a found position to the nearer end of its pipe (0 when the length is unknown)."""
    length = p.length_m
    if net is not None and str(p.pipe_id) in net.network.pipes:
        length = net.network.pipes[str(p.pipe_id)].length_m
    if length is None:
        return 0.0
    return max(0.0, min(float(p.offset_m), float(length) - float(p.offset_m)))


def _ends(p: OutcomePoint):
    out = []
    if p.start_node:
        out.append((str(p.start_node), float(p.offset_m)))
    if p.end_node and p.length_m is not None:
        out.append((str(p.end_node), max(float(p.length_m) - float(p.offset_m), 0.0)))
    return out


@dataclasses.dataclass
class Leak:
    """One physical leak and the digs that found it (the first one located it).

    Attributes
    ----------
    leak_id : int
        1, 2, ... in the order of the leaks' first digs over the whole history.
    digs : list of dict
        :func:`outcome_rows` rows, first dig first.
    point : OutcomePoint
        Where the first dig found it (later digs are compared with this).
    """

    leak_id: int
    digs: list
    point: OutcomePoint | None = None

    @property
    def first(self) -> dict:
        return self.digs[0]

    @property
    def suspect_ids(self) -> list[int]:
        return [d["suspect_id"] for d in self.digs]


def _columns(led, table: str) -> set[str]:
    return {r[1] for r in led.conn.execute(f"PRAGMA table_info({table})")}


def outcome_rows(led, *, since: str | None = None, until: str | None = None) -> list[dict]:
    """The outcome in force of every suspect, with the suspect's position, pipe, area and spacing.

    Works on a version-2 ledger opened read-only (no events yet: its ``outcomes`` table).
    ``since``/``until`` keep digs dated within (inclusive, ``YYYY-MM-DD``; the recording date when
    the dig date is not known).  Each row has ``entry_id``: the id of the event that first entered
    the dig (the ``confirm`` its corrections go back to), its place in the order of digs of a day.
    """
    cols = _columns(led, "outcomes")

    def pick(name, fallback="NULL"):
        return f"o.{name}" if name in cols else f"{fallback} AS {name}"

    q = ("SELECT o.id AS outcome_id, o.suspect_id, o.leak_found, o.found_at_m, o.error_m, o.recorded_utc, o.note, "
         f"{pick('found_pipe_id', 's.pipe_id')}, {pick('found_start_node')}, {pick('found_end_node')}, "
         f"{pick('found_pipe_length_m')}, {pick('measured_m', 'o.found_at_m')}, {pick('measured_from')}, "
         f"{pick('dug_on', 'substr(o.recorded_utc, 1, 10)')}, {pick('recorded_by')}, "
         "s.pipe_id, s.offset_m, s.interval_lo_m, s.interval_hi_m, s.spacing_m, s.area, s.status, s.night, "
         "s.evidence_json FROM outcomes o JOIN suspects s ON s.id = o.suspect_id ORDER BY o.id")
    entry = _entry_ids(led)
    rows = []
    for r in led.conn.execute(q):
        d = dict(r)
        day = d.get("dug_on") or str(d.get("recorded_utc") or "")[:10]
        d["dug_on"] = day
        if not _in_period(day, since, until):
            continue
        if d.get("found_pipe_id") is None and d.get("leak_found"):
            d["found_pipe_id"] = d.get("pipe_id")
        d["entry_id"] = entry.get(d["outcome_id"], d["outcome_id"])
        rows.append(d)
    return rows


def _in_period(day: str | None, since: str | None, until: str | None) -> bool:
    """Whether a ``YYYY-MM-DD`` day lies within ``[since, until]`` (either end open when None)."""
    day = str(day or "")
    return not ((since and day < since) or (until and day > until))


def _entry_ids(led) -> dict[int, int]:
    """Outcome event id -> id of the ``confirm`` its chain of ``amend`` s goes back to ({} before schema 3)."""
    if not led.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'outcome_events'").fetchone():
        return {}
    events = {r[0]: (r[1], r[2]) for r in led.conn.execute(
        "SELECT id, action, cancels FROM outcome_events WHERE action IN ('confirm', 'amend')")}
    out = {}
    for eid in events:
        root, steps = eid, 0
        while events.get(root, ("confirm", None))[0] == "amend" and events[root][1] in events and steps < len(events):
            root, steps = events[root][1], steps + 1
        out[eid] = root
    return out


def _survey_facts(row: dict):
    """What the survey recorded of the suspect's pipe (:func:`~acoustic.ledger._network.pipe_facts`:
    length and the nearest node as the start or end node), or None when its record is damaged."""
    import json

    from ._network import pipe_facts

    try:
        ev = json.loads(row.get("evidence_json") or "{}")
    except ValueError:
        return None
    return pipe_facts({"evidence": ev if isinstance(ev, dict) else {}, "pipe_id": row.get("pipe_id"),
                       "offset_m": row.get("offset_m")})


def _fill_ends(row: dict) -> None:
    """Pipe ends of a found position recorded before schema 3, from the survey's record."""
    if row.get("found_start_node") or row.get("found_end_node") or row.get("found_pipe_id") != row.get("pipe_id"):
        return
    facts = _survey_facts(row)
    if facts is None:
        return
    if row.get("found_pipe_length_m") is None:
        row["found_pipe_length_m"] = facts.length_m
    row["found_start_node"], row["found_end_node"] = facts.start_node, facts.end_node


def _days_apart(a: dict, b: dict) -> float:
    import datetime as _dt

    try:
        return abs((_dt.date.fromisoformat(str(a.get("dug_on"))[:10])
                    - _dt.date.fromisoformat(str(b.get("dug_on"))[:10])).days)
    except ValueError:
        return 0.0  # a dig without a date: taken as the same time


def found_point(r: dict) -> OutcomePoint:
    """Where an :func:`outcome_rows` row's dig found its leak."""
    return OutcomePoint(r["suspect_id"], str(r["found_pipe_id"]), float(r["found_at_m"]), r.get("found_start_node"),
                        r.get("found_end_node"), r.get("found_pipe_length_m"))


def resolve_leaks(rows: list[dict], *, merge_m: float = LEAK_MERGE_M, net=None,
                  merge_days: float = LEAK_MERGE_DAYS) -> list[Leak]:
    """Group the digs that found a leak into physical leaks (module docs).

    Parameters
    ----------
    rows : list of dict
        :func:`outcome_rows` (all of them: a period is chosen afterwards, :func:`period_digs`).
    merge_m : float
        A dig within this distance (m) along the pipes of a leak's first dig ...
    merge_days : float
        ... and within this many days of it found that leak again.
    net : acoustic.ledger._network.LedgerNetwork, optional
        For distances through more than one node.

    Returns
    -------
    list of Leak
        Ordered by their first dig; ``leak_id`` 1, 2, ...
    """
    found = [r for r in rows if r.get("leak_found") and r.get("found_at_m") is not None]
    for r in found:
        _fill_ends(r)
    found.sort(key=lambda r: (str(r.get("dug_on") or ""), r.get("entry_id", r["outcome_id"]), r["outcome_id"]))
    leaks: list[Leak] = []
    recent: collections.deque = collections.deque()  # (day number, leak) of dated leaks, first dig first
    undated: list[Leak] = []                         # leaks whose first dig has no readable date
    for r in found:
        day = _day_number(r)
        if day is None:   # a dig without a readable date is taken as the same time as any other
            candidates = leaks
        else:             # digs come in date order: leaks first dug more than merge_days ago are done
            while recent and recent[0][0] < day - merge_days:
                recent.popleft()
            candidates = [lk for _, lk in recent] + undated
        p = found_point(r)
        best = None
        for lk in candidates:
            d = points_distance_m(lk.point, p, net, cutoff_m=merge_m)
            if d <= merge_m and (best is None or d < best[0]):
                best = (d, lk)
        if best is not None:
            best[1].digs.append(r)
            continue
        lk = Leak(len(leaks) + 1, [r], p)
        leaks.append(lk)
        if day is None:
            undated.append(lk)
        else:
            recent.append((day, lk))
    return leaks


def _day_number(row: dict) -> int | None:
    """The proleptic ordinal of a row's dig date (None when it does not read as ``YYYY-MM-DD``)."""
    import datetime as _dt

    try:
        return _dt.date.fromisoformat(str(row.get("dug_on"))[:10]).toordinal()
    except ValueError:
        return None


@dataclasses.dataclass
class PeriodDigs:
    """The digs of a period and the physical leaks they belong to (module docs).

    Attributes
    ----------
    rows : list of dict
        Outcomes in force dug within the period (:func:`outcome_rows`).
    leaks : list of Leak
        Leaks whose first dig lies within the period.
    leak_of : dict of int -> Leak
        Suspect id -> the leak its dig found, for every dig that found one (any period).
    since, until : str or None
    """

    rows: list
    leaks: list
    leak_of: dict
    since: str | None = None
    until: str | None = None

    @property
    def dry(self) -> int:
        """Digs of the period that found no leak."""
        return sum(1 for r in self.rows if not r["leak_found"])

    @property
    def repeat_digs(self) -> int:
        """Digs of the period that found a leak already found (in the period or before it)."""
        return sum(1 for r in self.rows if r["suspect_id"] in self.leak_of
                   and self.leak_of[r["suspect_id"]].first["suspect_id"] != r["suspect_id"])


def period_digs(led, *, since: str | None = None, until: str | None = None, merge_m: float = LEAK_MERGE_M,
                net=None, merge_days: float = LEAK_MERGE_DAYS) -> PeriodDigs:
    """Resolve every dig of the ledger into leaks, then take a period's digs and leaks (module docs).

    Parameters
    ----------
    since, until : str, optional
        The period, ``YYYY-MM-DD`` inclusive (default: all of it).
    merge_m, merge_days, net
        As :func:`resolve_leaks`.
    """
    rows = outcome_rows(led)
    leaks = resolve_leaks(rows, merge_m=merge_m, net=net, merge_days=merge_days)
    leak_of = {d["suspect_id"]: lk for lk in leaks for d in lk.digs}
    return PeriodDigs([r for r in rows if _in_period(r["dug_on"], since, until)],
                      [lk for lk in leaks if _in_period(lk.first["dug_on"], since, until)], leak_of, since, until)


def ledger_stats(led, *, tolerance_m: float = 1.0, tolerance_pct: float | None = None,
                 merge_m: float = LEAK_MERGE_M, net=None, since: str | None = None, until: str | None = None,
                 digs: PeriodDigs | None = None) -> dict:
    """Hit rate, location errors and the payable count over physical leaks (module docs).

    Parameters
    ----------
    tolerance_m : float, default 1.0
        A leak is payable when its location error is within this many metres ...
    tolerance_pct : float, optional
        ... or, when given, within this percentage of the sensor spacing (whichever is larger).
    merge_m : float, default :data:`LEAK_MERGE_M`
        Digs that found leaks within this distance along the pipes found one leak.
    net : acoustic.ledger._network.LedgerNetwork, optional
        The network, for distances through more than one node.
    since, until : str, optional
        The period (``YYYY-MM-DD``, inclusive): its digs, and the leaks first found in it.
    digs : PeriodDigs, optional
        The period's digs already resolved (:func:`period_digs`; then ``merge_m``, ``net``,
        ``since`` and ``until`` are not used).

    Returns
    -------
    dict
        ``suspects`` (current count by kind), ``recordings`` (by status), ``dug`` (outcomes in force
        dug in the period), ``leaks_found`` (physical leaks first found in it), ``no_leak`` (dry
        digs), ``repeat_digs`` (digs of a leak already found, in the period or before), ``hit_rate``
        (leaks / (leaks + dry digs), None without either), ``location_error_m`` (m, over leaks:
        ``n``, ``median``, ``p90``, ``max``, ``within_1m``, ``within_2m``), ``payable`` (``rule``,
        ``count``), ``merge_m`` and ``merge_days`` (the grouping rule), ``leaks`` (one entry per
        leak: ``leak_id``, ``suspect_ids``, ``pipe_id``, ``found_at_m``, ``located_by`` (suspect
        id), ``error_m``, ``spacing_m``, ``allowed_m``, ``payable``, ``dug_on``), ``period`` and
        ``warnings``.

    Raises
    ------
    ParameterError
        A negative, NaN or infinite tolerance, a percentage outside (0, 100], a bad merge distance.
    """
    check_tolerance(tolerance_m, tolerance_pct)
    merge_m = check_merge(merge_m)
    from ._ops import current_filter

    if digs is None:
        digs = period_digs(led, since=since, until=until, merge_m=merge_m, net=net)
    counts = {r[0]: r[1] for r in led.conn.execute(
        f"SELECT kind, count(*) FROM suspects WHERE {current_filter(led)} GROUP BY kind")}
    summary = [_leak_entry(lk, tolerance_m, tolerance_pct) for lk in digs.leaks]
    errors = np.array([s["error_m"] for s in summary if s["error_m"] is not None], dtype=np.float64)
    denominator = len(digs.leaks) + digs.dry
    rule = f"error <= max({tolerance_m:g} m" + (f", {tolerance_pct:g} % of spacing)" if tolerance_pct is not None
                                                else ")")
    return {
        "suspects": {k: int(counts.get(k, 0)) for k in ("area", "line", "point")},
        "recordings": {r[0]: r[1] for r in led.conn.execute("SELECT status, count(*) FROM recordings GROUP BY status")},
        "dug": len(digs.rows),
        "leaks_found": len(digs.leaks),
        "no_leak": digs.dry,
        "repeat_digs": digs.repeat_digs,
        "hit_rate": (len(digs.leaks) / denominator) if denominator else None,
        "location_error_m": _error_summary(errors),
        "payable": {"rule": rule, "count": int(sum(s["payable"] for s in summary)),
                    "counted": "once per physical leak, on the dig that found it first, in the period of that dig"},
        "merge_m": merge_m,
        "merge_days": LEAK_MERGE_DAYS,
        "leaks": summary,
        "period": {"since": digs.since, "until": digs.until},
        "warnings": _off_pipe(digs.rows),
    }


def _leak_entry(lk: Leak, tolerance_m: float, tolerance_pct: float | None) -> dict:
    """One leak of the statistics: who located it, its error (m) and whether it is payable."""
    f = lk.first
    allowed = allowed_error_m(tolerance_m, tolerance_pct, f.get("spacing_m"))
    err = f.get("error_m")
    return {"leak_id": lk.leak_id, "suspect_ids": lk.suspect_ids, "located_by": f["suspect_id"],
            "pipe_id": f["found_pipe_id"], "found_at_m": f["found_at_m"], "error_m": err,
            "spacing_m": f.get("spacing_m"), "allowed_m": allowed,
            "payable": bool(err is not None and err <= allowed), "dug_on": f.get("dug_on")}


def _error_summary(errors: np.ndarray) -> dict | None:
    """Median, 90th percentile, maximum (m) and shares within 1 and 2 m of location errors (None if none)."""
    if not errors.size:
        return None
    return {"n": int(errors.size), "median": float(np.median(errors)), "p90": float(np.quantile(errors, 0.9)),
            "max": float(errors.max()), "within_1m": float(np.mean(errors <= 1.0)),
            "within_2m": float(np.mean(errors <= 2.0))}


def _off_pipe(rows: list[dict]) -> list[str]:
    """Outcomes recorded before positions were checked whose found position is off the suspect's
    pipe by the survey's own record of its length."""
    from ._network import POSITION_ROUNDING_M

    out = []
    for r in rows:
        if not r.get("leak_found") or r.get("found_at_m") is None:
            continue
        length = r.get("found_pipe_length_m")
        if length is None and r.get("found_pipe_id") == r.get("pipe_id"):
            facts = _survey_facts(r)
            length = facts.length_m if facts is not None else None
        if length is not None and float(r["found_at_m"]) > float(length) + POSITION_ROUNDING_M:
            out.append(f"suspect {r['suspect_id']}: the recorded position {float(r['found_at_m']):g} m is beyond its "
                       f"pipe {r['found_pipe_id']} ({float(length):g} m); correct it with 'acoustic ledger amend'")
    return out
