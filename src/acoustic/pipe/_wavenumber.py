"""Complex wavenumber of the fluid-borne (n=0, s=1) wave (``physics.md`` sections 1.2-1.3).

In vacuo (Pinnington & Briscoe 1994; Muggleton, Brennan & Pinnington 2002; Gao et al. 2004)::

    k^2 = k_f^2 (1 + K_w / K_p),   K_w = 2B/a,   K_p = E(1 + i eta) h / a^2 - rho_p h omega^2

with a the mean radius and h the wall.  Waves travel as exp(-i k x), so ``Im k < 0``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["wavenumber", "quasi_static_speed", "attenuation_db_per_m", "phase_speed", "ring_frequency_hz",
           "buried_wavenumber"]

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


def ring_frequency_hz(*, youngs_modulus_pa, poisson, wall_density_kg_m3, mean_radius_m):
    """Ring frequency of the pipe wall in Hz: ``f_ring = sqrt(E / (rho_p (1 - nu^2))) / (2 pi a)``.

    The frequency at which a longitudinal wave in the wall travels once round its mean
    circumference (``physics.md`` 1.1).  The simple wall model of :func:`wavenumber` (hoop
    stiffness plus wall mass) holds only well below it.

    Parameters
    ----------
    youngs_modulus_pa : float
        Young's modulus E in Pa.
    poisson : float
        Poisson's ratio nu of the wall.
    wall_density_kg_m3 : float
        Wall density rho_p in kg/m^3.
    mean_radius_m : float
        Mean wall radius a in m.

    Returns
    -------
    float
        f_ring in Hz.

    Examples
    --------
    >>> round(ring_frequency_hz(youngs_modulus_pa=2.05e11, poisson=0.29, wall_density_kg_m3=7850.0,
    ...                         mean_radius_m=0.081))
    10492
    """
    plate_speed = np.sqrt(youngs_modulus_pa / (wall_density_kg_m3 * (1.0 - poisson**2)))
    return float(plate_speed / (2.0 * np.pi * mean_radius_m))


def _radial_root(k2):
    """Radial wavenumber sqrt(k2) of a soil wave, on the branch the radiation condition picks.

    Where the soil wave radiates (``|Re| >= |Im|`` of the root: the pipe wave is faster than the
    soil wave) the outgoing root, ``Re >= 0``; otherwise (an evanescent near field) the root that
    decays away from the pipe, ``Im <= 0`` (``physics.md`` 1.3).  Either way the root squares to
    ``k2``.
    """
    r = np.sqrt(np.asarray(k2, dtype=np.complex128))
    radiating = np.abs(r.real) >= np.abs(r.imag)
    out = np.where(radiating, np.where(r.real < 0, -r, r), np.where(r.imag > 0, -r, r))
    return out


#: A frequency at which the buried model's fixed-point iteration still moves k by more than this
#: (relative) in its last step has found no solution.  Seen on a grid of every material, diameter,
#: extreme wall and soil preset (tests/test_pipe.py) only near a validity limit or beyond it, where
#: the pipe wave nears the soil's dilatational speed and the radial root flips branch.  Slow but
#: converging frequencies step by 1e-10 or less.
UNSOLVED_REL_STEP = 1e-6


def _dilatational_stiffness(freq_w, kdr, mean_radius_m, soil_density_kg_m3, *, passive=False):
    """Radial stiffness per unit area (Pa/m) of the soil's dilatational field round the pipe.

    ``rho_s omega^2 H0(k_dr a) / (-k_dr H0'(k_dr a))`` with ``H0' = -H1``.  A radiating field draws
    energy from the wall: ``Im > 0``, the sign of the wall's own loss ``E eta h / a^2``.  An evanescent
    field is a mass in the lossless limit; continued to the complex wavenumber of a decaying pipe
    wave its imaginary part may be negative (the soil's near field hands back to the pipe the energy
    it carries along with the wave), and a solution of the whole system still decays.  ``passive``
    keeps only the non-negative part, which makes every iterate decay (used only where the iteration
    finds no solution, :func:`solve_buried`).
    """
    from scipy.special import hankel2

    z = kdr * mean_radius_m
    k_dil = soil_density_kg_m3 * freq_w**2 * hankel2(0, z) / (-kdr * hankel2(1, z))
    if passive:
        k_dil = k_dil.real + 1j * np.maximum(k_dil.imag, 0.0)
    return k_dil


def _iterate_buried(k, kf, k_w, k_p, kd, shear_stiffness, w, a, soil_density_kg_m3, max_iter, passive):
    """Damped fixed-point iteration of ``k^2 = k_f^2 [1 + K_w / (K_p + K_soil(k))]`` from ``k``.

    Returns k and the relative size of each frequency's last step.
    """
    step = np.zeros(np.shape(k))
    for _ in range(max_iter):
        kdr = _radial_root(kd**2 - k**2)
        k_soil = _dilatational_stiffness(w, kdr, a, soil_density_kg_m3, passive=passive) + shear_stiffness
        k_new = kf * np.sqrt(1.0 + k_w / (k_p + k_soil))
        k_new = np.where(k_new.real < 0, -k_new, k_new)
        step = np.abs(k_new - k) / np.abs(k)
        done = np.max(step) < 1e-10
        k = 0.5 * (k + k_new)
        if done:
            break
    return k, step


def solve_buried(freq_hz, *, youngs_modulus_pa, loss_factor, wall_density_kg_m3, mean_radius_m, wall_m,
                 soil_dilatational_m_s, soil_shear_m_s, soil_density_kg_m3,
                 fluid_bulk_pa=2.25e9, fluid_density_kg_m3=1000.0, max_iter=300):
    """:func:`buried_wavenumber` and, per frequency, whether the iteration found a solution.

    Returns
    -------
    k : numpy.ndarray of complex
        As :func:`buried_wavenumber`.
    solved : numpy.ndarray of bool
        False where the iteration's last step exceeded :data:`UNSOLVED_REL_STEP` or its k grew
        along the pipe (``Im k > 0``); there k is the decaying iterate of the passive soil term
        instead, not a solution, and no use is made of the wave.
    """
    f = np.maximum(np.asarray(freq_hz, dtype=np.float64), 1e-3)
    w = 2.0 * np.pi * f
    kf = w / np.sqrt(fluid_bulk_pa / fluid_density_kg_m3)
    a, h = mean_radius_m, wall_m
    k_w = 2.0 * fluid_bulk_pa / a
    k_p = youngs_modulus_pa * (1.0 + 1j * loss_factor) * h / a**2 - wall_density_kg_m3 * h * w**2
    k_vacuo = kf * np.sqrt(1.0 + k_w / k_p)
    shear_stiffness = 2.0 * soil_density_kg_m3 * soil_shear_m_s**2 / a
    kd = w / soil_dilatational_m_s
    k, step = _iterate_buried(k_vacuo, kf, k_w, k_p, kd, shear_stiffness, w, a, soil_density_kg_m3, max_iter,
                              passive=False)
    solved = (step <= UNSOLVED_REL_STEP) & (k.imag <= 0.0)
    if not np.all(solved):
        k = np.array(k, dtype=np.complex128, copy=True)
        u = ~solved
        k[u], _ = _iterate_buried(k_vacuo[u], kf[u], k_w, k_p[u], kd[u], shear_stiffness, w[u], a,
                                  soil_density_kg_m3, max_iter, passive=True)
    return k, solved


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
        k with ``Re k >= 0`` and ``Im k <= 0`` at every frequency.  Only the low-frequency branch
        below a segment's validity limit is a wave the program uses (``PipeSegment.validity_limit_hz``);
        where the iteration finds no solution (:func:`solve_buried`) k is a decaying stand-in.

    Examples
    --------
    >>> k = buried_wavenumber([100.0], youngs_modulus_pa=2.0e9, loss_factor=0.06, wall_density_kg_m3=900.0,
    ...                       mean_radius_m=0.0845, wall_m=0.011, soil_dilatational_m_s=200.0,
    ...                       soil_shear_m_s=100.0, soil_density_kg_m3=2000.0)
    >>> round(float(phase_speed(k, [100.0])[0])), round(float(attenuation_db_per_m(k)[0]), 2)
    (371, 0.56)
    """
    return solve_buried(freq_hz, youngs_modulus_pa=youngs_modulus_pa, loss_factor=loss_factor,
                        wall_density_kg_m3=wall_density_kg_m3, mean_radius_m=mean_radius_m, wall_m=wall_m,
                        soil_dilatational_m_s=soil_dilatational_m_s, soil_shear_m_s=soil_shear_m_s,
                        soil_density_kg_m3=soil_density_kg_m3, fluid_bulk_pa=fluid_bulk_pa,
                        fluid_density_kg_m3=fluid_density_kg_m3, max_iter=max_iter)[0]
