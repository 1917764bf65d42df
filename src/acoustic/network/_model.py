"""A pipe network for acoustics: pipes with material and geometry, nodes, logger sites, paths."""

from __future__ import annotations

import dataclasses
import heapq
from collections import defaultdict

import numpy as np

from .._errors import DataError, PipeError
from ..pipe import MAX_PIPE_LENGTH_M, PipePath, PipeSegment

__all__ = ["NetworkPipe", "LoggerSite", "NetworkPath", "PipeNetwork"]


@dataclasses.dataclass(frozen=True)
class NetworkPipe:
    """One pipe of the network.

    Attributes
    ----------
    pipe_id, start_node, end_node : str
    length_m : float
        Length along the pipe in m.
    material : str
        A material name of :mod:`acoustic.pipe`.
    diameter_mm : float
        Internal diameter in mm.
    wall_mm : float or None
        Wall thickness in mm (typical wall of the material when None).
    coords : numpy.ndarray, shape (n, 2)
        Polyline from the start node through the vertices to the end node, network coordinates.
    kind : str, default "pipe"
        ``"pipe"``, or the EPANET valve type (``"PRV"``, ``"TCV"``, ...) for a valve carried as a
        short acoustic link (water passes an open valve, and so does its sound).
    """

    pipe_id: str
    start_node: str
    end_node: str
    length_m: float
    material: str
    diameter_mm: float
    wall_mm: float | None
    coords: np.ndarray
    kind: str = "pipe"

    def segment(self, length_m: float | None = None) -> PipeSegment:
        """A :class:`~acoustic.pipe.PipeSegment` of this pipe (optionally of a part of it)."""
        return PipeSegment(self.material, self.length_m if length_m is None else length_m, self.diameter_mm,
                           self.wall_mm)

    def point_at(self, offset_m: float) -> tuple[float, float]:
        """Coordinates of the point ``offset_m`` metres from the start node along the geometry."""
        xy = self.coords
        seg = np.hypot(*np.diff(xy, axis=0).T)
        total = seg.sum()
        if total == 0:
            return float(xy[0, 0]), float(xy[0, 1])
        target = np.clip(offset_m / self.length_m, 0.0, 1.0) * total
        cum = np.concatenate([[0.0], np.cumsum(seg)])
        i = int(np.clip(np.searchsorted(cum, target, side="right") - 1, 0, len(seg) - 1))
        frac = 0.0 if seg[i] == 0 else (target - cum[i]) / seg[i]
        p = xy[i] + frac * (xy[i + 1] - xy[i])
        return float(p[0]), float(p[1])

    def polyline(self, from_m: float, to_m: float) -> np.ndarray:
        """Coordinates (shape (n, 2)) of the part of the pipe from offset ``from_m`` to ``to_m``
        (m from the start node; reversed when ``to_m < from_m``), vertices included."""
        lo, hi = sorted((float(from_m), float(to_m)))
        xy = self.coords
        seg = np.hypot(*np.diff(xy, axis=0).T)
        cum = np.concatenate([[0.0], np.cumsum(seg)]) / max(float(seg.sum()), 1e-300) * self.length_m
        inner = [xy[i] for i in range(len(xy)) if lo < cum[i] < hi]
        pts = np.array([self.point_at(lo), *[tuple(p) for p in inner], self.point_at(hi)], dtype=np.float64)
        return pts if from_m <= to_m else pts[::-1]


@dataclasses.dataclass(frozen=True)
class LoggerSite:
    """Where a logger sits: at a node, or on a pipe at ``offset_m`` from its start node."""

    logger_id: str
    node_id: str | None = None
    pipe_id: str | None = None
    offset_m: float | None = None
    area: str | None = None
    sensor_kind: str = "hydrophone"


