"""acoustic.correlate on frequency-domain test signals: a common broadband source delayed by a
known fractional delay at each sensor plus independent noise (no simulator needed)."""

import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from acoustic import AcousticWarning, ParameterError, PipeError, RecordingError
from acoustic.correlate import WEIGHTINGS, correlate_pair, measure_velocity
from acoustic.correlate._analysis import choose_frame_length
from acoustic.correlate._gcc import false_alarm_probability, hann_lag_factor, significance_threshold
from acoustic.pipe import PipePath, PipeSegment
from acoustic.recording import Recording

FS = 8000.0
T0 = datetime(2026, 11, 3, 2, 0, 0, tzinfo=timezone.utc)


def _band_noise(rng, n, fs, band):
    f = np.fft.rfftfreq(n, 1.0 / fs)
    s = (rng.standard_normal(f.size) + 1j * rng.standard_normal(f.size)) * ((f >= band[0]) & (f <= band[1]))
    return f, s


def make_pair(delay_s, *, snr_db=0.0, dur=12.0, fs=FS, band=(100.0, 1500.0), seed=0, start_offset_s=0.0,
              extra=None, kinds=("hydrophone", "hydrophone")):
    """Recordings A and B of one source with arrival(A) - arrival(B) = delay_s (absolute time).

    B's logger starts ``start_offset_s`` later than A's; the sidecar start times say so exactly.
    ``extra(t, rng) -> (add_a, add_b)`` adds further components (same length as the clip).
    """
    rng = np.random.default_rng(seed)
    n = int(round(dur * fs))
    m = n + int(2 * fs)
    f, s = _band_noise(rng, m, fs, band)
    t_a = 0.5 + delay_s  # arrival time of the source's "zero" at A, absolute (s after A's start)
    t_b = 0.5
    a = np.fft.irfft(s * np.exp(-2j * np.pi * f * t_a), m)[:n]
    # sample j of B is at absolute time start_offset_s + j/fs
    b = np.fft.irfft(s * np.exp(-2j * np.pi * f * (t_b - start_offset_s)), m)[:n]
    g = 10 ** (-snr_db / 20.0)
    a = a + g * a.std() * rng.standard_normal(n)
    b = b + g * b.std() * rng.standard_normal(n)
    if extra is not None:
        ea, eb = extra(np.arange(n) / fs, rng)
        a, b = a + ea, b + eb
    scale = 4.0 * max(a.std(), b.std())
    start_b = T0 + timedelta(microseconds=int(round(start_offset_s * 1e6)))
    return (Recording(a / scale, fs, sensor_id="A", sensor_kind=kinds[0], start_time=T0),
            Recording(b / scale, fs, sensor_id="B", sensor_kind=kinds[1], start_time=start_b))


DI = PipePath.uniform(100.0, "ductile_iron")


@pytest.mark.parametrize("weighting", WEIGHTINGS)
def test_every_weighting_recovers_a_fractional_delay(weighting):
    x = 31.7
    d = float(DI.delay_for_position(x))
    a, b = make_pair(d, snr_db=-3.0, seed=1)
    res = correlate_pair(a, b, DI, weighting=weighting)
    assert res.detected
    assert res.weighting == ("ht" if weighting == "auto" else weighting)
    # sub-sample: 1/8000 s is 0.08 m here; the peak is found to well under a sample
    assert res.delay_s == pytest.approx(d, abs=2e-5)
    assert res.distance_from_a_m == pytest.approx(x, abs=0.1)
    assert res.interval_m[0] <= x <= res.interval_m[1]
    assert res.distance_from_a_m + res.distance_from_b_m == pytest.approx(100.0)


def test_sign_convention_and_symmetry():
    for x in (20.0, 80.0):
        d = float(DI.delay_for_position(x))
        a, b = make_pair(d, seed=2)
        res = correlate_pair(a, b, DI)
        assert np.sign(res.delay_s) == np.sign(x - 50.0)  # near A: arrives at A first, delay < 0
        assert res.distance_from_a_m == pytest.approx(x, abs=0.1)
        swapped = correlate_pair(b, a, DI)
        assert swapped.delay_s == pytest.approx(-res.delay_s, abs=2e-5)


def test_start_times_give_sub_sample_absolute_delays():
    # B started 0.7312345 s after A (not a whole number of samples): the absolute delay is found
    x = 63.3
    d = float(DI.delay_for_position(x))
    a, b = make_pair(d, seed=3, start_offset_s=0.7312345)
    res = correlate_pair(a, b, DI)
    assert res.start_offset_s != 0.0 and abs(res.start_offset_s) <= 0.5 / FS + 1e-9
    assert res.delay_s == pytest.approx(d, abs=2e-5)
    assert res.distance_from_a_m == pytest.approx(x, abs=0.1)


