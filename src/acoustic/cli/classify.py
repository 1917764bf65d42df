"""``acoustic classify``, ``acoustic train`` and ``acoustic evaluate``: the leak classifier."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ._common import command_errors, emit_json, json_option

_model_path = click.Path(path_type=Path)
jobs_option = click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True,
                           help="Worker processes for feature extraction.")


def _fmt(v, spec=".3f"):
    return "n/a" if v is None else format(v, spec)


def _echo_metrics(m: dict) -> None:
    """Human-readable metrics (the structure of the model card's ``metrics``)."""
    click.echo(f"recordings {m['n']} ({m['n_leak']} leaks)   ROC AUC {_fmt(m['roc_auc'])}")
    click.echo(f"at threshold {m['threshold']:.4f}: leaks detected (recall) {_fmt(m['recall'])}, "
               f"precision {_fmt(m['precision'])}, false-alarm rate {_fmt(m['false_alarm_rate'])}")
    if m.get("recall_at_target_far") is not None:
        click.echo(f"leaks detected at <= {100 * m['target_false_alarm_rate']:g} % false alarms "
                   f"(threshold re-chosen on these scores): {m['recall_at_target_far']:.3f}")
    click.echo("called leak, by true label: " + ", ".join(
        f"{k} {v['called_leak']:.2f} (n={v['n']})" for k, v in m["confusion_by_kind"].items()))
    for key, blocks in m.get("by", {}).items():
        click.echo(f"by {key}:")
        for value, b in blocks.items():
            click.echo(f"  {value:16s} n={b['n']:<5d} AUC {_fmt(b['roc_auc']):>5s}  recall {_fmt(b['recall']):>5s}  "
                       f"false alarms {_fmt(b['false_alarm_rate']):>5s}")


@click.command("classify")
@click.argument("recordings", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--model", "model_path", type=_model_path, default=None,
              help="Model folder (model.skops + model_card.json). Default: the shipped models/default.")
@click.option("--library", "-L", "library_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Signature library for the nearest-signature evidence. Default: models/default/signatures.h5.")
@click.option("--no-library", is_flag=True, help="Do not look up nearest signatures.")
@click.option("--k", "k", type=click.IntRange(min=1, max=100), default=3, show_default=True,
              help="Nearest signatures per recording.")
@json_option
@command_errors
def classify(recordings, model_path, library_path, no_library, k, as_json, warnings_out):
    """Leak probability (0..1) of each recording, with the nearest library signatures as evidence.

    The label is "leak" when the probability reaches the model's threshold (chosen in training
    for a stated false-alarm rate, see the model card), else "no_leak". A recording that fails
    is reported on stderr and the others are still classified (exit code 2 at the end).
    """
    from .._errors import AcousticError, ModelError
    from ..classify import (check_supported, classify_features, default_library_path, default_model_dir,
                            extract_paths, load_model)
    from ..library import SignatureLibrary

    model = load_model(model_path if model_path is not None else default_model_dir())
    lib = None
    if not no_library:
        lp = library_path if library_path is not None else default_library_path()
        if lp is not None:
            lib = SignatureLibrary.open(lp)
            if lib.features_version != model.features_version:
                raise AcousticError(f"{lp}: library features version {lib.features_version} differs from the "
                                    f"model's {model.features_version}; rebuild the library or pass --no-library")
    feats, failed = [], 0
    for path in recordings:
        try:
            rf = extract_paths([path])[0]
            check_supported(model, rf)
        except (AcousticError, OSError) as exc:
            if isinstance(exc, ModelError):  # the model or library does not fit: no file can succeed
                raise
            failed += 1
            click.echo(f"Error: {' '.join(str(exc).split())}", err=True)
            continue
        feats.append(rf)
    results = classify_features(model, feats, library=lib, k=k)
    if as_json:
        emit_json(results)
    else:
        for r in results:
            near = ", ".join(f"{n['label']} {n['similarity']:.2f}" for n in r["nearest"])
            evidence = "calibrated: shape + level" if r["calibrated"] else "uncalibrated: shape only"
            mains = [f for f, k in (("50 Hz", "mains_50hz"), ("60 Hz", "mains_60hz")) if r["tonal"][k]]
            click.echo(f"{r['file']}: {r['label']:7s} leak probability {r['leak_probability']:.3f} ({evidence})"
                       + (f"   mains lines: {', '.join(mains)}" if mains else "")
                       + (f"   nearest: {near}" if near else ""))
            if not r["in_domain"]:
                click.echo(f"  OUT OF DOMAIN: {r['in_domain_reason']}; the probability is a guess")
    if failed:
        click.echo(f"Error: {failed} of {len(recordings)} recording(s) failed", err=True)
        sys.exit(2)


@click.command("train")
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option("--out", "-o", "out", type=_model_path, required=True, help="Model folder to write (models/NAME).")
@click.option("--far", type=click.FloatRange(min=0.0, max=0.5, min_open=True, max_open=True), default=0.05,
              show_default=True, help="False-alarm rate (0..0.5) the decision threshold is chosen for.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the model and the CV folds.")
@click.option("--folds", type=click.IntRange(min=2, max=20), default=5, show_default=True,
              help="Cross-validation folds (grouped by site; fewer when there are fewer sites).")
@click.option("--allow-missing", is_flag=True, help="Skip listed recordings that are missing (with a warning).")
@jobs_option
@json_option
@command_errors
def train(dataset, out, far, seed, folds, allow_missing, jobs, as_json, warnings_out):
    """Train a leak classifier on DATASET (a folder with labels.csv: file,label[,site,material,...]).

    Cross-validation is grouped by site (no site in both a training and a test fold); the
    threshold is set on the out-of-fold scores for the stated false-alarm rate. Writes
    model.skops and model_card.json (data summary, features version, metrics, seed, version).
    """
    from ..classify import extract_dataset, save_model, train_model

    data = extract_dataset(dataset, jobs=jobs, allow_missing=allow_missing)
    model = train_model(data.X, data.labels, data.sites, feature_names=data.feature_names,
                        features_version=data.features_version, target_far=far, seed=seed,
                        groups=data.groups(), data_summary=data.summary(), n_splits=folds,
                        levels_db=[lv if c else float("nan") for lv, c in zip(data.meta["level_p10_db"],
                                                                               data.meta["calibrated"])],
                        level_sensor_kinds=data.meta["sensor_kind"])
    save_model(model, out)
    if as_json:
        emit_json({"model": str(out), "card": model.card, "warnings": warnings_out})
        return
    cv = model.card["cross_validation"]
    click.echo(f"trained on {len(data)} recordings from {cv['n_sites']} sites; "
               f"{cv['n_splits']}-fold CV grouped by site (leave-site-out metrics):")
    _echo_metrics(model.card["metrics"])
    click.echo(f"wrote {out}/model.skops and {out}/model_card.json")


@click.command("evaluate")
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option("--model", "model_path", type=_model_path, default=None,
              help="Model folder. Default: the shipped models/default.")
@click.option("--allow-missing", is_flag=True, help="Skip listed recordings that are missing (with a warning).")
@jobs_option
@json_option
@command_errors
def evaluate(dataset, model_path, allow_missing, jobs, as_json, warnings_out):
    """Evaluate a model on a labelled DATASET: your own recordings with labels.csv (file,label[,distance_m]).

    Labels: leak, or the kind of non-leak noise (pump, prv, traffic, consumption, hum, quiet,
    other, no_leak). Reports ROC AUC, detection and false alarms at the model's threshold, leaks
    detected at <= 5 % false alarms, and breakdowns (sensor kind, sample rate, calibrated or not,
    leak distance band when distance_m is given).
    """
    from ..classify import check_supported, default_model_dir, evaluate_model, extract_dataset, load_model

    model = load_model(model_path if model_path is not None else default_model_dir())
    data = extract_dataset(dataset, jobs=jobs, allow_missing=allow_missing)
    for i in range(len(data)):
        check_supported(model, data.recording(i))
    metrics = evaluate_model(model, data.X, data.labels, data.groups(), sensor_kinds=data.meta["sensor_kind"],
                             levels_db=data.meta["level_p10_db"], calibrated=data.meta["calibrated"])
    if as_json:
        emit_json({"model": str(model.path), "dataset": str(dataset), "metrics": metrics,
                   "warnings": warnings_out})
        return
    click.echo(f"model {model.path} on {dataset}:")
    _echo_metrics(metrics)
