"""acoustic: find leaks in buried water mains from sound.

The public API is small and loads lazily, so ``import acoustic`` stays fast:

- :class:`Recording`, :func:`read_recording`, :func:`write_recording` (recordings and sidecars)
- :mod:`acoustic.pipe` (materials, wavenumbers, segments, paths)
- :mod:`acoustic.simulate` (physics-based synthetic recordings)
- :mod:`acoustic.correlate` (leak location between two sensors)
- :mod:`acoustic.features` (spectral features and noise-logger statistics)
- the exception hierarchy rooted at :class:`AcousticError`
"""

from __future__ import annotations

import importlib

from ._errors import (
    AcousticError,
    AcousticWarning,
    DataError,
    ModelError,
    ParameterError,
    PipeError,
    RecordingError,
)

__version__ = "0.1.0"

_LAZY = {
    "Recording": ("acoustic.recording", "Recording"),
    "read_recording": ("acoustic.io", "read_recording"),
    "write_recording": ("acoustic.io", "write_recording"),
    "read_pipe": ("acoustic.io", "read_pipe"),
    "PipePath": ("acoustic.pipe", "PipePath"),
    "PipeSegment": ("acoustic.pipe", "PipeSegment"),
}
_SUBMODULES = {"pipe", "io", "simulate", "correlate", "features", "loggers", "library", "classify", "network",
               "survey", "ledger", "batch", "report", "recording"}

__all__ = [
    "AcousticError", "AcousticWarning", "DataError", "ModelError", "ParameterError", "PipeError",
    "RecordingError", "__version__", *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        mod, attr = _LAZY[name]
        value = getattr(importlib.import_module(mod), attr)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"acoustic.{name}")
    raise AttributeError(f"module 'acoustic' has no attribute {name!r}")


def __dir__():
    return sorted(set(__all__) | _SUBMODULES)
