"""The evidence behind one point suspect, recomputed from the recordings.

A survey result says *where*; the report shows *why*.  For each point the pair-night with the
strongest support (the survey's ``evidence`` list, largest z) is correlated again along its
route through the pipes (:func:`acoustic.correlate.correlate_pair`, the survey's own method
on the same files), the nearest logger's recording gets its 1/3-octave spectrum
(:func:`acoustic.features.extract_features`) and its nearest signatures in the library
(:meth:`acoustic.library.SignatureLibrary.match`), and the pair's loggers get their nightly
level/spread history.  What cannot be recomputed (recordings moved, no library, no history)
is said in ``notes`` and left out of the page.
"""

from __future__ import annotations

import dataclasses
from datetime import date

import numpy as np

from .._errors import AcousticError
from .._warnings import collect_warnings, silenced
from ._dig import dig_sheet, route_position

__all__ = ["SuspectEvidence", "suspect_evidence"]


@dataclasses.dataclass
class SuspectEvidence:
    """What the report shows for one point suspect.

    Attributes
    ----------
    rank : int
        1-based rank in the report.
    point : dict
        The suspect as given (survey point or ledger suspect).
    dig : dict or None
        :func:`acoustic.report._dig.dig_sheet` numbers (None without the network).
    pair : dict or None
        The pair-night re-correlated: ``from_logger``, ``to_logger``, ``night``, ``files``,
        ``overlap_s``, ``route`` (pipe pieces), ``route_length_m``, ``point_on_route_m``,
        ``interval_on_route_m``, ``measured_on_route_m``.
    correlation : dict or None
        The correlation's JSON (``acoustic correlate`` fields: delay, speed, band, ...).
    plots : dict of name -> PNG bytes
        ``correlogram``, ``coherence``, ``spectrum``, ``history`` (those that could be made).
    spectrum : dict or None
        ``logger_id``, ``file``, ``nearest`` (matched signatures: id, label, similarity, ...).
    history_loggers : list of str
    notes : list of str
        Why a part of the evidence is missing.
    """

    rank: int
    point: dict
    dig: dict | None = None
    pair: dict | None = None
    correlation: dict | None = None
    plots: dict = dataclasses.field(default_factory=dict)
    spectrum: dict | None = None
    history_loggers: list = dataclasses.field(default_factory=list)
    history_scores: dict = dataclasses.field(default_factory=dict)
    notes: list = dataclasses.field(default_factory=list)


def _candidate_pairs(point: dict, site) -> list[tuple[str, str, str | None, object, float | None]]:
    """Pairs of loggers that can show a point, best first: ``(a, b, night, route, position)``.

    The survey's pair-nights (``evidence``) whose route runs through the point come first
    (strongest z first), then those that hear it through a junction; without evidence, every
    pair of the point's loggers, those whose route carries the point first (shortest route
    first).  ``position`` is the point's distance along the route from ``a`` (None off-route).
    """
    best: dict[tuple[str, str], tuple[float, str | None]] = {}
    for e in point.get("evidence") or []:
        if not (isinstance(e, dict) and e.get("from_logger") in site.sites and e.get("to_logger") in site.sites):
            continue
        key = (str(e["from_logger"]), str(e["to_logger"]))
        z = float(e.get("z") or 0.0)
        if key not in best or z > best[key][0]:
            best[key] = (z, e.get("night"))
    if not best:
        loggers = [l for l in dict.fromkeys(point.get("loggers") or []) if l in site.sites]
        for i, a in enumerate(loggers):
            for b in loggers[i + 1:]:
                best[(a, b)] = (0.0, point.get("night"))
    out = []
    for (a, b), (z, night) in best.items():
        route = site.graph.network_path(a, b)
        pos = None
        if route is not None:
            pos = route_position(route.pieces, point["pipe_id"], float(point["offset_m"]), network=site.network)
        length = route.length_m if route is not None else float("inf")
        out.append(((pos is None, -z, length), (a, b, night, route, pos)))
    out.sort(key=lambda t: t[0])
    return [c for _, c in out]


def _read(info):
    from ..io import read_recording

    return read_recording(info.path)


