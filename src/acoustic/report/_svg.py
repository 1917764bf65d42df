"""The network map as inline SVG: pipes, loggers coloured by score, suspects, areas, scale bar.

Drawn directly in network coordinates (x east, y north) scaled to pixels, so the map needs no
script, no tiles and no fonts beyond the browser's own.  The coordinates need not be metres: the
scale bar is in true metres from :func:`acoustic.survey._crs.map_scale` (the coordinate system's
unit, or the pipes' own lengths when it is unknown), and longitude/latitude drawings are shrunk
along x by cos(latitude).  Labels (logger ids, node ids) are placed where they overlap no other
label; a label with no free place is left out (its element keeps its tooltip).  Every element
carries a class and ``data-`` attributes (``data-pipe-id``, ``data-logger-id``, ``data-suspect``)
and a ``<title>`` tooltip, so a crew can hover for the numbers and a test can count what was drawn.
"""

from __future__ import annotations

import math
from html import escape

import numpy as np

__all__ = ["network_map_svg", "score_colour", "nice_step", "MATERIAL_COLOURS", "SCORE_STOPS"]

#: Pipe colour by material (metal greys, plastics blue, cement browns).
MATERIAL_COLOURS = {
    "cast_iron": "#4d4d4d", "ductile_iron": "#7a7a7a", "steel": "#2f4f6f", "copper": "#b0652c",
    "pvc": "#3182bd", "pe": "#6baed6", "asbestos_cement": "#8c6d31", "concrete": "#a1887f",
}
#: Score (0..1) colour ramp of the loggers (light yellow to dark red).
SCORE_STOPS = [(0.0, (255, 255, 178)), (0.25, (254, 204, 92)), (0.5, (253, 141, 60)), (0.75, (240, 59, 32)),
               (1.0, (189, 0, 38))]
NO_SCORE = "#bdbdbd"
SUSPECT = "#d7191c"
LINE_HALO = "#fdae61"
AREA = "#6a3d9a"


def score_colour(score) -> str:
    """Hex colour of a score in 0..1 on :data:`SCORE_STOPS` (grey when unknown)."""
    if score is None or not isinstance(score, (int, float)) or not math.isfinite(score):
        return NO_SCORE
    s = min(max(float(score), 0.0), 1.0)
    for (s0, c0), (s1, c1) in zip(SCORE_STOPS[:-1], SCORE_STOPS[1:]):
        if s <= s1:
            t = 0.0 if s1 == s0 else (s - s0) / (s1 - s0)
            return "#%02x%02x%02x" % tuple(int(round(a + t * (b - a))) for a, b in zip(c0, c1))
    return "#%02x%02x%02x" % SCORE_STOPS[-1][1]


def nice_step(span: float, target: int = 5) -> float:
    """A round step (1, 2 or 5 x 10^k) that cuts ``span`` into about ``target`` parts."""
    if not (span > 0 and math.isfinite(span)):
        return 1.0
    raw = span / target
    k = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 5.0, 10.0):
        if raw <= m * k * 1.000001:
            return m * k
    return 10.0 * k


def _fmt(v: float) -> str:
    return f"{v:.1f}"


def _hull(points: np.ndarray) -> np.ndarray:
    """Convex hull (counter-clockwise) of 2-D points, monotone chain."""
    pts = sorted(set(map(tuple, np.round(points, 6))))
    if len(pts) <= 2:
        return np.array(pts)

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower, upper = [], []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.array(lower[:-1] + upper[:-1])


def area_outline(xy: np.ndarray, margin: float) -> np.ndarray:
    """Outline of an area: the convex hull of its loggers grown by ``margin`` (network units),
    so one or two loggers still give a shape."""
    ang = np.linspace(0.0, 2 * np.pi, 16, endpoint=False)
    ring = np.stack([np.cos(ang), np.sin(ang)], axis=1) * margin
    grown = (np.asarray(xy, dtype=np.float64)[:, None, :] + ring[None, :, :]).reshape(-1, 2)
    return _hull(grown)


