"""The physics simulator: delays, levels, SNR, confounders, clocks, seeds, bad parameters."""

import json
import math
import warnings
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from scipy import signal

from acoustic import AcousticWarning, ParameterError, PipeError
from acoustic.io import read_pipe, read_recording
from acoustic.pipe import PipePath, PipeSegment, material_names
from acoustic.simulate import CONFOUNDERS, NOISES, SimulatedPair, SimulatedRecording, simulate_pair, simulate_recording
from acoustic.simulate._propagation import grid_wavenumber

FS = 8000.0


def _band(truth, fs):
    lo, hi = truth["snr_band_hz"]
    return max(lo, 2.0), min(hi, 0.45 * fs)


def measured_delay_s(a, b, band_hz, max_lag_s):
    """Arrival at A minus arrival at B in absolute time, from a band-passed cross-correlation.

    The recordings' own start times (sidecars) convert the lag between the two sample
    streams into absolute time; the peak is refined by a parabola through three lags.
    """
    fs = a.sample_rate
    sos = signal.butter(4, band_hz, btype="band", fs=fs, output="sos")
    xa = signal.sosfiltfilt(sos, a.calibrated())
    xb = signal.sosfiltfilt(sos, b.calibrated())
    c = signal.correlate(xa, xb, mode="full", method="fft")
    lags = signal.correlation_lags(xa.size, xb.size, mode="full") / fs
    offset = (b.start_time - a.start_time).total_seconds()
    keep = np.flatnonzero(np.abs(lags - offset) <= max_lag_s)
    i = keep[np.argmax(c[keep])]
    y0, y1, y2 = c[i - 1], c[i], c[i + 1]
    frac = 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2)
    return (lags[i] + frac / fs) - offset


def _path_for(material):
    return PipePath([PipeSegment(material, 60.0 if material in ("pvc", "pe") else 150.0)])


# -- delays ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("material", material_names())
def test_pair_delay_matches_path_and_samples(material):
    path = _path_for(material)
    leak = 0.3 * path.length_m
    sim = simulate_pair(path, leak, sample_rate_hz=FS, duration_s=4.0, snr_db=40.0, seed=11)
    t = sim.truth
    one_sample = 1.0 / FS
    # truth = 2 T(x) - T(D) with the realised speeds (the path's own bookkeeping)
    book = float(path.delay_for_position(leak, speeds_m_s=t["speeds_m_s"]))
    assert abs(t["delay_s"] - book) < one_sample
    assert t["delay_s"] < 0  # nearer to A: arrives at A first
    # ...and that delay is in the samples (offset between the loggers taken from the start times)
    assert t["start_offset_s"] != 0.0
    meas = measured_delay_s(sim.a, sim.b, _band(t, FS), path.max_delay_s(speeds_m_s=t["speeds_m_s"]) * 1.3)
    assert abs(meas - t["delay_s"]) < one_sample, (meas, t["delay_s"])


def test_two_section_metal_pair_delay_and_interfaces():
    path = PipePath([PipeSegment("ductile_iron", 110.0), PipeSegment("cast_iron", 90.0)])
    for leak in (40.0, 150.0):  # in the first and in the second section
        sim = simulate_pair(path, leak, duration_s=4.0, snr_db=40.0, sensor_kind="accelerometer", seed=3)
        t = sim.truth
        assert len(t["speeds_m_s"]) == 2
        book = float(path.delay_for_position(leak, speeds_m_s=t["speeds_m_s"]))
        assert abs(t["delay_s"] - book) < 1.0 / FS
        meas = measured_delay_s(sim.a, sim.b, _band(t, FS), path.max_delay_s(speeds_m_s=t["speeds_m_s"]) * 1.3)
        assert abs(meas - t["delay_s"]) < 1.0 / FS
    assert (t["delay_s"] > 0) and t["distance_from_b_m"] == pytest.approx(50.0)


