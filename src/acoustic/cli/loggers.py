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
    """Leak probability of each logger from its nightly level and spread, most suspect first.

    Two kinds of evidence, combined into one probability (calibrated on simulated site
    visits, see docs/loggers.md): (1) against the fleet -- each night, the logger's level and
    spread placed within the same night's loggers of its area and model (optional stats.csv
    columns area, model): a high level with a low spread is steady noise, as a leak makes,
    even when it never changed; (2) against its own history -- a lasting step up of the
    level.  Every logger with a night on or before --as-of is scored: short histories with a
    low confidence, loggers whose data stopped with "stale_nights".  A PRV or pump running
    all along looks like a leak from level and spread alone.
    """
    from ..loggers import read_stats, score_loggers

    day = _parse_as_of(as_of)
    rows = read_stats(stats_path)
    used_as_of = day or max(r.date for r in rows)
    scores = score_loggers(rows, as_of=used_as_of)
    if as_json:
        emit_json([{"schema": "acoustic.loggers.score/1", "stats_file": str(stats_path),
                    "as_of": used_as_of.isoformat(), **s.as_dict()} for s in scores])
        return
    click.echo(f"as of {used_as_of}: {sum(s.alarm for s in scores)} alarm(s) among {len(scores)} logger(s) "
               f"(probability >= 0.5)")
    click.echo(f"{'logger':12s} {'prob':>5s} {'conf':6s} {'alarm':5s} {'nights':>6s} {'stale':>5s} "
               f"{'evidence':10s} reason")
    for s in scores:
        click.echo(f"{s.logger_id[:12]:12s} {s.score:5.2f} {s.confidence_label or '-':6s} "
                   f"{'yes' if s.alarm else 'no':5s} {s.nights_used:6d} {s.stale_nights:5d} "
                   f"{'+'.join(s.evidence or []) or '-':10s} {s.reasons[0] if s.reasons else ''}")


@loggers.command("simulate")
@click.option("--loggers", "n_loggers", type=click.IntRange(1, 100000), default=400, show_default=True,
              help="Number of simulated loggers (split evenly over the areas).")
@click.option("--areas", "n_areas", type=click.IntRange(1, 100), default=2, show_default=True,
              help="Areas (each with one or two logger models).")
@click.option("--nights", type=click.IntRange(10, 3650), default=85, show_default=True, help="Nights of history.")
@click.option("--start", "start", default="2026-06-01", show_default=True, metavar="YYYY-MM-DD", help="First night.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="stats.csv to write (logger_id,date,level,spread,area,model).")
@click.option("--truth", "truth_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write each logger's truth (category, area, model, dates, leak onset) as JSON.")
@click.option("--visits", "visits_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write simulated site visits (logger_id,date,leak_found) as CSV.")
@command_errors
def simulate_cmd(n_loggers, n_areas, nights, start, seed, out_path, truth_path, visits_path, warnings_out):
    """Write a simulated fleet's stats.csv: areas of loggers sharing a model calibration
    within +-3 dB, most leaks present from the first night and some starting later, PRVs and
    pumps running all along, traffic, night consumption, upload gaps, histories starting and
    stopping at different dates (docs/loggers.md)."""
    import json

    import numpy as np

    from .._errors import ParameterError
    from ..loggers import fleet_visits, simulate_real_fleet, write_stats

    day = _parse_as_of(start)
    if n_loggers < n_areas:
        raise ParameterError(f"--loggers {n_loggers} must be at least --areas {n_areas}")
    rng = np.random.default_rng(seed)
    sizes = [n_loggers // n_areas + (1 if a < n_loggers % n_areas else 0) for a in range(n_areas)]
    rows, truths = simulate_real_fleet(rng, n_areas=n_areas, n_per_area=sizes, n_nights=nights, start=day)
    write_stats(rows, out_path)
    if truth_path:
        Path(truth_path).write_text(json.dumps(
            {k: {"category": t.category, "area": t.area, "model": t.model, "first_date": t.first.isoformat(),
                 "last_date": t.last.isoformat(), "leak_onset": t.onset.isoformat() if t.onset else
                 ("before" if t.category == "leak_old" else None)} for k, t in truths.items()}, indent=2) + "\n",
            encoding="utf-8")
    if visits_path:
        lines = ["logger_id,date,leak_found"] + [f"{lid},{d.isoformat()},{int(lab)}"
                                                 for lid, d, lab in fleet_visits(rng, truths)]
        Path(visits_path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    kinds: dict[str, int] = {}
    for t in truths.values():
        kinds[t.category] = kinds.get(t.category, 0) + 1
    click.echo(f"wrote {out_path}: {len(rows)} logger-nights of {len(truths)} logger(s) in {n_areas} area(s) "
               f"({', '.join(f'{v} {k}' for k, v in sorted(kinds.items()))})", err=True)


@loggers.command("evaluate")
@click.option("--loggers", "n_loggers", type=click.IntRange(20, 100000), default=600, show_default=True,
              help="Simulated loggers (split evenly over the areas).")
@click.option("--areas", "n_areas", type=click.IntRange(1, 100), default=3, show_default=True)
@click.option("--nights", type=click.IntRange(20, 3650), default=85, show_default=True)
@click.option("--seed", type=int, default=2026, show_default=True)
@json_option
@command_errors
def evaluate_cmd(n_loggers, n_areas, nights, seed, as_json, warnings_out):
    """Visit-style quality of `loggers score` on a simulated fleet.

    Each simulated site visit is scored with the nights on or before its date only.  Reports
    ROC AUC, detection (share of leak visits alarmed) and false alarms (share of no-leak
    visits alarmed) for all visits, leaks older than the history (pre-existing), leaks that
    start during it (new), and visits after the logger's data stopped (stale).
    """
    from ..loggers import evaluate_fleet

    sizes = [n_loggers // n_areas + (1 if a < n_loggers % n_areas else 0) for a in range(n_areas)]
    r = evaluate_fleet(seed=seed, n_areas=n_areas, n_per_area=sizes, n_nights=nights)
    if as_json:
        emit_json({"schema": "acoustic.loggers.evaluate/1", **r})
        return
    click.echo(f"{r['n_loggers']} simulated loggers in {n_areas} area(s), {nights} nights, {r['n_visits']} visits "
               f"scored as of their dates")
    click.echo(f"{'visits':14s} {'leak':>5s} {'no leak':>7s} {'ROC AUC':>7s} {'detection':>9s} {'false alarm':>11s}")
    for k in ("all", "pre_existing", "new", "stale"):
        v = r[k]

        def pct(x):
            return "-" if x is None else f"{x:.1%}"

        auc = "-" if v["auc"] is None else f"{v['auc']:.3f}"
        click.echo(f"{k:14s} {v['n_leak']:5d} {v['n_no_leak']:7d} {auc:>7s} {pct(v['detection']):>9s} "
                   f"{pct(v['false_alarm']):>11s}")
    click.echo(f"visits without a score: {r['empty_scores']}")
