"""Writing audio, JSON and CSV (kept apart from the generators)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import soundfile as sf


def write_audio(path, samples: np.ndarray, fs: float, subtype: str, container: str = "WAV") -> Path:
    """Write already-quantised full-scale samples so that the file holds exactly these values."""
    path = Path(path)
    rate = int(round(fs))
    if abs(rate - fs) > 1e-9:
        raise ValueError(f"{path}: sample rate {fs} is not an integer")
    if subtype == "PCM_16":
        data = np.round(samples * 32768.0).astype(np.int16)
    elif subtype == "PCM_24":
        data = (np.round(samples * 8388608.0).astype(np.int32) << 8)  # libsndfile keeps the top 24 bits
    elif subtype == "FLOAT":
        data = samples.astype(np.float32)
    else:
        raise ValueError(f"unsupported subtype {subtype}")
    sf.write(str(path), data, rate, subtype=subtype, format=container)
    return path


def write_json(path, obj) -> Path:
    path = Path(path)
    path.write_text(json.dumps(obj, indent=2, default=_default) + "\n", encoding="utf-8")
    return path


def _default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def flat_csv_value(v):
    """A CSV cell: empty for None, rounded floats, plain text otherwise."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if not math.isfinite(v):
            return ""
        return float(f"{v:.6g}") if abs(v) < 1e6 else v
    return v