def suspect_evidence(rank: int, point: dict, site, *, library=None, history: dict | None = None,
                     correlate_kw=None, cache: dict | None = None) -> SuspectEvidence:
    """Recompute the evidence of one point suspect (module docs).

    Parameters
    ----------
    rank : int
    point : dict
    site : acoustic.report._inputs.Site or None
        The survey folder; None gives only the suspect's own numbers.
    library : acoustic.library.SignatureLibrary, optional
    history : dict of logger_id -> list of (date, level, spread), optional
    correlate_kw : dict, optional
        Options for :func:`acoustic.correlate.correlate_pair` (as the survey used).
    cache : dict, optional
        Shared between suspects: recordings read and correlations made.

    Returns
    -------
    SuspectEvidence
    """
    ev = SuspectEvidence(rank, point)
    cache = {} if cache is None else cache
    if site is None:
        ev.notes.append("no survey folder: map position, dig-sheet distances and evidence plots need the network "
                        "and recordings")
        return ev
    try:
        ev.dig = dig_sheet(site.network, site.sites, point)
    except AcousticError as exc:
        ev.notes.append(str(exc))
        return ev
    if ev.dig["offset_m"] != float(point["offset_m"]):  # off its pipe by a rounding difference: clamped
        point = dict(point, offset_m=ev.dig["offset_m"], offset_m_as_recorded=point["offset_m"],
                     interval_m=[min(max(float(v), 0.0), ev.dig["pipe_length_m"]) for v in point["interval_m"]])
        ev.point = point
    candidates = _candidate_pairs(point, site)
    if not candidates:
        ev.notes.append("no pair of loggers behind this suspect is in the network: correlogram left out")
        _spectrum(ev, site, point, None, library, cache)
        _history(ev, point, [l for l in point.get("loggers") or []][:2], history)
        return ev
    tried = []
    for a, b, night, route, _ in candidates[:4]:
        found = site.recordings.pair(a, b, night)
        if route is None:
            tried.append(f"loggers {a} and {b} are not connected by pipes in the network")
        elif found is None:
            tried.append(f"no overlapping recordings of {a} and {b}{' on the night of ' + night if night else ''}")
        else:
            problem = _correlate(ev, site, route, found, night, correlate_kw, cache)
            if problem is None:
                break
            tried.append(problem)
    if ev.pair is None:
        ev.notes.append("correlogram left out: " + "; ".join(tried))
    elif tried:
        ev.notes.append("pairs tried first: " + "; ".join(tried))
    a, b, night = (ev.pair["from_logger"], ev.pair["to_logger"], ev.pair["night"]) if ev.pair else candidates[0][:3]
    _spectrum(ev, site, point, (a, b, night), library, cache)
    _history(ev, point, [a, b], history, night)
    return ev


