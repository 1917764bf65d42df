"""The ledger: an SQLite database of every recording seen, detections, suspects, dispatches, outcomes.

- WAL journal, so readers (``acoustic ledger ...``) work while a batch writes.
- One transaction per unit of work: a recording's row and its results commit together, so a
  batch killed at any moment leaves no partial rows and the next run redoes exactly what was
  not committed.
- Recordings and statistics files are keyed by the SHA-256 of their content: processing the
  same upload again changes nothing.
- One writer: a batch holds an exclusive lock on ``<ledger>.lock``; a second batch refuses
  cleanly (or waits, if asked).
- ``schema_version`` in the ``meta`` table; :data:`MIGRATIONS` bring older ledgers forward, each
  version in one transaction that re-reads the version first (two processes opening an old
  ledger at once upgrade it once).
- Nothing is deleted: a dig outcome is an event (``outcome_events``: confirm, amend, undo, with
  who, when and why); the ``outcomes`` view is the latest state of each suspect.  Since schema 4
  triggers refuse to change or delete outcome events, dispatches and replaced recordings, and to
  delete suspects.
- SQLite errors (a read-only file or mount, a full disk, a missing table, a damaged file) become
  one-line :class:`LedgerError` s naming the ledger.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import sqlite3
import time
from pathlib import Path

from .._errors import AcousticError, DataError

__all__ = ["Ledger", "LedgerBusyError", "LedgerError", "SCHEMA_VERSION", "ledger_errors", "sqlite_message", "utc_now"]

SCHEMA_VERSION = 4

_SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY, started_utc TEXT NOT NULL, finished_utc TEXT, upload_dir TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'completed_with_failures', 'interrupted')),
    n_files INTEGER, n_new INTEGER, n_failed INTEGER, n_suspects INTEGER, params_json TEXT);
CREATE TABLE IF NOT EXISTS recordings (
    id INTEGER PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE, path TEXT NOT NULL, logger_id TEXT,
    start_time TEXT, sample_rate_hz REAL, duration_s REAL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'quarantined')), error TEXT,
    level_db REAL, leak_probability REAL, label TEXT, features_version TEXT, model_version TEXT,
    batch_id INTEGER REFERENCES batches(id), processed_utc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS recordings_logger ON recordings(logger_id, start_time);
CREATE TABLE IF NOT EXISTS stats_files (
    id INTEGER PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE, path TEXT NOT NULL, n_rows INTEGER,
    status TEXT NOT NULL CHECK (status IN ('ok', 'quarantined')), error TEXT,
    batch_id INTEGER REFERENCES batches(id), processed_utc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS logger_nights (
    logger_id TEXT NOT NULL, date TEXT NOT NULL, level REAL NOT NULL, spread REAL NOT NULL,
    source TEXT NOT NULL, PRIMARY KEY (logger_id, date));
CREATE TABLE IF NOT EXISTS suspects (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL CHECK (kind IN ('area', 'line', 'point')),
    natural_key TEXT NOT NULL UNIQUE, area TEXT, pipe_ids TEXT, from_logger TEXT, to_logger TEXT,
    pipe_id TEXT, offset_m REAL, x REAL, y REAL, interval_lo_m REAL, interval_hi_m REAL,
    spacing_m REAL, confidence REAL, score REAL, evidence_json TEXT, model_version TEXT, params_json TEXT,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'dispatched', 'confirmed', 'no_leak')),
    batch_id INTEGER REFERENCES batches(id), created_utc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS dispatches (
    id INTEGER PRIMARY KEY, suspect_id INTEGER NOT NULL REFERENCES suspects(id), dispatched_utc TEXT NOT NULL,
    crew TEXT, note TEXT);
CREATE TABLE IF NOT EXISTS outcomes (
    id INTEGER PRIMARY KEY, suspect_id INTEGER NOT NULL UNIQUE REFERENCES suspects(id), leak_found INTEGER NOT NULL,
    found_at_m REAL, error_m REAL, recorded_utc TEXT NOT NULL, note TEXT);
"""

