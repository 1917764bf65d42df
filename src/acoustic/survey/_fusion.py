"""Fusing the correlograms of all logger pairs onto the pipe graph (steered response power).

For a candidate point p on any pipe, the pair (A, B) would see the delay (arrival at A minus
arrival at B, absolute time)::

    tau_AB(p) = T(p -> A) - T(p -> B)

along the network's shortest routes with each pipe's wave speed over the pair's band.  For p
on the route between A and B this is ``2 T(A -> p) - T(A -> B)`` (``interfaces.md``); for p on a
branch off the route it is the delay of the branch point, and for p beyond B it is ``T(A -> B)``
(the edge of the correlogram).  Sampling every pair's correlogram at its ``tau_AB(p)`` and summing
over pairs gives a map over the network in which three or more loggers around a leak confirm one
another, and a leak on a branch, which no single pair can place, is found where the pairs'
constraints cross.

Details:

* **Evidence per pair.**  Each pair-night's correlogram *envelope* becomes a robust z-score
  (median / MAD over its lag window), max-pooled over the delay change across one grid cell plus
  two standard deviations of the delay error the pipes' wave-speed uncertainty causes, so neither
  a sharp metal-pipe peak nor a speed error makes the map miss a source.  It counts only above the
  pair's floor (the support level, or :data:`REL_FLOOR` of the pair's strongest peak: a loud
  source's correlogram has band-edge ringing far above the noise) and is capped at :data:`Z_CAP`
  so that one very loud pair cannot outvote the others.
* **Weights.**  ``exp(-2 e / D)``, ``e`` the detour of p off the pair's route and ``D`` the route
  length (a source far off the route reaches both loggers weaker); none below
  :data:`MIN_WEIGHT`, and none where p lies beyond an end of the pair (:data:`EDGE_WEIGHT`): its
  delay is then the edge of the correlogram, which says only "something beyond this logger".  The
  weighted sum is divided by the root of the summed squared weights (a z-score under noise).
* **Edges, read per logger.**  When the pairs leaving a logger in every direction hear something
  beyond it, and no logger it is paired with is louder (calibrated levels), a source at that
  logger is a candidate too; its fit takes in every pair of the logger, so a source a few metres
  into one of its pipes is placed by the pair that hears it just inside.
* **Contradiction.**  A point that the pairs bracketing it closely (weight at least
  :data:`HEAR_WEIGHT`) mostly do not hear is skipped: the ghost of a source beyond a junction.
* **CLEAN.**  Sources are taken one at a time (as in radio astronomy): after a point is taken,
  each pair's peak at the delay the point predicts is removed (with its side lobes) and the map
  is recomputed, so a loud leak leaves no ghosts where a loop gives a pair the same delay
  elsewhere.  Among the points near the top of the map (:data:`TOP_MARGIN`) and the strongest
  source at a logger, the one taken is the one that *explains* the most peaks in all pairs, on
  their routes or not (a source heard through a loop produces a peak inside pairs far away; a
  ghost placed on such a pair's route explains that peak alone); edge peaks count
  :data:`EDGE_POWER`, weighted by nearness.  Points that explain about as much
  (:data:`POWER_TIE`) are told apart by the calibrated level at their two nearest loggers: a
  source is heard loudest beside it.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ._graph import SurveyGraph

__all__ = ["PairCorrelogram", "FusedMap", "Candidate", "fuse", "robust_z", "local_fit", "Z_CAP"]

#: Largest z-score one pair-night contributes to the fused map.
Z_CAP = 10.0
#: Weight in the map of a pair's evidence about points beyond its ends (edge delays): none.  An edge
#: peak says only "something beyond this logger"; summed over the pairs around a hub of loggers it
#: would outvote the one pair that brackets a distant source.  Sources at a logger (all pairs
#: leaving it hear something beyond it) are found after the map (:func:`logger_sources`).
EDGE_WEIGHT = 0.0
#: Points within this fraction of the map's top score compete on how many peaks they explain.
TOP_MARGIN = 0.3
#: Pooling widths (in units of a pair's delay tolerance) for the explanatory power of points off a
#: pair's route, whose predicted delays carry the speed errors of the detour as well.
EXPLAIN_LEVELS = (1.0, 2.0, 4.0, 8.0)
#: Weight of a pair's edge peak (something beyond one of its loggers) in a point's explanatory power,
#: against a peak inside the pair where the point predicts it.
EDGE_POWER = 0.5
#: Pairs of a logger with a peak this many delay tolerances inside their edge support a source at the
#: logger too (a source a few metres into one of its pipes).
SITE_WINDOW = 4.0
#: A source at a logger is heard loudest there: no logger it is paired with may be louder by more than
#: this (dB, calibrated levels of the same sensor kind).
SITE_LEVEL_MARGIN_DB = 1.0
#: Points whose explanatory power is at least this fraction of the best one's are taken as explaining
#: as much; among them the one whose nearest loggers are loudest is taken.
POWER_TIE = 0.8
#: Pairs this close to a point (weight ``exp(-2 detour / D)`` at least this) should hear a source there:
#: when fewer than half of them do, the point is contradicted.
HEAR_WEIGHT = 0.5
#: Pairs weigh nothing at points where their weight would fall below this (a pair far off its route
#: must not place a source on its own).
MIN_WEIGHT = 0.3
#: Fraction of a pair's strongest envelope peak below which its correlogram counts as empty (-26 dB).
REL_FLOOR = 0.05


@dataclasses.dataclass
class PairCorrelogram:
    """One pair's correlation on one night, as the fusion needs it.

    Attributes
    ----------
    a, b : str
        Logger ids (delay = arrival at ``a`` minus arrival at ``b``).
    night : str
    lags_s : numpy.ndarray, shape (n,)
        Delay axis in s (absolute time), increasing.
    values : numpy.ndarray, shape (n,)
        Correlation (any scale; peaks positive).
    band_hz : (float, float)
        Band the correlation used (sets the wave speeds of the delay model).
    peaks : list of dict
        The correlator's peaks: ``delay_s``, ``strength``, optional ``delay_sd_s``.
    delay_sd_s : float or None
        The correlator's delay standard deviation of its main peak (s).
    result : dict
        The correlator's JSON (kept as evidence, and for its rounded fields in the output).
    length_m : float
        Route length between the loggers (m).
    correlation : acoustic.correlate.CorrelationResult or None
        The correlator's typed result (full precision), when the pair came from it.
    """

    a: str
    b: str
    night: str
    lags_s: np.ndarray
    values: np.ndarray
    band_hz: tuple[float, float]
    peaks: list = dataclasses.field(default_factory=list)
    delay_sd_s: float | None = None
    result: dict = dataclasses.field(default_factory=dict)
    length_m: float = 0.0
    noise_sd: float | None = None
    envelope: np.ndarray | None = None
    z: np.ndarray | None = None
    zenv: np.ndarray | None = None
    correlation: object | None = dataclasses.field(default=None, repr=False)

    def zscores(self) -> np.ndarray:
        """The correlogram in units of its noise standard deviation (the correlator's estimate
        when it gives one, else a robust one over the lag window)."""
        if self.z is None:
            if self.noise_sd is not None and self.noise_sd > 0:
                self.z = np.asarray(self.values, dtype=np.float64) / self.noise_sd
            else:
                self.z = robust_z(self.values)
        return self.z

    def envelope_z(self) -> np.ndarray:
        """Robust z-score of the correlogram envelope (of ``values`` when no envelope is given)."""
        if self.zenv is None:
            env = self.envelope if self.envelope is not None else np.abs(np.asarray(self.values))
            self.zenv = robust_z(env)
        return self.zenv


def robust_z(values) -> np.ndarray:
    """(values - median) / (1.4826 MAD): a z-score that a few peaks do not inflate."""
    v = np.asarray(values, dtype=np.float64)
    med = float(np.median(v))
    mad = float(np.median(np.abs(v - med))) * 1.4826
    if not mad > 0:
        mad = float(np.std(v)) or 1.0
    return (v - med) / mad


def _max_pool(z: np.ndarray, width: int) -> np.ndarray:
    if width <= 1:
        return z
    from scipy.ndimage import maximum_filter1d

    return maximum_filter1d(z, size=int(width), mode="nearest")


@dataclasses.dataclass
class FusedMap:
    """The fused map over candidate points (before any source was removed).

    Attributes
    ----------
    edge_idx, frac : numpy.ndarray, shape (n_points,)
        Candidate points (see :meth:`SurveyGraph.grid`).
    score : numpy.ndarray, shape (n_points,)
        Fused z-score.
    pair_z : numpy.ndarray, shape (n_pairs, n_points)
        Each pair-night's pooled envelope z-score at its predicted delay.
    weights : numpy.ndarray, shape (n_pairs, n_points)
        Each pair-night's weight ``exp(-2 detour / D)`` (times :data:`EDGE_WEIGHT` at edge delays).
    tau : numpy.ndarray, shape (n_pairs, n_points)
        Predicted delay (s) of each pair-night at each point (nominal speeds).
    tolerance : numpy.ndarray, shape (n_pairs,)
        Delay tolerance (s) of each pair-night (grid step and speed uncertainty).
    floors : numpy.ndarray, shape (n_pairs,)
        Envelope z-score below which each pair-night contributes nothing.
    fine_z : numpy.ndarray, shape (n_pairs, n_points)
        Like ``pair_z`` but pooled over one grid cell only (no speed tolerance): among points of
        equal capped score, the one where the peaks actually are wins.
    """

    edge_idx: np.ndarray
    frac: np.ndarray
    score: np.ndarray
    pair_z: np.ndarray
    weights: np.ndarray
    tau: np.ndarray
    tolerance: np.ndarray
    floors: np.ndarray
    fine_z: np.ndarray = None
    fine_tolerance: np.ndarray = None
    detour_tolerance: np.ndarray = None  # (n_pairs, n_points): extra delay tolerance (s) off the route
    edge_delay: np.ndarray = None  # |delay| (s) of a source at either end, per pair-night
    nearness: np.ndarray = None  # (n_pairs, n_points): exp(-2 detour / D), edge or not

    def is_edge(self, k: int, delay_s: float) -> bool:
        """The delay lies at the edge of pair-night ``k``'s possible delays (a source beyond an end)."""
        return abs(delay_s) >= self.edge_delay[k] - self.tolerance[k]