@dataclasses.dataclass
class NetworkPath:
    """A route along pipes between two logger sites.

    ``pieces`` lists ``(pipe_id, from_offset_m, to_offset_m)`` in travel order (offsets from
    each pipe's start node; ``to < from`` when the route runs against the pipe's direction).
    """

    from_logger: str
    to_logger: str
    pieces: list[tuple[str, float, float]]
    network: "PipeNetwork"

    @property
    def pipe_ids(self) -> list[str]:
        return [p for p, _, _ in self.pieces]

    @property
    def length_m(self) -> float:
        return float(sum(abs(b - a) for _, a, b in self.pieces))

    def pipe_path(self) -> PipePath:
        """The :class:`~acoustic.pipe.PipePath` of the route (one segment per piece of pipe)."""
        segs = []
        for pid, a, b in self.pieces:
            if abs(b - a) > 1e-9:
                segs.append(self.network.pipes[pid].segment(abs(b - a)))
        if not segs:
            raise PipeError(f"loggers {self.from_logger} and {self.to_logger} are at the same place")
        return PipePath(segs)

    def locate(self, distance_m: float) -> tuple[str, float]:
        """Map a distance along the route (m from ``from_logger``) to ``(pipe_id, offset_m)``."""
        remaining = float(np.clip(distance_m, 0.0, self.length_m))
        for pid, a, b in self.pieces:
            span = abs(b - a)
            if remaining <= span + 1e-9:
                off = a + np.sign(b - a) * remaining
                return pid, float(off)
            remaining -= span
        pid, _, b = self.pieces[-1]
        return pid, float(b)


