"""The shared input/output plumbing (issue 19): regular files only, one JSON loader, one CSV reader,
one formula-safe CSV writer, one home for warnings.

Every case builds the hostile input and asserts the one-line error (naming the file, and the line
where there is one), the warning, or the correct result.  A test that could hang (a FIFO) runs in a
subprocess with a timeout, so a hang fails the test instead of stalling the suite.
"""

from __future__ import annotations

import doctest
import io
import os
import socket
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import acoustic._warnings as acw
from acoustic._errors import AcousticWarning, DataError, PipeError, RecordingError
from acoustic.io import (
    csv_safe_cell,
    format_csv_rows,
    loads_json_limited,
    open_regular,
    parse_date_cell,
    parse_float_cell,
    parse_int_cell,
    read_csv_table,
    read_file_bytes,
    read_json_file,
    require_regular_file,
    write_csv_rows,
)

SRC = str(Path(__file__).resolve().parents[1] / "src")


# -- regular files only ---------------------------------------------------------------------------

def test_fifo_is_refused_by_name_and_kind(tmp_path):
    fifo = tmp_path / "A.wav"
    os.mkfifo(fifo)
    with pytest.raises(RecordingError) as ei:
        require_regular_file(fifo, what="recording", error=RecordingError)
    msg = str(ei.value)
    assert msg == f"{fifo}: recording is a FIFO (named pipe), not a regular file"
    assert "\n" not in msg


def test_directory_socket_and_device_are_named(tmp_path):
    with pytest.raises(DataError, match="is a directory, not a regular file"):
        require_regular_file(tmp_path)
    sock_path = tmp_path / "s.json"
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(str(sock_path))
        with pytest.raises(DataError, match="is a socket, not a regular file"):
            require_regular_file(sock_path)
    finally:
        s.close()
    link = tmp_path / "zero.wav"
    link.symlink_to("/dev/zero")
    with pytest.raises(DataError) as ei:
        require_regular_file(link, what="recording")
    assert "is a character device (symbolic link to /dev/zero), not a regular file" in str(ei.value)


def test_missing_and_broken_link(tmp_path):
    with pytest.raises(DataError, match=r"nope\.csv: stats file not found$"):
        require_regular_file(tmp_path / "nope.csv", what="stats file")
    assert require_regular_file(tmp_path / "nope.csv", missing_ok=True) is None
    bad = tmp_path / "dangling.json"
    bad.symlink_to(tmp_path / "gone.json")
    with pytest.raises(DataError, match="broken symbolic link"):
        require_regular_file(bad)


def test_size_cap_names_the_sizes(tmp_path):
    p = tmp_path / "big.json"
    p.write_bytes(b" " * 2000)
    with pytest.raises(DataError, match="2000 bytes, more than the 1000 bytes allowed"):
        require_regular_file(p, max_bytes=1000)
    assert require_regular_file(p, max_bytes=2000).st_size == 2000


def test_a_file_swapped_for_a_fifo_after_the_check_does_not_block(tmp_path, monkeypatch):
    """The check passes (as if the file was regular then); the open itself must not block."""
    import acoustic.io._files as files

    fifo = tmp_path / "A.json"
    os.mkfifo(fifo)
    monkeypatch.setattr(files, "require_regular_file", lambda *a, **k: None)
    with pytest.raises(DataError, match="replaced while being opened"):
        files.open_regular(fifo, what="sidecar")


def test_reading_a_fifo_never_hangs_in_a_subprocess(tmp_path):
    fifo = tmp_path / "side.json"
    os.mkfifo(fifo)
    code = ("import sys; from acoustic.io import read_json_file, read_csv_table, read_file_bytes\n"
            "for f in (read_json_file, read_csv_table, read_file_bytes):\n"
            "    try:\n        f(sys.argv[1])\n    except Exception as e:\n        print(type(e).__name__, e)\n")
    r = subprocess.run([sys.executable, "-c", code, str(fifo)], capture_output=True, text=True, timeout=30,
                       env={**os.environ, "PYTHONPATH": SRC})
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("is a FIFO (named pipe), not a regular file") == 3


def test_read_file_bytes_and_open_regular(tmp_path):
    p = tmp_path / "x.bin"
    p.write_bytes(b"abc")
    assert read_file_bytes(p) == b"abc"
    with open_regular(p) as fh:
        assert fh.read() == b"abc"
    with pytest.raises(DataError, match="more than the 2 bytes allowed"):
        read_file_bytes(p, max_bytes=2)


def test_non_utf8_file_name_is_opened_and_shown_escaped(tmp_path):
    raw = os.fsencode(str(tmp_path)) + b"/caf\xe9.json"
    with open(raw, "wb") as fh:
        fh.write(b'{"a": 1}')
    name = os.fsdecode(raw)
    assert read_json_file(name) == {"a": 1}
    os.unlink(raw)
    os.mkfifo(raw)
    with pytest.raises(DataError) as ei:
        read_json_file(name)
    assert "caf\\xe9.json" in str(ei.value)
    str(ei.value).encode("utf-8")  # printable


