"""The survey step of a batch: affected areas are surveyed from the ledger's recordings; the suspects
are what `acoustic survey` finds on the same recordings; reruns change nothing; a late file
re-surveys only its area and keeps the identity of suspects that are still found."""

import json
import os
import shutil
import sqlite3
import time

import pytest
from click.testing import CliRunner

from acoustic.cli import cli

try:  # the EPANET reader is the optional 'network' extra
    import wntr  # noqa: F401
except ImportError:
    wntr = None
needs_wntr = pytest.mark.skipif(wntr is None, reason="reads EPANET networks: needs the 'network' extra (wntr)")
pytestmark = needs_wntr


OLD = time.time() - 3600.0


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    from acoustic.survey import simulate_survey

    root = tmp_path_factory.mktemp("survey")
    sim = simulate_survey("district", root / "sv", leaks=1, seed=11, nights=2, duration_s=8.0)
    return root / "sv", sim.truth


def _age(folder):
    for p in folder.rglob("*"):
        if p.is_file():
            os.utime(p, (OLD, OLD))


def _run(up, ledger, sv):
    r = CliRunner().invoke(cli, ["batch", "run", str(up), "--ledger", str(ledger), "--survey", str(sv),
                                 "--jobs", "0", "--no-model", "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def _points(ledger, area):
    con = sqlite3.connect(ledger)
    rows = con.execute("SELECT id, pipe_id, offset_m, interval_lo_m, interval_hi_m, night FROM suspects "
                       "WHERE kind = 'point' AND area = ? AND superseded_utc IS NULL ORDER BY id", (area,)).fetchall()
    con.close()
    return rows


def test_batch_surveys_affected_areas_like_acoustic_survey(survey, tmp_path):
    from acoustic.survey import run_survey

    sv, truth = survey
    area = truth["leaks"][0]["areas"][0]
    other = ({lg["area"] for lg in truth["loggers"]} - {area}).pop()
    members = [lg["logger_id"] for lg in truth["loggers"] if lg["area"] == area]
    up = tmp_path / "up"
    for lid in members:                     # upload the leak's area only, one file held back (arrives late)
        shutil.copytree(sv / "recordings" / lid, up / lid)
    held_back = sorted((up / members[0]).glob("*.wav"))[-1]
    late = tmp_path / "late"
    late.mkdir()
    for p in (held_back, held_back.with_suffix(".json")):
        shutil.move(p, late / p.name)
    _age(up)
    ledger = tmp_path / "ledger.db"

    s = _run(up, ledger, sv)
    assert s["areas_surveyed"] == 1 and s["areas_failed"] == 0 and s["suspects_new"] > 0
    first = _points(ledger, area)

    # the same suspects as the survey of the same recordings
    for p in (held_back, held_back.with_suffix(".json")):
        shutil.copy2(late / p.name, p)
    _age(up)
    s2 = _run(up, ledger, sv)
    assert (s2["new"], s2["areas_surveyed"]) == (1, 1)                  # the late file re-surveys the area
    same = tmp_path / "same"                # the survey folder with the recordings the batch was given
    shutil.copytree(sv, same, ignore=shutil.ignore_patterns("recordings"))
    for lid in members:
        shutil.copytree(sv / "recordings" / lid, same / "recordings" / lid)
    ref = run_survey(same, model=None, areas=[area]).to_json()
    got = _points(ledger, area)
    assert ref["points"], "the survey of the full two nights finds the simulated leak"
    assert {p[5] for p in got} == {"2026-11-04"}                        # as of the latest night (start + 12 h)
    assert sorted((p[1], round(p[2], 2)) for p in got) == sorted((p["pipe_id"], p["offset_m"]) for p in ref["points"])
    con = sqlite3.connect(ledger)
    lines = con.execute("SELECT from_logger, to_logger, score FROM suspects WHERE kind = 'line' "
                        "AND superseded_utc IS NULL").fetchall()
    assert sorted(lines, key=lambda r: (-r[2], r[0], r[1])) == sorted(
        [(ln["from_logger"], ln["to_logger"], ln["score"]) for ln in ref["lines"] if ln["score"] > 0],
        key=lambda r: (-r[2], r[0], r[1]))
    assert con.execute("SELECT count(*) FROM pending").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM suspects WHERE area = ?", (other,)).fetchone()[0] == 0  # not affected
    con.close()
    # a place found by both surveys kept its suspect (same id); places no longer found are superseded
    for p in first:
        same = [g for g in got if g[1] == p[1] and abs(g[2] - p[2]) <= max(2.0, (p[4] - p[3]) / 2)]
        assert not same or same[0][0] == p[0]

    # the ledger commands read the batch's suspects
    r = CliRunner().invoke(cli, ["ledger", "list", str(ledger), "--kind", "point", "--json"])
    assert r.exit_code == 0 and len(json.loads(r.stdout)) == len(got)
    sid = got[0][0]
    r = CliRunner().invoke(cli, ["ledger", "confirm", str(ledger), str(sid), "--found-at-m", str(got[0][2] + 0.4)])
    assert r.exit_code == 0 and "location error 0.40 m" in r.output

    # nothing new: nothing changes, the confirmed suspect stays confirmed
    con = sqlite3.connect(ledger)
    before = con.execute("SELECT * FROM suspects ORDER BY id").fetchall()
    s3 = _run(up, ledger, sv)
    assert (s3["new"], s3["areas_surveyed"]) == (0, 0)
    assert con.execute("SELECT * FROM suspects ORDER BY id").fetchall() == before
    con.close()


def test_area_survey_window_starts_after_a_repair_and_takes_every_logger(tmp_path):
    """The window of an area survey leaves out the nights up to the area's last dig that found a
    leak (they hear the leak before its repair) and holds every logger's recordings (context)."""
    from acoustic.batch._survey import survey_task

    con = sqlite3.connect(":memory:")
    con.executescript(
        "CREATE TABLE recordings (id INTEGER PRIMARY KEY, logger_id TEXT, path TEXT, sha256 TEXT, "
        "sidecar_sha256 TEXT, status TEXT, night TEXT, start_time TEXT);"
        "CREATE TABLE logger_nights (logger_id TEXT, date TEXT, level REAL, spread REAL, source TEXT);"
        "CREATE TABLE suspects (id INTEGER PRIMARY KEY, area TEXT);"
        "CREATE TABLE outcomes (suspect_id INTEGER, leak_found INTEGER, dug_on TEXT);")
    nights = ["2026-11-0%d" % d for d in range(1, 8)]
    for lid in ("N1", "N2", "S1"):
        for n in nights:
            con.execute("INSERT INTO recordings(logger_id, path, sha256, sidecar_sha256, status, night, start_time) "
                        "VALUES (?, ?, ?, '', 'ok', ?, ?)", (lid, f"/u/{lid}-{n}.wav", f"{lid}{n}", n, n + "T02:00:00Z"))
    area_of = {"N1": "north", "N2": "north", "S1": "south"}

    def window():
        t = survey_task(con, tmp_path, area_of, "north", None, 7)
        return None if t is None else (t["first_night"], sorted({r[0] for r in t["recordings"]}),
                                       sorted({r[1][-14:-4] for r in t["recordings"]}))

    assert window() == ("2026-11-01", ["N1", "N2", "S1"], nights)
    con.execute("INSERT INTO suspects(id, area) VALUES (1, 'north'), (2, 'south'), (3, 'north')")
    con.execute("INSERT INTO outcomes VALUES (2, 1, '2026-11-05')")  # another area's repair: no change
    con.execute("INSERT INTO outcomes VALUES (3, 0, '2026-11-06')")  # a dry dig: no change
    assert window()[0] == "2026-11-01"
    con.execute("INSERT INTO outcomes VALUES (1, 1, '2026-11-04')")  # the area's leak found and repaired
    assert window() == ("2026-11-05", ["N1", "N2", "S1"], nights[4:])
    con.execute("UPDATE outcomes SET dug_on = '2026-11-07' WHERE suspect_id = 1")
    assert window() is None  # every night of the window is before the repair
