"""Pipe-wall materials and water properties (``physics.md`` section 1.5).

Each entry carries a nominal value and a spread.  Spreads are read as the range in the
sources spanning about +/-2 standard deviations; the simulator draws around the nominal
value with the same spreads, and the correlator's intervals use them.
"""

from __future__ import annotations

import dataclasses

from .._errors import PipeError

__all__ = ["Material", "MATERIALS", "WATER", "Fluid", "get_material", "material_names"]


@dataclasses.dataclass(frozen=True)
class Fluid:
    """Fluid inside the pipe.

    Attributes
    ----------
    bulk_modulus_pa : float
        Bulk modulus B in Pa.
    bulk_modulus_rel_sd : float
        Relative standard deviation of B (temperature, dissolved air).
    density_kg_m3 : float
        Density in kg/m^3.
    """

    bulk_modulus_pa: float = 2.25e9
    bulk_modulus_rel_sd: float = 0.017
    density_kg_m3: float = 1000.0

    @property
    def free_speed_m_s(self) -> float:
        """Free-field sound speed sqrt(B / rho) in m/s."""
        return (self.bulk_modulus_pa / self.density_kg_m3) ** 0.5


#: Water as used in the leak-noise literature (B = 2.25 GPa, c_f = 1500 m/s; Muggleton/Scussel).
WATER = Fluid()


@dataclasses.dataclass(frozen=True)
class Material:
    """Wall material of a pipe.

    Attributes
    ----------
    name : str
        Key used in ``pipe.json``.
    label : str
        Human-readable name.
    youngs_modulus_pa : float
        Nominal dynamic Young's modulus E in Pa.
    youngs_rel_sd : float
        Relative standard deviation of E.
    poisson : float
        Poisson's ratio.
    density_kg_m3 : float
        Wall density in kg/m^3.
    loss_factor : float
        Nominal structural loss factor eta.
    loss_rel_sd : float
        Relative standard deviation of eta.
    wall_rel_sd : float
        Relative standard deviation of the actual wall thickness (tolerance, corrosion, lining).
    metallic : bool
        Metal pipe (different default walls and sensor practice).
    sources : str
        Where the numbers come from.
    """

    name: str
    label: str
    youngs_modulus_pa: float
    youngs_rel_sd: float
    poisson: float
    density_kg_m3: float
    loss_factor: float
    loss_rel_sd: float
    wall_rel_sd: float
    metallic: bool
    sources: str

    def default_wall_mm(self, diameter_mm: float) -> float:
        """Typical wall thickness (mm) for an internal diameter (mm), used when ``wall_mm`` is missing."""
        d = float(diameter_mm)
        if self.name == "pvc":  # SDR 17: OD/h = 17 and OD = ID + 2h
            return d / 15.0
        if self.name == "pe":  # SDR 11
            return d / 9.0
        if self.name == "ductile_iron":  # EN 545 class K9: e = 9 (0.5 + 0.001 DN) mm
            return 9.0 * (0.5 + 0.001 * d)
        if self.name == "cast_iron":  # pit/spun cast, 9-18 mm
            return 9.0 + 0.02 * d
        if self.name == "steel":  # about 4 % of OD
            return 0.04 * d / 0.92
        if self.name == "asbestos_cement":  # about 8 % of OD
            return 0.08 * d / 0.84
        if self.name == "concrete":  # about 10 % of OD
            return 0.10 * d / 0.80
        if self.name == "copper":  # thin service / small mains
            return max(1.0, 0.05 * d)
        raise PipeError(f"no default wall for material {self.name!r}")  # pragma: no cover


_FUJI = "Fuji Tecom LC50 manual p.88 (E)"
MATERIALS: dict[str, Material] = {
    m.name: m
    for m in (
        Material("pvc", "PVC-U", 3.3e9, 0.045, 0.39, 1400.0, 0.065, 0.15, 0.05, False,
                 f"{_FUJI} 3.04 GPa; range 3.0-3.6 GPa [L]; eta 0.065 Lu et al. 2022 Table 1"),
        Material("pe", "MDPE/HDPE", 1.9e9, 0.10, 0.42, 930.0, 0.06, 0.25, 0.05, False,
                 "dynamic E 1.4-2.2 GPa (Muggleton/Scussel 2.0, Graf 2014 2.2); eta 0.06-0.1"),
        Material("cast_iron", "grey cast iron", 1.0e11, 0.10, 0.26, 7200.0, 0.01, 0.5, 0.10, True,
                 f"{_FUJI} 117.7 GPa; range 80-120 GPa [L]; eta 0.005-0.02"),
        Material("ductile_iron", "ductile iron", 1.65e11, 0.03, 0.28, 7075.0, 0.005, 0.6, 0.08, True,
                 f"{_FUJI} 156.9 GPa; 170 GPa [L]; eta 0.001-0.01"),
        Material("steel", "steel", 2.05e11, 0.02, 0.29, 7850.0, 0.005, 0.6, 0.08, True,
                 f"{_FUJI} 205.9-210.8 GPa; eta 0.001-0.01 [L]"),
        Material("asbestos_cement", "asbestos cement", 2.6e10, 0.08, 0.2, 1950.0, 0.02, 0.25, 0.08, False,
                 f"{_FUJI} 23.5 GPa; range 23-32 GPa [L]; eta 0.01-0.03"),
        Material("concrete", "concrete (pressure pipe)", 3.5e10, 0.10, 0.2, 2400.0, 0.02, 0.3, 0.10, False,
                 "E 30-40 GPa, rho 2400, eta ~0.02 [L] (no leak-noise source; treat as approximate)"),
        Material("copper", "copper", 1.2e11, 0.03, 0.34, 8900.0, 0.002, 0.5, 0.05, True,
                 f"{_FUJI} 124.5 GPa; range 117-125 GPa [L]"),
    )
}


def material_names() -> list[str]:
    """Names of the known materials, in table order."""
    return list(MATERIALS)


def get_material(name: str) -> Material:
    """Look up a material by its ``pipe.json`` name (case-insensitive, ``-`` or space for ``_``).

    Raises
    ------
    PipeError
        Unknown material; the message lists the known ones.
    """
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    aliases = {"mdpe": "pe", "hdpe": "pe", "pe100": "pe", "pe80": "pe", "pvc_u": "pvc", "upvc": "pvc",
               "ci": "cast_iron", "di": "ductile_iron", "ac": "asbestos_cement"}
    key = aliases.get(key, key)
    try:
        return MATERIALS[key]
    except KeyError:
        raise PipeError(f"unknown material {name!r}; known: {', '.join(MATERIALS)}") from None
