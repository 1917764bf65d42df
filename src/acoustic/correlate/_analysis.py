"""The correlation engine shared by leak location and velocity measurement.

Given a prepared pair and a window of possible delays, it estimates the robust cross-spectrum,
finds tonal lines and the coherent band, forms the weighted correlogram and extracts its peaks
one by one (CLEAN: each peak's modelled shape is subtracted in the frequency domain before the
next is sought, so side lobes are never reported as peaks).  Each peak gets a sub-sample delay,
an envelope z-score against the correlogram's noise (estimated at lags outside the physical
window, where no source can be), a false-alarm probability and a delay standard deviation.
Each peak that stands out gets its frame-by-frame share of the correlogram examined, which
tells a steady source (a leak) from one that comes and goes (a tap switched on and off).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .._errors import ParameterError, RecordingError
from ._gcc import (
    Correlogram, band_smoothing_bins, band_taper, build_correlogram, false_alarm_probability, resolve_weighting,
    select_band, smoothed_coherence, smoothing_bins, tonal_lines, weighting_function,
)
from ._kernels import resolve_use_numba
from ._prepare import PreparedPair
from ._spectra import CrossSpectrum, coherence_threshold, cross_spectrum, median

__all__ = ["Peak", "Analysis", "analyse", "choose_frame_length", "MIN_FRAMES"]

#: Fewest frames a cross-spectrum may average.
MIN_FRAMES = 8
#: Frames wanted before the frame length is shortened.
_WANT_FRAMES = 24
#: Lowest analysed frequency in Hz (below it pipes carry almost no leak noise and traffic rumble rules).
FMIN_HZ = 5.0
#: A coherent band narrower than this many octaves is widened to it (about its geometric centre)
#: when the weights are the coherence's (HT): see :func:`analyse`.
MIN_LEAK_BAND_OCTAVES = 2.0
#: Newton iterations refining a peak's delay.
_NEWTON_STEPS = 4
#: Upsampling of the coarse correlogram grid.
UPSAMPLE = 1
#: A possible ghost peak is kept when the SCOT correlogram shows it with at most this false-alarm probability.
_GHOST_PFA = 0.01
#: Rice's formula with the estimated noise level is optimistic: on 600 simulated pairs without a
#: leak (every material; background, hum, pump, PRV, consumption, traffic;
#: scripts/calibrate_false_alarm.py, bench/results/false_alarm_calibration.json) leak peaks reach
#: a nominal false-alarm probability q 1.3-2.5 times as often as q says for q = 0.002-0.02 (at
#: q = 0.005, where detection happens, 5 pairs of 600: 1.7 times, 95 % upper bound 3.9), so p is
#: multiplied by this, which keeps the false detections at the threshold (0.8 %) under
#: DETECTION_PFA (1 %).
FALSE_ALARM_CALIBRATION = 2.0
#: CLEAN stops after a peak whose false-alarm probability exceeds this.
_STOP_PFA = 0.5


@dataclasses.dataclass
class Peak:
    """One peak of the correlogram.

    Attributes
    ----------
    delay_s : float
        Absolute-time delay (arrival at A minus arrival at B), s.
    delay_sd_s : float
        Standard deviation of ``delay_s`` from the correlogram noise (s).
    strength : float
        Envelope height relative to a fully coherent aligned source (0..1).
    z : float
        Envelope height over the noise standard deviation.
    p_false_alarm : float
        Probability that noise alone makes a peak this high in the window (Rice's formula times
        :data:`FALSE_ALARM_CALIBRATION`).
    phase_rad : float
        Phase of the peak (0 for an in-phase source, pi for an inverted one).
    intermittency : float
        Frame-to-frame variance of the peak's contribution beyond what a steady source and the
        noise make, relative to its squared mean (``(1 - q)/q`` for a source on a fraction q of
        the time; about 0 for a steady source such as a leak).  NaN when not measured (peaks
        above the candidate false-alarm probability, or no room outside the window for the noise).
    intermittent : bool
        ``intermittency`` is significantly above what a steady source gives: the source comes
        and goes (a tap, other consumption), so it is not a leak.
    shared : bool
        The peak comes and goes, but a steady source lies under it too (a leak with a tap near
        it, :func:`_steady_part`): it is then not ``intermittent``.
    """

    delay_s: float
    delay_sd_s: float
    strength: float
    z: float
    p_false_alarm: float
    phase_rad: float
    intermittency: float = math.nan
    intermittent: bool = False
    shared: bool = False


@dataclasses.dataclass
class Analysis:
    """Everything one correlation computed (see :func:`analyse`).

    ``lags_s``, ``values`` and ``envelope`` are the correlogram (scaled to a correlation
    coefficient, with its envelope) at the grid's lags within ``window_s``.  ``band_hz`` is the
    band correlated over, ``signal_band_hz`` the band the delay information comes from (the
    coherent band as selected, or the given or fallback band): the same, but for a narrow
    coherent band that HT weights widen (:data:`MIN_LEAK_BAND_OCTAVES`).  ``rescanned_from_hz``: the
    coherent band as selected when nothing stood out there and ``band_hz`` and ``signal_band_hz``
    are both the band of the SCOT scan where a peak does (``analyse``'s ``rescan_pfa``); None
    otherwise.
    """

    cs: CrossSpectrum
    coherence_raw: np.ndarray
    coherence_smooth: np.ndarray
    coherent: bool
    band_hz: tuple[float, float]
    signal_band_hz: tuple[float, float]
    notch: np.ndarray
    tonal_lines_hz: list
    weighting: str
    correlogram: Correlogram
    lags_s: np.ndarray
    values: np.ndarray
    envelope: np.ndarray
    window_s: tuple[float, float]
    peaks: list
    noise_sd: float
    noise_bandwidth_hz: float
    coherence_threshold: float
    offset_s: float
    duration_s: float
    rescanned_from_hz: tuple[float, float] | None = None


def _next_pow2(n: float) -> int:
    return 1 << max(0, int(math.ceil(math.log2(max(n, 1.0)))))


def choose_frame_length(n_samples: int, sample_rate_hz: float, max_lag_s: float) -> int:
    """Frame length (samples, a power of two) for a lag search out to ``max_lag_s``.

    At least 4 times the longest lag (so the window overlap keeps over 0.38 of a peak at the
    edge, which is then corrected), at least 0.5 s for 2 Hz resolution, shortened toward 2.5
    times the longest lag when that leaves too few frames to average.

    Raises
    ------
    RecordingError
        When even the shortest usable frame leaves fewer than :data:`MIN_FRAMES` frames.
    """
    fs = sample_rate_hz
    lag = max_lag_s * fs
    n = _next_pow2(max(0.5 * fs, 4.0 * lag, 256))
    shortest = _next_pow2(max(2.5 * lag, 0.125 * fs, 256))

    def frames(m):
        return (n_samples - m) // (m // 2) + 1 if n_samples >= m else 0

    while frames(n) < _WANT_FRAMES and n // 2 >= shortest:
        n //= 2
    if frames(n) < MIN_FRAMES:
        need = (MIN_FRAMES + 1) * (shortest // 2) / fs
        raise RecordingError(
            f"the recordings overlap for {n_samples / fs:.2f} s; at least {need:.1f} s are needed to "
            f"correlate delays up to {max_lag_s:.3f} s"
        )
    return n


def validate_band(band_hz, sample_rate_hz: float) -> tuple[float, float]:
    """Check a user band: two finite numbers 0 < low < high <= half the sample rate."""
    try:
        lo, hi = (float(b) for b in band_hz)
    except (TypeError, ValueError):
        raise ParameterError(f"band must be two frequencies LOW HIGH in Hz, got {band_hz!r}") from None
    nyq = sample_rate_hz / 2.0
    if not (math.isfinite(lo) and math.isfinite(hi)) or not (0.0 < lo < hi):
        raise ParameterError(f"band must satisfy 0 < LOW < HIGH Hz, got {lo:g} {hi:g}")
    if hi > nyq:
        raise ParameterError(f"band upper edge {hi:g} Hz is above half the sample rate ({nyq:g} Hz)")
    return lo, hi


def _refine(cg: Correlogram, spec: np.ndarray, tau0: float, step: float, use_numba: bool = False):
    """Sub-sample peak of the window-corrected envelope near the coarse peak ``tau0``.

    Newton's method on ``ln(|z|^2 / rho^2)`` (rho the window lag factor), with the first and
    second derivatives of the correlogram summed exactly over the band
    (:meth:`Correlogram.derivatives`), kept within one coarse step of ``tau0``.  Returns the delay, the
    complex value there and the curvature (per s^2) of the uncorrected envelope ``|z|``.
    """
    tau = float(tau0)
    zt, z1, z2 = cg.derivatives(tau, spec, use_numba=use_numba)
    for _ in range(_NEWTON_STEPS):
        p = abs(zt) ** 2
        if p <= 0:
            break
        g1 = 2.0 * (zt.conjugate() * z1).real / p
        g2 = 2.0 * ((zt.conjugate() * z2).real + abs(z1) ** 2) / p - g1 * g1
        h = 1e-3 * step
        lr0, lr1, lr2 = (math.log(cg.lag_factor(tau + h * d)) for d in (-1.0, 0.0, 1.0))
        g1 -= 2.0 * (lr2 - lr0) / (2.0 * h)
        g2 -= 2.0 * (lr2 - 2.0 * lr1 + lr0) / (h * h)
        delta = -g1 / g2 if g2 < 0 else math.copysign(0.25 * step, g1)
        delta = max(-0.5 * step, min(0.5 * step, delta))
        new = min(max(tau + delta, tau0 - step), tau0 + step)
        if abs(new - tau) < 1e-4 * step:
            tau = new
            zt, z1, z2 = cg.derivatives(tau, spec, use_numba=use_numba)
            break
        tau = new
        zt, z1, z2 = cg.derivatives(tau, spec, use_numba=use_numba)
    a = abs(zt)
    if a > 0:
        re1 = (zt.conjugate() * z1).real
        curv = ((zt.conjugate() * z2).real + abs(z1) ** 2) / a - re1 * re1 / a**3
    else:
        curv = 0.0
    return tau, complex(zt), float(curv)


def _noise_sd(z_out: np.ndarray, inv_noise: np.ndarray) -> float:
    """Standard deviation of the correlogram's noise (at zero lag) from its values ``z_out`` at lags
    where no source can be, each divided by the window's noise factor there (``inv_noise`` is its
    reciprocal): the median of ``|u|^2`` of complex Gaussian noise is ``2 ln 2`` times the
    variance.  Real and imaginary parts are scaled separately, the same arithmetic as numpy's
    complex-by-real division, without the complex temporaries."""
    ur = z_out.real * inv_noise
    ui = z_out.imag * inv_noise
    return max(math.sqrt(median(ur * ur + ui * ui) / (2.0 * math.log(2.0))), 1e-300)


def _linear_check(cs, coh_s, notch, taper, prep, band, fmin, lags, outside, window):
    """A test of whether a delay has a significant peak in the SCOT correlogram (no ghosts)."""
    psi = weighting_function("scot", cs, coh_s) * ~notch
    psi[cs.freqs_hz < min(fmin, band[0])] = 0.0
    cg = build_correlogram(cs, psi, taper, coh_s, offset_s=prep.offset_s, polarity=prep.polarity)
    if cg.freqs_hz.size == 0:
        return lambda tau, step: True
    lg, z = cg.grid(upsample=UPSAMPLE)
    sd = _noise_sd(z[outside], 1.0 / cg.grid_factors(UPSAMPLE)[1][outside])
    b = cg.noise_rms_bandwidth_hz()

    def check(tau, step):
        t = tau + np.linspace(-2.0 * step, 2.0 * step, 9)
        zz = float(np.max(np.abs(cg.evaluate(t)))) / (sd * float(cg.noise_factor(tau)))
        return false_alarm_probability(zz, window[1] - window[0], b) <= _GHOST_PFA

    return check


#: A peak is intermittent when its intermittency exceeds this (a source on 95 % of the time gives
#: 0.05) plus what a steady source can show: a bias of up to this many ...
_INTERMITTENT_EXCESS = 0.05
_STEADY_BIAS = 0.3
#: ... and this many standard deviations, both in units of 1 / z_f^2 (z_f: the peak's per-frame
#: z-score).  On simulated steady sources (60 seeds, 4 SNRs, 57 frames) ``excess z_f^2`` had a
#: mean of -0.03 to 0.24 and a standard deviation of 0.17-0.21, about ``sqrt(2 / n)``.
_INTERMITTENT_SD = 3.0
#: Lags outside the physical window at which the frames' noise is measured for the intermittency
#: test, and the fewest that will do.
_INTERMITTENT_NOISE_LAGS = 16
_INTERMITTENT_MIN_NOISE_LAGS = 8
#: Newton steps of the Paule-Mandel estimate of a source's frame-to-frame variance.
_PAULE_MANDEL_STEPS = 12


def _frame_shares(cg: Correlogram, frames_a, frames_b) -> np.ndarray:
    """Each frame's weighted cross-spectrum ``X_A conj(X_B) w`` (complex64, frames x bins) over
    the span of ``cg``'s bins (weight 0 in its gaps): summed at a delay, a frame's share of the
    correlogram there."""
    if cg.bins.size == 0:
        return np.zeros((frames_a.shape[0], 0), dtype=np.complex64)
    lo, hi = int(cg.bins[0]), int(cg.bins[-1]) + 1
    w = np.zeros(hi - lo, dtype=np.complex64)
    w[cg.bins - lo] = cg.bin_weight
    out = np.conj(frames_b[:, lo:hi])
    out *= frames_a[:, lo:hi]
    out *= w
    return out


def _frame_noise(ref: np.ndarray):
    """Per-quadrature noise variance of each frame (row) from its values at the noise lags
    (columns), floored at 1e-6 of the median positive one; None when none is positive."""
    s2 = np.mean(ref.real**2 + ref.imag**2, axis=1) / 2.0
    pos = s2[s2 > 0]
    return None if pos.size == 0 else np.maximum(s2, 1e-6 * median(pos))


def _frame_values(cg: Correlogram, shares: np.ndarray, lags_s) -> np.ndarray:
    """Each frame's share of the correlogram (rows) at the delays ``lags_s`` (columns), complex128,
    in the units of the noise (divided by :meth:`Correlogram.noise_factor`)."""
    lags = np.asarray(lags_s, dtype=np.float64)
    lo = int(cg.bins[0])
    freqs = (lo + np.arange(shares.shape[1])) * (cg.sample_rate_hz / cg.n_fft)
    cycles = np.outer(freqs, lags)
    cycles -= np.round(cycles)  # the phase in turns, within half a turn: exact enough in single precision
    arg = (2.0 * np.pi * cycles).astype(np.float32)
    phase = np.empty(arg.shape, dtype=np.complex64)
    phase.real, phase.imag = np.cos(arg), np.sin(arg)
    return (shares @ phase).astype(np.complex128) / cg.noise_factor(lags)


def _frame_weights_from_noise(ref: np.ndarray):
    """Inverse per-quadrature noise variance of each frame (row) from its values at lags no source
    reaches (columns), or None when it cannot be measured.

    Each lag's mean over the frames is taken out first (with the frames' inverse noise variances:
    a plain mean would be the loud frames', and put their noise into every quiet frame's level);
    ``1/s2`` of that chi-square estimate with ``2 n_lags`` degrees of freedom is biased up by
    ``dof/(dof - 2)``, which the weights take out.
    """
    s2_k = _frame_noise(ref)
    if s2_k is None:
        return None
    w0 = 1.0 / s2_k
    ref = ref - (w0 @ ref) / float(np.sum(w0))
    s2_k = _frame_noise(ref)
    if s2_k is None:
        return None
    dof = 2.0 * ref.shape[1]
    return (dof - 2.0) / dof / s2_k


def _intermittency(cg: Correlogram, shares: np.ndarray, delays_s, noise_lags_s):
    """Intermittency of the sources at ``delays_s`` from each frame's share of the correlogram.

    Frame k's share ``v_k`` of the correlogram at delay tau (see :func:`_frame_shares`).  A
    steady source gives every frame the same mean, so the spread of ``v_k`` in the direction of
    its mean is the noise's, whose per-quadrature variance ``s2_k`` is measured frame by frame
    at lags no source reaches (``noise_lags_s``); a source on for a fraction q of the frames adds
    ``(1 - q)/q`` times its squared mean.

    The frames' noise is not equally loud: a traffic pass or a burst of flow raises a few frames'
    noise tens of times, and a plain mean and variance over the frames would then be those few
    frames' (their chance spread, several times the quiet frames' level, reads as a source that
    comes and goes).  So the test is Cochran's heterogeneity test of the frames' means (the
    meta-analysis one): with ``w_k = 1/s2_k`` and ``a_k`` the in-phase part of ``v_k``,
    ``Q = sum w_k (a_k - mu_w)^2`` (``mu_w`` the inverse-variance mean) is chi-square with
    n - 1 degrees of freedom for a steady source whatever each frame's noise, and the
    source's own frame-to-frame variance ``tau^2`` is the Paule-Mandel estimate (the one at which
    the weights ``1 / (s2_k + tau^2)`` leave Q at n - 1; below 0, the moment estimate
    ``(Q - (n - 1)) / c`` with ``c = sum w - sum w^2 / sum w``).  The intermittency is
    ``tau^2 / mu^2`` (mu the mean with those weights): ``(var - s2) / mu^2`` when every frame's
    noise is the same, about 0 for a steady source with a standard deviation of about
    ``sqrt(2 / n) / z_f^2`` (``z_f^2 = mu^2 c / (n - 1)``, the per-frame z^2 of the steady part),
    ``(1 - q)/q`` for a source on a fraction q of the frames.  The limit adds
    :data:`_INTERMITTENT_EXCESS` and a small bias.

    Returns
    -------
    list of (float, bool)
        Intermittency and whether it is significant, per delay (NaN and False when it cannot be
        measured).
    """
    if cg.bins.size == 0 or len(delays_s) == 0 or len(noise_lags_s) < _INTERMITTENT_MIN_NOISE_LAGS:
        return [(math.nan, False)] * len(delays_s)
    lags = np.concatenate([np.asarray(delays_s, dtype=np.float64), np.asarray(noise_lags_s, dtype=np.float64)])
    v = _frame_values(cg, shares, lags)
    n = v.shape[0]
    w = _frame_weights_from_noise(v[:, len(delays_s):]) if n >= 4 else None
    if w is None:
        return [(math.nan, False)] * len(delays_s)
    w_sum = float(np.sum(w))
    c = w_sum - float(np.sum(w * w)) / w_sum
    out = []
    for j in range(len(delays_s)):
        m = np.sum(w * v[:, j]) / w_sum
        a = (v[:, j] * np.exp(-1j * np.angle(m))).real
        mu_w = float(np.sum(w * a)) / w_sum
        tau2 = (float(np.sum(w * (a - mu_w) ** 2)) - (n - 1.0)) / c
        mu = mu_w
        if tau2 > 0.0:
            # Paule-Mandel: the tau^2 at which the random-effects weights 1 / (s2_k + tau^2) leave
            # Q = n - 1 (DerSimonian-Laird's moment estimate with the fixed weights is biased low
            # when the source's own noise makes the frames it is on in the noisier ones); Newton
            # on this convex, decreasing function, from the moment estimate (a step from the right
            # of the root lands left of it, and from there it climbs without overshoot)
            var_k = 1.0 / w
            t = tau2
            for _ in range(_PAULE_MANDEL_STEPS):
                wr = 1.0 / (var_k + t)
                mu = float(wr @ a) / float(np.sum(wr))
                r = a - mu
                wr2 = wr * r
                f = float(wr2 @ r) - (n - 1.0)
                if abs(f) <= 1e-3 * n:
                    break
                t = max(t + f / float(wr2 @ wr2), 0.0)
            tau2 = t
        z2 = mu * mu * c / (n - 1.0)  # the steady part's per-frame z^2 (its inverse: s2 / mu^2)
        if mu <= 0.0 or z2 <= 0.0 or c <= 0.0:
            out.append((math.nan, False))
            continue
        excess = tau2 / (mu * mu)
        limit = _INTERMITTENT_EXCESS + (_STEADY_BIAS + _INTERMITTENT_SD * math.sqrt(2.0 / n)) / z2
        out.append((excess, excess > limit))
    return out


#: The second look at a pair whose coherent band shows nothing (``analyse``'s ``rescan_pfa``) has
#: its peaks' false-alarm probabilities multiplied by this many times the bands it tries: the
#: first look spent the detection's budget, and the second adds at most a fifth of it.
RESCAN_COST = 5

#: A steady source under an intermittent peak (:func:`_steady_part`): its Hotelling test's
#: false-alarm probability at most this ...
_STEADY_PFA = 1e-3
#: ... and its part across the intermittent source's direction at least this fraction of the
#: peak: the one-direction model of a source that comes and goes holds only roughly (frames that
#: catch a loud tap turning on or off, its own noise), so a loud tap alone can pass the test.
#: On 120 simulated tap-only pairs (30 s; 32 tap peaks flagged intermittent) the test reached
#: 1e-3 twice, with parts of 0.013 and 0.025 of the peak (``scripts/calibrate_steady_part.py``);
#: on leaks under a tap the part was 0.4-0.8.
_STEADY_MIN_FRACTION = 0.2
#: Delays at which the steady part is sought (centred on the peak, 0.5 / bandwidth apart), and
#: the most jackknife blocks (of two or more whole frames: neighbouring frames overlap); fewer
#: than 4 per delay and the test is not made.
_STEADY_DELAYS = 3
_STEADY_BLOCKS = 40


def _steady_part(cg: Correlogram, shares: np.ndarray, delay_s: float, noise_lags_s):
    """Whether a steady source lies under the intermittent peak at ``delay_s``.

    A tap within a main lobe of a leak makes one peak with it that comes and goes, and the
    intermittency test rightly flags it.  Each frame's share of the correlogram at a delay (a
    complex number, see :func:`_frame_shares`) is then ``L + q_k T + noise``: ``L`` from the
    steady source, ``T`` from the other scaled by how much of frame k it was on (``q_k`` in
    0..1).  Over the frames the values spread along the direction of ``T`` (the principal axis
    of their weighted scatter in the complex plane); without a steady source their mean lies
    on that axis, with one it is off it by ``L``'s part across ``T``.  Two sources at delays a
    fraction of a main lobe apart have different phases, and the phase difference turns with
    the delay, so the test takes :data:`_STEADY_DELAYS` delays about the peak: the vector of
    the means' parts across each delay's axis, against its covariance by a block jackknife
    over the frames (which also carries the error of the axes), is Hotelling's T^2.  A leak and
    a tap at the very same delay have the same phase everywhere and cannot be told apart: the
    peak then stays intermittent.

    Returns
    -------
    (float, float)
        The test's false-alarm probability and the steady part's size relative to the peak's
        mean (NaN, NaN when it cannot be measured).
    """
    from scipy.special import fdtrc

    if cg.bins.size == 0 or len(noise_lags_s) < _INTERMITTENT_MIN_NOISE_LAGS:
        return math.nan, math.nan
    bw = max(float(cg.freqs_hz[-1] - cg.freqs_hz[0]), cg.sample_rate_hz / cg.n_fft)
    m_d = _STEADY_DELAYS
    delays = delay_s + (np.arange(m_d) - 0.5 * (m_d - 1)) * (0.5 / bw)
    v = _frame_values(cg, shares, np.concatenate([delays, np.asarray(noise_lags_s, dtype=np.float64)]))
    n = v.shape[0]
    n_blocks = min(_STEADY_BLOCKS, n // 2)  # blocks of two frames or more (neighbours overlap)
    if n_blocks < 4 * m_d:
        return math.nan, math.nan
    blocks = np.array_split(np.arange(n), n_blocks)
    w = _frame_weights_from_noise(v[:, m_d:])
    if w is None:
        return math.nan, math.nan
    u = v[:, :m_d]

    def across(keep, ref=None):
        ww = w[keep]
        mean = (ww @ u[keep]) / float(np.sum(ww))
        d = u[keep] - mean
        axis = 0.5 * np.angle(ww @ (d * d))  # principal axis of the scatter: half the angle of E[d^2]
        if ref is not None:  # an axis has no sense: the one nearest the whole set's, not its opposite
            axis += np.pi * np.round((ref - axis) / np.pi)
        return (mean * np.exp(-1j * axis)).imag, mean, axis

    part, mean, axis_all = across(np.ones(n, dtype=bool))
    reps = np.empty((n_blocks, m_d))
    for b, block in enumerate(blocks):
        keep = np.ones(n, dtype=bool)
        keep[block] = False
        reps[b] = across(keep, axis_all)[0]
    dev = reps - reps.mean(axis=0)
    cov = (n_blocks - 1.0) / n_blocks * (dev.T @ dev)
    try:
        t2 = float(part @ np.linalg.solve(cov, part))
    except np.linalg.LinAlgError:
        return math.nan, math.nan
    # Hotelling's reference with half the blocks as the sample: a jackknife of this ratio
    # statistic from few blocks understates its spread (with all the blocks as the sample, taps
    # alone passed 1e-3 in 1.8 % of draws at 13 blocks and 0.3 % at 28; now none in 600 at 28)
    g = n_blocks / 2.0
    f = (g - m_d) / (m_d * (g - 1.0)) * t2
    p = float(fdtrc(m_d, g - m_d, f))
    frac = float(np.max(np.abs(part)) / max(float(np.max(np.abs(mean))), 1e-300))
    return p, frac


#: Fewest independent correlogram values (bandwidth x lag span) a scanned band must offer the noise estimate.
_SCAN_MIN_LOOKS = 40.0
#: The band scan (nothing coherent, or the second look) also tries PHAT over the whole leak-noise
#: band, so it never does worse than textbook GCC-PHAT there (issue 17); it is charged as one more look.
SCAN_WITH_PHAT = True


def _scan_candidates(full) -> list:
    """The scan's candidates: ``(weighting, band)`` for the full band and its sub-bands of 1, 2
    and 3 octaves in 1-octave steps (SCOT), then PHAT over the full band (:data:`SCAN_WITH_PHAT`)."""
    lo, hi = full
    cands = [("scot", tuple(full))]
    for octaves in (1, 2, 3):
        f0 = lo
        while f0 * 2.0**octaves <= hi * 1.0001:
            cands.append(("scot", (f0, f0 * 2.0**octaves)))
            f0 *= 2.0
    if SCAN_WITH_PHAT:
        cands.append(("phat", tuple(full)))
    return cands


def _candidate_pfa(prep, cs, coh_s, notch, fmin, name, b, window_s, search_s):
    """Rice false-alarm probability of the highest peak at ``|lag| < search_s`` (within the window)
    of the ``name`` correlogram over band ``b``; None when the band cannot be scored."""
    fs = prep.sample_rate_hz
    w_lo, w_hi = window_s
    half_span = 0.95 * cs.n_fft / (2.0 * fs)
    # the noise level comes from the correlogram at lags no source reaches; a narrow band over
    # short frames has too few independent values there (about bandwidth x lag span) to
    # estimate it, and an underestimated noise makes chance peaks look significant
    if (b[1] - b[0]) * 2.0 * half_span < _SCAN_MIN_LOOKS:
        return None
    psi = weighting_function(name, cs, coh_s) * ~notch
    psi[cs.freqs_hz < fmin] = 0.0
    taper = band_taper(cs.freqs_hz, b)
    if np.count_nonzero(psi * taper > 0) < 8:
        return None
    cg = build_correlogram(cs, psi, taper, coh_s, offset_s=prep.offset_s, polarity=prep.polarity)
    lags, z = cg.grid(upsample=UPSAMPLE)
    _lag, noise = cg.grid_factors(UPSAMPLE)
    guard = 3.0 / max(b[1] - b[0], cs.df_hz)
    outside = ((lags < w_lo - guard) | (lags > w_hi + guard)) & (np.abs(lags) <= half_span)
    if np.count_nonzero(outside) < 64:
        outside = np.abs(lags) <= half_span
    sd = _noise_sd(z[outside], 1.0 / noise[outside])
    win = (lags >= w_lo) & (lags <= w_hi)
    if search_s is not None:
        win &= np.abs(lags) < search_s
        if not np.any(win):
            return None
    zz = float(np.max(np.abs(z[win]) / (sd * noise[win])))
    return false_alarm_probability(zz, w_hi - w_lo, cg.noise_rms_bandwidth_hz())


def _scan_band(prep, cs, coh_s, notch, fmin, full, window_s, search_s=None):
    """The weighting and band, among :func:`_scan_candidates` of ``full``, whose correlogram has
    the least likely peak (at ``|lag| < search_s`` when given: the leak sought away from a louder
    source at the edge of the possible delays).

    When nothing is measurably coherent the leak may still stand out in the correlogram of its
    own band (the peak sums the cross-spectrum coherently, the coherence test does not), but SCOT
    over the whole physically possible band dilutes it with the bands the leak does not reach;
    PHAT over the whole band is textbook GCC-PHAT's choice, which the scan then never falls
    below.  Returns the band, the number of candidates (the false-alarm probability is
    multiplied by it) and the weighting.
    """
    cands = _scan_candidates(full)
    best = None
    for name, b in cands:
        p = _candidate_pfa(prep, cs, coh_s, notch, fmin, name, b, window_s, search_s)
        if p is not None and (best is None or p < best[0]):
            best = (p, b, name)
    if best is None:
        return tuple(full), 1, "scot"
    return best[1], len(cands), best[2]


@dataclasses.dataclass
class Spectra:
    """The spectra of a pair that every look at it shares (:func:`pair_spectra`).

    Attributes
    ----------
    cs : CrossSpectrum
        Robust Welch cross- and auto-spectra.
    frames_a, frames_b : numpy.ndarray
        Each kept frame's rfft (frames x bins), for the intermittency tests.
    coherence_raw : numpy.ndarray
        Magnitude-squared coherence (raw Welch estimate) per bin.
    coherence_smooth : numpy.ndarray
        Bias-corrected coherence smoothed over ``smoothing_half`` bins each side (tonal lines left out).
    notch : numpy.ndarray of bool
        Bins of tonal lines (given zero weight).
    lines_hz : list
        The tonal lines' frequencies (Hz).
    smoothing_half : int
        Half-width (bins) of the coherence smoothing.
    fmin_hz, fmax_hz : float
        Lowest and highest frequency analysed (Hz).
    n_fft : int
        Frame length (samples).
    window_s : (float, float)
        Lowest and highest delay (s) a source may have.
    """

    cs: CrossSpectrum
    frames_a: np.ndarray
    frames_b: np.ndarray
    coherence_raw: np.ndarray
    coherence_smooth: np.ndarray
    notch: np.ndarray
    lines_hz: list
    smoothing_half: int
    fmin_hz: float
    fmax_hz: float
    n_fft: int
    window_s: tuple[float, float]


@dataclasses.dataclass
class BandChoice:
    """The band and weighting of a first look (:func:`choose_band`).

    ``band_hz`` is correlated over, ``signal_band_hz`` is where the delay information is (the wave
    speeds are taken over it), ``coherent`` whether a coherent band was found (or given),
    ``scan_k`` the number of bands tried (the false-alarm probability is multiplied by it).
    """

    weighting: str
    band_hz: tuple[float, float]
    signal_band_hz: tuple[float, float]
    coherent: bool
    scan_k: int


@dataclasses.dataclass
class LagGrid:
    """A band's correlogram on its lag grid, with the lags where its noise is measured (:func:`lag_grid`).

    ``win`` indexes the grid lags within the delay window (one step beyond each end), ``beyond``
    marks the lags outside it (a guard of three over the bandwidth away) and ``outside`` the
    lags the noise level is measured at (``beyond``, or every lag when too few are beyond).
    ``min_sep_s`` is about the envelope's main-lobe width (s).
    """

    cg: Correlogram
    taper: np.ndarray
    band_hz: tuple[float, float]
    lags: np.ndarray
    z0: np.ndarray
    step: float
    win: np.ndarray
    lag_all: np.ndarray
    beyond: np.ndarray
    outside: np.ndarray
    inv_noise_out: np.ndarray
    noise_bandwidth_hz: float
    min_sep_s: float

    def noise_sd(self, z: np.ndarray) -> float:
        """Noise standard deviation (at zero lag) of the correlogram values ``z`` on this grid."""
        return _noise_sd(z[self.outside], self.inv_noise_out)


def pair_spectra(prep: PreparedPair, window_s: tuple[float, float], *, robust: bool = True,
                 use_numba: bool = False) -> Spectra:
    """Cross-spectrum, frames, coherence and tonal lines of a prepared pair for delays in ``window_s``.

    Raises
    ------
    RecordingError
        Too short an overlap, or too few frames left between the dropouts.
    """
    fs = prep.sample_rate_hz
    w_lo, w_hi = window_s
    max_lag = max(abs(w_lo - prep.offset_s), abs(w_hi - prep.offset_s))
    n_fft = choose_frame_length(prep.xa.size, fs, max_lag)
    cs, frames_a, frames_b = cross_spectrum(prep.xa, prep.xb, fs, n_fft, robust=robust, use_numba=use_numba,
                                            return_frames=True, gaps=prep.dropouts)
    if cs.n_frames < MIN_FRAMES:
        raise RecordingError(f"{prep.name_a}, {prep.name_b}: only {cs.n_frames} frames of {n_fft / fs:.2f} s "
                             f"are left between the recording dropouts; at least {MIN_FRAMES} are needed")
    coh_raw = cs.coherence()
    half = smoothing_bins(cs)
    notch, lines = tonal_lines(cs, coh_raw, use_numba=use_numba)
    coh_s = smoothed_coherence(cs, half, exclude=notch, coherence=coh_raw)
    return Spectra(cs=cs, frames_a=frames_a, frames_b=frames_b, coherence_raw=coh_raw, coherence_smooth=coh_s,
                   notch=notch, lines_hz=lines, smoothing_half=half, fmin_hz=max(FMIN_HZ, 3.0 * cs.df_hz),
                   fmax_hz=0.45 * fs, n_fft=n_fft, window_s=(w_lo, w_hi))


def leak_noise_band(sp: Spectra, band_fallback_hz) -> tuple[float, float]:
    """The pipe's leak-noise band ``band_fallback_hz`` clipped to the analysed frequencies."""
    return (max(band_fallback_hz[0], sp.fmin_hz), min(band_fallback_hz[1], sp.fmax_hz))


