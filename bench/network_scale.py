"""Survey time and memory on a large network (issue 19: a 50k-pipe network surveyed in < 30 s).

The shipped sample district (its loggers and recordings) is embedded in a synthetic grid of
pipes hung off one of its nodes, so the survey reads, indexes and routes over a network of
``--pipes`` pipes while correlating the same logger pairs as on the sample.  Each size is
surveyed in a fresh subprocess (``acoustic survey --json``); wall time and the child's peak
resident memory are measured.  The baseline is the sample district itself (20 pipes), in the
same run, so the table gives the cost of the network's size as a ratio.

    python bench/network_scale.py [--pipes 50245] [--out bench/results/network_scale.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "recordings" / "samples" / "district"
#: Issue 19's target for a 50k-pipe survey, s.
TARGET_S = 30.0


def _grid_lines(n_pipes: int, anchor: str, x0: float, y0: float):
    """Junction, pipe, coordinate and pipes.csv lines of a square grid of about ``n_pipes`` pipes
    (100 m spacing), joined to node ``anchor`` of the sample by one pipe."""
    side = max(2, int(math.ceil(math.sqrt(n_pipes / 2.0))) + 1)
    junctions, pipes, coords, table = [], [], [], []
    def node(i, j):
        return f"G{i}_{j}"
    for i in range(side):
        for j in range(side):
            junctions.append(f" {node(i, j)}\t0\t0")
            coords.append(f" {node(i, j)}\t{x0 + 100.0 * i:.1f}\t{y0 + 100.0 * j:.1f}")
    k = 0
    for i in range(side):
        for j in range(side):
            for di, dj in ((1, 0), (0, 1)):
                if k >= n_pipes - 1:
                    break
                ii, jj = i + di, j + dj
                if ii < side and jj < side:
                    pid = f"GP{k}"
                    pipes.append(f" {pid}\t{node(i, j)}\t{node(ii, jj)}\t100.0\t150\t100\t0\tOpen")
                    table.append(f"{pid},pvc,150,")
                    k += 1
    pipes.append(f" GPJOIN\t{anchor}\t{node(0, 0)}\t50.0\t150\t100\t0\tOpen")
    table.append("GPJOIN,pvc,150,")
    return junctions, pipes, coords, table


def make_network(out: Path, n_extra_pipes: int) -> Path:
    """Copy the sample district to ``out`` and add ``n_extra_pipes`` grid pipes to its network."""
    shutil.copytree(SAMPLE, out)
    if n_extra_pipes <= 0:
        return out
    inp = (out / "network.inp").read_text().splitlines()
    junctions, pipes, coords, table = _grid_lines(n_extra_pipes, "N1", 5000.0, 5000.0)
    lines = []
    for line in inp:
        lines.append(line)
        head = line.strip().upper()
        if head == "[JUNCTIONS]":
            lines.append(";ID\tElev\tDemand")
            lines.extend(junctions)
        elif head == "[PIPES]":
            lines.extend(pipes)
        elif head == "[COORDINATES]":
            lines.extend(coords)
    (out / "network.inp").write_text("\n".join(lines) + "\n")
    with open(out / "pipes.csv", "a") as fh:
        fh.write("\n".join(table) + "\n")
    return out


def survey_once(folder: Path) -> dict:
    """Run ``acoustic survey --json`` in a subprocess; wall time (s) and peak RSS (MiB)."""
    code = ("import resource,sys,time;from acoustic.cli import main;t=time.perf_counter()\n"
            "try:\n main(['survey',sys.argv[1],'--json'])\n"
            "finally:\n print('WALL',time.perf_counter()-t,'RSS',"
            "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,file=sys.stderr)")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    rss_mib = None
    for line in proc.stderr.splitlines():
        if line.startswith("WALL"):
            rss_mib = int(line.split()[3]) / 1024.0
    points = None
    if proc.returncode == 0:
        try:
            doc = json.loads(proc.stdout)
            points = len(doc.get("points", []))
        except ValueError:
            pass
    return {"wall_s": wall, "peak_rss_mib": rss_mib, "returncode": proc.returncode, "points": points,
            "stderr_tail": proc.stderr.strip().splitlines()[-3:]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pipes", type=int, default=50245, help="pipes in the large network (default 50245)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "network_scale.json")
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = survey_once(make_network(Path(tmp) / "small", 0))
        big_dir = make_network(Path(tmp) / "big", args.pipes - 20)
        n_big = sum(1 for ln in (big_dir / "pipes.csv").read_text().splitlines()[1:] if ln.strip())
        big = survey_once(big_dir)
    rows.append({"network": "sample district", "pipes": 20, **base})
    rows.append({"network": "district + grid", "pipes": n_big, **big})
    print(f"{'network':<18} {'pipes':>7} {'wall s':>8} {'peak MiB':>9} {'points':>6} {'rc':>3}")
    for r in rows:
        rss = f"{r['peak_rss_mib']:.0f}" if r["peak_rss_mib"] else "-"
        print(f"{r['network']:<18} {r['pipes']:>7} {r['wall_s']:>8.1f} {rss:>9} {str(r['points']):>6} {r['returncode']:>3}")
    ratio = big["wall_s"] / base["wall_s"]
    ok = big["returncode"] == 0 and big["wall_s"] < TARGET_S
    print(f"large/sample wall-time ratio {ratio:.2f}; target < {TARGET_S:.0f} s: {'met' if ok else 'NOT met'}")
    for r in rows:
        if r["returncode"]:
            print(f"  {r['network']}: exit {r['returncode']}: {' | '.join(r['stderr_tail'])}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"target_s": TARGET_S, "ratio_wall": ratio, "target_met": ok, "rows": rows},
                                   indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
