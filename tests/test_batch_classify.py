"""Classification in a batch: the same leak probabilities and labels as `acoustic classify` on the same
files, a detection row per recording labelled leak, the model version on every row, and a
recording the model cannot handle quarantined with the reason."""

import json
import os
import sqlite3
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from click.testing import CliRunner

from acoustic.cli import cli

T0 = datetime(2026, 11, 3, 2, 0, 0, tzinfo=timezone.utc)
OLD = time.time() - 3600.0


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A small leak model trained on simulated recordings of 8 sites (leak and noise at each)."""
    from acoustic.classify import save_model, train_model
    from acoustic.features import SHAPE_VERSION, shape_feature_names, shape_features
    from acoustic.simulate import simulate_recording

    rng = np.random.default_rng(5)
    X, labels, sites, kinds = [], [], [], []
    noises = ["traffic", "pump", "prv", "consumption", "quiet", "hum"]
    for site in range(8):
        for j in range(4):
            leak = j < 2
            sim = simulate_recording(leak_distance_m=float(rng.uniform(5, 60)) if leak else None,
                                     noises=() if leak else (noises[(site + j) % len(noises)],),
                                     material=["ductile_iron", "pvc"][site % 2], sample_rate_hz=4000.0,
                                     duration_s=2.0, seed=int(rng.integers(1 << 30)))
            rec = sim.recording
            X.append(shape_features(rec.samples, rec.sample_rate, rec.gain_db).values)
            labels.append("leak" if leak else sim.truth["label"])
            sites.append(f"S{site}")
            kinds.append(sim.recording.sensor_kind)
    model = train_model(np.array(X), labels, sites, feature_names=list(shape_feature_names()),
                        features_version=SHAPE_VERSION, target_far=0.1, n_splits=3, seed=1, sensor_kinds=kinds,
                        data_summary={"sample_rate_hz_range": [4000.0, 4000.0]})
    folder = tmp_path_factory.mktemp("model") / "small"
    save_model(model, folder)
    return folder


@pytest.fixture(scope="module")
def upload(tmp_path_factory):
    from acoustic.io import write_recording
    from acoustic.simulate import simulate_recording

    root = tmp_path_factory.mktemp("up")
    for i in range(8):
        sim = simulate_recording(leak_distance_m=20.0 if i % 2 == 0 else None, noises=() if i % 2 == 0 else ("traffic",),
                                 sample_rate_hz=4000.0, duration_s=2.0, sensor_id=f"L{i % 4}",
                                 start_time=T0 + timedelta(days=i // 4), seed=100 + i)
        write_recording(sim.recording, root / f"L{i % 4}" / f"r{i}.wav")
    # below the model's training sample rate (4 kHz): refused by the model, quarantined
    sim = simulate_recording(leak_distance_m=20.0, sample_rate_hz=1000.0, duration_s=4.0, sensor_id="L0",
                             start_time=T0, seed=7)
    write_recording(sim.recording, root / "L0" / "slow.wav")
    for p in root.rglob("*"):
        if p.is_file():
            os.utime(p, (OLD, OLD))
    return root


def test_batch_classifies_like_acoustic_classify(model_dir, upload, tmp_path):
    ledger = tmp_path / "ledger.db"
    r = CliRunner().invoke(cli, ["batch", "run", str(upload), "--ledger", str(ledger), "--model", str(model_dir),
                                 "--jobs", "0", "--json"])
    assert r.exit_code == 3, r.output                                   # the 1 kHz file is quarantined
    s = json.loads(r.stdout)
    assert (s["new"], s["failed"]) == (9, 1) and s["classification"].startswith("small@")
    con = sqlite3.connect(ledger)
    bad = con.execute("SELECT path, error FROM recordings WHERE status = 'quarantined'").fetchall()
    assert len(bad) == 1 and bad[0][0].endswith("slow.wav") and "sample rate 1000 Hz is below" in bad[0][1]

    files = sorted(str(p) for p in upload.rglob("r*.wav"))
    ref = CliRunner().invoke(cli, ["classify", *files, "--model", str(model_dir), "--json"])
    assert ref.exit_code == 0, ref.output
    expected = {os.path.basename(d["file"]): (d["leak_probability"], d["label"]) for d in json.loads(ref.stdout)}
    rows = con.execute("SELECT path, leak_probability, label, model_version FROM recordings WHERE status = 'ok'").fetchall()
    assert len(rows) == 8
    for path, prob, label, version in rows:
        want = expected[os.path.basename(path)]
        assert prob == pytest.approx(want[0], abs=1e-12) and label == want[1]
        assert version == s["classification"]
    leaks = {os.path.basename(p) for p, _, lab, _ in rows if lab == "leak"}
    det = con.execute("SELECT r.path, d.score, d.model_version FROM detections d JOIN recordings r "
                      "ON r.id = d.recording_id WHERE d.kind = 'recording'").fetchall()
    assert {os.path.basename(p) for p, _, _ in det} == leaks
    assert all(v == s["classification"] for _, _, v in det)
    con.close()


def test_second_batch_takes_the_model_from_the_compiled_cache(model_dir, upload, tmp_path, monkeypatch):
    """The first batch caches the compiled model; the next one uses it and classifies identically."""
    monkeypatch.setenv("ACOUSTIC_CACHE_DIR", str(tmp_path / "cache"))
    rows = []
    for i in range(2):
        ledger = tmp_path / f"l{i}.db"
        r = CliRunner().invoke(cli, ["batch", "run", str(upload), "--ledger", str(ledger), "--model", str(model_dir),
                                     "--jobs", "0", "--json"])
        assert r.exit_code == 3, r.output
        assert len(list((tmp_path / "cache" / "compiled-models").glob("*.npz"))) == 1
        con = sqlite3.connect(ledger)
        rows.append(con.execute("SELECT path, status, error, leak_probability, label, model_version FROM recordings "
                                "ORDER BY path").fetchall())
        con.close()
    assert rows[0] == rows[1] and sum(r[1] == "ok" for r in rows[0]) == 8
