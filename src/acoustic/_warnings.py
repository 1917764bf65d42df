"""One home for the package's warning plumbing.

Data problems that leave a result usable are :class:`~acoustic._errors.AcousticWarning` s.
Code that runs a stage and wants its warnings as text (for a JSON ``warnings`` field, a ledger
row, a worker's result) collects them with :func:`collect_warnings`; :func:`warn` issues one and
:func:`one_line` makes any exception or text fit one line of a message.

Examples
--------
>>> from acoustic._warnings import collect_warnings, warn
>>> with collect_warnings() as log:
...     warn("A.wav: 3 NaN samples set to zero")
...     warn("A.wav: 3 NaN samples set to zero")
>>> log.messages
['A.wav: 3 NaN samples set to zero']
"""

from __future__ import annotations

import warnings

from ._errors import AcousticWarning

__all__ = ["WarningLog", "collect_warnings", "one_line", "silenced", "warn"]


def warn(message: str, *, stacklevel: int = 2) -> None:
    """Issue ``message`` as an :class:`AcousticWarning`.

    Parameters
    ----------
    message : str
        One line naming the file, line or parameter concerned.
    stacklevel : int, default 2
        As for :func:`warnings.warn`, counted from the caller of this function (2: the line that
        called the function that called ``warn``).
    """
    warnings.warn(message, AcousticWarning, stacklevel=stacklevel + 1)


def one_line(exc_or_text) -> str:
    """An exception or text on one line (runs of whitespace, newlines included, become one space).

    An exception whose text is empty is named by its type.

    Examples
    --------
    >>> one_line(ValueError("bad\\n   value"))
    'bad value'
    >>> one_line(KeyError())
    'KeyError'
    """
    text = " ".join(str(exc_or_text).split())
    if text:
        return text
    return type(exc_or_text).__name__ if isinstance(exc_or_text, BaseException) else ""


def silenced():
    """Context manager that drops the :class:`AcousticWarning` s raised inside it (work whose
    warnings were already reported, or whose result is optional); other warnings pass.

    Examples
    --------
    >>> import warnings
    >>> with silenced():
    ...     warn("not shown")
    """
    return _Silenced()


class _Silenced:
    def __enter__(self):
        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", AcousticWarning)
        return self

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


class WarningLog:
    """The warnings caught by :func:`collect_warnings` (filled while the block runs).

    Attributes
    ----------
    records : list of warnings.WarningMessage
        Every warning caught, in order (foreign ones included).
    sink : list of str or None
        Where each new :class:`AcousticWarning` message is appended the moment it is issued
        (de-duplicated), so code inside the block sees it there at once.
    """

    def __init__(self, records: list, sink: list | None = None):
        self.records = records
        self.sink = sink
        self._in_sink = set(sink or ())

    def showwarning(self, message, category, filename, lineno, file=None, line=None) -> None:
        """Record one warning (installed as :func:`warnings.showwarning` while the block runs)."""
        self.records.append(warnings.WarningMessage(message, category, filename, lineno, file, line))
        if self.sink is not None and issubclass(category, AcousticWarning):
            text = str(message)
            if text not in self._in_sink:
                self._in_sink.add(text)
                self.sink.append(text)

    @property
    def messages(self) -> list[str]:
        """The :class:`AcousticWarning` messages so far, de-duplicated, in first-seen order."""
        return list(dict.fromkeys(str(w.message) for w in self.records if issubclass(w.category, AcousticWarning)))

    def foreign(self) -> list:
        """Caught warnings of other categories (library warnings, deprecations)."""
        return [w for w in self.records if not issubclass(w.category, AcousticWarning)]

    def __iter__(self):
        return iter(self.messages)

    def __len__(self) -> int:
        return len(self.messages)


class collect_warnings:  # noqa: N801 - used like contextlib's lower-case context managers
    """Context manager collecting the :class:`AcousticWarning` s raised inside its block.

    Parameters
    ----------
    reemit : bool, default False
        On leaving the block normally, issue each collected message once more (de-duplicated),
        so an outer collector (the CLI prints them on stderr) sees them once.
    foreign : {"pass", "ignore"}, default "pass"
        Other warnings (numpy, scipy, deprecations): passed on unchanged when the block ends, or
        dropped.
    ignore_deprecations : bool, default False
        Drop ``DeprecationWarning`` and ``FutureWarning`` whatever ``foreign`` says.
    sink : list of str, optional
        A list each new :class:`AcousticWarning` message is appended to as soon as it is issued
        (not only when the block ends): the CLI hands it to a command as ``warnings_out``, and the
        command's JSON ``warnings`` field, built inside the block, then holds every warning so far.

    Returns
    -------
    WarningLog
        From ``__enter__``; its :attr:`~WarningLog.messages` are the de-duplicated texts.

    Examples
    --------
    >>> import warnings
    >>> from acoustic._errors import AcousticWarning
    >>> with collect_warnings() as log:
    ...     warnings.warn("B.json: missing gain_db; defaults used", AcousticWarning)
    >>> log.messages
    ['B.json: missing gain_db; defaults used']
    >>> seen = []
    >>> with collect_warnings(sink=seen):
    ...     warnings.warn("C.wav: 2 NaN samples set to zero", AcousticWarning)
    ...     print(seen)
    ['C.wav: 2 NaN samples set to zero']
    """

    def __init__(self, *, reemit: bool = False, foreign: str = "pass", ignore_deprecations: bool = False,
                 sink: list | None = None):
        if foreign not in ("pass", "ignore"):
            raise ValueError(f"foreign must be 'pass' or 'ignore', got {foreign!r}")
        self.reemit = reemit
        self.foreign = foreign
        self.ignore_deprecations = ignore_deprecations
        self.sink = sink
        self._ctx = None
        self.log: WarningLog | None = None

    def __enter__(self) -> WarningLog:
        # catch_warnings saves and restores the filters and warnings.showwarning; replacing
        # showwarning (what record=True does, through a private hook) lets the sink fill at once
        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        self.log = WarningLog([], self.sink)
        warnings.showwarning = self.log.showwarning
        warnings.simplefilter("always", AcousticWarning)
        if self.ignore_deprecations:
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            warnings.filterwarnings("ignore", category=FutureWarning)
        return self.log

    def __exit__(self, exc_type, exc, tb) -> bool:
        self._ctx.__exit__(exc_type, exc, tb)
        if self.foreign == "pass":
            for w in self.log.foreign():
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
        if self.reemit and exc_type is None:
            for m in self.log.messages:
                warnings.warn(m, AcousticWarning, stacklevel=2)
        return False
