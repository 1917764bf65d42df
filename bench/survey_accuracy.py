"""Network-survey accuracy on simulated surveys (issue 6, "Quality").

For each network (the shipped sample district, a sub-district of EPANET example network 3, and
sub-districts of the other EPANET examples WNTR ships: Net2, ky4) and each confounder set,
simulate surveys with one leak at a random position and leak-free surveys (hydrophones; an
accelerometer-only section on district and net3), run ``acoustic.survey.run_survey`` and score
(a ``gain`` section runs the same leak surveys again with every logger's gain off by -20 and
+20 dB, signal-to-noise unchanged):

* **area first**: the top-ranked area is an area of the leak (an area of a logger of a line that
  contains the leak's pipe);
* **pipe in top 3 lines**: the leak's pipe is on one of the three best-ranked lines;
* **point within tolerance**: the top-ranked point lies within max(2 m, 3 % of the logger spacing)
  of the leak along the pipes (spacing = the shortest neighbour line that contains the leak's pipe);
* **interval coverage**: that point's 95 % interval contains the leak (when on the leak's pipe);
* **pair locates**: the correlator alone, on the pair bracketing the leak, puts it within the
  tolerance on every night (``pairs`` of the survey JSON); **point where pair locates**: the
  top point is right on those surveys;
* **false points per survey**: points reported on leak-free surveys; also counted without the
  surveys with a pump or PRV the network model does not declare (the simulator's customer booster
  pump and, on networks without valves, a PRV at a random junction: real sources of sound, placed
  as points by the correlation, which alone cannot tell them from a leak).

Targets: area first >= 95 %, pipe in top 3 >= 90 %, point within tolerance >= 85 %, at most one
false point per 10 leak-free surveys.

Usage::

    python bench/survey_accuracy.py                 # the full run (>= 20 leak surveys per network)
    python bench/survey_accuracy.py --n 2 --free 1  # a quick check
    python bench/survey_accuracy.py --networks district --sections network  # one section

Writes ``bench/results/survey_accuracy.json`` (unless ``--no-write``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

CONFOUNDER_SETS = [(), ("prv",), ("pump",), ("consumption",), ("traffic",), ("hum",),
                   ("prv", "pump", "consumption", "traffic", "hum")]


#: EPANET examples shipped with WNTR used as extra networks: start node of the sub-district and
#: the pipe length (m) to grow it to (pipes 5-420 m only, the longest span a metal pair correlates).
EXTRA_NETWORKS = {"net2": ("Net2.inp", "1", 2500.0), "ky4": ("ky4.inp", None, 2500.0)}
_NET_CACHE: dict = {}


def _extra_network(name: str):
    """(PipeNetwork, logger sites) of a connected sub-district of a WNTR example network."""
    if name in _NET_CACHE:
        return _NET_CACHE[name]
    import numpy as np
    import wntr

    from acoustic.network import read_inp_network
    from acoustic.simulate._survey import _material_for, place_loggers

    fname, start, target = EXTRA_NETWORKS[name]
    inp = Path(wntr.__file__).parent / "library" / "networks" / fname
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wn = wntr.network.WaterNetworkModel(str(inp))
    rng = np.random.default_rng(5)
    rows = ["pipe_id,material,diameter_mm,wall_mm"]
    adj = defaultdict(list)
    for pname in wn.pipe_name_list:
        p = wn.get_link(pname)
        rows.append(f"{pname},{_material_for(p.diameter * 1000.0, p.length, rng)},,")
        if 5.0 <= p.length <= 420.0:
            adj[p.start_node_name].append((pname, p.end_node_name, p.length))
            adj[p.end_node_name].append((pname, p.start_node_name, p.length))
    if start is None or start not in adj:  # the node with most short pipes around it
        start = max(sorted(adj), key=lambda n: len(adj[n]))
    chosen, seen, queue, total = [], {start}, [start], 0.0
    while queue and total < target:  # breadth first from the start node
        n = queue.pop(0)
        for pname, m, length in adj[n]:
            if pname not in chosen and total < target:
                chosen.append(pname)
                total += length
                if m not in seen:
                    seen.add(m)
                    queue.append(m)
    tmp = Path(tempfile.mkdtemp(prefix="survey-bench-net-"))
    try:
        (tmp / "pipes.csv").write_text("\n".join(rows) + "\n")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            full = read_inp_network(inp, tmp / "pipes.csv")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    net = full.subnetwork(chosen, source=f"{fname} sub-district")
    xs = sorted(c[0] for c in net.node_coords.values())
    mid = xs[len(xs) // 2]
    areas = {n: ("west" if net.node_coords[n][0] <= mid else "east") for n in net.node_coords}
    sites = place_loggers(net, np.random.default_rng(11), areas=areas)
    _NET_CACHE[name] = (net, sites)
    return net, sites


def _shift_gains(root: Path, db: float) -> None:
    """Every recording's stated gain off by ``db`` (its calibrated level moves by ``db``)."""
    for side in root.glob("recordings/*/*.json"):
        meta = json.loads(side.read_text())
        meta["gain_db"] = float(meta.get("gain_db", 0.0)) + db
        side.write_text(json.dumps(meta))


