"""`acoustic batch run`: what is new by content hash, duplicates, late files, sidecar corrections,
quarantine, stats uploads and logger scores, idempotence, the busy ledger, bad arguments.

These run the driver in-process (``--workers 0``); the engines are in test_batch_engines.py and
the killed / concurrent runs in test_batch_crash.py.
"""

import json
import os
import shutil
import sqlite3
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from acoustic.cli import cli
from acoustic.ledger import Ledger

T0 = datetime(2026, 11, 3, 2, 0, 0, 250000, tzinfo=timezone.utc)
OLD = time.time() - 3600.0  # mtime an hour ago: outside the hash cache's racy window


def write_rec(path, *, logger, start, seed, leak=False, sr=4000.0, duration=2.0, gain_db=None):
    """A simulated 2 s logger recording (+ sidecar) at ``path``."""
    from acoustic.io import write_recording
    from acoustic.simulate import simulate_recording

    sim = simulate_recording(leak_distance_m=15.0 if leak else None, noises=() if leak else ("traffic",),
                             sample_rate_hz=sr, duration_s=duration, sensor_id=logger, start_time=start,
                             seed=seed, gain_db=gain_db)
    write_recording(sim.recording, path)
    return path


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    """Six recordings: three loggers x two nights (made once for the module)."""
    root = tmp_path_factory.mktemp("recs")
    for i, logger in enumerate(["L1", "L2", "L3"]):
        for night in range(2):
            write_rec(root / logger / f"{logger}_n{night}.wav", logger=logger, start=T0 + timedelta(days=night),
                      seed=10 * i + night, leak=logger == "L2")
    return root


def make_upload(src, dst):
    shutil.copytree(src, dst)
    age(dst)
    return dst


def age(folder, when=OLD):
    for p in folder.rglob("*"):
        if p.is_file():
            os.utime(p, (when, when))


def run(*args, **kw):
    r = CliRunner().invoke(cli, ["batch", "run", *map(str, args)], **kw)
    return r


def run_json(upload, ledger, *extra):
    r = run(upload, "--ledger", ledger, "--jobs", 0, "--no-model", "--json", *extra)
    assert r.exit_code in (0, 3), r.output
    return r, json.loads(r.stdout)


def dump(ledger) -> dict:
    """Every row of every table except the per-run batch log (for idempotence checks)."""
    con = sqlite3.connect(ledger)
    out = {}
    for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT IN "
                               "('batches', 'sqlite_sequence') ORDER BY name"):
        out[name] = sorted(map(repr, con.execute(f"SELECT * FROM {name}").fetchall()))
    con.close()
    return out


def q(ledger, sql, *args):
    con = sqlite3.connect(ledger)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def test_first_run_then_rerun_changes_nothing(recordings, tmp_path):
    up = make_upload(recordings, tmp_path / "up")
    (up / "junk.wav").write_bytes(b"this is not audio" * 50)
    (up / "empty.wav").write_bytes(b"")
    shutil.copy2(up / "L1" / "L1_n0.wav", up / "copy_of_L1.wav")       # the same audio and sidecar
    shutil.copy2(up / "L1" / "L1_n0.json", up / "copy_of_L1.json")
    (up / ".L9_upload.wav.part").write_bytes(b"partial")               # an upload in progress: skipped
    age(up)
    ledger = tmp_path / "ledger.db"

    r, s = run_json(up, ledger)
    assert r.exit_code == 3                                            # completed with failures
    assert s["status"] == "completed_with_failures" and s["exit_code"] == 3
    assert (s["files"], s["new"], s["failed"], s["duplicates"], s["unchanged"]) == (9, 8, 2, 1, 0)
    reasons = {os.path.basename(f["path"]): f["error"] for f in s["failures"]}
    assert "not a readable WAV or FLAC" in reasons["junk.wav"] and "empty" in reasons["empty.wav"]
    assert "quarantined" in r.stderr and "junk.wav" in r.stderr      # reported as it happens, on stderr
    assert s["logger_scores_updated"] == 3

    rows = q(ledger, "SELECT status, count(*) FROM recordings GROUP BY status")
    assert dict(rows) == {"ok": 6, "quarantined": 2}
    assert q(ledger, "SELECT count(*) FROM recording_features")[0][0] == 6
    bad = dict(q(ledger, "SELECT path, error FROM recordings WHERE status = 'quarantined'"))
    assert any("not a readable" in e for e in bad.values())
    # the duplicate is one sighting pointing at the original, not a second recording
    dup = q(ledger, "SELECT s.path, r.path FROM sightings s JOIN recordings r ON r.id = s.recording_id "
                    "WHERE s.kind = 'duplicate'")
    assert len(dup) == 1 and dup[0][0].endswith("copy_of_L1.wav") and dup[0][1].endswith("L1_n0.wav")
    # nightly level/spread derived from the recordings (stats.csv date convention: start + 12 h)
    nights = q(ledger, "SELECT logger_id, date, source FROM logger_nights ORDER BY logger_id, date")
    assert [n[:2] for n in nights[:2]] == [("L1", "2026-11-03"), ("L1", "2026-11-04")]
    assert all(n[2].startswith("recordings") for n in nights)

    before = dump(ledger)
    r2, s2 = run_json(up, ledger)
    assert r2.exit_code == 0 and s2["status"] == "completed"
    assert (s2["new"], s2["failed"], s2["duplicates"], s2["unchanged"]) == (0, 0, 0, 9)
    assert s2["hashed_files"] == 0                                      # unchanged files are not even read
    assert dump(ledger) == before                                       # nothing changed
    assert q(ledger, "SELECT status, n_new FROM batches ORDER BY id") == [("completed_with_failures", 8),
                                                                          ("completed", 0)]


