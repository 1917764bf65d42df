"""``acoustic correlate`` (locate a leak between two sensors) and ``acoustic velocity`` (wave speed in place)."""

from __future__ import annotations

import warnings
from pathlib import Path

import click

from ._common import command_errors, emit_json, json_option

_WEIGHTINGS = ("auto", "plain", "phat", "scot", "roth", "ht")

audio_a = click.argument("rec_a", metavar="A", type=click.Path(dir_okay=True, path_type=Path))
audio_b = click.argument("rec_b", metavar="B", type=click.Path(dir_okay=True, path_type=Path))
weighting_opt = click.option("--weighting", type=click.Choice(_WEIGHTINGS, case_sensitive=False), default="auto",
                             show_default=True,
                             help="GCC weighting; auto = Hannan-Thomson (maximum likelihood) on the coherent band.")
band_opt = click.option("--band", nargs=2, type=float, default=None, metavar="LO HI",
                        help="Analysis band in Hz (default: the coherent band).")
channel_opt = click.option("--channel", type=int, default=0, show_default=True,
                           help="Channel of multi-channel files (0 = first).")
plot_opt = click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        help="Write a PNG: correlogram along the pipe and the coherence with the band used.")


def _read_pair(rec_a: Path, rec_b: Path, channel: int):
    from .._errors import ParameterError
    from ..io import read_recording

    if channel < 0:
        raise ParameterError(f"--channel must be >= 0, got {channel}")
    return read_recording(rec_a, channel=channel), read_recording(rec_b, channel=channel)


#: Schemas of the JSON documents (docs/schemas/correlate.schema.json, velocity.schema.json).
CORRELATE_SCHEMA = "acoustic.correlate/1"
VELOCITY_SCHEMA = "acoustic.velocity/1"


def _pair_inputs(a, b) -> dict:
    """The recordings a result came from: files (absolute paths), sensor ids and UTC start times
    (None when a start time is unknown), each as ``{"a": ..., "b": ...}``."""
    def start(rec):
        return None if rec.start_time is None else rec.start_time.isoformat()

    return {"files": {"a": str(Path(a.source).resolve()) if a.source is not None else None,
                      "b": str(Path(b.source).resolve()) if b.source is not None else None},
            "sensor_ids": {"a": a.sensor_id, "b": b.sensor_id},
            "start_times": {"a": start(a), "b": start(b)}}


def _pipe_input(path, pipe_file, distance, material, speed) -> dict:
    """The pipe used (pipe.json form, with length and defaults filled in) and how it was given."""
    from ..io._pipejson import pipe_to_dict

    given = {"pipe": str(Path(pipe_file).resolve())} if pipe_file is not None else \
        {k: v for k, v in (("distance_m", distance), ("material", material), ("speed_m_s", speed)) if v is not None}
    return {"length_m": round(float(path.length_m), 6), **pipe_to_dict(path), "given": given}


def _capture():
    """Record AcousticWarnings of a block so they can go into the JSON and, re-emitted, to stderr."""
    from .._errors import AcousticWarning

    ctx = warnings.catch_warnings(record=True)
    caught = ctx.__enter__()
    warnings.simplefilter("always", AcousticWarning)
    return ctx, caught


def _release(ctx, caught) -> list[str]:
    from .._errors import AcousticWarning

    ctx.__exit__(None, None, None)
    msgs: list[str] = []
    for w in caught:
        if issubclass(w.category, AcousticWarning) and str(w.message) not in msgs:
            msgs.append(str(w.message))
    for m in msgs:
        warnings.warn(m, AcousticWarning, stacklevel=2)
    return msgs


def _build_path(pipe, distance, material, diameter_mm, wall_mm, speed, soil):
    from .._errors import ParameterError
    from ..io import read_pipe
    from ..pipe import PipePath

    if pipe is not None:
        extra = [name for name, v in (("--distance", distance), ("--material", material), ("--speed", speed),
                                      ("--diameter-mm", diameter_mm), ("--wall-mm", wall_mm)) if v is not None]
        if extra:
            raise ParameterError(f"--pipe describes the whole pipe; do not combine it with {', '.join(extra)}")
        return read_pipe(pipe)
    if distance is None:
        raise ParameterError("describe the pipe: --pipe pipe.json, or --distance M with --material NAME "
                             "or --speed C")
    if material is None and speed is None:
        raise ParameterError("--distance needs --material NAME (wave speed from the pipe model) or --speed C (m/s)")
    if speed is None and (diameter_mm is not None and diameter_mm <= 0):
        raise ParameterError(f"--diameter-mm must be positive, got {diameter_mm:g}")
    kw = {}
    if diameter_mm is not None:
        kw["diameter_mm"] = diameter_mm
    return PipePath.uniform(distance, material, speed_m_s=speed, wall_mm=wall_mm, soil=soil, **kw)


