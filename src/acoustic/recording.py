"""The :class:`Recording` container: samples plus the header a field logger gives them."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ._errors import ParameterError

__all__ = ["Recording", "SENSOR_KINDS", "MIN_SAMPLE_RATE_HZ", "MAX_SAMPLE_RATE_HZ"]

#: Sensor kinds the package understands (``interfaces.md``).
SENSOR_KINDS = ("hydrophone", "accelerometer")
#: Sample-rate range accepted for recordings, in Hz.
MIN_SAMPLE_RATE_HZ = 1000.0
MAX_SAMPLE_RATE_HZ = 96000.0


@dataclasses.dataclass
class Recording:
    """One sensor's recording.

    Parameters
    ----------
    samples : numpy.ndarray, shape (n,)
        Raw samples as stored in the file (full scale = 1.0), float64.
    sample_rate : float
        Sampling rate in Hz.
    sensor_id : str
        Logger / sensor identifier.
    sensor_kind : {"hydrophone", "accelerometer"}
        What the sensor measures (pressure or wall acceleration).
    start_time : datetime or None
        UTC time of the first sample, microsecond precision; ``None`` when unknown.
    gain_db : float
        Recording gain in dB; ``samples / 10**(gain_db/20)`` are calibrated units.
    source : pathlib.Path or None
        File the samples were read from.
    processing : list of str
        What was done to the samples since they were read (ObsPy-style history).
    extra : dict
        Further sidecar keys, kept verbatim.
    """

    samples: Any
    sample_rate: float
    sensor_id: str = "unknown"
    sensor_kind: str = "hydrophone"
    start_time: datetime | None = None
    gain_db: float = 0.0
    source: Path | None = None
    processing: list[str] = dataclasses.field(default_factory=list)
    extra: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        import numpy as np

        self.samples = np.ascontiguousarray(self.samples, dtype=np.float64)
        if self.samples.ndim != 1:
            raise ParameterError(f"samples must be 1-D, got shape {self.samples.shape}")
        self.sample_rate = float(self.sample_rate)
        if not (self.sample_rate > 0):
            raise ParameterError(f"sample_rate must be positive, got {self.sample_rate}")
        if self.sensor_kind not in SENSOR_KINDS:
            raise ParameterError(
                f"sensor_kind must be one of {', '.join(SENSOR_KINDS)}; got {self.sensor_kind!r}"
            )
        if self.start_time is not None:
            if self.start_time.tzinfo is None:
                raise ParameterError("start_time must be timezone-aware (UTC)")
            self.start_time = self.start_time.astimezone(timezone.utc)

    # -- derived, read-only -------------------------------------------------
    @property
    def n_samples(self) -> int:
        """Number of samples."""
        return int(self.samples.shape[0])

    @property
    def duration_s(self) -> float:
        """Duration in seconds."""
        return self.n_samples / self.sample_rate

    @property
    def end_time(self) -> datetime | None:
        """UTC time just after the last sample (``None`` if the start is unknown)."""
        if self.start_time is None:
            return None
        return self.start_time + timedelta(seconds=self.duration_s)

    @property
    def name(self) -> str:
        """Short name for messages: the file name, else the sensor id."""
        return self.source.name if self.source is not None else self.sensor_id

    def calibrated(self):
        """Samples divided by the gain, comparable between loggers (float64 array)."""
        return self.samples / (10.0 ** (self.gain_db / 20.0))

    def with_samples(self, samples, sample_rate: float | None = None, note: str = "") -> "Recording":
        """Return a copy with new samples (and rate) and ``note`` appended to the history."""
        history = list(self.processing) + ([note] if note else [])
        return dataclasses.replace(
            self,
            samples=samples,
            sample_rate=self.sample_rate if sample_rate is None else sample_rate,
            processing=history,
        )

    def sidecar(self) -> dict:
        """The sidecar JSON object of ``interfaces.md`` for this recording."""
        out = dict(self.extra)
        out.update(
            sensor_id=self.sensor_id,
            sensor_kind=self.sensor_kind,
            gain_db=float(self.gain_db),
        )
        if self.start_time is not None:
            out["start_time"] = format_time(self.start_time)
        return out


def format_time(t: datetime) -> str:
    """Format a UTC datetime as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    """Parse an ISO-8601 UTC time (``Z`` or an explicit offset), microsecond precision.

    Raises
    ------
    ValueError
        When the text is not such a time or has no time zone.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected an ISO-8601 string, got {type(text).__name__}")
    s = text.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    # Python 3.11 accepts up to 6 fractional digits; longer ones would lose precision.
    t = datetime.fromisoformat(s)
    if t.tzinfo is None:
        raise ValueError("time has no time zone (expected a trailing Z)")
    return t.astimezone(timezone.utc)
