"""Model-mismatch pairs for ``bench/correlate_accuracy.py``: physics that is deliberately not our simulator's.

Each pair starts from ``acoustic.simulate.simulate_pair`` (kept components: leak, second leak,
background, confounders, in physical units at each sensor) and has its modelling choices replaced
by other, randomised ones before the correlator sees it:

* leak source spectrum: the leak (and second leak) at both sensors passes one common random
  filter (a spectral tilt of -6..+6 dB/octave about 300 Hz and a resonant bump 0-15 dB at
  50 Hz-2 kHz): another source spectrum, the same at both ends as a source's is;
* frequency-dependent soil loss the pipe model does not have: ``L (f / 1 kHz)^p x / D`` dB over
  the leak's distance x to each sensor (D the spacing), L 0-12 dB at 1 kHz over the whole
  spacing, p 0.5-2;
* wave speed off the table: the leak's delay is that of speeds (1 + e) times the simulated
  ones, e normal with s.d. 4 % truncated at +-10 %, on top of the simulator's own speed draw;
* ambient noise of another colour: the background is replaced by independent noise at each
  sensor with a power-law spectrum ``f^-b`` (b from -1 to 2.5, white to brown) and the same power
  within the leak band the simulator's SNR is defined over (so the drawn SNR holds there);
* sensor resonances: each logger's recording passes its own 1-2 resonances (300 Hz-0.4 fs,
  Q 2-12, +6..+20 dB) and a first-order high-pass at 2-40 Hz;
* leak level that wanders: in 4 pairs of 10 the leak's amplitude is slowly modulated (a smoothed
  random walk of relative s.d. 0-0.3 and correlation time 0.5-10 s, as pressure transients and
  the flow through the opening vary), the same at both sensors;
* gains: each logger's level is rescaled (peak at 0.1-0.9 of full scale) and its gain_db kept
  as written, so calibration is off as well.

The truth stays the simulator's leak position: a pair whose speed error alone moves the
position beyond the tolerance is counted as speed-limited, as in the main bench.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

MATERIALS = ("pvc", "pe", "cast_iron", "ductile_iron", "steel", "asbestos_cement", "concrete", "copper")
PLASTIC = ("pvc", "pe")
CONFOUNDERS = ("none", "hum", "pump", "prv", "consumption", "second_leak", "traffic")
#: Relative speed error (s.d.) and its bound.
SPEED_SD = 0.04
SPEED_MAX = 0.10


def draw_case(i: int, rng: np.random.Generator) -> dict:
    """A mismatch pair's geometry, SNR, confounder and perturbations (everything drawn here)."""
    from acoustic.pipe import PipePath, PipeSegment

    mat = MATERIALS[i % len(MATERIALS)]
    conf = CONFOUNDERS[int(rng.integers(len(CONFOUNDERS)))]
    plastic = mat in PLASTIC
    d = float(rng.uniform(30.0, 120.0) if plastic else rng.uniform(60.0, 300.0))
    diam = float(rng.choice([100.0, 150.0, 200.0, 300.0]))
    if rng.random() < 0.25:
        other = str(rng.choice([m for m in (PLASTIC if plastic else MATERIALS[2:]) if m != mat]))
        f = float(rng.uniform(0.3, 0.7))
        path = PipePath([PipeSegment(mat, d * f, diam), PipeSegment(other, d * (1.0 - f), diam)])
    else:
        path = PipePath([PipeSegment(mat, d, diam)])
    e = float(np.clip(rng.normal(0.0, SPEED_SD), -SPEED_MAX, SPEED_MAX))
    return dict(material=mat, confounder=conf, snr_db=float(rng.uniform(-12.0, 6.0)), path=path,
                leak_m=float(rng.uniform(0.1, 0.9) * d),
                sensor_kind="hydrophone" if plastic or rng.random() < 0.5 else "accelerometer",
                seed=int(rng.integers(2**31)), speed_error=e,
                tilt_db_oct=float(rng.uniform(-6.0, 6.0)), bump_hz=float(math.exp(rng.uniform(math.log(50), math.log(2000)))),
                bump_db=float(rng.uniform(0.0, 15.0)), soil_db=float(rng.uniform(0.0, 12.0)),
                soil_p=float(rng.uniform(0.5, 2.0)), ambient_b=[float(rng.uniform(-1.0, 2.5)) for _ in range(2)],
                resonances=[[(float(rng.uniform(300.0, 0.4 * 8000.0)), float(rng.uniform(2.0, 12.0)),
                              float(rng.uniform(6.0, 20.0))) for _ in range(int(rng.integers(1, 3)))] for _ in range(2)],
                highpass_hz=[float(rng.uniform(2.0, 40.0)) for _ in range(2)],
                peak=[float(rng.uniform(0.1, 0.9)) for _ in range(2)],
                am_sd=float(rng.uniform(0.0, 0.3)) if rng.random() < 0.4 else 0.0,
                am_corr_s=float(math.exp(rng.uniform(math.log(0.5), math.log(10.0)))))