@dataclasses.dataclass
class Candidate:
    """A source taken from the map: grid point ``index``, its fused score when taken, and the
    pair-nights that saw it (pooled z at least the support level, weight at least 0.3)."""

    index: int
    score: float
    support: list
    pair_z: np.ndarray
    at_logger: str | None = None
    residual: list | None = dataclasses.field(default=None, repr=False)  # pair z-scores left when taken


class _DelayModel:
    """Predicted delays of pairs at points, with the speeds of each pair's band (cached per band)."""

    def __init__(self, graph: SurveyGraph):
        self.graph = graph
        self._slow: dict[tuple, np.ndarray] = {}
        self._sd: dict[tuple, np.ndarray] = {}
        self._routes: dict[str, tuple] = {}
        self._grid = None

    def slowness(self, band):
        from ._graph import quantise_band

        key = quantise_band(band)
        s = self._slow.get(key)
        if s is None:
            s = self._slow[key] = self.graph.slowness(key)
        return s

    def speed_rel_sd(self, band):
        from ._graph import quantise_band

        key = quantise_band(band)
        s = self._sd.get(key)
        if s is None:
            s = self._sd[key] = self.graph.speed_rel_sd(key)
        return s

    def delays(self, a, b, band, edge_idx, frac):
        """(tau s, route length from a m, from b m) at the points, nominal speeds of ``band``."""
        if self._grid is None or self._grid[0] is not edge_idx or self._grid[1] is not frac:
            self._grid = (edge_idx, frac)
            self._routes = {}
        for lid in (a, b):
            if lid not in self._routes:
                self._routes[lid] = self.graph.route_to_points(lid, edge_idx, frac)
        sl = self.slowness(band)
        via_a, da = self._routes[a]
        via_b, db = self._routes[b]
        ta = self.graph.times_to_points(a, edge_idx, frac, sl, via_a)
        tb = self.graph.times_to_points(b, edge_idx, frac, sl, via_b)
        return ta - tb, da, db


