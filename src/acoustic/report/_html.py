"""HTML of the report: one self-contained page (inline CSS, inline SVG, images as data URIs or
files beside it), no script, no web fonts, nothing fetched.  All text is escaped.
"""

from __future__ import annotations

import base64
import math
from html import escape

__all__ = ["render_page", "render_dig_sheets", "fmt_q", "CSS"]

CSS = """
:root { --ink:#1a1a1a; --muted:#666; --rule:#d9d9d9; --accent:#d7191c; --bg:#fff; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--ink); background: var(--bg); margin: 0 auto; max-width: 1000px; padding: 16px 20px 40px;
       line-height: 1.4; font-size: 14px; }
h1 { font-size: 22px; margin: 4px 0 2px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 2px solid var(--rule); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.meta { color: var(--muted); font-size: 12px; }
nav { position: sticky; top: 0; background: #fff; border-bottom: 1px solid var(--rule); padding: 6px 0;
      font-size: 13px; z-index: 2; }
nav a { margin-right: 14px; color: #1f4e79; text-decoration: none; }
table { border-collapse: collapse; margin: 6px 0 10px; font-size: 13px; }
th, td { border: 1px solid var(--rule); padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.warnings { background: #fff8e1; border: 1px solid #ffe082; padding: 6px 12px; font-size: 12px; }
.notes { color: var(--muted); font-size: 12px; }
figure { margin: 10px 0 14px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--rule); }
figcaption { font-size: 12px; color: var(--muted); }
.map-wrap { overflow-x: auto; }
.suspect { border-top: 3px solid var(--accent); margin-top: 30px; padding-top: 4px; }
.badge { display: inline-block; background: var(--accent); color: #fff; border-radius: 10px; padding: 0 8px;
         font-weight: bold; }
.status { font-size: 12px; color: var(--muted); }
.digsheet { border: 2px solid var(--ink); padding: 10px 14px; margin: 16px 0; page-break-inside: avoid;
            break-inside: avoid; }
.digsheet h3 { margin-top: 0; }
.digsheet .big { font-size: 20px; font-weight: bold; }
.digsheet .fill { display: inline-block; min-width: 150px; border-bottom: 1px solid var(--ink); }
.digsheet table { width: 100%; }
.payable-yes { color: #1a7f37; font-weight: bold; }
.grade { display: inline-block; min-width: 1.6em; text-align: center; border-radius: 3px; color: #fff; font-weight: bold; }
.grade-A { background: #d7191c; } .grade-B { background: #fdae61; color: #222; } .grade-C { background: #1a9641; }
.payable-no { color: var(--accent); }
@media print {
  nav, .screen-only { display: none !important; }
  body { max-width: none; padding: 0; font-size: 11pt; }
  .suspect { break-before: page; page-break-before: always; border-top: none; }
  .digsheet { break-before: page; page-break-before: always; border-width: 1px; }
  figure img { max-width: 16cm; }
  a { color: inherit; text-decoration: none; }
}
"""


def e(v) -> str:
    """Escaped text of anything (None as an em dash)."""
    if v is None:
        return "&mdash;"
    return escape(str(v), quote=True)


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def fmt_q(value, unit: str, *, sd=None, nd: int = 2, interval=None) -> str:
    """A quantity with its unit and, when known, its uncertainty: ``12.30 ± 0.80 m`` or
    ``12.30 m (95 % interval 11.20-13.90 m)``; ``n/a`` when unknown."""
    if not _finite(value):
        return "n/a"
    unit_s = f" {unit}" if unit else ""
    out = f"{value:.{nd}f}"
    if _finite(sd):
        out += f" &plusmn; {sd:.{nd}f}"
    out += unit_s
    if interval is not None and all(_finite(v) for v in interval):
        out += f" (95 % interval {interval[0]:.{nd}f}&ndash;{interval[1]:.{nd}f}{unit_s})"
    return out


def _img(name: str, png: bytes, alt: str, images: dict | None) -> str:
    if images is None:
        src = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    else:
        images[name] = png
        src = f"plots/{name}"
    return f'<img class="plot" data-plot="{e(name.split(".")[0].split("-")[-1])}" src="{e(src)}" alt="{e(alt)}">'


# -- sections -----------------------------------------------------------------------------------
def _header(ctx: dict) -> str:
    src = "; ".join(ctx["sources"])
    net = ctx.get("network_summary")
    lines = [f'<header><h1>{e(ctx["title"])}</h1>',
             f'<div class="meta">Generated {e(ctx["generated_utc"])} by acoustic {e(ctx["version"])} from {e(src)}.',
             ]
    if ctx.get("survey_dir"):
        lines.append(f' Survey folder: {e(ctx["survey_dir"])}.')
    if net:
        lines.append(f' Network: {net["pipes"]} pipes, {fmt_q(net["total_length_m"], "m", nd=0)} of main, '
                     f'{net["loggers"]} loggers.')
    lines.append(' Lengths in m, times in s, frequencies in Hz, levels in dB; intervals are 95 %.</div></header>')
    return "".join(lines)


