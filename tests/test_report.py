"""acoustic report: HTML structure, map, evidence plots, numbers with units, dig sheets,
contractor summary and payable rule, CLI.

The data are made on the fly: a hand-made three-pipe network (network.geojson + loggers.csv)
with recordings simulated by ``simulate_survey`` (a leak 30 m along pipe P1), a small signature
library made from them, a survey result whose point comes from correlating the pair, and a
ledger with dig outcomes of known errors.
"""

from __future__ import annotations

import base64
import json
import math
import re
import shutil
import warnings
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from acoustic import AcousticWarning
from acoustic.cli import cli

LEAK_PIPE, LEAK_OFFSET_M = "P1", 30.0
NODES = {"J1": (0.0, 0.0), "J2": (80.0, 0.0), "J3": (80.0, 60.0), "J4": (160.0, 0.0)}
PIPES = [("P1", "J1", "J2", "pvc", 150.0, []), ("P2", "J2", "J3", "pvc", 110.0, []),
         ("P3", "J2", "J4", "cast_iron", 150.0, [(120.0, 10.0)])]
LOGGERS = [("L1", "J1", "west"), ("L2", "J3", "west"), ("L3", "J4", "east")]
SCORES = {"L1": 0.9, "L2": 0.3, "L3": 0.6}
#: Dig outcomes of the ledger: (offset_m located, found_at_m, spacing_m); None = no leak found.
DIGS = [(30.0, 30.5, 100.0), (40.0, 41.5, 100.0), (20.0, 23.0, 160.0), (50.0, None, 100.0), (10.0, 12.5, None)]


