#!/usr/bin/env python3
"""Make the shipped sample district survey under ``recordings/samples/district/`` (deterministic).

    .venv/bin/python scripts/make_district.py [--out recordings/samples/district]

A survey folder (``../shared/interfaces.md``, "Survey folder") on the small two-DMA district of
:func:`acoustic.simulate._survey.district_network`:

* ``north``: older metal mains (cast and ductile iron, an asbestos-cement spur), 110-160 m
  between nodes; ``south``: PVC and PE, about 50 m between nodes; joined through the PRV ``V1``
  (N3 - S1), a known noise source of the network model.
* 13 loggers (hydrophones) on hydrants and valve chambers; the junctions N2, N5 and S4 have none.
* One leak in the north DMA on pipe P04 (N2 - N5), a pipe between two junctions without
  loggers, so no single pair brackets it alone: four pairs hear it inside their span.
* Confounders: the PRV hissing at V1, traffic at every logger and mains hum.
* Two nights of 12 s recordings at 4 kHz (FLAC), plus ``stats.csv``: 21 nights of level/spread
  history per logger, the leak appearing on night 13.
* ``truth.json``: where the leak and the PRV are; ``README.md``: a description.

About 2 MB in all.  Run the survey with ``acoustic survey recordings/samples/district``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from acoustic.simulate._survey import simulate_survey  # noqa: E402

SEED = 20261103
LEAK = ("P04", 61.3)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "recordings" / "samples" / "district")
    args = ap.parse_args(argv)
    if args.out.exists():
        shutil.rmtree(args.out)
    sv = simulate_survey("district", args.out, seed=SEED, leak_positions=[LEAK], leak_level_db=20.0,
                         confounders=("prv", "traffic", "hum"), nights=2, duration_s=12.0, sample_rate_hz=4000.0,
                         stats_nights=21, audio_format="flac")
    t = sv.truth
    leak = t["leaks"][0]
    prv = next(s for s in t["sources"] if s["kind"] == "prv")
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    readme = f"""# Sample district survey

Made by `scripts/make_district.py` (seed {SEED}); a survey folder as in `../shared/interfaces.md`
("Survey folder and acoustic survey").  Run:

    acoustic survey recordings/samples/district
    acoustic survey recordings/samples/district --json --geojson district.geojson

- `network.inp` (EPANET, SI units) + `pipes.csv` (material, diameter, wall of every pipe):
  {len(sv.network.pipes)} links, {sv.network.total_length_m:.0f} m. DMA `north`: cast and ductile iron with an
  asbestos-cement spur; DMA `south`: PVC and PE; joined through the PRV `V1` (N3 - S1).
- `loggers.csv`: {len(sv.sites)} hydrophone loggers on nodes, with their `area`.
- `recordings/<logger_id>/*.flac` + sidecars: {t['nights']} nights x {t['duration_s']:g} s at {t['sample_rate_hz']:g} Hz,
  clocks offset by up to 1 s (exact start times in the sidecars).
- `stats.csv`: 21 nights of level/spread per logger; the leak appears part-way.
- `truth.json`: what was simulated.

Truth: a leak on pipe {leak['pipe_id']} ({leak['material']}) at {leak['offset_m']:.1f} m from its start node
(x {leak['x']:.1f}, y {leak['y']:.1f}), {leak['level_db']:.0f} dB re 1 Pa; lines that contain it:
{', '.join(l['from_logger'] + '-' + l['to_logger'] for l in leak['lines'])}. The PRV hisses at node {prv['node_id']}
({prv['level_db']:.0f} dB re 1 Pa); traffic and mains hum at every logger. Total size {size / 1e6:.1f} MB.
"""
    (args.out / "README.md").write_text(readme, encoding="utf-8")
    print(f"wrote {args.out} ({size / 1e6:.2f} MB): leak on {leak['pipe_id']} at {leak['offset_m']:.1f} m")
    return 0


if __name__ == "__main__":
    sys.exit(main())
