"""Recording container and WAV/FLAC + sidecar round trips."""

import json
from datetime import datetime, timezone

import numpy as np
import pytest

from acoustic import ParameterError, read_pipe, read_recording, write_recording
from acoustic.io import sidecar_path, write_pipe
from acoustic.pipe import PipePath, PipeSegment
from acoustic.recording import Recording, format_time, parse_time


@pytest.mark.parametrize("suffix,subtype,atol", [(".wav", "PCM_16", 2.0**-15), (".wav", "PCM_24", 2.0**-23),
                                                 (".wav", "PCM_32", 2.0**-31), (".wav", "FLOAT", 1e-7),
                                                 (".flac", "PCM_16", 2.0**-15), (".flac", "PCM_24", 2.0**-23)])
def test_round_trip_samples_and_sidecar(tmp_path, make_recording, suffix, subtype, atol):
    rec = make_recording(sensor_kind="accelerometer", gain_db=12.5)
    out = write_recording(rec, tmp_path / f"a{suffix}", subtype=subtype)
    back = read_recording(out)
    np.testing.assert_allclose(back.samples, rec.samples, atol=atol)
    assert back.sample_rate == rec.sample_rate
    assert back.sensor_id == "L017" and back.sensor_kind == "accelerometer"
    assert back.gain_db == 12.5
    assert back.start_time == rec.start_time  # exact, microseconds included
    assert back.start_time.microsecond == 123456
    assert back.source == out
    assert back.processing and "read a" in back.processing[0]


@pytest.mark.parametrize("channels", [1, 2])
def test_pcm16_wav_reads_exactly_as_libsndfile_converts(tmp_path, rng, channels):
    """16-bit WAV is read as integers and scaled in numpy: the very values libsndfile gives as doubles."""
    import soundfile as sf

    data = rng.integers(-32768, 32768, size=(5000, channels)).astype(np.int16)
    data[:3, 0] = [-32768, 32767, 0]
    sf.write(tmp_path / "p.wav", data, 8000, subtype="PCM_16")
    want = sf.read(tmp_path / "p.wav", dtype="float64", always_2d=True)[0]
    for ch in range(channels):
        got = read_recording(tmp_path / "p.wav", channel=ch).samples
        assert got.dtype == np.float64 and got.flags.c_contiguous
        np.testing.assert_array_equal(got, want[:, ch])


def test_sidecar_format_matches_interfaces(tmp_path, make_recording):
    rec = make_recording()
    write_recording(rec, tmp_path / "A.wav")
    meta = json.loads((tmp_path / "A.json").read_text())
    assert meta == {"sensor_id": "L017", "sensor_kind": "hydrophone",
                    "start_time": "2026-11-03T02:00:00.123456Z", "gain_db": 0.0}


def test_calibration_divides_by_gain(make_recording):
    rec = make_recording(gain_db=20.0)
    np.testing.assert_allclose(rec.calibrated(), rec.samples / 10.0)


def test_multichannel_channel_choice(tmp_path, rng):
    import soundfile as sf

    data = rng.uniform(-0.5, 0.5, (2000, 3))
    sf.write(tmp_path / "m.wav", data, 4000, subtype="FLOAT")
    np.testing.assert_allclose(read_recording(tmp_path / "m.wav", channel=2).samples, data[:, 2], atol=1e-7)
    np.testing.assert_allclose(read_recording(tmp_path / "m.wav").samples, data[:, 0], atol=1e-7)


def test_derived_fields(make_recording):
    rec = make_recording(n=8000, sample_rate=4000.0)
    assert rec.duration_s == 2.0
    assert (rec.end_time - rec.start_time).total_seconds() == 2.0
    new = rec.with_samples(rec.samples[::2], sample_rate=2000.0, note="decimated by 2")
    assert new.processing[-1] == "decimated by 2" and rec.processing == []


def test_time_parsing_keeps_microseconds():
    t = parse_time("2026-11-03T02:00:00.000001Z")
    assert t == datetime(2026, 11, 3, 2, 0, 0, 1, tzinfo=timezone.utc)
    assert format_time(t) == "2026-11-03T02:00:00.000001Z"
    assert parse_time("2026-11-03T03:00:00+01:00") == datetime(2026, 11, 3, 2, tzinfo=timezone.utc)


@pytest.mark.parametrize("kw,match", [(dict(sensor_kind="geophone"), "sensor_kind"),
                                      (dict(sample_rate=0), "sample_rate"),
                                      (dict(start_time=datetime(2026, 1, 1)), "timezone")])
