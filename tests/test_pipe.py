"""Pipe acoustics against the worked numbers of physics.md (sections 1.2, 1.6, 1.7, 3.7, 3.9)."""

import math

import numpy as np
import pytest

from acoustic import PipeError
from acoustic.pipe import (
    MATERIALS, PipePath, PipeSegment, attenuation_db_per_m, buried_wavenumber, get_material,
    phase_speed, quasi_static_speed, wavenumber,
)

MDPE = dict(youngs_modulus_pa=2.0e9, loss_factor=0.06, wall_density_kg_m3=900.0, mean_radius_m=0.0845, wall_m=0.011)
SANDY = dict(soil_dilatational_m_s=200.0, soil_shear_m_s=100.0, soil_density_kg_m3=2000.0)


def test_mdpe_in_vacuo_worked_example():
    # physics.md 1.2: alpha = 17.3, c = 351 m/s, 0.44 dB/m at 100 Hz
    f = np.array([100.0, 500.0, 1000.0])
    k = wavenumber(f, **MDPE)
    c = phase_speed(k, f)
    att = attenuation_db_per_m(k)
    assert c[0] == pytest.approx(351, abs=1.0)
    assert c[2] == pytest.approx(329, abs=1.5)  # wall mass lowers c at 1 kHz (1.6)
    np.testing.assert_allclose(att, [0.44, 2.31, 5.41], rtol=0.02)  # table 1.7
    assert quasi_static_speed(youngs_modulus_pa=2e9, mean_radius_m=0.0845, wall_m=0.011) == pytest.approx(351, abs=1)


def test_small_eta_attenuation_is_linear_in_frequency():
    f = np.array([50.0, 100.0, 200.0])
    att = attenuation_db_per_m(wavenumber(f, **MDPE))
    np.testing.assert_allclose(att / f, att[0] / f[0], rtol=0.01)
    # beta = eta alpha / (2 c (1 + alpha)) = 8.1e-5 s/m
    beta = att[1] / (8.686 * 2 * np.pi * 100.0)
    assert beta == pytest.approx(8.1e-5, rel=0.03)


@pytest.mark.parametrize("sdr,e_gpa,expected", [(26, 3.0, 338), (17, 3.0, 416), (11, 3.0, 514), (17, 3.6, 452),
                                                (11, 3.6, 557)])
def test_korteweg_pvc_depends_on_sdr_only(sdr, e_gpa, expected):
    # physics.md 1.6: c = c_f / sqrt(1 + (B/E)(SDR - 1)), any OD
    for od in (0.110, 0.160, 0.315):
        h = od / sdr
        c = quasi_static_speed(youngs_modulus_pa=e_gpa * 1e9, mean_radius_m=(od - h) / 2, wall_m=h)
        assert c == pytest.approx(expected, abs=1.5)


def test_pvc_160_sdr21_dispersion():
    f = np.array([1.0, 1000.0])
    k = wavenumber(f, youngs_modulus_pa=3.3e9, loss_factor=0.065, wall_density_kg_m3=1400.0,
                   mean_radius_m=(0.160 - 0.0077) / 2, wall_m=0.0077)
    np.testing.assert_allclose(phase_speed(k, f), [394, 376], atol=1.5)


@pytest.mark.parametrize("f,att,rtol", [(50, 0.20, 0.1), (100, 0.55, 0.1), (300, 4.6, 0.2), (500, 13.5, 0.2),
                                        (1000, 49, 0.1)])
def test_buried_mdpe_sandy_soil_close_to_table(f, att, rtol):
    k = buried_wavenumber(np.array([f], float), **MDPE, **SANDY)
    assert attenuation_db_per_m(k)[0] == pytest.approx(att, rel=rtol)


def test_buried_plastic_faster_and_lossier_than_in_vacuo():
    f = np.array([100.0])
    kv = wavenumber(f, **MDPE)
    kb = buried_wavenumber(f, **MDPE, **SANDY)
    assert phase_speed(kb, f)[0] == pytest.approx(371, abs=4)  # table 1.7: 371 m/s
    assert phase_speed(kb, f)[0] > phase_speed(kv, f)[0]
    assert attenuation_db_per_m(kb)[0] > attenuation_db_per_m(kv)[0]


