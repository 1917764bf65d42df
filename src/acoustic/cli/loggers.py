"""``acoustic loggers stats RECS... --out stats.csv`` and ``acoustic loggers score STATS.csv``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ._common import command_errors, emit_json, json_option

_AUDIO_SUFFIXES = (".wav", ".flac")


@click.group("loggers")
def loggers():
    """Noise-logger nightly statistics (level, spread) and leak scores."""


def _expand(paths):
    """Files as given; folders searched recursively for .wav/.flac (sorted)."""
    out = []
    for p in paths:
        if p.is_dir():
            out += sorted(q for q in p.rglob("*") if q.suffix.lower() in _AUDIO_SUFFIXES and q.is_file())
        else:
            out.append(p)
    return out


@loggers.command("stats")
@click.argument("recs", nargs=-1, required=True, metavar="RECS...", type=click.Path(path_type=Path))
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write stats.csv here (default: print the CSV on stdout).")
@json_option
@command_errors
def stats_cmd(recs, out_path, as_json, warnings_out):
    """Each logger's nightly level and spread from its recordings (files or folders).

    Logger id and night come from each sidecar (sensor_id; start_time: a recording
    belongs to the night of the UTC date of start_time + 12 h).  Per night, the per-frame
    calibrated levels (0.256 s frames, 20 Hz - 1.8 kHz) of all that logger's recordings
    give level = L50 and spread = L10 - L90 in dB, plus l10, l90, l95 (floor), mode,
    n_blocks, n_recordings and duration_s.  A file that cannot be used gets an Error line
    on stderr and is left out; the exit code is then 1 ("completed with failures").
    """
    from .._errors import DataError
    from ..loggers import nightly_stats, write_stats

    files = _expand(recs)
    if not files:
        raise DataError(f"no .wav or .flac recordings found in {', '.join(str(p) for p in recs)}")
    failed = []

    def on_error(item, exc):
        failed.append(item)
        click.echo(f"Error: {' '.join(str(exc).split())}", err=True)

    rows = nightly_stats(files, on_error=on_error)
    if not rows:
        raise DataError(f"none of the {len(files)} recording(s) could be used")
    text = write_stats(rows, out_path)
    if as_json:
        emit_json([r.as_row() for r in rows])
    elif out_path is None:
        click.echo(text, nl=False)
    n_loggers = len({r.logger_id for r in rows})
    click.echo(f"{len(rows)} logger-night(s) from {len(files) - len(failed)} recording(s), {n_loggers} logger(s)"
               + (f"; wrote {out_path}" if out_path else ""), err=True)
    if failed:
        click.echo(f"Error: completed with failures: {len(failed)} of {len(files)} recording(s) could not be used",
                   err=True)
        sys.exit(1)


def _parse_as_of(value):
    from datetime import date

    from .._errors import ParameterError

    if value is None:
        return None
    try:
        if len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise ParameterError(f"--as-of must be a date YYYY-MM-DD, got {value!r}") from None


@loggers.command("score")
@click.argument("stats_path", metavar="STATS.csv", type=click.Path(path_type=Path))
@click.option("--as-of", "as_of", metavar="YYYY-MM-DD",
              help="Score with the nights on or before this date only (default: the last date in the file).")
@json_option
@command_errors
def score_cmd(stats_path, as_of, as_json, warnings_out):
    """Leak score of each logger from its nightly level and spread, most suspect first.

    Each logger is compared with its own history (loggers are not calibrated against each
    other): a lasting step up of the level against its robust baseline, persistence (at
    least 2 of the last 3 nights high, most nights since the change), and level against
    spread (a leak raises the level without widening the spread).  Score 0..1; alarm at
    0.5.  Noise present since the start of the history (a PRV, a pump) is not a step; a
    PRV that starts mid-history looks like a leak without spectra.
    """
    from ..loggers import read_stats, score_loggers

    day = _parse_as_of(as_of)
    rows = read_stats(stats_path)
    scores = score_loggers(rows, as_of=day)
    if as_json:
        emit_json([s.as_dict() for s in scores])
        return
    used_as_of = day or max(r.date for r in rows)
    click.echo(f"as of {used_as_of}: {sum(s.alarm for s in scores)} alarm(s) among {len(scores)} logger(s)")
    click.echo(f"{'logger':12s} {'score':>5s} {'alarm':5s} {'nights':>6s} {'step dB':>8s}  reason")
    for s in scores:
        step = f"{s.step_db:+8.1f}" if s.step_db == s.step_db and s.score > 0 else f"{'-':>8s}"
        click.echo(f"{s.logger_id[:12]:12s} {s.score:5.2f} {'yes' if s.alarm else 'no':5s} {s.nights_used:6d} "
                   f"{step}  {s.reasons[0] if s.reasons else ''}")


@loggers.command("simulate")
@click.option("--loggers", "n_loggers", type=click.IntRange(1, 100000), default=20, show_default=True,
              help="Number of simulated loggers.")
@click.option("--nights", type=click.IntRange(10, 3650), default=60, show_default=True, help="Nights of history.")
@click.option("--start", "start", default="2026-09-01", show_default=True, metavar="YYYY-MM-DD", help="First night.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="stats.csv to write.")
@click.option("--truth", "truth_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write each logger's truth (kind, leak onset, source level) as JSON.")
@command_errors
def simulate_cmd(n_loggers, nights, start, seed, out_path, truth_path, warnings_out):
    """Write a simulated multi-night stats.csv (leaks appearing mid-history, PRVs, traffic,
    night consumption, missing nights), for trying and testing the scoring."""
    import json

    import numpy as np

    from ..loggers import simulate_fleet, write_stats

    day = _parse_as_of(start)
    rows, truths = simulate_fleet(n_loggers, np.random.default_rng(seed), n_nights=nights, start=day)
    write_stats(rows, out_path)
    if truth_path:
        Path(truth_path).write_text(json.dumps(
            {k: {**v, "onset_date": v["onset_date"].isoformat() if v["onset_date"] else None}
             for k, v in truths.items()}, indent=2) + "\n", encoding="utf-8")
    kinds: dict[str, int] = {}
    for t in truths.values():
        kinds[t["kind"]] = kinds.get(t["kind"], 0) + 1
    click.echo(f"wrote {out_path}: {len(rows)} logger-nights of {n_loggers} logger(s) "
               f"({', '.join(f'{v} {k}' for k, v in kinds.items())})", err=True)


@loggers.command("evaluate")
@click.option("--loggers", "n_loggers", type=click.IntRange(20, 100000), default=300, show_default=True)
@click.option("--nights", type=click.IntRange(30, 3650), default=60, show_default=True)
@click.option("--window", type=click.IntRange(1, 365), default=30, show_default=True,
              help="Score every logger as of each of its last WINDOW nights.")
@click.option("--seed", type=int, default=2026, show_default=True)
@json_option
@command_errors
def evaluate_cmd(n_loggers, nights, window, seed, as_json, warnings_out):
    """Measure detection and false-alarm rates of `loggers score` on simulated loggers."""
    from ..loggers import evaluate_scoring

    if window >= nights - 7:
        from .._errors import ParameterError

        raise ParameterError(f"--window {window} must be shorter than --nights {nights} minus 7")
    r = evaluate_scoring(n_loggers, seed=seed, n_nights=nights, fa_window=window)
    if as_json:
        emit_json(r)
        return
    det = r["detection"]
    click.echo(f"{n_loggers} simulated loggers, {nights} nights, scored as of each of the last {window} nights")
    click.echo(f"detection (leak loggers alarmed on the last night, onset >= 3 nights before): "
               f"{det['rate']:.1%} of {det['n']}; leaks >= 3 dB above background: {det['rate_leak_at_least_3db']:.1%}")
    for k, v in det["by_leak_level_re_background"].items():
        if v["n"]:
            click.echo(f"  leak {k:>12s} re background: {v['rate']:.1%} of {v['n']}")
    click.echo(f"median nights from onset to first alarm: {r['nights_to_detect_median']}")
    click.echo("false alarms per scored logger-night:")
    for k, v in r["false_alarm_logger_night"].items():
        if v["nights"]:
            click.echo(f"  {k:28s} {v['alarms']:5d} / {v['nights']:6d} = {v['rate']:.2%}")
    click.echo(f"no-leak loggers alarmed on any night of the window: {r['false_alarm_any_in_window']:.1%}; "
               f"PRV starting mid-history (looks like a leak): {r['prv_onset_alarm_any']:.1%}")
