"""acoustic train | evaluate | classify and acoustic library build|add|match on small simulated datasets."""

import csv
import json
import shutil

import pytest
from click.testing import CliRunner

from acoustic.classify._synthetic import synthetic_specs, write_synthetic_dataset
from acoustic.cli import cli

RATES = (8000.0, 16000.0)


def _dataset(path, n_sites, seed, **kw):
    kw.setdefault("sample_rates_hz", RATES)
    specs = synthetic_specs(n_sites, seed=seed, per_site=6, duration_s=2.0, site_prefix=f"s{seed}-",
                            gain_offset_db=(-10.0, 0.0), **kw)
    return write_synthetic_dataset(specs, path)


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    root = tmp_path_factory.mktemp("classify")
    train_ds = _dataset(root / "train", 8, seed=11)
    test_ds = _dataset(root / "test", 3, seed=12)
    r = run("train", train_ds, "--out", root / "model", "--seed", 3, "--folds", 3, "--json")
    assert r.exit_code == 0, r.output
    card = json.loads(r.stdout)["card"]
    r = run("library", "build", train_ds, "--out", root / "sigs.h5", "--json")
    assert r.exit_code == 0, r.output
    return {"root": root, "train": train_ds, "test": test_ds, "model": root / "model", "lib": root / "sigs.h5",
            "card": card}


def test_train_writes_model_and_card(work):
    card = work["card"]
    files = {p.name for p in work["model"].iterdir()}
    assert {"model.skops", "model_card.json"} <= files
    on_disk = json.loads((work["model"] / "model_card.json").read_text())
    assert on_disk["model_sha256"] and on_disk["seed"] == 3 and on_disk["package_version"]
    assert card["cross_validation"]["kind"].startswith("StratifiedGroupKFold") and card["cross_validation"]["n_sites"] == 8
    m = card["metrics"]
    assert 0.0 <= m["roc_auc"] <= 1.0 and m["false_alarm_rate"] <= 0.05 + 1e-9
    assert set(m["by"]) >= {"confounder", "material", "sensor_kind", "sample_rate_hz"}
    assert "leak" in m["confusion_by_kind"]
    assert card["data"]["n_recordings"] == 48 and card["data"]["sample_rate_hz_range"] == [8000.0, 16000.0]
    assert card["features"]["extra_inputs"] == []  # acoustic train: features only
    assert card["features"]["version"] == "shape-1"
    assert "band_5_7hz_rel_db" in card["features"]["always_defined"]
    assert "band_3600_7200hz_rel_db" not in card["features"]["always_defined"]  # NaN at 8 kHz
    assert card["level_term"] is None  # no recording of the set is marked calibrated
    assert len(card["domain"]["median"]) == len(card["features"]["names"])


def test_evaluate_prints_the_training_metrics_structure(work):
    r = run("evaluate", work["test"], "--model", work["model"], "--json")
    assert r.exit_code == 0, r.output
    m = json.loads(r.stdout)["metrics"]
    assert set(m) >= set(work["card"]["metrics"]) - {"threshold"}
    assert m["threshold"] == pytest.approx(work["card"]["threshold"])
    assert m["n"] == 18 and set(m["by"]) >= {"confounder", "material", "sensor_kind"}
    text = run("evaluate", work["test"], "--model", work["model"])
    assert text.exit_code == 0 and "ROC AUC" in text.stdout and "by material:" in text.stdout


