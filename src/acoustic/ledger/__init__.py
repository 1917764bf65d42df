"""The ledger of recordings, suspects, dispatches and dig outcomes (SQLite)."""

from ._db import SCHEMA_VERSION, Ledger, LedgerBusyError, utc_now

__all__ = ["SCHEMA_VERSION", "Ledger", "LedgerBusyError", "utc_now"]
