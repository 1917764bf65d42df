#!/usr/bin/env python3
"""Make the shipped sample recordings under ``recordings/samples/`` (deterministic seeds).

    .venv/bin/python scripts/make_samples.py [--out recordings/samples]

Writes, each with its truth JSON (see ``acoustic.simulate``):

* ``pvc_pair/``   one PVC segment (76 m, DN150 SDR 17), hydrophones, leak at 29.5 m, SNR 3 dB,
                  B's logger starting 0.734512 s after A's;
* ``metal_pair/`` ductile iron (120 m) then cast iron (90 m), accelerometers, leak at 137 m,
                  SNR 0 dB, mains hum picked up at both loggers, B starting 1.25 s before A;
* ``single/``     single-logger recordings: leaks (ductile iron 25 m, PVC 12 m, cast iron 150 m)
                  and no-leak kinds (quiet, pump, PRV, consumption, traffic);
* ``README.md``   what each file is, from its truth.

8 kHz PCM16, 20 s pairs and 8 s singles: about 2.3 MB in all.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from acoustic.pipe import PipePath, PipeSegment  # noqa: E402
from acoustic.simulate import simulate_pair, simulate_recording  # noqa: E402

START = "2026-11-03T02:00:00.000000Z"
FS = 8000.0

PAIRS = {
    "pvc_pair": dict(
        path=[dict(material="pvc", length_m=76.0, diameter_mm=150.0, wall_mm=10.0)],
        leak_m=29.5, sensor_kind="hydrophone", snr_db=3.0, start_offset_s=0.734512, confounders=(),
        seed=20261103, sensor_ids=("L101", "L102"), leak_level_db=20.0,
        about="PVC DN150 SDR 17, 76 m between hydrophones on hydrants; leak at 29.5 m from A; SNR 3 dB",
    ),
    "metal_pair": dict(
        path=[dict(material="ductile_iron", length_m=120.0, diameter_mm=150.0),
              dict(material="cast_iron", length_m=90.0, diameter_mm=150.0)],
        leak_m=137.0, sensor_kind="accelerometer", snr_db=0.0, start_offset_s=-1.25, confounders=("hum",),
        seed=20261104, sensor_ids=("L201", "L202"), leak_level_db=20.0,
        about="ductile iron 120 m then cast iron 90 m (DN150), accelerometers on valves; leak at 137 m "
              "from A (in the cast-iron section); SNR 0 dB; 50 Hz hum at both loggers",
    ),
}

SINGLES = {
    "leak_di_25m": dict(leak_distance_m=25.0, material="ductile_iron", noises=(), seed=101, leak_level_db=15.0,
                        about="ductile iron DN150, leak 25 m away, hydrophone"),
    "leak_pvc_12m": dict(leak_distance_m=12.0, material="pvc", noises=("traffic",), seed=102, leak_level_db=15.0,
                         about="PVC DN150, leak 12 m away, with traffic passes"),
    "leak_ci_150m": dict(leak_distance_m=150.0, material="cast_iron", noises=(), seed=103, leak_level_db=15.0,
                         about="cast iron DN150, leak 150 m away (weaker at the logger)"),
    "noleak_quiet": dict(material="ductile_iron", noises=("quiet",), seed=104, about="no leak, background only"),
    "noleak_pump": dict(material="ductile_iron", noises=("pump",), seed=105,
                        about="no leak, a pump 20-300 m away (shaft and blade-pass lines)"),
    "noleak_prv": dict(material="steel", noises=("prv",), seed=106,
                       about="no leak, PRV hiss 10-200 m away (stationary: mimics a leak)"),
    "noleak_consumption": dict(material="pe", noises=("consumption",), seed=107,
                               about="no leak, intermittent consumption from a tap 2-100 m away"),
    "noleak_traffic": dict(material="ductile_iron", noises=("traffic",), seed=108,
                           about="no leak, low-frequency traffic passes"),
    "noleak_hum": dict(material="ductile_iron", noises=("hum",), seed=109, about="no leak, mains hum pickup"),
}


def make(out: Path) -> list[str]:
    lines = ["# Sample recordings", "",
             "Made by `scripts/make_samples.py` with `acoustic.simulate` (fixed seeds; re-running it "
             "reproduces these files exactly). 8 kHz PCM16 WAV, each with its sidecar JSON and the "
             "simulator's truth. Calibrated units: samples / 10**(gain_db/20) in Pa (hydrophone) or "
             "m/s^2 (accelerometer).", "", "## Pairs (`A.wav`, `B.wav`, `pipe.json`, `truth.json`)", ""]
    for name, spec in PAIRS.items():
        spec = dict(spec)
        about = spec.pop("about")
        path = PipePath([PipeSegment(**s) for s in spec.pop("path")])
        leak_m = spec.pop("leak_m")
        sim = simulate_pair(path, leak_m, sample_rate_hz=FS, duration_s=20.0, start_time=START, **spec)
        sim.write(out / name)
        t = sim.truth
        lines.append(f"- `{name}/`: {about}. Truth: delay {t['delay_s']:+.5f} s (arrival at A minus B, "
                     f"absolute time); realised speeds {', '.join(f'{c:.0f}' for c in t['speeds_m_s'])} m/s "
                     f"(nominal {', '.join(f'{c:.0f}' for c in t['nominal_speeds_m_s'])} m/s); "
                     f"B starts {t['start_offset_s']:+.6f} s after A.")
        print(f"{name}: leak {leak_m} m, delay {t['delay_s']:+.6f} s", file=sys.stderr)
    lines += ["", "## Single loggers (`single/<name>.wav`, `<name>.json` sidecar, `<name>.truth.json`)", ""]
    for name, spec in SINGLES.items():
        spec = dict(spec)
        about = spec.pop("about")
        sim = simulate_recording(sample_rate_hz=FS, duration_s=8.0, start_time=START, sensor_id=name[:12], **spec)
        sim.write(out / "single" / f"{name}.wav")
        t = sim.truth
        lines.append(f"- `{name}`: {about}. Label `{t['label']}`.")
        print(f"single/{name}: label {t['label']}", file=sys.stderr)
    (out / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "recordings" / "samples", help="output directory")
    args = ap.parse_args(argv)
    make(args.out)
    total = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"wrote {args.out} ({total / 1e6:.2f} MB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