def _pair_tolerance(graph: SurveyGraph, model: _DelayModel, pc: PairCorrelogram, spacing_m: float) -> float:
    """Delay tolerance (s): the change across one grid cell plus 2 s.d. of the route's travel time."""
    route = graph.route_edges(pc.a, pc.b) or []
    sl = model.slowness(pc.band_hz)
    sd = model.speed_rel_sd(pc.band_hz)
    t_edges = np.array([graph.edges[e].length_m * sl[e] for e, _ in route])
    t_sd = float(np.sqrt(np.sum((t_edges * np.array([sd[e] for e, _ in route])) ** 2))) if route else 0.0
    return 2.0 * spacing_m * float(np.max(sl)) + 2.0 * t_sd


def _pooled(pc: PairCorrelogram, z: np.ndarray, tolerance_s: float) -> np.ndarray:
    lags = np.asarray(pc.lags_s)
    dlag = float(np.median(np.diff(lags))) if lags.size > 1 else 1.0
    return _max_pool(z, 2 * int(np.ceil(tolerance_s / max(dlag, 1e-12))) + 1)


def fuse(graph: SurveyGraph, pairs: list[PairCorrelogram], *, spacing_m: float = 1.0,
         model: _DelayModel | None = None, support_z: float = 5.0) -> FusedMap:
    """Steered-response-power map of all pair-nights over the network (module docs).

    Parameters
    ----------
    graph : SurveyGraph
    pairs : list of PairCorrelogram
    spacing_m : float
        Grid spacing along the pipes in m.

    Returns
    -------
    FusedMap
    """
    edge_idx, frac = graph.grid(spacing_m)
    model = model or _DelayModel(graph)
    n = edge_idx.size
    pz = np.zeros((len(pairs), n))
    w = np.zeros((len(pairs), n))
    tau = np.zeros((len(pairs), n))
    tol = np.zeros(len(pairs))
    ftol = np.zeros(len(pairs))
    edge = np.zeros(len(pairs))
    fz = np.zeros((len(pairs), n))
    dtol = np.zeros((len(pairs), n))
    near = np.zeros((len(pairs), n))
    sd_net = float(np.sqrt(np.mean(model.speed_rel_sd(pairs[0].band_hz) ** 2))) if pairs else 0.0
    floors = np.array([max(support_z, REL_FLOOR * float(np.max(pc.envelope_z()))) for pc in pairs])
    for k, pc in enumerate(pairs):
        t, da, db = model.delays(pc.a, pc.b, pc.band_hz, edge_idx, frac)
        D = graph.distance_m(pc.a, pc.b)
        detour = np.maximum(da + db - D, 0.0)
        tol[k] = _pair_tolerance(graph, model, pc, spacing_m)
        sl = model.slowness(pc.band_hz)
        # off the route, the predicted delay also carries the speed errors of the detour
        dtol[k] = 2.0 * sd_net * detour * float(np.median(sl))
        edge[k] = float(graph.tree(pc.a).times(graph.edges, lambda e: sl[e]).get(graph.logger_node[pc.b], 0.0))
        zm = _map_z(pc, pc.envelope_z(), edge[k], tol[k], floors[k] / 2.0)
        pz[k] = _sample(pc, _pooled(pc, zm, tol[k]), t)
        ftol[k] = spacing_m * float(np.max(sl))
        fz[k] = _sample(pc, _pooled(pc, zm, ftol[k]), t)
        in_edge = np.abs(t) >= edge[k] - tol[k]
        near[k] = np.exp(-2.0 * detour / max(D, 1e-9))
        wk = near[k] * np.where(in_edge, EDGE_WEIGHT, 1.0)
        w[k] = np.where(wk >= MIN_WEIGHT, wk, 0.0)
        tau[k] = t
    return FusedMap(edge_idx, frac, _combine(pz, w, floors), pz, w, tau, tol, floors, fine_z=fz, fine_tolerance=ftol,
                    detour_tolerance=dtol, edge_delay=edge, nearness=near)


