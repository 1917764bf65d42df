"""One CSV reader and one CSV writer for every table the package reads or writes.

Reading (:func:`read_csv_table`) follows one set of rules, whatever the table:

- only a regular file is read (:mod:`._files`), as UTF-8; a byte-order mark is skipped; bytes
  that are not UTF-8 are an error naming the line;
- the first non-blank line is the header; names are stripped of surrounding whitespace; empty
  names at the end of the header (a trailing separator) are dropped; a name given twice is an
  error;
- blank lines (or lines of empty fields only) are skipped;
- a row shorter than the header has empty cells for the missing fields; empty fields beyond the
  header (a trailing separator) are ignored; non-empty fields beyond the header are warned about
  once per file (or refused, or ignored, as the caller asks) and never reach the caller;
- cells are stripped of surrounding whitespace; every row keeps the line it started on, so each
  cell's error names the file, line and column (:class:`CsvRow`);
- a cell the writer protected from spreadsheets (``'=x``, see below) reads back as it was before
  (``=x``), so what the package writes it reads back unchanged (a spreadsheet that saves such a
  cell drops the ``'`` too).

Writing (:func:`write_csv_rows`, :func:`csv_safe_cell`) neutralises spreadsheet formula
injection the way OWASP advises: a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab, a
carriage return or a NUL gets a leading ``'`` (and one starting with ``'`` followed by one of
these gets one more, so that reading undoes exactly what writing did); numbers, including
negative ones, stay numbers.  Cells holding a line break of any kind (``\r`` included) are
quoted, so no cell can start a row of its own.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
import re
from datetime import date
from pathlib import Path

from .._errors import AcousticError, DataError
from ._files import display_path, read_file_bytes

__all__ = ["CsvRow", "CsvTable", "DEFAULT_CSV_MAX_BYTES", "MISSING_MARKERS", "csv_safe_cell", "format_csv_rows", "parse_date_cell",
           "parse_float_cell", "parse_int_cell", "read_csv_table", "write_csv_rows"]

#: Largest CSV input read by default, bytes (a year of nightly rows for 5,000 loggers is ~70 MB).
DEFAULT_CSV_MAX_BYTES = 512 * 1024 * 1024

#: Texts a cell may hold to mean "no value" (``missing=`` of the parsers).
MISSING_MARKERS = frozenset({"", "na", "n/a", "nan", "null", "none", "-"})


def _fail(error, where: str, problem: str):
    raise error(f"{where}: {problem}")


def _shown(n) -> str:
    return f"{n:g}" if isinstance(n, float) else str(n)


def _check_range(v, *, where: str, error, unit: str = "", min_value=None, max_value=None,
                 min_inclusive: bool = True) -> None:
    """Refuse ``v`` outside ``[min_value, max_value]`` (``min_inclusive=False``: strictly above the minimum)."""
    u = f" {unit}" if unit else ""
    if min_value is not None and (v < min_value or (not min_inclusive and v == min_value)):
        bound = f"at least {_shown(min_value)}" if min_inclusive else f"more than {_shown(min_value)}"
        _fail(error, where, f"{_shown(v)}{u} is out of range (must be {bound}{u})")
    if max_value is not None and v > max_value:
        _fail(error, where, f"{_shown(v)}{u} is out of range (must be at most {_shown(max_value)}{u})")


def parse_float_cell(text: str, *, where: str, error: type[AcousticError] = DataError, unit: str = "",
                     min_value: float | None = None, max_value: float | None = None,
                     min_inclusive: bool = True) -> float:
    """A finite number from a cell; errors name ``where`` (file, line, column).

    Parameters
    ----------
    text : str
        The cell.
    where : str
        ``"stats.csv, line 4, column level"``: said in every error.
    unit : str, optional
        Unit for the messages (``"dB"``, ``"m"``).
    min_value, max_value : float, optional
        Range allowed (``min_inclusive=False``: strictly above ``min_value``).

    Raises
    ------
    AcousticError
        Of class ``error``: empty, not a number, NaN or infinite, or out of range.

    Examples
    --------
    >>> parse_float_cell(" 42.5 ", where="pipes.csv, line 2, column diameter_mm", unit="mm")
    42.5
    """
    s = str(text).strip()
    if not s:
        _fail(error, where, "empty cell, a number expected")
    try:
        v = float(s)
    except ValueError:
        _fail(error, where, f"{s[:40]!r} is not a number{(' (' + unit + ')') if unit else ''}")
    if not math.isfinite(v):
        _fail(error, where, f"{s[:40]!r} is not a finite number")
    _check_range(v, where=where, error=error, unit=unit, min_value=min_value, max_value=max_value,
                 min_inclusive=min_inclusive)
    return v


def parse_int_cell(text: str, *, where: str, error: type[AcousticError] = DataError,
                   min_value: int | None = None, max_value: int | None = None) -> int:
    """An integer from a cell (``"12"``; ``"12.0"`` is refused); errors name ``where``.

    Examples
    --------
    >>> parse_int_cell("7", where="labels.csv, line 3, column site", min_value=0)
    7
    """
    s = str(text).strip()
    if not s:
        _fail(error, where, "empty cell, an integer expected")
    if not re.fullmatch(r"[+-]?\d{1,30}", s):
        _fail(error, where, f"{s[:40]!r} is not an integer")
    v = int(s)
    _check_range(v, where=where, error=error, min_value=min_value, max_value=max_value)
    return v


def parse_date_cell(text: str, *, where: str, error: type[AcousticError] = DataError,
                    not_after: date | None = None) -> date:
    """A ``YYYY-MM-DD`` date from a cell; errors name ``where``.

    Parameters
    ----------
    not_after : datetime.date, optional
        Latest date allowed (e.g. today): later dates are an error.  Callers that only warn about
        future dates compare themselves.

    Examples
    --------
    >>> parse_date_cell("2026-11-03", where="stats.csv, line 2, column date")
    datetime.date(2026, 11, 3)
    """
    s = str(text).strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
        _fail(error, where, f"{s[:40]!r} is not a YYYY-MM-DD date")
    try:
        d = date.fromisoformat(s)
    except ValueError:
        _fail(error, where, f"{s!r} is not a calendar date")
    if not_after is not None and d > not_after:
        _fail(error, where, f"{s} is in the future (after {not_after.isoformat()})")
    return d


@dataclasses.dataclass(frozen=True)
class CsvRow:
    """One data row of a CSV table.

    Attributes
    ----------
    line : int
        Line of the file the row starts on (1 = first line).
    cells : dict
        Column name -> stripped text (``""`` for an empty or absent cell), for every header column.
    source : str
        The file, for messages.
    extra : tuple of str
        Non-empty fields beyond the header (already reported by the reader as it was told).
    """

    line: int
    cells: dict
    source: str
    extra: tuple = ()
    error: type = DataError

    def __getitem__(self, column: str) -> str:
        return self.cells[column]

    def get(self, column: str, default=None):
        """The cell of ``column``, or ``default`` when the table has no such column or the cell is empty."""
        v = self.cells.get(column)
        return default if v is None or v == "" else v

    def where(self, column: str | None = None) -> str:
        """``"<file>, line N, column C"`` for messages."""
        return f"{self.source}, line {self.line}" + (f", column {column}" if column else "")

    def text(self, column: str) -> str:
        """The non-empty text of ``column`` (an empty cell is an error naming file, line and column)."""
        v = self.cells.get(column, "")
        if not v:
            _fail(self.error, self.where(column), "empty cell")
        return v

    def number(self, column: str, *, missing=None, optional: bool = False, **limits) -> float | None:
        """A finite number from ``column`` (see :func:`parse_float_cell` for ``unit``, ``min_value`` ...).

        ``optional=True``: an empty cell, or one of ``missing`` (e.g. :data:`MISSING_MARKERS`), gives None.
        """
        v = self.cells.get(column, "")
        if optional and (v == "" or (missing is not None and v.lower() in missing)):
            return None
        return parse_float_cell(v, where=self.where(column), error=self.error, **limits)

    def integer(self, column: str, *, optional: bool = False, **limits) -> int | None:
        """An integer from ``column`` (see :func:`parse_int_cell`); ``optional``: empty gives None."""
        v = self.cells.get(column, "")
        if optional and v == "":
            return None
        return parse_int_cell(v, where=self.where(column), error=self.error, **limits)

    def date(self, column: str, **kw) -> date:
        """A ``YYYY-MM-DD`` date from ``column`` (see :func:`parse_date_cell`)."""
        return parse_date_cell(self.cells.get(column, ""), where=self.where(column), error=self.error, **kw)


@dataclasses.dataclass
class CsvTable:
    """A CSV file read by :func:`read_csv_table`.

    Attributes
    ----------
    path : Path
        The file.
    columns : list of str
        Header names (stripped, trailing empty names dropped), in file order.
    rows : list of CsvRow
        Data rows in file order (blank lines left out).
    n_extra_rows : int
        Rows that had non-empty fields beyond the header.
    """

    path: Path
    columns: list
    rows: list
    n_extra_rows: int = 0

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_LINE_BREAK_BYTES = re.compile(rb"\r\n|\r|\n")


def _line_at(text, pos: int) -> int:
    """Line of position ``pos`` of ``text`` (str or bytes), counting ``\r\n``, ``\r`` and ``\n``
    line ends as the CSV reader does (files saved by old Mac software end lines with ``\r``)."""
    pattern = _LINE_BREAK_BYTES if isinstance(text, bytes) else _LINE_BREAK
    return sum(1 for _ in pattern.finditer(text, 0, pos)) + 1


def _decode(data: bytes, name: str, what: str, error) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = _line_at(data, exc.start)
        raise error(f"{name}, line {line}: {what} is not UTF-8 text (byte 0x{data[exc.start]:02x}); "
                    "save it as UTF-8") from None
    return text.lstrip("\ufeff")  # (a file saved twice by a tool that adds a byte-order mark has two)


def read_csv_table(path, *, required=(), optional=(), what: str = "CSV file", error: type[AcousticError] = DataError,
                   extra_fields: str = "warn", allow_no_rows: bool = False,
                   max_bytes: int = DEFAULT_CSV_MAX_BYTES) -> CsvTable:
    """Read a CSV file with a header into typed rows that know their line numbers.

    Parameters
    ----------
    path : str or Path
        The file.
    required : sequence of str
        Columns that must be in the header (a missing one is an error listing what was found).
    optional : sequence of str
        Columns that may be absent: each row then has ``""`` for them.
    what : str, default "CSV file"
        What the table is, for messages (``"stats file"``, ``"labels.csv"``).
    error : type, default DataError
        The :class:`~acoustic._errors.AcousticError` subclass raised.
    extra_fields : {"warn", "error", "ignore"}, default "warn"
        Non-empty fields beyond the header: one warning per file naming the first line, an error
        naming the line, or nothing.  Empty ones (a trailing separator) are always ignored.
    allow_no_rows : bool, default False
        Accept a header without data rows (else an error).
    max_bytes : int, default 512 MiB
        Largest file accepted.

    Returns
    -------
    CsvTable

    Raises
    ------
    AcousticError
        Of class ``error``, one line naming the file (and the line where there is one): not a
        regular file, not UTF-8, empty, malformed (a quote never closed or followed by text, a NUL byte), a column
        named twice, missing columns, no data rows, extra fields (``extra_fields="error"``).

    Warns
    -----
    AcousticWarning
        Rows with non-empty fields beyond the header (``extra_fields="warn"``).

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "loggers.csv")
    >>> with open(p, "w", encoding="utf-8-sig") as fh:  # a byte-order mark, as Excel writes
    ...     _ = fh.write("logger_id , node_id,\\nL01, N1,\\n")
    >>> t = read_csv_table(p, required=("logger_id", "node_id"), optional=("area",))
    >>> [(r.line, r["logger_id"], r["node_id"], r["area"]) for r in t]
    [(2, 'L01', 'N1', '')]
    """
    if extra_fields not in ("warn", "error", "ignore"):
        raise ValueError(f"extra_fields must be 'warn', 'error' or 'ignore', got {extra_fields!r}")
    name = display_path(path)
    text = _decode(read_file_bytes(path, what=what, error=error, max_bytes=max_bytes), name, what, error)
    nul = text.find("\x00")
    if nul >= 0:
        raise error(f"{name}, line {_line_at(text, nul)}: {what} holds a NUL byte (binary data, not CSV text)")
    # strict: a quote never closed is an error, not the rest of the file swallowed into one cell
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    rows: list[CsvRow] = []
    first_extra = None
    n_extra = 0
    last_line = 0
    try:
        for fields in reader:
            start, last_line = last_line + 1, reader.line_num
            if not fields or all(not f.strip() for f in fields):
                continue
            if header is None:
                header = _header(fields, name, start, what, error)
                missing = [c for c in required if c not in header]
                if missing:
                    raise error(f"{name}: missing column(s) {', '.join(missing)}; found "
                                f"{', '.join(header) or 'no column names'}")
                columns = list(header) + [c for c in optional if c not in header]
                width = len(header)
                continue
            extras = tuple(f.strip() for f in fields[width:] if f.strip())
            if extras:
                n_extra += 1
                if extra_fields == "error":
                    raise error(f"{name}, line {start}: {len(fields)} fields, the header has {width} "
                                f"(extra: {', '.join(repr(e[:20]) for e in extras[:3])})")
                first_extra = first_extra or start
            cells = {c: "" for c in columns}
            for c, f in zip(header, fields):
                if c:
                    cells[c] = _unprotect(f.strip())
            rows.append(CsvRow(start, cells, name, extras if extra_fields != "ignore" else (), error))
    except csv.Error as exc:
        raise error(f"{name}, line {last_line + 1}: {what} is not readable CSV ({exc})") from None
    if header is None:
        raise error(f"{name}: {what} is empty (no header line)")
    if not rows and not allow_no_rows:
        raise error(f"{name}: {what} has a header but no data rows")
    if n_extra and extra_fields == "warn":
        from .._warnings import warn

        warn(f"{name}: {n_extra} row(s) have more fields than the header's {width} (first on line {first_extra}); "
             "the extra fields are ignored", stacklevel=2)
    return CsvTable(Path(path), [c for c in columns if c], rows, n_extra)


def _header(fields: list[str], name: str, line: int, what: str, error) -> list[str]:
    names = [_unprotect(f.strip()) for f in fields]
    while names and not names[-1]:  # a trailing separator
        names.pop()
    seen = set()
    for i, n in enumerate(names, start=1):
        if n and n in seen:
            raise error(f"{name}, line {line}: column {n} appears twice in the header")
        seen.add(n)
    return names


# -- writing ----------------------------------------------------------------------------------

#: A text cell starting with one of these is read by spreadsheets as a formula (OWASP, "CSV Injection";
#: OWASP ASVS 5.0 requirement 1.2.10 adds the NUL character to the four signs, tab and carriage return).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\0")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:inf|nan)", re.IGNORECASE)


def csv_safe_cell(value) -> str:
    """The text to write for one CSV cell, safe to open in a spreadsheet.

    Numbers (int, float, numpy numbers, and text that is exactly a number such as ``"-3.5"``) are
    written as numbers; ``None`` as an empty cell; any other text starting with ``=``, ``+``,
    ``-``, ``@``, tab or carriage return gets a leading ``'`` so that spreadsheets show it as text
    instead of evaluating it.

    Examples
    --------
    >>> csv_safe_cell("=HYPERLINK(\\"http://x\\")")
    '\\'=HYPERLINK("http://x")'
    >>> csv_safe_cell(-3.5), csv_safe_cell("-3.5"), csv_safe_cell("L-01"), csv_safe_cell(None)
    ('-3.5', '-3.5', 'L-01', '')
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    if hasattr(value, "dtype") and hasattr(value, "item"):  # numpy scalar
        return csv_safe_cell(value.item())
    text = value if isinstance(value, str) else str(value)
    if text.lstrip("'").startswith(FORMULA_PREFIXES) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def _unprotect(cell: str) -> str:
    """A cell as it was before :func:`csv_safe_cell` protected it (``'=x`` -> ``=x``, ``''=x`` -> ``'=x``)."""
    if cell.startswith("'") and cell.lstrip("'").startswith(FORMULA_PREFIXES):
        return cell[1:]
    return cell


class _LineFeedRows:
    """Target of a ``csv.writer`` that ends rows with ``\n`` yet quotes every cell holding ``\r``.

    ``csv.writer`` quotes a cell only for the characters of its line terminator: with ``"\n"``
    a bare ``\r`` went out unquoted, and spreadsheets and CSV readers start a new row there (a
    row, and a formula at its start, of the writer's choosing).  Rows are written with
    ``"\r\n"`` (cells holding either character quoted) and their terminator made ``"\n"``.
    """

    def __init__(self, out):
        self.out = out

    def write(self, text: str):
        return self.out.write(text[:-2] + "\n" if text.endswith("\r\n") else text)


def format_csv_rows(header, rows) -> str:
    """CSV text (``\\n`` line ends) of a header and rows, every cell through :func:`csv_safe_cell`.

    Parameters
    ----------
    header : sequence of str
        Column names.
    rows : iterable
        Sequences of cells in header order, or dicts keyed by column name (absent keys: empty).
    """
    buf = io.StringIO()
    write_csv_rows(buf, header, rows)
    return buf.getvalue()


def write_csv_rows(out, header, rows) -> int:
    """Write a header and rows as CSV, every cell through :func:`csv_safe_cell`.

    Parameters
    ----------
    out : str, Path or text file
        A path (written to a temporary file beside it, then renamed: a reader never sees half a
        file) or an open text stream (``sys.stdout``, ``io.StringIO``).
    header : sequence of str
        Column names.
    rows : iterable
        Sequences of cells in header order, or dicts keyed by column name (absent keys: empty).

    Returns
    -------
    int
        Number of data rows written.

    Examples
    --------
    >>> import io
    >>> buf = io.StringIO()
    >>> write_csv_rows(buf, ["logger_id", "level"], [["=cmd|' /C calc'!A0", -12.5]])
    1
    >>> print(buf.getvalue(), end="")
    logger_id,level
    '=cmd|' /C calc'!A0,-12.5
    """
    header = list(header)
    if isinstance(out, (str, os.PathLike)):
        target = Path(out)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "w", newline="", encoding="utf-8") as fh:
                n = write_csv_rows(fh, header, rows)
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                tmp.unlink()
        return n
    w = csv.writer(_LineFeedRows(out), lineterminator="\r\n")
    w.writerow([csv_safe_cell(h) for h in header])
    n = 0
    for row in rows:
        cells = [row.get(h) for h in header] if isinstance(row, dict) else row
        w.writerow([csv_safe_cell(c) for c in cells])
        n += 1
    return n