def _coherent_band(sp: Spectra):
    """The coherent band (at least four bins wide), or None."""
    cs, fmin, fmax = sp.cs, sp.fmin_hz, sp.fmax_hz
    half_band = band_smoothing_bins(cs, sp.smoothing_half)
    band, _sig, _thr = select_band(cs, smoothed_coherence(cs, half_band, exclude=sp.notch, coherence=sp.coherence_raw),
                                   half_band, sp.notch, fmin, fmax, coherence=sp.coherence_raw)
    if band is not None and band[1] - band[0] < 4 * cs.df_hz:
        c = 0.5 * (band[0] + band[1])
        band = (max(fmin, c - 2 * cs.df_hz), min(fmax, c + 2 * cs.df_hz))
    return band


def _widened_for_ht(sp: Spectra, band: tuple[float, float]) -> tuple[float, float]:
    """A coherent band narrower than :data:`MIN_LEAK_BAND_OCTAVES`, widened to it about its centre.

    Leak noise spans several octaves where it crosses a pipe (physics.md 2.2: plastic about
    10-300 Hz, metal 100 Hz - 2 kHz), so a coherent band narrower than that is a fragment of it:
    a second source makes the coherence ripple (peaks 1/(d1 - d2) apart), a notch or the noise
    cuts it.  Correlated over the fragment alone, a peak is too broad to part two sources.  HT
    weighs each bin by its own coherence, so the bins around the fragment add what coherence
    they have and little noise (the delay still comes from the coherent bins, so the wave speeds
    stay those of the coherent band).
    """
    if band[1] >= band[0] * 2.0 ** MIN_LEAK_BAND_OCTAVES:
        return band
    centre, r = math.sqrt(band[0] * band[1]), 2.0 ** (MIN_LEAK_BAND_OCTAVES / 2.0)
    return (max(sp.fmin_hz, min(band[0], centre / r)), min(sp.fmax_hz, max(band[1], centre * r)))


