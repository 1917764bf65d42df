"""Coordinates and the report on a network whose coordinates are not metres (issue 20, problems 6-8).

- net3 (EPANET example network 3, a schematic drawing: 1 unit is some 220 m of pipe): the map's
  scale bar is in true metres from the pipes' lengths, labels do not overlap (also in Chromium),
  the GeoJSON says it is not RFC 7946;
- the sample district in a real projected system (``--crs EPSG:27700``): points carry latitude and
  longitude, the GeoJSON is valid RFC 7946; without pyproj the commands say what they cannot do;
- a position 0.002 m past its pipe's end (rounding) keeps its evidence; closed suspects get no
  dig sheet; a warning that contradicts the advice is not shown; the report filters by status
  and date.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from acoustic import AcousticWarning
from acoustic.cli import cli

DISTRICT = Path(__file__).resolve().parents[1] / "recordings" / "samples" / "district"


def run(*args):
    return CliRunner().invoke(cli, [*map(str, args)])


# -- an RFC 7946 checker -------------------------------------------------------------------------
def _positions(coords, depth):
    if depth == 0:
        return [coords]
    return [p for c in coords for p in _positions(c, depth - 1)]


DEPTH = {"Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2, "Polygon": 2, "MultiPolygon": 3}


def assert_rfc7946(doc):
    """Structure of RFC 7946 (sections 3, 4, 5): a FeatureCollection of Features, WGS 84 longitude
    and latitude positions of 2 or 3 finite numbers, LineStrings of 2+ positions, no 'crs' member,
    a bbox that holds every position."""
    assert doc["type"] == "FeatureCollection" and isinstance(doc["features"], list) and "crs" not in doc
    allpos = []
    for f in doc["features"]:
        assert f["type"] == "Feature" and isinstance(f.get("properties"), dict)
        g = f["geometry"]
        assert g["type"] in DEPTH
        pos = _positions(g["coordinates"], DEPTH[g["type"]])
        if g["type"] == "LineString":
            assert len(pos) >= 2
        for p in pos:
            assert isinstance(p, list) and len(p) in (2, 3) and all(isinstance(v, float) and math.isfinite(v) for v in p)
            assert -180 <= p[0] <= 180 and -90 <= p[1] <= 90
        allpos += pos
    if "bbox" in doc:
        b = doc["bbox"]
        assert all(b[0] <= p[0] <= b[2] and b[1] <= p[1] <= b[3] for p in allpos)


# -- net3: not metres -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def net3(tmp_path_factory):
    from acoustic.survey import simulate_survey

    root = tmp_path_factory.mktemp("net3")
    sv = root / "sv"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AcousticWarning)
        sim = simulate_survey("net3", sv, leaks=2, seed=5, nights=1, duration_s=6.0, confounders=["pump"])
    r = run("survey", sv, "--model", "none", "--json", "--geojson", root / "sv.geojson")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert "not RFC 7946" in r.stderr
    # a point exactly at the end of pipe 199 as the survey writes it: 64.01 m on a 64.008 m pipe
    length = sim.network.pipes["199"].length_m
    assert round(length, 2) > length
    x, y = sim.network.pipes["199"].point_at(length)
    doc["points"].append({"pipe_id": "199", "offset_m": round(length, 2), "x": x, "y": y,
                          "interval_m": [round(length - 1.6, 2), round(length, 2)], "confidence": 0.9,
                          "loggers": ["L09", "L11"], "pipe_length_m": round(length, 2)})
    result = root / "result.json"
    result.write_text(json.dumps(doc))
    out = root / "report"
    r = run("report", result, "--out", out, "--json", "--max-suspects", "10")
    assert r.exit_code == 0, r.output
    return {"root": root, "sv": sv, "sim": sim, "doc": doc, "result": result, "report": json.loads(r.stdout),
            "out": out, "geojson": json.loads((root / "sv.geojson").read_text()), "html": (out / "index.html").read_text()}


def _svg(html, svg_id):
    from test_report import parse_html

    return parse_html(html).find("svg", id=svg_id)


def test_scale_bar_is_in_true_metres_on_a_non_metre_network(net3):
    from acoustic.survey._crs import map_scale

    net = net3["sim"].network
    sc = map_scale(net)
    ratios = [p.length_m / float(np.hypot(*np.diff(p.coords, axis=0).T).sum()) for p in net.pipes.values()
              if p.kind == "pipe"]
    assert sc.metres_per_unit == pytest.approx(np.median(ratios)) and sc.metres_per_unit > 100
    svg = _svg(net3["html"], "network-map")
    bar = svg.find("g", cls="scale-bar")
    rects = bar.find_all("rect")
    bar_px = float(rects[1].attrs["width"]) + float(rects[2].attrs["width"])
    # the bar's metres against a pipe drawn on the map: pixels per metre agree to the drawing's spread
    pipe = svg.find("polyline", cls="pipe", data_pipe_id="201")
    pts = np.array([[float(v) for v in p.split(",")] for p in pipe.attrs["points"].split()])
    px = float(np.hypot(*np.diff(pts, axis=0).T).sum())
    per_m_pipe = px / net.pipes["201"].length_m * (net.pipes["201"].length_m / sc.metres_per_unit
                                                   / float(np.hypot(*np.diff(net.pipes["201"].coords, axis=0).T).sum()))
    assert bar_px / float(bar.attrs["data-length-m"]) == pytest.approx(per_m_pipe, rel=1e-3)
    assert float(bar.attrs["data-length-m"]) >= 200      # a 5.4 km network: hundreds of metres, not "2 m"
    assert "1 unit =" in svg.all_text()
    assert net3["report"]["map_scale"]["metres_per_unit"] == pytest.approx(sc.metres_per_unit)


def _boxes_overlap(svg):
    """Label boxes (estimated from font size and text length) that overlap: must be none."""
    from acoustic.report._svg import _Labels

    boxes = []
    for t in svg.find_all("text"):
        if "node-label" not in t.classes and (t.parent is None or "logger" not in t.parent.classes):
            continue
        size = float(t.attrs.get("font-size", 11))
        w = _Labels.CHAR_W * size * len(t.all_text())
        x, y = float(t.attrs["x"]), float(t.attrs["y"])
        anchor = t.attrs.get("text-anchor", "start")
        x0 = x if anchor == "start" else x - w if anchor == "end" else x - w / 2
        boxes.append((x0, y - size, x0 + w, y))
    n = 0
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            a, b = boxes[i], boxes[j]
            n += a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
    return len(boxes), n


def test_map_and_sketch_labels_do_not_overlap(net3):
    from test_report import parse_html

    tree = parse_html(net3["html"])
    maps = tree.find_all("svg", cls="network-map")
    assert len(maps) >= 2
    for svg in maps:
        n, overlaps = _boxes_overlap(svg)
        assert overlaps == 0, svg.attrs["id"]
    assert _boxes_overlap(maps[0])[0] >= len(net3["sim"].sites)  # every logger labelled on the main map


def test_sketch_is_a_few_hundred_metres_not_the_whole_network(net3):
    from test_report import parse_html

    tree = parse_html(net3["html"])
    sketch = tree.find("svg", id="sketch-1")
    assert sketch is not None
    n_pipes = len(sketch.find_all("polyline", cls="pipe"))
    assert 1 <= n_pipes < len(net3["sim"].network.pipes) / 2
    assert float(sketch.find("g", cls="scale-bar").attrs["data-length-m"]) <= 200


def test_geojson_says_it_is_not_rfc7946_without_a_crs(net3):
    gj = net3["geojson"]
    meta = gj["acoustic:coordinates"]
    assert meta["rfc7946"] is False and "not RFC 7946" in meta["note"] and "crs" not in gj
    assert net3["doc"]["coordinates"]["lonlat"] is False


def test_rounding_point_keeps_its_evidence(net3):
    sp = [s for s in net3["report"]["suspects"] if s["pipe_id"] == "199"][0]
    assert sp["dig_sheet"] is not None and sp["dig_sheet"]["offset_m"] == pytest.approx(
        net3["sim"].network.pipes["199"].length_m)
    assert "correlogram" in sp["plots"]
    assert not any("beyond the pipe" in n for n in sp["notes"])
    assert "The network was not available" not in net3["html"]


def test_no_contradicting_warning_under_a_located_suspect(net3):
    from acoustic.report._html import CONTRADICTING

    for phrase in CONTRADICTING:
        assert phrase not in net3["html"]


def test_reconcile_warnings_replaces_contradictions():
    from acoustic.report._evidence import SuspectEvidence
    from acoustic.report._html import reconcile_warnings

    w = ["correlation peak at the edge of the possible delays (delay +0.1 s, max 0.1 s): noise from outside the pair, "
         "beyond B; not a leak between the sensors", "start time unknown"]
    ev = SuspectEvidence(1, {"status": "confirmed"}, correlation={"warnings": w})
    kept, note = reconcile_warnings(ev)
    assert kept == ["start time unknown"] and "dig confirmed a leak" in note
    ev = SuspectEvidence(1, {"status": "open", "n_pair_nights": 4}, correlation={"warnings": w},
                         pair={"junction": {"node_id": "N7", "route_position_m": 10.0, "branch_m": 3.0}})
    kept, note = reconcile_warnings(ev)
    assert "node N7" in note and "not a leak" not in note


@pytest.mark.skipif(shutil.which("chromium") is None and shutil.which("chromium-browser") is None,
                    reason="no chromium binary (Debian: apt-get install chromium; .ci/run installs it)")
def test_non_metre_report_renders_in_chromium(net3, tmp_path):
    pytest.importorskip("websocket", reason="websocket-client (the 'test' extra) is not installed")
    import os

    from acoustic.report._browser import render_check

    art = Path(os.environ.get("ACOUSTIC_TEST_ARTIFACTS") or tmp_path)
    art.mkdir(parents=True, exist_ok=True)
    check = render_check(net3["out"] / "index.html", screenshot=art / "report_net3_screenshot.png")
    assert check.errors == [] and check.page["broken_images"] == []
    assert check.page["map_pipes"] == len(net3["sim"].network.pipes)
    overlaps = check.page["label_overlaps"]
    assert overlaps and all(m["overlaps"] == 0 for m in overlaps), overlaps
    assert overlaps[0]["labels"] >= len(net3["sim"].sites)
    sheets = render_check(net3["out"] / "dig-sheets.html")
    assert sheets.errors == [] and all(m["overlaps"] == 0 for m in sheets.page["label_overlaps"])


# -- a real coordinate system -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def district_bng(tmp_path_factory):
    pytest.importorskip("pyproj")
    root = tmp_path_factory.mktemp("bng")
    r = run("survey", DISTRICT, "--model", "none", "--json", "--crs", "EPSG:27700", "--geojson", root / "d.geojson")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout), json.loads((root / "d.geojson").read_text()), r


def test_survey_points_carry_lat_lon(district_bng):
    import pyproj

    doc, gj, r = district_bng
    assert doc["coordinates"]["crs"] == "EPSG:27700" and doc["coordinates"]["lonlat"] is True
    t = pyproj.Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
    assert doc["points"]
    for p in doc["points"]:
        lon, lat = t.transform(p["x"], p["y"])
        assert p["lon"] == pytest.approx(lon, abs=1e-7) and p["lat"] == pytest.approx(lat, abs=1e-7)


def test_survey_geojson_is_rfc7946_with_a_crs(district_bng):
    doc, gj, r = district_bng
    assert_rfc7946(gj)
    assert gj["acoustic:coordinates"]["rfc7946"] is True and gj["acoustic:coordinates"]["from_crs"] == "EPSG:27700"
    pts = [f for f in gj["features"] if f["properties"]["kind"] == "point"]
    assert [f["properties"]["x"] for f in pts] == [p["x"] for p in doc["points"]]
    assert "not RFC 7946" not in r.stderr and "do not look like" not in r.stderr


def test_wrong_crs_is_noticed(tmp_path):
    pytest.importorskip("pyproj")
    from acoustic.network import read_inp_network
    from acoustic.survey._crs import check_network_crs, coordinate_system

    net = read_inp_network(DISTRICT / "network.inp", DISTRICT / "pipes.csv")
    with pytest.warns(AcousticWarning, match="do not look like EPSG:2249"):   # feet, drawn in metres
        check_network_crs(net, coordinate_system("EPSG:2249"))
    r = run("survey", DISTRICT, "--model", "none", "--crs", "EPSG:4326")
    assert r.exit_code == 2 and "not positions in it" in r.stderr         # 300 degrees of latitude
    r = run("survey", DISTRICT, "--model", "none", "--crs", "EPSG:99999999")
    assert r.exit_code == 2 and r.stderr.startswith("Error: --crs EPSG:99999999")


def test_crs_from_a_geojson_network(tmp_path):
    pytest.importorskip("pyproj")
    from acoustic.network import read_inp_network
    from acoustic.survey._crs import coordinate_system_for

    net = read_inp_network(DISTRICT / "network.inp", DISTRICT / "pipes.csv")
    feats = [{"type": "Feature", "geometry": {"type": "LineString", "coordinates": p.coords.tolist()},
              "properties": {"pipe_id": p.pipe_id, "start_node": p.start_node, "end_node": p.end_node,
                             "material": p.material, "diameter_mm": p.diameter_mm, "length_m": p.length_m}}
             for p in net.pipes.values()]
    sv = tmp_path / "sv"
    sv.mkdir()
    (sv / "network.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": feats, "crs": {
        "type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::27700"}}}))
    cs = coordinate_system_for(None, sv)
    assert cs.can_lonlat and cs.unit == "metre" and "crs" in cs.source


def test_ledger_export_geojson_with_and_without_crs(tmp_path):
    pytest.importorskip("pyproj")
    from test_ledger_outcomes import network_folder

    from acoustic.ledger import Ledger, utc_now

    sv = network_folder(tmp_path / "sv")
    path = tmp_path / "l.db"
    with Ledger(path, create=True) as led, led.transaction() as con:
        con.execute("INSERT INTO batches(started_utc, upload_dir, status, params_json) VALUES (?, 'u', 'completed', ?)",
                    (utc_now(), json.dumps({"survey_dir": str(sv)})))
        con.execute("INSERT INTO suspects(kind, natural_key, area, pipe_id, offset_m, x, y, interval_lo_m, "
                    "interval_hi_m, created_utc) VALUES ('point', 'k', 'north', 'P04', 61.0, 149.3, 366.3, 60, 62, ?)",
                    (utc_now(),))
    r = run("ledger", "export", path, "--geojson", tmp_path / "a.geojson", "--crs", "EPSG:27700")
    assert r.exit_code == 0, r.output
    gj = json.loads((tmp_path / "a.geojson").read_text())
    assert_rfc7946(gj)
    assert gj["features"][0]["properties"]["x"] == 149.3
    r = run("ledger", "export", path, "--geojson", tmp_path / "b.geojson")
    gj = json.loads((tmp_path / "b.geojson").read_text())
    assert gj["acoustic:coordinates"]["rfc7946"] is False and gj["features"][0]["geometry"]["coordinates"] == [149.3,
                                                                                                             366.3]


def test_without_pyproj_says_what_it_cannot_do(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyproj", None)  # import pyproj -> ImportError
    r = run("survey", DISTRICT, "--model", "none", "--json", "--crs", "EPSG:27700", "--geojson", tmp_path / "d.geojson",
            "--area", "north")
    assert r.exit_code == 0, r.output
    assert "pyproj is not installed" in r.stderr and "acoustic[geo]" in r.stderr
    doc = json.loads(r.stdout)
    assert doc["coordinates"]["lonlat"] is False and all("lat" not in p for p in doc["points"])
    gj = json.loads((tmp_path / "d.geojson").read_text())
    assert gj["acoustic:coordinates"]["rfc7946"] is False
    assert gj["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::27700"   # a GIS can still place it


def test_scale_bar_of_a_projection_that_is_not_true_to_scale(tmp_path):
    """Web Mercator (EPSG:3857) at 51 degrees north: one projected 'metre' is cos(51 deg) = 0.63 m on
    the ground.  The map's scale (and the check against the pipes' lengths) must use the ground
    distance, not the unit's name: the scale bar would otherwise be 1.6 times too long."""
    pytest.importorskip("pyproj")
    import warnings

    from acoustic.network import read_geojson_network, read_inp_network
    from acoustic.survey._crs import coordinate_system, map_scale

    net = read_inp_network(DISTRICT / "network.inp", DISTRICT / "pipes.csv")
    lat = 51.0
    k = float(np.cos(np.radians(lat)))
    y0 = 6378137.0 * np.log(np.tan(np.pi / 4 + np.radians(lat) / 2))    # Mercator northing of 51 N
    feats = [{"type": "Feature", "geometry": {"type": "LineString",
                                              "coordinates": [[x / k, y0 + y / k] for x, y in p.coords.tolist()]},
              "properties": {"pipe_id": p.pipe_id, "start_node": p.start_node, "end_node": p.end_node,
                             "material": p.material, "diameter_mm": p.diameter_mm, "length_m": p.length_m}}
             for p in net.pipes.values()]
    (tmp_path / "network.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    merc = read_geojson_network(tmp_path / "network.geojson")
    with warnings.catch_warnings():
        warnings.simplefilter("error", AcousticWarning)      # the pipes agree with the system: no warning
        sc = map_scale(merc, coordinate_system("EPSG:3857"))
    assert sc.metres_per_unit == pytest.approx(k, rel=0.01) and sc.x_factor == pytest.approx(1.0, abs=0.01)
    assert sc.pipes_ratio == pytest.approx(1.0, abs=0.02)
