"""Area by area, a survey places the points the whole network's survey places (each area surveyed
with its neighbours' loggers as context, a point reported by the area of its nearest logger)."""

import json

import pytest

pytest.importorskip("wntr")


@pytest.fixture(scope="module")
def net3_two_leaks(tmp_path_factory):
    from acoustic.survey import simulate_survey

    root = tmp_path_factory.mktemp("areas") / "sv"
    simulate_survey("net3", root, leaks=2, seed=3, confounders=("pump", "consumption"), nights=2, duration_s=12.0)
    return root


def test_areas_together_are_the_whole_survey(net3_two_leaks):
    from acoustic.survey import run_survey

    whole = run_survey(net3_two_leaks, model=None).to_json()
    truth = json.loads((net3_two_leaks / "truth.json").read_text())["leaks"]
    assert len(whole["points"]) == len(truth) == 2
    by_area = []
    for area in ("west", "east"):
        js = run_survey(net3_two_leaks, model=None, areas=[area]).to_json()
        assert {a["area"] for a in js["areas"]} == {area}
        own = {lg["logger_id"] for lg in js["loggers"]}
        assert all(p["nearest_logger"]["logger_id"] in own for p in js["points"])
        assert set(js["network"].get("context_loggers", [])).isdisjoint(own)
        by_area += [(p["pipe_id"], p["offset_m"]) for p in js["points"]]
    assert sorted(by_area) == sorted((p["pipe_id"], p["offset_m"]) for p in whole["points"])