def test_late_file_and_sidecar_correction(recordings, tmp_path):
    up = make_upload(recordings, tmp_path / "up")
    ledger = tmp_path / "ledger.db"
    run_json(up, ledger)
    n_before = q(ledger, "SELECT count(*) FROM recordings")[0][0]

    # a late file: a night older than everything so far, uploaded after
    write_rec(up / "L1" / "L1_late.wav", logger="L1", start=T0 - timedelta(days=3), seed=99)
    # a corrected sidecar: the same audio belongs to logger L4, not L3
    side = up / "L3" / "L3_n0.json"
    meta = json.loads(side.read_text())
    meta["sensor_id"] = "L4"
    side.write_text(json.dumps(meta))
    age(up)
    _, s = run_json(up, ledger)
    assert (s["new"], s["corrections"], s["unchanged"]) == (1, 1, 5)
    assert q(ledger, "SELECT count(*) FROM recordings")[0][0] == n_before + 1   # the correction adds no row
    row = q(ledger, "SELECT logger_id, revision FROM recordings WHERE path LIKE '%L3_n0.wav'")
    assert row == [("L4", 1)]
    late = q(ledger, "SELECT night, status FROM recordings WHERE path LIKE '%L1_late.wav'")
    assert late == [("2026-10-31", "ok")]
    assert ("L1", "2026-10-31") in q(ledger, "SELECT logger_id, date FROM logger_nights")
    assert {r[0] for r in q(ledger, "SELECT logger_id FROM logger_scores")} >= {"L1", "L3", "L4"}
    kinds = dict(q(ledger, "SELECT kind, count(*) FROM sightings GROUP BY kind"))
    assert kinds == {"new": 7, "correction": 1}

    before = dump(ledger)
    _, s = run_json(up, ledger)
    assert (s["new"], s["corrections"], s["unchanged"]) == (0, 0, 7) and dump(ledger) == before


