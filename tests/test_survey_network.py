"""Network additions the survey needs: valves as acoustic links and known noise sources, the INP
writer, sub-networks, pipe polylines, and the simulated survey networks (district, Net3)."""

from pathlib import Path

import numpy as np
import pytest

from acoustic import DataError, ParameterError
from acoustic.network import read_inp_network, write_inp_network
from acoustic.simulate._survey import district_network, net3_subdistrict, place_loggers, simulate_survey
from acoustic.survey import SurveyGraph

try:  # the EPANET reader is the optional 'network' extra
    import wntr  # noqa: F401
except ImportError:
    wntr = None
needs_wntr = pytest.mark.skipif(wntr is None, reason="reads EPANET networks: needs the 'network' extra (wntr)")


@needs_wntr
def test_inp_round_trip_with_a_valve(tmp_path):
    net, sites = district_network()
    write_inp_network(net, tmp_path / "n.inp", tmp_path / "pipes.csv")
    back = read_inp_network(tmp_path / "n.inp", tmp_path / "pipes.csv")
    assert set(back.pipes) == set(net.pipes)
    for pid, p in net.pipes.items():
        q = back.pipes[pid]
        assert q.length_m == pytest.approx(p.length_m, abs=1e-3) and q.material == p.material
        assert q.diameter_mm == pytest.approx(p.diameter_mm) and q.kind == p.kind
        assert q.coords.shape == p.coords.shape and np.allclose(q.coords, p.coords, atol=1e-3)
    # the PRV is an acoustic link (the two DMAs stay connected) and a known noise source
    assert back.pipes["V1"].kind == "PRV" and len(back.components()) == 1
    assert back.equipment == {"N3": "PRV valve V1", "S1": "PRV valve V1"}


@needs_wntr
def test_pump_is_equipment_not_a_link(tmp_path):
    import wntr

    inp = Path(wntr.__file__).parent / "library" / "networks" / "Net3.inp"
    wn = wntr.network.WaterNetworkModel(str(inp))
    (tmp_path / "pipes.csv").write_text("pipe_id,material\n" + "".join(f"{p},cast_iron\n" for p in wn.pipe_name_list))
    net = read_inp_network(inp, tmp_path / "pipes.csv")
    assert net.equipment["60"] == "pump 335" and net.equipment["10"] == "pump 10"
    assert "335" not in net.pipes


def test_subnetwork_and_polyline():
    net, _ = district_network()
    sub = net.subnetwork(["P01", "P02", "V1"])
    assert set(sub.node_coords) == {"N1", "N2", "N3", "S1"} and sub.equipment["N3"].startswith("PRV")
    with pytest.raises(DataError, match="unknown pipe"):
        net.subnetwork(["P01", "nope"])
    p9 = net.pipes["P09"]  # a pipe with a bend
    full = p9.polyline(0.0, p9.length_m)
    assert len(full) == 3 and np.allclose(full[0], p9.coords[0]) and np.allclose(full[-1], p9.coords[-1])
    part = p9.polyline(p9.length_m * 0.9, p9.length_m * 0.1)  # reversed
    assert np.allclose(part[0], p9.point_at(p9.length_m * 0.9)) and len(part) == 3


@needs_wntr
def test_district_and_net3_loggers_cover_every_pipe():
    net, sites = district_network()
    g = SurveyGraph(net, sites)
    covered = {pid for a, b in g.neighbour_pairs() for pid in g.network_path(a, b).pipe_ids}
    assert covered == set(net.pipes)
    n3 = net3_subdistrict()
    assert len(n3.components()) == 1 and 20 <= len(n3.pipes) <= 40
    sites = place_loggers(n3, np.random.default_rng(1))
    g = SurveyGraph(n3, sites)
    covered = {pid for a, b in g.neighbour_pairs() for pid in g.network_path(a, b).pipe_ids}
    assert covered == set(n3.pipes)
    assert all(s.node_id in n3.node_coords for s in sites)


def test_simulated_leak_noise_travels_the_network(tmp_path):
    """The logger nearest the leak is loudest; a logger across the PRV, far away through plastic,
    hears little; levels are calibrated (the gain in the sidecar undone)."""
    from acoustic.io import read_recording

    sv = simulate_survey("district", tmp_path / "s", seed=5, leak_positions=[("P08", 65.0)], leak_level_db=25.0,
                         nights=1, duration_s=3.0, sample_rate_hz=4000.0)
    levels = {}
    for lg in sv.truth["loggers"]:
        rec = read_recording(tmp_path / "s" / lg["recordings"][0]["file"])
        levels[lg["logger_id"]] = 10 * np.log10(np.mean(rec.calibrated() ** 2))
    # P08 joins N6 (L04) and N7 (L05): those two hear it loudest
    top2 = sorted(levels, key=levels.get, reverse=True)[:2]
    assert set(top2) == {"L04", "L05"}
    assert levels["L04"] - levels["L11"] > 10.0
    lines = sv.truth["leaks"][0]["lines"]
    assert [(l["from_logger"], l["to_logger"]) for l in lines] == [("L04", "L05")]
    assert lines[0]["length_m"] == pytest.approx(131.1, abs=0.05)


def test_simulated_clock_offsets_are_in_the_sidecars(tmp_path):
    from acoustic.io import read_recording

    sv = simulate_survey("district", tmp_path / "s", seed=9, nights=2, duration_s=2.0, sample_rate_hz=2000.0)
    for lg in sv.truth["loggers"]:
        assert len(lg["recordings"]) == 2
        for r in lg["recordings"]:
            rec = read_recording(tmp_path / "s" / r["file"])
            assert 0.0 <= r["clock_offset_s"] < 1.0
            assert rec.start_time.isoformat() == r["start_time"]
            assert rec.gain_db == pytest.approx(r["gain_db"])


@pytest.mark.parametrize("kw,msg", [
    (dict(leaks=-1), "leaks must be an integer 0-10"),
    (dict(nights=0), "nights must be an integer 1-14"),
    (dict(confounders=["volcano"]), "unknown survey confounder 'volcano'"),
    (dict(leak_positions=[("P99", 3.0)]), "unknown pipe 'P99'"),
    (dict(leak_positions=[("P01", 999.0)]), "offset 999.0 m is outside pipe P01"),
    (dict(sensor_kind="geophone"), "sensor_kind must be one of"),
    (dict(stats_nights=3), "stats_nights must be 0 or an integer 10-365"),
    (dict(audio_format="mp3"), "audio_format must be 'wav' or 'flac'"),
])
def test_simulate_survey_bad_parameters(tmp_path, kw, msg):
    with pytest.raises(ParameterError, match=msg):
        simulate_survey("district", tmp_path / "s", seed=1, duration_s=2.0, **kw)
