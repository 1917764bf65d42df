"""The stages of ``acoustic.correlate`` (``_analysis`` and ``_locate``) on their own, with explicit
inputs: spectra, band choice, CLEAN, scoring, the intermittency mark, the peak split and location."""

import math

import numpy as np
import pytest

from acoustic.correlate import _analysis as an_mod
from acoustic.correlate import _locate as loc
from acoustic.correlate._prepare import prepare_pair
from acoustic.pipe import PipePath
from acoustic.simulate import simulate_pair


@pytest.fixture(scope="module")
def pair():
    path = PipePath.uniform(150.0, "ductile_iron")
    sim = simulate_pair(path, 55.0, snr_db=0.0, duration_s=20.0, seed=11)
    prep = prepare_pair(sim.a, sim.b)
    t = loc.delay_window_s(path, prep.sample_rate_hz)
    sp = an_mod.pair_spectra(prep, (-t, t))
    return path, sim, prep, sp


def test_pair_spectra_holds_what_the_looks_share(pair):
    _path, _sim, prep, sp = pair
    assert sp.n_fft == sp.cs.n_fft and sp.frames_a.shape == sp.frames_b.shape
    assert sp.frames_a.shape[0] >= an_mod.MIN_FRAMES
    assert sp.coherence_raw.shape == sp.coherence_smooth.shape == sp.notch.shape == sp.cs.freqs_hz.shape
    assert sp.fmin_hz >= an_mod.FMIN_HZ and sp.fmax_hz == pytest.approx(0.45 * prep.sample_rate_hz)


def test_choose_band_given_coherent_and_fallback(pair):
    path, _sim, prep, sp = pair
    fb = loc.physics_band(path, prep.sample_rate_hz)
    given = an_mod.choose_band(prep, sp, "phat", (200.0, 900.0), fb)
    assert given.band_hz == given.signal_band_hz == (200.0, 900.0) and given.coherent and given.scan_k == 1
    auto = an_mod.choose_band(prep, sp, "auto", None, fb)
    assert auto.coherent and auto.weighting == "ht"
    # HT widens a narrow coherent band to two octaves; the signal band stays the coherent one
    assert auto.band_hz[0] <= auto.signal_band_hz[0] and auto.band_hz[1] >= auto.signal_band_hz[1]
    assert auto.band_hz[1] >= auto.band_hz[0] * 2.0 ** an_mod.MIN_LEAK_BAND_OCTAVES * 0.999 or \
        auto.band_hz[0] <= sp.fmin_hz or auto.band_hz[1] >= sp.fmax_hz


def test_choose_band_with_nothing_coherent_scans_with_scot(monkeypatch, pair):
    path, _sim, prep, sp = pair
    monkeypatch.setattr(an_mod, "select_band", lambda *a, **k: (None, None, None))
    fb = loc.physics_band(path, prep.sample_rate_hz)
    auto = an_mod.choose_band(prep, sp, "auto", None, fb)
    assert not auto.coherent and auto.weighting == "scot" and auto.scan_k > 1
    lo, hi = an_mod.leak_noise_band(sp, fb)
    assert lo <= auto.band_hz[0] < auto.band_hz[1] <= hi
    fixed = an_mod.choose_band(prep, sp, "phat", None, fb)  # a named weighting is kept, over the whole band
    assert fixed.weighting == "phat" and fixed.band_hz == (lo, hi) and fixed.scan_k == 1


