"""Reading and writing recordings, pipe descriptions, tables and JSON (no processing here).

Every input of the package is read through this package's plumbing:

- :func:`require_regular_file`, :func:`open_regular`, :func:`read_file_bytes`: only regular files
  are opened (never block on a FIFO, socket or device), with a size cap;
- :func:`read_json_file`, :func:`loads_json_limited`: JSON with size and nesting-depth limits,
  finite numbers only, errors with line and column; :func:`to_jsonable` for JSON output (numpy
  values, non-finite numbers as null, file names that are not UTF-8);
- :func:`read_csv_table`: CSV with a header (byte-order mark, trailing separators, extra fields,
  line numbers in every error), and :func:`write_csv_rows` / :func:`csv_safe_cell` for output
  that spreadsheets cannot mistake for formulas.

Names load on first use, so importing this package (for the plumbing alone) costs no numpy.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "AudioInfo": "._audio", "read_audio_info": "._audio", "read_recording": "._audio", "write_recording": "._audio", "read_sidecar": "._audio", "sidecar_path": "._audio",
    "read_pipe": "._pipejson", "write_pipe": "._pipejson",
    "check_output_file": "._files", "display_path": "._files", "file_kind": "._files", "open_regular": "._files", "read_file_bytes": "._files",
    "require_regular_file": "._files",
    "loads_json_limited": "._jsonio", "read_json_file": "._jsonio", "to_jsonable": "._jsonio",
    "CsvRow": "._table", "CsvTable": "._table", "csv_safe_cell": "._table", "format_csv_rows": "._table",
    "parse_date_cell": "._table", "parse_float_cell": "._table", "parse_int_cell": "._table",
    "read_csv_table": "._table", "write_csv_rows": "._table", "MISSING_MARKERS": "._table",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'acoustic.io' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
