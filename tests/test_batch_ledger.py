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
        assert led.schema_version == SCHEMA_VERSION >= 2
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


def _survey(points, lines=(("L1", "L2", 0.7),), area_score=0.9):
    return {"areas": [{"area": "north", "score": area_score, "loggers": ["L1", "L2"]}],
            "lines": [{"from_logger": a, "to_logger": b, "score": sc, "pipe_ids": ["P1"], "length_m": 180.0}
                      for a, b, sc in lines],
            "points": [{"pipe_id": "P1", "offset_m": off, "x": off, "y": 0.0, "interval_m": [off - 1.5, off + 1.5],
                        "confidence": conf, "loggers": ["L1", "L2"]} for off, conf in points],
            "pairs": [{"from_logger": "L1", "to_logger": "L2", "night": "2026-11-03", "detected": True,
                       "confidence": 0.8, "distance_from_a_m": 50.0}]}


def _suspects(led):
    return {r["id"]: dict(r) for r in led.conn.execute("SELECT * FROM suspects")}


def test_area_survey_suspects_keep_their_identity(tmp_path):
    from acoustic.batch._store import commit_area_survey
    from acoustic.ledger._ops import confirm_suspect, dispatch_suspect, list_suspects

    led = Ledger(tmp_path / "l.db", create=True)

    def commit(result, night="2026-11-03"):
        with led.transaction():
            return commit_area_survey(led.conn, None, "north", night, result, {"w": 7}, "m@1")

    c = commit(_survey([(50.0, 0.9)]))
    assert (c["new"], c["updated"], c["superseded"], c["detections"]) == (3, 0, 0, 1)
    first = _suspects(led)
    assert commit(_survey([(50.0, 0.9)])) == {"new": 0, "updated": 0, "superseded": 0, "detections": 0}
    assert _suspects(led) == first                                   # identical result: no row changes
    (pid,) = [i for i, r in first.items() if r["kind"] == "point"]
    assert first[pid]["spacing_m"] == 180.0 and first[pid]["night"] == "2026-11-03"

    c = commit(_survey([(50.8, 0.95), (120.0, 0.6)]), night="2026-11-04")  # the same place, and a new one
    assert (c["new"], c["updated"]) == (1, 3)
    rows = _suspects(led)
    assert rows[pid]["offset_m"] == 50.8 and rows[pid]["night"] == "2026-11-04"
    new_pid = max(i for i, r in rows.items() if r["kind"] == "point")

    dispatch_suspect(led, pid, crew="crew 7")
    c = commit(_survey([(50.3, 0.9)], lines=()), night="2026-11-05")  # 120 m and the line are gone
    rows = _suspects(led)
    assert rows[pid]["offset_m"] == 50.8 and rows[pid]["status"] == "dispatched"   # dispatched: untouched
    assert c["new"] == 0 and c["superseded"] == 2
    assert rows[new_pid]["superseded_utc"] is not None
    assert [r["id"] for r in list_suspects(led, kind="point")] == [pid]
    assert {r["id"] for r in list_suspects(led, kind="point", include_superseded=True)} == {pid, new_pid}

    confirm_suspect(led, pid, found_at_m=51.0)
    c = commit(_survey([(50.3, 0.9)], lines=()), night="2026-11-06")  # the found leak, not yet repaired
    assert c["new"] == 0 and _suspects(led)[pid]["status"] == "confirmed"
    c = commit(_survey([(50.3, 0.9), (120.4, 0.7)], lines=()), night="2026-11-07")
    assert c["new"] == 0 and c["updated"] == 2                        # 120 m is back: the superseded one revives
    assert _suspects(led)[new_pid]["superseded_utc"] is None
    confirm_suspect(led, new_pid, no_leak=True)                       # a dry dig at 120 m ...
    c = commit(_survey([(50.3, 0.9), (120.4, 0.7)], lines=()), night="2026-11-08")
    assert c["new"] == 1                                              # ... heard again: a new suspect beside it
    points = [r for r in _suspects(led).values() if r["kind"] == "point"]
    assert sorted(r["status"] for r in points) == ["confirmed", "no_leak", "open"]
    led.close()


def test_ledger_dispatch_command(tmp_path):
    from click.testing import CliRunner

    from acoustic.cli import cli

    path = tmp_path / "l.db"
    with Ledger(path, create=True) as led, led.transaction():
        led.conn.execute("INSERT INTO suspects(kind, natural_key, area, pipe_id, offset_m, created_utc) "
                         "VALUES ('point', 'p', 'north', 'P1', 10.0, 't')")
        led.conn.execute("INSERT INTO suspects(kind, natural_key, area, created_utc) VALUES ('area', 'a', 'north', 't')")
    r = CliRunner().invoke(cli, ["ledger", "dispatch", str(path), "1", "--crew", "north crew"])
    assert r.exit_code == 0 and "dispatched to north crew" in r.output
    r = CliRunner().invoke(cli, ["ledger", "show", str(path), "1", "--json"])
    import json

    shown = json.loads(r.stdout)
    assert shown["status"] == "dispatched" and shown["dispatches"][0]["crew"] == "north crew"
    r = CliRunner().invoke(cli, ["ledger", "dispatch", str(path), "2"])
    assert r.exit_code == 2 and "area suspect" in r.stderr
    assert CliRunner().invoke(cli, ["ledger", "confirm", str(path), "1", "--no-leak"]).exit_code == 0
    r = CliRunner().invoke(cli, ["ledger", "dispatch", str(path), "1"])
    assert r.exit_code == 2 and "already dug" in r.stderr
