"""What every subcommand shares: error handling, warnings to stderr, JSON output, options."""

from __future__ import annotations

import functools
import json
import math
import sys

import click

from .._errors import AcousticError
from .._warnings import collect_warnings, one_line
from ..io._jsonio import to_jsonable  # (its home; kept importable from here)

__all__ = ["FiniteFloat", "command_errors", "document", "emit_json", "json_option", "path_text", "records", "to_jsonable"]

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")


class FiniteFloat(click.ParamType):
    """A click option type: a finite number (never NaN or infinite), optionally within a range.

    click's ``float`` (and ``FloatRange``) accept ``nan`` and ``inf``; every numeric option of the
    package uses this type instead, so a bad value is a usage error naming the option.

    Parameters
    ----------
    lo, hi : float, optional
        Bounds (inclusive unless ``lo_open`` / ``hi_open``).
    unit : str, optional
        Unit for the messages (``"m"``, ``"dB"``).

    Examples
    --------
    >>> import click
    >>> FiniteFloat(lo=0, lo_open=True, unit="m").convert("12.5", None, None)
    12.5
    >>> FiniteFloat(lo=0, lo_open=True, unit="m").convert("nan", None, None)
    Traceback (most recent call last):
    ...
    click.exceptions.BadParameter: 'nan' is not a finite number
    """

    name = "number"

    def __init__(self, lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
                 hi_open: bool = False, unit: str = ""):
        self.lo, self.hi, self.lo_open, self.hi_open, self.unit = lo, hi, lo_open, hi_open, unit

    def _range(self) -> str:
        u = f" {self.unit}" if self.unit else ""
        if self.lo is not None and self.hi is not None and not (self.lo_open or self.hi_open):
            return f"from {self.lo:g} to {self.hi:g}{u}"
        parts = []
        if self.lo is not None:
            parts.append(f"{'above' if self.lo_open else 'at least'} {self.lo:g}{u}")
        if self.hi is not None:
            parts.append(f"{'below' if self.hi_open else 'at most'} {self.hi:g}{u}")
        return " and ".join(parts)

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            v = float(value)
        else:
            try:
                v = float(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(v):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        low = self.lo is not None and (v < self.lo or (self.lo_open and v == self.lo))
        high = self.hi is not None and (v > self.hi or (self.hi_open and v == self.hi))
        if low or high:
            self.fail(f"{v:g} is out of range (must be {self._range()})", param, ctx)
        return v

    def get_metavar(self, param, ctx=None) -> str:  # (click 8.2 passes ctx)
        return "NUMBER"


def command_errors(func):
    """Run a command body: AcousticError -> one-line ``Error: ...`` and exit 2; warnings to stderr.

    OSError and MemoryError are one line with exit 1; an ``sqlite3.Error`` no command turned into
    an AcousticError is one line with exit 2.

    The wrapped function receives a ``warnings_out`` keyword: a list of the messages of the
    :class:`AcousticWarning` s raised while it runs, filled as each is raised (so a JSON
    ``warnings`` field built from it holds every warning so far).  When the command ends, each
    warning is printed once on stderr as ``Warning: ...``.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        collected: list[str] = []
        # foreign warnings (numpy, libraries) are not for the user: dropped, as before
        with collect_warnings(foreign="ignore", ignore_deprecations=True, sink=collected) as caught:
            kwargs["warnings_out"] = collected
            try:
                result = func(*args, **kwargs)
            except BrokenPipeError:  # stdout closed early (e.g. piped into head): not an error
                _quiet_stdout()
                sys.exit(0)
            except SystemExit:  # a command that chooses its exit code still shows its warnings
                _flush(caught, collected)
                raise
            except AcousticError as exc:
                _flush(caught, collected)
                click.echo(f"Error: {one_line(exc)}", err=True)
                sys.exit(2)
            except OSError as exc:
                _flush(caught, collected)
                click.echo(f"Error: {_os_error(exc)}", err=True)
                sys.exit(1)
            except MemoryError as exc:
                _flush(caught, collected)
                click.echo(f"Error: out of memory ({one_line(exc) if str(exc) else 'no detail'})", err=True)
                sys.exit(1)
            except Exception as exc:
                sqlite3 = sys.modules.get("sqlite3")  # (not imported here: most commands never load it)
                if sqlite3 is None or not isinstance(exc, sqlite3.Error):
                    raise
                _flush(caught, collected)  # a database the command's own checks missed: still one line
                click.echo(f"Error: database error ({one_line(exc)}); committed work is kept", err=True)
                sys.exit(2)
        _flush(caught, collected)
        return result

    return wrapper


def _quiet_stdout():
    """Point stdout at devnull so the interpreter's final flush raises no second BrokenPipeError."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # pragma: no cover - stdout without a file descriptor
        pass


def _flush(caught, collected):
    """Print each warning of the command once on stderr (``collected`` already holds them all)."""
    have = set(collected)
    for msg in caught.messages:
        if msg not in have:  # (a command that emptied its warnings_out still has them printed)
            collected.append(msg)
            have.add(msg)
    for msg in dict.fromkeys(collected):
        click.echo(f"Warning: {one_line(msg)}", err=True)


def _os_error(exc: OSError) -> str:
    """An operating-system error on one line, naming the file when it has one."""
    from ..io import display_path

    where = exc.filename if exc.filename is not None else None
    if where is not None and exc.strerror:
        return f"{display_path(where)}: {exc.strerror}"
    return one_line(exc)


def emit_json(obj) -> None:
    """Print exactly one JSON document on stdout."""
    click.echo(json.dumps(to_jsonable(obj), indent=2))


def path_text(path) -> str | None:
    """A path as JSON documents name inputs: absolute, ``None`` stays ``None``."""
    import os

    return None if path is None else os.path.abspath(os.fspath(path))


def document(kind: str, body: dict, *, version: int = 1, **inputs) -> dict:
    """A JSON document of ``acoustic.<kind>/<version>`` (docs/cli.md): ``schema`` first, then the
    inputs given as keywords (paths made absolute where they are :class:`os.PathLike`), then ``body``
    (whose keys win over the inputs'; ``None`` inputs are left to the body).

    Examples
    --------
    >>> document("ledger.stats", {"dug": 3}, ledger="/tmp/l.db")
    {'schema': 'acoustic.ledger.stats/1', 'ledger': '/tmp/l.db', 'dug': 3}
    """
    import os

    head = {"schema": f"acoustic.{kind}/{version}"}
    for key, value in inputs.items():
        head[key] = path_text(value) if isinstance(value, os.PathLike) else value
    return {**head, **{k: v for k, v in body.items() if k != "schema"}}


def records(kind: str, items, *, version: int = 1, **inputs) -> list[dict]:
    """Per-item documents (``ledger list``, ``library match``): each record carries ``schema`` and
    the inputs, as :func:`document`."""
    return [document(kind, dict(item), version=version, **inputs) for item in items]