#: Version 2 (batch runs): what every file sighting was (new, duplicate, late sidecar correction),
#: a stat cache so unchanged files are not hashed again, stored feature vectors, detections,
#: logger scores, the night of recordings and suspects, superseded suspects, and the work a
#: batch still owes (``pending``), committed in the same transaction as the rows that cause it,
#: so a batch killed between two steps is finished by the next run.
_SCHEMA_V2 = """
ALTER TABLE recordings ADD COLUMN sidecar_sha256 TEXT NOT NULL DEFAULT '';
ALTER TABLE recordings ADD COLUMN night TEXT;
ALTER TABLE recordings ADD COLUMN warnings_json TEXT;
ALTER TABLE recordings ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS recordings_night ON recordings(night, logger_id);
ALTER TABLE stats_files ADD COLUMN warnings_json TEXT;
ALTER TABLE suspects ADD COLUMN night TEXT;
ALTER TABLE suspects ADD COLUMN superseded_utc TEXT;
CREATE INDEX IF NOT EXISTS suspects_area_night ON suspects(area, night);
CREATE TABLE IF NOT EXISTS sightings (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL, sha256 TEXT NOT NULL, sidecar_sha256 TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL CHECK (kind IN ('new', 'duplicate', 'correction', 'stats', 'stats_duplicate')),
    recording_id INTEGER REFERENCES recordings(id), stats_file_id INTEGER REFERENCES stats_files(id),
    batch_id INTEGER REFERENCES batches(id), seen_utc TEXT NOT NULL,
    UNIQUE (path, sha256, sidecar_sha256));
CREATE INDEX IF NOT EXISTS sightings_content ON sightings(sha256, sidecar_sha256);
CREATE TABLE IF NOT EXISTS scan_cache (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS feature_names (features_version TEXT PRIMARY KEY, names_json TEXT NOT NULL,
    units_json TEXT);
CREATE TABLE IF NOT EXISTS recording_features (
    recording_id INTEGER PRIMARY KEY REFERENCES recordings(id), features_version TEXT NOT NULL,
    values_f32 BLOB NOT NULL, block_levels_db_f32 BLOB, block_s REAL);
CREATE TABLE IF NOT EXISTS detections (
    id INTEGER PRIMARY KEY, natural_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('recording', 'pair')), recording_id INTEGER REFERENCES recordings(id),
    area TEXT, night TEXT, logger_ids TEXT, score REAL, evidence_json TEXT, model_version TEXT,
    batch_id INTEGER REFERENCES batches(id), created_utc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS logger_scores (
    logger_id TEXT NOT NULL, as_of TEXT NOT NULL, score REAL, alarm INTEGER, nights_used INTEGER,
    reasons_json TEXT, batch_id INTEGER REFERENCES batches(id), updated_utc TEXT NOT NULL,
    PRIMARY KEY (logger_id, as_of));
CREATE TABLE IF NOT EXISTS pending (
    kind TEXT NOT NULL CHECK (kind IN ('logger', 'area')), key TEXT NOT NULL,
    batch_id INTEGER REFERENCES batches(id), PRIMARY KEY (kind, key));
ALTER TABLE batches ADD COLUMN n_duplicates INTEGER;
ALTER TABLE batches ADD COLUMN n_corrections INTEGER;
ALTER TABLE batches ADD COLUMN summary_json TEXT
"""