def test_clean_score_and_mark_find_the_leak(pair):
    path, sim, prep, sp = pair
    choice = an_mod.choose_band(prep, sp, "auto", None, loc.physics_band(path, prep.sample_rate_hz))
    cg, taper = an_mod.band_correlogram(prep, sp, choice.weighting, choice.band_hz)
    grid = an_mod.lag_grid(sp, cg, taper, choice.band_hz)
    assert np.all((grid.lags[grid.win] >= sp.window_s[0] - grid.step) & (grid.lags[grid.win] <= sp.window_s[1] + grid.step))
    assert not np.any(grid.beyond[grid.win])  # noise is never measured where a source can be
    found, z_resid = an_mod.clean_peaks(grid, sp.window_s, 4)
    assert 1 <= len(found) <= 4
    # the strongest peak is the leak's, and CLEAN took it out of the residual
    assert abs(found[0][0] - sim.truth["delay_s"]) < 3.0 / prep.sample_rate_hz + 1e-3
    i = int(np.argmin(np.abs(grid.lags - found[0][0])))
    assert abs(z_resid[i]) < 0.5 * abs(grid.z0[i])
    peaks, noise_sd = an_mod.score_peaks(prep, sp, grid, choice.weighting, found, z_resid, 1)
    assert noise_sd > 0 and peaks[0].p_false_alarm < 1e-6 and peaks[0].z > 10
    charged, _ = an_mod.score_peaks(prep, sp, grid, choice.weighting, found, z_resid, 7)
    for a, b in zip(peaks, charged):  # every band tried is charged
        assert b.p_false_alarm == pytest.approx(min(1.0, 7 * a.p_false_alarm))
    an_mod.mark_intermittent(sp, grid, peaks, 0.01)
    assert math.isfinite(peaks[0].intermittency) and not peaks[0].intermittent


def test_split_peaks_sets_edge_peaks_aside():
    path = PipePath.uniform(100.0, "ductile_iron")
    sp = loc.path_speeds(path, (200.0, 800.0))
    t_d = sp.max_delay_s
    mk = lambda d, p=1e-4, s=0.5: an_mod.Peak(delay_s=d, delay_sd_s=1e-5, strength=s, z=20.0, p_false_alarm=p,
                                               phase_rad=0.0)
    notes = []
    inside, outside = loc.split_peaks([mk(0.3 * t_d, s=0.2), mk(-t_d), mk(0.1 * t_d, s=0.4), mk(0.0, p=0.5)],
                                      sp, 8000.0, 0.01, notes)
    assert [round(p.delay_s / t_d, 2) for p, _ in inside] == [0.1, 0.3]  # strongest first; p > pfa dropped
    assert outside and outside[0]["side"] == "beyond_a" and any("outside the pair" in n for n in notes)
    assert all(sd >= loc.DELAY_SD_FLOOR_SAMPLES / 8000.0 for _, sd in inside)


def test_choose_located_skips_what_comes_and_goes():
    mk = lambda inter, shared=False: (an_mod.Peak(delay_s=0.0, delay_sd_s=1e-5, strength=0.5, z=9.0,
                                                   p_false_alarm=1e-4, phase_rad=0.0, intermittent=inter,
                                                   shared=shared), 1e-5)
    js = [{"distance_from_a_m": 10.0}, {"distance_from_a_m": 40.0}]
    notes = []
    assert loc.choose_located([mk(True), mk(False)], js, notes) == 1 and "comes and goes" in notes[0]
    assert loc.choose_located([mk(True), mk(True)], js, []) is None
    notes = []
    assert loc.choose_located([mk(False, shared=True)], js[:1], notes) == 0 and "also comes and goes" in notes[0]


def test_locate_peak_interval_holds_the_position():
    path = PipePath.uniform(100.0, "ductile_iron")
    sp = loc.path_speeds(path, (200.0, 800.0))
    pk = an_mod.Peak(delay_s=0.2 * sp.max_delay_s, delay_sd_s=1e-5, strength=0.5, z=30.0, p_false_alarm=1e-5,
                     phase_rad=0.0)
    notes = []
    pos = loc.locate_peak(path, pk, 1e-4, sp, notes)
    assert pos.distance_from_a_m == pytest.approx(60.0, abs=0.5)
    assert pos.interval_m[0] <= pos.distance_from_a_m <= pos.interval_m[1]
    assert pos.distance_from_a_m + pos.distance_from_b_m == pytest.approx(100.0)
    assert pos.confidence == pytest.approx(1.0 - 1e-5) and not notes