# -- tiny HTML tree for structure checks --------------------------------------------------------
class Node:
    def __init__(self, tag, attrs, parent=None):
        self.tag, self.attrs, self.parent, self.children, self.text = tag, dict(attrs), parent, [], []

    @property
    def classes(self):
        return (self.attrs.get("class") or "").split()

    def iter(self):
        yield self
        for c in self.children:
            yield from c.iter()

    def find_all(self, tag=None, cls=None, **attrs):
        return [n for n in self.iter() if (tag is None or n.tag == tag) and (cls is None or cls in n.classes)
                and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def find(self, *a, **k):
        found = self.find_all(*a, **k)
        return found[0] if found else None

    def all_text(self):
        return "".join(self.text + [c.all_text() for c in self.children])


class TreeBuilder(HTMLParser):
    VOID = {"meta", "img", "br", "hr", "input", "link", "circle", "rect", "line", "polyline", "polygon", "path"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        if tag not in self.VOID:
            self.cur = n

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not self.root and n.tag != tag:
            n = n.parent
        if n is not self.root:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.text.append(data)


def parse_html(text: str) -> Node:
    b = TreeBuilder()
    b.feed(text)
    return b.root


# -- fixtures -----------------------------------------------------------------------------------
def write_network(root: Path) -> None:
    feats = []
    for pid, s, e, mat, dia, verts in PIPES:
        xy = [list(NODES[s]), *[list(v) for v in verts], list(NODES[e])]
        feats.append({"type": "Feature", "geometry": {"type": "LineString", "coordinates": xy},
                      "properties": {"pipe_id": pid, "start_node": s, "end_node": e, "material": mat,
                                     "diameter_mm": dia}})
    (root / "network.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    rows = ["logger_id,node_id,area"] + [f"{l},{n},{a}" for l, n, a in LOGGERS]
    (root / "loggers.csv").write_text("\n".join(rows) + "\n")


def make_survey_folder(root: Path) -> Path:
    """Network, loggers, one night of simulated recordings (leak at 30 m on P1), stats.csv."""
    from acoustic.network import read_geojson_network, read_loggers
    from acoustic.survey import simulate_survey

    root.mkdir(parents=True, exist_ok=True)
    write_network(root)
    net = read_geojson_network(root / "network.geojson")
    sites = read_loggers(root / "loggers.csv", net)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AcousticWarning)
        simulate_survey(net, root, leaks=1, seed=11, nights=1, duration_s=8.0, sample_rate_hz=4000.0, loggers=sites,
                        stats_nights=20, leak_positions=[(LEAK_PIPE, LEAK_OFFSET_M)])
    for name in ("network.inp", "pipes.csv"):  # keep the hand-made GeoJSON network
        (root / name).unlink(missing_ok=True)
    write_network(root)
    return root


def correlate_l1_l3(root: Path):
    """Correlate L1-L3 along their route (P1 then P3): the survey's method on the pair."""
    from acoustic.correlate import correlate_pair
    from acoustic.io import read_recording
    from acoustic.network import read_geojson_network, read_loggers

    net = read_geojson_network(root / "network.geojson")
    sites = {s.logger_id: s for s in read_loggers(root / "loggers.csv", net)}
    route = net.path(sites["L1"], sites["L3"])
    ra = read_recording(sorted((root / "recordings" / "L1").glob("*.wav"))[0])
    rb = read_recording(sorted((root / "recordings" / "L3").glob("*.wav"))[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AcousticWarning)
        return correlate_pair(ra, rb, route.pipe_path()), net


def make_result(root: Path, res, net, path: Path, *, survey_dir=None, area_name="west") -> Path:
    """A survey result in the format of ``acoustic survey --json`` (interfaces.md + evidence fields)."""
    from acoustic.survey import read_survey

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AcousticWarning)
        night = read_survey(root).recordings["L1"][0].night
    d = float(res.distance_from_a_m)
    lo, hi = (float(v) for v in res.interval_m)
    x, y = net.pipes["P1"].point_at(d)
    p3 = net.pipes["P3"]
    doc = {
        "survey_dir": str(root) if survey_dir is None else survey_dir,
        "network": {"pipes": 3},
        "areas": [{"area": area_name, "loggers": ["L1", "L2"], "score": 0.9, "reasons": ["strongest logger score 0.90"]},
                  {"area": "east", "loggers": ["L3"], "score": 0.6, "reasons": ["x < y & \"quoted\""]}],
        "lines": [{"pipe_ids": ["P1", "P3"], "from_logger": "L1", "to_logger": "L3", "score": 0.8,
                   "length_m": 80.0 + p3.length_m, "reasons": ["located point on the run"]}],
        "points": [
            {"pipe_id": "P1", "offset_m": round(d, 2), "x": x, "y": y, "interval_m": [round(lo, 2), round(hi, 2)],
             "sd_m": float(res.distance_sd_m), "confidence": 0.93, "loggers": ["L1", "L3", "L2"], "score_z": 21.0,
             "n_pairs": 1, "n_pair_nights": 1, "material": "pvc", "diameter_mm": 150.0,
             "evidence": [{"from_logger": "L1", "to_logger": "L3", "night": night, "delay_s": float(res.delay_s),
                           "delay_sd_s": float(res.delay_sd_s), "z": 21.0}]},
            {"pipe_id": "P3", "offset_m": 40.0, "x": p3.point_at(40.0)[0], "y": p3.point_at(40.0)[1],
             "interval_m": [36.0, 44.5], "sd_m": 2.1, "confidence": 0.41, "loggers": ["L2", "L3"]},
        ],
        "noise_sources": [{"pipe_id": "P2", "offset_m": 55.0, "x": 80.0, "y": 55.0, "interval_m": [54.0, 56.0],
                           "confidence": 0.9, "loggers": ["L2"], "explained_by": "PRV test valve"}],
        "loggers": [{"logger_id": k, "score": v, "alarm": v >= 0.8, "reasons": [f"score {v}"]}
                    for k, v in SCORES.items()],
    }
    path.write_text(json.dumps(doc, indent=1))
    return path


def make_library(root: Path, out: Path) -> Path:
    """Signatures: the three loggers' recordings (leak) and one simulated pump recording."""
    from acoustic.library import add_recordings
    from acoustic.simulate import simulate_recording

    pump = simulate_recording(noises=["pump"], sample_rate_hz=4000.0, duration_s=8.0, seed=3, sensor_id="X1")
    pump.write(out.parent / "pump.wav")
    leaks = [sorted((root / "recordings" / l).glob("*.wav"))[0] for l in ("L1", "L2", "L3")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AcousticWarning)
        add_recordings(out, leaks, label="leak", site="tiny", material="pvc", create=True)
        add_recordings(out, [out.parent / "pump.wav"], label="pump", site="lab")
    return out


def make_ledger(path: Path, survey_dir: Path, result_doc: dict) -> Path:
    """A ledger with the survey's points as suspects plus dug suspects of known location errors."""
    from acoustic.ledger import Ledger, utc_now
    from acoustic.ledger._ops import confirm_suspect

    led = Ledger(path, create=True)
    try:
        with led.transaction() as c:
            bid = c.execute("INSERT INTO batches(started_utc, upload_dir, status, params_json) VALUES (?,?,?,?)",
                            (utc_now(), str(survey_dir), "completed",
                             json.dumps({"survey_dir": str(survey_dir)}))).lastrowid
            ids = []
            rows = [(p, None) for p in result_doc["points"]]
            rows += [({"pipe_id": "P1", "offset_m": off, "interval_m": [off - 2, off + 2], "x": off, "y": 0.0,
                       "confidence": 0.7, "loggers": ["L1", "L3"]}, spacing) for off, _, spacing in DIGS]
            for k, (p, spacing) in enumerate(rows):
                ids.append(c.execute(
                    "INSERT INTO suspects(kind, natural_key, area, pipe_id, offset_m, x, y, interval_lo_m, interval_hi_m, "
                    "spacing_m, confidence, score, evidence_json, status, batch_id, created_utc, night, from_logger, "
                    "to_logger) VALUES ('point', ?, 'west', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, '2026-11-02', ?, ?)",
                    (f"point|{k}", p["pipe_id"], p["offset_m"], p["x"], p["y"], p["interval_m"][0], p["interval_m"][1],
                     spacing, p["confidence"], p["confidence"], json.dumps(p), bid, utc_now(), p["loggers"][0],
                     p["loggers"][1])).lastrowid)
            c.execute("INSERT INTO suspects(kind, natural_key, area, pipe_ids, from_logger, to_logger, score, "
                      "evidence_json, status, created_utc) VALUES ('line', 'line|1', 'west', ?, 'L1', 'L3', 0.8, ?, "
                      "'open', ?)", (json.dumps(["P1", "P3"]), json.dumps(result_doc["lines"][0]), utc_now()))
            for lid, v in SCORES.items():
                c.execute("INSERT INTO logger_scores(logger_id, as_of, score, alarm, nights_used, reasons_json, "
                          "updated_utc) VALUES (?, '2026-11-02', ?, ?, 20, '[]', ?)", (lid, v, int(v >= 0.8), utc_now()))
        for sid, (off, found, _) in zip(ids[len(result_doc["points"]):], DIGS):
            if found is None:
                confirm_suspect(led, sid, no_leak=True)
            else:
                confirm_suspect(led, sid, found_at_m=found)
    finally:
        led.close()
    return path


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    base = tmp_path_factory.mktemp("report")
    root = make_survey_folder(base / "survey")
    res, net = correlate_l1_l3(root)
    result = make_result(root, res, net, base / "result.json", area_name="west <b>&</b>")
    library = make_library(root, base / "lib" / "signatures.h5")
    doc = json.loads(result.read_text())
    ledger = make_ledger(base / "ledger.sqlite", root, doc)
    return {"base": base, "root": root, "result": result, "library": library, "ledger": ledger, "corr": res,
            "doc": doc}


@pytest.fixture(scope="module")
def report(site):
    from acoustic.report import build_report

    out = site["base"] / "out"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AcousticWarning)
        res = build_report(out, survey_result=site["result"], ledger=site["ledger"], library=site["library"],
                           tolerance_pct=2.0)
    html = res.index_html.read_text(encoding="utf-8")
    return {"res": res, "html": html, "tree": parse_html(html), "warnings": [str(w.message) for w in caught]}


# -- the map ------------------------------------------------------------------------------------
def test_map_has_every_pipe_logger_suspect_area_and_scale(report):
    from acoustic.report._svg import score_colour

    svg = report["tree"].find("svg", cls="network-map")
    assert svg is not None
    assert sorted(p.attrs["data-pipe-id"] for p in svg.find_all("polyline", cls="pipe")) == ["P1", "P2", "P3"]
    loggers = {g.attrs["data-logger-id"]: g for g in svg.find_all("g", cls="logger")}
    assert sorted(loggers) == ["L1", "L2", "L3"]
    for lid, score in SCORES.items():  # coloured by score
        assert loggers[lid].find("circle").attrs["fill"] == score_colour(score)
    assert loggers["L1"].find("circle").attrs["stroke-width"] == "2.5"  # alarm ring
    assert len(svg.find_all("g", cls="suspect")) == 2
    intervals = svg.find_all("polyline", cls="suspect-interval")
    assert len(intervals) == 2
    # the interval is drawn along the pipe: P1 runs along y = 0 from x = 0, so its pixel length is
    # the interval length times the map scale
    assert len(svg.find_all("g", cls="area")) == 2 and svg.find("rect", cls="noise-source") is not None
    bar = svg.find("g", cls="scale-bar")
    assert bar is not None and float(bar.attrs["data-length-m"]) in (10, 20, 50, 100)
    assert svg.find("g", cls="north-arrow") is not None
    assert "m, network coordinates" in svg.all_text()


def test_interval_drawn_to_scale_along_pipe(report, site):
    from acoustic.report._svg import nice_step

    svg = report["tree"].find("svg", cls="network-map")
    seg = svg.find("polyline", cls="suspect-interval", data_suspect="1")
    pts = np.array([[float(v) for v in p.split(",")] for p in seg.attrs["points"].split()])
    assert np.allclose(pts[:, 1], pts[0, 1])  # P1 is horizontal
    bar = svg.find("g", cls="scale-bar")
    rects = bar.find_all("rect")
    px_per_m = (float(rects[1].attrs["width"]) + float(rects[2].attrs["width"])) / float(bar.attrs["data-length-m"])
    lo, hi = site["doc"]["points"][0]["interval_m"]
    assert abs(np.ptp(pts[:, 0]) / px_per_m - (hi - lo)) < 0.1
    assert [nice_step(s, 5) for s in (160.0, 1000.0, 7.0, 0.9)] == [50.0, 200.0, 2.0, 0.2]


# -- per-suspect evidence -----------------------------------------------------------------------
def test_each_suspect_has_its_plots_as_loadable_pngs(report):
    arts = report["tree"].find_all("article", cls="suspect")
    assert [a.attrs["data-suspect"] for a in arts] == ["1", "2"]
    for art in arts:
        plots = {img.attrs["data-plot"]: img for img in art.find_all("img")}
        assert set(plots) == {"correlogram", "coherence", "spectrum", "history"}, art.attrs
        for img in plots.values():
            src = img.attrs["src"]
            assert src.startswith("data:image/png;base64,")
            png = base64.b64decode(src.split(",", 1)[1])
            assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
            assert img.attrs["alt"]


def test_recomputed_correlation_finds_the_simulated_leak(report, site):
    s1 = report["res"].summary["suspects"][0]
    assert s1["pair"]["from_logger"] == "L1" and s1["pair"]["to_logger"] == "L3"
    c = s1["correlation"]
    # the same files and method as the survey: the same delay, and the leak where it was simulated
    assert c["delay_s"] == pytest.approx(site["corr"].delay_s, abs=1e-6)
    assert abs(c["distance_from_a_m"] - LEAK_OFFSET_M) < 3.0
    assert c["interval_m"][0] <= s1["pair"]["point_on_route_m"] <= c["interval_m"][1]
    assert s1["pair"]["interval_on_route_m"] == pytest.approx(site["doc"]["points"][0]["interval_m"], abs=1e-6)
    # the second suspect had no evidence list: its two loggers' route (P2 then P3) carries it
    s2 = report["res"].summary["suspects"][1]
    assert (s2["pair"]["from_logger"], s2["pair"]["to_logger"]) == ("L2", "L3")
    assert s2["pair"]["point_on_route_m"] == pytest.approx(60.0 + 40.0, abs=1e-6)


def test_spectrum_matches_the_recordings_own_signature(report):
    s1 = report["res"].summary["suspects"][0]
    near = s1["nearest_signatures"]
    assert len(near) == 3
    assert near[0]["label"] == "leak" and near[0]["similarity"] > 0.95  # L1's own recording is in the library
    sims = [n["similarity"] for n in near]
    assert sims == sorted(sims, reverse=True)


def test_numbers_carry_units_and_uncertainty(report, site):
    art = report["tree"].find("article", cls="suspect", data_suspect="1")
    rows = {tr.find("th").all_text(): tr.find("td").all_text() for tr in art.find("table", cls="numbers").find_all("tr")}
    p = site["doc"]["points"][0]
    assert re.fullmatch(rf"{p['offset_m']:.2f} ± {p['sd_m']:.2f} m from the pipe's start node \(J1\) \(± 1 s\.d\.\)",
                        rows["position"])
    assert rows["95 % interval"].startswith(f"{p['interval_m'][0]:.2f}–{p['interval_m'][1]:.2f} m")
    assert re.fullmatch(r"-?\d+\.\d{6} ± \d+\.\d{6} s", rows["delay (A − B)"])
    assert re.fullmatch(r"\d+ ± \d+ m/s", rows["wave speed"])
    assert re.match(r"\d+–\d+ Hz; mean coherence 0\.\d\d", rows["band"])
    assert "95 % interval" in rows["pair's own location"] and rows["pair's own location"].count(" m") >= 2
    assert re.search(r"-?\d+\.\d dB in band", rows["signal-to-noise"])
    # every numeric cell of the suspect table and dig sheets has a unit (or is the 0-1 confidence)
    for td in report["tree"].find_all("td", cls="num"):
        text = td.all_text().strip()
        if not re.search(r"\d", text):
            continue
        assert (re.search(r"\b(m|mm|s|Hz|m/s|dB|km)\b|%|σ", text) or re.fullmatch(r"[01]\.\d\d|\d+", text)
                or re.fullmatch(r"\d+ / \d+", text)), text  # open / dismissed suspect counts


def test_dig_sheet_distances_from_both_nodes(report, site):
    p = site["doc"]["points"][0]
    d = report["res"].summary["suspects"][0]["dig_sheet"]
    assert d["pipe_id"] == "P1" and d["material"] == "pvc" and d["diameter_mm"] == 150.0
    assert d["start_node"]["node_id"] == "J1" and d["end_node"]["node_id"] == "J2"
    assert d["start_node"]["distance_m"] == pytest.approx(p["offset_m"])
    assert d["start_node"]["distance_m"] + d["end_node"]["distance_m"] == pytest.approx(80.0)
    assert d["end_node"]["interval_m"] == pytest.approx([80.0 - p["interval_m"][1], 80.0 - p["interval_m"][0]])
    assert d["nearest_node"]["node_id"] == "J1"
    assert d["nearest_logger"]["logger_id"] == "L1" and d["nearest_logger"]["distance_m"] == pytest.approx(p["offset_m"])
    assert (d["x"], d["y"]) == pytest.approx((p["offset_m"], 0.0))
    assert d["wall_is_typical"] and d["wall_mm"] > 0
    sheet = report["tree"].find("div", cls="digsheet", id="digsheet-1")
    text = " ".join(sheet.all_text().split())
    assert f"dig {p['offset_m']:.1f} ± {p['sd_m']:.1f} m along the pipe from node J1" in text
    assert sheet.find("svg", cls="network-map") is not None  # the local sketch
    assert f"acoustic ledger confirm {site['ledger']} 1 --found-at-m X" in text
    # the second suspect: on P3 (J2 -> J4, 82.46 m), nearer J2
    d2 = report["res"].summary["suspects"][1]["dig_sheet"]
    assert d2["nearest_node"]["node_id"] == "J2" and d2["pipe_length_m"] == pytest.approx(2 * math.hypot(40, 10))
    assert d2["material"] == "cast_iron"


def test_printable_and_offline(report):
    html = report["html"]
    assert "@media print" in html and "break-before: page" in html
    tree = report["tree"]
    assert not tree.find_all("script") and not tree.find_all("link")
    for n in tree.iter():
        for key in ("src", "href"):
            v = n.attrs.get(key)
            if v:
                assert not re.match(r"(https?:)?//", v), v
    assert "@import" not in html and "url(http" not in html and "@font-face" not in html
    sheets = (report["res"].dig_sheets_html).read_text()
    assert sheets.count('class="digsheet"') == 2 and "page-break-after: always" in sheets


def test_text_is_escaped(report):
    html = report["html"]
    assert "west &lt;b&gt;&amp;&lt;/b&gt;" in html and "<b>&</b>" not in html
    assert "x &lt; y &amp; &quot;quoted&quot;" in html


# -- contractor summary -------------------------------------------------------------------------
def expected_payable(tolerance_m, tolerance_pct):
    n = 0
    for off, found, spacing in DIGS:
        if found is None:
            continue
        allowed = tolerance_m
        if tolerance_pct is not None and spacing is not None:
            allowed = max(allowed, spacing * tolerance_pct / 100.0)
        n += abs(found - off) <= allowed + 1e-12
    return n


@pytest.mark.parametrize("tol_m, tol_pct, want", [(1.0, None, 1), (1.0, 2.0, 3), (3.0, None, 4), (0.4, None, 0),
                                                  (0.4, 2.0, 3), (0.4, 1.0, 1)])
def test_payable_count_rule(site, tol_m, tol_pct, want):
    from acoustic.ledger import Ledger
    from acoustic.report import contractor_summary

    assert expected_payable(tol_m, tol_pct) == want
    with Ledger(site["ledger"], readonly=True) as led:
        cs = contractor_summary(led, tolerance_m=tol_m, tolerance_pct=tol_pct)
    assert cs["stats"]["payable"]["count"] == want
    assert sum(d["payable"] for d in cs["digs"]) == want
    assert cs["stats"]["leaks_found"] == 4 and cs["stats"]["dug"] == 5


def test_contractor_section(report):
    sec = report["tree"].find("section", id="contractor")
    rows = {tr.find("th").all_text(): tr.find("td").all_text() for tr in sec.find("table", id="contractor-table").find_all("tr")}
    errors = [abs(f - o) for o, f, _ in DIGS if f is not None]
    assert rows["located (point suspects in the ledger)"] == str(2 + len(DIGS))
    assert rows["leaks found (each counted once)"] == "4" and rows["dug (outcomes recorded)"] == "5"
    assert rows["location error, median"].startswith(f"{np.median(errors):.2f} m")
    assert rows["location error, 90th percentile"] == f"{np.quantile(errors, 0.9):.2f} m"
    assert rows["confirmed within 1 m"] == "25 %" and rows["confirmed within 2 m"] == "50 %"
    assert sec.find("strong", id="payable-count").all_text() == str(expected_payable(1.0, 2.0))
    digs = sec.find("table", id="dig-table").find_all("tr")[1:]
    assert len(digs) == 5
    assert sec.find("img", data_plot="errors") is not None
    assert "2 % of spacing" in sec.all_text()


# -- CLI and other inputs -----------------------------------------------------------------------
def test_cli_survey_result_and_ledger_json(site, tmp_path):
    out = tmp_path / "cli"
    r = CliRunner().invoke(cli, ["report", str(site["result"]), "--ledger", str(site["ledger"]), "--out", str(out),
                                 "--library", str(site["library"]), "--tolerance-m", "3", "--json",
                                 "--max-suspects", "1"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["contractor"]["stats"]["payable"]["count"] == expected_payable(3.0, None)
    assert len(doc["suspects"]) == 1 and doc["map"] == {"pipes": 3, "loggers": 3, "points": 1, "areas": 2}
    assert "wrote" in r.stderr and "most suspect (--max-suspects)" in r.stderr
    assert (out / "index.html").is_file() and (out / "report.json").is_file()


def test_cli_ledger_only_with_image_files(site, tmp_path):
    out = tmp_path / "ledger_only"
    r = CliRunner().invoke(cli, ["report", "--ledger", str(site["ledger"]), "--out", str(out), "--images", "files",
                                 "--max-suspects", "2", "--library", str(site["library"])])
    assert r.exit_code == 0, r.output
    assert "map of 3 pipes and 3 loggers; 2 suspect point(s)" in r.stdout
    assert "payable (error <= max(1 m)): 1" in r.stdout
    tree = parse_html((out / "index.html").read_text())
    imgs = tree.find_all("img")
    assert imgs and all(i.attrs["src"].startswith("plots/") for i in imgs)
    for i in imgs:
        assert (out / i.attrs["src"]).read_bytes()[:4] == b"\x89PNG"
    # the ledger's suspects (survey_dir from its batch runs) keep their ledger ids and status
    art = tree.find("article", cls="suspect", data_suspect="1")
    assert "ledger suspect 1" in art.all_text() and "status open" in art.all_text()


def test_relative_survey_dir_and_real_survey_output(site, tmp_path):
    """A result naming its survey folder relative to itself; and the output of the survey itself."""
    from acoustic.report import build_report
    from acoustic.survey import run_survey

    shutil.copytree(site["root"], tmp_path / "survey")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AcousticWarning)
        real = run_survey(tmp_path / "survey", model=None).to_json()
    real["survey_dir"] = "survey"
    (tmp_path / "real.json").write_text(json.dumps(real))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AcousticWarning)
        res = build_report(tmp_path / "out", survey_result=tmp_path / "real.json", max_suspects=2)
    s = res.summary
    assert s["map"]["pipes"] == 3 and s["survey_dir"].endswith("survey")
    assert len(s["suspects"]) == min(2, len(real["points"]))
    if real["points"]:
        top = s["suspects"][0]
        assert "correlogram" in top["plots"] and "coherence" in top["plots"]
        assert top["dig_sheet"]["pipe_id"] == real["points"][0]["pipe_id"]


def test_no_survey_folder_still_reports_numbers(site, tmp_path):
    doc = dict(site["doc"], survey_dir=str(tmp_path / "moved"))
    (tmp_path / "r.json").write_text(json.dumps(doc))
    r = CliRunner().invoke(cli, ["report", str(tmp_path / "r.json"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    assert "is not there; give --survey DIR" in r.stderr
    html = (tmp_path / "o" / "index.html").read_text()
    tree = parse_html(html)
    assert tree.find("svg", cls="network-map") is None and "No map" in html
    assert len(tree.find_all("div", cls="digsheet")) == 2 and "is not there" in html  # warning shown on the page


def test_recordings_and_history_from_the_ledger(site, tmp_path):
    """A batch ledger: its survey folder holds only the network; the recordings are where the
    ledger saw them (an upload folder) and the level/spread history is its logger_nights."""
    import soundfile as sf

    from acoustic.io import read_sidecar
    from acoustic.ledger import Ledger, utc_now
    from acoustic.loggers import read_stats
    from acoustic.report import build_report

    root = tmp_path / "survey"
    root.mkdir()
    write_network(root)
    uploads = tmp_path / "uploads"
    shutil.copytree(site["root"] / "recordings", uploads)
    ledger = make_ledger(tmp_path / "ledger.sqlite", root, site["doc"])
    with Ledger(ledger) as led, led.transaction() as c:
        for k, wav in enumerate(sorted(uploads.rglob("*.wav"))):
            info, meta = sf.info(str(wav)), read_sidecar(wav)
            c.execute("INSERT INTO recordings(sha256, path, logger_id, start_time, sample_rate_hz, duration_s, status, "
                      "processed_utc) VALUES (?, ?, ?, ?, ?, ?, 'ok', ?)",
                      (f"{k:064d}", str(wav), wav.parent.name,
                       meta["start_time"].strftime("%Y-%m-%dT%H:%M:%S.%fZ"), float(info.samplerate),
                       info.frames / info.samplerate, utc_now()))
        for r in read_stats(site["root"] / "stats.csv"):
            c.execute("INSERT INTO logger_nights(logger_id, date, level, spread, source) VALUES (?, ?, ?, ?, 'stats:x')",
                      (r.logger_id, r.date.isoformat(), r.level, r.spread))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AcousticWarning)
        res = build_report(tmp_path / "o", ledger=ledger, max_suspects=1, library=site["library"])
    assert not [w for w in caught if "recordings" in str(w.message)]
    s1 = res.summary["suspects"][0]
    assert s1["ledger_id"] == 1 and set(s1["plots"]) == {"correlogram", "coherence", "spectrum", "history"}
    assert all(f.startswith(str(uploads)) for f in s1["pair"]["files"])
    assert s1["correlation"]["delay_s"] == pytest.approx(site["corr"].delay_s, abs=1e-6)
