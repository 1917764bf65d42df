"""Cases found by the review of issue 19's plumbing and batch work, each a reproducer of what was wrong.

A case that could hang runs in a subprocess with a timeout, so a hang fails the test instead of
stalling the suite.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from acoustic._errors import RecordingError
from acoustic.io import loads_json_limited

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _python(code: str, *args, timeout: float = 60.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"})


# -- JSON: the string mask is linear -----------------------------------------------------------------

def test_a_sidecar_of_escaped_quotes_never_closed_does_not_hang(tmp_path):
    # ["\"\"\"... with no closing quote: each escaped quote used to restart the string scan (quadratic:
    # hours for a 1 MiB sidecar, which the batch reads in a worker and in the driver)
    side = tmp_path / "A.json"
    side.write_text('{"sensor_id": "' + '\\"' * 500_000)
    r = _python("import sys; from acoustic.io import read_sidecar\n"
                "try:\n    read_sidecar(sys.argv[1])\nexcept Exception as e:\n    print(type(e).__name__, e)",
                side)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("RecordingError") and "Unterminated string" in r.stdout


def test_an_unclosed_string_is_masked_to_the_end_and_positions_hold():
    from acoustic.io._jsonio import _mask_strings

    for text in ['{"a": "x[y", "b": [1]}', '"', '"abc[[', '["a\\"b"]', '"\\']:
        masked = _mask_strings(text)
        assert len(masked) == len(text)
        assert "[" not in masked[masked.find('"'):masked.rfind('"') + 1].strip('"')
    with pytest.raises(Exception, match="Unterminated string"):
        loads_json_limited('[1, "' + "[" * 1000)  # the brackets inside the open string do not count
    with pytest.raises(RecordingError, match="Unterminated string"):
        loads_json_limited('{"a": "\\"', error=RecordingError)