def _map_z(pc: PairCorrelogram, z: np.ndarray, edge_s: float, tol_s: float, floor: float = 2.0) -> np.ndarray:
    """The z-scores the map uses: the edges of the possible delays (within ``tol_s`` of
    ``+-edge_s``) emptied, together with the skirts of any peak there (down to ``floor``), so that
    what arrives from beyond a logger cannot leak into nearby points through the pooling (it is
    read per logger instead)."""
    lags = np.asarray(pc.lags_s)
    out = z.copy()
    for side in (-1.0, 1.0):
        at_edge = (side * lags) >= edge_s - tol_s
        if not np.any(at_edge):
            continue
        idx = np.flatnonzero(at_edge)
        i = int(idx[np.argmax(z[idx])])
        if z[i] >= 2.0 * floor:
            lo, hi = _peak_extent(z, i, floor, _lobe_samples(pc))
            out[lo:hi + 1] = np.minimum(out[lo:hi + 1], 0.0)
        out[at_edge] = np.minimum(out[at_edge], 0.0)
    return out


def _sample(pc: PairCorrelogram, z: np.ndarray, t: np.ndarray) -> np.ndarray:
    lags = np.asarray(pc.lags_s, dtype=np.float64)
    return np.interp(np.clip(t, lags[0], lags[-1]), lags, z)


