"""Nightly batch runs: logger uploads -> features, classification, logger scores, surveys -> the ledger.

:func:`run_batch` is the driver (the only writer of the ledger); the work runs on a spawn
process pool or a Dask cluster (:func:`open_engine`).  See :mod:`acoustic.batch._driver` for
the rules (content hashes, duplicates, late corrections, crash safety, quarantine).
"""

from ._driver import EXIT_FAILURES, EXIT_OK, BatchError, BatchInterrupted, BatchSummary, run_batch
from ._engine import open_engine
from ._scan import scan_upload, sha256_file

__all__ = ["EXIT_FAILURES", "EXIT_OK", "BatchError", "BatchInterrupted", "BatchSummary", "open_engine", "run_batch",
           "scan_upload", "sha256_file"]
