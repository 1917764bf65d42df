"""Labelled datasets: a folder of recordings with ``labels.csv`` (``file,label[,site,material,...]``)."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

from .._errors import AcousticWarning, DataError

__all__ = ["LEAK_LABEL", "NOISE_LABELS", "LABELS", "LabelledFile", "read_labels"]

LEAK_LABEL = "leak"
#: Kinds of non-leak noise a label may name (``no_leak`` when the kind is not known).
NOISE_LABELS = ("pump", "prv", "traffic", "consumption", "hum", "quiet", "other", "no_leak")
LABELS = (LEAK_LABEL, *NOISE_LABELS)


@dataclasses.dataclass(frozen=True)
class LabelledFile:
    """One row of ``labels.csv``: the recording, its label, its site and any further columns."""

    path: Path
    label: str
    site: str
    extra: dict
    distance_m: float | None = None  # distance to the leak, m (optional labels.csv column)

    @property
    def is_leak(self) -> bool:
        return self.label == LEAK_LABEL


def read_labels(dataset_dir, *, allow_missing: bool = False) -> list[LabelledFile]:
    """Read ``DATASET/labels.csv`` (with the shared reader :func:`acoustic.io.read_csv_table`).

    Columns: ``file`` and ``label`` (required), ``distance_m`` (optional: distance from the
    recording point to the leak, m; empty when unknown or for non-leaks), ``site`` and any
    further columns (kept in :attr:`LabelledFile.extra`).

    Parameters
    ----------
    dataset_dir : str or Path
        Folder holding ``labels.csv`` and the recordings (paths in ``file`` are relative to it).
    allow_missing : bool, default False
        Skip rows whose recording is missing (with a warning) instead of refusing the dataset.

    Raises
    ------
    DataError
        No ``labels.csv``, missing ``file``/``label`` columns, empty or unknown labels, a
        ``distance_m`` that is not a number >= 0, missing files (unless ``allow_missing``),
        duplicate files, or no rows.
    """
    from ..io import read_csv_table

    root = Path(dataset_dir)
    if not root.is_dir():
        raise DataError(f"{root}: dataset folder not found")
    table_path = root / "labels.csv"
    if not table_path.exists():
        raise DataError(f"{table_path}: not found (a dataset needs labels.csv with columns file,label[,distance_m])")
    table = read_csv_table(table_path, required=("file", "label"), optional=("distance_m", "site"),
                           what="labels.csv", error=DataError)
    out, absent, seen = [], [], set()
    for row in table:
        name, label = row["file"], row["label"].lower()
        if not name:
            raise DataError(f"{row.where('file')}: empty file name")
        if not label:
            raise DataError(f"{row.where('label')}: {name} has no label; labels: {', '.join(LABELS)}")
        if label not in LABELS:
            raise DataError(f"{row.where('label')}: unknown label {label!r} for {name}; labels: {', '.join(LABELS)}")
        if name in seen:
            raise DataError(f"{row.where('file')}: {name} is listed twice")
        seen.add(name)
        distance = row.number("distance_m", optional=True, min_value=0.0) if "distance_m" in table.columns else None
        path = root / name
        if not path.is_file():
            absent.append(name)
            continue
        site = row.get("site") or f"file:{name}"
        extra = {k: v for k, v in row.cells.items() if k not in ("file", "label", "site", "distance_m") and v != ""}
        out.append(LabelledFile(path, label, site, extra, distance))
    if absent:
        msg = f"{table_path}: {len(absent)} listed recording(s) missing: {', '.join(absent[:5])}" + (
            " ..." if len(absent) > 5 else "")
        if not allow_missing:
            raise DataError(msg)
        warnings.warn(msg + " (skipped)", AcousticWarning, stacklevel=2)
    if not out:
        raise DataError(f"{table_path}: no usable rows")
    return out
