"""The correlator's numba kernels against their plain-numpy references."""

import numpy as np
import pytest

from acoustic.correlate._kernels import (
    accumulate_spectra, calibrate32, group_energies, running_median, running_median_at,
)


def _spectra(rng, k=13, f=257, dtype=np.complex64):
    a = (rng.standard_normal((k, f)) + 1j * rng.standard_normal((k, f))).astype(dtype)
    b = (rng.standard_normal((k, f)) + 1j * rng.standard_normal((k, f))).astype(dtype)
    return a, b


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
@pytest.mark.parametrize("n_frames", [13, 12, 1])  # the kernel takes frames two at a time
def test_group_energies_matches_numpy(rng, dtype, n_frames):
    a, b = _spectra(rng, k=n_frames, dtype=dtype)
    starts = np.array([1, 5, 40, 100, 256])
    stops = np.array([5, 40, 100, 256, 257])
    ea, eb = group_energies(a, b, starts, stops)
    ra, rb = group_energies(a, b, starts, stops, use_numba=False)
    np.testing.assert_allclose(ea, ra, rtol=1e-5)
    np.testing.assert_allclose(eb, rb, rtol=1e-5)
    # and the definition itself
    np.testing.assert_allclose(ea[:, 1], np.sum(np.abs(a[:, 5:40].astype(np.complex128)) ** 2, axis=1), rtol=1e-5)


def test_group_energies_bad_groups(rng):
    a, b = _spectra(rng)
    with pytest.raises(ValueError, match="frequency groups"):
        group_energies(a, b, np.array([0]), np.array([1000]))
    with pytest.raises(ValueError, match="equal shape"):
        group_energies(a, b[:, :10], np.array([0]), np.array([5]))


@pytest.mark.parametrize("n_frames", [13, 12, 1])  # the kernel takes frames two at a time
def test_accumulate_matches_numpy_with_weights(rng, n_frames):
    a, b = _spectra(rng, k=n_frames)
    n_groups = 6
    weight = rng.uniform(0, 1, (a.shape[0], n_groups))
    weight[rng.random(weight.shape) < 0.3] = 0.0
    bin_group = np.repeat(np.arange(-1, n_groups), int(np.ceil(a.shape[1] / (n_groups + 1))))[: a.shape[1]]
    got = accumulate_spectra(a, b, weight, bin_group)
    ref = accumulate_spectra(a, b, weight, bin_group, use_numba=False)
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r, rtol=1e-6, atol=1e-9)
    # ungrouped bins (-1) use every frame with weight 1
    ungrouped = np.flatnonzero(bin_group < 0)
    np.testing.assert_allclose(got[3][ungrouped], a.shape[0])
    # the cross-spectrum sums X_A conj(X_B): zero-lag correlation of identical inputs is real
    same = accumulate_spectra(a, a, np.ones((a.shape[0], n_groups)), bin_group)
    np.testing.assert_allclose(same[2].imag, 0.0, atol=1e-4)


def test_accumulate_rejects_negative_weights(rng):
    a, b = _spectra(rng)
    with pytest.raises(ValueError, match=">= 0"):
        accumulate_spectra(a, b, -np.ones((a.shape[0], 1)), np.zeros(a.shape[1], dtype=int))


@pytest.mark.parametrize("n,half", [(1, 1), (7, 3), (50, 1), (513, 12), (40, 30)])
def test_running_median_matches_numpy(rng, n, half):
    y = rng.standard_normal(n)
    y[::5] = 0.25  # repeated values exercise the removal of duplicates
    np.testing.assert_array_equal(running_median(y, half), running_median(y, half, use_numba=False))


