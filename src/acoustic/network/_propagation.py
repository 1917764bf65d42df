"""Sound propagation along a pipe network (for simulation and for steering the survey).

A source at ``(pipe_id, offset_m)`` reaches a logger along the shortest route through the
pipes.  Along the route the pressure transfer is ``exp(-i sum k_j L_j)`` with each pipe's
complex wavenumber (attenuation and dispersion of its material).  At each junction passed,
the wave splits: for N pipes of equal impedance meeting at a node, the pressure transmitted
into each outgoing pipe is ``2 / N`` of the incident one (a node with two pipes passes it
whole).  Reflections and the other routes around loops are neglected: they are weaker and
arrive later, so they add clutter rather than move the main correlation peak.
"""

from __future__ import annotations

import numpy as np

from ._model import LoggerSite, PipeNetwork

__all__ = ["junction_factor", "route_transfer", "source_site"]


def source_site(pipe_id: str, offset_m: float, name: str = "source") -> LoggerSite:
    """A :class:`LoggerSite` standing for a sound source on a pipe."""
    return LoggerSite(name, pipe_id=pipe_id, offset_m=float(offset_m))


def junction_factor(network: PipeNetwork, node: str) -> float:
    """Pressure transmission 2/N through a node where N pipes meet (1 for N <= 2)."""
    n = len(network._adj.get(node, ()))
    return 1.0 if n <= 2 else 2.0 / n


def route_transfer(network: PipeNetwork, route, freq_hz, *, properties=None, wavenumbers=None):
    """Complex pressure transfer of a route at ``freq_hz`` and its travel-time bookkeeping.

    Parameters
    ----------
    network : PipeNetwork
    route : NetworkPath
        From the source to the logger.
    freq_hz : numpy.ndarray
        Frequencies in Hz.
    properties : dict of pipe_id -> SegmentProperties, optional
        Realised (drawn) properties per pipe; nominal ones when missing.
    wavenumbers : dict of pipe_id -> numpy.ndarray, optional
        Complex wavenumbers (rad/m) already evaluated on ``freq_hz`` (they take precedence over
        ``properties``; a simulator evaluating many routes on one long FFT grid passes them).

    Returns
    -------
    numpy.ndarray of complex
        ``prod(junction factors) * exp(-i sum_j k_j(f) L_j)``.
    """
    f = np.asarray(freq_hz, dtype=np.float64)
    phase = np.zeros(f.shape, dtype=np.complex128)
    gain = 1.0
    cache: dict[str, np.ndarray] = dict(wavenumbers or {})
    pieces = route.pieces
    for i, (pid, a, b) in enumerate(pieces):
        length = abs(b - a)
        if length <= 0:
            continue
        if pid not in cache:
            props = (properties or {}).get(pid) or network.pipes[pid].segment().properties()
            cache[pid] = props.wavenumber(f)
        phase += cache[pid] * length
        if i + 1 < len(pieces):
            pipe = network.pipes[pid]
            node = pipe.end_node if b > a else pipe.start_node
            gain *= junction_factor(network, node)
    return gain * np.exp(-1j * phase)
