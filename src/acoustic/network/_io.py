"""Reading networks (EPANET ``.inp`` + ``pipes.csv``, or GeoJSON) and ``loggers.csv``."""

from __future__ import annotations

import csv
import json
import math
import warnings
from pathlib import Path

import numpy as np

from .._errors import AcousticWarning, DataError, PipeError
from ..pipe import get_material
from ..recording import SENSOR_KINDS
from ._model import LoggerSite, NetworkPipe, PipeNetwork

__all__ = ["read_inp_network", "read_geojson_network", "read_loggers", "read_pipes_table", "write_inp_network",
           "VALVE_LENGTH_M"]


def _num(value, what, where, *, positive=True, optional=False):
    if value is None or (isinstance(value, str) and value.strip() == ""):
        if optional:
            return None
        raise DataError(f"{where}: {what} is missing")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{where}: {what} {value!r} is not a number") from None
    if not math.isfinite(v) or (positive and v <= 0):
        raise DataError(f"{where}: {what} must be a positive number, got {value!r}")
    return v


def _read_csv(path: Path, required: tuple[str, ...], optional: tuple[str, ...] = (), *, what: str):
    """Rows of a network CSV through the shared reader (BOM, trailing separators, extra fields,
    non-UTF-8 and special files handled as everywhere else; see :func:`acoustic.io.read_csv_table`)."""
    from ..io import read_csv_table

    return read_csv_table(path, required=required, optional=optional, what=what, error=DataError).rows


def read_pipes_table(path) -> dict[str, dict]:
    """``pipes.csv``: ``pipe_id,material,diameter_mm,wall_mm[,install_year]`` -> {pipe_id: {...}}."""
    path = Path(path)
    out = {}
    for r in _read_csv(path, ("pipe_id", "material"), ("diameter_mm", "wall_mm"), what="pipes.csv"):
        where = r.where()
        pid = r.cells["pipe_id"]
        if not pid:
            raise DataError(f"{where}: empty pipe_id")
        if pid in out:
            raise DataError(f"{where}: pipe {pid} listed twice")
        try:
            mat = get_material(r.cells["material"]).name if r.cells["material"] else None
        except PipeError as exc:
            raise DataError(f"{where}: pipe {pid}: {exc}") from None
        out[pid] = {"material": mat,
                    "diameter_mm": _num(r.cells.get("diameter_mm"), "diameter_mm", where, optional=True),
                    "wall_mm": _num(r.cells.get("wall_mm"), "wall_mm", where, optional=True)}
    return out


#: Length (m) given to a valve carried as an acoustic link (EPANET valves have no length).
VALVE_LENGTH_M = 1.0
#: Material of a valve body when ``pipes.csv`` does not list the valve.
VALVE_MATERIAL = "ductile_iron"


