"""``acoustic simulate dataset OUT --n N --seed S``: a labelled data set for training and augmentation.

Ready to be attached to the ``simulate`` group (phase B of issue 21, one line in
``acoustic/cli/simulate.py``)::

    from ._simulate_dataset import simulate_dataset_cmd
    simulate.add_command(simulate_dataset_cmd, "dataset")
"""

from __future__ import annotations

from pathlib import Path

import click

from ._common import command_errors, emit_json, json_option
from ._conventions import make_progress, progress_options, refuse_stdout

__all__ = ["simulate_dataset_cmd"]

_MATERIALS = ("pvc", "pe", "cast_iron", "ductile_iron", "steel", "asbestos_cement", "concrete", "copper")


@click.command("dataset")
@click.argument("out_arg", metavar="[OUT]", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", "-o", "out_opt", type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write (new or empty); may also be given as the argument OUT.")
@click.option("--n", "-n", "n", type=click.IntRange(1, 1_000_000), default=60, show_default=True,
              help="Recordings to write.")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Random seed (non-negative integer) [default: fresh, written into dataset.json].")
@click.option("--per-site", type=click.IntRange(1, 1000), default=6, show_default=True,
              help="Recordings per site (sites are the cross-validation groups).")
@click.option("--leak-fraction", type=click.FloatRange(0.0, 1.0), default=0.5, show_default=True,
              help="Expected fraction of leak recordings (0-1).")
@click.option("--duration", "duration_s", type=click.FloatRange(1.0, 3600.0), default=10.0, show_default=True,
              help="Length of each recording in s.")
@click.option("--sample-rate", "sample_rates", type=click.FloatRange(1000.0, 96000.0), multiple=True,
              help="Sample rate in Hz a site may have; repeatable [default: 4000-48000 Hz logger rates].")
@click.option("--sensor-kind", "sensor_kinds", type=click.Choice(["hydrophone", "accelerometer"]), multiple=True,
              help="Sensor kind a site may have; repeatable [default: both].")
@click.option("--material", "materials", type=click.Choice(_MATERIALS), multiple=True,
              help="Pipe material a site may have; repeatable [default: all].")
@click.option("--min-snr-db", type=float, default=None,
              help="Leaks at least this far above the background at the sensor, dB over the leak band.")
@click.option("--max-snr-db", type=float, default=None,
              help="Leaks at most this far above the background at the sensor, dB over the leak band.")
@click.option("--uncalibrated-fraction", type=click.FloatRange(0.0, 1.0), default=0.0, show_default=True,
              help='Fraction of recordings whose sidecar gain_db is wrong by -40..+40 dB ("calibrated": false).')
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes.")
@progress_options
@json_option
@command_errors
def simulate_dataset_cmd(out_arg, out_opt, n, seed, per_site, leak_fraction, duration_s, sample_rates, sensor_kinds,
                         materials, min_snr_db, max_snr_db, uncalibrated_fraction, jobs, quiet, progress, as_json,
                         warnings_out):
    """Write a labelled data set into a new or empty folder (-o OUT) for training and augmentation.

    OUT gets one WAV, sidecar and truth JSON per recording, labels.csv (file, label, site and
    every simulation parameter of each recording: pipe, distance, SNR, noises, gain, seed, ...)
    and dataset.json (how the set was made).  acoustic train, evaluate and library build read
    OUT as it is.  Sites are the cross-validation groups; the same seed gives the same set,
    and the first N recordings do not depend on how many are asked for.  Example:

        acoustic simulate dataset -o train-set --n 600 --seed 1
    """
    from ..simulate._dataset import write_dataset

    if out_arg is not None and out_opt is not None and out_arg != out_opt:
        raise click.UsageError(f"give the folder once: OUT {out_arg} or --out {out_opt}")
    out_dir = out_opt if out_opt is not None else out_arg
    if out_dir is None:
        raise click.UsageError("give the folder to write: -o OUT")
    refuse_stdout(out_dir)

    with make_progress("simulate dataset", quiet, progress) as rep:
        ds = write_dataset(out_dir, n=n, seed=seed, per_site=per_site, leak_fraction=leak_fraction,
                           duration_s=duration_s, sample_rates_hz=list(sample_rates) or None,
                           sensor_kinds=list(sensor_kinds) or None, materials=list(materials) or None,
                           min_leak_snr_db=min_snr_db, max_leak_snr_db=max_snr_db,
                           uncalibrated_fraction=uncalibrated_fraction, jobs=jobs, progress=rep)
    m = ds.manifest
    if as_json:
        emit_json({**ds.to_json(), "warnings": list(warnings_out)})
        return
    labels = ", ".join(f"{k} {v}" for k, v in m["by_label"].items())
    click.echo(f"wrote {out_dir}: {m['n_recordings']} recordings from {m['n_sites']} sites ({labels}); "
               f"labels.csv, dataset.json; seed {m['seed']}")
    if m["n_uncalibrated"]:
        click.echo(f"{m['n_uncalibrated']} recording(s) with a wrong sidecar gain (\"calibrated\": false)")
    click.echo(f"train on it: acoustic train {out_dir} --out MODEL")
