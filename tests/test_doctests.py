"""The numpydoc Examples of the public entry points run as doctests (issue 21 item 8).

Modules of the conventions branch; the other subpackages' entry points (correlate_pair,
measure_velocity, extract_features, run_survey) join this list from their branches.
"""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = (
    "acoustic.io._audio",      # read_recording, on the shipped samples
    "acoustic.ledger",         # the ledger's operations, on a simulated history of the sample district
    "acoustic.io._jsonio",
    "acoustic._warnings",
    "acoustic.cli._common",
    "acoustic.cli._conventions",
)


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name):
    mod = importlib.import_module(name)
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0, f"{name} has no examples"
    assert res.failed == 0, f"{name}: {res.failed} of {res.attempted} examples failed"
