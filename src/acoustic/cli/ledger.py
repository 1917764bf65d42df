"""``acoustic ledger list|show|confirm|stats|export``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ._common import command_errors, emit_json, json_option

ledger_arg = click.argument("ledger_path", metavar="LEDGER", type=click.Path(dir_okay=False, path_type=Path))


@click.group("ledger")
def ledger():
    """Suspects, dig outcomes and contractor statistics in the ledger (SQLite)."""


@ledger.command("list")
@ledger_arg
@click.option("--kind", type=click.Choice(["area", "line", "point"]), help="Only this kind of suspect.")
@click.option("--status", type=click.Choice(["open", "dispatched", "confirmed", "no_leak"]))
@click.option("--all", "include_superseded", is_flag=True,
              help="Also suspects a later survey of their area no longer found (superseded).")
@json_option
@command_errors
def list_cmd(ledger_path, kind, status, include_superseded, as_json, warnings_out):
    """List suspects, most suspect first."""
    from ..ledger import Ledger
    from ..ledger._ops import list_suspects

    with Ledger(ledger_path, readonly=True) as led:
        rows = list_suspects(led, kind=kind, status=status, include_superseded=include_superseded)
    if as_json:
        emit_json(rows)
        return
    click.echo(f"{'id':>5} {'kind':5} {'status':10} {'score':>5} {'where':40}")
    for r in rows:
        if r["kind"] == "point":
            where = (f"pipe {r['pipe_id']} at {r['offset_m']:.1f} m "
                     f"[{r['interval_lo_m']:.1f}, {r['interval_hi_m']:.1f}] m")
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
@json_option
@command_errors
def dispatch_cmd(ledger_path, suspect, crew, note, as_json, warnings_out):
    """Record that a crew was sent to dig at point SUSPECT."""
    from ..ledger import Ledger
    from ..ledger._ops import dispatch_suspect

    with Ledger(ledger_path) as led:
        out = dispatch_suspect(led, suspect, crew=crew, note=note)
    if as_json:
        emit_json(out)
    else:
        click.echo(f"suspect {suspect}: dispatched" + (f" to {crew}" if crew else "") + f" at {out['dispatched_utc']}")


@ledger.command("confirm")
@ledger_arg
@click.argument("suspect", type=int)
@click.option("--found-at-m", type=float, help="Where the dig found the leak: m from the pipe's start node.")
@click.option("--no-leak", is_flag=True, help="The dig found no leak.")
@click.option("--note", help="Free text kept with the outcome.")
@json_option
@command_errors
def confirm_cmd(ledger_path, suspect, found_at_m, no_leak, note, as_json, warnings_out):
    """Record what the dig found for a point SUSPECT."""
    from ..ledger import Ledger
    from ..ledger._ops import confirm_suspect

    with Ledger(ledger_path) as led:
        out = confirm_suspect(led, suspect, found_at_m=found_at_m, no_leak=no_leak, note=note)
    if as_json:
        emit_json(out)
    elif out["leak_found"]:
        click.echo(f"suspect {suspect}: leak found at {out['found_at_m']:.2f} m, location error {out['error_m']:.2f} m")
    else:
        click.echo(f"suspect {suspect}: no leak found")


@ledger.command("stats")
@ledger_arg
@click.option("--tolerance-m", type=float, default=1.0, show_default=True, help="Payable within this error (m).")
@click.option("--tolerance-pct", type=float, default=None, help="... or within this % of the sensor spacing.")
@json_option
@command_errors
def stats_cmd(ledger_path, tolerance_m, tolerance_pct, as_json, warnings_out):
    """Hit rate and location errors over confirmed suspects (contractor payment basis)."""
    from ..ledger import Ledger
    from ..ledger._ops import ledger_stats

    with Ledger(ledger_path, readonly=True) as led:
        st = ledger_stats(led, tolerance_m=tolerance_m, tolerance_pct=tolerance_pct)
    if as_json:
        emit_json(st)
        return
    s = st["suspects"]
    click.echo(f"suspects: {s['point']} points, {s['line']} lines, {s['area']} areas")
    hr = "n/a" if st["hit_rate"] is None else f"{100 * st['hit_rate']:.0f} %"
    click.echo(f"dug: {st['dug']}  leaks found: {st['leaks_found']}  no leak: {st['no_leak']}  hit rate: {hr}")
    e = st["location_error_m"]
    if e:
        click.echo(f"location error: median {e['median']:.2f} m, 90th percentile {e['p90']:.2f} m, "
                   f"within 1 m {100 * e['within_1m']:.0f} %, within 2 m {100 * e['within_2m']:.0f} %")
    click.echo(f"payable ({st['payable']['rule']}): {st['payable']['count']}")


@ledger.command("export")
@ledger_arg
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path), help="Write suspects as CSV.")
@click.option("--geojson", "geojson_out", type=click.Path(dir_okay=False, path_type=Path), help="Write point suspects as GeoJSON.")
@command_errors
def export_cmd(ledger_path, csv_out, geojson_out, warnings_out):
    """Export suspects and outcomes as CSV and/or GeoJSON."""
    from .._errors import ParameterError
    from ..ledger import Ledger
    from ..ledger._ops import export_csv, export_geojson

    if not csv_out and not geojson_out:
        raise ParameterError("give --csv OUT and/or --geojson OUT")
    with Ledger(ledger_path, readonly=True) as led:
        if csv_out:
            csv_out.write_text(export_csv(led), encoding="utf-8")
            click.echo(f"wrote {csv_out}", err=True)
        if geojson_out:
            geojson_out.write_text(json.dumps(export_geojson(led), indent=1) + "\n", encoding="utf-8")
            click.echo(f"wrote {geojson_out}", err=True)