def test_unknown_start_time_warns_and_assumes_simultaneous():
    d = float(DI.delay_for_position(40.0))
    a, b = make_pair(d, seed=4)
    b.start_time = None
    with pytest.warns(AcousticWarning, match="start time of B unknown"):
        res = correlate_pair(a, b, DI)
    assert res.distance_from_a_m == pytest.approx(40.0, abs=0.1)
    assert any("unknown" in w for w in res.warnings)


def test_recordings_that_do_not_overlap_are_an_error():
    a, b = make_pair(0.0, seed=5)
    b.start_time = T0 + timedelta(hours=1)
    with pytest.raises(RecordingError, match="do not overlap in time"):
        correlate_pair(a, b, DI)


def test_short_overlap_is_an_error():
    a, b = make_pair(0.0, seed=5, dur=3.0)
    b.start_time = T0 + timedelta(seconds=2.5)
    with pytest.raises(RecordingError, match="overlap for 0.50 s"):
        correlate_pair(a, b, DI)


def test_different_lengths_use_the_overlap(recwarn):
    d = float(DI.delay_for_position(70.0))
    a, b = make_pair(d, seed=6, dur=12.0)
    b = b.with_samples(b.samples[: int(7.0 * FS)])
    res = correlate_pair(a, b, DI)
    assert res.duration_s == pytest.approx(7.0)
    assert res.distance_from_a_m == pytest.approx(70.0, abs=0.15)
    assert any("using the 7.0 s both recorded" in str(w.message) for w in recwarn)


def test_different_sample_rates_are_resampled_with_a_warning():
    from scipy.signal import resample_poly

    d = float(DI.delay_for_position(35.0))
    a, b = make_pair(d, seed=7, fs=16000.0)
    b = b.with_samples(resample_poly(b.samples, 1, 2), sample_rate=8000.0)
    with pytest.warns(AcousticWarning, match="16000 Hz resampled to 8000 Hz"):
        res = correlate_pair(a, b, DI)
    assert res.sample_rate_hz == 8000.0
    assert res.distance_from_a_m == pytest.approx(35.0, abs=0.15)


def test_nan_silent_constant_recordings_are_errors():
    a, b = make_pair(0.0, seed=8, dur=4.0)
    bad = a.samples.copy()
    bad[100] = np.nan
    with pytest.raises(RecordingError, match="NaN"):
        correlate_pair(a.with_samples(bad), b, DI)
    with pytest.raises(RecordingError, match="silent"):
        correlate_pair(a, b.with_samples(np.zeros(b.n_samples)), DI)
    with pytest.raises(RecordingError, match="constant"):
        correlate_pair(a, b.with_samples(np.full(b.n_samples, 0.1)), DI)


def test_bad_parameters():
    a, b = make_pair(0.0, seed=9, dur=4.0)
    with pytest.raises(ParameterError, match="weighting must be one of auto, plain, phat"):
        correlate_pair(a, b, DI, weighting="eckart")
    with pytest.raises(ParameterError, match="band must satisfy 0 < LOW < HIGH"):
        correlate_pair(a, b, DI, band_hz=(500.0, 100.0))
    with pytest.raises(ParameterError, match="above half the sample rate"):
        correlate_pair(a, b, DI, band_hz=(100.0, 5000.0))
    with pytest.raises(ParameterError, match="max_peaks"):
        correlate_pair(a, b, DI, max_peaks=0)
    with pytest.raises(ParameterError, match="PipePath"):
        correlate_pair(a, b, {"segments": []})


def test_band_override_is_used():
    d = float(DI.delay_for_position(42.0))
    a, b = make_pair(d, seed=10)
    res = correlate_pair(a, b, DI, band_hz=(200.0, 800.0))
    assert res.band_hz == (200.0, 800.0)
    assert res.distance_from_a_m == pytest.approx(42.0, abs=0.1)


