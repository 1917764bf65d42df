"""Ledger database: schema version, transactions, the single-writer lock, readers during writes."""

import sqlite3
import subprocess
import sys

import pytest

from acoustic import DataError
from acoustic.ledger import SCHEMA_VERSION, Ledger, LedgerBusyError, utc_now


def _add_recording(led, sha, batch=None):
    led.conn.execute("INSERT INTO recordings(sha256, path, status, processed_utc, batch_id) VALUES (?, ?, 'ok', ?, ?)",
                     (sha, f"/x/{sha}.wav", utc_now(), batch))


def test_create_sets_schema_and_wal(tmp_path):
    with Ledger(tmp_path / "l.db", create=True) as led:
        assert led.schema_version == SCHEMA_VERSION
        assert led.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with Ledger(tmp_path / "l.db", readonly=True) as ro:
        assert ro.schema_version == SCHEMA_VERSION


def test_missing_or_foreign_ledger(tmp_path):
    with pytest.raises(DataError, match="ledger not found"):
        Ledger(tmp_path / "none.db")
    (tmp_path / "junk.db").write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(DataError, match="not a ledger database"):
        Ledger(tmp_path / "junk.db")
    con = sqlite3.connect(tmp_path / "other.db")
    con.execute("CREATE TABLE t (a)")
    con.commit()
    con.close()
    with pytest.raises(DataError, match="not an acoustic ledger"):
        Ledger(tmp_path / "other.db")


def test_newer_schema_refused(tmp_path):
    with Ledger(tmp_path / "l.db", create=True) as led:
        led.conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    with pytest.raises(DataError, match="schema version 99 is newer"):
        Ledger(tmp_path / "l.db")


def test_transaction_rolls_back_whole_unit(tmp_path):
    with Ledger(tmp_path / "l.db", create=True) as led:
        with pytest.raises(RuntimeError):
            with led.transaction():
                _add_recording(led, "aaa")
                raise RuntimeError("killed mid-unit")
        assert led.known_hashes() == set()
        with led.transaction():
            _add_recording(led, "bbb")
        assert led.known_hashes() == {"bbb"}
        with pytest.raises(sqlite3.IntegrityError):  # the same content is never recorded twice
            with led.transaction():
                _add_recording(led, "bbb")


def test_second_writer_refused_then_allowed(tmp_path):
    first = Ledger(tmp_path / "l.db", create=True)
    first.acquire_writer()
    code = ("import sys\nfrom acoustic.ledger import Ledger, LedgerBusyError\n"
            f"led = Ledger({str(tmp_path / 'l.db')!r})\n"
            "try:\n    led.acquire_writer()\nexcept LedgerBusyError as e:\n    print('BUSY', e); sys.exit(3)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 3 and "another batch" in out.stdout
    first.release_writer()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    first.close()


def test_in_process_lock_wait_times_out(tmp_path):
    a = Ledger(tmp_path / "l.db", create=True)
    a.acquire_writer()
    b = Ledger(tmp_path / "l.db")
    with pytest.raises(LedgerBusyError, match="is writing to this ledger"):
        b.acquire_writer(wait_s=0.3)
    a.close()
    b.acquire_writer(wait_s=0.3)
    b.close()


def test_reader_sees_committed_state_during_a_write(tmp_path):
    w = Ledger(tmp_path / "l.db", create=True)
    with w.transaction():
        _add_recording(w, "old")
    w.conn.execute("BEGIN IMMEDIATE")
    _add_recording(w, "new")  # not yet committed
    r = Ledger(tmp_path / "l.db", readonly=True)
    assert r.known_hashes() == {"old"}
    w.conn.execute("COMMIT")
    assert r.known_hashes() == {"old", "new"}
    r.close()
    w.close()
