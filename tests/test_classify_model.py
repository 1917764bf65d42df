"""Training core, thresholds, metrics and safe model persistence (synthetic feature matrices)."""

import json

import numpy as np
import pytest

from acoustic import DataError, ModelError
from acoustic.classify import (
    load_model, read_labels, save_model, threshold_for_false_alarm_rate, train_model,
)


def _data(rng, n_sites=8, per_site=30):
    X, labels, sites = [], [], []
    kinds = ["pump", "prv", "traffic", "quiet"]
    for s in range(n_sites):
        offset = rng.normal(0, 0.3, 6)  # site effect
        for i in range(per_site):
            leak = i % 2 == 0
            x = rng.normal(0, 1, 6) + offset
            if leak:
                x[:3] += 2.0
            X.append(x)
            labels.append("leak" if leak else kinds[(i // 2) % 4])
            sites.append(f"site{s}")
    return np.array(X), labels, sites


def _train(rng, **kw):
    X, labels, sites = _data(rng)
    return train_model(X, labels, sites, feature_names=[f"f{i}" for i in range(6)], features_version="test-1",
                       groups={"kind": labels}, **kw), X


@pytest.fixture(scope="module")
def trained():
    """One model for the module (training is the slow part); tests save copies of it."""
    return _train(np.random.default_rng(7))


def test_threshold_respects_false_alarm_rate(rng):
    scores = rng.uniform(size=1000)
    t = threshold_for_false_alarm_rate(scores, 0.05)
    assert np.mean(scores >= t) <= 0.05
    assert np.mean(scores >= t) > 0.04
    assert np.mean(scores >= threshold_for_false_alarm_rate(scores, 0.0001)) == 0.0


def test_train_reports_grouped_cv_metrics(trained):
    model, X = trained
    m = model.card["metrics"]
    assert m["roc_auc"] > 0.9
    assert m["false_alarm_rate"] <= 0.05 + 1e-9
    assert set(m["confusion_by_kind"]) == {"leak", "pump", "prv", "traffic", "quiet"}
    assert model.card["cross_validation"]["kind"].startswith("StratifiedGroupKFold")
    p = model.leak_probability(X)
    assert p.shape == (X.shape[0],) and np.all((p >= 0) & (p <= 1))


def test_save_load_round_trip(tmp_path, trained):
    model, X = trained
    save_model(model, tmp_path / "m")
    back = load_model(tmp_path / "m")
    np.testing.assert_allclose(back.leak_probability(X), model.leak_probability(X))
    assert back.threshold == model.threshold
    card = json.loads((tmp_path / "m" / "model_card.json").read_text())
    assert card["seed"] == 0 and card["package_version"] and card["features"]["version"] == "test-1"


def test_tampered_model_refused(tmp_path, trained):
    model, _ = trained
    save_model(model, tmp_path / "m")
    f = tmp_path / "m" / "model.skops"
    raw = bytearray(f.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    f.write_bytes(bytes(raw))
    with pytest.raises(ModelError, match="checksum does not match"):
        load_model(tmp_path / "m")


def test_foreign_types_refused(tmp_path, trained):
    import hashlib
    import os

    import skops.io as sio
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    model, _ = trained
    save_model(model, tmp_path / "m")
    evil = Pipeline([("f", FunctionTransformer(func=os.getcwd))])
    sio.dump(evil, tmp_path / "m" / "model.skops")
    card_path = tmp_path / "m" / "model_card.json"
    card = json.loads(card_path.read_text())
    card["model_sha256"] = hashlib.sha256((tmp_path / "m" / "model.skops").read_bytes()).hexdigest()
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelError, match="outside the trusted list"):
        load_model(tmp_path / "m")


def test_pickle_or_garbage_refused(tmp_path, trained):
    import hashlib
    import pickle

    model, _ = trained
    save_model(model, tmp_path / "m")
    f = tmp_path / "m" / "model.skops"
    f.write_bytes(pickle.dumps({"a": 1}))
    card_path = tmp_path / "m" / "model_card.json"
    card = json.loads(card_path.read_text())
    card["model_sha256"] = hashlib.sha256(f.read_bytes()).hexdigest()
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelError, match="not a readable model file"):
        load_model(tmp_path / "m")


@pytest.mark.parametrize("mutate,match", [
    (lambda c: c.update(format="something-else"), "not an acoustic model card"),
    (lambda c: c.update(format_version=99), "format version 99 is not supported"),
    (lambda c: c.pop("model_sha256"), "lacks 'model_sha256'"),
])
def test_bad_cards_refused(tmp_path, trained, mutate, match):
    model, _ = trained
    save_model(model, tmp_path / "m")
    card_path = tmp_path / "m" / "model_card.json"
    card = json.loads(card_path.read_text())
    mutate(card)
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelError, match=match):
        load_model(tmp_path / "m")


def test_missing_or_truncated_model(tmp_path, trained):
    with pytest.raises(ModelError, match="model not found"):
        load_model(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="not a model folder"):
        load_model(tmp_path / "empty")
    model, _ = trained
    save_model(model, tmp_path / "m")
    (tmp_path / "m" / "model_card.json").write_text('{"format": "acoustic-le')
    with pytest.raises(ModelError, match="not valid JSON"):
        load_model(tmp_path / "m")


def test_single_class_and_too_few_sites(rng):
    X, labels, sites = _data(rng, n_sites=2)
    with pytest.raises(DataError, match="too few sites .* 2 \\(need at least 3\\)"):
        train_model(X, labels, sites, feature_names=list("abcdef"), features_version="t")
    X, labels, sites = _data(rng)
    with pytest.raises(DataError, match="single class"):
        train_model(X, ["pump"] * len(labels), sites, feature_names=list("abcdef"), features_version="t")
    with pytest.raises(DataError, match="false-alarm rate"):
        train_model(X, labels, sites, feature_names=list("abcdef"), features_version="t", target_far=0.9)


def test_read_labels_errors(tmp_path):
    (tmp_path / "a.wav").write_bytes(b"x")
    with pytest.raises(DataError, match="labels.csv: not found"):
        read_labels(tmp_path)
    (tmp_path / "labels.csv").write_text("name,kind\na.wav,leak\n")
    with pytest.raises(DataError, match="missing column\\(s\\) file, label"):
        read_labels(tmp_path)
    (tmp_path / "labels.csv").write_text("file,label\na.wav,gurgle\n")
    with pytest.raises(DataError, match="unknown label 'gurgle'.*labels: leak, pump"):
        read_labels(tmp_path)
    (tmp_path / "labels.csv").write_text("file,label\na.wav,\n")
    with pytest.raises(DataError, match="has no label"):
        read_labels(tmp_path)
    (tmp_path / "labels.csv").write_text("file,label\na.wav,leak\nb.wav,pump\n")
    with pytest.raises(DataError, match="1 listed recording\\(s\\) missing: b.wav"):
        read_labels(tmp_path)
    with pytest.warns(Warning, match="skipped"):
        rows = read_labels(tmp_path, allow_missing=True)
    assert [r.label for r in rows] == ["leak"] and rows[0].site == "file:a.wav"


def test_sensor_kind_input_is_optional_and_checked(rng):
    X, labels, sites = _data(rng)
    kinds = ["accelerometer" if i % 3 == 0 else "hydrophone" for i in range(len(labels))]
    keep = [i for i, s in enumerate(sites) if s in ("site0", "site1", "site2")]
    X, labels, sites, kinds = X[keep], [labels[i] for i in keep], [sites[i] for i in keep], [kinds[i] for i in keep]
    model = train_model(X, labels, sites, feature_names=[f"f{i}" for i in range(6)], features_version="t",
                        sensor_kinds=kinds, n_splits=3)
    assert model.extra_inputs == ["sensor_is_accelerometer"]
    p = model.leak_probability(X[:4], kinds[:4])
    assert p.shape == (4,)
    with pytest.raises(ModelError, match="needs the sensor kind"):
        model.leak_probability(X[:4])
    with pytest.raises(ModelError, match="expects 6 features"):
        model.leak_probability(X[:4, :5], kinds[:4])