def choose_band(prep: PreparedPair, sp: Spectra, weighting: str, band_hz, band_fallback_hz) -> BandChoice:
    """Band and weighting of the first look: the given band, the coherent band (HT widens a narrow
    one) or, when nothing is coherent, the SCOT scan of the pipe's leak-noise band."""
    name = resolve_weighting(weighting)
    auto = str(weighting).strip().lower() == "auto"
    if band_hz is not None:
        return BandChoice(name, band_hz, band_hz, True, 1)
    band = _coherent_band(sp)
    if band is None:
        band = leak_noise_band(sp, band_fallback_hz)
        if not auto:
            return BandChoice(name, band, band, False, 1)
        # nothing measurably coherent: coherence-based (HT) weights would be chance; SCOT over
        # the physically possible band, or the sub-band of it where a peak stands out most (the
        # false-alarm probability then counts every band tried), is the robust detector then
        band, scan_k, name = _scan_band(prep, sp.cs, sp.coherence_smooth, sp.notch, sp.fmin_hz, band, sp.window_s)
        return BandChoice(name, band, band, False, scan_k)
    return BandChoice(name, _widened_for_ht(sp, band) if name == "ht" else band, band, True, 1)


def band_correlogram(prep: PreparedPair, sp: Spectra, weighting: str, band: tuple[float, float]):
    """Correlogram with weighting ``weighting`` over ``band`` (tonal lines notched) and its band taper.

    Raises
    ------
    RecordingError
        No usable frequency in the band.
    """
    cs = sp.cs
    psi = weighting_function(weighting, cs, sp.coherence_smooth) * ~sp.notch
    psi[cs.freqs_hz < min(sp.fmin_hz, band[0])] = 0.0
    taper = band_taper(cs.freqs_hz, band)
    cg = build_correlogram(cs, psi, taper, sp.coherence_smooth, offset_s=prep.offset_s, polarity=prep.polarity)
    if cg.freqs_hz.size == 0:
        raise RecordingError(f"{prep.name_a}, {prep.name_b}: no usable frequencies in the band "
                             f"{band[0]:g}-{band[1]:g} Hz (all notched or zero)")
    return cg, taper


