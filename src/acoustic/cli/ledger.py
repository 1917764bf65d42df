"""``acoustic ledger list|show|dispatch|confirm|amend|undo|history|add|stats|export|grade``."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import click

from ._common import command_errors, document, emit_json, json_option, records
from ._conventions import (ENV_LEDGER, check_stdout_users, deprecation_warning, is_stdout, ledger_option,
                           legacy_leading_path, looks_like_sqlite, note, open_output, out_option, quiet_option)

#: ``--ledger/-l PATH`` ($ACOUSTIC_LEDGER) on every ledger command
ledger_store = ledger_option(help="The ledger (SQLite file).")
#: ``acoustic ledger COMMAND LEDGER ...`` (the ledger as first argument, before phase B of issue 21)
#: keeps working for one release, with a deprecation warning
old_positional_ledger = legacy_leading_path("--ledger", looks_like_sqlite, env=ENV_LEDGER)
survey_option = click.option(
    "--survey", "survey_dir", type=click.Path(path_type=Path), default=None,
    help="Survey folder (network, loggers.csv) to check positions against [default: the one the ledger's batch "
         "runs name].")
by_option = click.option("--by", "by", default=None,
                         help="Who records this [default: $ACOUSTIC_USER, else the login name].")
STATUSES = ("open", "dispatched", "confirmed", "no_leak")


def ledger_db_errors(func):
    """SQLite errors of a ledger command -> one-line errors naming the ledger (inside command_errors)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from ..ledger._db import ledger_errors

        with ledger_errors(kwargs.get("ledger_path") or "ledger"):
            return func(*args, **kwargs)

    return wrapper


def _network(led, survey_dir):
    """The survey folder's network: --survey (errors are errors), else the batch runs' (problems warn)."""
    import warnings

    from .._errors import AcousticError, AcousticWarning
    from ..ledger._network import load_network, survey_dir_of

    if survey_dir is not None:
        return load_network(survey_dir)
    found = survey_dir_of(led)
    if found is None:
        return None
    try:
        return load_network(found)
    except AcousticError as exc:
        warnings.warn(f"network of {found} not used: {exc}", AcousticWarning, stacklevel=2)
        return None


def _day(value, what):
    if value is None:
        return None
    from ..ledger._outcomes import parse_day

    return parse_day(value, what, future_ok=True)  # a period's end, not a dig date


def _interval(d: dict | None) -> dict | None:
    """``interval_m: [lo, hi]`` (m) beside the old ``interval_lo_m``/``interval_hi_m``, which stay one
    release (docs/cli.md, keys to rename)."""
    if d is None or not ("interval_lo_m" in d or "interval_hi_m" in d):
        return d
    lo, hi = d.get("interval_lo_m"), d.get("interval_hi_m")
    return {**d, "interval_m": [lo, hi] if lo is not None and hi is not None else None}


def _booleans(d: dict | None) -> dict | None:
    """``leak_found`` as true/false (the ledger stores 1/0)."""
    if d is None or d.get("leak_found") is None:
        return d
    return {**d, "leak_found": bool(d["leak_found"])}


@click.group("ledger")
def ledger():
    """Suspects, dig outcomes and contractor statistics in the ledger (SQLite).

    Nothing in the ledger is deleted: dig outcomes are corrected with 'amend' and taken back
    with 'undo', each a new row with who, when and why ('history' shows the trail).
    """


@old_positional_ledger
@ledger.command("list")
@ledger_store
@click.option("--kind", type=click.Choice(["area", "line", "point"]), help="Only this kind of suspect.")
@click.option("--status", "statuses", multiple=True, type=click.Choice(STATUSES),
              help="Only suspects with this status; repeatable.")
@click.option("--since", help="Only suspects of survey nights on or after this date (YYYY-MM-DD).")
@click.option("--until", help="Only suspects of survey nights on or before this date (YYYY-MM-DD).")
@click.option("--all", "include_superseded", is_flag=True,
              help="Also suspects a later survey of their area no longer found (superseded).")