class _Frame:
    """Network coordinates -> pixels (y up in the network, down on screen; x shrunk by
    ``x_factor`` for longitude/latitude drawings)."""

    def __init__(self, bbox, width_px: float, pad_px: float, pad_left_px: float, pad_bottom_px: float,
                 x_factor: float = 1.0):
        x0, y0, x1, y1 = bbox
        self.x0, self.y0, self.x1, self.y1 = x0, y0, x1, y1
        self.x_factor = float(x_factor)
        span_x, span_y = max((x1 - x0) * self.x_factor, 1e-9), max(y1 - y0, 1e-9)
        inner_w = width_px - pad_left_px - pad_px
        self.scale = inner_w / span_x
        inner_h = span_y * self.scale
        if inner_h > 1.2 * inner_w:  # tall networks: limit the height
            self.scale = 1.2 * inner_w / span_y
            inner_h = span_y * self.scale
        self.left, self.top = pad_left_px, pad_px
        self.inner_w, self.inner_h = span_x * self.scale, inner_h
        self.width = width_px
        self.height = pad_px + inner_h + pad_bottom_px

    def __call__(self, x, y):
        return (self.left + (x - self.x0) * self.x_factor * self.scale,
                self.top + (self.y1 - y) * self.scale)

    def pts(self, xy) -> str:
        return " ".join(f"{_fmt(px)},{_fmt(py)}" for px, py in (self(x, y) for x, y in xy))


def _bbox(network, extra_xy=()):
    xs = [c[0] for c in network.node_coords.values()]
    ys = [c[1] for c in network.node_coords.values()]
    for p in network.pipes.values():
        xs.extend(p.coords[:, 0].tolist())
        ys.extend(p.coords[:, 1].tolist())
    for x, y in extra_xy:
        xs.append(x)
        ys.append(y)
    return min(xs), min(ys), max(xs), max(ys)


def _intersects(coords: np.ndarray, bbox) -> bool:
    x0, y0, x1, y1 = bbox
    return not (coords[:, 0].max() < x0 or coords[:, 0].min() > x1 or coords[:, 1].max() < y0
                or coords[:, 1].min() > y1)


class _Labels:
    """Label placement without overlap: markers and placed labels are obstacles; a label takes the
    first candidate place around its anchor that hits none and stays inside the frame."""

    #: Width of one character as a fraction of the font size (sans-serif digits and capitals).
    CHAR_W = 0.62

    def __init__(self, fr: "_Frame"):
        self.fr = fr
        self.boxes: list[tuple[float, float, float, float]] = []

    def block(self, px: float, py: float, r: float) -> None:
        self.boxes.append((px - r, py - r, px + r, py + r))

    def _free(self, b) -> bool:
        fr = self.fr
        if b[0] < fr.left or b[2] > fr.left + fr.inner_w or b[1] < fr.top or b[3] > fr.top + fr.inner_h:
            return False
        return all(b[2] <= o[0] or b[0] >= o[2] or b[3] <= o[1] or b[1] >= o[3] for o in self.boxes)

    def place(self, px: float, py: float, text: str, size: float, r: float) -> tuple[float, float, str] | None:
        """Baseline position and anchor of a label beside a marker of radius ``r`` at (px, py)."""
        w, h = self.CHAR_W * size * len(text), size
        g = r + 2.0
        for dx, dy, anchor in ((g, -g, "start"), (g, g + h, "start"), (-g, -g, "end"), (-g, g + h, "end"),
                               (0.0, -g - 1.0, "middle"), (0.0, g + h + 1.0, "middle"), (g, h / 2 - 1, "start"),
                               (-g, h / 2 - 1, "end")):
            tx, ty = px + dx, py + dy
            x0 = tx if anchor == "start" else tx - w if anchor == "end" else tx - w / 2
            box = (x0 - 1, ty - h, x0 + w + 1, ty + 2)
            if self._free(box):
                self.boxes.append(box)
                return tx, ty, anchor
        return None