def test_coherent_band_follows_the_source():
    d = float(DI.delay_for_position(55.0))
    a, b = make_pair(d, seed=11, band=(300.0, 900.0), snr_db=-6.0)
    # plain weights correlate over the coherent band as found
    res = correlate_pair(a, b, DI, weighting="plain")
    assert res.coherent_band
    lo, hi = res.band_hz
    assert 250.0 <= lo <= 360.0 and 840.0 <= hi <= 950.0
    assert res.analysis_band_hz == res.band_hz
    # HT (auto) correlates over two octaves about the centre of a narrower coherent band (a leak's
    # noise is wider; the coherence weights keep the bins outside the source's band from adding
    # noise); the band reported, and the one the wave speeds are taken over, is the coherent one
    auto = correlate_pair(a, b, DI)
    assert auto.coherent_band and auto.weighting == "ht"
    assert auto.band_hz == pytest.approx(res.band_hz, rel=0.05)
    wide = auto.analysis_band_hz
    assert wide[0] <= auto.band_hz[0] and wide[1] >= auto.band_hz[1]
    assert wide[1] == pytest.approx(4.0 * wide[0])
    assert math.sqrt(wide[0] * wide[1]) == pytest.approx(math.sqrt(lo * hi), rel=0.05)
    assert abs(auto.distance_from_a_m - 55.0) < 1.0
    js = auto.to_json()
    assert js["band_hz"] == [round(auto.band_hz[0], 1), round(auto.band_hz[1], 1)]
    assert js["analysis_band_hz"] == [round(wide[0], 1), round(wide[1], 1)]


def test_independent_noise_gives_no_detection():
    rng = np.random.default_rng(12)
    detections = 0
    for i in range(6):
        a = Recording(0.1 * rng.standard_normal(int(10 * FS)), FS, start_time=T0)
        b = Recording(0.1 * rng.standard_normal(int(10 * FS)), FS, start_time=T0)
        res = correlate_pair(a, b, DI)
        detections += res.detected
        if not res.detected:
            assert res.distance_from_a_m is None and res.interval_m is None and res.peaks == []
    assert detections == 0


def test_peak_at_the_edge_is_noise_from_outside_the_pair():
    # a source beyond B: it reaches B first and then A, delay = +T(D)
    t_d = DI.max_delay_s()
    a, b = make_pair(t_d, seed=13)
    with pytest.warns(AcousticWarning, match="noise from outside the pair, beyond B"):
        res = correlate_pair(a, b, DI)
    assert not res.detected
    assert res.distance_from_a_m is None
    assert res.outside_peaks and res.outside_peaks[0]["side"] == "beyond_b"


def test_leak_found_next_to_an_outside_source():
    x = 37.0
    d = float(DI.delay_for_position(x))
    t_d = DI.max_delay_s()

    def outside(t, rng):
        n = t.size
        m = n + int(2 * FS)
        f, s = _band_noise(rng, m, FS, (100.0, 1500.0))
        ea = np.fft.irfft(s * np.exp(-2j * np.pi * f * (0.5 - t_d)), m)[:n]  # beyond A: A first
        eb = np.fft.irfft(s * np.exp(-2j * np.pi * f * 0.5), m)[:n]
        return 0.7 * ea, 0.7 * eb

    a, b = make_pair(d, seed=14, extra=outside)
    res = correlate_pair(a, b, DI)
    assert res.detected
    assert res.distance_from_a_m == pytest.approx(x, abs=0.15)
    assert [p["side"] for p in res.outside_peaks] == ["beyond_a"]


def test_mains_hum_is_notched_and_creates_no_false_peak():
    d = float(DI.delay_for_position(66.0))

    def hum(t, rng):
        tone = sum(np.cos(2 * np.pi * 50.0 * k * t + rng.uniform(0, 6.3)) / k for k in (1, 2, 3, 5))
        return 3.0 * tone, 3.0 * np.roll(tone, 17)  # strong, coherent, with its own phase at B

    a, b = make_pair(d, seed=15, snr_db=-6.0, extra=hum)
    res = correlate_pair(a, b, DI)
    assert any(abs(f - 50.0) < 2 for f in res.tonal_lines_hz)
    assert any(abs(f - 150.0) < 2 for f in res.tonal_lines_hz)
    assert res.detected and res.distance_from_a_m == pytest.approx(66.0, abs=0.15)
    assert len(res.peaks) == 1  # no periodic side peaks 20 ms apart