def test_realised_speeds_differ_from_nominal_realistically():
    path = _path_for("pvc")
    errs = []
    for seed in range(6):
        t = simulate_pair(path, 30.0, duration_s=1.0, snr_db=20.0, seed=seed).truth
        errs.append(t["nominal_speeds_m_s"][0] / t["speeds_m_s"][0] - 1.0)
        assert t["speed_error_rel"][0] == pytest.approx(errs[-1])
    errs = np.abs(errs)
    assert errs.max() > 0.005  # a tool assuming the table speed is off...
    assert errs.max() < 0.25  # ...by a realistic amount, not an absurd one


# -- levels and calibration -----------------------------------------------------------------------------
def test_gain_round_trip_and_headroom(tmp_path):
    sim = simulate_pair(_path_for("ductile_iron"), 50.0, duration_s=2.0, seed=4, start_offset_s=0.25)
    for rec in (sim.a, sim.b):
        assert 0.3 < np.max(np.abs(rec.samples)) <= 0.5  # peak near -6 dBFS
    sim.write(tmp_path)
    for name, rec in (("A", sim.a), ("B", sim.b)):
        back = read_recording(tmp_path / f"{name}.wav")
        side = json.loads((tmp_path / f"{name}.json").read_text())
        assert side["gain_db"] == rec.gain_db == sim.truth[f"gain_db_{name.lower()}"]
        assert side["units"] == "Pa"
        # calibrated Pa survive PCM16 to within the quantisation step
        step = 2.0**-15 / 10 ** (rec.gain_db / 20)
        assert np.max(np.abs(back.calibrated() - rec.calibrated())) <= step
    # a fixed gain is honoured; calibrated values do not depend on it
    fixed = simulate_pair(_path_for("ductile_iron"), 50.0, duration_s=2.0, seed=4, start_offset_s=0.25,
                          gain_db=sim.a.gain_db - 6.0)
    assert fixed.a.gain_db == pytest.approx(sim.a.gain_db - 6.0)
    np.testing.assert_allclose(fixed.a.calibrated(), sim.a.calibrated(), rtol=1e-9, atol=1e-12)


def test_gain_that_clips_warns():
    with pytest.warns(AcousticWarning, match="clips"):
        sim = simulate_pair(_path_for("steel"), 50.0, duration_s=1.0, seed=4, gain_db=120.0)
    assert np.max(np.abs(sim.a.samples)) < 1.0


@pytest.mark.parametrize("material", ["ductile_iron", "pvc"])
def test_near_leak_is_louder_than_far_leak(material):
    kw = dict(material=material, duration_s=2.0, seed=21, leak_level_db=20.0)
    near = simulate_recording(leak_distance_m=10.0, **kw)
    far = simulate_recording(leak_distance_m=200.0, **kw)
    assert near.truth["leak_level_at_sensor_db"] > far.truth["leak_level_at_sensor_db"] + 0.5
    rms = [float(np.sqrt(np.mean(s.recording.calibrated() ** 2))) for s in (near, far)]
    assert rms[0] > rms[1]
    assert near.truth["label"] == far.truth["label"] == "leak"
    # the background has an absolute level, identical for the same seed
    assert near.truth["background_level_at_sensor_db"] == pytest.approx(far.truth["background_level_at_sensor_db"])


def test_accelerometer_is_omega_squared_wall_compliance_times_pressure():
    kw = dict(leak_distance_m=30.0, material="ductile_iron", duration_s=2.0, seed=8, keep_components=True)
    hyd = simulate_recording(sensor_kind="hydrophone", **kw)
    acc = simulate_recording(sensor_kind="accelerometer", **kw)
    assert acc.truth["units"] == "m/s^2" and acc.recording.extra["units"] == "m/s^2"
    p = hyd.truth["realised_properties"]
    compliance = p["mean_radius_m"] ** 2 / (p["youngs_modulus_pa"] * p["wall_m"])  # m/Pa
    f, s_hyd = signal.welch(hyd.components["leak"], FS, nperseg=1024)
    _, s_acc = signal.welch(acc.components["leak"], FS, nperseg=1024)
    sel = (f > 100) & (f < 1000)
    ratio = np.sqrt(s_acc[sel] / s_hyd[sel])
    expected = (2 * np.pi * f[sel]) ** 2 * compliance
    np.testing.assert_allclose(ratio, expected, rtol=0.02)


