"""GeoJSON of a survey result: ranked lines (LineString), located points and noise sources
(Point), and the loggers (Point).

:func:`survey_geojson` builds it in the network's own coordinates; :func:`georeference` turns
any such document into RFC 7946 GeoJSON (longitude, latitude in WGS 84) when the network's
coordinate system is known (:mod:`acoustic.survey._crs`), and otherwise says in the file that it
is not (the ``acoustic:coordinates`` member, and the GeoJSON-2008 ``crs`` member when the system is
named but cannot be transformed here).  :func:`add_lonlat` gives the points of a survey JSON their
longitude and latitude.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..network import PipeNetwork

__all__ = ["survey_geojson", "write_geojson", "georeference", "add_lonlat", "COORDINATES_MEMBER"]

#: Foreign member (RFC 7946 section 6.1) saying what the coordinates are.
COORDINATES_MEMBER = "acoustic:coordinates"


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
    lines = [ln.to_json() if hasattr(ln, "to_json") else ln for ln in result.lines]
    for rank, ln in enumerate(lines, start=1):
        pieces = routes[(ln["from_logger"], ln["to_logger"])]
        props = {"kind": "line", "rank": rank, "score": ln["score"], "from_logger": ln["from_logger"],
                 "to_logger": ln["to_logger"], "pipe_ids": ",".join(ln["pipe_ids"]), "length_m": ln["length_m"],
                 "materials": ",".join(ln["materials"]), "reasons": "; ".join(ln["reasons"])}
        feats.append({"type": "Feature", "geometry": {"type": "LineString", "coordinates": _route_coords(network, pieces)},
                      "properties": props})
    for kind, items in (("point", result.points), ("noise_source", result.noise_sources)):
        for rank, p in enumerate(items, start=1):
            p = p.to_json() if hasattr(p, "to_json") else p
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


def _map_positions(coords, fn):
    """Apply ``fn(xs, ys) -> (xs, ys)`` to a geometry's coordinates (Point, LineString, Multi*,
    Polygon nesting), returning the same nesting as lists."""
    arr = np.asarray(coords, dtype=np.float64)
    if arr.ndim == 1:
        x, y = fn(arr[0:1], arr[1:2])
        return [float(x[0]), float(y[0])]
    if arr.ndim == 2:
        x, y = fn(arr[:, 0], arr[:, 1])
        return [[float(a), float(b)] for a, b in zip(x, y)]
    return [_map_positions(c, fn) for c in coords]


def _positions(coords):
    arr = np.asarray(coords, dtype=np.float64)
    if arr.ndim <= 2:
        return arr.reshape(-1, 2)
    return np.concatenate([_positions(c) for c in coords])


def georeference(doc: dict, cs) -> dict:
    """An RFC 7946 copy of a GeoJSON FeatureCollection in network coordinates, when possible.

    Parameters
    ----------
    doc : dict
        FeatureCollection whose coordinates are the network's (x, y).
    cs : acoustic.survey._crs.CoordinateSystem

    Returns
    -------
    dict
        With longitude/latitude: every position as [lon, lat] (WGS 84, 7 decimals), Point
        features keep their network coordinates as ``x``, ``y`` properties, a ``bbox``, no ``crs``
        member, and ``acoustic:coordinates`` = ``{"rfc7946": true, "from_crs": ...}``.  Without:
        the coordinates as they are, ``acoustic:coordinates`` = ``{"rfc7946": false, ...}`` saying
        why, and a GeoJSON-2008 ``crs`` member when the system is named.
    """
    from ._crs import LONLAT_DECIMALS

    out = {k: v for k, v in doc.items() if k not in ("crs", "bbox", COORDINATES_MEMBER)}
    feats = [dict(f) for f in doc.get("features", [])]
    if cs is not None and cs.can_lonlat:
        def fn(x, y):
            lon, lat = cs.to_lonlat(x, y)
            return np.round(np.atleast_1d(lon), LONLAT_DECIMALS), np.round(np.atleast_1d(lat), LONLAT_DECIMALS)

        allpos = []
        for f in feats:
            geom = f.get("geometry")
            if not geom:
                continue
            props = dict(f.get("properties") or {})
            if geom.get("type") == "Point" and "x" not in props:
                props["x"], props["y"] = float(geom["coordinates"][0]), float(geom["coordinates"][1])
            f["properties"] = props
            f["geometry"] = {"type": geom["type"], "coordinates": _map_positions(geom["coordinates"], fn)}
            allpos.append(_positions(f["geometry"]["coordinates"]))
        out["features"] = feats
        if allpos:
            p = np.concatenate(allpos)
            out["bbox"] = [float(p[:, 0].min()), float(p[:, 1].min()), float(p[:, 0].max()), float(p[:, 1].max())]
        out[COORDINATES_MEMBER] = {"rfc7946": True, "from_crs": cs.crs, "from_crs_name": cs.name,
                                   "note": "longitude, latitude (WGS 84); network coordinates in x, y properties"}
        return out
    out["features"] = feats
    why = (cs.why_not if cs is not None else None) or "the network's coordinate system is unknown (give --crs EPSG:xxxx)"
    out[COORDINATES_MEMBER] = {
        "rfc7946": False, "crs": cs.crs if cs is not None else None,
        "note": f"coordinates are the network model's own x, y, not longitude/latitude: {why}; this file is not "
                "RFC 7946 GeoJSON (set the layer's coordinate system to the network's in a GIS)"}
    if cs is not None and cs.known:
        name = cs.crs
        if name.upper().startswith("EPSG:"):
            name = "urn:ogc:def:crs:EPSG::" + name.split(":", 1)[1]
        out["crs"] = {"type": "name", "properties": {"name": name}}
    return out


def add_lonlat(doc: dict, cs) -> dict:
    """Give the points, noise sources and loggers of a survey JSON (with ``x``, ``y``) their ``lon``
    and ``lat`` (degrees, WGS 84) when the coordinate system allows; ``coordinates`` says what
    the x, y and lon, lat are.  Changes ``doc`` in place and returns it."""
    for key in ("points", "noise_sources", "loggers"):
        for p in doc.get(key) or []:
            if isinstance(p, dict) and p.get("x") is not None and p.get("y") is not None:
                ll = cs.lonlat_or_none(p["x"], p["y"]) if cs is not None else None
                if ll is not None:
                    p["lon"], p["lat"] = ll
    doc["coordinates"] = (cs.to_json() if cs is not None else
                          {"crs": None, "lonlat": False, "why_no_lonlat": "coordinate system unknown"})
    return doc


def write_geojson(obj: dict, path) -> Path:
    """Write a GeoJSON object (UTF-8, finite numbers only; atomically)."""
    import os

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

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(clean(obj)), encoding="utf-8")
    os.replace(tmp, path)
    return path
