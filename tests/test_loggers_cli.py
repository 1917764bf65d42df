"""``acoustic loggers stats|score`` through click's CliRunner."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pytest
from click.testing import CliRunner

from acoustic.cli import cli
from acoustic.io import write_recording
from acoustic.loggers import read_stats, simulate_logger, write_stats
from acoustic.recording import Recording


@pytest.fixture
def survey(tmp_path, rng):
    """Two loggers, two nights, two short recordings per night; logger B is 12 dB louder on night 2."""
    fs = 4000.0
    for lid, amps in (("A", (0.01, 0.01)), ("B", (0.01, 0.04))):
        for night, amp in enumerate(amps):
            for k in range(2):
                t = datetime(2026, 11, 3 + night, 2 + k, 0, tzinfo=timezone.utc)
                rec = Recording(amp * rng.standard_normal(int(2 * fs)), fs, sensor_id=lid, start_time=t, gain_db=0.0)
                write_recording(rec, tmp_path / "recordings" / lid / f"{lid}_{night}_{k}.wav")
    return tmp_path


def test_stats_from_folder(survey):
    out = survey / "stats.csv"
    r = CliRunner().invoke(cli, ["loggers", "stats", str(survey / "recordings"), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "4 logger-night(s) from 8 recording(s), 2 logger(s)" in r.stderr
    rows = read_stats(out)
    assert [(x.logger_id, x.date.isoformat()) for x in rows] == [
        ("A", "2026-11-03"), ("A", "2026-11-04"), ("B", "2026-11-03"), ("B", "2026-11-04")]
    assert rows[3].level - rows[2].level == pytest.approx(20 * np.log10(4), abs=0.3)
    assert rows[0].extra["n_recordings"] == "2"
    header = out.read_text().splitlines()[0]
    assert header == "logger_id,date,level,spread,l10,l90,l95,mode,n_blocks,n_recordings,duration_s"


def test_stats_to_stdout_and_json(survey):
    r = CliRunner().invoke(cli, ["loggers", "stats", str(survey / "recordings" / "A")])
    assert r.exit_code == 0 and r.stdout.startswith("logger_id,date,level,spread")
    r = CliRunner().invoke(cli, ["loggers", "stats", str(survey / "recordings" / "A"), "--json"])
    doc = json.loads(r.stdout)
    assert len(doc) == 2 and doc[0]["logger_id"] == "A" and doc[0]["date"] == "2026-11-03"


def test_stats_bad_recordings(survey, rng):
    bad = survey / "recordings" / "A" / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    nostart = write_recording(Recording(0.1 * rng.standard_normal(8000), 4000.0, sensor_id="C"),
                              survey / "recordings" / "C" / "c.wav")
    r = CliRunner().invoke(cli, ["loggers", "stats", str(survey / "recordings"), "--out", str(survey / "s.csv")])
    assert r.exit_code == 1
    assert "broken.wav: not a readable WAV or FLAC file" in r.stderr
    assert f"{nostart.name}: sidecar has no start_time" in r.stderr
    assert "completed with failures: 2 of 10 recording(s)" in r.stderr
    assert len(read_stats(survey / "s.csv")) == 4
    r = CliRunner().invoke(cli, ["loggers", "stats", str(survey / "nothing_here")])
    assert r.exit_code == 2 and "Error: nothing_here: file not found" in r.stderr.replace(str(survey) + "/", "")


@pytest.fixture
def history(tmp_path, rng):
    rows = []
    for i, kind in enumerate(("leak", "prv", "traffic", "quiet")):
        r, _ = simulate_logger(kind, rng, n_nights=40, n_blocks=240, logger_id=f"L{i}", leak_db=10.0, onset=30)
        rows += r
    p = tmp_path / "stats.csv"
    write_stats(rows, p)
    return p


def test_score_json(history):
    r = CliRunner().invoke(cli, ["loggers", "score", str(history), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert [d["logger_id"] for d in doc][0] == "L0"
    assert doc[0]["alarm"] is True and doc[0]["score"] >= 0.5 and doc[0]["nights_used"] == 40
    assert all(not d["alarm"] for d in doc[1:])
    assert [d["score"] for d in doc] == sorted((d["score"] for d in doc), reverse=True)
    assert all(isinstance(d["reasons"], list) and d["reasons"] for d in doc)


def test_score_as_of_and_table(history):
    as_of = (date(2026, 9, 1) + timedelta(days=29)).isoformat()   # the night before the leak
    r = CliRunner().invoke(cli, ["loggers", "score", str(history), "--as-of", as_of, "--json"])
    doc = json.loads(r.stdout)
    assert not any(d["alarm"] for d in doc) and all(d["nights_used"] == 30 for d in doc)
    r = CliRunner().invoke(cli, ["loggers", "score", str(history)])
    assert r.exit_code == 0 and "as of 2026-10-10: 1 alarm(s) among 4 logger(s)" in r.stdout


@pytest.mark.parametrize("args,match", [
    (["--as-of", "10/10/2026"], "Error: --as-of must be a date YYYY-MM-DD, got '10/10/2026'"),
])
def test_score_bad_arguments(history, args, match):
    r = CliRunner().invoke(cli, ["loggers", "score", str(history), *args])
    assert r.exit_code == 2 and match in r.stderr


def test_score_bad_files(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("logger_id,date,level\nL1,2026-11-03,40\n")
    r = CliRunner().invoke(cli, ["loggers", "score", str(p), "--json"])
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.strip().splitlines()[-1].startswith("Error: ") and "missing column(s) spread" in r.stderr
    p.write_text("logger_id,date,level,spread\nL1,2026-11-03,40,3\nL1,2026-11-03,41,3\n")
    r = CliRunner().invoke(cli, ["loggers", "score", str(p)])
    assert r.exit_code == 2 and "line 3 repeats logger L1 night 2026-11-03" in r.stderr
    r = CliRunner().invoke(cli, ["loggers", "score", str(tmp_path / "none.csv")])
    assert r.exit_code == 2 and "none.csv: file not found" in r.stderr


def test_simulate_then_score(tmp_path):
    out, truth, visits = tmp_path / "sim.csv", tmp_path / "truth.json", tmp_path / "visits.csv"
    r = CliRunner().invoke(cli, ["loggers", "simulate", "--loggers", "60", "--areas", "2", "--nights", "30",
                                 "--seed", "3", "--out", str(out), "--truth", str(truth), "--visits", str(visits)])
    assert r.exit_code == 0, r.output
    assert "logger-nights of 60 logger(s) in 2 area(s)" in r.stderr
    t = json.loads(truth.read_text())
    assert {v["area"] for v in t.values()} == {"A0", "A1"}
    assert any(v["leak_onset"] == "before" for v in t.values())
    rows = read_stats(out)
    assert {r.extra["area"] for r in rows} == {"A0", "A1"} and all(r.extra["model"] for r in rows)
    assert visits.read_text().startswith("logger_id,date,leak_found\n")
    doc = json.loads(CliRunner().invoke(cli, ["loggers", "score", str(out), "--json"]).stdout)
    assert {d["logger_id"] for d in doc} == set(t)
    assert all(d["schema"] == "acoustic.loggers.score/1" and d["stats_file"] == str(out) for d in doc)
    leak = [d["score"] for d in doc if t[d["logger_id"]]["category"] == "leak_old"]
    quiet = [d["score"] for d in doc if t[d["logger_id"]]["category"] == "quiet"]
    assert np.median(leak) > np.median(quiet)
    r = CliRunner().invoke(cli, ["loggers", "simulate", "--start", "1 Sept", "--out", str(out)])
    assert r.exit_code == 2 and "must be a date YYYY-MM-DD" in r.stderr


def test_evaluate_small(tmp_path):
    r = CliRunner().invoke(cli, ["loggers", "evaluate", "--loggers", "60", "--areas", "2", "--nights", "30",
                                 "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["schema"] == "acoustic.loggers.evaluate/1" and doc["n_loggers"] == 60
    for k in ("all", "pre_existing", "new", "stale"):
        assert set(doc[k]) >= {"auc", "detection", "false_alarm", "n_leak", "n_no_leak"}
    assert doc["empty_scores"] == 0 and doc["pre_existing"]["auc"] > 0.6
    r = CliRunner().invoke(cli, ["loggers", "evaluate", "--nights", "40", "--window", "35"])
    assert r.exit_code == 2
