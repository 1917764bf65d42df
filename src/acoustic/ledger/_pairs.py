"""Pair jobs: a crew's ``acoustic correlate --json`` result entered as a point suspect.

Crews work pair by pair: two loggers on a hydrant or valve either side of a suspected leak,
correlated on the spot.  The correlate JSON (schema ``acoustic.correlate/1``) names the two
recordings (``files``), the sensors (``sensor_ids``) and their ``start_times`` and the pipe used
(``pipe``: the ``pipe.json`` document, or a path to it); with them the ledger keeps the job as a
point suspect on the pair's own path:

- ``pipe_id`` ``pair:<sensor A>-<sensor B>``; ``offset_m`` the distance from sensor A, its
  interval, ``spacing_m`` the path's length; the path's ends are the sensors (``--from-node``
  takes a sensor id when a dig is confirmed);
- the same recordings entered again change nothing (the same sensors and start times, or the same
  files when the start times are not known); the same pair located again (either sensor order)
  within :data:`~acoustic.ledger._merge.SUSPECT_MERGE_M` updates its open suspect.

The pair keys may be ``{"a": ..., "b": ...}`` objects (the correlate JSON's form, docs/cli.md; a
start time may be null) or ``[A, B]`` lists.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from .._errors import DataError
from ._db import Ledger, dumps, utc_now
from ._network import POSITION_ROUNDING_M, _num

__all__ = ["PAIR_SCHEMA", "PairJob", "load_pair_result", "is_pair_result", "add_pair_job"]

#: The correlate JSON schema this module reads.
PAIR_SCHEMA = "acoustic.correlate/1"
#: What a pair job needs beyond the location (added to the correlate JSON by schema 1).
PAIR_KEYS = ("files", "sensor_ids", "start_times", "pipe")
#: Largest correlate JSON read (bytes); the result of one pair is a few kB.
MAX_RESULT_BYTES = 20_000_000


def is_pair_result(doc) -> bool:
    """Whether a JSON document is an ``acoustic correlate --json`` result."""
    if not isinstance(doc, dict):
        return False
    if str(doc.get("schema", "")).startswith("acoustic.correlate/"):
        return True
    return "distance_from_a_m" in doc and "delay_s" in doc and "points" not in doc


@dataclasses.dataclass
class PairJob:
    """A checked pair result.

    Attributes
    ----------
    path : Path
        The JSON file.
    result : dict
        The correlate JSON.
    files : list of Path
        Recordings A and B (as named; relative names resolved against the JSON's folder).
    sensor_ids : list of str
        Sensors A and B.
    start_times : list of (str or None)
        Their recordings' UTC start times (None when not known).
    pipe : acoustic.pipe.PipePath
    pipe_doc : dict
        The pipe as a ``pipe.json`` document.
    length_m : float
        Path length sensor A to sensor B (m).
    """

    path: Path
    result: dict
    files: list
    sensor_ids: list
    start_times: list
    pipe: object
    pipe_doc: dict
    length_m: float

    @property
    def pipe_id(self) -> str:
        return f"pair:{self.sensor_ids[0]}-{self.sensor_ids[1]}"

    @property
    def detected(self) -> bool:
        return bool(self.result.get("detected")) and _num(self.result.get("distance_from_a_m"))


def read_json_document(path: Path, what: str) -> dict:
    """Read a JSON file through :func:`acoustic.io.read_json_file` (regular files only, size and depth
    limits); one-line DataErrors naming the file."""
    from ..io import read_json_file

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: {what} not found")
    return read_json_file(path, what=what, max_bytes=MAX_RESULT_BYTES)


def load_pair_result(path, doc: dict | None = None) -> PairJob:
    """Read and check a ``correlate --json`` result for a pair job.

    Raises
    ------
    DataError
        Not a correlate result, or one without what a pair job needs (the message lists the
        missing keys: they come with ``acoustic correlate --json`` of schema
        ``acoustic.correlate/1``), or with malformed ones.
    """
    from ..io import read_pipe
    from ..io._pipejson import pipe_from_dict

    path = Path(path)
    if doc is None:
        doc = read_json_document(path, "correlate result")
    if not is_pair_result(doc):
        raise DataError(f"{path}: not an 'acoustic correlate --json' result (no distance_from_a_m / delay_s)")
    missing = [k for k in PAIR_KEYS if doc.get(k) in (None, "", [])]
    if missing:
        raise DataError(f"{path}: the correlate result lacks {', '.join(missing)}, which a pair job needs (which "
                        f"recordings, which sensors, when, along which pipe); rerun 'acoustic correlate --json' with "
                        f"a version that writes schema {PAIR_SCHEMA}")
    schema = doc.get("schema")
    if schema is not None and schema != PAIR_SCHEMA:
        raise DataError(f"{path}: correlate result schema {schema!r}; this acoustic reads {PAIR_SCHEMA}")
    pair = {key: _pair_of_texts(path, key, doc[key], optional=(key == "start_times"))
            for key in ("files", "sensor_ids", "start_times")}
    if pair["sensor_ids"][0] == pair["sensor_ids"][1]:
        raise DataError(f"{path}: sensor_ids name the same sensor twice ({pair['sensor_ids'][0]})")
    files = [Path(f) if Path(f).is_absolute() else path.resolve().parent / f for f in pair["files"]]
    pipe = doc["pipe"]
    try:
        if isinstance(pipe, str):
            pp = Path(pipe) if Path(pipe).is_absolute() else path.resolve().parent / pipe
            pipe_obj = read_pipe(pp)
            pipe_doc = read_json_document(pp, "pipe description")
        elif isinstance(pipe, dict):
            pipe_obj = pipe_from_dict(pipe, where=f"{path}: pipe")
            pipe_doc = pipe
        else:
            raise DataError(f"{path}: pipe must be the pipe.json document or a path to it, got {type(pipe).__name__}")
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: pipe not readable ({exc})") from None
    length = float(pipe_obj.length_m)
    v = doc.get("distance_from_a_m")
    tol = POSITION_ROUNDING_M
    if doc.get("detected") and not (_num(v) and -tol <= v <= length + tol):
        raise DataError(f"{path}: distance_from_a_m {v!r} is not a position on the {length:g} m path")
    iv = doc.get("interval_m")
    if doc.get("detected") and not (isinstance(iv, list) and len(iv) == 2 and all(_num(x) for x in iv)
                                    and iv[0] <= iv[1]):
        raise DataError(f"{path}: interval_m must be [low, high] in m, got {iv!r}")
    return PairJob(path, doc, files, pair["sensor_ids"], pair["start_times"], pipe_obj, pipe_doc, length)


def _pair_of_texts(path: Path, key: str, value, *, optional: bool = False) -> list:
    """Sensor A's and B's values of a pair key: ``{"a": ..., "b": ...}`` (the correlate JSON's
    form, docs/cli.md) or ``[A, B]``; texts, or None where ``optional`` (a start time not known)."""
    items = [value.get("a"), value.get("b")] if isinstance(value, dict) else value
    ok = isinstance(items, list) and len(items) == 2 and all(
        (isinstance(x, str) and x.strip()) or (optional and x is None) for x in items)
    if not ok:
        raise DataError(f"{path}: {key} must name sensor A's and B's ({{\"a\": ..., \"b\": ...}} of texts"
                        + (" or null" if optional else "") + f"), got {value!r}")
    return [x.strip() if isinstance(x, str) else None for x in items]


def _evidence(job: PairJob) -> dict:
    keep = {k: v for k, v in job.result.items() if k not in ("correlogram", "peaks_all")}
    keep["path"] = {"length_m": job.length_m, "start_node": job.sensor_ids[0], "end_node": job.sensor_ids[1],
                    "pipe": job.pipe_doc}
    keep["files"] = [str(f) for f in job.files]
    keep["result_file"] = str(job.path.resolve())
    keep["loggers"] = list(job.sensor_ids)
    keep["pipe_length_m"] = job.length_m
    return keep


def add_pair_job(led: Ledger, result_path, *, area: str | None = None, by: str | None = None) -> dict:
    """Enter a correlate result as a point suspect (module docs).

    Returns
    -------
    dict
        ``action`` (``new``, ``updated``, ``unchanged``, or ``none`` when the pair located no
        leak) and ``suspect`` (the row).
    """
    from ._merge import SUSPECT_MERGE_M
    from ._network import clamp_offset

    job = load_pair_result(result_path)
    a, b = job.sensor_ids
    if not job.detected:
        return {"action": "none", "suspect": {"id": None, "from_logger": a, "to_logger": b, "offset_m": None},
                "result": str(job.path)}
    r = job.result
    off = clamp_offset(float(r["distance_from_a_m"]), job.length_m, what=f"{job.path}: distance_from_a_m")
    lo, hi = (min(max(float(v), 0.0), job.length_m) for v in r["interval_m"])
    ev = _evidence(job)
    row = dict(kind="point", area=area or "pairs", pipe_id=job.pipe_id, from_logger=a, to_logger=b, offset_m=off,
               interval_lo_m=lo, interval_hi_m=hi, spacing_m=job.length_m, confidence=r.get("confidence"),
               score=r.get("confidence"), evidence_json=dumps(ev), night=_night(job.start_times[0]), origin="pair",
               params_json=dumps({"result_file": str(job.path.resolve()), "entered_by": by}))
    key = "pair|" + "|".join(sorted(f"{sensor}@{when or Path(f).resolve()}" for sensor, when, f in
                                    zip(job.sensor_ids, job.start_times, job.files)))
    with led.transaction():
        old = led.conn.execute("SELECT * FROM suspects WHERE natural_key = ?", (key,)).fetchone()
        if old is not None:
            same = (old["evidence_json"] == row["evidence_json"] and old["pipe_id"] == job.pipe_id)
            if same or old["status"] != "open":
                return {"action": "unchanged", "suspect": dict(old), "result": str(job.path)}
            sid = old["id"]
            _update(led, sid, row)
            action = "updated"
        else:
            sid = _same_pair_nearby(led, a, b, off, job.length_m, SUSPECT_MERGE_M)
            if sid is not None:
                _update(led, sid, _flip(row, job) if _reversed(led, sid, a) else row)
                action = "updated"
            else:
                cols = ["natural_key", "batch_id", "created_utc", *row]
                sid = led.conn.execute(f"INSERT INTO suspects({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                                       (key, None, utc_now(), *row.values())).lastrowid
                action = "new"
    return {"action": action, "suspect": dict(led.conn.execute("SELECT * FROM suspects WHERE id = ?", (sid,)).fetchone()),
            "result": str(job.path)}


def _night(start_time: str | None) -> str | None:
    if start_time is None:
        return None
    text = str(start_time)
    return text[:10] if len(text) >= 10 and text[4] == "-" else None


def _update(led: Ledger, sid: int, row: dict) -> None:
    upd = {k: v for k, v in row.items() if k not in ("kind", "origin")}
    sets = ", ".join(f"{k} = ?" for k in upd)
    led.conn.execute(f"UPDATE suspects SET {sets}, superseded_utc = NULL WHERE id = ?", (*upd.values(), sid))


def _reversed(led: Ledger, sid: int, a: str) -> bool:
    return led.conn.execute("SELECT from_logger FROM suspects WHERE id = ?", (sid,)).fetchone()[0] != a


def _flip(row: dict, job: PairJob) -> dict:
    """The row seen from the other sensor (an existing suspect of the pair in the other order)."""
    L = job.length_m
    out = dict(row, pipe_id=f"pair:{row['to_logger']}-{row['from_logger']}", from_logger=row["to_logger"],
               to_logger=row["from_logger"], offset_m=L - row["offset_m"], interval_lo_m=L - row["interval_hi_m"],
               interval_hi_m=L - row["interval_lo_m"])
    ev = json.loads(row["evidence_json"])
    ev["path"].update(start_node=row["to_logger"], end_node=row["from_logger"])
    ev["entered_reversed"] = True
    out["evidence_json"] = dumps(ev)
    return out


def _same_pair_nearby(led: Ledger, a: str, b: str, off: float, length: float, within_m: float) -> int | None:
    best = None
    for r in led.conn.execute("SELECT id, from_logger, offset_m FROM suspects WHERE kind = 'point' AND origin = 'pair' "
                              "AND status = 'open' AND ((from_logger = ? AND to_logger = ?) OR "
                              "(from_logger = ? AND to_logger = ?))", (a, b, b, a)):
        pos = off if r[1] == a else length - off
        d = abs(float(r[2]) - pos)
        if d <= within_m and (best is None or d < best[0]):
            best = (d, r[0])
    return None if best is None else best[1]
