"""Complex wavenumber of the fluid-borne (n=0, s=1) wave (``physics.md`` sections 1.2-1.3).

In vacuo (Pinnington & Briscoe 1994; Muggleton, Brennan & Pinnington 2002; Gao et al. 2004)::

    k^2 = k_f^2 (1 + K_w / K_p),   K_w = 2B/a,   K_p = E(1 + i eta) h / a^2 - rho_p h omega^2

with a the mean radius and h the wall.  Waves travel as exp(-i k x), so ``Im k < 0``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["wavenumber", "quasi_static_speed", "attenuation_db_per_m", "phase_speed"]

_DB_PER_NEPER = 20.0 / np.log(10.0)  # 8.686 dB per neper


def wavenumber(freq_hz, *, youngs_modulus_pa, loss_factor, wall_density_kg_m3, mean_radius_m, wall_m,
               fluid_bulk_pa=2.25e9, fluid_density_kg_m3=1000.0):
    """Complex wavenumber k (rad/m) of the fluid-dominated wave at each frequency.

    Parameters
    ----------
    freq_hz : array_like
        Frequencies in Hz (> 0; zero is replaced by a tiny positive value).
    youngs_modulus_pa, loss_factor, wall_density_kg_m3 : float
        Wall Young's modulus (Pa), loss factor (-), density (kg/m^3).
    mean_radius_m, wall_m : float
        Mean wall radius a and wall thickness h in m.
    fluid_bulk_pa, fluid_density_kg_m3 : float
        Fluid bulk modulus (Pa) and density (kg/m^3).

    Returns
    -------
    numpy.ndarray of complex
        k with ``Re k > 0`` and ``Im k <= 0`` (waves ``exp(-i k x)`` decay along x).
    """
    f = np.maximum(np.asarray(freq_hz, dtype=np.float64), 1e-6)
    w = 2.0 * np.pi * f
    kf = w / np.sqrt(fluid_bulk_pa / fluid_density_kg_m3)
    a, h = mean_radius_m, wall_m
    k_w = 2.0 * fluid_bulk_pa / a
    k_p = youngs_modulus_pa * (1.0 + 1j * loss_factor) * h / a**2 - wall_density_kg_m3 * h * w**2
    k = kf * np.sqrt(1.0 + k_w / k_p)
    # choose the decaying root: Re k > 0, Im k <= 0
    k = np.where(k.real < 0, -k, k)
    return k


def phase_speed(k, freq_hz):
    """Phase speed omega / Re(k) in m/s."""
    return 2.0 * np.pi * np.asarray(freq_hz, dtype=np.float64) / np.real(k)


def attenuation_db_per_m(k):
    """Attenuation in dB/m of a wave exp(-i k x): ``-8.686 Im k``."""
    return -_DB_PER_NEPER * np.imag(k)


def quasi_static_speed(*, youngs_modulus_pa, mean_radius_m, wall_m, fluid_bulk_pa=2.25e9,
                       fluid_density_kg_m3=1000.0):
    """Korteweg low-frequency speed c_f / sqrt(1 + 2 B a / (E h)) in m/s."""
    cf = np.sqrt(fluid_bulk_pa / fluid_density_kg_m3)
    alpha = 2.0 * fluid_bulk_pa * mean_radius_m / (youngs_modulus_pa * wall_m)
    return cf / np.sqrt(1.0 + alpha)


def _radial_root(k2):
    """Radial wavenumber sqrt(k2): outgoing (Re > 0) when radiating, else decaying (Im < 0)."""
    r = np.sqrt(np.asarray(k2, dtype=np.complex128))
    radiating = np.abs(r.real) >= np.abs(r.imag)
    out = np.where(radiating, np.where(r.real < 0, -r, r), np.where(r.imag > 0, -r, r))
    return out


def buried_wavenumber(freq_hz, *, youngs_modulus_pa, loss_factor, wall_density_kg_m3, mean_radius_m, wall_m,
                      soil_dilatational_m_s, soil_shear_m_s, soil_density_kg_m3,
                      fluid_bulk_pa=2.25e9, fluid_density_kg_m3=1000.0, max_iter=300):
    """Complex wavenumber (rad/m) of the fluid-borne wave in a pipe buried in soil.

    ``k^2 = k_f^2 [1 + K_w / (K_p + K_soil)]`` solved by damped fixed-point iteration from
    the in-vacuo k.  ``K_soil`` is a simplified radial soil stiffness per unit area: the
    dilatational radiation / mass-loading term of an outgoing cylindrical wave,
    ``rho_s omega^2 H0(k_dr a) / (k_dr H0'(k_dr a))`` with ``k_dr = sqrt(k_d^2 - k^2)``,
    plus the static plane-strain shear stiffness of a cavity, ``2 G / a``.  It omits the
    shear-radiation and coupling terms of Muggleton et al. (2002), yet reproduces the
    sandy-soil rows of ``physics.md`` table 1.7 within about 15 % (stiffer soils less well).

    Parameters
    ----------
    freq_hz : array_like
        Frequencies in Hz.
    soil_dilatational_m_s, soil_shear_m_s : float
        Soil compressional and shear wave speeds c_d, c_s in m/s.
    soil_density_kg_m3 : float
        Soil density in kg/m^3.
    Other parameters as :func:`wavenumber`.

    Returns
    -------
    numpy.ndarray of complex
        k with ``Re k > 0`` and ``Im k <= 0``.
    """
    from scipy.special import hankel2

    f = np.maximum(np.asarray(freq_hz, dtype=np.float64), 1e-3)
    w = 2.0 * np.pi * f
    kf = w / np.sqrt(fluid_bulk_pa / fluid_density_kg_m3)
    a, h = mean_radius_m, wall_m
    k_w = 2.0 * fluid_bulk_pa / a
    k_p = youngs_modulus_pa * (1.0 + 1j * loss_factor) * h / a**2 - wall_density_kg_m3 * h * w**2
    k = kf * np.sqrt(1.0 + k_w / k_p)
    shear_stiffness = 2.0 * soil_density_kg_m3 * soil_shear_m_s**2 / a
    kd = w / soil_dilatational_m_s
    for _ in range(max_iter):
        kdr = _radial_root(kd**2 - k**2)
        z = kdr * a
        k_soil = soil_density_kg_m3 * w**2 * hankel2(0, z) / (-kdr * hankel2(1, z)) + shear_stiffness
        k_new = kf * np.sqrt(1.0 + k_w / (k_p + k_soil))
        k_new = np.where(k_new.real < 0, -k_new, k_new)
        done = np.max(np.abs(k_new - k) / np.abs(k)) < 1e-10
        k = 0.5 * (k + k_new)
        if done:
            break
    return k
