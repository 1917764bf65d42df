"""One exception hierarchy for the package.

Every error the command line can meet derives from :class:`AcousticError`; the CLI
turns it into a one-line ``Error: ...`` message and exit code 2.  Recoverable data
problems are warnings of category :class:`AcousticWarning`.
"""

from __future__ import annotations

__all__ = [
    "AcousticError",
    "ParameterError",
    "RecordingError",
    "PipeError",
    "ModelError",
    "DataError",
    "AcousticWarning",
]


class AcousticError(Exception):
    """Base class of every error raised by ``acoustic`` on bad input."""


class ParameterError(AcousticError, ValueError):
    """A parameter is outside what the method or the physics allows."""


class RecordingError(AcousticError):
    """A recording (audio file or its sidecar) is missing, corrupt or unusable."""


class PipeError(AcousticError, ValueError):
    """A pipe description is impossible (lengths, materials, wave speeds)."""


class ModelError(AcousticError):
    """A model or signature-library file is missing, corrupt, foreign or tampered."""


class DataError(AcousticError):
    """A tabular input (statistics CSV, labels, dataset) is malformed."""


class AcousticWarning(UserWarning):
    """A data problem that leaves the result usable (clipping, defaults, resampling)."""
