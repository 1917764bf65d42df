"""Ranking of lines and areas on hand-built evidence (correlation first, single loggers second), and
the survey's points unchanged when every logger's gain is off by +-20 dB."""

import json
import shutil
import types

import numpy as np
import pytest

from acoustic.network import LoggerSite, NetworkPipe, PipeNetwork
from acoustic.survey import SurveyGraph, SurveyOptions, SurveyPoint
from acoustic.survey._evidence import LoggerEvidence
from acoustic.survey._fusion import PairCorrelogram
from acoustic.survey._run import RANK_TIERS, area_score, line_score, rank_areas, rank_lines

try:  # the EPANET reader is the optional 'network' extra
    import wntr  # noqa: F401
except ImportError:
    wntr = None
needs_wntr = pytest.mark.skipif(wntr is None, reason="reads EPANET networks: needs the 'network' extra (wntr)")


pytest.importorskip("scipy")


def _pipe(pid, s, e, xy):
    xy = np.asarray(xy, dtype=float)
    return NetworkPipe(pid, s, e, float(np.hypot(*np.diff(xy, axis=0).T).sum()), "ductile_iron", 150.0, None, xy)


@pytest.fixture
def chain():
    """A--B--C--D, 100 m pipes, a logger at every node; areas west (A, B) and east (C, D)."""
    nodes = {n: (100.0 * i, 0.0) for i, n in enumerate("ABCD")}
    net = PipeNetwork([_pipe(f"P{i}", a, b, [nodes[a], nodes[b]]) for i, (a, b) in enumerate(["AB", "BC", "CD"])],
                      nodes, source="chain")
    sites = {f"L{n}": LoggerSite(f"L{n}", node_id=n, area="west" if n in "AB" else "east") for n in "ABCD"}
    folder = types.SimpleNamespace(sites=sites, recordings={}, areas=lambda: {l: s.area for l, s in sites.items()})
    return folder, SurveyGraph(net, list(sites.values()))


def _ev(lid, score):
    return LoggerEvidence(lid, score, [score], None, None, score, score >= 0.5, [])


def _pair(a, b, detected, confidence):
    lags = np.linspace(-0.1, 0.1, 11)
    return PairCorrelogram(a, b, "n1", lags, np.zeros_like(lags), (100.0, 400.0),
                           result={"detected": detected, "confidence": confidence, "delay_s": 0.0})


def _point(pipe, a, b, confidence, leakiness):
    return SurveyPoint(pipe, 50.0, confidence, [a, b], {"logger_id": a, "distance_m": 50.0}, leakiness=leakiness)


def test_line_and_area_scores_follow_their_evidence():
    opts = SurveyOptions()
    s_pt, kind = line_score(0.9, 0.0, 0.1, 1.0, opts)
    assert kind == "located point" and s_pt == pytest.approx(opts.line_correlation_weight * 0.9
                                                             + opts.line_ends_weight * 0.1)
    assert line_score(0.0, 0.8, 0.0, 1.0, opts)[1] == "correlation peak"
    s_log, kind = line_score(0.0, 0.0, 1.0, 0.5, opts)
    assert kind == "logger evidence" and s_log == pytest.approx(opts.line_ends_weight * 0.5)
    assert area_score(0.7, [0.0], 0.0, None, opts) == (pytest.approx(0.7), "located point")
    assert area_score(0.0, [0.9, 0.8], 0.2, "correlation peak", opts)[1] == "correlation peak"
    assert area_score(0.0, [0.9, 0.8], 0.2, "logger evidence", opts)[1] == "logger evidence"


def test_a_located_point_outranks_loud_loggers(chain):
    """The loggers at the west end are loud (scores 0.95) and hear nothing in common; the quiet
    east pair locates a point: the east line and area come first, and say why."""
    folder, graph = chain
    ev = {"LA": _ev("LA", 0.95), "LB": _ev("LB", 0.95), "LC": _ev("LC", 0.01), "LD": _ev("LD", 0.01)}
    pairs_list = graph.neighbour_pairs()
    nights = [_pair(a, b, (a, b) == ("LC", "LD"), 0.9 if (a, b) == ("LC", "LD") else 0.0) for a, b in pairs_list]
    points = [_point("P2", "LC", "LD", 0.8, 0.02)]
    lines = rank_lines(folder, graph, pairs_list, nights, ev, points, [], None, None, SurveyOptions())
    assert (lines[0].from_logger, lines[0].to_logger) == ("LC", "LD")
    assert lines[0].ranked_by == "located point" and lines[-1].ranked_by == "logger evidence"
    assert lines[1].from_logger == "LA"  # loud ends rank the rest
    areas = rank_areas(folder, graph, list(ev), pairs_list, ev, points, lines, SurveyOptions())
    assert [a.area for a in areas] == ["east", "west"]
    assert areas[0].ranked_by == "located point" and areas[1].ranked_by == "logger evidence"