def test_transient_bursts_do_not_dominate():
    # loud knocks at sensor B only (traffic, a valve being operated): robust averaging leaves
    # those frames out
    d = float(DI.delay_for_position(28.0))

    def knocks(t, rng):
        eb = np.zeros_like(t)
        for t0 in (1.5, 4.0, 7.2, 9.9):
            env = np.exp(-0.5 * ((t - t0) / 0.15) ** 2)
            eb += 60.0 * env * rng.standard_normal(t.size)
        return np.zeros_like(t), eb

    a, b = make_pair(d, seed=16, snr_db=-8.0, extra=knocks)
    res = correlate_pair(a, b, DI)
    assert res.frames_rejected_fraction > 0.05
    assert res.detected and res.distance_from_a_m == pytest.approx(28.0, abs=0.3)
    plain = correlate_pair(a, b, DI, robust=False)
    assert plain.frames_rejected_fraction == 0.0
    assert res.peak_snr_db > (plain.peak_snr_db or 0.0)


def test_two_sources_are_both_reported_strongest_first():
    x1, x2 = 30.0, 72.0
    d2 = float(DI.delay_for_position(x2))

    def second(t, rng):
        n = t.size
        m = n + int(2 * FS)
        f, s = _band_noise(rng, m, FS, (100.0, 1500.0))
        ea = np.fft.irfft(s * np.exp(-2j * np.pi * f * (0.5 + d2)), m)[:n]
        eb = np.fft.irfft(s * np.exp(-2j * np.pi * f * 0.5), m)[:n]
        return 0.5 * ea, 0.5 * eb

    a, b = make_pair(float(DI.delay_for_position(x1)), seed=17, extra=second)
    res = correlate_pair(a, b, DI)
    assert len(res.peaks) >= 2
    assert res.peaks[0]["distance_from_a_m"] == pytest.approx(x1, abs=0.2)
    assert res.peaks[1]["distance_from_a_m"] == pytest.approx(x2, abs=0.2)
    assert res.peaks[0]["strength"] > res.peaks[1]["strength"]


def test_multi_segment_position_uses_piecewise_travel_time():
    path = PipePath([PipeSegment("pvc", 40.0), PipeSegment("ductile_iron", 60.0)])
    for x in (25.0, 70.0):
        d = float(path.delay_for_position(x, band_hz=(100.0, 1500.0)))
        a, b = make_pair(d, seed=18)
        res = correlate_pair(a, b, path, band_hz=(100.0, 1500.0))
        assert res.distance_from_a_m == pytest.approx(x, abs=0.1)
        assert len(res.segment_speeds_m_s) == 2
        # a straight-line (single speed) conversion would be far off
        c = res.wave_speed_m_s
        assert abs((100.0 - c * res.delay_s * -1.0) / 2.0 - x) > 2.0 or abs(x - 50.0) < 1.0


def test_interval_grows_away_from_mid_span():
    path = PipePath.uniform(100.0, "pvc")
    widths = []
    for x in (50.0, 15.0):
        d = float(path.delay_for_position(x, band_hz=(100.0, 1500.0)))
        a, b = make_pair(d, seed=19)
        res = correlate_pair(a, b, path, band_hz=(100.0, 1500.0))
        widths.append(res.interval_m[1] - res.interval_m[0])
    assert widths[1] > 3 * widths[0]  # the wave-speed uncertainty grows with the offset (physics.md 3.7)


def test_json_has_the_contract_fields():
    d = float(DI.delay_for_position(23.4))
    a, b = make_pair(d, seed=20)
    out = correlate_pair(a, b, DI).to_json()
    for key in ("detected", "distance_from_a_m", "distance_from_b_m", "interval_m", "delay_s", "wave_speed_m_s",
                "confidence", "band_hz", "peaks", "warnings"):
        assert key in out
    assert out["detected"] is True and 0.0 <= out["confidence"] <= 1.0
    assert set(out["peaks"][0]) >= {"distance_from_a_m", "delay_s", "strength"}
    assert out["wave_speed_m_s"] == pytest.approx(DI.mean_speed_m_s(out["band_hz"]), rel=0.01)


def test_correlogram_arrays_for_plots_and_fusion():
    d = float(DI.delay_for_position(60.0))
    a, b = make_pair(d, seed=21)
    res = correlate_pair(a, b, DI)
    cg = res.correlogram
    assert cg.lags_s.shape == cg.values.shape == cg.envelope.shape == cg.positions_m.shape
    i = int(np.argmax(cg.envelope))
    assert cg.positions_m[i] == pytest.approx(60.0, abs=0.2)
    assert cg.coherence.shape == cg.freqs_hz.shape
    assert np.all(np.diff(cg.positions_m) >= 0)


