"""A linear reader of the parts of an EPANET 2.2 ``.inp`` file that acoustics needs.

Acoustics needs only the graph: node ids and coordinates, pipes (ends, length, diameter, vertices),
valves and pumps (as known noise sources).  Reading them directly takes one pass over the file
(WNTR builds a full hydraulic model: about 30 s and several hundred MB for 50,000 pipes, and
another few seconds to import), and lets every problem be reported with its file and line.

EPANET's units follow the flow units of ``[OPTIONS] Units``: US flow units (CFS, GPM, MGD, IMGD,
AFD) give lengths in feet and diameters in inches; SI flow units (LPS, LPM, MLD, CMH, CMD, and
CMS in EPANET 2.3) give metres and millimetres.  GPM is EPANET's default.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from .._errors import DataError

__all__ = ["InpLink", "InpNetwork", "parse_inp"]

#: Flow units whose lengths are in feet and diameters in inches (EPANET 2.2 manual, table 3.1).
US_FLOW_UNITS = frozenset({"CFS", "GPM", "MGD", "IMGD", "AFD"})
#: Flow units whose lengths are in metres and diameters in millimetres.
SI_FLOW_UNITS = frozenset({"LPS", "LPM", "MLD", "CMH", "CMD", "CMS"})
FOOT_M = 0.3048
INCH_MM = 25.4
#: Largest .inp file read, bytes (a 50,000-pipe network is about 5 MB).
MAX_INP_BYTES = 512 * 2**20

_NODE_SECTIONS = ("JUNCTIONS", "RESERVOIRS", "TANKS")
_LINK_SECTIONS = ("PIPES", "PUMPS", "VALVES")
_READ_SECTIONS = frozenset(_NODE_SECTIONS + _LINK_SECTIONS + ("COORDINATES", "VERTICES", "OPTIONS"))


@dataclasses.dataclass(frozen=True)
class InpLink:
    """A pipe, pump or valve of an ``.inp`` file, in SI units.

    Attributes
    ----------
    link_id, start_node, end_node : str
    kind : str
        ``"pipe"``, ``"pump"`` or the valve type (``"PRV"``, ``"TCV"``, ...).
    length_m : float or None
        Pipes only, m.
    diameter_mm : float or None
        Pipes and valves, mm.
    line : int
        Line of the file, for messages.
    """

    link_id: str
    start_node: str
    end_node: str
    kind: str
    length_m: float | None
    diameter_mm: float | None
    line: int


@dataclasses.dataclass
class InpNetwork:
    """What :func:`parse_inp` reads: nodes with coordinates, links in file order, vertices."""

    path: Path
    flow_units: str
    nodes: dict          # node id -> (x, y) or None when [COORDINATES] does not list it
    node_lines: dict     # node id -> line
    links: list          # InpLink in file order
    vertices: dict       # link id -> list of (x, y)

    @property
    def pipes(self) -> list:
        return [lk for lk in self.links if lk.kind == "pipe"]

    @property
    def valves(self) -> list:
        return [lk for lk in self.links if lk.kind not in ("pipe", "pump")]

    @property
    def pumps(self) -> list:
        return [lk for lk in self.links if lk.kind == "pump"]


def _fields(raw: str) -> list[str]:
    return raw.split(";", 1)[0].split()


def _number(text: str, what: str, where: str, *, positive: bool) -> float:
    try:
        v = float(text)
    except ValueError:
        raise DataError(f"{where}: {what} {text!r} is not a number") from None
    if not math.isfinite(v) or (positive and v <= 0):
        raise DataError(f"{where}: {what} must be a positive finite number, got {text!r}")
    return v


def _sections(text: str):
    """(section name, line number, fields) for every data line of the sections read."""
    section = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("["):
            section = stripped.strip("[]").strip().upper()
            continue
        if section not in _READ_SECTIONS:
            continue
        f = _fields(raw)
        if f:
            yield section, lineno, f


def _flow_units(options: list[tuple[int, list[str]]], where: str) -> str:
    for lineno, f in options:
        if f[0].upper() == "UNITS" and len(f) > 1:
            units = f[1].upper()
            if units not in US_FLOW_UNITS | SI_FLOW_UNITS:
                raise DataError(f"{where}, line {lineno}: unknown flow units {f[1]!r} "
                                f"(one of {', '.join(sorted(US_FLOW_UNITS | SI_FLOW_UNITS))})")
            return units
    return "GPM"


def _read_text(path: Path) -> str:
    from ..io import read_file_bytes

    data = read_file_bytes(path, what="EPANET network", max_bytes=MAX_INP_BYTES)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # EPANET's own GUI writes the system code page


def parse_inp(path) -> InpNetwork:
    """Read nodes, links, coordinates and vertices of an EPANET ``.inp`` file in one pass.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    InpNetwork
        Lengths in m and diameters in mm whatever the file's units.

    Raises
    ------
    DataError
        One line naming the file and line: an id defined twice, a link to an undefined node, a
        length or diameter that is not a positive finite number, a line with too few fields, a
        network without pipes.

    Examples
    --------
    >>> from acoustic.network._inp import parse_inp
    >>> net = parse_inp("recordings/samples/district/network.inp")
    >>> len(net.pipes), net.flow_units
    (20, 'LPS')
    """
    path = Path(path)
    where = str(path)
    by_section: dict[str, list] = {s: [] for s in _READ_SECTIONS}
    for section, lineno, f in _sections(_read_text(path)):
        by_section[section].append((lineno, f))
    units = _flow_units(by_section["OPTIONS"], where)
    length_scale, diameter_scale = (FOOT_M, INCH_MM) if units in US_FLOW_UNITS else (1.0, 1.0)

    nodes: dict = {}
    node_lines: dict = {}
    for section in _NODE_SECTIONS:
        for lineno, f in by_section[section]:
            nid = f[0]
            if nid in node_lines:
                raise DataError(f"{where}, line {lineno}: node {nid} is defined twice (first on line {node_lines[nid]})")
            node_lines[nid] = lineno
            nodes[nid] = None
    for lineno, f in by_section["COORDINATES"]:
        if len(f) < 3:
            raise DataError(f"{where}, line {lineno}: [COORDINATES] needs node, x and y")
        if f[0] in nodes:
            nodes[f[0]] = (_number(f[1], "x", f"{where}, line {lineno}", positive=False),
                           _number(f[2], "y", f"{where}, line {lineno}", positive=False))

    links: list[InpLink] = []
    link_lines: dict = {}
    minimum = {"PIPES": 4, "PUMPS": 3, "VALVES": 5}
    for section in _LINK_SECTIONS:
        for lineno, f in by_section[section]:
            at = f"{where}, line {lineno}"
            if len(f) < minimum[section]:
                raise DataError(f"{at}: [{section}] line has {len(f)} field(s), needs at least {minimum[section]}")
            lid, a, b = f[0], f[1], f[2]
            if lid in link_lines:
                raise DataError(f"{at}: link {lid} is defined twice (first on line {link_lines[lid]})")
            for n in (a, b):
                if n not in node_lines:
                    raise DataError(f"{at}: link {lid} joins node {n}, which no [JUNCTIONS], [RESERVOIRS] "
                                    "or [TANKS] line defines")
            link_lines[lid] = lineno
            if section == "PIPES":
                length = _number(f[3], f"pipe {lid} length", at, positive=True) * length_scale
                diameter = (_number(f[4], f"pipe {lid} diameter", at, positive=True) * diameter_scale
                            if len(f) > 4 else None)
                links.append(InpLink(lid, a, b, "pipe", length, diameter, lineno))
            elif section == "PUMPS":
                links.append(InpLink(lid, a, b, "pump", None, None, lineno))
            else:
                diameter = _number(f[3], f"valve {lid} diameter", at, positive=True) * diameter_scale
                links.append(InpLink(lid, a, b, f[4].upper(), None, diameter, lineno))
    vertices: dict = {}
    for lineno, f in by_section["VERTICES"]:
        if len(f) < 3:
            raise DataError(f"{where}, line {lineno}: [VERTICES] needs link, x and y")
        vertices.setdefault(f[0], []).append((_number(f[1], "x", f"{where}, line {lineno}", positive=False),
                                              _number(f[2], "y", f"{where}, line {lineno}", positive=False)))
    if not any(lk.kind == "pipe" for lk in links):
        raise DataError(f"{where}: the network has no pipes (no [PIPES] lines)")
    return InpNetwork(path, units, nodes, node_lines, links, vertices)
