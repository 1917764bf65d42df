"""Physics-based synthetic recordings: the project's test ground and training-data source.

Not delayed copies of noise: a leak (broadband turbulence noise with a random spectral
shape) is propagated along a multi-segment pipe with each segment's complex wavenumber
(dispersion and attenuation) for properties drawn around the nominal ones, seen by a
hydrophone (pressure) or an accelerometer (radial wall acceleration), in independent
background noise at a chosen SNR, with switchable confounders (mains hum, a pump or PRV
outside the pair, intermittent consumption, a second leak, traffic) and logger clock
offsets written exactly into the sidecars.  Levels are calibrated (Pa or m/s^2 after
dividing by the gain in the sidecar).

- :func:`simulate_pair` -> :class:`SimulatedPair` (two loggers on a :class:`~acoustic.pipe.PipePath`)
- :func:`simulate_recording` -> :class:`SimulatedRecording` (one logger, leak or everyday noises)
- :data:`CONFOUNDERS`, :data:`NOISES`: the switchable extras

Both results have ``write(...)`` for the interchange formats of ``interfaces.md`` plus ``truth.json``.
"""

from ._common import SimulatedPair, SimulatedRecording
from ._pair import CONFOUNDERS, simulate_pair
from ._single import NOISES, simulate_recording

__all__ = ["simulate_pair", "simulate_recording", "SimulatedPair", "SimulatedRecording", "CONFOUNDERS", "NOISES"]