def _coord_unit(scale, cs) -> tuple[str, str]:
    """(short unit of the coordinates, axis caption)."""
    if cs is not None and cs.known:
        unit = {"metre": "m", "degree": "°", "US survey foot": "ftUS", "foot": "ft"}.get(cs.unit or "", cs.unit or "")
        return unit, f"{unit}, {cs.crs}" if unit else cs.crs
    if scale is None or abs(scale.metres_per_unit - 1.0) <= 0.02:
        return "m", "m, network coordinates"
    return "", f"network coordinates; 1 unit = {scale.metres_per_unit:.4g} m from the pipe lengths"


def network_map_svg(network, sites: dict, *, logger_scores=None, points=(), lines=(), areas=(),
                    noise_sources=(), bbox=None, width_px: int = 920, highlight: int | None = None,
                    svg_id: str = "network-map", legend: bool = True, max_lines: int = 5, scale=None,
                    cs=None, pipe_classes: dict | None = None, class_legend=None) -> str:
    """Draw the network as an SVG document fragment.

    Parameters
    ----------
    network : acoustic.network.PipeNetwork
    sites : dict of logger_id -> LoggerSite
    logger_scores : dict of logger_id -> dict with ``score`` (0..1) and ``alarm``
    points : list of dict
        Point suspects (``pipe_id``, ``offset_m``, ``interval_m`` in m from the pipe's start
        node); drawn numbered 1, 2, ... in this order, the interval as a thick band along the
        pipe's geometry.
    lines : list of dict
        Line suspects (``pipe_ids``, ``score``); the ``max_lines`` best are drawn as halos.
    areas : list of dict
        ``area`` and ``loggers``; outlined around their loggers.
    noise_sources : list of dict
        Points explained by known equipment (PRVs, pumps): grey markers.
    bbox : (x0, y0, x1, y1), optional
        Part of the network to draw (network coordinates, m); default the whole network.
    width_px : int
    highlight : int, optional
        1-based number of the point to emphasise (dig-sheet sketches).
    svg_id : str
    legend : bool
        Draw the legend under the map.
    scale : acoustic.survey._crs.MapScale, optional
        True metres per coordinate unit (default :func:`~acoustic.survey._crs.map_scale` of the
        network and ``cs``).
    cs : acoustic.survey._crs.CoordinateSystem, optional
        The network's coordinate system (axis captions).
    pipe_classes : dict of pipe_id -> (colour, label), optional
        Colour pipes by class (e.g. health grade) instead of material; ``data-class`` carries the
        label.
    class_legend : list of (colour, label), optional
        The legend of ``pipe_classes`` (replaces the material legend).

    Returns
    -------
    str
        ``<svg ...>...</svg>``.
    """
    from ..survey._crs import map_scale

    if scale is None:
        scale = map_scale(network, cs)
    unit, caption = _coord_unit(scale, cs)
    full = bbox is None
    x0, y0, x1, y1 = _bbox(network) if full else bbox
    span = max(x1 - x0, y1 - y0, 1e-9)
    margin = 0.06 * span
    bbox_m = (x0 - margin, y0 - margin, x1 + margin, y1 + margin)
    legend_h = 74 if legend else 0
    fr = _Frame(bbox_m, width_px, 14.0, 58.0, 44.0 + legend_h, x_factor=scale.x_factor)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" id="{escape(svg_id)}" class="network-map" role="img" '
           f'width="{int(fr.width)}" height="{int(math.ceil(fr.height))}" '
           f'viewBox="0 0 {int(fr.width)} {int(math.ceil(fr.height))}" font-family="sans-serif" font-size="11">',
           f'<title>Network map ({escape(str(network.source))}): {len(network.pipes)} pipes, {len(sites)} loggers, '
           f'{len(points)} suspect points</title>',
           f'<defs><clipPath id="{escape(svg_id)}-clip"><rect x="{_fmt(fr.left)}" y="{_fmt(fr.top)}" '
           f'width="{_fmt(fr.inner_w)}" height="{_fmt(fr.inner_h)}"/></clipPath></defs>',
           f'<rect class="map-frame" x="{_fmt(fr.left)}" y="{_fmt(fr.top)}" width="{_fmt(fr.inner_w)}" '
           f'height="{_fmt(fr.inner_h)}" fill="#fbfbf8" stroke="#999"/>']
    out.extend(_axes(fr, caption))
    lxy = {lid: network.site_xy(s) for lid, s in sites.items()}
    lxy_in = {lid: xy for lid, xy in lxy.items() if bbox_m[0] <= xy[0] <= bbox_m[2] and bbox_m[1] <= xy[1] <= bbox_m[3]}
    logger_label, node_label = _place_labels(fr, network, lxy_in, points, bbox_m)
    out.append(f'<g clip-path="url(#{escape(svg_id)}-clip)">')
    out.extend(_area_layer(fr, areas, lxy, span))
    out.extend(_line_layer(fr, network, list(lines)[:max_lines]))
    out.extend(_pipe_layer(fr, network, None if full else bbox_m, pipe_classes))
    out.extend(_node_layer(fr, network, bbox_m, node_label, unit))
    out.extend(_noise_layer(fr, network, noise_sources))
    out.extend(_interval_layer(fr, network, points, highlight))
    out.extend(_logger_layer(fr, sites, lxy_in, logger_label, logger_scores or {}))
    out.extend(_suspect_layer(fr, network, points, highlight))
    out.append("</g>")
    out.extend(_scale_bar(fr, fr.scale / scale.metres_per_unit))
    out.extend(_north(fr))
    if legend:
        out.extend(_legend(fr, network, bool(points), bool(noise_sources), bool(areas), bool(lines), class_legend))
    out.append("</svg>")
    return "".join(out)


