"""Simulated network surveys: :func:`simulate_survey` (``acoustic simulate survey``).

A survey folder (``interfaces.md``) on a real network model with leaks at known positions:

* **Networks.**  ``district``: the small two-DMA district shipped in ``recordings/samples/district``
  (a metal north DMA of cast and ductile iron with an asbestos-cement spur, a plastic south DMA of
  PVC and PE, joined through a PRV); ``net3``: a sub-district of EPANET example network 3 as
  shipped with WNTR (the pipes of a connected part of the town, with materials assigned by
  diameter); or any ``.inp`` file with a ``pipes.csv``.
* **Loggers** on nodes (hydrants, valve chambers): every dead end, and enough junctions that each
  pipe lies on the route of a neighbouring pair no longer than the span the material allows
  (physics.md 6.3); other junctions are left without a logger, so some leaks sit on a branch
  off every pair's route.
* **Sound.**  Each source (leak, PRV, pump, consumption) is stationary or intermittent noise made
  in the frequency domain with the shapes of :mod:`acoustic.simulate._sources`, carried to every
  logger along the shortest route through the pipes with each pipe's *realised* complex
  wavenumber (attenuation and dispersion of its material, properties drawn around nominal once
  per survey) and 2/N pressure splitting at every junction passed
  (:func:`acoustic.network._propagation.route_transfer`), seen by the logger's sensor
  (hydrophone pressure or accelerometer wall acceleration).  Each logger adds its own background
  at an absolute level, mains hum and traffic when asked.  Loggers record nightly at the same
  nominal time with clock offsets of up to 1 s, written exactly into the sidecars.
* **Truth.**  ``truth.json``: leak pipes, offsets, coordinates and levels, the confounders and
  where they are, the realised wave speed of every pipe, and the neighbour lines that contain
  each leak.
"""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from .._errors import ParameterError
from ..network import LoggerSite, NetworkPipe, PipeNetwork

__all__ = ["simulate_survey", "SimulatedSurvey", "district_network", "net3_subdistrict", "SURVEY_CONFOUNDERS",
           "NETWORKS"]

#: Confounders a survey can have: PRV hiss and pump noise at nodes, intermittent consumption at a
#: tap on a pipe, traffic and mains hum at the loggers.
SURVEY_CONFOUNDERS = ("prv", "pump", "consumption", "traffic", "hum")
#: Built-in networks.
NETWORKS = ("district", "net3")
#: Longest span (m) between neighbouring loggers by material family (physics.md 6.3: plastic
#: <= 100 m, metal up to 500 m with 200 m recommended).
MAX_SPAN_M = {"plastic": 100.0, "cement": 250.0, "metal": 400.0}
_PLASTIC = {"pvc", "pe"}
_CEMENT = {"asbestos_cement", "concrete"}
#: Leak source level range (dB re 1 Pa rms in the pipe at the leak) [P].
LEAK_LEVEL_DB = (10.0, 30.0)
#: Background level range at a logger (dB re 1 Pa rms) [P] (the single-logger simulator's range).
BACKGROUND_LEVEL_DB = (-25.0, -5.0)
#: PRV and pump source levels (dB re 1 Pa rms) [P] (the single-logger simulator's ranges).
PRV_LEVEL_DB = (0.0, 25.0)
PUMP_LEVEL_DB = (5.0, 30.0)
CONSUMPTION_LEVEL_DB = (0.0, 25.0)


