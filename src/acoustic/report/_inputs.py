"""What a report is made from: a survey result or a ledger, and the survey folder behind them.

- :func:`load_survey_result` reads and checks the JSON of ``acoustic survey --json``;
- :func:`ledger_inputs` reads the point suspects, lines, areas, logger scores, level/spread
  history, recordings and the survey folder named by the batch runs of a ledger;
- :func:`open_site` reads the network and logger sites of a survey folder and indexes its
  recordings (:class:`RecordingIndex`), tolerating a folder without recordings;
- :func:`read_history` gives each logger's nightly level and spread (``stats.csv`` or the
  ledger's ``logger_nights``).

Every problem names the file and what is wrong (:class:`~acoustic.DataError`); parts of the
evidence that cannot be found (a moved survey folder, missing recordings) are
:class:`~acoustic.AcousticWarning` s and the report leaves those parts out.
"""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import date, datetime, timezone
from pathlib import Path

from .._errors import AcousticError, DataError
from .._warnings import collect_warnings
from .._warnings import warn as _warn

__all__ = ["ReportInputs", "Site", "RecordingIndex", "load_survey_result", "ledger_inputs", "open_site",
           "read_history", "resolve_survey_dir"]




def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


@dataclasses.dataclass
class ReportInputs:
    """Everything a report shows, before the evidence is recomputed.

    Attributes
    ----------
    points : list of dict
        Point suspects, most suspect first (``interfaces.md`` survey points: ``pipe_id``,
        ``offset_m``, ``x``, ``y``, ``interval_m``, ``confidence``, ``loggers``, and the
        survey's added fields such as ``sd_m`` and ``evidence``; from a ledger also
        ``ledger_id``, ``status`` and ``outcome``).
    lines, areas, noise_sources : list of dict
        As in the survey result.
    logger_scores : dict of logger_id -> dict
        ``score`` (0..1), ``alarm`` and ``reasons`` of each logger.
    survey_dir : Path or None
        The survey folder (network, loggers, recordings), when known and present.
    sources : list of str
        What the report was made from (for its header).
    ledger_path : Path or None
    history_rows : list of (logger_id, date, level, spread) or None
        Level/spread history from the ledger (``logger_nights``).
    ledger_recordings : list of dict
        Recordings the ledger knows (``path``, ``logger_id``, ``start_time``, ``night``, ...).
    """

    points: list
    lines: list
    areas: list
    noise_sources: list
    logger_scores: dict
    survey_dir: Path | None
    sources: list
    ledger_path: Path | None = None
    history_rows: list | None = None
    ledger_recordings: list = dataclasses.field(default_factory=list)


# -- survey result ----------------------------------------------------------------------------
def _check_point(p, i: int, where: str) -> dict:
    if not isinstance(p, dict):
        raise DataError(f"{where}: point {i + 1} is not an object")
    for key in ("pipe_id", "offset_m", "interval_m"):
        if p.get(key) is None:
            raise DataError(f"{where}: point {i + 1} has no {key}")
    if not _finite(p["offset_m"]) or p["offset_m"] < 0:
        raise DataError(f"{where}: point {i + 1} offset_m must be a non-negative number of metres, "
                        f"got {p['offset_m']!r}")
    iv = p["interval_m"]
    if not (isinstance(iv, (list, tuple)) and len(iv) == 2 and all(_finite(v) for v in iv) and iv[0] <= iv[1]):
        raise DataError(f"{where}: point {i + 1} interval_m must be [low, high] in metres, got {iv!r}")
    for key in ("x", "y", "sd_m"):
        if p.get(key) is not None and not _finite(p[key]):
            raise DataError(f"{where}: point {i + 1} {key} must be a number, got {p[key]!r}")
    c = p.get("confidence")
    if c is not None and not (_finite(c) and 0.0 <= c <= 1.0):
        raise DataError(f"{where}: point {i + 1} confidence must be in 0..1, got {c!r}")
    loggers = p.get("loggers") or []
    if not isinstance(loggers, list):
        raise DataError(f"{where}: point {i + 1} loggers must be a list of logger ids")
    out = dict(p)
    out["pipe_id"] = str(p["pipe_id"])
    out["loggers"] = [str(x) for x in loggers]
    out["interval_m"] = [float(iv[0]), float(iv[1])]
    return out


