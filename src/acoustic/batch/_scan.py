"""Finding what is in an upload folder and hashing it (no processing here).

An upload folder holds recordings (``*.wav`` / ``*.flac``, any depth, each with an optional
sidecar ``<stem>.json`` beside it) and logger statistics files (``stats.csv`` or any
``*stats.csv``, format of ``interfaces.md``).  Hidden files and folders (names starting with
``.``) and partial uploads (``*.part``, ``*.tmp``, ``*.partial``) are skipped: uploaders should
write under such a name and rename when complete.

Content identity is the SHA-256 of the file's bytes: of the audio file for a recording (its
sidecar is hashed separately, so a corrected sidecar for the same audio is recognised as a late
correction of that recording, not as a new recording), and of the CSV file for statistics.

Only regular files are hashed or read (a FIFO or a symbolic link to ``/dev/zero`` named ``*.wav``
is quarantined with what it is, never read), and a file whose name is not valid UTF-8 (a logger
writing Latin-1 names) is reported on its own (:attr:`ScanResult.bad_names`): the ledger stores
paths as text, and one such name must not stop the night.

Hashing every file on every run would cost a full read of the folder each night; a stat cache
(path, size, modification time in ns) in the ledger lets unchanged files be recognised without
reading them, as git does.  A file modified within :data:`RACY_WINDOW_S` of being hashed is
not cached (it might still be changing), and ``rehash=True`` ignores the cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import stat
import time
from pathlib import Path

from .._errors import DataError
from ..io._files import open_regular, require_regular_file

__all__ = ["AUDIO_SUFFIXES", "RACY_WINDOW_S", "ScanResult", "current_identity", "file_identity", "is_stats_file",
           "scan_upload", "sha256_file"]

AUDIO_SUFFIXES = (".wav", ".flac")
PARTIAL_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload")
#: A file whose modification time is this close (s) to the moment it was hashed is not cached.
RACY_WINDOW_S = 2.0
_BLOCK = 1 << 20


def sha256_file(path, *, what: str = "file") -> str:
    """SHA-256 (hex) of a regular file's bytes, read in 1 MiB blocks.

    Raises
    ------
    DataError
        Not a regular file (FIFO, device, socket, directory), or gone (see
        :func:`acoustic.io.open_regular`); reading a FIFO or a device would never end.
    OSError
        The file cannot be read.
    """
    h = hashlib.sha256()
    with open_regular(path, what=what, error=DataError) as fh:
        while True:
            block = fh.read(_BLOCK)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def file_identity(st: os.stat_result) -> tuple[int, int, int]:
    """(inode, size, modification time in ns): what tells that a file is still the one that was hashed."""
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def current_identity(path) -> tuple | None:
    """:func:`file_identity` of ``path`` now (symbolic links followed), or None when it is gone."""
    try:
        return file_identity(os.stat(path))
    except FileNotFoundError:
        return None
    except OSError as exc:
        return ("unreadable", exc.errno)


def is_stats_file(path: Path) -> bool:
    """A logger statistics upload: ``stats.csv`` or a name ending in ``stats.csv`` (any case)."""
    return path.name.lower().endswith("stats.csv")


@dataclasses.dataclass
class ScanResult:
    """Files found in an upload folder, each list sorted by path."""

    recordings: list[Path]
    stats_files: list[Path]
    skipped: list[Path]
    #: Recordings and statistics files whose path is not valid UTF-8 (not in the two lists above).
    bad_names: list[Path] = dataclasses.field(default_factory=list)
    #: Folders that could not be listed, with the reason (their files are not in the lists).
    unreadable_dirs: list[tuple[Path, str]] = dataclasses.field(default_factory=list)


def scan_upload(upload_dir) -> ScanResult:
    """List the recordings and statistics files in ``upload_dir`` (recursively).

    Parameters
    ----------
    upload_dir : str or Path
        The folder loggers upload into.

    Returns
    -------
    ScanResult
        Absolute paths, sorted, so every run sees files in the same order.  A folder that cannot
        be listed (permissions, I/O error) is in :attr:`ScanResult.unreadable_dirs`, for the
        caller to report: its uploads are not lost, they wait until it can be read.
    """
    root = Path(upload_dir).resolve()
    recs: list[Path] = []
    stats: list[Path] = []
    skipped: list[Path] = []
    bad: list[Path] = []
    unreadable: list[tuple[Path, str]] = []

    def note_unreadable(exc: OSError) -> None:  # os.walk skips a folder it cannot list without a word
        if not isinstance(exc, FileNotFoundError):  # (one removed during the scan is simply gone)
            unreadable.append((Path(exc.filename), exc.strerror or str(exc)))

    for dirpath, dirnames, filenames in os.walk(root, onerror=note_unreadable):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            p = Path(dirpath) / name
            low = name.lower()
            if name.startswith(".") or low.endswith(PARTIAL_SUFFIXES):
                if low.endswith(AUDIO_SUFFIXES + PARTIAL_SUFFIXES) or low.endswith(".csv"):
                    skipped.append(p)
                continue
            wanted = low.endswith(AUDIO_SUFFIXES) or (low.endswith(".csv") and is_stats_file(p))
            if wanted and not _is_utf8(p):
                bad.append(p)
            elif low.endswith(AUDIO_SUFFIXES):
                recs.append(p)
            elif wanted:
                stats.append(p)
    return ScanResult(sorted(recs), sorted(stats), sorted(skipped), sorted(bad, key=os.fsencode),
                      sorted(unreadable, key=lambda u: os.fsencode(u[0])))


def _is_utf8(path: Path) -> bool:
    """Whether ``path`` is valid UTF-8 (else Python holds its undecodable bytes as surrogates)."""
    try:
        str(path).encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


class HashCache:
    """SHA-256 of files, remembered in the ledger's ``scan_cache`` table by (path, size, mtime).

    Reads go to the ledger connection; new entries are collected in :attr:`pending_rows` and
    written by the caller inside its own transaction (the driver is the only writer).
    """

    def __init__(self, conn, *, rehash: bool = False):
        self.conn = conn
        self.rehash = rehash
        self.pending_rows: dict[str, tuple] = {}
        #: path -> :func:`file_identity` when it was hashed (a worker checks the file is still that one)
        self.identities: dict[str, tuple] = {}
        self.n_hashed = 0
        self.n_cached = 0

    def sha256(self, path: Path, *, what: str = "file") -> str:
        """Content hash of ``path`` (from the cache when size and mtime are unchanged).

        Raises
        ------
        DataError
            Not a regular file (checked before the cache: a FIFO put in a file's place is never
            taken for it).
        OSError
            The file cannot be read.
        """
        try:
            st = path.stat()
        except FileNotFoundError:
            if os.path.islink(path):  # a broken symbolic link: said so (it would "vanish" on every run)
                require_regular_file(path, what=what, error=DataError)
            raise  # it vanished since the scan: the caller leaves it for the next run
        if not stat.S_ISREG(st.st_mode):
            st = require_regular_file(path, what=what, error=DataError)  # raises, naming what it is
        key = str(path)
        self.identities[key] = file_identity(st)
        if not self.rehash:
            row = self.conn.execute("SELECT size, mtime_ns, sha256 FROM scan_cache WHERE path = ?", (key,)).fetchone()
            if row is not None and row[0] == st.st_size and row[1] == st.st_mtime_ns:
                self.n_cached += 1
                return row[2]
        digest = sha256_file(path, what=what)
        self.n_hashed += 1
        st2 = path.stat()
        stable = (st2.st_size == st.st_size and st2.st_mtime_ns == st.st_mtime_ns
                  and time.time() - st2.st_mtime_ns / 1e9 > RACY_WINDOW_S)
        if stable:
            self.pending_rows[key] = (key, st.st_size, st.st_mtime_ns, digest)
        return digest

    def take_rows(self, paths) -> list[tuple]:
        """Remove and return the cache rows of ``paths`` (to write with their results)."""
        out = []
        for p in paths:
            row = self.pending_rows.pop(str(p), None)
            if row is not None:
                out.append(row)
        return out

    def take_all(self) -> list[tuple]:
        rows = list(self.pending_rows.values())
        self.pending_rows.clear()
        return rows
