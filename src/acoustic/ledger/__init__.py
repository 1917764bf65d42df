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
