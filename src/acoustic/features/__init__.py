"""Spectral and stationarity features of recordings (issue 4).

One fused pass per recording (one framing, one STFT) computes a versioned, fixed-length
feature vector with names and units, the same for every sample rate from 1 to 96 kHz:

- calibrated levels: full-band RMS level, analysis-band level and 31 1/3-octave band levels
  (20 Hz - 20 kHz, NaN above 0.45 fs), all in dB re 1 calibrated unit, where the calibrated
  signal is ``samples / 10**(gain_db/20)`` (``Recording.calibrated``).  For a hydrophone
  calibrated in Pa that is dB re 1 Pa (add 120 dB for dB re 1 uPa); for an accelerometer
  calibrated in m/s^2, dB re 1 m/s^2.  Loggers whose gain is unknown give levels that are
  only comparable with themselves;
- spectral shape over the fixed analysis band 20 Hz - min(1800 Hz, 0.45 fs): centroid,
  bandwidth, 85 % roll-off, flatness, 5 contrast bands, 13 MFCCs (32 Slaney mel bands),
  peak frequency, tonal lines (mains 50/60 Hz, pump harmonic combs);
- zero-crossing rate (full band);
- stationarity of the per-frame band levels: L10, L50, L90, L95, mode, spread = L10 - L90,
  standard deviation, skewness, excess kurtosis; excess kurtosis of the samples.

Level-invariant "shape" features for the leak classifier (band energies relative to the
recording's own total over 5-900 Hz, spectral shape, lines, stationarity, crest factor; unchanged
by any gain) are in :func:`shape_features` (:mod:`acoustic.features._shape`).

Definitions follow librosa's (``center=False``) where librosa has the feature, on the
analysis-band bins; the tests check agreement.  See :mod:`acoustic.features._design` for
the framing and band choices and :mod:`acoustic.features._tonal` for the line tests.

>>> from acoustic.features import extract_features
>>> fv = extract_features(rec)              # doctest: +SKIP
>>> fv["level_spread_db"], fv.units[fv.names.index("level_spread_db")]   # doctest: +SKIP
"""

from ._extract import (
    FEATURES_VERSION,
    LEVEL_REFERENCE,
    FeatureVector,
    extract_features,
    extract_many,
    feature_descriptions,
    feature_names,
    feature_units,
    min_duration_s,
)
from ._shape import SHAPE_VERSION, ShapeFeatures, shape_feature_names, shape_feature_units, shape_features

__all__ = [
    "FEATURES_VERSION", "LEVEL_REFERENCE", "FeatureVector", "extract_features", "extract_many",
    "feature_names", "feature_units", "feature_descriptions", "min_duration_s",
    "SHAPE_VERSION", "ShapeFeatures", "shape_feature_names", "shape_feature_units", "shape_features",
]
