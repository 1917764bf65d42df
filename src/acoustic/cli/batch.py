"""``acoustic batch run``: process what is new in an upload folder into the ledger."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ._common import FiniteFloat, command_errors, document, emit_json, json_option
from ._conventions import (ENV_LEDGER, EXIT_BUSY, EXIT_FAILURES, ledger_option,
                           legacy_leading_path, looks_like_sqlite, make_progress, model_option, progress_options, quiet_option,
                           renamed_options)

#: Exit code of a batch stopped by a signal: 128 + the signal number (130 SIGINT, 143 SIGTERM); committed work kept.
EXIT_SIGNAL_BASE = 128
EXIT_INTERRUPTED = EXIT_SIGNAL_BASE  # (the old name, kept importable)
#: Longest --wait for another batch, s (a day: a nightly batch that waits longer has missed its night).
MAX_WAIT_S = 86_400.0


@click.group("batch")
def batch():
    """Nightly batch runs on logger uploads into the ledger."""


class _Progress:
    """The batch's events on stderr: failures always; notes unless --quiet; stages through the
    command's :class:`~acoustic._progress.ProgressReporter` (on a terminal, or when asked)."""

    def __init__(self, quiet: bool, reporter):
        self.quiet = quiet
        self.reporter = reporter

    def __call__(self, event, **info):
        if event == "failure":
            err, kind = info["error"] or "", info.get("kind", "quarantined")
            who = f"[logger {info['logger_id']}] " if info.get("logger_id") else ""
            self.reporter.clear()
            click.echo(f"{kind}: {who}{err}" if info["path"] in err else f"{kind}: {who}{info['path']}: {err}",
                       err=True)
            return
        if event == "stage":
            self.reporter(info["stage"], info["done"], info["total"])
            return
        if self.quiet or event == "progress":  # ("progress": the queue's counts, whose total grows; not shown)
            return
        if event == "engine":
            click.echo(f"batch: engine: {info['description']}", err=True)
        elif event == "scan":
            click.echo(f"batch: found {info['recordings']} recording(s) and {info['stats_files']} stats file(s)", err=True)
        elif event == "note":
            click.echo(f"batch: {info['message']}", err=True)


@renamed_options({"--workers": "--jobs"})
@batch.command("run")
@click.argument("upload_dir", type=click.Path(path_type=Path))
@ledger_option(help="The SQLite ledger (created if missing).")
@click.option("--survey", "survey_dir", type=click.Path(path_type=Path),
              help="Survey folder (network, loggers.csv with areas): survey every affected area.")
@click.option("--jobs", "-j", "workers", type=click.IntRange(min=0), default=None,
              help="Worker processes (default: number of CPUs; 0 = run in this process); more than the CPUs or the "
                   "files to process are not started (with a warning).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Dask scheduler address (default: $DASK_SCHEDULER_ADDRESS); the cluster does the work.")
@model_option()
@click.option("--no-model", is_flag=True, help="Do not classify recordings (features and levels only).")
@click.option("--wait", "wait_s", type=FiniteFloat(0.0, MAX_WAIT_S, unit="s"), default=0.0, show_default=True,
              help="Seconds to wait for another batch writing this ledger (0 = refuse at once).")
@click.option("--window-nights", type=click.IntRange(1, 366), default=7, show_default=True,
              help="An affected area is surveyed with its recordings of this many nights up to its latest.")
@click.option("--rehash", is_flag=True, help="Hash every file again (ignore the size/mtime cache).")
@click.option("--chunk-size", type=click.IntRange(1, 100_000), default=None,
              help="Recordings per worker task (default 32 on the process pool, 64 on Dask).")
@progress_options
@json_option
def run_cmd(**kwargs):
    """Process what is new in UPLOAD_DIR into the ledger.

    New recordings (WAV/FLAC + sidecar, by content hash) get features, a leak probability and
    a level; uploaded *stats.csv files update the loggers' nightly level/spread; affected
    loggers are re-scored; with --survey every affected area is surveyed (area -> line ->
    point) over its last --window-nights nights and its current suspects written.  Running the same folder again changes nothing; a
    killed run is finished by the next one.  Progress goes to stderr, the summary to stdout.

    Exit codes: 0 completed, 3 completed with quarantined files (or a failed area survey),
    2 unusable input, 4 ledger busy (another batch), 1 batch stopped (workers keep dying),
    130/143 interrupted (SIGINT/SIGTERM).
    """
    code = _run(**kwargs)
    if code:
        sys.exit(code)


