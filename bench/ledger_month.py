"""A month of nightly batches and digs: does ``acoustic ledger stats`` pay what really happened?

The sample district (``acoustic simulate survey``'s ``district``) gets one night of recordings per
night (``simulate_survey(nights=1)``, its sidecar start times moved to that night), with leaks that
appear on given nights and are repaired the day after a dig finds them.  Every night the new
uploads go through ``acoustic batch run --survey``; every morning a crew digs each open point
suspect (except where it already dug dry) and enters the outcome with ``acoustic ledger confirm``,
measured along the pipe from the node nearest the leak (``--from-node``, as the dig sheet says).
Some entries are wrong, as in the field, and corrected later from the command line:

* measured from the far node but entered without ``--from-node`` -> refused when that is off the
  pipe (then entered right), else ``acoustic ledger amend --from-node`` two days later;
* "no leak" entered for a leak found -> ``amend`` two days later;
* entered under the wrong suspect -> ``acoustic ledger undo`` the same day, then entered right.

The truth is the bench's own bookkeeping of the digs (which suspect, which day, which true leak,
where the suspect was located when dug), computed without the ledger: hit rate = distinct leaks
found / (distinct leaks found + dry digs), each leak's location error = distance along the pipes
from the position of the suspect first dug on it to the leak, payable = leaks within the
tolerance.  The bench prints both and whether they agree.

Run: ``nice -n 10 .venv/bin/python bench/ledger_month.py [--nights 28] [--duration 8]``; writes
``bench/results/ledger_month.json``.  28 nights of 13 loggers take some minutes on two shared cores.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import shutil
import sys
import tempfile
import time
import warnings
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
#: Leaks of the month: (first night, pipe, m from its start node, source level dB re 1 Pa).
LEAK_SCHEDULE = [(0, "P04", 61.3, 24.0), (5, "P07", 40.0, 24.0), (8, "P09", 50.0, 24.0), (11, "P15", 30.0, 25.0),
                 (17, "P02", 90.0, 24.0), (22, "P03", 70.0, 24.0)]
#: Source level of every leak (dB re 1 Pa rms): well audible, so the month has digs to pay.
LEAK_LEVEL_DB = 24.0
#: A crew finds a leak when it is within this distance (m along the pipes) of the marked spot:
#: listening sticks and ground microphones pinpoint within a few metres of a correlator's mark.
FIND_M = 10.0
#: Chances of the entry mistakes (per dig that found a leak / per dig).
P_WRONG_END, P_WRONG_NO_LEAK, P_WRONG_SUSPECT = 0.3, 0.2, 0.2
NIGHT0 = date(2026, 11, 3)


def acoustic(*args) -> tuple[int, str, str]:
    """Run an ``acoustic`` command in this process (the CLI's own code path): (exit code, stdout, stderr)."""
    from acoustic.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def _shift(src: Path, dst: Path, day: date) -> int:
    """Copy one night's recordings, their sidecars' start times moved to ``day``."""
    n = 0
    for side in sorted(src.rglob("*.json")):
        audio = next((p for p in (side.with_suffix(".wav"), side.with_suffix(".flac")) if p.exists()), None)
        if audio is None:
            continue
        meta = json.loads(side.read_text())
        t = datetime.fromisoformat(meta["start_time"].replace("Z", "+00:00"))
        t = t.replace(year=day.year, month=day.month, day=day.day)
        meta["start_time"] = t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        out = dst / side.parent.name
        out.mkdir(parents=True, exist_ok=True)
        stem = f"{day:%Y%m%d}T020000"
        shutil.copy(audio, out / f"{stem}{audio.suffix}")
        (out / f"{stem}.json").write_text(json.dumps(meta))
        n += 1
    return n


class Month:
    """The simulated month: network, leaks, crew and truth (see the module docs)."""

    def __init__(self, work: Path, *, nights: int, duration_s: float, seed: int, window: int, schedule=None):
        from acoustic.ledger._network import load_network

        self.work, self.nights, self.duration_s, self.seed, self.window = work, nights, duration_s, seed, window
        self.rng = np.random.default_rng(seed)
        self.ledger = work / "ledger.db"
        self.uploads = work / "uploads"
        self.survey = work / "survey"
        self.schedule = [s for s in (schedule or LEAK_SCHEDULE) if s[0] < nights]
        self.leaks = [{"id": k, "night": n, "pipe_id": p, "offset_m": o, "level_db": lv, "repaired_on": None}
                      for k, (n, p, o, lv) in enumerate(self.schedule)]
        self.entries = {"commands": 0, "refused": 0, "amended": 0, "undone": 0}
        self.timing = {"simulate_s": 0.0, "batch_s": 0.0, "crew_s": 0.0}
        shutil.rmtree(self._night_folder(-1, [], first=True))
        self.net = load_network(self.survey)
        self.digs: list[dict] = []          # the truth: every physical dig
        self.dry_places: list[tuple] = []   # where the crew dug dry (not dug again)
        self.pending: list[tuple] = []      # corrections due: (day, command args)

    # -- nights ------------------------------------------------------------------------------
    def active(self, night: int) -> list[dict]:
        return [lk for lk in self.leaks if lk["night"] <= night and (lk["repaired_on"] is None or lk["repaired_on"] > night)]

    def _night_folder(self, night: int, leaks: list, first: bool = False) -> Path:
        from acoustic.survey import simulate_survey

        out = self.work / "sim" / f"n{night + 1:02d}"
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            simulate_survey("district", out, leaks=len(leaks), seed=self.seed * 1000 + night + 1, nights=1,
                            duration_s=self.duration_s, leak_positions=[(lk["pipe_id"], lk["offset_m"]) for lk in leaks]
                            or None, leak_level_db=LEAK_LEVEL_DB)
        self.timing["simulate_s"] += time.perf_counter() - t0
        if first:
            self.survey.mkdir(parents=True, exist_ok=True)
            for name in ("network.inp", "pipes.csv", "loggers.csv"):
                shutil.copy(out / name, self.survey / name)
        return out

    def run_night(self, night: int) -> dict:
        day = NIGHT0 + timedelta(days=night)
        leaks = self.active(night)
        sim = self._night_folder(night, leaks)
        _shift(sim / "recordings", self.uploads / f"{day:%Y-%m-%d}", day)
        shutil.rmtree(sim)
        t0 = time.perf_counter()
        code, out, err = acoustic("batch", "run", self.uploads, "--ledger", self.ledger, "--survey", self.survey,
                                  "--workers", 0, "--no-model", "--window-nights", self.window, "--quiet", "--json")
        self.timing["batch_s"] += time.perf_counter() - t0
        if code not in (0, 3):
            raise RuntimeError(f"batch failed on night {night}: {err.strip()[-400:]}")
        t0 = time.perf_counter()
        self.crew(night, day)  # the crew digs the same day (recordings at 02:00, batch in the morning)
        self.timing["crew_s"] += time.perf_counter() - t0
        return json.loads(out)

    # -- the crew ------------------------------------------------------------------------------
    def _cmd(self, *args) -> tuple[int, str, str]:
        self.entries["commands"] += 1
        return acoustic("ledger", *args)

    def _nearest_leak(self, s: dict, night: int):
        best = None
        for lk in self.active(night):
            d = self.net.along_pipes_m((s["pipe_id"], s["offset_m"]), (lk["pipe_id"], lk["offset_m"]))
            if d <= FIND_M and (best is None or d < best[0]):
                best = (d, lk)
        return best

    def crew(self, night: int, dig_day: date) -> None:
        for due_day, args in [p for p in self.pending if p[0] <= dig_day]:
            code, _, err = self._cmd(*args)
            if code != 0:
                raise RuntimeError(f"correction {args} failed: {err}")
            self.entries["amended"] += 1
        self.pending = [p for p in self.pending if p[0] > dig_day]
        code, out, _ = self._cmd("list", self.ledger, "--kind", "point", "--status", "open", "--json")
        suspects = json.loads(out)
        opened = [s for s in suspects]
        for s in suspects:
            if any(self.net.along_pipes_m((s["pipe_id"], s["offset_m"]), place) <= FIND_M for place in self.dry_places):
                continue  # dug dry there before: the crew does not dig it again
            hit = self._nearest_leak(s, night)
            dig = {"suspect_id": s["id"], "day": dig_day.isoformat(), "located": (s["pipe_id"], s["offset_m"]),
                   "spacing_m": s.get("spacing_m"), "leak": None, "error_m": None}
            if hit is None:
                self.dry_places.append((s["pipe_id"], s["offset_m"]))
                self._enter_dry(s, dig_day, opened)
            else:
                lk = hit[1]
                dig.update(leak=lk["id"], error_m=hit[0])
                self._enter_found(s, lk, dig_day, opened)
                if lk["repaired_on"] is None:
                    lk["repaired_on"] = night + 1  # repaired after the dig: silent from the next night
            self.digs.append(dig)

    def _measure(self, lk: dict) -> tuple[str, float, str]:
        """The crew measures from the node nearest the leak (as the dig sheet prints), to the cm."""
        p = self.net.network.pipes[lk["pipe_id"]]
        if lk["offset_m"] <= p.length_m / 2:
            return p.start_node, round(lk["offset_m"], 2), p.end_node
        return p.end_node, round(p.length_m - lk["offset_m"], 2), p.start_node

    def _enter_found(self, s: dict, lk: dict, day: date, opened: list) -> None:
        node, dist, _ = self._measure(lk)
        right = ["confirm", self.ledger, s["id"], "--found-at-m", dist, "--from-node", node, "--dug-on", day,
                 "--by", "crew"]
        r = self.rng.random()
        others = [o for o in opened if o["id"] != s["id"]]
        if r < P_WRONG_SUSPECT and others:  # typed the wrong suspect id: taken back the same day
            wrong = others[int(self.rng.integers(len(others)))]
            code, _, _ = self._cmd("confirm", self.ledger, wrong["id"], "--found-at-m", dist, "--from-node", node,
                                   "--dug-on", day, "--by", "crew")
            if code == 0:
                self._cmd("undo", self.ledger, wrong["id"], "--reason", "entered under the wrong suspect", "--by",
                          "office")
                self.entries["undone"] += 1
            else:
                self.entries["refused"] += 1
            self._ok(*right)
        elif r < P_WRONG_SUSPECT + P_WRONG_END:  # measured from the node, entered as from the start node
            code, _, _ = self._cmd("confirm", self.ledger, s["id"], "--found-at-m", dist, "--dug-on", day, "--by",
                                   "crew")
            if code != 0:
                self.entries["refused"] += 1
                self._ok(*right)
            elif node != self.net.network.pipes[lk["pipe_id"]].start_node:
                self.pending.append((day + timedelta(days=2), ["amend", self.ledger, s["id"], "--found-at-m", dist,
                                                              "--from-node", node, "--reason",
                                                              "measured from the other end", "--by", "office"]))
        elif r < P_WRONG_SUSPECT + P_WRONG_END + P_WRONG_NO_LEAK:  # ticked "no leak" by mistake
            self._ok("confirm", self.ledger, s["id"], "--no-leak", "--dug-on", day, "--by", "crew")
            self.pending.append((day + timedelta(days=2), ["amend", self.ledger, s["id"], "--found-at-m", dist,
                                                          "--from-node", node, "--reason", "the leak was found",
                                                          "--by", "office"]))
        else:
            self._ok(*right)

    def _enter_dry(self, s: dict, day: date, opened: list) -> None:
        self._ok("confirm", self.ledger, s["id"], "--no-leak", "--dug-on", day, "--by", "crew")

    def _ok(self, *args) -> None:
        code, _, err = self._cmd(*args)
        if code != 0:
            raise RuntimeError(f"ledger {args[0]} failed: {err.strip()}")

    def finish(self) -> None:
        for _, args in self.pending:
            self._ok(*args)
            self.entries["amended"] += 1
        self.pending = []

    # -- the truth -------------------------------------------------------------------------------
    def truth(self, tolerance_m: float) -> dict:
        first: dict[int, dict] = {}
        for d in sorted(self.digs, key=lambda d: d["day"]):
            if d["leak"] is not None and d["leak"] not in first:
                first[d["leak"]] = d
        dry = sum(1 for d in self.digs if d["leak"] is None)
        errors = sorted(d["error_m"] for d in first.values())
        n = len(first)
        return {"digs": len(self.digs), "leaks_found": n, "dry_digs": dry,
                "repeat_digs": sum(1 for d in self.digs if d["leak"] is not None) - n,
                "hit_rate": n / (n + dry) if (n + dry) else None, "errors_m": errors,
                "payable": sum(1 for e in errors if e <= tolerance_m + 1e-9),
                "leaks_scheduled": len(self.leaks)}


def compare(truth: dict, stats: dict) -> dict:
    """Where the ledger's statistics and the truth agree (errors to 0.01 m: crews enter cm)."""
    le = stats.get("location_error_m") or {}
    errs = sorted(x["error_m"] for x in stats["leaks"])
    return {
        "digs": stats["dug"] == truth["digs"],
        "leaks_found": stats["leaks_found"] == truth["leaks_found"],
        "dry_digs": stats["no_leak"] == truth["dry_digs"],
        "hit_rate": (stats["hit_rate"] is None and truth["hit_rate"] is None)
        or (stats["hit_rate"] is not None and truth["hit_rate"] is not None
            and abs(stats["hit_rate"] - truth["hit_rate"]) < 1e-12),
        "location_errors": len(errs) == len(truth["errors_m"])
        and all(abs(a - b) <= 0.011 for a, b in zip(errs, truth["errors_m"])),
        "median_error": (not errs) or abs(le["median"] - float(np.median(truth["errors_m"]))) <= 0.011,
        "payable": stats["payable"]["count"] == truth["payable"],
    }


def run_month(work: Path, *, nights: int = 28, duration_s: float = 8.0, seed: int = 1, window: int = 3,
              tolerances=(1.0, 3.0), schedule=None, progress=print) -> dict:
    month = Month(work, nights=nights, duration_s=duration_s, seed=seed, window=window, schedule=schedule)
    t0 = time.perf_counter()
    for night in range(nights):
        s = month.run_night(night)
        if progress:
            progress(f"night {night:2d}: {s.get('suspects_new', 0)} new suspect(s); digs so far {len(month.digs)}; "
                     f"active leaks {[lk['id'] for lk in month.active(night)]}")
    month.finish()
    out = {"nights": nights, "duration_s": duration_s, "seed": seed, "window_nights": window,
           "leaks": month.leaks, "entries": month.entries, "timing_s": {k: round(v, 1) for k, v in month.timing.items()},
           "wall_s": round(time.perf_counter() - t0, 1), "by_tolerance": []}
    for tol in tolerances:
        code, stdout, err = acoustic("ledger", "stats", month.ledger, "--json", "--tolerance-m", tol)
        if code != 0:
            raise RuntimeError(err)
        stats = json.loads(stdout)
        truth = month.truth(tol)
        agree = compare(truth, stats)
        out["by_tolerance"].append({"tolerance_m": tol, "truth": truth, "ledger": {
            k: stats[k] for k in ("dug", "leaks_found", "no_leak", "repeat_digs", "hit_rate", "location_error_m",
                                  "payable")} | {"errors_m": sorted(x["error_m"] for x in stats["leaks"])},
                                    "agree": agree, "all_agree": all(agree.values())})
    out["all_agree"] = all(b["all_agree"] for b in out["by_tolerance"])
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nights", type=int, default=28)
    ap.add_argument("--duration", type=float, default=8.0, help="recording length (s)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--window", type=int, default=3, help="batch --window-nights")
    ap.add_argument("--keep", type=Path, default=None, help="keep the work folder here")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        res = run_month(work, nights=args.nights, duration_s=args.duration, seed=args.seed, window=args.window)
    print()
    print(f"{'tolerance':>9} | {'':6} | {'digs':>4} {'leaks':>5} {'dry':>4} {'repeat':>6} {'hit rate':>8} "
          f"{'median err':>10} {'payable':>7}")
    for b in res["by_tolerance"]:
        t, led = b["truth"], b["ledger"]
        med_t = f"{np.median(t['errors_m']):.2f} m" if t["errors_m"] else "n/a"
        med_l = f"{led['location_error_m']['median']:.2f} m" if led["location_error_m"] else "n/a"
        hr = (lambda v: "n/a" if v is None else f"{100 * v:.1f} %")
        print(f"{b['tolerance_m']:>7g} m | truth  | {t['digs']:>4} {t['leaks_found']:>5} {t['dry_digs']:>4} "
              f"{t['repeat_digs']:>6} {hr(t['hit_rate']):>8} {med_t:>10} {t['payable']:>7}")
        print(f"{'':>9} | ledger | {led['dug']:>4} {led['leaks_found']:>5} {led['no_leak']:>4} {led['repeat_digs']:>6} "
              f"{hr(led['hit_rate']):>8} {med_l:>10} {led['payable']['count']:>7}   agree: {b['all_agree']}")
    e = res["entries"]
    print(f"\n{res['nights']} nights, {res['wall_s']} s ({res['timing_s']}); ledger commands {e['commands']}: "
          f"{e['refused']} wrong entries refused, {e['amended']} amended, {e['undone']} undone")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ledger_month.json").write_text(json.dumps(res, indent=1, default=float) + "\n")
    print(f"wrote {RESULTS / 'ledger_month.json'}")
    return 0 if res["all_agree"] else 1


if __name__ == "__main__":
    sys.exit(main())
