"""``acoustic simulate pair|recording``: physics-based synthetic recordings with a truth file."""

from __future__ import annotations

from pathlib import Path

import click

from ._common import FiniteFloat, command_errors, document, emit_json, json_option, path_text
from ._conventions import quiet_option, refuse_stdout

#: = acoustic.pipe.MAX_PIPE_LENGTH_M (not imported: ``acoustic simulate --help`` stays free of numpy)
MAX_PIPE_LENGTH_M = 100_000.0

_SUBTYPES = ("PCM_16", "PCM_24", "PCM_32", "FLOAT")
_CONFOUNDERS = ("hum", "pump", "prv", "consumption", "second_leak", "traffic")  # = acoustic.simulate.CONFOUNDERS
_NOISES = ("traffic", "pump", "prv", "consumption", "hum", "quiet")  # = acoustic.simulate.NOISES
_MATERIALS = ("pvc", "pe", "cast_iron", "ductile_iron", "steel", "asbestos_cement", "concrete", "copper")


@click.group("simulate")
def simulate():
    """Make physics-based synthetic recordings with a truth file.

    A leak's broadband noise is propagated along the pipe with each segment's complex
    wavenumber (dispersion and attenuation) for properties drawn around the nominal ones,
    seen by a hydrophone (Pa) or an accelerometer (m/s^2), in background noise at a chosen
    SNR, with switchable confounders.  Levels are calibrated: samples / 10**(gain_db/20)
    from the sidecar are in Pa or m/s^2.  Seeds make every output reproducible.
    """


