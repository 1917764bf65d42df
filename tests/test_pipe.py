"""Pipe acoustics against the worked numbers of physics.md (sections 1.2, 1.6, 1.7, 3.7, 3.9)."""

import math
import warnings

import numpy as np
import pytest

from acoustic import AcousticWarning, PipeError
from acoustic.pipe import (
    MATERIALS, MAX_WAVE_SPEED_M_S, MIN_WAVE_SPEED_M_S, SOILS, PipePath, PipeSegment, attenuation_db_per_m,
    buried_wavenumber, get_material, phase_speed, quasi_static_speed, ring_frequency_hz, thinnest_wall_mm, wavenumber,
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
                                       ("asbestos_cement", (300.0, 2400.0))])
def test_speed_spread_matches_monte_carlo_of_the_drawn_pipes(name, band):
    """The first-order spread equals the scatter of the speeds of drawn pipes (what the simulator and
    the real pipe stock do), within the Monte Carlo's own error plus 6 %.  (The bands lie below the
    pipes' validity limits; the widening beyond a limit is tested on its own.)"""
    from acoustic.pipe._validity import raw_band_speed

    seg = PipeSegment(name, 1.0, 150.0)
    assert not seg.band_validity(band).beyond
    rng = np.random.default_rng(7)
    n = 600
    drawn = [seg.draw_properties(rng) for _ in range(n)]
    mc = float(np.std(np.log([raw_band_speed(p, band) for p in drawn])))
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


def test_a_path_longer_than_the_limit_is_refused():
    from acoustic.pipe import MAX_PIPE_LENGTH_M

    half = PipeSegment("pvc", MAX_PIPE_LENGTH_M * 0.6)
    with pytest.raises(PipeError, match="segments add up to 120000 m, longer than any pipe"):
        PipePath([half, half])
    with pytest.raises(PipeError, match="segment 1 must be a PipeSegment"):
        PipePath([half, "pvc"])


# -- the wave model's validity limit (ring frequency, soil-loaded wall) ------------------------------------------

def test_ring_frequency_matches_physics_md():
    # physics.md 1.1: steel DN150 about 10 kHz, MDPE 180 about 3 kHz
    steel = ring_frequency_hz(youngs_modulus_pa=2.05e11, poisson=0.29, wall_density_kg_m3=7850.0,
                              mean_radius_m=(0.150 + 0.0065) / 2)
    mdpe = ring_frequency_hz(youngs_modulus_pa=2.0e9, poisson=0.42, wall_density_kg_m3=900.0, mean_radius_m=0.0845)
    assert steel == pytest.approx(10.5e3, rel=0.05)
    assert mdpe == pytest.approx(3.0e3, rel=0.05)
    seg = PipeSegment("pvc", 10.0, 1500.0)  # the hostile-input finding: f_ring inside the default band
    assert seg.ring_frequency_hz == pytest.approx(332.0, abs=1.0)
    assert seg.validity_limit_hz == pytest.approx(seg.ring_frequency_hz / 3.0, rel=1e-9)


#: Speeds and s.d.s of ordinary pipes as computed before the validity limit existed (commit 5c2d00e):
#: the sample pairs' and district's pipes, default walls up to 300 mm, every soil.  Bands below the
#: limit are untouched.
ORDINARY_BEFORE = [
    ("ductile_iron", 150.0, 5.85, "sandy", (100.0, 400.0), 1284.433080035862, 0.012661412208242406),
    ("cast_iron", 150.0, 12.0, "sandy", (100.0, 400.0), 1313.2040989634697, 0.017225548208812926),
    ("pvc", 150.0, 10.0, "sandy", (100.0, 400.0), 441.32520530119456, 0.029970253019996798),
    ("pvc", 150.0, 10.0, "sandy", (10.0, 150.0), 447.9994342715114, 0.02921093096507488),
    ("pe", 90.0, None, "sandy", (100.0, 400.0), 426.57665494092583, 0.04968390994543014),
    ("pvc", 110.0, None, "sandy", (50.0, 800.0), 445.6292720158713, 0.027794421940704268),
    ("asbestos_cement", 100.0, None, "sandy", (200.0, 2000.0), 1053.4511492945019, 0.02803948300270813),
    ("steel", 300.0, None, "sandy", (100.0, 1000.0), 1329.0698717584253, 0.010809629249249242),
    ("pvc", 300.0, None, "stiff", (100.0, 400.0), 327.9938431169502, 0.049998734919183774),
    ("pe", 300.0, None, "none", (100.0, 400.0), 397.9994624084185, 0.055720586511012284),
    ("copper", 20.0, None, "sandy", (300.0, 2500.0), 1270.378720541276, 0.010020641033449703),
    ("concrete", 250.0, None, "stiff", (100.0, 1000.0), 1161.6689715940447, 0.046564635305148455),
]


@pytest.mark.parametrize("mat,d,wall,soil,band,speed,sd", ORDINARY_BEFORE)
def test_ordinary_pipes_keep_their_speeds(mat, d, wall, soil, band, speed, sd):
    seg = PipeSegment(mat, 80.0, d, wall, soil=soil)
    with warnings.catch_warnings():
        warnings.simplefilter("error", AcousticWarning)  # no validity warning either
        assert seg.speed_m_s(band) == pytest.approx(speed, rel=1e-12)
        assert seg.speed_rel_sd(band) == pytest.approx(sd, rel=1e-12)


