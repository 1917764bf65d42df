"""Labelled datasets: a folder of recordings with ``labels.csv`` (``file,label[,site,material,...]``)."""

from __future__ import annotations

import csv
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

    @property
    def is_leak(self) -> bool:
        return self.label == LEAK_LABEL


def read_labels(dataset_dir, *, allow_missing: bool = False) -> list[LabelledFile]:
    """Read ``DATASET/labels.csv``.

    Parameters
    ----------
    dataset_dir : str or Path
        Folder holding ``labels.csv`` and the recordings (paths in ``file`` are relative to it).
    allow_missing : bool, default False
        Skip rows whose recording is missing (with a warning) instead of refusing the dataset.

    Raises
    ------
    DataError
        No ``labels.csv``, missing ``file``/``label`` columns, empty or unknown labels, missing
        files (unless ``allow_missing``), duplicate files, or no rows.
    """
    root = Path(dataset_dir)
    if not root.is_dir():
        raise DataError(f"{root}: dataset folder not found")
    table = root / "labels.csv"
    if not table.exists():
        raise DataError(f"{table}: not found (a dataset needs labels.csv with columns file,label)")
    try:
        with open(table, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            cols = [c.strip() for c in (reader.fieldnames or [])]
            missing = [c for c in ("file", "label") if c not in cols]
            if missing:
                raise DataError(f"{table}: missing column(s) {', '.join(missing)}; found {', '.join(cols) or 'none'}")
            rows = [{(k or "").strip(): (v or "").strip() for k, v in r.items()} for r in reader]
    except UnicodeDecodeError as exc:
        raise DataError(f"{table}: not UTF-8 text ({exc})") from None
    out, absent, seen = [], [], set()
    for i, r in enumerate(rows, start=2):
        name, label = r.get("file", ""), r.get("label", "").lower()
        if not name:
            raise DataError(f"{table}: line {i}: empty file name")
        if not label:
            raise DataError(f"{table}: line {i}: {name} has no label; labels: {', '.join(LABELS)}")
        if label not in LABELS:
            raise DataError(f"{table}: line {i}: unknown label {label!r} for {name}; labels: {', '.join(LABELS)}")
        if name in seen:
            raise DataError(f"{table}: line {i}: {name} is listed twice")
        seen.add(name)
        path = root / name
        if not path.is_file():
            absent.append(name)
            continue
        site = r.get("site") or f"file:{name}"
        extra = {k: v for k, v in r.items() if k not in ("file", "label", "site") and v != ""}
        out.append(LabelledFile(path, label, site, extra))
    if absent:
        msg = f"{table}: {len(absent)} listed recording(s) missing: {', '.join(absent[:5])}" + (
            " ..." if len(absent) > 5 else "")
        if not allow_missing:
            raise DataError(msg)
        warnings.warn(msg + " (skipped)", AcousticWarning, stacklevel=2)
    if not out:
        raise DataError(f"{table}: no usable rows")
    return out