def _combine(pz: np.ndarray, w: np.ndarray, floors: np.ndarray) -> np.ndarray:
    norm = np.sqrt(np.maximum((w ** 2).sum(axis=0), 1e-12))
    ev = np.where(pz >= floors[:, None], np.minimum(pz, Z_CAP), 0.0)
    return (w * ev).sum(axis=0) / norm


#: Side lobes: everything within this many inverse bandwidths of a peak belongs to it.
LOBE_WIDTHS = 3.0


def _lobe_samples(pc: PairCorrelogram) -> int:
    """Half-width (in lags) of a peak's main lobe and first side lobes: ``LOBE_WIDTHS / bandwidth``."""
    lags = np.asarray(pc.lags_s)
    dlag = float(np.median(np.diff(lags))) if lags.size > 1 else 1.0
    bw = max(float(pc.band_hz[1]) - float(pc.band_hz[0]), 1.0)
    return int(np.ceil(LOBE_WIDTHS / bw / dlag))


def _peak_extent(z: np.ndarray, i: int, floor: float, lobe: int = 0) -> tuple[int, int]:
    """Lags belonging to the peak at ``i``: outward until the curve falls below ``floor`` or a new
    peak rises (to at least twice the lowest value since the peak, above ``2 floor`` and above
    :data:`REL_FLOOR` x 2 of this peak), so the skirts, side lobes and noise bumps on them go with
    the peak but a separate source does not."""
    top = float(z[i])

    def walk(step):
        j, low = i, z[i]
        while 0 <= j + step < z.size:
            v = z[j + step]
            if abs(j + step - i) <= lobe:  # the peak's own lobes
                j += step
                continue
            if v < floor:
                break
            low = min(low, v)
            if v >= 2.0 * low and v >= 2.0 * floor and v >= 2.0 * REL_FLOOR * top:
                break
            j += step
        return j

    return walk(-1), walk(1)


