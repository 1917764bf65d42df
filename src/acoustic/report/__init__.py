"""Field reports for crews and contractors (``acoustic report``).

One self-contained HTML page that works offline (inline CSS and SVG, plots as PNG data URIs
or files beside it, no script, no fonts or anything else fetched):

- a map of the network as SVG: pipes by material, loggers coloured by score, suspect points
  with their 95 % intervals drawn along the pipe, the most suspect pipe runs, areas outlined,
  a scale bar in metres and a north arrow in network coordinates;
- per point suspect: the correlogram against position along the route with the interval, the
  coherence spectrum with the band used, the nearest logger's 1/3-octave spectrum against its
  nearest library signatures, the loggers' nightly level and spread history (all recomputed
  from the survey folder's recordings and history), every number with its unit and
  uncertainty, and a printable dig sheet (distance along the pipe from the nodes at its ends,
  coordinates, pipe material and size, a local sketch);
- a contractor summary from the ledger: located, confirmed, location errors and the payable
  count under a tolerance rule (``acoustic ledger stats``'s numbers, dig by dig).

Public API
----------
:func:`build_report`
    Write ``index.html`` (+ ``dig-sheets.html``, ``report.json``) into a folder.
:func:`load_survey_result`
    Read and check the JSON of ``acoustic survey --json``.
:func:`contractor_summary`
    The contractor numbers of a ledger under a tolerance rule.
:func:`network_map_svg`
    The SVG map on its own.
:func:`dig_sheet`
    The numbers of one dig sheet.
"""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import datetime, timezone
from pathlib import Path

from .._errors import AcousticError, ParameterError
from .._warnings import collect_warnings
from .._warnings import warn as _warn
from ._contractor import allowed_error_m, check_tolerance, contractor_summary
from ._dig import dig_sheet
from ._inputs import load_survey_result
from ._svg import network_map_svg

__all__ = ["ReportResult", "allowed_error_m", "build_report", "contractor_summary", "dig_sheet",
           "load_survey_result", "network_map_svg"]


@dataclasses.dataclass
class ReportResult:
    """What :func:`build_report` wrote.

    Attributes
    ----------
    index_html, dig_sheets_html, report_json : Path
    summary : dict
        The ``report.json`` document (suspects with their numbers and dig sheets, map counts,
        contractor summary, warnings).
    """

    index_html: Path
    dig_sheets_html: Path
    report_json: Path
    summary: dict




def _open_library(library):
    """The signature library: a path, or the shipped default when present (None: none)."""
    from ..library import SignatureLibrary

    if library is not None:
        return SignatureLibrary.open(library)
    try:
        from ..classify import default_library_path

        path = default_library_path()
    except (ImportError, AcousticError):
        path = None
    if path is None:
        _warn("no signature library (--library PATH, or models/default/signatures.h5): spectra are shown without "
              "signatures")
        return None
    try:
        return SignatureLibrary.open(path)
    except AcousticError as exc:
        _warn(f"default signature library not used: {exc}")
        return None


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


#: Half-width of a dig-sheet sketch (m on the ground): at least this, 1.5 times the interval, or a
#: quarter of the pipe (up to 400 m of it), so the crew sees the nodes it measures from.
SKETCH_MIN_HALF_M = 40.0


def _sketch(site, ev, scores=None, scale=None, cs=None) -> str | None:
    d = ev.dig
    if d is None or d.get("reference") == "sensor" or d.get("x") is None:
        return None
    pipe = site.network.pipes[d["pipe_id"]]
    lo, hi = d["interval_m"]
    half_m = max(SKETCH_MIN_HALF_M, 1.5 * (hi - lo), 0.25 * min(pipe.length_m, 400.0))
    # network units: the drawing is not necessarily in metres (map_scale)
    hy = half_m / scale.metres_per_unit
    hx = hy / scale.x_factor
    x, y = d["x"], d["y"]
    bbox = (x - hx, y - 0.55 * hy, x + hx, y + 0.55 * hy)
    return network_map_svg(site.network, site.sites, logger_scores=scores, points=[ev.point], bbox=bbox, width_px=560,
                           highlight=1, svg_id=f"sketch-{ev.rank}", legend=False, scale=scale, cs=cs)


def _match_ledger(points: list, suspects: list, within_m: float = 0.05) -> None:
    """Give survey points the id, status and outcome of the ledger suspect at the same place
    (same pipe, offsets within ``within_m`` m)."""
    for p in points:
        best = None
        for s in suspects:
            if s["pipe_id"] == p["pipe_id"]:
                d = abs(float(s["offset_m"]) - float(p["offset_m"]))
                if d <= within_m and (best is None or d < best[0]):
                    best = (d, s)
        if best is not None:
            s = best[1]
            p.update({k: s.get(k) for k in ("ledger_id", "status", "outcome", "night", "spacing_m")
                      if s.get(k) is not None})


