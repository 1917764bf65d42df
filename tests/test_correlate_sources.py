"""Several sources between the sensors: the band-selection smoothing, and intermittent sources
(taps) told from steady ones (leaks)."""

import dataclasses
import math
import warnings

import numpy as np
import pytest

from acoustic.correlate import correlate_pair
from acoustic.correlate._analysis import (
    _STEADY_MIN_FRACTION, _STEADY_PFA, _frame_shares, _intermittency, _steady_part,
)
from acoustic.correlate._gcc import (
    band_smoothing_bins, build_correlogram, moving_sum, select_band, smoothed_coherence, weighting_function,
)
from acoustic.correlate._spectra import cross_spectrum
from acoustic.pipe import PipePath
from acoustic.simulate import simulate_pair

FS = 4000.0


def test_moving_sum_with_a_half_width_per_point(rng):
    x = rng.standard_normal(300)
    half = rng.integers(0, 12, size=300)
    ref = np.array([x[max(0, i - h):i + h + 1].sum() for i, h in enumerate(half)])
    assert np.allclose(moving_sum(x, half), ref)


def test_band_smoothing_is_constant_q_between_the_floor_and_the_cap():
    class CS:  # only what band_smoothing_bins reads
        freqs_hz = np.arange(4097) * 0.5
        df_hz = 0.5
    half = band_smoothing_bins(CS, 5)
    f = CS.freqs_hz
    assert np.all(half[f < 40.0] == 5)  # floor: the weights' smoothing
    assert half[np.searchsorted(f, 100.0)] == 12  # 6 % of 100 Hz = 6 Hz = 12 bins
    assert np.all(half[f > 200.0] == 20)  # cap: 10 Hz
    cs = _pair_spectrum(np.random.default_rng(3), gate=None)[0]
    # a per-bin width equal everywhere is the scalar smoothing, for the coherence and the band
    same = np.full(cs.freqs_hz.size, 4)
    assert np.allclose(smoothed_coherence(cs, same), smoothed_coherence(cs, 4))
    notch = np.zeros(cs.freqs_hz.size, dtype=bool)
    b_scalar = select_band(cs, smoothed_coherence(cs, 4), 4, notch, 5.0, 1800.0)
    b_array = select_band(cs, smoothed_coherence(cs, same), same, notch, 5.0, 1800.0)
    assert b_scalar[0] is not None and b_scalar[0] == b_array[0]
    assert np.array_equal(b_scalar[1], b_array[1]) and b_scalar[2] == pytest.approx(b_array[2])


def _pair_spectrum(rng, gate, delay=37, dur=40.0, n_fft=1024, snr_db=0.0):
    """Cross-spectrum and frames of a broadband source (delay samples later at A) plus noise."""
    n = int(dur * FS)
    s = rng.standard_normal(n + delay)
    src = s[delay:]                       # at B
    src_a = s[:n]                         # at A, ``delay`` samples later
    if gate is not None:
        src, src_a = src * gate(n), src_a * gate(n)
    g = 10 ** (-snr_db / 20.0)
    a = src_a + g * rng.standard_normal(n)
    b = src + g * rng.standard_normal(n)
    return cross_spectrum(a, b, FS, n_fft, robust=False, use_numba=False, return_frames=True)


def _blocks(on_fraction, block_s=2.0):
    def gate(n):
        t = np.arange(n) / FS
        return ((t / block_s) % 1.0 < on_fraction).astype(float)
    return gate


@pytest.mark.parametrize("on_fraction,snr_db,expect", [(None, 0.0, False), (None, -12.0, False), (0.4, 0.0, True),
                                                       (0.25, 0.0, True), (0.4, -8.0, True)])
def test_intermittency_tells_a_tap_from_a_steady_source(on_fraction, snr_db, expect):
    rng = np.random.default_rng(11)
    gate = None if on_fraction is None else _blocks(on_fraction)
    cs, fa, fb = _pair_spectrum(rng, gate, snr_db=snr_db)
    coh = np.clip(cs.coherence(), 0, 0.999)
    psi = weighting_function("scot", cs, coh)
    taper = ((cs.freqs_hz > 50) & (cs.freqs_hz < 1500)).astype(float)
    cg = build_correlogram(cs, psi, taper, coh)
    noise_lags = np.linspace(0.03, 0.12, 20) * np.repeat([-1, 1], 10)
    (excess, flag), = _intermittency(cg, _frame_shares(cg, fa, fb), [37 / FS], noise_lags)
    assert flag is expect
    if on_fraction is None:
        assert abs(excess) < 0.1
    elif snr_db == 0.0:  # a source on a fraction q of the time: (1 - q) / q
        q = on_fraction
        assert excess == pytest.approx((1 - q) / q, rel=0.35)


