"""Make the shipped default leak classifier and signature library, reproducibly, from simulator data.

    .venv/bin/python scripts/train_default.py [--sites 1000] [--seed 20261124] [--jobs 2] [--out models/default]

1. Draws a synthetic labelled dataset (``acoustic.classify._synthetic.synthetic_specs``): ``--sites`` sites,
   each with its own pipe (all eight materials, realistic internal diameters, sandy or stiff soil), sensor
   kind (hydrophone or accelerometer), sample rate (4, 8, 11.025, 16, 22.05, 32, 44.1, 48 kHz) and mains
   frequency; six 10 s recordings per site: leaks at log-uniform distances, alone or with one confounder
   (traffic, pump, PRV, consumption, hum), and non-leak recordings of every noise kind (traffic, pump, PRV,
   consumption, hum, quiet; a quarter with a second noise).  Each recording's gain is set -30..+3 dB off
   the ideal one and the samples are quantised to PCM16 as a WAV file would hold them.
2. Simulates the recordings and extracts their features (``--jobs`` spawn worker processes).
3. Trains the classifier (``acoustic.classify.train_model``): 5-fold cross-validation grouped by site,
   threshold for a 5 % false-alarm rate on the out-of-fold scores, final fit on everything.
4. Writes ``OUT/model.skops`` + ``OUT/model_card.json`` (with the recipe below under ``training_data``) and
   ``OUT/signatures.h5``, the default signature library (up to 2000 of the training recordings, evenly
   spread over the sites, as signatures).

Everything follows from ``--seed``: the same command makes the same data, model and metrics.
``--write-dataset DIR`` writes such a simulated set as a labelled dataset folder instead (e.g. a
held-out set with another seed for ``acoustic evaluate``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

#: The recipe; recorded in the model card.
RECIPE = {
    "generator": "acoustic.classify._synthetic.synthetic_specs + acoustic.simulate.simulate_recording",
    "per_site": 6,
    "leak_fraction": 0.5,
    "duration_s": 10.0,
    "gain_offset_db": [-30.0, 3.0],
    "quantisation": "PCM16",
    "min_leak_snr_db": None,
}
#: At most this many training recordings go into the shipped signature library (evenly spread).
LIBRARY_MAX = 2000


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sites", type=int, default=1000, help="number of simulated sites (6 recordings each)")
    ap.add_argument("--seed", type=int, default=20261124, help="seed of every draw and of the model")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes for simulation + features")
    ap.add_argument("--far", type=float, default=0.05, help="false-alarm rate the threshold is chosen for")
    ap.add_argument("--out", type=Path, default=REPO / "models" / "default", help="model folder to write")
    ap.add_argument("--write-dataset", type=Path, default=None, metavar="DIR",
                    help="only write the simulated recordings as a labelled dataset folder (WAV + sidecars + "
                         "labels.csv) for `acoustic train|evaluate|library build`; no training")
    args = ap.parse_args(argv)

    from acoustic import __version__
    from acoustic.classify import save_model, train_model
    from acoustic.classify._synthetic import (
        CONFOUNDER_KINDS, DEFAULT_SAMPLE_RATES_HZ, MATERIAL_SPECS, synthetic_features, synthetic_specs,
    )
    from acoustic.library import add_signatures

    if args.write_dataset is not None:
        from acoustic.classify._synthetic import write_synthetic_dataset

        specs = synthetic_specs(args.sites, seed=args.seed, per_site=RECIPE["per_site"],
                                leak_fraction=RECIPE["leak_fraction"], duration_s=RECIPE["duration_s"],
                                gain_offset_db=tuple(RECIPE["gain_offset_db"]), site_prefix=f"s{args.seed}-",
                                min_leak_snr_db=RECIPE["min_leak_snr_db"])
        out = write_synthetic_dataset(specs, args.write_dataset)
        print(f"wrote {len(specs)} recordings from {args.sites} sites and labels.csv to {out}", file=sys.stderr)
        return 0
    t0 = time.perf_counter()
    specs = synthetic_specs(args.sites, seed=args.seed, per_site=RECIPE["per_site"],
                            leak_fraction=RECIPE["leak_fraction"], duration_s=RECIPE["duration_s"],
                            gain_offset_db=tuple(RECIPE["gain_offset_db"]), site_prefix="train-",
                            min_leak_snr_db=RECIPE["min_leak_snr_db"])
    print(f"simulating {len(specs)} recordings at {args.sites} sites with {args.jobs} worker(s) ...",
          file=sys.stderr)
    step = max(1, len(specs) // 10)
    data = synthetic_features(specs, jobs=args.jobs,
                              progress=lambda i: print(f"  {i}/{len(specs)}", file=sys.stderr)
                              if i % step == 0 else None)
    t_sim = time.perf_counter() - t0
    summary = data.summary()
    summary.update(
        dataset="simulated (scripts/train_default.py)",
        training_data=dict(RECIPE, n_sites=args.sites, seed=args.seed, sample_rates_hz=list(DEFAULT_SAMPLE_RATES_HZ),
                           materials=list(MATERIAL_SPECS), sensor_kinds=["hydrophone", "accelerometer"],
                           confounders=list(CONFOUNDER_KINDS), package_version=__version__),
    )
    print(f"training on {len(data)} recordings ...", file=sys.stderr)
    t1 = time.perf_counter()
    model = train_model(data.X, data.labels, data.sites, feature_names=data.feature_names,
                        features_version=data.features_version, target_far=args.far, seed=args.seed,
                        groups=data.groups(), data_summary=summary)
    t_train = time.perf_counter() - t1
    out = args.out
    save_model(model, out)
    lib = out / "signatures.h5"
    provenance = [f"simulated by scripts/train_default.py (seed {args.seed}): {s.name}, simulator seed "
                  f"{data.meta['seed'][i]}, noises {data.meta['noises'][i]}" for i, s in enumerate(specs)]
    meta = data.library_metadata("")
    meta.update(provenance=provenance, source_file=[f"{s.name}.wav" for s in specs])
    pick = np.unique(np.linspace(0, len(data) - 1, min(LIBRARY_MAX, len(data))).round().astype(int))
    meta = {k: [v[i] for i in pick] for k, v in meta.items()}
    add_signatures(lib, data.X[pick], data.band_levels_db[pick], meta, feature_names=data.feature_names,
                   feature_units=data.feature_units, features_version=data.features_version,
                   band_centres_hz=data.band_centres_hz, create=True, overwrite=True)
    lib.with_name(lib.name + ".lock").unlink(missing_ok=True)  # no other writer here; do not ship the lock file
    m = model.card["metrics"]
    print(json.dumps({"recordings": len(data), "sites": args.sites, "simulate_and_features_s": round(t_sim, 1),
                      "train_s": round(t_train, 1), "cv_roc_auc": m["roc_auc"], "cv_recall": m["recall"],
                      "cv_false_alarm_rate": m["false_alarm_rate"], "threshold": model.threshold,
                      "model_bytes": (out / "model.skops").stat().st_size, "library_bytes": lib.stat().st_size},
                     indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