def _label(conf) -> str:
    return "+".join(conf) if conf else "none"


def _network_distance(net, a, b) -> float:
    from acoustic.network import LoggerSite

    if a[0] == b[0]:
        return abs(a[1] - b[1])
    r = net.path(LoggerSite("p", pipe_id=a[0], offset_m=a[1]), LoggerSite("q", pipe_id=b[0], offset_m=b[1]))
    return float("inf") if r is None else r.length_m


def one_survey(task: dict) -> dict:
    """Simulate one survey, run it, score it (runs in a worker process)."""
    warnings.simplefilter("ignore")
    from acoustic.simulate._survey import simulate_survey
    from acoustic.survey import run_survey

    tmp = Path(tempfile.mkdtemp(prefix="survey-bench-"))
    try:
        t0 = time.perf_counter()
        net, sites = task["network"], None
        if net in EXTRA_NETWORKS:
            net, sites = _extra_network(net)
        sv = simulate_survey(net, tmp / "s", leaks=task["leaks"], seed=task["seed"], loggers=sites,
                             confounders=task["confounders"], nights=task["nights"], duration_s=task["duration"],
                             sensor_kind=task.get("sensor", "hydrophone"))
        if task.get("gain_db"):
            _shift_gains(sv.root, task["gain_db"])
        t1 = time.perf_counter()
        opts = None
        if task.get("calibrate"):
            from acoustic.survey import SurveyOptions

            opts = SurveyOptions(detect_z=5.0, report_z=5.0, report_confidence=0.0, max_points=30)
        res = run_survey(sv.root, model=task["model"], options=opts)
        t2 = time.perf_counter()
        js = res.to_json()
        undeclared = any(src["kind"] in ("pump", "prv") and not src.get("known_to_model")
                         for src in sv.truth.get("sources", []))
        out = {**{k: task[k] for k in ("network", "seed", "leaks")}, "confounders": _label(task["confounders"]),
               "section": task.get("section", "network"), "sensor": task.get("sensor", "hydrophone"),
               "gain_db": task.get("gain_db", 0.0), "undeclared_machinery": undeclared,
               "simulate_s": t1 - t0, "survey_s": t2 - t1, "n_points": len(js["points"]),
               "n_loggers": len(sv.sites)}
        if task.get("calibrate"):
            leaks = [(l["pipe_id"], l["offset_m"], max(2.0, 0.03 * min([x["length_m"] for x in l["lines"]] or [0.0])))
                     for l in sv.truth["leaks"]]
            srcs = [s for s in sv.truth["sources"]]
            out["candidates"] = []
            for p in js["points"] + js["noise_sources"]:
                d_leak = min([_network_distance(sv.network, (p["pipe_id"], p["offset_m"]), (a, b)) - t
                              for a, b, t in leaks] or [float("inf")])
                near_src = None
                for s_ in srcs:
                    if s_.get("node_id"):
                        from acoustic.network import LoggerSite

                        r = sv.network.path(LoggerSite("p", pipe_id=p["pipe_id"], offset_m=p["offset_m"]),
                                            LoggerSite("n", node_id=s_["node_id"]))
                        d = r.length_m if r is not None else float("inf")
                    else:
                        d = _network_distance(sv.network, (p["pipe_id"], p["offset_m"]), (s_["pipe_id"], s_["offset_m"]))
                    if d <= 15.0:
                        near_src = s_["kind"]
                out["candidates"].append({"score_z": p["score_z"], "n_pairs": p["n_pairs"],
                                          "n_pair_nights": p["n_pair_nights"], "confidence": p["confidence"],
                                          "leak_prob": p.get("classifier_leak_probability"),
                                          "is_leak": bool(d_leak <= 0), "near_source": near_src,
                                          "explained": "explained_by" in p, "sd_m": p["sd_m"]})
            return out
        if task["leaks"] == 0:
            out["points"] = [(p["pipe_id"], p["offset_m"], p["confidence"]) for p in js["points"]]
            return out
        leak = sv.truth["leaks"][0]
        pipe, off = leak["pipe_id"], leak["offset_m"]
        spacing = min([ln["length_m"] for ln in leak["lines"]] or [float("nan")])
        tol = max(2.0, 0.03 * spacing) if spacing == spacing else 2.0
        areas = set(leak["areas"])
        out.update(leak_pipe=pipe, leak_offset_m=off, material=leak["material"], spacing_m=spacing, tolerance_m=tol,
                   level_db=leak["level_db"])
        out["area_first"] = bool(js["areas"]) and js["areas"][0]["area"] in areas if areas else None
        out["pipe_top3"] = any(pipe in ln["pipe_ids"] for ln in js["lines"][:3])
        out["pair_locates"] = _pair_locates(sv, js, leak, tol)
        if js["points"]:
            p = js["points"][0]
            err = _network_distance(sv.network, (p["pipe_id"], p["offset_m"]), (pipe, off))
            out["point_error_m"] = err
            out["point_ok"] = bool(err <= tol)
            out["covered"] = bool(p["pipe_id"] == pipe and p["interval_m"][0] - 1e-6 <= off <= p["interval_m"][1] + 1e-6)
            out["interval_width_m"] = p["interval_m"][1] - p["interval_m"][0]
            out["confidence"] = p["confidence"]
            out["any_point_ok"] = any(_network_distance(sv.network, (q["pipe_id"], q["offset_m"]), (pipe, off)) <= tol
                                      for q in js["points"])
        else:
            out.update(point_error_m=None, point_ok=False, covered=False, any_point_ok=False)
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _pair_locates(sv, js, leak, tol) -> bool:
    """The correlator alone puts the leak within ``tol`` on every night of a pair that brackets it."""
    from acoustic.network import LoggerSite

    site = {s.logger_id: s for s in sv.sites}
    for ln in leak["lines"]:
        a, b = ln["from_logger"], ln["to_logger"]
        r = sv.network.path(site[a], LoggerSite("q", pipe_id=leak["pipe_id"], offset_m=leak["offset_m"]))
        if r is None:
            continue
        nights = [p for p in js["pairs"] if {p["from_logger"], p["to_logger"]} == {a, b}]
        d = [p["distance_from_a_m"] if p["from_logger"] == a else
             (None if p["distance_from_a_m"] is None else p["length_m"] - p["distance_from_a_m"]) for p in nights]
        if nights and all(x is not None and abs(x - r.length_m) <= tol for x in d):
            return True
    return False


