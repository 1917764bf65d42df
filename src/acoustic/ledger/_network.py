"""The pipe network behind a ledger: where its pipes start and end, how long they are, which
area each logger belongs to, and distances along the pipes.

A ledger's suspects name pipes of the survey folder its batch runs used (``--survey``); the
folder is found from ``--survey DIR`` or from the latest batch run that names one.  Without a
network the ledger still knows, per suspect, what its survey recorded (pipe length, nearest
node) or, for a pair job, the pair's own path (sensor A to sensor B): :func:`pipe_facts`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

from .._errors import DataError
from .._warnings import silenced

__all__ = ["PipeFacts", "LedgerNetwork", "POSITION_ROUNDING_M", "load_network", "survey_dir_of", "pipe_facts",
           "clamp_offset"]

#: Largest difference (m) between a position and its pipe's ends that is taken as rounding and
#: clamped to the pipe.  The survey writes offsets, intervals and pipe lengths rounded to 0.01 m
#: (a 64.008 m pipe is written 64.01 m); EPANET lengths in feet become metres with more digits.
#: 0.05 m is five rounding steps and far below any dig's precision.
POSITION_ROUNDING_M = 0.05


@dataclasses.dataclass(frozen=True)
class PipeFacts:
    """What is known of the pipe a position is measured along.

    Attributes
    ----------
    pipe_id : str
    length_m : float or None
        Length along the pipe (m).
    start_node, end_node : str or None
        The nodes at its ends (offsets run from ``start_node``); for a pair job the sensors.
    source : str
        ``network`` (the survey folder's model), ``survey evidence`` (what the survey recorded with
        the suspect: length and nearest node), ``pair job`` (the correlated pair's path) or
        ``unknown``.
    """

    pipe_id: str
    length_m: float | None
    start_node: str | None
    end_node: str | None
    source: str

    def describe(self) -> str:
        ends = ""
        if self.start_node or self.end_node:
            ends = f", from node {self.start_node or '?'} to node {self.end_node or '?'}"
        length = f"{self.length_m:g} m long" if self.length_m is not None else "length unknown"
        what = "pair path" if self.source == "pair job" else "pipe"
        return f"{what} {self.pipe_id} ({length}{ends})"


def clamp_offset(offset_m: float, length_m: float | None, *, tol_m: float = POSITION_ROUNDING_M,
                 what: str = "position") -> float:
    """``offset_m`` clamped to ``[0, length_m]`` when it is off the pipe by at most ``tol_m``.

    Raises
    ------
    DataError
        Further off the pipe than the rounding tolerance.
    """
    off = float(offset_m)
    if not math.isfinite(off):
        raise DataError(f"{what} {offset_m!r} is not a number of metres")
    if off < 0.0:
        if off < -tol_m:
            raise DataError(f"{what} {off:g} m is before the pipe's start")
        return 0.0
    if length_m is not None and off > length_m:
        if off > length_m + tol_m:
            raise DataError(f"{what} {off:g} m is beyond the pipe's {length_m:g} m")
        return float(length_m)
    return off


@dataclasses.dataclass
class LedgerNetwork:
    """A survey folder's network and logger sites, for checking and relating positions.

    Attributes
    ----------
    network : acoustic.network.PipeNetwork
    sites : dict of logger_id -> LoggerSite
    survey_dir : Path
    """

    network: object
    sites: dict
    survey_dir: Path

    def facts(self, pipe_id: str) -> PipeFacts | None:
        p = self.network.pipes.get(str(pipe_id))
        if p is None:
            return None
        return PipeFacts(p.pipe_id, float(p.length_m), p.start_node, p.end_node, "network")

    def node_distances(self, pipe_id: str, offset_m: float) -> dict[str, float]:
        """Distance along the pipes (m) from a point to every node reachable from it."""
        from ..network import LoggerSite

        return self.network.distances_from(LoggerSite("_point", pipe_id=str(pipe_id), offset_m=float(offset_m)))

    def along_pipes_m(self, a: tuple[str, float], b: tuple[str, float]) -> float:
        """Shortest distance along the pipes (m) between two points ``(pipe_id, offset_m)``."""
        (pa, oa), (pb, ob) = a, b
        best = math.inf
        if str(pa) == str(pb):
            best = abs(float(oa) - float(ob))
        d = self.node_distances(pa, oa)
        q = self.network.pipes[str(pb)]
        for node, tail in ((q.start_node, float(ob)), (q.end_node, q.length_m - float(ob))):
            best = min(best, d.get(node, math.inf) + tail)
        return float(best)

    def nearest_logger(self, pipe_id: str, offset_m: float) -> tuple[str, float] | None:
        """The logger nearest a point along the pipes: ``(logger_id, distance_m)``."""
        d = self.node_distances(pipe_id, offset_m)
        best = None
        for lid, s in self.sites.items():
            if s.node_id is not None:
                dist = d.get(s.node_id, math.inf)
            else:
                dist = self.along_pipes_m((pipe_id, offset_m), (s.pipe_id, s.offset_m))
            if math.isfinite(dist) and (best is None or dist < best[1]):
                best = (lid, float(dist))
        return best


def survey_dir_of(led) -> Path | None:
    """The survey folder named by the ledger's latest batch run that names one (None if none or gone).

    A relative name is tried as given and relative to the ledger's folder.
    """
    try:
        rows = led.conn.execute("SELECT params_json FROM batches ORDER BY id DESC").fetchall()
    except Exception:  # a ledger without batches table is reported elsewhere
        return None
    for r in rows:
        try:
            params = json.loads(r[0] or "{}")
        except (TypeError, ValueError):
            continue
        name = params.get("survey_dir") if isinstance(params, dict) else None
        if not name:
            continue
        p = Path(name)
        for c in ([p] if p.is_absolute() else [p, Path(led.path).resolve().parent / p]):
            if c.is_dir():
                return c
        return None
    return None


def load_network(survey_dir) -> LedgerNetwork:
    """Read a survey folder's network and ``loggers.csv`` (no recordings).

    Raises
    ------
    DataError
        Not a folder, no network or loggers, or they do not load.
    """
    import warnings

    from .._errors import AcousticWarning
    from ..network import read_geojson_network, read_inp_network, read_loggers

    root = Path(survey_dir)
    if not root.is_dir():
        raise DataError(f"--survey {root}: survey folder not found")
    inp, geo = root / "network.inp", root / "network.geojson"
    with silenced():
        if inp.is_file():
            pipes = root / "pipes.csv"
            if not pipes.is_file():
                raise DataError(f"{pipes}: file not found (EPANET files carry no pipe material)")
            network = read_inp_network(inp, pipes)
        elif geo.is_file():
            network = read_geojson_network(geo)
        else:
            raise DataError(f"{root}: no network.inp (with pipes.csv) or network.geojson in the survey folder")
        loggers = root / "loggers.csv"
        sites = {s.logger_id: s for s in read_loggers(loggers, network)} if loggers.is_file() else {}
    return LedgerNetwork(network, sites, root)


def pipe_facts(suspect: dict, net: LedgerNetwork | None = None, pipe_id: str | None = None) -> PipeFacts:
    """What is known of the pipe a suspect lies on (or of ``pipe_id``, another pipe of the network).

    Parameters
    ----------
    suspect : dict
        The suspect row with its parsed ``evidence``.
    net : LedgerNetwork, optional
    pipe_id : str, optional
        Another pipe than the suspect's (needs ``net``).
    """
    ev = suspect.get("evidence") if isinstance(suspect.get("evidence"), dict) else {}
    pid = str(pipe_id if pipe_id is not None else suspect.get("pipe_id"))
    if suspect.get("origin") == "pair" and pipe_id is None:
        path = ev.get("path") if isinstance(ev.get("path"), dict) else {}
        length = path.get("length_m")
        return PipeFacts(pid, float(length) if _num(length) else None, path.get("start_node"), path.get("end_node"),
                         "pair job")
    if net is not None:
        f = net.facts(pid)
        if f is not None:
            return f
        if pipe_id is not None:
            raise DataError(f"pipe {pid} is not in the network {net.network.source}")
    if pipe_id is not None and pid != str(suspect.get("pipe_id")):
        raise DataError(f"pipe {pid} is not the suspect's pipe {suspect.get('pipe_id')}; the network is needed to "
                        "check a position on another pipe (give --survey DIR)")
    length = ev.get("pipe_length_m")
    length = float(length) if _num(length) and length > 0 else None
    start = end = None
    nn = ev.get("nearest_node") if isinstance(ev.get("nearest_node"), dict) else None
    off = suspect.get("offset_m")
    if nn and nn.get("node_id") is not None and _num(nn.get("distance_m")) and _num(off):
        # the survey names the nearer end: the start node when its distance is the offset
        d = float(nn["distance_m"])
        if length is None or abs(d - float(off)) <= abs(d - (length - float(off))):
            start = str(nn["node_id"])
        else:
            end = str(nn["node_id"])
    source = "survey evidence" if (length is not None or start or end) else "unknown"
    return PipeFacts(pid, length, start, end, source)


def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
