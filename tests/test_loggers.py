"""Noise-logger statistics: nightly definitions, scoring on simulated histories, detection rates."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pytest

from acoustic import RecordingError
from acoustic.loggers import (
    StatsRow,
    evaluate_scoring,
    night_date,
    night_statistics,
    nightly_stats,
    score_history,
    score_steps,
    simulate_logger,
)
from acoustic.recording import Recording

START = date(2026, 9, 1)


def _history(levels, spreads=None, start=START, lid="L1", skip=()):
    spreads = spreads if spreads is not None else [6.0] * len(levels)
    return [StatsRow(lid, start + timedelta(days=i), float(lv), float(sp))
            for i, (lv, sp) in enumerate(zip(levels, spreads)) if i not in skip]


def _score(rows, as_of=None):
    (s,) = score_steps(rows, as_of=as_of)  # the within-logger step test alone
    return s


# ------------------------------------------------------------------ nightly statistics
def test_night_date_convention():
    utc = timezone.utc
    assert night_date(datetime(2026, 11, 3, 2, 0, tzinfo=utc)) == date(2026, 11, 3)
    assert night_date(datetime(2026, 11, 2, 23, 30, tzinfo=utc)) == date(2026, 11, 3)
    assert night_date(datetime(2026, 11, 3, 11, 59, tzinfo=utc)) == date(2026, 11, 3)
    assert night_date(datetime(2026, 11, 3, 12, 0, tzinfo=utc)) == date(2026, 11, 4)


def test_night_statistics_definitions(rng):
    v = rng.normal(40.0, 2.0, 5000)
    st = night_statistics(v)
    assert st["level"] == pytest.approx(np.median(v))
    assert st["spread"] == pytest.approx(np.percentile(v, 90) - np.percentile(v, 10))
    assert st["spread"] == pytest.approx(2 * 1.2816 * 2.0, rel=0.05)  # Gaussian L10 - L90
    assert st["l95"] < st["l90"] < st["level"] < st["l10"]
    assert abs(st["mode"] - 40.0) < 0.75 and st["n_blocks"] == 5000


def test_nightly_stats_groups_logger_nights(rng):
    utc = timezone.utc
    fs = 4000.0

    def rec(lid, t, amp, gain=0.0):
        return Recording(amp * rng.standard_normal(int(4 * fs)), fs, sensor_id=lid, start_time=t, gain_db=gain)

    recs = [
        rec("A", datetime(2026, 11, 3, 2, 0, tzinfo=utc), 0.01),
        rec("A", datetime(2026, 11, 3, 3, 0, tzinfo=utc), 0.01),
        rec("A", datetime(2026, 11, 4, 2, 0, tzinfo=utc), 0.1),
        # logger B records 20 dB hotter with 20 dB gain: the same calibrated level as A's first night
        rec("B", datetime(2026, 11, 2, 23, 0, tzinfo=utc), 0.1, gain=20.0),
    ]
    rows = nightly_stats(recs)
    assert [(r.logger_id, r.date.isoformat(), r.n_recordings) for r in rows] == [
        ("A", "2026-11-03", 2), ("A", "2026-11-04", 1), ("B", "2026-11-03", 1)]
    assert rows[1].level - rows[0].level == pytest.approx(20.0, abs=0.3)
    assert rows[2].level == pytest.approx(rows[0].level, abs=0.3)
    assert rows[0].spread < 1.5 and rows[0].duration_s == pytest.approx(8.0)
    assert rows[0].n_blocks == 2 * (1 + (int(4 * fs) - 1024) // 512)


def test_nightly_stats_needs_start_time(rng):
    r = Recording(rng.standard_normal(8000), 4000.0, sensor_id="C")
    with pytest.raises(RecordingError, match="C: sidecar has no start_time"):
        nightly_stats([r])
    seen = []
    assert nightly_stats([r], on_error=lambda item, exc: seen.append(str(exc))) == []
    assert seen and "start_time" in seen[0]


# ------------------------------------------------------------------ scoring on constructed histories
@pytest.fixture
def leak_history(rng):
    levels = 30 + rng.normal(0, 0.8, 40)
    spreads = 6 + rng.normal(0, 0.5, 40)
    levels[28:] += 7.0      # leak from night 28 (2026-09-29): +7 dB, steadier noise
    spreads[28:] = 2.0 + rng.normal(0, 0.3, 12)
    return levels, spreads


def test_leak_mid_history_alarms_with_checkable_reasons(leak_history):
    levels, spreads = leak_history
    s = _score(_history(levels, spreads))
    assert s.alarm and s.score > 0.8 and s.nights_used == 40
    assert s.change_date == "2026-09-29"
    assert s.step_db == pytest.approx(7.0, abs=1.0)
    assert "level rose +" in s.reasons[0] and "dB" in s.reasons[0] and "2026-09-29" in s.reasons[0]
    assert any("3 of the last 3" in r for r in s.reasons)
    assert any("steady noise" in r for r in s.reasons)
    d = s.as_dict()
    assert set(d) >= {"logger_id", "score", "alarm", "nights_used", "reasons"} and 0 <= d["score"] <= 1


def test_as_of_never_uses_later_rows(leak_history):
    levels, spreads = leak_history
    rows = _history(levels, spreads)
    before = _score(rows, as_of=START + timedelta(days=27))   # the night before the leak
    assert not before.alarm and before.score < 0.1 and before.nights_used == 28
    # rewriting every row after as_of cannot change the result
    tampered = rows[:28] + [dataclasses.replace(r, level=r.level + 40, spread=0.0) for r in rows[28:]]
    again = _score(tampered, as_of=START + timedelta(days=27))
    assert again.as_dict() == before.as_dict()
    # one leak night is a warning sign, two of three make an alarm
    assert not _score(rows, as_of=START + timedelta(days=28)).alarm
    assert _score(rows, as_of=START + timedelta(days=30)).alarm


def test_uncalibrated_offsets_do_not_matter(leak_history):
    levels, spreads = leak_history
    a = _score(_history(levels, spreads))
    b = _score(_history(levels - 23.5, spreads))
    assert a.score == pytest.approx(b.score) and a.alarm == b.alarm


def test_prv_from_start_is_not_a_step(rng):
    levels = 45 + rng.normal(0, 0.4, 40)      # loud, constant, narrow spread since night 0
    spreads = 1.5 + rng.normal(0, 0.2, 40)
    s = _score(_history(levels, spreads))
    assert not s.alarm and s.score < 0.1
    assert "no lasting step" in s.reasons[0]
    assert any("steady noise throughout" in r and "PRV" in r for r in s.reasons)


def test_traffic_nights_and_wide_spread_do_not_alarm(rng):
    levels = 30 + rng.normal(0, 0.8, 40)
    spreads = 6 + rng.normal(0, 0.5, 40)
    for i in (12, 25, 37, 39):                 # isolated loud traffic nights, wide spread
        levels[i] += 8
        spreads[i] += 10
    assert not _score(_history(levels, spreads)).alarm
    # a week of night irrigation at the end: level up 5 dB with the spread widening 9 dB
    levels2 = 30 + rng.normal(0, 0.8, 40)
    spreads2 = 6 + rng.normal(0, 0.5, 40)
    levels2[33:] += 5
    spreads2[33:] += 9
    s = _score(_history(levels2, spreads2))
    assert not s.alarm and any("transient noise" in r for r in s.reasons)
    # the same step with a steady spread is an alarm
    spreads2[33:] -= 9
    assert _score(_history(levels2, spreads2)).alarm


def test_missing_nights_stale_and_short_histories(leak_history):
    levels, spreads = leak_history
    gappy = _history(levels, spreads, skip={3, 4, 5, 6, 17, 30, 31})
    s = _score(gappy)
    assert s.alarm and s.nights_used == 33
    assert any("33 of 40 nights present" in r and "7 missing" in r for r in s.reasons)
    stale = _score(_history(levels, spreads), as_of=START + timedelta(days=60))
    assert not stale.alarm and stale.score == 0 and "not scored" in stale.reasons[-1]
    short = _score(_history(levels[:5], spreads[:5]))
    assert short.score == 0 and "only 5 night(s)" in short.reasons[-1]
    none = _score(_history(levels, spreads, start=date(2027, 1, 1)), as_of=date(2026, 12, 1))
    assert none.nights_used == 0 and not none.alarm


def test_ranking_highest_first(leak_history, rng):
    levels, spreads = leak_history
    rows = _history(levels, spreads, lid="LEAK") + _history(20 + rng.normal(0, 1, 40), lid="QUIET")
    out = score_steps(rows)
    assert [s.logger_id for s in out] == ["LEAK", "QUIET"]


# ------------------------------------------------------------------ simulator and measured rates
def test_simulated_logger_kinds(rng):
    rows, truth = simulate_logger("leak", rng, n_nights=40, n_blocks=240, leak_db=10.0, onset=25)
    assert truth["leak"] and truth["onset_date"] == START + timedelta(days=25) and len(rows) == 40
    lv = np.array([r.level for r in rows])
    sp = np.array([r.spread for r in rows])
    assert np.median(lv[28:]) - np.median(lv[:25]) > 7 and np.median(sp[28:]) < np.median(sp[:25])
    rows, truth = simulate_logger("quiet_missing", rng, n_nights=40, n_blocks=240)
    assert len(rows) < 40 and rows[-1].date == START + timedelta(days=39)
    with pytest.raises(ValueError, match="kind must be one of"):
        simulate_logger("tsunami", rng)


@pytest.mark.slow
def test_detection_and_false_alarm_rates_on_simulated_fleet():
    """A reduced version of the evaluation quoted in the notes (300 loggers, 60 nights, 30 as-of dates)."""
    r = evaluate_scoring(100, seed=11, n_nights=50, fa_window=12)
    assert r["detection"]["n"] >= 25 and r["detection"]["rate_leak_at_least_3db"] >= 0.9
    assert r["detection"]["by_leak_level_re_background"]["+10..+15 dB"]["rate"] == 1.0
    assert r["false_alarm_logger_night_all_no_leak"] <= 0.01
    pre = r["false_alarm_logger_night"]["leak loggers before onset"]
    assert pre["nights"] >= 10 and pre["rate"] <= 0.02
    assert r["false_alarm_logger_night"]["prv"]["rate"] == 0.0
    # the documented limitation: a PRV that starts mid-history looks like a leak
    assert r["prv_onset_alarm_any"] > 0.3
