"""Review of the payment statistics (issues 20 and 22): one leak is paid once whatever the period a
statement covers, the merge rule is the documented one (within 5 m and 30 days of the dig that
found the leak, not a chain of digs), and a correction of one dig does not change which dig located
its leak.

The ledgers are made as in ``test_ledger_outcomes`` (a batch naming the sample district, point
suspects carrying the survey's record).
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from test_ledger_outcomes import _net, add_point, network_folder

from acoustic.cli import cli
from acoustic.ledger import Ledger, utc_now


def run(command, ledger, *args):
    """``acoustic ledger COMMAND -l LEDGER ARGS``."""
    return CliRunner().invoke(cli, ["ledger", command, "-l", str(ledger), *map(str, args)])


def stats(path, *args) -> dict:
    r = run("stats", path, "--json", *args)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


@pytest.fixture
def p04(tmp_path):
    """Four point suspects on pipe P04 (north and south areas), at 61, 64, 61.5 and 66 m."""
    sv = network_folder(tmp_path / "district")
    net = _net(sv)
    path = tmp_path / "ledger.db"
    with Ledger(path, create=True) as led, led.transaction() as con:
        bid = con.execute("INSERT INTO batches(started_utc, upload_dir, status, params_json) VALUES (?, 'up', "
                          "'completed', ?)", (utc_now(), json.dumps({"survey_dir": str(sv)}))).lastrowid
        ids = [add_point(con, f"k{k}", "P04", off, area=area, net=net, batch=bid)
               for k, (off, area) in enumerate([(61.0, "north"), (64.0, "south"), (61.5, "north"), (66.0, "south")])]
    return path, ids, net


def test_a_leak_is_paid_once_across_monthly_statements(p04):
    """Found on 28 January, found again by another suspect on 3 February: January pays it, February
    has a repeat dig and nothing to pay; the two statements add up to the whole history."""
    path, ids, _ = p04
    assert run("confirm", path, ids[0], "--found-at-m", 60.5, "--dug-on", "2026-01-28").exit_code == 0
    assert run("confirm", path, ids[1], "--found-at-m", 63.8, "--dug-on", "2026-02-03").exit_code == 0
    jan = stats(path, "--since", "2026-01-01", "--until", "2026-01-31")
    feb = stats(path, "--since", "2026-02-01", "--until", "2026-02-28")
    whole = stats(path)
    assert (whole["leaks_found"], whole["repeat_digs"], whole["payable"]["count"]) == (1, 1, 1)
    assert (jan["leaks_found"], jan["repeat_digs"], jan["payable"]["count"]) == (1, 0, 1)
    assert (feb["dug"], feb["leaks_found"], feb["repeat_digs"], feb["payable"]["count"]) == (1, 0, 1, 0)
    assert feb["hit_rate"] is None                      # a repeat dig is neither a hit nor a miss
    assert jan["leaks"][0]["leak_id"] == whole["leaks"][0]["leak_id"]   # leak ids do not depend on the period


def test_report_contractor_summary_of_a_month_agrees(p04):
    from acoustic.report import contractor_summary

    path, ids, _ = p04
    assert run("confirm", path, ids[0], "--found-at-m", 60.5, "--dug-on", "2026-01-28").exit_code == 0
    assert run("confirm", path, ids[1], "--found-at-m", 63.8, "--dug-on", "2026-02-03").exit_code == 0
    with Ledger(path, readonly=True) as led:
        feb = contractor_summary(led, since="2026-02-01", until="2026-02-28")
    assert feb["stats"]["payable"]["count"] == 0 and [d["counts"] for d in feb["digs"]] == [False]
    assert feb["digs"][0]["leak_id"] == 1                 # the repeat dig names the leak it found again


def test_grade_counts_a_leak_in_the_period_it_was_found(p04):
    from acoustic.ledger._grade import grade_pipes

    path, ids, net = p04
    assert run("confirm", path, ids[0], "--found-at-m", 60.5, "--dug-on", "2026-01-28").exit_code == 0
    assert run("confirm", path, ids[1], "--found-at-m", 63.8, "--dug-on", "2026-02-03").exit_code == 0
    with Ledger(path, readonly=True) as led:
        feb = grade_pipes(led, net, since="2026-02-01", until="2026-02-28")
        jan = grade_pipes(led, net, since="2026-01-01", until="2026-01-31")
    assert len(next(p for p in feb.pipes if p.pipe_id == "P04").leaks) == 0
    assert len(next(p for p in jan.pipes if p.pipe_id == "P04").leaks) == 1


def test_digs_do_not_chain_beyond_the_merge_distance(p04):
    """Digs at 60, 64.5 and 69 m on one day: the second is within 5 m of the first (the same leak),
    the third is 9 m from the dig that found that leak: another leak, not a link in a chain."""
    path, ids, _ = p04
    for sid, at in zip(ids[:3], (60.0, 64.5, 69.0)):
        assert run("confirm", path, sid, "--found-at-m", at, "--dug-on", "2026-03-02").exit_code == 0
    st = stats(path, "--tolerance-m", 10)
    assert (st["leaks_found"], st["repeat_digs"]) == (2, 1)
    assert sorted(len(lk["suspect_ids"]) for lk in st["leaks"]) == [1, 2]


def test_digs_do_not_chain_beyond_the_merge_days(p04):
    """The same place dug on 1 March, 26 March and 20 April: the April dig is 50 days after the leak
    was found (and repaired): a new leak, as the docs say, even though it is 25 days after the
    repeat dig."""
    path, ids, _ = p04
    for sid, day in zip(ids[:3], ("2026-03-01", "2026-03-26", "2026-04-20")):
        assert run("confirm", path, sid, "--found-at-m", 61.0, "--dug-on", day).exit_code == 0
    st = stats(path)
    assert (st["leaks_found"], st["repeat_digs"], st["payable"]["count"]) == (2, 1, 2)


def test_a_correction_does_not_change_which_dig_located_the_leak(p04):
    """Two digs of one leak on the same day: the one entered first located it (error 0.2 m, paid).
    Correcting its note-worthy details (an amend with the same position) keeps it the locating dig."""
    path, ids, _ = p04
    assert run("confirm", path, ids[0], "--found-at-m", 61.2, "--dug-on", "2026-03-02").exit_code == 0
    assert run("confirm", path, ids[3], "--found-at-m", 62.0, "--dug-on", "2026-03-02").exit_code == 0
    before = stats(path)
    assert before["leaks"][0]["located_by"] == ids[0] and before["payable"]["count"] == 1
    r = run("amend", path, ids[0], "--found-at-m", 61.2, "--reason", "crew name added", "--note", "crew 4")
    assert r.exit_code == 0, r.output
    after = stats(path)
    assert after["leaks"][0]["located_by"] == ids[0] and after["payable"]["count"] == 1


def test_confirm_names_the_same_leak_by_the_stats_rule(p04):
    """'the same leak as' printed by confirm is the statistics' grouping (no chain)."""
    path, ids, _ = p04
    assert run("confirm", path, ids[0], "--found-at-m", 60.0, "--dug-on", "2026-03-02").exit_code == 0
    assert run("confirm", path, ids[1], "--found-at-m", 64.5, "--dug-on", "2026-03-02").exit_code == 0
    r = run("confirm", path, ids[2], "--found-at-m", 69.0, "--dug-on", "2026-03-02", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["same_leak_as"] == []


def test_a_distance_from_the_other_end_is_not_taken_silently(tmp_path):
    """Problem 3 replayed as the crew first typed it: the sheet says 'dig 2.0 m from node N2' (the
    end node of P01) and the crew enters 2.0 without --from-node.  Taken from the start node it would
    record a 144 m error; the tool asks which node instead, and takes it with --from-node."""
    sv = network_folder(tmp_path / "district")
    net = _net(sv)
    path = tmp_path / "ledger.db"
    with Ledger(path, create=True) as led, led.transaction() as con:
        bid = con.execute("INSERT INTO batches(started_utc, upload_dir, status, params_json) VALUES (?, 'up', "
                          "'completed', ?)", (utc_now(), json.dumps({"survey_dir": str(sv)}))).lastrowid
        sid = add_point(con, "k", "P01", 146.0, net=net, batch=bid)
        near = add_point(con, "n", "P04", 61.0, net=net, batch=bid)
    p01 = net.network.pipes["P01"]
    r = run("confirm", path, sid, "--found-at-m", 2.0)
    assert r.exit_code == 2 and r.stderr.startswith("Error: ") and "\n" not in r.stderr.strip(), r.output
    assert "--from-node" in r.stderr and p01.end_node in r.stderr and p01.start_node in r.stderr
    assert stats(path)["dug"] == 0
    r = run("confirm", path, sid, "--found-at-m", 2.0, "--from-node", p01.end_node, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["error_m"] == pytest.approx(abs(p01.length_m - 2.0 - 146.0))
    # a reading that fits the located interval from the start node is taken as before
    assert run("confirm", path, near, "--found-at-m", 60.4).exit_code == 0


def _survey(p, off: float) -> dict:
    """One area survey placing a point on pipe ``p`` at ``off`` m (as the batch's survey writes it)."""
    near = (p.start_node, off) if off <= p.length_m / 2 else (p.end_node, p.length_m - off)
    return {"areas": [], "lines": [], "points": [{
        "pipe_id": p.pipe_id, "offset_m": off, "x": 0.0, "y": 0.0, "interval_m": [off - 2.0, off + 2.0],
        "confidence": 0.9, "loggers": ["L01", "L02"], "pipe_length_m": p.length_m,
        "nearest_node": {"node_id": near[0], "distance_m": near[1]}}]}


@pytest.mark.parametrize("off", [61.5, 70.0])
def test_a_new_leak_near_a_repaired_one_becomes_a_suspect(tmp_path, off):
    """A leak found on 5 Nov is the suspect of points placed near it while it may still be heard (up
    to 30 days after the dig); a point there two months later is a new leak (the old one was
    repaired), not absorbed for ever by the confirmed suspect."""
    from acoustic.batch._store import commit_area_survey
    from acoustic.ledger._outcomes import confirm_suspect

    net = _net(network_folder(tmp_path / "d"))
    p = net.network.pipes["P04"]
    with Ledger(tmp_path / "l.db", create=True) as led:
        with led.transaction():
            commit_area_survey(led.conn, None, "north", "2026-11-03", _survey(p, 61.0), {}, None)
        (sid,) = led.conn.execute("SELECT id FROM suspects").fetchone()
        confirm_suspect(led, sid, found_at_m=61.2, net=net, dug_on="2026-11-05")
        with led.transaction():
            soon = commit_area_survey(led.conn, None, "north", "2026-11-20", _survey(p, off), {}, None)
        with led.transaction():
            later = commit_area_survey(led.conn, None, "north", "2027-01-20", _survey(p, off), {}, None)
        rows = led.conn.execute("SELECT id, status, offset_m FROM suspects ORDER BY id").fetchall()
    assert soon["new"] == 0 and later["new"] == 1
    assert [(r[1], r[2]) for r in rows] == [("confirmed", 61.0), ("open", off)]


def test_leak_rate_counts_only_the_years_the_ledger_watched(p04):
    """Leaks per km per year over --since 2016: the ledger holds eight months of monitoring, so the
    rate is over those months (the years before it had no monitoring: no leak could be found)."""
    from acoustic.ledger._grade import grade_pipes

    path, ids, net = p04
    assert run("confirm", path, ids[0], "--found-at-m", 60.5, "--dug-on", "2026-03-02").exit_code == 0
    with Ledger(path, readonly=True) as led:
        whole = grade_pipes(led, net)
        wide = grade_pipes(led, net, since="2016-01-01")
    rate = {p.pipe_id: p.leak_rate_per_km_year for p in whole.pipes}["P04"]
    assert {p.pipe_id: p.leak_rate_per_km_year for p in wide.pipes}["P04"] == pytest.approx(rate)
    assert wide.years == pytest.approx(whole.years) and wide.since == "2016-01-01"


def test_a_statement_may_end_after_today(p04):
    """The statement for this month, run mid-month: --until the month's last day is a filter, not a
    dig date, and may lie in the future (a dig date may not)."""
    import datetime as dt

    path, ids, _ = p04
    end = (dt.date.today() + dt.timedelta(days=40)).isoformat()
    assert stats(path, "--until", end)["period"]["until"] == end
    assert run("list", path, "--until", end).exit_code == 0
    r = run("confirm", path, ids[0], "--no-leak", "--dug-on", end)
    assert r.exit_code == 2 and "future" in r.stderr


def test_confirm_warns_when_the_located_point_moved_after_the_dig(p04):
    """A suspect never dispatched is re-located every night; its error is measured from where it is
    when the outcome is entered.  When a survey night after the dig moved it, confirm says so."""
    path, ids, _ = p04                                    # the suspects' latest survey night: 2026-11-03
    r = run("confirm", path, ids[0], "--found-at-m", 60.5, "--dug-on", "2026-11-01")
    assert r.exit_code == 0 and "night 2026-11-03" in r.stderr and "dispatch" in r.stderr, r.output
    assert run("dispatch", path, ids[1], "--crew", "c").exit_code == 0
    r = run("confirm", path, ids[1], "--found-at-m", 63.5, "--dug-on", "2026-11-01")
    assert r.exit_code == 0 and "moved" not in r.stderr, r.output