def load_survey_result(path) -> dict:
    """Read the JSON written by ``acoustic survey --json`` and check what the report needs.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    dict
        The document, with each point checked (``pipe_id``, ``offset_m`` >= 0 m,
        ``interval_m`` = [low, high] m, optional ``x``, ``y``, ``sd_m`` numbers, ``confidence``
        in 0..1, ``loggers`` a list).

    Raises
    ------
    DataError
        Missing, empty, unreadable or non-JSON file, or not a survey result (the message says
        which field of which point is wrong).
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: survey result not found")
    if path.is_dir():
        raise DataError(f"{path}: is a folder; expected the JSON file written by 'acoustic survey --json'")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{path}: survey result is not UTF-8 text (corrupt or not JSON)") from None
    if not text.strip():
        raise DataError(f"{path}: survey result is empty")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: survey result is not valid JSON (truncated or corrupt? {exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("points"), list):
        raise DataError(f"{path}: not a survey result (expected a JSON object with areas, lines and points "
                        f"from 'acoustic survey --json')")
    for key in ("areas", "lines", "noise_sources", "loggers"):
        if doc.get(key) is not None and not isinstance(doc[key], list):
            raise DataError(f"{path}: not a survey result ({key} must be a list)")
    doc["points"] = [_check_point(p, i, str(path)) for i, p in enumerate(doc["points"])]
    doc["noise_sources"] = [_check_point(p, i, f"{path} noise_sources") for i, p in
                            enumerate(doc.get("noise_sources") or [])]
    return doc


def resolve_survey_dir(name, *, relative_to: Path | None = None, what: str = "survey result") -> Path | None:
    """The survey folder a result or ledger names: as given, or relative to ``relative_to``.

    Returns None (with a warning) when it cannot be found.
    """
    if not name:
        _warn(f"the {what} names no survey folder; give --survey DIR for the map and the evidence plots")
        return None
    p = Path(name)
    candidates = [p]
    if not p.is_absolute() and relative_to is not None:
        candidates.append(relative_to / p)
    for c in candidates:
        if c.is_dir():
            return c
    _warn(f"survey folder {name} named by the {what} is not there; give --survey DIR for the map and the "
          f"evidence plots")
    return None


def survey_inputs(result_path, doc: dict, survey_dir=None) -> ReportInputs:
    """:class:`ReportInputs` from a checked survey result (:func:`load_survey_result`)."""
    result_path = Path(result_path)
    if survey_dir is not None:
        sdir = Path(survey_dir)
    else:
        sdir = resolve_survey_dir(doc.get("survey_dir"), relative_to=result_path.resolve().parent)
    scores = {}
    for ev in doc.get("loggers") or []:
        if isinstance(ev, dict) and ev.get("logger_id") is not None:
            scores[str(ev["logger_id"])] = ev
    return ReportInputs(points=list(doc["points"]), lines=list(doc.get("lines") or []),
                        areas=list(doc.get("areas") or []), noise_sources=list(doc.get("noise_sources") or []),
                        logger_scores=scores, survey_dir=sdir, sources=[f"survey result {result_path}"])


# -- ledger -----------------------------------------------------------------------------------
def _ledger_point(row: dict, outcome: dict | None) -> dict:
    ev = row.get("evidence") if isinstance(row.get("evidence"), dict) else {}
    p = dict(ev)
    p.update({"pipe_id": row.get("pipe_id") or ev.get("pipe_id"), "offset_m": row.get("offset_m"),
              "x": row.get("x"), "y": row.get("y"),
              "interval_m": [row.get("interval_lo_m"), row.get("interval_hi_m")],
              "confidence": row.get("confidence", ev.get("confidence")),
              "ledger_id": row.get("id"), "status": row.get("status"), "night": row.get("night"),
              "area": row.get("area"), "spacing_m": row.get("spacing_m"), "outcome": outcome,
              "origin": row.get("origin") or "survey"})
    if p["origin"] == "pair":  # a crew's pair job: its own path, recordings and result
        path = ev.get("path") if isinstance(ev.get("path"), dict) else {}
        p.update({"pair_files": list(ev.get("files") or []), "pipe_doc": path.get("pipe") or {},
                  "pipe_length_m": path.get("length_m"), "sd_m": ev.get("distance_sd_m"),
                  "pair_result": {k: v for k, v in ev.items() if k not in ("path", "files", "result_file")},
                  "pair_start_times": list(ev.get("start_times") or [None, None])})
    if not p.get("loggers"):
        p["loggers"] = [x for x in (row.get("from_logger"), row.get("to_logger")) if x]
    return p


def ledger_inputs(ledger_path, *, survey_dir=None, max_points: int | None = None, statuses=None,
                  since: str | None = None, until: str | None = None) -> tuple[ReportInputs, "object"]:
    """Read a ledger for a report (point suspects optionally filtered by status and survey night).

    Returns
    -------
    (ReportInputs, Ledger)
        The ledger stays open (read-only) for the contractor summary; close it when done.

    Raises
    ------
    DataError
        Missing file, not an SQLite ledger, or a point suspect without position.
    """
    from ..ledger import Ledger
    from ..ledger._ops import list_suspects, show_suspect

    ledger_path = Path(ledger_path)
    if ledger_path.is_dir():
        raise DataError(f"{ledger_path}: is a folder; expected a ledger database file")
    led = Ledger(ledger_path, readonly=True)
    try:
        import sqlite3

        try:
            points = []
            for row in list_suspects(led, kind="point", status=statuses or None, since=since, until=until):
                outcome = show_suspect(led, int(row["id"])).get("outcome")
                points.append(_check_point(_ledger_point(row, outcome), len(points), f"{ledger_path} suspect {row['id']}"))
            lines = [dict(r.get("evidence") or {}, pipe_ids=r.get("pipe_ids") or [], from_logger=r.get("from_logger"),
                          to_logger=r.get("to_logger"), score=r.get("score"), ledger_id=r.get("id"))
                     for r in list_suspects(led, kind="line")]
            areas = [dict(r.get("evidence") or {}, area=r.get("area"), score=r.get("score"), ledger_id=r.get("id"))
                     for r in list_suspects(led, kind="area")]
            scores = {}
            for r in led.conn.execute("SELECT logger_id, as_of, score, alarm, reasons_json FROM logger_scores "
                                      "ORDER BY logger_id, as_of"):
                scores[r["logger_id"]] = {"logger_id": r["logger_id"], "score": r["score"], "alarm": bool(r["alarm"]),
                                          "as_of": r["as_of"],
                                          "reasons": json.loads(r["reasons_json"]) if r["reasons_json"] else []}
            history = [(r["logger_id"], r["date"], r["level"], r["spread"]) for r in led.conn.execute(
                "SELECT logger_id, date, level, spread FROM logger_nights ORDER BY logger_id, date")]
            cols = {r[1] for r in led.conn.execute("PRAGMA table_info(recordings)")}
            night = "night" if "night" in cols else "NULL AS night"
            recs = [dict(r) for r in led.conn.execute(
                f"SELECT path, logger_id, start_time, sample_rate_hz, duration_s, {night} FROM recordings "
                "WHERE status = 'ok' ORDER BY logger_id, start_time")]
            named = None
            for r in led.conn.execute("SELECT params_json FROM batches ORDER BY id DESC"):
                try:
                    params = json.loads(r["params_json"] or "{}")
                except json.JSONDecodeError:
                    continue
                if isinstance(params, dict) and params.get("survey_dir"):
                    named = params["survey_dir"]
                    break
        except sqlite3.Error as exc:
            from ..ledger._db import LedgerError, sqlite_message

            raise LedgerError(sqlite_message(ledger_path, exc)) from None
    except BaseException:
        led.close()
        raise
    if survey_dir is not None:
        sdir = Path(survey_dir)
    elif named is None and points and all(p.get("origin") == "pair" for p in points):
        sdir = None  # pair jobs only: no network to look for
    else:
        sdir = resolve_survey_dir(named, relative_to=ledger_path.resolve().parent, what="ledger's batch runs")
    if max_points is not None:
        points = points[:max_points]
    inputs = ReportInputs(points=points, lines=lines, areas=areas, noise_sources=[], logger_scores=scores,
                          survey_dir=sdir, sources=[f"ledger {ledger_path}"], ledger_path=ledger_path,
                          history_rows=history or None, ledger_recordings=recs)
    return inputs, led


# -- the survey folder --------------------------------------------------------------------------
@dataclasses.dataclass
class Site:
    """The network, logger sites and recordings of a survey folder.

    Attributes
    ----------
    root : Path
    network : acoustic.network.PipeNetwork
    sites : dict of logger_id -> acoustic.network.LoggerSite
    recordings : RecordingIndex
    stats_path : Path or None
    """

    root: Path
    network: object
    sites: dict
    recordings: "RecordingIndex"
    stats_path: Path | None

    recordings_problem: str | None = None
    _graph: object = dataclasses.field(default=None, repr=False)

    @property
    def graph(self):
        """The survey's pipe graph split at the loggers (:class:`acoustic.survey.SurveyGraph`)."""
        if self._graph is None:
            from ..survey import SurveyGraph

            self._graph = SurveyGraph(self.network, list(self.sites.values()))
        return self._graph

    def logger_xy(self) -> dict:
        """logger_id -> (x, y) in network coordinates."""
        return {lid: self.network.site_xy(s) for lid, s in self.sites.items()}