def _pk(d, p=1e-4, inter=False):
    return an_mod.Peak(delay_s=d, delay_sd_s=1e-5, strength=0.5, z=9.0, p_false_alarm=p, phase_rad=0.0,
                       intermittent=inter)


def test_scan_candidates_end_with_textbook_phat_over_the_whole_band():
    cands = an_mod._scan_candidates((10.0, 400.0))
    assert cands[0] == ("scot", (10.0, 400.0)) and cands[-1] == ("phat", (10.0, 400.0))
    assert all(w == "scot" and 10.0 <= b[0] < b[1] <= 400.0 * 1.0001 for w, b in cands[1:-1])


def test_second_look_when_only_a_source_at_the_edge_stands_out(pair):
    _path, _sim, prep, sp = pair
    an = an_mod.Analysis.__new__(an_mod.Analysis)
    coherent = an_mod.BandChoice("ht", (100.0, 400.0), (100.0, 400.0), True, 1)
    scanned = an_mod.BandChoice("scot", (100.0, 400.0), (100.0, 400.0), False, 9)
    an.peaks = [_pk(0.099)]  # only a peak at the edge (edge at 0.09 s)
    assert an_mod.needs_second_look(an, coherent, 0.01, 0.09)
    assert an_mod.needs_second_look(an, scanned, 0.01, 0.09)  # the scan may have followed the louder source
    assert not an_mod.needs_second_look(an, scanned, 0.01, None)  # without an edge the old rule
    an.peaks = [_pk(0.099), _pk(0.02)]
    assert not an_mod.needs_second_look(an, coherent, 0.01, 0.09)
    an.peaks = [_pk(0.02, p=0.3)]
    assert not an_mod.needs_second_look(an, scanned, 0.01, 0.09)  # nothing at all: the scan was already made


def test_keep_second_look_reports_the_leak_and_the_edge_source(pair):
    _path, _sim, _prep, sp = pair
    first = an_mod.Analysis.__new__(an_mod.Analysis)
    first.peaks, first.band_hz, first.cs = [_pk(0.099), _pk(0.03, p=0.4)], (100.0, 400.0), sp.cs
    again = an_mod.Analysis.__new__(an_mod.Analysis)
    again.peaks = [_pk(0.02, p=1e-3)]
    kept = an_mod.keep_second_look(first, again, 0.01, 0.09)
    assert kept is again and [p.delay_s for p in kept.peaks] == [0.02, 0.099]  # the leak first, the edge source kept
    again.peaks = [_pk(0.02, p=1e-3, inter=True)]
    assert an_mod.keep_second_look(first, again, 0.01, 0.09) is first  # a tap is no reason to switch
    again.peaks = [_pk(0.0995, p=1e-6)]
    assert an_mod.keep_second_look(first, again, 0.01, 0.09) is first  # only the edge source again


def test_edge_delay_is_inside_the_travel_time():
    path = PipePath.uniform(100.0, "pvc")
    e = loc.edge_delay_s(path)
    assert 0.5 * path.max_delay_s() < e < loc.delay_window_s(path, 8000.0)


def test_keep_second_look_refuses_the_first_looks_tap(pair):
    _path, _sim, _prep, sp = pair
    first = an_mod.Analysis.__new__(an_mod.Analysis)
    first.peaks, first.band_hz, first.cs = [_pk(0.0995), _pk(0.02, inter=True)], (100.0, 400.0), sp.cs
    again = an_mod.Analysis.__new__(an_mod.Analysis)
    again.peaks = [_pk(0.0201, p=1e-4)]  # the tap again, steady-looking in the scanned band
    assert an_mod.keep_second_look(first, again, 0.01, 0.09) is first
