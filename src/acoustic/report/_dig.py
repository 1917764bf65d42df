"""Dig-sheet numbers: where to dig, measured along the pipe from things a crew can find.

A crew finds a leak position by walking the pipe from a fitting it can see: a node of the
network model (junction, hydrant, valve chamber, where the loggers sit) at one end of the
pipe.  So the sheet gives the distance along the pipe from both end nodes (with the 95 %
interval in the same terms), the nearest node, the nearest logger along the pipes, the
coordinates in the network's reference system and the pipe's material and size.
"""

from __future__ import annotations

import math

import numpy as np

from .._errors import DataError

__all__ = ["dig_sheet", "route_position"]


def _typical_wall_mm(pipe) -> float | None:
    try:
        return float(pipe.segment().wall_thickness_mm)
    except Exception:  # pragma: no cover - a pipe the physics cannot describe
        return None


def dig_sheet(network, sites: dict, point: dict) -> dict:
    """The numbers of a dig sheet for one point suspect.

    Parameters
    ----------
    network : acoustic.network.PipeNetwork
    sites : dict of logger_id -> LoggerSite
    point : dict
        ``pipe_id``, ``offset_m`` (m from the pipe's start node), ``interval_m`` ([low, high] m
        from the start node), optional ``sd_m`` (m).

    Returns
    -------
    dict
        ``pipe_id``, ``material``, ``diameter_mm``, ``wall_mm`` (with ``wall_is_typical``),
        ``pipe_length_m``; ``start_node`` / ``end_node`` (``node_id``, ``x``, ``y``,
        ``distance_m`` along the pipe to the point, ``interval_m`` along the pipe);
        ``nearest_node`` (the nearer end); ``x``, ``y`` of the point and ``interval_xy`` of the
        interval's ends; ``nearest_logger`` (``logger_id``, ``distance_m`` along the pipes).

    Raises
    ------
    DataError
        The pipe is not in the network or the offset is beyond its ends.
    """
    pid = str(point["pipe_id"])
    pipe = network.pipes.get(pid)
    if pipe is None:
        raise DataError(f"suspect on pipe {pid}: the pipe is not in the network {network.source}")
    from ..ledger._network import POSITION_ROUNDING_M, clamp_offset

    length = float(pipe.length_m)
    try:
        off = clamp_offset(float(point["offset_m"]), length, what=f"suspect on pipe {pid}: offset")
    except DataError as exc:
        raise DataError(f"{exc} (pipe {pid} of {network.source}; more than the {POSITION_ROUNDING_M:g} m rounding "
                        "tolerance: the suspect does not belong to this network?)") from None
    lo, hi = (float(v) for v in point["interval_m"])
    lo_c, hi_c = min(max(lo, 0.0), length), min(max(hi, 0.0), length)
    x, y = pipe.point_at(off)
    s_xy = network.node_coords[pipe.start_node]
    e_xy = network.node_coords[pipe.end_node]
    start = {"node_id": pipe.start_node, "x": s_xy[0], "y": s_xy[1], "distance_m": off,
             "interval_m": [lo_c, hi_c]}
    end = {"node_id": pipe.end_node, "x": e_xy[0], "y": e_xy[1], "distance_m": length - off,
           "interval_m": [length - hi_c, length - lo_c]}
    nearest = start if off <= length - off else end
    wall = pipe.wall_mm
    out = {
        "pipe_id": pid, "material": pipe.material, "diameter_mm": float(pipe.diameter_mm),
        "wall_mm": float(wall) if wall is not None else _typical_wall_mm(pipe), "wall_is_typical": wall is None,
        "pipe_length_m": length, "kind": pipe.kind,
        "offset_m": off, "sd_m": point.get("sd_m"), "interval_m": [lo_c, hi_c],
        "interval_beyond_pipe": bool(lo < -POSITION_ROUNDING_M or hi > length + POSITION_ROUNDING_M
                                     or point.get("interval_extends_into")),
        "x": float(x), "y": float(y),
        "interval_xy": [list(pipe.point_at(lo_c)), list(pipe.point_at(hi_c))],
        "start_node": start, "end_node": end, "nearest_node": nearest,
        "nearest_logger": _nearest_logger(network, sites, pipe, off),
        "equipment": {n: network.equipment[n] for n in (pipe.start_node, pipe.end_node) if n in network.equipment},
    }
    return out


def _nearest_logger(network, sites: dict, pipe, off: float) -> dict | None:
    best = None
    for lid, site in sites.items():
        if site.pipe_id == pipe.pipe_id and site.offset_m is not None:
            d = abs(site.offset_m - off)
        else:
            dist = network.distances_from(site)
            d = min(dist.get(pipe.start_node, math.inf) + off, dist.get(pipe.end_node, math.inf) + pipe.length_m - off)
        if math.isfinite(d) and (best is None or d < best["distance_m"]):
            best = {"logger_id": lid, "distance_m": float(d), "node_id": site.node_id,
                    "pipe_id": site.pipe_id, "offset_m": site.offset_m}
    return best


def route_position(pieces, pipe_id: str, offset_m: float, *, network=None, clip: bool = False,
                   end_tol_m: float = 0.05) -> float | None:
    """Distance (m) along a route from its first logger to a point on one of its pipes.

    Parameters
    ----------
    pieces : list of (pipe_id, from_offset_m, to_offset_m)
        The route (:attr:`acoustic.network.NetworkPath.pieces`).
    pipe_id : str
    offset_m : float
        m from the pipe's start node.
    network : acoustic.network.PipeNetwork, optional
        With it, a point at an end of its pipe (within ``end_tol_m``) is found on the route
        through that node even when the route does not use the pipe.
    clip : bool
        A point on a pipe of the route but beyond the part the route uses is moved to the
        nearest end of that part (for interval ends).

    Returns
    -------
    float or None
        None when the point is not on the route.
    """
    cum = 0.0
    nearest = None
    for pid, a, b in pieces:
        lo, hi = min(a, b), max(a, b)
        if pid == pipe_id:
            if lo - 1e-6 <= offset_m <= hi + 1e-6:
                return float(cum + abs(float(np.clip(offset_m, lo, hi)) - a))
            if clip:
                c = float(np.clip(offset_m, lo, hi))
                cand = (abs(offset_m - c), cum + abs(c - a))
                nearest = cand if nearest is None or cand[0] < nearest[0] else nearest
        cum += abs(b - a)
    if nearest is not None:
        return float(nearest[1])
    if network is not None and pipe_id in network.pipes:
        pipe = network.pipes[pipe_id]
        node = pipe.start_node if offset_m <= end_tol_m else pipe.end_node if offset_m >= pipe.length_m - end_tol_m else None
        if node is not None:
            cum = 0.0
            for pid, a, b in pieces:
                p = network.pipes[pid]
                for off, at in ((a, cum), (b, cum + abs(b - a))):
                    if (off <= end_tol_m and p.start_node == node) or (off >= p.length_m - end_tol_m and p.end_node == node):
                        return float(at)
                cum += abs(b - a)
    return None