class PipeNetwork:
    """Pipes, node coordinates and logger sites, with shortest routes along the pipes.

    Parameters
    ----------
    pipes : iterable of NetworkPipe
    node_coords : dict of str -> (x, y)
    source : str
        Where the network came from (for messages).
    """

    def __init__(self, pipes, node_coords, *, source: str = "network", equipment=None):
        self.source = source
        #: Known noise sources of the model (PRVs and other valves, pumps): node id -> description.
        self.equipment: dict[str, str] = dict(equipment or {})
        self.pipes: dict[str, NetworkPipe] = {}
        for p in pipes:
            if p.pipe_id in self.pipes:
                raise DataError(f"{source}: pipe {p.pipe_id} is defined twice")
            if p.length_m <= 0:
                raise PipeError(f"{source}: pipe {p.pipe_id} has length {p.length_m} m; must be positive")
            if p.length_m > MAX_PIPE_LENGTH_M:
                raise PipeError(f"{source}: pipe {p.pipe_id} is {p.length_m / 1000.0:g} km long, longer than any pipe "
                                f"sound can be followed along (at most {MAX_PIPE_LENGTH_M / 1000.0:g} km); check its "
                                f"length and units, or leave it out of the survey's network")
            self.pipes[p.pipe_id] = p
        self.node_coords = {str(k): (float(v[0]), float(v[1])) for k, v in node_coords.items()}
        self._adj: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for p in self.pipes.values():
            for n in (p.start_node, p.end_node):
                if n not in self.node_coords:
                    raise DataError(f"{source}: pipe {p.pipe_id} refers to unknown node {n}")
            self._adj[p.start_node].append((p.pipe_id, p.end_node))
            self._adj[p.end_node].append((p.pipe_id, p.start_node))

    def __repr__(self) -> str:
        return f"PipeNetwork({len(self.pipes)} pipes, {len(self.node_coords)} nodes from {self.source})"

    # -- topology ------------------------------------------------------------------------
    def degree(self, node: str) -> int:
        """Number of pipe ends at ``node``."""
        return len(self._adj.get(node, ()))

    def neighbours_of(self, node: str) -> list[tuple[str, str]]:
        """``(pipe_id, other_node)`` for every pipe at ``node``."""
        return list(self._adj.get(node, ()))

    @property
    def total_length_m(self) -> float:
        """Total pipe length in m."""
        return float(sum(p.length_m for p in self.pipes.values()))

    def subnetwork(self, pipe_ids, *, source: str | None = None) -> "PipeNetwork":
        """A network of only ``pipe_ids`` (their nodes, and the equipment on those nodes).

        Raises
        ------
        DataError
            A pipe id is not in this network.
        """
        ids = list(dict.fromkeys(pipe_ids))
        missing = [p for p in ids if p not in self.pipes]
        if missing:
            raise DataError(f"{self.source}: unknown pipe(s) {', '.join(missing[:8])}")
        pipes = [self.pipes[p] for p in ids]
        nodes = {n for p in pipes for n in (p.start_node, p.end_node)}
        return PipeNetwork(pipes, {n: self.node_coords[n] for n in nodes}, source=source or self.source,
                           equipment={n: d for n, d in self.equipment.items() if n in nodes})

    def components(self) -> list[set[str]]:
        """Connected groups of nodes (through pipes)."""
        seen, comps = set(), []
        for start in self.node_coords:
            if start in seen or start not in self._adj:
                continue
            stack, comp = [start], set()
            while stack:
                n = stack.pop()
                if n in comp:
                    continue
                comp.add(n)
                stack.extend(m for _, m in self._adj[n] if m not in comp)
            seen |= comp
            comps.append(comp)
        return comps

    def check_site(self, site: LoggerSite, where: str = "loggers") -> None:
        """Raise DataError when a logger refers to an unknown node or pipe or an offset off the pipe."""
        if site.node_id is not None:
            if site.node_id not in self.node_coords:
                raise DataError(f"{where}: logger {site.logger_id} is on unknown node {site.node_id}")
            if site.node_id not in self._adj:
                raise DataError(f"{where}: logger {site.logger_id} is on node {site.node_id}, which no pipe reaches")
        elif site.pipe_id is not None:
            if site.pipe_id not in self.pipes:
                raise DataError(f"{where}: logger {site.logger_id} is on unknown pipe {site.pipe_id}")
            length = self.pipes[site.pipe_id].length_m
            if site.offset_m is None or not (0.0 <= site.offset_m <= length):
                raise DataError(f"{where}: logger {site.logger_id} offset_m {site.offset_m} is outside pipe "
                                f"{site.pipe_id} (0-{length:g} m)")
        else:
            raise DataError(f"{where}: logger {site.logger_id} has neither node_id nor pipe_id")

    def site_xy(self, site: LoggerSite) -> tuple[float, float]:
        """Coordinates of a logger site."""
        if site.node_id is not None:
            return self.node_coords[site.node_id]
        return self.pipes[site.pipe_id].point_at(site.offset_m)

    def _site_edges(self, site: LoggerSite):
        """(node, distance_m, piece) pairs that connect a site to the graph."""
        if site.node_id is not None:
            return [(site.node_id, 0.0, None)]
        p = self.pipes[site.pipe_id]
        return [(p.start_node, site.offset_m, (p.pipe_id, site.offset_m, 0.0)),
                (p.end_node, p.length_m - site.offset_m, (p.pipe_id, site.offset_m, p.length_m))]

    def distances_from(self, site: LoggerSite, max_m: float = np.inf) -> dict[str, float]:
        """Shortest distance along pipes (m) from a site to every reachable node."""
        dist: dict[str, float] = {}
        heap = [(d, n) for n, d, _ in self._site_edges(site)]
        heapq.heapify(heap)
        while heap:
            d, n = heapq.heappop(heap)
            if n in dist or d > max_m:
                continue
            dist[n] = d
            for pid, m in self._adj[n]:
                if m not in dist:
                    heapq.heappush(heap, (d + self.pipes[pid].length_m, m))
        return dist

    def path(self, a: LoggerSite, b: LoggerSite) -> NetworkPath | None:
        """Shortest route along pipes from site ``a`` to site ``b`` (None when not connected)."""
        if a.pipe_id is not None and a.pipe_id == b.pipe_id:
            return NetworkPath(a.logger_id, b.logger_id, [(a.pipe_id, a.offset_m, b.offset_m)], self)
        # Dijkstra from a's entry nodes, remembering the piece used to reach each node
        best: dict[str, tuple[float, list]] = {}
        heap = []
        for n, d, piece in self._site_edges(a):
            heap.append((d, n, [piece] if piece else []))
        heapq.heapify(heap)
        targets = {n: (d, piece) for n, d, piece in self._site_edges(b)}
        done = None
        while heap:
            d, n, pieces = heapq.heappop(heap)
            if n in best:
                continue
            best[n] = (d, pieces)
            if n in targets and (done is None or d + targets[n][0] < done[0]):
                tail = targets[n][1]
                tail_piece = [(tail[0], tail[2], tail[1])] if tail else []
                done = (d + targets[n][0], pieces + tail_piece)
            if done is not None and d >= done[0]:
                break
            for pid, m in self._adj[n]:
                if m in best:
                    continue
                p = self.pipes[pid]
                fwd = p.start_node == n
                heapq.heappush(heap, (d + p.length_m, m, pieces + [(pid, 0.0 if fwd else p.length_m,
                                                                     p.length_m if fwd else 0.0)]))
        if done is None:
            return None
        return NetworkPath(a.logger_id, b.logger_id, done[1], self)
