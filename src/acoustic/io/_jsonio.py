"""One JSON loader for every JSON input (sidecars, pipe.json, model cards, GeoJSON, survey results).

Python's :func:`json.loads` recurses once per nesting level (a document nested 100,000 deep
raises ``RecursionError``), turns ``1e400`` into ``inf``, accepts ``NaN`` and ``Infinity``, and
refuses integers of more than 4300 digits with a bare ``ValueError``.  :func:`loads_json_limited`
checks the nesting depth first, by scanning the brackets outside strings (no recursion), then
parses with hooks that refuse over-long integers and non-finite numbers; every error is one line
naming the file and, where there is one, the line and column.
"""

from __future__ import annotations

import json
import math
import re
import sys

from .._errors import AcousticError, DataError
from .._warnings import one_line
from ._files import display_path, read_file_bytes

__all__ = ["DEFAULT_JSON_MAX_BYTES", "DEFAULT_JSON_MAX_DEPTH", "MAX_INT_DIGITS", "loads_json_limited",
           "read_json_file", "to_jsonable"]

#: Largest JSON input read by default, bytes (a 50,000-pipe GeoJSON network is about 20 MB).
DEFAULT_JSON_MAX_BYTES = 64 * 1024 * 1024
#: Deepest nesting of arrays and objects accepted by default (GeoJSON MultiPolygons need 6).
DEFAULT_JSON_MAX_DEPTH = 64
#: Longest integer literal accepted, digits (no count, id or seed of ours needs more; Python's
#: own limit on converting text to int is 4300).
MAX_INT_DIGITS = 40

# a JSON string: quote, then runs of ordinary characters and escapes, then its closing quote or, for a
# string never closed, the end of the text.  The closing quote is optional so that the match at an
# opening quote never fails: a failed match would be retried at every later quote, and a text of
# many escaped quotes with no closing one (``"\\"\\"\\"...``) would take quadratic time (hours for a
# sidecar of 1 MiB).  What is masked after an unclosed quote is never parsed: json.loads stops there.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*("?)', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")
_CONSTANT = re.compile(r"-?\b(?:NaN|Infinity)\b")


class _Refused(Exception):
    def __init__(self, token: str, why: str):
        super().__init__(why)
        self.token = token
        self.why = why


def _blank_string(m: re.Match) -> str:
    close = m.group(1)  # '"', or '' for a string never closed
    return '"' + " " * (m.end() - m.start() - 1 - len(close)) + close


def _mask_strings(text: str) -> str:
    """``text`` with every string's content blanked (same length, so positions still hold)."""
    return _STRING.sub(_blank_string, text)


