"""``acoustic survey`` and ``acoustic simulate survey``: area -> line -> point on a pipe network.

Imports only click at module level (``acoustic --help`` stays fast); the survey machinery loads
when a command runs.
"""

from __future__ import annotations

from pathlib import Path

import click

from ._common import command_errors, emit_json, json_option
from ._conventions import make_progress, progress_options

__all__ = ["survey", "simulate_survey_cmd"]


def _fmt_logger_list(ids, limit=8) -> str:
    ids = list(ids)
    return " ".join(ids[:limit]) + (f" (+{len(ids) - limit})" if len(ids) > limit else "")


def _print_human(res, top_lines: int) -> None:
    js = res.to_json()
    net = js["network"]
    click.echo(f"Survey of {res.survey_dir}: {net['loggers_with_recordings']} of {net['loggers']} loggers with "
               f"recordings, {net['neighbour_pairs']} neighbour pairs, {net['pair_nights']} pair-nights correlated, "
               f"{net['pipes']} pipes ({net['total_length_m']:.0f} m)")
    click.echo("")
    click.echo("Areas (most suspect first: by a located point, then a correlation peak, then logger scores; "
               "score 0-1):")
    for i, a in enumerate(js["areas"], start=1):
        alarmed = a.get("alarmed_loggers") or []
        click.echo(f"  {i}. {a['area']:<12} score {a['score']:.2f}  [{a.get('ranked_by', '')}]  "
                   f"loggers {_fmt_logger_list(a['loggers'])}"
                   + (f"  alarmed {_fmt_logger_list(alarmed)}" if alarmed else ""))
    click.echo("")
    click.echo(f"Lines (pipe runs between neighbouring loggers; top {min(top_lines, len(js['lines']))} "
               f"of {len(js['lines'])}):")
    for i, ln in enumerate(js["lines"][:top_lines], start=1):
        why = ln["reasons"][-1] if ln["reasons"] else ""
        click.echo(f"  {i}. {ln['from_logger']}-{ln['to_logger']}  pipes {','.join(ln['pipe_ids'])}  "
                   f"{ln['length_m']:.1f} m {'/'.join(ln['materials'])}  score {ln['score']:.2f}  "
                   f"[{ln.get('ranked_by', '')}]  {why}")
    click.echo("")
    if js["points"]:
        click.echo("Points (dig here; offset from the pipe's start node, 95 % interval):")
        for i, p in enumerate(js["points"], start=1):
            nn = p["nearest_node"]
            click.echo(f"  {i}. pipe {p['pipe_id']} ({p['material']}, {p['diameter_mm']:g} mm) at {p['offset_m']:.1f} m "
                       f"[{p['interval_m'][0]:.1f}-{p['interval_m'][1]:.1f} m], {nn['distance_m']:.1f} m from node "
                       f"{nn['node_id']}; x {p['x']:.1f}, y {p['y']:.1f}; confidence {p['confidence']:.2f} "
                       f"(correlation, nights {', '.join(p.get('nights') or [])}); heard by "
                       f"{_fmt_logger_list(p['loggers'])}"
                       + ("" if p.get("leakiness") is None else f"; loggers' own leak score {p['leakiness']:.2f}"))
    else:
        click.echo("Points: none located (no correlation peak confirmed as a leak).")
    for p in js["noise_sources"]:
        click.echo(f"  noise source (not a leak): pipe {p['pipe_id']} at {p['offset_m']:.1f} m: {p['explained_by']}")


@click.command("survey")
@click.argument("survey_dir", type=click.Path(path_type=Path))
@click.option("--geojson", "geojson_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the ranked lines, points (with intervals) and loggers as GeoJSON "
                   "(network coordinates).")
@click.option("--model", "model", default="default", show_default=True,
              help="Leak classifier folder for the per-logger scores, 'default' (shipped model) or 'none'.")
@click.option("--area", "areas", multiple=True, help="Survey only this area (area column of loggers.csv); repeatable.")
@click.option("--top-lines", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="Lines shown in the human summary (all are in --json).")
@click.option("--crs", default=None,
              help="Coordinate system of the network's coordinates (e.g. EPSG:27700): points get longitude/latitude "
                   "and the GeoJSON is RFC 7946 [default: network.geojson's crs, else unknown]. Needs pyproj "
                   "(the 'geo' extra).")
