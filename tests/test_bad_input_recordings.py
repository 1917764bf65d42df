"""Every bad recording / sidecar / pipe description, one by one: a clear error or warning."""

import json
import struct

import numpy as np
import pytest
import soundfile as sf

from acoustic import AcousticWarning, PipeError, RecordingError, read_pipe, read_recording


def _wav(path, data, rate=8000, subtype="PCM_16"):
    sf.write(path, data, rate, subtype=subtype)
    return path


def _sidecar(path, obj):
    path.with_suffix(".json").write_text(obj if isinstance(obj, str) else json.dumps(obj))


GOOD_META = {"sensor_id": "L1", "sensor_kind": "hydrophone", "start_time": "2026-11-03T02:00:00.000000Z",
             "gain_db": 0.0}


@pytest.fixture
def noise(rng):
    return 0.1 * rng.standard_normal(8000)


def test_missing_file(tmp_path):
    with pytest.raises(RecordingError, match=r"nope\.wav: file not found"):
        read_recording(tmp_path / "nope.wav")


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(RecordingError, match="is a directory"):
        read_recording(tmp_path)


def test_empty_file(tmp_path):
    (tmp_path / "e.wav").write_bytes(b"")
    with pytest.raises(RecordingError, match=r"e\.wav: file is empty"):
        read_recording(tmp_path / "e.wav")


def test_not_audio(tmp_path):
    (tmp_path / "t.wav").write_text("this is a text file, not a WAV\n" * 20)
    with pytest.raises(RecordingError, match=r"t\.wav: not a readable WAV or FLAC"):
        read_recording(tmp_path / "t.wav")


def test_header_only_no_samples(tmp_path):
    p = _wav(tmp_path / "h.wav", np.zeros(0))
    with pytest.raises(RecordingError, match="no audio samples"):
        read_recording(p)


def test_truncated_wav_warns_and_uses_what_is_there(tmp_path, noise):
    p = _wav(tmp_path / "tr.wav", noise)
    _sidecar(p, GOOD_META)
    raw = p.read_bytes()
    p.write_bytes(raw[: len(raw) - 6000])  # chop 3000 samples off the end; header still says 8000
    with pytest.warns(AcousticWarning, match="truncated"):
        rec = read_recording(p)
    assert rec.n_samples == 5000


def test_truncated_inside_header(tmp_path, noise):
    p = _wav(tmp_path / "th.wav", noise)
    p.write_bytes(p.read_bytes()[:30])
    with pytest.raises(RecordingError, match=r"th\.wav"):
        read_recording(p)


def test_all_nan_refused(tmp_path):
    p = _wav(tmp_path / "n.wav", np.full(1000, np.nan), subtype="FLOAT")
    with pytest.raises(RecordingError, match="1000 of 1000 samples are NaN or Inf"):
        read_recording(p)


def test_few_nonfinite_samples_zeroed_with_warning(tmp_path, noise):
    noise[[10, 500]] = [np.nan, np.inf]
    p = _wav(tmp_path / "f.wav", noise, subtype="FLOAT")
    _sidecar(p, GOOD_META)
    with pytest.warns(AcousticWarning, match="2 NaN/Inf samples set to zero"):
        rec = read_recording(p)
    assert np.all(np.isfinite(rec.samples)) and rec.samples[10] == 0.0


def test_all_zeros_refused(tmp_path):
    p = _wav(tmp_path / "z.wav", np.zeros(4000))
    with pytest.raises(RecordingError, match=r"z\.wav: recording is silent"):
        read_recording(p)


def test_constant_refused(tmp_path):
    p = _wav(tmp_path / "c.wav", np.full(4000, 0.25), subtype="FLOAT")
    with pytest.raises(RecordingError, match="constant"):
        read_recording(p)


def test_heavy_clipping_warns(tmp_path, noise):
    p = _wav(tmp_path / "clip.wav", np.clip(noise * 30, -1, 1))
    _sidecar(p, GOOD_META)
    with pytest.warns(AcousticWarning, match=r"% of samples are clipped"):
        read_recording(p)


@pytest.mark.parametrize("rate", [500, 192000])
def test_sample_rate_out_of_range(tmp_path, rng, rate):
    p = _wav(tmp_path / "r.wav", 0.1 * rng.standard_normal(4000), rate=rate)
    with pytest.raises(RecordingError, match=f"sample rate {rate} Hz is outside the supported 1000-96000 Hz"):
        read_recording(p)


def test_bad_channel(tmp_path, noise):
    p = _wav(tmp_path / "c.wav", noise)
    with pytest.raises(RecordingError, match="channel 3 requested, file has 1"):
        read_recording(p, channel=3)