@pytest.mark.parametrize("soil", list(SOILS))
def test_large_plastic_main_speed_is_that_of_the_valid_model(soil):
    """A 1500 mm PVC main has its ring frequency (332 Hz) inside the default band: the speed used to come
    out negative (in vacuo), 1670 m/s (sandy) or 44 km/s (stiff).  Now: the model's speed below the limit,
    a much wider s.d., and a warning naming the segment, its ring frequency and the band."""
    seg = PipeSegment("pvc", 120.0, 1500.0, soil=soil)
    with pytest.warns(AcousticWarning) as rec:
        c = seg.speed_m_s()
        sd = seg.speed_rel_sd()
    msg = str(rec[0].message)
    assert "pvc 1500 mm bore" in msg and "ring frequency 332 Hz" in msg and "band 100-400 Hz" in msg
    assert "holds below 111 Hz" in msg and "55.3-111 Hz" in msg
    assert MIN_WAVE_SPEED_M_S <= c <= MAX_WAVE_SPEED_M_S
    assert c == pytest.approx(seg.speed_m_s((55.3, seg.validity_limit_hz)), rel=2e-3)
    # nearly the whole band lies beyond the limit, where the model says nothing usable: c .. c_f spans 2 s.d.
    assert sd >= 0.9 * math.log(1500.0 / c) / 2.0
    assert sd > 3 * PipeSegment("pvc", 120.0, 150.0, soil=soil).speed_rel_sd()


def test_thin_walled_buried_plastic_no_longer_jumps_branch():
    """300 mm PVC at D/h = 250 in sandy soil: the soil loads the wall into resonance within the default band
    and the buried model's solution jumps to another branch (796 m/s before).  The limit comes from the
    model's own group speed leaving 100-1600 m/s, well below f_ring / 3 (587 Hz)."""
    seg = PipeSegment("pvc", 80.0, 300.0, 1.2)
    assert seg.validity_limit_hz < 200.0 < seg.ring_frequency_hz / 3.0
    with pytest.warns(AcousticWarning,
                      match="where the model's wave speed leaves 100-1600 m/s; ring frequency 1762 Hz"):
        c = seg.speed_m_s()
    assert 100.0 <= c <= 200.0
    with pytest.warns(AcousticWarning):
        assert seg.speed_rel_sd() > 0.5


def test_a_band_partly_beyond_the_limit_is_cut_and_the_spread_widened_in_proportion():
    seg = PipeSegment("pvc", 80.0, 150.0, 10.0)  # the sample PVC pair's pipe: limit 1106 Hz
    lim = seg.validity_limit_hz
    assert lim == pytest.approx(1106.0, abs=1.0)
    bv = seg.band_validity((100.0, 1500.0))
    assert bv.evaluated_hz == (100.0, lim) and bv.fraction_beyond == pytest.approx((1500 - lim) / 1400)
    with pytest.warns(AcousticWarning, match="a third of its ring frequency 3317 Hz"):
        assert seg.speed_m_s((100.0, 1500.0)) == seg.speed_m_s((100.0, lim))
        wide = seg.speed_rel_sd((100.0, 1500.0))
    assert seg.speed_rel_sd((100.0, lim)) < wide < 2.5 * seg.speed_rel_sd((100.0, lim))
    # a band wholly beyond the limit: the speed over the half-octave below it
    with pytest.warns(AcousticWarning):
        assert seg.speed_m_s((2000.0, 4000.0)) == seg.speed_m_s((lim / 2.0, lim))


def test_path_warning_names_the_segment_and_the_interval_widens():
    small, big = PipeSegment("pvc", 60.0, 150.0), PipeSegment("pvc", 60.0, 1500.0)
    ok = PipePath([small, PipeSegment("pvc", 60.0, 150.0)])
    path = PipePath([small, big])
    with pytest.warns(AcousticWarning, match=r"pipe segment 2 of 2 \(pvc 1500 mm bore"):
        c = path.speeds_m_s()
    assert np.all((c >= MIN_WAVE_SPEED_M_S) & (c <= MAX_WAVE_SPEED_M_S))
    with warnings.catch_warnings():
        warnings.simplefilter("error", AcousticWarning)
        lo0, hi0, _ = ok.position_interval(ok.delay_for_position(30.0), 1e-4)
    with pytest.warns(AcousticWarning):
        lo, hi, sd = path.position_interval(path.delay_for_position(30.0), 1e-4)
    assert np.isfinite([lo, hi, sd]).all() and 0.0 <= lo < hi <= path.length_m
    assert hi - lo > 3 * (hi0 - lo0)