@progress_options
@json_option
@command_errors
def survey(survey_dir, geojson_out, model, areas, top_lines, crs, quiet, progress, as_json, warnings_out):
    """Narrow leak suspects from area to line to point on a pipe network.

    SURVEY_DIR holds network.inp + pipes.csv (or network.geojson), loggers.csv,
    recordings/<logger_id>/*.wav with sidecars and optionally stats.csv. Neighbouring loggers
    whose recordings overlap in time are correlated along their route through the pipes; all
    correlations are fused on the pipe graph into located points (pipe, offset in m from the
    pipe's start node, 95 % interval, coordinates); pipe runs and areas are ranked by the
    evidence. Lengths in m, delays in s.
    """
    from ..survey import run_survey
    from ..survey._crs import coordinate_system_for

    cs = coordinate_system_for(crs, survey_dir)
    if cs.known:
        from ..ledger._network import load_network
        from ..survey._crs import check_network_crs

        check_network_crs(load_network(survey_dir).network, cs)
    model_arg = None if str(model).lower() == "none" else model
    with make_progress("survey", quiet, progress) as rep:
        res = run_survey(survey_dir, model=model_arg, areas=list(areas) or None, progress=rep)
    if geojson_out is not None:
        from ..survey._geojson import georeference, write_geojson

        gj = georeference(res.to_geojson(), cs)
        write_geojson(gj, geojson_out)
        if not gj["acoustic:coordinates"]["rfc7946"]:
            click.echo(f"Warning: {geojson_out} is in the network's own coordinates, not RFC 7946 longitude/latitude: "
                       f"{cs.why_not}", err=True)
    if as_json:
        from ..survey._geojson import add_lonlat

        out = add_lonlat(res.to_json(), cs)
        out["warnings"] = list(dict.fromkeys(list(out["warnings"]) + list(warnings_out)))
        if geojson_out is not None:
            out["geojson"] = str(geojson_out)
        emit_json(out)
    else:
        _print_human(res, top_lines)
        if cs.can_lonlat:
            for i, p in enumerate(res.to_json()["points"], start=1):
                ll = cs.lonlat_or_none(p.get("x"), p.get("y"))
                if ll is not None:
                    click.echo(f"  point {i}: latitude {ll[1]:.7f}, longitude {ll[0]:.7f} (WGS 84, from {cs.crs})")
        if geojson_out is not None:
            click.echo(f"\nGeoJSON written to {geojson_out}")


@click.command("survey")
@click.option("--network", "network", default="district", show_default=True,
              help="'district' (the shipped sample district), 'net3' (a sub-district of EPANET example network 3 "
                   "shipped with WNTR) or an EPANET .inp file (with --pipes).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Survey folder to write.")
@click.option("--pipes", "pipes_csv", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="pipes.csv with the materials of an .inp network [default: pipes.csv beside it].")
@click.option("--leaks", type=click.IntRange(0, 10), default=1, show_default=True, help="Number of leaks (0: leak-free).")
@click.option("--leak-level-db", type=float, default=None,
              help="Leak source level, dB re 1 Pa rms at the leak [default: drawn from 10-30 dB].")
@click.option("--confounder", "confounders", multiple=True,
              type=click.Choice(["prv", "pump", "consumption", "traffic", "hum"]),
              help="Confounding noise: prv (hiss at a valve), pump (at a node), consumption (intermittent tap), "
                   "traffic, hum; repeatable.")
@click.option("--nights", type=click.IntRange(1, 14), default=2, show_default=True, help="Nightly recordings per logger.")
@click.option("--duration", type=float, default=12.0, show_default=True, help="Recording length in s (2-120).")
@click.option("--sample-rate", type=float, default=8000.0, show_default=True, help="Sample rate in Hz.")
@click.option("--sensor-kind", type=click.Choice(["hydrophone", "accelerometer"]), default="hydrophone",
              show_default=True, help="Sensor of every logger.")
@click.option("--stats-nights", type=click.IntRange(0, 365), default=0, show_default=True,
              help="Also write stats.csv with this many nights (10-365) of level/spread history per logger.")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Random seed (recorded in truth.json).")
@json_option
@command_errors
def simulate_survey_cmd(network, out_dir, pipes_csv, leaks, leak_level_db, confounders, nights, duration, sample_rate,
                        sensor_kind, stats_nights, seed, as_json, warnings_out):
    """Build a simulated survey folder on a real network model, with a truth file.

    Leaks at known positions, loggers on nodes, nightly synchronized recordings whose leak
    noise travels along the network (each pipe's attenuation and dispersion, splitting at
    junctions) and the asked confounders. Writes network.inp, pipes.csv, loggers.csv,
    recordings/<logger_id>/*.wav + sidecars, truth.json (and stats.csv with --stats-nights).
    """
    from ..simulate._survey import simulate_survey

    sv = simulate_survey(network, out_dir, leaks=leaks, seed=seed, confounders=confounders, nights=nights,
                         duration_s=duration, sample_rate_hz=sample_rate, sensor_kind=sensor_kind,
                         leak_level_db=leak_level_db, pipes_csv=pipes_csv, stats_nights=stats_nights)
    t = sv.truth
    if as_json:
        emit_json({"survey_dir": str(out_dir), "truth": t, "warnings": list(warnings_out)})
        return
    n_rec = sum(len(lg["recordings"]) for lg in t["loggers"])
    click.echo(f"Wrote {out_dir}: network {t['network']} ({len(sv.network.pipes)} pipes, "
               f"{sv.network.total_length_m:.0f} m), {len(t['loggers'])} loggers, {n_rec} recordings "
               f"({t['nights']} night(s) x {t['duration_s']:g} s at {t['sample_rate_hz']:g} Hz), seed {t['seed']}")
    for lk in t["leaks"]:
        lines = ", ".join(f"{l['from_logger']}-{l['to_logger']}" for l in lk["lines"]) or "none"
        click.echo(f"  leak: pipe {lk['pipe_id']} ({lk['material']}) at {lk['offset_m']:.2f} m, x {lk['x']:.1f} "
                   f"y {lk['y']:.1f}, {lk['level_db']:.1f} dB re 1 Pa; lines {lines}")
    for s in t["sources"]:
        where = f"node {s['node_id']}" if s.get("node_id") else f"pipe {s.get('pipe_id')} at {s.get('offset_m', 0):.1f} m"
        click.echo(f"  {s['kind']}: {where}, {s['level_db']:.1f} dB re 1 Pa")
    if t["confounders"]:
        click.echo(f"  confounders: {', '.join(t['confounders'])}")
    click.echo(f"Truth in {Path(out_dir) / 'truth.json'}; run: acoustic survey {out_dir}")
