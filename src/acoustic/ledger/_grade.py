"""Pipe health grades from the ledger: which mains to renew, to repair and watch, to monitor.

For every pipe of the survey folder's network, over a period (``--since`` / ``--until``, default
the ledger's whole history):

- **confirmed leaks**: physical leaks whose first dig found them on the pipe within the period
  (digs are resolved into leaks over the whole history exactly as for the payment statistics, so a
  leak found before the period and dug again in it is not counted), and the **leak rate** in
  leaks per km per year of the part of the period the ledger watched (years before its first
  record had no monitoring: no leak could be found in them);
- **open suspects** (point suspects not yet dug) and **dismissed suspects** (dug, no leak);
- the **share of nights its loggers alarmed**: the loggers nearest each end of the pipe along the
  pipes, an alarmed night being one on which any of them was in alarm (the ledger's logger scores);
- its **material**, and its **age** from the optional ``install_year`` column of ``pipes.csv``.

The grade is the first rule of :data:`GRADE_RULES` that holds (thresholds are :class:`GradeRules`
fields, each a command-line option, so a utility can set its own):

====  =================  ===================================================================
A     renew now          confirmed leaks >= ``a_leaks`` (default 3: the A/B/C leak-count rule)
A     renew now          confirmed leaks >= 2 and leak rate >= ``a_rate`` per km per year
A     renew now          confirmed leaks >= 1 on ``old_materials`` at least ``old_age`` years old
B     repair and watch   confirmed leaks >= ``b_leaks`` (default 1)
B     repair and watch   open suspects >= 1 and alarmed nights >= ``alarm_share``
C     monitor            otherwise
====  =================  ===================================================================

A dismissed suspect (dug, no leak) raises no grade: it is evidence that the pipe did *not* leak
there.  Pipes are listed worst first: by grade, then leak rate, confirmed leaks, open suspects and
alarmed nights.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
from pathlib import Path

from .._errors import DataError, ParameterError

__all__ = ["GradeRules", "GRADE_RULES", "GRADE_ACTIONS", "PipeHealth", "GradeResult", "grade_pipes",
           "read_install_years", "grade_geojson", "grade_csv"]

GRADE_ACTIONS = {"A": "renew now", "B": "repair and watch", "C": "monitor"}


@dataclasses.dataclass(frozen=True)
class GradeRules:
    """Thresholds of the grading rules (module docs).

    Attributes
    ----------
    a_leaks : int
        Confirmed leaks in the period that make a pipe A (the utility rule "3 or more").
    b_leaks : int
        Confirmed leaks that make a pipe B (the utility rule "1-2").
    a_rate : float
        Leaks per km per year that, with at least two leaks, make a pipe A: a short main that
        leaks twice is as bad as a long one that leaks three times.  Illustrative default 2.0 (a
        100 m main leaking twice in a year); not calibrated on any utility's data.
    old_materials : tuple of str
        Materials whose age counts (brittle, corroding or softening mains; ``--old-material``).
    old_age : int
        Age (years) from which one leak on an ``old_materials`` pipe makes it A.  Illustrative
        default 60 (cast iron laid before the 1960s, the age at which published break rates of
        grey cast iron climb); not calibrated on any utility's data.
    alarm_share : float
        Share of nights (0-1) its loggers alarmed that, with an open suspect, makes a pipe B.
        Illustrative default 0.25 (one night in four: well above the few per cent of nights a
        logger far from any leak alarms in the simulated history); not calibrated on field data.
    merge_m : float
        Digs within this distance along the pipes found one leak (the payment statistics' rule,
        :data:`~acoustic.ledger._leaks.LEAK_MERGE_M`).
    """

    a_leaks: int = 3
    b_leaks: int = 1
    a_rate: float = 2.0
    old_materials: tuple = ("cast_iron", "asbestos_cement")
    old_age: int = 60
    alarm_share: float = 0.25
    merge_m: float = 5.0  # LEAK_MERGE_M (a literal: the rules stay importable without the statistics)

    def check(self) -> "GradeRules":
        if not (isinstance(self.a_leaks, int) and isinstance(self.b_leaks, int) and 1 <= self.b_leaks <= self.a_leaks):
            raise ParameterError(f"--a-leaks and --b-leaks must be whole numbers with 1 <= b <= a, got "
                                 f"{self.a_leaks} and {self.b_leaks}")
        if not (math.isfinite(self.a_rate) and self.a_rate > 0):
            raise ParameterError(f"--a-rate must be a positive number of leaks per km per year, got {self.a_rate}")
        if not (isinstance(self.old_materials, tuple) and self.old_materials
                and all(isinstance(m, str) and m.strip() for m in self.old_materials)):
            raise ParameterError(f"--old-material must name materials, got {self.old_materials!r}")
        if not (isinstance(self.old_age, int) and 0 <= self.old_age <= 300):
            raise ParameterError(f"--old-age must be 0-300 years, got {self.old_age}")
        if not (math.isfinite(self.alarm_share) and 0 < self.alarm_share <= 1):
            raise ParameterError(f"--alarm-share must be in (0, 1], got {self.alarm_share}")
        from ._leaks import check_merge

        check_merge(self.merge_m)
        return self


def _leaks(p, r):
    return len(p.leaks) >= r.a_leaks


def _rate(p, r):
    return len(p.leaks) >= 2 and p.leak_rate_per_km_year is not None and p.leak_rate_per_km_year >= r.a_rate


def _old(p, r):
    return len(p.leaks) >= 1 and p.material in r.old_materials and p.age_years is not None and p.age_years >= r.old_age


def _some(p, r):
    return len(p.leaks) >= r.b_leaks


def _flagged(p, r):
    return p.open_suspects >= 1 and p.alarm_share is not None and p.alarm_share >= r.alarm_share


#: The grading rules in order: (grade, description template, predicate(pipe, rules)).
GRADE_RULES = [
    ("A", "{leaks} confirmed leak(s) >= {r.a_leaks}", _leaks),
    ("A", "{leaks} confirmed leaks at {rate:.2f} per km per year >= {r.a_rate:g}", _rate),
    ("A", "{leaks} confirmed leak(s) on {material} {age} years old >= {r.old_age}", _old),
    ("B", "{leaks} confirmed leak(s) >= {r.b_leaks}", _some),
    ("B", "{open} open suspect(s) and its loggers alarmed {share:.0%} of nights >= {r.alarm_share:.0%}", _flagged),
    ("C", "no confirmed leak in the period", lambda p, r: True),
]


@dataclasses.dataclass
class PipeHealth:
    """One pipe's evidence and grade (lengths in m, rates per km per year)."""

    pipe_id: str
    material: str
    diameter_mm: float
    length_m: float
    install_year: int | None
    age_years: int | None
    area: str | None
    loggers: list
    leaks: list
    leak_rate_per_km_year: float | None
    open_suspects: int
    dismissed_suspects: int
    alarm_share: float | None
    alarmed_nights: int
    nights: int
    grade: str = "C"
    action: str = "monitor"
    reasons: list = dataclasses.field(default_factory=list)

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["n_leaks"] = len(self.leaks)
        return d