def test_buried_cast_iron_speed_and_small_loss():
    f = np.array([100.0, 500.0])
    k = buried_wavenumber(f, youngs_modulus_pa=1.0e11, loss_factor=0.005, wall_density_kg_m3=7200.0,
                          mean_radius_m=0.0825, wall_m=0.012, **SANDY)
    assert phase_speed(k, f)[0] == pytest.approx(1298, rel=0.02)
    assert attenuation_db_per_m(k)[1] < 0.05


def test_wave_decays_forward():
    k = wavenumber(np.linspace(1, 2000, 50), **MDPE)
    assert np.all(k.real > 0) and np.all(k.imag <= 0)


@pytest.mark.parametrize("name", list(MATERIALS))
def test_every_material_gives_a_water_pipe_speed(name):
    seg = PipeSegment(name, 100.0, 150.0)
    c = seg.speed_m_s((100, 400))
    lo, hi = (200, 700) if name in ("pvc", "pe") else (900, 1500)
    assert lo < c < hi
    assert 0.0 < seg.speed_rel_sd() < 0.15
    assert seg.attenuation_db_per_m(500.0) > 0
    assert get_material(name).sources


def test_plastic_speed_more_uncertain_than_metal():
    assert PipeSegment("pe", 50).speed_rel_sd() > 2 * PipeSegment("ductile_iron", 50).speed_rel_sd()


@pytest.mark.parametrize("name,band", [("ductile_iron", (100.0, 1000.0)), ("pvc", (10.0, 150.0)),
                                       ("asbestos_cement", (300.0, 2500.0))])
def test_speed_spread_matches_monte_carlo_of_the_drawn_pipes(name, band):
    """The first-order spread equals the scatter of the speeds of drawn pipes (what the simulator and
    the real pipe stock do), within the Monte Carlo's own error plus 6 %."""
    seg = PipeSegment(name, 1.0, 150.0)
    rng = np.random.default_rng(7)
    n = 600
    from acoustic.pipe._path import _band_speed

    drawn = [seg.draw_properties(rng) for _ in range(n)]
    mc = float(np.std(np.log([_band_speed(p, band) for p in drawn])))
    # the s.d. of a 600-draw s.d. estimate is about 1/sqrt(2 n) = 2.9 % of it
    assert seg.speed_rel_sd(band) == pytest.approx(mc, rel=0.06 + 2.5 / math.sqrt(2 * n))


def test_speed_override_sets_band_speed():
    seg = PipeSegment("pvc", 80.0, 150.0, wave_speed_m_s=404.0)
    assert seg.speed_m_s() == pytest.approx(404.0, rel=1e-6)
    assert seg.speed_rel_sd() == pytest.approx(0.02)


def test_multi_segment_travel_time_and_inverse():
    path = PipePath([PipeSegment("cast_iron", 40.0, 150.0, wave_speed_m_s=1300.0),
                     PipeSegment("pvc", 60.0, 150.0, wave_speed_m_s=400.0)])
    c = path.speeds_m_s()
    np.testing.assert_allclose(c, [1300, 400], rtol=1e-6)
    assert path.travel_time_s(40.0, c) == pytest.approx(40 / 1300)
    assert path.travel_time_s(70.0, c) == pytest.approx(40 / 1300 + 30 / 400)
    x = np.array([0.0, 10.0, 40.0, 55.5, 100.0])
    np.testing.assert_allclose(path.position_for_delay(path.delay_for_position(x)), x, atol=1e-9)
    # delay sign: a leak near A arrives at A first -> negative delay (A minus B)
    assert path.delay_for_position(10.0) < 0 < path.delay_for_position(90.0)
    assert path.max_delay_s() == pytest.approx(40 / 1300 + 60 / 400)


def test_uniform_path_reduces_to_textbook_formula():
    path = PipePath.uniform(200.0, "pvc", speed_m_s=400.0)
    # d1 = (D - c tau)/2 with tau = t_B - t_A = -delay
    delay = path.delay_for_position(40.0)
    assert delay == pytest.approx((2 * 40 - 200) / 400)


def test_speed_error_grows_with_offset_from_midspan():
    # physics.md 3.7: a speed error alone gives (d1 - D/2) * eps; zero at mid-span
    path = PipePath.uniform(200.0, "pvc", speed_m_s=400.0)
    lo_mid, hi_mid, _ = path.position_interval(path.delay_for_position(100.0), 0.0)
    lo_off, hi_off, _ = path.position_interval(path.delay_for_position(40.0), 0.0)
    assert hi_mid - lo_mid < 0.5
    # 2 % s.d. at 60 m from centre: 95 % half-width ~ 1.96 * 60 * 0.02 = 2.35 m
    assert (hi_off - lo_off) / 2 == pytest.approx(1.96 * 60 * 0.02, rel=0.1)


