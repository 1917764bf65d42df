"""A simulated multi-year ledger history, to test and show pipe health grading (``acoustic simulate ledger``).

Not recordings: the history a ledger would hold after years of nightly monitoring of a network.

- Every pipe gets an installation year drawn by material (:data:`INSTALL_YEARS`; kept when
  ``pipes.csv`` already has ``install_year``), written to the output survey folder's ``pipes.csv``.
- Leaks start at random times, a Poisson process per pipe whose rate (per km per year) is the
  material's new-pipe rate times ``exp(age / AGE_SCALE_YEARS)`` (:data:`LEAK_RATE_PER_KM_YEAR`):
  old cast iron and asbestos cement leak most.  Positions are uniform along the pipe.
- Monitoring locates each leak some nights after it starts (the survey's located point: the true
  position plus an error of :data:`LOCATION_SD_M`), a crew digs it some days later and enters what
  it found (``confirm``, from the nearest node); leaks that started in the last weeks are still open
  suspects.  Noise sources (hydrants, valves, customer use) give suspects that are dug dry
  (:data:`FALSE_SUSPECTS_PER_KM_YEAR`).
- The loggers nearest each end of a leaking pipe alarm on most nights while the leak runs
  (:data:`ALARM_P_LEAK`), others now and then (:data:`ALARM_P_QUIET`).

The truth (every leak, its pipe, start, detection and dig) is returned and written as
``truth.json``.  All rates are illustrative, of the order of published main-break rates
(old cast iron several per km per year, plastics a tenth of that); nothing was tuned on them.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import shutil
from pathlib import Path

import numpy as np

from .._errors import ParameterError
from ._db import Ledger, dumps, utc_now

__all__ = ["simulate_history", "LEAK_RATE_PER_KM_YEAR", "INSTALL_YEARS", "AGE_SCALE_YEARS"]

#: Leaks per km per year of a new pipe by material (illustrative; see the module docs).
LEAK_RATE_PER_KM_YEAR = {"cast_iron": 0.4, "asbestos_cement": 0.4, "steel": 0.3, "concrete": 0.25,
                         "ductile_iron": 0.25, "copper": 0.2, "pvc": 0.15, "pe": 0.1}
#: The leak rate grows as exp(age / AGE_SCALE_YEARS): x2.7 at this age, x7.4 at twice it.
AGE_SCALE_YEARS = 55.0
#: Years a material was laid in (uniform draw) when ``pipes.csv`` has no ``install_year``.
INSTALL_YEARS = {"cast_iron": (1895, 1965), "asbestos_cement": (1950, 1980), "steel": (1930, 1985),
                 "concrete": (1940, 1980), "ductile_iron": (1970, 2005), "copper": (1950, 1990),
                 "pvc": (1975, 2012), "pe": (1990, 2018)}
#: Nights from a leak's start to its first located suspect (mean of an exponential draw), and days
#: from there to the dig (uniform).
DETECT_MEAN_NIGHTS, DIG_DAYS = 12.0, (2, 20)
#: Standard deviation (m) of the located position about the leak.
LOCATION_SD_M = 1.2
#: Suspects dug without a leak, per km of pipe per year (noise sources, customer use).
FALSE_SUSPECTS_PER_KM_YEAR = 0.5
#: Nightly alarm probability of a logger next to a running leak, and of any other logger.
ALARM_P_LEAK, ALARM_P_QUIET = 0.85, 0.03


@dataclasses.dataclass
class SimulatedHistory:
    ledger: Path
    survey_dir: Path
    truth: dict


def _install_years(network, given: dict, rng) -> dict:
    out = dict(given)
    for p in network.pipes.values():
        if p.pipe_id not in out:
            lo, hi = INSTALL_YEARS.get(p.material, (1960, 2000))
            out[p.pipe_id] = int(rng.integers(lo, hi + 1))
    return out


def _write_survey(src: Path, dst: Path, years: dict) -> None:
    """Copy the survey folder's network and loggers; pipes.csv gets the install_year column."""
    from ..io import read_csv_table, write_csv_rows

    dst.mkdir(parents=True, exist_ok=True)
    for name in ("network.inp", "network.geojson", "loggers.csv"):
        if (src / name).is_file():
            shutil.copy(src / name, dst / name)
    pipes = src / "pipes.csv"
    if pipes.is_file():
        table = read_csv_table(pipes, required=("pipe_id",), what="pipes.csv")
        cols = list(table.columns) + ([] if "install_year" in table.columns else ["install_year"])
        rows = []
        for r in table:
            cells = dict(r.cells)
            if cells.get("pipe_id") in years:
                cells["install_year"] = years[cells["pipe_id"]]
            rows.append(cells)
        write_csv_rows(dst / "pipes.csv", cols, rows)


