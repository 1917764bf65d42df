"""Leak classifier: labelled datasets, site-grouped training, safe model files, classification."""

from ._dataset import LABELS, LEAK_LABEL, NOISE_LABELS, LabelledFile, read_labels
from ._model import LeakModel, TRUSTED_TYPES, load_model, save_model
from ._train import classification_metrics, threshold_for_false_alarm_rate, train_model

__all__ = [
    "LABELS", "LEAK_LABEL", "NOISE_LABELS", "LabelledFile", "read_labels",
    "LeakModel", "TRUSTED_TYPES", "load_model", "save_model",
    "classification_metrics", "threshold_for_false_alarm_rate", "train_model",
]
