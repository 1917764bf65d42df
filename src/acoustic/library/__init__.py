"""The leak-noise signature library: an HDF5 file of labelled feature vectors and band spectra.

Each signature holds the feature vector of one recording (:mod:`acoustic.features`), its
calibrated 1/3-octave band spectrum and its metadata (label, pipe material and diameter, pressure,
sensor kind, site, date, source file SHA-256, provenance).  New sounds are compared with every
signature (:meth:`SignatureLibrary.match`, similarity in 0..1 in the standardised feature space).

- :class:`SignatureLibrary` - open (validated, checksummed) and query a library file.
- :func:`add_signatures` - append feature vectors + spectra + metadata (one writer at a time,
  atomic replace: readers never see a half-written file).
- :func:`build_library`, :func:`add_recordings` - from a labelled dataset folder or recordings.
- :func:`export_library` - CSV or JSON.

The file layout and the concurrency rules are described in :mod:`acoustic.library._store`;
the similarity in :mod:`acoustic.library._match`.
"""

from ._build import add_recordings, build_library, export_library, signatures_from_dataset
from ._match import Matcher, similarity_reference
from ._store import (
    LIBRARY_FORMAT,
    LIBRARY_FORMAT_VERSION,
    METADATA_COLUMNS,
    LibraryBusyError,
    SignatureLibrary,
    add_signatures,
    signature_id_for,
)

__all__ = [
    "LIBRARY_FORMAT", "LIBRARY_FORMAT_VERSION", "METADATA_COLUMNS", "LibraryBusyError", "Matcher",
    "SignatureLibrary", "add_recordings", "add_signatures", "build_library", "export_library",
    "signature_id_for", "signatures_from_dataset", "similarity_reference",
]