# -- networks -----------------------------------------------------------------------------------
#: The shipped sample district: node -> (x, y) in metres on a local grid.
_DISTRICT_NODES = {
    "N1": (0.0, 302.0), "N2": (148.0, 305.0), "N3": (301.0, 300.0),
    "N4": (3.0, 455.0), "N5": (151.0, 448.0), "N6": (297.0, 457.0), "N7": (428.0, 452.0),
    "N8": (158.0, 561.0),
    "S1": (301.0, 299.0), "S2": (300.0, 250.0), "S3": (251.0, 248.0), "S4": (199.0, 251.0),
    "S5": (152.0, 249.0), "S6": (302.0, 201.0), "S7": (250.0, 197.0), "S8": (201.0, 203.0),
    "S9": (349.0, 247.0),
}
#: pipe_id, start, end, material, internal diameter (mm), vertices
_DISTRICT_PIPES = [
    ("P01", "N1", "N2", "cast_iron", 150.0, []),
    ("P02", "N2", "N3", "cast_iron", 150.0, []),
    ("P03", "N1", "N4", "ductile_iron", 150.0, []),
    ("P04", "N2", "N5", "ductile_iron", 100.0, []),
    ("P05", "N3", "N6", "cast_iron", 150.0, []),
    ("P06", "N4", "N5", "ductile_iron", 150.0, []),
    ("P07", "N5", "N6", "cast_iron", 100.0, []),
    ("P08", "N6", "N7", "ductile_iron", 100.0, []),
    ("P09", "N5", "N8", "asbestos_cement", 100.0, [(140.0, 510.0)]),
    ("P10", "S1", "S2", "pvc", 150.0, []),
    ("P11", "S2", "S3", "pvc", 110.0, []),
    ("P12", "S3", "S4", "pvc", 110.0, []),
    ("P13", "S4", "S5", "pe", 90.0, []),
    ("P14", "S2", "S6", "pvc", 110.0, []),
    ("P15", "S3", "S7", "pe", 90.0, []),
    ("P16", "S6", "S7", "pvc", 110.0, []),
    ("P17", "S7", "S8", "pvc", 110.0, []),
    ("P18", "S4", "S8", "pe", 90.0, []),
    ("P19", "S2", "S9", "pe", 90.0, []),
]
#: logger_id, node, area
_DISTRICT_LOGGERS = [
    ("L01", "N1", "north"), ("L02", "N3", "north"), ("L03", "N4", "north"), ("L04", "N6", "north"),
    ("L05", "N7", "north"), ("L06", "N8", "north"),
    ("L07", "S2", "south"), ("L08", "S3", "south"), ("L09", "S5", "south"), ("L10", "S6", "south"),
    ("L11", "S8", "south"), ("L12", "S9", "south"), ("L13", "S7", "south"),
]


def _polyline_length(xy) -> float:
    xy = np.asarray(xy, dtype=np.float64)
    return float(np.hypot(*np.diff(xy, axis=0).T).sum())


def district_network() -> tuple[PipeNetwork, list[LoggerSite]]:
    """The shipped sample district and its loggers.

    Two district metered areas joined through a pressure-reducing valve ``V1`` (N3 - S1):
    ``north``, 9 older metal pipes (cast and ductile iron, an asbestos-cement spur; 110-160 m
    between nodes), and ``south``, 10 plastic pipes (PVC and PE, about 50 m between nodes).
    Thirteen loggers sit on hydrants and valve chambers; junctions N2, N5 and S4 have none.
    Pipe lengths are the lengths of their drawn geometry (m).
    """
    pipes = []
    for pid, s, e, mat, dia, verts in _DISTRICT_PIPES:
        xy = np.array([_DISTRICT_NODES[s], *verts, _DISTRICT_NODES[e]], dtype=np.float64)
        pipes.append(NetworkPipe(pid, s, e, round(_polyline_length(xy), 2), mat, dia, None, xy))
    xy = np.array([_DISTRICT_NODES["N3"], _DISTRICT_NODES["S1"]])
    pipes.append(NetworkPipe("V1", "N3", "S1", 1.0, "ductile_iron", 150.0, None, xy, kind="PRV"))
    net = PipeNetwork(pipes, _DISTRICT_NODES, source="district", equipment={"N3": "PRV valve V1",
                                                                               "S1": "PRV valve V1"})
    sites = [LoggerSite(lid, node_id=n, area=a) for lid, n, a in _DISTRICT_LOGGERS]
    return net, sites


def _material_for(diameter_mm: float, length_m: float, rng: np.random.Generator) -> str:
    """A plausible material for a pipe of this size (mains: iron and AC; small short pipes: PVC)."""
    if diameter_mm >= 300:
        return str(rng.choice(["ductile_iron", "steel", "cast_iron"], p=[0.5, 0.2, 0.3]))
    if length_m <= 120 and diameter_mm <= 200:
        return str(rng.choice(["pvc", "ductile_iron", "cast_iron"], p=[0.4, 0.3, 0.3]))
    return str(rng.choice(["cast_iron", "ductile_iron", "asbestos_cement"], p=[0.4, 0.4, 0.2]))


#: The connected part of Net3 used as a sub-district: its nodes (the pipes between them are kept
#: when shorter than 420 m).  A residential part of the town with loops and spurs.
_NET3_NODES = ("161", "163", "164", "166", "265", "169", "167", "171", "173", "187", "189", "204", "269", "271",
               "267", "193", "191", "195", "197", "177", "179", "181", "183", "185", "184", "35", "40")


