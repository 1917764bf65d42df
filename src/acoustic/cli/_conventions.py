"""The command-line convention (``docs/cli.md``) as reusable pieces, so every command spells it alike.

- exit codes: :data:`EXIT_OK`, :data:`EXIT_FAILURES`, :data:`EXIT_USAGE`, :data:`EXIT_QUARANTINED`,
  :data:`EXIT_BUSY`, :data:`EXIT_INTERRUPTED`, and :func:`run_standalone` (the console entry point:
  Ctrl-C exits 130 with one line, not click's ``Aborted!`` and 1);
- stores named the same way everywhere: :func:`ledger_option` (``--ledger/-l``, ``$ACOUSTIC_LEDGER``),
  :func:`library_option` (``--library/-L``, ``$ACOUSTIC_LIBRARY``), :func:`model_option`
  (``--model/-m``, ``$ACOUSTIC_MODEL``);
- outputs: :func:`out_option` (``-o/--out``, ``-`` = stdout where the output is one stream),
  :func:`open_output` (atomic file, or stdout), :func:`check_stdout_users` (at most one thing on stdout);
- progress: :func:`progress_options` (``--quiet/-q``, ``--progress/--no-progress``) and
  :func:`make_progress` (a :class:`~acoustic._progress.ProgressReporter`);
- old spellings for one release: :func:`renamed_options` (an old option name that still works,
  with a warning) and :func:`legacy_leading_path` (an old positional ledger or library that
  still works, with a warning).

Only click and the standard library are imported here (``acoustic --help`` stays fast).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Callable

import click

from .._progress import ProgressReporter, progress_enabled

__all__ = [
    "EXIT_OK", "EXIT_FAILURES", "EXIT_USAGE", "EXIT_QUARANTINED", "EXIT_BUSY", "EXIT_INTERRUPTED",
    "ENV_LEDGER", "ENV_LIBRARY", "ENV_MODEL", "REMOVED_IN", "STDOUT",
    "run_standalone", "ledger_option", "library_option", "model_option", "out_option", "is_stdout",
    "open_output", "check_stdout_users", "progress_options", "make_progress", "renamed_options",
    "legacy_leading_path", "looks_like_sqlite", "looks_like_hdf5", "deprecation_warning", "quiet_option", "note",
    "refuse_stdout",
]

#: Everything asked was done.
EXIT_OK = 0
#: Finished, but some inputs could not be used (each named on stderr, the others' results on
#: stdout), or the system failed under the command (I/O error, out of memory, workers that keep
#: dying): look at stderr, the arguments were fine.
EXIT_FAILURES = 1
#: Usage or input error: bad arguments or options, or no input could be used; nothing done.
EXIT_USAGE = 2
#: A batch finished and put some uploads in quarantine (recorded in the ledger with the reason).
EXIT_QUARANTINED = 3
#: Another batch holds the ledger (``acoustic batch run`` only).
EXIT_BUSY = 4
#: Interrupted by Ctrl-C (SIGINT); 128 + the signal number for other signals (143: SIGTERM).
EXIT_INTERRUPTED = 130

ENV_LEDGER = "ACOUSTIC_LEDGER"
ENV_LIBRARY = "ACOUSTIC_LIBRARY"
ENV_MODEL = "ACOUSTIC_MODEL"
#: Release in which spellings deprecated now stop working (they work, with a warning, until then).
REMOVED_IN = "0.3"
#: The output path that means standard output.
STDOUT = "-"


# -- the entry point ---------------------------------------------------------------------------
def run_standalone(group: click.Command, argv=None, *, prog_name: str = "acoustic") -> None:
    """Run a click command as the console script: usage errors exit 2 with click's message,
    Ctrl-C exits :data:`EXIT_INTERRUPTED` with ``Error: interrupted`` (click alone prints
    ``Aborted!`` and exits 1), a closed stdout (``| head``) exits 0 quietly."""
    try:
        rv = group.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except (KeyboardInterrupt, click.Abort):
        click.echo("\nError: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except BrokenPipeError:  # pragma: no cover - depends on the reader closing early
        sys.exit(EXIT_OK)
    sys.exit(rv if isinstance(rv, int) else EXIT_OK)


# -- stores ------------------------------------------------------------------------------------
def ledger_option(*, required: bool = True, help: str | None = None):
    """``--ledger/-l PATH`` (default ``$ACOUSTIC_LEDGER``), the parameter ``ledger_path``."""
    return click.option(
        "--ledger", "-l", "ledger_path", envvar=ENV_LEDGER, show_envvar=True, required=required,
        type=click.Path(dir_okay=False, path_type=Path),
        help=help or "The ledger (SQLite file).")


def library_option(*, required: bool = False, help: str | None = None):
    """``--library/-L PATH`` (default ``$ACOUSTIC_LIBRARY``, else the shipped library), parameter
    ``library_path``."""
    return click.option(
        "--library", "-L", "library_path", envvar=ENV_LIBRARY, show_envvar=True, required=required,
        type=click.Path(dir_okay=False, path_type=Path),
        help=help or "Signature library (.h5). Default: the shipped models/default/signatures.h5.")


def model_option(*, help: str | None = None):
    """``--model/-m PATH`` (default ``$ACOUSTIC_MODEL``, else the shipped model), parameter ``model_path``."""
    return click.option(
        "--model", "-m", "model_path", envvar=ENV_MODEL, show_envvar=True,
        type=click.Path(path_type=Path),
        help=help or "Model folder (model.skops + model_card.json). Default: the shipped models/default.")


# -- outputs -----------------------------------------------------------------------------------
def out_option(help: str, *, required: bool = False, stdout_ok: bool = True, file_okay: bool = True,
               dir_okay: bool = False):
    """``-o/--out PATH``, parameter ``out``; with ``stdout_ok`` the help says ``-`` is stdout."""
    text = help + (" '-' writes to stdout." if stdout_ok else "")
    return click.option("--out", "-o", "out", required=required, help=text,
                        type=click.Path(file_okay=file_okay, dir_okay=dir_okay, allow_dash=stdout_ok,
                                        path_type=Path))


def is_stdout(path) -> bool:
    """Whether an output path means standard output (``-``)."""
    return path is not None and str(path) == STDOUT


@contextlib.contextmanager
def open_output(path, *, binary: bool = False, encoding: str = "utf-8"):
    """Open an output for writing: ``-`` is stdout; a file is written beside itself and renamed
    into place when the block ends without error (a reader never sees half a file, and a failed
    command leaves the old file as it was).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "out.csv"
    >>> with open_output(p) as fh:
    ...     _ = fh.write("a,b\\n")
    >>> p.read_text()
    'a,b\\n'
    """
    if is_stdout(path):
        stream = sys.stdout.buffer if binary else sys.stdout
        yield stream
        stream.flush()
        return
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or Path("."))
    try:
        with (os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding=encoding, newline="")) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def refuse_stdout(path, option: str = "--out", what: str = "a folder") -> None:
    """A usage error (exit 2) for ``-`` where the output is a folder or a database (it cannot be stdout)."""
    if is_stdout(path):
        raise click.UsageError(f"{option} is {what}; '-' (stdout) cannot be one")


def check_stdout_users(as_json: bool = False, **outputs) -> None:
    """Refuse (usage error, exit 2) two things on stdout: ``--json`` with an output ``-``, or two
    outputs ``-``.  ``outputs`` maps option names (``geojson``) to their values."""
    users = [f"--{name.replace('_', '-')} -" for name, v in outputs.items() if is_stdout(v)]
    if as_json:
        users.insert(0, "--json")
    if len(users) > 1:
        raise click.UsageError(f"only one output can go to stdout; got {' and '.join(users)}")


# -- progress ----------------------------------------------------------------------------------
def progress_options(func):
    """``--quiet/-q`` and ``--progress/--no-progress`` (parameters ``quiet`` and ``progress``)."""
    func = click.option("--progress/--no-progress", "progress", default=None,
                        help="Show progress on stderr even when it is not a terminal (default: on a terminal "
                             "only, or as ACOUSTIC_PROGRESS=1|0 says).")(func)
    func = click.option("--quiet", "-q", is_flag=True,
                        help="No progress or notes on stderr (warnings and errors still show).")(func)
    return func


def quiet_option(func):
    """``--quiet/-q`` for a command without progress: it hides the command's notes on stderr
    (:func:`note`: ``wrote PATH`` ...); warnings and errors still show.  The body does not receive it."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, quiet=False, **kwargs):
        ctx = click.get_current_context(silent=True)
        if ctx is not None:
            ctx.meta["acoustic.quiet"] = bool(quiet)
        return func(*args, **kwargs)

    return click.option("--quiet", "-q", "quiet", is_flag=True,
                        help="No notes on stderr (warnings and errors still show).")(wrapper)


