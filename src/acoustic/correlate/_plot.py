"""Figures of a correlation: correlogram along the pipe, and the coherence spectrum with the band used."""

from __future__ import annotations

from pathlib import Path

from .._errors import ParameterError

__all__ = ["plot_result"]


def plot_result(result, out_path, *, title: str | None = None, dpi: int = 110) -> Path:
    """Write a two-panel PNG for a correlation or velocity result.

    Top: the correlogram (weighted cross-correlation and its envelope) against position
    along the pipe from A (m), with the located point, its 95 % interval, the other peaks
    and any peaks from outside the pair; for a velocity result, against delay (s) with the
    measured delay.  Bottom: magnitude-squared coherence (raw and smoothed) against
    frequency (Hz) with the band used shaded and the notched tonal lines marked.

    Parameters
    ----------
    result : CorrelationResult or VelocityResult
    out_path : str or Path
        PNG file to write.
    title : str, optional
    dpi : int, default 110

    Returns
    -------
    Path
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    out = Path(out_path)
    if out.suffix.lower() != ".png":
        raise ParameterError(f"{out}: the plot is written as PNG; give a file name ending in .png")
    cg = result.correlogram
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 7), constrained_layout=True)
    is_velocity = hasattr(result, "interval_m_s")
    if is_velocity:
        x = cg.lags_s
        ax1.plot(x, cg.values, color="0.6", lw=0.8, label="cross-correlation")
        ax1.plot(x, cg.envelope, color="C0", lw=1.4, label="envelope")
        ax1.axvline(result.delay_s, color="C3", lw=1.2,
                    label=f"delay {result.delay_s:+.5f} s -> {result.wave_speed_m_s:.1f} m/s")
        ax1.set_xlabel("delay: arrival at A minus arrival at B (s)")
        head = (f"wave speed {result.wave_speed_m_s:.1f} m/s (95 % {result.interval_m_s[0]:.1f}-"
                f"{result.interval_m_s[1]:.1f}), source {result.source}")
    else:
        d = result.path_length_m
        inside = (cg.lags_s >= -result.max_delay_s) & (cg.lags_s <= result.max_delay_s)
        x = cg.positions_m[inside]
        ax1.plot(x, cg.values[inside], color="0.6", lw=0.8, label="cross-correlation")
        ax1.plot(x, cg.envelope[inside], color="C0", lw=1.4, label="envelope")
        ax1.axhline(0.0, color="0.8", lw=0.6)
        if result.detected:
            lo, hi = result.interval_m
            ax1.axvspan(lo, hi, color="C3", alpha=0.18, label=f"95 % interval {lo:.1f}-{hi:.1f} m")
            ax1.axvline(result.distance_from_a_m, color="C3", lw=1.4,
                        label=f"leak {result.distance_from_a_m:.2f} m from A")
            others = [p for p in result.peaks if p["delay_s"] != result.delay_s]
            for i, p in enumerate(o for o in others if not o.get("intermittent")):
                ax1.axvline(p["distance_from_a_m"], color="C1", lw=1.0, ls="--",
                            label="other peak" if i == 0 else None)
            for i, p in enumerate(o for o in others if o.get("intermittent")):
                ax1.axvline(p["distance_from_a_m"], color="C2", lw=1.0, ls="-.",
                            label="intermittent (a tap?)" if i == 0 else None)
        for p in result.outside_peaks:
            ax1.axvline(0.0 if p["side"] == "beyond_a" else d, color="C4", lw=2.0, ls=":")
        ax1.set_xlim(0.0, d)
        ax1.set_xlabel("position along the pipe from sensor A (m)")
        ax1.text(0.0, 1.0, " A", transform=ax1.get_xaxis_transform(), va="bottom", ha="left")
        ax1.text(1.0, 1.0, "B ", transform=ax1.transAxes, va="bottom", ha="right")
        head = (f"leak at {result.distance_from_a_m:.2f} m from A (confidence {result.confidence:.2f})"
                if result.detected else "no leak located")
    ax1.set_ylabel("correlation (1 = fully coherent)")
    ax1.set_title(title or f"{head}; weighting {result.weighting}")
    ax1.legend(loc="upper right", fontsize=8)

    f = cg.freqs_hz
    top = min(f[-1], max(result.band_hz[1] * 2.0, 200.0))
    sel = (f > 0) & (f <= top)
    ax2.plot(f[sel], cg.coherence[sel], color="0.7", lw=0.6, label="coherence (Welch)")
    ax2.plot(f[sel], cg.coherence_smooth[sel], color="C0", lw=1.4, label="smoothed, bias-corrected")
    ax2.axvspan(result.band_hz[0], result.band_hz[1], color="C2", alpha=0.15,
                label=f"band {result.band_hz[0]:.0f}-{result.band_hz[1]:.0f} Hz")
    for i, fl in enumerate(result.tonal_lines_hz):
        if fl <= top:
            ax2.axvline(fl, color="C3", lw=0.8, ls=":", label="notched line" if i == 0 else None)
    ax2.set_xlim(0.0, top)
    ax2.set_ylim(0.0, 1.0)
    ax2.set_xlabel("frequency (Hz)")
    ax2.set_ylabel("magnitude-squared coherence")
    ax2.legend(loc="upper right", fontsize=8)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out
