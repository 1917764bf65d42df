"""Leak classifier: labelled datasets, site-grouped training, safe model files, classification.

- :func:`read_labels`, :func:`extract_dataset`, :func:`extract_paths` - datasets (``labels.csv``:
  ``file,label[,distance_m,site,...]``) and extraction of the level-invariant classifier features
  (:func:`acoustic.features.shape_features`) of recording files.
- :func:`train_model` (grouped CV by site, threshold at a stated false-alarm rate, model card),
  :func:`evaluate_model`, :func:`classification_metrics`.
- :func:`save_model` / :func:`load_model` - skops files with a trusted-type allow-list and a SHA-256
  in the model card; nothing in a model file is executed.
- :func:`classify_features`, :func:`default_model_dir`, :func:`default_library_path`.
"""

from ._dataset import LABELS, LEAK_LABEL, NOISE_LABELS, LabelledFile, read_labels
from ._extract import (DatasetFeatures, RecordingFeatures, classifier_features, clipped_fraction, extract_dataset,
                       extract_paths, peak_dbfs)
from ._model import LeakModel, TRUSTED_TYPES, load_model, save_model
from ._predict import check_supported, classify_features, default_library_path, default_model_dir
from ._train import classification_metrics, evaluate_model, threshold_for_false_alarm_rate, train_model

__all__ = [
    "LABELS", "LEAK_LABEL", "NOISE_LABELS", "LabelledFile", "read_labels",
    "DatasetFeatures", "RecordingFeatures", "classifier_features", "clipped_fraction", "extract_dataset", "extract_paths", "peak_dbfs",
    "LeakModel", "TRUSTED_TYPES", "load_model", "save_model",
    "check_supported", "classify_features", "default_library_path", "default_model_dir",
    "classification_metrics", "evaluate_model", "threshold_for_false_alarm_rate", "train_model",
]
