"""Survey graph (pipes split at loggers, neighbours, routes, travel times) and the fusion of pair
correlograms onto it (steered response power, CLEAN, point fit), on synthetic correlograms."""

import json

import numpy as np
import pytest

from acoustic.network import LoggerSite, NetworkPipe, PipeNetwork
from acoustic.survey import SurveyGraph, SurveyOptions
from acoustic.survey._fusion import PairCorrelogram, _DelayModel, extract_sources, fuse, robust_z
from acoustic.survey._graph import quantise_band
from acoustic.survey._run import locate_points

BAND = (100.0, 800.0)


def _pipe(pid, s, e, xy, material="ductile_iron", length=None):
    xy = np.asarray(xy, dtype=float)
    length = float(np.hypot(*np.diff(xy, axis=0).T).sum()) if length is None else length
    return NetworkPipe(pid, s, e, length, material, 150.0, None, xy)


@pytest.fixture
def tee():
    """A--J (120 m), J--B (90 m), J--C (60 m): a tee whose junction J has no logger."""
    nodes = {"A": (0.0, 0.0), "J": (120.0, 0.0), "B": (210.0, 0.0), "C": (120.0, -60.0)}
    pipes = [_pipe("P1", "A", "J", [nodes["A"], nodes["J"]]), _pipe("P2", "J", "B", [nodes["J"], nodes["B"]]),
             _pipe("P3", "J", "C", [nodes["J"], nodes["C"]])]
    return PipeNetwork(pipes, nodes, source="tee")


def _sites(*pairs):
    return [LoggerSite(l, node_id=n) if isinstance(n, str) else LoggerSite(l, pipe_id=n[0], offset_m=n[1])
            for l, n in pairs]


def test_neighbours_routes_and_split_pipes(tee):
    g = SurveyGraph(tee, _sites(("LA", "A"), ("LB", "B"), ("LC", "C")))
    assert g.neighbour_pairs() == [("LA", "LB"), ("LA", "LC"), ("LB", "LC")]
    route = g.network_path("LA", "LC")
    assert route.pipe_ids == ["P1", "P3"] and route.length_m == pytest.approx(180.0)
    # a logger part-way along P1 splits it and blocks the route from LA
    g2 = SurveyGraph(tee, _sites(("LA", "A"), ("LB", "B"), ("LC", "C"), ("LM", ("P1", 40.0))))
    pairs = g2.neighbour_pairs()
    assert ("LA", "LB") not in pairs and ("LA", "LM") in pairs and ("LB", "LM") in pairs
    assert g2.network_path("LM", "LB").pieces == [("P1", 40.0, 120.0), ("P2", 0.0, 90.0)]
    assert len(g2.pipe_edges["P1"]) == 2
    # two loggers at one node are not a pair
    g3 = SurveyGraph(tee, _sites(("L1", "A"), ("L2", "A"), ("L3", "B")))
    assert ("L1", "L2") not in g3.neighbour_pairs()


def test_delays_on_the_route_follow_the_pipe_path(tee):
    """tau(p) = T(p->A) - T(p->B) equals PipePath.delay_for_position on the route (same speeds)."""
    tee2 = PipeNetwork([_pipe("P1", "A", "J", [(0, 0), (120, 0)], "pvc"),
                        _pipe("P2", "J", "B", [(120, 0), (210, 0)], "cast_iron"),
                        _pipe("P3", "J", "C", [(120, 0), (120, -60)])], tee.node_coords)
    g = SurveyGraph(tee2, _sites(("LA", "A"), ("LB", "B")))
    model = _DelayModel(g)
    path = g.network_path("LA", "LB").pipe_path()
    band = quantise_band(BAND)
    for pid, off, x in (("P1", 30.0, 30.0), ("P2", 50.0, 170.0)):
        e = g.pipe_edges[pid][0]
        tau, _, _ = model.delays("LA", "LB", BAND, np.array([e]), np.array([off / tee2.pipes[pid].length_m]))
        assert tau[0] == pytest.approx(float(path.delay_for_position(x, band_hz=band)), abs=1e-9)
    # a point on the branch has the delay of the junction
    e3 = g.pipe_edges["P3"][0]
    tj, _, _ = model.delays("LA", "LB", BAND, np.array([e3, e3]), np.array([0.0, 0.7]))
    assert tj[0] == pytest.approx(tj[1], abs=1e-12)


def _synthetic_pairs(g, sources, pairs, rng, *, fs=4000.0, width_s=0.0015, nights=2):
    """Correlograms with a Gaussian envelope peak at each source's true delay (nominal speeds) plus
    independent noise, over each pair's possible delays."""
    model = _DelayModel(g)
    out = []
    for a, b in pairs:
        D = g.distance_m(a, b)
        T = D * float(np.max(model.slowness(BAND)))
        lags = np.arange(-1.2 * T, 1.2 * T, 1.0 / fs)
        for night in range(nights):
            env = np.abs(rng.normal(0.0, 1.0, lags.size)) * 0.05
            for pid, off, amp in sources:
                e = g.pipe_edges[pid][0]
                tau, _, _ = model.delays(a, b, BAND, np.array([e]), np.array([off / g.network.pipes[pid].length_m]))
                env = env + amp * np.exp(-0.5 * ((lags - tau[0]) / width_s) ** 2)
            out.append(PairCorrelogram(a, b, f"n{night}", lags, env, BAND, envelope=env, length_m=D,
                                       result={"detected": True}))
    return out


