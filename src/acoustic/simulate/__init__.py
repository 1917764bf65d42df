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

Both results have ``write(...)`` for the interchange formats of ``interfaces.md`` plus a
truth JSON.

What is drawn, and from what (for augmentation)
------------------------------------------------
Every draw comes from ``seed`` through independent streams (clock, pipe, leak, background,
and one per confounder), so switching a confounder on or off leaves the pipe, the leak and
the background of the same seed unchanged.  Ranges marked [P] are this project's choices,
not published statistics.

=====================  ==================================================================
pipe properties        ``PipeSegment.draw_properties``: log-normal around the nominal E,
                       loss factor, wall, water bulk modulus and soil speeds/density with
                       the material's spreads (``acoustic.pipe.MATERIALS``), so the
                       realised speed differs from the table by a few percent.
propagation            ``exp(-i k(f) L)`` per piece of pipe (model on 400 log-spaced
                       frequencies, cubic interpolation); |pressure transmission
                       coefficient| ``2 Z2 / (Z1 + Z2)`` at each material change, no
                       reflections.
leak source            high-pass 10-50 Hz (18 dB/oct), low-pass 800-4000 Hz (24 dB/oct,
                       <= 0.4 fs), tilt -6..0 dB/oct, hump 100-1500 Hz of 0-12 dB and
                       0.5-2 octaves; level 0-30 dB re 1 Pa rms at the leak [P].
sensors                hydrophone: Pa, 2 Hz 2nd-order high-pass; accelerometer:
                       ``-omega^2 a^2/(E h)`` x pressure (m/s^2), 5 Hz high-pass.
background             red ambient ``f**-(0.5..1.5)`` above 3 Hz plus a self-noise floor
                       30-40 dB below the ambient at 100 Hz; pairs: scaled to ``snr_db``
                       over the leak band (leak cross-spectrum within 20 dB of its peak);
                       single loggers: -25..-5 dB re 1 Pa rms [P] unless ``snr_db``.
hum                    mains +- 0.01 Hz, harmonics 1-9 (odd ones stronger), own phase and
                       +-3 dB amplitude per logger and harmonic; rms -6..+6 dB re the rest
                       of a pair's recording, 0..+10 dB re a single logger's background.
pump                   1450/1750/2900/3500 rpm (-3..0 %), 5-7 blades, shaft harmonics 1-4
                       and blade-pass harmonics 1-3, flow noise 10 dB below; pairs: 20-300 m
                       beyond A or B at +0..15 dB re the leak; singles: 5-30 dB re 1 Pa at
                       20-300 m.
prv                    log-Gaussian hiss band (centre 300-2000 Hz); pairs: 20-300 m beyond A
                       or B at -5..+10 dB re the leak; singles: 0-25 dB at 10-200 m.
consumption            flow hiss (centre 200-1500 Hz, 1-2 octaves) switched on and off
                       (exponential on 1.5-6 s, off 2-8 s means, 0.2 s ramps); pairs: a tap
                       at 10-90 % of the path, +0..10 dB re the leak; singles: 0-25 dB at
                       2-100 m.
second leak            own random shape at ``second_leak_m`` (or >= 10 % of the length from
                       the main leak), ``second_leak_rel_db`` re the main leak.
traffic                Poisson passes (0.05-0.4 per s, at least one), Gaussian envelopes
                       (s.d. 0.3-1.5 s) of 8-40 Hz rumble, independent per logger, peaks
                       +6..20 dB (pairs) or +10..25 dB (singles) re the background rms.
clocks                 B starts ``start_offset_s`` after A (random +-2 s when None),
                       exact to the microsecond in the sidecars; applied as an exact
                       fractional shift in the frequency domain.
gain                   chosen so the peak is near -6 dBFS (rounded down to 0.1 dB) unless
                       given; written in the sidecars.
=====================  ==================================================================

The truth ``delay_s`` is where a cross-correlation of the two recordings peaks (in absolute
time): the phase delay averaged over the leak band with weights ``|G12| omega^2``, which is
the group delay on non-dispersive (metal) pipes and differs from the band's group delay
(also given, ``group_delay_s``) by a few tenths of a percent on plastic ones.
"""

from ._common import SimulatedPair, SimulatedRecording
from ._pair import CONFOUNDERS, simulate_pair
from ._single import NOISES, simulate_recording

__all__ = ["simulate_pair", "simulate_recording", "SimulatedPair", "SimulatedRecording", "CONFOUNDERS", "NOISES"]