# -- one JSON loader ------------------------------------------------------------------------------

def test_json_nested_100000_deep_is_refused_without_recursing(tmp_path):
    p = tmp_path / "A.json"
    p.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(RecordingError) as ei:
        read_json_file(p, what="sidecar", error=RecordingError, require_object=False)
    assert str(ei.value) == f"{p}: sidecar is nested more than 64 levels deep (line 1, column 65)"


def test_brackets_inside_strings_do_not_count(tmp_path):
    doc = '{"note": "' + "[" * 500 + '\\"{{{", "x": [[1]]}'
    assert loads_json_limited(doc)["x"] == [[1]]


def test_json_5000_digit_integer_is_refused_cleanly():
    with pytest.raises(PipeError) as ei:
        loads_json_limited('{"length_m":\n ' + "9" * 5000 + "}", source="pipe.json", what="pipe description",
                           error=PipeError)
    assert str(ei.value) == ("pipe.json: pipe description holds an integer of 5000 digits (at most 40 are "
                             "accepted) (line 2, column 2)")


def test_json_nonfinite_literals_refused_or_allowed():
    with pytest.raises(DataError, match=r"holds -Infinity, which JSON does not allow .*line 1, column 7"):
        loads_json_limited('{"a": -Infinity}', source="m.json")
    assert np.isnan(loads_json_limited('{"a": NaN}', allow_nonfinite=True)["a"])
    with pytest.raises(DataError, match="the number 1e400, too large for a float"):
        loads_json_limited('{"a": 1e400}', allow_nonfinite=True)
    # a string "NaN" is text, not a number
    assert loads_json_limited('{"a": "NaN"}') == {"a": "NaN"}


def test_json_top_level_must_be_an_object_unless_asked():
    with pytest.raises(DataError, match=r"s\.json: survey result must be a JSON object .*found an array"):
        loads_json_limited("[1, 2]", source="s.json", what="survey result")
    assert loads_json_limited("[1, 2]", require_object=False) == [1, 2]


def test_json_syntax_errors_name_line_and_column(tmp_path):
    p = tmp_path / "pipe.json"
    p.write_text('{\n  "segments": [\n    {"material": "pvc",}\n  ]\n}\n')
    with pytest.raises(PipeError) as ei:
        read_json_file(p, what="pipe description", error=PipeError)
    assert str(ei.value).startswith(f"{p}: pipe description is not valid JSON: ")
    assert str(ei.value).endswith("(line 3, column 24)")


def test_json_bom_empty_and_non_utf8(tmp_path):
    p = tmp_path / "a.json"
    p.write_bytes(b"\xef\xbb\xbf" + b'{"k": 1}')
    assert read_json_file(p) == {"k": 1}
    p.write_bytes(b"")
    with pytest.raises(DataError, match="is empty"):
        read_json_file(p)
    assert read_json_file(p, empty_ok=True) is None
    p.write_bytes(b'{"k":\n "caf\xe9"}')
    with pytest.raises(DataError, match=r"not UTF-8 text \(byte 0xe9 at line 2, column 6\)"):
        read_json_file(p)


def test_json_size_limit(tmp_path):
    p = tmp_path / "big.json"
    p.write_text('{"a": "' + "x" * 5000 + '"}')
    with pytest.raises(DataError, match="more than the 1000 bytes allowed"):
        read_json_file(p, max_bytes=1000)


# -- one CSV reader -------------------------------------------------------------------------------

def _write(p: Path, text: str, bom: bool = False):
    p.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return p


def test_bom_does_not_hide_a_column(tmp_path):
    p = _write(tmp_path / "loggers.csv", "logger_id,node_id\nL01,N1\n", bom=True)
    t = read_csv_table(p, required=("logger_id", "node_id"))
    assert t.columns == ["logger_id", "node_id"] and t.rows[0]["logger_id"] == "L01"
    p = _write(tmp_path / "loggers.csv", "logger,node_id\nL01,N1\n", bom=True)
    with pytest.raises(DataError) as ei:
        read_csv_table(p, required=("logger_id", "node_id"))
    assert str(ei.value) == f"{p}: missing column(s) logger_id; found logger, node_id"


def test_trailing_separator_and_whitespace(tmp_path):
    p = _write(tmp_path / "pipes.csv", " pipe_id , material ,\nP1, pvc ,\r\nP2,pe,\n")
    t = read_csv_table(p, required=("pipe_id", "material"))
    assert t.columns == ["pipe_id", "material"]
    assert [(r.line, r["pipe_id"], r["material"], r.extra) for r in t] == [(2, "P1", "pvc", ()), (3, "P2", "pe", ())]
    assert t.n_extra_rows == 0


