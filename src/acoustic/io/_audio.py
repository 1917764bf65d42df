"""WAV/FLAC recordings with their JSON sidecar (``interfaces.md``, "Recordings")."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import struct
import unicodedata
from datetime import timedelta
from pathlib import Path

import numpy as np

from .._errors import RecordingError
from .._warnings import warn
from ._files import check_output_file, display_path, open_regular, require_regular_file
from ._jsonio import read_json_file
from ..recording import (
    MAX_SAMPLE_RATE_HZ,
    MIN_SAMPLE_RATE_HZ,
    SENSOR_KINDS,
    Recording,
    parse_time,
)

__all__ = ["AudioInfo", "read_audio_info", "read_recording", "write_recording", "read_sidecar", "sidecar_path"]

#: Fraction of samples at full scale above which a recording is called clipped.
CLIP_WARN_FRACTION = 0.001
#: Fraction of non-finite samples that may be zeroed (with a warning) instead of refusing the file.
NONFINITE_REPAIR_FRACTION = 0.001
_SIDECAR_KEYS = {"sensor_id", "sensor_kind", "start_time", "gain_db"}
#: What the warning about a WAV file shorter than its header declares says (a half-uploaded file):
#: the batch finds incomplete uploads by it (:func:`acoustic.batch._store.earlier_record`).
TRUNCATED_NOTE = "file is truncated"
#: Longest logger id accepted, characters (ids go into messages, ledger keys and file names).
MAX_SENSOR_ID_CHARS = 128
#: Largest sidecar read, bytes (ours are about 300 bytes).
SIDECAR_MAX_BYTES = 1024 * 1024
#: Deepest nesting of a sidecar's JSON (ours are flat: an object of numbers and strings).
SIDECAR_MAX_DEPTH = 16


def sidecar_path(audio_path) -> Path:
    """Path of the sidecar JSON that belongs to ``audio_path`` (same stem, ``.json``)."""
    return Path(audio_path).with_suffix(".json")


def read_sidecar(path) -> dict:
    """Read and validate the sidecar JSON of an audio file.

    Parameters
    ----------
    path : str or Path
        The audio file (its sidecar is found beside it) or the sidecar itself.

    Returns
    -------
    dict
        Keys ``sensor_id`` (str), ``sensor_kind`` (str), ``start_time`` (datetime or None),
        ``gain_db`` (float, dB) and ``extra`` (other keys).  Missing keys get defaults
        and an :class:`AcousticWarning`.

    Raises
    ------
    RecordingError
        The sidecar is not valid JSON, not an object, or a key has the wrong type or value.
    """
    path = Path(path)
    side = path if path.suffix.lower() == ".json" else sidecar_path(path)
    audio_name = display_path(path.name)
    # (a directory where the sidecar should be is no sidecar either; a FIFO or device is an error)
    if os.path.isdir(side) or require_regular_file(side, what="sidecar", error=RecordingError,
                                                    missing_ok=True) is None:
        meta = {}
        warn(f"{audio_name}: no sidecar {display_path(side.name)}; using defaults (sensor_kind hydrophone, "
              "gain 0 dB, start time unknown)")
    else:
        meta = read_json_file(side, what="sidecar", error=RecordingError, max_bytes=SIDECAR_MAX_BYTES,
                              max_depth=SIDECAR_MAX_DEPTH, require_object=False)
        if not isinstance(meta, dict):
            raise RecordingError(f"{display_path(side)}: sidecar must be a JSON object with sensor_id, sensor_kind, "
                                 "start_time, gain_db")
    side = display_path(side)

    out: dict = {"extra": {k: v for k, v in meta.items() if k not in _SIDECAR_KEYS}}
    missing = [k for k in ("sensor_id", "sensor_kind", "start_time", "gain_db") if k not in meta]
    if meta and missing:
        warn(f"{Path(side).name}: missing {', '.join(missing)}; defaults used")

    sid = meta.get("sensor_id", path.stem)
    if not isinstance(sid, (str, int)) or isinstance(sid, bool) or str(sid).strip() == "":
        raise RecordingError(f"{side}: sensor_id must be a non-empty string, got {sid!r}")
    sid = str(sid)
    if len(sid) > MAX_SENSOR_ID_CHARS or any(unicodedata.category(c)[0] == "C" for c in sid):
        shown = repr(sid[:40]) + ("..." if len(sid) > 40 else "")
        raise RecordingError(f"{side}: sensor_id must be at most {MAX_SENSOR_ID_CHARS} printable characters "
                             f"(no control characters), got {shown}")
    out["sensor_id"] = sid

    kind = meta.get("sensor_kind", "hydrophone")
    if kind not in SENSOR_KINDS:
        raise RecordingError(f"{side}: sensor_kind must be one of {', '.join(SENSOR_KINDS)}, got {kind!r}")
    out["sensor_kind"] = kind

    gain = meta.get("gain_db", 0.0)
    if isinstance(gain, bool) or not isinstance(gain, (int, float)) or not math.isfinite(gain):
        raise RecordingError(f"{side}: gain_db must be a finite number of dB, got {gain!r}")
    if abs(gain) > 200:
        raise RecordingError(f"{side}: gain_db {gain} dB is outside -200..200 dB")
    out["gain_db"] = float(gain)

    st = meta.get("start_time")
    if st is None:
        out["start_time"] = None
    else:
        try:
            out["start_time"] = parse_time(st)
        except ValueError as exc:
            raise RecordingError(f"{side}: start_time {st!r} is not an ISO-8601 UTC time ({exc})") from None
    return out


#: Most RIFF chunks walked before the data chunk (real files have fewer than ten).
_MAX_CHUNKS = 4096
#: Most channels libsndfile reads (SF_MAX_CHANNELS); a header claiming more goes to it, to be refused.
_MAX_CHANNELS = 1024
_PCM_GUID = b"\x01\x00\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"


def _wav_layout(fh, size: int) -> dict | None:
    """The RIFF/WAVE header of a file of ``size`` bytes, or None when it is not one (or is RF64).

    Keys: ``declared`` and ``available`` (data bytes the header declares and the file holds),
    ``offset`` (of the data), and from the ``fmt `` chunk when there is one: ``tag`` (1 for PCM,
    also for WAVE_FORMAT_EXTENSIBLE with the PCM sub-format), ``extensible``, ``channels``,
    ``rate`` (Hz), ``block_align`` (bytes per frame) and ``bits``.
    """
    if not hasattr(fh, "seek"):  # a path (tests, tools): opened here, as a regular file only
        with open_regular(fh, error=RecordingError) as opened:
            return _wav_layout(opened, size)
    out: dict = {}
    try:
        fh.seek(0)
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        pos = 12
        for _ in range(_MAX_CHUNKS):  # (a file of millions of empty chunks is left to libsndfile)
            if pos + 8 > size:
                break
            fh.seek(pos)
            head8 = fh.read(8)
            if len(head8) < 8:  # the file shrank since it was measured (still being written)
                return None
            cid, clen = struct.unpack("<4sI", head8)
            if cid == b"fmt " and clen >= 16:
                body = fh.read(min(clen, 40))
                if len(body) >= 16:
                    tag, ch, rate, _bps, align, bits = struct.unpack("<HHIIHH", body[:16])
                    ext = tag == 0xFFFE
                    if ext:
                        tag = 1 if len(body) >= 40 and body[24:40] == _PCM_GUID else -1
                    out.update(tag=tag, extensible=ext, channels=ch, rate=rate, block_align=align, bits=bits)
            elif cid == b"data":
                if clen == 0xFFFFFFFF:
                    return None
                out.update(declared=clen, available=size - pos - 8, offset=pos + 8)
                return out
            pos += 8 + clen + (clen & 1)
    except OSError:
        return None
    return None


def _read_wav_pcm16(fh, layout: dict, name: str = "file"):
    """16-bit PCM samples of a plain WAV file, by numpy from the data chunk (what libsndfile reads,
    without its per-call overhead); None when the file is not such a file (the caller then uses
    soundfile).  Shape (n_frames,) for one channel, (n_frames, channels) for more."""
    if layout is None or layout.get("tag") != 1 or layout.get("bits") != 16:
        return None
    if not hasattr(fh, "seek"):  # a path (tests, tools)
        with open_regular(fh, error=RecordingError) as opened:
            return _read_wav_pcm16(opened, layout, display_path(fh))
    ch, align = layout["channels"], layout["block_align"]
    if not (1 <= ch <= _MAX_CHANNELS) or align != 2 * ch or layout["declared"] == 0:
        return None  # (libsndfile refuses more channels than it supports: let it say so)
    n = min(layout["declared"], max(layout["available"], 0)) // align
    _check_memory(name, n, ch, 2)
    fh.seek(layout["offset"])
    pcm = np.fromfile(fh, dtype="<i2", count=n * ch)
    if pcm.size != n * ch:
        return None
    return pcm.reshape(n, ch) if ch > 1 else pcm


def _read_audio(fh, name: str, size: int, channel: int):
    """Samples of an open audio file: (format, subtype, rate, channels, declared, pcm, data).

    ``declared`` is (data bytes the WAV header declares, bytes present) or None; ``pcm`` the
    16-bit integers (then ``data`` is None) or None (then ``data`` holds float64 samples).
    The file object is used throughout (never its name), so a name that is not UTF-8 reads as any.
    """
    layout = _wav_layout(fh, size)
    declared = (layout["declared"], layout["available"]) if layout else None
    # plain 16-bit PCM WAV (what the loggers and this package write): numpy reads the data chunk
    pcm = _read_wav_pcm16(fh, layout, name)
    if pcm is not None:
        fmt, subtype = ("WAVEX" if layout["extensible"] else "WAV"), "PCM_16"
        n_channels, rate = layout["channels"], float(layout["rate"])
        _check_layout(name, rate, channel, n_channels)
        return fmt, subtype, rate, n_channels, declared, pcm, None
    fh.seek(0)
    data = None
    with _open_sound(fh, name) as snd:
        fmt, subtype, n_channels = snd.format, snd.subtype, snd.channels
        _check_format(name, fmt)
        rate = float(snd.samplerate)
        _check_layout(name, rate, channel, n_channels)
        if fmt not in ("WAV", "WAVEX"):
            declared = None
        _check_memory(name, snd.frames, n_channels, 2 if subtype == "PCM_16" and fmt in ("WAV", "WAVEX") else 8)
        try:
            if subtype == "PCM_16" and fmt in ("WAV", "WAVEX"):
                pcm = snd.read(dtype="int16", always_2d=n_channels > 1)
            else:
                data = snd.read(dtype="float64", always_2d=n_channels > 1)
        except Exception as exc:
            raise RecordingError(f"{name}: audio data cannot be decoded ({_short(exc)})") from None
    return fmt, subtype, rate, n_channels, declared, pcm, data


#: Containers read (libsndfile's names): WAV in its forms, and FLAC.
_FORMATS = ("WAV", "WAVEX", "FLAC", "RF64", "W64")


def _open_sound(fh, name: str):
    """``soundfile.SoundFile`` of an open file; anything libsndfile cannot read is a RecordingError."""
    import soundfile as sf

    try:
        return sf.SoundFile(fh)
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError / TypeError
        raise RecordingError(f"{name}: not a readable WAV or FLAC file ({_short(exc)})") from None


def _check_format(name: str, fmt: str) -> None:
    if fmt not in _FORMATS:
        raise RecordingError(f"{name}: format {fmt} is not supported (WAV or FLAC expected)")


@dataclasses.dataclass(frozen=True)
class AudioInfo:
    """What an audio file's header says (no samples read).

    Attributes
    ----------
    sample_rate_hz : float
        Sample rate, Hz.
    frames : int
        Samples per channel.
    channels : int
        Number of channels.
    format, subtype : str
        libsndfile's names (``WAV``/``FLAC``, ``PCM_16``/``FLOAT`` ...).
    """

    sample_rate_hz: float
    frames: int
    channels: int
    format: str
    subtype: str

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate_hz


def read_audio_info(path) -> AudioInfo:
    """The header of a WAV or FLAC file, read like :func:`read_recording` reads it: a regular file
    only (never blocks on a FIFO or device), names that are not UTF-8 included.

    Raises
    ------
    RecordingError
        Missing, special, empty or unreadable file, no samples, or a sample rate outside 1-96 kHz.

    Examples
    --------
    >>> from acoustic.io import read_audio_info
    >>> info = read_audio_info("recordings/samples/pvc_pair/A.wav")  # doctest: +SKIP
    >>> info.sample_rate_hz, info.duration_s  # doctest: +SKIP
    (8000.0, 30.0)
    """
    name = display_path(path)
    with open_regular(path, what="file", error=RecordingError) as fh:
        if os.fstat(fh.fileno()).st_size == 0:
            raise RecordingError(f"{name}: file is empty (0 bytes)")
        with _open_sound(fh, name) as snd:
            info = AudioInfo(float(snd.samplerate), int(snd.frames), int(snd.channels), snd.format, snd.subtype)
    _check_format(name, info.format)
    if info.frames <= 0:
        raise RecordingError(f"{name}: file holds no audio samples")
    _check_layout(name, info.sample_rate_hz, 0, info.channels)
    return info


def read_recording(path, *, channel: int = 0, sidecar: bool = True) -> Recording:
    """Read a WAV or FLAC recording and its sidecar.

    Parameters
    ----------
    path : str or Path
        Audio file (WAV PCM 16/24/32-bit or float, or FLAC).
    channel : int, default 0
        Channel of a multi-channel file to use.
    sidecar : bool, default True
        Read the sidecar JSON beside the file (``A.wav`` -> ``A.json``).

    Returns
    -------
    Recording
        Samples as float64 at full scale 1.0.

    Raises
    ------
    RecordingError
        Missing, empty, unreadable or silent file; sample rate outside 1-96 kHz;
        too many NaN/Inf samples; bad channel; malformed sidecar.

    Warns
    -----
    AcousticWarning
        Truncated file (the readable part is used), a few NaN/Inf samples (zeroed),
        heavy clipping, missing sidecar keys.

    Examples
    --------
    One logger of the shipped PVC pair (``recordings/samples/pvc_pair/A.wav`` and its sidecar ``A.json``):

    >>> from pathlib import Path
    >>> import acoustic
    >>> from acoustic.io import read_recording
    >>> samples = Path(acoustic.__file__).resolve().parents[2] / "recordings" / "samples"
    >>> rec = read_recording(samples / "pvc_pair" / "A.wav")
    >>> rec.sample_rate, len(rec.samples), rec.sensor_id, rec.sensor_kind  # Hz, samples (20 s)
    (8000.0, 160000, 'L101', 'hydrophone')
    >>> rec.start_time.isoformat(), rec.gain_db  # UTC of the first sample, dB
    ('2026-11-03T02:00:00+00:00', -31.3)
    """
    path = Path(path)
    name = display_path(path)
    with open_regular(path, what="file", error=RecordingError) as fh:
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            raise RecordingError(f"{name}: file is empty (0 bytes)")
        fmt, subtype, rate, n_channels, declared, pcm, data = _read_audio(fh, name, size, channel)
    if pcm is not None:
        # libsndfile scales 16-bit samples by 1/0x8000 when it reads doubles: the same exact
        # product, of the one channel wanted
        pcm = pcm[:, channel] if pcm.ndim == 2 else pcm
        data = pcm * (1.0 / 0x8000)
    if declared is not None and declared[1] < declared[0]:
        warn(
            f"{display_path(path.name)}: {TRUNCATED_NOTE} (header declares {declared[0]} data bytes, "
            f"{declared[1]} present); using the {data.shape[0]} complete samples"
        )
    if data.shape[0] == 0:
        raise RecordingError(f"{name}: file holds no audio samples")
    x = np.ascontiguousarray(data[:, channel]) if data.ndim == 2 else data
    x = _checked_samples(path, x, pcm, floating=subtype in ("FLOAT", "DOUBLE"))
    meta = read_sidecar(path) if sidecar else {
        "sensor_id": path.stem, "sensor_kind": "hydrophone", "start_time": None, "gain_db": 0.0, "extra": {}
    }
    _check_sidecar_agrees(path, meta, rate, x.size, truncated=declared is not None and declared[1] < declared[0])
    return Recording(
        samples=x,
        sample_rate=rate,
        sensor_id=meta["sensor_id"],
        sensor_kind=meta["sensor_kind"],
        start_time=meta["start_time"],
        gain_db=meta["gain_db"],
        source=path,
        processing=[f"read {display_path(path.name)} ({fmt}/{subtype}, channel {channel})"],
        extra=meta["extra"],
    )


def _checked_samples(path: Path, x, pcm, *, floating: bool):
    """The samples of one channel, refused when silent, constant or mostly NaN/Inf; a few NaN/Inf
    are zeroed and heavy clipping is warned about.

    Two reductions (no temporaries) settle NaN/Inf, silence, constancy and clipping for the usual
    clean file; the per-sample passes run only when one of them says they are needed.  16-bit
    samples (``pcm`` given) are reduced over the integers, a quarter of the bytes (the scaling by
    2**-15 is exact).
    """
    name = display_path(path)
    lo, hi = (float(x.min()), float(x.max())) if pcm is None else \
        (float(pcm.min()) * (1.0 / 0x8000), float(pcm.max()) * (1.0 / 0x8000))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        bad = ~np.isfinite(x)
        n_bad = int(bad.sum())
        if n_bad > NONFINITE_REPAIR_FRACTION * x.size:
            raise RecordingError(f"{name}: {n_bad} of {x.size} samples are NaN or Inf")
        x = x.copy()
        x[bad] = 0.0
        warn(f"{display_path(path.name)}: {n_bad} NaN/Inf samples set to zero")
        lo, hi = float(x.min()), float(x.max())
    if lo == 0.0 and hi == 0.0:
        raise RecordingError(f"{name}: recording is silent (all samples are zero)")
    if lo == hi:
        raise RecordingError(f"{name}: recording is constant ({lo:g}); no signal")
    n_clip, level = _clipped_samples(x, lo, hi, floating=floating)
    if n_clip > CLIP_WARN_FRACTION * x.size:
        warn(f"{display_path(path.name)}: {100.0 * n_clip / x.size:.2f} % of samples are clipped at {level}")
    return x


def _check_sidecar_agrees(path: Path, meta: dict, rate: float, n_samples: int, *, truncated: bool) -> None:
    """The sidecar's start time, sample rate and sample count against the audio file's."""
    side = display_path(sidecar_path(path))
    if meta["start_time"] is not None:
        try:
            meta["start_time"] + timedelta(seconds=n_samples / rate)
        except OverflowError:
            raise RecordingError(f"{side}: start_time {meta['start_time'].isoformat()} plus the recording's "
                                 f"{n_samples / rate:g} s ends after the year 9999") from None
    expect_rate = meta["extra"].get("sample_rate_hz")
    if expect_rate is not None and (not isinstance(expect_rate, (int, float)) or abs(float(expect_rate) - rate) > 1e-6):
        raise RecordingError(f"{side}: sample_rate_hz {expect_rate!r} contradicts the audio file's {rate:g} Hz")
    expect_n = meta["extra"].get("n_samples")
    if expect_n is not None and expect_n != n_samples and not truncated:
        raise RecordingError(f"{side}: n_samples {expect_n!r} contradicts the audio file's {n_samples} samples")


def write_recording(rec: Recording, path, *, subtype: str = "PCM_16", sidecar: bool = True) -> Path:
    """Write a recording as WAV or FLAC (by suffix) plus its sidecar JSON.

    Parameters
    ----------
    rec : Recording
        The recording; samples at full scale 1.0.
    path : str or Path
        Output file, ``.wav`` or ``.flac``.
    subtype : str, default "PCM_16"
        soundfile subtype (``PCM_16``, ``PCM_24``, ``PCM_32``, ``FLOAT``).
    sidecar : bool, default True
        Also write ``<stem>.json``.

    Returns
    -------
    Path
        The audio path written.
    """
    import soundfile as sf

    path = Path(path)
    fmt = {".wav": "WAV", ".flac": "FLAC"}.get(path.suffix.lower())
    if fmt is None:
        raise RecordingError(f"{path}: output must end in .wav or .flac")
    rate = int(round(rec.sample_rate))
    if abs(rate - rec.sample_rate) > 1e-9:
        raise RecordingError(f"{path}: sample rate {rec.sample_rate} Hz is not an integer; audio files need one")
    side = sidecar_path(path)
    check_output_file(path, what="audio output", error=RecordingError)
    if sidecar:
        check_output_file(side, what="sidecar output", error=RecordingError)
        try:
            text = json.dumps(rec.sidecar(), indent=2, allow_nan=False) + "\n"
        except ValueError:
            bad = [k for k, v in rec.sidecar().items() if isinstance(v, float) and not math.isfinite(v)]
            raise RecordingError(f"{display_path(side)}: sidecar value(s) {', '.join(bad)} are not finite "
                                 "numbers; JSON cannot hold them") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:  # (a file object: libsndfile cannot open names that are not UTF-8)
        sf.write(fh, rec.samples, rate, subtype=subtype, format=fmt)
    if sidecar:
        side.write_text(text, encoding="utf-8")
    return path


def _check_layout(name: str, rate: float, channel: int, n_channels: int) -> None:
    if not (MIN_SAMPLE_RATE_HZ <= rate <= MAX_SAMPLE_RATE_HZ):
        raise RecordingError(f"{name}: sample rate {rate:g} Hz is outside the supported 1000-96000 Hz")
    if not (0 <= channel < n_channels):
        raise RecordingError(f"{name}: channel {channel} requested, file has {n_channels} channel(s)")


def _check_memory(name, n_frames: int, n_channels: int, bytes_per_sample: int) -> None:
    """Refuse a file whose samples would not fit in this machine's memory (a sparse or lying file
    declaring terabytes would otherwise be read until the system kills the process).

    The read holds the decoded frames of every channel plus the float64 copy of one channel.
    """
    need = int(n_frames) * (int(n_channels) * bytes_per_sample + 8)
    try:
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return
    if need > 0.8 * physical:
        raise RecordingError(f"{display_path(name)}: {n_frames} frames x {n_channels} channel(s) would need "
                             f"{need / 2**30:.1f} GiB of memory to read; this machine has {physical / 2**30:.1f} GiB")


def _clipped_samples(x, lo: float, hi: float, *, floating: bool) -> tuple[int, str]:
    """Samples stuck at the clipping level, and that level in words.

    Integer formats clip at full scale (the largest code).  A float file has no full scale: its
    samples may exceed 1.0 without harm (a float WAV written before normalising), so only a
    plateau counts, samples equal to the largest magnitude when that is at least 1.0 (what a
    converter that clipped at 1.0, or at any level above, leaves).
    """
    peak = max(-lo, hi)
    if not floating:
        full_scale = 1.0 - 2.0 ** -15
        if peak < full_scale:
            return 0, "full scale"
        return int(np.count_nonzero(x >= full_scale)) + int(np.count_nonzero(x <= -full_scale)), "full scale"
    if peak < 1.0:
        return 0, "full scale"
    n = int(np.count_nonzero(x >= peak)) + int(np.count_nonzero(x <= -peak))
    return n, "full scale" if peak == 1.0 else f"{peak:g} (a plateau above full scale)"


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
