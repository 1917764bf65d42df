"""Unlucky and hostile ledgers (issue 19's ledger cases): a read-only mount, a full disk, a missing
table, damaged evidence, formula-like text in a CSV export, hostile ids in the HTML."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import shutil
import sqlite3
import subprocess
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from acoustic.cli import cli
from acoustic.ledger import Ledger, utc_now


def run(*args):
    return CliRunner().invoke(cli, [*map(str, args)])


def one_line_error(r, *fragments):
    assert r.exit_code == 2, r.output
    err = r.stderr.strip().splitlines()[-1]
    assert err.startswith("Error: ") and "Traceback" not in r.output, r.output
    for f in fragments:
        assert f in err, err


def make(path: Path, *, area="north", note=None) -> Path:
    with Ledger(path, create=True) as led, led.transaction() as con:
        con.execute("INSERT INTO suspects(kind, natural_key, area, pipe_id, offset_m, x, y, interval_lo_m, interval_hi_m, "
                    "confidence, score, evidence_json, created_utc) VALUES ('point', 'k1', ?, 'P1', 10.0, 10.0, 0.0, "
                    "9.0, 11.0, 0.9, 0.9, ?, ?)", (area, json.dumps({"pipe_length_m": 50.0}), utc_now()))
    return path


@contextlib.contextmanager
def tmpfs(size: str):
    """A private tmpfs (root only; skipped where mounting is not allowed)."""
    where = Path(f"/tmp/acoustic-tmpfs-{uuid.uuid4().hex[:8]}")
    where.mkdir()
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    if ok.returncode != 0:
        where.rmdir()
        pytest.skip(f"cannot mount a tmpfs here ({ok.stderr.decode(errors='replace').strip()})")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)
        with contextlib.suppress(OSError):
            where.rmdir()


def test_read_only_mount(tmp_path):
    path = make(tmp_path / "l.db")
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    with tmpfs("2m") as mnt:
        shutil.copy(path, mnt / "l.db")                      # the file alone, no -wal/-shm beside it
        r = subprocess.run(["mount", "-o", "remount,ro", str(mnt)], capture_output=True)
        if r.returncode != 0:
            pytest.skip("cannot remount read-only here")
        listed = run("ledger", "list", mnt / "l.db", "--json")
        assert listed.exit_code == 0, listed.output
        assert [x["pipe_id"] for x in json.loads(listed.stdout)] == ["P1"]
        assert run("ledger", "stats", mnt / "l.db").exit_code == 0
        assert run("ledger", "history", mnt / "l.db", 1).exit_code == 0
        one_line_error(run("ledger", "confirm", mnt / "l.db", 1, "--no-leak"), "read-only", "nothing was changed")


def test_full_disk(tmp_path):
    with tmpfs("2m") as mnt:
        path = make(mnt / "l.db")
        with contextlib.suppress(OSError), open(mnt / "filler", "wb") as fh:   # fill the file system
            while True:
                fh.write(b"\0" * 4096)
                fh.flush()
        r = run("ledger", "amend", path, 1, "--no-leak", "--reason", "x" * 200_000)
        assert r.exit_code == 2
        r = run("ledger", "confirm", path, 1, "--no-leak", "--note", "n" * 400_000)
        one_line_error(r, "l.db")
        assert "full" in r.stderr or "disk" in r.stderr
        (mnt / "filler").unlink()
        assert json.loads(run("ledger", "stats", path, "--json").stdout)["dug"] == 0   # nothing half-written


def test_missing_table_and_damaged_evidence(tmp_path):
    path = make(tmp_path / "l.db")
    con = sqlite3.connect(path)
    con.execute("UPDATE suspects SET evidence_json = '{not json' WHERE id = 1")
    con.commit()
    con.close()
    one_line_error(run("ledger", "list", path), "suspect 1", "not JSON")
    one_line_error(run("ledger", "show", path, 1), "suspect 1", "damaged")
    one_line_error(run("ledger", "confirm", path, 1, "--found-at-m", 3), "suspect 1", "damaged")
    con = sqlite3.connect(path)
    con.execute("UPDATE suspects SET evidence_json = '{}' WHERE id = 1")
    con.execute("DROP TABLE dispatches")
    con.commit()
    con.close()
    one_line_error(run("ledger", "history", path, 1), "damaged or not an acoustic ledger", "dispatches")
    one_line_error(run("ledger", "dispatch", path, 1), "dispatches")
    one_line_error(run("report", "--ledger", path, "--out", tmp_path / "rep"), "l.db")


def test_not_a_regular_file(tmp_path):
    import os

    fifo = tmp_path / "fifo.db"
    os.mkfifo(fifo)
    one_line_error(run("ledger", "list", fifo), "not a regular file")
    one_line_error(run("ledger", "list", tmp_path), "")


def test_csv_export_neutralises_formulas(tmp_path):
    path = make(tmp_path / "l.db", area="=HYPERLINK(\"http://x\",\"y\")")
    run("ledger", "confirm", path, 1, "--no-leak", "--note", "+cmd|' /C calc'!A0", "--by", "@evil")
    r = run("ledger", "export", path, "--csv", tmp_path / "s.csv")
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO((tmp_path / "s.csv").read_text())))
    assert rows[0]["area"] == "'=HYPERLINK(\"http://x\",\"y\")" and rows[0]["recorded_by"] == "'@evil"
    assert rows[0]["offset_m"] == "10.0"                    # numbers stay numbers (a negative one too)
    from acoustic.ledger._ops import csv_cell

    assert csv_cell(-3.5) == "-3.5" and csv_cell("-3") == "-3" and csv_cell("-x") == "'-x" and csv_cell("\t=1") == "'\t=1"


def test_hostile_ids_escaped_in_the_report(tmp_path):
    bad = '<img src=x onerror="alert(1)">'
    path = make(tmp_path / "l.db", area=bad)
    con = sqlite3.connect(path)
    con.execute("UPDATE suspects SET pipe_id = ?, from_logger = ?, to_logger = 'L&2' WHERE id = 1", (bad, bad))
    con.commit()
    con.close()
    r = run("report", "--ledger", path, "--out", tmp_path / "rep")
    assert r.exit_code == 0, r.output
    for name in ("index.html", "dig-sheets.html"):
        html = (tmp_path / "rep" / name).read_text()
        assert bad not in html and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    hist = run("ledger", "history", path, 1)
    assert hist.exit_code == 0
