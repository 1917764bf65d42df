"""``acoustic survey`` and ``acoustic simulate survey`` end to end on small simulated surveys, the
GeoJSON output, and every bad input of issue 6."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from acoustic.cli import cli
from acoustic.network import LoggerSite, NetworkPipe, PipeNetwork

try:  # the EPANET reader is the optional 'network' extra
    import wntr  # noqa: F401
except ImportError:
    wntr = None
needs_wntr = pytest.mark.skipif(wntr is None, reason="reads EPANET networks: needs the 'network' extra (wntr)")
pytestmark = needs_wntr


LEAK = ("P2", 30.0)


def _pipe(pid, s, e, xy, material="ductile_iron"):
    xy = np.asarray(xy, dtype=float)
    return NetworkPipe(pid, s, e, float(np.hypot(*np.diff(xy, axis=0).T).sum()), material, 150.0, None, xy)


def _tee():
    """A--J 80 m (ductile iron), J--B 70 m (ductile iron), J--C 50 m (cast iron); no logger at J."""
    nodes = {"A": (0.0, 0.0), "J": (80.0, 0.0), "B": (150.0, 0.0), "C": (80.0, 50.0)}
    return PipeNetwork([_pipe("P1", "A", "J", [nodes["A"], nodes["J"]]),
                        _pipe("P2", "J", "B", [nodes["J"], nodes["B"]]),
                        _pipe("P3", "J", "C", [nodes["J"], nodes["C"]], "cast_iron")], nodes, source="tee")


@pytest.fixture(scope="module")
def base_survey(tmp_path_factory):
    from acoustic.simulate._survey import simulate_survey

    sites = [LoggerSite("LA", node_id="A", area="west"), LoggerSite("LB", node_id="B", area="east"),
             LoggerSite("LC", node_id="C", area="east")]
    root = tmp_path_factory.mktemp("survey") / "tee"
    sv = simulate_survey(_tee(), root, seed=7, leak_positions=[LEAK], leak_level_db=25.0, loggers=sites, nights=1,
                         duration_s=5.0, sample_rate_hz=4000.0)
    return sv


@pytest.fixture
def survey(base_survey, tmp_path):
    dst = tmp_path / "s"
    shutil.copytree(base_survey.root, dst)
    return dst


def _run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_survey_json_finds_the_leak_and_ranks(survey, tmp_path):
    gj = tmp_path / "out.geojson"
    r = _run("survey", survey, "--json", "--model", "none", "--geojson", gj)
    assert r.exit_code == 0, r.output
    js = json.loads(r.stdout)
    for key in ("areas", "lines", "points"):
        assert isinstance(js[key], list)
    p = js["points"][0]
    assert {"pipe_id", "offset_m", "x", "y", "interval_m", "confidence", "loggers"} <= set(p)
    assert p["pipe_id"] == LEAK[0] and abs(p["offset_m"] - LEAK[1]) <= 2.0, p
    assert p["interval_m"][0] <= p["offset_m"] <= p["interval_m"][1]
    assert p["x"] == pytest.approx(80.0 + p["offset_m"], abs=0.01) and p["y"] == pytest.approx(0.0, abs=0.01)
    assert any(LEAK[0] in ln["pipe_ids"] for ln in js["lines"][:2])
    assert {"pipe_ids", "from_logger", "to_logger", "score"} <= set(js["lines"][0])
    assert js["areas"][0]["area"] == "east" and {"area", "loggers", "score"} <= set(js["areas"][0])
    # GeoJSON: a FeatureCollection with the ranked lines and the point, in network coordinates
    g = json.loads(gj.read_text())
    assert g["type"] == "FeatureCollection"
    kinds = [f["properties"]["kind"] for f in g["features"]]
    assert kinds.count("line") == len(js["lines"]) and "point" in kinds and kinds.count("logger") == 3
    pt = next(f for f in g["features"] if f["properties"]["kind"] == "point")
    assert pt["geometry"]["type"] == "Point" and pt["geometry"]["coordinates"] == [p["x"], p["y"]]
    line = next(f for f in g["features"] if f["properties"]["kind"] == "line")
    assert line["geometry"]["type"] == "LineString" and len(line["geometry"]["coordinates"]) >= 2


def test_survey_human_output_areas_lines_points(survey):
    r = _run("survey", survey, "--model", "none")
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert out.index("Areas") < out.index("Lines") < out.index("Points")
    assert "pipe P2" in out and "m from node" in out


def test_survey_geojson_network_and_area_filter(survey):
    """The same survey with network.geojson instead of network.inp + pipes.csv, surveying one area."""
    net = _tee()
    feats = [{"type": "Feature", "geometry": {"type": "LineString", "coordinates": p.coords.tolist()},
              "properties": {"pipe_id": p.pipe_id, "start_node": p.start_node, "end_node": p.end_node,
                             "material": p.material, "diameter_mm": p.diameter_mm}} for p in net.pipes.values()]
    (survey / "network.inp").unlink()
    (survey / "pipes.csv").unlink()
    (survey / "network.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    r = _run("survey", survey, "--json", "--model", "none", "--area", "east")
    assert r.exit_code == 0, r.output
    js = json.loads(r.stdout)
    assert [a["area"] for a in js["areas"]] == ["east"]
    # lines with an end in the area (a line to a logger of another area runs along the edge)
    assert all({ln["from_logger"], ln["to_logger"]} & {"LB", "LC"} for ln in js["lines"])
    assert {"LB", "LC"} in [{ln["from_logger"], ln["to_logger"]} for ln in js["lines"]]
    assert {lg["logger_id"] for lg in js["loggers"]} == {"LB", "LC"} and js["network"]["context_loggers"] == ["LA"]
    r = _run("survey", survey, "--area", "nowhere", "--model", "none")
    assert r.exit_code == 2 and "no logger in area(s) nowhere" in r.stderr


# -- bad input -------------------------------------------------------------------------------
def _error(r):
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith("Error: ") and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Traceback" not in r.output
    return r.stderr


def test_network_that_does_not_load(survey):
    (survey / "network.inp").write_text("[PIPES]\n not an epanet file\n[END]\n")
    assert "network.inp, line 2: link not joins node an" in _error(_run("survey", survey))


def test_pipes_without_materials_are_named(survey):
    rows = (survey / "pipes.csv").read_text().splitlines()
    (survey / "pipes.csv").write_text("\n".join(r for r in rows if not r.startswith("P3,")) + "\n")
    assert "1 pipe(s) have no material: P3" in _error(_run("survey", survey))
    (survey / "pipes.csv").unlink()
    assert "pipes.csv: file not found" in _error(_run("survey", survey))


@pytest.mark.parametrize("row,msg", [("LX,Z,,,east,hydrophone", "logger LX is on unknown node Z"),
                                     ("LX,,P9,3,east,hydrophone", "logger LX is on unknown pipe P9"),
                                     ("LX,,P1,300,east,hydrophone", "offset_m 300.0 is outside pipe P1")])
def test_loggers_on_unknown_nodes_or_pipes(survey, row, msg):
    with open(survey / "loggers.csv", "a") as fh:
        fh.write(row + "\n")
    assert msg in _error(_run("survey", survey, "--model", "none"))


def test_logger_with_no_recordings_is_skipped_with_a_warning(survey):
    shutil.rmtree(survey / "recordings" / "LC")
    r = _run("survey", survey, "--json", "--model", "none")
    assert r.exit_code == 0, r.output
    assert "logger LC has no recordings" in r.stderr
    js = json.loads(r.stdout)
    assert any("logger LC has no recordings" in w for w in js["warnings"])
    assert all("LC" not in (ln["from_logger"], ln["to_logger"]) for ln in js["lines"])


def test_recordings_that_overlap_no_neighbours(survey):
    for side in (survey / "recordings" / "LC").glob("*.json"):
        meta = json.loads(side.read_text())
        meta["start_time"] = meta["start_time"].replace("2026-11-03", "2026-11-05")
        side.write_text(json.dumps(meta))
    r = _run("survey", survey, "--json", "--model", "none")
    assert r.exit_code == 0, r.output
    assert "logger LC: its recordings overlap no neighbour's in time" in r.stderr


def test_disconnected_network(survey):
    with open(survey / "loggers.csv", "a") as fh:
        fh.write("LZ,Z1,,,east,hydrophone\n")
    inp = (survey / "network.inp").read_text()
    inp = inp.replace("[PIPES]\n", "[PIPES]\n Q1\tZ1\tZ2\t40\t150\t100\t0\tOpen\n")
    inp = inp.replace("[JUNCTIONS]\n", "[JUNCTIONS]\n Z1\t0\t0\n Z2\t0\t0\n")
    inp = inp.replace("[COORDINATES]\n", "[COORDINATES]\n Z1\t500\t500\n Z2\t540\t500\n")
    (survey / "network.inp").write_text(inp)
    with open(survey / "pipes.csv", "a") as fh:
        fh.write("Q1,pvc,150,\n")
    shutil.copytree(survey / "recordings" / "LA", survey / "recordings" / "LZ")
    r = _run("survey", survey, "--json", "--model", "none")
    assert r.exit_code == 0, r.output
    assert "network has 2 separate parts" in r.stderr
    assert "logger LZ is alone in its part of the network" in r.stderr
    # when no two loggers with recordings are connected, nothing can be correlated: error
    for lid in ("LB", "LC"):
        shutil.rmtree(survey / "recordings" / lid)
    assert "no two loggers with recordings are connected by pipes" in _error(_run("survey", survey, "--model", "none"))


@pytest.mark.parametrize("damage,msg", [
    (lambda d: shutil.rmtree(d), "survey folder not found"),
    (lambda d: (d / "loggers.csv").unlink(), "loggers.csv: loggers.csv not found"),
    (lambda d: shutil.rmtree(d / "recordings"), "recordings: folder not found"),
    (lambda d: [(d / f).unlink() for f in ("network.inp", "pipes.csv")], "no network.inp (with pipes.csv) or network.geojson"),
    (lambda d: [shutil.rmtree(p) for p in (d / "recordings").iterdir()], "no logger has recordings"),
])
def test_unusable_folders(survey, damage, msg):
    damage(survey)
    assert msg in _error(_run("survey", survey, "--model", "none"))


def test_corrupt_recording_is_named(survey):
    wav = next((survey / "recordings" / "LB").glob("*.wav"))
    wav.write_bytes(b"RIFF\x00\x00garbage")
    err = _error(_run("survey", survey, "--model", "none"))
    assert wav.name in err


# -- simulate survey -----------------------------------------------------------------------------
def test_simulate_survey_cli_writes_a_survey_folder(tmp_path):
    out = tmp_path / "dist"
    r = _run("simulate", "survey", "--network", "district", "--out", out, "--seed", 3, "--nights", 1,
             "--duration", 3, "--sample-rate", 4000, "--confounder", "prv", "--confounder", "hum", "--stats-nights", 10)
    assert r.exit_code == 0, r.output
    assert "leak: pipe" in r.stdout and "prv: node" in r.stdout
    truth = json.loads((out / "truth.json").read_text())
    assert truth["network"] == "district" and len(truth["leaks"]) == 1 and truth["confounders"] == ["prv", "hum"]
    leak = truth["leaks"][0]
    assert leak["lines"] and leak["areas"]
    for f in ("network.inp", "pipes.csv", "loggers.csv", "stats.csv"):
        assert (out / f).is_file()
    wavs = sorted((out / "recordings").glob("*/*.wav"))
    assert len(wavs) == 13 and all(w.with_suffix(".json").is_file() for w in wavs)
    from acoustic.io import read_recording

    rec = read_recording(wavs[0])
    assert rec.sample_rate == 4000.0 and rec.duration_s == pytest.approx(3.0) and rec.start_time is not None
    from acoustic.survey import read_survey

    folder = read_survey(out)
    assert len(folder.active_loggers) == 13 and folder.stats_path is not None
    assert folder.network.equipment["N3"].startswith("PRV")


@pytest.mark.parametrize("args,msg", [
    (["--network", "atlantis"], "network must be one of district, net3"),
    (["--duration", "1"], "duration_s must be in 2..120"),
    (["--network", "nowhere.inp"], "pipes.csv: file not found"),
])
def test_simulate_survey_bad_parameters(tmp_path, args, msg):
    r = _run("simulate", "survey", "--out", tmp_path / "x", *args)
    assert msg in _error(r)


def test_shipped_sample_district_survey():
    """The README's survey: the shipped district, with the shipped classifier and stats.csv."""
    root = Path(__file__).resolve().parents[1] / "recordings" / "samples" / "district"
    truth = json.loads((root / "truth.json").read_text())
    leak = truth["leaks"][0]
    r = _run("survey", root, "--json")
    assert r.exit_code == 0, r.output
    js = json.loads(r.stdout)
    assert js["areas"][0]["area"] == "north"
    assert leak["pipe_id"] in js["lines"][0]["pipe_ids"]
    p = js["points"][0]
    assert p["pipe_id"] == leak["pipe_id"] and abs(p["offset_m"] - leak["offset_m"]) <= 2.0
    assert p["interval_m"][0] <= leak["offset_m"] <= p["interval_m"][1]
    assert len(js["points"]) == 1  # the PRV, traffic and hum are not reported as leaks
    scores = {ev["logger_id"]: ev for ev in js["loggers"]}
    assert scores["L03"]["stats_score"] is not None and scores["L03"]["leak_probability"] is not None