@pytest.mark.parametrize("snr_db", [-10.0, 0.0, 15.0])
def test_snr_is_as_asked(snr_db):
    sim = simulate_pair(_path_for("cast_iron"), 60.0, duration_s=10.0, snr_db=snr_db, seed=5, keep_components=True)
    lo, hi = sim.truth["snr_band_hz"]
    for key in ("a", "b"):
        comp = sim.components[key]
        f, s_leak = signal.welch(comp["leak"], FS, nperseg=4096)
        _, s_bg = signal.welch(comp["background"], FS, nperseg=4096)
        sel = (f >= lo) & (f <= hi)
        got = 10 * np.log10(s_leak[sel].mean() / s_bg[sel].mean())
        assert got == pytest.approx(snr_db, abs=1.0)


def test_band_is_where_leak_exceeds_background():
    sim = simulate_pair(_path_for("pvc"), 20.0, duration_s=2.0, snr_db=0.0, seed=2)
    t = sim.truth
    assert t["band_hz"] is not None
    assert t["snr_band_hz"][0] <= t["band_hz"][0] < t["band_hz"][1] <= t["snr_band_hz"][1]
    assert t["band_hz"][1] < 400.0  # plastic keeps only the low end of the leak noise
    low = simulate_pair(_path_for("pvc"), 20.0, duration_s=2.0, snr_db=-50.0, seed=2)
    assert low.truth["band_hz"] is None


# -- confounders ------------------------------------------------------------------------------------------
def _psd_db(x, fs=FS, nperseg=8192):
    f, s = signal.welch(x, fs, nperseg=nperseg)
    return f, 10 * np.log10(s)


@pytest.mark.parametrize("hum_hz", [50.0, 60.0])
def test_hum_lines_at_both_loggers(hum_hz):
    sim = simulate_pair(_path_for("ductile_iron"), 50.0, duration_s=4.0, snr_db=10.0, seed=1,
                        confounders=["hum"], hum_hz=hum_hz, keep_components=True)
    d = sim.truth["confounder_details"]["hum"]
    assert d["frequency_hz"] == pytest.approx(hum_hz, abs=0.05)

    def line_db(x, freq):
        f, p = _psd_db(x)
        i = np.argmin(np.abs(f - freq))
        return p[i] - np.median(np.r_[p[i - 30:i - 5], p[i + 5:i + 30]])

    for rec, key in ((sim.a, "a"), (sim.b, "b")):
        assert line_db(rec.calibrated(), d["frequency_hz"]) > 10.0  # a narrow line in the recording
        for h in (1, 2, 3):  # and harmonics in the pickup itself
            assert line_db(sim.components[key]["hum"], h * d["frequency_hz"]) > 30.0
    # the hum phases differ between the loggers (different pickup)
    assert d["loggers"][0]["phases_rad"] != d["loggers"][1]["phases_rad"]


@pytest.mark.parametrize("name", ["pump", "prv"])
def test_outside_source_peaks_at_the_edge_lag(name):
    path = _path_for("ductile_iron")
    sim = simulate_pair(path, 50.0, duration_s=4.0, snr_db=10.0, seed=7, confounders=[name], keep_components=True)
    d = sim.truth["confounder_details"][name]
    t_d = path.max_delay_s(speeds_m_s=sim.truth["speeds_m_s"])
    assert d["delay_s"] == pytest.approx(-t_d if d["side"] == "A" else t_d, rel=0.02)
    assert d["position_m"] < 0 or d["position_m"] > path.length_m
    a = sim.a.with_samples(sim.components["a"][name])
    b = sim.b.with_samples(sim.components["b"][name])
    meas = measured_delay_s(a, b, (20.0, 1500.0), 1.3 * t_d)
    assert meas == pytest.approx(d["delay_s"], abs=2.0 / FS)
    if name == "pump":  # tonal: shaft / blade-pass lines
        f, p = _psd_db(sim.components["a"]["pump"])
        i = np.argmin(np.abs(f - d["blade_pass_hz"]))
        assert p[i] > np.median(p[(f > 10) & (f < 2000)]) + 10.0


