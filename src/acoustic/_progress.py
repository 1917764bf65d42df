"""One progress reporter for every job longer than a couple of seconds.

Processing code never prints.  A long function takes ``progress=None``: a callable
``progress(stage, done, total)`` that it calls as its work advances, one *stage* at a time,
each with its own total (``"correlating pairs", 12, 42``).  :func:`iter_progress` does this for
a loop.  The command line passes a :class:`ProgressReporter`, which decides whether and how to
show it: on stderr, one line per stage (``survey: correlating pairs 12/42 (29 %), 8 s, about
20 s left``), redrawn in place on a terminal, and silent when it is not enabled.

Whether progress is shown (:func:`progress_enabled`): never with ``--quiet``; always with
``--progress``; otherwise as the environment variable ``ACOUSTIC_PROGRESS`` says (``1``/``0``);
otherwise only when stderr is a terminal (so logs of nightly jobs and piped runs stay clean).

Totals are stable: a stage's total is the number of things that stage will do, known when it
starts.  Work whose size is learned on the way is split into stages ("hashing files" with no
total, then "processing new recordings 242/338"), never a total that grows under the reader.
:class:`ProgressRecorder` records the calls and checks exactly that (for tests).

Only the standard library is used here (``click`` is not needed), so any module may import it.

Examples
--------
>>> from acoustic._progress import ProgressRecorder, iter_progress
>>> rec = ProgressRecorder()
>>> [x * x for x in iter_progress([1, 2, 3], rec, "squaring")]
[1, 4, 9]
>>> rec.events
[('squaring', 0, 3), ('squaring', 1, 3), ('squaring', 2, 3), ('squaring', 3, 3)]
>>> rec.check()  # raises AssertionError when a total changes or a count goes backwards
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from typing import Callable, Iterable, Iterator, Optional, TypeVar

__all__ = ["ProgressCallback", "ProgressReporter", "ProgressRecorder", "iter_progress", "report_progress",
           "progress_enabled", "format_duration", "ENV_VAR"]

#: ``progress(stage, done, total)``: ``stage`` names what is being done (lower case, no trailing
#: punctuation), ``done`` counts finished items of it, ``total`` is how many there will be (None
#: when not known in advance).
ProgressCallback = Callable[[str, int, Optional[int]], None]

#: Environment variable that turns progress on (``1``, ``true``, ``yes``, ``on``) or off
#: (``0``, ``false``, ``no``, ``off``) when stderr is not a terminal or is one.
ENV_VAR = "ACOUSTIC_PROGRESS"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

#: Seconds between redraws on a terminal (a redraw is cheap; ten a second reads as smooth).
INTERACTIVE_INTERVAL_S = 0.1
#: Seconds between lines when progress goes to a file or pipe (``--progress`` in a log): a line
#: every few seconds is enough to see a job is alive without flooding the log.
LOG_INTERVAL_S = 5.0
#: A stage shows its remaining-time estimate only after this long (early rates mislead).
ETA_AFTER_S = 2.0

T = TypeVar("T")


def progress_enabled(*, quiet: bool = False, requested: bool | None = None, stream=None,
                     environ=None) -> bool:
    """Whether a command shows progress.

    Parameters
    ----------
    quiet : bool
        ``--quiet`` was given: no progress, whatever else asks for it.
    requested : bool or None
        ``--progress`` (True) or ``--no-progress`` (False); None when neither was given.
    stream : file-like, optional
        Where progress would go (default ``sys.stderr``).
    environ : mapping, optional
        The environment (default ``os.environ``), for :data:`ENV_VAR`.

    Returns
    -------
    bool

    Examples
    --------
    >>> import io
    >>> progress_enabled(stream=io.StringIO(), environ={})
    False
    >>> progress_enabled(stream=io.StringIO(), environ={"ACOUSTIC_PROGRESS": "1"})
    True
    >>> progress_enabled(quiet=True, requested=True, environ={})
    False
    """
    if quiet:
        return False
    if requested is not None:
        return bool(requested)
    env = (os.environ if environ is None else environ).get(ENV_VAR)
    if env is not None:
        value = env.strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
    return _isatty(sys.stderr if stream is None else stream)


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # closed or not a real stream
        return False


def report_progress(progress: ProgressCallback | None, stage: str, done: int, total: int | None = None) -> None:
    """Call ``progress(stage, done, total)`` when a callback was given (library code's one-liner)."""
    if progress is not None:
        progress(stage, done, total)


def iter_progress(items: Iterable[T], progress: ProgressCallback | None, stage: str,
                  total: int | None = None) -> Iterator[T]:
    """Yield ``items``, reporting ``stage`` before the first and after each one.

    Parameters
    ----------
    items : iterable
    progress : ProgressCallback or None
        None: the items are yielded and nothing is reported.
    stage : str
        What is being done, e.g. ``"correlating pairs"``.
    total : int, optional
        How many items there are (default ``len(items)`` when it has one, else unknown).

    Examples
    --------
    >>> seen = []
    >>> list(iter_progress("ab", lambda *a: seen.append(a), "letters"))
    ['a', 'b']
    >>> seen
    [('letters', 0, 2), ('letters', 1, 2), ('letters', 2, 2)]
    """
    if progress is None:
        yield from items
        return
    if total is None:
        try:
            total = len(items)  # type: ignore[arg-type]
        except TypeError:
            total = None
    progress(stage, 0, total)
    done = 0
    for item in items:
        yield item
        done += 1
        progress(stage, done, total)


def format_duration(seconds: float) -> str:
    """A duration for people: ``8 s``, ``2 min 5 s``, ``1 h 3 min``.

    Examples
    --------
    >>> format_duration(7.6), format_duration(125), format_duration(3790)
    ('8 s', '2 min 5 s', '1 h 3 min')
    """
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {(s % 3600) // 60} min"


class ProgressReporter:
    """Shows ``progress(stage, done, total)`` calls on stderr.

    Parameters
    ----------
    command : str
        Prefix of every line (the command, e.g. ``"survey"``).
    enabled : bool
        When False every call is ignored (see :func:`progress_enabled`).
    stream : file-like, optional
        Where to write; default ``sys.stderr`` at the time of writing.
    interactive : bool, optional
        Redraw one line in place (a terminal) or write whole lines (a file, a pipe, a log).
        Default: whether the stream is a terminal.
    clock : callable, optional
        Monotonic seconds (for tests).

    Notes
    -----
    On a terminal the current stage's line is redrawn at most every
    :data:`INTERACTIVE_INTERVAL_S`; elsewhere a line is written when a stage starts, at most every
    :data:`LOG_INTERVAL_S` while it runs and when it ends.  A stage ends when ``done`` reaches
    ``total``, when another stage starts, or at :meth:`close`.  Use the reporter as a context
    manager (or call :meth:`close`) so that the last line is ended before an error or the result.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> with ProgressReporter("survey", enabled=True, stream=out, interactive=False) as rep:
    ...     for i in range(3):
    ...         rep("correlating pairs", i + 1, 3)
    >>> print(out.getvalue().splitlines()[-1])
    survey: correlating pairs 3/3 (100 %), 0 s
    """

    def __init__(self, command: str, *, enabled: bool, stream=None, interactive: bool | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.command = command
        self.enabled = bool(enabled)
        self._stream = stream
        self._interactive = interactive
        self._clock = clock
        self._lock = threading.Lock()
        self._stage: str | None = None
        self._stage_start = 0.0
        self._last_draw = -1e300
        self._done = 0
        self._total: int | None = None
        self._open_line = 0  # characters of an unfinished (interactive) line on screen
        self._ended = True  # the current stage's final line has been written

    # -- output ---------------------------------------------------------------------------
    @property
    def stream(self):
        return sys.stderr if self._stream is None else self._stream

    @property
    def interactive(self) -> bool:
        return _isatty(self.stream) if self._interactive is None else bool(self._interactive)

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # stderr closed or gone: progress is not worth an error
            self.enabled = False

    def _width(self) -> int:
        return max(20, shutil.get_terminal_size((100, 24)).columns - 1)

    def _line(self, now: float) -> str:
        elapsed = now - self._stage_start
        if self._total is not None:
            pct = 100.0 * self._done / self._total if self._total else 100.0
            text = f"{self.command}: {self._stage} {self._done}/{self._total} ({pct:.0f} %), {format_duration(elapsed)}"
            if 0 < self._done < self._total and elapsed >= ETA_AFTER_S:
                left = elapsed / self._done * (self._total - self._done)
                text += f", about {format_duration(left)} left"
        else:
            text = f"{self.command}: {self._stage} {self._done}, {format_duration(elapsed)}"
        return text

    def _draw(self, now: float, final: bool) -> None:
        text = self._line(now)
        if self.interactive:
            text = text[: self._width()]
            pad = " " * max(0, self._open_line - len(text))
            self._write("\r" + text + pad + ("\n" if final else ""))
            self._open_line = 0 if final else len(text)
        else:
            self._write(text + "\n")
        self._last_draw = now

    def _end_stage(self, now: float) -> None:
        if self._stage is not None and not self._ended:
            self._draw(now, final=True)
            self._ended = True

    # -- the callback ---------------------------------------------------------------------
    def __call__(self, stage: str, done: int, total: int | None = None) -> None:
        if not self.enabled:
            return
        with self._lock:
            now = self._clock()
            if stage != self._stage or done < self._done:  # a new stage, or this one run again
                self._end_stage(now)
                self._stage, self._stage_start, self._ended = stage, now, False
                self._done, self._total = int(done), None if total is None else int(total)
                self._draw(now, final=self._total is not None and self._done >= self._total)
                self._ended = self._total is not None and self._done >= self._total
                return
            self._done, self._total = int(done), None if total is None else int(total)
            if self._total is not None and self._done >= self._total:
                if not self._ended:
                    self._draw(now, final=True)
                    self._ended = True
                return
            interval = INTERACTIVE_INTERVAL_S if self.interactive else LOG_INTERVAL_S
            if now - self._last_draw >= interval:
                self._draw(now, final=False)

    def clear(self) -> None:
        """Erase an unfinished interactive line, so that a line written next on the same stream
        (a warning, a failure) starts at the left; the stage is redrawn at its next call."""
        with self._lock:
            if self._open_line:
                self._write("\r" + " " * self._open_line + "\r")
                self._open_line = 0

    def note(self, message: str) -> None:
        """A line of its own (``command: message``), e.g. which engine a batch uses; kept out of
        the way of an interactive progress line.  Silent when the reporter is not enabled."""
        if not self.enabled:
            return
        with self._lock:
            if self._open_line:
                self._write("\r" + " " * self._open_line + "\r")
                self._open_line = 0
            self._write(f"{self.command}: {message}\n")
            if self._stage is not None and not self._ended and self.interactive:
                self._draw(self._clock(), final=False)

    def close(self) -> None:
        """End the current stage's line (its last count) so that what follows starts a new line."""
        if not self.enabled:
            return
        with self._lock:
            self._end_stage(self._clock())

    def __enter__(self) -> "ProgressReporter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ProgressRecorder:
    """A progress callback that records every call, for tests of code that reports progress.

    :meth:`check` asserts what every reporter relies on: a stage's total never changes, its count
    never goes backwards and never passes its total.  A call with a count of 0 starts the stage
    (again: the same stage may run once per area, say).
    """

    def __init__(self):
        self.events: list[tuple[str, int, int | None]] = []

    def __call__(self, stage: str, done: int, total: int | None = None) -> None:
        self.events.append((stage, int(done), None if total is None else int(total)))

    @property
    def stages(self) -> list[str]:
        """Stages in the order they started (a stage may appear again when it runs again)."""
        out: list[str] = []
        for stage, _, _ in self.events:
            if not out or out[-1] != stage:
                out.append(stage)
        return out

    def check(self) -> None:
        """Raise AssertionError when a total changes within a stage or a count goes backwards or
        passes its total."""
        prev = None
        for stage, done, total in self.events:
            if done < 0:
                raise AssertionError(f"stage {stage!r}: negative count {done}")
            if total is not None and done > total:
                raise AssertionError(f"stage {stage!r}: count {done} passed its total {total}")
            if prev is not None and prev[0] == stage and done > 0:  # (a count of 0 starts the stage again)
                if total != prev[2]:
                    raise AssertionError(f"stage {stage!r}: total changed from {prev[2]} to {total}")
                if done < prev[1]:
                    raise AssertionError(f"stage {stage!r}: count went back from {prev[1]} to {done}")
            prev = (stage, done, total)