def net3_subdistrict(seed: int = 3) -> PipeNetwork:
    """A sub-district of EPANET example network 3 (as shipped with WNTR) with materials.

    The pipes joining the nodes of :data:`_NET3_NODES` that are shorter than 420 m (the
    longest span a metal pair correlates well over); materials drawn by diameter with ``seed``
    (EPANET has none); the largest connected part is kept.
    """
    import wntr

    from ..network import read_inp_network

    inp = Path(wntr.__file__).parent / "library" / "networks" / "Net3.inp"
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wn = wntr.network.WaterNetworkModel(str(inp))
    keep = set(_NET3_NODES)
    rng = np.random.default_rng(seed)
    rows = ["pipe_id,material,diameter_mm,wall_mm"]
    chosen = []
    for name in wn.pipe_name_list:
        p = wn.get_link(name)
        mat = _material_for(p.diameter * 1000.0, p.length, rng)
        rows.append(f"{name},{mat},,")
        if p.start_node_name in keep and p.end_node_name in keep and 5.0 <= p.length <= 420.0:
            chosen.append(name)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "pipes.csv"
        csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            full = read_inp_network(inp, csv)
    sub = full.subnetwork(chosen, source="Net3 sub-district")
    comps = sub.components()
    if len(comps) > 1:
        big = max(comps, key=len)
        sub = sub.subnetwork([p.pipe_id for p in sub.pipes.values() if p.start_node in big],
                             source="Net3 sub-district")
    return sub


def _family(material: str) -> str:
    return "plastic" if material in _PLASTIC else ("cement" if material in _CEMENT else "metal")


def place_loggers(network: PipeNetwork, rng: np.random.Generator, *, junction_fraction: float = 0.5,
                  areas: dict | None = None) -> list[LoggerSite]:
    """Loggers on nodes: dead ends, a random part of the junctions, then more until every pipe lies
    on a neighbouring pair's route no longer than its material's span (:data:`MAX_SPAN_M`)."""
    from ..survey._graph import SurveyGraph

    nodes = sorted(network.node_coords, key=lambda n: (len(n), n))
    nodes = [n for n in nodes if network.degree(n) > 0]
    chosen = [n for n in nodes if network.degree(n) == 1]
    junctions = [n for n in nodes if network.degree(n) >= 3]
    chosen += [n for n in junctions if rng.random() < junction_fraction]
    if len(chosen) < 2:
        chosen = list(dict.fromkeys(chosen + nodes[:2]))
    for _ in range(len(nodes)):
        sites = [LoggerSite(f"L{i + 1:02d}", node_id=n) for i, n in enumerate(chosen)]
        g = SurveyGraph(network, sites)
        covered: dict[str, float] = {}
        for a, b in g.neighbour_pairs():
            route = g.network_path(a, b)
            for pid in route.pipe_ids:
                covered[pid] = min(covered.get(pid, np.inf), route.length_m)
        bad = [p for p in network.pipes.values()
               if covered.get(p.pipe_id, np.inf) > MAX_SPAN_M[_family(p.material)] and p.kind == "pipe"]
        if not bad:
            break
        # add a logger at the end node of the worst pipe that has none (the higher-degree end)
        p = max(bad, key=lambda q: covered.get(q.pipe_id, 1e9) / MAX_SPAN_M[_family(q.material)])
        cands = [n for n in (p.start_node, p.end_node) if n not in chosen]
        if not cands:
            break
        chosen.append(max(cands, key=network.degree))
    chosen = sorted(chosen, key=lambda n: (len(n), n))
    return [LoggerSite(f"L{i + 1:02d}", node_id=n, area=(areas or {}).get(n)) for i, n in enumerate(chosen)]


# -- the simulation ----------------------------------------------------------------------------
@dataclasses.dataclass
class SimulatedSurvey:
    """A simulated survey folder and its truth."""

    root: Path
    truth: dict
    network: PipeNetwork
    sites: list

    def __repr__(self) -> str:
        return f"SimulatedSurvey({self.root}, {len(self.sites)} loggers, {len(self.truth['leaks'])} leak(s))"


def _check_confounders(confounders) -> list[str]:
    if isinstance(confounders, str):
        confounders = [c for c in confounders.replace(",", " ").split() if c]
    names = [str(c).strip().lower() for c in confounders]
    bad = [c for c in names if c not in SURVEY_CONFOUNDERS]
    if bad:
        raise ParameterError(f"unknown survey confounder {bad[0]!r}; known: {', '.join(SURVEY_CONFOUNDERS)}")
    return [c for c in SURVEY_CONFOUNDERS if c in names]