def _nav(ctx: dict) -> str:
    links = ['<a href="#summary">Suspects</a>', '<a href="#map">Map</a>']
    for ev in ctx["suspects"]:
        links.append(f'<a href="#suspect-{ev.rank}">#{ev.rank}</a>')
    links.append('<a href="#contractor">Contractor summary</a>')
    if ctx.get("health") is not None:
        links.append('<a href="#pipe-health">Pipe health</a>')
    if ctx.get("dig_sheets_file"):
        links.append(f'<a href="{e(ctx["dig_sheets_file"])}">Dig sheets (print)</a>')
    return '<nav class="screen-only">' + "".join(links) + "</nav>"


def _warnings(ctx: dict) -> str:
    ws = ctx.get("warnings") or []
    if not ws:
        return ""
    items = "".join(f"<li>{e(w)}</li>" for w in ws)
    return f'<section id="warnings" class="warnings"><strong>Warnings</strong><ul>{items}</ul></section>'


def _summary_table(ctx: dict) -> str:
    rows = []
    for ev in ctx["suspects"]:
        p, d = ev.point, ev.dig
        near = "n/a"
        if d:
            nn = d["nearest_node"]
            near = f'{fmt_q(nn["distance_m"], "m", nd=1)} from node {e(nn["node_id"])}'
        status = p.get("status") or "new"
        rows.append(
            f'<tr data-suspect="{ev.rank}"><td><a href="#suspect-{ev.rank}"><span class="badge">{ev.rank}</span></a></td>'
            f'<td>{e(p["pipe_id"])}</td>'
            f'<td class="num">{fmt_q(p["offset_m"], "m", sd=p.get("sd_m"), nd=1)}</td>'
            f'<td class="num">{fmt_q(p["interval_m"][0], "", nd=1)}&ndash;{fmt_q(p["interval_m"][1], "m", nd=1)}</td>'
            f'<td>{near}</td><td class="num">{fmt_q(p.get("confidence"), "", nd=2)}</td>'
            f'<td>{e(", ".join(p.get("loggers") or []))}</td><td>{e(status)}</td></tr>')
    if not rows:
        body = '<p>No point suspects.</p>'
    else:
        body = ('<table id="suspect-table"><thead><tr><th>#</th><th>pipe</th><th class="num">offset from start node '
                '(&plusmn; 1 s.d.)</th><th class="num">95 % interval (from start node)</th><th>nearest node</th>'
                '<th class="num">confidence (0&ndash;1)</th><th>loggers</th><th>status</th></tr></thead><tbody>'
                + "".join(rows) + "</tbody></table>")
    return f'<section id="summary"><h2>Suspect points</h2>{body}</section>'


def _map(ctx: dict) -> str:
    if not ctx.get("map_svg"):
        return ('<section id="map"><h2>Network map</h2><p class="notes">No map: the network (survey folder) is not '
                'available.</p></section>')
    return (f'<section id="map"><h2>Network map</h2><div class="map-wrap">{ctx["map_svg"]}</div>'
            '<p class="notes">Loggers are coloured by their score (0&ndash;1; black ring: alarm); numbered red '
            'markers are the suspect points with their 95 % intervals drawn along the pipe; orange halos are the '
            'most suspect pipe runs between loggers; dashed outlines are areas. Hover for numbers. Coordinates: '
            f'{e(ctx.get("coord_name") or "the network model" + chr(39) + "s")}; scale bar: {e(ctx.get("scale_how") or "")}.'
            '</p></section>')


def _areas_lines(ctx: dict) -> str:
    out = []
    areas = ctx.get("areas") or []
    if areas:
        rows = "".join(f'<tr><td>{e(a.get("area"))}</td><td class="num">{fmt_q(a.get("score"), "", nd=2)}</td>'
                       f'<td>{e(", ".join(a.get("loggers") or []))}</td><td>{e("; ".join(a.get("reasons") or []))}</td></tr>'
                       for a in areas[:10])
        out.append('<h3>Areas</h3><table id="area-table"><thead><tr><th>area</th><th class="num">score (0&ndash;1)</th>'
                   f'<th>loggers</th><th>reasons</th></tr></thead><tbody>{rows}</tbody></table>')
    lines = ctx.get("lines") or []
    if lines:
        rows = "".join(f'<tr><td>{e(ln.get("from_logger"))} &ndash; {e(ln.get("to_logger"))}</td>'
                       f'<td>{e(", ".join(ln.get("pipe_ids") or []))}</td>'
                       f'<td class="num">{fmt_q(ln.get("length_m"), "m", nd=1)}</td>'
                       f'<td class="num">{fmt_q(ln.get("score"), "", nd=2)}</td>'
                       f'<td>{e("; ".join(ln.get("reasons") or []))}</td></tr>' for ln in lines[:10])
        out.append('<h3>Pipe runs between loggers (most suspect first)</h3><table id="line-table"><thead><tr>'
                   '<th>loggers</th><th>pipes</th><th class="num">length</th><th class="num">score (0&ndash;1)</th>'
                   f'<th>reasons</th></tr></thead><tbody>{rows}</tbody></table>')
    if not out:
        return ""
    return '<section id="areas-lines" class="screen-only">' + "".join(out) + "</section>"


