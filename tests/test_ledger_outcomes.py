"""Issue 20, from the command line: outcomes are checked (1), corrected with an audit trail (2),
measured from the node the dig sheet names (3), and one leak is counted and paid once (4).

The ledgers are made like a batch makes them: a batch run naming a survey folder (the sample
district's network and loggers) and point suspects carrying the survey's record (pipe length,
nearest node).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from acoustic.cli import cli
from acoustic.ledger import Ledger, utc_now

DISTRICT = Path(__file__).resolve().parents[1] / "recordings" / "samples" / "district"


def network_folder(root: Path) -> Path:
    """The sample district's network and loggers (no recordings)."""
    root.mkdir(parents=True, exist_ok=True)
    for name in ("network.inp", "pipes.csv", "loggers.csv"):
        shutil.copy(DISTRICT / name, root / name)
    return root


def _net(root):
    from acoustic.ledger._network import load_network

    return load_network(root)


def add_point(con, key, pipe, offset, *, area="north", half=1.5, net=None, batch=None, night="2026-11-03"):
    """A point suspect as the batch writes it (the survey's point record as evidence)."""
    p = net.network.pipes[pipe]
    near = (p.start_node, offset) if offset <= p.length_m / 2 else (p.end_node, p.length_m - offset)
    ev = {"pipe_id": pipe, "offset_m": offset, "interval_m": [offset - half, offset + half],
          "pipe_length_m": round(p.length_m, 2), "nearest_node": {"node_id": near[0], "distance_m": round(near[1], 2)},
          "loggers": ["L01", "L02"], "confidence": 0.9}
    x, y = p.point_at(offset)
    return con.execute(
        "INSERT INTO suspects(kind, natural_key, area, pipe_id, offset_m, x, y, interval_lo_m, interval_hi_m, spacing_m, "
        "confidence, score, from_logger, to_logger, evidence_json, batch_id, created_utc, night) "
        "VALUES ('point', ?, ?, ?, ?, ?, ?, ?, ?, 150.0, 0.9, 0.9, 'L01', 'L02', ?, ?, ?, ?)",
        (key, area, pipe, offset, x, y, offset - half, offset + half, json.dumps(ev), batch, utc_now(), night)).lastrowid


@pytest.fixture
def ledger(tmp_path):
    """A ledger whose batch names the district folder; suspects on P04 (leak), P01, P02 (joined at N2)."""
    sv = network_folder(tmp_path / "district")
    net = _net(sv)
    path = tmp_path / "ledger.db"
    with Ledger(path, create=True) as led, led.transaction() as con:
        bid = con.execute("INSERT INTO batches(started_utc, upload_dir, status, params_json) VALUES (?, 'up', "
                          "'completed', ?)", (utc_now(), json.dumps({"survey_dir": str(sv)}))).lastrowid
        ids = {"P04": add_point(con, "a", "P04", 61.0, net=net, batch=bid),
               "P04b": add_point(con, "b", "P04", 64.0, area="south", net=net, batch=bid),
               "P01": add_point(con, "c", "P01", 146.0, net=net, batch=bid),
               "P02": add_point(con, "d", "P02", 2.5, net=net, batch=bid),
               "P03": add_point(con, "e", "P03", 40.0, net=net, batch=bid)}
    return path, ids, net


def run(command, ledger, *args, env=None):
    """``acoustic ledger COMMAND -l LEDGER ARGS``."""
    return CliRunner().invoke(cli, ["ledger", command, "-l", str(ledger), *map(str, args)], env=env)


def one_line_error(r, *fragments):
    assert r.exit_code == 2, r.output
    err = r.stderr.strip()
    assert err.startswith("Error: ") and "\n" not in err and "Traceback" not in r.output, err
    for f in fragments:
        assert f in err, err


# -- 1. outcomes are checked ---------------------------------------------------------------------------
def test_found_position_off_the_pipe_is_refused(ledger):
    path, ids, net = ledger
    length = net.network.pipes["P04"].length_m
    r = run("confirm", path, ids["P04"], "--found-at-m", 5000)
    one_line_error(r, "--found-at-m 5000 m", "off pipe P04", f"{length:g} m long")
    r = run("confirm", path, ids["P04"], "--found-at-m", -2)
    one_line_error(r, "--found-at-m must be a non-negative distance")
    assert json.loads(run("stats", path, "--json").stdout)["dug"] == 0  # nothing recorded