def test_missing_sidecar_warns_defaults(tmp_path, noise):
    p = _wav(tmp_path / "ns.wav", noise)
    with pytest.warns(AcousticWarning, match="no sidecar ns.json"):
        rec = read_recording(p)
    assert rec.sensor_kind == "hydrophone" and rec.gain_db == 0.0 and rec.start_time is None
    assert rec.sensor_id == "ns"
    # a directory where the sidecar should be is no sidecar either
    (tmp_path / "ns.json").mkdir()
    with pytest.warns(AcousticWarning, match="no sidecar ns.json"):
        read_recording(p)


def test_sidecar_with_a_byte_order_mark_is_read(tmp_path, noise):
    """Windows editors start UTF-8 files with a byte-order mark; the sidecar is still JSON."""
    p = _wav(tmp_path / "bom.wav", noise)
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD_META).encode("utf-8"))
    rec = read_recording(p)
    assert rec.sensor_id == GOOD_META["sensor_id"]


def test_sidecar_missing_keys_warns(tmp_path, noise):
    p = _wav(tmp_path / "mk.wav", noise)
    _sidecar(p, {"sensor_id": "L9"})
    with pytest.warns(AcousticWarning, match="missing sensor_kind, start_time, gain_db"):
        rec = read_recording(p)
    assert rec.sensor_id == "L9"


@pytest.mark.parametrize("content,match", [
    ("{not json", "sidecar is not valid JSON"),
    ("[1, 2]", "sidecar must be a JSON object"),
    (dict(GOOD_META, sensor_kind="geophone"), "sensor_kind must be one of hydrophone, accelerometer"),
    (dict(GOOD_META, gain_db="loud"), "gain_db must be a finite number"),
    (dict(GOOD_META, gain_db=1e6), "gain_db .* outside"),
    (dict(GOOD_META, start_time="yesterday"), "start_time 'yesterday' is not an ISO-8601 UTC time"),
    (dict(GOOD_META, start_time="2026-11-03T02:00:00"), "no time zone"),
    (dict(GOOD_META, sensor_id=""), "sensor_id must be a non-empty string"),
    (dict(GOOD_META, sample_rate_hz=4000), "sample_rate_hz 4000 contradicts the audio file's 8000 Hz"),
    (dict(GOOD_META, n_samples=123), "n_samples 123 contradicts"),
])
def test_malformed_or_contradictory_sidecar(tmp_path, noise, content, match):
    p = _wav(tmp_path / "s.wav", noise)
    _sidecar(p, content)
    with pytest.raises(RecordingError, match=match) as info:
        read_recording(p)
    assert "s.json" in str(info.value)


def test_odd_riff_chunk_layout_still_reads(tmp_path, noise):
    # a LIST chunk before data must not confuse the truncation check
    p = _wav(tmp_path / "l.wav", noise)
    raw = bytearray(p.read_bytes())
    data_at = raw.index(b"data")
    lst = b"LIST" + struct.pack("<I", 4) + b"INFO"
    raw[data_at:data_at] = lst
    raw[4:8] = struct.pack("<I", len(raw) - 8)
    p.write_bytes(bytes(raw))
    _sidecar(p, GOOD_META)
    assert read_recording(p).n_samples == 8000


@pytest.mark.parametrize("obj,match", [
    ({"segments": []}, "non-empty 'segments'"),
    ({"segments": [{"length_m": 10}]}, r"segments\[0\]: missing 'material'"),
    ({"segments": [{"material": "pvc"}]}, r"segments\[0\]: missing 'length_m'"),
    ({"segments": [{"material": "pvc", "length_m": -3}]}, "length_m must be a positive"),
    ({"segments": [{"material": "pvc", "length_m": "ten"}]}, "length_m must be a finite number"),
    ({"segments": [{"material": "wood", "length_m": 3}]}, "unknown material 'wood'; known: pvc, pe"),
    ({"segments": [{"material": "pvc", "length_m": 30}, {"material": "pe", "length_m": 20}], "length_m": 60},
     "add up to 50 m but length_m says 60 m"),
    ({"segments": [{"material": "pvc", "length_m": 30, "wave_speed_m_s": 5000}]}, "outside what water"),
])
def test_bad_pipe_json(tmp_path, obj, match):
    p = tmp_path / "pipe.json"
    p.write_text(json.dumps(obj))
    with pytest.raises(PipeError, match=match) as info:
        read_pipe(p)
    assert "pipe.json" in str(info.value)


def test_pipe_json_missing_and_corrupt(tmp_path):
    with pytest.raises(PipeError, match="file not found"):
        read_pipe(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(PipeError, match="not valid JSON"):
        read_pipe(tmp_path / "bad.json")
