"""Where batch work runs: in-process, a spawn process pool, or a Dask cluster.

All three are :class:`concurrent.futures.Executor` s, so the driver is the same for each:

- ``workers=0``: in the driver process, one task at a time (debugging, tiny folders);
- ``workers=N`` (default: the number of CPUs): the standard library's
  :class:`~concurrent.futures.ProcessPoolExecutor` with the **spawn** start method (numba's
  OpenMP threading layer and BLAS thread pools are not fork-safe), each worker limited to one
  numba/BLAS/OpenMP thread so N workers use N cores;
- ``scheduler=ADDRESS`` (or ``DASK_SCHEDULER_ADDRESS``): ``distributed.Client(ADDRESS).get_executor()``
  sends the same task functions to a Dask cluster (whose workers must have ``acoustic``
  installed).  Dask worker processes start with the spawn method by default.

Workers are pure: a task gets paths and options, returns plain data, and never writes the
ledger or any HDF5 file; the driver is the only writer.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import os

from .._errors import ParameterError

__all__ = ["Engine", "available_cpus", "check_scheduler_address", "open_engine", "resolve_workers",
           "single_thread_env", "THREAD_ENV_VARS"]

#: Environment variables that cap numba, OpenMP and BLAS threads in a worker process.
THREAD_ENV_VARS = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                   "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def single_thread_env() -> None:
    """Limit this process to one numba / OpenMP / BLAS thread.

    Called as the process-pool initializer (before numpy or numba is imported in the worker)
    and again at the start of every task (for Dask workers, which have no initializer); when
    numba is already loaded, its thread count is lowered with ``numba.set_num_threads``.
    """
    import sys

    numba_loaded = "numba" in sys.modules
    for var in THREAD_ENV_VARS:
        # once numba has started its threads it re-reads NUMBA_NUM_THREADS on every config
        # reload and refuses a value different from its pool size: lower it through the API only
        if not (numba_loaded and var == "NUMBA_NUM_THREADS"):
            os.environ[var] = "1"
    if numba_loaded:
        try:
            import numba

            if numba.get_num_threads() != 1:
                numba.set_num_threads(1)
        except Exception:  # pragma: no cover - numba without a threading layer
            pass


class InlineExecutor(cf.Executor):
    """Runs each task at submission, in this process (``workers=0``)."""

    def submit(self, fn, /, *args, **kwargs):
        fut: cf.Future = cf.Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except Exception as exc:  # handed to the caller through the future; interrupts propagate
            fut.set_exception(exc)
        return fut


@dataclasses.dataclass
class Engine:
    """An executor plus what the driver needs to know about it."""

    executor: cf.Executor
    kind: str              # "inline", "process-pool" or "dask"
    n_workers: int
    description: str
    client: object = None  # the distributed.Client for Dask

    def restart(self) -> None:
        """Replace a broken process pool by a fresh one (after a worker process died)."""
        if self.kind != "process-pool":
            return
        try:
            self.executor.shutdown(wait=False, cancel_futures=True)
        except Exception:  # pragma: no cover
            pass
        self.executor = _process_pool(self.n_workers)

    def close(self, *, cancel: bool = False) -> None:
        try:
            self.executor.shutdown(wait=not cancel, cancel_futures=cancel)
        except TypeError:  # Dask's ClientExecutor has no cancel_futures
            self.executor.shutdown(wait=not cancel)
        if self.client is not None:
            try:
                self.client.close()
            except Exception:  # pragma: no cover
                pass


def _pool_worker_init(parent_pid: int) -> None:
    """Initializer of a process-pool worker: one thread, and die with the driver.

    A driver killed with SIGKILL cannot shut its pool down; without this its workers would wait
    for work forever.  On Linux the kernel sends the worker SIGKILL when the driver dies
    (``PR_SET_PDEATHSIG``); elsewhere a watchdog thread checks the parent every second.
    """
    single_thread_env()
    import sys

    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG = 1, SIGKILL = 9
        except (OSError, AttributeError):  # pragma: no cover
            pass
        if os.getppid() != parent_pid:  # the driver died before prctl took effect
            os._exit(1)
        return
    import threading  # pragma: no cover - not Linux
    import time

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="acoustic-parent-watch").start()


def _process_pool(n: int) -> cf.ProcessPoolExecutor:
    import multiprocessing

    return cf.ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"),
                                  initializer=_pool_worker_init, initargs=(os.getpid(),))


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def resolve_workers(requested: int | None, n_tasks: int, cpus: int | None = None) -> tuple[int, str | None]:
    """The number of worker processes to start, and a warning when the request was lowered.

    More processes than CPUs only compete for them (each worker is one thread), and more than
    there are files (plus pending area surveys) only start, import and wait.

    Parameters
    ----------
    requested : int or None
        ``--jobs`` (None: as many as useful; 0: in-process).
    n_tasks : int
        Files found plus area surveys pending: the most work that can run at once.
    cpus : int, optional
        CPUs available (default :func:`available_cpus`).

    Returns
    -------
    (int, str or None)

    Raises
    ------
    ParameterError
        A negative ``requested``.

    Examples
    --------
    >>> resolve_workers(1000, 2, cpus=8)
    (2, '--jobs 1000 is more than useful here (8 CPU(s) available, 2 file(s) or survey(s) to process); using 2')
    >>> resolve_workers(None, 500, cpus=4)
    (4, None)
    """
    cpus = available_cpus() if cpus is None else cpus
    if requested is not None and (isinstance(requested, bool) or requested < 0):
        raise ParameterError(f"--jobs must be 0 (in-process) or a positive number of processes, got {requested}")
    if requested == 0:
        return 0, None
    cap = max(1, min(cpus, n_tasks))
    if requested is None:
        return cap, None
    if requested > cap:
        return cap, (f"--jobs {requested} is more than useful here ({cpus} CPU(s) available, {n_tasks} file(s) "
                     f"or survey(s) to process); using {cap}")
    return requested, None


def check_scheduler_address(address: str, *, source: str = "--scheduler") -> str:
    """Check the form of a Dask scheduler address before connecting (``[tcp://]HOST:PORT``).

    ``distributed.Client`` given a malformed address fails half-built, and its finaliser then
    waits 20 s and prints a ``TimeoutError`` traceback after the error; checking the form first
    keeps the error one line.

    Raises
    ------
    ParameterError
        Not ``[scheme://]host:port`` with a known scheme and a port of 1-65535.
    """
    text = str(address).strip()
    scheme, sep, loc = text.rpartition("://")
    scheme = scheme if sep else "tcp"
    host, colon, port = loc.rpartition(":")
    if host.startswith("[") and host.endswith("]"):  # [IPv6]
        host = host[1:-1]
    ok = (scheme in _SCHEDULER_SCHEMES and colon and host and port.isdigit() and 1 <= int(port) <= 65535
          and not any(c.isspace() for c in host))
    if not ok:
        raise ParameterError(f"{source} {address}: not a Dask scheduler address (expected "
                             f"[{'|'.join(_SCHEDULER_SCHEMES)}://]HOST:PORT, e.g. tcp://10.0.0.5:8786)")
    return text


#: Address schemes of distributed's network transports (``inproc`` is in-process only).
_SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss")


def open_engine(workers: int | None = None, scheduler: str | None = None, *,
                connect_timeout_s: float = 10.0) -> Engine:
    """Create the executor for a batch.

    Parameters
    ----------
    workers : int, optional
        Number of worker processes for the local pool; 0 runs in-process; ``None`` uses the
        number of CPUs available to this process.  Ignored with a Dask scheduler (the cluster
        decides).
    scheduler : str, optional
        Address of a Dask scheduler (``tcp://host:8786``); ``None`` also consults the
        ``DASK_SCHEDULER_ADDRESS`` environment variable.
    connect_timeout_s : float, default 10
        How long to try to reach the Dask scheduler, s.

    Raises
    ------
    ParameterError
        Negative ``workers``; the Dask scheduler cannot be reached or ``distributed`` is missing.
    """
    source = "--scheduler" if scheduler else "DASK_SCHEDULER_ADDRESS"
    scheduler = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS") or None
    if scheduler:
        check_scheduler_address(scheduler, source=source)
        try:
            from distributed import Client
        except ImportError:
            raise ParameterError("--scheduler needs the optional package distributed; "
                                 "install acoustic[scale]") from None
        try:
            client = Client(scheduler, timeout=f"{connect_timeout_s}s", set_as_default=False)
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            raise ParameterError(f"{source} {scheduler}: cannot reach the Dask scheduler "
                                 f"({type(exc).__name__}: {exc})") from None
        n = len(client.scheduler_info().get("workers", {}))
        ex = client.get_executor(pure=False)
        return Engine(ex, "dask", n, f"Dask cluster at {scheduler} ({n} workers)", client=client)
    if workers is None:
        workers = available_cpus()
    if workers < 0:
        raise ParameterError(f"--jobs must be 0 (in-process) or a positive number of processes, got {workers}")
    if workers == 0:
        return Engine(InlineExecutor(), "inline", 0, "in-process (no workers)")
    return Engine(_process_pool(workers), "process-pool", workers,
                  f"process pool ({workers} spawn worker{'s' if workers != 1 else ''}, 1 thread each)")