#: Version 3 (outcomes a contractor can be paid by): dig outcomes become append-only events with
#: who, when and why (``confirm``, ``amend``, ``undo`` of an earlier event), the position as the
#: crew measured it (distance and the node or pipe end it was measured from) beside the offset
#: from the pipe's start node, the pipe it was found on and that pipe's end nodes and length (so
#: outcomes on two pipes meeting at a node can resolve to one leak), and the date of the dig.
#: The version-2 ``outcomes`` table is kept as ``outcomes_v2`` (its rows copied as ``confirm``
#: events) and ``outcomes`` becomes a view of each suspect's latest outcome. Suspects get an
#: ``origin`` (``survey``: a batch survey; ``pair``: a crew's ``acoustic correlate`` job).
_SCHEMA_V3 = """
CREATE TABLE IF NOT EXISTS outcome_events (
    id INTEGER PRIMARY KEY, suspect_id INTEGER NOT NULL REFERENCES suspects(id),
    action TEXT NOT NULL CHECK (action IN ('confirm', 'amend', 'undo')),
    leak_found INTEGER CHECK (leak_found IN (0, 1)),
    found_pipe_id TEXT, found_at_m REAL, measured_m REAL, measured_from TEXT,
    found_start_node TEXT, found_end_node TEXT, found_pipe_length_m REAL,
    error_m REAL, dug_on TEXT, cancels INTEGER REFERENCES outcome_events(id),
    recorded_by TEXT NOT NULL, recorded_utc TEXT NOT NULL, reason TEXT, note TEXT);
CREATE INDEX IF NOT EXISTS outcome_events_suspect ON outcome_events(suspect_id, id);
INSERT INTO outcome_events(suspect_id, action, leak_found, found_pipe_id, found_at_m, measured_m, measured_from,
    error_m, dug_on, recorded_by, recorded_utc, note)
    SELECT o.suspect_id, 'confirm', o.leak_found, CASE WHEN o.leak_found THEN s.pipe_id END, o.found_at_m,
           o.found_at_m, CASE WHEN o.found_at_m IS NOT NULL THEN 'start' END, o.error_m, substr(o.recorded_utc, 1, 10),
           'unknown (recorded before ledger schema 3)', o.recorded_utc, o.note
    FROM outcomes o JOIN suspects s ON s.id = o.suspect_id ORDER BY o.id;
ALTER TABLE outcomes RENAME TO outcomes_v2;
CREATE VIEW outcomes AS
    SELECT e.id, e.suspect_id, e.leak_found, e.found_at_m, e.error_m, e.recorded_utc, e.note, e.action,
           e.found_pipe_id, e.measured_m, e.measured_from, e.found_start_node, e.found_end_node,
           e.found_pipe_length_m, e.dug_on, e.recorded_by, e.reason
    FROM outcome_events e
    WHERE e.action IN ('confirm', 'amend') AND e.id = (
        SELECT max(c.id) FROM outcome_events c WHERE c.suspect_id = e.suspect_id AND c.action IN ('confirm', 'amend')
        AND NOT EXISTS (SELECT 1 FROM outcome_events u WHERE u.action = 'undo' AND u.cancels = c.id));
ALTER TABLE suspects ADD COLUMN origin TEXT NOT NULL DEFAULT 'survey';
ALTER TABLE dispatches ADD COLUMN recorded_by TEXT
"""

def _append_only(table: str, *, update: bool = True) -> str:
    """Triggers that refuse to change (``update``) or delete a table's rows."""
    why = (f"{table} is append-only in an acoustic ledger: rows are never "
           + ("changed or deleted; corrections are new rows (acoustic ledger amend / undo)" if update else "deleted"))
    out = [f"CREATE TRIGGER IF NOT EXISTS {table}_append_only_delete BEFORE DELETE ON {table} "
           f"BEGIN SELECT RAISE(ABORT, '{why}'); END;"]
    if update:
        out.append(f"CREATE TRIGGER IF NOT EXISTS {table}_append_only_update BEFORE UPDATE ON {table} "
                   f"BEGIN SELECT RAISE(ABORT, '{why}'); END;")
    return "\n".join(out)


#: Version 4 (nothing lost, in the database itself): the table of replaced recording versions and
#: the index of recordings by path, which the batch created on its own (``CREATE ... IF NOT
#: EXISTS``, kept as they are when present), become part of the schema, with an index of outcome
#: events by the event they cancel (the ``outcomes`` view looks every event up by it); outcome events,
#: dispatches and replaced recordings can be neither changed nor deleted, and suspects not
#: deleted (their status and the batch's updates of open suspects remain), by triggers that abort
#: the statement.
_SCHEMA_V4 = "\n".join([
    "CREATE TABLE IF NOT EXISTS recording_history ("
    "id INTEGER PRIMARY KEY, recording_id INTEGER NOT NULL REFERENCES recordings(id), revision INTEGER NOT NULL, "
    "sha256 TEXT NOT NULL, sidecar_sha256 TEXT, path TEXT, logger_id TEXT, start_time TEXT, night TEXT, "
    "sample_rate_hz REAL, duration_s REAL, status TEXT, error TEXT, level_db REAL, leak_probability REAL, "
    "label TEXT, model_version TEXT, batch_id INTEGER, processed_utc TEXT, "
    "replaced_utc TEXT NOT NULL, replaced_by_batch INTEGER, reason TEXT NOT NULL);",
    "CREATE INDEX IF NOT EXISTS recording_history_rec ON recording_history(recording_id);",
    "CREATE INDEX IF NOT EXISTS recordings_path ON recordings(path);",
    # the outcomes view asks, per event, whether an undo cancels it: without this, a scan per event
    "CREATE INDEX IF NOT EXISTS outcome_events_cancels ON outcome_events(cancels);",
    _append_only("outcome_events"), _append_only("dispatches"), _append_only("recording_history"),
    _append_only("suspects", update=False),
])

