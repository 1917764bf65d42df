"""Wall time of ``acoustic --help`` and ``import acoustic`` (median of several cold processes).

Run: ``.venv/bin/python bench/startup.py [--runs N]``; writes bench/results/startup.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _time(cmd, runs):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times), max(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=9)
    args = ap.parse_args()
    exe = shutil.which("acoustic", path=os.path.dirname(sys.executable)) or "acoustic"
    rows = {
        "python -c pass (floor)": _time([sys.executable, "-c", "pass"], args.runs),
        "import acoustic": _time([sys.executable, "-c", "import acoustic"], args.runs),
        "acoustic --help": _time([exe, "--help"], args.runs),
        "import numpy (reference)": _time([sys.executable, "-c", "import numpy"], args.runs),
    }
    print(f"{'what':28s} {'median s':>9s} {'min s':>7s} {'max s':>7s}")
    for name, (med, lo, hi) in rows.items():
        print(f"{name:28s} {med:9.3f} {lo:7.3f} {hi:7.3f}")
    out = HERE / "results" / "startup.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({k: {"median_s": v[0], "min_s": v[1], "max_s": v[2]} for k, v in rows.items()}
                              | {"runs": args.runs}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