def simulate_history(survey_dir, out_dir, *, years: float = 8.0, seed: int | None = None,
                     end: str | None = None) -> SimulatedHistory:
    """Write ``out_dir/ledger.db``, ``out_dir/survey/`` (with ``install_year``) and ``out_dir/truth.json``.

    Parameters
    ----------
    survey_dir : str or Path
        A survey folder with a network (``network.inp`` + ``pipes.csv`` or ``network.geojson``)
        and ``loggers.csv``.
    out_dir : str or Path
        Folder to write (created; must not hold a ledger already).
    years : float, default 8
        Length of the history (0.5-50 years), ending ``end``.
    seed : int, optional
    end : str, optional
        Last night ``YYYY-MM-DD`` (default yesterday, UTC).

    Returns
    -------
    SimulatedHistory
    """
    from ._grade import read_install_years
    from ._network import load_network
    from ._outcomes import confirm_suspect

    if not (isinstance(years, (int, float)) and math.isfinite(years) and 0.5 <= years <= 50):
        raise ParameterError(f"--years must be 0.5-50, got {years}")
    if seed is not None and not (isinstance(seed, int) and 0 <= seed < 2**32):
        raise ParameterError(f"--seed must be 0 to 2**32 - 1, got {seed}")
    today = _dt.datetime.now(_dt.timezone.utc).date()
    try:
        last = _dt.date.fromisoformat(end) if end else today - _dt.timedelta(days=1)
    except ValueError:
        raise ParameterError(f"--end must be a date YYYY-MM-DD, got {end!r}") from None
    if last > today:
        raise ParameterError(f"--end {last} is in the future")
    out_dir = Path(out_dir)
    if (out_dir / "ledger.db").exists():
        raise ParameterError(f"{out_dir / 'ledger.db'} exists; give an empty --out folder")
    src = Path(survey_dir)
    net0 = load_network(src)
    rng = np.random.default_rng(seed)
    inst = _install_years(net0.network, read_install_years(src / "pipes.csv"), rng)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_survey(src, out_dir / "survey", inst)
    net = load_network(out_dir / "survey")
    n_days = int(round(years * 365.25))
    first = last - _dt.timedelta(days=n_days - 1)
    events = _leak_events(net, inst, rng, first, last, n_days)
    led = Ledger(out_dir / "ledger.db", create=True)
    try:
        _write(led, net, events, rng, first, last, n_days)
        for ev in events:
            if ev["dug_on"] is not None and ev["suspect_id"] is not None:
                if ev["leak"]:
                    node, dist = _from_nearest(net, ev["pipe_id"], ev["offset_m"])
                    confirm_suspect(led, ev["suspect_id"], found_at_m=dist, from_node=node, net=net,
                                    by="simulated crew", dug_on=ev["dug_on"])
                else:
                    confirm_suspect(led, ev["suspect_id"], no_leak=True, by="simulated crew", dug_on=ev["dug_on"])
    finally:
        led.close()
    truth = {"seed": seed, "years": years, "first_night": first.isoformat(), "last_night": last.isoformat(),
             "install_years": inst, "events": events,
             "rates": {"leak_rate_per_km_year_new": LEAK_RATE_PER_KM_YEAR, "age_scale_years": AGE_SCALE_YEARS,
                       "false_suspects_per_km_year": FALSE_SUSPECTS_PER_KM_YEAR}}
    (out_dir / "truth.json").write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    return SimulatedHistory(out_dir / "ledger.db", out_dir / "survey", truth)


def _from_nearest(net, pipe_id, offset) -> tuple[str, float]:
    p = net.network.pipes[pipe_id]
    if offset <= p.length_m / 2:
        return p.start_node, round(offset, 2)
    return p.end_node, round(p.length_m - offset, 2)