@dataclasses.dataclass
class GradeResult:
    """Graded pipes (worst first), the period, the rules and the totals."""

    pipes: list
    since: str | None
    until: str | None
    years: float
    rules: GradeRules
    totals: dict
    period: GradePeriod | None = None

    def describe_period(self) -> str:
        """``since to until (N years watched ...)`` for the human outputs."""
        text = f"{self.since} to {self.until}"
        pr = self.period
        if pr is not None and (pr.watched_since, pr.watched_until) != (self.since, self.until):
            watched = (f"watched {pr.watched_since} to {pr.watched_until}" if pr.watched_since
                       else "no monitoring in the ledger")
            return f"{text} ({watched}: {self.years:.1f} years)"
        return f"{text} ({self.years:.1f} years)"

    def to_json(self) -> dict:
        watched = {} if self.period is None else {"watched_since": self.period.watched_since,
                                                  "watched_until": self.period.watched_until}
        return {"period": {"since": self.since, "until": self.until, "years": self.years, **watched},
                "rules": dataclasses.asdict(self.rules),
                "rule_table": [{"grade": g, "action": GRADE_ACTIONS[g], "rule": t} for g, t, _ in GRADE_RULES],
                "totals": self.totals, "pipes": [p.to_json() for p in self.pipes]}


