"""Feature extractor: numba kernels vs numpy twins, librosa agreement, calibration, physics, bad input."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from acoustic import AcousticWarning, ParameterError, RecordingError
from acoustic.features import (
    FEATURES_VERSION,
    FeatureVector,
    extract_features,
    extract_many,
    feature_names,
    feature_units,
    min_duration_s,
)
from acoustic.features import _design as D
from acoustic.features import _kernels as K
from acoustic.features._extract import frame_passes, mfcc_from_mel
from acoustic.recording import Recording


def _rec(x, fs, **kw):
    return Recording(samples=np.asarray(x, dtype=np.float64), sample_rate=fs, **kw)


def _ar1_noise(rng, n, a=0.9, scale=0.02):
    from scipy.signal import lfilter

    return scale * lfilter([1.0], [1.0, -a], rng.standard_normal(n))


def _multitone(fs, duration_s, freqs, amps, phases):
    t = np.arange(int(round(duration_s * fs))) / fs
    return np.sum(amps[:, None] * np.sin(2 * np.pi * freqs[:, None] * t[None, :] + phases[:, None]), axis=0)


# ------------------------------------------------------------------ API shape
def test_names_units_fixed_and_versioned():
    names, units = feature_names(), feature_units()
    assert len(names) == len(units) == len(set(names))
    assert FEATURES_VERSION == "1"
    for n, u in zip(names, units):
        if n.endswith("_db"):
            assert u == "dB"
        if n.endswith("_hz"):
            assert u == "Hz"
    assert "level_spread_db" in names and "mfcc_12" in names and "third_octave_31.5hz_db" in names


@pytest.mark.parametrize("fs", [1000.0, 4000.0, 11025.0, 48000.0, 96000.0])
def test_same_names_every_rate_nan_only_above_alias(fs, rng):
    fv = extract_features(_rec(0.1 * rng.standard_normal(int(1.2 * fs)), fs))
    assert isinstance(fv, FeatureVector)
    assert fv.names == feature_names() and fv.values.shape == (len(feature_names()),)
    assert fv.version == FEATURES_VERSION
    nan_names = {n for n, v in zip(fv.names, fv.values) if not math.isfinite(v)}
    allowed = {"pump_fundamental_hz"} | {f"third_octave_{f:g}hz_db" for f, hi in
                                          zip(D.THIRD_OCTAVE_NOMINAL_HZ, D.third_octave_edges_hz()[2])
                                          if hi > 0.45 * fs}
    if fs < 3600:
        allowed |= {"contrast_above_800hz_db", "contrast_400_800hz_db"}
    assert nan_names <= allowed
    assert np.isnan(fv.band_levels_db).sum() == sum(hi > 0.45 * fs for hi in D.third_octave_edges_hz()[2])
    d = fv.as_dict()
    assert all(d[n] is None for n in nan_names)
    assert fv.frame_levels_db.shape == fv.frame_times_s.shape


def test_extract_many_paths_and_recordings(tmp_path, rng):
    from acoustic.io import read_recording, write_recording

    r1 = _rec(0.1 * rng.standard_normal(24000), 8000.0, sensor_id="A")
    r2 = _rec(0.1 * rng.standard_normal(48000), 16000.0, sensor_id="B")
    p = write_recording(r2, tmp_path / "b.wav", subtype="FLOAT")
    with pytest.warns(AcousticWarning, match="missing start_time"):
        X, names = extract_many([r1, p])
        again = read_recording(p)
    assert X.shape == (2, len(names)) and names == feature_names()
    np.testing.assert_allclose(X[0], extract_features(r1).values, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(X[1], extract_features(again).values, rtol=1e-12, equal_nan=True)


# ------------------------------------------------------------------ kernels vs numpy twins
@pytest.mark.parametrize("fs,dur", [(1000.0, 40.0), (8000.0, 3.0), (22050.0, 2.2)])
def test_kernels_match_numpy_reference(fs, dur, rng):
    # 40 s at 1 kHz = 311 frames: crosses the 256-frame block boundary of the numba path
    x = _ar1_noise(rng, int(dur * fs)) + 0.01 * _multitone(fs, dur, np.array([50.0, 310.0]), np.ones(2), np.zeros(2))
    x[100:140] = 0.0
    d = D.design_for(fs)
    a = frame_passes(x, d, use_numba=True)
    b = frame_passes(x, d, use_numba=False)
    np.testing.assert_allclose(a[0], b[0], rtol=1e-10, atol=0)      # per-frame mean square
    np.testing.assert_array_equal(a[1], b[1])                       # zero-crossing rate
    np.testing.assert_allclose(a[2], b[2], rtol=1e-9, atol=1e-15)   # mean, m2, m4, min, max, n_bad
    for attr in ("centroid", "bandwidth", "rolloff", "flatness", "contrast", "band_power", "mel", "power_sum"):
        np.testing.assert_allclose(getattr(a[3], attr), getattr(b[3], attr), rtol=1e-9, atol=1e-300, err_msg=attr)
    fa = extract_features(_rec(x, fs)).values
    fb = extract_features(_rec(x, fs), use_numba=False).values
    np.testing.assert_allclose(fa, fb, rtol=1e-9, atol=1e-9, equal_nan=True)


def test_block_boundaries_and_dc_offset(rng, monkeypatch):
    """Small STFT work buffers (many blocks) and a large DC offset give the same features."""
    import acoustic.features._extract as E

    fs = 8000.0
    x = 0.05 * rng.standard_normal(int(4 * fs)) + 0.02 * np.sin(2 * np.pi * 440 * np.arange(int(4 * fs)) / fs)
    ref = extract_features(_rec(x, fs), use_numba=False).values
    monkeypatch.setattr(E, "_BLOCK_BYTES", 8 * 2048 * 5)   # 5 frames per block
    np.testing.assert_allclose(extract_features(_rec(x, fs)).values, ref, rtol=1e-9, atol=1e-9, equal_nan=True)
    y = x + 0.5                                             # offset 10x the noise: moments stay exact
    a = extract_features(_rec(y, fs))
    b = extract_features(_rec(y, fs), use_numba=False)
    assert a["sample_kurtosis"] == pytest.approx(b["sample_kurtosis"], rel=1e-9, abs=1e-9)


def test_time_kernel_zero_crossings_with_threshold():
    x = np.array([1.0, -1.0, 0.0, 1e-12, -1e-12, -2.0, 3.0, 0.0])
    ms, zcr, _ = K.time_stats(x, 8, 4, threshold=1e-10)
    ms2, zcr2, _ = K.time_stats_reference(x, 8, 4, threshold=1e-10)
    # sign sequence (values within the threshold count as +): + - + + + - + +  -> 4 crossings
    assert zcr[0] == zcr2[0] == 4 / 8
    assert ms[0] == pytest.approx(np.mean(x ** 2))


# ------------------------------------------------------------------ librosa agreement
@pytest.mark.parametrize("fs", [4000.0, 8000.0, 22050.0])
@pytest.mark.parametrize("full_band", [False, True])
def test_agrees_with_librosa_per_frame(fs, full_band, rng):
    """Same frames (n_fft, hop, periodic Hann, center=False) and the same bins -> same values.

    Tolerances: 1e-9 relative for rms, centroid, bandwidth, flatness (float64 both sides);
    exact bins for roll-off and zero-crossing rate; 1e-9 dB for contrast; librosa's mel
    filters are float32, so mel energies agree to 1e-6 relative and MFCCs to 1e-5 dB.
    """
    librosa = pytest.importorskip("librosa")
    n = int(3 * fs)
    x = _ar1_noise(rng, n) + 0.01 * _multitone(fs, 3.0, np.array([300.0]), np.ones(1), np.zeros(1))
    d = D.design_for(fs, (0.0, fs / 2) if full_band else None)
    ms, zcr, _, st = frame_passes(x, d)
    kw = dict(n_fft=d.n_fft, hop_length=d.hop, center=False)
    S = np.abs(librosa.stft(x, window="hann", **kw))
    Sb, fb = S[d.i0:d.i1], d.freqs[d.i0:d.i1]
    rms = librosa.feature.rms(y=x, frame_length=d.n_fft, hop_length=d.hop, center=False, dtype=np.float64)[0]
    np.testing.assert_allclose(np.sqrt(ms), rms, rtol=1e-9)
    zc = librosa.feature.zero_crossing_rate(x, frame_length=d.n_fft, hop_length=d.hop, center=False)[0]
    np.testing.assert_array_equal(zcr, zc)
    np.testing.assert_allclose(st.centroid, librosa.feature.spectral_centroid(S=Sb, freq=fb, sr=fs)[0], rtol=1e-9)
    np.testing.assert_allclose(st.bandwidth, librosa.feature.spectral_bandwidth(S=Sb, freq=fb, sr=fs)[0], rtol=1e-9)
    np.testing.assert_array_equal(st.rolloff, librosa.feature.spectral_rolloff(S=Sb, freq=fb, sr=fs)[0])
    np.testing.assert_allclose(st.flatness, librosa.feature.spectral_flatness(S=Sb, amin=1e-30)[0], rtol=1e-9)
    con = librosa.feature.spectral_contrast(S=Sb, freq=fb, sr=fs, fmin=D.CONTRAST_FMIN_HZ,
                                            n_bands=D.CONTRAST_N_BANDS, quantile=D.CONTRAST_QUANTILE)
    np.testing.assert_allclose(st.contrast, con.T, atol=1e-9)
    mel = librosa.feature.melspectrogram(S=S ** 2, sr=fs, n_mels=D.N_MELS, fmin=d.band_lo_hz, fmax=d.band_hi_hz)
    np.testing.assert_allclose(st.mel, mel.T, rtol=1e-6)
    mf = librosa.feature.mfcc(S=librosa.power_to_db(mel, amin=1e-30, top_db=None), n_mfcc=D.N_MFCC)
    np.testing.assert_allclose(mfcc_from_mel(st.mel, d.dct), mf.T, atol=1e-5)


def test_mel_filterbank_matches_librosa():
    librosa = pytest.importorskip("librosa")
    for fs, n_fft in ((8000.0, 2048), (1000.0, 256), (48000.0, 12288)):
        hi = min(1800.0, 0.45 * fs)
        ours = D.mel_filterbank(fs, n_fft, 32, 20.0, hi)
        ref = librosa.filters.mel(sr=fs, n_fft=n_fft, n_mels=32, fmin=20.0, fmax=hi, dtype=np.float64)
        np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-14)


# ------------------------------------------------------------------ calibration and physics
def test_white_noise_band_levels_match_theory(rng):
    fs, sigma = 8000.0, 0.1
    fv = extract_features(_rec(sigma * rng.standard_normal(int(20 * fs)), fs))
    c, lo, hi = D.third_octave_edges_hz()
    expect = 10 * np.log10(sigma ** 2 * 2 * (hi - lo) / fs)  # one-sided PSD 2 sigma^2/fs
    ok = (c >= 100) & (hi <= 0.45 * fs)
    np.testing.assert_allclose(fv.band_levels_db[ok], expect[ok], atol=0.5)
    assert fv["rms_level_db"] == pytest.approx(20 * np.log10(sigma), abs=0.05)
    assert fv["band_level_db"] == pytest.approx(10 * np.log10(sigma ** 2 * 2 * (1800 - 20) / fs), abs=0.1)
    assert fv["spectral_flatness"] > 0.5
    assert fv["n_tonal_lines"] == 0 and fv["mains_50hz_flag"] == 0 and fv["pump_comb_flag"] == 0


def test_tone_level_and_gain_calibration(rng):
    fs, amp = 8000.0, 0.3
    x = _multitone(fs, 5.0, np.array([1000.0]), np.array([amp]), np.zeros(1)) + 1e-3 * rng.standard_normal(40000)
    fv0 = extract_features(_rec(x, fs))
    i1k = list(D.THIRD_OCTAVE_NOMINAL_HZ).index(1000)
    assert fv0.band_levels_db[i1k] == pytest.approx(10 * np.log10(amp ** 2 / 2), abs=0.1)
    assert fv0["peak_frequency_hz"] == pytest.approx(1000.0, abs=0.5)
    # the same pressure recorded 20 dB hotter: samples x10, gain 20 dB -> identical calibrated features
    fv1 = extract_features(_rec(10 * x, fs, gain_db=20.0))
    np.testing.assert_allclose(fv1.values, fv0.values, rtol=1e-9, atol=1e-9, equal_nan=True)
    # a 6 dB hotter signal at the same gain: levels +6.02 dB, shape features unchanged
    fv2 = extract_features(_rec(2 * x, fs))
    assert fv2["band_level_db"] - fv0["band_level_db"] == pytest.approx(20 * np.log10(2), abs=1e-9)
    assert fv2["spectral_centroid_hz"] == pytest.approx(fv0["spectral_centroid_hz"], rel=1e-9)
    assert fv2["mfcc_3"] == pytest.approx(fv0["mfcc_3"], abs=1e-6)


def test_rate_independent_in_the_analysis_band(rng):
    """The same continuous signal sampled at 4, 8, 16 and 48 kHz gives the same band features."""
    freqs = np.sort(rng.uniform(25.0, 1700.0, 300))
    amps = 0.01 * (1 + 300 / freqs) * rng.uniform(0.5, 1.5, freqs.size)   # pink-ish leak-like spectrum
    phases = rng.uniform(0, 2 * np.pi, freqs.size)
    fvs = [extract_features(_rec(_multitone(fs, 3.0, freqs, amps, phases), fs)) for fs in (4000.0, 8000.0, 16000.0, 48000.0)]
    band_feats = ["band_level_db", "spectral_centroid_hz", "spectral_bandwidth_hz", "spectral_rolloff_hz",
                  "spectral_flatness", "level_l50_db", "level_spread_db", "peak_frequency_hz",
                  "contrast_200_400hz_db", *[f"mfcc_{i}" for i in range(13)]]
    ref = fvs[0]
    for fv in fvs[1:]:
        for name in band_feats:
            assert fv[name] == pytest.approx(ref[name], rel=1e-3, abs=1e-2), name
        ok = np.isfinite(ref.band_levels_db)
        np.testing.assert_allclose(fv.band_levels_db[ok], ref.band_levels_db[ok], atol=0.01)


def test_mains_and_pump_lines(rng):
    fs, dur = 8000.0, 10.0
    base = 0.05 * rng.standard_normal(int(dur * fs))
    mains60 = base + _multitone(fs, dur, np.array([60.0, 120.0, 180.0]), np.array([0.05, 0.03, 0.02]), np.zeros(3))
    fv = extract_features(_rec(mains60, fs))
    assert fv["mains_60hz_flag"] == 1 and fv["mains_50hz_flag"] == 0 and fv["pump_comb_flag"] == 0
    f0 = 1450 / 60  # 4-pole pump shaft rate, 24.17 Hz
    pump = base + _multitone(fs, dur, f0 * np.arange(1, 9), 0.03 * np.ones(8), rng.uniform(0, 6, 8))
    fv = extract_features(_rec(pump, fs))
    assert fv["pump_comb_flag"] == 1 and fv["mains_60hz_flag"] == 0
    assert fv["pump_fundamental_hz"] == pytest.approx(f0, abs=0.3)
    assert fv["n_tonal_lines"] >= 5 and fv["tonal_max_prominence_db"] > 10
    # shaft harmonics 1-4 plus the blade-pass lines of a 7-blade impeller: one comb at the shaft rate
    shaft = 2840 / 60
    lines = shaft * np.array([1, 2, 3, 4, 7, 14, 21])
    fv = extract_features(_rec(base + _multitone(fs, dur, lines, 0.03 * np.ones(7), rng.uniform(0, 6, 7)), fs))
    assert fv["pump_comb_flag"] == 1 and fv["pump_fundamental_hz"] == pytest.approx(shaft, abs=0.2)
    # a narrow-band (PRV-like) hiss is not a line, and broadband noise gives no false lines
    from scipy.signal import butter, sosfilt

    hiss = sosfilt(butter(4, [450, 550], btype="band", fs=fs, output="sos"), rng.standard_normal(int(dur * fs)))
    fv = extract_features(_rec(hiss + 0.01 * rng.standard_normal(hiss.size), fs))
    assert fv["n_tonal_lines"] == 0 and 430 < fv["peak_frequency_hz"] < 570 and fv["peak_to_median_db"] > 20
    false_lines = sum(extract_features(_rec(rng.standard_normal(int(dur * fs)), fs))["n_tonal_lines"] for _ in range(5))
    assert false_lines == 0


def test_line_searches_match_their_plain_twins(rng):
    """The numba comb search and the vectorised mains count give what the plain loops give."""
    from acoustic.features import _tonal as T

    df, fmax = 8000.0 / 2048, 1800.0
    sets = [np.array([50.0, 100.0, 150.0]), np.array([60.0, 120.0, 180.0, 240.0, 300.0]),
            24.17 * np.array([1, 2, 3, 4, 5, 6, 7, 8]), 47.33 * np.array([1, 2, 3, 4, 7, 14, 21]),
            np.array([25.0, 50.0, 75.0, 100.0]), np.array([12.5, 25.0, 37.5]), np.array([1.0, 2.0, 3.0])]
    for _ in range(300):
        k = int(rng.integers(0, 40))
        lines = np.sort(rng.uniform(20.0, fmax, k))
        if k and rng.random() < 0.5:   # combs, some with mains lines, jittered within the tolerance
            f0 = rng.uniform(8.0, 200.0)
            h = np.unique(rng.integers(1, 20, int(rng.integers(3, 10))))
            lines = np.sort(np.concatenate((lines[: k // 4], f0 * h + rng.normal(0, 0.2, h.size),
                                            50.0 * np.arange(1, int(rng.integers(1, 6))))))
            lines = lines[np.concatenate(([True], np.diff(lines) > 2 * df))]
        sets.append(lines)
    n_combs = 0
    for lines in sets:
        a, b = T._best_comb(lines, df, fmax), T._best_comb_reference(lines, df, fmax)
        assert (a is None) == (b is None), lines
        if a is not None:
            n_combs += 1
            assert a[0] == b[0] and a[1] == b[1] and a[2] == b[2], lines
        for f_mains in (50.0, 60.0):
            assert T._mains_count(lines, df, fmax, f_mains) == T._mains_count_reference(lines, df, fmax, f_mains)
    assert n_combs > 50


def test_stationary_versus_transient(rng):
    fs, dur = 8000.0, 20.0
    n = int(dur * fs)
    steady = extract_features(_rec(0.05 * rng.standard_normal(n), fs))
    bursts = 0.02 * rng.standard_normal(n)
    for s in rng.integers(0, n - 4000, 6):  # passing vehicles: 0.5 s bursts 20 dB up
        bursts[s:s + 4000] += 0.2 * rng.standard_normal(4000) * np.hanning(4000)
    traffic = extract_features(_rec(bursts, fs))
    assert steady["level_spread_db"] < 1.0
    assert traffic["level_spread_db"] > 5.0
    assert traffic["level_skewness"] > 1.0 and traffic["sample_kurtosis"] > 3.0
    assert abs(steady["sample_kurtosis"]) < 0.2
    lv = steady.frame_levels_db
    assert steady["level_l10_db"] == pytest.approx(np.percentile(lv, 90))
    assert steady["level_l95_db"] <= steady["level_l90_db"] <= steady["level_l50_db"] <= steady["level_l10_db"]
    assert abs(steady["level_mode_db"] - steady["level_l50_db"]) < 0.5


# ------------------------------------------------------------------ bad input
def test_shorter_than_one_frame_names_file_and_minimum(rng):
    fs = 8000.0
    r = _rec(rng.standard_normal(2000), fs, sensor_id="L9")
    with pytest.raises(RecordingError, match=r"L9: recording is 0\.250 s long; .* 2048 samples \(0\.256 s at 8000 Hz\)"):
        extract_features(r)
    assert min_duration_s(fs) == pytest.approx(0.256)
    # exactly one frame works, with a warning about the statistics
    with pytest.warns(AcousticWarning, match="only 1 frame"):
        fv = extract_features(_rec(rng.standard_normal(2048), fs))
    assert math.isnan(fv["level_kurtosis"])


@pytest.mark.parametrize("samples,match", [
    (np.zeros(8000), "silent"),
    (np.full(8000, 0.25), "constant"),
    (np.r_[np.ones(7999), np.nan], "NaN"),
])
def test_empty_constant_nonfinite(samples, match):
    with pytest.raises(RecordingError, match=match):
        extract_features(_rec(samples, 8000.0))


def test_bad_parameters(rng):
    with pytest.raises(ParameterError, match="sample rate 500 Hz is outside"):
        extract_features(_rec(rng.standard_normal(2000), 500.0))
    with pytest.raises(ParameterError, match="band_hz"):
        extract_features(_rec(rng.standard_normal(8000), 8000.0), band_hz=(1000.0, 500.0))
    with pytest.raises(ValueError, match="hop = n_fft / 2"):
        K.time_stats(np.zeros(100), 16, 4)
    with pytest.raises(ParameterError, match="expects a Recording"):
        extract_features(np.zeros(10))


def test_partly_silent_recording_warns(rng):
    x = 0.1 * rng.standard_normal(16000)
    x[:6000] = 0.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fv = extract_features(_rec(x, 8000.0, sensor_id="L5"))
    assert any("hold no signal" in str(w.message) for w in caught)
    assert all(w.filename == __file__ for w in caught)       # the warnings name the caller
    assert np.isfinite(fv["level_l50_db"])


@pytest.mark.parametrize("scale", [1e-12, 1e12])
def test_extreme_calibrated_scales_do_not_overflow(scale, rng):
    x = 0.1 * rng.standard_normal(16000)
    ref = extract_features(_rec(x, 8000.0))
    fv = extract_features(_rec(x * scale, 8000.0))
    assert fv["spectral_flatness"] == pytest.approx(ref["spectral_flatness"], rel=1e-9)
    assert fv["band_level_db"] - ref["band_level_db"] == pytest.approx(20 * np.log10(scale), abs=1e-6)
    assert fv["mfcc_1"] == pytest.approx(ref["mfcc_1"], abs=1e-6)