def test_a_pair_peak_outranks_logger_scores_and_points_order_areas(chain):
    folder, graph = chain
    ev = {l: _ev(l, s) for l, s in (("LA", 0.9), ("LB", 0.9), ("LC", 0.1), ("LD", 0.1))}
    pairs_list = graph.neighbour_pairs()
    nights = [_pair(a, b, (a, b) == ("LC", "LD"), 0.6) for a, b in pairs_list]
    lines = rank_lines(folder, graph, pairs_list, nights, ev, [], [], None, None, SurveyOptions())
    assert lines[0].ranked_by == "correlation peak" and lines[0].from_logger == "LC"
    areas = rank_areas(folder, graph, list(ev), pairs_list, ev, [], lines, SurveyOptions())
    assert areas[0].area == "east" and areas[0].ranked_by == "correlation peak"
    # two points of equal correlation confidence: the areas follow the points' order
    pts = [_point("P0", "LA", "LB", 1.0, 0.9), _point("P2", "LC", "LD", 1.0, 0.1)]
    areas = rank_areas(folder, graph, list(ev), pairs_list, ev, pts, lines, SurveyOptions())
    assert [a.area for a in areas] == ["west", "east"]


def _shift_gains(src, dst, db):
    shutil.copytree(src, dst)
    for side in dst.glob("recordings/*/*.json"):
        meta = json.loads(side.read_text())
        meta["gain_db"] = float(meta.get("gain_db", 0.0)) + db
        side.write_text(json.dumps(meta))


@pytest.fixture(scope="module")
def leak_survey(tmp_path_factory):
    from acoustic.survey import simulate_survey

    root = tmp_path_factory.mktemp("gain")
    simulate_survey("district", root / "sv", leaks=1, seed=1002, nights=2, duration_s=8.0)
    return root


@needs_wntr
def test_points_do_not_follow_the_gain(leak_survey):
    """Every logger's gain off by +-20 dB (signal-to-noise unchanged): the same points."""
    from acoustic.survey import run_survey

    def points(folder):
        js = run_survey(folder).to_json()
        return [(p["pipe_id"], round(p["offset_m"], 1)) for p in js["points"]], js

    base, js0 = points(leak_survey / "sv")
    truth = json.loads((leak_survey / "sv" / "truth.json").read_text())["leaks"][0]
    assert base and base[0][0] == truth["pipe_id"] and abs(base[0][1] - truth["offset_m"]) < 3.0
    levels = {}
    for db in (-20.0, 20.0):
        dst = leak_survey / f"g{db:+.0f}"
        _shift_gains(leak_survey / "sv", dst, db)
        shifted, js = points(dst)
        assert shifted == base, db
        levels[db] = np.median([lg["level_db"] for lg in js["loggers"]])
    assert abs(abs(levels[20.0] - levels[-20.0]) - 40.0) < 1.0  # the shift did reach the calibrated levels


def test_night_balance_tells_a_steady_source_from_one_that_comes_and_goes():
    from acoustic.survey._run import SCORE_CAP, night_balance

    def pc(a, b, night):
        lags = np.linspace(-0.1, 0.1, 11)
        return PairCorrelogram(a, b, night, lags, np.zeros_like(lags), (100.0, 400.0))

    pairs = [pc("A", "B", "n1"), pc("A", "B", "n2"), pc("B", "C", "n1"), pc("B", "C", "n2"), pc("C", "D", "n1")]
    steady = [(0, 0.0, 1e-4, 40.0), (1, 0.0, 1e-4, 35.0), (2, 0.0, 1e-4, 20.0), (3, 0.0, 1e-4, 18.0)]
    assert night_balance(pairs, steady) == pytest.approx((SCORE_CAP + 18.0) / (SCORE_CAP + 20.0))
    # heard loudly by two pairs on the first night, weakly by one on the second: comes and goes
    tap = [(0, 0.0, 1e-4, 90.0), (2, 0.0, 1e-4, 60.0), (3, 0.0, 1e-4, 9.0)]
    assert night_balance(pairs, tap) == pytest.approx(9.0 / 60.0)
    assert night_balance(pairs, tap) < SurveyOptions().night_balance < night_balance(pairs, steady)
    # one night only (a pair that recorded once): nothing to compare, balanced
    assert night_balance(pairs, [(4, 0.0, 1e-4, 15.0)]) == 1.0


def test_a_point_whose_peaks_all_come_and_go_is_consumption():
    from acoustic.survey._run import _comes_and_goes

    lags = np.linspace(-0.1, 0.1, 11)
    fm = types.SimpleNamespace(tolerance=np.array([1e-3, 1e-3]))

    def pc(flag, shared=False):
        return PairCorrelogram("A", "B", "n1", lags, np.zeros_like(lags), (100.0, 400.0),
                               peaks=[{"delay_s": 0.010, "strength": 0.5, "intermittent": flag,
                                       "shared_with_intermittent": shared},
                                      {"delay_s": -0.050, "strength": 0.9, "intermittent": False}])

    obs = [(0, 0.0102, 1e-4, 20.0), (1, 0.0099, 1e-4, 15.0)]
    assert _comes_and_goes([pc(True), pc(True)], fm, obs)
    assert not _comes_and_goes([pc(True), pc(False)], fm, obs)       # one pair-night hears it steady
    assert not _comes_and_goes([pc(True, shared=True), pc(True)], fm, obs)  # a steady source under the tap
    assert not _comes_and_goes([pc(True), pc(True)], fm, [(0, 0.03, 1e-4, 20.0)])  # no peak of the correlator there