@command_errors
def _run(upload_dir, ledger_path, survey_dir, workers, scheduler, model_path, no_model, wait_s, window_nights, rehash,
         chunk_size, quiet, progress, as_json, warnings_out) -> int:
    from .._errors import ParameterError
    from ..batch import BatchError, BatchInterrupted, run_batch
    from ..ledger import LedgerBusyError

    ctx = click.get_current_context(silent=True)
    given = ctx is not None and ctx.get_parameter_source("model_path") == click.core.ParameterSource.COMMANDLINE
    if no_model and given:
        raise ParameterError("give --model PATH or --no-model, not both")
    try:
        with make_progress("batch", quiet, progress) as rep:
            summary = run_batch(upload_dir, ledger_path, survey_dir=survey_dir, workers=workers, scheduler=scheduler,
                                model=None if no_model else (model_path or "default"), wait_s=wait_s, rehash=rehash,
                                chunk_size=chunk_size, window_nights=window_nights, progress=_Progress(quiet, rep))
    except LedgerBusyError as exc:
        click.echo(f"Error: {exc}", err=True)
        return EXIT_BUSY
    except BatchError as exc:
        click.echo(f"Error: {exc}", err=True)
        return EXIT_FAILURES
    except BatchInterrupted as exc:
        click.echo(f"Error: batch {exc}; committed work is kept, run again to finish", err=True)
        return EXIT_SIGNAL_BASE + exc.signum
    d = summary.as_dict()
    d["warnings"] = list(dict.fromkeys([*d.get("warnings", []), *warnings_out]))
    if as_json:
        emit_json(document("batch.run", _renamed_times(d), upload_dir=Path(upload_dir), ledger=Path(ledger_path)))
    else:
        rate = f", {summary.recordings_per_s:.1f} recordings/s" if summary.recordings_per_s else ""
        extra = "".join(f", {n} {what}" for n, what in (
            (summary.replaced, "replaced (re-sent or completed uploads)"),
            (summary.matched_without_sidecar, "matched without sidecar"),
            (summary.future_dated, "future-dated (left out)")) if n)
        click.echo(f"batch {summary.batch_id} {summary.status}: {summary.files} files, {summary.new} new, "
                   f"{summary.corrections} corrected, {summary.duplicates} duplicates, {summary.unchanged} unchanged, "
                   f"{summary.failed} failed{extra}; {summary.stats_files_new} stats files, "
                   f"{summary.logger_scores_updated} logger scores updated; survey: {summary.survey}; "
                   f"suspects {summary.suspects_new} new, {summary.suspects_updated} updated; "
                   f"{summary.seconds:.1f} s{rate}")
    return summary.exit_code


def _renamed_times(d: dict) -> dict:
    """Times with their unit in the key (``elapsed_s`` ...) beside the old ``seconds`` keys (kept one release)."""
    out = dict(d)
    for old, new in (("seconds", "elapsed_s"), ("recordings_seconds", "recordings_elapsed_s"),
                     ("worker_seconds", "worker_elapsed_s")):
        if old in d:
            out[new] = d[old]
    return out


@legacy_leading_path("--ledger", looks_like_sqlite, env=ENV_LEDGER)
@batch.command("status")
@ledger_option()
@click.option("--last", type=click.IntRange(1, 100_000), default=5, show_default=True,
              help="How many recent batch runs to show.")
@quiet_option
@json_option
@command_errors
def status_cmd(ledger_path, last, as_json, warnings_out):
    """Recent batch runs, quarantined files and the work still owed (read-only; works during a batch)."""
    from .._errors import ParameterError
    from ..ledger import Ledger
    from ..ledger._ops import batch_status

    if last < 1:
        raise ParameterError(f"--last must be at least 1, got {last}")
    with Ledger(ledger_path, readonly=True) as led:
        st = batch_status(led, last=last)
    if as_json:
        emit_json(document("batch.status", st, ledger=Path(ledger_path)))
        return
    click.echo(f"{'batch':>5} {'started (UTC)':27} {'status':24} {'files':>6} {'new':>6} {'dupl':>5} {'failed':>6} "
               f"{'suspects':>8}")
    for b in st["batches"]:
        click.echo(f"{b['id']:>5} {b['started_utc']:27} {b['status']:24} {b['n_files'] or 0:>6} {b['n_new'] or 0:>6} "
                   f"{b['n_duplicates'] or 0:>5} {b['n_failed'] or 0:>6} {b['n_suspects'] or 0:>8}")
    rec = st["recordings"]
    click.echo(f"recordings: {rec.get('ok', 0)} ok, {rec.get('quarantined', 0)} quarantined; "
               f"pending: {st['pending']['logger']} logger score(s), {st['pending']['area']} area survey(s)")
    for q in st["quarantined"]:
        err = q["error"] or ""
        who = f"[logger {q['logger_id']}] " if q.get("logger_id") else ""
        click.echo(f"quarantined: {who}{err}" if q["path"] in err else f"quarantined: {who}{q['path']}: {err}")