def _correlate(ev: SuspectEvidence, site, route, found, night, correlate_kw, cache) -> str | None:
    """Correlate one pair-night again and plot it; the reason when it cannot be done, else None."""
    from ..correlate import correlate_pair
    from . import _plots

    ia, ib, overlap = found
    point = ev.point
    key = ("corr", str(ia.path), str(ib.path))
    try:
        if key not in cache:
            with collect_warnings(foreign="ignore") as caught:
                rec_a = cache.get(("rec", str(ia.path))) or _read(ia)
                rec_b = cache.get(("rec", str(ib.path))) or _read(ib)
                cache[("rec", str(ia.path))], cache[("rec", str(ib.path))] = rec_a, rec_b
                path = route.pipe_path()
                res = correlate_pair(rec_a, rec_b, path, **(correlate_kw or {}))
            cache[key] = (res, path, caught.messages)
        res, path, corr_warnings = cache[key]
    except AcousticError as exc:
        return (f"pair {route.from_logger}-{route.to_logger} ({ia.path.name}, {ib.path.name}) could not be "
                f"correlated again: {exc}")
    js = res.to_json()
    js["warnings"] = list(dict.fromkeys(list(js.get("warnings") or []) + corr_warnings))
    ev.correlation = js
    pieces = [(str(p), float(f), float(t)) for p, f, t in route.pieces]
    on_route = route_position(pieces, point["pipe_id"], float(point["offset_m"]), network=site.network)
    iv = None
    if on_route is not None:
        ends = [route_position(pieces, point["pipe_id"], float(v), network=site.network, clip=True)
                for v in point["interval_m"]]
        ends = [on_route if v is None else v for v in ends]
        iv = (min(ends + [on_route]), max(ends + [on_route]))
    measured = []
    for e in point.get("evidence") or []:
        if e.get("from_logger") == route.from_logger and e.get("to_logger") == route.to_logger and e.get("delay_s") is not None:
            m = float(path.position_for_delay(float(e["delay_s"]), tuple(res.band_hz)))
            if all(abs(m - q) > 0.05 for q in measured):
                measured.append(m)
    breaks, cum = [], 0.0
    for k, (pid, f, t) in enumerate(pieces):
        if k:
            breaks.append((cum, pid))
        cum += abs(t - f)
    ev.pair = {"from_logger": route.from_logger, "to_logger": route.to_logger, "night": ia.night if night is None else night,
               "files": [str(ia.path), str(ib.path)], "overlap_s": float(overlap), "route": pieces,
               "route_length_m": float(route.length_m), "point_on_route_m": on_route,
               "interval_on_route_m": list(iv) if iv else None, "measured_on_route_m": measured}
    point_label = None
    if on_route is None:
        junction = _junction_on_route(site.network, pieces, point)
        if junction is not None:
            node, at_m, branch_m = junction
            ev.pair["junction"] = {"node_id": node, "route_position_m": at_m, "branch_m": branch_m}
            point_label = f"suspect via node {node} (+{branch_m:.1f} m off the route)"
            ev.notes.append(f"the suspect's pipe {point['pipe_id']} is not on the route {route.from_logger}-"
                            f"{route.to_logger}: its sound joins the route at node {node}, {branch_m:.1f} m from the "
                            f"suspect, so on this pair it peaks at {at_m:.1f} m from {route.from_logger} (a source "
                            f"off the route has the delay of the point where it joins)")
            on_route = at_m
        else:
            ev.notes.append(f"the suspect's pipe {point['pipe_id']} is not connected to the route "
                            f"{route.from_logger}-{route.to_logger}")
    cg = res.correlogram
    pos = np.asarray(cg.positions_m, dtype=np.float64)
    inside = (pos > 0.0) & (pos < route.length_m)
    order = np.argsort(pos[inside])
    title = (f"pair {route.from_logger}-{route.to_logger}, night {ev.pair['night']}: "
             f"{'leak-like peak' if js.get('detected') else 'no leak-like peak on its own'}")
    ev.plots["correlogram"] = _plots.plot_correlogram(
        pos[inside][order], np.asarray(cg.values, dtype=np.float64)[inside][order], route_length_m=route.length_m,
        label_a=route.from_logger, label_b=route.to_logger, point_m=on_route, interval_m=iv, measured_m=measured,
        pipe_breaks=breaks, title=title, point_label=point_label)
    ev.plots["coherence"] = _plots.plot_coherence(
        cg.freqs_hz, cg.coherence, cg.coherence_smooth, band_hz=tuple(cg.band_hz),
        threshold=js.get("coherence_threshold"), notch=cg.notch,
        title=f"coherence {route.from_logger}-{route.to_logger} (mean {js.get('coherence_mean') or 0:.2f} in band)")
    return None


def _junction_on_route(network, pieces, point) -> tuple[str, float, float] | None:
    """Where an off-route point's sound joins a route: ``(node_id, position along the route m,
    distance from the point to that node along the pipes m)``, the node nearest the point."""
    from ..network import LoggerSite

    pipe = network.pipes.get(point["pipe_id"])
    if pipe is None:
        return None
    off = float(point["offset_m"])
    ds = network.distances_from(LoggerSite("_start", node_id=pipe.start_node))
    de = network.distances_from(LoggerSite("_end", node_id=pipe.end_node))
    best, cum = None, 0.0
    for pid, a, b in pieces:
        p = network.pipes[pid]
        for o, at in ((a, cum), (b, cum + abs(b - a))):
            node = p.start_node if o <= 1e-6 else p.end_node if o >= p.length_m - 1e-6 else None
            if node is None:
                continue
            d = min(off + ds.get(node, np.inf), pipe.length_m - off + de.get(node, np.inf))
            if np.isfinite(d) and (best is None or d < best[2]):
                best = (node, float(at), float(d))
        cum += abs(b - a)
    return best