def _pipe_health(led, site, since, until):
    """Pipe grades of the report's network from the ledger (None, with a warning, when they cannot be made)."""
    from ..ledger._grade import grade_pipes
    from ..ledger._network import LedgerNetwork

    try:
        return grade_pipes(led, LedgerNetwork(site.network, site.sites, Path(site.root)), since=since, until=until)
    except AcousticError as exc:
        _warn(f"pipe health section left out: {exc}")
        return None


def _unit_of(scale, cs) -> str:
    from ._svg import _coord_unit

    return _coord_unit(scale, cs)[0]


def _jsonable(v):
    from ..io import to_jsonable

    return to_jsonable(v)


def _pair_inputs(path, doc):
    from ..ledger._pairs import load_pair_result
    from ._inputs import ReportInputs
    from ._pair import pair_point

    job = load_pair_result(path, doc)
    points = [pair_point(job)] if job.detected else []
    if not job.detected:
        _warn(f"{path}: the pair {job.sensor_ids[0]}-{job.sensor_ids[1]} located no leak; the report has no dig sheet")
    return ReportInputs(points=points, lines=[], areas=[], noise_sources=[], logger_scores={}, survey_dir=None,
                        sources=[f"pair job {path}"]), job


def _read_any(path):
    """The JSON document of a result file (size-limited), to tell a pair job from a survey result."""
    from ..ledger._pairs import read_json_document

    p = Path(path)
    if not p.is_file():
        return None
    try:
        return read_json_document(p, "result")
    except AcousticError:
        return None  # load_survey_result says what is wrong


def _check_options(tolerance_m, tolerance_pct, max_suspects, images, out_dir: Path, statuses: list) -> None:
    """Refuse impossible report options (:class:`~acoustic.ParameterError` naming the option)."""
    check_tolerance(tolerance_m, tolerance_pct)
    if isinstance(max_suspects, bool) or not isinstance(max_suspects, int) or not 0 <= max_suspects <= 200:
        raise ParameterError(f"--max-suspects must be an integer 0-200, got {max_suspects!r}")
    if images not in ("embed", "files"):
        raise ParameterError(f"images must be 'embed' or 'files', got {images!r}")
    if out_dir.exists() and not out_dir.is_dir():
        raise ParameterError(f"--out {out_dir}: exists and is not a folder")
    bad = [x for x in statuses if x not in ("open", "dispatched", "confirmed", "no_leak")]
    if bad:
        raise ParameterError(f"--status {bad[0]}: must be open, dispatched, confirmed or no_leak")


@dataclasses.dataclass
class _Gathered:
    """What :func:`_gather` read: the inputs, the survey folder, the ledger's numbers, coordinates."""

    inputs: object            # ._inputs.ReportInputs
    site: object | None       # ._inputs.Site
    history: dict
    contractor: dict | None
    cs: object                # acoustic.survey._crs.CoordinateSystem
    scale: object | None      # acoustic.survey._crs.MapScale
    health: object | None     # acoustic.ledger._grade.GradeResult


def _read_inputs(survey_result, ledger, survey_dir, filters: dict):
    """The report's inputs and the open ledger (or None): a pair job, a survey result, or a ledger alone."""
    from ..ledger._pairs import is_pair_result
    from ._inputs import ledger_inputs, survey_inputs

    led = None
    raw = _read_any(survey_result) if survey_result is not None else None
    if raw is not None and is_pair_result(raw):
        inputs, _job = _pair_inputs(Path(survey_result), raw)
        if ledger is not None:
            linputs, led = ledger_inputs(ledger, survey_dir=survey_dir, **filters)
            inputs.sources += linputs.sources
            inputs.ledger_path = linputs.ledger_path
            _match_ledger(inputs.points, linputs.points)
        return inputs, led
    if survey_result is None:
        return ledger_inputs(ledger, survey_dir=survey_dir, **filters)
    inputs = survey_inputs(survey_result, load_survey_result(survey_result), survey_dir)
    if ledger is not None:
        linputs, led = ledger_inputs(ledger, survey_dir=inputs.survey_dir or survey_dir, **filters)
        inputs.sources += linputs.sources
        inputs.ledger_path = linputs.ledger_path
        inputs.history_rows = linputs.history_rows
        inputs.ledger_recordings = linputs.ledger_recordings
        _match_ledger(inputs.points, linputs.points)
    if filters["statuses"]:
        inputs.points = [p for p in inputs.points if (p.get("status") or "open") in filters["statuses"]]
    return inputs, led