def test_classify_json_contract(work):
    rows = list(csv.DictReader(open(work["test"] / "labels.csv")))
    files = [work["test"] / r["file"] for r in rows[:4]]
    r = run("classify", *files, "--model", work["model"], "--library", work["lib"], "--k", 2, "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert [o["file"] for o in out] == [str(f) for f in files]
    for o in out:
        assert 0.0 <= o["leak_probability"] <= 1.0
        assert o["label"] == ("leak" if o["leak_probability"] >= o["threshold"] else "no_leak")
        assert o["calibrated"] is False and o["evidence"] == "shape"  # no sidecar says calibrated
        assert isinstance(o["in_domain"], bool) and (o["in_domain"] or o["in_domain_reason"])
        assert set(o["tonal"]) == {"mains_50hz", "mains_60hz"}
        assert len(o["nearest"]) == 2
        for n in o["nearest"]:
            assert set(n) >= {"signature_id", "label", "similarity"} and 0.0 <= n["similarity"] <= 1.0
    # a training recording finds itself in the library
    r = run("classify", work["train"] / "s11-0000_0.wav", "--model", work["model"], "--library", work["lib"],
            "--json")
    assert json.loads(r.stdout)[0]["nearest"][0]["similarity"] == pytest.approx(1.0)
    r = run("classify", files[0], "--model", work["model"], "--no-library", "--json")
    assert json.loads(r.stdout)[0]["nearest"] == []
    text = run("classify", files[0], "--model", work["model"], "--library", work["lib"])
    assert text.exit_code == 0 and "leak probability" in text.stdout and "nearest:" in text.stdout


def test_default_model_and_library_from_the_models_folder(work, tmp_path, monkeypatch):
    models = tmp_path / "models"
    shutil.copytree(work["model"], models / "default")
    shutil.copy(work["lib"], models / "default" / "signatures.h5")
    monkeypatch.setenv("ACOUSTIC_MODELS_DIR", str(models))
    f = work["test"] / "s12-0000_0.wav"
    r = run("classify", f, "--json")
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.stdout)[0]["nearest"]) == 3
    r = run("library", "list", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["n_signatures"] == 48
    monkeypatch.setenv("ACOUSTIC_MODELS_DIR", str(tmp_path / "nowhere"))
    r = run("classify", f)
    assert r.exit_code == 2 and "no default model found" in r.stderr


def test_library_build_add_match(work, tmp_path):
    r = run("library", "list", "-L", work["lib"], "--json")
    s = json.loads(r.stdout)
    assert s["n_signatures"] == 48 and s["n_sites"] == 8 and sum(s["by_label"].values()) == 48
    lib = tmp_path / "lib.h5"
    shutil.copy(work["lib"], lib)
    new = sorted(work["test"].glob("*.wav"))[:3]
    r = run("library", "add", *new, "-L", lib, "--label", "leak", "--site", "Elm Street", "--material", "pvc",
            "--diameter-mm", 160, "--pressure-bar", 4.5, "--json")
    assert r.exit_code == 0, r.output
    added = json.loads(r.stdout)
    assert len(added["added"]) == 3 and added["n_signatures"] == 51
    r = run("library", "add", new[0], "-L", lib, "--label", "leak", "--json")
    assert json.loads(r.stdout)["skipped"] == added["added"][:1]
    r = run("library", "match", new[1], "-L", lib, "--k", 4, "--json")
    assert r.exit_code == 0, r.output
    near = json.loads(r.stdout)[0]["nearest"]
    assert len(near) == 4 and near[0]["signature_id"] == added["added"][1] and near[0]["site"] == "Elm Street"
    assert near[0]["similarity"] == pytest.approx(1.0) and near[1]["similarity"] < 1.0
    r = run("library", "match", work["test"] / "gone.wav", new[1], "-L", lib, "--json")
    assert r.exit_code == 1 and "gone.wav: file not found" in r.stderr  # some failed: 1 (docs/cli.md exit codes)
    assert "1 of 2 recording(s) could not be used" in r.stderr
    assert [o["file"] for o in json.loads(r.stdout)] == [str(new[1])]
    r = run("library", "export", "-L", lib, "--format", "csv")
    rows = list(csv.DictReader(r.stdout.splitlines()))
    elm = [x for x in rows if x["site"] == "Elm Street"]
    assert len(elm) == 3 and elm[0]["pressure_bar"] == "4.5" and elm[0]["source_sha256"]
    # a build on top of an existing library appends (and skips what is there)
    r = run("library", "build", work["test"], "--out", lib, "--json")
    assert json.loads(r.stdout)["n_signatures"] == 48 + 18


def test_library_add_while_locked(work, tmp_path):
    from acoustic.library._store import writer_lock

    lib = tmp_path / "lib.h5"
    shutil.copy(work["lib"], lib)
    with writer_lock(lib):
        r = run("library", "add", work["test"] / "s12-0001_0.wav", "-L", lib, "--label", "quiet")
    assert r.exit_code == 2 and "library is locked by another writer" in r.stderr


# -- bad input ---------------------------------------------------------------------------------------


def _copy_dataset(src, dst, edit):
    shutil.copytree(src, dst)
    rows = list(csv.DictReader(open(dst / "labels.csv")))
    rows = edit(rows)
    with open(dst / "labels.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return dst


@pytest.mark.parametrize("edit,match", [
    (lambda rows: rows + [dict(rows[0], file="gone.wav")], "1 listed recording\\(s\\) missing: gone.wav"),
    (lambda rows: [dict(r, label="gurgle") if i == 2 else r for i, r in enumerate(rows)], "unknown label 'gurgle'"),
    (lambda rows: [dict(r, label="") if i == 1 else r for i, r in enumerate(rows)], "has no label"),
    (lambda rows: [r for r in rows if r["label"] != "leak"], "single class"),
    (lambda rows: [r for r in rows if r["site"] in ("s11-0000", "s11-0001")], "too few sites to group"),
])
def test_train_refuses_bad_datasets(work, tmp_path, edit, match):
    ds = _copy_dataset(work["train"], tmp_path / "ds", edit)
    r = run("train", ds, "--out", tmp_path / "m")
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith("Error: ") and r.stderr.strip().count("\n") == 0
    assert __import__("re").search(match, r.stderr), r.stderr
    assert not (tmp_path / "m" / "model.skops").exists()


def test_train_refuses_a_corrupt_recording_naming_it(work, tmp_path):
    ds = _copy_dataset(work["train"], tmp_path / "ds", lambda rows: rows)
    victim = sorted(ds.glob("*.wav"))[5]
    victim.write_bytes(b"RIFF\x00\x00")
    r = run("train", ds, "--out", tmp_path / "m")
    assert r.exit_code == 2 and victim.name in r.stderr and "Traceback" not in r.output


def test_classify_refuses_bad_models(work, tmp_path):
    f = work["test"] / "s12-0000_0.wav"
    bad = tmp_path / "bad"
    shutil.copytree(work["model"], bad)
    (bad / "model.skops").write_bytes(b"PK\x03\x04 not really a zip")
    r = run("classify", f, "--model", bad, "--no-library")
    assert r.exit_code == 2 and "checksum does not match" in r.stderr
    card = json.loads((work["model"] / "model_card.json").read_text())
    other = tmp_path / "other"
    shutil.copytree(work["model"], other)
    card["features"]["version"] = "0-old"
    (other / "model_card.json").write_text(json.dumps(card))
    r = run("classify", f, "--model", other, "--no-library")
    assert r.exit_code == 2 and "features version 0-old" in r.stderr and "retrain" in r.stderr
    r = run("classify", f, "--model", tmp_path / "nothing")
    assert r.exit_code == 2 and "model not found" in r.stderr
    (tmp_path / "lib.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 100)
    r = run("classify", f, "--model", work["model"], "--library", tmp_path / "lib.h5")
    assert r.exit_code == 2 and "lib.h5" in r.stderr and r.stderr.startswith("Error: ")


def test_classify_refuses_an_unsupported_sample_rate(work, tmp_path):
    low = write_synthetic_dataset(synthetic_specs(1, seed=5, per_site=2, duration_s=2.0, sample_rates_hz=(2000.0,),
                                                  gain_offset_db=(0.0, 0.0)), tmp_path / "low")
    good = work["test"] / "s12-0000_0.wav"
    r = run("classify", low / "site0000_0.wav", good, "--model", work["model"], "--no-library", "--json")
    assert r.exit_code == 2
    assert "site0000_0.wav: sample rate 2000 Hz is below the 8000-16000 Hz the model was trained on" in r.stderr
    assert [o["file"] for o in json.loads(r.stdout)] == [str(good)]  # the others are still classified
    high = write_synthetic_dataset(synthetic_specs(1, seed=6, per_site=1, duration_s=2.0,
                                                   sample_rates_hz=(48000.0,)), tmp_path / "high")
    r = run("classify", high / "site0000_0.wav", "--model", work["model"], "--no-library")
    assert r.exit_code == 0 and "outside the 8000-16000 Hz the model was trained on" in r.stderr


def test_classify_refuses_a_heavily_clipped_recording(work, tmp_path):
    loud = write_synthetic_dataset(synthetic_specs(1, seed=7, per_site=1, duration_s=2.0, sample_rates_hz=(8000.0,),
                                                   gain_offset_db=(30.0, 30.0)), tmp_path / "loud")
    r = run("classify", loud / "site0000_0.wav", "--model", work["model"], "--no-library")
    assert r.exit_code == 2
    assert "% of the samples are clipped at full scale (more than 1 %)" in r.stderr
    assert "record with a lower logger gain" in r.stderr and "Traceback" not in r.output


def test_classify_warns_about_a_very_quiet_recording(work, tmp_path):
    quiet = write_synthetic_dataset(synthetic_specs(1, seed=8, per_site=1, duration_s=2.0, sample_rates_hz=(8000.0,),
                                                    gain_offset_db=(-70.0, -70.0)), tmp_path / "q")
    r = run("classify", quiet / "site0000_0.wav", "--model", work["model"], "--no-library", "--json")
    assert r.exit_code == 0, r.output
    assert "dB re full scale; quantisation noise may dominate" in r.stderr
    assert 0.0 <= json.loads(r.stdout)[0]["leak_probability"] <= 1.0


def test_evaluate_refuses_unsupported_rates_and_missing_model(work, tmp_path):
    low = write_synthetic_dataset(synthetic_specs(3, seed=5, per_site=4, duration_s=2.0, sample_rates_hz=(2000.0,)),
                                  tmp_path / "low")
    r = run("evaluate", low, "--model", work["model"])
    assert r.exit_code == 2 and "sample rate 2000 Hz is below" in r.stderr
    r = run("evaluate", work["test"], "--model", tmp_path / "none")
    assert r.exit_code == 2 and "model not found" in r.stderr


def test_train_is_reproducible(work, tmp_path):
    r = run("train", work["train"], "--out", tmp_path / "again", "--seed", 3, "--folds", 3, "--json")
    card = json.loads(r.stdout)["card"]
    assert card["metrics"] == work["card"]["metrics"] and card["threshold"] == work["card"]["threshold"]


def test_worker_processes_give_the_same_features(work):
    import numpy as np

    from acoustic.classify import extract_paths

    files = sorted(work["test"].glob("*.wav"))[:4]
    one = extract_paths(files, jobs=1)
    two = extract_paths(files, jobs=2)
    assert [r.path for r in two] == [r.path for r in one]
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a.values, b.values)
        assert a.sha256 == b.sha256
