"""Ledger schema v2 (batch runs): migration from v1 keeps every row; the batch tables exist."""

import sqlite3

import pytest

from acoustic.ledger import SCHEMA_VERSION, Ledger
from acoustic.ledger._db import _SCHEMA_V1


def _v1_ledger(path):
    con = sqlite3.connect(path)
    con.executescript(_SCHEMA_V1)
    con.execute("INSERT INTO meta(key, value) VALUES ('schema_version', '1')")
    con.execute("INSERT INTO recordings(sha256, path, status, processed_utc) VALUES ('abc', '/x/a.wav', 'ok', 't')")
    con.execute("INSERT INTO suspects(kind, natural_key, area, created_utc) VALUES ('area', 'a:n', 'north', 't')")
    con.commit()
    con.close()


def test_v1_ledger_is_migrated_and_keeps_rows(tmp_path):
    path = tmp_path / "old.db"
    _v1_ledger(path)
    with Ledger(path, readonly=True) as ro:  # a reader never migrates
        assert ro.schema_version == 1
    with Ledger(path) as led:
        assert led.schema_version == SCHEMA_VERSION == 2
        row = led.conn.execute("SELECT sha256, sidecar_sha256, revision, night FROM recordings").fetchone()
        assert tuple(row) == ("abc", "", 0, None)
        assert led.conn.execute("SELECT superseded_utc FROM suspects").fetchone()[0] is None
        tables = {r[0] for r in led.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"sightings", "scan_cache", "recording_features", "feature_names", "detections", "logger_scores",
                "pending"} <= tables
        # the new constraints hold
        with pytest.raises(sqlite3.IntegrityError):
            led.conn.execute("INSERT INTO pending(kind, key) VALUES ('bogus', 'x')")


def test_list_suspects_reads_a_v1_ledger(tmp_path):
    from acoustic.ledger._ops import list_suspects

    path = tmp_path / "old.db"
    _v1_ledger(path)
    with Ledger(path, readonly=True) as ro:
        assert [r["area"] for r in list_suspects(ro)] == ["north"]
