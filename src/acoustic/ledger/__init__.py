"""The ledger of recordings, suspects, dispatches and dig outcomes (SQLite).

Public API
----------
:class:`Ledger`
    An open ledger (schema version, migrations, transactions, the writer lock).
:func:`confirm_suspect`, :func:`amend_outcome`, :func:`undo_outcome`, :func:`suspect_history`
    Dig outcomes as an audit trail: nothing is deleted, corrections are new rows with who,
    when and why.
:func:`ledger_stats`
    Hit rate, location errors and the payable count over physical leaks (each counted once).
:func:`add_pair_job`
    Enter a crew's ``acoustic correlate --json`` result as a point suspect.
:func:`grade_pipes`
    Pipe health grades from the leak history (renew / repair and watch / monitor).

Examples
--------
Half a year of simulated history on the shipped sample district (``acoustic simulate ledger``),
then the operations a crew and the office use (``acoustic ledger list|amend|undo|history|stats``):

>>> import tempfile
>>> from pathlib import Path
>>> import acoustic
>>> from acoustic.ledger import Ledger, amend_outcome, ledger_stats, suspect_history, undo_outcome
>>> from acoustic.ledger._history import simulate_history
>>> from acoustic.ledger._ops import list_suspects
>>> district = Path(acoustic.__file__).resolve().parents[2] / "recordings" / "samples" / "district"
>>> out = Path(tempfile.mkdtemp()) / "hist"
>>> hist = simulate_history(district, out, years=0.5, seed=1, end="2026-10-31")
>>> with Ledger(hist.ledger) as led:
...     points = list_suspects(led, kind="point")
...     before = ledger_stats(led)
...     fix = amend_outcome(led, 2, reason="tape read again", found_at_m=88.0, by="office")
...     taken_back = undo_outcome(led, 2, reason="the first reading was right", by="office")
...     trail = [e["event"] for e in suspect_history(led, 2)["events"]]
>>> [(p["id"], p["status"], p["pipe_id"], p["offset_m"]) for p in points]  # offsets in m along the pipe
[(1, 'no_leak', 'P07', 80.06), (2, 'confirmed', 'P09', 88.51)]
>>> before["dug"], before["leaks_found"], before["no_leak"], before["hit_rate"]
(2, 1, 1, 0.5)
>>> fix["found_at_m"], taken_back["status"], trail
(88.0, 'confirmed', ['created', 'confirm', 'amend', 'undo'])
"""

from ._db import SCHEMA_VERSION, Ledger, LedgerBusyError, LedgerError, utc_now

__all__ = ["SCHEMA_VERSION", "Ledger", "LedgerBusyError", "LedgerError", "add_pair_job", "amend_outcome",
           "confirm_suspect", "grade_pipes", "ledger_stats", "suspect_history", "undo_outcome", "utc_now"]


def __getattr__(name):
    if name in ("confirm_suspect", "amend_outcome", "undo_outcome", "suspect_history"):
        from . import _outcomes

        return getattr(_outcomes, name)
    if name == "ledger_stats":
        from ._leaks import ledger_stats

        return ledger_stats
    if name == "add_pair_job":
        from ._pairs import add_pair_job

        return add_pair_job
    if name == "grade_pipes":
        from ._grade import grade_pipes

        return grade_pipes
    raise AttributeError(f"module 'acoustic.ledger' has no attribute {name!r}")