def _numbers(ev, ctx: dict | None = None) -> str:
    ctx = ctx or {}
    p, d, c = ev.point, ev.dig, ev.correlation
    rows = [("pipe", e(p["pipe_id"]) + (f' ({e(d["material"])}, {fmt_q(d["diameter_mm"], "mm", nd=0)} internal diameter, '
                                        f'{fmt_q(d["pipe_length_m"], "m", nd=1)} long)' if d else "")),
            ("position", fmt_q(p["offset_m"], "m", sd=p.get("sd_m"), nd=2)
             + (" from sensor " if p.get("origin") == "pair" else " from the pipe&#x27;s start node ")
             + (f'({e(d["start_node"]["node_id"])})' if d else "") + " (&plusmn; 1 s.d.)"),
            ("95 % interval", f'{fmt_q(p["interval_m"][0], "", nd=2)}&ndash;{fmt_q(p["interval_m"][1], "m", nd=2)} '
                              "from the start node"
             + (f' (reaches into {e(", ".join(p["interval_extends_into"]))})' if p.get("interval_extends_into") else "")),
            ("confidence", fmt_q(p.get("confidence"), "", nd=2) + " (0&ndash;1)")]
    if _finite(p.get("x")) and _finite(p.get("y")):
        cu = ctx.get("coord_unit", "m")
        ll = _lonlat(d or {})
        rows.append(("coordinates", f'x {fmt_q(p["x"], cu, nd=1)}, y {fmt_q(p["y"], cu, nd=1)} '
                                    f'({e(ctx.get("coord_name") or "network coordinates")})' + (f"; {ll}" if ll else "")))
    if p.get("score_z") is not None:
        rows.append(("fused correlation", f'z = {fmt_q(p["score_z"], "&sigma;", nd=1)} (standard deviations &sigma; of the noise) '
                                          f'from {e(p.get("n_pair_nights"))} pair-night(s) of {e(p.get("n_pairs"))} pair(s)'))
    if p.get("classifier_leak_probability") is not None:
        rows.append(("classifier", f'leak probability {fmt_q(p["classifier_leak_probability"], "", nd=2)} (0&ndash;1) at '
                                   "the nearest logger"))
    if c:
        rows.append(("re-correlated pair", f'{e(ev.pair["from_logger"])} &ndash; {e(ev.pair["to_logger"])}, night '
                     f'{e(ev.pair["night"])}, route {fmt_q(ev.pair["route_length_m"], "m", nd=1)} over '
                     f'{e(", ".join(x[0] for x in ev.pair["route"]))}'))
        rows.append(("delay (A &minus; B)", fmt_q(c.get("delay_s"), "s", sd=c.get("delay_sd_s"), nd=6)
                     + ("" if c.get("detected") else " (no leak-like peak on this pair alone)")))
        rows.append(("pair&#x27;s own location", fmt_q(c.get("distance_from_a_m"), "m", sd=c.get("distance_sd_m"), nd=2,
                                                      interval=c.get("interval_m"))
                     + f' from {e(ev.pair["from_logger"])}' if c.get("distance_from_a_m") is not None else "n/a"))
        rows.append(("wave speed", fmt_q(c.get("wave_speed_m_s"), "m/s", sd=c.get("wave_speed_sd_m_s"), nd=0)))
        band = c.get("band_hz") or [None, None]
        rows.append(("band", f'{fmt_q(band[0], "", nd=0)}&ndash;{fmt_q(band[1], "Hz", nd=0)}; mean coherence '
                             f'{fmt_q(c.get("coherence_mean"), "", nd=2)} (threshold {fmt_q(c.get("coherence_threshold"), "", nd=2)})'))
        rows.append(("signal-to-noise", f'{fmt_q(c.get("snr_db"), "dB", nd=1)} in band; correlation peak '
                                        f'{fmt_q(c.get("peak_snr_db"), "dB", nd=1)} above its noise'))
    if ev.spectrum:
        s = ev.spectrum
        near = ", ".join(f'{m["label"]} {m["signature_id"][:8]} (similarity {m["similarity"]:.2f})' for m in s["nearest"])
        rows.append(("nearest signatures", e(near) if near else "no library"))
    if p.get("status"):
        rows.append(("ledger", f'suspect {e(p.get("ledger_id"))}, status {e(p["status"])}'
                     + (f', night {e(p["night"])}' if p.get("night") else "")))
        o = p.get("outcome")
        if o:
            if o.get("leak_found"):
                rows.append(("dig outcome", f'leak found at {fmt_q(o.get("found_at_m"), "m", nd=2)} from the start node; '
                                            f'location error {fmt_q(o.get("error_m"), "m", nd=2)}'))
            else:
                rows.append(("dig outcome", "no leak found"))
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="numbers">{body}</table>'