def _gather(survey_result, ledger, survey_dir, filters: dict, crs, tolerance_m, tolerance_pct) -> _Gathered:
    """Read everything the report shows (the ledger is closed before returning)."""
    from ..survey._crs import coordinate_system_for, map_scale
    from ._inputs import open_site, read_history

    inputs, led = None, None
    try:
        inputs, led = _read_inputs(survey_result, ledger, survey_dir, filters)
        site = None
        if inputs.survey_dir is not None:
            site = open_site(inputs.survey_dir)
            if inputs.ledger_recordings:
                site.recordings.add_ledger_rows(inputs.ledger_recordings)
            if not len(site.recordings):
                _warn(f"{site.recordings_problem or 'no recordings found'}; the evidence plots need them"
                      + (" (the ledger's recordings are not there either)" if inputs.ledger_recordings else ""))
        history = read_history(site.stats_path if site else None, inputs.history_rows)
        contractor = None
        if led is not None:
            contractor = contractor_summary(led, tolerance_m=tolerance_m, tolerance_pct=tolerance_pct,
                                            since=filters["since"], until=filters["until"])
        cs = coordinate_system_for(crs, inputs.survey_dir)
        scale = map_scale(site.network, cs) if site is not None else None
        health = None
        if led is not None and site is not None:
            health = _pipe_health(led, site, filters["since"], filters["until"])
    finally:
        if led is not None:
            led.close()
    return _Gathered(inputs, site, history, contractor, cs, scale, health)


def _suspects(points: list, g: _Gathered, library, correlate_kw, progress=None) -> list:
    """Each point suspect's evidence (recomputed), with longitude/latitude on its dig sheet."""
    from .._progress import iter_progress
    from ._evidence import SuspectEvidence, suspect_evidence
    from ._pair import pair_evidence

    lib = _open_library(library)
    cache: dict = {}
    suspects = []
    for rank, p in enumerate(iter_progress(points, progress, "plots", len(points)), start=1):
        if p.get("origin") == "pair":
            try:
                suspects.append(pair_evidence(rank, p, correlate_kw=correlate_kw, cache=cache))
            except AcousticError as exc:
                suspects.append(SuspectEvidence(rank, p, notes=[str(exc)]))
            continue
        suspects.append(suspect_evidence(rank, p, g.site, library=lib, history=g.history, correlate_kw=correlate_kw,
                                         cache=cache))
    for ev in suspects:
        if ev.dig is not None and ev.dig.get("x") is not None:
            ll = g.cs.lonlat_or_none(ev.dig["x"], ev.dig["y"])
            ev.dig["lon"], ev.dig["lat"] = ll if ll else (None, None)
    return suspects


def _maps(g: _Gathered, suspects: list) -> dict:
    """The network map, the dig-sheet sketches, the graded map and the network's summary (SVG text)."""
    out = {"map_svg": None, "sketches": {}, "health_map": None, "net_summary": None}
    site, inputs = g.site, g.inputs
    if site is None:
        return out
    out["map_svg"] = network_map_svg(site.network, site.sites, logger_scores=inputs.logger_scores,
                                     points=[ev.point for ev in suspects if ev.point.get("origin") != "pair"],
                                     lines=inputs.lines, areas=inputs.areas, noise_sources=inputs.noise_sources,
                                     scale=g.scale, cs=g.cs)
    out["sketches"] = {ev.rank: _sketch(site, ev, inputs.logger_scores, g.scale, g.cs) for ev in suspects}
    out["net_summary"] = {"pipes": len(site.network.pipes), "total_length_m": site.network.total_length_m,
                          "loggers": len(site.sites), "source": str(site.network.source)}
    if g.health is not None:
        from ._html import GRADE_COLOURS

        classes = {p.pipe_id: (GRADE_COLOURS[p.grade], f"{p.grade}: {p.action}") for p in g.health.pipes}
        out["health_map"] = network_map_svg(
            site.network, site.sites, logger_scores=inputs.logger_scores, scale=g.scale, cs=g.cs, svg_id="health-map",
            pipe_classes=classes, class_legend=[(GRADE_COLOURS[gr], f"{gr}: {a}") for gr, a in
                                                (("A", "renew now"), ("B", "repair and watch"), ("C", "monitor"))])
    return out