def test_a_measured_speed_on_a_large_main_is_kept_without_warning():
    seg = PipeSegment("pvc", 50.0, 1500.0, wave_speed_m_s=430.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", AcousticWarning)
        assert seg.speed_m_s() == pytest.approx(430.0, rel=1e-9)
        assert seg.speed_rel_sd() == pytest.approx(0.02)
        assert seg.properties().speed_scale > 0


def test_walls_too_soft_for_a_usable_wave_are_refused():
    # PE below D/h 188 would carry the wave slower than 100 m/s even quasi-statically
    h = thinnest_wall_mm("pe", 150.0)
    assert h == pytest.approx(150.0 / 188.0, rel=0.01)
    assert quasi_static_speed(youngs_modulus_pa=get_material("pe").youngs_modulus_pa,
                              mean_radius_m=(0.150 + h * 1e-3) / 2, wall_m=h * 1e-3) == pytest.approx(100.0)
    with pytest.raises(PipeError, match=r"wall_mm 0.7 mm is thinner .* \(at least 0.797 mm: a thinner MDPE/HDPE "
                                        r"wall would carry the leak-noise wave slower than 100 m/s\)"):
        PipeSegment("pe", 10.0, 150.0, 0.7)
    PipeSegment("pe", 10.0, 150.0, 0.8)
    for mat in MATERIALS:  # every other material is bound by D/h 250
        if mat != "pe":
            assert thinnest_wall_mm(mat, 150.0) == pytest.approx(0.6)


def test_radial_root_branches():
    """Each root squares back; radiating roots (|Re| >= |Im|) are outgoing (Re >= 0), evanescent ones decay
    away from the pipe (Im <= 0), over every quadrant."""
    from acoustic.pipe._wavenumber import _radial_root

    rng = np.random.default_rng(3)
    k2 = (rng.normal(size=4000) + 1j * rng.normal(size=4000)) * 10.0 ** rng.uniform(-4, 4, 4000)
    r = _radial_root(k2)
    np.testing.assert_allclose(r**2, k2, rtol=1e-12)
    radiating = np.abs(r.real) >= np.abs(r.imag)
    assert np.all(r.real[radiating] >= 0) and np.all(r.imag[~radiating] <= 0)


def test_buried_model_flags_what_it_cannot_solve_and_never_grows():
    """Thin asbestos cement in stiff soil: near 1.9 kHz the fixed point cycles (the radial root flips branch
    as the pipe wave nears the soil's dilatational speed); the old iterate grew along the pipe there."""
    seg = PipeSegment("asbestos_cement", 1.0, 100.0, 0.4, soil="stiff")
    f = np.geomspace(1700.0, 2100.0, 40)
    k, solved = seg.properties().solve_wavenumber(f)
    assert not solved.all() and solved[0]
    assert np.all(k.imag <= 0) and np.all(np.isfinite(k))
    assert seg.validity_limit_hz < f[~solved][0]


BANDS_1HZ_TO_5KHZ = [(100.0, 400.0), (1250.0, 5000.0)]


@pytest.mark.parametrize("soil", list(SOILS))
@pytest.mark.parametrize("mat", list(MATERIALS))
def test_wave_model_is_sane_over_every_pipe_and_frequency(mat, soil):
    """Every material x diameters 20-1500 mm x the thinnest and thickest walls accepted x every soil, over
    1 Hz - 5 kHz (vectorised over frequency): the wave never grows along the pipe (attenuation >= 0) and is
    finite; below the validity limit the model solves and its phase and group speeds lie within
    [MIN_WAVE_SPEED_M_S, MAX_WAVE_SPEED_M_S]; the band speeds (any band) and the speed s.d. are too."""
    f = np.geomspace(1.0, 5000.0, 97)
    w = 2.0 * np.pi * f
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AcousticWarning)
        for d in (20.0, 60.0, 150.0, 300.0, 600.0, 1500.0):
            for wall in (thinnest_wall_mm(mat, d), d / 2.0):
                seg = PipeSegment(mat, 1.0, d, wall, soil=soil)
                where = (mat, d, wall, soil)
                k, solved = seg.properties().solve_wavenumber(f)
                assert np.all(np.isfinite(k)) and np.all(k.real >= 0), where
                assert np.all(attenuation_db_per_m(k) >= 0), where
                valid = f <= seg.validity_limit_hz
                assert valid[0] and np.all(solved[valid]), where
                c = w[valid] / k.real[valid]
                cg = np.diff(w[valid]) / np.diff(k.real[valid])
                assert np.all((c >= MIN_WAVE_SPEED_M_S) & (c <= MAX_WAVE_SPEED_M_S)), where
                assert np.all((cg >= MIN_WAVE_SPEED_M_S) & (cg <= MAX_WAVE_SPEED_M_S)), where
                for band in BANDS_1HZ_TO_5KHZ:
                    assert MIN_WAVE_SPEED_M_S <= seg.speed_m_s(band) <= MAX_WAVE_SPEED_M_S, (where, band)
                sd = seg.speed_rel_sd()
                assert np.isfinite(sd) and 0.0 < sd < 2.0, where


@pytest.mark.parametrize("module", ["_wavenumber", "_validity", "_path"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    res = doctest.testmod(importlib.import_module(f"acoustic.pipe.{module}"), optionflags=doctest.ELLIPSIS)
    assert res.failed == 0 and res.attempted > 0