def extract_sources(pairs: list[PairCorrelogram], fm: FusedMap, *, detect_z: float, support_z: float,
                    max_sources: int = 10, refine=None, graph: SurveyGraph | None = None,
                    logger_levels: dict | None = None) -> list[Candidate]:
    """Take sources from the map one at a time, removing each one's peaks from every pair (CLEAN),
    then sources at loggers from what is left at the correlograms' edges (with ``graph``).

    Parameters
    ----------
    refine : callable, optional
        ``refine(candidate) -> dict {pair index: delay s}``: the delays at which the candidate's
        peaks are removed (the measured delays of the refined point); by default the predicted
        delays of the grid point.
    logger_levels : dict, optional
        ``logger_id -> (sensor_kind, calibrated level dB)``.  A source at a logger must be heard
        loudest there: a logger with a neighbour (same sensor kind) louder by more than
        :data:`SITE_LEVEL_MARGIN_DB` is not a source site (what its pairs hear beyond it comes
        from elsewhere).

    Returns the candidates in the order taken (strongest first), each with the pair-nights that
    support it (their pair z-scores at the grid point in ``Candidate.pair_z``).
    """
    zs = [pc.envelope_z().copy() for pc in pairs]
    pz = fm.pair_z.copy()
    fz = fm.fine_z.copy()
    interior = np.abs(fm.tau) < (fm.edge_delay - fm.tolerance)[:, None]
    need = (fm.tolerance[:, None] + fm.detour_tolerance) / np.maximum(fm.tolerance[:, None], 1e-12)
    level = np.clip(np.searchsorted(np.array(EXPLAIN_LEVELS), need, side="left"), 0, len(EXPLAIN_LEVELS) - 1)
    ex = np.zeros_like(pz)
    ex_edge = np.zeros_like(pz)
    in_edge = ~interior
    out: list[Candidate] = []

    def explain(k, z):
        """Pair k's contribution to every point's explanatory power (module docs): peaks inside
        the pair where the point predicts them (however far the point is: loops), and peaks at the
        pair's edge for points beyond its ends, weighted by the point's nearness to the pair
        (they say only "beyond this logger")."""
        pc = pairs[k]
        zm = _map_z(pc, z, fm.edge_delay[k], fm.tolerance[k], fm.floors[k] / 2.0)
        pooled = np.array([_sample(pc, _pooled(pc, zm, f * fm.tolerance[k]), fm.tau[k]) for f in EXPLAIN_LEVELS])
        v = np.take_along_axis(pooled, level[k][None, :], axis=0)[0]
        ex[k] = np.where(interior[k] & (v >= fm.floors[k]), np.minimum(v, Z_CAP), 0.0)
        ve = _sample(pc, _pooled(pc, z, fm.tolerance[k]), fm.tau[k])
        ex_edge[k] = np.where(in_edge[k] & (ve >= fm.floors[k]), np.minimum(ve, Z_CAP), 0.0) * fm.nearness[k]

    for k in range(len(pairs)):
        explain(k, zs[k])

    def remove(cand, at):
        j = cand.index
        for k, pc in enumerate(pairs):
            lags = np.asarray(pc.lags_s)
            t0 = float(np.clip(at.get(k, fm.tau[k, j]), lags[0], lags[-1]))
            near = np.abs(lags - t0) <= fm.tolerance[k] + (0.0 if k in at else fm.detour_tolerance[k, j])
            if not np.any(near):
                continue
            z = zs[k]
            i = int(np.flatnonzero(near)[np.argmax(z[near])])
            lo, hi = _peak_extent(z, i, max(fm.floors[k], support_z) / 2.0, _lobe_samples(pc))
            z[near] = np.minimum(z[near], 0.0)
            z[lo:hi + 1] = np.minimum(z[lo:hi + 1], 0.0)
            zm = _map_z(pc, z, fm.edge_delay[k], fm.tolerance[k], fm.floors[k] / 2.0)
            pz[k] = _sample(pc, _pooled(pc, zm, fm.tolerance[k]), fm.tau[k])
            fz[k] = _sample(pc, _pooled(pc, zm, fm.fine_tolerance[k]), fm.tau[k])
            explain(k, z)

    should = (fm.weights >= HEAR_WEIGHT) & interior
    loudness = _nearest_loudness(graph, fm, logger_levels) if graph is not None and logger_levels else None
    for _ in range(max_sources):
        score = _combine(pz, fm.weights, fm.floors)
        # a point that the pairs bracketing it closely do not hear is contradicted (a ghost of a
        # source beyond a junction or through a loop): it is not a candidate
        w_should = np.where(should, fm.weights, 0.0)
        w_hear = np.where(should & (pz >= fm.floors[:, None]), fm.weights, 0.0)
        score = np.where((w_should.sum(axis=0) >= 1.5) & (w_hear.sum(axis=0) < 0.5 * w_should.sum(axis=0)),
                         0.0, score)
        top = float(np.max(score))
        at_logger = (_strongest_logger_source(graph, pairs, fm, zs, detect_z, logger_levels)
                     if graph is not None else None)
        if top < detect_z and at_logger is None:
            break
        power_all = ex.sum(axis=0) + EDGE_POWER * ex_edge.sum(axis=0)
        cand = None
        if top >= detect_z:
            # among the points near the top of the map, the one that explains the most peaks in all
            # pairs (a loop makes a source heard inside pairs whose route it is not on: the source
            # explains those peaks, a ghost on such a pair's route would explain only them), then
            # the one where the peaks are
            near_top = np.flatnonzero(score >= max(detect_z, top - max(0.5, TOP_MARGIN * top)))
            power = power_all[near_top]
            fine = (fm.weights[:, near_top] * np.log1p(np.maximum(fz[:, near_top], 0.0))).sum(axis=0)
            # points that explain nearly as much compete on how loud their nearest loggers are: a
            # source is heard loudest next to it, a loop's ghost between loggers that hear it from afar
            close = power >= POWER_TIE * float(np.max(power)) if np.max(power) > 0 else np.ones(power.size, bool)
            loud = loudness[near_top] if loudness is not None else np.zeros(power.size)
            order = np.lexsort((fine, score[near_top], np.where(close, loud, -np.inf), close))
            j = int(near_top[order[-1]])
            col = pz[:, j].copy()
            support = [k for k in range(len(pairs)) if col[k] >= fm.floors[k] and fm.weights[k, j] >= MIN_WEIGHT]
            if not support:  # cannot happen with MIN_WEIGHT; guard against a loop all the same
                pz[:, j] = 0.0
                continue
            cand = Candidate(j, float(score[j]), support, col)
        if at_logger is not None:
            # a source at a logger competes with the map's point on the same terms
            if cand is None or (round(power_all[at_logger.index], 6), at_logger.score) > (
                    round(power_all[cand.index], 6), cand.score):
                cand = at_logger
        cand.residual = zs
        out.append(cand)
        remove(cand, dict(refine(cand) or {}) if refine is not None else {})
    return out