def _read_network(root: Path):
    from ..network import read_geojson_network, read_inp_network

    inp, geo = root / "network.inp", root / "network.geojson"
    if inp.exists():
        pipes = root / "pipes.csv"
        if not pipes.exists():
            raise DataError(f"{pipes}: file not found (EPANET files carry no pipe material)")
        return read_inp_network(inp, pipes)
    if geo.exists():
        return read_geojson_network(geo)
    raise DataError(f"{root}: no network.inp (with pipes.csv) or network.geojson in the survey folder")


class RecordingIndex:
    """Recordings per logger (from the survey folder and/or the ledger), found by night.

    Parameters
    ----------
    infos : dict of logger_id -> list of acoustic.survey.RecordingInfo
    """

    def __init__(self, infos: dict | None = None):
        self.infos: dict[str, list] = {k: list(v) for k, v in (infos or {}).items()}

    def add_ledger_rows(self, rows) -> None:
        """Add the ledger's recordings whose files exist (and are not already known)."""
        from ..survey import RecordingInfo

        known = {Path(i.path).resolve() for v in self.infos.values() for i in v}
        for r in rows:
            p = Path(r["path"])
            if not r.get("logger_id") or not p.is_file() or p.resolve() in known:
                continue
            start = None
            if r.get("start_time"):
                try:
                    start = datetime.fromisoformat(str(r["start_time"]).replace("Z", "+00:00"))
                    if start.tzinfo is None:
                        start = start.replace(tzinfo=timezone.utc)
                except ValueError:
                    start = None
            if not (r.get("duration_s") and r.get("sample_rate_hz")):
                continue
            info = RecordingInfo(p, str(r["logger_id"]), start, float(r["duration_s"]), float(r["sample_rate_hz"]))
            self.infos.setdefault(info.logger_id, []).append(info)

    def __len__(self) -> int:
        return sum(len(v) for v in self.infos.values())

    def nights(self, logger_id: str) -> list[str]:
        return sorted({i.night for i in self.infos.get(logger_id, [])})

    def pair(self, a: str, b: str, night: str | None = None):
        """The recordings of ``a`` and ``b`` that overlap most in time on ``night`` (any night when
        None or when that night has none): ``(info_a, info_b, overlap_s)`` or None."""
        best = None
        for want in ([night, None] if night else [None]):
            for ia in self.infos.get(a, []):
                if want is not None and ia.night != want:
                    continue
                for ib in self.infos.get(b, []):
                    if want is not None and ib.night != want:
                        continue
                    ov = ia.overlap_s(ib)
                    if ov > 0 and (best is None or ov > best[2]):
                        best = (ia, ib, ov)
            if best is not None:
                return best
        return None

    def one(self, logger_id: str, night: str | None = None):
        """A recording of ``logger_id`` on ``night`` (else its latest), or None."""
        infos = self.infos.get(logger_id, [])
        on = [i for i in infos if night is None or i.night == night]
        pick = on or infos
        return pick[-1] if pick else None