def test_recording_validates_header(kw, match):
    args = dict(samples=np.zeros(10), sample_rate=8000.0)
    args.update(kw)
    with pytest.raises(ParameterError, match=match):
        Recording(**args)


def test_pipe_json_round_trip(tmp_path):
    path = PipePath([PipeSegment("cast_iron", 120.0, 150.0, 12.0),
                     PipeSegment("ductile_iron", 80.5, 150.0, wave_speed_m_s=1250.0)])
    write_pipe(path, tmp_path / "pipe.json")
    back = read_pipe(tmp_path / "pipe.json")
    assert back.length_m == pytest.approx(200.5)
    assert [s.material for s in back.segments] == ["cast_iron", "ductile_iron"]
    assert back.segments[1].wave_speed_m_s == 1250.0
    assert back.segments[0].wall_mm == 12.0


def test_sidecar_path():
    assert sidecar_path("x/A.wav").name == "A.json"


@pytest.mark.parametrize("channels, subtype_fmt", [(1, "WAV"), (2, "WAV"), (3, "WAVEX")])
def test_pcm16_wav_read_by_numpy_matches_libsndfile(tmp_path, rng, channels, subtype_fmt):
    """Plain 16-bit WAVs are read from the data chunk by numpy: the same samples as libsndfile's."""
    import soundfile as sf

    from acoustic.io import read_recording
    from acoustic.io._audio import _read_wav_pcm16, _wav_layout

    data = np.round(rng.standard_normal((4001, channels)) * 4000).astype(np.int16)
    p = tmp_path / "m.wav"
    sf.write(p, data, 8000, subtype="PCM_16", format=subtype_fmt)  # WAVEX: WAVE_FORMAT_EXTENSIBLE
    assert sf.info(str(p)).format == subtype_fmt
    layout = _wav_layout(p, p.stat().st_size)
    assert layout["rate"] == 8000 and layout["channels"] == channels
    assert _read_wav_pcm16(p, layout) is not None  # the numpy path is the one taken
    for ch in range(channels):
        with pytest.warns(Warning, match="no sidecar"):
            rec = read_recording(p, channel=ch)
        ref = sf.read(str(p), dtype="float64", always_2d=True)[0][:, ch]
        np.testing.assert_array_equal(rec.samples, ref)
        assert rec.sample_rate == 8000.0 and f"{subtype_fmt}/PCM_16" in rec.processing[0]
    # truncated mid-frame: the complete frames, as libsndfile reads them
    raw = p.read_bytes()
    (tmp_path / "t.wav").write_bytes(raw[:len(raw) - 2 * channels * 1000 - 1])
    with pytest.warns(Warning, match="truncated"):
        rec = read_recording(tmp_path / "t.wav")
    ref = sf.read(str(tmp_path / "t.wav"), dtype="float64", always_2d=True)[0][:, 0]
    np.testing.assert_array_equal(rec.samples, ref)
    assert rec.samples.size == 4001 - 1001


def test_wav_header_parse_survives_a_file_that_shrank_and_lying_headers(tmp_path, rng):
    """A file shorter than its measured size (a logger still writing), a header claiming more
    channels than libsndfile reads, two data chunks: no traceback, libsndfile has the last word."""
    import soundfile as sf

    from acoustic import RecordingError
    from acoustic.io._audio import _read_wav_pcm16, _wav_layout

    p = tmp_path / "s.wav"
    sf.write(p, (rng.standard_normal(400) * 0.1), 8000, subtype="PCM_16")
    assert _wav_layout(p, p.stat().st_size + 100) is not None  # data found before the phantom bytes
    bare = tmp_path / "bare.wav"
    bare.write_bytes(b"RIFF\x04\x00\x00\x00WAVE")
    assert _wav_layout(bare, bare.stat().st_size + 100) is None
    raw = bytearray(p.read_bytes())
    raw[22:24] = (2000).to_bytes(2, "little")  # channels
    raw[32:34] = (4000).to_bytes(2, "little")  # block align to match
    many = tmp_path / "many.wav"
    many.write_bytes(bytes(raw))
    assert _read_wav_pcm16(many, _wav_layout(many, many.stat().st_size)) is None
    with pytest.raises(RecordingError, match="many.wav"):
        read_recording(many)


def test_other_wav_subtypes_still_read_by_libsndfile(tmp_path, rng):
    from acoustic.io._audio import _read_wav_pcm16, _wav_layout

    import soundfile as sf

    for subtype in ("PCM_24", "FLOAT"):
        p = tmp_path / f"{subtype}.wav"
        sf.write(p, rng.standard_normal(800) * 0.1, 8000, subtype=subtype)
        assert _read_wav_pcm16(p, _wav_layout(p, p.stat().st_size)) is None