@json_option
@quiet_option
@command_errors
@ledger_db_errors
def list_cmd(ledger_path, kind, statuses, since, until, include_superseded, as_json, warnings_out):
    """List suspects, most suspect first."""
    from ..ledger import Ledger
    from ..ledger._ops import list_suspects

    since, until = _day(since, "--since"), _day(until, "--until")
    with Ledger(ledger_path, readonly=True) as led:
        rows = list_suspects(led, kind=kind, status=list(statuses) or None, include_superseded=include_superseded,
                             since=since, until=until)
    if as_json:
        emit_json(records("ledger.list", [_interval(r) for r in rows], ledger=ledger_path))
        return
    click.echo(f"{'id':>5} {'kind':5} {'status':10} {'score':>5} {'where':40}")
    for r in rows:
        if r["kind"] == "point":
            lo, hi = r.get("interval_lo_m"), r.get("interval_hi_m")
            iv = f" [{lo:.1f}, {hi:.1f}] m" if lo is not None and hi is not None else ""
            what = "pair" if r.get("origin") == "pair" else "pipe"
            where = f"{what} {r['pipe_id']} at {r['offset_m']:.1f} m{iv}"
        elif r["kind"] == "line":
            where = f"{r['from_logger']} - {r['to_logger']} via {len(r.get('pipe_ids') or [])} pipe(s)"
        else:
            where = f"area {r['area']}"
        click.echo(f"{r['id']:>5} {r['kind']:5} {r['status']:10} {r['score'] or 0:5.2f} {where}")


@old_positional_ledger
@ledger.command("show")
@ledger_store
@click.argument("suspect", type=int)
@json_option
@quiet_option
@command_errors
@ledger_db_errors
def show_cmd(ledger_path, suspect, as_json, warnings_out):
    """Show one suspect with its evidence and outcome."""
    from ..ledger import Ledger
    from ..ledger._ops import show_suspect

    with Ledger(ledger_path, readonly=True) as led:
        d = show_suspect(led, suspect)
    if as_json:
        emit_json(document("ledger.show", _interval(d), ledger=ledger_path))
    else:
        for line in _suspect_text(d):
            click.echo(line)


#: Suspect columns the text of ``ledger show`` states in its first lines (the others follow as they are).
_SHOWN_FIRST = ("id", "kind", "origin", "status", "score", "pipe_id", "offset_m", "interval_lo_m", "interval_hi_m",
                "area", "from_logger", "to_logger", "pipe_ids", "evidence", "params", "dispatches", "outcome")


def _suspect_text(d: dict) -> list[str]:
    """``ledger show`` for people: where, status, dispatches, outcome, then every other field and
    the evidence, indented (all of the --json document's content)."""
    if d.get("offset_m") is not None:
        lo, hi = d.get("interval_lo_m"), d.get("interval_hi_m")
        iv = f" [{lo:.2f}, {hi:.2f}] m" if lo is not None and hi is not None else ""
        where = f"pipe {d.get('pipe_id')} at {d['offset_m']:.2f} m{iv}"
    elif d.get("from_logger"):
        where = f"{d['from_logger']} - {d.get('to_logger')} via pipe(s) {', '.join(d.get('pipe_ids') or []) or '?'}"
    else:
        where = f"area {d.get('area')}"
    score = "n/a" if d.get("score") is None else f"{d['score']:.2f}"
    lines = [f"suspect {d['id']} ({d['kind']}, {d.get('origin') or 'survey'}): {where}",
             f"  status {d['status']}, score {score}" + (f", area {d['area']}" if d.get("area") else "")]
    if d.get("from_logger") and d.get("offset_m") is not None:
        lines.append(f"  between loggers {d['from_logger']} and {d.get('to_logger')}")
    for disp in d.get("dispatches") or []:
        lines.append(f"  dispatched {disp.get('dispatched_utc')}" + (f" to {disp['crew']}" if disp.get("crew") else "")
                     + (f": {disp['note']}" if disp.get("note") else ""))
    out = d.get("outcome")
    if out:
        found = (f"leak found at {out['found_at_m']:.2f} m" if out.get("leak_found") and out.get("found_at_m") is not None
                 else "leak found" if out.get("leak_found") else "no leak found")
        err = "" if out.get("error_m") is None else f", location error {out['error_m']:.2f} m"
        lines.append(f"  outcome: {found}{err}" + (f", dug {out['dug_on']}" if out.get("dug_on") else ""))
    rest = {k: v for k, v in d.items() if k not in _SHOWN_FIRST and v is not None}
    lines += [f"  {k}: {v}" for k, v in rest.items()]
    for key in ("evidence", "params"):
        if d.get(key):
            lines.append(f"  {key}:")
            lines += _nested_text(d[key], "    ")
    return lines


