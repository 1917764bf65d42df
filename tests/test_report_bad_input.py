"""acoustic report on bad input: one-line errors naming the file or option, never a traceback;
warnings (and a report without the missing parts) where the result is still usable."""

from __future__ import annotations

import json
import sqlite3
import warnings

import pytest
from click.testing import CliRunner

from acoustic import AcousticWarning, DataError, ModelError, ParameterError
from acoustic.cli import cli

GOOD_POINT = {"pipe_id": "P1", "offset_m": 30.0, "x": 30.0, "y": 0.0, "interval_m": [28.0, 32.0], "confidence": 0.9,
              "loggers": ["L1", "L3"]}


def run(*args):
    return CliRunner().invoke(cli, ["report", *map(str, args)])


def assert_one_line_error(r, *fragments):
    assert r.exit_code == 2, r.output
    err = r.stderr.strip()
    assert err.startswith("Error: ") and "\n" not in err and "Traceback" not in r.output, err
    for f in fragments:
        assert f in err, err


@pytest.fixture
def network_only(tmp_path):
    """A survey folder with a network and loggers but no recordings."""
    from test_report import write_network

    root = tmp_path / "survey"
    root.mkdir()
    write_network(root)
    return root


def result_file(tmp_path, **doc):
    base = {"survey_dir": None, "areas": [], "lines": [], "points": [GOOD_POINT]}
    base.update(doc)
    p = tmp_path / "result.json"
    p.write_text(json.dumps(base))
    return p


def test_neither_input(tmp_path):
    assert_one_line_error(run("--out", tmp_path / "o"), "give a SURVEY_RESULT", "--ledger")


def test_out_is_required(tmp_path):
    r = run(tmp_path / "x.json")
    assert r.exit_code == 2 and "--out" in r.output


@pytest.mark.parametrize("content, fragment", [
    (None, "survey result not found"),
    ("", "survey result is empty"),
    ('{"points": [ {"pipe_id": "P1", "off', "not valid JSON"),
    ("[1, 2, 3]", "not a survey result"),
    ('{"areas": []}', "not a survey result"),
    ('{"points": [], "lines": {}}', "lines must be a list"),
    ('{"points": [{"pipe_id": "P1", "interval_m": [1, 2]}]}', "point 1 has no offset_m"),
    ('{"points": [{"pipe_id": "P1", "offset_m": -3, "interval_m": [1, 2]}]}', "offset_m must be a non-negative"),
    ('{"points": [{"pipe_id": "P1", "offset_m": 3, "interval_m": [5, 2]}]}', "interval_m must be [low, high]"),
    ('{"points": [{"pipe_id": "P1", "offset_m": 3, "interval_m": [1, 5], "confidence": 7}]}', "confidence must be in 0..1"),
    ('{"points": [{"pipe_id": "P1", "offset_m": 3, "interval_m": [1, 5], "x": "east"}]}', "x must be a number"),
])
def test_bad_survey_result(tmp_path, content, fragment):
    p = tmp_path / "result.json"
    if content is not None:
        p.write_text(content)
    r = run(p, "--out", tmp_path / "o")
    assert_one_line_error(r, str(p), fragment)
    assert not (tmp_path / "o" / "index.html").exists()


def test_binary_survey_result(tmp_path):
    p = tmp_path / "result.json"
    p.write_bytes(b"\xff\xfe\x00garbage\x80")
    assert_one_line_error(run(p, "--out", tmp_path / "o"), "not UTF-8")


def test_result_is_a_folder(tmp_path):
    assert_one_line_error(run(tmp_path, "--out", tmp_path / "o"), "is a folder")