def _leak_events(net, inst, rng, first, last, n_days) -> list[dict]:
    events = []
    mid_year = first.year + (last.year - first.year) / 2
    for p in sorted(net.network.pipes.values(), key=lambda q: q.pipe_id):
        if p.kind != "pipe":
            continue
        age = max(0.0, mid_year - inst[p.pipe_id])
        lam = LEAK_RATE_PER_KM_YEAR.get(p.material, 0.2) * math.exp(age / AGE_SCALE_YEARS)
        km, yrs = p.length_m / 1000.0, n_days / 365.25
        for leak, n in ((True, rng.poisson(lam * km * yrs)), (False, rng.poisson(FALSE_SUSPECTS_PER_KM_YEAR * km * yrs))):
            for _ in range(int(n)):
                start = int(rng.integers(0, n_days))
                off = float(rng.uniform(min(2.0, p.length_m / 4), p.length_m - min(2.0, p.length_m / 4)))
                det = start + int(rng.exponential(DETECT_MEAN_NIGHTS)) if leak else start
                dig = det + int(rng.integers(DIG_DAYS[0], DIG_DAYS[1] + 1))
                events.append({"leak": leak, "pipe_id": p.pipe_id, "material": p.material, "offset_m": round(off, 2),
                               "start": (first + _dt.timedelta(days=start)).isoformat(),
                               "located_night": (first + _dt.timedelta(days=det)).isoformat() if det < n_days else None,
                               "dug_on": (first + _dt.timedelta(days=dig)).isoformat() if dig < n_days else None,
                               "_start": start, "_det": det, "_dig": dig, "suspect_id": None})
    events.sort(key=lambda e: (e["_det"], e["pipe_id"]))
    return events


def _write(led, net, events, rng, first, last, n_days) -> None:
    from ._grade import _end_loggers

    now = utc_now()
    with led.transaction() as con:
        bid = con.execute("INSERT INTO batches(started_utc, finished_utc, upload_dir, status, params_json) VALUES "
                          "(?, ?, 'simulated history', 'completed', ?)",
                          (now, now, dumps({"survey_dir": str(net.survey_dir.resolve()), "simulated": True}))).lastrowid
        for k, ev in enumerate(events):
            if ev["located_night"] is None:
                continue
            p = net.network.pipes[ev["pipe_id"]]
            located = float(np.clip(ev["offset_m"] + rng.normal(0.0, LOCATION_SD_M), 0.0, p.length_m))
            half = 1.96 * LOCATION_SD_M
            node, near = ((p.start_node, located) if located <= p.length_m / 2 else (p.end_node, p.length_m - located))
            x, y = p.point_at(located)
            loggers = _end_loggers(net, p)
            area = net.sites[loggers[0]].area if loggers and net.sites[loggers[0]].area else "*"
            evidence = {"pipe_id": p.pipe_id, "offset_m": round(located, 2), "interval_m": [
                round(max(0.0, located - half), 2), round(min(p.length_m, located + half), 2)],
                "pipe_length_m": round(p.length_m, 2), "nearest_node": {"node_id": node, "distance_m": round(near, 2)},
                "loggers": loggers, "material": p.material, "simulated": True}
            ev["suspect_id"] = con.execute(
                "INSERT INTO suspects(kind, natural_key, area, pipe_id, offset_m, x, y, interval_lo_m, interval_hi_m, "
                "spacing_m, confidence, score, from_logger, to_logger, evidence_json, batch_id, created_utc, night) "
                "VALUES ('point', ?, ?, ?, ?, ?, ?, ?, ?, ?, 0.9, 0.9, ?, ?, ?, ?, ?, ?)",
                (f"sim|{k}", area, p.pipe_id, round(located, 2), x, y, evidence["interval_m"][0],
                 evidence["interval_m"][1], None, loggers[0] if loggers else None,
                 loggers[-1] if loggers else None, dumps(evidence), bid, ev["located_night"] + "T06:00:00.000000Z",
                 ev["located_night"])).lastrowid
        # nightly alarms: the loggers at the ends of a pipe with a running leak alarm on most nights
        running = np.zeros((len(net.sites), n_days), dtype=bool)
        index = {lid: i for i, lid in enumerate(sorted(net.sites))}
        ends = {pid: _end_loggers(net, p) for pid, p in net.network.pipes.items()}
        for ev in events:
            if not ev["leak"]:
                continue
            stop = min(ev["_dig"], n_days)
            for lid in ends[ev["pipe_id"]]:
                running[index[lid], ev["_start"]:stop] = True
        p_alarm = np.where(running, ALARM_P_LEAK, ALARM_P_QUIET)
        alarm = rng.random(p_alarm.shape) < p_alarm
        rows = []
        for lid, i in index.items():
            for d in range(n_days):
                day = (first + _dt.timedelta(days=d)).isoformat()
                rows.append((lid, day, 0.9 if alarm[i, d] else 0.1, int(alarm[i, d]), 14, "[]", bid, now))
        con.executemany("INSERT INTO logger_scores(logger_id, as_of, score, alarm, nights_used, reasons_json, batch_id, "
                        "updated_utc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    for ev in events:
        for k in ("_start", "_det", "_dig"):
            ev.pop(k, None)