def _nested_text(value, indent: str) -> list[str]:
    """A parsed JSON value as indented ``key: value`` lines (lists of records one line each)."""
    lines = []
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for k, v in items:
        if isinstance(v, dict) and any(isinstance(x, (dict, list)) for x in v.values()):
            lines.append(f"{indent}{k}:")
            lines += _nested_text(v, indent + "  ")
        elif isinstance(v, dict):
            lines.append(f"{indent}{k}: " + ", ".join(f"{a} {b}" for a, b in v.items()))
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            lines.append(f"{indent}{k}:")
            lines += [f"{indent}  - " + ", ".join(f"{a} {b}" for a, b in x.items()) for x in v]
        elif isinstance(v, list):
            lines.append(f"{indent}{k}: " + ", ".join(str(x) for x in v))
        else:
            lines.append(f"{indent}{k}: {v}")
    return lines


@old_positional_ledger
@ledger.command("dispatch")
@ledger_store
@click.argument("suspect", type=int)
@click.option("--crew", help="Who was sent.")
@click.option("--note", help="Free text kept with the dispatch.")
@by_option
@json_option
@quiet_option
@command_errors
@ledger_db_errors
def dispatch_cmd(ledger_path, suspect, crew, note, by, as_json, warnings_out):
    """Record that a crew was sent to dig at point SUSPECT."""
    from ..ledger import Ledger
    from ..ledger._ops import dispatch_suspect

    with Ledger(ledger_path) as led:
        out = dispatch_suspect(led, suspect, crew=crew, note=note, by=by)
    if as_json:
        emit_json(document("ledger.dispatch", out, ledger=ledger_path))
    else:
        click.echo(f"suspect {suspect}: dispatched" + (f" to {crew}" if crew else "") + f" at {out['dispatched_utc']}")


def _outcome_options(func):
    for opt in reversed([
        click.option("--found-at-m", type=float, help="Where the dig found the leak: m along the pipe from "
                                                      "--from-node (default the pipe's start node)."),
        click.option("--from-node", help="The node the distance was measured from: either end of the pipe (the dig "
                                         "sheet names one), or 'start' / 'end'."),
        click.option("--pipe", "pipe_id", help="The pipe the leak was found on, if not the suspect's (it must be "
                                               "in the suspect's area)."),
        click.option("--no-leak", is_flag=True, help="The dig found no leak."),
        click.option("--dug-on", help="Date of the dig, YYYY-MM-DD [default: today, UTC]."),
        click.option("--note", help="Free text kept with the outcome."),
        by_option, survey_option,
    ]):
        func = opt(func)
    return func


def _echo_outcome(suspect, out, verb):
    if out.get("leak_found"):
        ref = out.get("measured_from")
        ref_text = ""
        if ref and out.get("measured_m") is not None:
            where = f"the pipe's {ref}" if ref in ("start", "end") else f"node {ref}"
            ref_text = f" (measured {out['measured_m']:.2f} m from {where})"
        click.echo(f"suspect {suspect}: {verb} leak found on pipe {out.get('found_pipe_id')} at "
                   f"{out['found_at_m']:.2f} m from its start node{ref_text}, location error "
                   + ("n/a" if out.get("error_m") is None else f"{out['error_m']:.2f} m"))
    else:
        click.echo(f"suspect {suspect}: {verb} no leak found")
    for other in out.get("same_leak_as") or []:
        click.echo(f"  the same leak as suspect {other['suspect_id']}'s ({other['distance_m']:.1f} m apart): "
                   "counted once")


@old_positional_ledger
@ledger.command("confirm")
@ledger_store
@click.argument("suspect", type=int)
@_outcome_options
@json_option
@quiet_option
@command_errors
@ledger_db_errors
def confirm_cmd(ledger_path, suspect, found_at_m, from_node, pipe_id, no_leak, dug_on, note, by, survey_dir, as_json,
                warnings_out):
    """Record what the dig found for a point SUSPECT.

    The position is checked against the pipe (and, on another pipe, the suspect's area) and may
    be measured from either end: --from-node takes the node the dig sheet names.
    """
    from ..ledger import Ledger
    from ..ledger._outcomes import confirm_suspect

    with Ledger(ledger_path) as led:
        net = _network(led, survey_dir) if found_at_m is not None else None
        out = confirm_suspect(led, suspect, found_at_m=found_at_m, no_leak=no_leak, from_node=from_node,
                              pipe_id=pipe_id, net=net, by=by, dug_on=dug_on, note=note)
    if as_json:
        emit_json(document("ledger.confirm", _booleans(out), ledger=ledger_path))
    else:
        _echo_outcome(suspect, out, "recorded:")


