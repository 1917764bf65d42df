"""The linear EPANET reader (network/_inp.py) against WNTR's, and its one-line errors."""

from pathlib import Path

import numpy as np
import pytest

from acoustic import DataError
from acoustic.network import read_inp_network
from acoustic.network._inp import parse_inp

try:
    import wntr
except ImportError:
    wntr = None

NETWORKS = ["Net1.inp", "Net2.inp", "Net3.inp", "Net6.inp", "ky4.inp", "ky10.inp"]


@pytest.mark.skipif(wntr is None, reason="compares with WNTR: needs the 'network' extra")
@pytest.mark.parametrize("name", NETWORKS)
def test_same_graph_as_wntr(name):
    inp = Path(wntr.__file__).parent / "library" / "networks" / name
    wn = wntr.network.WaterNetworkModel(str(inp))
    net = parse_inp(inp)
    assert set(net.nodes) == set(wn.node_name_list)
    for n in wn.node_name_list[:: max(1, len(wn.node_name_list) // 200)]:
        assert net.nodes[n] == pytest.approx(tuple(wn.get_node(n).coordinates))
    pipes = {p.link_id: p for p in net.pipes}
    assert list(pipes) == list(wn.pipe_name_list)
    for name_ in wn.pipe_name_list:
        w = wn.get_link(name_)
        p = pipes[name_]
        assert (p.start_node, p.end_node) == (w.start_node_name, w.end_node_name)
        assert p.length_m == pytest.approx(w.length, rel=1e-9)
        assert p.diameter_mm == pytest.approx(w.diameter * 1000.0, rel=1e-9)
        np.testing.assert_allclose(np.reshape(net.vertices.get(name_, []), (-1, 2)),
                                   np.reshape([tuple(v) for v in (w.vertices or [])], (-1, 2)))
    assert [v.link_id for v in net.valves] == list(wn.valve_name_list)
    assert [v.link_id for v in net.pumps] == list(wn.pump_name_list)


def _inp(tmp_path, pipes, junctions=("A", "B", "C"), units="LPS", extra=""):
    text = ["[JUNCTIONS]", *[f" {j} 0 0" for j in junctions], "[PIPES]", *pipes,
            "[OPTIONS]", f" Units {units}", extra, "[END]"]
    p = tmp_path / "n.inp"
    p.write_text("\n".join(text) + "\n")
    return p


@pytest.mark.parametrize("pipes, match", [
    ([" P1 A B 100 150 100 0 Open", " P1 B C 50 150 100 0 Open"], r"n\.inp, line 7: link P1 is defined twice \(first on line 6\)"),
    ([" P1 A B nan 150 100 0 Open"], r"line 6: pipe P1 length must be a positive finite number, got 'nan'"),
    ([" P1 A B -3 150 100 0 Open"], r"pipe P1 length must be a positive"),
    ([" P1 A Z 100 150 100 0 Open"], r"line 6: link P1 joins node Z, which no \[JUNCTIONS\]"),
    ([" P1 A"], r"line 6: \[PIPES\] line has 2 field"),
    ([], r"n\.inp: the network has no pipes"),
])
def test_bad_inp_is_one_line_naming_the_line(tmp_path, pipes, match):
    with pytest.raises(DataError, match=match):
        parse_inp(_inp(tmp_path, pipes))


def test_duplicate_node_and_empty_file(tmp_path):
    with pytest.raises(DataError, match=r"node A is defined twice"):
        parse_inp(_inp(tmp_path, [" P1 A B 1 1 1 0 Open"], junctions=("A", "B", "A")))
    (tmp_path / "e.inp").write_text("")
    with pytest.raises(DataError, match=r"e\.inp"):
        parse_inp(tmp_path / "e.inp")


def test_us_units_are_converted(tmp_path):
    net = parse_inp(_inp(tmp_path, [" P1 A B 100 12 100 0 Open"], units="GPM"))
    assert net.pipes[0].length_m == pytest.approx(30.48)
    assert net.pipes[0].diameter_mm == pytest.approx(304.8)
    net = parse_inp(_inp(tmp_path, [" P1 A B 100 150 100 0 Open"], units="LPS"))
    assert (net.pipes[0].length_m, net.pipes[0].diameter_mm) == (100.0, 150.0)
    with pytest.raises(DataError, match="unknown flow units 'FURLONGS'"):
        parse_inp(_inp(tmp_path, [" P1 A B 1 1 1 0 Open"], units="FURLONGS"))


def test_pipes_csv_with_bom_trailing_comma_and_extra_field(tmp_path):
    inp = _inp(tmp_path, [" P1 A B 100 150 100 0 Open", " P2 B C 50 150 100 0 Open"])
    csv = tmp_path / "pipes.csv"
    csv.write_bytes("\ufeffpipe_id,material,diameter_mm,wall_mm\nP1,pvc,150,,\nP2,cast_iron,150,,surplus\n".encode())
    with pytest.warns(Warning, match="pipes.csv"):
        net = read_inp_network(inp, csv)
    assert net.pipes["P1"].material == "pvc" and net.pipes["P2"].length_m == 50.0
    assert sum(p.length_m for p in net.pipes.values()) == 150.0