def _bump(f, f0, q, gain_db):
    """A resonance's magnitude: 1 far away, 10^(gain/20) at f0, bandwidth f0 / q."""
    g = 10.0 ** (gain_db / 20.0)
    x = (f / f0 - f0 / np.maximum(f, 1e-9)) * q
    return 1.0 + (g - 1.0) / np.sqrt(1.0 + x * x)


def _filter(x, h):
    return np.fft.irfft(np.fft.rfft(x) * h, x.size)


def _shift(x, tau_s, fs):
    """``x`` delayed by ``tau_s`` (circular, fractional)."""
    f = np.fft.rfftfreq(x.size, 1.0 / fs)
    return _filter(x, np.exp(-2j * np.pi * f * tau_s))


def modulation(case, n, fs, seed):
    """The leak's slow amplitude modulation (1 + smoothed noise of s.d. ``am_sd``), or None."""
    if case["am_sd"] <= 0.0:
        return None
    rng = np.random.default_rng(seed)
    f = np.fft.rfftfreq(n, 1.0 / fs)
    z = (rng.standard_normal(f.size) + 1j * rng.standard_normal(f.size)) * np.exp(-(f * case["am_corr_s"]) ** 2)
    z[0] = 0.0
    w = np.fft.irfft(z, n)
    w *= case["am_sd"] / max(float(np.std(w)), 1e-300)
    return np.maximum(1.0 + w, 0.0)


def perturb_leak(comp, key, delay_s, dist_m, case, fs, side, am=None):
    """A leak component at one sensor with the case's source spectrum, soil loss and speed error
    (and its slow amplitude modulation ``am``, applied at the source: shifted by the travel time
    difference only to within the modulation's slowness)."""
    x = comp[key] if am is None else comp[key] * am
    f = np.fft.rfftfreq(x.size, 1.0 / fs)
    fr = np.maximum(f, 1.0)
    h = (fr / 300.0) ** (case["tilt_db_oct"] / 6.0206) * _bump(fr, case["bump_hz"], 2.0, case["bump_db"])
    h = h * 10.0 ** (-case["soil_db"] * (fr / 1000.0) ** case["soil_p"] * dist_m / case["path"].length_m / 20.0)
    # speeds (1 + e) times the simulated ones: every travel time divided by (1 + e); the delay
    # (arrival at A minus at B) shrinks by the same factor; A's arrival moves by all of it
    if side == "a":
        h = h * np.exp(-2j * np.pi * f * (delay_s / (1.0 + case["speed_error"]) - delay_s))
    return _filter(x, h)


def ambient(rng, old, fs, b, band_hz):
    """Noise of spectrum ``f^-b`` with the power ``old`` has within ``band_hz`` (the leak band the
    simulator's SNR is defined over), so the SNR there stays the drawn one."""
    n = old.size
    f = np.fft.rfftfreq(n, 1.0 / fs)
    shape = np.maximum(f, 2.0) ** (-b / 2.0)
    shape[0] = 0.0
    z = (rng.standard_normal(f.size) + 1j * rng.standard_normal(f.size)) * shape
    sel = (f >= band_hz[0]) & (f <= band_hz[1])
    p_old = float(np.sum(np.abs(np.fft.rfft(old)[sel]) ** 2))
    z *= math.sqrt(p_old / max(float(np.sum(np.abs(z[sel]) ** 2)), 1e-300))
    return np.fft.irfft(z, n)


