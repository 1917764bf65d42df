"""Pipe acoustics: materials, the fluid-borne wave's wavenumber, segments and paths.

The wave model holds below each segment's validity limit (a third of its ring frequency, or lower
where the soil-loaded wall nears resonance); speeds over bands that reach beyond it are taken
over the band's valid part, with a warning and a wider uncertainty (``_validity``).
"""

from ._materials import MATERIALS, WATER, Fluid, Material, get_material, material_names
from ._path import (
    DEFAULT_BAND_HZ, MAX_DIAMETER_TO_WALL, MAX_PIPE_LENGTH_M, MAX_WAVE_SPEED_M_S, MIN_DIAMETER_TO_WALL,
    MIN_WAVE_SPEED_M_S, SOILS,
    BandValidity, PipePath, PipeSegment, SegmentProperties, Soil, thinnest_wall_mm,
)
from ._wavenumber import (
    attenuation_db_per_m, buried_wavenumber, phase_speed, quasi_static_speed, ring_frequency_hz, wavenumber,
)

__all__ = [
    "MATERIALS", "WATER", "Fluid", "Material", "get_material", "material_names",
    "DEFAULT_BAND_HZ", "MAX_DIAMETER_TO_WALL", "MAX_PIPE_LENGTH_M", "MAX_WAVE_SPEED_M_S", "MIN_DIAMETER_TO_WALL",
    "MIN_WAVE_SPEED_M_S", "SOILS",
    "BandValidity", "PipePath", "PipeSegment", "SegmentProperties", "Soil", "thinnest_wall_mm",
    "attenuation_db_per_m", "buried_wavenumber", "phase_speed", "quasi_static_speed", "ring_frequency_hz",
    "wavenumber",
]
