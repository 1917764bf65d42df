"""Fleet-relative logger scoring (issue 18): fleet placement, stale and short histories, simulated fleets."""

from datetime import date, timedelta

import numpy as np
import pytest

from acoustic.loggers import (FleetConfig, StatsRow, fleet_positions, roc_auc, score_fleet, score_loggers,
                              simulate_real_fleet)
from acoustic.loggers._fleetsim import fleet_visits, summarise, visit_scores

D0 = date(2026, 5, 1)


def _fleet(n=40, nights=20, seed=0, area="A", model="M", leak=("L000",), leak_db=12.0, stop=None):
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n):
        lid = f"L{k:03d}"
        base = rng.normal(30, 2)
        for i in range(nights):
            if stop and lid in stop and i >= nights - stop[lid]:
                continue
            lv, sp = base + rng.normal(0, 1), 8 + rng.normal(0, 1)
            if lid in leak:
                lv, sp = base + leak_db, 2.5 + rng.normal(0, 0.3)
            rows.append(StatsRow(lid, D0 + timedelta(days=i), lv, abs(sp), 0, {"area": area, "model": model}))
    return rows


def test_pre_existing_leak_found_without_any_step():
    scores = {s.logger_id: s for s in score_fleet(_fleet())}
    leak = scores["L000"]
    assert leak.alarm and leak.score > 0.9
    assert leak.step_score == 0.0 and "fleet" in leak.evidence
    assert leak.fleet_level_z > 3 and leak.fleet_spread_z < -3
    others = [s.score for k, s in scores.items() if k != "L000"]
    assert max(others) < leak.score and np.mean([s.alarm for k, s in scores.items() if k != "L000"]) < 0.1
    assert any("level" in r and "spread" in r for r in leak.reasons)


def test_score_loggers_is_the_fleet_scorer():
    rows = _fleet()
    a = [(s.logger_id, round(s.score, 6)) for s in score_loggers(rows)]
    b = [(s.logger_id, round(s.score, 6)) for s in score_fleet(rows)]
    assert a == b


def test_stale_logger_scored_from_last_nights():
    rows = _fleet(stop={"L000": 12})
    s = {x.logger_id: x for x in score_fleet(rows, as_of=D0 + timedelta(days=19))}["L000"]
    assert s.stale_nights == 12 and s.alarm
    assert any("12 night(s) before" in r for r in s.reasons)


def test_one_night_is_weak_evidence_not_none():
    rows = _fleet(nights=1)
    s = {x.logger_id: x for x in score_fleet(rows)}
    assert s["L000"].nights_used == 1 and s["L000"].confidence_label == "low"
    assert s["L000"].score > max(v.score for k, v in s.items() if k != "L000")


def test_groups_by_area_and_model_with_fallback():
    rows = _fleet(n=30, area="A", model="M") + [
        StatsRow(f"X{r.logger_id}", r.date, r.level + 20.0, r.spread, 0, {"area": "B", "model": "N"})
        for r in _fleet(n=30, seed=1)]
    pos = fleet_positions(rows, FleetConfig(group_min_loggers=12))
    assert pos[("XL005", D0)].group == "area=B,model=N"
    # the +20 dB offset of model N does not make its loggers suspect
    assert abs(pos[("XL005", D0)].level_z) < 4
    small = fleet_positions(rows, FleetConfig(group_min_loggers=40))
    assert small[("XL005", D0)].group == "fleet" and small[("XL005", D0)].n_group == 60
    assert fleet_positions(rows[:3], FleetConfig()) == {}


def test_no_fleet_falls_back_to_step():
    rows = [StatsRow("A", D0 + timedelta(days=i), 20.0 + (10 if i >= 15 else 0) + 0.1 * (i % 3), 3.0)
            for i in range(25)]
    s = score_fleet(rows)[0]
    assert s.evidence == ["step"] and s.alarm and s.fleet_nights == 0


def test_roc_auc_against_pairs():
    rng = np.random.default_rng(1)
    s = rng.integers(0, 5, 60).astype(float)
    y = rng.random(60) < 0.4
    pairs = [(1.0 if a > b else 0.5 if a == b else 0.0) for a, ya in zip(s, y) if ya for b, yb in zip(s, y) if not yb]
    assert roc_auc(s, y) == pytest.approx(np.mean(pairs))
    assert roc_auc([1, 2], [True, True]) is None


def test_simulated_fleet_pre_existing_leaks_found():
    rng = np.random.default_rng(7)
    rows, truths = simulate_real_fleet(rng, n_areas=2, n_per_area=60, n_nights=40)
    areas = {r.extra["area"] for r in rows}
    assert areas == {"A0", "A1"} and all(r.extra["model"] for r in rows)
    visits = fleet_visits(rng, truths)
    res = visit_scores(rows, visits)
    s = summarise(res, {k: t.category for k, t in truths.items()})
    assert s["empty_scores"] == 0
    assert s["pre_existing"]["auc"] > 0.8
    assert s["new"]["auc"] > 0.8


def test_batch_scores_with_the_fleet_scorer_and_areas(tmp_path):
    from acoustic.batch._loggers import score_pending_loggers
    from acoustic.ledger import Ledger

    rows = _fleet(n=30, nights=10, leak=("L000",))
    with Ledger(tmp_path / "l.db", create=True) as led, led.transaction():
        led.conn.executemany("INSERT INTO logger_nights(logger_id, date, level, spread, source) VALUES (?, ?, ?, ?, ?)",
                             [(r.logger_id, r.date.isoformat(), r.level, r.spread, "stats.csv") for r in rows])
        nights, scores = score_pending_loggers(led.conn, ["L000", "L001"], {f"L{k:03d}": "north" for k in range(30)})
    by = {s["logger_id"]: s for s in scores}
    assert nights == [] and by["L000"]["alarm"] and not by["L001"]["alarm"]
    assert by["L000"]["fleet_group"] == "area=north,model=source=uploaded"
    direct = {s.logger_id: s.score for s in score_fleet(rows)}
    assert by["L000"]["score"] == pytest.approx(direct["L000"], abs=0.01)
