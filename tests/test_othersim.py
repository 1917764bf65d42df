"""bench/othersim: the independent validation generator (reproducible, truthful, readable)."""

from __future__ import annotations

import csv
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import othersim  # noqa: E402
from acoustic.io import read_pipe, read_recording  # noqa: E402
from acoustic.loggers import read_stats  # noqa: E402

# no echoes, resonances or hydrant laterals (a lateral's loss leaves only the low band, where the
# two preamplifiers' high-pass phases differ: a real, sub-millisecond bias of the sensors, not of the truth)
CLEAN = dict(echoes=False, resonances=False, laterals=False, snr_db=15.0, confounders=[], sensor_kind="hydrophone",
             materials=["ductile_iron", "cast_iron", "steel"], subtypes={"FLOAT": 1.0}, clip_prob=0.0)


def _read(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # uncalibrated sidecars lack gain_db: the reader warns
        return read_recording(path)


def test_both_import_paths_give_the_generator():
    sys.path.insert(0, str(ROOT))
    import bench.othersim as b

    assert b.single(1, duration_s=2.0, sample_rate_hz=2000).samples.size == 4000
    assert callable(othersim.pair)


def test_single_is_reproducible_and_seed_dependent():
    a = othersim.single(11, duration_s=2.0, sample_rate_hz=4000)
    b = othersim.single(11, duration_s=2.0, sample_rate_hz=4000)
    c = othersim.single(12, duration_s=2.0, sample_rate_hz=4000)
    assert np.array_equal(a.samples, b.samples) and a.meta == b.meta and a.label == b.label
    assert not np.array_equal(a.samples[:100], c.samples[:100])


def test_single_labels_agree_with_meta():
    leak = othersim.single(3, label="leak", duration_s=2.0, sample_rate_hz=4096, snr_db=(0.0, 6.0), distance_m=(5, 20))
    assert leak.label == leak.meta["label"] == "leak"
    assert 5.0 <= leak.meta["distance_m"] <= 20.0
    assert -0.01 <= leak.meta["snr_db"] <= 6.01  # realised exactly: leak power over everything else
    pump = othersim.single(3, label="pump", duration_s=2.0, sample_rate_hz=4096)
    assert pump.meta["distance_m"] is None and pump.meta["snr_db"] is None and "pump" in pump.meta["sources"]
    assert np.max(np.abs(pump.samples)) <= 1.0
    with pytest.raises(ValueError):
        othersim.single(3, label="gurgle")
    with pytest.raises(TypeError):
        othersim.single(3, snr=(1, 2))


def test_calibrated_gain_gives_physical_units():
    """samples / 10**(gain/20) is the physical signal: a quiet recording sits at its ambient level."""
    for seed in range(4):
        rec = othersim.single(seed, label="quiet", duration_s=2.0, sample_rate_hz=4000, calibrated=True,
                              clip_prob=0.0)
        plain = othersim.single(seed, label="quiet", duration_s=2.0, sample_rate_hz=4000, clip_prob=0.0)
        assert np.array_equal(rec.samples, plain.samples)
        assert rec.sidecar["calibrated"] is True and "gain_db" not in plain.sidecar
        phys = (rec.samples - rec.meta["digitiser"]["dc_offset"]) / 10 ** (rec.sidecar["gain_db"] / 20)
        level = 10 * np.log10(np.mean(phys ** 2))
        assert rec.meta["ambient_db"] - 0.5 <= level <= rec.meta["ambient_db"] + 6.0


def _true_delay(t: dict) -> float:
    """Arrival at A minus arrival at B, recomputed from the truth's sections and laterals."""
    u = t["leak_source"]["main_line_position_m"]
    edges = np.cumsum([0.0] + [s["length_m"] for s in t["sections"]])
    ta = tb = 0.0
    for s, x0, x1 in zip(t["sections"], edges[:-1], edges[1:]):
        ta += max(0.0, min(u, x1) - x0) / s["wave_speed_m_s"]
        tb += max(0.0, x1 - max(u, x0)) / s["wave_speed_m_s"]
    for key, side in (("lateral_a", "a"), ("lateral_b", "b")):
        if t[key]:
            dt = t[key]["length_m"] / t[key]["wave_speed_m_s"]
            ta, tb = (ta + dt, tb) if side == "a" else (ta, tb + dt)
    return ta - tb


@pytest.mark.parametrize("seed", [1, 2, 5])
def test_pair_truth_delay_follows_the_true_wave_speeds(seed):
    p = othersim.pair(seed, duration_s=2.0, sample_rate_hz=2048)
    t = p.truth
    assert t["leak"] and 0 < t["leak_distance_from_a_m"] < t["path_length_m"]
    assert abs(t["delay_s"] - _true_delay(t)) < 1e-6
    assert abs(t["stream_delay_s"] - (t["delay_s"] + t["start_offset_s"])) < 1e-6
    assert abs(t["delay_s"]) <= t["max_abs_delay_s"]
    nominal = [s["nominal_model_wave_speed_m_s"] for s in t["sections"]]
    assert all(0.9 - 1e-6 <= c / n <= 1.1 + 1e-6 for c, n in zip(t["wave_speeds_m_s"], nominal))


@pytest.mark.parametrize("seed,offset", [(3, 0.0), (4, 0.012345), (6, -0.3)])
def test_pair_signals_carry_the_true_delay_within_a_sample(seed, offset):
    fs = 8000.0
    p = othersim.pair(seed, duration_s=6.0, sample_rate_hz=fs, start_offset_s=offset, **CLEAN)
    t = p.truth
    assert t["start_offset_s"] == offset
    g = othersim.textbook_gcc_phat(p.samples_a, p.samples_b, fs, t["max_abs_delay_s"], stream_offset_s=offset)
    assert abs(g.delay_s - t["delay_s"]) <= 1.0 / fs + 1e-9


def test_pair_is_reproducible_and_leak_free_pairs_have_no_leak_truth():
    a = othersim.pair(9, duration_s=2.0, sample_rate_hz=2048, leak=False)
    b = othersim.pair(9, duration_s=2.0, sample_rate_hz=2048, leak=False)
    assert np.array_equal(a.samples_a, b.samples_a) and np.array_equal(a.samples_b, b.samples_b)
    assert a.truth["leak"] is False and a.truth["delay_s"] is None and a.truth["leak_distance_from_a_m"] is None
    assert a.truth["leak_free_kind"] in othersim.LEAK_FREE_KINDS


def test_written_sets_load_with_the_package(tmp_path):
    lab = othersim.write_single_set(tmp_path / "s", 5, 2, calibrated_fraction=0.5, duration_s=(2.0, 2.5),
                                    sample_rates=[2000, 4000], subtypes={"PCM_16": 1, "PCM_24": 1, "FLOAT": 1},
                                    flac_fraction=0.5)
    rows = list(csv.DictReader(open(lab)))
    assert len(rows) == 5 and list(rows[0])[:4] == ["file", "label", "distance_m", "site"]
    for r in rows:
        rec = _read(tmp_path / "s" / r["file"])
        side = json.loads((tmp_path / "s" / r["file"]).with_suffix(".json").read_text())
        assert rec.sample_rate == float(r["sample_rate_hz"]) and r["label"] in othersim.LABELS
        assert (r["distance_m"] != "") == (r["label"] == "leak")
        assert ("gain_db" in side) == (r["calibrated"] == "1")
    idx = othersim.write_pair_set(tmp_path / "p", 2, 4, duration_s=2.0, sample_rate_hz=2048)
    prow = list(csv.DictReader(open(idx)))
    assert [r["pair"] for r in prow] == ["pair000", "pair001"]
    for r in prow:
        d = tmp_path / "p" / r["pair"]
        a, b = _read(d / "A.wav"), _read(d / "B.wav")
        truth = json.loads((d / "truth.json").read_text())
        off = (b.start_time - a.start_time).total_seconds()
        assert abs(off - truth["start_offset_s"]) < 1e-6
        pipe = read_pipe(d / "pipe.json")
        assert abs(pipe.length_m - truth["nominal_length_m"]) < 0.05


def test_fleet_stats_read_by_the_package(tmp_path):
    r = othersim.write_fleet(tmp_path, n_loggers=20, n_nights=20, seed=3)
    rows = read_stats(r["stats"])
    assert len(rows) == r["n_rows"] > 100
    truth = list(csv.DictReader(open(r["truth"])))
    assert len(truth) == 20 and {t["category"] for t in truth} <= set(othersim._fleet.CATEGORIES)
    head = open(r["visits"]).readline().strip()
    assert head == "logger_id,date,leak_found"
    again = othersim.write_fleet(tmp_path / "again", n_loggers=20, n_nights=20, seed=3)
    assert Path(again["stats"]).read_text() == Path(r["stats"]).read_text()


def test_textbook_gcc_phat_sign_convention():
    rng = np.random.default_rng(0)
    s = rng.standard_normal(30000)
    a, b = s[170:20170], s[200:20200]  # the sound reached B 30 samples before A
    assert othersim.textbook_gcc_phat(a, b, 1000.0, 0.1).delay_s == pytest.approx(0.030)
    assert othersim.textbook_gcc_phat(b, a, 1000.0, 0.1).delay_s == pytest.approx(-0.030)