@pytest.mark.parametrize("n,half", [(1, 1), (7, 3), (50, 1), (513, 12), (40, 30)])
def test_running_median_at_matches_numpy_and_the_full_median(rng, n, half):
    y = rng.standard_normal(n)
    y[::5] = 0.25
    idx = np.unique(np.concatenate([[0, n - 1], rng.integers(0, n, 10)]))
    got = running_median_at(y, half, idx)
    np.testing.assert_array_equal(got, running_median_at(y, half, idx, use_numba=False))
    np.testing.assert_array_equal(got, running_median(y, half)[idx])
    assert running_median_at(y, half, np.array([], dtype=int)).shape == (0,)
    # runs of neighbouring points (slid over), in any order and repeated
    runs = np.concatenate([np.arange(n // 3, n // 2), np.arange(n - 3, n), [0, 0]]).clip(0, n - 1)
    runs = rng.permutation(runs)
    np.testing.assert_array_equal(running_median_at(y, half, runs), running_median(y, half, use_numba=False)[runs])
    np.testing.assert_array_equal(running_median_at(y, half, runs, use_numba=False), running_median(y, half)[runs])


@pytest.mark.parametrize("n,half,reach", [(1, 1, 0), (7, 3, 1), (50, 1, 2), (513, 12, 13), (40, 30, 31)])
def test_near_peaks_matches_numpy_and_the_definition(rng, n, half, reach):
    from acoustic.correlate._kernels import near_peaks

    y = rng.gamma(3.0, 1.0, n)
    y[rng.integers(0, n, 3)] *= 20.0
    y[n // 2] = 0.0  # a zero minimum: every positive neighbour is a hit
    got = near_peaks(y, half, 4.0, reach)
    ref = near_peaks(y, half, 4.0, reach, use_numba=False)
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_array_equal(got[1], ref[1])
    low = np.array([y[max(0, i - half):i + half + 1].min() for i in range(n)])
    want = np.zeros(n, dtype=bool)
    for i in np.flatnonzero(y > 4.0 * low):
        want[max(0, i - reach):i + reach + 1] = True
    mask = np.zeros(n, dtype=bool)
    for a, b in zip(*got):
        mask[a:b] = True
    np.testing.assert_array_equal(mask, want)
    assert np.all(got[0][1:] > got[1][:-1])  # disjoint and not touching


def test_near_peaks_and_median_runs_reject_bad_input():
    from acoustic.correlate._kernels import near_peaks, running_median_runs

    with pytest.raises(ValueError, match="finite"):
        near_peaks(np.array([1.0, np.nan]), 1, 4.0, 1)
    with pytest.raises(ValueError, match="half_width"):
        near_peaks(np.ones(4), 0, 4.0, 1)
    with pytest.raises(ValueError, match="runs must satisfy"):
        running_median_runs(np.ones(4), 1, [2], [6])
    with pytest.raises(ValueError, match="finite"):
        running_median_runs(np.array([1.0, 5.0, np.nan, 2.0]), 1, [0], [4])


def test_tonal_ratio_near_lines_is_the_full_ratio_where_a_line_can_be(rng):
    """Only bins near possible lines get the (exact) median ratio; a line and its notch are the same."""
    from acoustic.correlate._gcc import TONAL_RATIO, _median_ratio_near_lines

    spec = rng.gamma(30.0, 1.0 / 30.0, 2049) * np.exp(-np.arange(2049) / 900.0)
    spec[[300, 301, 700, 1500]] *= [40.0, 12.0, 6.0, 200.0]
    half = 13
    full = spec / running_median(spec, half)
    for use_numba in (True, False):
        got = _median_ratio_near_lines(spec, half, use_numba)
        done = got > 0
        np.testing.assert_array_equal(got[done], full[done])
        for line in (300, 700, 1500):
            assert np.all(done[line - half - 1:line + half + 2])
        # what was skipped cannot be a line
        assert np.all(full[~done] <= TONAL_RATIO)


def test_running_median_at_rejects_bad_input():
    with pytest.raises(ValueError, match="idx must lie"):
        running_median_at(np.ones(5), 1, [5])
    with pytest.raises(ValueError, match="half_width"):
        running_median_at(np.ones(5), 0, [1])
    with pytest.raises(ValueError, match="finite"):
        running_median_at(np.array([1.0, np.inf]), 1, [0])


def test_running_median_rejects_bad_input():
    with pytest.raises(ValueError, match="half_width"):
        running_median(np.ones(5), 0)
    with pytest.raises(ValueError, match="finite"):
        running_median(np.array([1.0, np.nan, 2.0]), 1)


def test_use_numba_default_is_numpy_first_then_numba(monkeypatch):
    from acoustic.correlate import _kernels

    monkeypatch.delenv("ACOUSTIC_NUMBA", raising=False)
    monkeypatch.setitem(_kernels._CALLS, "n", 0)
    assert _kernels.resolve_use_numba(None) is False  # the first correlation in a process
    assert _kernels.resolve_use_numba(None) is True
    assert _kernels.resolve_use_numba(False) is False
    monkeypatch.setenv("ACOUSTIC_NUMBA", "0")
    assert _kernels.resolve_use_numba(None) is False


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sample_stats_counts_non_finite_samples(rng, dtype):
    from acoustic.correlate._prepare import sample_stats

    x = rng.standard_normal(10_001).astype(dtype)
    total, lo, hi, bad = sample_stats(x)
    assert bad == 0 and lo == float(x.min()) and hi == float(x.max())
    assert total == pytest.approx(float(np.sum(x, dtype=np.float64)), rel=1e-12)
    x[[3, 500, 9000]] = [np.nan, np.inf, -np.inf]
    ok = np.isfinite(x)
    total, lo, hi, bad = sample_stats(x)
    assert bad == 3 and lo == float(x[ok].min()) and hi == float(x[ok].max())
    assert total == pytest.approx(float(np.sum(x[ok], dtype=np.float64)), rel=1e-12)
    assert sample_stats(np.full(4, np.nan, dtype=dtype))[1:] == (np.inf, -np.inf, 4)


def test_moving_sum_matches_convolution(rng):
    from acoustic.correlate._gcc import moving_sum

    for n, half in [(3, 1), (7, 3), (200, 7), (4097, 50)]:
        x = rng.uniform(0, 1, n)
        np.testing.assert_allclose(moving_sum(x, half), np.convolve(x, np.ones(2 * half + 1), mode="same"),
                                   rtol=1e-12, atol=1e-12)


def test_median_and_quantiles_match_numpy_to_the_bit(rng):
    from acoustic.correlate._locate import _quantiles
    from acoustic.correlate._spectra import median

    for n in (1, 2, 3, 4, 41, 2000, 4097):
        for _ in range(20):
            x = rng.standard_normal(n) * 10.0 ** rng.uniform(-5, 5)
            x[rng.random(n) < 0.2] = 0.5  # ties
            assert median(x) == float(np.median(x))
            for a in (0.025, 0.05, 0.25, 0.5):
                assert _quantiles(x, (a, 1.0 - a)) == [float(v) for v in np.quantile(x, [a, 1.0 - a])]
    y = rng.standard_normal(9)
    assert median(y[::2]) == float(np.median(y[::2]))  # strided
    y[4] = np.nan
    assert np.isnan(median(y))


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int16])
def test_calibrate32_matches_numpy_to_the_bit(rng, dtype):
    x = (rng.standard_normal(1001) * 1000).astype(dtype)
    for mean, scale in [(0.0, 1.0), (float(np.mean(x)), 0.1), (-3.25, 10.0 ** (-37.5 / 20))]:
        got = calibrate32(x, mean, scale)
        assert got.dtype == np.float32 and got.shape == x.shape
        np.testing.assert_array_equal(got, calibrate32(x, mean, scale, use_numba=False))
        ref = x.astype(np.float32)
        ref -= np.float32(mean)
        ref *= np.float32(scale)
        np.testing.assert_array_equal(got, ref)
    assert calibrate32(x[:0], 0.0, 1.0).shape == (0,)
    with pytest.raises(ValueError, match="1-D"):
        calibrate32(np.ones((2, 2)), 0.0, 1.0)


@pytest.mark.parametrize("tau", [0.0, 1.3e-4, -0.0372, 0.611])
def test_correlogram_derivatives_match_numpy(rng, tau):
    from acoustic.correlate._kernels import correlogram_derivatives

    df = 8000.0 / 8192
    # a band with gaps (notched lines) and more bins than the kernel's re-anchoring stride
    idx = np.concatenate([np.arange(30, 400), np.arange(405, 1300), np.arange(1302, 1303), np.arange(1310, 1900)])
    omega = 2 * np.pi * df * idx
    spec = rng.standard_normal(idx.size) + 1j * rng.standard_normal(idx.size)
    nb = correlogram_derivatives(spec, omega, idx, 2 * np.pi * df, tau)
    ref = correlogram_derivatives(spec, omega, idx, 2 * np.pi * df, tau, use_numba=False)
    for a, b, scale in zip(nb, ref, (1.0, omega.max(), omega.max() ** 2)):
        assert abs(a - b) <= 1e-9 * scale * np.abs(spec).sum()


def test_correlogram_derivatives_are_the_derivatives(rng):
    from acoustic.correlate._kernels import correlogram_derivatives

    df = 4000.0 / 2048
    idx = np.arange(10, 300)
    omega = 2 * np.pi * df * idx
    spec = rng.standard_normal(idx.size) + 1j * rng.standard_normal(idx.size)
    tau, h = 0.0123, 1e-7
    z0, z1, z2 = correlogram_derivatives(spec, omega, idx, 2 * np.pi * df, tau)
    zm, zp = (correlogram_derivatives(spec, omega, idx, 2 * np.pi * df, t)[0] for t in (tau - h, tau + h))
    assert z1 == pytest.approx((zp - zm) / (2 * h), rel=1e-6)
    assert z2 == pytest.approx((zp - 2 * z0 + zm) / h**2, rel=1e-3)


def test_correlogram_derivatives_reject_mismatched_arrays():
    from acoustic.correlate._kernels import correlogram_derivatives

    with pytest.raises(ValueError, match="one length"):
        correlogram_derivatives(np.ones(5, complex), np.ones(4), np.arange(4), 1.0, 0.0)
    with pytest.raises(ValueError, match="bin_index"):
        correlogram_derivatives(np.ones(5, complex), np.ones(5), np.arange(4), 1.0, 0.0)


def test_frame_weights_of_two_channels_in_one_call_are_each_channels_own(rng):
    from acoustic.correlate._spectra import _frame_weights

    n, g = 54, 17
    ea = rng.gamma(5.0, 1.0, (n, g)) * (1 + 30 * (rng.random((n, 1)) < 0.1))  # broadband bursts in A
    eb = rng.gamma(5.0, 1.0, (n, g)) * (1 + 10 * (rng.random((n, g)) < 0.05))  # narrow ones in B
    n_in = rng.integers(8, 400, g).astype(float)
    both = _frame_weights(np.concatenate([ea, eb], axis=1), np.concatenate([n_in, n_in]), n_channels=2)
    assert np.array_equal(both[:, :g], _frame_weights(ea, n_in))
    assert np.array_equal(both[:, g:], _frame_weights(eb, n_in))
    assert (both[:, :g] == 0).any()  # the bursts are left out


# -- FFT backends --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype, rtol", [(np.float32, 2e-5), (np.float64, 1e-12)])
def test_rfft_rows_backends_agree_with_numpy(rng, dtype, rtol):
    pytest.importorskip("ducc0")
    from acoustic.correlate._fft import BACKENDS, rfft_rows

    for backend in BACKENDS:  # no frames: an empty spectrum, not an error
        assert rfft_rows(np.ones((0, 16), dtype=dtype), backend).shape == (0, 9)
    frames = rng.standard_normal((7, 512)).astype(dtype)
    ref = np.fft.rfft(frames.astype(np.float64), axis=1)
    for backend in BACKENDS:
        out = rfft_rows(frames, backend)
        assert out.shape == (7, 257)
        assert out.dtype == (np.complex64 if dtype == np.float32 else np.complex128)
        np.testing.assert_allclose(out, ref, rtol=0, atol=rtol * np.abs(ref).max())


def test_ifft_forward_norm_backends_agree_with_numpy(rng):
    pytest.importorskip("ducc0")
    from acoustic.correlate._fft import BACKENDS, ifft_forward_norm

    spec = rng.standard_normal(96) + 1j * rng.standard_normal(96)
    ref = np.fft.ifft(spec) * spec.size  # unscaled inverse
    for backend in BACKENDS:
        np.testing.assert_allclose(ifft_forward_norm(spec.copy(), backend), ref, rtol=0, atol=1e-12 * np.abs(ref).max())


def test_fft_backend_names_are_checked():
    from acoustic.correlate._fft import fft_backend

    assert fft_backend() in ("ducc0", "scipy")
    assert fft_backend("scipy") == "scipy"
    with pytest.raises(ValueError, match="FFT backend must be one of"):
        fft_backend("fftw")


def test_correlation_is_the_same_with_either_fft_backend(monkeypatch):
    """The whole correlator with scipy.fft in place of ducc0: the same leak, to well within its s.d."""
    pytest.importorskip("ducc0")
    from acoustic.correlate import correlate_pair
    import acoustic.correlate._fft as fft_mod
    from acoustic.pipe import PipePath
    from acoustic.simulate import simulate_pair

    path = PipePath.uniform(120.0, "cast_iron")
    sim = simulate_pair(path, 47.0, snr_db=0.0, duration_s=10.0, sample_rate_hz=8000.0, seed=3)
    default = correlate_pair(sim.a, sim.b, path)
    monkeypatch.setitem(fft_mod._found, "default", "scipy")
    other = correlate_pair(sim.a, sim.b, path)
    assert default.detected and other.detected
    assert abs(default.delay_s - other.delay_s) < 0.01 * default.delay_sd_s
    assert [round(p["distance_from_a_m"], 3) for p in default.peaks] == \
        [round(p["distance_from_a_m"], 3) for p in other.peaks]


@pytest.mark.parametrize("material, confounders, seed", [
    ("cast_iron", ["hum"], 11), ("pvc", ["traffic"], 12), ("ductile_iron", ["consumption", "pump"], 13),
])
def test_whole_correlator_is_the_same_with_the_kernels_and_their_numpy_twins(material, confounders, seed):
    """Every kernel at once, in place: the numba run and the numpy run locate the same leak and peaks."""
    from acoustic.correlate import correlate_pair
    from acoustic.pipe import PipePath
    from acoustic.simulate import simulate_pair

    path = PipePath.uniform(90.0, material)
    sim = simulate_pair(path, 37.0, snr_db=-3.0, duration_s=12.0, sample_rate_hz=8000.0,
                        confounders=confounders, seed=seed)
    fast = correlate_pair(sim.a, sim.b, path, use_numba=True)
    ref = correlate_pair(sim.a, sim.b, path, use_numba=False)
    assert fast.detected == ref.detected
    assert fast.band_hz == pytest.approx(ref.band_hz)
    assert fast.tonal_lines_hz == ref.tonal_lines_hz
    assert len(fast.peaks) == len(ref.peaks)
    for p, q in zip(fast.peaks, ref.peaks):
        assert abs(p["delay_s"] - q["delay_s"]) < 1e-3 * q["delay_sd_s"]
        assert p["intermittent"] == q["intermittent"]
        assert p["confidence"] == pytest.approx(q["confidence"], abs=1e-6)