def _in_box(xy, box) -> bool:
    return box[0] <= xy[0] <= box[2] and box[1] <= xy[1] <= box[3]


def _used_nodes(network) -> set:
    return {n for p in network.pipes.values() for n in (p.start_node, p.end_node)}


def _place_labels(fr: _Frame, network, lxy_in: dict, points, box) -> tuple[dict, dict]:
    """Label positions without overlap: markers first (obstacles), then logger labels, then node
    labels where there is room.  Returns ``(logger_label, node_label)`` (id -> (x, y, anchor) or None)."""
    labels = _Labels(fr)
    for x, y in lxy_in.values():
        labels.block(*fr(x, y), 8.0)
    for pt in points:
        p = network.pipes.get(pt.get("pipe_id"))
        if p is not None:
            labels.block(*fr(*p.point_at(_on_pipe(pt["offset_m"], p))), 9.0)
    logger_label = {lid: labels.place(*fr(x, y), lid, 11.0, 7.0) for lid, (x, y) in lxy_in.items()}
    used = _used_nodes(network)
    nodes = [(n, xy) for n, xy in network.node_coords.items() if n in used and _in_box(xy, box)]
    for _, (x, y) in nodes:
        labels.block(*fr(x, y), 2.5)
    node_label = {n: labels.place(*fr(x, y), n, 9.0, 2.0) for n, (x, y) in nodes}
    return logger_label, node_label


def _area_layer(fr: _Frame, areas, lxy: dict, span: float) -> list[str]:
    """Areas outlined around their loggers (``span``: the drawing's extent, network units)."""
    out = []
    for a in areas:
        members = [lid for lid in (a.get("loggers") or []) if lid in lxy]
        if not members:
            continue
        ring = area_outline(np.array([lxy[lid] for lid in members]), 0.04 * span)
        lx, ly = fr(*ring[np.argmax(ring[:, 1])])
        out.append(f'<g class="area" data-area="{escape(str(a.get("area")))}"><polygon points="{fr.pts(ring)}" '
                   f'fill="{AREA}" fill-opacity="0.05" stroke="{AREA}" stroke-dasharray="6 4" stroke-width="1.5">'
                   f'<title>area {escape(str(a.get("area")))}: score {_num(a.get("score"))}, loggers '
                   f'{escape(", ".join(members))}</title></polygon>'
                   f'<text x="{_fmt(lx)}" y="{_fmt(ly - 4)}" fill="{AREA}" text-anchor="middle" font-weight="bold">'
                   f'{escape(str(a.get("area")))}</text></g>')
    return out