@old_positional_ledger
@ledger.command("amend")
@ledger_store
@click.argument("suspect", type=int)
@_outcome_options
@click.option("--reason", required=True, help="Why the outcome is corrected (kept in the history).")
@json_option
@quiet_option
@command_errors
@ledger_db_errors
def amend_cmd(ledger_path, suspect, found_at_m, from_node, pipe_id, no_leak, dug_on, note, by, survey_dir, reason,
              as_json, warnings_out):
    """Correct the outcome of SUSPECT: a new row replaces it; the old one stays in the history."""
    from ..ledger import Ledger
    from ..ledger._outcomes import amend_outcome

    with Ledger(ledger_path) as led:
        net = _network(led, survey_dir) if found_at_m is not None else None
        out = amend_outcome(led, suspect, reason=reason, found_at_m=found_at_m, no_leak=no_leak, from_node=from_node,
                            pipe_id=pipe_id, net=net, by=by, dug_on=dug_on, note=note)
    if as_json:
        emit_json(document("ledger.amend", _booleans(out), ledger=ledger_path))
    else:
        _echo_outcome(suspect, out, "amended:")


@old_positional_ledger
@ledger.command("undo")
@ledger_store
@click.argument("suspect", type=int)
@click.option("--reason", required=True, help="Why the outcome is taken back (kept in the history).")
@by_option
@json_option
@quiet_option
@command_errors
@ledger_db_errors
def undo_cmd(ledger_path, suspect, reason, by, as_json, warnings_out):
    """Take back the outcome of SUSPECT (the one before it, if any, is in force again)."""
    from ..ledger import Ledger
    from ..ledger._outcomes import undo_outcome

    with Ledger(ledger_path) as led:
        out = undo_outcome(led, suspect, reason=reason, by=by)
    if as_json:
        emit_json(document("ledger.undo", {**out, "in_force": _booleans(out.get("in_force"))}, ledger=ledger_path))
        return
    now = out["in_force"]
    if now is None:
        click.echo(f"suspect {suspect}: outcome taken back; no outcome in force (status {out['status']})")
    else:
        what = f"leak found at {now['found_at_m']:.2f} m" if now["leak_found"] else "no leak"
        click.echo(f"suspect {suspect}: outcome taken back; in force again: {what} (recorded {now['recorded_utc']})")


@old_positional_ledger
@ledger.command("history")
@ledger_store
@click.argument("suspect", type=int)
@json_option
@quiet_option
@command_errors
@ledger_db_errors
def history_cmd(ledger_path, suspect, as_json, warnings_out):
    """Everything that happened to SUSPECT, oldest first, with who, when and why."""
    from ..ledger import Ledger
    from ..ledger._outcomes import suspect_history

    with Ledger(ledger_path, readonly=True) as led:
        h = suspect_history(led, suspect)
    if as_json:
        emit_json(document("ledger.history", {**h, "suspect": _interval(h["suspect"]),
                                              "events": [_booleans(e) for e in h["events"]]}, ledger=ledger_path))
        return
    s = h["suspect"]
    where = f"pipe {s['pipe_id']} at {s['offset_m']:.2f} m" if s.get("offset_m") is not None else f"area {s['area']}"
    click.echo(f"suspect {s['id']} ({s['kind']}, {s.get('origin') or 'survey'}): {where}; status {s['status']}")
    for e in h["events"]:
        ev = e["event"]
        if ev == "created":
            detail = (f"from batch {e['batch_id']}, night {e.get('night')}" if e.get("batch_id") is not None
                      else f"({e.get('origin')})")
        elif ev == "superseded":
            detail = e["why"]
        elif ev == "dispatched":
            detail = f"crew {e.get('crew') or '?'}" + (f", by {e['by']}" if e.get("by") else "") + (
                f": {e['note']}" if e.get("note") else "")
        else:
            if ev == "undo":
                detail = f"takes back #{e.get('cancels')}"
            elif e.get("leak_found"):
                ref = e.get("measured_from")
                detail = (f"leak on pipe {e.get('found_pipe_id')} at {e['found_at_m']:.2f} m from its start"
                          + (f" (measured {e['measured_m']:.2f} m from {ref})" if ref and e.get("measured_m") is not None
                             else "")
                          + ("" if e.get("error_m") is None else f", error {e['error_m']:.2f} m"))
            else:
                detail = "no leak"
            if ev == "amend":
                detail += f"; replaces #{e.get('cancels')}"
            detail += f"; dug {e['dug_on']}" if e.get("dug_on") else ""
            detail += f"; by {e.get('by')}"
            if e.get("reason"):
                detail += f"; why: {e['reason']}"
            if e.get("note"):
                detail += f"; note: {e['note']}"
            if e.get("in_force"):
                detail += "  [in force]"
            ev = f"#{e['id']} {ev}"
        click.echo(f"  {e.get('utc') or '?':27} {ev:12} {detail}")


