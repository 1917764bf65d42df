"""``acoustic simulate pair|recording`` through click's CliRunner."""

import json

import pytest
from click.testing import CliRunner

from acoustic.cli import cli
from acoustic.io import read_recording


@pytest.fixture
def runner():
    return CliRunner()


def test_pair_from_distance_writes_files_and_summary(runner, tmp_path):
    out = tmp_path / "sim"
    res = runner.invoke(cli, ["simulate", "pair", "--out", str(out), "--distance", "80", "--material", "pvc",
                              "--leak-m", "30", "--snr-db", "6", "--duration", "2", "--seed", "1"])
    assert res.exit_code == 0, res.output
    for name in ("A.wav", "A.json", "B.wav", "B.json", "pipe.json", "truth.json"):
        assert (out / name).is_file()
    assert "leak at 30.00 m from A, 50.00 m from B" in res.stdout
    assert "delay (arrival A minus B, absolute time)" in res.stdout
    truth = json.loads((out / "truth.json").read_text())
    assert truth["leak_m"] == 30.0 and truth["seed"] == 1 and truth["length_m"] == 80.0
    a = read_recording(out / "A.wav")
    assert a.n_samples == 16000 and a.sample_rate == 8000.0


def test_pair_from_pipe_json_with_confounders_json_output(runner, tmp_path):
    pipe = tmp_path / "pipe.json"
    pipe.write_text(json.dumps({"segments": [
        {"material": "ductile_iron", "length_m": 120.0, "diameter_mm": 150.0},
        {"material": "cast_iron", "length_m": 60.0, "diameter_mm": 150.0}]}))
    out = tmp_path / "metal"
    res = runner.invoke(cli, ["simulate", "pair", "--out", str(out), "--pipe", str(pipe), "--leak-m", "140",
                              "--sensor-kind", "accelerometer", "--confounder", "hum", "--confounder", "pump",
                              "--offset-s", "0.5", "--duration", "1", "--sample-rate", "4000", "--seed", "3",
                              "--subtype", "PCM_24", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["confounders"] == ["hum", "pump"] and doc["start_offset_s"] == 0.5
    assert doc["sensor_kind"] == "accelerometer" and doc["units"] == "m/s^2"
    assert doc["delay_s"] > 0 and len(doc["speeds_m_s"]) == 2
    assert set(doc["files"]) >= {"A", "B", "pipe", "truth"}
    b = read_recording(out / "B.wav")
    assert b.sample_rate == 4000.0
    assert b.extra["sample_rate_hz"] == 4000.0


def test_recording_writes_audio_sidecar_truth(runner, tmp_path):
    out = tmp_path / "rec.wav"
    res = runner.invoke(cli, ["simulate", "recording", "--out", str(out), "--leak-distance-m", "40",
                              "--material", "pvc", "--noise", "traffic", "--duration", "2", "--seed", "3"])
    assert res.exit_code == 0, res.output
    assert out.is_file() and (tmp_path / "rec.json").is_file() and (tmp_path / "rec.truth.json").is_file()
    assert "label leak" in res.stdout
    res = runner.invoke(cli, ["simulate", "recording", "--out", str(tmp_path / "q.flac"), "--noise", "pump",
                              "--duration", "1", "--seed", "2", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["label"] == "pump" and doc["leak_distance_m"] is None
    assert read_recording(tmp_path / "q.flac").n_samples == 8000


@pytest.mark.parametrize("args, message", [
    (["pair", "--distance", "80", "--material", "pvc", "--leak-m", "90"], "leak_m 90 m is outside the path"),
    (["pair", "--leak-m", "9"], "describe the pipe"),
    (["pair", "--pipe", "nope.json", "--leak-m", "3"], "nope.json: file not found"),
    (["pair", "--pipe", "p.json", "--distance", "10", "--leak-m", "3"], "either --pipe or --distance"),
    (["pair", "--distance", "80", "--material", "pvc", "--leak-m", "30", "--snr-db", "nan"], "Invalid value for '--snr-db': 'nan' is not a finite number"),
    (["pair", "--distance", "-5", "--material", "pvc", "--leak-m", "1"], "Invalid value for '--distance'"),
    (["pair", "--distance", "80", "--material", "pvc", "--leak-m", "30", "--duration", "0"], "Invalid value for '--duration': 0 is out of range (must be from 1 to 3600 s)"),
    (["pair", "--distance", "80", "--material", "pvc", "--leak-m", "30", "--start-time", "noon"],
     "--start-time 'noon' is not an ISO-8601"),
    (["recording", "--duration", "-1"], "Invalid value for '--duration'"),
    (["recording", "--snr-db", "3"], "snr_db needs a leak"),
    (["recording", "--noise", "quiet", "--noise", "hum"], "'quiet' (background only) cannot be combined"),
    (["recording", "--sample-rate", "200000"], "Invalid value for '--sample-rate'"),
    # issue 19: impossible pipes and non-finite numbers name the option
    (["pair", "--distance", "80", "--material", "pvc", "--leak-m", "30", "--wall-mm", "1e-9"],
     "the pipe of --distance/--material/--diameter-mm/--wall-mm: wall_mm 1e-09 mm is thinner than any"),
    (["pair", "--distance", "1e12", "--material", "pvc", "--leak-m", "30"],
     "Invalid value for '--distance': 1e+12 is out of range (must be above 0 m and at most 100000 m)"),
    (["pair", "--distance", "80", "--material", "pvc", "--leak-m", "30", "--wall-mm", "200"], "is thicker than any"),
    (["recording", "--wall-mm", "nan"], "Invalid value for '--wall-mm': 'nan' is not a finite number"),
    (["recording", "--wall-mm", "1e-6"], "the pipe of --material/--diameter-mm/--wall-mm: wall_mm 1e-06 mm"),
    (["recording", "--start-time", "9999-12-31T23:59:59Z"], "--start-time '9999-12-31T23:59:59Z' is not"),
])
def test_bad_input_one_line_error(runner, tmp_path, args, message):
    cmd = ["simulate", args[0], "--out", str(tmp_path / ("x.wav" if args[0] == "recording" else "d")), *args[1:]]
    if "p.json" in cmd:
        cmd[cmd.index("p.json")] = str(tmp_path / "p.json")
    res = runner.invoke(cli, cmd)
    assert res.exit_code == 2
    assert message in res.stderr
    lines = res.stderr.strip().splitlines()
    assert lines[-1].startswith("Error: ") and "Traceback" not in res.output


def test_recording_out_must_be_audio(runner, tmp_path):
    res = runner.invoke(cli, ["simulate", "recording", "--out", str(tmp_path / "x.txt")])
    assert res.exit_code == 2 and "must end in .wav or .flac" in res.stderr


def test_unknown_confounder_is_a_usage_error(runner, tmp_path):
    res = runner.invoke(cli, ["simulate", "pair", "--out", str(tmp_path), "--distance", "50", "--material", "pe",
                              "--leak-m", "10", "--confounder", "wind"])
    assert res.exit_code == 2 and "wind" in res.stderr


def test_help_documents_units(runner):
    res = runner.invoke(cli, ["simulate", "pair", "--help"])
    assert res.exit_code == 0
    for text in ("m from sensor A", "Hz", "dB", "--confounder", "--offset-s"):
        assert text in res.stdout
    res = runner.invoke(cli, ["simulate", "--help"])
    assert "pair" in res.stdout and "recording" in res.stdout
