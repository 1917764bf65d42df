"""Reading and writing ``stats.csv`` (interfaces.md: ``logger_id,date,level,spread`` + extra columns).

Reading rules:

- the header must hold ``logger_id``, ``date``, ``level`` and ``spread`` (any order, extra
  columns kept as strings); a file without them is refused, naming the missing columns;
- ``date`` is ``YYYY-MM-DD``; anything else is an error naming the line and column;
- ``level`` and ``spread`` are numbers in dB; text is an error naming line and column; an
  empty cell or a missing-value marker (``NA``, ``NaN``, ``null``, ``-``) means the logger
  reported nothing that night: the row is skipped with a warning; ``spread`` < 0 is an error;
- two rows for the same logger and night are an error naming both lines;
- rows out of date order are accepted: they are sorted, with one warning per file (file
  order carries no meaning; the scorer works on dates).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import warnings
from datetime import date
from pathlib import Path

from .._errors import AcousticWarning, DataError

__all__ = ["StatsRow", "read_stats", "write_stats", "REQUIRED_COLUMNS"]

REQUIRED_COLUMNS = ("logger_id", "date", "level", "spread")
_MISSING = {"", "na", "n/a", "nan", "null", "none", "-"}


@dataclasses.dataclass(frozen=True)
class StatsRow:
    """One logger-night of stats.csv."""

    logger_id: str
    date: date
    level: float
    spread: float
    line: int = 0
    extra: dict = dataclasses.field(default_factory=dict, compare=False)


def _warn(msg: str) -> None:
    warnings.warn(msg, AcousticWarning, stacklevel=3)


def read_stats(path) -> list[StatsRow]:
    """Read and validate a stats.csv file.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    list of StatsRow
        Sorted by logger id, then date.

    Raises
    ------
    DataError
        Missing file or columns, unparseable dates, non-numeric levels, negative spread,
        duplicate logger-night rows, ragged lines, no rows.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a stats CSV file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a UTF-8 text file ({exc.reason})") from None
    if not text.strip():
        raise DataError(f"{path}: file is empty (expected a header logger_id,date,level,spread)")
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except csv.Error as exc:
        raise DataError(f"{path}: line 1: {exc}") from None
    cols = [c.strip() for c in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in cols]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)} "
                        f"(a stats file needs {','.join(REQUIRED_COLUMNS)}; found {','.join(cols) or 'nothing'})")
    dup_cols = sorted({c for c in cols if cols.count(c) > 1})
    if dup_cols:
        raise DataError(f"{path}: column(s) {', '.join(dup_cols)} appear more than once in the header")
    pos = {c: i for i, c in enumerate(cols)}
    rows: list[StatsRow] = []
    seen: dict[tuple[str, date], int] = {}
    out_of_order = False
    last_date: dict[str, date] = {}
    skipped = []
    try:
        for cells in reader:
            line = reader.line_num
            if not cells or all(not c.strip() for c in cells):
                continue
            if len(cells) != len(cols):
                raise DataError(f"{path}: line {line} has {len(cells)} fields, the header has {len(cols)}")
            get = {c: cells[i].strip() for c, i in pos.items()}
            lid = get["logger_id"]
            if not lid:
                raise DataError(f"{path}: line {line}, column logger_id: empty logger id")
            try:
                d = date.fromisoformat(get["date"])
                if len(get["date"]) != 10:
                    raise ValueError
            except ValueError:
                raise DataError(f"{path}: line {line}, column date: {get['date']!r} is not a YYYY-MM-DD date") from None
            vals = {}
            for col in ("level", "spread"):
                s = get[col]
                if s.lower() in _MISSING:
                    vals = None
                    skipped.append(f"line {line} ({lid} {d}: no {col})")
                    break
                try:
                    v = float(s)
                except ValueError:
                    raise DataError(f"{path}: line {line}, column {col}: {s!r} is not a number (dB)") from None
                if not math.isfinite(v):
                    raise DataError(f"{path}: line {line}, column {col}: {s!r} is not a finite number (dB)")
                vals[col] = v
            key = (lid, d)
            if key in seen:
                raise DataError(f"{path}: line {line} repeats logger {lid} night {d} (first on line {seen[key]})")
            seen[key] = line
            if vals is None:
                continue
            if vals["spread"] < 0:
                raise DataError(f"{path}: line {line}, column spread: {vals['spread']:g} dB is negative "
                                "(spread = L10 - L90 >= 0)")
            if lid in last_date and d < last_date[lid]:
                out_of_order = True
            last_date[lid] = d
            extra = {c: get[c] for c in cols if c not in REQUIRED_COLUMNS}
            rows.append(StatsRow(lid, d, vals["level"], vals["spread"], line, extra))
    except csv.Error as exc:
        raise DataError(f"{path}: line {reader.line_num}: {exc}") from None
    if skipped:
        more = f" and {len(skipped) - 3} more" if len(skipped) > 3 else ""
        _warn(f"{path.name}: {len(skipped)} row(s) without level/spread skipped as missing nights: "
              f"{'; '.join(skipped[:3])}{more}")
    if not rows:
        raise DataError(f"{path}: no usable rows (only a header, or every row lacks level/spread)")
    if out_of_order:
        _warn(f"{path.name}: rows are not in date order within each logger; sorted by date")
    rows.sort(key=lambda r: (r.logger_id, r.date))
    return rows


def _fmt(v) -> str:
    if isinstance(v, float):
        return "" if not math.isfinite(v) else f"{v:.2f}"
    return str(v)


def write_stats(rows, path=None) -> str:
    """Write stats rows (NightStats, StatsRow or dicts) as CSV; return the text.

    Columns: ``logger_id,date,level,spread`` then any extra columns in first-seen order.
    Levels are written with 0.01 dB resolution.  With ``path`` the file is written too.
    """
    dicts = []
    for r in rows:
        if dataclasses.is_dataclass(r):
            d = r.as_row() if hasattr(r, "as_row") else {k: getattr(r, k) for k in REQUIRED_COLUMNS} | dict(r.extra)
        else:
            d = dict(r)
        if isinstance(d.get("date"), date):
            d["date"] = d["date"].isoformat()
        dicts.append(d)
    cols = list(REQUIRED_COLUMNS)
    for d in dicts:
        for k in d:
            if k not in cols:
                cols.append(k)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for d in dicts:
        w.writerow([_fmt(d.get(c, "")) for c in cols])
    text = buf.getvalue()
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text