def note(message: str) -> None:
    """A note on stderr (``wrote PATH``), unless the command was given ``--quiet``."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.meta.get("acoustic.quiet"):
        return
    click.echo(message, err=True)


def make_progress(command: str, quiet: bool = False, progress: bool | None = None) -> ProgressReporter:
    """The command's progress reporter on stderr (enabled as :func:`acoustic._progress.progress_enabled` says)."""
    return ProgressReporter(command, enabled=progress_enabled(quiet=quiet, requested=progress))


# -- old spellings -----------------------------------------------------------------------------
def deprecation_warning(old: str, new: str) -> None:
    """One ``Warning:`` line on stderr: ``old`` is deprecated, use ``new``."""
    click.echo(f"Warning: {old} is deprecated and stops working in acoustic {REMOVED_IN}; use {new}", err=True)


def renamed_options(renames: dict[str, str | tuple[str, ...]]):
    """Decorator for a click command: old option spellings keep working for one release.

    ``renames`` maps an old option (``"--csv"``) to the tokens that replace it (``"--out"``, or
    ``("--model", "none")`` for an old flag that became an option value).  The old spelling is not
    declared (``--help`` shows only the new one); each use prints one deprecation warning.  Values
    of options are never taken for options (``--note --csv`` keeps its note).  Apply it above
    ``@click.command``.
    """

    def wrap(cmd: click.Command) -> click.Command:
        original = cmd.parse_args

        def parse_args(ctx: click.Context, args: list[str]) -> list[str]:
            takes_value = _value_options(cmd)
            out: list[str] = []
            i = 0
            while i < len(args):
                tok = args[i]
                if tok == "--":
                    out += args[i:]
                    break
                name, eq, value = tok.partition("=")
                if name in renames:
                    new = renames[name]
                    new = (new,) if isinstance(new, str) else tuple(new)
                    deprecation_warning(name, " ".join(new))
                    out += [*new, value] if eq else list(new)
                    i += 1
                    continue
                out.append(tok)
                if tok in takes_value and not eq and i + 1 < len(args):
                    out.append(args[i + 1])
                    i += 1
                i += 1
            return original(ctx, out)

        cmd.parse_args = parse_args  # type: ignore[method-assign]
        return cmd

    return wrap