def test_three_loggers_find_a_leak_on_a_branch(tee, rng):
    """No pair's route passes the leak on the branch J-C beyond C... but C's pairs bracket it; with
    only the pair A-B, the leak is seen at the junction."""
    g = SurveyGraph(tee, _sites(("LA", "A"), ("LB", "B"), ("LC", "C")))
    pcs = _synthetic_pairs(g, [("P3", 25.0, 1.0)], g.neighbour_pairs(), rng)
    model = _DelayModel(g)
    fm = fuse(g, pcs, model=model)
    points, noise = locate_points(g, pcs, fm, {}, SurveyOptions(draws=100), model)
    assert len(points) == 1 and not noise
    p = points[0]
    assert p.pipe_id == "P3" and p.offset_m == pytest.approx(25.0, abs=1.0)
    assert p.interval_m[0] <= 25.0 <= p.interval_m[1]
    assert set(p.loggers) >= {"LA", "LC"}


def test_a_leak_off_every_route_is_placed_where_the_constraints_cross(rng):
    """Loggers at the three ends of a tee, leak on the stem: pairs A-B (junction delay), A-C, B-C."""
    nodes = {"A": (0.0, 0.0), "J": (100.0, 0.0), "B": (200.0, 0.0), "C": (100.0, 80.0)}
    net = PipeNetwork([_pipe("P1", "A", "J", [nodes["A"], nodes["J"]]), _pipe("P2", "J", "B", [nodes["J"], nodes["B"]]),
                       _pipe("P3", "C", "J", [nodes["C"], nodes["J"]])], nodes)
    g = SurveyGraph(net, _sites(("LA", "A"), ("LB", "B"), ("LC", "C")))
    # only the pair A-B: the leak on P3 is seen at the junction, and its interval reaches into P3
    pcs = _synthetic_pairs(g, [("P3", 50.0, 1.0)], [("LA", "LB")], rng)
    model = _DelayModel(g)
    points, _ = locate_points(g, pcs, fuse(g, pcs, model=model), {}, SurveyOptions(draws=100), model)
    assert len(points) == 1
    p = points[0]
    at_j = (p.pipe_id == "P3" and p.offset_m > 75.0) or p.nearest_node["node_id"] == "J"
    assert at_j and p.nearest_node["distance_m"] < 5.0


def test_clean_takes_two_sources_without_ghosts(tee, rng):
    g = SurveyGraph(tee, _sites(("LA", "A"), ("LB", "B"), ("LC", "C")))
    pcs = _synthetic_pairs(g, [("P1", 40.0, 1.0), ("P2", 60.0, 0.5)], g.neighbour_pairs(), rng)
    model = _DelayModel(g)
    fm = fuse(g, pcs, model=model)
    points, _ = locate_points(g, pcs, fm, {}, SurveyOptions(draws=100), model)
    found = sorted((p.pipe_id, round(p.offset_m)) for p in points)
    assert len(points) == 2, points
    assert found[0][0] == "P1" and abs(found[0][1] - 40) <= 1
    assert found[1][0] == "P2" and abs(found[1][1] - 60) <= 1


def test_noise_only_correlograms_give_no_points(tee, rng):
    g = SurveyGraph(tee, _sites(("LA", "A"), ("LB", "B"), ("LC", "C")))
    pcs = _synthetic_pairs(g, [], g.neighbour_pairs(), rng)
    model = _DelayModel(g)
    fm = fuse(g, pcs, model=model)
    assert float(np.max(fm.score)) < SurveyOptions().detect_z
    assert extract_sources(pcs, fm, detect_z=SurveyOptions().detect_z, support_z=4.0, graph=g) == []


def test_robust_z_ignores_a_few_peaks(rng):
    x = rng.normal(0, 2.0, 5000)
    x[100] = 1000.0
    z = robust_z(x)
    assert np.std(z[np.arange(5000) != 100]) == pytest.approx(1.0, rel=0.1)
    assert z[100] > 300


def test_source_at_a_logger_is_found_from_the_edges(tee, rng):
    """A source right at logger LB: every pair with LB hears it beyond LB (edge delays)."""
    g = SurveyGraph(tee, _sites(("LA", "A"), ("LB", "B"), ("LC", "C")))
    pcs = _synthetic_pairs(g, [("P2", 89.9, 1.0)], g.neighbour_pairs(), rng)
    model = _DelayModel(g)
    fm = fuse(g, pcs, model=model)
    points, _ = locate_points(g, pcs, fm, {}, SurveyOptions(draws=100), model)
    assert len(points) == 1
    p = points[0]
    assert p.pipe_id == "P2" and p.offset_m == pytest.approx(90.0, abs=2.0)
    assert json.loads(json.dumps(p.to_json()))["offset_m"] == p.offset_m  # JSON-serialisable