def test_duplicates_within_and_across_runs(recordings, tmp_path):
    up = make_upload(recordings / "L1", tmp_path / "up")
    for name in ("a", "b"):                                             # two copies in the same upload
        shutil.copy2(up / "L1_n0.wav", up / f"{name}.wav")
        shutil.copy2(up / "L1_n0.json", up / f"{name}.json")
    # the same audio with a different sidecar in the same upload: processed after the original, as a correction
    shutil.copy2(up / "L1_n1.wav", up / "z_other.wav")
    meta = json.loads((up / "L1_n1.json").read_text())
    meta["gain_db"] = meta["gain_db"] + 6.0
    (up / "z_other.json").write_text(json.dumps(meta))
    age(up)
    ledger = tmp_path / "ledger.db"
    _, s = run_json(up, ledger)
    assert (s["new"], s["duplicates"], s["corrections"]) == (2, 2, 1)
    assert q(ledger, "SELECT count(*) FROM recordings")[0][0] == 2
    # a third copy arrives later: one more duplicate sighting, same recording
    shutil.copy2(up / "L1_n0.wav", up / "c.wav")
    shutil.copy2(up / "L1_n0.json", up / "c.json")
    age(up)
    _, s = run_json(up, ledger)
    assert (s["new"], s["duplicates"], s["unchanged"]) == (0, 1, 5)
    ids = {r[0] for r in q(ledger, "SELECT recording_id FROM sightings WHERE path LIKE '%L1_n0.wav' "
                                   "OR path LIKE '%/a.wav' OR path LIKE '%/b.wav' OR path LIKE '%/c.wav'")}
    assert len(ids) == 1


