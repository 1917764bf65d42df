"""Network loading (EPANET via WNTR, GeoJSON), logger sites and routes along pipes."""

import json
from pathlib import Path

import numpy as np
import pytest

from acoustic import DataError
from acoustic.network import LoggerSite, read_geojson_network, read_inp_network, read_loggers

try:  # the EPANET reader is the optional 'network' extra
    import wntr  # noqa: F401
except ImportError:
    wntr = None
needs_wntr = pytest.mark.skipif(wntr is None, reason="reads EPANET networks: needs the 'network' extra (wntr)")


def _line(pid, s, e, xy, material="pvc", **props):
    return {"type": "Feature", "geometry": {"type": "LineString", "coordinates": xy},
            "properties": {"pipe_id": pid, "start_node": s, "end_node": e, "material": material,
                           "diameter_mm": 150, **props}}


@pytest.fixture
def tee(tmp_path):
    """A tee: A--J (100 m, PVC), J--B (60 m, cast iron, with a bend), J--C (40 m, PVC)."""
    feats = [_line("P1", "A", "J", [[0, 0], [100, 0]]),
             _line("P2", "J", "B", [[100, 0], [130, 0], [130, 30]], material="cast_iron"),
             _line("P3", "J", "C", [[100, 0], [100, -40]])]
    p = tmp_path / "network.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return p


def test_geojson_network_paths_and_geometry(tee):
    net = read_geojson_network(tee)
    assert net.pipes["P2"].length_m == pytest.approx(60.0)
    assert net.pipes["P2"].point_at(45.0) == pytest.approx((130.0, 15.0))
    a, b = LoggerSite("LA", node_id="A"), LoggerSite("LB", node_id="B")
    route = net.path(a, b)
    assert route.pipe_ids == ["P1", "P2"] and route.length_m == pytest.approx(160.0)
    path = route.pipe_path()
    assert [s.material for s in path.segments] == ["pvc", "cast_iron"]
    assert route.locate(130.0) == ("P2", pytest.approx(30.0))
    # a logger part-way along a pipe, route running against the pipe direction
    c = LoggerSite("LX", pipe_id="P2", offset_m=20.0)
    back = net.path(c, a)
    assert back.pieces[0] == ("P2", 20.0, 0.0) and back.length_m == pytest.approx(120.0)
    assert net.path(LoggerSite("L1", pipe_id="P1", offset_m=10.0), LoggerSite("L2", pipe_id="P1", offset_m=70.0)).length_m == 60.0
    assert len(net.components()) == 1


def test_disconnected_network_has_no_path(tmp_path):
    feats = [_line("P1", "A", "B", [[0, 0], [50, 0]]), _line("P2", "C", "D", [[0, 10], [50, 10]])]
    p = tmp_path / "n.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    net = read_geojson_network(p)
    assert len(net.components()) == 2
    assert net.path(LoggerSite("1", node_id="A"), LoggerSite("2", node_id="D")) is None


@needs_wntr
def test_inp_network_with_pipes_table(tmp_path):
    import wntr

    inp = Path(wntr.__file__).parent / "library" / "networks" / "Net2.inp"
    wn = wntr.network.WaterNetworkModel(str(inp))
    rows = ["pipe_id,material,diameter_mm,wall_mm"] + [f"{p},ductile_iron,,8" for p in wn.pipe_name_list]
    (tmp_path / "pipes.csv").write_text("\n".join(rows) + "\n")
    net = read_inp_network(inp, tmp_path / "pipes.csv")
    p = net.pipes[wn.pipe_name_list[0]]
    assert p.length_m == pytest.approx(wn.get_link(p.pipe_id).length)
    assert p.diameter_mm == pytest.approx(wn.get_link(p.pipe_id).diameter * 1000)
    assert p.wall_mm == 8.0
    # a pipe without material is named
    (tmp_path / "pipes.csv").write_text("\n".join(rows[:-2]) + "\n")
    with pytest.raises(DataError, match=r"2 pipe\(s\) have no material: .*add them to pipes.csv"):
        read_inp_network(inp, tmp_path / "pipes.csv")


@needs_wntr
def test_network_that_does_not_load(tmp_path):
    (tmp_path / "bad.inp").write_text("[PIPES]\n this is not epanet\n[END]\n")
    (tmp_path / "pipes.csv").write_text("pipe_id,material\n")
    with pytest.raises(DataError, match=r"bad\.inp, line 2: link this joins node is"):
        read_inp_network(tmp_path / "bad.inp", tmp_path / "pipes.csv")
    (tmp_path / "bad.geojson").write_text("{")
    with pytest.raises(DataError, match="network does not load"):
        read_geojson_network(tmp_path / "bad.geojson")


def test_loggers_csv(tee, tmp_path):
    net = read_geojson_network(tee)
    (tmp_path / "loggers.csv").write_text("logger_id,node_id,pipe_id,offset_m,area\nL1,A,,,north\nL2,,P2,12.5,north\n")
    sites = read_loggers(tmp_path / "loggers.csv", net)
    assert sites[1].pipe_id == "P2" and sites[1].offset_m == 12.5 and sites[0].area == "north"
    assert net.site_xy(sites[1]) == pytest.approx((112.5, 0.0))


@pytest.mark.parametrize("body,match", [
    ("logger_id,node_id\nL1,Z\n", "logger L1 is on unknown node Z"),
    ("logger_id,pipe_id,offset_m\nL1,P9,3\n", "unknown pipe P9"),
    ("logger_id,pipe_id,offset_m\nL1,P1,300\n", "offset_m 300.0 is outside pipe P1"),
    ("logger_id,node_id\nL1,A\nL1,B\n", "listed twice"),
    ("logger_id,node_id,sensor_kind\nL1,A,geophone\n", "sensor_kind"),
    ("node_id\nA\n", "missing column"),
])
def test_bad_loggers(tee, tmp_path, body, match):
    net = read_geojson_network(tee)
    (tmp_path / "loggers.csv").write_text(body)
    with pytest.raises(DataError, match=match):
        read_loggers(tmp_path / "loggers.csv", net)


def test_a_pipe_longer_than_100_km_is_named():
    from acoustic import PipeError
    from acoustic.network import NetworkPipe, PipeNetwork

    xy = np.array([[0.0, 0.0], [1.0, 0.0]])
    ok = NetworkPipe("P1", "A", "B", 2000.0, "pvc", 110.0, None, xy)
    long = NetworkPipe("TRUNK7", "B", "C", 150_000.0, "steel", 600.0, None, xy)
    with pytest.raises(PipeError, match=r"mains\.inp: pipe TRUNK7 is 150 km long.*at most 100 km"):
        PipeNetwork([ok, long], {"A": (0, 0), "B": (1, 0), "C": (2, 0)}, source="mains.inp")
