#!/usr/bin/env python3
"""Set up ``.venv`` (when missing or stale) and run the demo or the test suite.

Needs only Python 3.11+:

    python3 scripts/bootstrap.py demo    # set up, then run the main job on the shipped samples
    python3 scripts/bootstrap.py test    # set up, then run the whole test suite

Extra arguments after ``test`` go to pytest.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".acoustic-installed"


def _fingerprint() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def ensure_venv() -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"Error: Python 3.11 or newer is needed, this is {sys.version.split()[0]}")
    if not PY.exists():
        print(f"creating {VENV}", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    if STAMP.exists() and STAMP.read_text().strip() == _fingerprint():
        return
    print("installing acoustic and its dependencies into .venv (first run only)", file=sys.stderr)
    pip = [str(PY), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(pip + ["install", "--upgrade", "pip"], check=True)
    subprocess.run(pip + ["install", "-e", f"{ROOT}[all]"], check=True)
    STAMP.write_text(_fingerprint())


def run(cmd: list[str]) -> int:
    print("$ " + " ".join(cmd), file=sys.stderr)
    return subprocess.run(cmd, cwd=ROOT).returncode


def demo() -> int:
    """The main job on the shipped samples: survey the sample district (areas, lines, points),
    then pinpoint the leak in each shipped sensor pair."""
    acoustic = str(BIN / "acoustic")
    samples = "recordings/samples"
    rc = run([acoustic, "survey", f"{samples}/district"])
    for pair in ("pvc_pair", "metal_pair"):
        rc |= run([acoustic, "correlate", f"{samples}/{pair}/A.wav", f"{samples}/{pair}/B.wav",
                   "--pipe", f"{samples}/{pair}/pipe.json"])
    return rc


def test(extra: list[str]) -> int:
    env_workers = os.environ.get("ACOUSTIC_TEST_WORKERS", "2")
    cmd = [str(PY), "-m", "pytest", "-q", "-n", env_workers, *extra]
    rc = run(cmd)
    if rc == 5:
        print("Error: pytest collected no tests", file=sys.stderr)
        return 1
    return rc


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test"):
        print(__doc__, file=sys.stderr)
        return 2
    ensure_venv()
    return demo() if argv[0] == "demo" else test(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