#: version -> SQL that upgrades a ledger from version-1 to version (index 1 creates the schema).
MIGRATIONS: dict[int, str] = {1: _SCHEMA_V1, 2: _SCHEMA_V2, 3: _SCHEMA_V3, 4: _SCHEMA_V4}


def _statements(script: str) -> list[str]:
    """The SQL statements of a migration script (``;`` inside a trigger's body does not end one)."""
    out, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            out.append(current.strip())
            current = ""
    if current.strip():
        out.append(current.strip())  # the last statement may lack its ';'
    return [s for s in out if s.strip(" ;\n")]


class LedgerBusyError(AcousticError):
    """Another process holds the ledger's writer lock."""


class LedgerError(DataError):
    """The ledger database cannot be read or written (one line naming the ledger and why)."""


def sqlite_message(path, exc: BaseException) -> str:
    """One line saying what an :mod:`sqlite3` error means for the ledger at ``path``."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    low = text.lower()
    ro_mount = "unable to open" in low and _on_readonly_mount(Path(path).parent)
    if "readonly" in low or "read-only" in low or ro_mount:
        why = ("the ledger is read-only (file permissions or a read-only mount) and this command writes to it; "
               "nothing was changed")
    elif "disk is full" in low or "database or disk is full" in low:
        why = "the disk holding the ledger is full; nothing was changed (free space and run the command again)"
    elif "no such table" in low or "no such column" in low:
        why = f"the ledger is damaged or not an acoustic ledger ({text})"
    elif "malformed" in low or "not a database" in low or "file is encrypted" in low:
        why = f"the ledger file is damaged ({text})"
    elif "locked" in low or "busy" in low:
        why = f"the ledger is locked by another process ({text}); try again"
    elif "unable to open" in low:
        why = f"the ledger cannot be opened ({text}): check the path and its folder's permissions"
    else:
        why = f"ledger database error ({text})"
    return f"{path}: {why}"


@contextlib.contextmanager
def ledger_errors(path):
    """Turn :mod:`sqlite3` errors raised inside into one-line :class:`LedgerError` s."""
    try:
        yield
    except sqlite3.Error as exc:
        raise LedgerError(sqlite_message(path, exc)) from None


def utc_now() -> str:
    """Current UTC time as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Ledger:
    """An open ledger database.

    Parameters
    ----------
    path : str or Path
        The SQLite file (created when ``create`` is true).
    create : bool, default False
        Create a new ledger when the file does not exist.
    readonly : bool, default False
        Open for reading only (never blocks a writer, never migrates).
    """

    def __init__(self, path, *, create: bool = False, readonly: bool = False):
        self.path = Path(path)
        if not self.path.exists() and (readonly or not create):
            raise DataError(f"{self.path}: ledger not found")
        if self.path.exists() and not self.path.is_file():
            raise DataError(f"{self.path}: not a ledger database (not a regular file)")
        self._lock_fd = None
        self.readonly = readonly
        self.conn = None
        try:
            if readonly:
                self.conn = self._open_readonly()
            else:
                self.conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.execute("PRAGMA synchronous=FULL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.row_factory = sqlite3.Row
            version = self._schema_version()
        except sqlite3.OperationalError as exc:
            self._close_quietly()
            raise LedgerError(sqlite_message(self.path, exc)) from None
        except sqlite3.DatabaseError as exc:
            self._close_quietly()
            raise DataError(f"{self.path}: not a ledger database ({exc})") from None
        except BaseException:
            self._close_quietly()
            raise
        if version is None and readonly:
            raise DataError(f"{self.path}: not an acoustic ledger (no schema version)")
        if version is not None and version > SCHEMA_VERSION:
            raise DataError(f"{self.path}: ledger schema version {version} is newer than this acoustic "
                            f"understands ({SCHEMA_VERSION}); upgrade acoustic")
        if not readonly:
            with ledger_errors(self.path):
                self._migrate(version or 0)

    def _open_readonly(self) -> sqlite3.Connection:
        """A read-only connection (``mode=ro``); on a read-only folder or mount, where SQLite cannot
        create the WAL index beside the file, ``immutable=1`` (nothing can write there either).

        ``immutable`` reads the main file only: changes still in a ``-wal`` beside it (not yet
        checkpointed, or a writer at work) would be left out without a word, so a non-empty
        ``-wal`` there is a :class:`LedgerError` instead.
        """
        uri = self.path.resolve().as_uri()
        conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=30.0, isolation_level=None)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError:
            conn.close()
            if os.access(self.path.parent, os.W_OK) and not _on_readonly_mount(self.path):
                raise
        wal = self.path.with_name(self.path.name + "-wal")
        if wal.is_file() and wal.stat().st_size > 0:
            raise LedgerError(
                f"{self.path}: changes in its write-ahead log {wal.name} cannot be read here (a read-only folder or "
                f"mount, and no {self.path.name}-shm beside it); figures without them would be out of date. Open it "
                f"where it can be written once (or copy {self.path.name} with {wal.name} to a writable folder)")
        conn = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, timeout=30.0, isolation_level=None)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn

    def _close_quietly(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self.conn.close()
            self.conn = None

    # -- schema ------------------------------------------------------------------------------
    def _schema_version(self) -> int | None:
        has_meta = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
        if not has_meta:
            tables = self.conn.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]
            if tables:
                raise DataError(f"{self.path}: an SQLite database but not an acoustic ledger")
            return None
        row = self.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return int(row[0]) if row else None

    def _migrate(self, version: int) -> None:
        """Bring the schema to :data:`SCHEMA_VERSION`, one version per transaction.

        Each step re-reads the version inside its ``BEGIN IMMEDIATE`` transaction, so a ledger
        that another process upgraded meanwhile is not upgraded twice, and a step that fails
        (full disk, killed process) leaves the ledger at the version before it.
        """
        for v in range(version + 1, SCHEMA_VERSION + 1):
            with self.transaction():
                now = self._schema_version() or 0
                if now >= v:
                    continue
                for stmt in _statements(MIGRATIONS[v]):
                    self.conn.execute(stmt)
                self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", (str(v),))

    @property
    def schema_version(self) -> int:
        return int(self._schema_version() or 0)

    # -- transactions and the writer lock ---------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self):
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on any exception)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    def acquire_writer(self, *, wait_s: float = 0.0) -> None:
        """Take the exclusive writer lock (``<ledger>.lock``), waiting up to ``wait_s`` seconds.

        Raises
        ------
        LedgerBusyError
            Another batch holds it.
        """
        import fcntl

        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    try:
                        holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
                    finally:
                        os.close(fd)
                    raise LedgerBusyError(f"{self.path}: another batch (pid {holder}) is writing to this ledger; "
                                          "try again when it has finished") from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd

    def release_writer(self) -> None:
        if self._lock_fd is not None:
            import fcntl

            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def close(self) -> None:
        self.release_writer()
        self._close_quietly()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- queries used by several commands ---------------------------------------------------------
    def known_hashes(self, table: str = "recordings") -> set[str]:
        """SHA-256 of every file already recorded in ``recordings`` or ``stats_files``."""
        if table not in ("recordings", "stats_files"):
            raise ValueError(table)
        return {r[0] for r in self.conn.execute(f"SELECT sha256 FROM {table}")}

    def suspect(self, suspect_id: int) -> sqlite3.Row:
        row = self.conn.execute("SELECT * FROM suspects WHERE id = ?", (suspect_id,)).fetchone()
        if row is None:
            raise DataError(f"{self.path}: no suspect with id {suspect_id}")
        return row


def _on_readonly_mount(path: Path) -> bool:
    """Whether ``path`` lies on a file system mounted read-only (``statvfs`` ``ST_RDONLY``)."""
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False


def dumps(obj) -> str:
    """Compact, stable JSON for evidence and parameter columns."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=float)