def _page_context(g: _Gathered, suspects: list, maps: dict, title, tolerance_m, filters: dict) -> dict:
    """What the HTML templates render (:func:`~._html.render_page`)."""
    from .. import __version__
    from . import _plots

    inputs, scale, cs, contractor = g.inputs, g.scale, g.cs, g.contractor
    contractor_plot = None
    if contractor is not None and contractor["errors_m"]:
        contractor_plot = _plots.plot_location_errors(contractor["errors_m"], tolerance_m=tolerance_m,
                                                      rule=contractor["rule"])
    return {"title": title or "Leak survey field report",
            "generated_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "version": __version__,
            "sources": inputs.sources, "survey_dir": str(inputs.survey_dir) if inputs.survey_dir else None,
            "network_summary": maps["net_summary"], "suspects": suspects, "map_svg": maps["map_svg"],
            "areas": inputs.areas, "lines": inputs.lines, "contractor": contractor, "contractor_plot": contractor_plot,
            "ledger_path": str(inputs.ledger_path) if inputs.ledger_path else None,
            "dig_sheets_file": "dig-sheets.html", "warnings": [],
            "coord_unit": _unit_of(scale, cs), "coord_name": cs.describe() if cs.known else (
                "network coordinates" if scale is None or abs(scale.metres_per_unit - 1) <= 0.02
                else f"network coordinates, 1 unit = {scale.metres_per_unit:.4g} m"),
            "scale_how": scale.how if scale is not None else None, "coordinates": cs.to_json(),
            "filters": {"status": filters["statuses"], "since": filters["since"], "until": filters["until"]},
            "health": g.health, "health_map": maps["health_map"]}


#: The kind and version of ``report.json`` and of ``acoustic report --json`` (docs/schemas/report.schema.json).
REPORT_SCHEMA = "acoustic.report/1"


def _suspect_json(ev) -> dict:
    """One suspect of ``report.json``."""
    return {"rank": ev.rank, "pipe_id": ev.point["pipe_id"], "offset_m": ev.point["offset_m"],
            "status": ev.point.get("status"), "origin": ev.point.get("origin") or "survey",
            "lat": (ev.dig or {}).get("lat"), "lon": (ev.dig or {}).get("lon"),
            "offset_sd_m": ev.point.get("sd_m"), "sd_m": ev.point.get("sd_m"),  # (sd_m: the old key, one release)
            "interval_m": ev.point["interval_m"],
            "confidence": ev.point.get("confidence"), "ledger_id": ev.point.get("ledger_id"),
            "plots": sorted(ev.plots), "dig_sheet": ev.dig, "pair": ev.pair,
            "correlation": None if ev.correlation is None else
            {k: ev.correlation.get(k) for k in ("detected", "distance_from_a_m", "interval_m", "delay_s",
                                                "delay_sd_s", "wave_speed_m_s", "wave_speed_sd_m_s",
                                                "band_hz", "confidence")},
            "nearest_signatures": (ev.spectrum or {}).get("nearest", []), "notes": ev.notes}


def _report_json(g: _Gathered, ctx: dict, suspects: list, paths: tuple) -> dict:
    """The ``report.json`` document."""
    index, sheets = paths
    site, inputs, health, contractor = g.site, g.inputs, g.health, g.contractor
    return {
        "schema": REPORT_SCHEMA,
        "index_html": str(index), "dig_sheets_html": str(sheets), "generated_utc": ctx["generated_utc"],
        "sources": inputs.sources, "survey_dir": ctx["survey_dir"], "network": ctx["network_summary"],
        "map": None if site is None else {"pipes": len(site.network.pipes), "loggers": len(site.sites),
                                          "points": len(suspects), "areas": len(inputs.areas)},
        "coordinates": g.cs.to_json(), "map_scale": None if g.scale is None else dataclasses.asdict(g.scale),
        "filters": ctx["filters"],
        "suspects": [_suspect_json(ev) for ev in suspects],
        "contractor": None if contractor is None else {k: v for k, v in contractor.items() if k != "errors_m"},
        "pipe_health": None if health is None else {k: v for k, v in health.to_json().items() if k != "pipes"} | {
            "worst": [p.to_json() for p in health.pipes[:10]]},
        "warnings": list(ctx["warnings"]),
    }


