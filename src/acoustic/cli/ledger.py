"""``acoustic ledger list|show|dispatch|confirm|amend|undo|history|add|stats|export|grade``."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import click

from ._common import command_errors, emit_json, json_option

ledger_arg = click.argument("ledger_path", metavar="LEDGER", type=click.Path(dir_okay=False, path_type=Path))
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


@click.group("ledger")
def ledger():
    """Suspects, dig outcomes and contractor statistics in the ledger (SQLite).

    Nothing in the ledger is deleted: dig outcomes are corrected with 'amend' and taken back
    with 'undo', each a new row with who, when and why ('history' shows the trail).
    """


@ledger.command("list")
@ledger_arg
@click.option("--kind", type=click.Choice(["area", "line", "point"]), help="Only this kind of suspect.")
@click.option("--status", "statuses", multiple=True, type=click.Choice(STATUSES),
              help="Only suspects with this status; repeatable.")
@click.option("--since", help="Only suspects of survey nights on or after this date (YYYY-MM-DD).")
@click.option("--until", help="Only suspects of survey nights on or before this date (YYYY-MM-DD).")
@click.option("--all", "include_superseded", is_flag=True,
              help="Also suspects a later survey of their area no longer found (superseded).")
@json_option
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
        emit_json(rows)
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


@ledger.command("show")
@ledger_arg
@click.argument("suspect", type=int)
@json_option
@command_errors
@ledger_db_errors
def show_cmd(ledger_path, suspect, as_json, warnings_out):
    """Show one suspect with its evidence and outcome."""
    from ..ledger import Ledger
    from ..ledger._ops import show_suspect

    with Ledger(ledger_path, readonly=True) as led:
        d = show_suspect(led, suspect)
    if as_json:
        emit_json(d)
    else:
        click.echo(json.dumps(d, indent=2, default=str))


@ledger.command("dispatch")
@ledger_arg
@click.argument("suspect", type=int)
@click.option("--crew", help="Who was sent.")
@click.option("--note", help="Free text kept with the dispatch.")
@by_option
@json_option
@command_errors
@ledger_db_errors
def dispatch_cmd(ledger_path, suspect, crew, note, by, as_json, warnings_out):
    """Record that a crew was sent to dig at point SUSPECT."""
    from ..ledger import Ledger
    from ..ledger._ops import dispatch_suspect

    with Ledger(ledger_path) as led:
        out = dispatch_suspect(led, suspect, crew=crew, note=note, by=by)
    if as_json:
        emit_json(out)
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


@ledger.command("confirm")
@ledger_arg
@click.argument("suspect", type=int)
@_outcome_options
@json_option
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
        emit_json(out)
    else:
        _echo_outcome(suspect, out, "recorded:")


@ledger.command("amend")
@ledger_arg
@click.argument("suspect", type=int)
@_outcome_options
@click.option("--reason", required=True, help="Why the outcome is corrected (kept in the history).")
@json_option
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
        emit_json(out)
    else:
        _echo_outcome(suspect, out, "amended:")


@ledger.command("undo")
@ledger_arg
@click.argument("suspect", type=int)
@click.option("--reason", required=True, help="Why the outcome is taken back (kept in the history).")
@by_option
@json_option
@command_errors
@ledger_db_errors
def undo_cmd(ledger_path, suspect, reason, by, as_json, warnings_out):
    """Take back the outcome of SUSPECT (the one before it, if any, is in force again)."""
    from ..ledger import Ledger
    from ..ledger._outcomes import undo_outcome

    with Ledger(ledger_path) as led:
        out = undo_outcome(led, suspect, reason=reason, by=by)
    if as_json:
        emit_json(out)
        return
    now = out["in_force"]
    if now is None:
        click.echo(f"suspect {suspect}: outcome taken back; no outcome in force (status {out['status']})")
    else:
        what = f"leak found at {now['found_at_m']:.2f} m" if now["leak_found"] else "no leak"
        click.echo(f"suspect {suspect}: outcome taken back; in force again: {what} (recorded {now['recorded_utc']})")


@ledger.command("history")
@ledger_arg
@click.argument("suspect", type=int)
@json_option
@command_errors
@ledger_db_errors
def history_cmd(ledger_path, suspect, as_json, warnings_out):
    """Everything that happened to SUSPECT, oldest first, with who, when and why."""
    from ..ledger import Ledger
    from ..ledger._outcomes import suspect_history

    with Ledger(ledger_path, readonly=True) as led:
        h = suspect_history(led, suspect)
    if as_json:
        emit_json(h)
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


@ledger.command("add")
@ledger_arg
@click.argument("result", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--area", default=None, help="Area (district / DMA) the pair belongs to.")
@by_option
@json_option
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
        emit_json(out)
        return
    s = out["suspect"]
    verb = {"new": "added as", "updated": "updated", "unchanged": "already in the ledger as"}[out["action"]]
    if s.get("offset_m") is None:
        click.echo(f"{result}: no leak located by the pair {s['from_logger']}-{s['to_logger']}; nothing added")
        return
    click.echo(f"{result}: {verb} suspect {s['id']}: pair {s['from_logger']}-{s['to_logger']} leak at "
               f"{s['offset_m']:.2f} m from {s['from_logger']} [{s['interval_lo_m']:.2f}, {s['interval_hi_m']:.2f}] m "
               f"along {s['spacing_m']:.1f} m of pipe")


@ledger.command("stats")
@ledger_arg
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
        emit_json(st)
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


@ledger.command("export")
@ledger_arg
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path), help="Write suspects as CSV.")
@click.option("--geojson", "geojson_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write point suspects as GeoJSON (RFC 7946 longitude/latitude when the coordinate system is "
                   "known).")
@click.option("--crs", default=None, help="Coordinate system of the network's coordinates, e.g. EPSG:27700 "
                                         "[default: the survey folder's network.geojson crs, if any].")
@survey_option
@command_errors
@ledger_db_errors
def export_cmd(ledger_path, csv_out, geojson_out, crs, survey_dir, warnings_out):
    """Export suspects and outcomes as CSV and/or GeoJSON."""
    from .._errors import ParameterError
    from ..ledger import Ledger
    from ..ledger._ops import export_csv, export_geojson

    if not csv_out and not geojson_out:
        raise ParameterError("give --csv OUT and/or --geojson OUT")
    with Ledger(ledger_path, readonly=True) as led:
        if csv_out:
            _write_text(csv_out, export_csv(led))
            click.echo(f"wrote {csv_out}", err=True)
        if geojson_out:
            from ..survey._geojson import write_geojson
            from ..survey._crs import coordinate_system_for

            from ..ledger._network import survey_dir_of

            cs = coordinate_system_for(crs, survey_dir or survey_dir_of(led))
            write_geojson(export_geojson(led, cs), geojson_out)
            click.echo(f"wrote {geojson_out}", err=True)


def _write_text(path: Path, text: str) -> None:
    import os

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


@ledger.command("grade")
@ledger_arg
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
              help="Pipes shown in the human summary (all are in --json, --csv, --geojson).")
@click.option("--geojson", "geojson_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the graded pipes as GeoJSON (RFC 7946 when the coordinate system is known).")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path), help="Write the graded pipes as CSV.")
@click.option("--crs", default=None, help="Coordinate system of the network's coordinates, e.g. EPSG:27700.")
@json_option
@command_errors
@ledger_db_errors
def grade_cmd(ledger_path, survey_dir, since, until, a_leaks, b_leaks, a_rate, old_age, old_materials, alarm_share,
              merge_m, top, geojson_out, csv_out, crs, as_json, warnings_out):
    """Grade every pipe from its leak history: A renew now, B repair and watch, C monitor.

    Per pipe: confirmed leaks (each physical leak once) and leaks per km per year, open and
    dismissed suspects, the share of nights its loggers alarmed, material and age (install_year
    in pipes.csv). The first rule that holds gives the grade (see 'acoustic.ledger._grade');
    a dismissed suspect alone raises no grade. Worst pipes first.
    """
    from .._errors import DataError
    from ..ledger import Ledger
    from ..ledger._grade import GradeRules, grade_csv, grade_geojson, grade_pipes
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
    if csv_out:
        _write_text(csv_out, grade_csv(res))
        click.echo(f"wrote {csv_out}", err=True)
    if geojson_out:
        from ..survey._crs import coordinate_system_for
        from ..survey._geojson import write_geojson

        gj = grade_geojson(res, net, coordinate_system_for(crs, sdir))
        write_geojson(gj, geojson_out)
        click.echo(f"wrote {geojson_out}" + ("" if gj["acoustic:coordinates"]["rfc7946"] else
                                             " (network coordinates, not RFC 7946: give --crs)"), err=True)
    if as_json:
        emit_json(res.to_json())
        return
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
        click.echo(f"... {len(res.pipes) - top} more (--top, --json, --csv)")
    mats = res.totals["by_material"]
    click.echo("By material: " + "; ".join(f"{m} {v['length_km']:.2f} km, {v['leaks']} leak(s), A {v['A']} B {v['B']} "
                                         f"C {v['C']}" for m, v in sorted(mats.items())))


@click.command("ledger")
@click.option("--network", "network", default="district", show_default=True,
              help="'district' (the shipped sample district) or a survey folder (network + loggers.csv).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write: ledger.db, survey/ (pipes.csv with install_year) and truth.json.")
@click.option("--years", type=float, default=8.0, show_default=True, help="Length of the history in years (0.5-50).")
@click.option("--end", default=None, help="Last night of the history (YYYY-MM-DD) [default: yesterday].")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Random seed (recorded in truth.json).")
@json_option
@command_errors
@ledger_db_errors
def simulate_ledger_cmd(network, out_dir, years, end, seed, as_json, warnings_out):
    """Write a simulated multi-year ledger history for pipe health grading.

    Leaks start as a Poisson process per pipe, more often on old cast iron and asbestos
    cement; monitoring locates them, crews dig and confirm them; noise sources give suspects
    that are dug dry; the loggers next to a running leak alarm. Then:
    acoustic ledger grade OUT/ledger.db --survey OUT/survey
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
        emit_json({"ledger": str(h.ledger), "survey_dir": str(h.survey_dir), "truth": h.truth})
        return
    click.echo(f"Wrote {h.ledger} and {h.survey_dir}: {h.truth['first_night']} to {h.truth['last_night']}, "
               f"{len(leaks)} leak(s) ({sum(1 for e in leaks if e['dug_on'])} dug), "
               f"{len(ev) - len(leaks)} suspect(s) dug dry or open, seed {h.truth['seed']}")
    click.echo(f"Truth in {Path(out_dir) / 'truth.json'}; run: acoustic ledger grade {h.ledger} --survey {h.survey_dir}")
