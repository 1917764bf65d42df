"""The contractor summary: what was located, what digs confirmed, and what is payable.

The totals are the ledger's own (:func:`acoustic.ledger._leaks.ledger_stats`, the same numbers
``acoustic ledger stats`` prints: each physical leak counted once); the per-dig table shows every
dig with the leak it found and whether it is the dig that counts for that leak, so a contractor
can see which digs are paid, and the two are checked against each other.

Tolerance rule: a confirmed leak is payable when its location error (|found - located|
along the pipe, m) is at most ``max(tolerance_m, tolerance_pct % of the sensor spacing)``;
without ``tolerance_pct`` the rule is ``tolerance_m`` alone.  A suspect whose sensor spacing
is unknown is judged on ``tolerance_m``.
"""

from __future__ import annotations

from .._errors import DataError
from ..ledger._leaks import allowed_error_m, check_tolerance  # one rule for the ledger and the report

__all__ = ["contractor_summary", "check_tolerance", "allowed_error_m"]


def contractor_summary(led, *, tolerance_m: float = 1.0, tolerance_pct: float | None = None,
                       since: str | None = None, until: str | None = None, net=None) -> dict:
    """Located, confirmed, location errors and the payable count from a ledger.

    Parameters
    ----------
    led : acoustic.ledger.Ledger
    tolerance_m : float, default 1.0
        Payable within this location error (m) ...
    tolerance_pct : float, optional
        ... or within this percentage of the sensor spacing, whichever is larger.
    since, until : str, optional
        The period (``YYYY-MM-DD``): its digs, and the leaks first found in it (a leak found before
        it and dug again in it is a repeat dig, not paid again).
    net : acoustic.ledger._network.LedgerNetwork, optional
        For merging digs through more than one node.

    Returns
    -------
    dict
        ``stats`` (the ledger's :func:`~acoustic.ledger._leaks.ledger_stats`), ``located`` (current
        point suspects), ``digs`` (one row per outcome in force: ``suspect_id``, ``pipe_id``,
        ``offset_m``, ``found_at_m``, ``error_m``, ``spacing_m``, ``allowed_m``, ``leak_id``,
        ``counts`` (the dig that located its leak, first found in the period), ``payable``, ``leak_found``, ``dug_on``,
        ``recorded_by``), ``rule`` (text), ``tolerance_m``, ``tolerance_pct``, ``errors_m`` (of the
        leaks), ``interval_coverage``.

    Raises
    ------
    DataError
        The per-dig table and the ledger's payable count disagree (a damaged ledger).
    """
    from ..ledger._leaks import ledger_stats, period_digs

    check_tolerance(tolerance_m, tolerance_pct)
    period = period_digs(led, since=since, until=until, net=net)
    stats = ledger_stats(led, tolerance_m=tolerance_m, tolerance_pct=tolerance_pct, digs=period)
    leak_of = {sid: lk.leak_id for sid, lk in period.leak_of.items()}
    first_of = {lk["located_by"] for lk in stats["leaks"]}
    digs, errors, payable = [], [], 0
    for r in sorted(period.rows, key=lambda r: r["suspect_id"]):
        found = bool(r["leak_found"])
        allowed = allowed_error_m(tolerance_m, tolerance_pct, r["spacing_m"])
        err = r["error_m"]
        counts = found and r["suspect_id"] in first_of
        ok = bool(counts and err is not None and err <= allowed)
        payable += ok
        if counts and err is not None:
            errors.append(float(err))
        inside = None
        if (found and r["found_at_m"] is not None and r["interval_lo_m"] is not None and r["interval_hi_m"] is not None
                and r.get("found_pipe_id") == r.get("pipe_id")):
            inside = bool(r["interval_lo_m"] <= r["found_at_m"] <= r["interval_hi_m"])
        digs.append({"suspect_id": r["suspect_id"], "area": r["area"], "pipe_id": r["pipe_id"],
                     "offset_m": r["offset_m"], "interval_m": [r["interval_lo_m"], r["interval_hi_m"]],
                     "leak_found": found, "found_pipe_id": r.get("found_pipe_id"), "found_at_m": r["found_at_m"],
                     "measured_m": r.get("measured_m"), "measured_from": r.get("measured_from"), "error_m": err,
                     "within_interval": inside, "spacing_m": r["spacing_m"], "allowed_m": allowed,
                     "leak_id": leak_of.get(r["suspect_id"]), "counts": bool(counts), "payable": ok,
                     "dug_on": r.get("dug_on"), "recorded_by": r.get("recorded_by"),
                     "recorded_utc": r["recorded_utc"], "note": r["note"]})
    if payable != stats["payable"]["count"]:
        raise DataError(f"{led.path}: per-dig payable count {payable} differs from the ledger's "
                        f"{stats['payable']['count']}; the ledger may be damaged")
    covered = [d["within_interval"] for d in digs if d["within_interval"] is not None and d["counts"]]
    return {"stats": stats, "located": int(stats["suspects"].get("point", 0)), "digs": digs,
            "rule": stats["payable"]["rule"], "tolerance_m": float(tolerance_m), "tolerance_pct": tolerance_pct,
            "errors_m": errors, "interval_coverage": (sum(covered) / len(covered)) if covered else None,
            "spacing_unknown": sum(1 for d in digs if d["counts"] and d["spacing_m"] is None)}