def test_extra_fields_warn_error_ignore_never_reach_the_caller(tmp_path):
    p = _write(tmp_path / "labels.csv", "file,label\na.wav,leak,oops\nb.wav,no_leak\nc.wav,leak,1,2\n")
    with pytest.warns(AcousticWarning, match=r"labels\.csv: 2 row\(s\) have more fields than the header's 2 "
                                             r"\(first on line 2\)"):
        t = read_csv_table(p, required=("file", "label"))
    assert all(set(r.cells) == {"file", "label"} for r in t) and t.rows[0].extra == ("oops",)
    with pytest.raises(DataError, match=r"labels\.csv, line 2: 3 fields, the header has 2"):
        read_csv_table(p, required=("file", "label"), extra_fields="error")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(read_csv_table(p, extra_fields="ignore")) == 3


def test_short_rows_optional_columns_blank_lines_and_quoted_newlines(tmp_path):
    p = _write(tmp_path / "t.csv", "a,b\n\n1\n,,\n\"x\ny\",2\n3,4\n")
    t = read_csv_table(p, required=("a",), optional=("c",))
    assert [(r.line, r["a"], r["b"], r["c"]) for r in t] == [(3, "1", "", ""), (5, "x\ny", "2", ""), (7, "3", "4", "")]
    assert t.columns == ["a", "b", "c"]


def test_undecodable_bytes_name_the_line(tmp_path):
    p = tmp_path / "stats.csv"
    p.write_bytes(b"logger_id,date\nL1,2026-01-01\nL\xff2,2026-01-02\n")
    with pytest.raises(DataError, match=r"stats\.csv, line 3: stats file is not UTF-8 text \(byte 0xff\)"):
        read_csv_table(p, what="stats file")


def test_empty_header_only_duplicates_and_nul(tmp_path):
    p = _write(tmp_path / "t.csv", "")
    with pytest.raises(DataError, match=r"t\.csv: CSV file is empty \(no header line\)"):
        read_csv_table(p)
    _write(p, "\n  \n")
    with pytest.raises(DataError, match="is empty"):
        read_csv_table(p)
    _write(p, "a,b\n")
    with pytest.raises(DataError, match="has a header but no data rows"):
        read_csv_table(p)
    assert len(read_csv_table(p, allow_no_rows=True)) == 0
    _write(p, "a,b,a\n1,2,3\n")
    with pytest.raises(DataError, match=r"line 1: column a appears twice"):
        read_csv_table(p)
    p.write_bytes(b"a,b\n1,\x002\n")
    with pytest.raises(DataError, match=r"t\.csv, line 2: CSV file holds a NUL byte"):
        read_csv_table(p)
    _write(p, 'a,b\n1,"unclosed\n')
    with pytest.raises(DataError, match=r"t\.csv, line 2: CSV file is not readable CSV \(unexpected end of data\)"):
        read_csv_table(p)


def test_csv_fifo_and_directory(tmp_path):
    os.mkfifo(tmp_path / "stats.csv")
    with pytest.raises(DataError, match="stats file is a FIFO"):
        read_csv_table(tmp_path / "stats.csv", what="stats file")
    with pytest.raises(DataError, match="is a directory"):
        read_csv_table(tmp_path)


def test_row_parsers_name_file_line_and_column(tmp_path):
    p = _write(tmp_path / "s.csv", "id,level,date,n\nA,nan,2026-02-30,1.5\nB,-3,2026-01-01,7\n")
    r1, r2 = read_csv_table(p)
    with pytest.raises(DataError, match=r"s\.csv, line 2, column level: 'nan' is not a finite number"):
        r1.number("level")
    assert r1.number("level", optional=True, missing={"nan"}) is None
    with pytest.raises(DataError, match=r"line 2, column date: '2026-02-30' is not a calendar date"):
        r1.date("date")
    with pytest.raises(DataError, match=r"line 2, column n: '1.5' is not an integer"):
        r1.integer("n")
    assert r2.number("level", unit="dB") == -3.0 and r2.integer("n", min_value=0) == 7
    with pytest.raises(DataError, match=r"line 3, column level: -3 dB is out of range \(must be at least 0 dB\)"):
        r2.number("level", unit="dB", min_value=0)
    from datetime import date

    with pytest.raises(DataError, match="2026-01-01 is in the future"):
        r2.date("date", not_after=date(2025, 12, 31))
    with pytest.raises(DataError, match=r"line 3, column missing: empty cell"):
        r2.text("missing")