def _pair_nights(ev) -> str:
    evs = [x for x in (ev.point.get("evidence") or []) if isinstance(x, dict)]
    if not evs:
        return ""
    rows = "".join(f'<tr><td>{e(x.get("from_logger"))} &ndash; {e(x.get("to_logger"))}</td><td>{e(x.get("night"))}</td>'
                   f'<td class="num">{fmt_q(x.get("delay_s"), "s", sd=x.get("delay_sd_s"), nd=6)}</td>'
                   f'<td class="num">{fmt_q(x.get("z"), "&sigma;", nd=1)}</td></tr>' for x in evs)
    return ('<details class="screen-only"><summary>Pair-nights supporting this point '
            f'({len(evs)})</summary><table class="pair-nights"><thead><tr><th>pair (A &ndash; B)</th><th>night</th>'
            '<th class="num">delay A &minus; B (&plusmn; 1 s.d.)</th><th class="num">z (noise s.d. &sigma;)</th></tr></thead>'
            f'<tbody>{rows}</tbody></table></details>')


_CAPTIONS = {
    "correlogram": "Correlogram against position along the route between the pair (m from logger A); red line: the "
                   "suspect; shaded: its 95 % interval; dashed: this pair&#x27;s measured delays; dotted: pipe joints.",
    "coherence": "Magnitude-squared coherence of the two recordings (0&ndash;1) against frequency (Hz); shaded: the "
                 "band used for the correlation; dashed: what noise alone reaches.",
    "spectrum": "1/3-octave band levels (dB re 1 calibrated unit) of the nearest logger&#x27;s recording against the "
                "nearest signatures of the library.",
    "history": "Nightly level (L50) and spread (L10&minus;L90) of the pair&#x27;s loggers in the loggers&#x27; own dB "
               "units; red: the night of the recordings; dotted: baseline level; dashed: change found by the score.",
}


def _plots_html(ev, images) -> str:
    out = []
    for name in ("correlogram", "coherence", "spectrum", "history"):
        png = ev.plots.get(name)
        if png is None:
            continue
        out.append(f'<figure>{_img(f"suspect-{ev.rank}-{name}.png", png, f"suspect {ev.rank}: {name}", images)}'
                   f'<figcaption>{_CAPTIONS[name]}</figcaption></figure>')
    return '<div class="evidence">' + "".join(out) + "</div>"


def _ref(d: dict) -> str:
    """What positions are measured from: a node of the network, or a sensor of a pair job."""
    return "sensor" if d.get("reference") == "sensor" else "node"


def _lonlat(d: dict) -> str:
    if _finite(d.get("lat")) and _finite(d.get("lon")):
        return f'latitude {d["lat"]:.7f}, longitude {d["lon"]:.7f} (WGS 84)'
    return ""


