"""Dig outcomes as an audit trail: confirm, amend, undo, history.

Every outcome is a row of ``outcome_events`` that is never changed or deleted:

- ``confirm``: what the dig found (a leak at a position, or no leak), who recorded it, when, the
  date of the dig and a note;
- ``amend``: a correction; it replaces the outcome in force and says why;
- ``undo``: takes back the outcome in force (the one before it, if any, is in force again) and
  says why.

The outcome in force is the latest ``confirm`` or ``amend`` not taken back (the ``outcomes``
view); ``acoustic ledger stats`` and the report use only that.

A found position is checked before it is recorded: it must lie on the pipe (within the rounding
tolerance :data:`~acoustic.ledger._network.POSITION_ROUNDING_M`, clamped), measured from the
pipe's start node, its end node, or a named node at either end (``--from-node``, the node the
dig sheet prints); a distance given without ``--from-node`` that fits the located interval only
when measured from the end node is refused with a question (which end?) rather than recorded as
an error of most of the pipe; a leak found on another pipe must lie in the suspect's area (its
nearest logger along the pipes is one of the area's).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import getpass
import math
import os

from .._errors import DataError, ParameterError
from .._warnings import warn as _warn
from ._db import Ledger, utc_now
from ._network import POSITION_ROUNDING_M, LedgerNetwork, PipeFacts, clamp_offset, pipe_facts

__all__ = ["FoundPosition", "confirm_suspect", "amend_outcome", "undo_outcome", "suspect_history", "resolve_found",
           "current_outcome", "default_user", "parse_day"]




def default_user() -> str:
    """Who records an outcome when ``--by`` is not given: ``$ACOUSTIC_USER``, else the login name."""
    name = os.environ.get("ACOUSTIC_USER", "").strip()
    if name:
        return name
    try:
        return getpass.getuser() or "unknown"
    except (OSError, KeyError):  # no login name (containers without a passwd entry)
        return "unknown"


def parse_day(text, what: str = "--dug-on", *, future_ok: bool = False) -> str:
    """A calendar date ``YYYY-MM-DD``: a dig date, which is not in the future, or with
    ``future_ok`` the end of a period (a statement for this month may end after today)."""
    if text is None:
        return _dt.datetime.now(_dt.timezone.utc).date().isoformat()
    try:
        day = _dt.date.fromisoformat(str(text).strip())
    except ValueError:
        raise ParameterError(f"{what} must be a date YYYY-MM-DD, got {text!r}") from None
    today = _dt.datetime.now(_dt.timezone.utc).date()
    if not future_ok and day > today + _dt.timedelta(days=1):  # one day of slack for time zones
        raise ParameterError(f"{what} {day} is in the future (today is {today} UTC)")
    if day.year < 1900:
        raise ParameterError(f"{what} {day} is not a plausible dig date")
    return day.isoformat()


@dataclasses.dataclass
class FoundPosition:
    """A found leak position, as the crew measured it and as the ledger keeps it.

    Attributes
    ----------
    pipe : PipeFacts
        The pipe it was found on.
    offset_m : float
        m from the pipe's start node (clamped to the pipe within the rounding tolerance).
    measured_m : float
        The distance the crew measured (m).
    measured_from : str
        The node (or ``start``/``end`` of the pipe when its node is not known) it was measured from.
    error_m : float or None
        Distance along the pipes from the located position (m).
    """

    pipe: PipeFacts
    offset_m: float
    measured_m: float
    measured_from: str
    error_m: float | None


def _reference(facts: PipeFacts, from_node: str | None, measured: float, net) -> tuple[float, str]:
    """The offset from the start node of a distance measured from ``from_node``, and the label."""
    ref = None if from_node is None else str(from_node).strip()
    if ref in (None, "", "start") or (ref == facts.start_node and ref is not None):
        return measured, facts.start_node or "start"
    if ref == "end" or ref == facts.end_node:
        if facts.length_m is None:
            raise ParameterError(f"--from-node {ref}: the length of {facts.describe()} is not known, so a distance "
                                 "from its end cannot be turned into one from its start; give --survey DIR (the "
                                 "survey folder) or measure from the start node")
        return facts.length_m - measured, facts.end_node or "end"
    ends = [n for n in (facts.start_node, facts.end_node) if n]
    hint = ""
    if len(ends) < 2 and net is None:
        hint = "; the network is not available to name both ends (give --survey DIR), or use --from-node start|end"
    raise ParameterError(f"--from-node {ref} is not an end of {facts.describe()}; measure from "
                         + (" or ".join(f"node {n}" for n in ends) if ends else "its start or end") + hint)


def resolve_found(suspect: dict, found_at_m: float, *, from_node: str | None = None, pipe_id: str | None = None,
                  net: LedgerNetwork | None = None) -> FoundPosition:
    """Check a found position against the pipe and the suspect's area (module docs).

    Parameters
    ----------
    suspect : dict
        The suspect row with parsed ``evidence``.
    found_at_m : float
        Distance measured along the pipe (m) from ``from_node``.
    from_node : str, optional
        Node id at either end of the pipe, or ``start`` / ``end``; default the start node.
    pipe_id : str, optional
        The pipe the leak was found on when it is not the suspect's (needs the network).
    net : LedgerNetwork, optional

    Raises
    ------
    ParameterError
        Not a distance, off the pipe, a node that is not an end of it, or another pipe outside
        the suspect's area.
    """
    if isinstance(found_at_m, bool) or not isinstance(found_at_m, (int, float)) or not math.isfinite(found_at_m) \
            or found_at_m < 0:
        raise ParameterError(f"--found-at-m must be a non-negative distance in m, got {found_at_m}")
    other = pipe_id is not None and str(pipe_id) != str(suspect.get("pipe_id"))
    if other and suspect.get("origin") == "pair":
        raise ParameterError(f"suspect {suspect.get('id')} is a pair job along its own path; a leak found "
                             "elsewhere is not its leak (record --no-leak)")
    try:
        facts = pipe_facts(suspect, net, str(pipe_id) if other else None)
    except DataError as exc:
        raise ParameterError(f"--pipe {pipe_id}: {exc}") from None
    measured = float(found_at_m)
    if from_node is None and not other:
        _check_default_end(suspect, facts, measured)
    offset, label = _reference(facts, from_node, measured, net)
    try:
        offset = clamp_offset(offset, facts.length_m, what="found position")
    except DataError:
        raise ParameterError(f"--found-at-m {measured:g} m from {_node_label(label)} is off {facts.describe()}"
                             ) from None
    if facts.length_m is None:
        _warn(f"found position on pipe {facts.pipe_id} not checked against the pipe's length: the network is not "
              "available (give --survey DIR)")
    if not other:
        error = abs(offset - float(suspect["offset_m"])) if suspect.get("offset_m") is not None else None
    else:
        error = net.along_pipes_m((str(suspect["pipe_id"]), float(suspect["offset_m"])), (facts.pipe_id, offset))
        _check_area(suspect, facts, offset, net)
        if not math.isfinite(error):
            raise ParameterError(f"--pipe {facts.pipe_id} is not connected to the suspect's pipe {suspect['pipe_id']}")
    return FoundPosition(facts, float(offset), measured, label, None if error is None else float(error))


def _check_default_end(suspect: dict, facts: PipeFacts, measured: float) -> None:
    """Refuse a distance given without ``--from-node`` that fits the located interval only when
    measured from the end node: the crew measured from the node the dig sheet names (often the
    end), and taking it from the start would record an error of most of the pipe's length."""
    lo, hi, length = suspect.get("interval_lo_m"), suspect.get("interval_hi_m"), facts.length_m
    if lo is None or hi is None or length is None:
        return
    lo, hi = float(lo) - POSITION_ROUNDING_M, float(hi) + POSITION_ROUNDING_M
    if not lo <= measured <= hi and lo <= length - measured <= hi:
        start = f"node {facts.start_node}" if facts.start_node else "the pipe's start"
        end = f"node {facts.end_node}" if facts.end_node else "the pipe's end"
        raise ParameterError(
            f"--found-at-m {measured:g} m: measured from which end of {facts.describe()}? From {start} it is "
            f"{abs(measured - float(suspect['offset_m'])):.1f} m from the located point, from {end} it lies in the "
            f"located interval; give --from-node {facts.start_node or 'start'} or "
            f"--from-node {facts.end_node or 'end'}")


