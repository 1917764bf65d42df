"""Shared fixtures: tiny recordings made on the fly."""

import os
from datetime import datetime, timezone

import numpy as np
import pytest

from acoustic.recording import Recording


@pytest.fixture(scope="session", autouse=True)
def _private_cache_dir(tmp_path_factory):
    """The compiled-model cache of the tests in a temporary folder, not the user's ~/.cache."""
    old = os.environ.get("ACOUSTIC_CACHE_DIR")
    os.environ["ACOUSTIC_CACHE_DIR"] = str(tmp_path_factory.mktemp("acoustic-cache"))
    yield
    if old is None:
        os.environ.pop("ACOUSTIC_CACHE_DIR", None)
    else:
        os.environ["ACOUSTIC_CACHE_DIR"] = old


@pytest.fixture
def rng():
    return np.random.default_rng(20261123)


@pytest.fixture
def make_recording(rng):
    """Factory: a short noise recording with a sidecar-worthy header."""

    def make(n=4000, sample_rate=8000.0, amplitude=0.1, **kw):
        kw.setdefault("sensor_id", "L017")
        kw.setdefault("start_time", datetime(2026, 11, 3, 2, 0, 0, 123456, tzinfo=timezone.utc))
        return Recording(samples=amplitude * rng.standard_normal(n), sample_rate=sample_rate, **kw)

    return make
