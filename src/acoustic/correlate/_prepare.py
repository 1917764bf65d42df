"""Bring a pair of recordings onto one sample grid and one time base.

* Different sample rates: the faster recording is resampled to the slower rate with a
  polyphase filter (``scipy.signal.resample_poly``), with a warning.
* Start times from the sidecars: the pair is trimmed to the interval both recorded, at whole
  samples; the remaining fraction of a sample (and anything else) is kept as
  ``offset_s = start(A') - start(B')`` and added to the delay bookkeeping, so delays are in
  absolute time with sub-sample accuracy and nothing is resampled for it.
* Unknown start time: a warning, and the pair is taken to have started together.
* No overlap in time: an error.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from fractions import Fraction

import numpy as np

from .._errors import AcousticWarning, ParameterError, RecordingError
from ..recording import Recording
from ._kernels import calibrate32

__all__ = ["PreparedPair", "prepare_pair", "zero_runs", "DROPOUT_MIN_S"]


def _warn(msg: str) -> None:
    warnings.warn(msg, AcousticWarning, stacklevel=3)


@dataclasses.dataclass
class PreparedPair:
    """A pair on one grid.

    Attributes
    ----------
    xa, xb : numpy.ndarray, shape (n,), float32
        Calibrated samples of A and B over the common interval (mean removed).
    sample_rate_hz : float
    offset_s : float
        Absolute start time of ``xa`` minus that of ``xb`` (s); a lag L between the arrays
        is an absolute-time delay of ``L + offset_s``.
    start_known : bool
        Both start times were known.
    polarity : float
        +1, or -1 when one sensor is an accelerometer and the other a hydrophone (wall
        acceleration is in antiphase with pressure below the ring frequency).
    """

    xa: np.ndarray
    xb: np.ndarray
    sample_rate_hz: float
    offset_s: float
    start_known: bool
    polarity: float
    name_a: str
    name_b: str
    #: Runs of digital silence (recording dropouts) in either recording: (start, stop) samples of
    #: ``xa`` / ``xb`` (the two share one grid), at least :data:`DROPOUT_MIN_S` long.
    dropouts: tuple = ()

    @property
    def duration_s(self) -> float:
        """Length of the common interval in s."""
        return self.xa.size / self.sample_rate_hz


#: Shortest run of exact zeros taken for a recording dropout (s): a live 16-bit sensor's noise
#: does not stay at exactly zero for this long.
DROPOUT_MIN_S = 0.02


def zero_runs(x: np.ndarray, min_len: int) -> list[tuple[int, int]]:
    """Runs ``[start, stop)`` of at least ``min_len`` consecutive exact zeros in ``x``.

    Any such run holds one of every ``min_len``-th samples, so those few are looked at first: the
    usual recording, with no zero among them, costs a few microseconds; the runs are sought only
    when there is one.
    """
    min_len = max(int(min_len), 1)
    if not np.any(x[min_len - 1::min_len] == 0.0):
        return []
    z = x == 0.0
    if np.count_nonzero(z) < min_len:
        return []
    edges = np.flatnonzero(np.diff(np.concatenate([[0], z.view(np.int8), [0]])))
    starts, stops = edges[0::2], edges[1::2]
    keep = stops - starts >= min_len
    return [(int(a), int(b)) for a, b in zip(starts[keep], stops[keep])]


def sample_stats(x: np.ndarray) -> tuple[float, float, float, int]:
    """Sum, minimum and maximum of the finite samples of ``x``, and the number of NaN/Inf ones.

    Three vectorised reductions for the usual clean recording (a NaN or Inf shows in the sum);
    the per-sample finiteness pass runs only when it does.  ``inf``/``-inf`` as minimum/maximum
    when no sample is finite.
    """
    total = float(np.sum(x, dtype=np.float64))
    lo, hi = float(np.min(x)), float(np.max(x))
    if math.isfinite(total) and math.isfinite(lo) and math.isfinite(hi):
        return total, lo, hi, 0
    finite = np.isfinite(x)
    n_bad = int(x.size - np.count_nonzero(finite))
    if n_bad == 0:  # the sum overflowed
        return total, lo, hi, 0
    y = x[finite]
    if y.size == 0:
        return 0.0, math.inf, -math.inf, n_bad
    return float(np.sum(y, dtype=np.float64)), float(np.min(y)), float(np.max(y)), n_bad


def _check_samples(rec: Recording, label: str, keep: tuple[int, int] | None = None) -> float:
    """Refuse empty, NaN/Inf, silent or constant samples and impossible rates; returns the mean
    of the samples ``keep[0]:keep[1]`` (all when None).

    The sums that look for NaN/Inf are taken over the kept part and the rest separately, so the
    kept part's mean needs no further pass over it.
    """
    x = rec.samples
    if x.size == 0:
        raise RecordingError(f"{rec.name}: recording {label} holds no samples")
    if keep is not None and keep[1] - keep[0] < x.size:
        a, b = keep
        kept = float(np.sum(x[a:b], dtype=np.float64))
        rest = float(np.sum(x[:a], dtype=np.float64)) + float(np.sum(x[b:], dtype=np.float64))
        lo, hi = float(np.min(x)), float(np.max(x))
        if math.isfinite(kept) and math.isfinite(rest) and math.isfinite(lo) and math.isfinite(hi):
            _check_range(rec, label, x, lo, hi, 0)
            return kept / (b - a)
    total, lo, hi, n_bad = sample_stats(x)
    _check_range(rec, label, x, lo, hi, n_bad)
    return total / x.size if keep is None or keep[1] - keep[0] == x.size else float(np.mean(x[keep[0]:keep[1]]))


def _check_range(rec: Recording, label: str, x: np.ndarray, lo: float, hi: float, n_bad: int) -> None:
    if n_bad:
        raise RecordingError(f"{rec.name}: recording {label} has {n_bad} NaN/Inf samples")
    if lo == hi:
        raise RecordingError(f"{rec.name}: recording {label} is {'silent' if x[0] == 0 else 'constant'}; no signal")
    if not (1000.0 <= rec.sample_rate <= 96000.0):
        raise RecordingError(f"{rec.name}: sample rate {rec.sample_rate:g} Hz is outside 1000-96000 Hz")


def _calibrated32(x: np.ndarray, gain_db: float, mean: float | None, use_numba: bool) -> np.ndarray:
    """Mean-free calibrated samples (``(x - mean) / 10**(gain_db/20)``) in single precision.

    16- and 24-bit audio keeps its full resolution in float32's 24-bit mantissa; the spectra
    are accumulated in double precision.  ``mean`` is the mean of ``x`` when already known.
    """
    m = float(np.mean(x)) if mean is None else float(mean)
    return calibrate32(x, m, 10.0 ** (-gain_db / 20.0) if gain_db != 0.0 else 1.0, use_numba=use_numba)


def _resample(x: np.ndarray, rate_from: float, rate_to: float) -> np.ndarray:
    from scipy.signal import resample_poly

    frac = Fraction(rate_to / rate_from).limit_denominator(1000)
    if abs(float(frac) - rate_to / rate_from) > 1e-9 * rate_to / rate_from:
        raise ParameterError(
            f"cannot resample {rate_from:g} Hz to {rate_to:g} Hz with a rational factor of small order"
        )
    return resample_poly(x, frac.numerator, frac.denominator)


def _common_span(na: int, nb: int, fs: float, ta, tb) -> tuple[int, int, int, float, float]:
    """The samples both recordings cover: first sample of A and of B, count, ``offset_s`` (start
    of A's part minus start of B's, s) and the overlap in s (<= 0: none).  Unknown start times:
    both from their first sample, offset 0."""
    if ta is None or tb is None:
        n = min(na, nb)
        return 0, 0, n, 0.0, n / fs
    # exact microsecond arithmetic: B's start minus A's start
    d = tb - ta
    s = d.days * 86400.0 + d.seconds + d.microseconds * 1e-6
    overlap = min(na / fs, s + nb / fs) - max(0.0, s)
    ka = int(round(max(0.0, s) * fs))
    kb = int(round(max(0.0, -s) * fs))
    offset = (ka / fs) - (kb / fs) - s  # start(A') - start(B')
    n = min(na - ka, nb - kb) if overlap > 0 else 0
    return ka, kb, n, offset, overlap


#: Sensor ids that name no particular sensor (two recordings sharing one are not the same sensor).
_ANONYMOUS_IDS = ("", "unknown")


def check_not_same_recording(rec_a: Recording, rec_b: Recording) -> None:
    """Refuse the same recording given as both sensors of a pair.

    Identical samples (the same file twice, or a copy), or one sensor id with one start time,
    make a perfect correlation at zero delay: a leak at the midpoint with confidence 1.

    Raises
    ------
    RecordingError
        When both are the same recording.
    """
    same_id = rec_a.sensor_id == rec_b.sensor_id and str(rec_a.sensor_id).strip().lower() not in _ANONYMOUS_IDS
    if same_id and rec_a.start_time is not None and rec_a.start_time == rec_b.start_time:
        raise RecordingError(f"{rec_a.name} and {rec_b.name} are the same recording twice (sensor id "
                             f"{rec_a.sensor_id!r}, start {rec_a.start_time.isoformat()}): give the two sensors' recordings")
    if (rec_a.sample_rate == rec_b.sample_rate and rec_a.samples.size == rec_b.samples.size
            and np.array_equal(rec_a.samples, rec_b.samples)):
        raise RecordingError(f"{rec_a.name} and {rec_b.name} hold identical samples: the same recording twice; "
                             "give the two sensors' recordings")


def prepare_pair(rec_a: Recording, rec_b: Recording, *, min_duration_s: float = 0.0,
                 use_numba: bool = False) -> PreparedPair:
    """Resample (if needed), align by start time and trim a pair to its common interval.

    Parameters
    ----------
    rec_a, rec_b : Recording
        Sensor A and sensor B.
    min_duration_s : float
        Shortest usable common interval in s (an error below it).
    use_numba : bool, default False
        Calibrate with the numba kernel (the same values; see :mod:`acoustic.correlate._kernels`).

    Returns
    -------
    PreparedPair

    Raises
    ------
    RecordingError
        Empty, NaN, silent recordings; recordings that do not overlap in time or overlap
        for less than ``min_duration_s``; the same recording twice (:func:`check_not_same_recording`).

    Warns
    -----
    AcousticWarning
        Resampling, unknown start times, discarded non-overlapping parts, mixed sensor kinds.
    """
    check_not_same_recording(rec_a, rec_b)
    fa, fb = rec_a.sample_rate, rec_b.sample_rate
    ta, tb = rec_a.start_time, rec_b.start_time
    # at one sample rate the common interval is known before the checks, whose sums then give
    # its mean (the interval is worked out again below, with the errors and warnings)
    span = _common_span(rec_a.samples.size, rec_b.samples.size, fa, ta, tb) if fa == fb else None
    keep_a = keep_b = None
    if span is not None and span[2] > 0:
        ka, kb, n = span[:3]
        keep_a, keep_b = (ka, ka + n), (kb, kb + n)
    mean_a = _check_samples(rec_a, "A", keep_a)
    mean_b = _check_samples(rec_b, "B", keep_b)
    xa, xb = rec_a.samples, rec_b.samples  # calibrated at the end, in single precision
    fs = min(fa, fb)
    if fa != fb:
        if fa > fb:
            xa = _resample(xa, fa, fb)
            _warn(f"{rec_a.name}: {fa:g} Hz resampled to {fb:g} Hz to match {rec_b.name}")
        else:
            xb = _resample(xb, fb, fa)
            _warn(f"{rec_b.name}: {fb:g} Hz resampled to {fa:g} Hz to match {rec_a.name}")

    ka, kb, n, offset, overlap = _common_span(xa.size, xb.size, fs, ta, tb)
    start_known = ta is not None and tb is not None
    if start_known and overlap <= 0:
        raise RecordingError(
            f"{rec_a.name} and {rec_b.name} do not overlap in time (A starts {ta.isoformat()}, "
            f"{xa.size / fs:.1f} s; B starts {tb.isoformat()}, {xb.size / fs:.1f} s)"
        )
    if not start_known:
        missing = [r.name for r, t in ((rec_a, ta), (rec_b, tb)) if t is None]
        _warn(f"start time of {' and '.join(missing)} unknown; assuming the recordings started together")
    if n <= 0:
        raise RecordingError(f"{rec_a.name} and {rec_b.name} have no samples in common")
    la, lb = xa.size, xb.size
    xa = xa[ka:ka + n]
    xb = xb[kb:kb + n]
    dropped = max(la - n, lb - n) / fs
    if dropped > max(1.0, 0.05 * n / fs):
        _warn(f"{rec_a.name} ({la / fs:.1f} s) and {rec_b.name} ({lb / fs:.1f} s) differ in length or start; "
              f"using the {n / fs:.1f} s both recorded")
    if n / fs < min_duration_s:
        raise RecordingError(
            f"{rec_a.name} and {rec_b.name} overlap for only {n / fs:.2f} s; at least {min_duration_s:.2f} s "
            f"is needed for this pipe"
        )
    polarity = 1.0
    if rec_a.sensor_kind != rec_b.sensor_kind:
        polarity = -1.0
        _warn(f"mixed sensor kinds ({rec_a.name}: {rec_a.sensor_kind}, {rec_b.name}: {rec_b.sensor_kind}); "
              "the accelerometer's polarity is inverted and its spectrum tilted, so the peak is broader")
    # recording dropouts (a logger that lost its input writes digital silence): the frames over them
    # carry no signal and are left out of the spectra
    min_len = max(1, int(round(DROPOUT_MIN_S * fs)))
    dropouts = []
    for rec, x in ((rec_a, xa), (rec_b, xb)):
        runs = zero_runs(x, min_len)
        if runs:
            total = sum(b - a for a, b in runs) / fs
            _warn(f"{rec.name}: {total:.2f} s of digital silence in {len(runs)} stretch(es) (recording dropouts); "
                  "left out")
            dropouts.extend(runs)
    # the checks' means serve when they were taken over the samples kept here
    same = span is not None and span[:3] == (ka, kb, n)
    xa = _calibrated32(xa, rec_a.gain_db, mean_a if same or xa.size == rec_a.samples.size else None, use_numba)
    xb = _calibrated32(xb, rec_b.gain_db, mean_b if same or xb.size == rec_b.samples.size else None, use_numba)
    return PreparedPair(xa=xa, xb=xb, sample_rate_hz=float(fs), offset_s=float(offset), start_known=start_known,
                        polarity=polarity, name_a=rec_a.name, name_b=rec_b.name, dropouts=tuple(sorted(dropouts)))
