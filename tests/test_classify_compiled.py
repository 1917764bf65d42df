"""The compiled pipeline (acoustic.classify._compiled) predicts exactly what scikit-learn predicts."""

import pickle

import numpy as np
import pytest

from acoustic import AcousticWarning
from acoustic.classify import default_model_dir, load_model, train_model
from acoustic.classify._compiled import (CompiledPipeline, compile_model, compile_pipeline, load_compiled_model,
                                        save_compiled_model)


@pytest.fixture(scope="module")
def default_model():
    return load_model(default_model_dir())


def _rows(model, rng, n=200):
    """Rows like real feature vectors: the training medians moved about, some NaN, some extreme."""
    imp, sc, _ = (s for _, s in model.pipeline.steps)
    X = sc.mean_ + sc.scale_ * rng.standard_normal((n, sc.mean_.size)) * rng.choice([0.1, 1.0, 5.0], size=(n, 1))
    X[rng.random(X.shape) < 0.1] = np.nan
    X[0] = np.nan
    X[1] = imp.statistics_
    return X


def test_default_model_compiles_and_matches_sklearn_bit_for_bit(default_model, rng):
    compiled = compile_pipeline(default_model.pipeline)
    assert isinstance(compiled, CompiledPipeline)
    X = _rows(default_model, rng)
    want = default_model.pipeline.predict_proba(X)
    np.testing.assert_array_equal(compiled.predict_proba(X), want)
    np.testing.assert_array_equal(compiled.predict_proba(X, use_numba=False), want)   # the numpy twin
    one = compiled.predict_proba(X[3])                                                  # a single row
    np.testing.assert_array_equal(one, want[3:4])


def test_compiled_model_classifies_like_the_model(default_model, rng):
    from acoustic.classify import RecordingFeatures, classify_features
    from acoustic.features import SHAPE_VERSION as FEATURES_VERSION
    from acoustic.features import shape_feature_names as feature_names

    fast = compile_model(default_model)
    assert isinstance(fast.pipeline, CompiledPipeline) and fast.card is default_model.card
    assert fast.threshold == default_model.threshold
    X = _rows(default_model, rng, 20)
    names = tuple(feature_names())
    feats = [RecordingFeatures(path=__import__("pathlib").Path(f"r{i}.wav"), values=x, names=names, units=names,
                               version=FEATURES_VERSION, band_centres_hz=np.zeros(31), band_levels_db=np.zeros(31),
                               sensor_kind="hydrophone", sample_rate_hz=8000.0, gain_db=0.0, duration_s=10.0,
                               start_time=None, sha256="", warnings=[], peak_dbfs=-6.0)
             for i, x in enumerate(X)]
    with pytest.warns(AcousticWarning, match="replaced by their training medians"):   # the NaN rows
        a = classify_features(default_model, feats)
    with pytest.warns(AcousticWarning, match="replaced by their training medians"):
        b = classify_features(pickle.loads(pickle.dumps(fast)), feats)   # as a worker receives it
    assert [(o["leak_probability"], o["label"]) for o in a] == [(o["leak_probability"], o["label"]) for o in b]


def test_freshly_trained_models_compile_exactly(rng):
    X = rng.normal(size=(240, 5))
    y = np.where(X[:, 0] + 0.5 * X[:, 1] > 0, "leak", "traffic")
    X[rng.random(X.shape) < 0.08] = np.nan
    X[:, 4] = np.nan                                          # a feature never defined: imputed with 0
    model = train_model(X, list(y), [f"s{i % 6}" for i in range(240)], feature_names=[f"f{i}" for i in range(5)],
                        features_version="t")
    compiled = compile_pipeline(model.pipeline)
    assert compiled is not None
    Z = rng.normal(size=(50, 5)) * 3
    Z[rng.random(Z.shape) < 0.2] = np.nan
    np.testing.assert_array_equal(compiled.predict_proba(Z), model.pipeline.predict_proba(Z))
    with pytest.raises(ValueError, match="infinity"):
        compiled.predict_proba(np.array([[np.inf, 0, 0, 0, 0]]))


def test_other_pipelines_are_not_compiled(default_model):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    steps = list(default_model.pipeline.steps)
    other = Pipeline(steps[:2] + [("model", LogisticRegression())])
    assert compile_pipeline(other) is None
    assert compile_pipeline(object()) is None
    m = compile_model(default_model.__class__(pipeline=other, threshold=0.5, card=default_model.card))
    assert m.pipeline is other


@pytest.fixture
def model_copy(tmp_path, monkeypatch):
    """A copy of the default model folder and an empty cache folder of its own."""
    import shutil

    folder = tmp_path / "m"
    folder.mkdir()
    for name in ("model.skops", "model_card.json"):
        shutil.copy2(default_model_dir() / name, folder / name)
    monkeypatch.setenv("ACOUSTIC_CACHE_DIR", str(tmp_path / "cache"))
    return folder


def test_compiled_model_cache_round_trip(model_copy, rng):
    model = load_model(model_copy)
    assert load_compiled_model(model_copy) is None                      # nothing cached yet
    path = save_compiled_model(compile_model(model))
    assert path is not None and path.parent == model_copy.parent / "cache" / "compiled-models"
    cached = load_compiled_model(model_copy)
    assert isinstance(cached.pipeline, CompiledPipeline)
    assert cached.card == model.card and cached.threshold == model.threshold and cached.path == model.path
    X = _rows(model, rng)
    np.testing.assert_array_equal(cached.pipeline.predict_proba(X), model.pipeline.predict_proba(X))
    assert save_compiled_model(model) is None                           # only compiled models are kept


def test_compiled_model_cache_checks_the_model_file(model_copy):
    from acoustic import ModelError

    save_compiled_model(compile_model(load_model(model_copy)))
    with open(model_copy / "model.skops", "ab") as fh:                   # the model file changed
        fh.write(b"\0")
    with pytest.raises(ModelError, match="checksum does not match"):
        load_compiled_model(model_copy)


def test_bad_or_foreign_cache_entries_are_ignored(model_copy, monkeypatch):
    import acoustic.classify._compiled as C

    path = save_compiled_model(compile_model(load_model(model_copy)))
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])                           # truncated
    assert load_compiled_model(model_copy) is None
    with np.load(__import__("io").BytesIO(good)) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["left"] = arrays["left"].copy()
    inner = np.flatnonzero(~arrays["is_leaf"])
    arrays["left"][inner[3]] = inner[3]                                 # a loop: refused, never walked
    np.savez(path, **arrays)
    assert load_compiled_model(model_copy) is None
    path.write_bytes(good)
    assert load_compiled_model(model_copy) is not None
    monkeypatch.setattr(C, "_sklearn_version", lambda: "0.0")           # another scikit-learn: not used
    assert load_compiled_model(model_copy) is None
    monkeypatch.setenv("ACOUSTIC_CACHE_DIR", "")                        # cache off
    assert save_compiled_model(compile_model(load_model(model_copy))) is None
    assert load_compiled_model(model_copy) is None
