"""acoustic simulate dataset (engine acoustic.simulate._dataset, command acoustic.cli._simulate_dataset)."""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner

from acoustic._errors import ParameterError
from acoustic._progress import ProgressRecorder
from acoustic.cli._simulate_dataset import simulate_dataset_cmd
from acoustic.simulate._dataset import DATASET_SCHEMA, UNCALIBRATED_OFFSET_DB, labels_row, write_dataset

SMALL = dict(duration_s=2.0, sample_rates_hz=[4000.0], per_site=2)


def _rows(folder):
    with open(folder / "labels.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("ds") / "set"
    rec = ProgressRecorder()
    ds = write_dataset(out, n=5, seed=11, uncalibrated_fraction=0.5, progress=rec, **SMALL)
    return out, ds, rec


def test_folder_labels_sidecars_and_truth(small_set):
    from acoustic.classify import read_labels
    from acoustic.io import read_recording

    out, ds, rec = small_set
    rows = _rows(out)
    assert [r["file"] for r in rows] == ds.files and len(rows) == 5
    header = list(rows[0])
    assert header[:3] == ["file", "label", "site"]
    for col in ("sensor_kind", "calibrated", "material", "diameter_mm", "seed", "gain_db", "sample_rate_hz",
                "duration_s", "noises", "background.slope", "sidecar_gain_db"):
        assert col in header, col
    assert {r["site"] for r in rows} == {"site0000", "site0001", "site0002"}  # 2 per site
    labelled = read_labels(out)  # what train, evaluate and library build read
    assert [lf.label for lf in labelled] == ds.labels
    for r in rows:
        stem = r["file"][:-4]
        truth = json.loads((out / f"{stem}.truth.json").read_text())
        sidecar = json.loads((out / f"{stem}.json").read_text())
        recording = read_recording(out / r["file"])
        assert truth["label"] == r["label"] and truth["site"] == r["site"]
        assert sidecar["calibrated"] is truth["calibrated"] and r["calibrated"] == str(truth["calibrated"]).lower()
        error = recording.gain_db - truth["gain_db"]
        if truth["calibrated"]:
            assert error == pytest.approx(0.0, abs=1e-9)
        else:
            assert UNCALIBRATED_OFFSET_DB[0] <= error <= UNCALIBRATED_OFFSET_DB[1]
            assert error == pytest.approx(truth["sidecar_gain_error_db"])
        assert recording.sample_rate == 4000.0 and recording.duration_s == pytest.approx(2.0)
    manifest = json.loads((out / "dataset.json").read_text())
    assert manifest == ds.manifest
    assert manifest["schema"] == DATASET_SCHEMA and manifest["seed"] == 11 and manifest["n_recordings"] == 5
    assert sum(manifest["by_label"].values()) == 5
    assert manifest["n_uncalibrated"] == sum(not json.loads((out / f"{f[:-4]}.json").read_text())["calibrated"]
                                              for f in ds.files)
    rec.check()
    assert rec.events[0] == ("simulating recordings", 0, 5) and rec.events[-1] == ("simulating recordings", 5, 5)


def test_first_recordings_do_not_depend_on_n(small_set, tmp_path):
    out, ds, _ = small_set
    fewer = write_dataset(tmp_path / "fewer", n=3, seed=11, uncalibrated_fraction=0.5, **SMALL)
    def filled(rows):  # (the columns are those some row of the set uses; compare the cells filled)
        return [{k: v for k, v in r.items() if v != ""} for r in rows]

    assert filled(_rows(tmp_path / "fewer")) == filled(_rows(out)[:3])
    for f in fewer.files:
        assert (tmp_path / "fewer" / f).read_bytes() == (out / f).read_bytes()
    other = write_dataset(tmp_path / "other", n=3, seed=12, **SMALL)
    assert (tmp_path / "other" / other.files[0]).read_bytes() != (out / ds.files[0]).read_bytes()


@pytest.mark.slow
def test_worker_processes_write_the_same_set(small_set, tmp_path):
    out, ds, _ = small_set
    par = write_dataset(tmp_path / "par", n=5, seed=11, uncalibrated_fraction=0.5, jobs=2, **SMALL)
    assert par.files == ds.files
    assert (tmp_path / "par" / "labels.csv").read_bytes() == (out / "labels.csv").read_bytes()
    for f in ds.files:
        assert (tmp_path / "par" / f).read_bytes() == (out / f).read_bytes()


@pytest.mark.parametrize("kwargs, match", [
    (dict(n=0), "n must be"),
    (dict(n=2, per_site=0), "per_site"),
    (dict(n=2, leak_fraction=1.5), "leak_fraction"),
    (dict(n=2, uncalibrated_fraction=-0.1), "uncalibrated_fraction"),
    (dict(n=2, duration_s=0.5), "duration_s"),
    (dict(n=2, seed=-1), "seed"),
    (dict(n=2, min_leak_snr_db=10.0, max_leak_snr_db=5.0), "below max_leak_snr_db"),
    (dict(n=2, sample_rates_hz=[500.0]), "sample rates"),
    (dict(n=2, materials=["lead"]), "unknown material"),
    (dict(n=2, generator="gan"), "generator"),
])
def test_bad_parameters_are_refused_before_writing(tmp_path, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        write_dataset(tmp_path / "x", **kwargs)
    assert not (tmp_path / "x").exists() or not any((tmp_path / "x").iterdir())


def test_existing_files_are_never_overwritten(tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    with pytest.raises(ParameterError, match="not empty"):
        write_dataset(full, n=1, seed=1, **SMALL)
    assert [p.name for p in full.iterdir()] == ["keep.txt"]
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(ParameterError, match="not a folder"):
        write_dataset(afile, n=1, seed=1, **SMALL)


def test_labels_row_flattening():
    row = labels_row("a.wav", {"label": "leak", "site": "s", "band_hz": [5.0, 900.0], "speeds_m_s": [1.0, 2.0, 3.0],
                               "noises": [], "on": True, "events": [{"t": 1.0}], "nested": {"x": {"y": 2}}})
    assert row == {"file": "a.wav", "label": "leak", "site": "s", "band_lo_hz": 5.0, "band_hi_hz": 900.0,
                   "speeds_m_s": "1.0 2.0 3.0", "noises": "none", "on": "true", "events": '[{"t":1.0}]',
                   "nested.x.y": 2}


def test_command(tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli-set"
    res = runner.invoke(simulate_dataset_cmd, [str(out), "--n", "2", "--seed", "4", "--duration", "2",
                                               "--sample-rate", "4000", "--per-site", "2", "--json", "--progress"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["schema"] == DATASET_SCHEMA and doc["n_recordings"] == 2 and doc["out_dir"] == str(out)
    assert doc["warnings"] == []
    assert "simulate dataset: simulating recordings 2/2 (100 %)" in res.stderr
    # text output, quiet: no progress; a folder with files is refused with a one-line error
    res = runner.invoke(simulate_dataset_cmd, ["-o", str(tmp_path / "t"), "-n", "1", "--seed", "4", "--duration", "2",
                                               "--sample-rate", "4000", "--quiet", "--progress"])
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith(f"wrote {tmp_path / 't'}: 1 recordings from 1 sites (")
    assert res.stderr == ""
    res = runner.invoke(simulate_dataset_cmd, [str(out), "--n", "1", "--seed", "4"])
    assert res.exit_code == 2
    assert res.stderr.strip().startswith("Error: ") and "not empty" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    # the folder is given once
    res = runner.invoke(simulate_dataset_cmd, ["--n", "1"])
    assert res.exit_code == 2 and "-o OUT" in res.stderr
    res = runner.invoke(simulate_dataset_cmd, [str(tmp_path / "a"), "-o", str(tmp_path / "b")])
    assert res.exit_code == 2 and "give the folder once" in res.stderr
