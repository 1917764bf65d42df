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
    ref = run_survey(sv, model=None, areas=[area]).to_json()
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
