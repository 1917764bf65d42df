"""The network as the survey sees it: pipes split at loggers, routes, neighbours, travel times.

Loggers sitting part-way along a pipe become nodes of their own (the pipe is split there), so
every logger is a node, every piece of pipe between two nodes is an *edge*, and a candidate leak
position is ``(edge, fraction)``.  Sound is taken to travel along the shortest route through the
pipes (``network/_propagation.py``: other routes around loops are weaker and later).
"""

from __future__ import annotations

import dataclasses
import heapq
from collections import defaultdict

import numpy as np

from .._errors import DataError
from ..network import LoggerSite, NetworkPath, PipeNetwork
from ..pipe import DEFAULT_BAND_HZ

__all__ = ["Edge", "SurveyGraph", "Tree", "quantise_band"]

_SNAP_M = 1e-6
#: Band (Hz) at which each pipe's speed *spread* is taken: the spread comes from the material's
#: modulus, wall and the water's bulk modulus and varies little with the band, and each value is a
#: Monte Carlo over the material's parameters (one per pipe kind, cached).
SPREAD_BAND_HZ = DEFAULT_BAND_HZ


def quantise_band(band_hz, per_octave: float = 24.0) -> tuple[float, float]:
    """Band edges rounded to ``1/per_octave`` octave (1/24 as the correlator rounds them), so that
    speed look-ups of nearly equal bands share the caches; the speed changes by far less than its
    uncertainty."""
    q = float(per_octave)
    lo = 2.0 ** (round(np.log2(max(float(band_hz[0]), 1e-3)) * q) / q)
    hi = 2.0 ** (round(np.log2(max(float(band_hz[1]), 1e-3)) * q) / q)
    if hi <= lo:
        hi = lo * 2.0 ** (1.0 / q)
    return (float(lo), float(hi))


@dataclasses.dataclass(frozen=True)
class Edge:
    """A piece of one pipe between two graph nodes (offsets from the pipe's start node, m)."""

    index: int
    pipe_id: str
    u: str
    v: str
    off_u: float
    off_v: float

    @property
    def length_m(self) -> float:
        return abs(self.off_v - self.off_u)

    def offset_at(self, frac):
        """Pipe offset (m from the pipe's start node) of the point at ``frac`` (0 at u, 1 at v)."""
        return self.off_u + (self.off_v - self.off_u) * np.asarray(frac, dtype=np.float64)


@dataclasses.dataclass
class Tree:
    """Shortest-route tree from one source node (by length).

    ``dist[node]`` in m, ``parent[node] = (previous node, edge index)``, ``order`` the nodes in
    the order they were settled (parents before children).
    """

    source: str
    dist: dict[str, float]
    parent: dict[str, tuple[str, int] | None]
    order: list[str]

    def times(self, edges: list[Edge], slowness_s_per_m) -> dict[str, np.ndarray]:
        """Travel time (s) from the source to every node for per-edge-pipe slowness.

        ``slowness_s_per_m`` maps an edge index to 1/c (s/m): a float, or an array of draws;
        the result has the same shape per node.
        """
        out: dict[str, np.ndarray] = {}
        for n in self.order:
            par = self.parent[n]
            if par is None:
                out[n] = 0.0 * slowness_s_per_m(0)
            else:
                m, e = par
                out[n] = out[m] + edges[e].length_m * slowness_s_per_m(e)
        return out