def test_position_interval_covers_delay_uncertainty():
    path = PipePath.uniform(100.0, "ductile_iron", speed_m_s=1250.0)
    lo, hi, sd = path.position_interval(path.delay_for_position(50.0), 1e-3)
    # sigma_d = c/2 sigma_tau = 0.625 m
    assert sd == pytest.approx(0.625, rel=0.1)
    assert lo < 50.0 < hi


@pytest.mark.parametrize("kwargs,match", [
    (dict(material="unobtanium", length_m=10), "unknown material.*known: pvc"),
    (dict(material="pvc", length_m=0), "length_m must be a positive"),
    (dict(material="pvc", length_m=-5), "length_m must be a positive"),
    (dict(material="pvc", length_m=float("nan")), "length_m"),
    (dict(material="pvc", length_m=10, diameter_mm=0), "diameter_mm"),
    (dict(material="pvc", length_m=10, diameter_mm=100, wall_mm=120), "wall_mm"),
    (dict(material="pvc", length_m=10, wave_speed_m_s=3000), "outside what water in a pipe"),
    (dict(material="pvc", length_m=10, wave_speed_m_s=20), "outside what water in a pipe"),
    (dict(material="pvc", length_m=10, soil="mud"), "unknown soil"),
    # issue 19: impossible walls and lengths are refused before the physics turns them into NaN or TiB
    (dict(material="pvc", length_m=10, diameter_mm=150, wall_mm=1e-9),
     r"wall_mm 1e-09 mm is thinner than any pressure pipe's wall for diameter_mm 150 mm \(at least 0.6 mm"),
    (dict(material="steel", length_m=10, diameter_mm=150, wall_mm=76), "wall_mm 76 mm is thicker than any"),
    (dict(material="pvc", length_m=1e12), r"length_m 1e\+12 m is longer than any pipe between two sensors"),
    (dict(material="pvc", length_m=10, wall_mm=float("nan")), "wall_mm must be a positive number"),
    (dict(material="pvc", length_m="10"), "length_m must be a number, got '10'"),
    (dict(material="pvc", length_m=10, diameter_mm=True), "diameter_mm must be a number"),
])
def test_impossible_segments_rejected(kwargs, match):
    with pytest.raises(PipeError, match=match):
        PipeSegment(**kwargs)


def test_zero_distance_rejected():
    with pytest.raises(PipeError, match="distance must be a positive"):
        PipePath.uniform(0.0, "pvc")
    with pytest.raises(PipeError, match="at least one segment"):
        PipePath([])


def test_walls_at_the_limits_give_finite_speeds():
    """The bounds of MAX_DIAMETER_TO_WALL / MIN_DIAMETER_TO_WALL keep the model finite for every material
    up to 150 mm.  (Larger plastic pipes with thin walls have their ring frequency in the default band,
    where the thin-wall model does not hold: physics.md section 1.2 keeps it below f_ring / 3.)"""
    from acoustic.pipe import MATERIALS, MAX_DIAMETER_TO_WALL, MIN_DIAMETER_TO_WALL

    for mat in MATERIALS:
        for d in (10.0, 20.0, 150.0):
            for wall in (d / MAX_DIAMETER_TO_WALL, d / MIN_DIAMETER_TO_WALL):
                seg = PipeSegment(mat, 10.0, d, wall)
                c = seg.speed_m_s()
                assert np.isfinite(c) and 50.0 < c < 1600.0, (mat, d, wall, c)
                assert np.isfinite(seg.speed_rel_sd())


def test_a_path_longer_than_the_limit_is_refused():
    from acoustic.pipe import MAX_PIPE_LENGTH_M

    half = PipeSegment("pvc", MAX_PIPE_LENGTH_M * 0.6)
    with pytest.raises(PipeError, match="segments add up to 120000 m, longer than any pipe"):
        PipePath([half, half])
    with pytest.raises(PipeError, match="segment 1 must be a PipeSegment"):
        PipePath([half, "pvc"])