def _common_options(func):
    opts = [
        click.option("--sample-rate", "sample_rate", type=FiniteFloat(1000.0, 96000.0, unit="Hz"), default=8000.0, show_default=True,
                     help="Sample rate in Hz (1000-96000)."),
        click.option("--sensor-kind", type=click.Choice(["hydrophone", "accelerometer"]), default="hydrophone",
                     show_default=True, help="Pressure sensor (Pa) or wall accelerometer (m/s^2)."),
        click.option("--gain-db", type=FiniteFloat(-200.0, 200.0, unit="dB"), default=None,
                     help="Recording gain in dB written to the sidecar [default: peak near -6 dBFS]."),
        click.option("--leak-level-db", type=FiniteFloat(-60.0, 120.0, unit="dB re 1 Pa"), default=None,
                     help="Leak source level in dB re 1 Pa rms at the leak [default: drawn 0-30 dB]."),
        click.option("--hum-hz", type=FiniteFloat(10.0, 500.0, unit="Hz"), default=50.0, show_default=True, help="Mains frequency in Hz."),
        click.option("--start-time", default=None,
                     help="UTC time of the first sample, e.g. 2026-11-03T02:00:00.123456Z [default: random 02:00-03:00]."),
        click.option("--seed", type=click.IntRange(min=0), default=None,
                     help="Random seed (non-negative integer) [default: fresh, written into truth.json]."),
        click.option("--subtype", type=click.Choice(_SUBTYPES), default="PCM_16", show_default=True,
                     help="Audio sample format."),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


@simulate.command("pair")
@click.option("--out", "-o", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output directory: A.wav, A.json, B.wav, B.json, pipe.json, truth.json.")
@click.option("--pipe", "pipe_file", type=click.Path(dir_okay=False, path_type=Path),
              help="pipe.json describing the path from A to B.")
@click.option("--distance", type=FiniteFloat(0.0, MAX_PIPE_LENGTH_M, lo_open=True, unit="m"),
              help="Pipe length in m between the sensors (instead of --pipe).")
@click.option("--material", type=click.Choice(_MATERIALS), help="Pipe material with --distance.")
@click.option("--diameter-mm", type=FiniteFloat(5.0, 5000.0, unit="mm"), default=150.0, show_default=True,
              help="Internal diameter in mm (with --distance).")
@click.option("--wall-mm", type=FiniteFloat(0.0, lo_open=True, unit="mm"), default=None,
              help="Wall thickness in mm (with --distance) [default: typical].")
@click.option("--soil", type=click.Choice(["sandy", "stiff", "none"]), default="sandy", show_default=True,
              help="Soil around the pipe (with --distance).")
@click.option("--leak-m", required=True, type=FiniteFloat(0.0, unit="m"), help="Leak position in m from sensor A.")
@click.option("--snr-db", type=FiniteFloat(-60.0, 100.0, unit="dB"), default=0.0, show_default=True,
              help="Leak-to-background ratio in dB at each sensor over the leak band.")
@click.option("--duration", type=FiniteFloat(1.0, 3600.0, unit="s"), default=30.0, show_default=True,
              help="Clip length in s (1-3600).")
@click.option("--confounder", "confounders", multiple=True, type=click.Choice(_CONFOUNDERS),
              help="Add a confounder (repeatable): hum, pump, prv, consumption, second_leak, traffic.")
@click.option("--second-leak-m", type=FiniteFloat(0.0, unit="m"), default=None,
              help="Second, weaker leak at this position (m from A).")
@click.option("--second-leak-rel-db", type=FiniteFloat(-60.0, 20.0, unit="dB"), default=-6.0, show_default=True,
              help="Second leak's source level relative to the main leak, dB.")
@click.option("--offset-s", type=FiniteFloat(-3600.0, 3600.0, unit="s"), default=None,
              help="B's logger starts this many seconds after A's (0 = synchronised) [default: random within +-2 s].")
@_common_options
@quiet_option
@json_option
@command_errors
def pair_cmd(out_dir, pipe_file, distance, material, diameter_mm, wall_mm, soil, leak_m, snr_db, duration,
             confounders, second_leak_m, second_leak_rel_db, offset_s, sample_rate, sensor_kind, gain_db,
             leak_level_db, hum_hz, start_time, seed, subtype, as_json, warnings_out):
    """Two loggers at the ends of a pipe with a leak between them, plus truth.json.

    Either --pipe pipe.json, or --distance M with --material NAME.  Example:

        acoustic simulate pair --out sim --distance 80 --material pvc --leak-m 30 --snr-db 6 --seed 1
    """
    from .._errors import ParameterError, PipeError
    from ..io import read_pipe
    from ..pipe import PipePath
    from ..simulate import simulate_pair

    if pipe_file is not None and (distance is not None or material is not None):
        raise ParameterError("give either --pipe or --distance/--material, not both")
    if pipe_file is not None:
        path = read_pipe(pipe_file)
    else:
        if distance is None or material is None:
            raise PipeError("describe the pipe: --pipe pipe.json, or --distance M with --material NAME")
        try:
            path = PipePath.uniform(distance, material, diameter_mm=diameter_mm, wall_mm=wall_mm, soil=soil)
        except PipeError as exc:
            raise PipeError(f"the pipe of --distance/--material/--diameter-mm/--wall-mm: {exc}") from None
    refuse_stdout(out_dir)
    _check_start_time(start_time, duration)
    sim = simulate_pair(path, leak_m, sample_rate_hz=sample_rate, duration_s=duration, snr_db=snr_db,
                        sensor_kind=sensor_kind, confounders=confounders, second_leak_m=second_leak_m,
                        second_leak_rel_db=second_leak_rel_db, start_offset_s=offset_s, hum_hz=hum_hz,
                        gain_db=gain_db, start_time=start_time, seed=seed, leak_level_db=leak_level_db)
    files = sim.write(out_dir, subtype=subtype)
    t = sim.truth
    if as_json:
        emit_json(document("simulate.pair", {**t, **_pair_vocabulary(t),
                                             "files": {k: path_text(v) for k, v in files.items()},
                                             "warnings": warnings_out}))
        return
    band = t["band_hz"]
    speeds = ", ".join(f"{c:.1f}" for c in t["speeds_m_s"])
    nominal = ", ".join(f"{c:.1f}" for c in t["nominal_speeds_m_s"])
    click.echo(f"wrote {out_dir}/A.wav, B.wav (+ .json sidecars), pipe.json, truth.json "
               f"({t['sample_rate_hz']:g} Hz, {t['duration_s']:g} s, {t['sensor_kind']})")
    click.echo(f"leak at {t['leak_m']:.2f} m from A, {t['distance_from_b_m']:.2f} m from B (path {t['length_m']:g} m)")
    click.echo(f"delay (arrival A minus B, absolute time): {t['delay_s']:+.6f} s; "
               f"B starts {t['start_offset_s']:+.6f} s after A")
    click.echo(f"wave speed per segment: {speeds} m/s realised, {nominal} m/s nominal")
    click.echo(f"SNR {t['snr_db']:g} dB over {t['snr_band_hz'][0]:.0f}-{t['snr_band_hz'][1]:.0f} Hz; "
               + (f"leak above background {band[0]:.0f}-{band[1]:.0f} Hz" if band else "leak below background everywhere"))
    click.echo(f"confounders: {', '.join(t['confounders']) or 'none'}; seed {t['seed']}")


def _pair_vocabulary(truth: dict) -> dict:
    """The pair keys of ``correlate``'s JSON (``{"a": ..., "b": ...}``) beside the truth's own
    ``start_time_a``/``_b`` and ``gain_db_a``/``_b`` (kept one release).  ``sensor_ids`` stays the
    list ``[A, B]`` this release: changing its type cannot keep an old key beside it."""
    return {"start_times": {"a": truth.get("start_time_a"), "b": truth.get("start_time_b")},
            "gain_db": {"a": truth.get("gain_db_a"), "b": truth.get("gain_db_b")}}


@simulate.command("recording")
@click.option("--out", "-o", "out_file", required=True, type=click.Path(path_type=Path),
              help="Output audio file (.wav or .flac); the sidecar is <stem>.json and the truth <stem>.truth.json.")
@click.option("--leak-distance-m", type=FiniteFloat(0.0, 5000.0, unit="m"), default=None,
              help="Distance in m from a leak to the logger [default: no leak].")
@click.option("--material", type=click.Choice(_MATERIALS), default="ductile_iron", show_default=True,
              help="Pipe material.")
@click.option("--diameter-mm", type=FiniteFloat(5.0, 5000.0, unit="mm"), default=150.0, show_default=True,
              help="Internal diameter in mm.")
@click.option("--wall-mm", type=FiniteFloat(0.0, lo_open=True, unit="mm"), default=None,
              help="Wall thickness in mm [default: typical].")
@click.option("--soil", type=click.Choice(["sandy", "stiff", "none"]), default="sandy", show_default=True,
              help="Soil around the pipe.")
@click.option("--noise", "noises", multiple=True, type=click.Choice(_NOISES),
              help="Add a noise (repeatable): traffic, pump, prv, consumption, hum, or quiet (background only).")
@click.option("--snr-db", type=FiniteFloat(-60.0, 100.0, unit="dB"), default=None,
              help="With a leak: leak-to-background ratio in dB over the leak band [default: absolute levels].")
@click.option("--duration", type=FiniteFloat(1.0, 3600.0, unit="s"), default=10.0, show_default=True,
              help="Length in s (1-3600).")
@click.option("--sensor-id", default="L001", show_default=True, help="Logger id for the sidecar.")
@_common_options
@quiet_option
@json_option
@command_errors
def recording_cmd(out_file, leak_distance_m, material, diameter_mm, wall_mm, soil, noises, snr_db, duration,
                  sensor_id, sample_rate, sensor_kind, gain_db, leak_level_db, hum_hz, start_time, seed, subtype,
                  as_json, warnings_out):
    """One logger recording, with or without a leak, plus its truth.

    Example:

        acoustic simulate recording --out rec.wav --leak-distance-m 40 --material pvc --noise traffic --seed 3
    """
    from .._errors import ParameterError, PipeError
    from ..simulate import simulate_recording

    if out_file.suffix.lower() not in (".wav", ".flac"):
        raise ParameterError(f"--out {out_file}: must end in .wav or .flac")
    _check_start_time(start_time, duration)
    try:
        sim = simulate_recording(leak_distance_m=leak_distance_m, material=material, diameter_mm=diameter_mm,
                                 wall_mm=wall_mm, soil=soil, sample_rate_hz=sample_rate, duration_s=duration,
                                 sensor_kind=sensor_kind, noises=noises, gain_db=gain_db, leak_level_db=leak_level_db,
                                 snr_db=snr_db, sensor_id=sensor_id, start_time=start_time, seed=seed, hum_hz=hum_hz)
    except PipeError as exc:
        raise PipeError(f"the pipe of --material/--diameter-mm/--wall-mm: {exc}") from None
    files = sim.write(out_file, subtype=subtype)
    t = sim.truth
    if as_json:
        emit_json(document("simulate.recording", {**t, "files": {k: path_text(v) for k, v in files.items()},
                                                  "warnings": warnings_out}))
        return
    unit = "Pa" if t["sensor_kind"] == "hydrophone" else "m/s^2"
    click.echo(f"wrote {files['audio']} (+ {files['sidecar'].name}, {files['truth'].name}); "
               f"{t['sample_rate_hz']:g} Hz, {t['duration_s']:g} s, {t['sensor_kind']}, gain {t['gain_db']:g} dB")
    if t["leak_distance_m"] is not None:
        click.echo(f"label leak: {t['material']} leak {t['leak_distance_m']:g} m away, "
                   f"{t['leak_level_at_sensor_db']:.1f} dB re 1 {unit} at the logger, SNR {t['snr_db']:.1f} dB "
                   f"over {t['band_hz'][0]:.0f}-{t['band_hz'][1]:.0f} Hz")
    else:
        click.echo(f"label {t['label']}: no leak; noises: {', '.join(t['noises']) or 'none'}")
    click.echo(f"background {t['background_level_at_sensor_db']:.1f} dB re 1 {unit}; seed {t['seed']}")


def _check_start_time(text: str | None, duration_s: float) -> None:
    """``--start-time``: an ISO-8601 UTC time whose recording ends before year 10000; a warning
    when it lies in the future (a batch run before then leaves such a recording out)."""
    if text is None:
        return
    from datetime import datetime, timedelta, timezone

    from .._errors import ParameterError
    from .._warnings import warn
    from ..recording import parse_time

    try:
        t = parse_time(text)
        end = t + timedelta(seconds=duration_s)
    except (ValueError, OverflowError) as exc:
        raise ParameterError(f"--start-time {text!r} is not an ISO-8601 UTC time such as "
                             f"2026-11-03T02:00:00.123456Z ({exc})") from None
    if t > datetime.now(timezone.utc):
        warn(f"--start-time {text} is in the future: a batch run before then leaves the recording out of nights, "
             f"scores and surveys (it ends {end.isoformat().replace('+00:00', 'Z')})")


# `acoustic simulate survey` lives with the network survey (acoustic.cli.survey, acoustic.simulate._survey).
from .survey import simulate_survey_cmd  # noqa: E402

simulate.add_command(simulate_survey_cmd, "survey")
# `acoustic simulate ledger` (a multi-year ledger history for pipe grading) lives with the ledger.
from .ledger import simulate_ledger_cmd  # noqa: E402

simulate.add_command(simulate_ledger_cmd, "ledger")

from ._simulate_dataset import simulate_dataset_cmd  # noqa: E402  (click only: --help stays fast)

simulate.add_command(simulate_dataset_cmd, "dataset")