def read_install_years(pipes_csv) -> dict[str, int]:
    """``install_year`` of each pipe from ``pipes.csv`` (optional column; empty cells are unknown).

    Raises
    ------
    DataError
        A year that is not a whole number between 1800 and this year (file, line and column named).
    """
    from ..io import read_csv_table

    path = Path(pipes_csv)
    if not path.is_file():
        return {}
    table = read_csv_table(path, required=("pipe_id",), optional=("install_year",), what="pipes.csv",
                           extra_fields="ignore")
    if "install_year" not in table.columns:
        return {}
    this_year = _dt.date.today().year
    out = {}
    for row in table:
        if row.get("pipe_id") and row.get("install_year"):
            out[row["pipe_id"]] = row.integer("install_year", min_value=1800, max_value=this_year)
    return out


@dataclasses.dataclass(frozen=True)
class GradePeriod:
    """The period graded and the part of it the ledger watched.

    Attributes
    ----------
    since, until : str
        The period asked for (``YYYY-MM-DD``, inclusive; default the ledger's first and last dates).
    watched_since, watched_until : str or None
        The part of it the ledger holds monitoring for (its first and last dates of suspects, digs
        and logger scores, within the period); None when they do not meet.
    years : float
        Length of the watched part (years of 365.25 days): the denominator of leaks per km per year.
    """

    since: str
    until: str
    watched_since: str | None
    watched_until: str | None
    years: float


def _ledger_dates(led) -> tuple[str, str] | None:
    """The ledger's first and last dates (survey nights of point suspects, digs, logger scores)."""
    q = led.conn.execute
    days = []
    for sql in ("SELECT min(substr(coalesce(night, created_utc), 1, 10)), max(substr(coalesce(night, created_utc), 1, 10)) "
                "FROM suspects WHERE kind = 'point'",
                "SELECT min(dug_on), max(dug_on) FROM outcomes",
                "SELECT min(as_of), max(as_of) FROM logger_scores"):
        try:
            lo, hi = q(sql).fetchone()
        except Exception:  # an older ledger without a column: the other sources tell
            continue
        days += [str(d)[:10] for d in (lo, hi) if d]
    return (min(days), max(days)) if days else None


def _period(led, since, until) -> GradePeriod:
    """The period (default the ledger's dates) and the years of it the ledger watched: leaks per
    km per year over years without monitoring would be too low (no leak could be found then)."""
    today = _dt.date.today().isoformat()
    dates = _ledger_dates(led)
    first, last = dates or (today, today)
    since, until = since or first, until or last
    if since > until:
        raise ParameterError(f"--since {since} is after the period's end {until}")
    lo, hi = max(since, first), min(until, last)
    if dates is None or lo > hi:
        return GradePeriod(since, until, None, None, 0.0)
    years = ((_dt.date.fromisoformat(hi) - _dt.date.fromisoformat(lo)).days + 1) / 365.25
    return GradePeriod(since, until, lo, hi, years)


def _end_loggers(net, pipe) -> list[str]:
    """The loggers nearest each end of a pipe along the pipes (one or two)."""
    out = []
    for offset in (0.0, float(pipe.length_m)):
        near = net.nearest_logger(pipe.pipe_id, offset)
        if near is not None and near[0] not in out:
            out.append(near[0])
    return out


def _alarms(led, since: str, until: str) -> dict[str, dict[str, bool]]:
    """logger_id -> {date: alarm} of the ledger's logger scores in the period."""
    out: dict[str, dict[str, bool]] = {}
    for lid, day, alarm in led.conn.execute("SELECT logger_id, substr(as_of, 1, 10), alarm FROM logger_scores "
                                            "WHERE substr(as_of, 1, 10) BETWEEN ? AND ?", (since, until)):
        out.setdefault(lid, {})[day] = bool(alarm) or out.get(lid, {}).get(day, False)
    return out