def open_site(survey_dir) -> Site:
    """Read a survey folder's network, loggers and recording headers.

    A folder without usable recordings still gives the network and loggers; the reason is kept
    in :attr:`Site.recordings_problem` (recordings may still come from a ledger).

    Raises
    ------
    DataError
        Not a folder, no network or loggers, or they do not load.
    """
    from ..network import read_loggers

    root = Path(survey_dir)
    if not root.exists():
        raise DataError(f"{root}: survey folder not found")
    if not root.is_dir():
        raise DataError(f"{root}: not a folder (expected a survey folder with network, loggers.csv, recordings/)")
    folder = None
    problem = None
    with collect_warnings(foreign="ignore"):  # the survey already reported them (dropped here)
        try:
            from ..survey import read_survey

            folder = read_survey(root)
        except AcousticError as exc:
            problem = exc
    if folder is not None:
        return Site(root, folder.network, dict(folder.sites), RecordingIndex(folder.recordings), folder.stats_path)
    network = _read_network(root)
    sites = {s.logger_id: s for s in read_loggers(root / "loggers.csv", network)}
    stats = root / "stats.csv"
    return Site(root, network, sites, RecordingIndex({}), stats if stats.exists() else None,
                recordings_problem=f"{root}: recordings not usable ({problem})")