@old_positional_ledger
@ledger.command("add")
@ledger_store
@click.argument("result", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--area", default=None, help="Area (district / DMA) the pair belongs to.")
@by_option
@json_option
@quiet_option
@command_errors
@ledger_db_errors
def add_cmd(ledger_path, result, area, by, as_json, warnings_out):
    """Enter a crew's pair job: the JSON of 'acoustic correlate --json' as a point suspect.

    The result must name its recordings, sensors, start times and pipe (the correlate JSON of
    schema acoustic.correlate/1 does). The same pair located again within the merge distance
    updates its suspect instead of adding one. The ledger is created when it does not exist.
    """
    from ..ledger import Ledger
    from ..ledger._pairs import add_pair_job

    with Ledger(ledger_path, create=True) as led:
        out = add_pair_job(led, result, area=area, by=by)
    if as_json:
        emit_json(document("ledger.add", {**out, "suspect": _interval(out.get("suspect"))}, ledger=ledger_path,
                           result=result))
        return
    s = out["suspect"]
    verb = {"new": "added as", "updated": "updated", "unchanged": "already in the ledger as"}[out["action"]]
    if s.get("offset_m") is None:
        click.echo(f"{result}: no leak located by the pair {s['from_logger']}-{s['to_logger']}; nothing added")
        return
    click.echo(f"{result}: {verb} suspect {s['id']}: pair {s['from_logger']}-{s['to_logger']} leak at "
               f"{s['offset_m']:.2f} m from {s['from_logger']} [{s['interval_lo_m']:.2f}, {s['interval_hi_m']:.2f}] m "
               f"along {s['spacing_m']:.1f} m of pipe")


@old_positional_ledger
@ledger.command("stats")
@ledger_store
@click.option("--tolerance-m", type=float, default=1.0, show_default=True, help="Payable within this error (m).")
@click.option("--tolerance-pct", type=float, default=None, help="... or within this % of the sensor spacing.")
@click.option("--merge-m", type=float, default=None,
              help="Digs that found leaks within this distance along the pipes found one leak [default: 5 m].")
@click.option("--since", help="Only digs on or after this date (YYYY-MM-DD).")
@click.option("--until", help="Only digs on or before this date (YYYY-MM-DD).")
@click.option("--survey", "survey_dir", type=click.Path(path_type=Path), default=None,
              help="Survey folder: merge digs through more than one node along the network's pipes (without it, "
                   "digs on one pipe or on two pipes meeting at a node merge).")
@json_option
@quiet_option
@command_errors
@ledger_db_errors
def stats_cmd(ledger_path, tolerance_m, tolerance_pct, merge_m, since, until, survey_dir, as_json, warnings_out):
    """Hit rate, location errors and payable count over physical leaks (contractor payment basis).

    Each leak counts once: digs that found it again are repeat digs, neither hits nor misses.
    Only each suspect's outcome in force counts.
    """
    import warnings

    from .._errors import AcousticWarning
    from ..ledger import Ledger
    from ..ledger._leaks import LEAK_MERGE_M, check_merge, check_tolerance, ledger_stats

    check_tolerance(tolerance_m, tolerance_pct)
    merge_m = check_merge(LEAK_MERGE_M if merge_m is None else merge_m)
    since, until = _day(since, "--since"), _day(until, "--until")
    with Ledger(ledger_path, readonly=True) as led:
        # the network only when asked: digs on one pipe or on two pipes meeting at a node merge without it
        net = _network(led, survey_dir) if survey_dir is not None else None
        st = ledger_stats(led, tolerance_m=tolerance_m, tolerance_pct=tolerance_pct, merge_m=merge_m, net=net,
                          since=since, until=until)
    for w in st["warnings"]:
        warnings.warn(w, AcousticWarning, stacklevel=1)
    if as_json:
        emit_json(document("ledger.stats", st, ledger=ledger_path))
        return
    s = st["suspects"]
    click.echo(f"suspects: {s['point']} points, {s['line']} lines, {s['area']} areas")
    hr = "n/a" if st["hit_rate"] is None else f"{100 * st['hit_rate']:.0f} %"
    rep = f"  repeat digs of a found leak: {st['repeat_digs']}" if st["repeat_digs"] else ""
    click.echo(f"dug: {st['dug']}  leaks found: {st['leaks_found']}  no leak: {st['no_leak']}{rep}  hit rate: {hr}")
    e = st["location_error_m"]
    if e:
        click.echo(f"location error: median {e['median']:.2f} m, 90th percentile {e['p90']:.2f} m, "
                   f"within 1 m {100 * e['within_1m']:.0f} %, within 2 m {100 * e['within_2m']:.0f} %")
    click.echo(f"payable ({st['payable']['rule']}): {st['payable']['count']}")


@old_positional_ledger
@ledger.command("export")
@ledger_store
@click.option("--format", "fmt", type=click.Choice(["csv", "geojson"]), default=None,
              help="csv: every suspect and its outcome, one row each; geojson: the point suspects (RFC 7946 "
                   "longitude/latitude when the coordinate system is known) [default: from the -o suffix, else csv].")
@out_option("Write the export here [default: stdout].")
@click.option("--csv", "csv_out", hidden=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--geojson", "geojson_out", hidden=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--crs", default=None, help="Coordinate system of the network's coordinates, e.g. EPSG:27700 "
                                         "[default: the survey folder's network.geojson crs, if any].")
@survey_option
@quiet_option
@command_errors
@ledger_db_errors
def export_cmd(ledger_path, fmt, out, csv_out, geojson_out, crs, survey_dir, warnings_out):
    """Export suspects and outcomes as CSV or GeoJSON, on stdout or into -o PATH.

    Example: acoustic ledger export -l ledger.db --format geojson -o suspects.geojson
    """
    from ..ledger import Ledger

    with Ledger(ledger_path, readonly=True) as led:
        # the old --csv PATH / --geojson PATH (both at once allowed then): each with a deprecation warning
        old = [(name, path) for name, path in (("csv", csv_out), ("geojson", geojson_out)) if path is not None]
        for name, path in old:
            deprecation_warning(f"--{name} PATH", f"--format {name} -o PATH")
            _write_output(path, _export_text(led, name, crs, survey_dir))
        if old and fmt is None and out is None:
            return
        if fmt is None:
            fmt = "geojson" if out is not None and out.suffix.lower() in (".geojson", ".json") else "csv"
        _write_output(out if out is not None else Path("-"), _export_text(led, fmt, crs, survey_dir))


def _export_text(led, fmt: str, crs, survey_dir) -> str:
    from ..ledger._ops import export_csv, export_geojson

    if fmt == "csv":
        return export_csv(led)
    from ..ledger._network import survey_dir_of
    from ..survey._crs import coordinate_system_for

    return _geojson_text(export_geojson(led, coordinate_system_for(crs, survey_dir or survey_dir_of(led))))


def _geojson_text(obj: dict) -> str:
    from ._common import to_jsonable

    return json.dumps(to_jsonable(obj)) + "\n"


def _write_output(out, text: str) -> None:
    """``text`` on stdout (``-``) or into a file (atomically, with a ``wrote PATH`` note on stderr)."""
    with open_output(out) as fh:
        fh.write(text)
    if not is_stdout(out):
        note(f"wrote {out}")


@old_positional_ledger
@ledger.command("grade")
@ledger_store
@click.option("--survey", "survey_dir", type=click.Path(path_type=Path), default=None,
              help="Survey folder (network, pipes.csv with optional install_year, loggers.csv) [default: the one the "
                   "ledger's batch runs name].")
@click.option("--since", help="Start of the period (YYYY-MM-DD) [default: the ledger's first date].")
@click.option("--until", help="End of the period (YYYY-MM-DD) [default: the ledger's last date].")
@click.option("--a-leaks", type=int, default=3, show_default=True, help="Confirmed leaks that make a pipe A (renew now).")
@click.option("--b-leaks", type=int, default=1, show_default=True,
              help="Confirmed leaks that make a pipe B (repair and watch).")
@click.option("--a-rate", type=float, default=2.0, show_default=True,
              help="Leaks per km per year that, with 2 or more leaks, make a pipe A.")
@click.option("--old-age", type=int, default=60, show_default=True,
              help="Age (years) from which one leak on an --old-material pipe makes it A.")
@click.option("--old-material", "old_materials", multiple=True,
              help="Material whose age counts (pipes.csv material names); repeatable [default: cast_iron, "
                   "asbestos_cement].")
@click.option("--alarm-share", type=float, default=0.25, show_default=True,
              help="Share of nights its loggers alarmed that, with an open suspect, makes a pipe B.")
@click.option("--merge-m", type=float, default=5.0, show_default=True,
              help="Digs within this distance along the pipes found one leak.")
@click.option("--top", type=click.IntRange(1, 100000), default=15, show_default=True,
              help="Pipes shown in the human summary (all are in --json and --format csv|geojson).")
@click.option("--format", "fmt", type=click.Choice(["csv", "geojson"]), default=None,
              help="Also write the graded pipes as CSV or GeoJSON (RFC 7946 when the coordinate system is known), "
                   "into -o PATH or, without -o, on stdout instead of the summary.")
@out_option("Where --format writes [default: stdout].")
@click.option("--geojson", "geojson_out", hidden=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--csv", "csv_out", hidden=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--crs", default=None, help="Coordinate system of the network's coordinates, e.g. EPSG:27700.")
@json_option
@quiet_option
@command_errors
@ledger_db_errors
def grade_cmd(ledger_path, survey_dir, since, until, a_leaks, b_leaks, a_rate, old_age, old_materials, alarm_share,
              merge_m, top, fmt, out, geojson_out, csv_out, crs, as_json, warnings_out):
    """Grade every pipe from its leak history: A renew now, B repair and watch, C monitor.

    Per pipe: confirmed leaks (each physical leak once) and leaks per km per year, open and
    dismissed suspects, the share of nights its loggers alarmed, material and age (install_year
    in pipes.csv). The first rule that holds gives the grade (see 'acoustic.ledger._grade');
    a dismissed suspect alone raises no grade. Worst pipes first.
    """
    from .._errors import DataError
    from ..ledger import Ledger
    from ..ledger._grade import GradeRules, grade_pipes
    from ..ledger._network import load_network, survey_dir_of

    rules = GradeRules(a_leaks=a_leaks, b_leaks=b_leaks, a_rate=a_rate, old_age=old_age, alarm_share=alarm_share,
                       merge_m=merge_m, **({"old_materials": tuple(old_materials)} if old_materials else {})).check()
    since, until = _day(since, "--since"), _day(until, "--until")
    with Ledger(ledger_path, readonly=True) as led:
        sdir = survey_dir or survey_dir_of(led)
        if sdir is None:
            raise DataError(f"{ledger_path}: no survey folder named by its batch runs; give --survey DIR")
        net = load_network(sdir)
        res = grade_pipes(led, net, rules=rules, since=since, until=until)
    # the old --csv PATH and --geojson PATH (both at once allowed then): each with a deprecation warning
    for name, path in (("csv", csv_out), ("geojson", geojson_out)):
        if path is not None:
            deprecation_warning(f"--{name} PATH", f"--format {name} -o PATH")
            _write_grades(res, net, name, path, crs, sdir)
    if fmt is None and out is not None:
        raise click.UsageError("-o PATH needs --format csv|geojson (the summary goes to stdout; --json for JSON)")
    if fmt is not None:
        out = out if out is not None else Path("-")
        check_stdout_users(as_json, out=out)
        _write_grades(res, net, fmt, out, crs, sdir)
        if is_stdout(out):
            return
    if as_json:
        emit_json(document("ledger.grade", res.to_json(), ledger=ledger_path, survey_dir=Path(sdir)))
        return
    _grade_summary(res, top)


def _write_grades(res, net, fmt, out, crs, survey_dir) -> None:
    from ..ledger._grade import grade_csv, grade_geojson

    if fmt == "csv":
        _write_output(out, grade_csv(res))
        return
    from ..survey._crs import coordinate_system_for

    gj = grade_geojson(res, net, coordinate_system_for(crs, survey_dir))
    _write_output(out, _geojson_text(gj))
    if not gj["acoustic:coordinates"]["rfc7946"]:
        note("Note: network coordinates, not RFC 7946 longitude/latitude: give --crs")


def _grade_summary(res, top: int) -> None:
    """The human summary of ``ledger grade``: grades, the worst pipes, by material."""
    t = res.totals["by_grade"]
    click.echo(f"Pipe health {res.describe_period()}, {len(res.pipes)} pipes: "
               + ", ".join(f"{g} {t[g]['pipes']} ({t[g]['length_km']:.2f} km, {t[g]['action']})" for g in "ABC"))
    click.echo(f"{'pipe':>8} {'grade':5} {'material':16} {'length':>8} {'age':>4} {'leaks':>5} {'per km/yr':>9} "
               f"{'open':>4} {'dism.':>5} {'alarmed':>7}  reason")
    for p in res.pipes[:top]:
        age = "" if p.age_years is None else str(p.age_years)
        share = "" if p.alarm_share is None else f"{100 * p.alarm_share:.0f} %"
        rate = f"{p.leak_rate_per_km_year:.2f}" if p.leak_rate_per_km_year is not None else ""
        click.echo(f"{p.pipe_id:>8} {p.grade:5} {p.material:16} {p.length_m:7.1f}m {age:>4} {len(p.leaks):>5} "
                   f"{rate:>9} {p.open_suspects:>4} {p.dismissed_suspects:>5} {share:>7}  {p.reasons[0]}")
    if len(res.pipes) > top:
        click.echo(f"... {len(res.pipes) - top} more (--top, --json, --format csv)")
    mats = res.totals["by_material"]
    click.echo("By material: " + "; ".join(f"{m} {v['length_km']:.2f} km, {v['leaks']} leak(s), A {v['A']} B {v['B']} "
                                         f"C {v['C']}" for m, v in sorted(mats.items())))


@click.command("ledger")
@click.option("--network", "network", default="district", show_default=True,
              help="'district' (the shipped sample district) or a survey folder (network + loggers.csv).")
@click.option("--out", "-o", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write: ledger.db, survey/ (pipes.csv with install_year) and truth.json.")
@click.option("--years", type=float, default=8.0, show_default=True, help="Length of the history in years (0.5-50).")
@click.option("--end", default=None, help="Last night of the history (YYYY-MM-DD) [default: yesterday].")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Random seed (recorded in truth.json).")
@json_option
@quiet_option
@command_errors
@ledger_db_errors
def simulate_ledger_cmd(network, out_dir, years, end, seed, as_json, warnings_out):
    """Write a simulated multi-year ledger history for pipe health grading.

    Leaks start as a Poisson process per pipe, more often on old cast iron and asbestos
    cement; monitoring locates them, crews dig and confirm them; noise sources give suspects
    that are dug dry; the loggers next to a running leak alarm. Then:
    acoustic ledger grade -l OUT/ledger.db --survey OUT/survey
    """
    from ..ledger._history import simulate_history

    src = Path(network)
    if str(network) == "district":
        src = Path(__file__).resolve().parents[3] / "recordings" / "samples" / "district"
        if not src.is_dir():
            from .._errors import DataError

            raise DataError(f"{src}: the sample district is not there (a source checkout ships it)")
    h = simulate_history(src, out_dir, years=years, seed=seed, end=end)
    ev = h.truth["events"]
    leaks = [e for e in ev if e["leak"]]
    if as_json:
        emit_json(document("simulate.ledger", {"ledger": str(h.ledger), "survey_dir": str(h.survey_dir),
                                               "truth": h.truth, "warnings": list(warnings_out)}))
        return
    click.echo(f"Wrote {h.ledger} and {h.survey_dir}: {h.truth['first_night']} to {h.truth['last_night']}, "
               f"{len(leaks)} leak(s) ({sum(1 for e in leaks if e['dug_on'])} dug), "
               f"{len(ev) - len(leaks)} suspect(s) dug dry or open, seed {h.truth['seed']}")
    click.echo(f"Truth in {Path(out_dir) / 'truth.json'}; run: acoustic ledger grade -l {h.ledger} --survey {h.survey_dir}")