@pytest.mark.parametrize("make, fragment", [
    (None, "ledger not found"),
    (lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\x13" * 300), "not a ledger database"),
    (lambda p: p.write_text("just some text, not a database\n" * 50), "not a ledger database"),
    (lambda p: sqlite3.connect(p).execute("CREATE TABLE t (x)").connection.commit(), "not an acoustic ledger"),
])
def test_bad_ledger(tmp_path, make, fragment):
    p = tmp_path / "ledger.sqlite"
    if make is not None:
        make(p)
    assert_one_line_error(run("--ledger", p, "--out", tmp_path / "o"), str(p), fragment)


@pytest.mark.parametrize("args, fragment", [
    (["--tolerance-m", "-1"], "--tolerance-m must be a non-negative"),
    (["--tolerance-m", "nan"], "--tolerance-m must be a non-negative"),
    (["--tolerance-pct", "0"], "--tolerance-pct must be a percentage"),
    (["--tolerance-pct", "150"], "--tolerance-pct must be a percentage"),
    (["--max-suspects", "-2"], "--max-suspects must be an integer 0-200"),
])
def test_bad_options(tmp_path, network_only, args, fragment):
    p = result_file(tmp_path, survey_dir=str(network_only))
    assert_one_line_error(run(p, "--out", tmp_path / "o", *args), fragment)


def test_out_is_a_file(tmp_path, network_only):
    p = result_file(tmp_path, survey_dir=str(network_only))
    f = tmp_path / "file.txt"
    f.write_text("x")
    assert_one_line_error(run(p, "--out", f), "--out", "not a folder")


def test_survey_dir_without_network(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    p = result_file(tmp_path)
    assert_one_line_error(run(p, "--out", tmp_path / "o", "--survey", empty), str(empty),
                          "no network.inp (with pipes.csv) or network.geojson")


def test_corrupt_library_named_explicitly(tmp_path, network_only):
    lib = tmp_path / "sig.h5"
    lib.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 40)
    p = result_file(tmp_path, survey_dir=str(network_only))
    assert_one_line_error(run(p, "--out", tmp_path / "o", "--library", lib), str(lib))


def test_no_recordings_warns_and_still_maps(tmp_path, network_only):
    """A folder without recordings: map and dig sheets, no evidence plots, warnings say why."""
    p = result_file(tmp_path, survey_dir=str(network_only))
    r = run(p, "--out", tmp_path / "o", "--json")
    assert r.exit_code == 0, r.output
    assert "recordings not usable" in r.stderr
    doc = json.loads(r.stdout)
    assert doc["map"]["pipes"] == 3 and doc["suspects"][0]["plots"] == []
    assert doc["suspects"][0]["dig_sheet"]["start_node"]["distance_m"] == 30.0
    assert any("correlogram left out" in n for n in doc["suspects"][0]["notes"])
    html = (tmp_path / "o" / "index.html").read_text()
    assert "recordings not usable" in html and "correlogram left out" in html


def test_corrupt_recording_is_named(tmp_path, network_only):
    """A corrupt WAV in the survey folder: the report is made without the recordings and the
    warning names the file."""
    d = network_only / "recordings" / "L1"
    d.mkdir(parents=True)
    bad = d / "20261103T020000.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage")
    p = result_file(tmp_path, survey_dir=str(network_only))
    r = run(p, "--out", tmp_path / "o")
    assert r.exit_code == 0, r.output
    assert str(bad) in r.stderr


def test_suspect_on_unknown_pipe_is_noted(tmp_path, network_only):
    from acoustic.report import build_report

    p = result_file(tmp_path, survey_dir=str(network_only), points=[dict(GOOD_POINT, pipe_id="P99"), GOOD_POINT])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AcousticWarning)
        res = build_report(tmp_path / "o", survey_result=p)
    s = res.summary["suspects"]
    assert s[0]["dig_sheet"] is None and any("P99" in n and "not in the network" in n for n in s[0]["notes"])
    assert s[1]["dig_sheet"]["pipe_id"] == "P1"
    html = res.index_html.read_text()
    assert html.count('class="digsheet"') == 2 and 'data-suspect="2"' in html


def test_offset_beyond_pipe_is_noted(tmp_path, network_only):
    from acoustic.report import build_report

    p = result_file(tmp_path, survey_dir=str(network_only), points=[dict(GOOD_POINT, offset_m=95.0,
                                                                        interval_m=[90.0, 99.0])])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AcousticWarning)
        res = build_report(tmp_path / "o", survey_result=p)
    assert any("beyond the pipe" in n for n in res.summary["suspects"][0]["notes"])


def test_library_api_errors(tmp_path):
    from acoustic.report import build_report, load_survey_result

    with pytest.raises(ParameterError, match="give a SURVEY_RESULT"):
        build_report(tmp_path / "o")
    with pytest.raises(ParameterError, match="images must be"):
        build_report(tmp_path / "o", survey_result=tmp_path / "x.json", images="inline")
    with pytest.raises(DataError, match="survey result not found"):
        load_survey_result(tmp_path / "nope.json")
    with pytest.raises(ModelError):
        bad = tmp_path / "lib.h5"
        bad.write_text("not hdf5")
        p = result_file(tmp_path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AcousticWarning)
            build_report(tmp_path / "o", survey_result=p, library=bad)