class SurveyGraph:
    """Pipes split at the loggers' positions, with shortest routes and neighbour pairs.

    Parameters
    ----------
    network : PipeNetwork
    sites : iterable of LoggerSite
        The loggers to place (all must pass ``network.check_site``).
    """

    def __init__(self, network: PipeNetwork, sites):
        self.network = network
        self.sites: dict[str, LoggerSite] = {s.logger_id: s for s in sites}
        self.logger_node: dict[str, str] = {}
        on_pipe: dict[str, list[tuple[float, str]]] = defaultdict(list)
        for s in self.sites.values():
            if s.node_id is not None:
                self.logger_node[s.logger_id] = s.node_id
                continue
            p = network.pipes[s.pipe_id]
            if s.offset_m <= _SNAP_M:
                self.logger_node[s.logger_id] = p.start_node
            elif s.offset_m >= p.length_m - _SNAP_M:
                self.logger_node[s.logger_id] = p.end_node
            else:
                on_pipe[s.pipe_id].append((float(s.offset_m), s.logger_id))
        self.edges: list[Edge] = []
        self.pipe_edges: dict[str, list[int]] = defaultdict(list)
        for pid, p in network.pipes.items():
            cuts = sorted(on_pipe.get(pid, []))
            names = [p.start_node]
            offs = [0.0]
            for off, lid in cuts:
                if off - offs[-1] <= _SNAP_M:  # two loggers at the same point share the node
                    self.logger_node[lid] = names[-1]
                    continue
                node = f"@{lid}"
                self.logger_node[lid] = node
                names.append(node)
                offs.append(off)
            names.append(p.end_node)
            offs.append(p.length_m)
            for i in range(len(names) - 1):
                e = Edge(len(self.edges), pid, names[i], names[i + 1], offs[i], offs[i + 1])
                self.edges.append(e)
                self.pipe_edges[pid].append(e.index)
        self.adj: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for e in self.edges:
            self.adj[e.u].append((e.index, e.v))
            self.adj[e.v].append((e.index, e.u))
        self.node_logger: dict[str, list[str]] = defaultdict(list)
        for lid, n in self.logger_node.items():
            self.node_logger[n].append(lid)
        self._trees: dict[str, Tree] = {}
        self._node_trees: dict[str, Tree] = {}

    # -- routes ---------------------------------------------------------------------------
    def tree(self, logger_id: str) -> Tree:
        """Shortest-route tree from a logger (cached)."""
        t = self._trees.get(logger_id)
        if t is None:
            t = self.node_tree(self.logger_node[logger_id])
            self._trees[logger_id] = t
        return t

    def node_tree(self, node: str) -> Tree:
        """Shortest-route tree from any graph node (cached)."""
        t = self._node_trees.get(node)
        if t is None:
            t = self._node_trees[node] = self._dijkstra(node)
        return t

    def _dijkstra(self, source: str, blocked: set[str] | None = None) -> Tree:
        dist: dict[str, float] = {}
        parent: dict[str, tuple[str, int] | None] = {}
        order: list[str] = []
        best = {source: 0.0}
        heap = [(0.0, 0, source, None)]
        tick = 1
        while heap:
            d, _, n, par = heapq.heappop(heap)
            if n in dist:
                continue
            dist[n] = d
            parent[n] = par
            order.append(n)
            if blocked and n in blocked and n != source:
                continue
            for e, m in self.adj[n]:
                nd = d + self.edges[e].length_m
                if m not in dist and nd < best.get(m, np.inf):
                    best[m] = nd
                    heapq.heappush(heap, (nd, tick, m, (n, e)))
                    tick += 1
        return Tree(source, dist, parent, order)

    def route_edges(self, a: str, b: str) -> list[tuple[int, bool]] | None:
        """Edges of the shortest route from logger ``a`` to logger ``b``: ``(edge, forward)`` with
        ``forward`` True when travelling from the edge's ``u`` to its ``v``; None when not connected."""
        t = self.tree(a)
        nb = self.logger_node[b]
        if nb not in t.dist:
            return None
        out = []
        n = nb
        while t.parent[n] is not None:
            m, e = t.parent[n]
            out.append((e, self.edges[e].u == m))
            n = m
        return out[::-1]

    def network_path(self, a: str, b: str) -> NetworkPath | None:
        """The shortest route from logger ``a`` to ``b`` as a :class:`NetworkPath` (pipe pieces)."""
        edges = self.route_edges(a, b)
        if edges is None:
            return None
        pieces: list[tuple[str, float, float]] = []
        for e, fwd in edges:
            ed = self.edges[e]
            frm, to = (ed.off_u, ed.off_v) if fwd else (ed.off_v, ed.off_u)
            if pieces and pieces[-1][0] == ed.pipe_id and abs(pieces[-1][2] - frm) < 1e-9:
                pieces[-1] = (ed.pipe_id, pieces[-1][1], to)
            else:
                pieces.append((ed.pipe_id, frm, to))
        return NetworkPath(a, b, pieces, self.network)

    def distance_m(self, a: str, b: str) -> float:
        """Route length between two loggers in m (inf when not connected)."""
        return float(self.tree(a).dist.get(self.logger_node[b], np.inf))

    def neighbour_pairs(self, loggers=None) -> list[tuple[str, str]]:
        """Pairs of loggers whose shortest route passes no other logger (sorted, each pair once).

        Two loggers at the same node are not a pair (nothing to correlate between them).
        """
        ids = list(self.sites if loggers is None else loggers)
        logger_nodes = {self.logger_node[l] for l in ids}
        pairs = set()
        for a in ids:
            na = self.logger_node[a]
            blocked = self._dijkstra(na, blocked=logger_nodes)
            full = self.tree(a)
            for b in ids:
                nb = self.logger_node[b]
                if b == a or nb == na or nb not in blocked.dist:
                    continue
                # the shortest route must itself avoid other loggers
                if blocked.dist[nb] <= full.dist[nb] + 1e-6:
                    pairs.add(tuple(sorted((a, b))))
        return sorted(pairs)

    def components(self, loggers=None) -> list[list[str]]:
        """Loggers grouped by connected part of the network."""
        ids = list(self.sites if loggers is None else loggers)
        groups: list[list[str]] = []
        seen: set[str] = set()
        for a in ids:
            if a in seen:
                continue
            reach = self.tree(a).dist
            grp = [b for b in ids if self.logger_node[b] in reach]
            seen |= set(grp)
            groups.append(grp)
        return groups

    # -- candidate points -------------------------------------------------------------------
    def grid(self, spacing_m: float = 1.0):
        """Candidate points every ``spacing_m`` m or closer along every edge (both ends included).

        Returns
        -------
        edge_idx : numpy.ndarray of int, shape (n,)
        frac : numpy.ndarray of float, shape (n,)
            Fraction along the edge (0 at ``u``).
        """
        if not spacing_m > 0:
            raise DataError(f"grid spacing must be positive, got {spacing_m}")
        idx, fr = [], []
        for e in self.edges:
            n = max(1, int(np.ceil(e.length_m / spacing_m)))
            f = np.linspace(0.0, 1.0, n + 1)
            idx.append(np.full(f.size, e.index))
            fr.append(f)
        return np.concatenate(idx), np.concatenate(fr)

    def point_pipe(self, edge_idx, frac):
        """``(pipe_id, offset_m)`` of a candidate point."""
        e = self.edges[int(edge_idx)]
        return e.pipe_id, float(e.offset_at(frac))

    def point_xy(self, edge_idx, frac) -> tuple[float, float]:
        pid, off = self.point_pipe(edge_idx, frac)
        return self.network.pipes[pid].point_at(off)

    def route_to_points(self, logger_id: str, edge_idx, frac):
        """For each candidate point: which end of its edge the route from the logger enters by,
        and the route length in m.

        Returns
        -------
        via_u : numpy.ndarray of bool
            True when the shortest route reaches the point through the edge's ``u`` end.
        dist_m : numpy.ndarray of float
            Route length (inf when not connected).
        """
        t = self.tree(logger_id)
        edge_idx = np.asarray(edge_idx)
        frac = np.asarray(frac, dtype=np.float64)
        lengths = np.array([e.length_m for e in self.edges])[edge_idx]
        du = np.array([t.dist.get(e.u, np.inf) for e in self.edges])[edge_idx] + frac * lengths
        dv = np.array([t.dist.get(e.v, np.inf) for e in self.edges])[edge_idx] + (1.0 - frac) * lengths
        via_u = du <= dv
        return via_u, np.where(via_u, du, dv)

    def times_to_points(self, logger_id: str, edge_idx, frac, slowness, via_u=None):
        """Travel time (s) from a logger to candidate points along the shortest routes.

        Parameters
        ----------
        slowness : numpy.ndarray, shape (n_edges,) or (n_edges, n_draws)
            1/c per edge in s/m (nominal or drawn).
        via_u : numpy.ndarray of bool, optional
            From :meth:`route_to_points` (computed when None).

        Returns
        -------
        numpy.ndarray, shape (n_points,) or (n_points, n_draws)
        """
        t = self.tree(logger_id)
        if via_u is None:
            via_u, _ = self.route_to_points(logger_id, edge_idx, frac)
        slowness = np.asarray(slowness, dtype=np.float64)
        node_t = t.times(self.edges, lambda e: slowness[e])
        shape = slowness.shape[1:]
        inf = np.full(shape, np.inf)
        tu = np.array([node_t.get(e.u, inf) for e in self.edges])
        tv = np.array([node_t.get(e.v, inf) for e in self.edges])
        edge_idx = np.asarray(edge_idx)
        frac = np.asarray(frac, dtype=np.float64)
        lengths = np.array([e.length_m for e in self.edges])[edge_idx]
        sl = slowness[edge_idx]
        if sl.ndim > 1:
            frac = frac[:, None]
            lengths = lengths[:, None]
            via = via_u[:, None]
        else:
            via = via_u
        from_u = tu[edge_idx] + frac * lengths * sl
        from_v = tv[edge_idx] + (1.0 - frac) * lengths * sl
        return np.where(via, from_u, from_v)

    # -- speeds -------------------------------------------------------------------------------
    def speed_rel_sd(self, band_hz=DEFAULT_BAND_HZ) -> np.ndarray:
        """Relative s.d. of each edge's wave speed (its material's spread, taken at
        :data:`SPREAD_BAND_HZ` whatever ``band_hz``)."""
        sd = {pid: p.segment().speed_rel_sd(SPREAD_BAND_HZ) for pid, p in self.network.pipes.items()}
        return np.array([sd[e.pipe_id] for e in self.edges])

    def slowness(self, band_hz=DEFAULT_BAND_HZ, *, draws: int = 0, rng=None) -> np.ndarray:
        """1/c per edge (s/m) over ``band_hz`` (quantised, :func:`quantise_band`): nominal, or
        ``draws`` log-normal draws per pipe with each material's speed spread (shape
        ``(n_edges, draws)``)."""
        band = quantise_band(band_hz)
        c = {}
        sd = {}
        for pid, p in self.network.pipes.items():
            seg = p.segment()
            c[pid] = seg.speed_m_s(band)
            if draws:
                sd[pid] = seg.speed_rel_sd(SPREAD_BAND_HZ)
        nominal = np.array([1.0 / c[e.pipe_id] for e in self.edges])
        if not draws:
            return nominal
        rng = np.random.default_rng(0) if rng is None else rng
        pids = list(self.network.pipes)
        z = {pid: rng.normal(0.0, 1.0, draws) for pid in pids}
        return np.array([np.exp(-z[e.pipe_id] * sd[e.pipe_id]) / c[e.pipe_id] for e in self.edges])