def _spectrum(ev: SuspectEvidence, site, point, chosen, library, cache) -> None:
    from ..features import LEVEL_REFERENCE, extract_features, shape_features
    from . import _plots

    # the logger nearest the point along the pipes: it hears the leak loudest
    candidates = [l for l in point.get("loggers") or [] if l in site.sites]
    night = chosen[2] if chosen else point.get("night")
    if chosen:
        candidates = [chosen[0], chosen[1]] + [c for c in candidates if c not in chosen[:2]]
    if not candidates:
        ev.notes.append("no logger of this suspect is in the network: spectrum left out")
        return
    dist = {}
    pipe = site.network.pipes[point["pipe_id"]]
    off = float(point["offset_m"])
    for lid in candidates:
        s = site.sites[lid]
        if s.pipe_id == pipe.pipe_id and s.offset_m is not None:
            dist[lid] = abs(s.offset_m - off)
        else:
            dd = site.network.distances_from(s)
            dist[lid] = min(dd.get(pipe.start_node, np.inf) + off, dd.get(pipe.end_node, np.inf) + pipe.length_m - off)
    lid = min(candidates, key=lambda l: dist[l])
    info = site.recordings.one(lid, night)
    if info is None:
        ev.notes.append(f"no recording of logger {lid} found: spectrum left out")
        return
    key = ("feat", str(info.path))
    try:
        if key not in cache:
            with silenced():
                rec = cache.get(("rec", str(info.path))) or _read(info)
                cache[("rec", str(info.path))] = rec
                cache[key] = extract_features(rec)
                cache[("shape", str(info.path))] = shape_features(rec.samples, rec.sample_rate, rec.gain_db,
                                                                  name=rec.name)
        fv = cache[key]
        sf = cache[("shape", str(info.path))]  # the signature library holds the classifier's shape features
    except AcousticError as exc:
        ev.notes.append(f"{info.path.name}: spectrum not computed ({exc})")
        return
    nearest, sigs = [], []
    if library is not None and len(library):
        try:
            nearest = library.match(sf.values, k=3, names=sf.names, version=sf.version)[0]
        except AcousticError as exc:
            ev.notes.append(f"signature library not matched: {exc}")
        index = {sid: i for i, sid in enumerate(library.metadata["signature_id"].tolist())}
        for m in nearest:
            i = index.get(m["signature_id"])
            if i is None:
                continue
            sigs.append({"band_centres_hz": library.band_centres_hz, "band_levels_db": library.band_levels_db[i],
                         "label": f"{m['label']} {m['signature_id'][:8]} (similarity {m['similarity']:.2f})"})
    else:
        ev.notes.append("no signature library (--library PATH or the shipped default): the spectrum is shown "
                        "without signatures")
    d_text = f"{dist[lid]:.1f} m" if np.isfinite(dist[lid]) else "unknown distance"
    ev.spectrum = {"logger_id": lid, "file": str(info.path), "night": info.night, "distance_m": float(dist[lid]),
                   "nearest": nearest, "analysis_band_hz": list(fv.analysis_band_hz),
                   "level_reference": LEVEL_REFERENCE}
    ev.plots["spectrum"] = _plots.plot_spectrum(
        fv.band_centres_hz, fv.band_levels_db, label=f"{lid} {info.path.name} ({d_text} from the suspect)",
        signatures=sigs, level_reference="1 calibrated unit",
        title=f"spectrum of the nearest logger {lid} against its nearest library signatures")


def _history(ev: SuspectEvidence, point, loggers, history, night=None) -> None:
    from . import _plots

    if not history:
        ev.notes.append("no level/spread history (stats.csv in the survey folder or logger nights in the ledger): "
                        "history plot left out")
        return
    hist = {l: history[l] for l in loggers if l in history and history[l]}
    if not hist:
        ev.notes.append(f"no level/spread history for logger(s) {', '.join(loggers)}: history plot left out")
        return
    baselines, changes = {}, {}
    try:
        from ..loggers import StatsRow, score_loggers

        rows = [StatsRow(l, d, lv, sp) for l, rr in hist.items() for d, lv, sp in rr]
        with silenced():
            for s in score_loggers(rows):
                baselines[s.logger_id] = s.baseline_level_db
                if s.change_date:
                    changes[s.logger_id] = date.fromisoformat(str(s.change_date)[:10])
                ev.history_scores[s.logger_id] = s.as_dict()
    except (AcousticError, ImportError, ValueError) as exc:
        ev.notes.append(f"logger scores not recomputed for the history plot: {exc}")
    mark = None
    if night and night != "unknown":
        try:
            mark = date.fromisoformat(str(night)[:10])
        except ValueError:
            mark = None
    ev.history_loggers = sorted(hist)
    ev.plots["history"] = _plots.plot_history(hist, mark_night=mark, baselines=baselines, change_dates=changes,
                                              title=f"nightly level and spread of {', '.join(sorted(hist))}")
