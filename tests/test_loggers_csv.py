"""stats.csv reading and writing: the interfaces.md format and every bad input."""

from __future__ import annotations

from datetime import date

import pytest

from acoustic import AcousticWarning, DataError
from acoustic.loggers import NightStats, read_stats, write_stats


def _write(tmp_path, text, name="stats.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_round_trip_with_extra_columns(tmp_path):
    rows = [NightStats("L2", date(2026, 11, 4), 31.234, 2.5, l90=30.0, n_blocks=100),
            NightStats("L1", date(2026, 11, 3), 40.0, 6.0)]
    p = tmp_path / "s.csv"
    text = write_stats(rows, p)
    assert text.splitlines()[0].startswith("logger_id,date,level,spread,")
    got = read_stats(p)
    assert [(r.logger_id, r.date, r.level, r.spread) for r in got] == [
        ("L1", date(2026, 11, 3), 40.0, 6.0), ("L2", date(2026, 11, 4), 31.23, 2.5)]
    assert got[1].extra["l90"] == "30.00" and got[1].extra["n_blocks"] == "100"


def test_minimal_contract_columns_any_order(tmp_path):
    p = _write(tmp_path, "spread,level,date,logger_id,note\n3.0,41.5,2026-11-03,L017,ok\n")
    (r,) = read_stats(p)
    assert (r.logger_id, r.date, r.level, r.spread, r.extra) == ("L017", date(2026, 11, 3), 41.5, 3.0, {"note": "ok"})


@pytest.mark.parametrize("text,match", [
    ("logger_id,date,level\nL1,2026-11-03,40\n", r"missing column\(s\) spread"),
    ("id,day,lvl,spr\nL1,2026-11-03,40,3\n", r"missing column\(s\) logger_id, date, level, spread"),
    ("logger_id,date,level,spread\nL1,2026-11-03,loud,3\n", r"line 2, column level: 'loud' is not a number"),
    ("logger_id,date,level,spread\nL1,2026-11-03,40,3\nL1,2026-11-04,40,3dB\n",
     r"line 3, column spread: '3dB' is not a number"),
    ("logger_id,date,level,spread\nL1,2026-11-03,inf,3\n", r"line 2, column level: 'inf' is not a finite"),
    ("logger_id,date,level,spread\nL1,03/11/2026,40,3\n", r"line 2, column date: '03/11/2026' is not a YYYY-MM-DD"),
    ("logger_id,date,level,spread\nL1,2026-02-30,40,3\n", r"line 2, column date: '2026-02-30'"),
    ("logger_id,date,level,spread\nL1,20261103,40,3\n", r"line 2, column date: '20261103'"),
    ("logger_id,date,level,spread\nL1,2026-11-03,40,3\nL2,2026-11-03,41,3\nL1,2026-11-03,42,3\n",
     r"line 4 repeats logger L1 night 2026-11-03 \(first on line 2\)"),
    ("logger_id,date,level,spread\nL1,2026-11-03,40,-1\n", r"line 2, column spread: -1 dB is negative"),
    ("logger_id,date,level,spread\nL1,2026-11-03,40\n", r"line 2 has 3 fields, the header has 4"),
    ("logger_id,date,level,spread\n,2026-11-03,40,3\n", r"line 2, column logger_id: empty"),
    ("logger_id,date,level,spread\n", r"no usable rows"),
    ("", r"file is empty"),
    ("logger_id,date,level,spread,level\nL1,2026-11-03,40,3,4\n", r"column\(s\) level appear more than once"),
])
def test_bad_stats_files(tmp_path, text, match):
    p = _write(tmp_path, text)
    with pytest.raises(DataError, match=match):
        read_stats(p)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(DataError, match="nope.csv: file not found"):
        read_stats(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="is a directory"):
        read_stats(tmp_path)


def test_out_of_order_dates_warn_and_sort(tmp_path):
    p = _write(tmp_path, "logger_id,date,level,spread\nL1,2026-11-05,40,3\nL1,2026-11-03,41,3\nL1,2026-11-04,42,3\n")
    with pytest.warns(AcousticWarning, match="not in date order .* sorted"):
        rows = read_stats(p)
    assert [r.date.day for r in rows] == [3, 4, 5]


def test_empty_cells_are_missing_nights(tmp_path):
    p = _write(tmp_path, "logger_id,date,level,spread\nL1,2026-11-03,40,3\nL1,2026-11-04,,3\nL1,2026-11-05,NA,NA\n"
                         "L1,2026-11-06,41,2\n")
    with pytest.warns(AcousticWarning, match=r"2 row\(s\) without level/spread skipped as missing nights: line 3"):
        rows = read_stats(p)
    assert [r.date.day for r in rows] == [3, 6]