def _line_layer(fr: _Frame, network, lines) -> list[str]:
    """Halos along the pipes of the most suspect runs."""
    out = []
    for ln in lines:
        for pid in ln.get("pipe_ids") or []:
            p = network.pipes.get(pid)
            if p is None:
                continue
            out.append(f'<polyline class="line-suspect" data-pipe-id="{escape(pid)}" points="{fr.pts(p.coords)}" '
                       f'fill="none" stroke="{LINE_HALO}" stroke-opacity="0.55" stroke-width="10" '
                       f'stroke-linecap="round"><title>line {escape(str(ln.get("from_logger")))} - '
                       f'{escape(str(ln.get("to_logger")))}: score {_num(ln.get("score"))}</title></polyline>')
    return out


def _pipe_layer(fr: _Frame, network, box, pipe_classes: dict | None) -> list[str]:
    """Pipes coloured by material (or by ``pipe_classes``); only those crossing ``box`` when given."""
    out = []
    for p in network.pipes.values():
        if box is not None and not _intersects(p.coords, box):
            continue
        colour = MATERIAL_COLOURS.get(p.material, "#555")
        w = float(np.clip(1.0 + p.diameter_mm / 75.0, 1.5, 5.0))
        extra, cls_title = "", ""
        if pipe_classes is not None:
            colour, label = pipe_classes.get(p.pipe_id, ("#bdbdbd", "not graded"))
            w = max(w, 3.5)
            extra = f' data-class="{escape(str(label))}"'
            cls_title = f"; {escape(str(label))}"
        dash = ' stroke-dasharray="3 2"' if p.kind != "pipe" else ""
        out.append(f'<polyline class="pipe" data-pipe-id="{escape(p.pipe_id)}"{extra} points="{fr.pts(p.coords)}" '
                   f'fill="none" stroke="{colour}" stroke-width="{w:.1f}" stroke-linecap="round"{dash}>'
                   f'<title>pipe {escape(p.pipe_id)} ({escape(p.kind)}): {escape(p.material)}, '
                   f'{p.diameter_mm:g} mm, {p.length_m:.1f} m, {escape(p.start_node)} to {escape(p.end_node)}'
                   f'{cls_title}</title></polyline>')
    return out


def _node_layer(fr: _Frame, network, box, node_label: dict, unit: str) -> list[str]:
    """The nodes pipes end at, with the labels that found room."""
    out = []
    used = _used_nodes(network)
    for n, (x, y) in network.node_coords.items():
        if n not in used or not _in_box((x, y), box):
            continue
        px, py = fr(x, y)
        out.append(f'<circle class="node" data-node-id="{escape(n)}" cx="{_fmt(px)}" cy="{_fmt(py)}" r="2" '
                   f'fill="#333"><title>node {escape(n)} ({x:.6g}, {y:.6g}){" " + unit if unit else ""}</title></circle>')
        at = node_label.get(n)
        if at is not None:
            out.append(f'<text class="node-label" x="{_fmt(at[0])}" y="{_fmt(at[1])}" text-anchor="{at[2]}" '
                       f'fill="#555" font-size="9">{escape(n)}</text>')
    return out


def _noise_layer(fr: _Frame, network, noise_sources) -> list[str]:
    """Points explained by known equipment: grey diamonds."""
    out = []
    for s in noise_sources:
        p = network.pipes.get(s.get("pipe_id"))
        if p is None:
            continue
        px, py = fr(*p.point_at(float(s["offset_m"])))
        out.append(f'<rect class="noise-source" x="{_fmt(px - 5)}" y="{_fmt(py - 5)}" width="10" height="10" '
                   f'fill="#fff" stroke="#636363" stroke-width="2" transform="rotate(45 {_fmt(px)} {_fmt(py)})">'
                   f'<title>noise source, not a leak: {escape(str(s.get("explained_by", "")))}</title></rect>')
    return out