def test_intermittency_needs_room_for_the_noise():
    rng = np.random.default_rng(2)
    cs, fa, fb = _pair_spectrum(rng, _blocks(0.4))
    coh = np.clip(cs.coherence(), 0, 0.999)
    cg = build_correlogram(cs, weighting_function("scot", cs, coh), np.ones(cs.freqs_hz.size), coh)
    (excess, flag), = _intermittency(cg, _frame_shares(cg, fa, fb), [37 / FS], [0.05, 0.06])  # 2 noise lags
    assert math.isnan(excess) and flag is False


def test_a_louder_tap_is_reported_but_not_located():
    # consumption at 114 m switched on and off, louder than the leak at 50 m (simulator seed 528)
    path = PipePath.uniform(150.0, "cast_iron")
    sim = simulate_pair(path, 50.0, snr_db=0.0, duration_s=30.0, confounders=["consumption"], seed=528)
    tap = sim.truth["confounder_details"]["consumption"]["position_m"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = correlate_pair(sim.a, sim.b, path)
    first = res.peaks[0]
    assert abs(first["distance_from_a_m"] - tap) < 3.0 and first["intermittent"]  # strongest first, flagged
    assert abs(res.distance_from_a_m - 50.0) < 3.0  # the located leak is the steady one
    assert not any(p["intermittent"] for p in res.peaks if abs(p["distance_from_a_m"] - 50.0) < 3.0)
    assert any("comes and goes" in w for w in res.warnings)


@pytest.mark.parametrize("seed", [507, 511])
def test_no_false_peak_beside_a_strong_leak_with_a_quiet_tap(seed):
    # a strong leak at 50 m and a quiet tap: every reported peak is one of the two
    path = PipePath.uniform(150.0, "cast_iron")
    sim = simulate_pair(path, 50.0, snr_db=0.0, duration_s=30.0, confounders=["consumption"], seed=seed)
    tap = sim.truth["confounder_details"]["consumption"]["position_m"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = correlate_pair(sim.a, sim.b, path)
    assert res.detected and abs(res.distance_from_a_m - 50.0) < 3.0
    for p in res.peaks:
        assert min(abs(p["distance_from_a_m"] - 50.0), abs(p["distance_from_a_m"] - tap)) < 3.0


@pytest.mark.parametrize("seed", [528, 511])
def test_a_tap_alone_is_not_a_leak(seed):
    # the tap and the background of a simulated pair, without its leak: the tap is heard, never located
    path = PipePath.uniform(150.0, "cast_iron")
    sim = simulate_pair(path, 50.0, snr_db=0.0, duration_s=30.0, confounders=["consumption"], seed=seed,
                        keep_components=True)
    tap = sim.truth["confounder_details"]["consumption"]["position_m"]
    a, b = (dataclasses.replace(rec, samples=sim.components[k]["consumption"] + sim.components[k]["background"])
            for rec, k in ((sim.a, "a"), (sim.b, "b")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = correlate_pair(a, b, path)
    assert not res.detected and res.distance_from_a_m is None
    assert any(abs(p["distance_from_a_m"] - tap) < 3.0 and p["intermittent"] for p in res.peaks)
    assert any("comes and goes" in w for w in res.warnings)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_steady_source_under_loud_passes_is_steady(seed):
    # a steady source and noise that is 30 times louder (independent at A and B) in a few frames,
    # as traffic passes make it: those frames' chance spread must not read as a source coming and going
    rng = np.random.default_rng(seed)
    n_fft, delay, dur = 1024, 37, 20.0
    n = int(dur * FS)
    s = rng.standard_normal(n + delay)
    loud = np.ones(n)
    for t0 in (3.0, 11.0):  # two passes of about 0.6 s
        loud[int(t0 * FS):int((t0 + 0.6) * FS)] = 30.0
    a = s[:n] + 2.0 * loud * rng.standard_normal(n)
    b = s[delay:] + 2.0 * loud * rng.standard_normal(n)
    cs, fa, fb = cross_spectrum(a, b, FS, n_fft, robust=False, use_numba=False, return_frames=True)
    coh = np.clip(cs.coherence(), 0, 0.999)
    taper = ((cs.freqs_hz > 50) & (cs.freqs_hz < 1500)).astype(float)
    cg = build_correlogram(cs, weighting_function("scot", cs, coh), taper, coh)
    noise_lags = np.linspace(0.03, 0.12, 16) * np.repeat([-1, 1], 8)
    (excess, flag), = _intermittency(cg, _frame_shares(cg, fa, fb), [delay / FS], noise_lags)
    assert flag is False and abs(excess) < 1.0


def _steady_and_tap(rng, steady_gain, tap_gain, d_steady=37, d_tap=38, dur=40.0, n_fft=1024):
    """Frames and correlogram of a steady source and a tap (on 40 % of each 2 s) a fraction of a
    main lobe apart in delay, plus noise at each sensor."""
    n = int(dur * FS)
    out_a, out_b = rng.standard_normal(n), rng.standard_normal(n)
    for gain, d, gate in ((steady_gain, d_steady, None), (tap_gain, d_tap, _blocks(0.4))):
        if gain == 0.0:
            continue
        s = rng.standard_normal(n + d)
        g = np.ones(n) if gate is None else gate(n)
        out_b += gain * s[d:] * g
        out_a += gain * s[:n] * g
    cs, fa, fb = cross_spectrum(out_a, out_b, FS, n_fft, robust=False, use_numba=False, return_frames=True)
    coh = np.clip(cs.coherence(), 0, 0.999)
    taper = ((cs.freqs_hz > 50) & (cs.freqs_hz < 1500)).astype(float)
    cg = build_correlogram(cs, weighting_function("scot", cs, coh), taper, coh)
    return cg, _frame_shares(cg, fa, fb)


def test_a_steady_source_under_a_tap_is_found_and_a_tap_alone_is_not():
    """The steady part under an intermittent peak (_steady_part): a leak 8 dB under a tap a third
    of a main lobe away is found; a tap alone, at the same delays, is not taken for one (10 draws)."""
    noise_lags = np.linspace(0.03, 0.12, 20) * np.repeat([-1, 1], 10)
    peak = 37.5 / FS
    cg, shares = _steady_and_tap(np.random.default_rng(5), steady_gain=0.4, tap_gain=1.0)
    (_excess, flag), = _intermittency(cg, shares, [peak], noise_lags)
    assert flag  # the peak as a whole comes and goes ...
    p, frac = _steady_part(cg, shares, peak, noise_lags)
    assert p < _STEADY_PFA and frac >= _STEADY_MIN_FRACTION  # ... and holds a steady source
    found = 0
    for seed in range(10):
        cg, shares = _steady_and_tap(np.random.default_rng(100 + seed), steady_gain=0.0, tap_gain=1.0)
        p, frac = _steady_part(cg, shares, peak, noise_lags)
        assert p >= 0.0 and frac >= 0.0
        found += p < _STEADY_PFA and frac >= _STEADY_MIN_FRACTION
    assert found == 0


@pytest.mark.parametrize("dur", [3.5, 7.4])  # 26 frames (13 blocks, near the fewest) and 57 (28 blocks)
def test_steady_part_holds_its_false_alarm_rate_on_taps_alone(dur):
    """On a tap alone the test's p-value is not smaller than it should be, with few blocks too (the
    jackknife of the across-axis part from few blocks understates its spread)."""
    noise_lags = np.linspace(0.03, 0.12, 20) * np.repeat([-1, 1], 10)
    ps = []
    for seed in range(40):
        cg, shares = _steady_and_tap(np.random.default_rng(5000 + seed), steady_gain=0.0, tap_gain=1.0, dur=dur)
        ps += [_steady_part(cg, shares, d / FS, noise_lags)[0] for d in (37.5, 38.0)]
    ps = np.array(ps)
    assert not np.any(np.isnan(ps))
    assert np.mean(ps < 0.05) <= 0.1 and np.count_nonzero(ps < _STEADY_PFA) == 0


def test_steady_part_needs_enough_frames():
    rng = np.random.default_rng(7)
    cg, shares = _steady_and_tap(rng, steady_gain=0.4, tap_gain=1.0, dur=2.5)  # 18 frames, 9 blocks
    noise_lags = np.linspace(0.03, 0.12, 20) * np.repeat([-1, 1], 10)
    p, frac = _steady_part(cg, shares, 37.5 / FS, noise_lags)
    assert math.isnan(p) and math.isnan(frac)


def test_a_leak_with_a_tap_beside_it_is_located():
    """A leak with a tap 1.5 m away, 7 dB louder and on about half the time (bench/correlate_accuracy
    at 30 s, seed 2, pair 93): the one peak they make comes and goes, but the steady part under it is
    found."""
    path = PipePath.uniform(261.9152111979875, "asbestos_cement", diameter_mm=150.0)
    sim = simulate_pair(path, 59.97824301050182, snr_db=-10.0, duration_s=30.0, sensor_kind="accelerometer",
                        confounders=["consumption"], seed=1177806078)
    assert abs(sim.truth["confounder_details"]["consumption"]["position_m"] - 58.45) < 0.01
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = correlate_pair(sim.a, sim.b, path)
    assert res.detected and abs(res.distance_from_a_m - 59.98) <= 0.02 * path.length_m
    top = res.peaks[0]
    assert top["shared_with_intermittent"] and not top["intermittent"]
    assert any("a steady source (the leak) lies under a tap" in str(w.message) for w in caught)