def _rate(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return (100.0 * sum(bool(v) for v in vals) / len(vals)) if vals else float("nan")


def summarise(rows: list[dict]) -> dict:
    leak = [r for r in rows if r["leaks"] > 0]
    free = [r for r in rows if r["leaks"] == 0]
    declared = [r for r in free if not r.get("undeclared_machinery")]
    out = {"n_leak_surveys": len(leak), "n_free_surveys": len(free),
           "area_first_pct": _rate(leak, "area_first"), "pipe_top3_pct": _rate(leak, "pipe_top3"),
           "point_ok_pct": _rate(leak, "point_ok"), "any_point_ok_pct": _rate(leak, "any_point_ok"),
           "coverage_pct": _rate([r for r in leak if r.get("point_ok")], "covered"),
           "false_points_per_survey": (sum(r["n_points"] for r in free) / len(free)) if free else float("nan"),
           "false_points_per_survey_declared": ((sum(r["n_points"] for r in declared) / len(declared))
                                                if declared else float("nan")),
           "pair_locates_pct": _rate(leak, "pair_locates"),
           "point_where_pair_locates_pct": _rate([r for r in leak if r.get("pair_locates")], "point_ok"),
           "extra_points_per_leak_survey": (sum(max(r["n_points"] - 1, 0) for r in leak) / len(leak)) if leak else float("nan")}
    errs = sorted(r["point_error_m"] for r in leak if r.get("point_error_m") is not None)
    if errs:
        out["median_point_error_m"] = errs[len(errs) // 2]
    return out


def _table(title, groups: dict) -> str:
    head = (f"{title:<24} {'leak':>5} {'free':>5} {'area1st%':>9} {'pipeTop3%':>10} {'point%':>7} "
            f"{'anyPt%':>7} {'cover%':>7} {'medErr_m':>9} {'pairLoc%':>9} {'pt|pair%':>9} {'falsePts':>9} "
            f"{'falseDecl':>9}")
    lines = [head, "-" * len(head)]
    for name, s in groups.items():
        lines.append(f"{name:<24} {s['n_leak_surveys']:>5} {s['n_free_surveys']:>5} {s['area_first_pct']:>9.1f} "
                     f"{s['pipe_top3_pct']:>10.1f} {s['point_ok_pct']:>7.1f} {s['any_point_ok_pct']:>7.1f} "
                     f"{s['coverage_pct']:>7.1f} {s.get('median_point_error_m', float('nan')):>9.2f} "
                     f"{s['pair_locates_pct']:>9.1f} {s['point_where_pair_locates_pct']:>9.1f} "
                     f"{s['false_points_per_survey']:>9.2f} {s['false_points_per_survey_declared']:>9.2f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--networks", default="district,net3,net2,ky4",
                    help="comma-separated: district, net3, " + ", ".join(EXTRA_NETWORKS))
    ap.add_argument("--sections", default="network,sensor,gain",
                    help="network (hydrophones), sensor (accelerometers), gain (-20/+20 dB on the first leak surveys)")
    ap.add_argument("--n", type=int, default=10, help="leak surveys per network (cycling over confounder sets)")
    ap.add_argument("--free", type=int, default=5, help="leak-free surveys per network")
    ap.add_argument("--sensor-n", type=int, default=5, help="accelerometer leak surveys on district and net3")
    ap.add_argument("--gain-n", type=int, default=5, help="leak surveys of district and net3 rerun at -20 and +20 dB")
    ap.add_argument("--seed0", type=int, default=1000)
    ap.add_argument("--nights", type=int, default=2)
    ap.add_argument("--duration", type=float, default=12.0, help="recording length (s)")
    ap.add_argument("--workers", type=int, default=1, help="worker processes (spawn); the machine has 2 cores")
    ap.add_argument("--model", default="default", help="classifier: 'default', a model folder, or 'none'")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--calibrate", type=Path, default=None,
                    help="instead of scoring, record every candidate point (permissive thresholds) to this JSON file")
    args = ap.parse_args(argv)
    model = None if args.model == "none" else args.model

    tasks = []
    nets = [n.strip() for n in args.networks.split(",") if n.strip()]
    sections = {x.strip() for x in args.sections.split(",") if x.strip()}

    def add(net, i, leaks, section, **kw):
        seed = args.seed0 + i + (500 if leaks == 0 else 0)
        conf = CONFOUNDER_SETS[(i + (1 if leaks == 0 else 0)) % len(CONFOUNDER_SETS)]
        tasks.append({"network": net, "leaks": leaks, "seed": seed, "model": model, "confounders": conf,
                      "nights": args.nights, "duration": args.duration, "section": section, **kw})

    for net in nets:
        if "network" in sections:
            for i in range(args.n):
                add(net, i, 1, "network")
            for i in range(args.free):
                add(net, i, 0, "network")
        if net in ("district", "net3") and "sensor" in sections:
            for i in range(args.sensor_n):
                add(net, i, 1, "sensor", sensor="accelerometer")
            for i in range(max(1, args.sensor_n // 2)):
                add(net, i, 0, "sensor", sensor="accelerometer")
        if net in ("district", "net3") and "gain" in sections:
            for db in (-20.0, 20.0):
                for i in range(args.gain_n):
                    add(net, i, 1, "gain", gain_db=db)
    if args.calibrate is not None:
        for t in tasks:
            t["calibrate"] = True
    t0 = time.perf_counter()
    rows = []
    if args.workers > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(args.workers, mp_context=mp.get_context("spawn")) as ex:
            for r in ex.map(one_survey, tasks):
                rows.append(r)
                print(_row_line(r), file=sys.stderr, flush=True)
    else:
        for t in tasks:
            r = one_survey(t)
            rows.append(r)
            print(_row_line(r), file=sys.stderr, flush=True)
    wall = time.perf_counter() - t0
    if args.calibrate is not None:
        args.calibrate.write_text(json.dumps(rows, indent=1, default=str) + "\n")
        print(f"wrote {args.calibrate} ({sum(len(r['candidates']) for r in rows)} candidates from {len(rows)} surveys)")
        return 0

    groups = defaultdict(list)
    by_conf = defaultdict(list)
    for r in rows:
        if r["section"] == "network":
            groups[("network", r["network"])].append(r)
            groups[("network", "all")].append(r)
            by_conf[r["confounders"]].append(r)
            if r["network"] in ("district", "net3"):
                groups[("sensor", "hydrophone")].append(r)
                if r["leaks"] and r["seed"] - args.seed0 < args.gain_n:
                    groups[("gain", "+0 dB")].append(r)
        elif r["section"] == "sensor":
            groups[("sensor", "accelerometer")].append(r)
        else:
            groups[("gain", f"{r['gain_db']:+.0f} dB")].append(r)
    summary = {f"{sec}/{name}": summarise(v) for (sec, name), v in groups.items()}
    confs = {k: summarise(v) for k, v in by_conf.items()}
    total = summary.get("network/all", summarise(rows))
    for sec in ("network", "sensor", "gain"):
        part = {k.split("/", 1)[1]: v for k, v in summary.items() if k.startswith(sec + "/")}
        if part:
            print(_table(sec, dict(sorted(part.items(), key=lambda kv: (kv[0] == "all", kv[0])))))
            print()
    print(_table("confounders", confs))
    print(f"\n{len(rows)} surveys in {wall:.0f} s (median survey {sorted(r['survey_s'] for r in rows)[len(rows) // 2]:.1f} s, "
          f"classifier: {args.model}); targets: area first >= 95 %, pipe in top 3 >= 90 %, point within "
          f"max(2 m, 3 % spacing) >= 85 % and wherever the bracketing pair locates, <= 0.1 false points per "
          f"leak-free survey, gain sections within 2 points of +0 dB")
    nets = summary
    if not args.no_write:
        out = Path(__file__).parent / "results" / "survey_accuracy.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps({"args": vars(args), "by_section": nets, "by_confounders": confs, "all": total,
                                   "wall_s": wall, "rows": rows}, indent=1, default=str) + "\n")
        print(f"wrote {out}")
    return 0


def _row_line(r) -> str:
    if "candidates" in r:
        return (f"{r['network']:>8} seed {r['seed']} leaks {r['leaks']} [{r['confounders']}] "
                f"{[(c['score_z'], c['n_pairs'], c['is_leak'], c['near_source']) for c in r['candidates']]}")
    if r["leaks"] == 0:
        return f"{r['network']:>8} seed {r['seed']} free  [{r['confounders']}] points {r['n_points']} {r.get('points')}  ({r['survey_s']:.0f} s)"
    return (f"{r['network']:>8} {r['sensor'][:5]} {r['gain_db']:+.0f}dB seed {r['seed']} leak {r['leak_pipe']}@{r['leak_offset_m']:.1f} {r['material']} "
            f"[{r['confounders']}] area1st {r['area_first']} top3 {r['pipe_top3']} pair {r['pair_locates']} point {r['point_ok']} "
            f"err {r.get('point_error_m')} tol {r['tolerance_m']:.1f} n_points {r['n_points']}  ({r['survey_s']:.0f} s)")


if __name__ == "__main__":
    sys.exit(main())