def lag_grid(sp: Spectra, cg: Correlogram, taper: np.ndarray, band: tuple[float, float]) -> LagGrid:
    """The correlogram ``cg`` on its lag grid, with the lags outside the window where its noise is measured."""
    w_lo, w_hi = sp.window_s
    lags, z0 = cg.grid(upsample=UPSAMPLE)
    step = lags[1] - lags[0]
    win = np.flatnonzero((lags >= w_lo - step) & (lags <= w_hi + step))
    lag_all, noise_all = cg.grid_factors(UPSAMPLE)
    # noise: correlogram at lags outside the physical window (no source can be there)
    bw = max(band[1] - band[0], sp.cs.df_hz)
    guard = 3.0 / bw
    half_span = 0.95 * sp.n_fft / (2.0 * sp.cs.sample_rate_hz)
    beyond = ((lags < w_lo - guard) | (lags > w_hi + guard)) & (np.abs(lags) <= half_span)
    # too little room outside: the noise level from everything (the tap test needs the outside itself)
    outside = beyond if np.count_nonzero(beyond) >= 64 else np.abs(lags) <= half_span
    return LagGrid(cg=cg, taper=taper, band_hz=band, lags=lags, z0=z0, step=step, win=win, lag_all=lag_all,
                   beyond=beyond, outside=outside, inv_noise_out=1.0 / noise_all[outside],
                   noise_bandwidth_hz=cg.noise_rms_bandwidth_hz(), min_sep_s=2.0 / bw)


