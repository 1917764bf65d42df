"""The coordinate system of a network's coordinates: longitude/latitude and true metres.

A network model's coordinates (EPANET ``[COORDINATES]``, a GeoJSON network's geometry) are in
whatever system the utility drew it in: a projected grid in metres or feet, degrees of
longitude and latitude, or a schematic with no unit at all (EPANET's example network 3).  The
coordinate system comes from ``--crs EPSG:xxxx`` (any text pyproj understands) or from the
``crs`` member of a GeoJSON network (the 2008 GeoJSON form GIS tools still write).

- With it and pyproj (the optional ``geo`` extra), every point gets longitude and latitude
  (WGS 84) and GeoJSON is written as RFC 7946 requires (longitude, latitude).
- Without pyproj, or without a coordinate system, coordinates stay the network's own, and the
  outputs say so.
- The map's scale bar needs true metres per coordinate unit: for a known projected system, the
  ground distance of a unit step at the network (geodesic, with pyproj: a projection is true to
  scale only near its standard lines, Web Mercator is 1.6 times too long at 51 degrees), else the
  system's unit; for degrees, the metres of a degree at the network's latitude; checked against
  the pipes' lengths.  Without a system the scale is estimated from the pipes themselves (pipe
  length in m over drawn length), which works for any drawing drawn to scale.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from pathlib import Path

import numpy as np

from .._errors import AcousticWarning, DataError, ParameterError

__all__ = ["CoordinateSystem", "MapScale", "coordinate_system", "coordinate_system_for", "geojson_crs_name",
           "map_scale", "check_network_crs", "have_pyproj", "LONLAT_DECIMALS", "SCALE_MISMATCH"]

#: Decimal places of longitude and latitude written (1e-7 degree is about 1 cm).
LONLAT_DECIMALS = 7
#: A coordinate system whose scale disagrees with the pipes' own lengths by more than this factor
#: (median over pipes, either way) is reported as probably wrong for the network.  Chosen, not
#: tuned: wide enough for pipes drawn as straight chords of bent mains (a drawing's pipes are
#: shorter than the mains; the sample district, drawn to scale, has a median of 1.00), narrow
#: enough to catch a foot/metre confusion (3.28) or Web Mercator read as metres at high latitude.
SCALE_MISMATCH = 1.5
#: Mean radius of the Earth (m), for degrees -> metres when pyproj's geodesic is not available.
EARTH_RADIUS_M = 6_371_008.8


def _warn(msg: str) -> None:
    warnings.warn(msg, AcousticWarning, stacklevel=3)


def have_pyproj() -> bool:
    try:
        import pyproj  # noqa: F401
    except ImportError:
        return False
    return True


@dataclasses.dataclass
class CoordinateSystem:
    """A network's coordinate system (or the knowledge that it is unknown).

    Attributes
    ----------
    crs : str or None
        As given (``EPSG:27700``), None when unknown.
    source : str
        Where it came from: ``--crs``, the GeoJSON file's ``crs`` member, or ``unknown``.
    name : str or None
        Its name (pyproj), e.g. ``OSGB36 / British National Grid``.
    unit : str or None
        Unit of the coordinates (``metre``, ``US survey foot``, ``degree``), None when unknown.
    unit_m : float or None
        Metres per coordinate unit of a projected system.
    geographic : bool
        Coordinates are longitude (x) and latitude (y) in degrees.
    """

    crs: str | None = None
    source: str = "unknown"
    name: str | None = None
    unit: str | None = None
    unit_m: float | None = None
    geographic: bool = False
    _transformer: object = dataclasses.field(default=None, repr=False)
    why_not: str | None = None

    @property
    def known(self) -> bool:
        return self.crs is not None

    @property
    def can_lonlat(self) -> bool:
        """Longitude and latitude can be given (a known system and pyproj, or degrees already)."""
        return self._transformer is not None

    def to_lonlat(self, x, y):
        """Longitude and latitude (degrees, WGS 84) of network coordinates (scalars or arrays).

        Raises
        ------
        DataError
            Not :attr:`can_lonlat`, or the coordinates do not transform to valid positions.
        """
        if self._transformer is None:
            raise DataError(f"no longitude/latitude: {self.why_not or 'coordinate system unknown'}")
        lon, lat = self._transformer(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
        lon, lat = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
        if not (np.all(np.isfinite(lon)) and np.all(np.isfinite(lat)) and np.all(np.abs(lat) <= 90.0)
                and np.all(np.abs(lon) <= 180.0)):
            raise DataError(f"network coordinates do not transform from {self.crs} to longitude/latitude "
                            "(outside the system's area?)")
        if lon.ndim == 0:
            return float(lon), float(lat)
        return lon, lat

    def lonlat_or_none(self, x, y):
        """``(lon, lat)`` rounded to :data:`LONLAT_DECIMALS`, or None when not possible."""
        if not self.can_lonlat or x is None or y is None:
            return None
        try:
            lon, lat = self.to_lonlat(float(x), float(y))
        except (DataError, TypeError, ValueError):
            return None
        return round(lon, LONLAT_DECIMALS), round(lat, LONLAT_DECIMALS)

    def describe(self) -> str:
        if not self.known:
            return "network coordinates (coordinate system unknown)"
        text = self.crs + (f" ({self.name})" if self.name and self.name != self.crs else "")
        return text + (f", unit {self.unit}" if self.unit else "")

    def to_json(self) -> dict:
        return {"crs": self.crs, "source": self.source, "name": self.name, "unit": self.unit,
                "unit_m": self.unit_m, "geographic": self.geographic, "lonlat": self.can_lonlat,
                "why_no_lonlat": None if self.can_lonlat else (self.why_not or "coordinate system unknown")}


def _identity_lonlat(x, y):
    return x, y


def coordinate_system(crs_text: str | None = None, *, source: str = "--crs") -> CoordinateSystem:
    """A :class:`CoordinateSystem` from a user's text (``EPSG:27700``, a URN, WKT, PROJ string).

    Without pyproj, only ``EPSG:4326`` / ``OGC:CRS84`` (degrees) are understood; any other system
    is kept by name with a warning that no longitude/latitude can be given.

    Raises
    ------
    ParameterError
        Text that is not a coordinate system (named after ``source``).
    """
    if crs_text is None:
        return CoordinateSystem(why_not="coordinate system unknown (give --crs EPSG:xxxx)")
    text = str(crs_text).strip()
    if not text or len(text) > 20000:
        raise ParameterError(f"{source} {crs_text!r}: not a coordinate system (e.g. EPSG:27700)")
    try:
        import pyproj
    except ImportError:
        norm = text.upper().replace("URN:OGC:DEF:CRS:", "").replace("::", ":")
        if norm in ("EPSG:4326", "OGC:1.3:CRS84", "OGC:CRS84", "CRS84"):
            return CoordinateSystem(text, source, "WGS 84", "degree", None, True, _identity_lonlat)
        _warn(f"{source} {text}: pyproj is not installed (pip install 'acoustic[geo]'), so the coordinates cannot "
              "be turned into longitude/latitude; outputs stay in the network's coordinates")
        return CoordinateSystem(text, source, None, None, None, False, None,
                                why_not="pyproj is not installed (pip install 'acoustic[geo]')")
    try:
        crs = pyproj.CRS.from_user_input(text)
    except pyproj.exceptions.CRSError as exc:
        raise ParameterError(f"{source} {text}: not a coordinate system pyproj knows ({exc})") from None
    if not (crs.is_projected or crs.is_geographic):
        raise ParameterError(f"{source} {text}: {crs.name} is neither a projected nor a geographic 2-D system")
    axis = crs.axis_info[0] if crs.axis_info else None
    unit = axis.unit_name if axis else None
    unit_m = float(axis.unit_conversion_factor) if (axis and crs.is_projected) else None
    transformer = pyproj.Transformer.from_crs(crs, "OGC:CRS84", always_xy=True)
    return CoordinateSystem(text, source, crs.name, unit, unit_m, bool(crs.is_geographic), transformer.transform)


def geojson_crs_name(obj) -> str | None:
    """The coordinate system named by a GeoJSON object's ``crs`` member (GeoJSON 2008:
    ``{"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::27700"}}``), or None."""
    if not isinstance(obj, dict):
        return None
    crs = obj.get("crs")
    if isinstance(crs, str):
        return crs
    if isinstance(crs, dict) and isinstance(crs.get("properties"), dict):
        name = crs["properties"].get("name")
        if isinstance(name, str) and name.strip():
            return name.strip()
    return None


def coordinate_system_for(crs_text: str | None, survey_dir=None) -> CoordinateSystem:
    """The coordinate system of a survey folder's network: ``--crs`` when given, else the ``crs``
    member of its ``network.geojson``, else unknown."""
    if crs_text:
        return coordinate_system(crs_text, source="--crs")
    if survey_dir is not None:
        geo = Path(survey_dir) / "network.geojson"
        if geo.is_file() and not (Path(survey_dir) / "network.inp").is_file():
            name = _read_crs_member(geo)
            if name:
                return coordinate_system(name, source=f"{geo} crs")
    return coordinate_system(None)


def _read_crs_member(path: Path) -> str | None:
    from .._errors import AcousticError
    from ..io import read_json_file

    try:
        obj = read_json_file(path, what="network GeoJSON")
    except (AcousticError, OSError):
        return None  # the network reader reports a broken file
    return geojson_crs_name(obj)


@dataclasses.dataclass(frozen=True)
class MapScale:
    """True metres per network coordinate unit, for the map's scale bar.

    Attributes
    ----------
    metres_per_unit : float
        Along y (north); along x it is ``metres_per_unit * x_factor``.
    x_factor : float
        1 for projected and unknown systems; cos(latitude) for longitude/latitude, where the
        map is drawn with x shrunk by that factor so shapes keep their proportions.
    how : str
        Where the scale comes from (shown under the map).
    pipes_ratio : float or None
        Median of (pipe length in m / drawn length in m under this scale): 1 when the drawing
        agrees with the pipes' lengths.
    """

    metres_per_unit: float
    x_factor: float
    how: str
    pipes_ratio: float | None


def _pipe_ratios(network, unit_m_x: float, unit_m_y: float) -> np.ndarray:
    out = []
    for p in network.pipes.values():
        d = np.diff(np.asarray(p.coords, dtype=np.float64), axis=0)
        drawn = float(np.hypot(d[:, 0] * unit_m_x, d[:, 1] * unit_m_y).sum())
        if drawn > 0 and p.kind == "pipe" and p.length_m > 0:
            out.append(p.length_m / drawn)
    return np.asarray(out, dtype=np.float64)


def map_scale(network, cs: CoordinateSystem | None = None) -> MapScale:
    """True metres per coordinate unit of a network's drawing (module docs).

    Parameters
    ----------
    network : acoustic.network.PipeNetwork
    cs : CoordinateSystem, optional

    Returns
    -------
    MapScale
    """
    cs = cs or CoordinateSystem()
    if cs.known and cs.geographic:
        ys = [c[1] for c in network.node_coords.values()]
        lat = float(np.clip(np.mean(ys), -89.0, 89.0)) if ys else 0.0
        m_per_deg = math.radians(1.0) * EARTH_RADIUS_M
        x_factor = math.cos(math.radians(lat))
        ratios = _pipe_ratios(network, m_per_deg * x_factor, m_per_deg)
        r = float(np.median(ratios)) if ratios.size else None
        _check_ratio(r, cs)
        return MapScale(m_per_deg, x_factor, f"{cs.describe()}: degrees at latitude {lat:.3f}", r)
    if cs.known and cs.unit_m:
        ground = _ground_metres_per_unit(network, cs)
        if ground is not None:
            sx, sy = ground
            how = f"{cs.describe()}; {sy:.4g} m on the ground per unit at the network (the projection's scale there)"
        else:
            sx = sy = cs.unit_m
            how = f"{cs.describe()}"
        ratios = _pipe_ratios(network, sx, sy)
        r = float(np.median(ratios)) if ratios.size else None
        _check_ratio(r, cs)
        return MapScale(sy, sx / sy, how, r)
    ratios = _pipe_ratios(network, 1.0, 1.0)
    if not ratios.size:
        return MapScale(1.0, 1.0, "network coordinates taken as metres (no pipe to measure the drawing by)", None)
    scale = float(np.median(ratios))
    lo, hi = np.quantile(ratios, [0.1, 0.9]) / scale
    spread = max(1.0 - lo, hi - 1.0)
    how = (f"scale from the pipes' lengths: 1 network unit = {scale:.4g} m (median over {ratios.size} pipes"
           + (f"; the drawing is schematic, pipes vary by up to {100 * spread:.0f} % from it" if spread > 0.1 else "")
           + "; coordinate system unknown)")
    return MapScale(scale, 1.0, how, 1.0)


def _ground_metres_per_unit(network, cs: CoordinateSystem) -> tuple[float, float] | None:
    """Metres on the ground per coordinate unit along x and y at the centre of the network's
    drawing (geodesic distance on the WGS 84 ellipsoid of a short step there), or None without
    pyproj or a transformation.

    A projection keeps true scale only near its standard lines: Web Mercator (EPSG:3857) stretches
    by 1/cos(latitude), 1.6 times at 51 degrees; national grids stay within about 0.1 %.
    """
    if not cs.can_lonlat or cs.geographic or not network.node_coords:
        return None
    try:
        from pyproj import Geod
    except ImportError:
        return None
    xy = np.array(list(network.node_coords.values()), dtype=np.float64)
    cx, cy = (xy.min(axis=0) + xy.max(axis=0)) / 2.0
    step = max(float(np.ptp(xy[:, 0])), float(np.ptp(xy[:, 1])), 1.0) / 100.0
    geod = Geod(ellps="WGS84")
    out = []
    for dx, dy in ((step, 0.0), (0.0, step)):
        try:
            lon, lat = cs.to_lonlat(np.array([cx - dx / 2, cx + dx / 2]), np.array([cy - dy / 2, cy + dy / 2]))
        except DataError:
            return None
        out.append(float(geod.inv(lon[0], lat[0], lon[1], lat[1])[2]) / step)
    if not all(math.isfinite(v) and v > 0 for v in out):
        return None
    return out[0], out[1]


def check_network_crs(network, cs: CoordinateSystem) -> MapScale:
    """Check a coordinate system against a network: its coordinates must be positions in it
    (:class:`~acoustic.ParameterError` naming where the system came from), and its scale should
    agree with the pipes' lengths (a warning otherwise).  Returns the map scale."""
    if cs.known and cs.can_lonlat and network.node_coords:
        xy = np.array(list(network.node_coords.values()), dtype=np.float64)
        try:
            cs.to_lonlat(xy[:, 0], xy[:, 1])
        except DataError as exc:
            raise ParameterError(f"{cs.source} {cs.crs}: the network's coordinates are not positions in it ({exc})"
                                 ) from None
    return map_scale(network, cs)


def _check_ratio(r: float | None, cs: CoordinateSystem) -> None:
    if r is not None and not (1.0 / SCALE_MISMATCH <= r <= SCALE_MISMATCH):
        _warn(f"the network's coordinates do not look like {cs.crs}: its pipes are {r:.3g} times longer than "
              "they are drawn in that system (wrong --crs, or a schematic drawing)")