def _node_label(label: str) -> str:
    return f"the pipe's {label}" if label in ("start", "end") else f"node {label}"


def _check_area(suspect: dict, facts: PipeFacts, offset: float, net: LedgerNetwork) -> None:
    area = suspect.get("area")
    members = {lid for lid, s in net.sites.items() if area in (None, "*") or s.area == area}
    if not members:
        return
    near = net.nearest_logger(facts.pipe_id, offset)
    if near is not None and near[0] not in members:
        raise ParameterError(f"--pipe {facts.pipe_id} at {offset:.1f} m is outside the suspect's area {area} (its "
                             f"nearest logger {near[0]} is {near[1]:.0f} m away along the pipes and belongs to "
                             "another area); a leak found there is not this suspect's (record --no-leak)")


def current_outcome(led: Ledger, suspect_id: int) -> dict | None:
    """The outcome in force for a suspect (latest confirm/amend not undone), or None."""
    row = led.conn.execute("SELECT * FROM outcomes WHERE suspect_id = ?", (suspect_id,)).fetchone()
    return dict(row) if row else None


def _point_suspect(led: Ledger, suspect_id: int, verb: str) -> dict:
    from ._ops import suspect_dict

    s = suspect_dict(led, suspect_id)
    if s["kind"] != "point":
        raise ParameterError(f"suspect {suspect_id} is a {s['kind']} suspect; only point suspects are dug and {verb}")
    return s


