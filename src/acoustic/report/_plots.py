"""Evidence plots (matplotlib, Agg canvas, PNG bytes) with one look and consistent units.

Every function returns the PNG as ``bytes``; nothing touches pyplot's global state, so the
report can be built from any thread or process.  Sizes: 7.6 x 3.0 in at 100 dpi.
"""

from __future__ import annotations

import io
import math
from datetime import date

import numpy as np

__all__ = ["plot_correlogram", "plot_coherence", "plot_spectrum", "plot_history", "plot_location_errors"]

_SIZE = (7.6, 3.0)
_DPI = 100
_SUSPECT = "#d7191c"
_TRACE = "#1f4e79"
_GREY = "#8c8c8c"
_SIG_COLOURS = ["#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#e6ab02"]


def _figure(nrows: int = 1, height: float | None = None, sharex: bool = False):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(_SIZE[0], height or _SIZE[1]), dpi=_DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, 1, sharex=sharex, squeeze=False)[:, 0]
    for ax in axes:
        ax.grid(True, color="#e0e0e0", linewidth=0.6)
        ax.tick_params(labelsize=8)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    return fig, axes


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=_DPI)
    return buf.getvalue()


def plot_correlogram(positions_m, values, *, route_length_m: float, label_a: str, label_b: str,
                     point_m: float | None = None, interval_m=None, measured_m=(), pipe_breaks=(),
                     title: str = "", point_label: str | None = None) -> bytes:
    """Correlogram against position along the route, with the suspect and its 95 % interval.

    Parameters
    ----------
    positions_m, values : array_like, shape (m,)
        Position of a source along the route from logger A (m) for each lag, and the weighted
        cross-correlation there (fully coherent source = 1).
    route_length_m : float
        Route length between the loggers (m).
    label_a, label_b : str
        The loggers at 0 m and at ``route_length_m``.
    point_m : float, optional
        The suspect's position on this route (m from A).
    interval_m : (float, float), optional
        Its 95 % interval on this route (m from A).
    measured_m : sequence of float
        Positions (m from A) of this pair's measured delays (from the survey's evidence).
    pipe_breaks : sequence of (float, str)
        Route distances (m) where one pipe ends and the next begins, with the next pipe's id.
    point_label : str, optional
        Legend text of the suspect line (default ``suspect <point_m> m``).
    """
    fig, (ax,) = _figure()
    x = np.asarray(positions_m, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    ax.plot(x, y, color=_TRACE, linewidth=1.0, label="correlation")
    if interval_m is not None:
        ax.axvspan(interval_m[0], interval_m[1], color=_SUSPECT, alpha=0.18, label="95 % interval")
    if point_m is not None:
        ax.axvline(point_m, color=_SUSPECT, linewidth=1.6, label=point_label or f"suspect {point_m:.1f} m")
    for k, m in enumerate(measured_m):
        ax.axvline(m, color="#444", linewidth=1.0, linestyle="--", label="measured delay" if k == 0 else None)
    for d, pid in pipe_breaks:
        ax.axvline(d, color=_GREY, linewidth=0.8, linestyle=":")
        ax.text(d, 1.0, f" {pid}", transform=ax.get_xaxis_transform(), fontsize=7, color=_GREY, va="top")
    ax.set_xlim(0.0, route_length_m)
    ax.set_xlabel(f"position along the route from {label_a} (m); {label_b} at {route_length_m:.1f} m", fontsize=9)
    ax.set_ylabel("correlation (1 = coherent)", fontsize=9)
    if title:
        ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper right", framealpha=0.85)
    return _png(fig)


def plot_coherence(freqs_hz, coherence, coherence_smooth, *, band_hz, threshold=None, notch=None,
                   title: str = "") -> bytes:
    """Magnitude-squared coherence between the two recordings, with the band used.

    Parameters
    ----------
    freqs_hz : array_like, shape (k,)
        Frequencies (Hz).
    coherence, coherence_smooth : array_like, shape (k,)
        Raw Welch estimate and the bias-corrected smoothed coherence (0..1).
    band_hz : (float, float)
        Band used for the correlation (Hz).
    threshold : float, optional
        Coherence that noise alone would reach (0..1).
    notch : array_like of bool, shape (k,), optional
        Bins left out as tonal lines.
    """
    fig, (ax,) = _figure()
    f = np.asarray(freqs_hz, dtype=np.float64)
    ax.plot(f, coherence, color="#9ecae1", linewidth=0.7, label="coherence (raw)")
    ax.plot(f, coherence_smooth, color=_TRACE, linewidth=1.3, label="coherence (smoothed, bias-corrected)")
    ax.axvspan(band_hz[0], band_hz[1], color="#31a354", alpha=0.12, label=f"band {band_hz[0]:.0f}-{band_hz[1]:.0f} Hz")
    if threshold is not None and math.isfinite(threshold):
        ax.axhline(threshold, color=_GREY, linestyle="--", linewidth=0.9, label=f"noise threshold {threshold:.2f}")
    if notch is not None and np.any(notch):
        nf = f[np.asarray(notch, dtype=bool)]
        ax.plot(nf, np.full(nf.size, 1.02), "v", color="#e6550d", markersize=3, label="tonal lines (left out)")
    top = min(float(f.max()), max(3.0 * band_hz[1], 200.0))
    ax.set_xlim(0.0, top)
    ax.set_ylim(0.0, 1.06)
    ax.set_xlabel("frequency (Hz)", fontsize=9)
    ax.set_ylabel("coherence (0-1)", fontsize=9)
    if title:
        ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper right", framealpha=0.85)
    return _png(fig)


def plot_spectrum(band_centres_hz, band_levels_db, *, label: str, signatures=(), level_reference: str = "",
                  title: str = "") -> bytes:
    """A recording's 1/3-octave band spectrum against its nearest library signatures.

    Parameters
    ----------
    band_centres_hz, band_levels_db : array_like, shape (n_bands,)
        Band centres (Hz) and calibrated band levels (dB; NaN above the recording's band).
    label : str
        Legend text of the recording.
    signatures : sequence of dict
        ``band_centres_hz``, ``band_levels_db``, ``label`` (text shown), one per signature.
    level_reference : str
        What the dB are relative to (axis label).
    """
    fig, (ax,) = _figure()
    c = np.asarray(band_centres_hz, dtype=np.float64)
    v = np.asarray(band_levels_db, dtype=np.float64)
    ok = np.isfinite(v)
    ax.semilogx(c[ok], v[ok], "o-", color=_SUSPECT, linewidth=1.8, markersize=3.5, label=label, zorder=5)
    for k, s in enumerate(signatures):
        sc = np.asarray(s["band_centres_hz"], dtype=np.float64)
        sv = np.asarray(s["band_levels_db"], dtype=np.float64)
        good = np.isfinite(sv)
        ax.semilogx(sc[good], sv[good], "-", color=_SIG_COLOURS[k % len(_SIG_COLOURS)], linewidth=1.1,
                    label=s["label"])
    ax.set_xlabel("1/3-octave band centre (Hz)", fontsize=9)
    ax.set_ylabel(f"band level (dB{(' re ' + level_reference) if level_reference else ''})", fontsize=9)
    if title:
        ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="lower left", framealpha=0.85)
    return _png(fig)