@click.command("correlate")
@audio_a
@audio_b
@click.option("--pipe", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="pipe.json: segments from A to B (material, length_m, diameter_mm, wall_mm, wave_speed_m_s).")
@click.option("--distance", type=float, default=None, help="Pipe length between the sensors in m (with --material or --speed).")
@click.option("--material", default=None,
              help="Pipe material: pvc, pe, cast_iron, ductile_iron, steel, asbestos_cement, concrete, copper.")
@click.option("--diameter-mm", type=float, default=None, help="Internal diameter in mm (default 150).")
@click.option("--wall-mm", type=float, default=None, help="Wall thickness in mm (default: typical for the material).")
@click.option("--speed", type=float, default=None, help="Known wave speed in m/s (measured in place).")
@click.option("--soil", type=click.Choice(["sandy", "stiff", "none"]), default="sandy", show_default=True,
              help="Surrounding soil for the pipe model (with --distance).")
@weighting_opt
@band_opt
@click.option("--max-peaks", type=int, default=3, show_default=True, help="Most leak peaks reported.")
@channel_opt
@json_option
@plot_opt
@command_errors
def correlate(rec_a, rec_b, pipe, distance, material, diameter_mm, wall_mm, speed, soil, weighting, band, max_peaks,
              channel, as_json, plot_path, warnings_out):
    """Locate a leak between two synchronized sensors A and B.

    A and B are WAV/FLAC recordings with JSON sidecars (start times align them to the
    microsecond).  Distances are in m from sensor A along the pipe; delay_s is the arrival
    time at A minus the arrival time at B; the interval is 95 % (delay and wave-speed
    uncertainty).
    """
    from ..correlate import correlate_pair

    def compute():
        path = _build_path(pipe, distance, material, diameter_mm, wall_mm, speed, soil)
        a, b = _read_pair(rec_a, rec_b, channel)
        res = correlate_pair(a, b, path, weighting=weighting.lower(), band_hz=band, max_peaks=max_peaks)
        options = {"weighting": weighting.lower(), "band_hz": None if band is None else list(band),
                   "max_peaks": max_peaks, "channel": channel}
        return res, {"schema": CORRELATE_SCHEMA, **_pair_inputs(a, b),
                     "pipe": _pipe_input(path, pipe, distance, material, speed), "options": options}

    _run_and_report(compute, plot_path, as_json, _print_correlation)


def _run_and_report(compute, plot_path, as_json: bool, print_text) -> None:
    """Run ``compute`` (a correlation or velocity result, and the JSON's schema and inputs) with its
    warnings captured, plot it when asked, then emit the JSON (warnings included) or the text from
    ``print_text``."""
    ctx, caught = _capture()
    try:
        res, head = compute()
        if plot_path is not None:
            from ..correlate import plot_correlation

            plot_correlation(res, plot_path)
    finally:
        msgs = _release(ctx, caught)
    out = {**head, **res.to_json()}
    out["warnings"] = msgs
    if as_json:
        emit_json(out)
        return
    print_text(out)
    if plot_path is not None:
        click.echo(f"plot: {plot_path}")


