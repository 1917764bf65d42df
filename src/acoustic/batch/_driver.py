"""The batch driver: scan, hash, dispatch to workers, commit to the ledger, survey affected areas.

One driver process is the only writer of the ledger.  It

1. takes the ledger's writer lock (a second batch waits ``wait_s`` or refuses), starts the
   engine's workers (they import and warm up while the driver loads the classifier, from the
   compiled-model cache when it can, see :mod:`acoustic.classify._compiled`) and marks batches
   left ``running`` by a killed driver as ``interrupted``;
2. scans the upload folder and decides, per file, by content hash (:mod:`._scan`): unchanged
   (this path with this content was handled before: nothing to do), **new**, **duplicate**
   (the same audio and sidecar bytes already recorded under another name: one ``sightings`` row
   of kind ``duplicate`` pointing to the original, nothing recomputed), or **correction** (known
   audio with a sidecar never seen before: a late correction; the recording is reprocessed and its
   row updated in place, ``revision`` counting corrections);
3. sends new work in chunks to the engine (:mod:`._engine`) with a bounded number of tasks in
   flight (memory stays flat however many files there are) and commits each chunk's results in
   one transaction as it completes;
4. recomputes the score of every logger with new data, then runs the area -> line -> point
   survey of every affected area (with a survey folder), each committed with the removal
   of its ``pending`` mark, so a run killed between steps is finished by the next run.

A worker process that dies (a crash in a decoder, the OOM killer) breaks only its task: the pool
is restarted, the files of the failed tasks are retried one at a time, and a file that kills a
worker on its own is quarantined once a file of the same run has been processed again without
harm on the restarted engine.  Workers that keep dying, or any other task failure, are a bug or a
broken installation and stop the batch with :class:`BatchError` (nothing is quarantined for it,
so the next run retries).

Exactly once: a recording's row, its features, its detection, its sighting, the stat-cache entry
and the ``pending`` marks it causes are one transaction; the decision "new or not" is made from
committed rows only (a file whose content is still in flight waits for the next round), so
neither a crash nor duplicates inside one upload can record a content twice.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import os
import signal
import sqlite3
import time
from collections import deque
from pathlib import Path

from .._errors import AcousticError, DataError, ParameterError
from .._warnings import collect_warnings, one_line, warn
from ..ledger._db import Ledger, dumps, utc_now
from . import _store, _work
from ._engine import open_engine, resolve_workers
from ._scan import HashCache, scan_upload

__all__ = ["BatchError", "BatchInterrupted", "BatchSummary", "run_batch", "EXIT_OK", "EXIT_FAILURES"]

EXIT_OK = 0
#: Exit code of a batch that completed but quarantined at least one file.
EXIT_FAILURES = 3


#: Worker deaths in a row (with no task succeeding in between) after which the batch stops.
MAX_DEATHS_IN_A_ROW = 3
#: Warnings kept in a batch's summary (stored in the ledger's batches row); stderr gets every one.
MAX_SUMMARY_WARNINGS = 200
#: Future-dated recordings named one by one in a run; beyond, one line counts them.
MAX_FUTURE_NAMED = 20
#: Duplicate sightings committed together (one transaction each this many; a size, not a tuned value).
DUPLICATES_PER_COMMIT = 256


class BatchError(AcousticError):
    """The batch cannot go on (worker processes keep dying, a task failed unexpectedly).

    Nothing is quarantined for it: the files not yet committed are processed by the next run.
    """


class BatchInterrupted(BaseException):
    """The batch received SIGTERM or SIGINT; committed work is kept, the rest is left for the next run.

    A :class:`BaseException` (like :class:`KeyboardInterrupt`), so no ``except Exception`` on the
    way swallows it.
    """

    def __init__(self, signum: int):
        super().__init__(f"interrupted by signal {signal.Signals(signum).name}")
        self.signum = signum


@dataclasses.dataclass
class BatchSummary:
    """What one batch run did (counts are of this run)."""

    batch_id: int
    status: str
    engine: str
    files: int = 0               # recordings + stats files found in the upload folder
    unchanged: int = 0           # handled by an earlier run: nothing to do
    new: int = 0                 # recordings processed for the first time
    corrections: int = 0         # known audio with a new sidecar: reprocessed, row updated
    replaced: int = 0            # a re-sent or completed upload of a recording: its row updated, history kept
    duplicates: int = 0          # same content under another name: recorded once, not reprocessed
    matched_without_sidecar: int = 0  # a sidecar-less copy of a known recording: a sighting of it, nothing changed
    future_dated: int = 0        # start time after the batch's "now": kept, left out of nights, scores, surveys
    failed: int = 0              # quarantined (bad files) in this run
    stats_files_new: int = 0
    logger_nights_changed: int = 0
    logger_scores_updated: int = 0
    areas_surveyed: int = 0
    areas_failed: int = 0
    areas_skipped: int = 0       # fewer than two loggers with recordings in the window
    suspects_new: int = 0
    suspects_updated: int = 0
    suspects_superseded: int = 0
    detections_new: int = 0
    hashed_files: int = 0
    hash_cache_hits: int = 0
    seconds: float = 0.0                 # the whole run, s
    recordings_seconds: float = 0.0      # from the start until every recording was committed, s
    recordings_per_s: float | None = None  # (new + corrected + replaced) / recordings_seconds
    worker_seconds: dict = dataclasses.field(default_factory=dict)  # summed over workers: read, features, classify
    classification: str = ""     # the model version used, or why recordings were not classified
    survey: str = "not requested (no --survey)"
    failures: list = dataclasses.field(default_factory=list)   # [{"path", "error"}], at most 50
    warnings: list = dataclasses.field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_FAILURES if (self.failed or self.areas_failed) else EXIT_OK

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["exit_code"] = self.exit_code
        return d


def _default_model_path() -> Path | None:
    """The shipped default model folder, or None when there is none."""
    from ..classify import default_model_dir

    try:
        return Path(default_model_dir())
    except AcousticError:
        return None


class _Driver:
    def __init__(self, upload_dir, ledger_path, *, survey_dir=None, workers=None, scheduler=None,
                 model="default", wait_s=0.0, rehash=False, chunk_size=None, max_in_flight=None,
                 progress=None, recording_task=None, window_nights=7):
        self.upload_dir = Path(upload_dir)
        self.ledger_path = Path(ledger_path)
        self.survey_dir = Path(survey_dir) if survey_dir else None
        self.workers = workers
        self.scheduler = scheduler
        self.model_arg = model
        self.wait_s = float(wait_s)
        self.rehash = rehash
        self.window_nights = int(window_nights)
        self.chunk_size = chunk_size
        self.max_in_flight = max_in_flight
        self.progress = progress or (lambda event, **info: None)
        self.recording_task = recording_task or _work.process_recordings
        self.engine = None
        self.engine_used = False
        self.feature_names_seen: set = set()
        self.inflight: dict = {}          # future -> task description
        self.isolate: deque = deque()      # items to retry one at a time after a worker died
        self.t0 = time.monotonic()
        self.now = utc_now()              # the batch's "now": later start times are future-dated
        self.last_progress = 0.0
        self.last_done = -1
        self.n_queued = 0
        self.n_done = 0
        self.n_settled = 0                # files found that needed no work (unchanged, duplicate, unreadable)
        self.n_files_total = 0            # recordings + statistics files found: the stage total, fixed
        self.n_areas = 0
        self.survey_results: dict = {}    # area -> (task, result) of surveys back from the workers
        self.n_areas_done = 0
        self.deaths_in_a_row = 0
        self.known_good = None            # an item processed successfully in this run (health checks)
        self.limbo: list = []             # (task, exc): died alone, judged once the engine is shown healthy

    # -- setup ---------------------------------------------------------------------------------
    def _validate(self):
        if not self.upload_dir.exists():
            raise ParameterError(f"UPLOAD_DIR {self.upload_dir}: folder not found")
        if not self.upload_dir.is_dir():
            raise ParameterError(f"UPLOAD_DIR {self.upload_dir}: not a folder")
        if self.workers is not None and (isinstance(self.workers, bool) or not isinstance(self.workers, int)
                                         or self.workers < 0):
            raise ParameterError(f"--jobs must be 0 (in-process) or a positive number of processes, "
                                 f"got {self.workers!r}")
        _check_ledger_writable(self.ledger_path)
        if self.chunk_size is not None and self.chunk_size < 1:
            raise ParameterError(f"--chunk-size must be at least 1, got {self.chunk_size}")
        if not 1 <= self.window_nights <= 366:
            raise ParameterError(f"--window-nights must be 1 to 366 nights, got {self.window_nights}")
        if self.wait_s < 0:
            raise ParameterError(f"--wait must be a non-negative number of seconds, got {self.wait_s}")
        # model: its card and checksum are checked here (milliseconds); the model itself is loaded
        # once, by the driver, in _load_model (so workers never meet a bad model)
        self.model_path = None
        self.model_version = None
        self.model_obj = None
        self.classification = "off (--no-model)"
        if self.model_arg is not None:
            from ..classify._model import read_model_card
            from ..features import SHAPE_VERSION as FEATURES_VERSION  # the classifier's features (issue 15)

            path = _default_model_path() if self.model_arg == "default" else Path(self.model_arg)
            if path is None:
                self.classification = "off (no default model)"
                self.summary_warn("no default classifier model found (models/default); recordings are not "
                                  "classified (give --model PATH)")
            else:
                folder, card = read_model_card(path)
                trained_on = str(card["features"].get("version"))
                if trained_on != str(FEATURES_VERSION):
                    raise ParameterError(f"--model {path}: trained on features version {trained_on}, "
                                         f"this acoustic computes version {FEATURES_VERSION}; retrain the model")
                self.model_path = str(path.resolve())
                self.model_version = _work.model_version_of(folder, card)
                self.classification = self.model_version
        # survey folder: loggers and their areas
        self.area_of = None
        if self.survey_dir is not None:
            from ._survey import survey_areas_of

            self.area_of = survey_areas_of(self.survey_dir)

    def _load_model(self):
        """Load the model: from the compiled-model cache, else safely (skops, trusted types only).

        Workers get the model with their tasks when it compiles to plain arrays (exactly the same
        probabilities, see :mod:`acoustic.classify._compiled`): no worker then loads the model
        file or imports scikit-learn (~1.5 s of CPU each); otherwise each worker loads it from the
        folder once.  The safe load costs the driver 2-3 s of CPU (most of it importing
        scikit-learn); its compiled arrays are cached for the next runs, which check the model
        file's checksum and read them in milliseconds.
        """
        if self.model_path is None:
            return
        from ..classify import load_model
        from ..classify._compiled import CompiledPipeline, compile_model, load_compiled_model, save_compiled_model

        cached = load_compiled_model(self.model_path)
        if cached is not None:
            self.model_obj = cached
            return
        compiled = compile_model(load_model(self.model_path))
        if isinstance(compiled.pipeline, CompiledPipeline):
            self.model_obj = compiled
            save_compiled_model(compiled)

    def summary_warn(self, msg: str):
        self._early_warnings = getattr(self, "_early_warnings", [])
        self._early_warnings.append(msg)
        warn(msg)

    # -- engine and futures ----------------------------------------------------------------------
    def _ensure_engine(self):
        if self.engine is None:
            self.engine = open_engine(getattr(self, "n_workers", self.workers), self.scheduler)
            n = max(1, self.engine.n_workers)
            # chunks of ~0.2 s of work per task: one classifier call per chunk costs ~6 ms however
            # few rows it has (scikit-learn's per-call overhead); Dask's per-task overhead
            # (scheduler round trips) asks for larger chunks and one more task per worker in flight
            kind = self.engine.kind
            self.chunk = self.chunk_size or {"inline": 8, "process-pool": 32, "dask": 64}[kind]
            self.bound = self.max_in_flight or {"inline": 1, "process-pool": 2 * n, "dask": 3 * n}[kind]
            self.progress("engine", description=self.engine.description)
            if self.engine.kind != "inline":
                for _ in range(n):  # start and warm the workers while the driver keeps scanning
                    fut = self.engine.executor.submit(_work.warm_up)
                    self.inflight[fut] = {"type": "warm"}

    def _task_options(self) -> dict:
        """Options of a recordings task (:func:`acoustic.batch._work.process_recordings`)."""
        return {"model": self.model_path, "model_obj": self.model_obj, "now": self.now}

    def _submit(self, task: dict):
        self._ensure_engine()
        self.engine_used = True
        while len(self.inflight) >= self.bound:
            self._wait(cf.FIRST_COMPLETED)
        if task["type"] == "recordings":
            fut = self.engine.executor.submit(self.recording_task, task["items"], self._task_options())
        elif task["type"] == "stats":
            fut = self.engine.executor.submit(_work.process_stats_file, task["items"][0])
        elif task["type"] == "survey":
            fut = self.engine.executor.submit(_work.survey_area, task["payload"])
        else:  # pragma: no cover
            raise AssertionError(task["type"])
        self.inflight[fut] = task

    def _wait(self, how=cf.ALL_COMPLETED):
        if not self.inflight:
            return
        done, _ = cf.wait(list(self.inflight), timeout=None, return_when=how)
        for fut in done:
            task = self.inflight.pop(fut, None)
            if task is None:  # a future of a pool that broke and was replaced: its task is re-queued
                continue
            try:
                result = fut.result()
            except Exception as exc:
                if _is_worker_death(exc):
                    self.deaths_in_a_row += 1
                    if self.deaths_in_a_row >= MAX_DEATHS_IN_A_ROW:
                        raise self._keep_dying(exc) from None
                    self._worker_died(task, exc)
                    continue
                raise BatchError(f"a {task['type']} task failed unexpectedly ({type(exc).__name__}: "
                                 f"{one_line(exc)}); committed work is kept, run again after fixing it") from exc
            self.deaths_in_a_row = 0
            if task["type"] != "warm":
                self._handle(task, result)
        while self.isolate and not self.inflight:
            self._run_isolated(self.isolate.popleft())

    def _worker_died(self, task: dict, exc: BaseException):
        """A worker process died: retry the task's files one by one; quarantine a file that kills one alone."""
        if self.engine.kind == "process-pool":
            broken = [t for t in self.inflight.values()]
            self.inflight.clear()
            self.engine.restart()
        else:
            broken = []
        for t in [task, *broken]:
            if t["type"] == "warm":
                continue
            if t.get("isolated"):
                # it died alone: its file is to blame only if the engine is otherwise healthy, which
                # needs a file of this run that was processed successfully; until then it waits
                self.limbo.append((t, exc))
                if t["type"] != "recordings" or self.known_good is not None:
                    self._judge_limbo()
            elif t["type"] in ("recordings", "stats"):
                for it in t["items"]:
                    self.isolate.append({**t, "items": [it], "isolated": True})
            else:
                self.isolate.append({**t, "isolated": True})

    def _judge_limbo(self, final: bool = False):
        """Quarantine the files that killed a worker on their own, once the engine is shown healthy."""
        while self.limbo:
            task, exc = self.limbo[0]
            if task["type"] == "recordings" and self.known_good is None and not final:
                return
            self._check_pool_healthy(task, exc)
            self.limbo.pop(0)
            self._quarantine_dead(task, exc)

    def _check_pool_healthy(self, task: dict, exc: BaseException):
        """Is the engine healthy without this task?  Else raise :class:`BatchError` (nothing quarantined).

        For a recording, a file of this run that was processed successfully is processed again
        (result discarded) on the restarted engine: the task code and the workers work, so the
        file that died alone is to blame.  Without such a file there is no proof, and the batch stops.
        """
        keep_dying = self._keep_dying(exc)
        if task["type"] == "recordings":
            if self.known_good is None:
                raise keep_dying
            fut = self.engine.executor.submit(self.recording_task, [self.known_good], self._task_options())
        else:
            fut = self.engine.executor.submit(_work.warm_up)
        try:
            fut.result()
        except Exception as exc2:
            if not _is_worker_death(exc2):
                raise
            raise keep_dying from None
        self.deaths_in_a_row = 0

    def _keep_dying(self, exc: BaseException) -> BatchError:
        return BatchError(f"worker processes of the {self.engine.description} keep dying "
                          f"({type(exc).__name__}: {one_line(exc)}); no file was quarantined for it; "
                          "check the installation and memory, then run again")

    def _run_isolated(self, task: dict):
        self._submit(task)
        self._wait(cf.ALL_COMPLETED)

    def _quarantine_dead(self, task: dict, exc: BaseException):
        reason = f"a worker process died while processing this file ({type(exc).__name__})"
        if task["type"] == "recordings":
            it = task["items"][0]
            self._handle(task, [{**it, "status": "quarantined", "error": reason, "warnings": []}])
        elif task["type"] == "stats":
            it = task["items"][0]
            self._handle(task, {**it, "status": "quarantined", "error": reason, "warnings": [], "rows": []})
        else:
            self._handle(task, {"error": f"a worker process died while surveying ({type(exc).__name__})"})

    # -- commits ---------------------------------------------------------------------------------
    def _handle(self, task: dict, result):
        """Commit the result of one finished task (each kind in its own transaction)."""
        if task["type"] == "recordings":
            self._handle_recordings(task, result)
        elif task["type"] == "stats":
            self._handle_stats(result)
        elif task["type"] == "survey":
            # kept, and committed in the order of the areas once all are back (_survey): suspect
            # numbers do not depend on which worker finished first
            self.survey_results[task["area"]] = (task, result)
            self._area_done()
            return
        self._tick()

    def _tell(self, msg: str):
        """A warning on stderr, and in the summary while it holds fewer than :data:`MAX_SUMMARY_WARNINGS`."""
        if len(self.summary.warnings) < MAX_SUMMARY_WARNINGS:
            self.summary.warnings.append(msg)
        warn(msg)

    def _handle_recordings(self, task: dict, result: list):
        s = self.summary
        for r in result:
            timing = r.get("timing_s")
            if timing:
                for k in ("read", "features", "classify"):
                    self.timing[k] += timing[k]
        result = self._drop_changed(result)
        cache_rows = self.hashes.take_rows([p for r in result for p in r.get("hash_paths", [])])
        for r in result:
            r.pop("hash_paths", None)
            r.pop("identities", None)
        with self.led.transaction():
            c = _store.commit_recordings(self.led.conn, s.batch_id, result, cache_rows, self.area_of,
                                         self.feature_names_seen)
        s.new += c["new"]
        s.corrections += c["corrections"]
        s.replaced += c["replaced"]
        s.duplicates += c["shorter"]
        s.failed += c["quarantined"]
        s.detections_new += c["detections"]
        for r in result:
            if r.get("future_dated"):
                s.future_dated += 1
                if s.future_dated <= MAX_FUTURE_NAMED:  # each named once on stderr and in the summary; then a count
                    self._tell(next((w for w in r.get("warnings", []) if "in the future" in w), r["path"]))
        for note in c["notes"]:
            self._tell(note)
        for r in result:
            self.pending_audio.discard(r["sha256"])
            if r["status"] == "ok" and self.known_good is None:
                self.known_good = {k: r[k] for k in ("path", "sha256", "sidecar_sha256", "kind")}
                if self.limbo:
                    self._judge_limbo()
            if r["status"] != "ok":
                self._failure(r["path"], r["error"], logger_id=r.get("logger_id"))
        self.n_done += len(result)

    def _drop_changed(self, result: list) -> list:
        """Leave the files that changed between hashing and reading for the next run (nothing recorded:
        their hash and what was read of them would disagree)."""
        kept = []
        for r in result:
            if r["status"] != "changed":
                kept.append(r)
                continue
            self.pending_audio.discard(r["sha256"])
            self.hashes.take_rows(r.get("hash_paths", [r["path"]]))  # (the cache must not say the old hash either)
            self.progress("note", message=r["error"])
            self.n_done += 1
        return kept

    def _handle_stats(self, result: dict):
        s = self.summary
        if not self._drop_changed([result]):
            return
        result.pop("identities", None)
        cache_rows = self.hashes.take_rows([result["path"]])
        with self.led.transaction():
            c = _store.commit_stats_file(self.led.conn, s.batch_id, result, cache_rows)
        self.pending_audio.discard(result["sha256"])
        s.stats_files_new += 1
        s.logger_nights_changed += c["changed"]
        s.failed += c["quarantined"]
        if result["status"] != "ok":
            self._failure(result["path"], result["error"])
        for w in result.get("warnings", []):
            if "in the future" in w and len(s.warnings) < MAX_SUMMARY_WARNINGS:  # a clock problem the crew must hear of
                self._tell(w)
        self.n_done += 1

    def _area_done(self, n: int = 1):
        """One more area settled: the ``surveying areas`` stage (its total fixed when it starts)."""
        self.n_areas_done += n
        self.progress("stage", stage="surveying areas", done=self.n_areas_done, total=self.n_areas)

    def _handle_survey(self, task: dict, result: dict):
        s = self.summary
        area, night = task["area"], task["night"]
        if result.get("error"):
            if not result.get("retry"):
                with self.led.transaction():
                    _store.clear_area(self.led.conn, area)
            if result.get("skipped"):
                s.areas_skipped += 1
                self.progress("note", message=f"survey skipped: {result['error']}")
            else:
                s.areas_failed += 1
                self._failure(f"area {area}", result["error"], kind="survey failed")
            return
        with self.led.transaction():
            c = _store.commit_area_survey(self.led.conn, s.batch_id, area, night, result, result.get("params", {}),
                                          self.model_version)
        s.areas_surveyed += 1
        s.suspects_new += c["new"]
        s.suspects_updated += c["updated"]
        s.suspects_superseded += c["superseded"]
        s.detections_new += c["detections"]
        for w in result.get("warnings", [])[:20]:
            s.warnings.append(f"survey of area {area} (as of night {night}): {w}")
        self.progress("note", message=f"area {area} surveyed as of night {night}: "
                                      f"{len(result.get('points', []))} point(s); suspects {c['new']} new, "
                                      f"{c['updated']} updated, {c['superseded']} superseded")

    def _failure(self, path, error, kind="quarantined", logger_id=None):
        if len(self.summary.failures) < 50:
            self.summary.failures.append({"path": str(path), "error": error, "kind": kind, "logger_id": logger_id})
        self.progress("failure", path=str(path), error=error, kind=kind, logger_id=logger_id)

    def _tick(self, force=False):
        if self.n_files_total:
            self.progress("stage", stage="processing uploads", done=min(self.n_settled + self.n_done,
                                                                         self.n_files_total),
                          total=self.n_files_total)
        now = time.monotonic()
        if (force and self.n_done != self.last_done) or now - self.last_progress >= 1.0:
            self.last_progress = now
            self.last_done = self.n_done
            el = now - self.t0
            self.progress("progress", done=self.n_done, queued=self.n_queued, failed=self.summary.failed,
                          seconds=el, rate=self.n_done / el if el > 0 else 0.0)

    # -- the run ----------------------------------------------------------------------------------
    def run(self) -> BatchSummary:
        self._validate()
        try:
            return self._run_open()
        except sqlite3.Error as exc:
            raise DataError(_ledger_error(self.ledger_path, exc)) from None

    def _run_open(self) -> BatchSummary:
        self.led = Ledger(self.ledger_path, create=True)
        try:
            # WAL with synchronous=NORMAL: a commit is atomic and survives the process being killed;
            # a power failure may lose the last few commits, which the next run simply redoes (their
            # files are then new).  Human input (confirm, dispatch) keeps synchronous=FULL.
            self.led.conn.execute("PRAGMA synchronous=NORMAL")
            self.led.acquire_writer(wait_s=self.wait_s)
            self.found = scan_upload(self.upload_dir)
            dask = bool(self.scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS"))
            if not dask:
                n_areas = self.led.conn.execute("SELECT count(*) FROM pending WHERE kind = 'area'").fetchone()[0]
                n_files = len(self.found.recordings) + len(self.found.stats_files)
                self.n_workers, capped = resolve_workers(self.workers, n_files + (n_areas if self.survey_dir else 0))
                if capped:
                    self.summary_warn(capped)
            try:
                if self.workers != 0 or dask:
                    self._ensure_engine()  # workers start and warm up while the driver loads the model
                self._load_model()
            except BaseException:
                if self.engine is not None:
                    self.engine.close(cancel=True)
                raise
            return self._run_locked()
        finally:
            self.led.close()

    def _run_locked(self) -> BatchSummary:
        conn = self.led.conn
        with self.led.transaction():
            _store.ensure_history(conn)
            conn.execute("UPDATE batches SET status = 'interrupted', finished_utc = ? WHERE status = 'running'",
                         (utc_now(),))
            params = {"survey_dir": str(self.survey_dir) if self.survey_dir else None,
                      "model": self.model_version, "workers": self.workers,
                      "scheduler": self.scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")}
            batch_id = conn.execute("INSERT INTO batches(started_utc, upload_dir, status, params_json) "
                                    "VALUES (?, ?, 'running', ?)",
                                    (utc_now(), str(self.upload_dir.resolve()), dumps(params))).lastrowid
        self.summary = BatchSummary(batch_id=batch_id, status="running", engine="none (nothing new)")
        self.summary.warnings.extend(getattr(self, "_early_warnings", []))
        self.summary.classification = self.classification
        self.hashes = HashCache(conn, rehash=self.rehash)
        self.pending_audio: set = set()
        self.timing = {"read": 0.0, "features": 0.0, "classify": 0.0}
        old_handlers = _install_signal_handlers()
        status = "interrupted"
        try:
            self._process_uploads()
            self._score_loggers()
            self._survey()
            self._wait()
            status = "completed_with_failures" if self.summary.exit_code else "completed"
        finally:
            _restore_signal_handlers(old_handlers)
            if self.engine is not None:
                self.engine.close(cancel=status == "interrupted")
                if self.engine_used:  # started early, but given nothing to do: "none (nothing new)"
                    self.summary.engine = self.engine.description
            try:
                self._finish(status)
            except sqlite3.Error:  # the ledger broke (disk full, read-only): the error on the way out says so
                if status != "interrupted":
                    raise
        return self.summary

    def _finish(self, status: str):
        s = self.summary
        s.status = status
        s.seconds = time.monotonic() - self.t0
        n_rec = s.new + s.corrections + s.replaced
        s.recordings_seconds = getattr(self, "recordings_seconds", s.seconds)
        s.recordings_per_s = (n_rec / s.recordings_seconds) if n_rec and s.recordings_seconds > 0 else None
        s.hashed_files, s.hash_cache_hits = self.hashes.n_hashed, self.hashes.n_cached
        s.worker_seconds = {k: round(v, 3) for k, v in self.timing.items()}
        with self.led.transaction():
            self.led.conn.execute(
                "UPDATE batches SET finished_utc = ?, status = ?, n_files = ?, n_new = ?, n_failed = ?, n_suspects = ?, "
                "n_duplicates = ?, n_corrections = ?, summary_json = ? WHERE id = ?",
                (utc_now(), status, s.files, s.new, s.failed, s.suspects_new, s.duplicates, s.corrections,
                 dumps({k: v for k, v in s.as_dict().items() if k not in ("failures",)}), s.batch_id))

    def _process_uploads(self):
        """Scan results -> ledger: what cannot be read, the statistics files, then the recordings."""
        self._report_scan()
        dups: list[dict] = []
        self._process_stats_files(dups)
        self._process_recordings(dups)
        self._commit_dups(dups)
        self._wait()
        self._judge_limbo(final=True)
        if self.summary.future_dated > MAX_FUTURE_NAMED:
            self._tell(f"{self.summary.future_dated} recordings in all start in the future (the first "
                       f"{MAX_FUTURE_NAMED} are named above); they are kept but left out of nights, logger scores "
                       "and surveys")
        self.recordings_seconds = time.monotonic() - self.t0
        self._tick(force=True)
        rest = self.hashes.take_all()  # cache entries of unchanged files (e.g. after a touch)
        if rest:
            with self.led.transaction():
                _store._write_cache(self.led.conn, rest)

    def _report_scan(self):
        """Say what the scan found; quarantine the files whose names the ledger cannot hold."""
        from ..io import display_path

        found = self.found
        if found.skipped:
            self.progress("note", message=f"skipped {len(found.skipped)} hidden or partial upload(s) "
                                          "(.part/.tmp or names starting with '.')")
        self.summary.files = len(found.recordings) + len(found.stats_files) + len(found.bad_names)
        self.progress("scan", recordings=len(found.recordings), stats_files=len(found.stats_files))
        # one stage over every file found, its total fixed here: a file counts when it is settled (no work
        # needed) or its result committed (the queue's size, learned on the way, is not a denominator)
        self.n_files_total = len(found.recordings) + len(found.stats_files)
        self._tick()
        for folder, why in found.unreadable_dirs:
            self._tell(f"{display_path(folder)}: folder cannot be read ({why}); the uploads in it are not "
                       "processed until it can be")
        for path in found.bad_names:  # the ledger holds paths as text: such a file is reported on its own
            table = "stats_files" if path.name.lower().endswith(".csv") else "recordings"
            self._unreadable(path, "file name is not valid UTF-8 (undecodable bytes shown as \\xNN); rename "
                                   "it in UTF-8 to have it processed", table=table)

    def _process_stats_files(self, dups: list):
        """Statistics files: small, one task each; a copy of one still in flight waits for it."""
        todo = list(self.found.stats_files)
        while todo:
            deferred = []
            for path in todo:
                what = self._classify_stats(path, dups)
                if what == "defer":
                    deferred.append(path)
                elif what is None:
                    self.n_settled += 1
            if deferred:
                self._wait()
                self._judge_limbo(final=True)
                if deferred == todo:  # pragma: no cover - a bug, not an input problem
                    raise BatchError(f"no progress on {len(deferred)} statistics file(s) waiting for their copies")
            todo = deferred

    def _process_recordings(self, dups: list):
        """Recordings, in rounds: a file whose audio is already in flight waits for the next round."""
        todo = list(self.found.recordings)
        while todo:
            deferred = []
            chunk: list[dict] = []
            in_round: set = set()
            for path in todo:
                item = self._classify_recording(path, in_round, dups)
                if item == "defer":
                    deferred.append(path)
                elif item is None:
                    self.n_settled += 1
                else:
                    in_round.add(item["sha256"])
                    self.pending_audio.add(item["sha256"])
                    chunk.append(item)
                    self.n_queued += 1
                    if len(chunk) >= self._chunk_len():
                        self._submit({"type": "recordings", "items": chunk})
                        chunk = []
                if len(dups) >= DUPLICATES_PER_COMMIT:
                    self._commit_dups(dups)
                self._tick()
            if chunk:
                self._submit({"type": "recordings", "items": chunk})
            self._wait()
            self._judge_limbo(final=True)
            if deferred and deferred == todo:  # pragma: no cover - a bug, not an input problem
                raise BatchError(f"no progress on {len(deferred)} recording(s) waiting for their copies")
            todo = deferred

    def _chunk_len(self) -> int:
        self._ensure_engine()
        return self.chunk

    def _commit_dups(self, dups: list[dict]):
        if not dups:
            return
        rows = self.hashes.take_rows([p for d in dups for p in d.get("hash_paths", [d["path"]])])
        with self.led.transaction():
            n = _store.commit_duplicates(self.led.conn, self.summary.batch_id, dups, rows)
        matched = [d for d in dups if d.get("matched")]
        self.summary.duplicates += n - len(matched)
        self.summary.matched_without_sidecar += len(matched)
        for d in matched:
            _rid, _st, _side, orig, logger_id, start = d["matched"]
            self._tell(f"{d['path']}: no sidecar; the same audio as {orig} (logger {logger_id}, start {start}): "
                       "matched to that recording, which keeps its sidecar's logger, start time and night (nothing "
                       "was changed)")
        dups.clear()

    def _classify_stats(self, path: Path, dups: list):
        """Submit a new stats file, record a duplicate, or say 'defer' (a copy is in flight)."""
        conn = self.led.conn
        try:
            sha = self.hashes.sha256(path)
        except FileNotFoundError:
            self.progress("note", message=f"{path} vanished during the scan; left for the next run")
            return None
        except AcousticError as exc:  # a FIFO, device or directory: never read
            self._unreadable(path, one_line(exc), table="stats_files")
            return None
        except OSError as exc:
            self._unreadable(path, f"cannot read the file ({exc.strerror or exc})", table="stats_files")
            return None
        if conn.execute("SELECT 1 FROM sightings WHERE path = ? AND sha256 = ? AND sidecar_sha256 = ''",
                        (str(path), sha)).fetchone():
            self.summary.unchanged += 1
        elif sha in self.pending_audio:
            return "defer"
        elif conn.execute("SELECT 1 FROM stats_files WHERE sha256 = ?", (sha,)).fetchone():
            dups.append({"table": "stats_files", "path": str(path), "sha256": sha})
        else:
            self.pending_audio.add(sha)
            self.n_queued += 1
            self._submit({"type": "stats", "items": [{"path": str(path), "sha256": sha, "now": self.now,
                                                      "identities": {str(path): self.hashes.identities.get(str(path))}}]})
            return "queued"
        return None

    def _classify_recording(self, path: Path, in_round: set, dups: list):
        """Decide what a recording file is: None (unchanged, duplicate or matched), 'defer', or a work item.

        - this path with this audio and sidecar was handled before: unchanged;
        - audio never seen: new (a re-sent or completed upload of a known recording is found when
          its result is committed, by logger and start time or by path: :func:`._store.commit_recordings`);
        - audio known as a quarantined file, at another path: its own entry (a second logger's
          identical empty or corrupt upload is reported under its own name, not as a duplicate);
        - audio and sidecar known: a duplicate (one sighting, nothing recomputed);
        - audio known with a sidecar, this copy has none: matched to that recording, nothing changed
          and nothing inherited (a copy without its sidecar is not a correction);
        - audio known, sidecar new: a late correction (reprocessed, the row updated).
        """
        conn = self.led.conn
        from ..io import sidecar_path

        side = sidecar_path(path)
        try:
            a = self.hashes.sha256(path)
            s = self.hashes.sha256(side, what="sidecar") if os.path.lexists(side) else ""
        except FileNotFoundError:  # renamed or removed since the scan: the next run sees it as it is then
            self.progress("note", message=f"{path} vanished during the scan; left for the next run")
            return None
        except AcousticError as exc:  # the audio or its sidecar is a FIFO, device or directory: never read
            self._unreadable(path, one_line(exc), table="recordings")
            return None
        except OSError as exc:
            self._unreadable(path, f"cannot read the file ({exc.strerror or exc})", table="recordings")
            return None
        hash_paths = [str(path)] + ([str(side)] if s else [])
        # what the hashes were taken of: the worker refuses to record a file that changed since
        identities = {str(path): self.hashes.identities.get(str(path)),
                      str(side): self.hashes.identities.get(str(side)) if s else None}
        if conn.execute("SELECT 1 FROM sightings WHERE path = ? AND sha256 = ? AND sidecar_sha256 = ?",
                        (str(path), a, s)).fetchone():
            self.summary.unchanged += 1
            return None
        if a in in_round or a in self.pending_audio:
            return "defer"
        known = conn.execute("SELECT id, status, sidecar_sha256, path, logger_id, start_time FROM recordings "
                             "WHERE sha256 = ?", (a,)).fetchone()
        item = {"path": str(path), "sha256": a, "sidecar_sha256": s, "kind": "new", "hash_paths": hash_paths,
                "identities": identities}
        if not known:
            return item
        if known[1] != "ok" and known[3] != str(path):
            # the same bytes were quarantined under another name: this file gets its own entry
            return {**item, "row_key": _path_keyed(a, path)}
        if not s and known[2]:
            dups.append({"table": "recordings", "path": str(path), "sha256": a, "sidecar_sha256": s,
                         "hash_paths": hash_paths, "matched": known})
            return None
        if conn.execute("SELECT 1 FROM sightings WHERE sha256 = ? AND sidecar_sha256 = ?", (a, s)).fetchone():
            dups.append({"table": "recordings", "path": str(path), "sha256": a, "sidecar_sha256": s,
                         "hash_paths": hash_paths})
            return None
        other = self._other_loggers_copy(path, side, a, known)
        if other:  # the same audio under another logger's sidecar: not a correction of the first
            self._unreadable(path, other, table="recordings", key=_path_keyed(a, path))
            return None
        return {**item, "kind": "correction"}

    def _other_loggers_copy(self, path: Path, side: Path, audio_sha: str, known) -> str | None:
        """Why a new sidecar for known audio, found under another path, is no correction: it names
        another logger than the recording has (identical audio from two loggers cannot both be right).
        None when it is a correction (same path as a sighting, same logger, or no logger known)."""
        if known[4] is None or self.led.conn.execute("SELECT 1 FROM sightings WHERE sha256 = ? AND path = ?",
                                                     (audio_sha, str(path))).fetchone():
            return None
        from ..io import read_sidecar

        try:
            with collect_warnings(foreign="ignore"):
                logger = read_sidecar(side)["sensor_id"]
        except AcousticError:
            return None  # a broken sidecar: the correction's processing quarantines it with the reason
        if logger == known[4]:
            return None
        return (f"the same audio as {known[3]} (logger {known[4]}) with a sidecar naming logger {logger}: not used; "
                "correct the sidecar of the copy that is wrong")

    def _unreadable(self, path: Path, reason: str, *, table: str, key: str | None = None):
        """A file quarantined without being processed (special file, unreadable, name not UTF-8, another
        logger's copy): under a key derived from its path (its bytes, for a name that is not UTF-8),
        reported once."""
        from ..io import display_path

        key = key or _path_keyed("unreadable", path)
        conn = self.led.conn
        if conn.execute(f"SELECT 1 FROM {table} WHERE sha256 = ?", (key,)).fetchone():
            self.summary.unchanged += 1
            return
        shown = display_path(path)
        if table == "recordings":
            item = {"path": shown, "sha256": key, "sidecar_sha256": "", "kind": "new",
                    "status": "quarantined", "error": reason, "warnings": []}
            with self.led.transaction():
                _store.commit_recordings(conn, self.summary.batch_id, [item], [], self.area_of, self.feature_names_seen)
        else:
            item = {"path": shown, "sha256": key, "status": "quarantined", "error": reason, "warnings": [], "rows": []}
            with self.led.transaction():
                _store.commit_stats_file(conn, self.summary.batch_id, item, [])
        self.summary.failed += 1
        self._failure(shown, reason)

    # -- loggers and areas ----------------------------------------------------------------------
    def _score_loggers(self):
        from ._loggers import score_pending_loggers

        conn = self.led.conn
        pending = [r[0] for r in conn.execute("SELECT key FROM pending WHERE kind = 'logger' ORDER BY key")]
        if not pending:
            return
        self.progress("note", message=f"scoring {len(pending)} logger(s)")
        self.progress("stage", stage="scoring loggers", done=0, total=len(pending))
        for i in range(0, len(pending), 200):
            part = pending[i:i + 200]
            nights, scores = score_pending_loggers(conn, part, self.area_of)
            with self.led.transaction():
                self.summary.logger_scores_updated += _store.commit_logger_scores(
                    conn, self.summary.batch_id, scores, nights, part)
            self.progress("stage", stage="scoring loggers", done=i + len(part), total=len(pending))

    def _warn_unknown_loggers(self):
        rows = self.led.conn.execute("SELECT DISTINCT logger_id FROM recordings WHERE batch_id = ? AND status = 'ok'",
                                     (self.summary.batch_id,)).fetchall()
        unknown = sorted(r[0] for r in rows if r[0] not in self.area_of)
        if unknown:
            self._tell(_unknown_loggers_message(unknown))

    def _survey(self):
        conn = self.led.conn
        pending = [r[0] for r in conn.execute("SELECT key FROM pending WHERE kind = 'area' ORDER BY key")]
        if self.survey_dir is None:
            if pending:
                self.summary.survey = f"not run: {len(pending)} area(s) wait for a run with --survey"
            return
        if not pending:
            self.summary.survey = "nothing to survey (no new recordings in the survey's areas)"
            self._warn_unknown_loggers()
            return
        from ._survey import survey_task

        self.summary.survey = f"{len(pending)} area(s), {self.window_nights} night window"
        self._warn_unknown_loggers()
        self.progress("note", message=f"surveying {len(pending)} area(s)")
        self.n_areas = len(pending)
        self._area_done(0)
        for area in pending:
            payload = survey_task(conn, self.survey_dir, self.area_of, area, self.model_path, self.window_nights)
            if payload is None:
                with self.led.transaction():
                    _store.clear_area(conn, area)
                self._area_done()
                continue
            self._submit({"type": "survey", "area": area, "night": payload["night"], "payload": payload})
        self._wait()
        for area in pending:
            if area in self.survey_results:
                self._handle_survey(*self.survey_results.pop(area))


def _unknown_loggers_message(unknown: list[str]) -> str:
    listed = ", ".join(unknown[:10]) + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
    return (f"{len(unknown)} logger(s) with new recordings are not in the survey's loggers.csv and are not "
            f"surveyed: {listed}")


def _check_ledger_writable(path: Path) -> None:
    """The batch writes the ledger, its WAL journal and its lock file beside it: a read-only file,
    folder or mount is said so up front (SQLite would call it "unable to open database file")."""
    from ..io import require_regular_file

    folder = path.parent if str(path.parent) else Path(".")
    require_regular_file(path, what="ledger", error=DataError, missing_ok=True)  # (a FIFO would block SQLite)
    if not folder.is_dir():
        raise DataError(f"--ledger {path}: folder {folder} not found")
    if (path.exists() and not os.access(path, os.W_OK)) or not os.access(folder, os.W_OK):
        where = path if path.exists() and not os.access(path, os.W_OK) else folder
        raise DataError(f"--ledger {path}: {where} is read-only (file, folder or mount); the batch writes the ledger "
                        "and its journal and lock files beside it")


def _path_keyed(prefix: str, path) -> str:
    """A ledger key for a file known by its path, not its content: ``prefix:`` + SHA-256 of the path's bytes."""
    import hashlib

    return f"{prefix}:" + hashlib.sha256(os.fsencode(str(path))).hexdigest()


def _ledger_error(path, exc: sqlite3.Error) -> str:
    """An SQLite error of the batch as one line naming the ledger and what to do."""
    text = one_line(exc)
    low = text.lower()
    if "readonly" in low or "read-only" in low:
        why = "it is read-only (file, folder or mount); the batch needs to write it"
    elif "disk is full" in low or "disk i/o" in low:
        why = f"the disk is full or failing ({text})"
    elif "no such table" in low or "no such column" in low or "malformed" in low or "not a database" in low:
        why = f"it is damaged or not a ledger ({text})"
    elif "locked" in low or "busy" in low:
        why = f"another program holds it ({text})"
    else:
        why = text
    return f"{path}: the ledger cannot be used: {why}; work committed before is kept, run again after fixing it"


def _is_worker_death(exc: BaseException) -> bool:
    from concurrent.futures.process import BrokenProcessPool

    if isinstance(exc, BrokenProcessPool):
        return True
    return type(exc).__name__ == "KilledWorker"


def _raise_interrupt(signum, frame):
    raise BatchInterrupted(signum)


def _install_signal_handlers():
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None
    old = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        old[sig] = signal.signal(sig, _raise_interrupt)
    return old


def _restore_signal_handlers(old):
    if old:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def run_batch(upload_dir, ledger_path, *, survey_dir=None, workers: int | None = None, scheduler: str | None = None,
              model="default", wait_s: float = 0.0, rehash: bool = False, chunk_size: int | None = None,
              max_in_flight: int | None = None, window_nights: int = 7, progress=None,
              _recording_task=None) -> BatchSummary:
    """Process what is new in an upload folder into the ledger.

    Parameters
    ----------
    upload_dir : str or Path
        Folder of recordings (WAV/FLAC with sidecars, any depth) and ``*stats.csv`` files.
    ledger_path : str or Path
        The SQLite ledger (created if missing).
    survey_dir : str or Path, optional
        A survey folder (network, ``loggers.csv`` with areas): its areas touched by new recordings
        are surveyed (area -> line -> point) and the results written as suspects.
    workers : int, optional
        Worker processes (default: CPUs available; 0 = in-process).
    scheduler : str, optional
        Dask scheduler address (else ``DASK_SCHEDULER_ADDRESS``); overrides ``workers``.
    model : str, Path or None, default "default"
        Classifier model folder; ``"default"`` uses the shipped default model; None disables
        classification.
    wait_s : float, default 0
        Seconds to wait for another batch holding the ledger; 0 refuses at once.
    rehash : bool, default False
        Hash every file again instead of trusting the (size, mtime) stat cache.
    chunk_size : int, optional
        Recordings per worker task (default 32 on a process pool, 64 on Dask, 8 in-process).
    max_in_flight : int, optional
        Tasks submitted but not yet committed (default 2 per worker, 3 on Dask): bounds memory.
    window_nights : int, default 7
        An affected area is surveyed with its recordings of this many nights up to its latest.
    progress : callable, optional
        ``progress(event, **info)`` with events ``engine``, ``scan``, ``progress``, ``failure``, ``note``,
        and ``stage`` (``stage``, ``done``, ``total``: ``processing uploads`` over every file found,
        ``scoring loggers``, ``surveying areas``; each total is fixed when its stage starts).
    _recording_task : callable, optional
        Replaces :func:`acoustic.batch._work.process_recordings` (same signature; tests inject
        faults such as a worker process that dies).

    Returns
    -------
    BatchSummary

    Raises
    ------
    LedgerBusyError
        Another batch holds the ledger (after ``wait_s``).
    BatchInterrupted
        SIGTERM/SIGINT: committed work is kept and the batch row says ``interrupted``.
    ParameterError, DataError, ModelError
        Unusable folder, survey folder or model.
    """
    return _Driver(upload_dir, ledger_path, survey_dir=survey_dir, workers=workers, scheduler=scheduler, model=model,
                   wait_s=wait_s, rehash=rehash, chunk_size=chunk_size, max_in_flight=max_in_flight,
                   window_nights=window_nights, progress=progress, recording_task=_recording_task).run()
