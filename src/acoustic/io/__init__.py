"""Reading and writing recordings, pipe descriptions and results (no processing here)."""

from ._audio import read_recording, write_recording, read_sidecar, sidecar_path
from ._pipejson import read_pipe, write_pipe

__all__ = ["read_recording", "write_recording", "read_sidecar", "sidecar_path", "read_pipe", "write_pipe"]
