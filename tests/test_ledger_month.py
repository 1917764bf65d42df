"""Issue 20's acceptance, small: nightly 'acoustic batch run' of simulated nights with leaks that
appear and are repaired, a crew entering outcomes from the command line (some wrong, then amended
or undone), and 'acoustic ledger stats' equal to the truth's hit rate, location errors and payable
count.  The month itself is bench/ledger_month.py (same code, 28 nights)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "ledger_month.py"


def _bench():
    spec = importlib.util.spec_from_file_location("ledger_month", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_nightly_batches_and_corrected_outcomes_give_the_truths_numbers(tmp_path):
    month = _bench()
    # every entry mistake happens (and is corrected) on these few nights
    month.P_WRONG_END, month.P_WRONG_NO_LEAK, month.P_WRONG_SUSPECT = 0.34, 0.33, 0.33
    res = month.run_month(tmp_path, nights=3, duration_s=10.0, seed=3, window=2, progress=None,
                          schedule=[(0, "P04", 61.3, 24.0), (0, "P07", 40.0, 24.0), (1, "P15", 30.0, 25.0)])
    for b in res["by_tolerance"]:
        assert b["all_agree"], b
    t = res["by_tolerance"][0]["truth"]
    assert t["leaks_found"] >= 1 and t["digs"] > t["leaks_found"] - 1
    e = res["entries"]
    assert e["commands"] > t["digs"] and e["refused"] + e["amended"] + e["undone"] >= 1, e
