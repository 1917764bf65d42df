"""Hostile inputs to the readers and writers of recordings, sidecars and pipe descriptions (issue 19).

Each builds the input and asserts the one-line error naming the file (and what is wrong), the warning,
or the correct result.  Anything that could block (a FIFO, /dev/zero) runs in a subprocess with a timeout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from acoustic._errors import AcousticWarning, PipeError, RecordingError
from acoustic.io import read_pipe, read_recording, read_sidecar, write_recording
from acoustic.recording import Recording

SRC = str(Path(__file__).resolve().parents[1] / "src")
SIDE = {"sensor_id": "L1", "sensor_kind": "hydrophone", "start_time": "2026-11-03T02:00:00Z", "gain_db": 0.0}


def cli(*args, timeout=120):
    """The command line in a subprocess that must end within ``timeout`` s (a hang fails the test)."""
    return subprocess.run([sys.executable, "-c", "import sys; from acoustic.cli import main; main(sys.argv[1:])",
                           *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": SRC})


def wav(path, x=None, *, subtype="PCM_16", fmt=None, side=SIDE) -> Path:
    """A recording (and its sidecar) at ``path`` (str, Path, or bytes for a name that is not UTF-8)."""
    path = Path(os.fsdecode(path))  # (undecodable bytes become surrogates; open() gives them back)
    x = 0.05 * np.random.default_rng(1).standard_normal(8000) if x is None else x
    with open(path, "wb") as fh:  # (a file object: libsndfile's own open needs UTF-8 names)
        sf.write(fh, x, 8000, subtype=subtype, format=fmt or path.suffix[1:].upper())
    if side is not None:
        with open(path.with_suffix(".json"), "w") as fh:
            json.dump(side, fh)
    return path


# -- special files --------------------------------------------------------------------------------

def test_fifo_recording_is_named_not_empty(tmp_path):
    os.mkfifo(tmp_path / "A.wav")
    with pytest.raises(RecordingError) as ei:
        read_recording(tmp_path / "A.wav")
    assert str(ei.value) == f"{tmp_path}/A.wav: file is a FIFO (named pipe), not a regular file"
    (tmp_path / "E.wav").write_bytes(b"")
    with pytest.raises(RecordingError, match=r"E\.wav: file is empty \(0 bytes\)"):
        read_recording(tmp_path / "E.wav")


def test_dev_zero_and_fifo_sidecar_and_fifo_pipe_json(tmp_path):
    (tmp_path / "Z.wav").symlink_to("/dev/zero")
    with pytest.raises(RecordingError, match=r"Z\.wav: file is a character device \(symbolic link to /dev/zero\)"):
        read_recording(tmp_path / "Z.wav")
    wav(tmp_path / "S.wav", side=None)
    os.mkfifo(tmp_path / "S.json")
    with pytest.raises(RecordingError, match=r"S\.json: sidecar is a FIFO \(named pipe\), not a regular file"):
        read_recording(tmp_path / "S.wav")
    os.mkfifo(tmp_path / "pipe.json")
    with pytest.raises(PipeError, match=r"pipe\.json: file is a FIFO \(named pipe\), not a regular file"):
        read_pipe(tmp_path / "pipe.json")


def test_commands_on_fifos_end_with_one_line(tmp_path):
    """`features` and `correlate` on a FIFO recording, sidecar or pipe.json: an error, never a hang."""
    wav(tmp_path / "A.wav")
    wav(tmp_path / "B.wav", side=None)
    os.mkfifo(tmp_path / "B.json")
    os.mkfifo(tmp_path / "pipe.json")
    os.mkfifo(tmp_path / "F.wav")
    r = cli("features", tmp_path / "F.wav")
    assert r.returncode != 0 and "F.wav: file is a FIFO (named pipe), not a regular file" in r.stderr
    r = cli("correlate", tmp_path / "A.wav", tmp_path / "B.wav", "--distance", "50", "--material", "pvc")
    assert r.returncode == 2 and "B.json: sidecar is a FIFO" in r.stderr and "Traceback" not in r.stderr
    wav(tmp_path / "B2.wav")
    r = cli("correlate", tmp_path / "A.wav", tmp_path / "B2.wav", "--pipe", tmp_path / "pipe.json")
    assert r.returncode == 2 and "pipe.json: file is a FIFO" in r.stderr
    r = cli("simulate", "pair", "--out", tmp_path / "o", "--pipe", tmp_path / "pipe.json", "--leak-m", "3")
    assert r.returncode == 2 and r.stderr.strip().endswith("pipe.json: file is a FIFO (named pipe), not a regular file")


def test_writers_refuse_a_fifo_in_place_of_their_output(tmp_path):
    os.mkfifo(tmp_path / "o.wav")
    rec = Recording(0.1 * np.random.default_rng(2).standard_normal(800), 8000.0, sensor_id="L1")
    with pytest.raises(RecordingError, match=r"o\.wav: audio output exists and is a FIFO"):
        write_recording(rec, tmp_path / "o.wav")
    os.mkfifo(tmp_path / "p.json")
    with pytest.raises(RecordingError, match=r"p\.json: sidecar output exists and is a FIFO"):
        write_recording(rec, tmp_path / "p.wav")
    assert not (tmp_path / "p.wav").exists()  # nothing half-written


def test_a_sidecar_cannot_be_written_with_non_finite_values(tmp_path):
    rec = Recording(0.1 * np.random.default_rng(2).standard_normal(800), 8000.0, extra={"depth_m": float("nan")})
    with pytest.raises(RecordingError, match=r"x\.json: sidecar value\(s\) depth_m are not finite numbers"):
        write_recording(rec, tmp_path / "x.wav")


# -- names that are not UTF-8 ---------------------------------------------------------------------

@pytest.mark.parametrize("suffix,subtype", [(".flac", "PCM_16"), (".wav", "PCM_24"), (".wav", "FLOAT"),
                                            (".wav", "PCM_16")])
def test_non_utf8_names_read_in_every_format(tmp_path, suffix, subtype):
    raw = os.fsencode(str(tmp_path)) + b"/caf\xe9" + suffix.encode()
    x = 0.05 * np.random.default_rng(3).standard_normal(8000)
    wav(raw, x, subtype=subtype, fmt=suffix[1:].upper())
    rec = read_recording(os.fsdecode(raw))
    assert rec.sensor_id == "L1" and rec.n_samples == 8000
    np.testing.assert_allclose(rec.samples, x, atol=2.0 ** -15)
    assert "caf\\xe9" in rec.processing[0]


def test_a_bad_non_utf8_flac_names_the_file_printably(tmp_path):
    raw = os.fsencode(str(tmp_path)) + b"/n\xe9.flac"
    with open(raw, "wb") as fh:
        fh.write(b"fLaC" + b"\x00" * 100)
    with pytest.raises(RecordingError) as ei:
        read_recording(os.fsdecode(raw))
    assert "n\\xe9.flac: not a readable WAV or FLAC file" in str(ei.value)
    str(ei.value).encode("utf-8")


def test_json_output_shows_undecodable_names_as_escapes():
    from acoustic.cli._common import to_jsonable

    assert to_jsonable({"file": os.fsdecode(b"caf\xe9.wav"), "ok": "café"}) == {"file": "caf\\xe9.wav", "ok": "café"}


# -- JSON inputs ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,match", [
    ('{"sensor_id": "L1", "extra": ' + "[" * 100_000 + "]" * 100_000 + "}", "sidecar is nested more than 16 levels deep"),
    ('{"sensor_id": "L1", "n_samples": ' + "7" * 5000 + "}", "sidecar holds an integer of 5000 digits"),
    ('{"sensor_id": "L1", "gain_db": NaN}', r"sidecar holds NaN, which JSON does not allow .*line 1, column 32"),
    ('{"sensor_id": "L1", "gain_db": 1e999}', "sidecar holds the number 1e999, too large for a float"),
    ('{"sensor_id": "L1",\n "gain_db": }', r"sidecar is not valid JSON: Expecting value \(line 2, column 13\)"),
    ("", "sidecar is empty"),
])
def test_hostile_sidecars(tmp_path, text, match):
    wav(tmp_path / "A.wav", side=None)
    (tmp_path / "A.json").write_text(text)
    with pytest.raises(RecordingError, match=match) as ei:
        read_recording(tmp_path / "A.wav")
    assert str(ei.value).startswith(f"{tmp_path}/A.json: ") and "\n" not in str(ei.value)


def test_sidecar_with_bom_and_directory_in_its_place(tmp_path):
    wav(tmp_path / "A.wav", side=None)
    (tmp_path / "A.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(SIDE).encode())
    assert read_sidecar(tmp_path / "A.wav")["sensor_id"] == "L1"


@pytest.mark.parametrize("text,match", [
    ('{"segments": [' * 40 + "]" * 40, "nested more than 16 levels deep"),
    ('{"segments": [{"material": "pvc", "length_m": ' + "1" * 5000 + "}]}", "an integer of 5000 digits"),
    ('{"segments": [{"material": "pvc", "length_m": NaN}]}', "holds NaN"),
    ('{"segments": [{"material": "pvc", "length_m": 1e12}]}', r"segments\[0\]: length_m 1e\+12 m is longer than"),
    ('{"segments": [{"material": "pvc", "length_m": 80, "wall_mm": 1e-9}]}', r"segments\[0\]: wall_mm 1e-09 mm"),
    ('{"segments": [{"material": "pvc", "length_m": 80, "diameter_mm": 100, "wall_mm": 120}]}',
     r"segments\[0\]: wall_mm 120 mm is thicker than any"),
])
def test_hostile_pipe_json(tmp_path, text, match):
    (tmp_path / "pipe.json").write_text(text)
    with pytest.raises(PipeError, match=match) as ei:
        read_pipe(tmp_path / "pipe.json")
    assert str(ei.value).startswith(f"{tmp_path}/pipe.json") and "\n" not in str(ei.value)


# -- float files above full scale -------------------------------------------------------------------

def test_a_float_wav_above_one_is_not_called_clipped(tmp_path):
    x = 3.0 * np.random.default_rng(4).standard_normal(8000)  # peaks near 10: float data, not clipped
    wav(tmp_path / "F.wav", x, subtype="FLOAT")
    with warnings.catch_warnings():
        warnings.simplefilter("error", AcousticWarning)
        rec = read_recording(tmp_path / "F.wav")
    assert rec.samples.max() > 5.0


def test_a_float_wav_with_a_plateau_is_called_clipped(tmp_path):
    x = np.clip(3.0 * np.random.default_rng(4).standard_normal(8000), -2.5, 2.5)
    wav(tmp_path / "F.wav", x, subtype="FLOAT")
    with pytest.warns(AcousticWarning, match=r"% of samples are clipped at 2.5 \(a plateau above full scale\)"):
        read_recording(tmp_path / "F.wav")
    y = np.clip(3.0 * np.random.default_rng(5).standard_normal(8000), -1.0, 1.0)
    wav(tmp_path / "G.wav", y, subtype="FLOAT")
    with pytest.warns(AcousticWarning, match="clipped at full scale"):
        read_recording(tmp_path / "G.wav")


@pytest.mark.parametrize("sid,match", [
    ("L1\n\x1b[31mred", "sensor_id must be at most 128 printable characters"),
    ("L" * 500, "sensor_id must be at most 128"),
])
def test_sensor_ids_that_would_break_messages_are_refused(tmp_path, sid, match):
    wav(tmp_path / "A.wav", side={**SIDE, "sensor_id": sid})
    with pytest.raises(RecordingError, match=match) as ei:
        read_recording(tmp_path / "A.wav")
    assert "\n" not in str(ei.value) and "\x1b" not in str(ei.value)


def test_a_start_time_that_ends_after_9999_is_refused(tmp_path):
    wav(tmp_path / "A.wav", side={**SIDE, "start_time": "9999-12-31T23:59:59.5Z"})
    with pytest.raises(RecordingError, match=r"A\.json: start_time 9999-12-31T23:59:59.500000\+00:00 plus the "
                                             r"recording's 1 s ends after the year 9999"):
        read_recording(tmp_path / "A.wav")


def test_a_sparse_wav_declaring_terabytes_is_refused_before_reading(tmp_path):
    """A valid 16-bit header declaring ~4 GiB of data over a sparse 2 TiB file, on a machine with 4 GiB of
    memory (sysconf faked in the subprocess): refused by name before anything is allocated."""
    import struct

    p = tmp_path / "sparse.wav"
    wav(p, side=None)
    raw = bytearray(p.read_bytes()[:44])
    raw[40:44] = struct.pack("<I", 0xFFFFFFF0)  # declares ~4 GiB of data ...
    with open(p, "wb") as fh:
        fh.write(bytes(raw))
        fh.truncate(2 * 2**40)  # ... and the file holds 2 TiB (sparse: no disk used)
    import acoustic.io._audio as audio

    r = subprocess.run([sys.executable, "-c", "import sys, acoustic.io._audio as a; a.os.sysconf = lambda k: "
                        "{'SC_PHYS_PAGES': 2**20, 'SC_PAGE_SIZE': 4096}[k]\n"
                        "from acoustic.io import read_recording\ntry:\n    read_recording(sys.argv[1])\n"
                        "except Exception as e:\n    print(type(e).__name__, e)", str(p)],
                       capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": SRC})
    assert "RecordingError" in r.stdout and "would need" in r.stdout and "GiB of memory to read" in r.stdout, r
    assert audio.MAX_SENSOR_ID_CHARS == 128


def test_a_wav_of_millions_of_empty_chunks_does_not_stall(tmp_path):
    import struct

    body = b"WAVE" + b"junk\x00\x00\x00\x00" * 500_000
    p = tmp_path / "chunks.wav"
    p.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    r = subprocess.run([sys.executable, "-c", "import sys\nfrom acoustic.io import read_recording\ntry:\n"
                        "    read_recording(sys.argv[1])\nexcept Exception as e:\n    print(type(e).__name__, e)",
                        str(p)], capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": SRC})
    assert r.stdout.startswith("RecordingError") and "chunks.wav" in r.stdout


def test_read_audio_info_reads_headers_only_from_regular_files(tmp_path):
    from acoustic.io import read_audio_info

    raw = os.fsencode(str(tmp_path)) + b"/n\xe9.flac"
    wav(raw, fmt="FLAC")
    info = read_audio_info(os.fsdecode(raw))
    assert (info.sample_rate_hz, info.frames, info.channels, info.format) == (8000.0, 8000, 1, "FLAC")
    assert info.duration_s == 1.0
    os.mkfifo(tmp_path / "F.wav")
    with pytest.raises(RecordingError, match=r"F\.wav: file is a FIFO"):
        read_audio_info(tmp_path / "F.wav")
    (tmp_path / "E.wav").write_bytes(b"")
    with pytest.raises(RecordingError, match=r"E\.wav: file is empty \(0 bytes\)"):
        read_audio_info(tmp_path / "E.wav")
    (tmp_path / "J.wav").write_bytes(b"junk" * 100)
    with pytest.raises(RecordingError, match=r"J\.wav: not a readable WAV or FLAC file"):
        read_audio_info(tmp_path / "J.wav")