def test_rounding_difference_is_clamped_not_refused(ledger):
    path, ids, net = ledger
    length = net.network.pipes["P04"].length_m
    r = run("confirm", path, ids["P04"], "--found-at-m", round(length + 0.02, 2), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["found_at_m"] == pytest.approx(length)


def test_without_the_network_the_survey_record_checks_the_length(ledger, tmp_path):
    path, ids, net = ledger
    shutil.rmtree(tmp_path / "district")  # the folder is gone: the suspect's own record of its pipe is used
    r = run("confirm", path, ids["P04"], "--found-at-m", 5000)
    one_line_error(r, "off pipe P04", "from node")


def test_leak_on_another_pipe_must_be_in_the_area(ledger):
    path, ids, net = ledger
    # P02 meets P01 at N2: a leak found 1 m into P02 is in the north area
    r = run("confirm", path, ids["P01"], "--found-at-m", 1.0, "--pipe", "P02", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    p01 = net.network.pipes["P01"]
    assert out["found_pipe_id"] == "P02" and out["error_m"] == pytest.approx(p01.length_m - 146.0 + 1.0)
    far = next(p for p in net.network.pipes.values()                    # deep in the south DMA
               if net.sites[net.nearest_logger(p.pipe_id, p.length_m / 2)[0]].area == "south")
    r = run("confirm", path, ids["P03"], "--found-at-m", far.length_m / 2, "--pipe", far.pipe_id)
    one_line_error(r, "outside the suspect's area north")
    r = run("confirm", path, ids["P03"], "--found-at-m", 1.0, "--pipe", "NOPE")
    one_line_error(r, "--pipe NOPE", "not in the network")


# -- 3. the dig sheet's node -------------------------------------------------------------------------
def test_from_node_either_end(ledger):
    path, ids, net = ledger
    p = net.network.pipes["P04"]
    # measured 40 m from the end node is (length - 40) m from the start node
    r = run("confirm", path, ids["P04"], "--found-at-m", 40, "--from-node", p.end_node, "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["found_at_m"] == pytest.approx(p.length_m - 40) and out["measured_from"] == p.end_node
    assert out["error_m"] == pytest.approx(abs(p.length_m - 40 - 61.0))
    r = run("confirm", path, ids["P01"], "--found-at-m", 3, "--from-node", "N9")
    one_line_error(r, "--from-node N9 is not an end of pipe P01")
    r = run("confirm", path, ids["P03"], "--found-at-m", 3, "--from-node", "end", "--json")
    assert json.loads(r.stdout)["found_at_m"] == pytest.approx(net.network.pipes["P03"].length_m - 3)


def test_dig_sheet_node_is_what_confirm_takes(ledger, tmp_path):
    """Replays problem 3: the sheet says 'dig X m from node N'; the crew enters X from N."""
    from acoustic.report._dig import dig_sheet

    path, ids, net = ledger
    point = {"pipe_id": "P01", "offset_m": 146.0, "interval_m": [144.5, 147.5]}
    sheet = dig_sheet(net.network, net.sites, point)
    node, dist = sheet["nearest_node"]["node_id"], sheet["nearest_node"]["distance_m"]
    assert node == net.network.pipes["P01"].end_node                     # the near end is not the start
    r = run("confirm", path, ids["P01"], "--found-at-m", dist, "--from-node", node, "--json")
    assert json.loads(r.stdout)["error_m"] == pytest.approx(0.0, abs=1e-9)


# -- 2. corrections with an audit trail ------------------------------------------------------------------
def test_amend_undo_history_and_stats_use_the_latest(ledger):
    path, ids, net = ledger
    sid = ids["P04"]
    assert run("confirm", path, sid, "--found-at-m", 71.0, "--by", "crew 7", "--dug-on", "2026-11-05").exit_code == 0
    r = run("confirm", path, sid, "--found-at-m", 61.5)
    one_line_error(r, "already has an outcome", "ledger amend", "ledger undo")
    r = run("amend", path, sid, "--found-at-m", 61.5)
    assert r.exit_code == 2 and "--reason" in r.stderr
    r = run("amend", path, sid, "--found-at-m", 61.5, "--reason", "typed 71 for 61.5", "--by", "office")
    assert r.exit_code == 0, r.output
    st = json.loads(run("stats", path, "--json").stdout)
    assert st["leaks_found"] == 1 and st["location_error_m"]["median"] == pytest.approx(0.5)
    assert st["leaks"][0]["dug_on"] == "2026-11-05"                     # the amendment keeps the dig date
    r = run("undo", path, sid, "--reason", "amended the wrong suspect")
    assert r.exit_code == 0 and "in force again: leak found at 71.00 m" in r.stdout
    assert json.loads(run("stats", path, "--json").stdout)["location_error_m"]["median"] == pytest.approx(10.0)
    assert run("undo", path, sid, "--reason", "the dig was elsewhere").exit_code == 0
    st = json.loads(run("stats", path, "--json").stdout)
    assert st["dug"] == 0 and st["leaks_found"] == 0
    shown = json.loads(run("show", path, sid, "--json").stdout)
    assert shown["status"] == "open" and shown["outcome"] is None
    one_line_error(run("undo", path, sid, "--reason", "x"), "no outcome to undo")
    h = json.loads(run("history", path, sid, "--json").stdout)
    kinds = [e["event"] for e in h["events"]]
    assert kinds == ["created", "confirm", "amend", "undo", "undo"]
    conf, amend, undo1, undo2 = h["events"][1:]
    assert conf["by"] == "crew 7" and amend["by"] == "office" and amend["reason"] == "typed 71 for 61.5"
    assert amend["cancels"] == conf["id"] and undo1["cancels"] == amend["id"] and undo2["cancels"] == conf["id"]
    assert not any(e.get("in_force") for e in h["events"])
    text = run("history", path, sid).stdout
    assert "why: typed 71 for 61.5" in text and "takes back" in text
    con = sqlite3.connect(path)                                         # nothing deleted
    assert con.execute("SELECT count(*) FROM outcome_events WHERE suspect_id = ?", (sid,)).fetchone()[0] == 4
    con.close()


def test_amend_to_no_leak_and_undo_to_dispatched(ledger):
    path, ids, net = ledger
    sid = ids["P03"]
    assert run("dispatch", path, sid, "--crew", "north").exit_code == 0
    assert run("confirm", path, sid, "--found-at-m", 41).exit_code == 0
    assert run("amend", path, sid, "--no-leak", "--reason", "it was a hydrant").exit_code == 0
    st = json.loads(run("stats", path, "--json").stdout)
    assert (st["dug"], st["leaks_found"], st["no_leak"]) == (1, 0, 1)
    assert run("undo", path, sid, "--reason", "x").exit_code == 0
    assert json.loads(run("show", path, sid, "--json").stdout)["status"] == "confirmed"
    assert run("undo", path, sid, "--reason", "y").exit_code == 0
    assert json.loads(run("show", path, sid, "--json").stdout)["status"] == "dispatched"


def test_dig_date_checked(ledger):
    path, ids, _ = ledger
    one_line_error(run("confirm", path, ids["P03"], "--no-leak", "--dug-on", "2099-01-01"), "--dug-on", "future")
    one_line_error(run("confirm", path, ids["P03"], "--no-leak", "--dug-on", "yesterday"), "--dug-on", "YYYY-MM-DD")


# -- 4. one leak, one payment ------------------------------------------------------------------------
def test_two_suspects_one_leak_counted_once(ledger):
    path, ids, net = ledger
    assert run("confirm", path, ids["P04"], "--found-at-m", 61.3, "--dug-on", "2026-11-04").exit_code == 0
    r = run("confirm", path, ids["P04b"], "--found-at-m", 62.0, "--dug-on", "2026-11-06")
    assert r.exit_code == 0 and f"the same leak as suspect {ids['P04']}" in r.stdout
    assert run("confirm", path, ids["P03"], "--no-leak").exit_code == 0
    st = json.loads(run("stats", path, "--json").stdout)
    assert (st["dug"], st["leaks_found"], st["no_leak"], st["repeat_digs"]) == (3, 1, 1, 1)
    assert st["hit_rate"] == pytest.approx(0.5)
    leak = st["leaks"][0]
    assert leak["located_by"] == ids["P04"] and sorted(leak["suspect_ids"]) == sorted([ids["P04"], ids["P04b"]])
    assert leak["error_m"] == pytest.approx(0.3) and st["payable"]["count"] == 1
    assert "repeat digs of a found leak: 1" in run("stats", path).stdout


def test_one_leak_across_a_node(ledger):
    path, ids, net = ledger
    # P01 ends at N2 where P02 starts: found 1.5 m before N2 on P01 and 1.0 m after it on P02
    p01 = net.network.pipes["P01"]
    assert run("confirm", path, ids["P01"], "--found-at-m", 1.5, "--from-node", p01.end_node).exit_code == 0
    assert run("confirm", path, ids["P02"], "--found-at-m", 1.0).exit_code == 0
    st = json.loads(run("stats", path, "--json").stdout)
    assert st["leaks_found"] == 1 and st["repeat_digs"] == 1
    assert json.loads(run("stats", path, "--json", "--merge-m", 2).stdout)["leaks_found"] == 2


def test_entry_merge_across_areas(tmp_path):
    """Replays problem 4's cause: two areas' surveys place one leak 20 m apart on one pipe."""
    from acoustic.batch._store import commit_area_survey

    net = _net(network_folder(tmp_path / "d"))
    p = net.network.pipes["P04"]

    def survey(off, area):
        near = (p.start_node, off) if off <= p.length_m / 2 else (p.end_node, p.length_m - off)
        return {"areas": [], "lines": [], "points": [{
            "pipe_id": "P04", "offset_m": off, "x": 0.0, "y": 0.0, "interval_m": [off - 2.0, off + 2.0],
            "confidence": 0.9, "loggers": ["L01", "L02"], "pipe_length_m": p.length_m,
            "nearest_node": {"node_id": near[0], "distance_m": near[1]}}]}

    with Ledger(tmp_path / "l.db", create=True) as led:
        with led.transaction():
            c1 = commit_area_survey(led.conn, None, "north", "2026-11-03", survey(61.0, "north"), {}, None)
        with led.transaction():
            c2 = commit_area_survey(led.conn, None, "south", "2026-11-03", survey(81.0, "south"), {}, None)
        with led.transaction():  # the north survey again, its estimate moved by 6 m: the same suspect, updated
            c3 = commit_area_survey(led.conn, None, "north", "2026-11-04", survey(67.0, "north"), {}, None)
        rows = led.conn.execute("SELECT id, area, offset_m FROM suspects WHERE kind = 'point'").fetchall()
    assert c1["new"] == 1 and c2["new"] == 0 and c3["new"] == 0 and c3["superseded"] == 0
    assert [(r[1], r[2]) for r in rows] == [("north", 67.0)]


def test_tolerance_and_merge_options_checked(ledger):
    path, _, _ = ledger
    for bad in ("-1", "nan", "inf"):
        one_line_error(run("stats", path, "--tolerance-m", bad), "--tolerance-m")
    one_line_error(run("stats", path, "--tolerance-pct", "0"), "--tolerance-pct")
    one_line_error(run("stats", path, "--merge-m", "nan"), "--merge-m")


# -- 6. the report: only open suspects get dig sheets; filters by status and date ------------------------
def test_report_filters_and_closed_suspects_have_no_dig_sheet(ledger, tmp_path):
    from test_report import parse_html

    path, ids, net = ledger
    con = sqlite3.connect(path)
    con.execute("UPDATE suspects SET night = '2026-10-01' WHERE id = ?", (ids["P03"],))
    con.commit()
    con.close()
    assert run("confirm", path, ids["P04"], "--found-at-m", 61.3).exit_code == 0
    assert run("confirm", path, ids["P01"], "--no-leak").exit_code == 0
    out = tmp_path / "all"
    r = CliRunner().invoke(cli, ["report", "--ledger", str(path), "--out", str(out), "--json", "--max-suspects", "20"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert len(doc["suspects"]) == 5
    sheets = parse_html((out / "dig-sheets.html").read_text()).find_all("div", cls="digsheet")
    closed = {ids["P04"], ids["P01"]}
    assert len(sheets) == 3 and not any(f"ledger suspect {i})" in s.all_text() for s in sheets for i in closed)
    page = parse_html((out / "index.html").read_text())
    assert len(page.find_all("p", cls="closed")) == 2
    r = CliRunner().invoke(cli, ["report", "--ledger", str(path), "--out", str(tmp_path / "c"), "--json",
                                 "--status", "confirmed", "--status", "no_leak"])
    assert sorted(s["ledger_id"] for s in json.loads(r.stdout)["suspects"]) == sorted(closed)
    r = CliRunner().invoke(cli, ["report", "--ledger", str(path), "--out", str(tmp_path / "d"), "--json",
                                 "--until", "2026-10-15"])
    assert [s["ledger_id"] for s in json.loads(r.stdout)["suspects"]] == [ids["P03"]]
    r = CliRunner().invoke(cli, ["report", "--ledger", str(path), "--out", str(tmp_path / "e"), "--since", "2026-13-01"])
    assert r.exit_code == 2 and "--since" in r.stderr
    listed = json.loads(run("list", path, "--json", "--status", "open", "--since", "2026-11-01").stdout)
    assert sorted(x["id"] for x in listed) == sorted([ids["P04b"], ids["P02"]])
