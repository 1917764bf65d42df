"""Schema 3 migration of a ledger made by the version-2 code (``tests/data/ledger_v2.db``: the sample
district batched, suspect 13 confirmed at 61.3 m, suspect 24 dispatched then dug dry, by the code
of main before schema 3): read-only use without migrating, upgrade in place in one transaction per
version, the same statistics before and after, and a failed upgrade leaves the ledger as it was."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from acoustic.ledger import SCHEMA_VERSION, Ledger

V2 = Path(__file__).resolve().parent / "data" / "ledger_v2.db"


@pytest.fixture
def v2(tmp_path):
    path = tmp_path / "ledger.db"
    shutil.copy(V2, path)
    return path


def _version(path) -> int:
    con = sqlite3.connect(path)
    try:
        return int(con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
    finally:
        con.close()


def test_v2_read_only_then_upgraded_with_the_same_numbers(v2):
    from acoustic.ledger._leaks import ledger_stats
    from acoustic.ledger._ops import export_csv, list_suspects

    with Ledger(v2, readonly=True) as ro:                     # readers never migrate
        assert ro.schema_version == 2
        before = ledger_stats(ro)
        csv_before = export_csv(ro)
        points = [r["id"] for r in list_suspects(ro, kind="point")]
    assert _version(v2) == 2 and points == [13, 24]
    assert (before["dug"], before["leaks_found"], before["no_leak"]) == (2, 1, 1)
    assert before["location_error_m"]["median"] == pytest.approx(1.37, abs=0.01)
    with Ledger(v2) as led:
        assert led.schema_version == SCHEMA_VERSION >= 3
        after = ledger_stats(led)
        ev = [dict(r) for r in led.conn.execute("SELECT * FROM outcome_events ORDER BY id")]
        old = led.conn.execute("SELECT count(*) FROM outcomes_v2").fetchone()[0]   # the old table is kept
        status = dict(led.conn.execute("SELECT id, status FROM suspects WHERE id IN (13, 24)").fetchall())
        csv_after = export_csv(led)
    for key in ("dug", "leaks_found", "no_leak", "hit_rate", "location_error_m", "payable"):
        assert after[key] == before[key], key
    assert old == 2 and [e["action"] for e in ev] == ["confirm", "confirm"]
    assert ev[0]["found_pipe_id"] == "P04" and ev[0]["measured_from"] == "start" and ev[0]["note"] == "made by the v2 code"
    assert "before ledger schema 3" in ev[0]["recorded_by"] and ev[1]["found_at_m"] is None
    assert status == {13: "confirmed", 24: "no_leak"}
    assert csv_after.splitlines()[0].startswith(csv_before.splitlines()[0].split(",leak_found")[0])


def test_upgraded_ledger_takes_corrections(v2):
    from click.testing import CliRunner

    from acoustic.cli import cli

    r = CliRunner().invoke(cli, ["ledger", "amend", str(v2), "13", "--found-at-m", "61.0", "--reason", "re-measured"])
    assert r.exit_code == 0, r.output
    h = CliRunner().invoke(cli, ["ledger", "history", str(v2), "13"]).stdout
    assert "recorded before ledger schema 3" in h and "why: re-measured" in h and "[in force]" in h


def test_failed_upgrade_leaves_version_2(v2, monkeypatch):
    from acoustic.ledger import _db

    monkeypatch.setitem(_db.MIGRATIONS, 3, _db.MIGRATIONS[3] + ";\nINSERT INTO no_such_table VALUES (1)")
    with pytest.raises(Exception):
        Ledger(v2)
    assert _version(v2) == 2
    con = sqlite3.connect(v2)
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
    n = con.execute("SELECT count(*) FROM outcomes").fetchone()[0]
    con.close()
    assert "outcome_events" not in tables and "outcomes_v2" not in tables and n == 2


def test_two_processes_upgrade_once(v2):
    code = f"from acoustic.ledger import Ledger\nLedger({str(v2)!r}).close()\nprint('ok')"
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert _version(v2) == SCHEMA_VERSION
    con = sqlite3.connect(v2)
    assert con.execute("SELECT count(*) FROM outcome_events").fetchone()[0] == 2   # copied once
    con.close()
