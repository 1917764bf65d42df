"""``acoustic features REC... [--json | --csv]``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ._common import command_errors, emit_json

_SUMMARY = (
    ("band_level_db", "band dB"), ("level_l90_db", "L90 dB"), ("level_spread_db", "spread dB"),
    ("spectral_centroid_hz", "centroid Hz"), ("peak_frequency_hz", "peak Hz"),
    ("spectral_flatness", "flatness"), ("mains_50hz_flag", "50Hz"), ("mains_60hz_flag", "60Hz"),
    ("pump_comb_flag", "pump"),
)


@click.command("features")
@click.argument("recs", nargs=-1, required=True, metavar="REC...",
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "fmt", flag_value="json", help="Print one JSON document (a list, one object per file).")
@click.option("--csv", "fmt", flag_value="csv", help="Print CSV: a header, then one row per recording.")
@click.option("--channel", type=click.IntRange(min=0), default=0, show_default=True,
              help="Channel of multi-channel files.")
@command_errors
def features(recs, fmt, channel, warnings_out):
    """Spectral and stationarity features of recordings (WAV/FLAC with sidecars).

    Levels are calibrated with the sidecar gain: dB re 1 calibrated unit
    (samples / 10**(gain_db/20)).  Spectral shape uses the band 20 Hz - min(1800 Hz,
    0.45 fs); 1/3-octave levels above 0.45 fs are empty (null).  A file that cannot be
    used gets an ``Error:`` line on stderr; the others are still processed and the exit
    code is 1 at the end ("completed with failures"), 2 if no file could be used.
    """
    import math

    from .._errors import AcousticError
    from ..features import FEATURES_VERSION, extract_features, feature_names, feature_units
    from ..io import read_recording

    results = []
    failures = 0
    for path in recs:
        try:
            rec = read_recording(path, channel=channel)
            fv = extract_features(rec)
        except AcousticError as exc:
            failures += 1
            click.echo(f"Error: {' '.join(str(exc).split())}", err=True)
            continue
        except OSError as exc:
            failures += 1
            click.echo(f"Error: {path}: {exc}", err=True)
            continue
        results.append((path, fv))

    names = feature_names()
    if fmt == "json":
        units = dict(zip(names, feature_units()))
        emit_json([{"file": str(p), "features_version": FEATURES_VERSION, "features": fv.as_dict(), "units": units}
                   for p, fv in results])
    elif fmt == "csv":
        import csv

        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(["file", "features_version", *names])
        for p, fv in results:
            w.writerow([str(p), FEATURES_VERSION,
                        *("" if not math.isfinite(v) else repr(float(v)) for v in fv.values.tolist())])
    else:
        head = f"{'file':28s}" + "".join(f" {label:>11s}" for _, label in _SUMMARY)
        click.echo(head)
        for p, fv in results:
            cells = []
            for key, _ in _SUMMARY:
                v = fv[key]
                if key.endswith("_flag"):
                    cells.append(f" {'yes' if v == 1 else 'no':>11s}")
                else:
                    cells.append(f" {v:11.1f}" if math.isfinite(v) else f" {'-':>11s}")
            click.echo(f"{Path(p).name[:28]:28s}" + "".join(cells))
        if results:
            click.echo(f"({len(names)} features, version {FEATURES_VERSION}; --json or --csv for all)", err=True)
    if failures:
        click.echo(f"Error: completed with failures: {failures} of {len(recs)} file(s) could not be used", err=True)
        sys.exit(2 if not results else 1)