def _resolve_network(network, pipes_csv, rng):
    """(PipeNetwork, logger sites or None, name)."""
    if isinstance(network, PipeNetwork):
        return network, None, network.source
    name = str(network)
    if name == "district":
        net, sites = district_network()
        return net, sites, "district"
    if name == "net3":
        net = net3_subdistrict()
        xs = np.array([net.node_coords[n][0] for n in net.node_coords])
        mid = float(np.median(xs))
        areas = {n: ("west" if net.node_coords[n][0] <= mid else "east") for n in net.node_coords}
        sites = place_loggers(net, np.random.default_rng(11), areas=areas)
        return net, sites, "net3"
    path = Path(name)
    if path.suffix.lower() != ".inp":
        raise ParameterError(f"network must be one of {', '.join(NETWORKS)} or an EPANET .inp file, got {name!r}")
    from ..network import read_inp_network

    csv = Path(pipes_csv) if pipes_csv else path.with_name("pipes.csv")
    if not csv.exists():
        raise ParameterError(f"{csv}: file not found; an EPANET network needs a pipes.csv with each pipe's "
                             f"material (give it with --pipes)")
    net = read_inp_network(path, csv)
    if len(net.components()) > 1:
        big = max(net.components(), key=len)
        net = net.subnetwork([p.pipe_id for p in net.pipes.values() if p.start_node in big], source=str(path))
    return net, None, str(path)