def _interval_layer(fr: _Frame, network, points, highlight: int | None) -> list[str]:
    """Each suspect's 95 % interval as a band along its pipe (m from the start node)."""
    out = []
    for i, pt in enumerate(points, start=1):
        p = network.pipes.get(pt.get("pipe_id"))
        if p is None:
            continue
        lo, hi = (_on_pipe(v, p) for v in pt["interval_m"])
        width = 9 if highlight in (None, i) else 6
        out.append(f'<polyline class="suspect-interval" data-suspect="{i}" points="{fr.pts(p.polyline(lo, hi))}" '
                   f'fill="none" stroke="{SUSPECT}" stroke-opacity="0.55" stroke-width="{width}" stroke-linecap="butt">'
                   f'<title>suspect {i}: 95 % interval {lo:.1f} - {hi:.1f} m from {escape(p.start_node)} '
                   f'on pipe {escape(p.pipe_id)}</title></polyline>')
    return out


def _logger_layer(fr: _Frame, sites: dict, lxy_in: dict, logger_label: dict, scores: dict) -> list[str]:
    """Loggers coloured by score (alarms outlined), with their labels."""
    out = []
    for lid, s in sites.items():
        if lid not in lxy_in:
            continue
        px, py = fr(*lxy_in[lid])
        at = logger_label.get(lid)
        label = ("" if at is None else f'<text x="{_fmt(at[0])}" y="{_fmt(at[1])}" text-anchor="{at[2]}" '
                 f'font-weight="bold" fill="#222">{escape(lid)}</text>')
        sc = scores.get(lid) or {}
        score = sc.get("score")
        alarm = bool(sc.get("alarm"))
        stroke = ' stroke="#000" stroke-width="2.5"' if alarm else ' stroke="#333" stroke-width="1"'
        reasons = "; ".join(str(r) for r in (sc.get("reasons") or [])[:3])
        out.append(f'<g class="logger" data-logger-id="{escape(lid)}" data-score="{_num(score)}">'
                   f'<circle cx="{_fmt(px)}" cy="{_fmt(py)}" r="7" fill="{score_colour(score)}"{stroke}>'
                   f'<title>logger {escape(lid)} ({escape(s.sensor_kind)}): score {_num(score)}'
                   f'{" ALARM" if alarm else ""}{(": " + escape(reasons)) if reasons else ""}</title></circle>'
                   f'{label}</g>')
    return out


def _suspect_layer(fr: _Frame, network, points, highlight: int | None) -> list[str]:
    """Numbered suspect markers (1, 2, ... in the order given)."""
    out = []
    for i, pt in enumerate(points, start=1):
        p = network.pipes.get(pt.get("pipe_id"))
        if p is None:
            continue
        px, py = fr(*p.point_at(_on_pipe(pt["offset_m"], p)))
        r = 8 if highlight in (None, i) else 6
        out.append(f'<g class="suspect" data-suspect="{i}" data-pipe-id="{escape(p.pipe_id)}">'
                   f'<circle cx="{_fmt(px)}" cy="{_fmt(py)}" r="{r}" fill="{SUSPECT}" stroke="#fff" stroke-width="1.5">'
                   f'<title>suspect {i}: pipe {escape(p.pipe_id)} at {float(pt["offset_m"]):.1f} m from '
                   f'{escape(p.start_node)}, confidence {_num(pt.get("confidence"))}</title></circle>'
                   f'<text x="{_fmt(px)}" y="{_fmt(py + 3.5)}" fill="#fff" font-size="10" font-weight="bold" '
                   f'text-anchor="middle">{i}</text></g>')
    return out


def _on_pipe(v, pipe) -> float:
    """A position (m from the start node) drawn on the pipe: clamped to its ends."""
    return max(0.0, min(float(v), float(pipe.length_m)))


