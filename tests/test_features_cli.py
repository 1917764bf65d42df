"""``acoustic features REC... [--json | --csv]`` through click's CliRunner."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone

import numpy as np
import pytest
from click.testing import CliRunner

from acoustic.cli import cli
from acoustic.features import FEATURES_VERSION, feature_names
from acoustic.io import write_recording
from acoustic.recording import Recording


@pytest.fixture
def files(tmp_path, rng):
    fs = 8000.0
    t = np.arange(int(3 * fs)) / fs
    start = datetime(2026, 11, 3, 2, 0, tzinfo=timezone.utc)
    good = write_recording(Recording(0.1 * rng.standard_normal(t.size), fs, sensor_id="L1", start_time=start,
                                     gain_db=6.0), tmp_path / "leak.wav")
    hum = write_recording(Recording(0.02 * rng.standard_normal(t.size) + 0.3 * np.sin(2 * np.pi * 60 * t)
                                    + 0.1 * np.sin(2 * np.pi * 180 * t), fs, sensor_id="L2", start_time=start),
                          tmp_path / "hum.flac")
    short = write_recording(Recording(0.1 * rng.standard_normal(1000), fs, sensor_id="L3", start_time=start),
                            tmp_path / "short.wav")
    const = write_recording(Recording(np.full(8000, 0.25), fs, sensor_id="L4", start_time=start), tmp_path / "const.wav")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    return {"good": good, "hum": hum, "short": short, "const": const, "empty": empty}


def test_json_output(files):
    r = CliRunner().invoke(cli, ["features", str(files["good"]), str(files["hum"]), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert [d["file"].rsplit("/", 1)[-1] for d in doc] == ["leak.wav", "hum.flac"]
    for d in doc:
        assert d["features_version"] == FEATURES_VERSION
        assert list(d["features"]) == list(feature_names()) == list(d["units"])
        assert d["units"]["band_level_db"] == "dB" and d["units"]["spectral_centroid_hz"] == "Hz"
    assert doc[1]["features"]["mains_60hz_flag"] == 1.0 and doc[0]["features"]["mains_60hz_flag"] == 0.0
    assert doc[0]["features"]["third_octave_4000hz_db"] is None      # above 0.45 fs at 8 kHz
    # gain 6 dB: 0.1 full scale is -26 dB re 1 calibrated unit
    assert doc[0]["features"]["rms_level_db"] == pytest.approx(-26.0, abs=0.2)


def test_csv_output(files):
    r = CliRunner().invoke(cli, ["features", str(files["good"]), str(files["hum"]), "--csv"])
    assert r.exit_code == 0
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows[0] == ["file", "features_version", *feature_names()]
    assert len(rows) == 3 and all(len(x) == len(rows[0]) for x in rows)
    i = rows[0].index("third_octave_4000hz_db")
    assert rows[1][i] == "" and float(rows[1][rows[0].index("level_spread_db")]) < 2


def test_table_output(files):
    r = CliRunner().invoke(cli, ["features", str(files["hum"])])
    assert r.exit_code == 0
    assert "hum.flac" in r.stdout and "yes" in r.stdout and "spread dB" in r.stdout


def test_bad_files_reported_others_processed(files):
    args = ["features", str(files["good"]), str(files["short"]), str(files["const"]), str(files["empty"]),
            str(files["good"].with_name("missing.wav")), "--json"]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 1
    assert len(json.loads(r.stdout)) == 1
    err = r.stderr
    assert "short.wav: recording is 0.125 s long; features need at least one frame of 2048 samples (0.256 s" in err
    assert "const.wav: recording is constant" in err
    assert "empty.wav: file is empty (0 bytes)" in err
    assert "missing.wav: file not found" in err
    assert "Error: completed with failures: 4 of 5 file(s) could not be used" in err
    assert "Traceback" not in r.output


def test_all_bad_exit_2(files):
    r = CliRunner().invoke(cli, ["features", str(files["empty"]), "--csv"])
    assert r.exit_code == 2
    assert r.stdout.startswith("file,features_version,")
    assert "Error: completed with failures: 1 of 1" in r.stderr