def simulate_survey(network="district", out_dir=None, *, leaks: int = 1, seed: int | None = None,
                    confounders=(), nights: int = 2, duration_s: float = 12.0, sample_rate_hz: float = 8000.0,
                    sensor_kind: str = "hydrophone", leak_level_db=None, leak_positions=None, pipes_csv=None,
                    loggers=None, stats_nights: int = 0, subtype: str = "PCM_16",
                    audio_format: str = "wav") -> SimulatedSurvey:
    """Build a simulated survey folder with leaks at known positions (module docs).

    Parameters
    ----------
    network : {"district", "net3"} or path to an EPANET ``.inp`` or PipeNetwork
        The network model (an ``.inp`` needs ``pipes_csv`` or a ``pipes.csv`` beside it).
    out_dir : str or Path
        Folder to write (created; existing survey files in it are overwritten).
    leaks : int, default 1
        Number of leaks (0 for a leak-free survey).
    seed : int or None
        Seed of every draw (recorded in the truth).
    confounders : iterable of str
        Any of :data:`SURVEY_CONFOUNDERS`: ``prv`` (a PRV's hiss at a valve node of the model, or
        at a random junction when the model has none), ``pump`` (a customer booster pump at a
        random node: shaft and blade-pass lines plus flow noise), ``consumption`` (intermittent
        flow hiss from a tap at a random point on a pipe), ``traffic`` (low-frequency passes,
        independent per logger), ``hum`` (mains lines picked up at every logger).
    nights : int, default 2
        Nightly recordings per logger (1-14).
    duration_s : float, default 12
        Length of each recording in s (2-120).
    sample_rate_hz : float, default 8000
        Sample rate in Hz (1000-96000).
    sensor_kind : {"hydrophone", "accelerometer"}
    leak_level_db : float, (lo, hi) or None
        Leak source level(s), dB re 1 Pa rms at the leak; None draws from :data:`LEAK_LEVEL_DB`.
    leak_positions : list of (pipe_id, offset_m), optional
        Where the leaks are (otherwise drawn: a pipe with probability proportional to its length,
        an offset at least 2 m from its ends).
    pipes_csv : path, optional
        Materials for an ``.inp`` network.
    loggers : list of LoggerSite, optional
        Logger sites (otherwise the network's own, or :func:`place_loggers`).
    stats_nights : int, default 0
        Also write ``stats.csv`` with this many nights of level/spread history per logger (the
        leak appearing on night ``0.6 stats_nights`` at the loggers that hear it; see
        :func:`_write_stats`), 0 for none.  Needs at least 10 nights.
    subtype : str, default "PCM_16"
        Audio sample format (a soundfile subtype).
    audio_format : {"wav", "flac"}
        Audio container of the recordings (FLAC is lossless and about a third smaller).

    Returns
    -------
    SimulatedSurvey
    """
    from ..recording import SENSOR_KINDS
    from ._common import check_number, resolve_seed

    if out_dir is None:
        raise ParameterError("out_dir is required: the folder to write the survey into")
    if isinstance(leaks, bool) or not isinstance(leaks, (int, np.integer)) or not 0 <= leaks <= 10:
        raise ParameterError(f"leaks must be an integer 0-10, got {leaks!r}")
    if isinstance(nights, bool) or not isinstance(nights, (int, np.integer)) or not 1 <= nights <= 14:
        raise ParameterError(f"nights must be an integer 1-14, got {nights!r}")
    dur = check_number("duration_s", duration_s, lo=2.0, hi=120.0, unit="s")
    fs = check_number("sample_rate_hz", sample_rate_hz, lo=1000.0, hi=96000.0, unit="Hz")
    if sensor_kind not in SENSOR_KINDS:
        raise ParameterError(f"sensor_kind must be one of {', '.join(SENSOR_KINDS)}, got {sensor_kind!r}")
    conf = _check_confounders(confounders)
    if isinstance(stats_nights, bool) or not isinstance(stats_nights, (int, np.integer)) or \
            not (stats_nights == 0 or 10 <= stats_nights <= 365):
        raise ParameterError(f"stats_nights must be 0 or an integer 10-365, got {stats_nights!r}")
    if audio_format not in ("wav", "flac"):
        raise ParameterError(f"audio_format must be 'wav' or 'flac', got {audio_format!r}")
    seed = resolve_seed(seed)
    names = ("net", "leaks", "props", "sources", "loggers", "time", "background", "stats")
    rngs = {k: np.random.default_rng(s) for k, s in zip(names, np.random.SeedSequence(seed).spawn(len(names)))}
    net, sites, net_name = _resolve_network(network, pipes_csv, rngs["net"])
    if loggers is not None:
        sites = list(loggers)
    if sites is None:
        sites = place_loggers(net, rngs["net"])
    for s in sites:
        net.check_site(s, "loggers")
    sites = [dataclasses.replace(s, sensor_kind=sensor_kind) for s in sites]

    from ..survey._graph import SurveyGraph

    graph = SurveyGraph(net, sites)
    pairs = graph.neighbour_pairs()
    routes = {p: graph.network_path(*p) for p in pairs}

    # -- leaks -----------------------------------------------------------------------------------
    rl = rngs["leaks"]
    pipes = [p for p in net.pipes.values() if p.kind == "pipe" and p.length_m > 6.0]
    lengths = np.array([p.length_m for p in pipes])
    leak_list = []
    if leak_positions is not None:
        for pid, off in leak_positions:
            if pid not in net.pipes:
                raise ParameterError(f"leak_positions: unknown pipe {pid!r}")
            if not 0.0 <= float(off) <= net.pipes[pid].length_m:
                raise ParameterError(f"leak_positions: offset {off} m is outside pipe {pid} "
                                     f"(0-{net.pipes[pid].length_m:g} m)")
            leak_list.append((pid, float(off)))
        leaks = len(leak_list)
    else:
        for _ in range(leaks):
            p = pipes[int(rl.choice(len(pipes), p=lengths / lengths.sum()))]
            leak_list.append((p.pipe_id, float(rl.uniform(2.0, p.length_m - 2.0))))
    if leak_level_db is None:
        levels = [float(rl.uniform(*LEAK_LEVEL_DB)) for _ in leak_list]
    elif np.ndim(leak_level_db) == 0:
        levels = [check_number("leak_level_db", leak_level_db, lo=-60.0, hi=120.0, unit="dB re 1 Pa")] * len(leak_list)
    else:
        lo, hi = (float(v) for v in leak_level_db)
        levels = [float(rl.uniform(lo, hi)) for _ in leak_list]

    # -- confounder sources --------------------------------------------------------------------------
    from . import _sources as src

    rs = rngs["sources"]
    logger_nodes = {s.node_id for s in sites if s.node_id}
    junction_nodes = [n for n in sorted(net.node_coords) if net.degree(n) >= 2]
    sources = []  # dicts: kind, site (LoggerSite), level_db, shape...
    for i, ((pid, off), lvl) in enumerate(zip(leak_list, levels)):
        sources.append({"kind": "leak", "name": f"leak{i + 1}", "pipe_id": pid, "offset_m": off, "level_db": lvl,
                        "shape": src.draw_leak_shape(rs, fs)})
    if "prv" in conf:
        valves = [n for n, d in net.equipment.items() if "valve" in d.lower()]
        node = str(rs.choice(valves)) if valves else str(rs.choice(junction_nodes))
        sources.append({"kind": "prv", "name": "prv", "node_id": node, "level_db": float(rs.uniform(*PRV_LEVEL_DB)),
                        "shape": src.draw_hiss_shape(rs, fs, 300.0, 2000.0, (0.7, 1.5)),
                        "known_to_model": node in net.equipment})
    if "pump" in conf:
        free = [n for n in junction_nodes if n not in net.equipment] or junction_nodes
        node = str(rs.choice(free))
        sources.append({"kind": "pump", "name": "pump", "node_id": node, "level_db": float(rs.uniform(*PUMP_LEVEL_DB)),
                        "pump": src.draw_pump(rs, fs), "known_to_model": node in net.equipment})
    if "consumption" in conf:
        p = pipes[int(rs.choice(len(pipes), p=lengths / lengths.sum()))]
        sources.append({"kind": "consumption", "name": "consumption", "pipe_id": p.pipe_id,
                        "offset_m": float(rs.uniform(1.0, p.length_m - 1.0)),
                        "level_db": float(rs.uniform(*CONSUMPTION_LEVEL_DB)),
                        "shape": src.draw_hiss_shape(rs, fs, 200.0, 1500.0, (1.0, 2.0))})
    hum = src.draw_hum(rs, 50.0, fs) if "hum" in conf else None

    # -- realised pipes (once per survey) ------------------------------------------------------------
    rp = rngs["props"]
    props = {pid: p.segment().draw_properties(rp) for pid, p in net.pipes.items()}

    # -- recordings ------------------------------------------------------------------------------------
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rec_dir = out / "recordings"
    rec_dir.mkdir(exist_ok=True)
    night0 = datetime(2026, 11, 3, 2, 0, 0, tzinfo=timezone.utc)
    rt, rb = rngs["time"], rngs["background"]
    bg_level = {s.logger_id: float(rb.uniform(*BACKGROUND_LEVEL_DB)) for s in sites}
    bg_shape = {s.logger_id: src.draw_background_shape(rb) for s in sites}
    written = _render_nights(net, sites, sources, props, hum, conf, nights, dur, fs, sensor_kind, night0, rt, rb,
                             bg_level, bg_shape, rec_dir, subtype, audio_format)

    # -- the rest of the folder ----------------------------------------------------------------------
    from ..network import write_inp_network

    write_inp_network(net, out / "network.inp", out / "pipes.csv", title=f"acoustic simulated survey on {net_name}")
    rows = ["logger_id,node_id,pipe_id,offset_m,area,sensor_kind"]
    for s in sites:
        rows.append(f"{s.logger_id},{s.node_id or ''},{s.pipe_id or ''},{'' if s.offset_m is None else s.offset_m},"
                    f"{s.area or ''},{s.sensor_kind}")
    (out / "loggers.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    if stats_nights:
        _write_stats(out / "stats.csv", sites, sources, net, graph, stats_nights, night0, rngs["stats"], bg_level)
    elif (out / "stats.csv").exists():
        (out / "stats.csv").unlink()

    truth = _truth(net, net_name, graph, pairs, routes, sites, sources, props, seed, conf, nights, dur, fs,
                   sensor_kind, written)
    (out / "truth.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    return SimulatedSurvey(out, truth, net, sites)


def _sensor_pipe(net: PipeNetwork, site: LoggerSite) -> NetworkPipe:
    if site.pipe_id is not None:
        return net.pipes[site.pipe_id]
    pid, _ = net.neighbours_of(site.node_id)[0]
    return net.pipes[pid]


def _source_site(net: PipeNetwork, s: dict) -> LoggerSite:
    if "node_id" in s:
        return LoggerSite(s["name"], node_id=s["node_id"])
    return LoggerSite(s["name"], pipe_id=s["pipe_id"], offset_m=s["offset_m"])


def _render_nights(net, sites, sources, props, hum, conf, nights, dur, fs, sensor_kind, night0, rt, rb, bg_level,
                   bg_shape, rec_dir, subtype, audio_format="wav"):
    from scipy import fft as sfft

    from ..io import write_recording
    from ..network._propagation import route_transfer
    from . import _sources as src
    from ._common import apply_gain, make_recording
    from ._pair import _rms_from_power
    from ._propagation import grid_wavenumber

    n = int(round(dur * fs))
    routes = {}
    for s in sources:
        site = _source_site(net, s)
        for lg in sites:
            routes[(s["name"], lg.logger_id)] = net.path(site, lg)
    # the longest route a sound takes to a logger, at 60 % of the slowest speed of the network
    c_min = min(p.segment().speed_m_s((5.0, 50.0)) for p in net.pipes.values()) * 0.6
    longest = max([r.length_m for r in routes.values() if r is not None] or [0.0])
    clock_max = 1.0
    pre = int(math.ceil((longest / c_min + 0.25) * fs))
    m = sfft.next_fast_len(pre + n + int(math.ceil((clock_max + 0.25) * fs)), real=True)
    freq = sfft.rfftfreq(m, 1.0 / fs)
    k = {pid: grid_wavenumber(pr, freq) for pid, pr in props.items()}
    # transfers from every source to every logger (fixed across nights)
    transfers = {}
    for key, route in routes.items():
        if route is None:
            transfers[key] = None
        elif route.length_m <= 1e-9:
            transfers[key] = np.ones(freq.size, dtype=np.complex128)
        else:
            transfers[key] = route_transfer(net, route, freq, wavenumbers=k)
    responses = {}
    for lg in sites:
        pr = props[_sensor_pipe(net, lg).pipe_id]
        responses[lg.logger_id] = src.sensor_response(sensor_kind, freq, mean_radius_m=pr.mean_radius_m,
                                                      wall_m=pr.wall_m, youngs_modulus_pa=pr.youngs_modulus_pa)
    written = {lg.logger_id: [] for lg in sites}
    for night in range(nights):
        start = night0 + timedelta(days=night)
        offsets = {lg.logger_id: int(rt.integers(0, int(clock_max * 1e6))) / 1e6 for lg in sites}
        spectra = {}
        for s in sources:
            spectra[s["name"]] = _source_spectrum(s, m, fs, freq, rt, pre, dur)
        hum_sig = None
        for lg in sites:
            lid = lg.logger_id
            w = responses[lid]
            total = np.zeros(freq.size, dtype=np.complex128)
            for s in sources:
                h = transfers[(s["name"], lid)]
                if h is None:
                    continue
                total += spectra[s["name"]] * h
            total *= w
            # the logger starts `offset` s after the nominal time: advance its signal by that much
            total *= np.exp(2j * np.pi * freq * offsets[lid])
            x = sfft.irfft(total, m)[pre:pre + n]
            # background at an absolute level (night-to-night +-1 dB), in sensor units
            pb = src.background_power(bg_shape[lid], freq, np.abs(w) ** 2)
            at_ref = float(np.sqrt(np.interp(100.0, freq, np.abs(w) ** 2)))
            lvl = bg_level[lid] + float(rb.normal(0.0, 0.5))
            pb = pb * (10 ** (lvl / 20.0) * at_ref / _rms_from_power(pb, m)) ** 2
            bg = sfft.irfft(src.shaped_noise_spectrum(rb, m, np.sqrt(pb)), m)[pre:pre + n]
            x = x + bg
            bg_rms = float(np.sqrt(np.mean(bg ** 2)))
            if hum is not None:
                sig, _ = src.hum_time_signal(rb, hum, n, fs, t0_s=offsets[lid])
                x = x + sig * bg_rms * 10 ** (float(rb.uniform(-3.0, 9.0)) / 20.0)
            if "traffic" in conf:
                tr = src.draw_traffic(rb, dur)
                x = x + src.traffic_time_signal(rb, tr, n, fs) * bg_rms * 10 ** (float(rb.uniform(6.0, 20.0)) / 20.0)
            samples, gain = apply_gain(x, None, f"logger {lid}")
            t0 = start + timedelta(seconds=offsets[lid])
            rec = make_recording(samples, fs, lid, sensor_kind, t0, gain, f"simulated survey night {night + 1}")
            folder = rec_dir / lid
            folder.mkdir(exist_ok=True)
            path = write_recording(rec, folder / f"{t0.strftime('%Y%m%dT%H%M%S')}.{audio_format}", subtype=subtype)
            written[lid].append({"file": str(path.relative_to(rec_dir.parent)), "start_time": t0.isoformat(),
                                 "clock_offset_s": offsets[lid], "gain_db": gain})
    return written


def _source_spectrum(s: dict, m: int, fs: float, freq: np.ndarray, rng, pre: int, dur: float) -> np.ndarray:
    """One night's source pressure spectrum (Pa) on the FFT grid of length ``m``."""
    from scipy import fft as sfft

    from . import _sources as src
    from ._pair import _rms_from_power

    level = 10 ** (s["level_db"] / 20.0)
    if s["kind"] == "pump":
        return sfft.rfft(src.pump_time_signal(rng, s["pump"], m, fs) * level)
    power = src.leak_power(s["shape"], freq) if s["kind"] == "leak" else src.hiss_power(s["shape"], freq)
    amp = np.sqrt(power) * (level / _rms_from_power(power, m))
    spec = src.shaped_noise_spectrum(rng, m, amp)
    if s["kind"] == "consumption":
        bursts = src.draw_bursts(rng, dur)
        s.setdefault("on_intervals_s", []).append(bursts["intervals_s"])
        env = src.burst_envelope(bursts, m, fs, t0_s=-pre / fs)
        spec = sfft.rfft(sfft.irfft(spec, m) * env)
    return spec


def _write_stats(path: Path, sites, sources, net, graph, n_nights: int, night0, rng, bg_level=None) -> None:
    """``stats.csv``: nightly level and spread per logger, by the noise-logger history simulator of
    :mod:`acoustic.loggers` (:func:`~acoustic.loggers.simulate_logger`).

    Each logger gets the history of its situation: a leak it hears (appearing on night
    ``0.6 n_nights``) at the level the leak reaches it relative to its background (source level,
    the route's loss over 50-500 Hz with nominal pipe properties, the logger's background level);
    a PRV it hears from the start of the history; traffic otherwise.  Loggers are not calibrated
    against each other: each history has its own base level.
    """
    from ..loggers import simulate_logger, write_stats
    from ..network._propagation import route_transfer

    f = np.linspace(50.0, 500.0, 24)
    onset = int(round(0.6 * n_nights))
    start = (night0 - timedelta(days=n_nights - 1)).date()

    def heard_db(s, lg):
        route = net.path(_source_site(net, s), lg)
        if route is None:
            return -np.inf
        if route.length_m <= 1e-9:
            loss = 0.0
        else:
            h = route_transfer(net, route, f)
            loss = float(-10.0 * np.log10(max(float(np.mean(np.abs(h) ** 2)), 1e-30)))
        bg = (bg_level or {}).get(lg.logger_id, float(np.mean(BACKGROUND_LEVEL_DB)))
        return s["level_db"] - loss - bg

    rows = []
    for lg in sites:
        leak_db = max([heard_db(s, lg) for s in sources if s["kind"] == "leak"] or [-np.inf])
        prv_db = max([heard_db(s, lg) for s in sources if s["kind"] == "prv"] or [-np.inf])
        if leak_db > -6.0:
            kind, kw = "leak", {"leak_db": float(min(leak_db, 15.0)), "onset": onset}
        elif prv_db > -3.0:
            kind, kw = "prv", {}
        else:
            kind, kw = "traffic", {}
        hist, _ = simulate_logger(kind, rng, n_nights=n_nights, start=start, logger_id=lg.logger_id, n_blocks=120,
                                  **kw)
        rows.extend(hist)
    write_stats(rows, path)


def _truth(net, net_name, graph, pairs, routes, sites, sources, props, seed, conf, nights, dur, fs, sensor_kind,
           written) -> dict:
    from ..pipe import DEFAULT_BAND_HZ
    from ._common import jsonable

    def lines_with(pid):
        return [{"from_logger": a, "to_logger": b, "length_m": round(routes[(a, b)].length_m, 2)}
                for (a, b) in pairs if pid in routes[(a, b)].pipe_ids]

    area_of = {s.logger_id: s.area for s in sites}
    leaks = []
    for s in sources:
        if s["kind"] != "leak":
            continue
        pipe = net.pipes[s["pipe_id"]]
        x, y = pipe.point_at(s["offset_m"])
        ls = lines_with(s["pipe_id"])
        areas = sorted({area_of[l[k]] for l in ls for k in ("from_logger", "to_logger") if area_of[l[k]]})
        leaks.append({"pipe_id": s["pipe_id"], "offset_m": s["offset_m"], "x": x, "y": y, "level_db": s["level_db"],
                      "material": pipe.material, "lines": ls, "areas": areas, "shape": s["shape"]})
    others = []
    for s in sources:
        if s["kind"] == "leak":
            continue
        d = {k: v for k, v in s.items() if k not in ("pump",)}
        if s["kind"] == "pump":
            d["pump"] = {k: s["pump"][k] for k in ("rpm", "shaft_hz", "blades", "blade_pass_hz", "lines_hz")}
        others.append(d)
    speeds = {}
    for pid, p in net.pipes.items():
        f = np.linspace(*DEFAULT_BAND_HZ, 16)
        kr = np.real(props[pid].wavenumber(f))
        speeds[pid] = {"realised_m_s": float(1.0 / np.polyfit(2 * np.pi * f, kr, 1)[0]),
                       "nominal_m_s": float(p.segment().speed_m_s())}
    return jsonable({
        "kind": "survey", "network": net_name, "seed": seed, "confounders": conf, "nights": nights,
        "duration_s": dur, "sample_rate_hz": fs, "sensor_kind": sensor_kind,
        "leaks": leaks, "sources": others,
        "loggers": [{"logger_id": s.logger_id, "node_id": s.node_id, "area": s.area,
                     "recordings": written[s.logger_id]} for s in sites],
        "neighbour_pairs": [{"from_logger": a, "to_logger": b, "length_m": round(routes[(a, b)].length_m, 2),
                             "pipe_ids": routes[(a, b)].pipe_ids} for a, b in pairs],
        "pipe_speeds_m_s": speeds,
        "units": {"offset_m": "m from the pipe's start node", "level_db": "dB re 1 Pa rms at the source"},
    })
