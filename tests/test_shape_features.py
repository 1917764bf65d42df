"""Level-invariant shape features of the classifier (acoustic.features._shape)."""

import numpy as np
import pytest

from acoustic import RecordingError
from acoustic.features import shape_feature_names, shape_features


def _noise(fs, dur, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=int(fs * dur))


@pytest.mark.parametrize("fs", [2000.0, 8000.0, 48000.0])
def test_invariant_to_any_gain(fs):
    x = _noise(fs, 6.0) + 0.3 * np.sin(2 * np.pi * 50 * np.arange(int(fs * 6)) / fs)
    ref = shape_features(x, fs)
    for g_db in (-40.0, -13.0, 7.0, 40.0):
        k = 10 ** (g_db / 20)
        other = shape_features(x * k, fs, gain_db=g_db)
        np.testing.assert_allclose(other.values, ref.values, rtol=1e-9, atol=1e-9)
        # with the gain removed the calibrated level is the same too
        assert other.level_p10_db == pytest.approx(ref.level_p10_db, abs=1e-9)
    # without removing it, the calibrated level moves by the gain
    assert shape_features(x * 10.0, fs).level_p10_db == pytest.approx(ref.level_p10_db + 20.0, abs=1e-9)


def test_high_bands_undefined_above_anti_alias_region():
    names = shape_feature_names()
    v = shape_features(_noise(2000.0, 5.0), 2000.0).values
    hi = [names.index(n) for n in names if n.startswith("band_900_") or n.startswith("band_1800_")
          or n.startswith("band_3600_")]
    assert np.isnan(v[hi]).all()
    assert np.isfinite(np.delete(v, hi)).all()
    v48 = shape_features(_noise(48000.0, 3.0), 48000.0).values
    assert np.isfinite(v48).all()


def test_white_noise_band_fractions_follow_bandwidth():
    fs = 8000.0
    f = shape_features(_noise(fs, 20.0), fs)
    names = shape_feature_names()
    # white noise: 5-60 Hz holds 55/895 of the 5-900 Hz energy
    assert f.values[names.index("below_60hz_rel_db")] == pytest.approx(10 * np.log10(55 / 895), abs=0.5)
    assert f.values[names.index("spread_p90_p10_db")] < 1.5  # stationary
    assert not f.mains_50hz and not f.mains_60hz


def _hum(fs, f0, harmonics, dur=10.0, seed=1):
    t = np.arange(int(fs * dur)) / fs
    x = 0.2 * _noise(fs, dur, seed)
    for h, a in harmonics.items():
        x += a * np.sin(2 * np.pi * h * f0 * t + h)
    return x


@pytest.mark.parametrize("fs", [4000.0, 16000.0])
def test_mains_flags_hold_on_their_grid(fs):
    on60 = shape_features(_hum(fs, 60.0, {1: 1.0, 2: 0.5, 3: 0.3, 5: 0.2}), fs)
    assert on60.mains_60hz and not on60.mains_50hz
    on50 = shape_features(_hum(fs, 50.0, {1: 1.0, 2: 0.5, 3: 0.3, 5: 0.2}), fs)
    assert on50.mains_50hz and not on50.mains_60hz


def test_lone_120_or_100hz_line_counts_for_its_family():
    fs = 8000.0
    f120 = shape_features(_hum(fs, 60.0, {2: 0.5}), fs)
    assert f120.mains_60hz and not f120.mains_50hz
    f100 = shape_features(_hum(fs, 50.0, {2: 0.5}), fs)
    assert f100.mains_50hz and not f100.mains_60hz


def test_too_short_is_refused():
    with pytest.raises(RecordingError, match="long"):
        shape_features(_noise(8000.0, 0.5), 8000.0)
    with pytest.raises(RecordingError, match="silent"):
        shape_features(np.zeros(40000), 8000.0)