def test_cell_parsers_alone():
    assert parse_float_cell("1e3", where="w", max_value=1e3) == 1000.0
    with pytest.raises(DataError, match="w: 'inf' is not a finite number"):
        parse_float_cell("inf", where="w")
    with pytest.raises(DataError, match=r"w: 0 m is out of range \(must be more than 0 m\)"):
        parse_float_cell("0", where="w", unit="m", min_value=0, min_inclusive=False)
    with pytest.raises(DataError, match="not an integer"):
        parse_int_cell("9" * 50, where="w")
    with pytest.raises(DataError, match="not a YYYY-MM-DD date"):
        parse_date_cell("2026-1-1", where="w")


# -- one formula-safe CSV writer ------------------------------------------------------------------

@pytest.mark.parametrize("text", ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1", "=HYPERLINK(\"x\")", "-",
                                  "- 2"])
def test_formula_cells_are_neutralised(text):
    assert csv_safe_cell(text) == "'" + text


@pytest.mark.parametrize("value,expected", [(-3.5, "-3.5"), (-12, "-12"), ("-3.5", "-3.5"), ("+4", "+4"),
                                            ("-1e-05", "-1e-05"), (np.float32(-2.5), "-2.5"), (np.int64(-7), "-7"),
                                            (None, ""), ("L-01", "L-01"), (True, "True"), ("", "")])
def test_numbers_stay_numbers(value, expected):
    assert csv_safe_cell(value) == expected


def test_write_csv_rows_to_a_path_and_a_stream(tmp_path):
    out = tmp_path / "export.csv"
    n = write_csv_rows(out, ["id", "level"], [{"id": "=cmd", "level": -1.5}, ["ok", None]])
    assert n == 2
    assert out.read_text() == "id,level\n'=cmd,-1.5\nok,\n"
    assert not list(tmp_path.glob(".*tmp"))
    assert format_csv_rows(["a"], [["@x"]]) == "a\n'@x\n"
    buf = io.StringIO()
    write_csv_rows(buf, ["a,b"], [["x,\"y\""]])
    assert buf.getvalue() == '"a,b"\n"x,""y"""\n'


def test_written_csv_reads_back(tmp_path):
    out = tmp_path / "r.csv"
    write_csv_rows(out, ["id", "level"], [["-2", -2.0], ["=x", 1]])
    rows = read_csv_table(out, required=("id", "level")).rows
    # the protection is undone on reading: what the package writes, it reads back unchanged
    assert [(r["id"], r.number("level")) for r in rows] == [("-2", -2.0), ("=x", 1.0)]


# -- one home for warnings ------------------------------------------------------------------------

def test_collect_warnings_dedupes_in_order():
    with acw.collect_warnings() as log:
        acw.warn("b")
        acw.warn("a")
        acw.warn("b")
    assert log.messages == ["b", "a"] and len(log) == 2 and list(log) == ["b", "a"]


def test_collect_warnings_reemits_once_and_passes_foreign():
    with warnings.catch_warnings(record=True) as outer:
        warnings.simplefilter("always")
        with acw.collect_warnings(reemit=True) as log:
            acw.warn("x")
            acw.warn("x")
            warnings.warn("numpy says", RuntimeWarning)
    assert log.messages == ["x"]
    kinds = sorted((w.category.__name__, str(w.message)) for w in outer)
    assert kinds == [("AcousticWarning", "x"), ("RuntimeWarning", "numpy says")]


def test_collect_warnings_ignores_foreign_and_does_not_reemit_on_error():
    with warnings.catch_warnings(record=True) as outer:
        warnings.simplefilter("always")
        with pytest.raises(ValueError):
            with acw.collect_warnings(reemit=True, foreign="ignore", ignore_deprecations=True) as log:
                acw.warn("y")
                warnings.warn("old", DeprecationWarning)
                raise ValueError("stop")
    assert log.messages == ["y"] and outer == []


def test_one_line():
    assert acw.one_line(OSError("a\n  b\tc")) == "a b c"
    assert acw.one_line(KeyError()) == "KeyError"
    assert acw.one_line("") == ""


def test_warn_points_at_the_caller():
    def reader():
        acw.warn("here")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reader()  # the line the warning names
    assert caught[0].filename == __file__


# -- the docstring examples run -------------------------------------------------------------------

@pytest.mark.parametrize("module", ["acoustic.io._files", "acoustic.io._jsonio", "acoustic.io._table",
                                    "acoustic._warnings", "acoustic.batch._engine", "acoustic.cli._common"])
def test_docstring_examples(module):
    import importlib

    mod = importlib.import_module(module)
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert res.failed == 0 and res.attempted > 0


def test_no_special_file_kinds_are_regular():
    from acoustic.io._files import file_kind

    assert file_kind(stat.S_IFREG) == "a regular file"
    assert file_kind(stat.S_IFIFO) == "a FIFO (named pipe)"
    assert file_kind(stat.S_IFBLK) == "a block device"
