"""Reading a survey folder (``interfaces.md``, "Survey folder and acoustic survey").

::

    SURVEY_DIR/
      network.inp + pipes.csv   (or network.geojson)
      loggers.csv
      recordings/<logger_id>/<name>.wav|.flac (+ .json sidecar)
      stats.csv                 (optional)

Only metadata is read here (sidecars and audio headers); audio samples are read when a stage
needs them.  Every problem names the file and what is wrong.
"""

from __future__ import annotations

import dataclasses
import warnings
from datetime import datetime, timedelta
from pathlib import Path

from .._errors import AcousticWarning, DataError, RecordingError
from ..network import LoggerSite, PipeNetwork, read_geojson_network, read_inp_network, read_loggers

__all__ = ["RecordingInfo", "SurveyFolder", "read_survey", "AUDIO_SUFFIXES"]

AUDIO_SUFFIXES = (".wav", ".flac")


def _warn(msg: str) -> None:
    warnings.warn(msg, AcousticWarning, stacklevel=3)


@dataclasses.dataclass(frozen=True)
class RecordingInfo:
    """Header of one recording in the survey (samples are not loaded).

    Attributes
    ----------
    path : Path
        The audio file.
    logger_id : str
        Folder (logger) it belongs to.
    start_time : datetime or None
        UTC time of the first sample (from the sidecar); None when unknown.
    duration_s : float
        Length in s.
    sample_rate_hz : float
        Sampling rate in Hz.
    """

    path: Path
    logger_id: str
    start_time: datetime | None
    duration_s: float
    sample_rate_hz: float

    @property
    def end_time(self) -> datetime | None:
        return None if self.start_time is None else self.start_time + timedelta(seconds=self.duration_s)

    def overlap_s(self, other: "RecordingInfo") -> float:
        """Seconds both recordings cover (0 when they do not overlap; both lengths' minimum when
        a start time is unknown, since the pair is then taken to have started together)."""
        if self.start_time is None or other.start_time is None:
            return min(self.duration_s, other.duration_s)
        lo = max(self.start_time, other.start_time)
        hi = min(self.end_time, other.end_time)
        return max(0.0, (hi - lo).total_seconds())

    @property
    def night(self) -> str:
        """The night the recording belongs to (``YYYY-MM-DD``, :func:`acoustic.loggers.night_date`:
        the UTC date of start + 12 h, so that 22:00 and 02:00 recordings fall into the same night,
        dated as in ``stats.csv`` and the ledger); ``unknown`` without a time."""
        if self.start_time is None:
            return "unknown"
        from ..loggers import night_date

        return night_date(self.start_time).isoformat()


@dataclasses.dataclass
class SurveyFolder:
    """The contents of a survey folder.

    Attributes
    ----------
    root : Path
    network : PipeNetwork
    sites : dict of logger_id -> LoggerSite
        Every logger of ``loggers.csv``.
    recordings : dict of logger_id -> list of RecordingInfo
        Recordings per logger, by start time (loggers without recordings are absent).
    stats_path : Path or None
        ``stats.csv`` when present.
    """

    root: Path
    network: PipeNetwork
    sites: dict[str, LoggerSite]
    recordings: dict[str, list[RecordingInfo]]
    stats_path: Path | None = None

    @property
    def active_loggers(self) -> list[str]:
        """Loggers that have recordings, in ``loggers.csv`` order."""
        return [lid for lid in self.sites if self.recordings.get(lid)]

    def areas(self) -> dict[str, str] | None:
        """logger_id -> area name from the ``area`` column (None when no logger has one)."""
        named = {lid: s.area for lid, s in self.sites.items() if s.area}
        return named or None


def _read_network(root: Path) -> PipeNetwork:
    inp, geo = root / "network.inp", root / "network.geojson"
    if inp.exists():
        pipes = root / "pipes.csv"
        if not pipes.exists():
            raise DataError(f"{pipes}: file not found (EPANET files carry no pipe material; pipes.csv must give "
                            f"pipe_id,material,diameter_mm,wall_mm for every pipe)")
        return read_inp_network(inp, pipes)
    if geo.exists():
        return read_geojson_network(geo)
    raise DataError(f"{root}: no network.inp (with pipes.csv) or network.geojson in the survey folder")


def _recording_info(path: Path, logger_id: str) -> RecordingInfo:
    import soundfile as sf

    from ..io import read_sidecar

    if path.stat().st_size == 0:
        raise RecordingError(f"{path}: file is empty (0 bytes)")
    try:
        info = sf.info(str(path))
    except Exception as exc:
        raise RecordingError(f"{path}: not a readable WAV or FLAC file ({' '.join(str(exc).split())[:160]})") from None
    if info.frames <= 0 or info.samplerate <= 0:
        raise RecordingError(f"{path}: file holds no audio samples")
    meta = read_sidecar(path)
    if meta["sensor_id"] != logger_id and meta["sensor_id"] != path.stem:
        _warn(f"{path}: sidecar sensor_id {meta['sensor_id']!r} differs from its logger folder {logger_id!r}; "
              f"the folder decides")
    return RecordingInfo(path, logger_id, meta["start_time"], info.frames / float(info.samplerate),
                         float(info.samplerate))


def read_survey(root) -> SurveyFolder:
    """Read a survey folder's network, loggers and recording headers.

    Parameters
    ----------
    root : str or Path
        The survey folder.

    Returns
    -------
    SurveyFolder

    Raises
    ------
    DataError
        Missing folder or files, a network that does not load, pipes without materials (named),
        loggers on unknown nodes or pipes, no logger with recordings.
    RecordingError
        A recording or its sidecar is unreadable (the file is named).

    Warns
    -----
    AcousticWarning
        Loggers with no recordings (skipped), recording folders of unknown loggers (ignored),
        recordings without a start time.
    """
    root = Path(root)
    if not root.exists():
        raise DataError(f"{root}: survey folder not found")
    if not root.is_dir():
        raise DataError(f"{root}: not a folder (expected a survey folder with network, loggers.csv, recordings/)")
    network = _read_network(root)
    sites = {s.logger_id: s for s in read_loggers(root / "loggers.csv", network)}
    rec_root = root / "recordings"
    if not rec_root.is_dir():
        raise DataError(f"{rec_root}: folder not found (expected recordings/<logger_id>/*.wav)")
    recordings: dict[str, list[RecordingInfo]] = {}
    for sub in sorted(p for p in rec_root.iterdir() if p.is_dir()):
        if sub.name not in sites:
            _warn(f"{sub}: logger {sub.name} is not in loggers.csv; its recordings are ignored")
            continue
        files = sorted(p for p in sub.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
        infos = [_recording_info(p, sub.name) for p in files]
        if infos:
            untimed = [i.path.name for i in infos if i.start_time is None]
            if untimed and len(infos) > 1:
                _warn(f"{sub}: {len(untimed)} recording(s) have no start_time; they are paired as if simultaneous")
            recordings[sub.name] = sorted(infos, key=lambda i: (i.start_time is None,
                                                               i.start_time.timestamp() if i.start_time else 0.0,
                                                               i.path.name))
    silent = [lid for lid in sites if lid not in recordings]
    for lid in silent:
        _warn(f"logger {lid} has no recordings in {rec_root / lid}; it is skipped")
    if not recordings:
        raise DataError(f"{rec_root}: no logger has recordings (expected recordings/<logger_id>/*.wav with sidecars)")
    stats = root / "stats.csv"
    return SurveyFolder(root, network, sites, recordings, stats if stats.exists() else None)