def dig_sheet_html(ev, sketch_svg: str | None, ctx: dict) -> str:
    """The printable dig sheet of one suspect."""
    p, d = ev.point, ev.dig
    head = f'<h3>Dig sheet &mdash; suspect {ev.rank}'
    if p.get("ledger_id") is not None:
        head += f' (ledger suspect {e(p["ledger_id"])})'
    head += "</h3>"
    if not d:
        return (f'<div class="digsheet" id="digsheet-{ev.rank}">{head}<p>Pipe {e(p["pipe_id"])} at '
                f'{fmt_q(p["offset_m"], "m", sd=p.get("sd_m"), nd=2)} from its start node; 95 % interval '
                f'{fmt_q(p["interval_m"][0], "", nd=2)}&ndash;{fmt_q(p["interval_m"][1], "m", nd=2)}'
                + (f'; x {fmt_q(p.get("x"), "", nd=1)}, y {fmt_q(p.get("y"), "", nd=1)} (network coordinates)'
                   if _finite(p.get("x")) else "")
                + '. The network was not available: measure from the start node of the pipe.</p></div>')
    nn = d["nearest_node"]
    sd = d.get("sd_m")
    ref = _ref(d)
    cu = ctx.get("coord_unit", "m")
    cu_s = f" {cu}" if cu else ""
    what = "pair path" if ref == "sensor" else "Pipe"
    lines = [
        head,
        f'<p class="big">{what} {e(d["pipe_id"])}: dig {fmt_q(nn["distance_m"], "m", sd=sd, nd=1)} along the pipe from '
        f'{ref} {e(nn["node_id"])}</p>',
        f'<p>95 % interval along the pipe from {ref} {e(nn["node_id"])}: '
        f'<strong>{fmt_q(nn["interval_m"][0], "", nd=1)}&ndash;{fmt_q(nn["interval_m"][1], "m", nd=1)}</strong>'
        + (" (the interval reaches beyond this pipe&#x27;s ends)" if d["interval_beyond_pipe"] else "") + "</p>",
        '<table><tbody>',
        f'<tr><th>from {ref} {e(d["start_node"]["node_id"])} ({"sensor A" if ref == "sensor" else "pipe start"})</th>'
        f'<td class="num">{fmt_q(d["start_node"]["distance_m"], "m", sd=sd, nd=2)}</td><td class="num">interval '
        f'{fmt_q(d["start_node"]["interval_m"][0], "", nd=2)}&ndash;{fmt_q(d["start_node"]["interval_m"][1], "m", nd=2)}</td></tr>',
        f'<tr><th>from {ref} {e(d["end_node"]["node_id"])} ({"sensor B" if ref == "sensor" else "pipe end"})</th>'
        f'<td class="num">{fmt_q(d["end_node"]["distance_m"], "m", sd=sd, nd=2)}</td><td class="num">interval '
        f'{fmt_q(d["end_node"]["interval_m"][0], "", nd=2)}&ndash;{fmt_q(d["end_node"]["interval_m"][1], "m", nd=2)}</td></tr>',
    ]
    if _finite(d.get("x")) and _finite(d.get("y")):
        ll = _lonlat(d)
        lines.append(f'<tr><th>coordinates</th><td class="num">x {fmt_q(d["x"], cu, nd=1)}, y {fmt_q(d["y"], cu, nd=1)} '
                     f'({e(ctx.get("coord_name") or "network coordinates")})'
                     + (f'<br>{ll}' if ll else "") + '</td>'
                     f'<td class="num">interval ends ({fmt_q(d["interval_xy"][0][0], "", nd=1)}, '
                     f'{fmt_q(d["interval_xy"][0][1], "", nd=1)}) &ndash; ({fmt_q(d["interval_xy"][1][0], "", nd=1)}, '
                     f'{fmt_q(d["interval_xy"][1][1], "", nd=1)}){cu_s}</td></tr>')
        lines.append(f'<tr><th>node coordinates</th><td class="num">{e(d["start_node"]["node_id"])}: '
                     f'({fmt_q(d["start_node"]["x"], "", nd=1)}, {fmt_q(d["start_node"]["y"], "", nd=1)}){cu_s}</td>'
                     f'<td class="num">{e(d["end_node"]["node_id"])}: ({fmt_q(d["end_node"]["x"], "", nd=1)}, '
                     f'{fmt_q(d["end_node"]["y"], "", nd=1)}){cu_s}</td></tr>')
    lines.append(f'<tr><th>pipe</th><td>{e(d["material"])}, internal diameter {fmt_q(d["diameter_mm"], "mm", nd=0)}, wall '
                 f'{fmt_q(d["wall_mm"], "mm", nd=1)}{" (typical for the material)" if d["wall_is_typical"] else ""}</td>'
                 f'<td class="num">length {fmt_q(d["pipe_length_m"], "m", nd=1)}</td></tr>')
    nl = d.get("nearest_logger")
    if nl and ref == "node":
        where = f'node {e(nl["node_id"])}' if nl.get("node_id") else f'pipe {e(nl["pipe_id"])} at {fmt_q(nl["offset_m"], "m", nd=1)}'
        lines.append(f'<tr><th>nearest logger</th><td>{e(nl["logger_id"])} at {where}</td><td class="num">'
                     f'{fmt_q(nl["distance_m"], "m", nd=1)} along the pipes</td></tr>')
    if d.get("equipment"):
        lines.append(f'<tr><th>equipment at the ends</th><td colspan="2">{e("; ".join(f"{k}: {v}" for k, v in d["equipment"].items()))}</td></tr>')
    lines.append(f'<tr><th>confidence</th><td colspan="2">{fmt_q(p.get("confidence"), "", nd=2)} (0&ndash;1); '
                 f'located by {e(", ".join(p.get("loggers") or []))}</td></tr>')
    lines.append("</tbody></table>")
    if sketch_svg:
        lines.append(f'<div class="sketch">{sketch_svg}</div>')
    lines.append(f'<p>Found at <span class="fill"></span> m from {ref} <span class="fill"></span> &nbsp; '
                 'Leak found: yes / no &nbsp; Date <span class="fill"></span> &nbsp; Crew <span class="fill"></span></p>')
    if p.get("ledger_id") is not None and ctx.get("ledger_path"):
        lines.append(f'<p class="notes">Record the outcome as measured: <code>acoustic ledger confirm '
                     f'{e(ctx["ledger_path"])} {e(p["ledger_id"])} --found-at-m X --from-node {e(nn["node_id"])}'
                     f' --dug-on YYYY-MM-DD</code> (X in m along the pipe from {ref} {e(nn["node_id"])}; '
                     f'--from-node takes either end) or <code>--no-leak</code>.</p>')
    return f'<div class="digsheet" id="digsheet-{ev.rank}">' + "".join(lines) + "</div>"


#: Phrases of correlator warnings that say the re-correlated pair alone finds no leak between its
#: sensors; under a located (or dug) suspect they are context, not a warning against digging.
CONTRADICTING = ("not a leak between the sensors", "no leak located")


def is_open(point: dict) -> bool:
    """A suspect still to be dug: a survey point, or a ledger suspect open or dispatched."""
    return point.get("status") in (None, "open", "dispatched", "new")