def make_pair(case: dict, duration_s: float, *, leak: bool = True):
    """The perturbed pair: (Recording A, Recording B, truth dict)."""
    from acoustic.simulate import simulate_pair

    conf = [] if case["confounder"] == "none" else [case["confounder"]]
    sim = simulate_pair(case["path"], case["leak_m"], snr_db=case["snr_db"] if leak else -60.0,
                        duration_s=duration_s, sensor_kind=case["sensor_kind"], confounders=conf,
                        seed=case["seed"], keep_components=True)
    fs = float(sim.truth["sample_rate_hz"])
    d = case["path"].length_m
    rng = np.random.default_rng(case["seed"] + 1)
    am = modulation(case, len(sim.a.samples), fs, case["seed"] + 2)
    recs = []
    for k, rec in (("a", sim.a), ("b", sim.b)):
        comp = dict(sim.components[k])
        j = 0 if k == "a" else 1
        if "leak" in comp and leak:
            x = case["leak_m"]
            comp["leak"] = perturb_leak(comp, "leak", sim.truth["delay_s"], x if k == "a" else d - x, case, fs, k, am)
        elif "leak" in comp:
            comp.pop("leak")
        if "second_leak" in comp:
            x2 = sim.truth["second_leak_m"]
            comp["second_leak"] = perturb_leak(comp, "second_leak", sim.truth["second_delay_s"],
                                               x2 if k == "a" else d - x2, case, fs, k)
        bg = comp.pop("background")
        comp["background"] = ambient(rng, bg, fs, case["ambient_b"][j], sim.truth.get("snr_band_hz") or (100.0, 1000.0))
        total = sum(comp.values())
        f = np.maximum(np.fft.rfftfreq(total.size, 1.0 / fs), 1e-3)
        h = np.ones_like(f)
        for f0, q, g in case["resonances"][j]:
            h = h * _bump(f, min(f0, 0.45 * fs), q, g)
        fc = case["highpass_hz"][j]
        h = h * (f / fc) / np.sqrt(1.0 + (f / fc) ** 2)
        y = _filter(total, h)
        y = y * (case["peak"][j] / max(float(np.max(np.abs(y))), 1e-300))
        recs.append(dataclasses.replace(rec, samples=y))
    truth = dict(leak_m=case["leak_m"] if leak else None, second_leak_m=sim.truth.get("second_leak_m"),
                 delay_s=sim.truth["delay_s"] / (1.0 + case["speed_error"]),
                 speed_error_rel=case["speed_error"], snr_band_hz=sim.truth.get("snr_band_hz"),
                 tap_m=(sim.truth.get("confounder_details") or {}).get("consumption", {}).get("position_m"))
    return recs[0], recs[1], truth


def run_case(case: dict, duration_s: float) -> dict:
    """Correlate one mismatch pair; score against the truth as the main bench does."""
    import time

    from acoustic.correlate import correlate_pair
    from acoustic.correlate._analysis import choose_frame_length
    from acoustic.correlate._locate import WINDOW_MARGIN, _quantise_band
    from acoustic.correlate._prepare import prepare_pair

    a, b, truth = make_pair(case, duration_s)
    path, x = case["path"], case["leak_m"]
    d = path.length_m
    tol = max(1.0, 0.02 * d)
    t0 = time.perf_counter()
    res = correlate_pair(a, b, path)
    row = dict(material=case["material"], confounder=case["confounder"], snr_db=case["snr_db"], length_m=d, leak_m=x,
               speed_error_rel=case["speed_error"], am_sd=case["am_sd"], detected=res.detected,
               seconds=time.perf_counter() - t0)
    tol_src = max(2.0, 0.04 * d)
    row["leak_flagged"] = sum(bool(p.get("intermittent")) for p in res.peaks if abs(p["distance_from_a_m"] - x) <= tol_src)
    leaks = [x] + ([truth["second_leak_m"]] if truth["second_leak_m"] is not None else [])
    if res.detected:
        near = min(leaks, key=lambda v: abs(res.distance_from_a_m - v))
        row.update(error_m=res.distance_from_a_m - near, located=abs(res.distance_from_a_m - near) <= tol,
                   covered=bool(res.interval_m[0] <= near <= res.interval_m[1]))
    else:
        row.update(located=False, covered=None)
    band = truth["snr_band_hz"] or (100.0, 1000.0)
    x_delay = float(path.position_for_delay(truth["delay_s"], speeds_m_s=path.speeds_m_s(_quantise_band(band))))
    row["speed_limited"] = bool(abs(x_delay - x) > tol)
    from correlate_accuracy import baseline_phat

    prep = prepare_pair(a, b)
    t_win = float(np.sum(path.lengths_m / path.speeds_m_s())) * WINDOW_MARGIN
    n_fft = choose_frame_length(prep.xa.size, prep.sample_rate_hz, t_win + abs(prep.offset_s))
    xb = baseline_phat(prep, path, t_win, n_fft)
    row["b_located"] = xb is not None and min(abs(xb - v) for v in leaks) <= tol
    return row


