"""``acoustic report (SURVEY_RESULT | --ledger PATH) --out DIR``: the field report."""

from __future__ import annotations

from pathlib import Path

import click

from ._common import command_errors, emit_json, json_option
from ._conventions import ledger_option, library_option, make_progress, progress_options, refuse_stdout, renamed_options


@renamed_options({"--survey-dir": "--survey"})
@click.command("report")
@click.argument("survey_result", required=False, metavar="[SURVEY_RESULT]",
                type=click.Path(dir_okay=True, path_type=Path))
@ledger_option(required=False, help="The ledger (SQLite file): contractor summary, and the suspects when no "
                                    "SURVEY_RESULT is given.")
@click.option("--out", "-o", "out_dir", required=True, type=click.Path(path_type=Path),
              help="Folder to write index.html, dig-sheets.html and report.json into (created).")
@click.option("--survey", "survey_dir", type=click.Path(path_type=Path),
              help="Survey folder (network, loggers, recordings, stats.csv) if not the one the inputs name.")
@library_option(help="Signature library (.h5) for the spectra; default the shipped one when present.")
@click.option("--tolerance-m", type=float, default=1.0, show_default=True,
              help="Payable when the location error is within this many m ...")
@click.option("--tolerance-pct", type=float, default=None,
              help="... or within this % of the sensor spacing, whichever is larger.")
@click.option("--max-suspects", type=int, default=10, show_default=True,
              help="Point suspects shown with their evidence, most suspect first.")
@click.option("--title", help="Title of the report.")
@click.option("--images", type=click.Choice(["embed", "files"]), default="embed", show_default=True,
              help="Plots inside the page (data URIs) or as PNG files in DIR/plots/.")
@click.option("--crs", default=None,
              help="Coordinate system of the network's coordinates (e.g. EPSG:27700): latitude/longitude on the dig "
                   "sheets [default: network.geojson's crs, else unknown; the scale bar then comes from the pipes' "
                   "lengths].")
@click.option("--status", "statuses", multiple=True, type=click.Choice(["open", "dispatched", "confirmed", "no_leak"]),
              help="Only suspects with this status (a survey point not in the ledger is open); repeatable.")
@click.option("--since", help="Only suspects of survey nights (and digs) on or after this date (YYYY-MM-DD).")
@click.option("--until", help="Only suspects of survey nights (and digs) on or before this date (YYYY-MM-DD).")
@progress_options
@json_option
@command_errors
def report(survey_result, ledger_path, out_dir, survey_dir, library_path, tolerance_m, tolerance_pct, max_suspects, title,
           images, crs, statuses, since, until, quiet, progress, as_json, warnings_out):
    """Self-contained HTML field report for crews and contractors.

    SURVEY_RESULT is the JSON of 'acoustic survey --json' (its points are the suspects) or of
    'acoustic correlate --json' (a pair job: its correlogram, interval and dig sheet); with
    --ledger alone the ledger's current point suspects are reported.  The page works offline:
    a network map (SVG), per suspect the correlogram, coherence, spectrum against the nearest
    library signatures, the loggers' level/spread history, the numbers with units and 95 %
    intervals and a printable dig sheet; and, with --ledger, the contractor summary (located,
    confirmed, location errors, payable count under the tolerance rule).
    """
    from ..ledger._outcomes import parse_day
    from ..report import build_report

    refuse_stdout(out_dir)
    since = parse_day(since, "--since", future_ok=True) if since else None
    until = parse_day(until, "--until", future_ok=True) if until else None
    with make_progress("report", quiet, progress) as rep:
        res = build_report(out_dir, survey_result=survey_result, ledger=ledger_path, survey_dir=survey_dir,
                           library=library_path, tolerance_m=tolerance_m, tolerance_pct=tolerance_pct,
                           max_suspects=max_suspects, title=title, images=images, crs=crs, statuses=statuses,
                           since=since, until=until, progress=rep)
    s = res.summary
    if not quiet:
        click.echo(f"wrote {res.index_html}, {res.dig_sheets_html} and {res.report_json}", err=True)
    if as_json:
        emit_json(s)
        return
    m = s.get("map")
    where = (f"map of {m['pipes']} pipes and {m['loggers']} loggers" if m else "no map (network not available)")
    click.echo(f"report: {res.index_html}")
    click.echo(f"  {where}; {len(s['suspects'])} suspect point(s)")
    for sp in s["suspects"]:
        d = sp.get("dig_sheet")
        ref = "sensor" if d and d.get("reference") == "sensor" else "node"
        near = (f", {d['nearest_node']['distance_m']:.1f} m from {ref} {d['nearest_node']['node_id']}" if d else "")
        sd = "" if sp.get("offset_sd_m") is None else f" +/- {sp['offset_sd_m']:.1f}"
        ll = f"; lat {sp['lat']:.6f}, lon {sp['lon']:.6f}" if sp.get("lat") is not None else ""
        click.echo(f"  #{sp['rank']} {'pair' if sp.get('origin') == 'pair' else 'pipe'} {sp['pipe_id']} at "
                   f"{sp['offset_m']:.1f}{sd} m [{sp['interval_m'][0]:.1f}, {sp['interval_m'][1]:.1f}] m{near}{ll}; "
                   f"plots: {', '.join(sp['plots']) or 'none'}")
    c = s.get("contractor")
    if c:
        st = c["stats"]
        click.echo(f"  contractor: {c['located']} located, {st['dug']} dug, {st['leaks_found']} confirmed; "
                   f"payable ({c['rule']}): {st['payable']['count']}")
