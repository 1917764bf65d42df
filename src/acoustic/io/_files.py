"""Only regular files are read: never block on a FIFO, a device or a socket.

Every reader of the package opens its input through :func:`require_regular_file` /
:func:`open_regular` / :func:`read_file_bytes`.  The path is ``stat``-ed (symbolic links
followed) before it is opened; anything but a regular file is refused with a one-line error
naming the file and what it is.  The open itself uses ``O_NONBLOCK`` and the descriptor is
``fstat``-ed again, so a file swapped for a FIFO between the check and the open cannot hang the
reader either (opening a FIFO for reading with ``O_NONBLOCK`` returns at once); once the
descriptor is known to be a regular file, it is made blocking again for the reads.

Paths are used as the operating system gives them: a file name that is not valid UTF-8 (Python
holds it with surrogate escapes) is opened by its bytes, and messages show it with the
undecodable bytes escaped (:func:`display_path`).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .._errors import AcousticError, DataError

__all__ = ["check_output_file", "display_path", "file_kind", "open_regular", "read_file_bytes", "require_regular_file"]

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def display_path(path) -> str:
    """``path`` as text safe to print: bytes that are not UTF-8 shown as ``\\xNN`` escapes.

    Examples
    --------
    >>> display_path(b"caf\\xe9.wav".decode("utf-8", "surrogateescape"))
    'caf\\\\xe9.wav'
    """
    text = os.fsdecode(path) if isinstance(path, bytes) else str(path)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return os.fsencode(text).decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that no file name's bytes give (from a JSON "\ud800")
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def file_kind(mode: int) -> str:
    """What a ``st_mode`` describes: ``"a regular file"``, ``"a FIFO (named pipe)"``, ``"a directory"`` ..."""
    if stat.S_ISREG(mode):
        return "a regular file"
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def _link_note(path: Path) -> str:
    try:
        if os.path.islink(path):
            return f" (symbolic link to {display_path(os.readlink(path))})"
    except OSError:  # pragma: no cover - raced away
        pass
    return ""


def require_regular_file(path, *, what: str = "file", error: type[AcousticError] = DataError,
                         max_bytes: int | None = None, missing_ok: bool = False) -> os.stat_result | None:
    """Check that ``path`` is a regular file (symbolic links followed) before anything opens it.

    Parameters
    ----------
    path : str or Path
        The file.
    what : str, default "file"
        What the file is for the messages (``"sidecar"``, ``"pipe description"``, ``"model card"``).
    error : type, default DataError
        The :class:`~acoustic._errors.AcousticError` subclass raised.
    max_bytes : int, optional
        Refuse a larger file (its size is in the message).
    missing_ok : bool, default False
        Return None for a missing path (a broken symbolic link included) instead of raising.

    Returns
    -------
    os.stat_result or None
        The file's status (of the link's target).

    Raises
    ------
    AcousticError
        Of class ``error``: missing (unless ``missing_ok``), a directory, FIFO, socket or device,
        unreadable (permissions, I/O error) or larger than ``max_bytes``; one line naming the file.

    Examples
    --------
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> os.mkfifo(os.path.join(d, "A.wav"))
    >>> require_regular_file(os.path.join(d, "A.wav"), what="recording")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    acoustic._errors.DataError: .../A.wav: recording is a FIFO (named pipe), not a regular file
    """
    p = Path(path)
    name = display_path(p)
    try:
        st = os.stat(p)
    except (FileNotFoundError, NotADirectoryError):
        if missing_ok:
            return None
        if os.path.islink(p):
            raise error(f"{name}: {what} not found (broken symbolic link to "
                        f"{display_path(os.readlink(p))})") from None
        raise error(f"{name}: {what} not found") from None
    except OSError as exc:  # permission denied on a parent, ELOOP, ENAMETOOLONG, EIO
        raise error(f"{name}: {what} cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{name}: {what} is {file_kind(st.st_mode)}{_link_note(p)}, not a regular file")
    if max_bytes is not None and st.st_size > max_bytes:
        raise error(f"{name}: {what} is {st.st_size} bytes, more than the {max_bytes} bytes allowed")
    return st


def open_regular(path, *, what: str = "file", error: type[AcousticError] = DataError,
                 max_bytes: int | None = None):
    """Open a regular file for binary reading without ever blocking on a special file.

    :func:`require_regular_file`, then ``os.open`` with ``O_NONBLOCK`` and an ``fstat`` of the
    descriptor (the file may have been swapped since the check).

    Parameters
    ----------
    path, what, error, max_bytes
        As for :func:`require_regular_file`.

    Returns
    -------
    io.BufferedReader
        Open in ``"rb"`` mode; the caller closes it (use ``with``).

    Raises
    ------
    AcousticError
        Of class ``error``, as :func:`require_regular_file`, or when the file cannot be opened.
    """
    p = Path(path)
    require_regular_file(p, what=what, error=error, max_bytes=max_bytes)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(p, flags)
    except FileNotFoundError:
        raise error(f"{display_path(p)}: {what} not found (removed while being opened)") from None
    except OSError as exc:
        raise error(f"{display_path(p)}: {what} cannot be read ({exc.strerror or exc})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{display_path(p)}: {what} is {file_kind(st.st_mode)}, not a regular file "
                        "(it was replaced while being opened)")
        if max_bytes is not None and st.st_size > max_bytes:
            raise error(f"{display_path(p)}: {what} is {st.st_size} bytes, more than the {max_bytes} bytes allowed")
        _clear_nonblocking(fd)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _clear_nonblocking(fd: int) -> None:
    """Reads of a regular file block as usual again: ``O_NONBLOCK`` was for the open only.

    Linux ignores the flag for regular files, but POSIX leaves it unspecified, and on some file
    systems (mandatory locks, some network and FUSE mounts) a read could return ``EAGAIN`` and
    a caller would take the short read for the end of the file.
    """
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)


def read_file_bytes(path, *, what: str = "file", error: type[AcousticError] = DataError,
                    max_bytes: int | None = None) -> bytes:
    """The bytes of a regular file (see :func:`open_regular`), at most ``max_bytes`` of them.

    A file that grows past ``max_bytes`` while it is read is refused too.

    Raises
    ------
    AcousticError
        Of class ``error``: not a regular file, unreadable, too large.
    """
    with open_regular(path, what=what, error=error, max_bytes=max_bytes) as fh:
        try:
            data = fh.read() if max_bytes is None else fh.read(max_bytes + 1)
        except OSError as exc:
            raise error(f"{display_path(path)}: {what} cannot be read ({exc.strerror or exc})") from None
    if max_bytes is not None and len(data) > max_bytes:
        raise error(f"{display_path(path)}: {what} is more than the {max_bytes} bytes allowed")
    return data


def check_output_file(path, *, what: str = "output file", error: type[AcousticError] = DataError) -> None:
    """Refuse to write over anything but a regular file (opening a FIFO for writing blocks).

    A path that does not exist yet is fine.

    Raises
    ------
    AcousticError
        Of class ``error``: ``path`` exists and is a directory, FIFO, socket or device.
    """
    p = Path(path)
    try:
        st = os.stat(p)
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as exc:
        raise error(f"{display_path(p)}: {what} cannot be written ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{display_path(p)}: {what} exists and is {file_kind(st.st_mode)}{_link_note(p)}, "
                    "not a regular file; not written")