def test_measure_velocity_out_of_bracket_and_in_bracket():
    c = 1284.4
    d_m = 120.0
    a, b = make_pair(-d_m / c, seed=22)  # source beyond A: arrives at A first
    res = measure_velocity(a, b, d_m, source="beyond_a", speed_range_m_s=(600.0, 1600.0))
    assert res.wave_speed_m_s == pytest.approx(c, rel=0.002)
    assert res.interval_m_s[0] < c < res.interval_m_s[1]
    assert '"wave_speed_m_s"' in res.feed_back
    x = 20.0
    a, b = make_pair((2 * x - d_m) / c, seed=23)
    res = measure_velocity(a, b, d_m, source="at", source_m=x, speed_range_m_s=(600.0, 1600.0))
    assert res.wave_speed_m_s == pytest.approx(c, rel=0.003)
    with pytest.raises(RecordingError, match="does not fit a source beyond B"):
        measure_velocity(a, b, d_m, source="beyond_b", speed_range_m_s=(600.0, 1600.0))


def test_measure_velocity_bad_parameters():
    a, b = make_pair(0.0, seed=24, dur=4.0)
    with pytest.raises(ParameterError, match="distance_m must be a positive"):
        measure_velocity(a, b, 0.0)
    with pytest.raises(ParameterError, match="source must be one of"):
        measure_velocity(a, b, 50.0, source="inside")
    with pytest.raises(ParameterError, match="too near mid-span"):
        measure_velocity(a, b, 50.0, source="at", source_m=24.0)
    with pytest.raises(ParameterError, match="needs source_m"):
        measure_velocity(a, b, 50.0, source="at")
    with pytest.raises(ParameterError, match="speed_range_m_s"):
        measure_velocity(a, b, 50.0, speed_range_m_s=(50.0, 3000.0))


def test_pipe_errors_surface():
    with pytest.raises(PipeError, match="unknown material 'plastic'; known: pvc, pe"):
        PipePath.uniform(50.0, "plastic")
    with pytest.raises(PipeError, match="positive"):
        PipePath.uniform(0.0, "pvc")
    with pytest.raises(PipeError, match="outside what water in a pipe can carry"):
        PipePath.uniform(50.0, "pvc", speed_m_s=3000.0)


def test_frame_length_and_window_factors():
    assert choose_frame_length(240000, 8000.0, 0.1) == 4096  # 0.5 s for 2 Hz resolution
    assert choose_frame_length(240000, 8000.0, 0.3) == 16384  # 4 x the longest lag
    assert choose_frame_length(96000, 8000.0, 0.3) == 8192  # shortened to keep frames to average
    with pytest.raises(RecordingError, match="at least"):
        choose_frame_length(8000, 8000.0, 0.5)
    assert hann_lag_factor(0, 1024) == pytest.approx(1.0)
    assert hann_lag_factor(512, 1024) == pytest.approx(1.0 / 6.0)
    # the false-alarm probability and its threshold are inverse
    thr = significance_threshold(0.4, 300.0, 0.01)
    assert false_alarm_probability(thr, 0.4, 300.0) == pytest.approx(0.01, rel=1e-3)


def test_prepare_pair_trimmed_means_and_checks_cover_the_whole_recordings(rng):
    """The checks' sums give the mean of the common interval; NaN or silence outside it still refuses."""
    from acoustic.correlate._prepare import prepare_pair

    t0 = datetime(2026, 5, 1, 2, 0, tzinfo=timezone.utc)
    xa, xb = rng.standard_normal(8000) + 0.3, rng.standard_normal(9000) - 0.2
    a = Recording(xa, 1000.0, "A", start_time=t0, gain_db=6.0)
    b = Recording(xb, 1000.0, "B", start_time=t0 + timedelta(seconds=1.5))
    with pytest.warns(AcousticWarning, match="differ in length"):
        prep = prepare_pair(a, b)
    want = xa[1500:].astype(np.float32)
    want -= np.float32(np.mean(xa[1500:]))
    want *= np.float32(10.0 ** (-6.0 / 20.0))
    np.testing.assert_array_equal(prep.xa, want)
    np.testing.assert_array_equal(prep.xb, xb[:6500].astype(np.float32) - np.float32(np.mean(xb[:6500])))
    bad = xa.copy()
    bad[100] = np.nan  # before the common interval
    with pytest.raises(RecordingError, match="1 NaN/Inf"):
        prepare_pair(Recording(bad, 1000.0, "A", start_time=t0), b)
    with pytest.raises(RecordingError, match="constant"):
        prepare_pair(Recording(np.full(8000, 0.5), 1000.0, "A", start_time=t0), b)
