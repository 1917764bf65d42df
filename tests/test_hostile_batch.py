"""Hostile and unlucky uploads for ``acoustic batch run`` (issue 19): nothing hangs, nothing is silently
wrong, one bad file never blocks a night.

Runs that could hang (FIFOs, /dev/zero, a thousand workers, a bad scheduler address) are subprocesses
with a timeout, so a hang fails the test instead of stalling the suite; the others run in-process
with ``--workers 0``.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from acoustic.cli import cli

SRC = str(Path(__file__).resolve().parents[1] / "src")
T0 = datetime(2026, 11, 3, 2, 0, 0, tzinfo=timezone.utc)
OLD = datetime.now(timezone.utc).timestamp() - 3600.0  # outside the hash cache's racy window


def rec(path: Path, *, logger: str | None = "L1", start: datetime | None = T0, seconds: float = 2.0, seed: int = 0,
        sidecar: bool = True) -> Path:
    """A noise recording at 4 kHz (16-bit WAV) with its sidecar."""
    path.parent.mkdir(parents=True, exist_ok=True)
    x = 0.05 * np.random.default_rng(seed).standard_normal(int(4000 * seconds))
    sf.write(path, x, 4000, subtype="PCM_16")
    if sidecar:
        meta = {"sensor_id": logger, "sensor_kind": "hydrophone", "gain_db": 0.0}
        if start is not None:
            meta["start_time"] = start.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        path.with_suffix(".json").write_text(json.dumps(meta))
    return path


def age(folder: Path):
    for p in folder.rglob("*"):
        if p.is_file() and not p.is_symlink():
            os.utime(p, (OLD, OLD))


def run(upload: Path, ledger: Path, *extra):
    r = CliRunner().invoke(cli, ["batch", "run", str(upload), "--ledger", str(ledger), "--jobs", "0", "--no-model",
                                 "--json", *map(str, extra)])
    assert r.exit_code in (0, 3), r.output
    return r, json.loads(r.stdout)


def run_process(upload: Path, ledger: Path, *extra, timeout: float = 180.0):
    """``acoustic batch run`` in a subprocess that must end within ``timeout`` seconds."""
    return subprocess.run([sys.executable, "-c", "import sys; from acoustic.cli import main; main(sys.argv[1:])",
                           "batch", "run", str(upload), "--ledger", str(ledger),
                           "--no-model", *map(str, extra)], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": SRC})


def q(ledger: Path, sql: str, *args):
    con = sqlite3.connect(ledger)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


# -- special files never hang the batch ------------------------------------------------------------

def test_fifo_dev_zero_and_fifo_sidecar_are_quarantined_not_read(tmp_path):
    up = tmp_path / "up"
    rec(up / "L1" / "good.wav")
    os.mkfifo(up / "L1" / "fifo.wav")
    (up / "L1" / "zero.wav").symlink_to("/dev/zero")
    rec(up / "L2" / "b.wav", logger="L2")
    (up / "L2" / "b.json").unlink()
    os.mkfifo(up / "L2" / "b.json")
    os.mkfifo(up / "L3stats.csv")
    age(up)
    ledger = tmp_path / "ledger.db"
    r = run_process(up, ledger, "--jobs", "0")
    assert r.returncode == 3, r.stderr
    assert "Traceback" not in r.stderr
    assert "fifo.wav: file is a FIFO (named pipe), not a regular file" in r.stderr
    assert "zero.wav: file is a character device (symbolic link to /dev/zero), not a regular file" in r.stderr
    assert "b.json: sidecar is a FIFO (named pipe), not a regular file" in r.stderr
    assert "L3stats.csv: file is a FIFO (named pipe), not a regular file" in r.stderr
    assert "1 new" in r.stdout and "4 failed" in r.stdout
    # the next night: nothing new, nothing hangs, nothing failed again
    r = run_process(up, ledger, "--jobs", "0")
    assert r.returncode == 0 and "5 unchanged" in r.stdout, r.stdout + r.stderr


def test_special_files_on_the_process_pool_do_not_hang(tmp_path):
    up = tmp_path / "up"
    rec(up / "a.wav")
    os.mkfifo(up / "fifo.wav")
    (up / "zero.flac").symlink_to("/dev/zero")
    age(up)
    r = run_process(up, tmp_path / "ledger.db", "--jobs", "2")
    assert r.returncode == 3 and "1 new" in r.stdout and "2 failed" in r.stdout, r.stdout + r.stderr


# -- a name that is not UTF-8 ---------------------------------------------------------------------

def test_non_utf8_file_name_is_reported_alone_and_the_night_goes_on(tmp_path):
    up = tmp_path / "up"
    rec(up / "good.wav")
    raw_dir = os.fsencode(str(up))
    shutil.copyfile(up / "good.wav", raw_dir + b"/caf\xe9.wav")
    with open(raw_dir + b"/n\xe9_stats.csv", "w") as fh:
        fh.write("logger_id,date,level,spread\nL1,2026-11-03,40,3\n")
    age(up)
    ledger = tmp_path / "ledger.db"
    r, s = run(up, ledger)
    assert r.exit_code == 3 and (s["new"], s["failed"], s["files"]) == (1, 2, 3)
    errors = {p: e for p, e in q(ledger, "SELECT path, error FROM recordings WHERE status = 'quarantined' UNION ALL "
                                         "SELECT path, error FROM stats_files WHERE status = 'quarantined'")}
    assert set(errors) == {f"{up}/caf\\xe9.wav", f"{up}/n\\xe9_stats.csv"}
    assert all("file name is not valid UTF-8" in e for e in errors.values())
    r, s = run(up, ledger)
    assert r.exit_code == 0 and (s["unchanged"], s["failed"]) == (3, 0)


# -- re-sent and completed uploads replace the earlier record -------------------------------------

def test_half_upload_then_the_full_file_at_the_same_path_is_one_recording(tmp_path):
    up = tmp_path / "up"
    full = rec(tmp_path / "src" / "A.wav", seconds=12.0)
    (up).mkdir()
    shutil.copy(full.with_suffix(".json"), up / "A.json")
    data = full.read_bytes()
    (up / "A.wav").write_bytes(data[: 44 + 2 * int(4000 * 3.6)])  # 3.6 s arrived when the batch ran
    age(up)
    ledger = tmp_path / "ledger.db"
    _, s = run(up, ledger)
    assert s["new"] == 1
    (up / "A.wav").write_bytes(data)  # the upload completes
    age(up)
    r, s = run(up, ledger)
    assert (s["new"], s["replaced"], s["duplicates"]) == (0, 1, 0)
    assert "a re-sent or completed upload" in r.stderr
    rows = q(ledger, "SELECT duration_s, revision, night FROM recordings")
    assert rows == [(12.0, 1, "2026-11-03")]
    hist = q(ledger, "SELECT duration_s, reason FROM recording_history")
    assert len(hist) == 1 and hist[0][0] == pytest.approx(3.6) and "re-sent or completed upload" in hist[0][1]
    # the sightings keep both contents, and the next run changes nothing
    assert q(ledger, "SELECT count(*) FROM sightings")[0][0] == 2
    _, s = run(up, ledger)
    assert (s["unchanged"], s["new"], s["replaced"]) == (1, 0, 0)


def test_a_resend_elsewhere_replaces_when_longer_and_is_only_seen_when_shorter(tmp_path):
    up = tmp_path / "up"
    rec(up / "night1" / "A.wav", seconds=4.0, seed=1)
    age(up)
    ledger = tmp_path / "ledger.db"
    run(up, ledger)
    rec(up / "resent" / "A_again.wav", seconds=6.0, seed=2)          # same logger and start, longer
    age(up)
    r, s = run(up, ledger)
    assert (s["new"], s["replaced"]) == (0, 1)
    assert q(ledger, "SELECT path, duration_s FROM recordings") == [(str((up / "resent" / "A_again.wav").resolve()),
                                                                     6.0)]
    rec(up / "again" / "A_short.wav", seconds=3.0, seed=3)          # same logger and start, shorter
    age(up)
    r, s = run(up, ledger)
    assert (s["new"], s["replaced"], s["duplicates"]) == (0, 0, 1)
    assert "shorter than the 6 s already recorded" in r.stderr
    assert q(ledger, "SELECT count(*), max(duration_s) FROM recordings") == [(1, 6.0)]


def test_a_real_file_replaces_the_quarantined_entry_of_a_fifo_at_its_path(tmp_path):
    up = tmp_path / "up"
    up.mkdir()
    os.mkfifo(up / "A.wav")
    ledger = tmp_path / "ledger.db"
    _, s = run(up, ledger)
    assert s["failed"] == 1
    (up / "A.wav").unlink()
    rec(up / "A.wav")
    age(up)
    _, s = run(up, ledger)
    assert (s["replaced"], s["failed"]) == (1, 0)
    assert q(ledger, "SELECT status FROM recordings") == [("ok",)]


# -- a copy without its sidecar inherits nothing --------------------------------------------------

def test_a_sidecarless_copy_of_a_known_recording_is_matched_not_a_correction(tmp_path):
    up = tmp_path / "up"
    rec(up / "L1" / "A.wav", logger="L7")
    age(up)
    ledger = tmp_path / "ledger.db"
    run(up, ledger)
    before = q(ledger, "SELECT logger_id, start_time, night, revision FROM recordings")
    (up / "resend").mkdir()
    shutil.copy(up / "L1" / "A.wav", up / "resend" / "A.wav")  # without A.json
    age(up)
    r, s = run(up, ledger)
    assert (s["corrections"], s["matched_without_sidecar"], s["new"]) == (0, 1, 0)
    assert "no sidecar; the same audio as" in r.stderr and "matched to that recording" in r.stderr
    assert q(ledger, "SELECT logger_id, start_time, night, revision FROM recordings") == before
    assert before[0][0] == "L7" and before[0][2] == "2026-11-03"
    (up / "resend2").mkdir()
    shutil.copy(up / "L1" / "A.wav", up / "resend2" / "A.wav")
    age(up)
    text = CliRunner().invoke(cli, ["batch", "run", str(up), "--ledger", str(ledger), "--jobs", "0",
                                    "--no-model"])
    assert text.exit_code == 0 and "1 matched without sidecar" in text.stdout and "corrected" in text.stdout


def test_a_late_sidecar_for_a_sidecarless_recording_is_still_a_correction(tmp_path):
    up = tmp_path / "up"
    rec(up / "A.wav", sidecar=False)
    age(up)
    ledger = tmp_path / "ledger.db"
    run(up, ledger)
    (up / "A.json").write_text(json.dumps({"sensor_id": "L9", "start_time": "2026-11-03T02:00:00Z"}))
    age(up)
    _, s = run(up, ledger)
    assert s["corrections"] == 1
    assert q(ledger, "SELECT logger_id, night FROM recordings") == [("L9", "2026-11-03")]


# -- identical broken uploads of two loggers ------------------------------------------------------

def test_two_loggers_identical_empty_uploads_are_each_reported_under_their_logger(tmp_path):
    up = tmp_path / "up"
    for logger in ("L1", "L2"):
        (up / logger).mkdir(parents=True)
        (up / logger / "night.wav").write_bytes(b"")
        (up / logger / "night.json").write_text(json.dumps({"sensor_id": logger, "start_time": "2026-11-03T02:00:00Z"}))
    age(up)
    ledger = tmp_path / "ledger.db"
    r, s = run(up, ledger)
    assert (s["failed"], s["duplicates"]) == (2, 0)
    assert sorted(q(ledger, "SELECT logger_id, error FROM recordings")) == [
        ("L1", f"{up}/L1/night.wav: file is empty (0 bytes)"), ("L2", f"{up}/L2/night.wav: file is empty (0 bytes)")]
    st = CliRunner().invoke(cli, ["batch", "status", str(ledger)])
    assert st.exit_code == 0
    assert "quarantined: [logger L1]" in st.stdout and "quarantined: [logger L2]" in st.stdout
    _, s = run(up, ledger)
    assert (s["unchanged"], s["failed"]) == (2, 0)


# -- a recording from the future --------------------------------------------------------------------

def test_a_future_dated_recording_is_warned_about_and_left_out(tmp_path):
    up = tmp_path / "up"
    rec(up / "now.wav", start=T0)
    rec(up / "future.wav", start=datetime(2099, 1, 1, 2, tzinfo=timezone.utc), seed=4)
    age(up)
    ledger = tmp_path / "ledger.db"
    r, s = run(up, ledger)
    assert (s["new"], s["future_dated"], s["failed"]) == (2, 1, 0)
    assert "start time 2099-01-01T02:00:00Z is in the future" in r.stderr
    assert sorted(q(ledger, "SELECT path, night FROM recordings")) == [(str(up / "future.wav"), None),
                                                                        (str(up / "now.wav"), "2026-11-03")]
    assert q(ledger, "SELECT max(night) FROM recordings")[0][0] == "2026-11-03"
    assert all(not a.startswith("2099") for (a,) in q(ledger, "SELECT as_of FROM logger_scores"))


# -- workers, scheduler, options ----------------------------------------------------------------------

def test_a_thousand_workers_are_capped_with_a_warning(tmp_path):
    up = tmp_path / "up"
    rec(up / "a.wav")
    rec(up / "b.wav", logger="L2", seed=1)
    age(up)
    r = run_process(up, tmp_path / "ledger.db", "--jobs", "1000", timeout=300)
    assert r.returncode == 0, r.stderr
    assert "Warning: --jobs 1000 is more than useful here" in r.stderr and "; using " in r.stderr
    assert "2 new" in r.stdout


def test_resolve_workers():
    from acoustic.batch._engine import resolve_workers

    assert resolve_workers(None, 0, cpus=8) == (1, None)
    assert resolve_workers(0, 10, cpus=8) == (0, None)
    assert resolve_workers(3, 10, cpus=8) == (3, None)
    n, msg = resolve_workers(16, 100, cpus=8)
    assert n == 8 and "8 CPU(s) available" in msg


def test_a_garbage_scheduler_address_is_one_clear_line(tmp_path):
    up = tmp_path / "up"
    rec(up / "a.wav")
    r = run_process(up, tmp_path / "ledger.db", "--scheduler", "garbage", timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip() == ("Error: --scheduler garbage: not a Dask scheduler address (expected "
                                "[tcp|tls|ws|wss://]HOST:PORT, e.g. tcp://10.0.0.5:8786)")


@pytest.mark.parametrize("args,message", [
    (["--wait", "nan"], "Invalid value for '--wait': 'nan' is not a finite number"),
    (["--wait", "-1"], "Invalid value for '--wait'"),
    (["--jobs", "-1"], "Invalid value for '--jobs'"),
    (["--window-nights", "0"], "Invalid value for '--window-nights'"),
    (["--chunk-size", "0"], "Invalid value for '--chunk-size'"),
])
def test_numeric_options_are_checked_at_the_edge(tmp_path, args, message):
    r = CliRunner().invoke(cli, ["batch", "run", str(tmp_path), "--ledger", str(tmp_path / "l.db"), *args])
    assert r.exit_code == 2 and message in r.stderr and "Traceback" not in r.output


def test_batch_status_last_is_checked(tmp_path):
    r = CliRunner().invoke(cli, ["batch", "status", str(tmp_path / "l.db"), "--last", "0"])
    assert r.exit_code == 2 and "Invalid value for '--last'" in r.stderr


# -- the ledger breaks under the batch --------------------------------------------------------------

def test_a_damaged_ledger_is_a_one_line_error(tmp_path):
    up = tmp_path / "up"
    rec(up / "a.wav")
    age(up)
    ledger = tmp_path / "ledger.db"
    run(up, ledger)
    con = sqlite3.connect(ledger)
    con.execute("DROP TABLE sightings")
    con.commit()
    con.close()
    rec(up / "b.wav", seed=7, start=T0 + timedelta(days=1))
    age(up)
    r = CliRunner().invoke(cli, ["batch", "run", str(up), "--ledger", str(ledger), "--jobs", "0", "--no-model"])
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert lines[-1] == (f"Error: {ledger}: the ledger cannot be used: it is damaged or not a ledger (no such table: "
                         "sightings); work committed before is kept, run again after fixing it")
    assert "Traceback" not in r.output


@pytest.mark.parametrize("text,why", [
    ("attempt to write a readonly database", "it is read-only"),
    ("database or disk is full", "the disk is full or failing"),
    ("database is locked", "another program holds it"),
])
def test_sqlite_errors_become_one_line(text, why):
    from acoustic.batch._driver import _ledger_error

    msg = _ledger_error("l.db", sqlite3.OperationalError(text))
    assert msg.startswith(f"l.db: the ledger cannot be used: {why}") and "\n" not in msg


def test_a_read_only_or_special_ledger_is_said_so_up_front(tmp_path):
    up = tmp_path / "up"
    rec(up / "a.wav")
    r = CliRunner().invoke(cli, ["batch", "run", str(up), "--ledger", str(tmp_path / "none" / "l.db")])
    assert r.exit_code == 2 and f"--ledger {tmp_path}/none/l.db: folder {tmp_path}/none not found" in r.stderr
    os.mkfifo(tmp_path / "fifo.db")
    r = run_process(up, tmp_path / "fifo.db", "--jobs", "0", timeout=60)
    assert r.returncode == 2 and "fifo.db: ledger is a FIFO (named pipe), not a regular file" in r.stderr


def test_a_ledger_on_a_read_only_mount(tmp_path):
    """Needs a read-only bind mount (root in a container that allows it); skipped elsewhere."""
    src, mnt = tmp_path / "src", tmp_path / "mnt"
    rec(src / "up" / "a.wav")
    mnt.mkdir()
    if subprocess.run(["mount", "--bind", str(src), str(mnt)], capture_output=True).returncode != 0:
        pytest.skip("no bind mounts here")
    try:
        if subprocess.run(["mount", "-o", "remount,ro,bind", str(mnt)], capture_output=True).returncode != 0:
            pytest.skip("no read-only remount here")
        r = CliRunner().invoke(cli, ["batch", "run", str(mnt / "up"), "--ledger", str(mnt / "l.db"), "--jobs", "0"])
        assert r.exit_code == 2
        assert r.stderr.strip() == (f"Error: --ledger {mnt}/l.db: {mnt} is read-only (file, folder or mount); the "
                                    "batch writes the ledger and its journal and lock files beside it")
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_future_rows_of_an_uploaded_stats_file_are_left_out(tmp_path):
    up = tmp_path / "up"
    up.mkdir()
    (up / "stats.csv").write_text("logger_id,date,level,spread\n"
                                  + "".join(f"L1,2026-10-{d:02d},40,3\n" for d in range(1, 29))
                                  + "L1,2099-01-01,80,1\n")
    age(up)
    ledger = tmp_path / "ledger.db"
    r, s = run(up, ledger)
    assert s["failed"] == 0
    assert "stats.csv: 1 row(s) dated after" in r.stderr and "first on line 30: logger L1, 2099-01-01" in r.stderr
    assert q(ledger, "SELECT max(date), count(*) FROM logger_nights") == [("2026-10-28", 28)]
    assert q(ledger, "SELECT as_of FROM logger_scores") == [("2026-10-28",)]


def test_broken_symbolic_links_are_quarantined_not_left_for_ever(tmp_path):
    up = tmp_path / "up"
    rec(up / "a.wav")
    (up / "gone.wav").symlink_to(tmp_path / "nowhere.wav")
    rec(up / "b.wav", logger="L2", sidecar=False)
    (up / "b.json").symlink_to(tmp_path / "nowhere.json")
    age(up)
    ledger = tmp_path / "ledger.db"
    r, s = run(up, ledger)
    assert (s["new"], s["failed"]) == (1, 2)
    assert "gone.wav: file not found (broken symbolic link to" in r.stderr
    assert "b.json: sidecar not found (broken symbolic link to" in r.stderr
    _, s = run(up, ledger)
    assert (s["unchanged"], s["failed"]) == (3, 0)


def test_the_same_audio_under_another_loggers_sidecar_is_not_a_correction(tmp_path):
    up = tmp_path / "up"
    rec(up / "L1" / "night.wav", logger="L1")
    age(up)
    ledger = tmp_path / "ledger.db"
    run(up, ledger)
    (up / "L2").mkdir()
    shutil.copy(up / "L1" / "night.wav", up / "L2" / "night.wav")
    (up / "L2" / "night.json").write_text(json.dumps({"sensor_id": "L2", "start_time": "2026-11-03T02:00:00Z"}))
    age(up)
    r, s = run(up, ledger)
    assert (s["corrections"], s["failed"]) == (0, 1)
    assert "with a sidecar naming logger L2: not used" in r.stderr
    assert q(ledger, "SELECT logger_id FROM recordings WHERE status = 'ok'") == [("L1",)]
    # a corrected sidecar beside the original audio is still a correction
    (up / "L1" / "night.json").write_text(json.dumps({"sensor_id": "L1", "start_time": "2026-11-03T03:00:00Z"}))
    age(up)
    _, s = run(up, ledger)
    assert s["corrections"] == 1
    assert q(ledger, "SELECT start_time FROM recordings WHERE status = 'ok'") == [("2026-11-03T03:00:00.000000Z",)]


def test_an_sqlite_error_a_command_missed_is_still_one_line():
    import click

    from acoustic.cli._common import command_errors

    @click.command()
    @command_errors
    def broken(warnings_out):
        raise sqlite3.OperationalError("no such table: suspects")

    r = CliRunner().invoke(broken, [])
    assert r.exit_code == 2
    assert r.stderr == "Error: database error (no such table: suspects); committed work is kept\n"
