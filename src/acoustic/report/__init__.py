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
import warnings
from datetime import datetime, timezone
from pathlib import Path

from .._errors import AcousticError, AcousticWarning, ParameterError
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


def _warn(msg: str) -> None:
    warnings.warn(msg, AcousticWarning, stacklevel=3)


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
    from ..cli._common import to_jsonable

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


def build_report(out_dir, *, survey_result=None, ledger=None, survey_dir=None, library=None,
                 tolerance_m: float = 1.0, tolerance_pct: float | None = None, max_suspects: int = 10,
                 title: str | None = None, images: str = "embed", correlate_kw=None, crs: str | None = None,
                 statuses=None, since: str | None = None, until: str | None = None) -> ReportResult:
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
    from .. import __version__
    from . import _plots
    from ._evidence import suspect_evidence
    from ._html import render_dig_sheets, render_page
    from ._inputs import ledger_inputs, open_site, read_history, survey_inputs

    if survey_result is None and ledger is None:
        raise ParameterError("give a SURVEY_RESULT (from 'acoustic survey --json') or --ledger PATH")
    check_tolerance(tolerance_m, tolerance_pct)
    if isinstance(max_suspects, bool) or not isinstance(max_suspects, int) or not 0 <= max_suspects <= 200:
        raise ParameterError(f"--max-suspects must be an integer 0-200, got {max_suspects!r}")
    if images not in ("embed", "files"):
        raise ParameterError(f"images must be 'embed' or 'files', got {images!r}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ParameterError(f"--out {out_dir}: exists and is not a folder")

    from ..survey._crs import coordinate_system_for, map_scale

    statuses = list(statuses or [])
    bad = [x for x in statuses if x not in ("open", "dispatched", "confirmed", "no_leak")]
    if bad:
        raise ParameterError(f"--status {bad[0]}: must be open, dispatched, confirmed or no_leak")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AcousticWarning)
        led = None
        filters = dict(statuses=statuses, since=since, until=until)
        try:
            raw = _read_any(survey_result) if survey_result is not None else None
            from ..ledger._pairs import is_pair_result

            if raw is not None and is_pair_result(raw):
                inputs, _job = _pair_inputs(Path(survey_result), raw)
                if ledger is not None:
                    linputs, led = ledger_inputs(ledger, survey_dir=survey_dir, **filters)
                    inputs.sources += linputs.sources
                    inputs.ledger_path = linputs.ledger_path
                    _match_ledger(inputs.points, linputs.points)
            elif survey_result is not None:
                doc = load_survey_result(survey_result)
                inputs = survey_inputs(survey_result, doc, survey_dir)
                if ledger is not None:
                    linputs, led = ledger_inputs(ledger, survey_dir=inputs.survey_dir or survey_dir, **filters)
                    inputs.sources += linputs.sources
                    inputs.ledger_path = linputs.ledger_path
                    inputs.history_rows = linputs.history_rows
                    inputs.ledger_recordings = linputs.ledger_recordings
                    _match_ledger(inputs.points, linputs.points)
                if statuses:
                    inputs.points = [p for p in inputs.points if (p.get("status") or "open") in statuses]
            else:
                inputs, led = ledger_inputs(ledger, survey_dir=survey_dir, **filters)
            site = None
            if inputs.survey_dir is not None:
                site = open_site(inputs.survey_dir)
                if inputs.ledger_recordings:
                    site.recordings.add_ledger_rows(inputs.ledger_recordings)
                if not len(site.recordings):
                    _warn(f"{site.recordings_problem or 'no recordings found'}; the evidence plots need them"
                          + (" (the ledger's recordings are not there either)" if inputs.ledger_recordings else ""))
            history = read_history(site.stats_path if site else None, inputs.history_rows)
            lib = _open_library(library)
            contractor = None
            if led is not None:
                contractor = contractor_summary(led, tolerance_m=tolerance_m, tolerance_pct=tolerance_pct,
                                                since=since, until=until)
            cs = coordinate_system_for(crs, inputs.survey_dir)
            scale = map_scale(site.network, cs) if site is not None else None
            health = None
            if led is not None and site is not None:
                health = _pipe_health(led, site, since, until)
        finally:
            if led is not None:
                led.close()

        points = inputs.points[:max_suspects]
        if len(inputs.points) > max_suspects:
            _warn(f"{len(inputs.points)} point suspects; the report shows the {max_suspects} most suspect "
                  f"(--max-suspects)")
        cache: dict = {}
        suspects = []
        from ._pair import pair_evidence

        for rank, p in enumerate(points, start=1):
            if p.get("origin") == "pair":
                try:
                    suspects.append(pair_evidence(rank, p, correlate_kw=correlate_kw, cache=cache))
                except AcousticError as exc:
                    from ._evidence import SuspectEvidence

                    suspects.append(SuspectEvidence(rank, p, notes=[str(exc)]))
                continue
            suspects.append(suspect_evidence(rank, p, site, library=lib, history=history, correlate_kw=correlate_kw,
                                             cache=cache))
        for ev in suspects:
            if ev.dig is not None and ev.dig.get("x") is not None:
                ll = cs.lonlat_or_none(ev.dig["x"], ev.dig["y"])
                ev.dig["lon"], ev.dig["lat"] = ll if ll else (None, None)
        map_points = [ev.point for ev in suspects]
        map_svg = None
        sketches = {}
        net_summary = None
        if site is not None:
            map_svg = network_map_svg(site.network, site.sites, logger_scores=inputs.logger_scores,
                                      points=[p for p in map_points if p.get("origin") != "pair"],
                                      lines=inputs.lines, areas=inputs.areas, noise_sources=inputs.noise_sources,
                                      scale=scale, cs=cs)
            sketches = {ev.rank: _sketch(site, ev, inputs.logger_scores, scale, cs) for ev in suspects}
            net_summary = {"pipes": len(site.network.pipes), "total_length_m": site.network.total_length_m,
                           "loggers": len(site.sites), "source": str(site.network.source)}
        health_map = None
        if health is not None:
            from ._html import GRADE_COLOURS

            classes = {p.pipe_id: (GRADE_COLOURS[p.grade], f"{p.grade}: {p.action}") for p in health.pipes}
            health_map = network_map_svg(site.network, site.sites, logger_scores=inputs.logger_scores, scale=scale,
                                         cs=cs, svg_id="health-map", pipe_classes=classes,
                                         class_legend=[(GRADE_COLOURS[g], f"{g}: {a}") for g, a in
                                                       (("A", "renew now"), ("B", "repair and watch"),
                                                        ("C", "monitor"))])
        contractor_plot = None
        if contractor is not None and contractor["errors_m"]:
            contractor_plot = _plots.plot_location_errors(contractor["errors_m"], tolerance_m=tolerance_m,
                                                          rule=contractor["rule"])
        generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        ctx = {"title": title or "Leak survey field report", "generated_utc": generated, "version": __version__,
               "sources": inputs.sources, "survey_dir": str(inputs.survey_dir) if inputs.survey_dir else None,
               "network_summary": net_summary, "suspects": suspects, "map_svg": map_svg, "areas": inputs.areas,
               "lines": inputs.lines, "contractor": contractor, "contractor_plot": contractor_plot,
               "ledger_path": str(inputs.ledger_path) if inputs.ledger_path else None,
               "dig_sheets_file": "dig-sheets.html", "warnings": [],
               "coord_unit": _unit_of(scale, cs), "coord_name": cs.describe() if cs.known else (
                   "network coordinates" if scale is None or abs(scale.metres_per_unit - 1) <= 0.02
                   else f"network coordinates, 1 unit = {scale.metres_per_unit:.4g} m"),
               "scale_how": scale.how if scale is not None else None, "coordinates": cs.to_json(),
               "filters": {"status": statuses, "since": since, "until": until},
               "health": health, "health_map": health_map}

    messages = []
    for w in caught:
        if issubclass(w.category, AcousticWarning) and str(w.message) not in messages:
            messages.append(str(w.message))
    ctx["warnings"] = messages

    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict | None = None if images == "embed" else {}
    page = render_page(ctx, sketches, files)
    if files:
        (out_dir / "plots").mkdir(exist_ok=True)
        for name, png in files.items():
            _atomic_write(out_dir / "plots" / name, png)
    index = out_dir / "index.html"
    sheets = out_dir / "dig-sheets.html"
    _atomic_write(index, page.encode("utf-8"))
    _atomic_write(sheets, render_dig_sheets(ctx, sketches).encode("utf-8"))
    summary = {
        "index_html": str(index), "dig_sheets_html": str(sheets), "generated_utc": generated,
        "sources": inputs.sources, "survey_dir": ctx["survey_dir"], "network": net_summary,
        "map": None if site is None else {"pipes": len(site.network.pipes), "loggers": len(site.sites),
                                          "points": len(points), "areas": len(inputs.areas)},
        "coordinates": cs.to_json(), "map_scale": None if scale is None else dataclasses.asdict(scale),
        "filters": ctx["filters"],
        "suspects": [{"rank": ev.rank, "pipe_id": ev.point["pipe_id"], "offset_m": ev.point["offset_m"],
                      "status": ev.point.get("status"), "origin": ev.point.get("origin") or "survey",
                      "lat": (ev.dig or {}).get("lat"), "lon": (ev.dig or {}).get("lon"),
                      "sd_m": ev.point.get("sd_m"), "interval_m": ev.point["interval_m"],
                      "confidence": ev.point.get("confidence"), "ledger_id": ev.point.get("ledger_id"),
                      "plots": sorted(ev.plots), "dig_sheet": ev.dig, "pair": ev.pair,
                      "correlation": None if ev.correlation is None else
                      {k: ev.correlation.get(k) for k in ("detected", "distance_from_a_m", "interval_m", "delay_s",
                                                          "delay_sd_s", "wave_speed_m_s", "wave_speed_sd_m_s",
                                                          "band_hz", "confidence")},
                      "nearest_signatures": (ev.spectrum or {}).get("nearest", []), "notes": ev.notes}
                     for ev in suspects],
        "contractor": None if contractor is None else {k: v for k, v in contractor.items() if k != "errors_m"},
        "pipe_health": None if health is None else {k: v for k, v in health.to_json().items() if k != "pipes"} | {
            "worst": [p.to_json() for p in health.pipes[:10]]},
        "warnings": list(ctx["warnings"]),
    }
    report_json = out_dir / "report.json"
    _atomic_write(report_json, (json.dumps(_jsonable(summary), indent=1) + "\n").encode("utf-8"))
    for m in messages:  # re-issue for callers (the CLI prints them on stderr)
        warnings.warn(m, AcousticWarning, stacklevel=2)
    for w in caught:
        if not issubclass(w.category, AcousticWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return ReportResult(index, sheets, report_json, summary)