def _print_correlation(o: dict) -> None:
    if o["detected"]:
        lo, hi = o["interval_m"]
        click.echo(f"Leak at {o['distance_from_a_m']:.2f} m from A ({o['distance_from_b_m']:.2f} m from B); "
                   f"95 % interval {lo:.2f}-{hi:.2f} m; confidence {o['confidence']:.2f}")
        click.echo(f"delay {o['delay_s']:+.6f} s (sd {o['delay_sd_s']:.6f} s); wave speed {o['wave_speed_m_s']:.1f} m/s "
                   f"(sd {o['wave_speed_sd_m_s']:.1f}); band {o['band_hz'][0]:.0f}-{o['band_hz'][1]:.0f} Hz; "
                   f"weighting {o['weighting']}")
        for p in o["peaks"]:
            if abs(p["delay_s"] - o["delay_s"]) < 1e-6:
                continue  # the located leak (its delay is rounded to 1 us at the top level)
            if p.get("intermittent"):
                kind = "intermittent peak (comes and goes: a tap?)"
            elif p.get("shared_with_intermittent"):
                kind = "other peak (steady, under one that comes and goes: a leak by a tap?)"
            else:
                kind = "other peak"
            click.echo(f"{kind}: {p['distance_from_a_m']:.2f} m from A (delay {p['delay_s']:+.6f} s, "
                       f"strength {p['strength']:.3f})")
    else:
        click.echo(f"No leak located between the sensors (band {o['band_hz'][0]:.0f}-{o['band_hz'][1]:.0f} Hz, "
                   f"weighting {o['weighting']}, coherence {o['coherence_mean']:.3f})")
    for p in o["outside_peaks"]:
        click.echo(f"noise from outside the pair, {'beyond A' if p['side'] == 'beyond_a' else 'beyond B'} "
                   f"(delay {p['delay_s']:+.6f} s, strength {p['strength']:.3f})")
    starts = o.get("start_times") or {}
    unknown = [k.upper() for k in ("a", "b") if starts.get(k) is None]
    if unknown:
        # the position rests on this assumption: a start-time error of t moves the leak by c t / 2
        click.echo(f"assumed: the recordings started together (start time of {' and '.join(unknown)} unknown, no "
                   "sidecar); a start difference of t s moves the position by half the wave speed times t")


@click.command("velocity")
@audio_a
@audio_b
@click.option("--distance", type=float, required=True, help="Pipe length between the sensors in m.")
@click.option("--source", type=click.Choice(["beyond-a", "beyond-b"]), default=None,
              help="Known source outside the pair: beyond sensor A or beyond sensor B (default beyond-a).")
@click.option("--source-at", "source_at", type=float, default=None, metavar="X",
              help="Known source inside the pair at X m from A (not near mid-span).")
@click.option("--distance-sd", type=float, default=0.0, show_default=True,
              help="Standard deviation of the distance (and of X) in m.")
@click.option("--min-speed", type=float, default=100.0, show_default=True, help="Slowest speed searched, m/s.")
@click.option("--max-speed", type=float, default=1600.0, show_default=True, help="Fastest speed searched, m/s.")
@weighting_opt
@band_opt
@channel_opt
@json_option
@plot_opt
@command_errors
def velocity(rec_a, rec_b, distance, source, source_at, distance_sd, min_speed, max_speed, weighting, band, channel,
             as_json, plot_path, warnings_out):
    """Measure the pipe's wave speed in place from a known noise source.

    Record A and B while a known source runs: a hydrant opened or a tap test beyond one sensor
    (--source beyond-a|beyond-b, then c = D/|delay|), or a source at a known point inside the
    pair (--source-at X, then c = (D - 2X)/(t_B - t_A)).  Put the result on the span's segment
    in pipe.json as "wave_speed_m_s" (measure over one material and diameter).
    """
    from .._errors import ParameterError
    from ..correlate import measure_velocity

    if source is not None and source_at is not None:
        raise ParameterError("give either --source beyond-a|beyond-b or --source-at X, not both")
    key = "at" if source_at is not None else (source or "beyond-a").replace("-", "_")

    def compute():
        a, b = _read_pair(rec_a, rec_b, channel)
        res = measure_velocity(a, b, distance, source=key, source_m=source_at, distance_sd_m=distance_sd,
                               speed_range_m_s=(min_speed, max_speed), weighting=weighting.lower(), band_hz=band)
        return res, {"schema": VELOCITY_SCHEMA, **_pair_inputs(a, b)}

    _run_and_report(compute, plot_path, as_json, _print_velocity)


def _print_velocity(o: dict) -> None:
    click.echo(f"Wave speed {o['wave_speed_m_s']:.1f} m/s (sd {o['wave_speed_sd_m_s']:.1f}; 95 % "
               f"{o['interval_m_s'][0]:.1f}-{o['interval_m_s'][1]:.1f} m/s) over "
               f"{o['band_hz'][0]:.0f}-{o['band_hz'][1]:.0f} Hz; delay {o['delay_s']:+.6f} s")
    click.echo(o["feed_back"])