def looks_like_sqlite(arg: str) -> bool:
    """A path that names an SQLite database: its header says so, or (missing file) its suffix."""
    head = _file_head(arg, 16)
    if head is None:
        return Path(arg).suffix.lower() in (".db", ".sqlite", ".sqlite3", ".ledger")
    return head == b"SQLite format 3\x00"


def looks_like_hdf5(arg: str) -> bool:
    """A path that names an HDF5 file: its signature says so, or (missing file) its suffix."""
    head = _file_head(arg, 8)
    if head is None:
        return Path(arg).suffix.lower() in (".h5", ".hdf5")
    return head == b"\x89HDF\r\n\x1a\n"


def _file_head(arg: str, n: int) -> bytes | None:
    """The first ``n`` bytes of a regular file; ``None`` for anything else (missing, a folder, a FIFO
    or device, which are never opened: opening a FIFO blocks until a writer comes)."""
    import stat

    try:
        if not stat.S_ISREG(os.stat(arg).st_mode):
            return None
        with open(arg, "rb") as fh:
            return fh.read(n)
    except (OSError, ValueError):
        return None


def _value_options(cmd: click.Command) -> set[str]:
    """Option strings of ``cmd`` that take a value (the token after them is not a positional)."""
    out = set()
    for p in cmd.params:
        if isinstance(p, click.Option) and not p.is_flag and not p.count:
            out.update(p.opts)
            out.update(p.secondary_opts)
    return out


def legacy_leading_path(option: str, looks_like: Callable[[str], bool], *, env: str | None = None):
    """Decorator for a click command whose store was once its first positional argument.

    ``acoustic ledger list ledger.db`` (old) becomes ``acoustic ledger list --ledger ledger.db``:
    when the command's first positional token passes ``looks_like`` and ``option`` is not given,
    it is moved behind ``option``, with a deprecation warning.  Apply it above ``@click.command``.
    """

    def wrap(cmd: click.Command) -> click.Command:
        takes_value = _value_options(cmd)
        names = {option}
        for p in cmd.params:
            if isinstance(p, click.Option) and option in p.opts:
                names.update(p.opts)
        original = cmd.parse_args

        def parse_args(ctx: click.Context, args: list[str]) -> list[str]:
            args = list(args)
            if any(a in names or (a.startswith("--") and a.split("=", 1)[0] in names) for a in args):
                return original(ctx, args)
            i = 0
            while i < len(args):
                tok = args[i]
                if tok == "--":
                    i += 1
                    break
                if tok.startswith("-") and tok != STDOUT:
                    i += 2 if (tok in takes_value and "=" not in tok) else 1
                    continue
                break
            if i < len(args) and looks_like(args[i]):
                value = args.pop(i)
                name = ctx.command_path
                deprecation_warning(f"'{name} {value} ...' (the store as first argument)",
                                    f"'{name} {option} {value} ...'" + (f" or set {env}" if env else ""))
                args[:0] = [option, value]
            return original(ctx, args)

        cmd.parse_args = parse_args  # type: ignore[method-assign]
        return cmd

    return wrap
