"""``acoustic correlate`` and ``acoustic velocity`` through click's CliRunner: output and every bad input."""

import json

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from acoustic.cli import cli
from acoustic.io import read_recording, write_recording
from acoustic.pipe import PipePath, PipeSegment
from acoustic.simulate import simulate_pair


@pytest.fixture(scope="module")
def pair_dir(tmp_path_factory):
    """A simulated pair on a two-segment pipe, written as WAV + sidecars + pipe.json + truth.json."""
    out = tmp_path_factory.mktemp("pair")
    path = PipePath([PipeSegment("pvc", 35.0, 150.0), PipeSegment("ductile_iron", 45.0, 150.0)])
    sim = simulate_pair(path, 28.0, snr_db=3.0, duration_s=15.0, confounders=["hum"], seed=11)
    sim.write(out)
    return out


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_correlate_json_follows_the_contract(pair_dir):
    r = run("correlate", pair_dir / "A.wav", pair_dir / "B.wav", "--pipe", pair_dir / "pipe.json", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    truth = json.loads((pair_dir / "truth.json").read_text())
    for key in ("detected", "distance_from_a_m", "distance_from_b_m", "interval_m", "delay_s", "wave_speed_m_s",
                "confidence", "band_hz", "peaks", "warnings"):
        assert key in out
    assert out["detected"] is True
    assert abs(out["distance_from_a_m"] - truth["leak_m"]) <= max(1.0, 0.02 * 80.0)
    assert out["distance_from_a_m"] + out["distance_from_b_m"] == pytest.approx(80.0, abs=0.02)
    assert out["interval_m"][0] <= out["distance_from_a_m"] <= out["interval_m"][1]
    assert out["peaks"][0]["distance_from_a_m"] == pytest.approx(out["distance_from_a_m"], abs=0.01)
    assert len(out["segment_speeds_m_s"]) == 2
    assert any(abs(f - 50.0) < 1.5 for f in out["tonal_lines_hz"])


def test_correlate_human_summary_and_plot(pair_dir, tmp_path):
    png = tmp_path / "corr.png"
    r = run("correlate", pair_dir / "A.wav", pair_dir / "B.wav", "--pipe", pair_dir / "pipe.json", "--plot", png)
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("Leak at ")
    assert "95 % interval" in r.stdout and "m from A" in r.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("weighting", ["plain", "phat", "scot", "roth", "ht"])
def test_correlate_weighting_and_band_options(pair_dir, weighting):
    r = run("correlate", pair_dir / "A.wav", pair_dir / "B.wav", "--pipe", pair_dir / "pipe.json", "--json",
            "--weighting", weighting, "--band", 20, 300)
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["weighting"] == weighting and out["band_hz"] == [20.0, 300.0]
    truth = json.loads((pair_dir / "truth.json").read_text())
    assert abs(out["distance_from_a_m"] - truth["leak_m"]) <= 2.0


def test_correlate_with_distance_and_material_or_speed(tmp_path):
    path = PipePath.uniform(150.0, "ductile_iron")
    sim = simulate_pair(path, 50.0, snr_db=3.0, duration_s=12.0, seed=12)
    sim.write(tmp_path)
    a, b = tmp_path / "A.wav", tmp_path / "B.wav"
    r = run("correlate", a, b, "--distance", 150, "--material", "ductile_iron", "--json")
    assert r.exit_code == 0, r.output
    assert abs(json.loads(r.stdout)["distance_from_a_m"] - 50.0) <= 3.0
    c = sim.truth["speeds_m_s"][0]
    r = run("correlate", a, b, "--distance", 150, "--speed", round(c, 1), "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    # a given speed scales the pipe model (its dispersion stays): over the band used it is within 0.5 %
    assert out["wave_speed_m_s"] == pytest.approx(c, rel=0.005)
    assert abs(out["distance_from_a_m"] - 50.0) <= 1.0


def test_different_sample_rates_are_resampled(tmp_path):
    path = PipePath.uniform(120.0, "cast_iron")
    sim = simulate_pair(path, 40.0, snr_db=3.0, duration_s=12.0, sample_rate_hz=16000.0, seed=13)
    sim.write(tmp_path)
    b = read_recording(tmp_path / "B.wav")
    from scipy.signal import resample_poly

    b8 = b.with_samples(resample_poly(b.samples, 1, 2), sample_rate=8000.0)
    b8.extra = {}  # the simulator's sidecar records its own rate and length
    write_recording(b8, tmp_path / "B8.wav")
    r = run("correlate", tmp_path / "A.wav", tmp_path / "B8.wav", "--pipe", tmp_path / "pipe.json", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert any("resampled to 8000 Hz" in w for w in out["warnings"])
    assert "Warning:" in r.stderr
    assert abs(out["distance_from_a_m"] - 40.0) <= max(1.0, 0.02 * 120.0)


def test_clipped_channel_warns(tmp_path, pair_dir):
    a = read_recording(pair_dir / "A.wav")
    x = np.clip(a.samples * 40.0, -0.6, 0.6) / 0.6 * (1 - 2**-15)
    write_recording(a.with_samples(x), tmp_path / "A.wav")
    r = run("correlate", tmp_path / "A.wav", pair_dir / "B.wav", "--pipe", pair_dir / "pipe.json", "--json")
    assert r.exit_code == 0, r.output
    assert any("clipped" in w for w in json.loads(r.stdout)["warnings"])


def _err(r):
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1 and "Traceback" not in r.output
    return lines[0]


def test_no_overlap_in_time_is_an_error(tmp_path, pair_dir):
    side = json.loads((pair_dir / "B.json").read_text())
    side["start_time"] = "2026-11-04T05:00:00.000000Z"
    sf.write(tmp_path / "B.wav", sf.read(pair_dir / "B.wav")[0], 8000, subtype="PCM_16")
    (tmp_path / "B.json").write_text(json.dumps(side))
    msg = _err(run("correlate", pair_dir / "A.wav", tmp_path / "B.wav", "--pipe", pair_dir / "pipe.json"))
    assert "do not overlap in time" in msg


@pytest.mark.parametrize("pipe,expect", [
    ({"segments": [{"material": "pvc", "length_m": 30}, {"material": "pvc", "length_m": 40}], "length_m": 80},
     "add up to 70 m but length_m says 80 m"),
    ({"segments": [{"material": "pvc", "length_m": -5}]}, "length_m must be a positive"),
    ({"segments": [{"material": "pvc", "length_m": 0}]}, "length_m must be a positive"),
    ({"segments": [{"material": "unobtainium", "length_m": 50}]}, "known: pvc, pe, cast_iron"),
    ({"segments": [{"material": "steel", "length_m": 50, "wave_speed_m_s": 2500}]}, "outside what water in a pipe"),
    ({"segments": []}, "non-empty 'segments'"),
])
def test_bad_pipe_descriptions(tmp_path, pair_dir, pipe, expect):
    p = tmp_path / "pipe.json"
    p.write_text(json.dumps(pipe))
    msg = _err(run("correlate", pair_dir / "A.wav", pair_dir / "B.wav", "--pipe", p))
    assert expect in msg and "pipe.json" in msg


@pytest.mark.parametrize("args,expect", [
    (["--distance", 0, "--material", "pvc"], "distance must be a positive number"),
    (["--distance", -10, "--material", "pvc"], "distance must be a positive number"),
    (["--distance", 50, "--material", "plastic"], "unknown material 'plastic'; known: pvc, pe"),
    (["--distance", 50, "--speed", 5000], "outside what water in a pipe can carry"),
    (["--distance", 50, "--speed", 20], "outside what water in a pipe can carry"),
    (["--distance", 50], "--distance needs --material"),
    ([], "describe the pipe"),
    (["--distance", 50, "--material", "pvc", "--band", 300, 100], "band must satisfy 0 < LOW < HIGH"),
    (["--distance", 50, "--material", "pvc", "--band", 100, 9000], "above half the sample rate"),
    (["--distance", 50, "--material", "pvc", "--max-peaks", 0], "max_peaks"),
    (["--distance", 50, "--material", "pvc", "--channel", 3], "channel 3 requested"),
])
def test_bad_arguments(pair_dir, args, expect):
    msg = _err(run("correlate", pair_dir / "A.wav", pair_dir / "B.wav", *args))
    assert expect in msg


def test_pipe_and_distance_together_is_an_error(pair_dir):
    msg = _err(run("correlate", pair_dir / "A.wav", pair_dir / "B.wav", "--pipe", pair_dir / "pipe.json",
                   "--distance", 80))
    assert "do not combine it with --distance" in msg


def test_bad_recordings(tmp_path, pair_dir):
    pipe = pair_dir / "pipe.json"
    msg = _err(run("correlate", tmp_path / "missing.wav", pair_dir / "B.wav", "--pipe", pipe))
    assert "missing.wav: file not found" in msg
    (tmp_path / "empty.wav").write_bytes(b"")
    assert "file is empty" in _err(run("correlate", tmp_path / "empty.wav", pair_dir / "B.wav", "--pipe", pipe))
    sf.write(tmp_path / "silent.wav", np.zeros(8000 * 5), 8000, subtype="PCM_16")
    assert "silent" in _err(run("correlate", pair_dir / "A.wav", tmp_path / "silent.wav", "--pipe", pipe))
    x = np.random.default_rng(0).standard_normal(8000 * 5) * 0.1
    x[100:2000] = np.nan
    sf.write(tmp_path / "nan.wav", x, 8000, subtype="FLOAT")
    assert "NaN" in _err(run("correlate", tmp_path / "nan.wav", pair_dir / "B.wav", "--pipe", pipe))
    (tmp_path / "junk.wav").write_bytes(b"RIFF1234WAVEfmt garbage")
    assert "junk.wav" in _err(run("correlate", tmp_path / "junk.wav", pair_dir / "B.wav", "--pipe", pipe))
    # truncated: the readable part is used, with a warning
    raw = (pair_dir / "A.wav").read_bytes()
    (tmp_path / "A.wav").write_bytes(raw[: len(raw) * 3 // 4])
    (tmp_path / "A.json").write_text((pair_dir / "A.json").read_text())
    r = run("correlate", tmp_path / "A.wav", pair_dir / "B.wav", "--pipe", pipe, "--json")
    assert r.exit_code == 0, r.output
    assert any("truncated" in w for w in json.loads(r.stdout)["warnings"])


def test_unknown_weighting_is_a_usage_error(pair_dir):
    r = run("correlate", pair_dir / "A.wav", pair_dir / "B.wav", "--pipe", pair_dir / "pipe.json",
            "--weighting", "eckart")
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_velocity_command(tmp_path):
    path = PipePath.uniform(140.0, "ductile_iron")
    sim = simulate_pair(path, 140.0, snr_db=3.0, duration_s=15.0, seed=14)  # source at B's end: beyond B
    sim.write(tmp_path)
    a, b = tmp_path / "A.wav", tmp_path / "B.wav"
    r = run("velocity", a, b, "--distance", 140, "--source", "beyond-b", "--min-speed", 500, "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["wave_speed_m_s"] == pytest.approx(sim.truth["speeds_m_s"][0], rel=0.01)
    assert out["interval_m_s"][0] <= out["wave_speed_m_s"] <= out["interval_m_s"][1]
    assert "wave_speed_m_s" in out["feed_back"]
    r = run("velocity", a, b, "--distance", 140, "--source", "beyond-b", "--min-speed", 500)
    assert r.exit_code == 0 and r.stdout.startswith("Wave speed ")
    assert "does not fit a source beyond A" in _err(run("velocity", a, b, "--distance", 140, "--min-speed", 500))
    assert "not both" in _err(run("velocity", a, b, "--distance", 140, "--source", "beyond-a", "--source-at", 10))
    assert "distance_m must be a positive" in _err(run("velocity", a, b, "--distance", 0))


def test_correlate_names_a_tap_and_locates_the_steady_leak(tmp_path):
    # a tap at 114 m, switched on and off and louder than the leak at 50 m (simulator seed 528)
    sim = simulate_pair(PipePath.uniform(150.0, "cast_iron"), 50.0, snr_db=0.0, duration_s=30.0,
                        confounders=["consumption"], seed=528)
    sim.write(tmp_path)
    args = ("correlate", tmp_path / "A.wav", tmp_path / "B.wav", "--pipe", tmp_path / "pipe.json")
    text = run(*args, "--plot", tmp_path / "tap.png")
    assert text.exit_code == 0, text.output
    assert (tmp_path / "tap.png").stat().st_size > 10_000
    assert "Leak at 50." in text.stdout or "Leak at 49." in text.stdout
    assert "intermittent peak (comes and goes: a tap?): 11" in text.stdout
    out = json.loads(run(*args, "--json").stdout)
    assert out["peaks"][0]["intermittent"] is True and out["peaks"][1]["intermittent"] is False
    assert out["distance_from_a_m"] == pytest.approx(out["peaks"][1]["distance_from_a_m"], abs=0.01)
    lines = text.stdout.splitlines()
    assert sum(line.startswith("intermittent peak") for line in lines) == 1
    assert not any(line.startswith("other peak") for line in lines)  # the located leak is not listed again


def test_the_same_recording_twice_is_an_input_error(pair_dir, tmp_path):
    """The same file twice, a copy of it under another name, or two files with one sensor id and one
    start time: exit 2 with one line naming the files (it once gave a leak at the midpoint, confidence 1)."""
    import shutil

    pipe = pair_dir / "pipe.json"
    r = run("correlate", pair_dir / "A.wav", pair_dir / "A.wav", "--pipe", pipe)
    assert r.exit_code == 2 and "same recording twice" in r.output and len(r.output.strip().splitlines()) == 1
    shutil.copy(pair_dir / "A.wav", tmp_path / "copy.wav")
    r = run("correlate", pair_dir / "A.wav", tmp_path / "copy.wav", "--pipe", pipe, "--json")
    assert r.exit_code == 2 and "identical samples" in r.output and "copy.wav" in r.output
    # B's samples under A's sidecar (same sensor id, same start time)
    shutil.copy(pair_dir / "B.wav", tmp_path / "B.wav")
    shutil.copy(pair_dir / "A.json", tmp_path / "B.json")
    r = run("correlate", pair_dir / "A.wav", tmp_path / "B.wav", "--pipe", pipe)
    assert r.exit_code == 2 and "sensor id" in r.output
    r = run("velocity", pair_dir / "A.wav", pair_dir / "A.wav", "--distance", 80)
    assert r.exit_code == 2 and "same recording twice" in r.output


def test_correlate_json_carries_schema_and_inputs_a_pair_job_reads(pair_dir, tmp_path):
    from acoustic.ledger._pairs import load_pair_result

    r = run("correlate", pair_dir / "A.wav", pair_dir / "B.wav", "--pipe", pair_dir / "pipe.json", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["schema"] == "acoustic.correlate/1"
    assert out["files"] == {"a": str((pair_dir / "A.wav").resolve()), "b": str((pair_dir / "B.wav").resolve())}
    side_a = json.loads((pair_dir / "A.json").read_text())
    assert out["sensor_ids"]["a"] == side_a["sensor_id"] and out["sensor_ids"]["b"] != out["sensor_ids"]["a"]
    assert out["start_times"]["a"] is not None and out["start_times"]["b"] is not None
    assert out["pipe"]["length_m"] == pytest.approx(80.0) and len(out["pipe"]["segments"]) == 2
    assert out["pipe"]["given"] == {"pipe": str((pair_dir / "pipe.json").resolve())}
    assert out["options"]["weighting"] == "auto"
    doc = tmp_path / "pair.json"
    doc.write_text(r.stdout)
    job = load_pair_result(doc)  # what the ledger's pair jobs read
    assert job.sensor_ids == [out["sensor_ids"]["a"], out["sensor_ids"]["b"]]
    assert job.length_m == pytest.approx(80.0)
    r = run("correlate", pair_dir / "A.wav", pair_dir / "B.wav", "--distance", 80, "--material", "ductile_iron",
            "--json")
    given = json.loads(r.stdout)["pipe"]["given"]
    assert given == {"distance_m": 80.0, "material": "ductile_iron"}


def test_sidecar_less_pair_states_the_common_start_on_stdout(pair_dir, tmp_path):
    import shutil

    for k in ("A", "B"):
        shutil.copy(pair_dir / f"{k}.wav", tmp_path / f"{k}.wav")  # no sidecars
    r = run("correlate", tmp_path / "A.wav", tmp_path / "B.wav", "--pipe", pair_dir / "pipe.json")
    assert r.exit_code == 0, r.output
    assert "assumed: the recordings started together (start time of A and B unknown" in r.stdout
    r = run("correlate", pair_dir / "A.wav", pair_dir / "B.wav", "--pipe", pair_dir / "pipe.json")
    assert "assumed" not in r.stdout
