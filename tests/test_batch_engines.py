"""The same batch on the three engines (in-process, spawn process pool, Dask LocalCluster) gives the
same ledger; a worker process that dies costs only the file that killed it."""

import os
import sqlite3
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from acoustic.batch import BatchError, run_batch
from acoustic.cli import cli

T0 = datetime(2026, 11, 3, 2, 0, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def upload(tmp_path_factory):
    """20 short recordings of 4 loggers over 5 nights (plain coloured noise at different levels)."""
    root = tmp_path_factory.mktemp("up")
    rng = np.random.default_rng(42)
    for i in range(20):
        logger = f"L{i % 4}"
        x = np.cumsum(rng.standard_normal(8000)) * 1e-3 + (0.02 + 0.01 * (i % 4)) * rng.standard_normal(8000)
        path = root / logger / f"r{i:02d}.wav"
        path.parent.mkdir(exist_ok=True)
        sf.write(path, x / (2 * np.abs(x).max()), 4000, subtype="PCM_16")
        start = (T0 + timedelta(days=i // 4, seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        path.with_suffix(".json").write_text(f'{{"sensor_id": "{logger}", "sensor_kind": "hydrophone", '
                                             f'"start_time": "{start}", "gain_db": 6.0}}')
    return root


def content(ledger):
    """Results that do not depend on the engine or on timing."""
    con = sqlite3.connect(ledger)
    rec = con.execute("SELECT r.sha256, r.path, r.logger_id, r.night, r.status, round(r.level_db, 9), "
                      "f.values_f32, f.block_levels_db_f32 FROM recordings r LEFT JOIN recording_features f "
                      "ON f.recording_id = r.id ORDER BY r.sha256").fetchall()
    nights = con.execute("SELECT * FROM logger_nights ORDER BY logger_id, date").fetchall()
    scores = con.execute("SELECT logger_id, as_of, score, alarm, nights_used, reasons_json FROM logger_scores "
                         "ORDER BY logger_id").fetchall()
    con.close()
    return rec, nights, scores


def test_pool_and_dask_match_in_process(upload, tmp_path):
    ref = run_batch(upload, tmp_path / "inline.db", workers=0, model=None)
    assert ref.new == 20 and ref.failed == 0 and ref.engine.startswith("in-process")
    expected = content(tmp_path / "inline.db")

    pool = run_batch(upload, tmp_path / "pool.db", workers=2, model=None, chunk_size=3)
    assert pool.engine.startswith("process pool (2 spawn workers") and pool.new == 20
    assert content(tmp_path / "pool.db") == expected

    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        # through the CLI and DASK_SCHEDULER_ADDRESS, as a nightly job would
        r = CliRunner().invoke(cli, ["batch", "run", str(upload), "--ledger", str(tmp_path / "dask.db"),
                                     "--no-model", "--json", "--chunk-size", "4"],
                               env={"DASK_SCHEDULER_ADDRESS": cluster.scheduler_address})
        assert r.exit_code == 0, r.output
        assert "Dask cluster at tcp://" in r.stderr
    assert content(tmp_path / "dask.db") == expected


def die_on_poison(items, options):
    """A recording task whose worker process dies on a file named poison*.wav."""
    if any(os.path.basename(it["path"]).startswith("poison") for it in items):
        os._exit(17)
    from acoustic.batch._work import process_recordings

    return process_recordings(items, options)


def always_die(items, options):
    os._exit(18)


def test_a_file_that_kills_its_worker_is_quarantined(upload, tmp_path):
    import shutil

    up = tmp_path / "up"
    shutil.copytree(upload / "L1", up)
    shutil.copy2(up / "r01.wav", up / "poison.wav")   # content is fine; the injected fault is by name
    with open(up / "poison.wav", "ab") as fh:            # (different bytes, so not a duplicate)
        fh.write(b"\0\0")
    s = run_batch(up, tmp_path / "l.db", workers=2, model=None, chunk_size=2, _recording_task=die_on_poison)
    assert (s.new, s.failed, s.status) == (6, 1, "completed_with_failures")
    con = sqlite3.connect(tmp_path / "l.db")
    bad = con.execute("SELECT path, error FROM recordings WHERE status = 'quarantined'").fetchall()
    assert len(bad) == 1 and bad[0][0].endswith("poison.wav") and "worker process died" in bad[0][1]
    assert con.execute("SELECT count(*) FROM recording_features").fetchone()[0] == 5


def test_workers_that_always_die_stop_the_batch_without_quarantining(upload, tmp_path):
    with pytest.raises(BatchError, match="keep dying"):
        run_batch(upload / "L2", tmp_path / "l.db", workers=1, model=None, chunk_size=1, _recording_task=always_die)
    con = sqlite3.connect(tmp_path / "l.db")
    assert con.execute("SELECT count(*) FROM recordings").fetchone()[0] == 0
    assert con.execute("SELECT status FROM batches").fetchall() == [("interrupted",)]


def test_unreachable_scheduler_is_a_clear_error():
    from acoustic import ParameterError
    from acoustic.batch import open_engine

    with pytest.raises(ParameterError, match=r"--scheduler tcp://127.0.0.1:9: cannot reach the Dask scheduler"):
        open_engine(scheduler="tcp://127.0.0.1:9", connect_timeout_s=1.0)


def thread_report():
    import multiprocessing

    import numba

    return numba.get_num_threads(), os.environ.get("OMP_NUM_THREADS"), multiprocessing.get_start_method()


def test_pool_workers_are_spawned_with_one_thread():
    from acoustic.batch import open_engine

    engine = open_engine(workers=1)
    try:
        assert engine.kind == "process-pool"
        assert engine.executor.submit(thread_report).result(timeout=120) == (1, "1", "spawn")
    finally:
        engine.close()