def test_consumption_is_intermittent_and_between_the_sensors():
    path = _path_for("cast_iron")
    sim = simulate_pair(path, 50.0, duration_s=20.0, seed=9, confounders=["consumption"], keep_components=True)
    d = sim.truth["confounder_details"]["consumption"]
    assert 0.0 < d["position_m"] < path.length_m
    assert abs(d["delay_s"]) < path.max_delay_s(speeds_m_s=sim.truth["speeds_m_s"])
    x = sim.components["a"]["consumption"]
    block = int(0.25 * FS)
    rms = np.sqrt(np.mean(x[: x.size // block * block].reshape(-1, block) ** 2, axis=1))
    centres = (np.arange(rms.size) + 0.5) * 0.25
    inside = np.zeros(rms.size, bool)
    far = np.ones(rms.size, bool)
    for lo, hi in d["on_intervals_s"]:
        inside |= (centres > lo + 0.5) & (centres < hi - 0.2)
        far &= (centres < lo - 0.5) | (centres > hi + 0.5)
    assert inside.any() and far.any()
    assert np.median(rms[inside]) > 10 * np.median(rms[far])  # > 20 dB on/off contrast


def test_second_leak_has_its_own_delay():
    path = _path_for("steel")
    sim = simulate_pair(path, 30.0, duration_s=4.0, snr_db=30.0, seed=12, second_leak_m=110.0,
                        second_leak_rel_db=-3.0, keep_components=True)
    t = sim.truth
    assert "second_leak" in t["confounders"] and t["second_leak_m"] == 110.0
    assert t["second_delay_s"] > 0 > t["delay_s"]
    a = sim.a.with_samples(sim.components["a"]["second_leak"])
    b = sim.b.with_samples(sim.components["b"]["second_leak"])
    meas = measured_delay_s(a, b, (20.0, 2000.0), 1.3 * path.max_delay_s(speeds_m_s=t["speeds_m_s"]))
    assert meas == pytest.approx(t["second_delay_s"], abs=1.0 / FS)
    random_pos = simulate_pair(path, 30.0, duration_s=1.0, seed=12, confounders=["second_leak"]).truth
    assert abs(random_pos["second_leak_m"] - 30.0) >= 0.1 * path.length_m


def test_traffic_is_transient_and_independent():
    sim = simulate_pair(_path_for("pe"), 30.0, duration_s=20.0, seed=14, confounders=["traffic"], keep_components=True)
    ta, tb = sim.components["a"]["traffic"], sim.components["b"]["traffic"]
    block = int(0.5 * FS)
    rms = np.sqrt(np.mean(ta[: ta.size // block * block].reshape(-1, block) ** 2, axis=1))
    assert rms.max() > 4 * np.median(rms)  # transient passes
    cc = signal.correlate(ta, tb, mode="full", method="fft") / (np.linalg.norm(ta) * np.linalg.norm(tb))
    assert np.max(np.abs(cc)) < 0.3  # not the same event at both loggers
    f, p = _psd_db(ta)
    assert f[np.argmax(p)] < 100.0  # low-frequency rumble


def test_confounders_do_not_change_the_leak_or_the_pipe():
    path = _path_for("ductile_iron")
    base = simulate_pair(path, 40.0, duration_s=2.0, seed=5, keep_components=True)
    more = simulate_pair(path, 40.0, duration_s=2.0, seed=5, confounders=list(CONFOUNDERS), keep_components=True)
    np.testing.assert_array_equal(base.components["a"]["leak"], more.components["a"]["leak"])
    assert base.truth["delay_s"] == more.truth["delay_s"]
    assert set(more.truth["confounder_details"]) == set(CONFOUNDERS)


# -- clocks, seeds, files -----------------------------------------------------------------------------------
def test_start_times_exact_to_the_microsecond(tmp_path):
    start = datetime(2026, 11, 3, 2, 0, 0, 123456, tzinfo=timezone.utc)
    sim = simulate_pair(_path_for("pvc"), 20.0, duration_s=1.0, seed=3, start_time=start, start_offset_s=1.234567)
    sim.write(tmp_path)
    a, b = read_recording(tmp_path / "A.wav"), read_recording(tmp_path / "B.wav")
    assert a.start_time == start
    assert b.start_time - a.start_time == timedelta(microseconds=1234567)
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert truth["start_offset_s"] == 1.234567
    assert truth["start_time_b"] == "2026-11-03T02:00:01.358023Z"
    # a random offset is within +-2 s, exact in microseconds in both sidecars and the truth
    rnd = simulate_pair(_path_for("pvc"), 20.0, duration_s=1.0, seed=4)
    off = rnd.truth["start_offset_s"]
    assert abs(off) <= 2.0 and off == round(off * 1e6) / 1e6
    assert (rnd.b.start_time - rnd.a.start_time) == timedelta(microseconds=round(off * 1e6))
    assert simulate_pair(_path_for("pvc"), 20.0, duration_s=1.0, seed=4, start_offset_s=0.0).b.start_time == \
        rnd.a.start_time


def test_write_produces_the_interchange_files(tmp_path):
    path = PipePath([PipeSegment("ductile_iron", 100.0), PipeSegment("cast_iron", 80.0)])
    sim = simulate_pair(path, 120.0, duration_s=1.0, seed=6, sensor_kind="accelerometer")
    assert isinstance(sim, SimulatedPair)
    files = sim.write(tmp_path / "out")
    for name in ("A.wav", "A.json", "B.wav", "B.json", "pipe.json", "truth.json"):
        assert (tmp_path / "out" / name).is_file()
    back = read_pipe(files["pipe"])
    assert [s.material for s in back.segments] == ["ductile_iron", "cast_iron"]
    assert back.length_m == 180.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # complete sidecars: no default-value warnings
        a = read_recording(files["A"])
    assert a.sensor_kind == "accelerometer" and a.n_samples == 8000


def test_seeds_reproduce():
    kw = dict(duration_s=1.0, confounders=list(CONFOUNDERS))
    s1 = simulate_pair(_path_for("pe"), 30.0, seed=42, **kw)
    s2 = simulate_pair(_path_for("pe"), 30.0, seed=42, **kw)
    s3 = simulate_pair(_path_for("pe"), 30.0, seed=43, **kw)
    np.testing.assert_array_equal(s1.a.samples, s2.a.samples)
    np.testing.assert_array_equal(s1.b.samples, s2.b.samples)
    assert s1.truth == s2.truth
    assert not np.array_equal(s1.a.samples, s3.a.samples)
    fresh = simulate_pair(_path_for("pe"), 30.0, duration_s=1.0)
    again = simulate_pair(_path_for("pe"), 30.0, duration_s=1.0, seed=fresh.truth["seed"])
    np.testing.assert_array_equal(fresh.a.samples, again.a.samples)
    r1 = simulate_recording(noises=list(NOISES[:-1]), duration_s=1.0, seed=5)
    r2 = simulate_recording(noises=list(NOISES[:-1]), duration_s=1.0, seed=5)
    np.testing.assert_array_equal(r1.recording.samples, r2.recording.samples)


def test_truth_is_json_and_complete():
    sim = simulate_pair(_path_for("pvc"), 25.0, duration_s=1.0, seed=1, confounders=list(CONFOUNDERS))
    text = json.dumps(sim.truth)
    assert "NaN" not in text
    for key in ("leak_m", "length_m", "delay_s", "speeds_m_s", "nominal_speeds_m_s", "second_leak_m",
                "second_delay_s", "confounders", "snr_db", "sensor_kind", "sample_rate_hz", "start_offset_s",
                "seed", "band_hz"):
        assert key in sim.truth


@pytest.mark.parametrize("fs", [1000.0, 48000.0])
def test_sample_rates(fs):
    sim = simulate_pair(_path_for("cast_iron"), 40.0, sample_rate_hz=fs, duration_s=1.0, seed=2, snr_db=30.0)
    assert sim.a.sample_rate == fs and sim.a.n_samples == int(fs)
    assert sim.truth["snr_band_hz"][1] <= fs / 2
    assert np.all(np.isfinite(sim.a.samples))


# -- single recordings ------------------------------------------------------------------------------------------
def test_single_recording_labels_and_files(tmp_path):
    leak = simulate_recording(leak_distance_m=15.0, material="pvc", duration_s=2.0, seed=1, noises=["traffic"])
    assert isinstance(leak, SimulatedRecording)
    assert leak.truth["label"] == "leak" and leak.truth["material"] == "pvc"
    quiet = simulate_recording(duration_s=2.0, seed=1)
    assert quiet.truth["label"] == "quiet" and quiet.truth["leak_distance_m"] is None
    pump = simulate_recording(duration_s=2.0, seed=1, noises=["pump"])
    assert pump.truth["label"] == "pump"
    files = leak.write(tmp_path / "leak_pvc.wav")
    assert files["sidecar"].name == "leak_pvc.json" and files["truth"].name == "leak_pvc.truth.json"
    back = read_recording(files["audio"])
    assert back.sensor_id == "L001"
    assert json.loads(files["truth"].read_text())["label"] == "leak"
    in_dir = pump.write(tmp_path / "d")
    assert in_dir["audio"] == tmp_path / "d" / "recording.wav" and (tmp_path / "d" / "truth.json").is_file()


def test_single_recording_snr_and_noises():
    sim = simulate_recording(leak_distance_m=50.0, material="cast_iron", duration_s=4.0, seed=3, snr_db=6.0,
                             keep_components=True)
    assert sim.truth["snr_db"] == pytest.approx(6.0, abs=1e-6)
    lo, hi = sim.truth["band_hz"]
    f, s_leak = signal.welch(sim.components["leak"], FS, nperseg=2048)
    _, s_bg = signal.welch(sim.components["background"], FS, nperseg=2048)
    sel = (f >= lo) & (f <= hi)
    assert 10 * np.log10(s_leak[sel].mean() / s_bg[sel].mean()) == pytest.approx(6.0, abs=1.0)
    noisy = simulate_recording(duration_s=10.0, seed=3, noises=["consumption", "prv", "hum"], keep_components=True)
    d = noisy.truth["noise_details"]
    assert set(d) == {"consumption", "prv", "hum"}
    assert d["consumption"]["on_intervals_s"] and d["prv"]["distance_m"] > 0
    assert noisy.truth["label"] in ("consumption", "prv", "hum")


def test_wavenumber_interpolation_matches_the_model():
    seg = PipeSegment("pe", 100.0)
    props = seg.properties()
    f = np.linspace(0.0, 4000.0, 20001)
    k = grid_wavenumber(props, f)
    probe = np.array([7.3, 55.5, 123.4, 987.6, 3210.0])
    exact = props.wavenumber(probe)
    np.testing.assert_allclose(np.interp(probe, f, k.real), exact.real, rtol=2e-4)
    np.testing.assert_allclose(np.interp(probe, f, k.imag), exact.imag, rtol=2e-3)
    assert np.all(k.imag <= 0)


# -- bad parameters ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw, match", [
    (dict(leak_m=70.0), "leak_m 70 m is outside the path"),
    (dict(leak_m=-1.0), "leak_m -1 m is outside the path"),
    (dict(leak_m=float("nan")), "leak_m must be finite"),
    (dict(duration_s=-2.0), "duration_s must be in 1..3600"),
    (dict(duration_s=0.5), "duration_s must be in 1..3600"),
    (dict(sample_rate_hz=500.0), "sample_rate_hz must be in 1000..96000"),
    (dict(snr_db=float("nan")), "snr_db must be finite"),
    (dict(snr_db=float("inf")), "snr_db must be finite"),
    (dict(confounders=["hum", "wind"]), "unknown confounder 'wind'"),
    (dict(sensor_kind="geophone"), "sensor_kind must be one of"),
    (dict(second_leak_m=99.0), "second_leak_m 99 m is outside the path"),
    (dict(start_offset_s=float("nan")), "start_offset_s must be finite"),
    (dict(hum_hz=0.0), "hum_hz must be in"),
    (dict(hum_hz=450.0, sample_rate_hz=1000.0), "hum_hz 450 Hz is too close to the Nyquist"),
    (dict(seed=-3), "seed must be a non-negative integer"),
    (dict(gain_db=float("nan")), "gain_db must be finite"),
    (dict(start_time=datetime(2026, 1, 1)), "start_time must be timezone-aware"),
    (dict(start_time="yesterday"), "start_time 'yesterday' is not an ISO-8601"),
    (dict(leak_level_db="loud"), "leak_level_db must be a number"),
])
def test_pair_bad_parameters(kw, match):
    args = dict(leak_m=20.0)
    args.update(kw)
    with pytest.raises(ParameterError, match=match):
        simulate_pair(_path_for("pvc"), args.pop("leak_m"), duration_s=args.pop("duration_s", 1.0), **args)


def test_pair_needs_a_pipe_path():
    with pytest.raises(ParameterError, match="path must be an acoustic.pipe.PipePath"):
        simulate_pair({"segments": []}, 10.0)


@pytest.mark.parametrize("kw, exc, match", [
    (dict(noises=["rain"]), ParameterError, "unknown noise 'rain'"),
    (dict(noises=["quiet", "pump"]), ParameterError, "'quiet' .* cannot be combined"),
    (dict(snr_db=3.0), ParameterError, "snr_db needs a leak"),
    (dict(leak_distance_m=-5.0), ParameterError, "leak_distance_m must be in 0..5000"),
    (dict(leak_distance_m=10.0, material="unobtainium"), PipeError, "unknown material 'unobtainium'"),
    (dict(leak_distance_m=10.0, diameter_mm=-1.0), PipeError, "diameter_mm must be between"),
    (dict(sensor_id=""), ParameterError, "sensor_id must be a non-empty string"),
    (dict(duration_s=float("inf")), ParameterError, "duration_s must be finite"),
])
def test_recording_bad_parameters(kw, exc, match):
    with pytest.raises(exc, match=match):
        simulate_recording(**{"duration_s": 1.0, **kw})


def test_confounder_lists_are_the_documented_ones():
    assert CONFOUNDERS == ("hum", "pump", "prv", "consumption", "second_leak", "traffic")
    assert NOISES == ("traffic", "pump", "prv", "consumption", "hum", "quiet")
    assert math.isfinite(simulate_pair(_path_for("pvc"), 0.0, duration_s=1.0, seed=1).truth["delay_s"])


def test_interface_transmission_conserves_energy():
    from acoustic.simulate._propagation import realise_path

    f = np.linspace(0.0, 4000.0, 2049)
    path = PipePath([PipeSegment("pvc", 40.0), PipeSegment("ductile_iron", 60.0), PipeSegment("ductile_iron", 30.0)])
    real = realise_path(path, np.random.default_rng(1), f)
    fwd, back = real.transmission(0, 1), real.transmission(1, 0)
    sel = (f > 10) & (f < 1000)
    # pressure rises entering the stiffer (higher-impedance) iron and falls leaving it...
    assert np.all(fwd[sel] > 1.0) and np.all(back[sel] < 1.0)
    # ...and forward x backward = the power transmission 4 Z1 Z2 / (Z1 + Z2)^2 < 1 (a loss)
    assert np.all(fwd[sel] * back[sel] < 0.9)
    # two realisations of the same material hardly reflect
    assert np.allclose(real.transmission(1, 2)[sel], 1.0, atol=0.05)
    # the transfer across the interface carries it
    h = real.transfer(20.0, 70.0)
    plain = np.abs(np.exp(-1j * real.phase_exponent(real.pieces(20.0, 70.0))))
    np.testing.assert_allclose(np.abs(h)[sel], plain[sel] * fwd[sel], rtol=1e-12)


def test_measured_wave_speed_override_is_respected():
    path = PipePath([PipeSegment("pvc", 80.0, wave_speed_m_s=420.0)])
    speeds = [simulate_pair(path, 30.0, duration_s=1.0, seed=s).truth["speeds_m_s"][0] for s in range(4)]
    assert np.all(np.abs(np.array(speeds) / 420.0 - 1.0) < 0.08)
