"""Batch throughput and memory: ``acoustic batch run`` over N simulated 10 s, 8 kHz recordings.

What is measured (each batch is a real ``acoustic batch run ... --json`` subprocess on a fresh ledger):

- recordings per second with 1 and 2 process-pool workers, and on a 2-worker Dask
  ``LocalCluster`` (processes, 1 thread each), including process start-up, hashing, the ledger
  commits and the logger scores (``recordings_per_s`` of the summary counts from the start of
  the run until the last recording is committed; the wall time of the whole command is shown too);
- the per-recording floor measured in this run: reading the file (``acoustic.io.read_recording``)
  plus one STFT with the feature extractor's framing (``scipy.fft.rfft`` of the windowed frames), in one
  process; the floor for k workers is k times that rate (perfect scaling, no features, no ledger);
- peak resident memory of the driver and of all its workers (psutil, sampled every 0.2 s) at
  several N with 2 workers: bounded in-flight work keeps it flat as N grows.

Before the timed runs the model is put in the compiled-model cache (``acoustic.classify._compiled``),
as the first nightly run with a model does: every timed run then starts like a nightly run on a
machine that has used the model before.

The upload folder is made once and cached (``--cache``, default ``$TMPDIR/acoustic-bench-batch``):
``--pool`` distinct simulated recordings (leak at 5-300 m on several materials, traffic, pump, PRV,
consumption, hum, quiet; hydrophones and accelerometers) each written many times with an
independent -40 dB noise floor added, so every file has different content (a new hash) and
realistic spectra; 500 loggers, one recording per logger per night.  10,000 files of 10 s at
8 kHz PCM16 take 1.6 GB: the script checks the free space and scales N down if needed (saying so).

Run: ``.venv/bin/python bench/batch.py [--n 10000] [--sizes 1000,3000] [--skip-dask] [--no-model]``;
writes bench/results/batch.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ACOUSTIC = str(Path(sys.executable).with_name("acoustic"))
RATE_HZ = 8000.0
DURATION_S = 10.0
BYTES_PER_FILE = int(RATE_HZ * DURATION_S) * 2 + 44 + 200  # PCM16 + header + sidecar
N_LOGGERS = 500
GOAL_2_WORKERS = 300.0


# -- the upload folder ------------------------------------------------------------------------
def _base_recording(i: int):
    from acoustic.simulate import simulate_recording

    rng = np.random.default_rng(1000 + i)
    materials = ["ductile_iron", "cast_iron", "pvc", "pe", "steel", "asbestos_cement"]
    kinds = [None, ("traffic",), ("pump",), ("prv",), ("consumption",), ("hum",), ("quiet",)]
    leak = i % 2 == 0
    noises = () if leak else kinds[1 + (i // 2) % (len(kinds) - 1)]
    if leak and rng.random() < 0.4:
        noises = (str(rng.choice(["traffic", "hum", "consumption"])),)
    sim = simulate_recording(leak_distance_m=float(rng.uniform(5, 300)) if leak else None,
                             material=materials[i % len(materials)], sample_rate_hz=RATE_HZ,
                             duration_s=DURATION_S, sensor_kind="accelerometer" if i % 3 == 0 else "hydrophone",
                             noises=noises, seed=int(rng.integers(1 << 31)))
    return sim.recording


def _make_base(args):
    """Worker: simulate base recording i and keep it as .npy + header (once per cache)."""
    folder, i = args
    out = Path(folder) / f"base_{i:04d}.npy"
    if not out.exists():
        rec = _base_recording(i)
        np.save(out.with_suffix(".tmp.npy"), rec.samples)
        out.with_suffix(".json").write_text(json.dumps({"sensor_kind": rec.sensor_kind, "gain_db": rec.gain_db}))
        os.replace(out.with_suffix(".tmp.npy"), out)
    return i


def _write_part(args):
    """Worker: write files [lo, hi), each a base recording plus its own -40 dB noise floor."""
    folder, bases_dir, lo, hi, pool = args
    import warnings

    from acoustic import AcousticWarning
    from acoustic.io import write_recording
    from acoustic.recording import Recording

    warnings.simplefilter("ignore", AcousticWarning)
    bases = {}
    t0 = datetime(2026, 9, 1, 2, 0, 0, tzinfo=timezone.utc)
    for k in range(lo, hi):
        b = k % pool
        if b not in bases:
            f = Path(bases_dir) / f"base_{b:04d}.npy"
            bases[b] = (np.load(f), json.loads(f.with_suffix(".json").read_text()))
        x0, meta = bases[b]
        rng = np.random.default_rng(k)
        x = np.clip(x0 + 10 ** (-40 / 20) * np.std(x0) * rng.standard_normal(x0.size), -1.0, 1.0)
        logger, night = k % N_LOGGERS, k // N_LOGGERS
        rec = Recording(x, RATE_HZ, sensor_id=f"L{logger:04d}", sensor_kind=meta["sensor_kind"],
                        gain_db=meta["gain_db"],
                        start_time=t0 + timedelta(days=night, seconds=float(rng.uniform(0, 7200))))
        write_recording(rec, Path(folder) / f"part-{k // 500:03d}" / f"L{logger:04d}_{k:06d}.wav")
    return hi - lo


def make_uploads(cache: Path, n: int, pool: int) -> Path:
    folder = cache / f"uploads-{n}-pool{pool}"
    done = folder / ".complete"
    if done.exists():
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    bases_dir = cache / f"bases-pool{pool}"
    bases_dir.mkdir(exist_ok=True)
    import concurrent.futures as cf
    import multiprocessing

    t = time.perf_counter()
    with cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as ex:
        list(ex.map(_make_base, [(str(bases_dir), i) for i in range(pool)], chunksize=8))
        print(f"  simulated {pool} base recordings ({time.perf_counter() - t:.0f} s)", file=sys.stderr)
        step = 500
        jobs = [(str(folder), str(bases_dir), lo, min(lo + step, n), pool) for lo in range(0, n, step)]
        written = 0
        for m in ex.map(_write_part, jobs):
            written += m
            print(f"  wrote {written}/{n} files ({time.perf_counter() - t:.0f} s)", file=sys.stderr)
    done.write_text(json.dumps({"n": n, "pool": pool}))
    return folder


def subset_view(cache: Path, uploads: Path, n: int) -> Path:
    """A folder of symbolic links to the first n recordings (and sidecars) of the upload folder."""
    view = cache / f"view-{uploads.name}-{n}"
    if (view / ".complete").exists():
        return view
    if view.exists():
        shutil.rmtree(view)
    files = sorted(uploads.rglob("*.wav"))[:n]
    for f in files:
        dst = view / f.parent.name / f.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(f, dst)
        os.symlink(f.with_suffix(".json"), dst.with_suffix(".json"))
    (view / ".complete").write_text(str(n))
    return view


# -- the classifier ---------------------------------------------------------------------------
def bench_model(cache: Path, pool: int) -> tuple[Path | None, str]:
    """The shipped default model, else a small model trained here on the base recordings.

    The base recordings alternate leak / everyday noise (``_base_recording``), with 12 "sites"
    for the grouped cross-validation; the model only has to cost what a real one costs.
    """
    from acoustic import AcousticError
    from acoustic.classify import default_model_dir

    try:
        return Path(default_model_dir()), "shipped default model"
    except AcousticError:
        pass
    folder = cache / f"bench-model-pool{pool}"
    if (folder / "model_card.json").exists():
        return folder, "small model trained on the bench's base recordings (no default model shipped)"
    import warnings

    from acoustic import AcousticWarning
    from acoustic.classify import save_model, train_model
    from acoustic.features import FEATURES_VERSION, extract_features, feature_names
    from acoustic.recording import Recording

    warnings.simplefilter("ignore", AcousticWarning)
    X, labels, sites, kinds = [], [], [], []
    bases = cache / f"bases-pool{pool}"
    for i in range(pool):
        f = bases / f"base_{i:04d}.npy"
        meta = json.loads(f.with_suffix(".json").read_text())
        rec = Recording(np.load(f), RATE_HZ, sensor_kind=meta["sensor_kind"], gain_db=meta["gain_db"])
        X.append(extract_features(rec).values)
        labels.append("leak" if i % 2 == 0 else "traffic")
        sites.append(f"S{i % 12}")
        kinds.append(meta["sensor_kind"])
    model = train_model(np.array(X), labels, sites, feature_names=list(feature_names()),
                        features_version=FEATURES_VERSION, target_far=0.05, seed=1, sensor_kinds=kinds,
                        data_summary={"sample_rate_hz_range": [RATE_HZ, RATE_HZ]})
    save_model(model, folder)
    return folder, "small model trained on the bench's base recordings (no default model shipped)"


def warm_model_cache(model_path: Path) -> str:
    """Put the compiled model in the compiled-model cache, as the first nightly run of a model does.

    Every timed run then starts as a nightly run does once the model has been used on the machine:
    the driver checks the model file's checksum and reads the cached arrays (milliseconds) instead of
    the safe skops load (2-3 s of CPU, most of it importing scikit-learn).
    """
    from acoustic.classify import load_model
    from acoustic.classify._compiled import compile_model, compiled_cache_dir, load_compiled_model, save_compiled_model

    if compiled_cache_dir() is None:
        return "off (ACOUSTIC_CACHE_DIR is empty): every run loads the model with skops"
    if load_compiled_model(model_path) is not None:
        return "warm (already cached)"
    t = time.process_time()
    saved = save_compiled_model(compile_model(load_model(model_path)))
    if saved is None:
        return "not cached (the model does not compile or the cache folder is not writable)"
    return f"warmed here (safe load + compile: {time.process_time() - t:.1f} s of CPU, once per model)"


# -- the floor --------------------------------------------------------------------------------
def floor_rate(uploads: Path, n: int = 300) -> dict:
    """Recordings/s of read + one STFT (the extractor's framing) in this process.

    Read: ``acoustic.io.read_recording`` (audio + sidecar, validated).  STFT: the frames of the
    feature extractor's design at 8 kHz (periodic Hann, n_fft, hop) on a strided view, windowed
    into a reused buffer and transformed by ``numpy.fft.rfft`` into a reused output, the cheapest
    full STFT of the recording (fresh megabyte arrays per recording would add page faults that
    cost more than the FFT, and made this floor vary 1.3-3.4 ms between runs).  glibc's heap
    trimming is turned off for the same reason: in this (orchestrating) process it otherwise
    returns and re-faults the pages of every recording's sample arrays, +0.8 ms per recording;
    the batch workers, in their steady state, take about 50 page faults per recording in all.
    """
    import ctypes
    import warnings

    try:  # M_TRIM_THRESHOLD = -1, M_MMAP_THRESHOLD = -3 (glibc)
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-1, 256 << 20)
        libc.mallopt(-3, 64 << 20)
    except (OSError, AttributeError):  # not glibc: measured as it comes
        pass

    from acoustic import AcousticWarning
    from acoustic.features._design import design_for
    from acoustic.io import read_recording

    warnings.simplefilter("ignore", AcousticWarning)
    files = sorted(uploads.rglob("*.wav"))[:n]
    d = design_for(RATE_HZ)
    bufs = {}

    def one(f):
        x = read_recording(f).calibrated()
        frames = np.lib.stride_tricks.sliding_window_view(x, d.n_fft)[::d.hop]
        if frames.shape[0] not in bufs:
            bufs[frames.shape[0]] = (np.empty(frames.shape), np.empty((frames.shape[0], d.n_bins), complex))
        w, z = bufs[frames.shape[0]]
        np.multiply(frames, d.window, out=w)
        return np.fft.rfft(w, axis=1, out=z)

    for f in files:  # one untimed pass: page cache, imports, buffers and the allocator settle (the
        one(f)       # batch workers, thousands of files each, run in that steady state too)
    t, c = time.perf_counter(), time.process_time()
    for f in files:
        one(f)
    dt, dc = time.perf_counter() - t, time.process_time() - c
    return {"n": len(files), "seconds": dt, "recordings_per_s": len(files) / dt,
            "cpu_ms_per_recording": 1e3 * dc / len(files),
            "what": f"read_recording + rfft of {d.n_fft}-sample periodic-Hann frames, hop {d.hop} (reused buffers)"}


# -- one batch, with memory sampling -----------------------------------------------------------
class TreeSampler:
    """Peak RSS of a process and its descendants (and of extra processes), sampled every 0.2 s."""

    def __init__(self, pid: int, extra_pids=()):
        import psutil

        self.root = psutil.Process(pid)
        self.extra = [psutil.Process(p) for p in extra_pids]
        self.peak_driver = 0
        self.peak_workers = 0
        self.peak_total = 0
        self.cpu = {}  # pid -> latest user + system CPU seconds seen
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _rss(self, p) -> int:
        try:
            t = p.cpu_times()
            self.cpu[p.pid] = max(self.cpu.get(p.pid, 0.0), t.user + t.system)
            return p.memory_info().rss
        except Exception:
            return 0

    @property
    def cpu_total_s(self) -> float:
        return float(sum(self.cpu.values()))

    def _run(self):
        import psutil

        while not self._stop.is_set():
            try:
                kids = self.root.children(recursive=True)
            except psutil.Error:
                kids = []
            drv = self._rss(self.root)
            wk = sum(self._rss(k) for k in kids) + sum(self._rss(p) for p in self.extra)
            self.peak_driver = max(self.peak_driver, drv)
            self.peak_workers = max(self.peak_workers, wk)
            self.peak_total = max(self.peak_total, drv + wk)
            self._stop.wait(0.1)

    def stop(self):
        self._stop.set()
        self._t.join()


def run_batch(upload: Path, ledger: Path, args: list[str], extra_pids=(), env=None) -> dict:
    for suffix in ("", "-wal", "-shm", ".lock"):
        p = Path(str(ledger) + suffix)
        if p.exists():
            p.unlink()
    cmd = [ACOUSTIC, "batch", "run", str(upload), "--ledger", str(ledger), "--json", "--quiet", *args]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
    sampler = TreeSampler(proc.pid, extra_pids)
    out, err = proc.communicate()
    wall = time.perf_counter() - t
    sampler.stop()
    if proc.returncode not in (0, 3):
        raise SystemExit(f"batch failed ({proc.returncode}): {err.strip()[-2000:]}")
    s = json.loads(out)
    return {"wall_s": wall, "recordings_seconds": s["recordings_seconds"], "recordings_per_s": s["recordings_per_s"],
            "new": s["new"], "failed": s["failed"], "engine": s["engine"], "classification": s["classification"],
            "worker_seconds": s["worker_seconds"], "cpu_s": sampler.cpu_total_s,
            "cpu_ms_per_recording": 1e3 * sampler.cpu_total_s / max(s["new"], 1),
            "peak_rss_driver_mb": sampler.peak_driver / 2**20,
            "peak_rss_workers_mb": sampler.peak_workers / 2**20, "peak_rss_total_mb": sampler.peak_total / 2**20}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000, help="recordings in the main runs (default 10000)")
    ap.add_argument("--sizes", default="1000,3000", help="extra N for the memory runs (2 workers)")
    ap.add_argument("--pool", type=int, default=240, help="distinct simulated base recordings")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "acoustic-bench-batch")
    ap.add_argument("--skip-dask", action="store_true")
    ap.add_argument("--no-model", action="store_true", help="do not classify (features, levels, scores only)")
    ap.add_argument("--chunk-size", type=int, default=None)
    a = ap.parse_args()
    load_start = os.getloadavg()

    a.cache.mkdir(parents=True, exist_ok=True)
    n = a.n
    need = int(1.2 * n * BYTES_PER_FILE)
    free = shutil.disk_usage(a.cache).free
    note = ""
    if not (a.cache / f"uploads-{n}-pool{a.pool}" / ".complete").exists() and need > 0.8 * free:
        n_fit = int(0.8 * free / (1.2 * BYTES_PER_FILE)) // 500 * 500
        note = f"disk: {free / 2**30:.1f} GiB free, {n} files need {need / 2**30:.1f} GiB: N scaled down to {n_fit}"
        print(note, file=sys.stderr)
        n = n_fit
    print(f"upload folder: {n} x {DURATION_S:g} s at {RATE_HZ:g} Hz (cache {a.cache})", file=sys.stderr)
    uploads = make_uploads(a.cache, n, a.pool)
    size_mb = sum(f.stat().st_size for f in uploads.rglob("*")) / 2**20

    if a.no_model:
        model_args, model_note = ["--no-model"], "off (--no-model)"
    else:
        model_path, model_note = bench_model(a.cache, a.pool)
        model_args = ["--model", str(model_path)]
    print(f"classifier: {model_note}", file=sys.stderr)
    cache_note = "no model"
    if not a.no_model:
        cache_note = warm_model_cache(model_path)
        print(f"compiled-model cache: {cache_note}", file=sys.stderr)
    extra = model_args + (["--chunk-size", str(a.chunk_size)] if a.chunk_size else [])
    ledger = a.cache / "bench-ledger.db"
    fl = floor_rate(uploads)
    print(f"floor (read + one STFT, 1 process): {fl['recordings_per_s']:.0f} recordings/s", file=sys.stderr)

    runs = []
    for workers in (1, 2):
        print(f"batch: {n} files, {workers} worker(s) ...", file=sys.stderr)
        r = run_batch(uploads, ledger, ["--workers", str(workers), *extra])
        r.update(engine_kind="process pool", workers=workers, n=n)
        runs.append(r)
        print(f"  {r['recordings_per_s']:.1f} recordings/s, peak RSS {r['peak_rss_total_mb']:.0f} MB", file=sys.stderr)
    if not a.skip_dask:
        from distributed import LocalCluster

        print(f"batch: {n} files, Dask LocalCluster (2 workers x 1 thread) ...", file=sys.stderr)
        import logging

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                          silence_logs=logging.CRITICAL) as cluster:
            import psutil

            pids = [c.pid for c in psutil.Process().children(recursive=True)]
            r = run_batch(uploads, ledger, extra, extra_pids=pids, env={"DASK_SCHEDULER_ADDRESS": cluster.scheduler_address})
        r.update(engine_kind="dask LocalCluster", workers=2, n=n)
        runs.append(r)
        print(f"  {r['recordings_per_s']:.1f} recordings/s", file=sys.stderr)

    memory = []
    sizes = sorted({int(x) for x in a.sizes.split(",") if x.strip() and int(x) < n})
    for m in sizes:
        view = subset_view(a.cache, uploads, m)
        print(f"memory run: {m} files, 2 workers ...", file=sys.stderr)
        r = run_batch(view, ledger, ["--workers", "2", *extra])
        memory.append({"n": m, **{k: r[k] for k in ("peak_rss_driver_mb", "peak_rss_workers_mb", "peak_rss_total_mb",
                                                     "recordings_per_s")}})
    two = next(r for r in runs if r["workers"] == 2 and r["engine_kind"] == "process pool")
    memory.append({"n": n, **{k: two[k] for k in ("peak_rss_driver_mb", "peak_rss_workers_mb", "peak_rss_total_mb",
                                                   "recordings_per_s")}})

    print()
    print(f"acoustic batch run: {n} recordings of {DURATION_S:g} s at {RATE_HZ:g} Hz ({size_mb:.0f} MB), "
          f"classification: {runs[0]['classification']} ({model_note}); {os.cpu_count()} CPUs, load: "
          f"{load_start[0]:.2f} at start, {os.getloadavg()[0]:.2f} at end (1-min averages; other engineers' "
          f"jobs share the machine)")
    print(f"compiled-model cache: {cache_note}")
    print(f"floor, read + one STFT: {fl['recordings_per_s']:.0f} recordings/s per process ({fl['what']})")
    print(f"{'engine':22s} {'workers':>7s} {'rec/s':>8s} {'wall s':>7s} {'x floor':>8s} {'CPU ms/rec':>10s} "
          f"{'CPU/floor':>9s} {'peak MB':>8s} {'goal':>6s}")
    for r in runs:
        floor_k = fl["recordings_per_s"] * r["workers"]
        r["ratio_to_floor"] = r["recordings_per_s"] / floor_k
        r["cpu_ratio_to_floor"] = r["cpu_ms_per_recording"] / fl["cpu_ms_per_recording"]
        goal = "" if r["workers"] != 2 else ("met" if r["recordings_per_s"] >= GOAL_2_WORKERS else "missed")
        print(f"{r['engine_kind']:22s} {r['workers']:7d} {r['recordings_per_s']:8.1f} {r['wall_s']:7.1f} "
              f"{r['ratio_to_floor']:8.3f} {r['cpu_ms_per_recording']:10.2f} {r['cpu_ratio_to_floor']:9.2f} "
              f"{r['peak_rss_total_mb']:8.0f} {goal:>6s}")
    print(f"x floor: rec/s over (floor rec/s x workers); CPU/floor: CPU per recording over the floor's "
          f"{fl['cpu_ms_per_recording']:.2f} ms")
    print(f"CPU ms/rec: CPU time of the driver and all its workers (incl. start-up) per recording; "
          f"2 cores fully ours would give at most {2e3 / two_cpu:.0f} recordings/s with 2 workers"
          if (two_cpu := next(r for r in runs if r["workers"] == 2)["cpu_ms_per_recording"]) else "")
    print(f"worker time per recording (2-worker pool): " + ", ".join(
        f"{k} {1e3 * v / max(two['new'], 1):.2f} ms" for k, v in two["worker_seconds"].items()))
    print(f"{'memory: N':>14s} {'driver MB':>10s} {'workers MB':>11s} {'total MB':>9s}")
    for m in memory:
        print(f"{m['n']:14d} {m['peak_rss_driver_mb']:10.0f} {m['peak_rss_workers_mb']:11.0f} {m['peak_rss_total_mb']:9.0f}")
    if note:
        print(note)

    out = HERE / "results" / "batch.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({
        "n": n, "duration_s": DURATION_S, "sample_rate_hz": RATE_HZ, "upload_mb": size_mb, "note": note,
        "classifier": model_note, "compiled_model_cache": cache_note,
        "cpus": os.cpu_count(), "loadavg_at_start": load_start, "loadavg_at_end": os.getloadavg(), "goal_recordings_per_s_2_workers": GOAL_2_WORKERS,
        "floor": fl, "runs": runs, "memory": memory,
    }, indent=2, default=float) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