def clean_peaks(grid: LagGrid, window_s: tuple[float, float], max_components: int, use_numba: bool = False):
    """CLEAN: the strongest peaks in the window, each subtracted before the next is sought.

    Returns
    -------
    (list of (float, complex, float, bool), numpy.ndarray)
        Per peak its delay (s), complex value, envelope curvature (per s^2) and whether it lies
        within a main lobe of a stronger one (model error, not another source); and the
        correlogram left after the subtractions, on the grid.
    """
    w_lo, w_hi = window_s
    cg, lags, win = grid.cg, grid.lags, grid.win
    provisional = grid.noise_sd(grid.z0)
    lag_win = grid.lag_all[win]
    p0 = float(np.sum(cg.psf))
    resid = cg.spectrum.copy()
    z = grid.z0
    found = []
    for _ in range(max(1, int(max_components))):
        i = int(win[np.argmax(np.abs(z[win]) / lag_win)])
        tau, zt, curv = _refine(cg, resid, float(lags[i]), grid.step, use_numba)
        tau = float(np.clip(tau, w_lo, w_hi))
        # what CLEAN leaves within a main lobe of a stronger peak is model error (dispersion,
        # the shape of a real peak), not another source: subtract it but do not report it
        near = any(abs(tau - t_prev) < grid.min_sep_s for t_prev, _, _, _ in found)
        found.append((tau, zt, curv, near))
        # stop once a peak is plainly noise (the remaining ones are weaker); it is not subtracted:
        # the noise is measured at lags outside the window, which its side lobes barely reach
        zz = abs(zt) / (provisional * float(cg.noise_factor(tau)))
        if false_alarm_probability(zz, w_hi - w_lo, grid.noise_bandwidth_hz) > _STOP_PFA:
            break
        if p0 > 0:
            resid = resid - zt / p0 * cg.psf * np.exp(-2j * np.pi * cg.freqs_hz * tau)
        _lags, z = cg.grid(resid, upsample=UPSAMPLE)
    return found, z


