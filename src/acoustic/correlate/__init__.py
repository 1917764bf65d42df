"""Leak location between two sensors by generalised cross-correlation (``physics.md`` section 3).

Public API
----------
:func:`correlate_pair`
    Locate a leak (or several sources) between two synchronized recordings on a pipe path.
:class:`CorrelationResult`
    Its result; ``to_json()`` gives the ``acoustic correlate`` JSON of ``interfaces.md``.
:func:`measure_velocity`, :class:`VelocityResult`
    In-place wave-speed measurement from a known source outside (or inside) the pair.
:data:`WEIGHTINGS`
    GCC weightings: ``auto``, ``plain``, ``phat``, ``scot``, ``roth``, ``ht``.
:func:`plot_correlation`
    Correlogram against position along the pipe plus the coherence spectrum (PNG).

Sign convention: ``delay_s`` is the arrival time at A minus the arrival time at B (absolute
time, from the sidecars' start times); a leak at x m from A has ``delay = 2 T(x) - T(D)``.
"""

from ._gcc import WEIGHTINGS
from ._locate import CorrelationResult, CorrelogramData, correlate_pair
from ._velocity import VelocityResult, measure_velocity


def plot_correlation(result, path, **kwargs):
    """Write the correlogram/coherence figure of a :class:`CorrelationResult` or
    :class:`VelocityResult` to ``path`` (PNG); see :func:`acoustic.correlate._plot.plot_result`."""
    from ._plot import plot_result

    return plot_result(result, path, **kwargs)


__all__ = ["WEIGHTINGS", "CorrelationResult", "CorrelogramData", "VelocityResult", "correlate_pair",
           "measure_velocity", "plot_correlation"]
