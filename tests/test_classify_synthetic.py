"""Synthetic labelled datasets: reproducible draws, gain offsets, PCM16 quantisation, SNR conditioning."""

import csv

import numpy as np
import pytest

from acoustic import ParameterError
from acoustic.classify._synthetic import simulate_spec, synthetic_specs, write_synthetic_dataset


def test_specs_are_reproducible_and_span_what_was_asked():
    a = synthetic_specs(20, seed=4, duration_s=1.0)
    b = synthetic_specs(20, seed=4, duration_s=1.0)
    assert a == b and len(a) == 120
    assert synthetic_specs(20, seed=5, duration_s=1.0) != a
    sites = {s.site for s in a}
    assert len(sites) == 20
    for site in sites:  # a site has one pipe, sensor and sample rate
        rows = [s for s in a if s.site == site]
        assert len({(s.kwargs["material"], s.kwargs["sensor_kind"], s.kwargs["sample_rate_hz"]) for s in rows}) == 1
    leaks = [s for s in a if s.label_hint == "leak"]
    assert 0.3 < len(leaks) / len(a) < 0.7
    assert all(s.kwargs["noises"] == (() if s.confounder == "none" else (s.confounder,)) for s in leaks)
    with pytest.raises(ParameterError, match="unknown material\\(s\\) tin"):
        synthetic_specs(2, seed=1, materials=("tin",))


def test_gain_offset_and_pcm16_quantisation():
    spec = synthetic_specs(1, seed=3, per_site=1, duration_s=1.0, gain_offset_db=(-20.0, -20.0))[0]
    rec, truth = simulate_spec(spec)
    ref, _ = simulate_spec(spec, gain_offset_db=0.0)
    assert truth["gain_offset_db"] == -20.0 and rec.gain_db == pytest.approx(ref.gain_db - 20.0)
    q = rec.samples * 32768.0
    np.testing.assert_array_equal(q, np.round(q))  # exactly what a PCM16 file holds
    # calibrated levels do not depend on the gain (up to quantisation noise)
    lvl = 10 * np.log10(np.mean(rec.calibrated() ** 2))
    lvl_ref = 10 * np.log10(np.mean(ref.calibrated() ** 2))
    assert lvl == pytest.approx(lvl_ref, abs=0.1)


def test_snr_conditioning_redraws_leaks():
    specs = [s for s in synthetic_specs(6, seed=8, duration_s=1.0, leak_fraction=1.0, min_leak_snr_db=25.0,
                                        materials=("pvc",), sample_rates_hz=(4000.0,))][:4]
    for s in specs:
        _, truth = simulate_spec(s)
        assert truth["label"] == "leak" and truth["snr_db"] >= 25.0
    faint = synthetic_specs(2, seed=8, duration_s=1.0, leak_fraction=1.0, max_leak_snr_db=5.0,
                            sample_rates_hz=(4000.0,))[:2]
    for s in faint:
        assert simulate_spec(s)[1]["snr_db"] < 5.0


def test_written_dataset_reads_back(tmp_path):
    from acoustic.classify import read_labels

    specs = synthetic_specs(2, seed=2, per_site=3, duration_s=1.0)
    write_synthetic_dataset(specs, tmp_path)
    rows = list(csv.DictReader(open(tmp_path / "labels.csv")))
    assert [r["file"] for r in rows] == [f"{s.name}.wav" for s in specs]
    labelled = read_labels(tmp_path)
    assert {r.site for r in labelled} == {s.site for s in specs}
    for r, s in zip(labelled, specs):
        assert r.is_leak == (s.label_hint == "leak")
        assert r.extra["material"] == s.kwargs["material"]