def _is_ghost(prep, sp: Spectra, grid: LagGrid, weighting: str, tau: float, accepted: list, check: list) -> bool:
    """Whether the peak at ``tau`` is a ghost of two accepted ones (PHAT and HT only).

    PHAT and HT divide by |G_AB| (or weigh by the coherence), which ripples when two sources
    interfere; that ripple makes ghost peaks at 2 d1 - d2 and 2 d2 - d1.  A peak there must also
    show in the SCOT correlogram, whose weight (the auto-spectra) does not ripple.  ``check``
    caches the SCOT test (empty until first needed).
    """
    if weighting not in ("phat", "ht") or len(accepted) < 2:
        return False
    ghosts = [2.0 * ti - tj for ti in accepted for tj in accepted if ti != tj]
    if not any(abs(tau - g) < 2.0 * grid.min_sep_s for g in ghosts):
        return False
    if not check:
        check.append(_linear_check(sp.cs, sp.coherence_smooth, sp.notch, grid.taper, prep, grid.band_hz, sp.fmin_hz,
                                   grid.lags, grid.outside, sp.window_s))
    return not check[0](tau, grid.step)


def score_peaks(prep: PreparedPair, sp: Spectra, grid: LagGrid, weighting: str, found, z_resid: np.ndarray,
                scan_k: int):
    """Delay s.d., strength, z-score and false-alarm probability of each CLEAN peak (ghosts and
    peaks within a stronger one's main lobe left out).

    The false-alarm probability is Rice's formula times :data:`FALSE_ALARM_CALIBRATION` times
    ``scan_k`` (the bands tried).  Returns the peaks and the noise standard deviation at zero lag.
    """
    w_lo, w_hi = sp.window_s
    cg = grid.cg
    noise_sd = grid.noise_sd(z_resid)
    _fbar, _bs, bn = cg.psf_moments()
    peaks, accepted, check = [], [], []
    for tau, zt, curv, near in found:
        if near or _is_ghost(prep, sp, grid, weighting, tau, accepted, check):
            continue
        accepted.append(tau)
        sd_here = noise_sd * float(cg.noise_factor(tau))
        zz = abs(zt) / sd_here
        if curv < 0:
            sd_tau = sd_here * 2.0 * math.pi * bn / abs(curv)
        else:
            sd_tau = 1.0 / (2.0 * math.pi * max(bn, sp.cs.df_hz))
        strength = abs(zt) / (cg.norm * float(cg.lag_factor(tau)))
        p = false_alarm_probability(zz, w_hi - w_lo, grid.noise_bandwidth_hz)
        peaks.append(Peak(delay_s=tau, delay_sd_s=float(sd_tau), strength=float(min(strength, 1.0)), z=float(zz),
                          p_false_alarm=min(1.0, FALSE_ALARM_CALIBRATION * scan_k * p), phase_rad=float(np.angle(zt))))
    return peaks, noise_sd