@dataclasses.dataclass
class _LedgerEvidence:
    """What the ledger says per pipe over the period (inputs of :func:`_grade_one`)."""

    leaks: dict          # pipe_id -> list of leak dicts (first found on the pipe in the period)
    dismissed: dict      # pipe_id -> digs without a leak in the period
    open: dict           # pipe_id -> point suspects still to dig
    alarms: dict         # logger_id -> {date: alarm}
    install_years: dict  # pipe_id -> year
    period: GradePeriod


def _ledger_evidence(led, net, period: GradePeriod, merge_m: float, install_years: dict) -> _LedgerEvidence:
    from ._leaks import period_digs
    from ._ops import current_filter

    digs = period_digs(led, since=period.since, until=period.until, merge_m=merge_m, net=net)
    leaks: dict[str, list] = {}
    for lk in digs.leaks:
        f = lk.first
        leaks.setdefault(str(f["found_pipe_id"]), []).append(
            {"leak_id": lk.leak_id, "found_at_m": f["found_at_m"], "dug_on": f["dug_on"], "suspect_ids": lk.suspect_ids})
    dismissed: dict[str, int] = {}
    for r in digs.rows:
        if not r["leak_found"]:
            dismissed[str(r["pipe_id"])] = dismissed.get(str(r["pipe_id"]), 0) + 1
    open_s = {str(pid): n for pid, n in led.conn.execute(
        f"SELECT pipe_id, count(*) FROM suspects WHERE kind = 'point' AND status IN ('open', 'dispatched') AND "
        f"{current_filter(led)} GROUP BY pipe_id")}
    return _LedgerEvidence(leaks, dismissed, open_s, _alarms(led, period.since, period.until), install_years, period)


def _grade_one(p, net, ev: _LedgerEvidence, rules: GradeRules) -> PipeHealth:
    """One pipe's evidence and grade."""
    loggers = _end_loggers(net, p)
    days = set()
    for lid in loggers:
        days |= set(ev.alarms.get(lid, {}))
    alarmed = sum(1 for day in days if any(ev.alarms.get(lid, {}).get(day) for lid in loggers))
    year = ev.install_years.get(p.pipe_id)
    areas = [net.sites[lid].area for lid in loggers if net.sites[lid].area]
    lk = sorted(ev.leaks.get(p.pipe_id, []), key=lambda x: x["dug_on"] or "")
    years = ev.period.years
    rate = len(lk) / (p.length_m / 1000.0) / years if years > 0 else None
    age = None if year is None else int(ev.period.until[:4]) - year
    ph = PipeHealth(p.pipe_id, p.material, float(p.diameter_mm), float(p.length_m), year, age,
                    max(set(areas), key=areas.count) if areas else None, loggers, lk, rate,
                    ev.open.get(p.pipe_id, 0), ev.dismissed.get(p.pipe_id, 0),
                    (alarmed / len(days)) if days else None, alarmed, len(days))
    _apply_rules(ph, rules)
    return ph


def grade_pipes(led, net, *, rules: GradeRules | None = None, since: str | None = None, until: str | None = None,
                install_years: dict | None = None) -> GradeResult:
    """Grade every pipe of the network from the ledger (module docs).

    Parameters
    ----------
    led : acoustic.ledger.Ledger
    net : acoustic.ledger._network.LedgerNetwork
        The survey folder's network and loggers.
    rules : GradeRules, optional
    since, until : str, optional
        The period (``YYYY-MM-DD``, inclusive); default the ledger's first and last dates.  Leak
        rates are over the part of it the ledger watched (:class:`GradePeriod`).
    install_years : dict of pipe_id -> int, optional
        Default: ``install_year`` of the survey folder's ``pipes.csv``.

    Returns
    -------
    GradeResult
    """
    rules = (rules or GradeRules()).check()
    period = _period(led, since, until)
    if install_years is None:
        install_years = read_install_years(net.survey_dir / "pipes.csv")
    ev = _ledger_evidence(led, net, period, rules.merge_m, install_years)
    pipes = [_grade_one(p, net, ev, rules) for p in net.network.pipes.values() if p.kind == "pipe"]
    order = {"A": 0, "B": 1, "C": 2}
    pipes.sort(key=lambda q: (order[q.grade], -(q.leak_rate_per_km_year or 0.0), -len(q.leaks), -q.open_suspects,
                              -(q.alarm_share or 0.0), q.pipe_id))
    return GradeResult(pipes, period.since, period.until, round(period.years, 3), rules, _totals(pipes), period)