def _nearest_loudness(graph: SurveyGraph, fm: FusedMap, levels: dict) -> np.ndarray | None:
    """Mean calibrated level (dB) of the two loggers nearest each grid point along the pipes (of
    the most common sensor kind), or None without levels."""
    kinds = [k for k, _ in levels.values()]
    if not kinds:
        return None
    kind = max(set(kinds), key=kinds.count)
    ids = [lid for lid, (k, v) in levels.items() if k == kind and lid in graph.sites and np.isfinite(v)]
    if len(ids) < 2:
        return None
    dist = np.vstack([graph.route_to_points(lid, fm.edge_idx, fm.frac)[1] for lid in ids])
    lv = np.array([levels[lid][1] for lid in ids])
    two = np.argsort(dist, axis=0)[:2]
    return lv[two].mean(axis=0)


def _node_points(fm: FusedMap, graph: SurveyGraph) -> dict[str, int]:
    """Grid index of each graph node (an end of one of its edges)."""
    out: dict[str, int] = {}
    for j in np.flatnonzero((fm.frac == 0.0) | (fm.frac == 1.0)):
        e = graph.edges[int(fm.edge_idx[j])]
        out.setdefault(e.u if fm.frac[j] == 0.0 else e.v, int(j))
    return out


def _loudest_of_its_pairs(lid: str, pairs, levels: dict | None) -> bool:
    """Logger ``lid`` is not clearly quieter than any logger it is paired with (same sensor kind)."""
    if not levels or lid not in levels:
        return True
    kind, level = levels[lid]
    for pc in pairs:
        if lid in (pc.a, pc.b):
            other = pc.b if lid == pc.a else pc.a
            if other in levels and levels[other][0] == kind and levels[other][1] > level + SITE_LEVEL_MARGIN_DB:
                return False
    return True


def _strongest_logger_source(graph: SurveyGraph, pairs, fm: FusedMap, zs, detect_z: float,
                             levels: dict | None = None) -> Candidate | None:
    """The logger whose pairs hear the most beyond it, in every direction they leave it, or None
    when no logger's edge evidence reaches ``detect_z``.  (A source beyond a logger in one
    direction is bracketed by the pair that goes that way, which hears it inside, not beyond.)"""
    nodes = _node_points(fm, graph)
    best = None
    for lid in graph.sites:
        if not _loudest_of_its_pairs(lid, pairs, levels):
            continue
        dirs_all, dirs_seen, zsum, support = set(), set(), [], []
        for k, pc in enumerate(pairs):
            if lid not in (pc.a, pc.b):
                continue
            other = pc.b if lid == pc.a else pc.a
            route = graph.route_edges(lid, other)
            if not route:
                continue
            d0 = route[0][0]
            dirs_all.add(d0)
            lags = np.asarray(pc.lags_s)
            # a source at the logger: delay = T(-> a) - T(-> b) = -T(D) when it is a, +T(D) when b
            t_edge = -fm.edge_delay[k] if lid == pc.a else fm.edge_delay[k]
            near = np.abs(lags - t_edge) <= fm.tolerance[k]
            zmax = float(np.max(zs[k][near])) if np.any(near) else 0.0
            if zmax >= fm.floors[k]:
                dirs_seen.add(d0)
                support.append(k)
                zsum.append(min(zmax, Z_CAP))
            else:
                # a source just inside this pair, near the logger: a peak a little inside the edge,
                # which places it precisely (the fit decides; it is not a direction "beyond")
                wide = np.abs(lags - t_edge) <= SITE_WINDOW * fm.tolerance[k]
                if np.any(wide) and float(np.max(zs[k][wide])) >= fm.floors[k]:
                    dirs_seen.add(d0)
                    support.append(k)
        if not dirs_seen or dirs_seen != dirs_all:
            continue
        score = float(np.sum(zsum) / np.sqrt(len(zsum)))
        if score >= detect_z and (best is None or score > best.score):
            j = nodes.get(graph.logger_node[lid])
            if j is None:
                continue
            best = Candidate(j, score, support, fm.pair_z[:, j].copy(), at_logger=lid)
    return best


def local_peak_delay(pc: PairCorrelogram, tau0: float, half_window_s: float) -> tuple[float, float]:
    """Strongest correlogram peak within ``tau0 +- half_window_s``: (delay s, z) with a
    parabolic sub-sample refinement."""
    return peak_near(np.asarray(pc.lags_s), pc.zscores(), tau0, half_window_s)