# -- level/spread history ---------------------------------------------------------------------
def read_history(stats_path=None, ledger_rows=None) -> dict:
    """Nightly level and spread of each logger.

    Parameters
    ----------
    stats_path : Path, optional
        A ``stats.csv`` (``interfaces.md``), read with :func:`acoustic.loggers.read_stats`.
    ledger_rows : list of (logger_id, date, level, spread), optional
        The ledger's ``logger_nights`` (preferred for loggers it has).

    Returns
    -------
    dict of logger_id -> list of (datetime.date, level, spread)
        Sorted by date; levels and spreads in the logger's own dB units.
    """
    out: dict[str, dict] = {}
    if stats_path is not None:
        from ..loggers import read_stats

        try:
            rows = read_stats(stats_path)
        except AcousticError as exc:
            _warn(f"level/spread history left out: {exc}")
            rows = []
        for r in rows:
            out.setdefault(r.logger_id, {})[r.date] = (float(r.level), float(r.spread))
    if ledger_rows:
        from_ledger: dict[str, dict] = {}
        for lid, d, level, spread in ledger_rows:
            try:
                dd = d if isinstance(d, date) else date.fromisoformat(str(d))
            except ValueError:
                continue
            from_ledger.setdefault(str(lid), {})[dd] = (float(level), float(spread))
        out.update(from_ledger)
    return {lid: sorted((d, lv, sp) for d, (lv, sp) in nights.items()) for lid, nights in out.items()}
