"""Area -> line -> point narrowing of a survey folder (``physics.md`` 4.4).

1. **Pairs.**  Neighbouring loggers (their shortest route through the pipes passes no other
   logger) whose recordings overlap in time are correlated along that route, night by night
   (:func:`acoustic.correlate.correlate_pair` with the route's :class:`~acoustic.pipe.PipePath`).
2. **Loggers.**  What each logger's own recordings say: the classifier's leak probability
   (median over nights), the ``stats.csv`` level/spread score, the calibrated level.
3. **Point.**  All pair-nights' correlograms are fused onto the pipe graph (:mod:`._fusion`);
   sources are taken from the map one at a time.  Each is placed by least squares on the delays
   of the pair-nights that hear it (pair-nights whose peak it does not explain are dropped), with
   a 95 % interval from Monte Carlo draws of every pipe's wave speed (its material's spread) and
   of the measured delays.  Its evidence score is the fused z of those pair-nights (each capped at
   :data:`SCORE_CAP`); its ``confidence`` is the correlation's confidence (0.5 at ``report_z``, 1
   at ``strong_z``).  **The correlation decides**: a point whose pair-nights cover every night
   their pairs recorded and whose score reaches ``report_z`` is reported whatever the loggers'
   own recordings say; what they say (classifier, level/spread history, the nearest loggers most,
   :data:`LEAKINESS_NEAR_M`) is given as ``leakiness`` and breaks exact ties between points of
   equal correlation confidence and evidence score, never withholds one (a classifier's probability follows the absolute level that a
   sensor's gain and coupling set; a uniform gain change must not change the points).  Points at
   known noise equipment of the network model (PRVs and other valves, pumps) are listed as noise
   sources, not leaks.
4. **Line.**  Each neighbour pair's pipe run is scored by the correlation between them (the
   located points on the run; the pair's own detection when no point elsewhere explains it) and
   by the evidence at both ends (logger scores, and whether the calibrated levels heard at the
   two ends can come from one source between them given the route's loss).  Lines are ranked by
   the kind of evidence first (:data:`RANK_TIERS`: a located point, a correlation peak, logger
   evidence only; ``ranked_by`` in the output), by score within a kind.
5. **Area.**  Loggers are grouped by the ``area`` column of ``loggers.csv`` or, without it, into
   connected clusters of alarmed loggers; areas with located points come first (in the points'
   order), then areas touched by a line with a correlation peak, then the rest, each by score
   (its loggers, its lines, its points).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np

from .._errors import AcousticError, AcousticWarning, DataError
from .._progress import report_progress
from ._evidence import LoggerEvidence, RecordingCache, band_level_db, load_classifier, logger_evidence
from ._folder import SurveyFolder, read_survey
from ._fusion import SITE_WINDOW, Z_CAP, FusedMap, PairCorrelogram, _DelayModel, extract_sources, fuse, local_fit, local_peak_delay, peak_near
from ._graph import SurveyGraph
from ._records import SurveyArea, SurveyLine, SurveyPoint

__all__ = ["SurveyOptions", "SurveyResult", "run_survey", "SCORE_CAP"]

#: ``schema`` of the ``acoustic survey --json`` document.
SURVEY_SCHEMA = "acoustic.survey/1"
#: Largest z-score one pair-night contributes to a point's evidence score (the map caps lower,
#: :data:`acoustic.survey._fusion.Z_CAP`, so that no pair outvotes the others while searching; a
#: point's own evidence may show that a pair hears it far above the noise).
SCORE_CAP = 30.0
#: Distance (m) added to each logger's distance from a point when weighting what its own recordings
#: say about the point (the nearest logger hears a source best, without a singularity at 0 m).
LEAKINESS_NEAR_M = 10.0


def _warn(msg: str) -> None:
    warnings.warn(msg, AcousticWarning, stacklevel=3)


@dataclasses.dataclass
class SurveyOptions:
    """Tuning of the survey (defaults calibrated on simulated surveys, ``bench/survey_accuracy.py``).

    Attributes
    ----------
    min_overlap_s : float
        Shortest time overlap (s) for two recordings to be correlated.
    grid_spacing_m : float
        Spacing of the candidate points along the pipes (m).
    detect_z : float
        Fused map z-score at which a candidate point is examined.
    report_z : float
        Evidence score (the measured z-scores of the pair-nights that see the point, each capped
        at :data:`SCORE_CAP`, weighted and normalised like the map) from which a point is reported.
    strong_z : float
        Evidence score of full correlation confidence.
    report_confidence : float
        Points below this confidence are not reported.
    merge_m : float
        Candidate points closer than this along the pipes are one point (m).
    support_z : float
        A pair-night supports a point when its pooled z-score there reaches this.
    level_tolerance_db : float
        Level difference (dB) beyond the route's loss still taken as consistent with a source
        between the two ends (coupling and calibration differences between loggers).
    max_residual : float
        A pair-night whose measured delay is further than this many standard deviations from the
        delay the fitted point predicts is not evidence for that point (its peak is another
        source's); the point is fitted again without it.
    draws : int
        Monte Carlo draws for the point intervals.
    max_points : int
        Most points reported.
    context_hops : int
        An area surveyed on its own (``areas``) is surveyed with the loggers up to this many
        neighbour pairs beyond it as context; only its own points, lines and loggers are reported.
    require_every_night : bool
        A point is reported only when it is heard on every night (``night_balance``).
    night_balance : float
        Weakest night's over strongest night's mean capped z of the pairs that place a point
        (:func:`night_balance`) from which it counts as heard every night.  Set by hand (a steady
        source scores near 1; a tap heard on one night of two scores near 0), not tuned: on 16
        simulated district and net3 surveys (bench seeds) the leaks' points scored 0.84-1.0,
        pumps' 0.84-0.94, and a tap at a logger heard far better on one night of two 0.14.

    The ranking weights below were set by hand on the simulated district and net3 surveys of
    ``bench/survey_accuracy.py`` (our simulator only; never on ``bench/othersim``) and have not
    been tuned since; they order lines and areas, they decide no point.

    line_correlation_weight, line_ends_weight : float
        A line's score is ``line_correlation_weight * c + line_ends_weight * ends * consistency``:
        ``c`` the correlation between its ends, ``ends`` the geometric mean of the end loggers'
        scores, ``consistency`` whether their levels can come from one source between them.
    off_pair_point_factor : float
        A located point on a line's pipes that the line's own pair does not hear counts this
        fraction of its confidence for the line.
    own_detection_factor : float
        A pair's own detection (no located point on its run) counts this fraction of the
        correlator's confidence for the line.
    level_excess_scale_db : float
        Level differences between a line's ends beyond the route's loss and
        ``level_tolerance_db`` lower its consistency as ``exp(-excess / level_excess_scale_db)``.
    default_band_hz : (float, float)
        Band (Hz) for the level comparison of a line whose pair has no correlated night.
    area_logger_weight, area_line_weight : float
        An area without a located point scores
        ``area_logger_weight * (best + mean of two best logger scores) / 2 + area_line_weight * best line``.
    fit_radius_m, fit_radius_merge_factor : float
        A point is fitted over the pipes within ``max(fit_radius_merge_factor * merge_m,
        fit_radius_m)`` (m) of its grid candidate.
    equipment_within_m : float
        A point within this distance (m, or its interval's width when wider) of known noise
        equipment is listed as that equipment's noise.
    """

    min_overlap_s: float = 2.0
    grid_spacing_m: float = 1.0
    detect_z: float = 6.0
    report_z: float = 12.0
    strong_z: float = 24.0
    report_confidence: float = 0.7
    merge_m: float = 12.0
    support_z: float = 5.0
    level_tolerance_db: float = 6.0
    max_residual: float = 4.0
    draws: int = 300
    max_points: int = 10
    require_every_night: bool = True
    night_balance: float = 0.3
    context_hops: int = 2
    line_correlation_weight: float = 0.6
    line_ends_weight: float = 0.4
    off_pair_point_factor: float = 0.8
    own_detection_factor: float = 0.5
    level_excess_scale_db: float = 6.0
    default_band_hz: tuple = (100.0, 400.0)
    area_logger_weight: float = 0.6
    area_line_weight: float = 0.4
    fit_radius_m: float = 40.0
    fit_radius_merge_factor: float = 3.0
    equipment_within_m: float = 10.0


@dataclasses.dataclass
class SurveyResult:
    """The ranked areas, lines and points, with the evidence behind them (``to_json``)."""

    areas: list
    lines: list
    points: list
    noise_sources: list
    loggers: dict
    pairs: list
    warnings: list
    survey_dir: str
    network: dict
    graph: SurveyGraph | None = dataclasses.field(default=None, repr=False)
    inputs: dict | None = None

    def to_geojson(self) -> dict:
        """GeoJSON FeatureCollection: ranked lines, points (with their intervals), noise sources, loggers."""
        from ._geojson import survey_geojson

        g = self.graph
        routes = {(ln.from_logger, ln.to_logger): g.network_path(ln.from_logger, ln.to_logger).pieces
                  for ln in self.lines}
        xy = {lid: g.network.site_xy(g.sites[lid]) for lid in self.loggers if lid in g.sites}
        return survey_geojson(self, g.network, routes, xy)

    def to_json(self) -> dict:
        """The ``acoustic survey --json`` document (``docs/schemas/survey.schema.json``)."""
        inputs = dict(self.inputs or {"survey_dir": self.survey_dir})
        return {"schema": SURVEY_SCHEMA, **inputs, "survey_dir": inputs.get("survey_dir", self.survey_dir),
                "network": self.network, "areas": [a.to_json() for a in self.areas],
                "lines": [ln.to_json() for ln in self.lines], "points": [p.to_json() for p in self.points],
                "noise_sources": [p.to_json() for p in self.noise_sources],
                "loggers": [ev.to_json() for ev in self.loggers.values()], "pairs": self.pairs,
                "warnings": list(self.warnings)}


# -- pairs ------------------------------------------------------------------------------------
def _night_pairs(folder: SurveyFolder, a: str, b: str, min_overlap_s: float):
    """Overlapping recordings of two loggers: each recording of ``a`` with the recording of ``b``
    that overlaps it most (at least ``min_overlap_s``)."""
    out = []
    used = set()
    for ra in folder.recordings.get(a, []):
        best, best_ov = None, 0.0
        for rb in folder.recordings.get(b, []):
            if rb.path in used:
                continue
            ov = ra.overlap_s(rb)
            if ov > best_ov:
                best, best_ov = rb, ov
        if best is not None and best_ov >= min_overlap_s:
            used.add(best.path)
            out.append((ra, best, best_ov))
    return out


def _correlogram_arrays(res):
    """(lags s, values, band Hz, noise s.d.) of a :class:`~acoustic.correlate.CorrelationResult`."""
    cg = res.correlogram
    lags = np.asarray(cg.lags_s, dtype=np.float64)
    vals = np.asarray(cg.values, dtype=np.float64)
    band = cg.band_hz
    order = np.argsort(lags)
    noise = getattr(cg, "noise_sd", None)
    return lags[order], vals[order], (float(band[0]), float(band[1])), None if noise is None else float(noise)


def correlate_pairs(folder: SurveyFolder, graph: SurveyGraph, pairs, cache: RecordingCache, *,
                    min_overlap_s: float = 2.0, correlate_kw=None, progress=None
                    ) -> tuple[list[PairCorrelogram], dict]:
    """Correlate every overlapping night of every neighbour pair along its route.

    Returns the pair-night correlograms and, per logger, how many pair-nights it took part in.
    ``progress(stage, done, total)`` hears ``correlating pairs`` per pair-night.
    """
    from ..correlate import correlate_pair

    out: list[PairCorrelogram] = []
    used = defaultdict(int)
    todo = [(a, b, _night_pairs(folder, a, b, min_overlap_s)) for a, b in pairs]
    total = sum(len(n) for *_, n in todo)
    done = 0
    report_progress(progress, "correlating pairs", 0, total)
    for a, b, nights in todo:
        route = graph.network_path(a, b)
        path = route.pipe_path()
        for ra, rb, ov in nights:
            done += 1
            report_progress(progress, "correlating pairs", done, total)
            rec_a, rec_b = cache.get(ra), cache.get(rb)
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", AcousticWarning)
                    res = correlate_pair(rec_a, rec_b, path, **(correlate_kw or {}))
            except AcousticError as exc:
                _warn(f"pair {a}-{b} ({ra.path.name}, {rb.path.name}): not correlated ({exc})")
                continue
            js = res.to_json()
            js.setdefault("warnings", [])
            js["warnings"] = list(dict.fromkeys(list(js["warnings"]) + [str(w.message) for w in caught
                                                                       if issubclass(w.category, AcousticWarning)]))
            lags, vals, band, noise = _correlogram_arrays(res)
            sd = js.get("delay_sd_s")
            env = getattr(res.correlogram, "envelope", None)
            if env is not None:
                env = np.asarray(env, dtype=np.float64)[np.argsort(np.asarray(res.correlogram.lags_s))]
            out.append(PairCorrelogram(a, b, ra.night, lags, vals, band, peaks=list(js.get("peaks") or []),
                                       delay_sd_s=None if sd is None else float(sd), result=js,
                                       length_m=route.length_m, noise_sd=noise, envelope=env, correlation=res))
            used[a] += 1
            used[b] += 1
    return out, used


# -- points -----------------------------------------------------------------------------------
def _graph_distance(graph: SurveyGraph, e1: int, f1: float, e2: int, f2: float) -> float:
    """Route length (m) between two candidate points."""
    a, b = graph.edges[e1], graph.edges[e2]
    if e1 == e2:
        return abs(f1 - f2) * a.length_m
    best = np.inf
    for node1, d1 in ((a.u, f1 * a.length_m), (a.v, (1 - f1) * a.length_m)):
        dist = graph.node_tree(node1).dist
        for node2, d2 in ((b.u, f2 * b.length_m), (b.v, (1 - f2) * b.length_m)):
            if node2 in dist:
                best = min(best, d1 + dist[node2] + d2)
    return float(best)


def _local_points(graph: SurveyGraph, e0: int, f0: float, radius_m: float, spacing_m: float):
    """Candidate points within ``radius_m`` of a point along the pipes, with their signed
    coordinate along the point's own pipe (offset, extended past its ends)."""
    e = graph.edges[e0]
    pipe = graph.network.pipes[e.pipe_id]
    off0 = float(e.offset_at(f0))
    # distances from the point to every node, through the two ends of its edge
    start = {e.u: f0 * e.length_m, e.v: (1 - f0) * e.length_m}
    dist: dict[str, float] = {}
    for n, d0 in start.items():
        for m, d in graph.node_tree(n).dist.items():
            if d0 + d <= radius_m + 1e-9 and d0 + d < dist.get(m, np.inf):
                dist[m] = d0 + d
    idx, fr, coord = [], [], []
    own = set(graph.pipe_edges[e.pipe_id])
    for ed in graph.edges:
        du, dv = dist.get(ed.u, np.inf), dist.get(ed.v, np.inf)
        if ed.index == e0:
            du, dv = f0 * ed.length_m, (1 - f0) * ed.length_m
        if not (np.isfinite(du) or np.isfinite(dv)):
            continue
        n = max(2, int(np.ceil(ed.length_m / spacing_m)) + 1)
        f = np.linspace(0.0, 1.0, n)
        d = np.minimum(du + f * ed.length_m, dv + (1 - f) * ed.length_m)
        if ed.index == e0:
            d = np.abs(f - f0) * ed.length_m
        keep = d <= radius_m + 1e-9
        if not np.any(keep):
            continue
        f = f[keep]
        idx.append(np.full(f.size, ed.index))
        fr.append(f)
        if ed.index in own:
            coord.append(ed.offset_at(f))
        else:
            # off the pipe: beyond whichever end of the pipe is nearer along the route
            ds, de = dist.get(pipe.start_node, np.inf), dist.get(pipe.end_node, np.inf)
            dd = d[keep]
            coord.append(np.where(ds <= de, off0 - dd, off0 + dd))
    return np.concatenate(idx), np.concatenate(fr), np.concatenate(coord), off0


def _delay_sd(pc: PairCorrelogram, delay: float, z: float) -> float:
    """Delay s.d. (s) of a pair-night's peak: the correlator's when this is its main peak, else
    the peak's half-width over its z-score (at least half a lag step)."""
    lags = np.asarray(pc.lags_s)
    dlag = float(np.median(np.diff(lags)))
    main = pc.result.get("delay_s")
    if main is not None and pc.delay_sd_s and abs(float(main) - delay) <= 2 * dlag:
        return max(float(pc.delay_sd_s), 0.5 * dlag)
    zz = pc.envelope_z()
    i = int(np.argmin(np.abs(lags - delay)))
    half = zz[i] / 2.0
    lo = i
    while lo > 0 and zz[lo] > half:
        lo -= 1
    hi = i
    while hi < zz.size - 1 and zz[hi] > half:
        hi += 1
    width = max((hi - lo) * dlag / 2.0, dlag)
    return max(width / max(z, 1.0) * 2.0, 0.5 * dlag)


def _bracketed(graph: SurveyGraph, pairs: list[PairCorrelogram], fm: FusedMap, cand) -> bool:
    """A candidate is placed only when some pair brackets it (its delay lies inside the pair's
    possible delays), or when pairs leaving one logger in two or more directions all hear it
    beyond that logger (a source at the logger).  Otherwise the evidence says only "something
    beyond logger X": the leftover of a source that lies further away."""
    j = cand.index
    ends: dict[str, set] = {}
    for k in cand.support:
        t = float(fm.tau[k, j])
        if not fm.is_edge(k, t):
            return True
        pc = pairs[k]
        near = pc.b if t > 0 else pc.a  # delay = T(->a) - T(->b) > 0: the source is beyond b
        other = pc.a if near == pc.b else pc.b
        route = graph.route_edges(near, other)
        if route:
            ends.setdefault(near, set()).add(route[0][0])
    return any(len(dirs) >= 2 for dirs in ends.values())


def _logger_at(graph: SurveyGraph, e: int, f: float, within_m: float) -> str | None:
    """The logger within ``within_m`` m (along the pipes) of point ``(edge e, fraction f)``, if any."""
    ed = graph.edges[e]
    for n, d in ((ed.u, f * ed.length_m), (ed.v, (1.0 - f) * ed.length_m)):
        if d <= within_m and graph.node_logger.get(n):
            return graph.node_logger[n][0]
    return None


def _all_directions(graph: SurveyGraph, pairs, lid: str, ks) -> bool:
    """The pair-nights ``ks`` hear logger ``lid``'s site from every direction its pairs leave it."""
    dirs_all, dirs = set(), set()
    for k, pc in enumerate(pairs):
        if lid in (pc.a, pc.b):
            route = graph.route_edges(lid, pc.b if lid == pc.a else pc.a)
            if route:
                dirs_all.add(route[0][0])
                if k in ks:
                    dirs.add(route[0][0])
    return bool(dirs) and dirs == dirs_all


def _predicted_delay(graph: SurveyGraph, model: _DelayModel, pc: PairCorrelogram, e: int, f: float) -> float:
    """Delay (s) the pair would see from the point ``(edge e, fraction f)``, nominal speeds."""
    ei, fr = np.array([e]), np.array([f])
    sl = model.slowness(pc.band_hz)
    ta = graph.times_to_points(pc.a, ei, fr, sl)
    tb = graph.times_to_points(pc.b, ei, fr, sl)
    return float(ta[0] - tb[0])


def _measured_delay(pc: PairCorrelogram, tau0: float, tolerance_s: float, residual=None) -> tuple[float, float]:
    """The pair-night's delay (s) near the predicted ``tau0`` and its envelope z.

    ``residual`` is the pair's envelope z-score with the sources taken so far removed: only what
    is left counts.  A peak the correlator reported there (sub-sample) is used when it is left,
    else the local maximum of the residual envelope (parabolic refinement).
    """
    zenv = pc.envelope_z() if residual is None else residual
    lags = np.asarray(pc.lags_s)
    best = None
    for p in list(pc.peaks) + list(pc.result.get("outside_peaks") or []):
        d = p.get("delay_s")
        if d is None or abs(float(d) - tau0) > tolerance_s:
            continue
        if float(np.interp(float(d), lags, zenv)) < 0.5 * float(np.interp(float(d), lags, pc.envelope_z())):
            continue  # this peak was already taken by another source
        if best is None or float(p.get("strength", 0)) > float(best.get("strength", 0)):
            best = p
    if best is not None:
        d = float(best["delay_s"])
        return d, float(np.interp(d, lags, zenv))
    return peak_near(lags, zenv, tau0, tolerance_s)


@dataclasses.dataclass
class _Placement:
    """What placing one CLEAN candidate gave: the point's record (None when it is not placed or
    not reported), whether it is known equipment's noise, and the measured delays (s, per pair
    index) at which its peaks are removed from the correlograms."""

    record: SurveyPoint | None
    is_equipment: bool
    delays: dict


@dataclasses.dataclass
class _LocateContext:
    """The inputs every candidate placement reads (explicit, instead of a closure's outer names)."""

    graph: SurveyGraph
    pairs: list
    fm: FusedMap
    evidence: dict
    opts: SurveyOptions
    model: _DelayModel
    taken: list  # (edge, fraction) of the points placed so far


def _measure_candidate(ctx: _LocateContext, cand):
    """Measure the supporting pair-nights' delays near the candidate, fit the point, predict again
    (up to four rounds).  Returns ``(observed, best, picks, le, lf, coord)`` or None."""
    graph, pairs, fm, opts, model = ctx.graph, ctx.pairs, ctx.fm, ctx.opts, ctx.model
    j = cand.index
    e, f = int(fm.edge_idx[j]), float(fm.frac[j])
    pred = {k: float(fm.tau[k, j]) for k in cand.support}
    radius = max(opts.fit_radius_merge_factor * opts.merge_m, opts.fit_radius_m)
    le, lf, coord, _ = _local_points(graph, e, f, radius, spacing_m=0.2)
    near_site = cand.at_logger
    for _ in range(4):  # measure the delays near the prediction, fit, predict again
        observed = []
        for k, t0 in pred.items():
            pc = pairs[k]
            res = None if cand.residual is None else cand.residual[k]
            window = (SITE_WINDOW if near_site in (pc.a, pc.b) else 1.5) * float(fm.tolerance[k])
            d, z = _measured_delay(pc, t0, window, res)
            if z >= fm.floors[k]:  # what is left there still supports this source
                observed.append((k, d, _delay_sd(pc, d, z), z))
        if not observed:
            return None
        best, picks, _, resid = local_fit(graph, pairs, le, lf, [(k, d, sd) for k, d, sd, _ in observed],
                                          draws=opts.draws, seed=j, model=model)
        # pair-nights whose peak this point does not explain (another source's) are dropped
        keep = np.abs(resid) <= opts.max_residual
        if not np.all(keep):
            observed = [o for o, kp in zip(observed, keep) if kp]
            if not observed:
                return None
            best, picks, _, resid = local_fit(graph, pairs, le, lf, [(k, d, sd) for k, d, sd, _ in observed],
                                              draws=opts.draws, seed=j, model=model)
        new = {k: _predicted_delay(graph, model, pairs[k], int(le[best]), float(lf[best]))
               for k, *_ in observed}
        # a point at a logger: the evidence may say only "beyond this logger"; every pair of
        # that logger is measured too (one may hear the source just inside, which places it)
        site = _logger_at(graph, int(le[best]), float(lf[best]), opts.merge_m / 2.0)
        if site is not None and site != near_site:
            near_site = site
            for k, pc in enumerate(pairs):
                if site in (pc.a, pc.b) and k not in new:
                    new[k] = _predicted_delay(graph, model, pc, int(le[best]), float(lf[best]))
        if all(abs(new[k] - pred.get(k, np.inf)) < 1e-5 for k in new):
            break
        pred = new
    return observed, best, picks, le, lf, coord


def place_candidate(ctx: _LocateContext, cand) -> _Placement:
    """Place one candidate of the CLEAN loop (module docs, 3.): fit, score, and decide whether it
    is reported as a point, listed as equipment noise, or neither."""
    graph, pairs, fm, opts = ctx.graph, ctx.pairs, ctx.fm, ctx.opts
    if cand.at_logger is None and not _bracketed(graph, pairs, fm, cand):
        return _Placement(None, False, {})
    fit = _measure_candidate(ctx, cand)
    if fit is None:
        return _Placement(None, False, {})
    observed, best, picks, le, lf, coord = fit
    delays = {k: d for k, d, _, _ in observed}
    # a point at a logger must be heard from every direction the logger's pairs leave it (else
    # what its pairs hear beyond it comes from elsewhere: the pair that does not hear it
    # brackets the real source)
    site = _logger_at(graph, int(le[best]), float(lf[best]), opts.merge_m / 2.0)
    if site is not None and not _all_directions(graph, pairs, site, [k for k, *_ in observed]):
        return _Placement(None, False, delays)
    # the evidence actually measured: the fused z of the supporting pair-nights at this point
    j = cand.index
    wj = fm.weights[:, j]
    norm = float(np.sqrt(max(np.sum(wj ** 2), 1e-12))) if cand.at_logger is None else float(np.sqrt(len(observed)))
    wk = {k: (wj[k] if cand.at_logger is None else 1.0) for k, *_ in observed}
    cand.score = float(sum(wk[k] * min(z, SCORE_CAP) for k, _, _, z in observed) / norm)
    if cand.score < opts.report_z:
        return _Placement(None, False, delays)
    eb, fb = int(le[best]), float(lf[best])
    if any(_graph_distance(graph, eb, fb, e2, f2) < opts.merge_m for e2, f2 in ctx.taken):
        return _Placement(None, False, delays)
    ctx.taken.append((eb, fb))
    rec = _point_record(graph, pairs, ctx.evidence, opts, cand, observed, le, lf, coord, best, picks,
                        int(fm.edge_idx[j]))
    kit = _equipment_near(graph, eb, fb, max(opts.equipment_within_m, rec.interval_m[1] - rec.interval_m[0]))
    if kit is None and _comes_and_goes(pairs, fm, observed):
        kit = ("a source that comes and goes with time on every pair-night that places it (the correlator's "
               "intermittency test: a tap or other consumption, not a leak)")
    if kit is not None:
        rec.explained_by = kit
        return _Placement(rec, True, delays)
    if rec.confidence >= opts.report_confidence and (rec.every_night or not opts.require_every_night):
        return _Placement(rec, False, delays)
    return _Placement(None, False, delays)


def _comes_and_goes(pairs: list[PairCorrelogram], fm: FusedMap, observed) -> bool:
    """Every pair-night placing a point whose correlator peak there is known says it is intermittent
    (and no steady source lies under it): the correlator's own test for taps and consumption."""
    flags = []
    for k, d, _, _ in observed:
        tol = 1.5 * float(fm.tolerance[k])
        near = [p for p in pairs[k].peaks if p.get("delay_s") is not None and abs(float(p["delay_s"]) - d) <= tol
                and "intermittent" in p]
        if near:
            p = max(near, key=lambda q: float(q.get("strength") or 0.0))
            flags.append(bool(p["intermittent"]) and not p.get("shared_with_intermittent"))
    return bool(flags) and all(flags)


def locate_points(graph: SurveyGraph, pairs: list[PairCorrelogram], fm: FusedMap, evidence: dict,
                  opts: SurveyOptions, model: _DelayModel) -> tuple[list, list]:
    """Sources taken from the fused map (CLEAN), placed and scored (module docs). Returns
    ``(points, noise_sources)``, most confident first."""
    ctx = _LocateContext(graph, pairs, fm, evidence, opts, model, [])
    placements: list[_Placement] = []

    def refine(cand):
        placements.append(place_candidate(ctx, cand))
        return placements[-1].delays

    levels = {lid: (ev.sensor_kind, ev.level_db) for lid, ev in evidence.items() if ev.level_db is not None}
    extract_sources(pairs, fm, detect_z=opts.detect_z, support_z=opts.support_z,
                    max_sources=2 * opts.max_points, refine=refine, graph=graph, logger_levels=levels)
    points = [pl.record for pl in placements if pl.record is not None and not pl.is_equipment]
    sources = [pl.record for pl in placements if pl.record is not None and pl.is_equipment]
    # by the correlation (confidence, then the evidence score: neither follows a sensor's gain); what
    # the loggers' own recordings say only breaks exact ties (on net2 with a customer's pump the
    # classifier scored the pump's point 0.67 and the leak's 0.49; ordered by it, the pump came first)
    points.sort(key=lambda r: (-round(r.confidence, 2), -r.score_z, -round(r.leakiness or 0.0, 2)))
    sources.sort(key=lambda r: -r.score_z)
    return points[: opts.max_points], sources


def _point_record(graph, pairs, evidence, opts, cand, observed, le, lf, coord, best, picks, e0) -> SurveyPoint:
    """The record of a located point (``interfaces.md`` plus evidence)."""
    pid, off = graph.point_pipe(le[best], lf[best])
    pipe = graph.network.pipes[pid]
    c_best = float(coord[best])
    cs = coord[picks]
    lo, hi = np.quantile(cs, [0.025, 0.975])
    lo, hi = min(lo, c_best), max(hi, c_best)
    reach = sorted({graph.edges[int(le[i])].pipe_id for i in picks} - {pid})
    if pid != graph.edges[e0].pipe_id:  # coordinates were along the grid point's pipe
        shift = off - c_best
        lo, hi = lo + shift, hi + shift
    x, y = pipe.point_at(off)
    loggers = []
    for k, *_ in observed:
        for lid in (pairs[k].a, pairs[k].b):
            if lid not in loggers:
                loggers.append(lid)
    z_corr = cand.score
    c_corr = float(np.clip((z_corr - opts.report_z) / (opts.strong_z - opts.report_z), 0.0, 1.0))
    c_corr = 0.5 + 0.5 * c_corr  # past the detection threshold the correlation counts at least half
    # the logger nearest the point hears it loudest: its own recordings say leak or not
    dist = {lid: float(graph.route_to_points(lid, np.array([le[best]]), np.array([lf[best]]))[1][0])
            for lid in loggers}
    near = min(loggers, key=dist.get)
    q = evidence[near].leak_probability if near in evidence else None
    # what the loggers' own recordings say (classifier, statistics, level), the nearest ones most:
    # weights 1 / (distance + LEAKINESS_NEAR_M)
    # (a level alone cannot tell a leak from a PRV: without a classifier or statistics the
    # correlation alone decides)
    ws = {l: 1.0 / (dist[l] + LEAKINESS_NEAR_M) for l in loggers
          if l in evidence and (evidence[l].leak_probability is not None or evidence[l].stats_score is not None)}
    leakiness = (float(sum(w * evidence[l].score for l, w in ws.items()) / sum(ws.values()))
                 if ws else None)
    # the correlation decides; the loggers' own recordings explain and order, never veto (their
    # scores follow the absolute level a sensor's gain and coupling set)
    confidence = c_corr
    seen = {pairs[k].night for k, *_ in observed}
    balance = night_balance(pairs, observed)
    near_node, near_d = ((pipe.start_node, off) if off <= pipe.length_m / 2 else (pipe.end_node, pipe.length_m - off))
    return SurveyPoint(
        pipe_id=pid, offset_m=round(off, 2), x=round(x, 3), y=round(y, 3),
        interval_m=(round(float(np.clip(lo, 0.0, pipe.length_m)), 2), round(float(np.clip(hi, 0.0, pipe.length_m)), 2)),
        sd_m=round(float(np.std(cs)), 2), confidence=round(float(confidence), 3), loggers=loggers,
        score_z=round(z_corr, 2), n_pairs=len({(pairs[k].a, pairs[k].b) for k, *_ in observed}),
        n_pair_nights=len(observed), material=pipe.material, diameter_mm=pipe.diameter_mm,
        pipe_length_m=round(pipe.length_m, 2), nearest_node={"node_id": near_node, "distance_m": round(near_d, 2)},
        nearest_logger={"logger_id": near, "distance_m": round(dist[near], 2)}, nights=sorted(seen),
        every_night=bool(balance >= opts.night_balance), night_balance=round(balance, 3),
        classifier_leak_probability=None if q is None else round(q, 3),
        leakiness=None if leakiness is None else round(float(leakiness), 3),
        evidence=[{"from_logger": pairs[k].a, "to_logger": pairs[k].b, "night": pairs[k].night,
                   "delay_s": round(d, 6), "delay_sd_s": round(sd, 7), "z": round(z, 2)} for k, d, sd, z in observed],
        interval_extends_into=list(reach))


def night_balance(pairs: list[PairCorrelogram], observed) -> float:
    """How evenly a point is heard over the nights (0..1): per night, the mean over the pairs that
    place it and recorded that night of their z there (each capped at :data:`SCORE_CAP`; 0 when
    the pair-night does not hear it); the weakest night's over the strongest night's.  A steady
    source (a leak) is heard about as well every night; one that is heard on one night only, or
    far better on one, comes and goes."""
    zs = {k: min(float(z), SCORE_CAP) for k, _, _, z in observed}
    keys = {(pairs[k].a, pairs[k].b) for k in zs}
    per_night: dict[str, list] = defaultdict(list)
    for k, pc in enumerate(pairs):
        if (pc.a, pc.b) in keys:
            per_night[pc.night].append(zs.get(k, 0.0))
    means = [float(np.mean(v)) for v in per_night.values()]
    return float(min(means) / max(means)) if means and max(means) > 0 else 0.0


def _equipment_near(graph: SurveyGraph, e: int, f: float, within_m: float):
    """Known noise equipment (PRV, pump) within ``within_m`` of a point, or None."""
    eq = graph.network.equipment
    if not eq:
        return None
    ed = graph.edges[int(e)]
    for node, what in eq.items():
        if node not in graph.adj:
            continue
        d = min(graph.node_tree(ed.u).dist.get(node, np.inf) + f * ed.length_m,
                graph.node_tree(ed.v).dist.get(node, np.inf) + (1 - f) * ed.length_m)
        if d <= within_m:
            return f"{what} at node {node} ({d:.1f} m away)"
    return None


# -- lines ------------------------------------------------------------------------------------
def _route_loss_db(graph: SurveyGraph, a: str, b: str, band) -> float:
    """Power loss (dB) of sound along the route from ``a`` to ``b`` over ``band`` (attenuation of
    each pipe's material and 2/N splitting at the junctions passed)."""
    from ..network._propagation import route_transfer

    route = graph.network_path(a, b)
    f = np.linspace(max(band[0], 1.0), max(band[1], band[0] + 1.0), 24)
    h = route_transfer(graph.network, route, f)
    return float(-10.0 * np.log10(max(float(np.mean(np.abs(h) ** 2)), 1e-30)))


def _point_edge(graph: SurveyGraph, pipe_id: str, offset_m: float) -> tuple[int, float]:
    """``(edge index, fraction)`` of the point ``offset_m`` m along pipe ``pipe_id``."""
    for e in graph.pipe_edges[pipe_id]:
        ed = graph.edges[e]
        lo, hi = sorted((ed.off_u, ed.off_v))
        if lo - 1e-9 <= offset_m <= hi + 1e-9:
            return e, float((offset_m - ed.off_u) / (ed.off_v - ed.off_u))
    e = graph.pipe_edges[pipe_id][-1]
    return e, 1.0


def _explained_elsewhere(graph, model, pc: PairCorrelogram, fm, k: int, located: list, run: set) -> bool:
    """The pair's main peak is the delay of a located point or noise source off the pair's run
    (sound reaching the two loggers by different routes), so it is not evidence for this run."""
    d = pc.result.get("delay_s")
    if d is None or fm is None:
        return False
    for p in located:
        if p.pipe_id in run:
            continue
        e, f = _point_edge(graph, p.pipe_id, p.offset_m)
        if abs(_predicted_delay(graph, model, pc, e, f) - float(d)) <= float(fm.tolerance[k]):
            return True
    return False


def rank_lines(folder: SurveyFolder, graph: SurveyGraph, pairs_list, pair_nights: list[PairCorrelogram],
               evidence: dict, points: list, sources: list, fm: FusedMap, cache: RecordingCache,
               opts: SurveyOptions, model: _DelayModel | None = None) -> list[SurveyLine]:
    """Score every neighbour pair's pipe run (module docs)."""
    by_pair = defaultdict(list)
    for k, pc in enumerate(pair_nights):
        by_pair[(pc.a, pc.b)].append(k)
    lines = []
    for a, b in pairs_list:
        route = graph.network_path(a, b)
        ks = by_pair.get((a, b), [])
        pipe_ids = route.pipe_ids
        reasons = []
        # evidence at the two ends
        ea, eb = evidence[a].score, evidence[b].score
        s_ends = math.sqrt(max(ea, 0.0) * max(eb, 0.0))
        reasons.append(f"end scores {a} {ea:.2f}, {b} {eb:.2f}")
        # levels heard at both ends against the route's loss
        consistency = 1.0
        level = None
        band = pair_nights[ks[0]].band_hz if ks else tuple(opts.default_band_hz)
        if folder.sites[a].sensor_kind == folder.sites[b].sensor_kind:
            la = [band_level_db(*cache.psd(r), band) for r in folder.recordings.get(a, [])]
            lb = [band_level_db(*cache.psd(r), band) for r in folder.recordings.get(b, [])]
            if la and lb:
                dl = float(np.nanmedian(la) - np.nanmedian(lb))
                loss = _route_loss_db(graph, a, b, band)
                excess = abs(dl) - loss - opts.level_tolerance_db
                consistency = 1.0 if excess <= 0 else float(np.exp(-excess / opts.level_excess_scale_db))
                level = {"band_hz": [round(band[0], 1), round(band[1], 1)], "level_difference_db": round(dl, 2),
                         "route_loss_db": round(loss, 2), "consistent": bool(excess <= 0)}
                if excess > 0:
                    louder = a if dl > 0 else b
                    reasons.append(f"{louder} is {abs(dl):.1f} dB louder, more than the {loss:.1f} dB the route "
                                   f"loses: the noise comes from beyond {louder}")
        # correlation between them: fused points on this run, else the pair's own detection
        run = set(pipe_ids)
        s_corr = 0.0
        for p in points:
            if p.pipe_id in run and a in p.loggers and b in p.loggers:
                s_corr = max(s_corr, p.confidence)
            elif p.pipe_id in run:
                s_corr = max(s_corr, opts.off_pair_point_factor * p.confidence)
        own = 0.0
        for k in ks:
            js = pair_nights[k].result
            if js.get("detected") and not _explained_elsewhere(graph, model, pair_nights[k], fm, k, points + sources,
                                                               run):
                own = max(own, float(js.get("confidence") or 0.0))
        if s_corr > 0:
            reasons.append(f"located point on the run (confidence {s_corr:.2f})")
        elif own > 0:
            reasons.append(f"correlation peak between them (confidence {own:.2f})")
        for s in sources:
            if s.pipe_id in run:
                reasons.append(f"known noise source on the run: {s.explained_by}")
        score, carried = line_score(s_corr, own, s_ends, consistency, opts)
        lines.append(SurveyLine(
            pipe_ids=pipe_ids, from_logger=a, to_logger=b, score=round(float(score), 4), ranked_by=carried,
            length_m=round(route.length_m, 2), materials=sorted({graph.network.pipes[p].material for p in pipe_ids}),
            correlation={"nights": len(ks), "confidence": round(own, 3),
                         "detected": bool(any(pair_nights[k].result.get("detected") for k in ks))},
            levels=level, reasons=reasons))
    lines.sort(key=lambda r: (RANK_TIERS.index(r.ranked_by), -r.score, r.length_m))
    return lines


#: What carried a line's or an area's rank, strongest first: lines and areas are ordered by the
#: kind of their evidence (the fused correlation's located points, then a pair's own correlation
#: peak, then what single loggers hear), and by their score within a kind.
RANK_TIERS = ("located point", "correlation peak", "logger evidence")


def line_score(s_corr: float, own: float, ends: float, consistency: float, opts: SurveyOptions
               ) -> tuple[float, str]:
    """Score (0..1) of a line and the kind of evidence that carries its rank (:data:`RANK_TIERS`).

    Parameters
    ----------
    s_corr : float
        Best confidence of a located point on the line's pipes (0 when none; points heard by
        other pairs only already scaled by ``opts.off_pair_point_factor``).
    own : float
        The line's own pair's correlation confidence (0 when it detected nothing or its peak is
        explained by a point elsewhere).
    ends : float
        Geometric mean of the end loggers' scores (0..1).
    consistency : float
        Whether the levels at the two ends can come from one source between them (0..1).
    """
    c = max(s_corr, opts.own_detection_factor * own)
    score = opts.line_correlation_weight * c + opts.line_ends_weight * ends * consistency
    carried = RANK_TIERS[0] if s_corr > 0 else RANK_TIERS[1] if own > 0 else RANK_TIERS[2]
    return float(score), carried


def area_score(s_pts: float, logger_scores: list, s_lines: float, line_kind: str | None, opts: SurveyOptions
               ) -> tuple[float, str]:
    """Score (0..1) of an area and the kind of evidence that carries its rank (:data:`RANK_TIERS`).

    ``s_pts`` is the best confidence of a located point whose nearest logger is in the area (0
    when none), ``logger_scores`` its loggers' scores, ``s_lines`` the best score of a line
    touching it and ``line_kind`` the strongest kind of evidence among those lines.
    """
    scores = sorted(logger_scores, reverse=True)
    s_log = scores[0] if scores else 0.0
    s_two = float(np.mean(scores[:2])) if scores else 0.0
    score = max(s_pts, 0.5 * (s_log + s_two) * opts.area_logger_weight + opts.area_line_weight * s_lines)
    if s_pts > 0:
        return float(score), RANK_TIERS[0]
    if line_kind in RANK_TIERS[:2]:
        return float(score), RANK_TIERS[1]
    return float(score), RANK_TIERS[2]


# -- areas ------------------------------------------------------------------------------------
def rank_areas(folder: SurveyFolder, graph: SurveyGraph, loggers, pairs_list, evidence: dict, points: list,
               lines: list, opts: SurveyOptions | None = None) -> list[SurveyArea]:
    """Areas from the ``area`` column or from clusters of alarmed neighbouring loggers, ranked."""
    opts = opts or SurveyOptions()
    named = folder.areas()
    groups: dict[str, list[str]] = defaultdict(list)
    if named:
        for lid in loggers:
            groups[named.get(lid) or "(no area)"].append(lid)
    else:
        alarmed = [l for l in loggers if evidence[l].alarm]
        link = defaultdict(set)
        for a, b in pairs_list:
            if a in alarmed and b in alarmed:
                link[a].add(b)
                link[b].add(a)
        seen = set()
        n = 0
        for lid in alarmed:
            if lid in seen:
                continue
            n += 1
            stack, comp = [lid], []
            while stack:
                x = stack.pop()
                if x in seen:
                    continue
                seen.add(x)
                comp.append(x)
                stack.extend(link[x] - seen)
            groups[f"cluster-{n}"] = comp
        # points whose loggers were not alarmed still deserve an area of their own
        for p in points:
            if p.nearest_logger["logger_id"] not in seen:
                n += 1
                groups[f"cluster-{n}"] = [l for l in p.loggers if l not in seen]
                seen |= set(p.loggers)
    out = []
    for name, members in groups.items():
        ms = set(members)
        scores = [evidence[l].score for l in members]
        # a point belongs to the area of the logger nearest to it along the pipes
        s_pts = max([p.confidence for p in points if p.nearest_logger["logger_id"] in ms] or [0.0])
        touching = [ln for ln in lines if ln.from_logger in ms or ln.to_logger in ms]
        s_lines = max([ln.score for ln in touching] or [0.0])
        line_kind = min((ln.ranked_by for ln in touching), key=RANK_TIERS.index, default=None)
        score, carried = area_score(s_pts, scores, s_lines, line_kind, opts)
        reasons = [f"strongest logger score {max(scores or [0.0]):.2f}"]
        if s_pts:
            reasons.append(f"located point(s), best confidence {s_pts:.2f}")
        elif carried == RANK_TIERS[1]:
            reasons.append("a correlation peak on a line touching it")
        # areas with points follow the points' ranking (correlation, then what the loggers say)
        first = min([i for i, p in enumerate(points) if p.nearest_logger["logger_id"] in ms] or [len(points)])
        out.append((first, SurveyArea(area=name, loggers=members, score=round(float(score), 4), ranked_by=carried,
                                      alarmed_loggers=[l for l in members if evidence[l].alarm], reasons=reasons)))
    out.sort(key=lambda fa: (RANK_TIERS.index(fa[1].ranked_by), fa[0], -fa[1].score))
    return [a for _, a in out]
    return out


# -- the whole survey -----------------------------------------------------------------------
def context_loggers(folder: SurveyFolder, active: list, in_area: list, hops: int) -> list:
    """The loggers an area is surveyed with: its own and those up to ``hops`` neighbour pairs away
    (any area), so that sources near its edge are placed as the whole network's survey places them."""
    graph = SurveyGraph(folder.network, [folder.sites[l] for l in active])
    link = defaultdict(set)
    for a, b in graph.neighbour_pairs(active):
        link[a].add(b)
        link[b].add(a)
    keep, frontier = set(in_area), set(in_area)
    for _ in range(max(int(hops), 0)):
        frontier = {n for l in frontier for n in link[l]} - keep
        keep |= frontier
    return [l for l in active if l in keep]


def _own_results(own: set, points, sources, lines, pair_nights, evidence):
    """What an area surveyed with context loggers reports as its own: points and noise sources whose
    nearest logger is its own (each source belongs to one area, as in the whole network's survey),
    lines and pairs with an end among its loggers, its loggers' evidence."""
    mine = [p for p in points if p.nearest_logger["logger_id"] in own]
    srcs = [p for p in sources if p.nearest_logger["logger_id"] in own]
    lines = [ln for ln in lines if ln.from_logger in own or ln.to_logger in own]
    pairs = [pc for pc in pair_nights if pc.a in own or pc.b in own]
    return mine, srcs, lines, pairs, {l: ev for l, ev in evidence.items() if l in own}


def run_survey(survey_dir, *, model="default", areas=None, options: SurveyOptions | None = None,
               correlate_kw=None, progress=None) -> SurveyResult:
    """Narrow leak suspects from area to line to point on a survey folder.

    Parameters
    ----------
    survey_dir : str or Path
        The survey folder (``interfaces.md``).
    model : "default", path, LeakModel or None
        Leak classifier for the per-logger scores (None: no classifier).
    areas : iterable of str, optional
        Only these areas (``area`` column of ``loggers.csv``), for nightly runs per area.  Each is
        surveyed with the loggers up to ``options.context_hops`` neighbour pairs beyond it as
        context, and reports the points whose nearest logger is its own: area by area, the
        points are those of the whole network's survey.
    options : SurveyOptions, optional
    progress : callable, optional
        ``progress(stage, done, total)`` (:mod:`acoustic._progress`): stages ``scoring loggers``,
        ``correlating pairs`` (pair-nights), ``fusing`` and ``ranking``.

    Returns
    -------
    SurveyResult

    Raises
    ------
    DataError
        Unusable folder (see :func:`read_survey`), or no two loggers with recordings connected.
    """
    opts = options or SurveyOptions()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AcousticWarning)
        result = _run(survey_dir, model, areas, opts, correlate_kw, progress)
    msgs = []
    for w in caught:
        if issubclass(w.category, AcousticWarning) and str(w.message) not in msgs:
            msgs.append(str(w.message))
    for m in msgs:  # re-issue for callers (the CLI prints them on stderr)
        warnings.warn(m, AcousticWarning, stacklevel=2)
    result.warnings = msgs
    result.inputs = {"survey_dir": str(Path(survey_dir).resolve()),
                     "model": None if model is None else (model if isinstance(model, str) else
                                                          str(getattr(model, "path", None) or type(model).__name__)),
                     "areas_requested": None if areas is None else sorted(set(areas)),
                     "options": dataclasses.asdict(opts)}
    return result


def _run(survey_dir, model, areas, opts: SurveyOptions, correlate_kw, progress=None) -> SurveyResult:
    folder = read_survey(survey_dir)
    loggers = folder.active_loggers
    if areas is not None:
        wanted = set(areas)
        named = folder.areas() or {}
        unknown = wanted - set(named.values())
        if unknown:
            raise DataError(f"{folder.root / 'loggers.csv'}: no logger in area(s) {', '.join(sorted(unknown))}")
        in_area = [l for l in loggers if named.get(l) in wanted]
        loggers = context_loggers(folder, loggers, in_area, opts.context_hops)
    else:
        in_area = list(loggers)
    net_parts = folder.network.components()
    if len(net_parts) > 1:
        _warn(f"{folder.network.source}: the network has {len(net_parts)} separate parts; loggers are paired "
              f"only within a part")
    graph = SurveyGraph(folder.network, [folder.sites[l] for l in loggers])
    comps = graph.components(loggers)
    for comp in comps:
        if len(comp) == 1:
            _warn(f"logger {comp[0]} is alone in its part of the network: no other logger with recordings is "
                  f"connected to it by pipes; it cannot be correlated")
    if all(len(c) < 2 for c in comps):
        raise DataError(f"{folder.root}: no two loggers with recordings are connected by pipes "
                        f"(disconnected network); nothing can be correlated")
    pairs_list = graph.neighbour_pairs(loggers)
    cache = RecordingCache()
    pair_nights, used = correlate_pairs(folder, graph, pairs_list, cache, min_overlap_s=opts.min_overlap_s,
                                        correlate_kw=correlate_kw, progress=progress)
    for lid in loggers:
        if used.get(lid, 0) == 0 and any(lid in p for p in pairs_list):
            _warn(f"logger {lid}: its recordings overlap no neighbour's in time; it is used for its own "
                  f"score only")
    report_progress(progress, "scoring loggers", 0, len(loggers))
    classifier = load_classifier(model)
    evidence = logger_evidence(folder, loggers, classifier, cache)
    report_progress(progress, "scoring loggers", len(loggers), len(loggers))
    model_d = _DelayModel(graph)
    if pair_nights:
        report_progress(progress, "fusing", 0, 1)
        fm = fuse(graph, pair_nights, spacing_m=opts.grid_spacing_m, model=model_d, support_z=opts.support_z)
        points, sources = locate_points(graph, pair_nights, fm, evidence, opts, model_d)
        report_progress(progress, "fusing", 1, 1)
    else:
        _warn("no pair of neighbouring loggers has recordings that overlap in time: no points can be located")
        fm, points, sources = None, [], []
    report_progress(progress, "ranking", 0, 1)
    lines = rank_lines(folder, graph, pairs_list, pair_nights, evidence, points, sources, fm, cache, opts, model_d)
    if len(in_area) < len(loggers):  # an area surveyed with its neighbours as context: keep what is its own
        points, sources, lines, pair_nights, evidence = _own_results(set(in_area), points, sources, lines,
                                                                     pair_nights, evidence)
        pairs_list = [(a, b) for a, b in pairs_list if a in evidence or b in evidence]
    area_list = rank_areas(folder, graph, in_area, pairs_list, evidence, points, lines, opts)
    report_progress(progress, "ranking", 1, 1)
    pairs_json = [{"from_logger": pc.a, "to_logger": pc.b, "night": pc.night, "length_m": round(pc.length_m, 2),
                   **{k: pc.result.get(k) for k in ("detected", "distance_from_a_m", "interval_m", "delay_s",
                                                     "confidence", "band_hz", "warnings")}}
                  for pc in pair_nights]
    xs = [c[0] for c in folder.network.node_coords.values()]
    ys = [c[1] for c in folder.network.node_coords.values()]
    net = {"source": str(folder.network.source), "pipes": len(folder.network.pipes),
           "total_length_m": round(folder.network.total_length_m, 1), "bbox": [min(xs), min(ys), max(xs), max(ys)],
           "loggers": len(folder.sites), "loggers_with_recordings": len(folder.active_loggers),
           "neighbour_pairs": len(pairs_list), "pair_nights": len(pair_nights)}
    if len(in_area) < len(loggers):
        net["context_loggers"] = sorted(set(loggers) - set(in_area))
    return SurveyResult(area_list, lines, points, sources, evidence, pairs_json, [], str(Path(survey_dir)), net, graph)