def _num(v) -> str:
    if v is None or not isinstance(v, (int, float)) or not math.isfinite(v):
        return "n/a"
    return f"{float(v):.2f}"


def _axes(fr: _Frame, caption: str = "m, network coordinates") -> list[str]:
    """Tick labels in network coordinates along the bottom and left of the frame."""
    out = ['<g class="axes" fill="#555" font-size="9">']
    bottom = fr.top + fr.inner_h
    step = nice_step(fr.x1 - fr.x0, 6)
    v = math.ceil(fr.x0 / step) * step
    while v <= fr.x1 + 1e-9:
        px, _ = fr(v, fr.y0)
        out.append(f'<line x1="{_fmt(px)}" y1="{_fmt(bottom)}" x2="{_fmt(px)}" y2="{_fmt(bottom + 4)}" stroke="#999"/>'
                   f'<text x="{_fmt(px)}" y="{_fmt(bottom + 14)}" text-anchor="middle">{_tick(v, step)}</text>')
        v += step
    step_y = nice_step(fr.y1 - fr.y0, 6)
    v = math.ceil(fr.y0 / step_y) * step_y
    while v <= fr.y1 + 1e-9:
        _, py = fr(fr.x0, v)
        out.append(f'<line x1="{_fmt(fr.left - 4)}" y1="{_fmt(py)}" x2="{_fmt(fr.left)}" y2="{_fmt(py)}" stroke="#999"/>'
                   f'<text x="{_fmt(fr.left - 6)}" y="{_fmt(py + 3)}" text-anchor="end">{_tick(v, step_y)}</text>')
        v += step_y
    out.append(f'<text x="{_fmt(fr.left + fr.inner_w / 2)}" y="{_fmt(bottom + 27)}" text-anchor="middle">'
               f'x ({escape(caption)})</text>')
    out.append(f'<text x="12" y="{_fmt(fr.top + fr.inner_h / 2)}" text-anchor="middle" '
               f'transform="rotate(-90 12 {_fmt(fr.top + fr.inner_h / 2)})">y ({escape(caption)})</text>')
    out.append("</g>")
    return out


def _tick(v: float, step: float) -> str:
    """A tick value with as many decimals as its step needs (no 0.30000000000000004)."""
    nd = max(0, -int(math.floor(math.log10(step)))) if step > 0 else 0
    return f"{round(v, nd):.{nd}f}"


def _scale_bar(fr: _Frame, px_per_m: float) -> list[str]:
    """A scale bar in true metres (``px_per_m`` pixels per metre on the ground)."""
    length_m = nice_step(fr.inner_w / px_per_m, 5)
    length_px = length_m * px_per_m
    x = fr.left + 12
    y = fr.top + fr.inner_h - 14
    half = length_px / 2
    return [f'<g class="scale-bar" data-length-m="{length_m:g}">'
            f'<rect x="{_fmt(x - 4)}" y="{_fmt(y - 16)}" width="{_fmt(length_px + 8)}" height="24" fill="#fff" '
            f'fill-opacity="0.8"/>'
            f'<rect x="{_fmt(x)}" y="{_fmt(y)}" width="{_fmt(half)}" height="5" fill="#222"/>'
            f'<rect x="{_fmt(x + half)}" y="{_fmt(y)}" width="{_fmt(half)}" height="5" fill="#fff" stroke="#222"/>'
            f'<text x="{_fmt(x)}" y="{_fmt(y - 4)}" font-size="10">0</text>'
            f'<text x="{_fmt(x + length_px)}" y="{_fmt(y - 4)}" font-size="10" text-anchor="end">{length_m:g} m</text>'
            f'</g>']


def _north(fr: _Frame) -> list[str]:
    x = fr.left + fr.inner_w - 20
    y = fr.top + 12
    return [f'<g class="north-arrow"><polygon points="{_fmt(x)},{_fmt(y)} {_fmt(x - 6)},{_fmt(y + 18)} '
            f'{_fmt(x)},{_fmt(y + 13)} {_fmt(x + 6)},{_fmt(y + 18)}" fill="#222"/>'
            f'<text x="{_fmt(x)}" y="{_fmt(y + 30)}" text-anchor="middle" font-weight="bold">N</text>'
            f'<title>north = +y of the network coordinates</title></g>']