def reconcile_warnings(ev) -> tuple[list[str], str | None]:
    """The correlator warnings to show under a suspect, and one sentence of context replacing those
    that would contradict the suspect's advice (:data:`CONTRADICTING`).

    A survey point is located by fusing many pair-nights; one pair correlated again on its own may
    hear its strongest peak at the edge of its delays (the suspect lies off its route and its
    sound joins at a node) or outside it.  A confirmed suspect was dug and found.  Either way the
    page says what the pair shows without telling the crew it is not a leak.
    """
    ws = list((ev.correlation or {}).get("warnings") or [])
    kept = [w for w in ws if not any(c in w for c in CONTRADICTING)]
    if len(kept) == len(ws):
        return kept, None
    p = ev.point
    pair = ev.pair or {}
    if p.get("status") == "confirmed":
        return kept, ("The dig confirmed a leak here. Correlated again on its own, this pair places its strongest "
                      "peak outside the stretch between its loggers; the fused survey placed the leak, the dig "
                      "confirmed it.")
    if p.get("origin") == "pair":
        return kept, ("This pair also hears a source outside the stretch between its sensors (at the edge of the "
                      "possible delays); the located leak is the peak between them.")
    if pair.get("junction"):
        j = pair["junction"]
        return kept, (f"This pair hears the suspect at the edge of its possible delays because the suspect is off the "
                      f"route between its loggers: its sound joins the route at node {j['node_id']}. The position "
                      "comes from the survey's fusion of all pair-nights.")
    n = p.get("n_pair_nights")
    return kept, ("Correlated again on its own, this pair does not single out a leak between its loggers; the "
                  "suspect's position comes from the survey's fusion of "
                  + (f"{n} pair-night(s)" if n else "all pair-nights") + " (the fused evidence is above).")


def _suspect(ev, sketch_svg, images, ctx) -> str:
    p = ev.point
    title = (f'<span class="badge">{ev.rank}</span> Pipe {e(p["pipe_id"])} at '
             f'{fmt_q(p["offset_m"], "m", sd=p.get("sd_m"), nd=1)} from its start node')
    notes = "".join(f"<li>{e(n)}</li>" for n in ev.notes)
    kept, context = reconcile_warnings(ev)
    warn = "".join(f"<li>{e(w)}</li>" for w in kept[:6])
    parts = [f'<article class="suspect" id="suspect-{ev.rank}" data-suspect="{ev.rank}"><h2>{title}</h2>',
             _numbers(ev, ctx), _pair_nights(ev), _plots_html(ev, images)]
    if context:
        parts.append(f'<div class="notes pair-context">{e(context)}</div>')
    if warn:
        parts.append(f'<div class="notes">Correlator warnings for the re-correlated pair:<ul>{warn}</ul></div>')
    if notes:
        parts.append(f'<div class="notes">Not shown:<ul>{notes}</ul></div>')
    if is_open(p):
        parts.append(dig_sheet_html(ev, sketch_svg, ctx))
    else:
        parts.append(f'<p class="notes closed">No dig sheet: this suspect is closed ({e(p.get("status"))}).</p>')
    parts.append("</article>")
    return "".join(parts)