def _apply_rules(p: PipeHealth, r: GradeRules) -> None:
    facts = {"leaks": len(p.leaks), "rate": p.leak_rate_per_km_year or 0.0, "material": p.material,
             "age": p.age_years, "open": p.open_suspects, "share": p.alarm_share or 0.0, "r": r}
    for grade, text, pred in GRADE_RULES:
        if pred(p, r):
            p.grade, p.action = grade, GRADE_ACTIONS[grade]
            p.reasons = [text.format(**facts)]
            break
    extra = []
    if p.dismissed_suspects:
        extra.append(f"{p.dismissed_suspects} dismissed suspect(s) (dug, no leak): not counted against it")
    if p.open_suspects and "open suspect" not in p.reasons[0]:
        extra.append(f"{p.open_suspects} open suspect(s) to dig")
    if p.alarm_share is not None:
        extra.append(f"loggers {', '.join(p.loggers)} alarmed on {p.alarmed_nights} of {p.nights} nights")
    if p.age_years is not None:
        extra.append(f"{p.material}, installed {p.install_year} ({p.age_years} years)")
    p.reasons += [x for x in extra if x]


def _totals(pipes: list) -> dict:
    def add(bucket: dict, key, p):
        b = bucket.setdefault(str(key), {"pipes": 0, "length_km": 0.0, "leaks": 0, "A": 0, "B": 0, "C": 0})
        b["pipes"] += 1
        b["length_km"] = round(b["length_km"] + p.length_m / 1000.0, 4)
        b["leaks"] += len(p.leaks)
        b[p.grade] += 1

    by_grade, by_material, by_area = {}, {}, {}
    for p in pipes:
        add(by_grade, p.grade, p)
        add(by_material, p.material, p)
        add(by_area, p.area or "unknown", p)
    for g in ("A", "B", "C"):
        by_grade.setdefault(g, {"pipes": 0, "length_km": 0.0, "leaks": 0, "A": 0, "B": 0, "C": 0})
    return {"by_grade": {g: {k: v for k, v in by_grade[g].items() if k not in ("A", "B", "C")} | {
        "action": GRADE_ACTIONS[g]} for g in ("A", "B", "C")}, "by_material": by_material, "by_area": by_area}


def grade_geojson(result: GradeResult, net, cs=None) -> dict:
    """The graded pipes as GeoJSON LineStrings (RFC 7946 when the coordinate system is known)."""
    from ..survey._geojson import georeference

    feats = []
    for p in result.pipes:
        pipe = net.network.pipes[p.pipe_id]
        props = {k: v for k, v in p.to_json().items() if k not in ("leaks", "loggers", "reasons")}
        props.update(loggers=",".join(p.loggers), reasons="; ".join(p.reasons),
                     leak_dates=",".join(str(x["dug_on"]) for x in p.leaks))
        feats.append({"type": "Feature", "geometry": {"type": "LineString",
                                                      "coordinates": [[float(x), float(y)] for x, y in pipe.coords]},
                      "properties": props})
    return georeference({"type": "FeatureCollection", "name": "acoustic pipe health", "features": feats}, cs)


GRADE_CSV_COLUMNS = ("pipe_id", "grade", "action", "material", "diameter_mm", "length_m", "install_year", "age_years",
                     "area", "n_leaks", "leak_rate_per_km_year", "open_suspects", "dismissed_suspects",
                     "alarm_share", "alarmed_nights", "nights", "loggers", "reasons")


def grade_csv(result: GradeResult) -> str:
    """The graded pipes as CSV text (formula-like text neutralised)."""
    from ..io import format_csv_rows

    rows = []
    for p in result.pipes:
        d = p.to_json()
        d["loggers"] = " ".join(p.loggers)
        d["reasons"] = "; ".join(p.reasons)
        rows.append([d.get(c) for c in GRADE_CSV_COLUMNS])
    return format_csv_rows(GRADE_CSV_COLUMNS, rows)