def plot_history(histories: dict, *, mark_night: date | None = None, baselines: dict | None = None,
                 change_dates: dict | None = None, title: str = "") -> bytes:
    """Nightly level and spread of loggers (two panels sharing the date axis).

    Parameters
    ----------
    histories : dict of logger_id -> list of (date, level, spread)
        Levels and spreads in the loggers' own dB units.
    mark_night : date, optional
        The night of the suspect's recordings.
    baselines : dict of logger_id -> float, optional
        Baseline level (dB) of each logger's score.
    change_dates : dict of logger_id -> date, optional
        Where each logger's score found a change.
    """
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    fig, (ax_l, ax_s) = _figure(2, height=4.2, sharex=True)
    for k, (lid, rows) in enumerate(sorted(histories.items())):
        if not rows:
            continue
        col = _SIG_COLOURS[k % len(_SIG_COLOURS)]
        d = [r[0] for r in rows]
        ax_l.plot(d, [r[1] for r in rows], "o-", color=col, markersize=2.5, linewidth=1.0, label=f"{lid} level")
        ax_s.plot(d, [r[2] for r in rows], "o-", color=col, markersize=2.5, linewidth=1.0, label=f"{lid} spread")
        if baselines and baselines.get(lid) is not None and math.isfinite(baselines[lid]):
            ax_l.axhline(baselines[lid], color=col, linestyle=":", linewidth=0.9)
        if change_dates and change_dates.get(lid) is not None:
            for ax in (ax_l, ax_s):
                ax.axvline(change_dates[lid], color=col, linestyle="--", linewidth=0.9)
    if mark_night is not None:
        for ax in (ax_l, ax_s):
            ax.axvline(mark_night, color=_SUSPECT, linewidth=1.2)
    loc = AutoDateLocator()
    ax_s.xaxis.set_major_locator(loc)
    ax_s.xaxis.set_major_formatter(ConciseDateFormatter(loc))
    ax_l.set_ylabel("level L50 (logger dB)", fontsize=9)
    ax_s.set_ylabel("spread L10-L90 (dB)", fontsize=9)
    ax_s.set_xlabel("night (date)", fontsize=9)
    if title:
        ax_l.set_title(title, fontsize=9)
    ax_l.legend(fontsize=7, loc="upper left", framealpha=0.85)
    ax_s.legend(fontsize=7, loc="upper left", framealpha=0.85)
    return _png(fig)


def plot_location_errors(errors_m, *, tolerance_m: float, rule: str = "") -> bytes:
    """Histogram of the location errors of confirmed leaks (m), with the payment tolerance.

    Parameters
    ----------
    errors_m : array_like
        |found - located| along the pipe (m), one per confirmed leak.
    tolerance_m : float
        The fixed part of the tolerance rule (m).
    rule : str
        The rule as text (legend).
    """
    fig, (ax,) = _figure(height=2.8)
    e = np.asarray(errors_m, dtype=np.float64)
    top = max(float(np.max(e)) if e.size else 1.0, tolerance_m * 1.5, 1.0)
    step = max(0.25, top / 20.0)
    bins = np.arange(0.0, top + step, step)
    ax.hist(e, bins=bins, color=_TRACE, alpha=0.85, edgecolor="#fff")
    ax.axvline(tolerance_m, color=_SUSPECT, linewidth=1.5, label=f"tolerance {tolerance_m:g} m" + (f" ({rule})" if rule else ""))
    ax.set_xlabel("location error |found - located| (m)", fontsize=9)
    ax.set_ylabel("confirmed leaks (count)", fontsize=9)
    ax.legend(fontsize=7, framealpha=0.85)
    return _png(fig)