def run_noise(case: dict, duration_s: float) -> dict:
    """A leak-free mismatch pair (the leak 60 dB under, then removed): any detection is false."""
    from acoustic.correlate import correlate_pair

    a, b, _truth = make_pair(dict(case, confounder="none" if case["confounder"] == "second_leak" else case["confounder"]),
                             duration_s, leak=False)
    res = correlate_pair(a, b, case["path"])
    return dict(material=case["material"], confounder=case["confounder"], length_m=case["path"].length_m,
                detected=res.detected, peaks=[p["distance_from_a_m"] for p in res.peaks],
                outside=len(res.outside_peaks))


def summarise(rows: list, noise_rows: list) -> dict:
    det = [r for r in rows if r["detected"]]
    return dict(n=len(rows), located=float(np.mean([r["located"] for r in rows])) if rows else None,
                detected=float(np.mean([r["detected"] for r in rows])) if rows else None,
                coverage=float(np.mean([r["covered"] for r in det])) if det else None,
                baseline_b_located=float(np.mean([r["b_located"] for r in rows])) if rows else None,
                speed_limited=int(sum(r["speed_limited"] for r in rows)),
                located_not_speed_limited=float(np.mean([r["located"] for r in rows if not r["speed_limited"]]))
                if any(not r["speed_limited"] for r in rows) else None,
                leaks_flagged_intermittent=int(sum(r["leak_flagged"] for r in rows)),
                n_leak_free=len(noise_rows), false_detections=int(sum(r["detected"] for r in noise_rows)))


def run_section(n: int, n_noise: int, seed: int, duration_s: float, progress: bool = True):
    """``n`` mismatch leak pairs and ``n_noise`` leak-free ones (seeded): rows, noise rows, summary."""
    import time

    rng = np.random.default_rng([seed, 17])
    rows, noise_rows = [], []
    t0 = time.perf_counter()
    for i in range(n):
        rows.append(run_case(draw_case(i, rng), duration_s))
        if progress and (i + 1) % 20 == 0:
            print(f"  mismatch {i + 1}/{n} pairs ({time.perf_counter() - t0:.0f} s)", flush=True)
    for i in range(n_noise):
        noise_rows.append(run_noise(draw_case(i, rng), duration_s))
    return rows, noise_rows, summarise(rows, noise_rows)


def print_summary(s: dict, title: str) -> None:
    def pc(v):
        return "    -" if v is None else f"{100 * v:5.1f}"
    print(f"\n{title}")
    print(f"  leak pairs {s['n']}: located {pc(s['located'])} % (detected {pc(s['detected'])} %; not speed-limited "
          f"{pc(s['located_not_speed_limited'])} %, speed-limited pairs {s['speed_limited']}); 95 % interval holds "
          f"the leak {pc(s['coverage'])} % of detected; textbook GCC-PHAT (b) {pc(s['baseline_b_located'])} %")
    print(f"  leak peaks flagged intermittent {s['leaks_flagged_intermittent']}; leak-free pairs {s['n_leak_free']}: "
          f"false detections {s['false_detections']}")


if __name__ == "__main__":
    import argparse
    import json
    import sys
    import warnings
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--noise", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    rows, noise_rows, s = run_section(args.n, args.noise, args.seed, args.duration)
    print_summary(s, f"model-mismatch pairs ({args.duration:g} s, seed {args.seed})")
    for r in rows:
        if not r["located"]:
            print(f"  missed {r['material']:16s} {r['confounder']:12s} snr {r['snr_db']:5.1f} D={r['length_m']:.0f} "
                  f"speed {r['speed_error_rel']:+.3f} limited {r['speed_limited']} detected {r['detected']} "
                  f"err {r.get('error_m')} textbook {r['b_located']} am {r['am_sd']:.2f} flagged {r['leak_flagged']}")
    for r in noise_rows:
        if r["detected"]:
            print(f"  false detection {r['material']} {r['confounder']} peaks {r['peaks']}")
    if args.out:
        args.out.write_text(json.dumps({"summary": s, "rows": rows, "noise_rows": noise_rows}, indent=1, default=float))
