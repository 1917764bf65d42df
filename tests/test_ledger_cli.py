"""`acoustic ledger` commands: list, show, confirm, stats (contractor numbers), export."""

import csv
import io
import json

import pytest
from click.testing import CliRunner

from acoustic.cli import cli
from acoustic.ledger import Ledger, utc_now


@pytest.fixture
def ledger_path(tmp_path):
    path = tmp_path / "ledger.db"
    with Ledger(path, create=True) as led, led.transaction():
        led.conn.execute("INSERT INTO suspects(kind, natural_key, area, score, created_utc) VALUES ('area','a:north','north',0.9,?)", (utc_now(),))
        for i, (off, spacing) in enumerate([(12.0, 80.0), (40.0, 200.0), (70.0, 100.0), (5.0, 60.0)]):
            led.conn.execute(
                "INSERT INTO suspects(kind, natural_key, area, pipe_id, offset_m, x, y, interval_lo_m, interval_hi_m, "
                "spacing_m, confidence, score, from_logger, to_logger, created_utc) "
                "VALUES ('point', ?, 'north', ?, ?, ?, ?, ?, ?, ?, 0.8, ?, 'L1', 'L2', ?)",
                (f"p{i}", f"P{i}", off, 100.0 + i, 200.0, off - 1, off + 1, spacing, 0.9 - 0.1 * i, utc_now()))
    return path


def run(*args):
    return CliRunner().invoke(cli, ["ledger", *map(str, args)])


def test_list_json_ranked(ledger_path):
    r = run("list", ledger_path, "--json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert [x["kind"] for x in rows] == ["point"] * 4 + ["area"]
    assert [x["score"] for x in rows[:4]] == sorted([x["score"] for x in rows[:4]], reverse=True)


def test_confirm_and_stats(ledger_path):
    assert run("confirm", ledger_path, 2, "--found-at-m", 12.5).exit_code == 0   # error 0.5 m
    assert run("confirm", ledger_path, 3, "--found-at-m", 43.0).exit_code == 0   # error 3.0 m (1.5 % of 200 m)
    assert run("confirm", ledger_path, 4, "--no-leak").exit_code == 0
    r = run("stats", ledger_path, "--json")
    st = json.loads(r.stdout)
    assert st["dug"] == 3 and st["leaks_found"] == 2 and st["hit_rate"] == pytest.approx(2 / 3)
    e = st["location_error_m"]
    assert e["median"] == pytest.approx(1.75) and e["within_1m"] == 0.5 and e["within_2m"] == 0.5
    assert st["payable"]["count"] == 1
    st2 = json.loads(run("stats", ledger_path, "--json", "--tolerance-pct", 2).stdout)
    assert st2["payable"]["count"] == 2  # 3.0 m <= 2 % of 200 m
    shown = json.loads(run("show", ledger_path, 3, "--json").stdout)
    assert shown["status"] == "confirmed" and shown["outcome"]["error_m"] == pytest.approx(3.0)
    human = run("stats", ledger_path)
    assert "hit rate: 67 %" in human.output


def test_confirm_errors(ledger_path):
    r = run("confirm", ledger_path, 1, "--found-at-m", 3)
    assert r.exit_code == 2 and "area suspect" in r.stderr
    r = run("confirm", ledger_path, 2)
    assert r.exit_code == 2 and "exactly one of --found-at-m X or --no-leak" in r.stderr
    r = run("confirm", ledger_path, 99, "--no-leak")
    assert r.exit_code == 2 and "no suspect with id 99" in r.stderr
    assert run("confirm", ledger_path, 2, "--no-leak").exit_code == 0
    r = run("confirm", ledger_path, 2, "--found-at-m", 1)
    assert r.exit_code == 2 and "already has an outcome" in r.stderr
    r = run("stats", ledger_path.with_name("missing.db"))
    assert r.exit_code == 2 and "ledger not found" in r.stderr and "Traceback" not in r.output


def test_export(ledger_path, tmp_path):
    run("confirm", ledger_path, 2, "--found-at-m", 12.5)
    r = run("export", ledger_path, "--csv", tmp_path / "s.csv", "--geojson", tmp_path / "s.geojson")
    assert r.exit_code == 0
    rows = list(csv.DictReader(io.StringIO((tmp_path / "s.csv").read_text())))
    assert len(rows) == 5 and rows[1]["error_m"] == "0.5"
    gj = json.loads((tmp_path / "s.geojson").read_text())
    assert len(gj["features"]) == 4 and gj["features"][0]["geometry"]["coordinates"] == [100.0, 200.0]
    assert r.stderr.count("is deprecated") == 3  # the old spellings (positional ledger, --csv, --geojson)
    # the new spelling: CSV on stdout by default, '-' is stdout, -o PATH with the format from its suffix
    r = run("export", "-l", ledger_path)
    assert r.exit_code == 0 and r.stdout == (tmp_path / "s.csv").read_text() and "deprecated" not in r.stderr
    assert run("export", "-l", ledger_path, "--format", "csv", "-o", "-").stdout == r.stdout
    r = run("export", "-l", ledger_path, "-o", tmp_path / "n.geojson")
    assert r.exit_code == 0 and json.loads((tmp_path / "n.geojson").read_text()) == gj and r.stdout == ""
    assert json.loads(run("export", "-l", ledger_path, "--format", "geojson").stdout) == gj
    assert not (tmp_path / "-").exists()


def test_ledger_option_environment_and_old_positional(ledger_path, monkeypatch):
    new = run("list", "--ledger", ledger_path, "--json")
    assert new.exit_code == 0 and "deprecated" not in new.stderr
    assert run("list", "-l", ledger_path, "--json").stdout == new.stdout
    old = run("list", ledger_path, "--json")
    assert old.stdout == new.stdout and "is deprecated" in old.stderr and "ACOUSTIC_LEDGER" in old.stderr
    monkeypatch.setenv("ACOUSTIC_LEDGER", str(ledger_path))
    assert run("list", "--json").stdout == new.stdout
    assert run("show", 2, "--json").exit_code == 0
    monkeypatch.delenv("ACOUSTIC_LEDGER")
    r = run("list")
    assert r.exit_code == 2 and "--ledger" in r.stderr


def test_show_prints_text_unless_json(ledger_path):
    r = run("show", "-l", ledger_path, 2)
    assert r.exit_code == 0 and r.stdout.startswith("suspect 2 (point")
    assert "status " in r.stdout and not r.stdout.lstrip().startswith("{")
    doc = json.loads(run("show", "-l", ledger_path, 2, "--json").stdout)
    assert doc["schema"] == "acoustic.ledger.show/1" and doc["ledger"] == str(ledger_path.resolve())
    assert doc["interval_m"] == [doc["interval_lo_m"], doc["interval_hi_m"]]