def read_inp_network(inp_path, pipes_csv=None) -> PipeNetwork:
    """Read an EPANET ``.inp`` file (:func:`acoustic.network._inp.parse_inp`, one linear pass; lengths
    in m and diameters in mm whatever its units), with materials and walls from ``pipes.csv``.

    EPANET has no pipe material or wall thickness, so every pipe needs a row in ``pipes.csv``
    (``diameter_mm`` there overrides the model's diameter; the model's is used when blank).

    Valves are kept as acoustic links of :data:`VALVE_LENGTH_M` m (an open valve passes water and
    its sound; material from ``pipes.csv`` when listed, else ductile iron) and, with pumps, are
    recorded in :attr:`PipeNetwork.equipment` as known noise sources (PRV hiss, pump tones).
    Pumps are not acoustic links: the impeller and check valve break the water column's path.

    Raises
    ------
    DataError
        The file does not load (the message names the line), or pipes lack a material (the
        message names them).
    """
    from ._inp import parse_inp

    inp_path = Path(inp_path)
    inp = parse_inp(inp_path)
    table = read_pipes_table(pipes_csv) if pipes_csv is not None else {}
    # A node that [COORDINATES] does not list is placed at the origin, as EPANET and WNTR do.
    coords = {name: (xy if xy is not None else (0.0, 0.0)) for name, xy in inp.nodes.items()}
    pipes, unknown = [], []
    for p in inp.pipes:
        row = table.get(p.link_id, {})
        if not row.get("material"):
            unknown.append(p.link_id)
            continue
        xy = np.array([coords[p.start_node], *inp.vertices.get(p.link_id, []), coords[p.end_node]], dtype=np.float64)
        diameter = row.get("diameter_mm") or p.diameter_mm
        if diameter is None:
            raise DataError(f"{inp_path}, line {p.line}: pipe {p.link_id} has no diameter (give it in pipes.csv)")
        pipes.append(NetworkPipe(p.link_id, p.start_node, p.end_node, float(p.length_m), row["material"],
                                 float(diameter), row.get("wall_mm"), xy))
    if unknown:
        raise DataError(f"{pipes_csv or inp_path}: {len(unknown)} pipe(s) have no material: "
                        f"{', '.join(unknown[:8])}{' ...' if len(unknown) > 8 else ''} (add them to pipes.csv)")
    equipment: dict[str, str] = {}
    for v in inp.valves:
        row = table.get(v.link_id, {})
        xy = np.array([coords[v.start_node], coords[v.end_node]], dtype=np.float64)
        pipes.append(NetworkPipe(v.link_id, v.start_node, v.end_node, VALVE_LENGTH_M,
                                 row.get("material") or VALVE_MATERIAL,
                                 float(row.get("diameter_mm") or v.diameter_mm), row.get("wall_mm"), xy,
                                 kind=v.kind))
        for n in (v.start_node, v.end_node):
            equipment.setdefault(n, f"{v.kind} valve {v.link_id}")
    for pu in inp.pumps:
        for n in (pu.start_node, pu.end_node):
            equipment.setdefault(n, f"pump {pu.link_id}")
    known = {q.pipe_id for q in pipes} | {pu.link_id for pu in inp.pumps}
    extra = [p for p in table if p not in known]
    if extra:
        warnings.warn(f"{pipes_csv}: {len(extra)} pipe(s) not in the network ignored: {', '.join(extra[:5])}",
                      AcousticWarning, stacklevel=2)
    return PipeNetwork(pipes, coords, source=str(inp_path), equipment=equipment)


def write_inp_network(network: PipeNetwork, inp_path, pipes_csv=None, *, title: str = "acoustic network") -> None:
    """Write a network as an EPANET 2.2 ``.inp`` (SI units, LPS) and, optionally, its ``pipes.csv``.

    Junctions get zero elevation and demand (acoustics needs only the graph, lengths, diameters and
    geometry); valves (``kind`` other than ``"pipe"``) go to ``[VALVES]`` with a zero setting, open;
    pipe vertices go to ``[VERTICES]``.  ``read_inp_network`` reads the result back unchanged.
    """
    inp_path = Path(inp_path)
    pipes = list(network.pipes.values())
    nodes = sorted(network.node_coords)
    lines = ["[TITLE]", title, "", "[JUNCTIONS]", ";ID\tElev\tDemand"]
    lines += [f" {n}\t0\t0" for n in nodes]
    lines += ["", "[PIPES]", ";ID\tNode1\tNode2\tLength\tDiameter\tRoughness\tMinorLoss\tStatus"]
    for p in pipes:
        if p.kind == "pipe":
            lines.append(f" {p.pipe_id}\t{p.start_node}\t{p.end_node}\t{p.length_m:.4f}\t{p.diameter_mm:.2f}\t100\t0\tOpen")
    lines += ["", "[VALVES]", ";ID\tNode1\tNode2\tDiameter\tType\tSetting\tMinorLoss"]
    for p in pipes:
        if p.kind != "pipe":
            lines.append(f" {p.pipe_id}\t{p.start_node}\t{p.end_node}\t{p.diameter_mm:.2f}\t{p.kind}\t0\t0")
    lines += ["", "[OPTIONS]", " Units\tLPS", " Headloss\tH-W", "", "[COORDINATES]", ";Node\tX\tY"]
    lines += [f" {n}\t{network.node_coords[n][0]:.3f}\t{network.node_coords[n][1]:.3f}" for n in nodes]
    lines += ["", "[VERTICES]", ";Link\tX\tY"]
    for p in pipes:
        for x, y in p.coords[1:-1]:
            lines.append(f" {p.pipe_id}\t{x:.3f}\t{y:.3f}")
    lines += ["", "[END]", ""]
    inp_path.write_text("\n".join(lines), encoding="utf-8")
    if pipes_csv is not None:
        rows = ["pipe_id,material,diameter_mm,wall_mm"]
        for p in pipes:
            rows.append(f"{p.pipe_id},{p.material},{p.diameter_mm:g},{'' if p.wall_mm is None else f'{p.wall_mm:g}'}")
        Path(pipes_csv).write_text("\n".join(rows) + "\n", encoding="utf-8")