def _write_outputs(out_dir: Path, ctx: dict, sketches: dict, images: str) -> tuple[Path, Path]:
    """Write ``index.html``, ``dig-sheets.html`` and (``images="files"``) ``plots/*.png``."""
    from ._html import render_dig_sheets, render_page

    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict | None = None if images == "embed" else {}
    page = render_page(ctx, sketches, files)
    if files:
        (out_dir / "plots").mkdir(exist_ok=True)
        for name, png in files.items():
            _atomic_write(out_dir / "plots" / name, png)
    index, sheets = out_dir / "index.html", out_dir / "dig-sheets.html"
    _atomic_write(index, page.encode("utf-8"))
    _atomic_write(sheets, render_dig_sheets(ctx, sketches).encode("utf-8"))
    return index, sheets


def build_report(out_dir, *, survey_result=None, ledger=None, survey_dir=None, library=None,
                 tolerance_m: float = 1.0, tolerance_pct: float | None = None, max_suspects: int = 10,
                 title: str | None = None, images: str = "embed", correlate_kw=None, crs: str | None = None,
                 statuses=None, since: str | None = None, until: str | None = None, progress=None) -> ReportResult:
    """Write a field report into ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Folder to write (created): ``index.html``, ``dig-sheets.html``, ``report.json`` and,
        with ``images="files"``, ``plots/*.png``.
    survey_result : str or Path, optional
        JSON written by ``acoustic survey --json``: its points are the suspects.
    ledger : str or Path, optional
        Ledger database: the contractor summary, and the suspects when no ``survey_result``
        is given (current point suspects, most suspect first).
    survey_dir : str or Path, optional
        The survey folder (network, loggers, recordings, stats.csv); default the one the
        result or the ledger's batch runs name.
    library : str or Path, optional
        Signature library (HDF5); default the shipped one when present.
    tolerance_m : float, default 1.0
        Payable location error (m) ...
    tolerance_pct : float, optional
        ... or this percentage of the sensor spacing, whichever is larger.
    max_suspects : int, default 10
        Point suspects shown with their evidence (most suspect first).
    title : str, optional
    images : {"embed", "files"}
        PNG plots as data URIs inside the page, or as files in ``plots/`` beside it.
    correlate_kw : dict, optional
        Options for the re-correlation (as given to the survey).
    crs : str, optional
        The network's coordinate system (``EPSG:xxxx``): latitude/longitude on the dig sheets and
        the map's scale from it (default the survey folder's ``network.geojson`` ``crs``, else the
        scale from the pipes' lengths).
    statuses : list of str, optional
        Only suspects with these statuses (``open``, ``dispatched``, ``confirmed``, ``no_leak``;
        a survey point not in the ledger counts as ``open``).
    since, until : str, optional
        Only suspects of survey nights within (``YYYY-MM-DD``, inclusive).
    progress : callable, optional
        ``progress(stage, done, total)`` (:mod:`acoustic._progress`): stage ``plots`` (suspects).

    ``survey_result`` may also be the JSON of ``acoustic correlate --json`` (a pair job): the
    report then shows that pair's correlogram, interval and dig sheet (distances from the
    sensors).

    Returns
    -------
    ReportResult

    Raises
    ------
    ParameterError
        Neither input given, impossible tolerance or ``max_suspects``, ``out_dir`` is a file.
    DataError
        Missing, empty, corrupt or foreign survey result or ledger; unusable survey folder.
    """
    if survey_result is None and ledger is None:
        raise ParameterError("give a SURVEY_RESULT (from 'acoustic survey --json') or --ledger PATH")
    out_dir = Path(out_dir)
    statuses = list(statuses or [])
    _check_options(tolerance_m, tolerance_pct, max_suspects, images, out_dir, statuses)
    filters = dict(statuses=statuses, since=since, until=until)
    with collect_warnings(reemit=True) as caught:  # (re-issued for callers: the CLI prints them on stderr)
        g = _gather(survey_result, ledger, survey_dir, filters, crs, tolerance_m, tolerance_pct)
        points = g.inputs.points[:max_suspects]
        if len(g.inputs.points) > max_suspects:
            _warn(f"{len(g.inputs.points)} point suspects; the report shows the {max_suspects} most suspect "
                  f"(--max-suspects)")
        suspects = _suspects(points, g, library, correlate_kw, progress)
        maps = _maps(g, suspects)
        ctx = _page_context(g, suspects, maps, title, tolerance_m, filters)
    ctx["warnings"] = caught.messages
    index, sheets = _write_outputs(out_dir, ctx, maps["sketches"], images)
    summary = _report_json(g, ctx, suspects, (index, sheets))
    report_json = out_dir / "report.json"
    _atomic_write(report_json, (json.dumps(_jsonable(summary), indent=1) + "\n").encode("utf-8"))
    return ReportResult(index, sheets, report_json, summary)
