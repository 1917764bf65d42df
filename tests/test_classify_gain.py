"""The shipped classifier must not hinge on an unknown gain (issue 15).

A recording not marked calibrated is classified from level-invariant evidence only: its probability
may not move by 0.05 for any sidecar gain_db in -40..+40 dB, nor when the samples themselves are
scaled (where they do not clip).  A calibrated one may use its level, within the card's bound.
"""

import json

import numpy as np
import pytest

from acoustic.classify import classify_features, extract_paths, load_model
from acoustic.classify._predict import default_model_dir
from acoustic.classify._randomised import randomised_recording
from acoustic.io import write_recording
from acoustic.recording import Recording

GAINS_DB = (-40.0, -25.0, -10.0, 0.0, 10.0, 25.0, 40.0)


@pytest.fixture(scope="module")
def model():
    return load_model(default_model_dir())


def _recordings(n=6, seed=99):
    """Fresh randomised recordings (a seed the default model was not trained on), scaled to -30 dBFS."""
    out = []
    for i in range(n):
        r = randomised_recording(seed, i)
        x = r.samples - r.samples.mean()
        x = x / np.sqrt(np.mean(x * x)) * 10 ** (-30 / 20)
        if np.max(np.abs(x)) < 0.5:
            out.append((x, r))
    return out


def _classify(model, path):
    return classify_features(model, extract_paths([path]), check=False)[0]


def _write(tmp_path, name, x, fs, kind, gain_db, calibrated=None):
    extra = {} if calibrated is None else {"calibrated": calibrated}
    rec = Recording(x, fs, sensor_id=name, sensor_kind=kind, gain_db=gain_db, extra=extra)
    return write_recording(rec, tmp_path / f"{name}.wav", subtype="FLOAT")


def test_uncalibrated_probability_ignores_sidecar_gain(model, tmp_path):
    for j, (x, r) in enumerate(_recordings()):
        ps = [_classify(model, _write(tmp_path, f"g{j}_{i}", x, r.sample_rate_hz, r.sensor_kind, g))
              for i, g in enumerate(GAINS_DB)]
        probs = [p["leak_probability"] for p in ps]
        assert max(probs) - min(probs) < 0.05, probs
        assert all(p["calibrated"] is False for p in ps)


def test_uncalibrated_probability_ignores_scaling_the_samples(model, tmp_path):
    for j, (x, r) in enumerate(_recordings()):
        probs = []
        for i, g in enumerate(GAINS_DB):
            y = x * 10 ** (g / 20)
            if np.max(np.abs(y)) >= 1.0:
                continue  # would clip
            probs.append(_classify(model, _write(tmp_path, f"s{j}_{i}", y, r.sample_rate_hz, r.sensor_kind, 0.0))
                         ["leak_probability"])
        assert len(probs) >= 4
        assert max(probs) - min(probs) < 0.05, probs


def test_calibrated_level_moves_probability_within_the_card_bound(model, tmp_path):
    term = model.card["level_term"]
    assert term is not None and 0 < term["max_logit"] <= 2.0
    assert 0.0 <= term["max_probability_change_per_10db"] <= 0.5
    x, r = _recordings()[0]
    base = _classify(model, _write(tmp_path, "u", x, r.sample_rate_hz, r.sensor_kind, 0.0))
    p0 = base["leak_probability"]
    lo = 1 / (1 + np.exp(-(np.log(p0 / (1 - p0)) - term["max_logit"])))
    hi = 1 / (1 + np.exp(-(np.log(p0 / (1 - p0)) + term["max_logit"])))
    for i, g in enumerate(GAINS_DB):
        c = _classify(model, _write(tmp_path, f"c{i}", x, r.sample_rate_hz, r.sensor_kind, g, calibrated=True))
        assert c["calibrated"] is True and c["evidence"] == "shape+level"
        assert lo - 1e-9 <= c["leak_probability"] <= hi + 1e-9


def test_calibrated_must_be_a_boolean(tmp_path):
    from acoustic import RecordingError

    x, r = _recordings()[0]
    path = _write(tmp_path, "bad", x, r.sample_rate_hz, r.sensor_kind, 0.0, calibrated="yes")
    with pytest.raises(RecordingError, match="calibrated"):
        extract_paths([path])
    side = json.loads(path.with_suffix(".json").read_text())
    assert side["calibrated"] == "yes"


def test_too_short_recording_is_out_of_domain(model, tmp_path):
    x, r = _recordings()[0]
    fs = r.sample_rate_hz
    short = _write(tmp_path, "short", x[: int(1.9 * fs)], fs, r.sensor_kind, 0.0)
    out = _classify(model, short)
    assert out["in_domain"] is False and "too short" in out["in_domain_reason"]


def test_energy_outside_the_analysis_band_is_out_of_domain(model, tmp_path):
    fs = 16000.0
    rng = np.random.default_rng(3)
    t = np.arange(int(10 * fs)) / fs
    x = 0.1 * np.sin(2 * np.pi * 4000 * t) + 1e-5 * rng.normal(size=t.size)  # a 4 kHz whine
    out = _classify(model, _write(tmp_path, "hf", x, fs, "hydrophone", 0.0))
    assert out["in_domain"] is False and "outside the 5-900 Hz" in out["in_domain_reason"]