def _line_col(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return line, col


def _depth_exceeded(masked: str, max_depth: int) -> int | None:
    """Position of the first bracket nested deeper than ``max_depth`` (outside strings), else None."""
    depth = 0
    for m in _BRACKETS.finditer(masked):
        if m.group() in "[{":
            depth += 1
            if depth > max_depth:
                return m.start()
        else:
            depth -= 1
    return None


def _parse_int(text: str):
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise _Refused(text, f"an integer of {digits} digits (at most {MAX_INT_DIGITS} are accepted)")
    return int(text)


def _parse_float(text: str):
    value = float(text)
    if not math.isfinite(value):
        shown = text if len(text) <= 30 else text[:27] + "..."
        raise _Refused(text, f"the number {shown}, too large for a float")
    return value


def _refuse_constant(text: str):
    raise _Refused(text, f"{text}, which JSON does not allow (non-finite numbers are refused)")


def _object_once(pairs: list) -> dict:
    """An object's members as a dict; a key given twice is refused (json.loads keeps the last value)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(None, f"the key {_shown(key)} twice in one object (which of its values is meant?)")
            seen.add(key)
    return obj


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


# a \uD800-\uDFFF escape: only a pair of them (high, then low) is a character
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _lone_surrogate(obj) -> str | None:
    """The first string (key or value) of a parsed document holding a lone surrogate, else None."""
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return item
    return None


def loads_json_limited(text: str, *, source=None, what: str = "JSON document", error: type[AcousticError] = DataError,
                       max_depth: int = DEFAULT_JSON_MAX_DEPTH, allow_nonfinite: bool = False,
                       require_object: bool = True):
    """Parse JSON text with a nesting-depth limit and finite numbers only.

    Parameters
    ----------
    text : str
        The JSON text.
    source : str or Path, optional
        Where the text came from, for the messages (default: ``what``).
    what : str, default "JSON document"
        What the document is, for the messages (``"sidecar"``, ``"pipe description"``).
    error : type, default DataError
        The :class:`~acoustic._errors.AcousticError` subclass raised.
    max_depth : int, default 64
        Deepest nesting of arrays and objects accepted.
    allow_nonfinite : bool, default False
        Accept the ``NaN``, ``Infinity`` and ``-Infinity`` literals (as float nan/inf); numbers too
        large for a float (``1e400``) are refused either way.
    require_object : bool, default True
        The top level must be an object (``{...}``).

    Returns
    -------
    object
        The parsed document (a dict when ``require_object``).

    Raises
    ------
    AcousticError
        Of class ``error``, one line: not valid JSON (with line and column), nested too deep,
        an integer of more than :data:`MAX_INT_DIGITS` digits, a non-finite number, a key given
        twice in one object, a lone surrogate escape (``"\\ud800"``: not Unicode text), or not
        an object at the top level.

    Examples
    --------
    >>> loads_json_limited('{"gain_db": 6}', source="A.json", what="sidecar")
    {'gain_db': 6}
    >>> loads_json_limited('{"gain_db": NaN}', source="A.json", what="sidecar")
    Traceback (most recent call last):
    ...
    acoustic._errors.DataError: A.json: sidecar holds NaN, which JSON does not allow (non-finite numbers are refused) (line 1, column 13)
    """
    where = display_path(source) if source is not None else what
    head = f"{where}: {what}" if source is not None else where
    masked = _mask_strings(text)
    deep = _depth_exceeded(masked, max_depth) if text.count("[") + text.count("{") > max_depth else None
    if deep is not None:
        line, col = _line_col(text, deep)
        raise error(f"{head} is nested more than {max_depth} levels deep (line {line}, column {col})")
    try:
        obj = json.loads(text, parse_int=_parse_int, parse_float=_parse_float, object_pairs_hook=_object_once,
                         parse_constant=(lambda s: float(s)) if allow_nonfinite else _refuse_constant)
    except _Refused as exc:
        pattern = _CONSTANT if exc.token in ("NaN", "Infinity", "-Infinity") else re.compile(re.escape(exc.token or ""))
        m = pattern.search(masked) if exc.token is not None else None
        at = " (line {}, column {})".format(*_line_col(text, m.start())) if m else ""
        raise error(f"{head} holds {exc.why}{at}") from None
    except json.JSONDecodeError as exc:
        raise error(f"{head} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except (RecursionError, ValueError) as exc:  # belt and braces: the checks above should catch these
        raise error(f"{head} is not valid JSON ({one_line(exc)[:200]})") from None
    if _SURROGATE_ESCAPE.search(text):
        lone = _lone_surrogate(obj)
        if lone is not None:
            raise error(f"{head} holds {_shown(lone)}, a string with a lone surrogate escape (not Unicode text)")
    if require_object and not isinstance(obj, dict):
        raise error(f"{head} must be a JSON object ({{...}}) at the top level, found {_json_kind(obj)}")
    return obj


def _json_kind(obj) -> str:
    if isinstance(obj, list):
        return "an array"
    if isinstance(obj, str):
        return "a string"
    if isinstance(obj, bool):
        return "true/false"
    if obj is None:
        return "null"
    return "a number"


def read_json_file(path, *, what: str = "JSON file", error: type[AcousticError] = DataError,
                   max_bytes: int = DEFAULT_JSON_MAX_BYTES, max_depth: int = DEFAULT_JSON_MAX_DEPTH,
                   allow_nonfinite: bool = False, require_object: bool = True, empty_ok: bool = False):
    """Read a JSON file: a regular file (never a FIFO or device), UTF-8 (a byte-order mark is skipped),
    at most ``max_bytes``, through :func:`loads_json_limited`.

    Parameters
    ----------
    path : str or Path
        The file.
    what, error, max_depth, allow_nonfinite, require_object
        As for :func:`loads_json_limited`.
    max_bytes : int, default 64 MiB
        Largest file accepted.
    empty_ok : bool, default False
        Return None for a file holding only whitespace instead of refusing it.

    Returns
    -------
    object
        The parsed document.

    Raises
    ------
    AcousticError
        Of class ``error``: missing or special file, too large, not UTF-8 (line named), empty,
        or any problem of :func:`loads_json_limited`.

    Examples
    --------
    >>> import json, os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "pipe.json")
    >>> with open(p, "w") as fh:
    ...     _ = fh.write('{"segments": [{"material": "pvc", "length_m": 80}]}')
    >>> read_json_file(p, what="pipe description")["segments"][0]["length_m"]
    80
    """
    data = read_file_bytes(path, what=what, error=error, max_bytes=max_bytes)
    name = display_path(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, col = _line_col(data.decode("latin-1"), exc.start)
        raise error(f"{name}: {what} is not UTF-8 text (byte 0x{data[exc.start]:02x} at line {line}, "
                    f"column {col})") from None
    if not text.strip():
        if empty_ok:
            return None
        raise error(f"{name}: {what} is empty (0 bytes of JSON)" if not data else f"{name}: {what} holds only whitespace")
    return loads_json_limited(text, source=path, what=what, error=error, max_depth=max_depth,
                              allow_nonfinite=allow_nonfinite, require_object=require_object)


# -- output ------------------------------------------------------------------------------------
def to_jsonable(obj):
    """``obj`` made ready for :func:`json.dumps`: numpy scalars and arrays as Python numbers and
    lists, non-finite floats as ``None`` (JSON null), text that is not UTF-8 (a file name's
    undecodable bytes) as ``\\xNN``; dict keys as strings.

    Examples
    --------
    >>> to_jsonable({"interval_m": (1.5, float("nan")), 3: "a"})
    {'interval_m': [1.5, None], '3': 'a'}
    """
    np = sys.modules.get("numpy")  # (not imported here: without numpy loaded there are no numpy values)
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if np is not None:
        if isinstance(obj, np.ndarray):
            return to_jsonable(obj.tolist())
        if isinstance(obj, np.generic):
            obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, str) and not obj.isascii():
        try:
            obj.encode("utf-8")
        except UnicodeEncodeError:  # a file name that is not UTF-8: its bytes as \xNN, not lone surrogates
            return display_path(obj)
    return obj
