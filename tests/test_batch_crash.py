"""A batch killed with SIGKILL mid-run, two batches against one ledger at once, readers during a batch.

The batch runs as a real ``acoustic batch run`` subprocess (its own process group, so SIGKILL
takes the driver and its workers at once)."""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import psutil
import pytest
import soundfile as sf
from click.testing import CliRunner

from acoustic.cli import cli

N_FILES = 80
T0 = datetime(2026, 11, 3, 2, 0, 0, tzinfo=timezone.utc)
ACOUSTIC = str(Path(sys.executable).with_name("acoustic"))


@pytest.fixture(scope="module")
def upload(tmp_path_factory):
    root = tmp_path_factory.mktemp("up")
    rng = np.random.default_rng(3)
    for i in range(N_FILES):
        logger = f"L{i % 8}"
        path = root / logger / f"r{i:03d}.wav"
        path.parent.mkdir(exist_ok=True)
        sf.write(path, 0.05 * rng.standard_normal(4 * 8000), 8000, subtype="PCM_16")
        start = (T0 + timedelta(days=i // 8)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        path.with_suffix(".json").write_text(json.dumps({"sensor_id": logger, "sensor_kind": "hydrophone",
                                                         "start_time": start, "gain_db": 0.0}))
    return root


def start_batch(upload, ledger, *extra):
    cmd = [ACOUSTIC, "batch", "run", str(upload), "--ledger", str(ledger), "--no-model", "--jobs", "1",
           "--chunk-size", "1", *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def count(ledger, sql="SELECT count(*) FROM recordings"):
    if not Path(ledger).exists():
        return 0
    con = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:  # schema not created yet
        return 0
    finally:
        con.close()


def wait_for(pred, timeout=120.0, proc=None):
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        if pred():
            return True
        if proc is not None and proc.poll() is not None:
            return pred()
        time.sleep(0.01)
    return False


def dump(ledger):
    con = sqlite3.connect(ledger)
    out = {t: sorted(map(repr, con.execute(f"SELECT * FROM {t}").fetchall()))
           for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT IN "
                                   "('batches', 'sqlite_sequence')")}
    con.close()
    return out


def check_consistent(ledger):
    """No partial rows: every recording has its features and its sighting, and the file is sound."""
    con = sqlite3.connect(ledger)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    n = con.execute("SELECT count(*) FROM recordings").fetchone()[0]
    assert con.execute("SELECT count(*) FROM recording_features").fetchone()[0] == n
    assert con.execute("SELECT count(DISTINCT recording_id) FROM sightings").fetchone()[0] == n
    assert con.execute("SELECT count(*) FROM recordings r LEFT JOIN recording_features f ON f.recording_id = r.id "
                       "WHERE f.recording_id IS NULL").fetchone()[0] == 0
    con.close()
    return n


def test_sigkill_mid_run_then_rerun_processes_every_file_once(upload, tmp_path):
    ledger = tmp_path / "ledger.db"
    proc = start_batch(upload, ledger)
    try:
        assert wait_for(lambda: count(ledger) >= 1, proc=proc), proc.communicate()
        # a reader works while the batch writes
        r = CliRunner().invoke(cli, ["ledger", "list", str(ledger), "--json"])
        assert r.exit_code == 0 and json.loads(r.stdout) == []
        assert wait_for(lambda: count(ledger) >= 10, proc=proc)
        workers = psutil.Process(proc.pid).children(recursive=True)
        os.kill(proc.pid, signal.SIGKILL)                       # the driver only, as the OOM killer would
        # its workers do not outlive it (they would otherwise wait for work forever)
        gone, alive = psutil.wait_procs(workers, timeout=10)
        assert not alive, alive
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done = check_consistent(ledger)
    assert 10 <= done < N_FILES, "the batch must be killed mid-run"
    assert count(ledger, "SELECT count(*) FROM batches WHERE status = 'running'") == 1

    r = CliRunner().invoke(cli, ["batch", "run", str(upload), "--ledger", str(ledger), "--no-model",
                                 "--jobs", "0", "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert (s["new"], s["unchanged"], s["failed"]) == (N_FILES - done, done, 0)
    assert check_consistent(ledger) == N_FILES
    con = sqlite3.connect(ledger)
    assert con.execute("SELECT count(DISTINCT sha256), count(*) FROM sightings").fetchone() == (N_FILES, N_FILES)
    assert con.execute("SELECT status FROM batches ORDER BY id").fetchall() == [("interrupted",), ("completed",)]
    assert con.execute("SELECT count(*) FROM pending").fetchone()[0] == 0
    assert con.execute("SELECT count(DISTINCT logger_id) FROM logger_scores").fetchone()[0] == 8
    con.close()

    before = dump(ledger)
    r = CliRunner().invoke(cli, ["batch", "run", str(upload), "--ledger", str(ledger), "--no-model",
                                 "--jobs", "0", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["new"] == 0
    assert dump(ledger) == before


def test_two_batches_at_once_second_refuses_or_waits(upload, tmp_path):
    ledger = tmp_path / "ledger.db"
    first = start_batch(upload, ledger)
    waiter = None
    try:
        lock = Path(str(ledger) + ".lock")
        assert wait_for(lambda: lock.exists() and lock.read_text().strip() == str(first.pid), proc=first)
        # refused at once, cleanly
        r = CliRunner().invoke(cli, ["batch", "run", str(upload), "--ledger", str(ledger), "--no-model",
                                     "--jobs", "0"])
        assert r.exit_code == 4, r.output
        assert r.stderr.strip().startswith("Error:") and f"pid {first.pid}" in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
        # or waits for the first to finish
        waiter = start_batch(upload, ledger, "--wait", "300", "--json")
        out, err = first.communicate(timeout=300)
        assert first.returncode == 0, err
        out2, err2 = waiter.communicate(timeout=300)
        assert waiter.returncode == 0, err2
        s2 = json.loads(out2)
        assert (s2["new"], s2["unchanged"]) == (0, N_FILES)
    finally:
        for p in (first, waiter):
            if p is not None and p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    assert check_consistent(ledger) == N_FILES
    assert count(ledger, "SELECT count(*) FROM batches") == 2   # the refused run never started a batch