def _insert_event(led: Ledger, suspect: dict, action: str, *, found: FoundPosition | None, no_leak: bool,
                  by: str | None, dug_on: str | None, reason: str | None, note: str | None,
                  cancels: int | None) -> int:
    f = found
    cols = dict(suspect_id=suspect["id"], action=action, leak_found=None if action == "undo" else (0 if no_leak else 1),
                found_pipe_id=f.pipe.pipe_id if f else None, found_at_m=f.offset_m if f else None,
                measured_m=f.measured_m if f else None, measured_from=f.measured_from if f else None,
                found_start_node=f.pipe.start_node if f else None, found_end_node=f.pipe.end_node if f else None,
                found_pipe_length_m=f.pipe.length_m if f else None, error_m=f.error_m if f else None,
                dug_on=dug_on, cancels=cancels, recorded_by=(by or default_user()).strip() or "unknown",
                recorded_utc=utc_now(), reason=reason, note=note)
    return led.conn.execute(f"INSERT INTO outcome_events({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                            tuple(cols.values())).lastrowid


def _set_status(led: Ledger, suspect_id: int) -> str:
    out = current_outcome(led, suspect_id)
    if out is not None:
        status = "confirmed" if out["leak_found"] else "no_leak"
    elif led.conn.execute("SELECT 1 FROM dispatches WHERE suspect_id = ?", (suspect_id,)).fetchone():
        status = "dispatched"
    else:
        status = "open"
    led.conn.execute("UPDATE suspects SET status = ? WHERE id = ?", (status, suspect_id))
    return status


def _found(suspect, found_at_m, no_leak, from_node, pipe_id, net) -> FoundPosition | None:
    if (found_at_m is None) == (not no_leak):
        raise ParameterError("give exactly one of --found-at-m X or --no-leak")
    if no_leak:
        if from_node is not None or pipe_id is not None:
            raise ParameterError("--from-node and --pipe go with --found-at-m, not with --no-leak")
        return None
    return resolve_found(suspect, found_at_m, from_node=from_node, pipe_id=pipe_id, net=net)


def _same_leak(led: Ledger, suspect_id: int, found: FoundPosition | None, net) -> list[dict]:
    """Other suspects whose dig found the same physical leak as this one's, by the statistics' own
    grouping (:func:`acoustic.ledger._leaks.resolve_leaks`), with their distance (m) from it."""
    if found is None:
        return []
    from ._leaks import found_point, outcome_rows, points_distance_m, resolve_leaks

    leak = next((lk for lk in resolve_leaks(outcome_rows(led), net=net) if suspect_id in lk.suspect_ids), None)
    if leak is None:
        return []
    me = found_point(next(d for d in leak.digs if d["suspect_id"] == suspect_id))
    return [{"suspect_id": d["suspect_id"], "distance_m": points_distance_m(me, found_point(d), net)}
            for d in leak.digs if d["suspect_id"] != suspect_id]


def _result(led: Ledger, suspect_id: int, found: FoundPosition | None, net) -> dict:
    out = current_outcome(led, suspect_id) or {}
    out["status"] = led.conn.execute("SELECT status FROM suspects WHERE id = ?", (suspect_id,)).fetchone()[0]
    out["same_leak_as"] = _same_leak(led, suspect_id, found, net)
    if found is not None:
        out["pipe"] = dataclasses.asdict(found.pipe)
    return out


def confirm_suspect(led: Ledger, suspect_id: int, *, found_at_m: float | None = None, no_leak: bool = False,
                    from_node: str | None = None, pipe_id: str | None = None, net: LedgerNetwork | None = None,
                    by: str | None = None, dug_on: str | None = None, note: str | None = None) -> dict:
    """Record what the dig found for a point suspect (its first outcome).

    Parameters
    ----------
    found_at_m : float, optional
        Where the leak was found: m along the pipe from ``from_node``.
    no_leak : bool
        The dig found no leak.
    from_node : str, optional
        The node the distance was measured from (either end of the pipe, e.g. the node the dig
        sheet names), or ``start`` / ``end``; default the pipe's start node.
    pipe_id : str, optional
        The pipe the leak was found on, when not the suspect's (must be in the suspect's area).
    net : LedgerNetwork, optional
        The survey folder's network (checks the position; without it the survey's record of the
        pipe's length is used).
    by : str, optional
        Who records it (default :func:`default_user`).
    dug_on : str, optional
        Date of the dig, ``YYYY-MM-DD`` (default today, UTC).
    note : str, optional

    Returns
    -------
    dict
        The outcome in force (``found_at_m`` from the start node, ``error_m`` along the pipes
        from the located position, ``measured_m`` and ``measured_from`` as entered, ``recorded_by``,
        ``recorded_utc``, ``dug_on``), ``status`` and ``same_leak_as`` (other suspects whose
        confirmed leak lies within the merge distance: one leak, counted once).

    Raises
    ------
    ParameterError
        Both or neither of a position and ``no_leak``; a position off the pipe or outside the area.
    DataError
        Not a point suspect, unknown suspect, or it already has an outcome (amend or undo it).
    """
    dug_on = parse_day(dug_on)
    s = _point_suspect(led, suspect_id, "confirmed")
    found = _found(s, found_at_m, no_leak, from_node, pipe_id, net)
    if found is not None:
        _warn_if_moved(led, s, dug_on)
    with led.transaction():
        cur = current_outcome(led, suspect_id)
        if cur is not None:
            what = ("a leak found at " + f"{cur['found_at_m']:.2f} m") if cur["leak_found"] else "no leak"
            raise DataError(f"suspect {suspect_id} already has an outcome ({what}, recorded by "
                            f"{cur.get('recorded_by') or 'unknown'} at {cur['recorded_utc']}); correct it with "
                            f"'acoustic ledger amend' or take it back with 'acoustic ledger undo'")
        _insert_event(led, s, "confirm", found=found, no_leak=no_leak, by=by, dug_on=dug_on, reason=None, note=note,
                      cancels=None)
        _set_status(led, suspect_id)
    return _result(led, suspect_id, found, net)


def _warn_if_moved(led: Ledger, suspect: dict, dug_on: str) -> None:
    """Warn when a suspect never dispatched was re-located by a survey night after the dig: its
    location error is measured from where it is now, not from where the crew was told to dig
    (``acoustic ledger dispatch`` freezes a suspect's position)."""
    night = str(suspect.get("night") or "")[:10]
    if not night or night <= dug_on:
        return
    if led.conn.execute("SELECT 1 FROM dispatches WHERE suspect_id = ?", (suspect["id"],)).fetchone():
        return
    _warn(f"suspect {suspect['id']} was never dispatched and the survey of night {night}, after the dig on {dug_on}, "
          f"may have moved it: the location error is measured from its position now "
          f"({float(suspect['offset_m']):.2f} m "
          "from the start node); dispatch suspects before digging to keep the position the crew was given")


def _reason(reason) -> str:
    text = (reason or "").strip()
    if not text:
        raise ParameterError("--reason is required: say why the outcome is corrected (it is kept in the history)")
    return text


def amend_outcome(led: Ledger, suspect_id: int, *, reason: str, found_at_m: float | None = None,
                  no_leak: bool = False, from_node: str | None = None, pipe_id: str | None = None,
                  net: LedgerNetwork | None = None, by: str | None = None, dug_on: str | None = None,
                  note: str | None = None) -> dict:
    """Correct the outcome in force: a new ``amend`` row replaces it (the old row stays).

    Parameters are those of :func:`confirm_suspect`, with ``reason`` (required) saying why;
    ``dug_on`` defaults to the date of the outcome it corrects.

    Raises
    ------
    DataError
        The suspect has no outcome to correct (record one with confirm).
    """
    reason = _reason(reason)
    s = _point_suspect(led, suspect_id, "confirmed")
    found = _found(s, found_at_m, no_leak, from_node, pipe_id, net)
    day = parse_day(dug_on) if dug_on is not None else None
    with led.transaction():
        cur = current_outcome(led, suspect_id)
        if cur is None:
            raise DataError(f"suspect {suspect_id} has no outcome to amend; record one with 'acoustic ledger confirm'")
        _insert_event(led, s, "amend", found=found, no_leak=no_leak, by=by, dug_on=day or cur.get("dug_on"),
                      reason=reason, note=note, cancels=cur["id"])
        _set_status(led, suspect_id)
    return _result(led, suspect_id, found, net)


def undo_outcome(led: Ledger, suspect_id: int, *, reason: str, by: str | None = None) -> dict:
    """Take back the outcome in force (an ``undo`` row); the one before it, if any, is in force again.

    Returns
    -------
    dict
        ``undone`` (the event taken back), ``in_force`` (the outcome now in force or None) and
        ``status`` (``confirmed``/``no_leak`` from the earlier outcome, else ``dispatched`` or
        ``open``).
    """
    reason = _reason(reason)
    s = _point_suspect(led, suspect_id, "confirmed")
    with led.transaction():
        cur = current_outcome(led, suspect_id)
        if cur is None:
            raise DataError(f"suspect {suspect_id} has no outcome to undo")
        _insert_event(led, s, "undo", found=None, no_leak=False, by=by, dug_on=None, reason=reason, note=None,
                      cancels=cur["id"])
        status = _set_status(led, suspect_id)
    return {"suspect_id": suspect_id, "undone": cur, "in_force": current_outcome(led, suspect_id), "status": status}


def suspect_history(led: Ledger, suspect_id: int) -> dict:
    """Everything that happened to a suspect, oldest first: created (batch, night or pair job),
    dispatches, and every outcome event with who, when and why, and whether it is in force.

    Returns
    -------
    dict
        ``suspect`` (id, kind, status, pipe, offset, area, origin) and ``events`` (list of dicts
        with ``utc``, ``event`` and its fields).
    """
    from ._ops import suspect_dict

    s = suspect_dict(led, suspect_id)
    events = [{"utc": s.get("created_utc"), "event": "created", "origin": s.get("origin") or "survey",
               "batch_id": s.get("batch_id"), "night": s.get("night"), "pipe_id": s.get("pipe_id"),
               "offset_m": s.get("offset_m")}]
    if s.get("superseded_utc"):
        events.append({"utc": s["superseded_utc"], "event": "superseded",
                       "why": "a later survey of its area no longer found it"})
    cols = {r[1] for r in led.conn.execute("PRAGMA table_info(dispatches)")}
    by = "recorded_by" if "recorded_by" in cols else "NULL AS recorded_by"
    for r in led.conn.execute(f"SELECT id, dispatched_utc, crew, note, {by} FROM dispatches WHERE suspect_id = ? "
                              "ORDER BY id", (suspect_id,)):
        events.append({"utc": r[1], "event": "dispatched", "crew": r[2], "note": r[3], "by": r[4]})
    in_force = current_outcome(led, suspect_id)
    has_events = bool(led.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'outcome_events'").fetchone())
    if has_events:
        for r in led.conn.execute("SELECT * FROM outcome_events WHERE suspect_id = ? ORDER BY id", (suspect_id,)):
            d = dict(r)
            d.update(utc=d.pop("recorded_utc"), event=d.pop("action"), by=d.pop("recorded_by"),
                     in_force=bool(in_force and in_force["id"] == d["id"]))
            events.append(d)
    elif in_force:
        events.append(dict(in_force, utc=in_force["recorded_utc"], event="confirm", in_force=True))
    events.sort(key=lambda e: (str(e.get("utc") or ""), 0 if e["event"] == "created" else 1))
    summary = {k: s.get(k) for k in ("id", "kind", "status", "area", "pipe_id", "offset_m", "interval_lo_m",
                                     "interval_hi_m", "origin", "night")}
    return {"suspect": summary, "events": events, "in_force": in_force}
