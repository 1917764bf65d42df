"""``acoustic library build|add|list|match|export``: the leak-noise signature library (HDF5)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ._common import command_errors, document, emit_json, json_option, path_text, records
from ._conventions import (ENV_LIBRARY, EXIT_FAILURES, EXIT_USAGE, is_stdout, legacy_leading_path, library_option,
                           looks_like_hdf5, make_progress, note, open_output, out_option, progress_options, quiet_option, refuse_stdout,
                           renamed_options)

#: ``--library/-L PATH`` ($ACOUSTIC_LIBRARY) for reading: the shipped library by default
library_to_read = library_option()
#: ... for writing: required
library_to_write = library_option(required=True, help="Signature library file (.h5) to write.")
#: ``acoustic library list|match lib.h5 ...`` (the library as first argument): taken as -L, with a warning
old_positional_library = legacy_leading_path("--library", looks_like_hdf5, env=ENV_LIBRARY)
wait_option = click.option("--wait", "wait_s", type=click.FloatRange(min=0.0), default=0.0, show_default=True,
                           help="Seconds to wait when another process is writing the library.")
jobs_option = click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True,
                           help="Worker processes for feature extraction.")


def _open_library(path):
    from ..classify import default_library_path
    from ..library import SignatureLibrary
    from .._errors import ModelError

    if path is None:
        path = default_library_path()
        if path is None:
            raise ModelError("no default signature library found (models/default/signatures.h5); pass --library PATH")
    return SignatureLibrary.open(path)


@click.group("library")
def library():
    """Leak-noise signature library: build, add, list, match, export.

    A library is one HDF5 file of signatures: feature vector, calibrated 1/3-octave band
    spectrum (dB) and metadata (label, material, diameter_mm, pressure_bar, sensor_kind, site,
    date, source SHA-256, provenance). One process writes at a time; readers never see a
    half-written file.
    """


@renamed_options({"--out": "--library", "-o": "--library"})
@library.command("build")
@click.argument("dataset", type=click.Path(path_type=Path))
@library_to_write
@click.option("--overwrite", is_flag=True, help="Replace an existing library (default: append to it).")
@jobs_option
@wait_option
@progress_options
@json_option
@command_errors
def build_cmd(dataset, library_path, overwrite, jobs, wait_s, quiet, progress, as_json, warnings_out):
    """Build a library from DATASET, a folder with labels.csv (file,label[,site,material,...]).

    Optional labels.csv columns: site, material, diameter_mm, pressure_bar, sensor_kind,
    confounder, date (YYYY-MM-DD). Sensor kind, gain and start time come from the sidecars.
    """
    from ..library import build_library

    out = library_path
    refuse_stdout(out, "--library", "an HDF5 file")
    with make_progress("library build", quiet, progress) as rep:
        result = build_library(dataset, out, overwrite=overwrite, jobs=jobs, wait_s=wait_s, progress=rep)
    if as_json:
        emit_json(document("library.build", {"added": len(result["added"]), "skipped": len(result["skipped"]),
                                             "n_signatures": result["n_signatures"], "warnings": warnings_out},
                           library=out, dataset=dataset))
        return
    click.echo(f"{out}: added {len(result['added'])} signature(s)"
               + (f", skipped {len(result['skipped'])} already present" if result["skipped"] else "")
               + f"; {result['n_signatures']} in the library")


@library.command("add")
@click.argument("recordings", nargs=-1, required=True, type=click.Path(path_type=Path))
@library_to_write
@click.option("--label", required=True, help="leak, or the noise kind: pump, prv, traffic, consumption, hum, quiet, "
                                              "other, no_leak.")
@click.option("--site", default="", help="Site name.")
@click.option("--material", default="", help="Pipe material (pvc, pe, cast_iron, ductile_iron, steel, ...).")
@click.option("--diameter-mm", type=float, default=None, help="Internal pipe diameter in mm.")
@click.option("--pressure-bar", type=float, default=None, help="Water pressure in bar, when known.")
@click.option("--provenance", default="", help="Where these recordings come from (free text).")
@click.option("--create", is_flag=True, help="Create the library if it does not exist.")
@jobs_option
@wait_option
@quiet_option
@json_option
@command_errors
def add_cmd(recordings, library_path, label, site, material, diameter_mm, pressure_bar, provenance, create, jobs,
            wait_s, as_json, warnings_out):
    """Add RECORDINGS (WAV/FLAC with sidecars) with one label to a library."""
    from ..library import add_recordings

    result = add_recordings(library_path, recordings, label=label.strip().lower(), site=site, material=material,
                            diameter_mm=diameter_mm, pressure_bar=pressure_bar, provenance=provenance,
                            create=create, jobs=jobs, wait_s=wait_s)
    if as_json:
        emit_json(document("library.add", {"added": result["added"], "skipped": result["skipped"],
                                           "n_signatures": result["n_signatures"], "warnings": warnings_out},
                           library=library_path, files=[path_text(p) for p in recordings]))
        return
    for sid in result["added"]:
        click.echo(f"added {sid}")
    for sid in result["skipped"]:
        click.echo(f"skipped {sid} (already in the library)")
    click.echo(f"{library_path}: {result['n_signatures']} signature(s)")


@old_positional_library
@library.command("list")
@library_to_read
@quiet_option
@json_option
@command_errors
def list_cmd(library_path, as_json, warnings_out):
    """Summarise a library: counts by label, material and sensor kind; sites; features version."""
    lib = _open_library(library_path)
    s = lib.summary()
    if as_json:  # "path" is the old name of "library" (kept one release)
        emit_json(document("library.list", s, library=path_text(s["path"])))
        return
    click.echo(f"{s['path']}: {s['n_signatures']} signature(s), features version {s['features_version']} "
               f"({s['n_features']} features, {s['n_bands']} bands), {s['n_sites']} site(s)")
    if s["sample_rate_hz_range"]:
        click.echo(f"sample rates {s['sample_rate_hz_range'][0]:g}-{s['sample_rate_hz_range'][1]:g} Hz; "
                   f"modified {s['modified_utc']}")
    for key, title in (("by_label", "label"), ("by_material", "material"), ("by_sensor_kind", "sensor kind")):
        click.echo(f"by {title}: " + ", ".join(f"{k} {v}" for k, v in s[key].items()))


@old_positional_library
@library.command("match")
@click.argument("recordings", nargs=-1, required=True, type=click.Path(path_type=Path))
@library_to_read
@click.option("--k", "-k", "k", type=click.IntRange(min=1, max=1000), default=5, show_default=True,
              help="Nearest signatures per recording.")
@quiet_option
@json_option
@command_errors
def match_cmd(recordings, library_path, k, as_json, warnings_out):
    """Nearest library signatures of each recording, with similarity scores (0..1).

    Similarity = exp(-msd/2), msd = mean squared difference of the features standardised by the
    library's mean and standard deviation (1 = identical; about 0.37 for two typical unrelated
    signatures).
    """
    from .._errors import AcousticError
    from ..classify import extract_paths

    lib = _open_library(library_path)
    results, failed = [], 0
    for path in recordings:
        try:
            rf = extract_paths([path])[0]
        except (AcousticError, OSError) as exc:  # this file only: report it and go on
            failed += 1
            click.echo(f"Error: {' '.join(str(exc).split())}", err=True)
            continue
        lib.check_features(rf.names, rf.version)  # ModelError: the library does not fit any recording
        near = lib.match(rf.values, k=k, sensor_kinds=rf.sensor_kind)[0]
        results.append({"file": path_text(path), "nearest": near})
    if as_json:
        emit_json(records("library.match", results, library=path_text(lib.path)))
    else:
        for r in results:
            click.echo(r["file"])
            for i, n in enumerate(r["nearest"], 1):
                click.echo(f"  {i}. {n['label']:12s} similarity {n['similarity']:.3f}  {n['signature_id']}  "
                           f"({n['material'] or '?'}, {n['sensor_kind'] or '?'}, site {n['site'] or '?'})")
    if failed:
        click.echo(f"Error: completed with failures: {failed} of {len(recordings)} recording(s) could not be used",
                   err=True)
        sys.exit(EXIT_USAGE if failed == len(recordings) else EXIT_FAILURES)


@library.command("export")
@library_to_read
@out_option("Output file [default: stdout].")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default=None,
              help="Output format (default: from the --out suffix, else csv).")
@click.option("--no-features", is_flag=True, help="Leave out the feature columns.")
@click.option("--bands", is_flag=True, help="Add the 1/3-octave band levels (dB) as columns.")
@quiet_option
@command_errors
def export_cmd(library_path, out, fmt, no_features, bands, warnings_out):
    """Export the signatures as CSV (one row each) or JSON."""
    from ..library import export_library

    if fmt is None:
        fmt = "json" if out is not None and out.suffix.lower() == ".json" else "csv"
    lib = _open_library(library_path)
    text = export_library(lib, None, fmt=fmt, include_features=not no_features, include_bands=bands)
    with open_output(out if out is not None else "-") as fh:
        fh.write(text)
    if out is not None and not is_stdout(out):
        note(f"{out}: {len(lib)} signature(s) as {fmt}")
