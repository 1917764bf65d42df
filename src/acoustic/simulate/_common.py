"""Validation, time stamps, gain and the result containers shared by the simulators."""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from .._errors import AcousticWarning, ParameterError
from ..recording import MAX_SAMPLE_RATE_HZ, MIN_SAMPLE_RATE_HZ, SENSOR_KINDS, Recording, format_time, parse_time

__all__ = ["SimulatedPair", "SimulatedRecording"]

#: Longest clip the simulator makes (s); longer ones would only exhaust memory.
MAX_DURATION_S = 3600.0
MIN_DURATION_S = 1.0
#: Peak level the automatic gain aims at (fraction of full scale; -6 dBFS).
TARGET_PEAK = 0.5
#: Night-time default start of a recording when none is given (UTC).
DEFAULT_NIGHT = datetime(2026, 11, 3, 2, 0, 0, tzinfo=timezone.utc)


def check_number(name: str, value, *, lo=None, hi=None, unit: str = "", allow_none: bool = False):
    """Return ``value`` as float, or raise ParameterError naming ``name`` (finite, within [lo, hi])."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ParameterError(f"{name} must be a number{' of ' + unit if unit else ''}, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ParameterError(f"{name} must be finite, got {value!r}")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        rng = f"{lo:g}..{hi:g}" if lo is not None and hi is not None else (f">= {lo:g}" if lo is not None else f"<= {hi:g}")
        raise ParameterError(f"{name} must be in {rng}{' ' + unit if unit else ''}, got {v:g}")
    return v


def check_common(sample_rate_hz, duration_s, sensor_kind, gain_db) -> tuple[float, float, int]:
    """Validate the rate (Hz), duration (s), sensor kind and gain (dB); return (rate, duration, n)."""
    fs = check_number("sample_rate_hz", sample_rate_hz, lo=MIN_SAMPLE_RATE_HZ, hi=MAX_SAMPLE_RATE_HZ, unit="Hz")
    dur = check_number("duration_s", duration_s, lo=MIN_DURATION_S, hi=MAX_DURATION_S, unit="s")
    if sensor_kind not in SENSOR_KINDS:
        raise ParameterError(f"sensor_kind must be one of {', '.join(SENSOR_KINDS)}, got {sensor_kind!r}")
    check_number("gain_db", gain_db, lo=-200.0, hi=200.0, unit="dB", allow_none=True)
    return fs, dur, int(round(dur * fs))


def resolve_seed(seed) -> int:
    """The integer seed to use (a fresh one when ``seed`` is None), recorded in the truth."""
    if seed is None:
        return int(np.random.SeedSequence().entropy % (2**63))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def resolve_start(start_time, rng: np.random.Generator) -> datetime:
    """UTC start time (microsecond precision): given (datetime or ISO-8601 text) or a random night time."""
    if start_time is None:
        return DEFAULT_NIGHT + timedelta(microseconds=int(rng.integers(0, 3600 * 10**6)))
    if isinstance(start_time, str):
        try:
            t = parse_time(start_time)
        except ValueError as exc:
            raise ParameterError(f"start_time {start_time!r} is not an ISO-8601 UTC time ({exc})") from None
    elif isinstance(start_time, datetime):
        if start_time.tzinfo is None:
            raise ParameterError("start_time must be timezone-aware (UTC)")
        t = start_time.astimezone(timezone.utc)
    else:
        raise ParameterError(f"start_time must be a datetime or ISO-8601 text, got {start_time!r}")
    return t


def apply_gain(x_phys: np.ndarray, gain_db, name: str) -> tuple[np.ndarray, float]:
    """Convert physical units to stored samples: ``samples = x * 10**(gain_db/20)``.

    With ``gain_db`` None the gain is chosen (rounded down to 0.1 dB) so the peak sits near
    -6 dBFS; a given gain that clips warns and clips at full scale.
    """
    peak = float(np.max(np.abs(x_phys)))
    if gain_db is None:
        if peak <= 0 or not math.isfinite(peak):
            raise ParameterError(f"{name}: simulated signal is silent or not finite; check the parameters")
        gain_db = math.floor(200.0 * math.log10(TARGET_PEAK / peak)) / 10.0
    g = 10.0 ** (gain_db / 20.0)
    y = x_phys * g
    full = 1.0 - 2.0**-15
    n_clip = int(np.count_nonzero(np.abs(y) >= full))
    if n_clip:
        warnings.warn(f"{name}: gain_db {gain_db:g} dB clips {100.0 * n_clip / y.size:.2f} % of the samples",
                      AcousticWarning, stacklevel=3)
        y = np.clip(y, -full, full)
    return y, float(gain_db)


def make_recording(samples, fs, sensor_id, sensor_kind, start, gain_db, note) -> Recording:
    """A :class:`Recording` with the sidecar extras the readers check (rate, length, units)."""
    units = "Pa" if sensor_kind == "hydrophone" else "m/s^2"
    return Recording(
        samples=samples, sample_rate=fs, sensor_id=sensor_id, sensor_kind=sensor_kind, start_time=start,
        gain_db=gain_db, processing=[note],
        extra={"sample_rate_hz": fs, "n_samples": int(np.asarray(samples).size), "units": units,
               "simulated": True},
    )


def jsonable(obj):
    """Plain-Python copy of ``obj`` (numpy scalars/arrays, tuples, datetimes) for ``json.dumps``."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, datetime):
        return format_time(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _write_truth(truth: dict, path: Path) -> Path:
    path.write_text(json.dumps(jsonable(truth), indent=2) + "\n", encoding="utf-8")
    return path


@dataclasses.dataclass
class SimulatedPair:
    """Two simulated loggers on one pipe path and the truth about them.

    Attributes
    ----------
    a, b : Recording
        Sensor A (at 0 m) and sensor B (at the far end of the path); samples at full scale 1,
        ``gain_db`` set so ``calibrated()`` is in Pa (hydrophone) or m/s^2 (accelerometer).
    truth : dict
        JSON-serialisable truth (see :func:`acoustic.simulate.simulate_pair`).
    path : PipePath
        The nominal pipe description (written as ``pipe.json``).
    components : dict or None
        With ``keep_components=True``: ``{"a": {name: array}, "b": {...}}`` of each
        contribution in calibrated units (Pa or m/s^2) before the gain, e.g. ``leak``,
        ``background``, ``hum``.
    """

    a: Recording
    b: Recording
    truth: dict
    path: object = None
    components: dict | None = None

    def write(self, out_dir, *, subtype: str = "PCM_16") -> dict:
        """Write ``A.wav``/``A.json``, ``B.wav``/``B.json``, ``pipe.json`` and ``truth.json`` into ``out_dir``.

        Returns
        -------
        dict
            Name -> path of every file written.
        """
        from ..io import write_pipe, write_recording

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        files = {"A": write_recording(self.a, out / "A.wav", subtype=subtype),
                 "B": write_recording(self.b, out / "B.wav", subtype=subtype)}
        files["A_sidecar"] = out / "A.json"
        files["B_sidecar"] = out / "B.json"
        if self.path is not None:
            files["pipe"] = write_pipe(self.path, out / "pipe.json")
        files["truth"] = _write_truth(self.truth, out / "truth.json")
        return files


@dataclasses.dataclass
class SimulatedRecording:
    """One simulated logger recording and its truth.

    Attributes
    ----------
    recording : Recording
        Samples at full scale 1 with ``gain_db`` so ``calibrated()`` is in Pa or m/s^2.
    truth : dict
        JSON-serialisable truth (see :func:`acoustic.simulate.simulate_recording`).
    components : dict or None
        With ``keep_components=True``: name -> contribution in calibrated units.
    """

    recording: Recording
    truth: dict
    components: dict | None = None

    def write(self, out, *, subtype: str = "PCM_16") -> dict:
        """Write the recording, its sidecar and its truth.

        ``out`` ending in ``.wav`` or ``.flac`` names the audio file: the sidecar is
        ``<stem>.json`` and the truth ``<stem>.truth.json`` beside it.  Otherwise ``out`` is a
        directory that receives ``recording.wav``, ``recording.json`` and ``truth.json``.
        """
        from ..io import write_recording

        out = Path(out)
        if out.suffix.lower() in (".wav", ".flac"):
            audio, truth = out, out.with_name(out.stem + ".truth.json")
        else:
            out.mkdir(parents=True, exist_ok=True)
            audio, truth = out / "recording.wav", out / "truth.json"
        written = write_recording(self.recording, audio, subtype=subtype)
        return {"audio": written, "sidecar": written.with_suffix(".json"),
                "truth": _write_truth(self.truth, truth)}
