"""Cases found by the review of issue 19's plumbing and batch work, each a reproducer of what was wrong.

A case that could hang runs in a subprocess with a timeout, so a hang fails the test instead of
stalling the suite.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from acoustic._errors import RecordingError
from acoustic.batch._work import process_stats_file as _READ_STATS  # (the real one, before a test patches it)
from acoustic.io import loads_json_limited, read_sidecar

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _python(code: str, *args, timeout: float = 60.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"})


# -- JSON: the string mask is linear -----------------------------------------------------------------

def test_a_sidecar_of_escaped_quotes_never_closed_does_not_hang(tmp_path):
    # ["\"\"\"... with no closing quote: each escaped quote used to restart the string scan (quadratic:
    # hours for a 1 MiB sidecar, which the batch reads in a worker and in the driver)
    side = tmp_path / "A.json"
    side.write_text('{"sensor_id": "' + '\\"' * 500_000)
    r = _python("import sys; from acoustic.io import read_sidecar\n"
                "try:\n    read_sidecar(sys.argv[1])\nexcept Exception as e:\n    print(type(e).__name__, e)",
                side)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("RecordingError") and "Unterminated string" in r.stdout


def test_an_unclosed_string_is_masked_to_the_end_and_positions_hold():
    from acoustic.io._jsonio import _mask_strings

    for text in ['{"a": "x[y", "b": [1]}', '"', '"abc[[', '["a\\"b"]', '"\\']:
        masked = _mask_strings(text)
        assert len(masked) == len(text)
        assert "[" not in masked[masked.find('"'):masked.rfind('"') + 1].strip('"')
    with pytest.raises(Exception, match="Unterminated string"):
        loads_json_limited('[1, "' + "[" * 1000)  # the brackets inside the open string do not count
    with pytest.raises(RecordingError, match="Unterminated string"):
        loads_json_limited('{"a": "\\"', error=RecordingError)


# -- CSV: what the writer writes, the reader reads back ---------------------------------------------

def test_a_bare_carriage_return_cannot_start_a_row_with_a_formula(tmp_path):
    from acoustic.io import format_csv_rows, read_csv_table

    text = format_csv_rows(["logger_id", "level"], [["L1\r=HYPERLINK(1)", 3], ["\rx", 4]])
    path = tmp_path / "out.csv"
    path.write_text(text, newline="")
    rows = [(r.line, r["logger_id"], r["level"]) for r in read_csv_table(path, extra_fields="error")]
    assert rows == [(2, "L1\r=HYPERLINK(1)", "3"), (4, "\rx", "4")]  # (the first row's cell spans lines 2-3)
    assert text.endswith("4\n") and "\r\n" not in text.replace('"', "")


CELLS = ["=1+2", "+1", "-1", "-1+2", "@SUM(A1)", "\tx", "-", "'=x", "''-1", "'abc", "'", "-inf", "-nan", "L-01",
         "-L01", "1e5", "a\x00b", "\x00x", "x\r\ny", "=a\nb", "'\x00", "-0", "0x10", '"=1"', ",=1", "ǝ"]


@pytest.mark.parametrize("cell", CELLS)
def test_written_cells_read_back_unchanged(tmp_path, cell):
    from acoustic.io import csv_safe_cell, read_csv_table, write_csv_rows

    path = tmp_path / "t.csv"
    write_csv_rows(path, ["id", "v", "end"], [["a", cell, "z"]])
    if "\x00" not in cell:  # (the reader refuses NUL bytes: the protection is for spreadsheets)
        (row,) = read_csv_table(path, extra_fields="error")
        assert (row["id"], row["v"], row["end"]) == ("a", cell, "z")
    protected = csv_safe_cell(cell)
    if protected.startswith(("=", "@", "\t", "\r", "\x00")) or (protected[:1] in "+-" and protected != cell):
        pytest.fail(f"{cell!r} written as {protected!r}")
    assert protected.startswith("'") or not cell.lstrip("'").startswith(("=", "@", "\t", "\r", "\x00")), protected


def test_numbers_written_by_type_read_back_as_numbers(tmp_path):
    import numpy as np

    from acoustic.io import read_csv_table, write_csv_rows

    path = tmp_path / "n.csv"
    write_csv_rows(path, ["a", "b", "c", "d"], [[-3.5, np.float32(-1.5), np.int64(-4), -0.0]])
    (row,) = read_csv_table(path)
    assert [row.number(c) for c in "abcd"] == [-3.5, -1.5, -4.0, -0.0]


# -- warnings: the JSON ``warnings`` field carries what stderr shows ----------------------------------

def test_json_warnings_field_holds_the_warnings_printed_on_stderr(tmp_path):
    from click.testing import CliRunner

    from acoustic.cli import cli

    r = CliRunner().invoke(cli, ["simulate", "recording", "--out", str(tmp_path / "r.wav"), "--duration", "2",
                                 "--start-time", "2099-01-01T00:00:00Z", "--json"])
    assert r.exit_code == 0, r.output
    import json

    doc = json.loads(r.stdout)
    printed = [line[len("Warning: "):] for line in r.stderr.splitlines() if line.startswith("Warning: ")]
    assert printed and doc["warnings"] == printed  # (the field was [] : filled only after the command returned)
    assert len(printed) == len(set(printed))


def test_collect_warnings_sink_fills_while_the_block_runs():
    import warnings

    from acoustic._errors import AcousticWarning
    from acoustic._warnings import collect_warnings, warn

    sink = ["already there"]
    with pytest.warns(RuntimeWarning, match="numpy says"), collect_warnings(sink=sink) as log:  # (passed on)
        warn("A.wav: one")
        assert sink == ["already there", "A.wav: one"]
        warn("A.wav: one")
        warnings.warn("numpy says", RuntimeWarning)
        with collect_warnings(reemit=True):
            warn("B.wav: inner")
        assert sink == ["already there", "A.wav: one", "B.wav: inner"]
    assert log.messages == ["A.wav: one", "B.wav: inner"]
    assert [w.category for w in log.foreign()] == [RuntimeWarning]
    assert issubclass(log.records[0].category, AcousticWarning)


# -- regular files: O_NONBLOCK is for the open only ----------------------------------------------------

def test_open_regular_gives_a_blocking_descriptor(tmp_path):
    import os

    from acoustic.io import open_regular

    p = tmp_path / "a.bin"
    p.write_bytes(b"x" * 10)
    with open_regular(p) as fh:
        assert os.get_blocking(fh.fileno())  # (it kept O_NONBLOCK: a read could end early with EAGAIN)
        assert fh.read() == b"x" * 10


# -- the batch: only an incomplete upload at a path is replaced by what comes there next ----------------

def _batch(upload, ledger):
    import json

    from click.testing import CliRunner

    from acoustic.cli import cli

    r = CliRunner().invoke(cli, ["batch", "run", str(upload), "--ledger", str(ledger), "--jobs", "0", "--no-model",
                                 "--json"])
    assert r.exit_code in (0, 3), r.output
    return r, json.loads(r.stdout)


def _noise_wav(path: Path, *, seconds: float, seed: int) -> bytes:
    import os

    import numpy as np
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, 0.05 * np.random.default_rng(seed).standard_normal(int(4000 * seconds)), 4000, subtype="PCM_16")
    old = path.stat().st_mtime - 3600.0  # outside the hash cache's racy window
    os.utime(path, (old, old))
    return path.read_bytes()


def _rows(ledger, sql):
    import sqlite3

    con = sqlite3.connect(ledger)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_a_logger_overwriting_one_file_name_every_night_keeps_every_night(tmp_path):
    # no sidecar (no start time): the logger id is the file's stem; each night's file replaces the last
    up, ledger = tmp_path / "up", tmp_path / "ledger.db"
    for night, (seconds, seed) in enumerate([(4.0, 1), (4.0, 2), (3.0, 3), (5.0, 4)], start=1):
        _noise_wav(up / "L07.wav", seconds=seconds, seed=seed)
        r, s = _batch(up, ledger)
        # (night 2 replaced night 1's record; night 3, shorter, was "kept as a sighting, not used")
        assert (s["new"], s["replaced"], s["duplicates"]) == (1, 0, 0), (night, s)
        _, s = _batch(up, ledger)  # the same night again changes nothing
        assert (s["unchanged"], s["new"], s["replaced"]) == (1, 0, 0)
    assert _rows(ledger, "SELECT logger_id, duration_s, revision FROM recordings ORDER BY id") == [
        ("L07", 4.0, 0), ("L07", 4.0, 0), ("L07", 3.0, 0), ("L07", 5.0, 0)]
    assert _rows(ledger, "SELECT count(*) FROM recording_history") == [(0,)]


def test_a_half_upload_without_start_time_is_completed_in_place(tmp_path):
    up, ledger = tmp_path / "up", tmp_path / "ledger.db"
    full = _noise_wav(tmp_path / "src" / "L07.wav", seconds=6.0, seed=1)
    up.mkdir()
    (up / "L07.wav").write_bytes(full[: 44 + 2 * 4000 * 2])  # 2 s of 6 arrived: the header says 6
    r, s = _batch(up, ledger)
    assert s["new"] == 1
    assert "file is truncated" in _rows(ledger, "SELECT warnings_json FROM recordings")[0][0]
    (up / "L07.wav").write_bytes(full)
    r, s = _batch(up, ledger)
    assert (s["new"], s["replaced"]) == (0, 1)
    assert _rows(ledger, "SELECT duration_s, revision FROM recordings") == [(6.0, 1)]
    assert _rows(ledger, "SELECT duration_s FROM recording_history") == [(2.0,)]
    _, s = _batch(up, ledger)
    assert (s["unchanged"], s["new"], s["replaced"]) == (1, 0, 0)


def test_a_folder_the_batch_cannot_list_is_said_so(tmp_path, monkeypatch):
    import os

    up, ledger = tmp_path / "up", tmp_path / "ledger.db"
    _noise_wav(up / "L1" / "a.wav", seconds=2.0, seed=1)
    _noise_wav(up / "L2" / "b.wav", seconds=2.0, seed=2)
    real = os.scandir

    def scandir(path="."):  # (the tests run as root: chmod 000 would not stop them)
        if str(path).endswith("L2"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    r, s = _batch(up, ledger)
    msg = f"{up / 'L2'}: folder cannot be read (Permission denied); the uploads in it are not processed until it can be"
    assert s["new"] == 1 and msg in s["warnings"] and f"Warning: {msg}" in r.stderr  # (skipped without a word)
    monkeypatch.setattr(os, "scandir", real)
    _, s = _batch(up, ledger)
    assert (s["new"], s["unchanged"], s["warnings"]) == (1, 1, [])


# -- CSV: line numbers with any line end, a doubled byte-order mark -----------------------------------

@pytest.mark.parametrize("end", [b"\n", b"\r\n", b"\r"])
def test_csv_errors_name_the_right_line_whatever_the_line_ends(tmp_path, end):
    from acoustic._errors import DataError
    from acoustic.io import read_csv_table

    p = tmp_path / "stats.csv"
    p.write_bytes(end.join([b"logger_id,level", b"L1,2", b"L2,\xff3", b""]))
    with pytest.raises(DataError, match=r"stats\.csv, line 3: CSV file is not UTF-8"):
        read_csv_table(p)
    p.write_bytes(end.join([b"logger_id,level", b"L1,2", b"L2,\x003", b""]))
    with pytest.raises(DataError, match=r"stats\.csv, line 3: CSV file holds a NUL byte"):
        read_csv_table(p)


def test_a_doubled_byte_order_mark_does_not_hide_a_column(tmp_path):
    from acoustic.io import read_csv_table

    p = tmp_path / "loggers.csv"
    p.write_bytes(b"\xef\xbb\xbf\xef\xbb\xbflogger_id,area\nL1,A\n")  # ("missing column(s) logger_id; found logger_id")
    assert [r["logger_id"] for r in read_csv_table(p, required=("logger_id",))] == ["L1"]


# -- JSON: a key twice, a lone surrogate ---------------------------------------------------------------

def test_a_sidecar_giving_a_key_twice_is_refused_not_read_as_its_last_value(tmp_path):
    import json

    (tmp_path / "A.json").write_text('{"sensor_id": "L1", "start_time": "2026-11-03T02:00:00Z", '
                                     '"gain_db": 0, "start_time": "2026-11-04T02:00:00Z"}')
    with pytest.raises(RecordingError, match=r"A\.json: sidecar holds the key 'start_time' twice in one object"):
        read_sidecar(tmp_path / "A.wav")
    assert loads_json_limited('{"a": {"b": 1}, "c": [{"b": 2}, {"b": 3}]}') == json.loads(
        '{"a": {"b": 1}, "c": [{"b": 2}, {"b": 3}]}')


def test_a_lone_surrogate_is_refused_and_names_still_print(tmp_path):
    from acoustic.cli._common import to_jsonable
    from acoustic.io import display_path

    with pytest.raises(Exception, match="lone surrogate escape"):
        loads_json_limited('{"features": [{"properties": {"pipe_id": "P\\udc01"}}]}')
    assert loads_json_limited('{"id": "\\ud83d\\ude00", "text": "\\\\ud800"}') == {"id": "\U0001F600",
                                                                                   "text": "\\ud800"}
    assert display_path("a\ud800b") == "a\\ud800b"  # (raised UnicodeEncodeError, a traceback from to_jsonable)
    assert to_jsonable({"x": "a\ud800"}) == {"x": "a\\ud800"}


def test_a_pipe_json_whose_segments_add_up_past_the_limit_names_the_file(tmp_path):
    import json

    from acoustic._errors import PipeError
    from acoustic.io import read_pipe

    p = tmp_path / "pipe.json"
    p.write_text(json.dumps({"segments": [{"material": "pvc", "length_m": 60_000}] * 2}))
    with pytest.raises(PipeError, match=r"^.*pipe\.json: the path's segments add up to 120000 m"):
        read_pipe(p)


def _overwrite_then_process(items, options):
    """A recording task whose file is re-sent (new content at the same path) after the driver hashed it."""
    from acoustic.batch._work import process_recordings

    for it in items:
        _noise_wav(Path(it["path"]), seconds=3.0, seed=99)
    return process_recordings(items, options)


def test_a_file_rewritten_between_hashing_and_reading_is_left_for_the_next_run(tmp_path):
    import hashlib

    from acoustic.batch import run_batch

    up, ledger = tmp_path / "up", tmp_path / "ledger.db"
    _noise_wav(up / "L07.wav", seconds=2.0, seed=1)
    s = run_batch(up, ledger, workers=0, model=None, _recording_task=_overwrite_then_process)
    # (recorded the 3 s it read under the hash of the 2 s file it had hashed)
    assert (s.new, s.failed) == (0, 0)
    assert _rows(ledger, "SELECT count(*) FROM recordings") == [(0,)]
    assert _rows(ledger, "SELECT count(*) FROM sightings") == [(0,)]
    r, s = _batch(up, ledger)
    assert s["new"] == 1
    sha = hashlib.sha256((up / "L07.wav").read_bytes()).hexdigest()
    assert _rows(ledger, "SELECT sha256, duration_s FROM recordings") == [(sha, 3.0)]
    _, s = _batch(up, ledger)
    assert (s["unchanged"], s["new"]) == (1, 0)


def _rewrite_then_read_stats(item):
    Path(item["path"]).write_text("logger_id,date,level,spread\nL1,2026-11-02,41,3\nL1,2026-11-03,42,3\n")
    return _READ_STATS(item)


def test_a_stats_file_rewritten_between_hashing_and_reading_is_left_for_the_next_run(tmp_path, monkeypatch):
    import os

    from acoustic.batch import _work, run_batch

    up, ledger = tmp_path / "up", tmp_path / "ledger.db"
    up.mkdir()
    (up / "stats.csv").write_text("logger_id,date,level,spread\nL1,2026-11-02,40,3\n")
    old = (up / "stats.csv").stat().st_mtime - 3600
    os.utime(up / "stats.csv", (old, old))
    monkeypatch.setattr(_work, "process_stats_file", _rewrite_then_read_stats)
    s = run_batch(up, ledger, workers=0, model=None)
    assert (s.stats_files_new, s.failed) == (0, 0)
    assert _rows(ledger, "SELECT count(*) FROM stats_files") == [(0,)]
    monkeypatch.undo()
    s = run_batch(up, ledger, workers=0, model=None)
    assert s.stats_files_new == 1
    assert _rows(ledger, "SELECT date, level FROM logger_nights ORDER BY date") == [("2026-11-02", 41.0),
                                                                                     ("2026-11-03", 42.0)]