def _legend(fr: _Frame, network, has_points: bool, has_noise: bool, has_areas: bool, has_lines: bool,
            class_legend=None) -> list[str]:
    y = fr.top + fr.inner_h + 42
    x = fr.left
    out = [f'<g class="legend" font-size="10" transform="translate({_fmt(x)},{_fmt(y)})">']
    # score ramp
    out.append('<text x="0" y="10">logger score (0-1)</text>')
    n = 10
    for i in range(n):
        out.append(f'<rect x="{i * 14}" y="16" width="14" height="10" fill="{score_colour(i / (n - 1))}"/>')
    out.append(f'<text x="0" y="38">0</text><text x="{n * 14}" y="38" text-anchor="end">1</text>')
    out.append(f'<circle cx="{n * 14 + 16}" cy="21" r="5" fill="{NO_SCORE}" stroke="#333"/>'
               f'<text x="{n * 14 + 24}" y="25">no score</text>')
    out.append(f'<circle cx="{n * 14 + 16}" cy="36" r="5" fill="#fff" stroke="#000" stroke-width="2.5"/>'
               f'<text x="{n * 14 + 24}" y="40">alarm</text>')
    # materials present (or the pipe classes drawn)
    entries = (list(class_legend) if class_legend is not None else
               [(MATERIAL_COLOURS.get(m, "#555"), m) for m in sorted({p.material for p in network.pipes.values()})])
    mats = [label for _, label in entries]
    cx = 250
    out.append(f'<text x="{cx}" y="10">{"pipe grade" if class_legend is not None else "pipe material"}</text>')
    col_w = 30 + 6 * max((len(m) for m in mats), default=4)  # about 6 px per character at 10 px
    for j, (colour, m) in enumerate(entries):
        col, row = divmod(j, 4)
        xx, yy = cx + col * col_w, 22 + row * 12
        out.append(f'<line x1="{xx}" y1="{yy - 3}" x2="{xx + 18}" y2="{yy - 3}" stroke="{colour}" '
                   f'stroke-width="3"/><text x="{xx + 22}" y="{yy}">{escape(m)}</text>')
    cx = 250 + col_w * ((len(mats) + 3) // 4) + 10
    row = 0
    items = []
    if has_points:
        items.append(f'<circle cx="{cx + 6}" cy="__Y__" r="6" fill="{SUSPECT}"/><line x1="{cx + 16}" y1="__Y__" '
                     f'x2="{cx + 34}" y2="__Y__" stroke="{SUSPECT}" stroke-opacity="0.55" stroke-width="7"/>'
                     f'<text x="{cx + 40}" y="__T__">suspect point, 95 % interval</text>')
    if has_lines:
        items.append(f'<line x1="{cx}" y1="__Y__" x2="{cx + 34}" y2="__Y__" stroke="{LINE_HALO}" stroke-opacity="0.55" '
                     f'stroke-width="8"/><text x="{cx + 40}" y="__T__">suspect line (pipe run)</text>')
    if has_areas:
        items.append(f'<line x1="{cx}" y1="__Y__" x2="{cx + 34}" y2="__Y__" stroke="{AREA}" stroke-dasharray="6 4" '
                     f'stroke-width="1.5"/><text x="{cx + 40}" y="__T__">area</text>')
    if has_noise:
        items.append(f'<rect x="{cx + 2}" y="__R__" width="8" height="8" fill="#fff" stroke="#636363" '
                     f'stroke-width="2"/><text x="{cx + 40}" y="__T__">known noise source</text>')
    for it in items:
        yy = 8 + row * 14
        out.append(it.replace("__Y__", str(yy)).replace("__T__", str(yy + 4)).replace("__R__", str(yy - 4)))
        row += 1
    out.append("</g>")
    return out