def mark_intermittent(sp: Spectra, grid: LagGrid, peaks: list, candidate_pfa: float) -> None:
    """Measure how each candidate peak's contribution varies from frame to frame (in place).

    A tap switched on and off is a real source between the sensors, often louder than the leak;
    a leak is steady.  Peaks with at most ``candidate_pfa`` get :attr:`Peak.intermittency`; an
    intermittent one with a significant steady part under it is ``shared`` instead.
    """
    cand = [pk for pk in peaks if pk.p_false_alarm <= candidate_pfa]
    if not cand:
        return
    shares = _frame_shares(grid.cg, sp.frames_a, sp.frames_b)
    out_idx = np.flatnonzero(grid.beyond)
    noise_lags = grid.lags[out_idx[np.linspace(0, out_idx.size - 1, min(_INTERMITTENT_NOISE_LAGS, out_idx.size))
                                   .astype(int)]] if out_idx.size else grid.lags[:0]
    for pk, (excess, flag) in zip(cand, _intermittency(grid.cg, shares, [pk.delay_s for pk in cand], noise_lags)):
        pk.intermittency, pk.intermittent = float(excess), bool(flag)
        if pk.intermittent:
            p_steady, frac = _steady_part(grid.cg, shares, pk.delay_s, noise_lags)
            if p_steady <= _STEADY_PFA and frac >= _STEADY_MIN_FRACTION:
                pk.intermittent, pk.shared = False, True


def correlate_over_band(prep: PreparedPair, sp: Spectra, choice: BandChoice, *, max_components: int = 5,
                        candidate_pfa: float = 0.5, use_numba: bool = False,
                        rescanned_from: tuple[float, float] | None = None) -> Analysis:
    """One look: correlogram, CLEAN peaks, their scores and intermittency over ``choice``'s band."""
    cg, taper = band_correlogram(prep, sp, choice.weighting, choice.band_hz)
    grid = lag_grid(sp, cg, taper, choice.band_hz)
    found, z_resid = clean_peaks(grid, sp.window_s, max_components, use_numba)
    peaks, noise_sd = score_peaks(prep, sp, grid, choice.weighting, found, z_resid, choice.scan_k)
    mark_intermittent(sp, grid, peaks, candidate_pfa)
    w_lo, w_hi = sp.window_s
    lags = grid.lags
    shown = (lags >= w_lo) & (lags <= w_hi)  # the correlogram is reported over the window only
    zc = grid.z0[shown] / (grid.lag_all[shown] * cg.norm)
    cs = sp.cs
    return Analysis(cs=cs, coherence_raw=sp.coherence_raw, coherence_smooth=sp.coherence_smooth,
                    coherent=choice.coherent, band_hz=choice.band_hz,
                    signal_band_hz=choice.signal_band_hz if choice.coherent and rescanned_from is None else choice.band_hz,
                    notch=sp.notch, tonal_lines_hz=sp.lines_hz, weighting=choice.weighting, correlogram=cg,
                    lags_s=lags[shown], values=zc.real, envelope=np.abs(zc), window_s=(w_lo, w_hi), peaks=peaks,
                    noise_sd=noise_sd, noise_bandwidth_hz=grid.noise_bandwidth_hz,
                    coherence_threshold=coherence_threshold(median(cs.n_averages)), offset_s=prep.offset_s,
                    duration_s=prep.duration_s, rescanned_from_hz=rescanned_from)


