"""Finding what is in an upload folder and hashing it (no processing here).

An upload folder holds recordings (``*.wav`` / ``*.flac``, any depth, each with an optional
sidecar ``<stem>.json`` beside it) and logger statistics files (``stats.csv`` or any
``*stats.csv``, format of ``interfaces.md``).  Hidden files and folders (names starting with
``.``) and partial uploads (``*.part``, ``*.tmp``, ``*.partial``) are skipped: uploaders should
write under such a name and rename when complete.

Content identity is the SHA-256 of the file's bytes: of the audio file for a recording (its
sidecar is hashed separately, so a corrected sidecar for the same audio is recognised as a late
correction of that recording, not as a new recording), and of the CSV file for statistics.

Hashing every file on every run would cost a full read of the folder each night; a stat cache
(path, size, modification time in ns) in the ledger lets unchanged files be recognised without
reading them, as git does.  A file modified within :data:`RACY_WINDOW_S` of being hashed is
not cached (it might still be changing), and ``rehash=True`` ignores the cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from pathlib import Path

__all__ = ["AUDIO_SUFFIXES", "RACY_WINDOW_S", "ScanResult", "is_stats_file", "scan_upload", "sha256_file"]

AUDIO_SUFFIXES = (".wav", ".flac")
PARTIAL_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload")
#: A file whose modification time is this close (s) to the moment it was hashed is not cached.
RACY_WINDOW_S = 2.0
_BLOCK = 1 << 20


def sha256_file(path) -> str:
    """SHA-256 (hex) of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb", buffering=0) as fh:
        while True:
            block = fh.read(_BLOCK)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def is_stats_file(path: Path) -> bool:
    """A logger statistics upload: ``stats.csv`` or a name ending in ``stats.csv`` (any case)."""
    return path.name.lower().endswith("stats.csv")


@dataclasses.dataclass
class ScanResult:
    """Files found in an upload folder, each list sorted by path."""

    recordings: list[Path]
    stats_files: list[Path]
    skipped: list[Path]


def scan_upload(upload_dir) -> ScanResult:
    """List the recordings and statistics files in ``upload_dir`` (recursively).

    Parameters
    ----------
    upload_dir : str or Path
        The folder loggers upload into.

    Returns
    -------
    ScanResult
        Absolute paths, sorted, so every run sees files in the same order.
    """
    root = Path(upload_dir).resolve()
    recs: list[Path] = []
    stats: list[Path] = []
    skipped: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            p = Path(dirpath) / name
            low = name.lower()
            if name.startswith(".") or low.endswith(PARTIAL_SUFFIXES):
                if low.endswith(AUDIO_SUFFIXES + PARTIAL_SUFFIXES) or low.endswith(".csv"):
                    skipped.append(p)
                continue
            if low.endswith(AUDIO_SUFFIXES):
                recs.append(p)
            elif low.endswith(".csv") and is_stats_file(p):
                stats.append(p)
    return ScanResult(sorted(recs), sorted(stats), sorted(skipped))


class HashCache:
    """SHA-256 of files, remembered in the ledger's ``scan_cache`` table by (path, size, mtime).

    Reads go to the ledger connection; new entries are collected in :attr:`pending_rows` and
    written by the caller inside its own transaction (the driver is the only writer).
    """

    def __init__(self, conn, *, rehash: bool = False):
        self.conn = conn
        self.rehash = rehash
        self.pending_rows: dict[str, tuple] = {}
        self.n_hashed = 0
        self.n_cached = 0

    def sha256(self, path: Path) -> str:
        """Content hash of ``path`` (from the cache when size and mtime are unchanged).

        Raises
        ------
        OSError
            The file cannot be read.
        """
        st = path.stat()
        key = str(path)
        if not self.rehash:
            row = self.conn.execute("SELECT size, mtime_ns, sha256 FROM scan_cache WHERE path = ?", (key,)).fetchone()
            if row is not None and row[0] == st.st_size and row[1] == st.st_mtime_ns:
                self.n_cached += 1
                return row[2]
        digest = sha256_file(path)
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