def _contractor(ctx: dict, images) -> str:
    cs = ctx.get("contractor")
    if cs is None:
        return ('<section id="contractor"><h2>Contractor summary</h2><p class="notes">No ledger given: the contractor '
                'summary (located, confirmed, location errors, payable count) needs <code>--ledger PATH</code>.</p>'
                '</section>')
    st = cs["stats"]
    le = st.get("location_error_m") or {}
    hit = "n/a" if st.get("hit_rate") is None else f'{100 * st["hit_rate"]:.0f} %'
    pct = (lambda v: "n/a" if v is None else f"{100 * v:.0f} %")
    cov = cs.get("interval_coverage")
    rows = [
        ("located (point suspects in the ledger)", str(cs["located"])),
        ("dug (outcomes recorded)", str(st["dug"])),
        ("leaks found (each counted once)", str(st["leaks_found"])),
        ("repeat digs of a found leak", str(st.get("repeat_digs", 0))),
        ("no leak found", str(st["no_leak"])),
        ("hit rate (leaks / (leaks + dry digs))", hit),
        ("location error, median", fmt_q(le.get("median"), "m", nd=2) + (f' (n = {le["n"]})' if le else "")),
        ("location error, 90th percentile", fmt_q(le.get("p90"), "m", nd=2)),
        ("location error, largest", fmt_q(le.get("max"), "m", nd=2)),
        ("confirmed within 1 m", pct(le.get("within_1m"))),
        ("confirmed within 2 m", pct(le.get("within_2m"))),
        ("found inside the 95 % interval", pct(cov)),
        (f'payable ({e(cs["rule"])})', f'<strong id="payable-count">{st["payable"]["count"]}</strong>'),
    ]
    body = "".join(f'<tr><th>{k}</th><td class="num">{v}</td></tr>' for k, v in rows)
    out = ['<section id="contractor"><h2>Contractor summary</h2>',
           f'<table id="contractor-table"><tbody>{body}</tbody></table>']
    if cs.get("spacing_unknown") and cs.get("tolerance_pct") is not None:
        out.append(f'<p class="notes">{cs["spacing_unknown"]} confirmed leak(s) have no recorded sensor spacing; they '
                   f'are judged on {cs["tolerance_m"]:g} m alone.</p>')
    if ctx.get("contractor_plot"):
        out.append(f'<figure>{_img("contractor-errors.png", ctx["contractor_plot"], "location errors", images)}'
                   '<figcaption>Location errors of confirmed leaks (m) and the payment tolerance.</figcaption></figure>')
    if cs["digs"]:
        rows = []
        for d in cs["digs"]:
            pay = ('<span class="payable-yes">yes</span>' if d["payable"] else '<span class="payable-no">no</span>')
            if d["leak_found"] and not d.get("counts"):
                pay = f'<span class="payable-no">no: leak {e(d.get("leak_id"))} was found first by another dig</span>'
            leak = "&mdash;" if d.get("leak_id") is None else e(d["leak_id"])
            inside = {True: "yes", False: "no", None: "&mdash;"}[d["within_interval"]]
            rows.append(f'<tr data-suspect-id="{e(d["suspect_id"])}"><td>{e(d["suspect_id"])}</td><td>{e(d["area"])}</td>'
                        f'<td>{e(d["pipe_id"])}</td><td class="num">{fmt_q(d["offset_m"], "m", nd=2)}</td>'
                        f'<td>{"leak" if d["leak_found"] else "no leak"}</td><td>{leak}</td><td>{e(d.get("dug_on"))}</td>'
                        f'<td class="num">{fmt_q(d["found_at_m"], "m", nd=2)}</td><td class="num">{fmt_q(d["error_m"], "m", nd=2)}</td>'
                        f'<td>{inside}</td><td class="num">{fmt_q(d["spacing_m"], "m", nd=1)}</td>'
                        f'<td class="num">{fmt_q(d["allowed_m"], "m", nd=2)}</td><td>{pay}</td></tr>')
        out.append('<h3>Digs</h3><table id="dig-table"><thead><tr><th>suspect</th><th>area</th><th>pipe</th>'
                   '<th class="num">located</th><th>outcome</th><th>leak</th><th>dug on</th><th class="num">found at</th>'
                   '<th class="num">error</th>'
                   '<th>inside 95 % interval</th><th class="num">sensor spacing</th><th class="num">allowed error</th>'
                   '<th>payable</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table>")
        out.append('<p class="notes">Positions are m from the pipe&#x27;s start node; error = distance along the '
                   'pipes between the found and the located position. A dig within '
                   f'{fmt_q(st.get("merge_m"), "m", nd=0)} and {e(st.get("merge_days"))} days of the dig that first found a leak found that '
                   'leak again: it is counted and paid once, on the dig that found it first, in the period of that '
                   'dig. Only each suspect&#x27;s outcome in force counts (see '
                   '<code>acoustic ledger history</code>).</p>')
    out.append("</section>")
    return "".join(out)


#: Map colours of the health grades (A red, B orange, C green).
GRADE_COLOURS = {"A": "#d7191c", "B": "#fdae61", "C": "#1a9641"}


def _health(ctx: dict) -> str:
    """The pipe health section: graded map, the worst pipes with their evidence, totals."""
    h = ctx.get("health")
    if h is None:
        return ""
    t = h.totals
    out = ['<section id="pipe-health"><h2>Pipe health</h2>',
           f'<p class="notes">From the ledger, {e(h.describe_period())}. Grade A: renew now, '
           'B: repair and watch, C: monitor; the first rule that holds gives the grade (A: '
           f'{h.rules.a_leaks} or more confirmed leaks, or 2 or more at {h.rules.a_rate:g} or more per km per year, or '
           f'one on {e(" or ".join(h.rules.old_materials))} {h.rules.old_age} or more years old; B: '
           f'{h.rules.b_leaks} or more leaks, or an open suspect with its loggers in alarm on '
           f'{100 * h.rules.alarm_share:.0f} % of nights or more). Each physical leak counts once; a suspect dug '
           'without a leak counts for nothing.</p>']
    if ctx.get("health_map"):
        out.append(f'<div class="map-wrap">{ctx["health_map"]}</div>')
    rows = "".join(f'<tr><td><span class="grade grade-{g}">{g}</span></td><td>{e(t["by_grade"][g]["action"])}</td>'
                   f'<td class="num">{t["by_grade"][g]["pipes"]}</td><td class="num">'
                   f'{fmt_q(t["by_grade"][g]["length_km"], "km", nd=2)}</td><td class="num">{t["by_grade"][g]["leaks"]}</td></tr>'
                   for g in "ABC")
    out.append('<table id="health-grades"><thead><tr><th>grade</th><th>action</th><th class="num">pipes</th>'
               f'<th class="num">length</th><th class="num">leaks</th></tr></thead><tbody>{rows}</tbody></table>')
    for key, title in (("by_material", "material"), ("by_area", "area")):
        rows = "".join(f'<tr><td>{e(k)}</td><td class="num">{v["pipes"]}</td><td class="num">'
                       f'{fmt_q(v["length_km"], "km", nd=2)}</td><td class="num">{v["leaks"]}</td><td class="num">{v["A"]}</td>'
                       f'<td class="num">{v["B"]}</td><td class="num">{v["C"]}</td></tr>' for k, v in sorted(t[key].items()))
        out.append(f'<table id="health-{title}"><thead><tr><th>{title}</th><th class="num">pipes</th><th class="num">'
                   'length</th><th class="num">leaks</th><th class="num">A</th><th class="num">B</th><th class="num">C'
                   f'</th></tr></thead><tbody>{rows}</tbody></table>')
    worst = [p for p in h.pipes if p.grade != "C"][:10] or h.pipes[:3]
    rows = []
    for p in worst:
        leaks = "; ".join(f'{fmt_q(x["found_at_m"], "m", nd=1)} (dug {e(x["dug_on"])})' for x in p.leaks) or "none"
        rows.append(f'<tr data-pipe-id="{e(p.pipe_id)}"><td><span class="grade grade-{p.grade}">{p.grade}</span></td>'
                    f'<td>{e(p.pipe_id)}</td><td>{e(p.material)}, {fmt_q(p.diameter_mm, "mm", nd=0)}, '
                    f'{fmt_q(p.length_m, "m", nd=0)}' + (f', installed {e(p.install_year)}' if p.install_year else "")
                    + f'</td><td class="num">{len(p.leaks)}</td><td class="num">'
                    f'{fmt_q(p.leak_rate_per_km_year, "/km/yr", nd=2)}</td><td>{leaks}</td><td class="num">'
                    f'{p.open_suspects} / {p.dismissed_suspects}</td><td class="num">'
                    f'{"n/a" if p.alarm_share is None else f"{100 * p.alarm_share:.0f} %"}</td>'
                    f'<td>{e("; ".join(p.reasons))}</td></tr>')
    out.append('<h3>Worst pipes first</h3><table id="health-pipes"><thead><tr><th>grade</th><th>pipe</th><th>pipe facts'
               '</th><th class="num">leaks</th><th class="num">leak rate</th><th>leaks found (m from start node)</th>'
               '<th class="num">open / dismissed suspects</th><th class="num">nights in alarm</th><th>reasons</th></tr>'
               '</thead><tbody>' + "".join(rows) + "</tbody></table></section>")
    return "".join(out)


def _footer() -> str:
    return ('<footer class="notes"><h2>How to read this report</h2><p>Suspect points come from correlating the '
            'recordings of neighbouring loggers along their route through the pipes: the delay between the two '
            'arrivals (s) and the pipe&#x27;s wave speed (m/s) give the position; the 95 % interval combines the delay '
            'uncertainty and the spread of each material&#x27;s wave speed. The correlogram, coherence and spectrum '
            'shown were recomputed from the same recordings when this report was made. Levels of different loggers '
            'are comparable only after calibration (gain); stats.csv levels are in each logger&#x27;s own dB units.'
            '</p></footer>')


def render_page(ctx: dict, sketches: dict, images: dict | None) -> str:
    """The whole report page.

    Parameters
    ----------
    ctx : dict
        ``title``, ``generated_utc``, ``version``, ``sources``, ``survey_dir``, ``network_summary``,
        ``warnings``, ``suspects`` (list of SuspectEvidence), ``map_svg``, ``areas``, ``lines``,
        ``contractor``, ``contractor_plot``, ``ledger_path``, ``dig_sheets_file``.
    sketches : dict of rank -> SVG text of the dig-sheet sketch
    images : dict or None
        None embeds images as data URIs; a dict collects ``name -> PNG`` to write beside the page.
    """
    parts = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f'<title>{e(ctx["title"])}</title><style>{CSS}</style></head><body>',
             _header(ctx), _nav(ctx), _warnings(ctx), _summary_table(ctx), _map(ctx), _areas_lines(ctx),
             '<section id="suspects">']
    for ev in ctx["suspects"]:
        parts.append(_suspect(ev, sketches.get(ev.rank), images, ctx))
    parts.append("</section>")
    parts.append(_contractor(ctx, images))
    parts.append(_health(ctx))
    parts.append(_footer())
    parts.append("</body></html>\n")
    return "".join(parts)


def render_dig_sheets(ctx: dict, sketches: dict) -> str:
    """A page of only the dig sheets of open suspects (open, dispatched, or new survey points), one
    per printed page."""
    sheets = "".join(dig_sheet_html(ev, sketches.get(ev.rank), ctx) for ev in ctx["suspects"] if is_open(ev.point))
    css = CSS + ".digsheet { break-after: page; page-break-after: always; } @media print { .digsheet { break-before: auto; page-break-before: auto; } }"
    return ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<title>Dig sheets &mdash; {e(ctx["title"])}</title><style>{css}</style></head><body>'
            f'<h1>Dig sheets &mdash; {e(ctx["title"])}</h1><p class="meta">Generated {e(ctx["generated_utc"])}. '
            'Distances are along the pipe; intervals are 95 %.</p>'
            + (sheets or "<p>No open point suspects.</p>") + "</body></html>\n")
