"""``pipe.json`` (``interfaces.md``, "Pipe description")."""

from __future__ import annotations

import json
import math
from pathlib import Path

from .._errors import PipeError
from ..pipe import PipePath, PipeSegment
from ._files import check_output_file, display_path
from ._jsonio import read_json_file

__all__ = ["read_pipe", "write_pipe", "pipe_from_dict", "pipe_to_dict"]

_NUMERIC = ("length_m", "diameter_mm", "wall_mm", "wave_speed_m_s")
#: Largest pipe.json read, bytes (a path of a thousand segments is about 100 kB).
PIPE_JSON_MAX_BYTES = 4 * 1024 * 1024
#: Deepest nesting of pipe.json (ours: an object holding a list of objects).
PIPE_JSON_MAX_DEPTH = 16


def pipe_from_dict(obj, *, where: str = "pipe") -> PipePath:
    """Build a :class:`~acoustic.pipe.PipePath` from the ``pipe.json`` object.

    Raises
    ------
    PipeError
        Missing or non-positive lengths, unknown materials, impossible walls or speeds, or a
        top-level ``length_m`` that differs from the sum of the segments.
    """
    if not isinstance(obj, dict) or not isinstance(obj.get("segments"), list) or not obj["segments"]:
        raise PipeError(f"{where}: expected an object with a non-empty 'segments' list")
    segs = []
    for i, s in enumerate(obj["segments"]):
        tag = f"{where}: segments[{i}]"
        if not isinstance(s, dict):
            raise PipeError(f"{tag}: expected an object")
        if "material" not in s:
            raise PipeError(f"{tag}: missing 'material'")
        if "length_m" not in s:
            raise PipeError(f"{tag}: missing 'length_m'")
        for key in _NUMERIC:
            v = s.get(key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
                raise PipeError(f"{tag}: {key} must be a finite number, got {v!r}")
        try:
            segs.append(PipeSegment(
                material=s["material"], length_m=float(s["length_m"]),
                diameter_mm=float(s.get("diameter_mm", 150.0)),
                wall_mm=None if s.get("wall_mm") is None else float(s["wall_mm"]),
                wave_speed_m_s=None if s.get("wave_speed_m_s") is None else float(s["wave_speed_m_s"]),
                soil=s.get("soil", obj.get("soil", "sandy")),
            ))
        except PipeError as exc:
            raise PipeError(f"{tag}: {exc}") from None
    try:
        path = PipePath(segs)
    except PipeError as exc:  # (the path as a whole: its total length)
        raise PipeError(f"{where}: {exc}") from None
    total = obj.get("length_m")
    if total is not None:
        if isinstance(total, bool) or not isinstance(total, (int, float)) or total <= 0:
            raise PipeError(f"{where}: length_m must be a positive number, got {total!r}")
        if abs(total - path.length_m) > max(0.01, 1e-4 * total):
            raise PipeError(
                f"{where}: segment lengths add up to {path.length_m:g} m but length_m says {total:g} m"
            )
    return path


def pipe_to_dict(path: PipePath) -> dict:
    """The ``pipe.json`` object of a path."""
    segs = []
    for s in path.segments:
        d = {"material": s.material, "length_m": s.length_m, "diameter_mm": s.diameter_mm,
             "wall_mm": round(s.wall_thickness_mm, 3)}
        if s.wave_speed_m_s is not None:
            d["wave_speed_m_s"] = s.wave_speed_m_s
        if s.soil != "sandy":
            d["soil"] = s.soil
        segs.append(d)
    return {"segments": segs}


def read_pipe(path) -> PipePath:
    """Read ``pipe.json``; errors name the file and the segment.

    The file is read through :func:`acoustic.io.read_json_file` (a regular file of at most
    :data:`PIPE_JSON_MAX_BYTES`, nesting at most :data:`PIPE_JSON_MAX_DEPTH` deep, finite numbers).
    """
    path = Path(path)
    obj = read_json_file(path, what="file", error=PipeError, max_bytes=PIPE_JSON_MAX_BYTES,
                         max_depth=PIPE_JSON_MAX_DEPTH, require_object=False)
    return pipe_from_dict(obj, where=display_path(path))


def write_pipe(path_obj: PipePath, path) -> Path:
    """Write ``pipe.json``."""
    path = Path(path)
    check_output_file(path, what="pipe description", error=PipeError)
    path.write_text(json.dumps(pipe_to_dict(path_obj), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return path
