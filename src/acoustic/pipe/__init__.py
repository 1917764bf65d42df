"""Pipe acoustics: materials, the fluid-borne wave's wavenumber, segments and paths."""

from ._materials import MATERIALS, WATER, Fluid, Material, get_material, material_names
from ._path import (
    DEFAULT_BAND_HZ, MAX_DIAMETER_TO_WALL, MAX_PIPE_LENGTH_M, MAX_WAVE_SPEED_M_S, MIN_DIAMETER_TO_WALL,
    MIN_WAVE_SPEED_M_S, SOILS,
    PipePath, PipeSegment, SegmentProperties, Soil,
)
from ._wavenumber import attenuation_db_per_m, buried_wavenumber, phase_speed, quasi_static_speed, wavenumber

__all__ = [
    "MATERIALS", "WATER", "Fluid", "Material", "get_material", "material_names",
    "DEFAULT_BAND_HZ", "MAX_DIAMETER_TO_WALL", "MAX_PIPE_LENGTH_M", "MAX_WAVE_SPEED_M_S", "MIN_DIAMETER_TO_WALL", "MIN_WAVE_SPEED_M_S", "SOILS",
    "PipePath", "PipeSegment", "SegmentProperties", "Soil",
    "attenuation_db_per_m", "buried_wavenumber", "phase_speed", "quasi_static_speed", "wavenumber",
]