def read_geojson_network(path) -> PipeNetwork:
    """Read ``network.geojson``: LineString features with pipe_id, start_node, end_node, material,
    diameter_mm, wall_mm (and optional length_m; otherwise the geometry's length, projected CRS)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: network does not load: not valid JSON ({exc})") from None
    feats = obj.get("features") if isinstance(obj, dict) else None
    if not isinstance(feats, list) or not feats:
        raise DataError(f"{path}: network does not load: expected a FeatureCollection with LineString features")
    pipes, coords, unknown = [], {}, []
    for i, f in enumerate(feats):
        where = f"{path}: feature {i}"
        geom = (f or {}).get("geometry") or {}
        props = (f or {}).get("properties") or {}
        if geom.get("type") != "LineString":
            raise DataError(f"{where}: geometry must be a LineString, got {geom.get('type')!r}")
        xy = np.asarray(geom.get("coordinates"), dtype=np.float64)
        if xy.ndim != 2 or xy.shape[0] < 2:
            raise DataError(f"{where}: LineString needs at least two coordinates")
        xy = xy[:, :2]
        pid = str(props.get("pipe_id", "")).strip()
        s, e = str(props.get("start_node", "")).strip(), str(props.get("end_node", "")).strip()
        if not pid or not s or not e:
            raise DataError(f"{where}: needs properties pipe_id, start_node, end_node")
        if not props.get("material"):
            unknown.append(pid)
            continue
        try:
            mat = get_material(props["material"]).name
        except PipeError as exc:
            raise DataError(f"{where}: pipe {pid}: {exc}") from None
        length = props.get("length_m")
        length = float(np.hypot(*np.diff(xy, axis=0).T).sum()) if length in (None, "") else _num(length, "length_m", where)
        coords.setdefault(s, tuple(xy[0]))
        coords.setdefault(e, tuple(xy[-1]))
        pipes.append(NetworkPipe(pid, s, e, length, mat, _num(props.get("diameter_mm"), "diameter_mm", where),
                                 _num(props.get("wall_mm"), "wall_mm", where, optional=True), xy))
    if unknown:
        raise DataError(f"{path}: {len(unknown)} pipe(s) have no material: {', '.join(unknown[:8])}")
    return PipeNetwork(pipes, coords, source=str(path))


def read_loggers(path, network: PipeNetwork) -> list[LoggerSite]:
    """``loggers.csv``: ``logger_id,node_id`` or ``logger_id,pipe_id,offset_m`` (+ area, sensor_kind)."""
    path = Path(path)
    rows = _read_csv(path, ("logger_id",), ("node_id", "pipe_id", "offset_m", "area", "sensor_kind"),
                     what="loggers.csv")
    sites, seen = [], set()
    for r in rows:
        where = r.where()
        lid = r.get("logger_id", "")
        if not lid:
            raise DataError(f"{where}: empty logger_id")
        if lid in seen:
            raise DataError(f"{where}: logger {lid} listed twice")
        seen.add(lid)
        kind = r.get("sensor_kind") or "hydrophone"
        if kind not in SENSOR_KINDS:
            raise DataError(f"{where}: sensor_kind must be one of {', '.join(SENSOR_KINDS)}, got {kind!r}")
        if r.get("node_id"):
            site = LoggerSite(lid, node_id=r["node_id"], area=r.get("area") or None, sensor_kind=kind)
        elif r.get("pipe_id"):
            site = LoggerSite(lid, pipe_id=r["pipe_id"], offset_m=_num(r.get("offset_m"), "offset_m", where, positive=False),
                              area=r.get("area") or None, sensor_kind=kind)
        else:
            raise DataError(f"{where}: logger {lid} needs node_id, or pipe_id and offset_m")
        network.check_site(site, where)
        sites.append(site)
    if not sites:
        raise DataError(f"{path}: no loggers")
    return sites
