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
            r = run("ledger", "stats", mnt / "l.db", "--json")
            assert r.exit_code == 2, r.output
            err = r.stderr.strip()
            assert err.startswith("Error: ") and "\n" not in err and "l.db-wal" in err, err
    finally:
        keep.close()
