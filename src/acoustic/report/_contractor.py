"""The contractor summary: what was located, what digs confirmed, and what is payable.

The totals are the ledger's own (:func:`acoustic.ledger._ops.ledger_stats`, the same numbers
``acoustic ledger stats`` prints); the per-dig table applies the same tolerance rule row by
row so a contractor can see which digs count, and the two are checked against each other.

Tolerance rule: a confirmed leak is payable when its location error (|found - located|
along the pipe, m) is at most ``max(tolerance_m, tolerance_pct % of the sensor spacing)``;
without ``tolerance_pct`` the rule is ``tolerance_m`` alone.  A suspect whose sensor spacing
is unknown is judged on ``tolerance_m``.
"""

from __future__ import annotations

import math

from .._errors import DataError, ParameterError

__all__ = ["contractor_summary", "check_tolerance", "allowed_error_m"]


def check_tolerance(tolerance_m: float, tolerance_pct: float | None) -> None:
    """Refuse impossible tolerance rules (:class:`~acoustic.ParameterError` naming the option)."""
    if not (isinstance(tolerance_m, (int, float)) and math.isfinite(tolerance_m) and tolerance_m >= 0):
        raise ParameterError(f"--tolerance-m must be a non-negative number of metres, got {tolerance_m}")
    if tolerance_pct is not None and not (math.isfinite(tolerance_pct) and 0 < tolerance_pct <= 100):
        raise ParameterError(f"--tolerance-pct must be a percentage in (0, 100], got {tolerance_pct}")


def allowed_error_m(tolerance_m: float, tolerance_pct: float | None, spacing_m) -> float:
    """Largest payable location error (m) for one dig under the rule (module docs)."""
    allowed = float(tolerance_m)
    if tolerance_pct is not None and spacing_m is not None and math.isfinite(float(spacing_m)):
        allowed = max(allowed, float(spacing_m) * float(tolerance_pct) / 100.0)
    return allowed


def contractor_summary(led, *, tolerance_m: float = 1.0, tolerance_pct: float | None = None) -> dict:
    """Located, confirmed, location errors and the payable count from a ledger.

    Parameters
    ----------
    led : acoustic.ledger.Ledger
    tolerance_m : float, default 1.0
        Payable within this location error (m) ...
    tolerance_pct : float, optional
        ... or within this percentage of the sensor spacing, whichever is larger.

    Returns
    -------
    dict
        ``stats`` (the ledger's :func:`~acoustic.ledger._ops.ledger_stats`), ``located`` (current
        point suspects), ``digs`` (one row per recorded outcome: ``suspect_id``, ``pipe_id``,
        ``offset_m``, ``found_at_m``, ``error_m``, ``spacing_m``, ``allowed_m``, ``payable``,
        ``leak_found``, ``recorded_utc``), ``rule`` (text), ``tolerance_m``, ``tolerance_pct``,
        ``errors_m`` (of the confirmed leaks).

    Raises
    ------
    DataError
        The per-dig table and the ledger's payable count disagree (a damaged ledger).
    """
    from ..ledger._ops import ledger_stats

    check_tolerance(tolerance_m, tolerance_pct)
    stats = ledger_stats(led, tolerance_m=tolerance_m, tolerance_pct=tolerance_pct)
    rows = led.conn.execute(
        "SELECT o.suspect_id, o.leak_found, o.found_at_m, o.error_m, o.recorded_utc, o.note, s.pipe_id, s.offset_m, "
        "s.interval_lo_m, s.interval_hi_m, s.spacing_m, s.area, s.status FROM outcomes o "
        "JOIN suspects s ON s.id = o.suspect_id ORDER BY o.suspect_id").fetchall()
    digs, errors, payable = [], [], 0
    for r in rows:
        found = bool(r["leak_found"])
        allowed = allowed_error_m(tolerance_m, tolerance_pct, r["spacing_m"])
        err = r["error_m"]
        ok = bool(found and err is not None and err <= allowed)
        payable += ok
        if found and err is not None:
            errors.append(float(err))
        inside = None
        if found and r["found_at_m"] is not None and r["interval_lo_m"] is not None and r["interval_hi_m"] is not None:
            inside = bool(r["interval_lo_m"] <= r["found_at_m"] <= r["interval_hi_m"])
        digs.append({"suspect_id": r["suspect_id"], "area": r["area"], "pipe_id": r["pipe_id"],
                     "offset_m": r["offset_m"], "interval_m": [r["interval_lo_m"], r["interval_hi_m"]],
                     "leak_found": found, "found_at_m": r["found_at_m"], "error_m": err,
                     "within_interval": inside, "spacing_m": r["spacing_m"], "allowed_m": allowed,
                     "payable": ok, "recorded_utc": r["recorded_utc"], "note": r["note"]})
    if payable != stats["payable"]["count"]:
        raise DataError(f"{led.path}: per-dig payable count {payable} differs from the ledger's "
                        f"{stats['payable']['count']}; the ledger may be damaged")
    covered = [d["within_interval"] for d in digs if d["within_interval"] is not None]
    return {"stats": stats, "located": int(stats["suspects"].get("point", 0)), "digs": digs,
            "rule": stats["payable"]["rule"], "tolerance_m": float(tolerance_m), "tolerance_pct": tolerance_pct,
            "errors_m": errors, "interval_coverage": (sum(covered) / len(covered)) if covered else None,
            "spacing_unknown": sum(1 for d in digs if d["leak_found"] and d["spacing_m"] is None)}