def test_bad_files_are_quarantined_and_the_run_goes_on(recordings, tmp_path):
    up = make_upload(recordings / "L2", tmp_path / "up")
    rng = np.random.default_rng(5)
    sf.write(up / "short.wav", 0.1 * rng.standard_normal(200), 4000)                    # shorter than one frame
    sf.write(up / "slow.wav", 0.1 * rng.standard_normal(4000), 500)                     # 500 Hz: unsupported rate
    x = 0.1 * rng.standard_normal(8000)
    x[::3] = np.nan
    sf.write(up / "nan.wav", x, 4000, subtype="FLOAT")                                  # NaN samples
    sf.write(up / "badside.wav", 0.1 * rng.standard_normal(8000), 4000)
    (up / "badside.json").write_text("{not json")                                      # corrupt sidecar
    data = (up / "L2_n0.wav").read_bytes()
    (up / "truncated.wav").write_bytes(data[: len(data) // 2])                          # usable, with a warning
    side = json.loads((up / "L2_n0.json").read_text())  # another recording (a later start): not a re-send of L2_n0
    side["start_time"] = "2026-11-05T02:00:00.000000Z"
    (up / "truncated.json").write_text(json.dumps(side))
    age(up)
    ledger = tmp_path / "ledger.db"
    r, s = run_json(up, ledger)
    assert r.exit_code == 3 and s["failed"] == 4 and s["new"] == 7
    err = dict((os.path.basename(p), e) for p, e in q(ledger, "SELECT path, error FROM recordings "
                                                              "WHERE status = 'quarantined'"))
    assert "at least one frame" in err["short.wav"]
    assert "500 Hz" in err["slow.wav"]
    assert "NaN" in err["nan.wav"]
    assert "sidecar is not valid JSON" in err["badside.wav"]
    ok = q(ledger, "SELECT status, warnings_json FROM recordings WHERE path LIKE '%truncated.wav'")
    assert ok[0][0] == "ok" and "truncated" in ok[0][1]
    # a quarantined file is not retried while it is unchanged ...
    _, s = run_json(up, ledger)
    assert (s["new"], s["failed"]) == (0, 0)
    # ... but a fixed sidecar is a correction, processed again
    (up / "badside.json").write_text(json.dumps({"sensor_id": "L2", "sensor_kind": "hydrophone",
                                                  "start_time": "2026-11-03T02:00:00Z", "gain_db": 0.0}))
    age(up)
    _, s = run_json(up, ledger)
    assert (s["corrections"], s["failed"]) == (1, 0)
    assert q(ledger, "SELECT status, error FROM recordings WHERE path LIKE '%badside.wav'") == [("ok", None)]


def _stats_csv(path, rows):
    path.write_text("logger_id,date,level,spread\n" + "".join(f"{a},{b},{c},{d}\n" for a, b, c, d in rows))


def test_stats_uploads_update_nights_and_scores(tmp_path):
    up = tmp_path / "up"
    up.mkdir()
    rng = np.random.default_rng(7)
    day0 = datetime(2026, 9, 1)
    rows = []
    for d in range(30):
        date = (day0 + timedelta(days=d)).date().isoformat()
        step = 12.0 if d >= 22 else 0.0                                   # a leak appears on night 22
        rows.append(("LK", date, round(40.0 + step + rng.normal(0, 0.7), 2), round(3.0 + rng.normal(0, 0.3), 2)))
        rows.append(("QT", date, round(35.0 + rng.normal(0, 0.7), 2), round(6.0 + rng.normal(0, 0.3), 2)))
    _stats_csv(up / "stats.csv", rows)
    (up / "broken_stats.csv").write_text("logger_id,date,level\nX,2026-09-01,3\n")        # no spread column
    shutil.copy2(up / "stats.csv", up / "dup_stats.csv")                                 # a copy in the same upload
    age(up)
    ledger = tmp_path / "ledger.db"
    r, s = run_json(up, ledger)
    assert r.exit_code == 3 and s["stats_files_new"] == 2 and s["failed"] == 1 and s["duplicates"] == 1, s
    assert "spread" in q(ledger, "SELECT error FROM stats_files WHERE status = 'quarantined'")[0][0]
    assert q(ledger, "SELECT count(*) FROM logger_nights")[0][0] == 60
    scores = {r[0]: r[1:] for r in q(ledger, "SELECT logger_id, as_of, alarm, reasons_json FROM logger_scores")}
    assert scores["LK"][0] == "2026-09-30" and scores["LK"][1] == 1 and "level rose" in scores["LK"][2]
    assert scores["QT"][1] == 0
    # the same file under two more names, in one upload: recorded once, two duplicate sightings
    shutil.copy2(up / "stats.csv", up / "copy1_stats.csv")
    shutil.copy2(up / "stats.csv", up / "copy2_stats.csv")
    _, s = run_json(up, ledger)
    assert (s["stats_files_new"], s["duplicates"], s["unchanged"]) == (0, 2, 3)
    assert q(ledger, "SELECT count(*) FROM sightings WHERE kind = 'stats_duplicate'")[0][0] == 3
    # a later upload corrects one night: that row changes, the logger is re-scored
    _stats_csv(up / "late_stats.csv", [("QT", "2026-09-30", 35.1, 6.1), ("QT", "2026-10-01", 35.2, 6.0)])
    age(up)
    _, s = run_json(up, ledger)
    assert s["stats_files_new"] == 1 and s["logger_nights_changed"] == 2
    assert q(ledger, "SELECT level, source FROM logger_nights WHERE logger_id='QT' AND date='2026-09-30'")[0][0] == 35.1
    assert ("QT", "2026-10-01") in q(ledger, "SELECT logger_id, as_of FROM logger_scores")


def test_busy_ledger_refused_or_waited_for(recordings, tmp_path):
    up = make_upload(recordings / "L1", tmp_path / "up")
    ledger = tmp_path / "ledger.db"
    holder = Ledger(ledger, create=True)
    holder.acquire_writer()
    r = run(up, "--ledger", ledger, "--jobs", 0, "--no-model")
    assert r.exit_code == 4 and "another batch" in r.stderr and "Traceback" not in r.output
    assert len(r.stderr.strip().splitlines()) == 1
    r = run(up, "--ledger", ledger, "--jobs", 0, "--no-model", "--wait", 0.3)
    assert r.exit_code == 4
    holder.close()
    r = run(up, "--ledger", ledger, "--jobs", 0, "--no-model", "--wait", 0.3)
    assert r.exit_code == 0, r.output
    assert q(ledger, "SELECT count(*) FROM recordings")[0][0] == 2


def test_bad_arguments_give_one_line_errors(tmp_path, recordings):
    ledger = tmp_path / "ledger.db"
    cases = [
        ((tmp_path / "nope", "--ledger", ledger), "UPLOAD_DIR"),
        ((recordings, "--ledger", ledger, "--jobs", -1, "--no-model"), "--jobs"),
        ((recordings, "--ledger", ledger, "--model", tmp_path / "nomodel"), "model not found"),
        ((recordings, "--ledger", ledger, "--model", tmp_path, "--no-model"), "not both"),
        ((recordings, "--ledger", ledger, "--chunk-size", 0, "--no-model"), "--chunk-size"),
        ((recordings, "--ledger", ledger, "--survey", tmp_path / "nosurvey", "--no-model"), "survey folder not found"),
    ]
    for args, msg in cases:
        r = run(*args)
        assert r.exit_code == 2, (args, r.output)
        assert msg in r.stderr and "Traceback" not in r.output
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"garbage" * 200)
    r = run(recordings, "--ledger", junk, "--no-model", "--jobs", 0)
    assert r.exit_code == 2 and "not a ledger database" in r.stderr


def test_hash_cache_and_touched_files(recordings, tmp_path):
    up = make_upload(recordings / "L3", tmp_path / "up")
    ledger = tmp_path / "ledger.db"
    _, s = run_json(up, ledger)
    assert s["hashed_files"] == 4                                        # two recordings + two sidecars
    os.utime(up / "L3_n0.wav", (OLD + 60, OLD + 60))                     # touched, content unchanged
    _, s = run_json(up, ledger)
    assert (s["hashed_files"], s["hash_cache_hits"], s["unchanged"], s["new"]) == (1, 3, 2, 0)
    _, s = run_json(up, ledger, "--rehash")
    assert (s["hashed_files"], s["unchanged"]) == (4, 2)
    # content changed in place (same name, same logger and start): a re-sent recording replaces the
    # earlier record (issue 19); the earlier version is kept in recording_history
    write_rec(up / "L3_n0.wav", logger="L3", start=T0, seed=1234)
    age(up, OLD + 120)
    _, s = run_json(up, ledger)
    assert (s["new"], s["replaced"]) == (0, 1) and q(ledger, "SELECT count(*) FROM recordings")[0][0] == 2
    assert q(ledger, "SELECT count(*) FROM recording_history")[0][0] == 1


def _sigterm_on_third_chunk(items, options, _calls=[]):
    """A recording task that delivers SIGTERM to this (driver) process while processing its third chunk."""
    import signal

    from acoustic.batch._work import process_recordings

    _calls.append(1)
    if len(_calls) == 3:
        os.kill(os.getpid(), signal.SIGTERM)
    return process_recordings(items, options)


def test_sigterm_interrupts_and_the_next_run_finishes(recordings, tmp_path):
    """SIGTERM in-process (the SIGKILL case is in test_batch_crash.py): committed work stays, the rest follows."""
    from acoustic.batch import BatchInterrupted, run_batch

    up = make_upload(recordings, tmp_path / "up")
    ledger = tmp_path / "ledger.db"
    with pytest.raises(BatchInterrupted, match="SIGTERM"):
        run_batch(up, ledger, workers=0, model=None, chunk_size=1, _recording_task=_sigterm_on_third_chunk)
    done = q(ledger, "SELECT count(*) FROM recordings")[0][0]
    assert done == 2                                                      # the third chunk was not committed
    assert q(ledger, "SELECT status FROM batches") == [("interrupted",)]
    assert q(ledger, "SELECT count(*) FROM recording_features")[0][0] == done
    assert q(ledger, "SELECT count(*) FROM sightings")[0][0] == done
    assert q(ledger, "SELECT count(*) FROM pending WHERE kind = 'logger'")[0][0] >= 1   # scores still owed
    s = run_batch(up, ledger, workers=0, model=None)
    assert (s.new, s.unchanged, s.status) == (6 - done, done, "completed")
    assert q(ledger, "SELECT count(*) FROM recordings")[0][0] == 6
    assert q(ledger, "SELECT count(*) FROM pending")[0][0] == 0
    assert q(ledger, "SELECT status FROM batches ORDER BY id") == [("interrupted",), ("completed",)]


def test_batch_status_lists_runs_quarantine_and_pending(recordings, tmp_path):
    up = make_upload(recordings / "L1", tmp_path / "up")
    (up / "junk.wav").write_bytes(b"not audio at all" * 20)
    age(up)
    ledger = tmp_path / "ledger.db"
    run_json(up, ledger)
    run_json(up, ledger)
    r = CliRunner().invoke(cli, ["batch", "status", str(ledger), "--json"])
    assert r.exit_code == 0, r.output
    st = json.loads(r.stdout)
    assert [b["status"] for b in st["batches"]] == ["completed", "completed_with_failures"]
    assert st["recordings"] == {"ok": 2, "quarantined": 1} and st["pending"] == {"logger": 0, "area": 0}
    assert st["quarantined"][0]["path"].endswith("junk.wav") and "not a readable" in st["quarantined"][0]["error"]
    human = CliRunner().invoke(cli, ["batch", "status", str(ledger)])
    assert "quarantined: " in human.output and "2 ok, 1 quarantined" in human.output
    r = CliRunner().invoke(cli, ["batch", "status", str(tmp_path / "none.db")])
    assert r.exit_code == 2 and "ledger not found" in r.stderr


def test_loggers_missing_from_the_survey_are_reported(recordings, tmp_path):
    up = make_upload(recordings / "L1", tmp_path / "up")
    sv = tmp_path / "sv"
    sv.mkdir()
    (sv / "network.geojson").write_text('{"type": "FeatureCollection", "features": []}')
    (sv / "loggers.csv").write_text("logger_id,node_id,area\nL7,N1,north\n")
    r, s = run_json(up, tmp_path / "ledger.db", "--survey", sv)
    assert r.exit_code == 0 and s["areas_surveyed"] == 0
    assert any("not in the survey's loggers.csv" in w and "L1" in w for w in s["warnings"])
    assert "Warning: 1 logger(s) with new recordings are not in the survey's loggers.csv" in r.stderr
    r = run(up, "--ledger", tmp_path / "l2.db", "--no-model", "--survey", recordings)
    assert r.exit_code == 2 and "no network.inp" in r.stderr


def test_progress_stages_have_fixed_totals(recordings, tmp_path):
    """Issue 21 item 4: one stage over every file found (no denominator that grows as work is queued),
    shown with --progress even when stderr is not a terminal; --quiet and the default (no terminal) hide it."""
    import re

    up = make_upload(recordings, tmp_path / "up")
    (up / "L1" / "again.wav").write_bytes((up / "L1" / "L1_n0.wav").read_bytes())  # a duplicate: settled, no work
    shutil.copy(up / "L1" / "L1_n0.json", up / "L1" / "again.json")
    age(up)
    r = run(up, "--ledger", tmp_path / "l.db", "--jobs", 0, "--no-model", "--chunk-size", 1, "--progress")
    assert r.exit_code == 0, r.output
    counts = re.findall(r"batch: processing uploads (\d+)/(\d+)", r.stderr)
    assert counts and {t for _, t in counts} == {"7"} and counts[-1][0] == "7"
    assert [int(d) for d, _ in counts] == sorted(int(d) for d, _ in counts)
    assert "batch: scoring loggers 3/3" in r.stderr
    quiet = run(up, "--ledger", tmp_path / "l2.db", "--jobs", 0, "--no-model", "--progress", "--quiet")
    assert "processing uploads" not in quiet.stderr and "batch: found" not in quiet.stderr
    default = run(up, "--ledger", tmp_path / "l3.db", "--jobs", 0, "--no-model", env={"ACOUSTIC_PROGRESS": None})
    assert "processing uploads" not in default.stderr and "batch: found 7 recording(s)" in default.stderr


def test_old_spellings_work_one_release(recordings, tmp_path, monkeypatch):
    """--workers (now -j/--jobs) and 'batch status LEDGER' (now -l/--ledger, $ACOUSTIC_LEDGER) still work, with a warning."""
    up = make_upload(recordings / "L1", tmp_path / "up")
    ledger = tmp_path / "ledger.db"
    r = run(up, "--ledger", ledger, "--workers", 0, "--no-model", "--json")
    assert r.exit_code == 0, r.output
    assert "--workers is deprecated" in r.stderr and "use --jobs" in r.stderr
    doc = json.loads(r.stdout)
    assert doc["schema"] == "acoustic.batch.run/1" and doc["ledger"] == str(ledger.resolve())
    assert doc["upload_dir"] == str(up.resolve()) and doc["elapsed_s"] == doc["seconds"]
    old = CliRunner().invoke(cli, ["batch", "status", str(ledger), "--json"])
    assert old.exit_code == 0 and "is deprecated" in old.stderr
    monkeypatch.setenv("ACOUSTIC_LEDGER", str(ledger))
    new = CliRunner().invoke(cli, ["batch", "status", "--json"])
    assert new.exit_code == 0 and json.loads(new.stdout) == json.loads(old.stdout) and new.stderr == ""
