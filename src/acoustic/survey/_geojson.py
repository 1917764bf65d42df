"""GeoJSON of a survey result: ranked lines (LineString), located points and noise sources
(Point), and the loggers (Point), in the network's own coordinates."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..network import PipeNetwork

__all__ = ["survey_geojson", "write_geojson"]


def _route_coords(network: PipeNetwork, pieces) -> list[list[float]]:
    out: list[list[float]] = []
    for pid, a, b in pieces:
        xy = network.pipes[pid].polyline(a, b)
        for p in xy:
            q = [round(float(p[0]), 3), round(float(p[1]), 3)]
            if not out or q != out[-1]:
                out.append(q)
    if len(out) == 1:
        out.append(list(out[0]))
    return out


def survey_geojson(result, network: PipeNetwork, routes: dict, logger_xy: dict) -> dict:
    """A GeoJSON FeatureCollection of a :class:`SurveyResult`.

    Parameters
    ----------
    result : SurveyResult
    network : PipeNetwork
    routes : dict of (from_logger, to_logger) -> list of (pipe_id, from_m, to_m)
        The pipe pieces of each line's route.
    logger_xy : dict of logger_id -> (x, y)

    Notes
    -----
    Coordinates are the network's (EPANET ``[COORDINATES]`` or the GeoJSON input), not WGS84;
    GIS tools open the file and draw it in those units (set the layer's CRS to the network's).
    Every feature has ``kind`` (``line``, ``point``, ``noise_source``, ``logger``) and ``rank``.
    """
    feats = []
    for rank, ln in enumerate(result.lines, start=1):
        pieces = routes[(ln["from_logger"], ln["to_logger"])]
        props = {"kind": "line", "rank": rank, "score": ln["score"], "from_logger": ln["from_logger"],
                 "to_logger": ln["to_logger"], "pipe_ids": ",".join(ln["pipe_ids"]), "length_m": ln["length_m"],
                 "materials": ",".join(ln["materials"]), "reasons": "; ".join(ln["reasons"])}
        feats.append({"type": "Feature", "geometry": {"type": "LineString", "coordinates": _route_coords(network, pieces)},
                      "properties": props})
    for kind, items in (("point", result.points), ("noise_source", result.noise_sources)):
        for rank, p in enumerate(items, start=1):
            props = {"kind": kind, "rank": rank, "pipe_id": p["pipe_id"], "offset_m": p["offset_m"],
                     "interval_lo_m": p["interval_m"][0], "interval_hi_m": p["interval_m"][1],
                     "confidence": p["confidence"], "score_z": p["score_z"], "loggers": ",".join(p["loggers"]),
                     "material": p["material"], "diameter_mm": p["diameter_mm"]}
            if "explained_by" in p:
                props["explained_by"] = p["explained_by"]
            feats.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [p["x"], p["y"]]},
                          "properties": props})
            # the interval drawn along the pipe
            lo, hi = p["interval_m"]
            if hi > lo:
                xy = network.pipes[p["pipe_id"]].polyline(lo, hi)
                feats.append({"type": "Feature",
                              "geometry": {"type": "LineString",
                                           "coordinates": [[round(float(a), 3), round(float(b), 3)] for a, b in xy]},
                              "properties": {"kind": f"{kind}_interval", "rank": rank, "pipe_id": p["pipe_id"],
                                             "interval_lo_m": lo, "interval_hi_m": hi}})
    for ev in result.loggers.values():
        site_xy = logger_xy.get(ev.logger_id)
        if site_xy is None:
            continue
        feats.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(site_xy[0], 3),
                                                                                        round(site_xy[1], 3)]},
                      "properties": {"kind": "logger", "logger_id": ev.logger_id, "score": round(ev.score, 4),
                                     "alarm": ev.alarm}})
    return {"type": "FeatureCollection", "name": "acoustic survey", "features": feats}


def write_geojson(obj: dict, path) -> Path:
    """Write a GeoJSON object (UTF-8, finite numbers only)."""
    path = Path(path)

    def clean(v):
        if isinstance(v, float) and not np.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list):
            return [clean(x) for x in v]
        if isinstance(v, np.generic):
            return clean(v.item())
        return v

    path.write_text(json.dumps(clean(obj)), encoding="utf-8")
    return path