def peak_near(lags: np.ndarray, z: np.ndarray, tau0: float, half_window_s: float) -> tuple[float, float]:
    """Largest value of ``z`` (sampled at ``lags``, s) within ``tau0 +- half_window_s``: (lag s with
    a parabolic sub-sample refinement, value there); the nearest sample when none is that close."""
    sel = np.flatnonzero(np.abs(lags - tau0) <= half_window_s)
    if sel.size == 0:
        i = int(np.argmin(np.abs(lags - tau0)))
        return float(lags[i]), float(z[i])
    i = int(sel[np.argmax(z[sel])])
    d = float(lags[i])
    if 0 < i < lags.size - 1:
        y0, y1, y2 = z[i - 1], z[i], z[i + 1]
        den = y0 - 2 * y1 + y2
        if den < 0:
            d += 0.5 * (y0 - y2) / den * float(lags[i + 1] - lags[i])
    return d, float(z[i])


def local_fit(graph: SurveyGraph, pairs: list[PairCorrelogram], edge_idx: np.ndarray, frac: np.ndarray,
              observed: list[tuple[int, float, float]], *, draws: int = 300, seed: int = 0,
              model: _DelayModel | None = None, band=None):
    """Least-squares position over local candidate points, with Monte Carlo uncertainty.

    Parameters
    ----------
    edge_idx, frac : numpy.ndarray
        The local candidate points.
    observed : list of (pair index, delay s, delay s.d. s)
        Supporting pair-nights and their measured delays.
    draws : int
        Monte Carlo draws over the pipes' wave speeds (each material's spread) and the delays.
    band : (float, float), optional
        One band for all pairs (default: each pair's own band, so dispersive pipes get the speed
        each correlation measured).

    Returns
    -------
    best : int
        Index (into the local points) of the nominal estimate.
    picks : numpy.ndarray of int, shape (draws,)
        Index of the estimate under each draw.
    cost : numpy.ndarray, shape (n_local,)
        Nominal chi-square of each local point.
    resid : numpy.ndarray, shape (n_observed,)
        Standardised residual (predicted minus measured delay over its total s.d.) of each
        observation at the nominal estimate.
    """
    model = model or _DelayModel(graph)
    rng = np.random.default_rng(seed)
    drawn_by_band: dict = {}

    def speeds(b):
        """Nominal and drawn slowness over each pair's own band (dispersion); the draws use the
        same random numbers for every band, so a pipe's speed error is the same in every pair."""
        from ._graph import quantise_band

        key = quantise_band(band or b)
        if key not in drawn_by_band:
            drawn_by_band[key] = (model.slowness(key),
                                  graph.slowness(key, draws=draws, rng=np.random.default_rng(seed + 1)))
        return drawn_by_band[key]

    cost = np.zeros(edge_idx.size)
    cost_d = np.zeros((edge_idx.size, draws))
    rows = []
    # each pair's delay error: the measurement's and, at each point, the spread the pipes' speed
    # uncertainty gives the predicted delay (a long or loop-crossing route predicts less exactly)
    for k, d_obs, sd in observed:
        pc = pairs[k]
        nominal, drawn = speeds(pc.band_hz)
        via_a, da = graph.route_to_points(pc.a, edge_idx, frac)
        via_b, db = graph.route_to_points(pc.b, edge_idx, frac)
        D = graph.distance_m(pc.a, pc.b)
        detour = np.maximum(da + db - D, 0.0)
        # a tiny preference for the route when a branch gives the same delay (equal evidence)
        prior = 1e-3 * detour / max(D, 1e-9)
        t0 = (graph.times_to_points(pc.a, edge_idx, frac, nominal, via_a)
              - graph.times_to_points(pc.b, edge_idx, frac, nominal, via_b))
        td = (graph.times_to_points(pc.a, edge_idx, frac, drawn, via_a)
              - graph.times_to_points(pc.b, edge_idx, frac, drawn, via_b))
        sd_tot = np.sqrt(sd ** 2 + np.var(td, axis=1))
        r = (t0 - d_obs) / sd_tot
        rows.append(r)
        cost += r ** 2 + prior
        noise = rng.normal(0.0, sd, draws)
        cost_d += ((td - (d_obs + noise)[None, :]) / sd_tot[:, None]) ** 2 + prior[:, None]
    best = int(np.argmin(cost))
    return best, np.argmin(cost_d, axis=0), cost, np.array([r[best] for r in rows])