def rescan_choice(prep: PreparedPair, sp: Spectra, band_fallback_hz, first: BandChoice,
                  search_s: float | None = None) -> BandChoice:
    """The second look's weighting and band: the scan of the pipe's leak-noise band (for the least
    likely peak at ``|lag| < search_s`` when given), charged :data:`RESCAN_COST` times the bands it tries."""
    band2, k2, name = _scan_band(prep, sp.cs, sp.coherence_smooth, sp.notch, sp.fmin_hz,
                                 leak_noise_band(sp, band_fallback_hz), sp.window_s, search_s)
    return BandChoice(name, band2, band2, first.coherent, RESCAN_COST * k2)


def _interior(pk: Peak, edge_s: float | None) -> bool:
    return edge_s is None or abs(pk.delay_s) < edge_s


def needs_second_look(an: Analysis, choice: BandChoice, rescan_pfa: float, edge_s: float | None) -> bool:
    """No peak between the sensors (``|delay| < edge_s``) reaches ``rescan_pfa`` in the first look,
    and either the band was a coherent one or a peak at the edge (a louder source beyond a
    sensor) may have drawn the scan to its own band."""
    if any(pk.p_false_alarm <= rescan_pfa and _interior(pk, edge_s) for pk in an.peaks):
        return False
    at_edge = any(pk.p_false_alarm <= rescan_pfa for pk in an.peaks)
    return choice.coherent or at_edge


def keep_second_look(first: Analysis, again: Analysis, rescan_pfa: float, edge_s: float | None) -> Analysis:
    """The second look when a steady peak between the sensors reaches ``rescan_pfa`` in it, and is
    not where the first look found a source that comes and goes (the same tap, heard in a band
    where its switching shows less); the first look's peaks at the edge are kept beside its own,
    so both sources are reported.  Else the first look."""
    sep = 2.0 / max(first.band_hz[1] - first.band_hz[0], first.cs.df_hz)
    taps = [pk.delay_s for pk in first.peaks if pk.intermittent]
    if not any(pk.p_false_alarm <= rescan_pfa and not pk.intermittent and _interior(pk, edge_s)
               and all(abs(pk.delay_s - t) >= sep for t in taps) for pk in again.peaks):
        return first
    extra = [pk for pk in first.peaks if not _interior(pk, edge_s) and pk.p_false_alarm <= rescan_pfa
             and all(abs(pk.delay_s - q.delay_s) >= sep for q in again.peaks)]
    again.peaks = again.peaks + extra
    return again


def analyse(prep: PreparedPair, window_s: tuple[float, float], *, weighting: str = "auto", band_hz=None,
            max_components: int = 5, robust: bool = True, use_numba: bool | None = None,
            band_fallback_hz=(100.0, 1000.0), candidate_pfa: float = 0.5,
            rescan_pfa: float | None = None, edge_s: float | None = None) -> Analysis:
    """Correlate a prepared pair and extract peaks with delays inside ``window_s``.

    Parameters
    ----------
    prep : PreparedPair
        Aligned pair.
    window_s : (float, float)
        Lowest and highest delay (s, absolute time) a source may have.
    weighting : str
        One of :data:`acoustic.correlate.WEIGHTINGS`.
    band_hz : (float, float) or None
        Analysis band; None selects the coherent band.
    max_components : int
        Peaks extracted (strongest first, each removed before the next is sought).
    robust : bool
        Leave transient frames out of the averages.
    use_numba : bool or None
        Use the numba kernels (None: see :func:`acoustic.correlate._kernels.resolve_use_numba`).
    band_fallback_hz : (float, float)
        The band where leak noise can cross the pipe: scanned for the sub-band where a peak stands
        out most (SCOT) when nothing is coherent, and shown then; scanned again by ``rescan_pfa``.
    candidate_pfa : float
        Each peak with at most this false-alarm probability gets its intermittency measured
        (:attr:`Peak.intermittency`).
    rescan_pfa : float or None
        With ``weighting="auto"`` and the coherent band selected: when no peak there has at most
        this false-alarm probability, scan sub-bands of ``band_fallback_hz`` with SCOT (as when
        nothing is coherent, each peak's false-alarm probability multiplied by
        :data:`RESCAN_COST` times the number of bands tried) and keep that result if a steady
        peak in it (within the window, perhaps at its edge) reaches it
        (:attr:`Analysis.rescanned_from_hz`).  Over both looks the false-alarm probability is
        then at most ``(1 + 1/RESCAN_COST) * rescan_pfa``.  None: no second look.
    edge_s : float or None
        Delays with ``|delay| >= edge_s`` are from sources outside the pair: the second look is
        also taken when only such peaks reach ``rescan_pfa`` (a louder source beyond a sensor),
        its scan seeks the least likely peak within ``edge_s``, and it is kept only for a peak
        within it; the first look's edge peaks are then kept beside its own.  None: no edge.

    Returns
    -------
    Analysis
    """
    resolve_weighting(weighting)
    w_lo, w_hi = float(window_s[0]), float(window_s[1])
    if not (w_lo < w_hi):
        raise ParameterError(f"delay window must satisfy low < high, got {window_s}")
    if band_hz is not None:
        band_hz = validate_band(band_hz, prep.sample_rate_hz)
    use_numba = resolve_use_numba(use_numba)
    sp = pair_spectra(prep, (w_lo, w_hi), robust=robust, use_numba=use_numba)
    choice = choose_band(prep, sp, weighting, band_hz, band_fallback_hz)
    kw = dict(max_components=max_components, candidate_pfa=candidate_pfa, use_numba=use_numba)
    an = correlate_over_band(prep, sp, choice, **kw)
    auto = str(weighting).strip().lower() == "auto"
    if rescan_pfa is None or not auto or band_hz is not None or not needs_second_look(an, choice, rescan_pfa, edge_s):
        return an
    # a band where nothing between the sensors stands out is often another source's (the flow
    # noise or a line of a pump beyond a sensor, coherent with its delay at the edge or smeared by
    # a notch) and not the leak's: scan the band where leak noise can cross the pipe for the
    # least likely peak between the sensors, as when nothing is coherent.  The first look already
    # spent the detection's false-alarm budget, so the second is charged RESCAN_COST times its
    # bands: over both looks, a pair's false-alarm probability is at most (1 + 1/RESCAN_COST)
    # times the detection's
    again = correlate_over_band(prep, sp, rescan_choice(prep, sp, band_fallback_hz, choice, edge_s),
                                rescanned_from=choice.signal_band_hz, **kw)
    return keep_second_look(an, again, rescan_pfa, edge_s)
