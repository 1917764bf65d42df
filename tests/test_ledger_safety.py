"""Review of the ledger's data safety (issue 20): a reader never gives figures that silently leave
out committed changes, and the outcome history cannot be rewritten."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess

import pytest
from click.testing import CliRunner
from test_ledger_bad_input import make, tmpfs

from acoustic.cli import cli


def run(*args):
    return CliRunner().invoke(cli, [*map(str, args)])


def test_read_only_mount_with_an_unread_write_ahead_log(tmp_path):
    """A ledger copied to read-only media with its -wal (changes not yet checkpointed) but no -shm:
    SQLite can open it only as immutable, which ignores the -wal; the dig recorded there must not
    silently vanish from the statistics: the reader refuses in one line."""
    path = make(tmp_path / "l.db")
    keep = sqlite3.connect(path)                      # holds the WAL open: no checkpoint on close
    keep.execute("PRAGMA wal_autocheckpoint=0")
    keep.execute("SELECT count(*) FROM suspects").fetchone()   # a reader attached to the WAL
    r = run("ledger", "confirm", path, 1, "--found-at-m", 10.2, "--dug-on", "2026-11-05")
    assert r.exit_code == 0, r.output
    try:
        with tmpfs("4m") as mnt:
            shutil.copy(path, mnt / "l.db")
            shutil.copy(str(path) + "-wal", mnt / "l.db-wal")
            if subprocess.run(["mount", "-o", "remount,ro", str(mnt)], capture_output=True).returncode != 0:
                pytest.skip("cannot remount read-only here")
            r = run("ledger", "stats", "-l", mnt / "l.db", "--json")
            assert r.exit_code == 2, r.output
            err = r.stderr.strip()
            assert err.startswith("Error: ") and "\n" not in err and "l.db-wal" in err, err
    finally:
        keep.close()


def test_outcome_history_cannot_be_rewritten(tmp_path):
    """Schema 4: the outcome events, dispatches, suspects and replaced recordings are append-only in
    the database itself (triggers), not only by the code's good manners."""
    from acoustic.ledger import Ledger

    path = make(tmp_path / "l.db")
    assert run("ledger", "confirm", path, 1, "--found-at-m", 10.2).exit_code == 0
    assert run("ledger", "amend", path, 1, "--found-at-m", 10.4, "--reason", "re-measured").exit_code == 0
    with Ledger(path) as led:
        assert led.schema_version >= 4
        with led.transaction() as con:                      # one row in each table (a trigger fires per row)
            con.execute("INSERT INTO dispatches(suspect_id, dispatched_utc, crew) VALUES (1, 'x', 'c')")
            con.execute("INSERT INTO recordings(id, sha256, path, status, processed_utc) VALUES (1, 'h', 'a', 'ok', 'x')")
            con.execute("INSERT INTO recording_history(recording_id, revision, sha256, replaced_utc, reason) "
                        "VALUES (1, 0, 'h0', 'x', 're-sent')")
        for sql in ("UPDATE outcome_events SET found_at_m = 3.0", "DELETE FROM outcome_events",
                    "DELETE FROM suspects", "DELETE FROM dispatches", "UPDATE recording_history SET path = 'x'",
                    "DELETE FROM recording_history"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                led.conn.execute(sql)
        assert led.conn.execute("SELECT count(*) FROM outcome_events").fetchone()[0] == 2


def test_v3_ledger_with_the_batch_history_table_upgrades(tmp_path):
    """A schema-3 ledger whose batch created recording_history itself (CREATE TABLE IF NOT EXISTS)
    is upgraded to schema 4 with its rows kept; the batch's own table is the schema's now."""
    from acoustic.batch._store import ensure_history
    from acoustic.ledger import SCHEMA_VERSION, Ledger, _db

    path = tmp_path / "l.db"
    with pytest.MonkeyPatch.context() as mp:               # a ledger as the schema-3 code made it
        mp.setattr(_db, "SCHEMA_VERSION", 3)
        with Ledger(path, create=True) as led, led.transaction() as con:
            ensure_history(con)
            con.execute("INSERT INTO recordings(id, sha256, path, status, processed_utc) VALUES (1, 'h', 'a.wav', 'ok', 'x')")
            con.execute("INSERT INTO recording_history(recording_id, revision, sha256, replaced_utc, reason) "
                        "VALUES (1, 0, 'h0', 'x', 're-sent')")
    with Ledger(path) as led:
        assert led.schema_version == SCHEMA_VERSION
        assert [r[0] for r in led.conn.execute("SELECT reason FROM recording_history")] == ["re-sent"]
        names = {r[0] for r in led.conn.execute("SELECT name FROM sqlite_master")}
    assert {"recording_history", "recordings_path", "outcome_events_append_only_update"} <= names


def test_outcomes_view_looks_undos_up_by_index(tmp_path):
    """The outcomes view asks of every event whether an undo cancels it: by the index on cancels,
    not by a scan of all events per event (quadratic: 7 s for 8000 digs)."""
    from acoustic.ledger import Ledger

    path = make(tmp_path / "l.db")
    with Ledger(path, readonly=True) as led:
        plan = " ".join(str(tuple(r)) for r in led.conn.execute("EXPLAIN QUERY PLAN SELECT * FROM outcomes"))
    assert "outcome_events_cancels" in plan, plan
