"""The HDF5 signature library store: layout, round trips, matching, locking, atomic writes, bad files."""

import csv
import io
import json
import threading
import time

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from acoustic import ModelError, ParameterError
from acoustic.cli import cli
from acoustic.library import (
    LIBRARY_FORMAT, LibraryBusyError, Matcher, SignatureLibrary, add_signatures, export_library,
    similarity_reference,
)
from acoustic.library._store import writer_lock

P, B = 12, 6
NAMES = [f"feat_{i}" for i in range(P)]
CENTRES = [100.0, 125.0, 160.0, 200.0, 250.0, 315.0]


def _sigs(rng, n, labels=("leak", "pump", "prv", "quiet")):
    X = rng.normal(size=(n, P)) * np.linspace(1, 20, P) + np.linspace(-50, 50, P)
    S = rng.normal(60, 8, size=(n, B))
    S[:, -1] = np.nan  # a band above some recordings' Nyquist frequency
    meta = {"label": [labels[i % len(labels)] for i in range(n)], "site": [f"site{i % 5}" for i in range(n)],
            "material": ["pvc" if i % 2 else "ductile_iron" for i in range(n)], "diameter_mm": [150.0] * n,
            "sensor_kind": ["hydrophone"] * n, "start_time_ns": ["2026-11-03T02:00:00.123456Z"] * n,
            "sample_rate_hz": [8000.0] * n, "source_sha256": [f"{i:064x}" for i in range(n)]}
    return X, S, meta


def _add(path, X, S, meta, **kw):
    kw.setdefault("feature_names", NAMES)
    kw.setdefault("features_version", "1")
    kw.setdefault("band_centres_hz", CENTRES)
    return add_signatures(path, X, S, meta, **kw)


@pytest.fixture
def lib_path(tmp_path, rng):
    path = tmp_path / "sigs.h5"
    X, S, meta = _sigs(rng, 40)
    _add(path, X, S, meta, create=True, feature_units=["dB"] * P)
    return path


def test_layout_follows_the_conventions(lib_path):
    with h5py.File(lib_path, "r") as fh:
        assert fh.attrs["file_format"] == LIBRARY_FORMAT and int(fh.attrs["file_format_version"]) == 1
        assert set(fh) == {"features", "spectra", "metadata"}
        v = fh["features/values"]
        assert v.shape == (40, P) and v.maxshape == (None, P) and v.chunks is not None
        assert v.compression == "gzip" and v.shuffle
        assert fh["spectra/band_levels_db"].compression == "gzip"
        assert list(fh["spectra/band_levels_db"].attrs["band_centres_hz"]) == CENTRES
        assert fh["metadata/diameter_mm"].attrs["units"] == "mm"
        assert fh["metadata/start_time_ns"].dtype == np.int64
        assert len(fh.attrs["content_sha256"]) == 64


def test_round_trip_and_append(tmp_path, rng, lib_path):
    X, S, meta = _sigs(rng, 40)
    lib = SignatureLibrary.open(lib_path)
    assert len(lib) == 40 and lib.feature_names == NAMES and lib.feature_units == ["dB"] * P
    np.testing.assert_array_equal(np.isnan(lib.band_levels_db[:, -1]), True)
    assert lib.metadata["material"][1] == "pvc" and lib.metadata["diameter_mm"][0] == 150.0
    assert np.isnan(lib.metadata["pressure_bar"]).all()
    row = next(lib.rows())
    assert row["start_time_utc"] == "2026-11-03T02:00:00.123456Z" and row["pressure_bar"] is None
    out = _add(lib_path, X[:3], S[:3], {"label": ["hum"] * 3})
    assert len(out["added"]) == 3 and out["n_signatures"] == 43
    lib2 = SignatureLibrary.open(lib_path)
    np.testing.assert_array_equal(lib2.features[40:], X[:3])
    assert lib2.summary()["by_label"]["hum"] == 3
    # the same signatures again are skipped, not duplicated
    again = _add(lib_path, X[:3], S[:3], {"label": ["hum"] * 3})
    assert again["added"] == [] and len(again["skipped"]) == 3 and again["n_signatures"] == 43
    with pytest.raises(ModelError, match="already in the library"):
        _add(lib_path, X[:1], S[:1], {"label": ["hum"]}, skip_duplicates=False)


def test_match_agrees_with_the_reference_loop(rng):
    X, _, _ = _sigs(rng, 300)
    X[5, 3] = np.nan
    X[:, 7] = 4.0  # a constant feature carries no information and is left out
    m = Matcher(X)
    q = X[17] + rng.normal(0, 0.5, P)
    q[2] = np.nan  # undefined in the query: left out of the distance
    idx, sim, dist = m.query(q, k=10)
    ref_sim, ref_dist = similarity_reference(X, q)
    order = np.argsort(-ref_sim, kind="stable")[:10]
    np.testing.assert_array_equal(idx[0], order)
    np.testing.assert_allclose(sim[0], ref_sim[order], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(dist[0], ref_dist[order], rtol=1e-3, atol=1e-4)
    assert idx[0, 0] == 17 and np.all(np.diff(sim[0]) <= 1e-12)
    # identical vector: similarity 1; batch of queries = single queries
    idx2, sim2, _ = m.query(X[[3, 9]], k=3)
    assert list(idx2[:, 0]) == [3, 9] and np.allclose(sim2[:, 0], 1.0)
    # typical unrelated pair scores about exp(-1)
    _, s_all, _ = m.query(rng.normal(size=P) * np.linspace(1, 20, P) + np.linspace(-50, 50, P), k=300)
    assert 0.2 < np.median(s_all) < 0.6


def test_library_match_returns_metadata(lib_path):
    lib = SignatureLibrary.open(lib_path)
    near = lib.match(lib.features[4], k=3, names=NAMES, version="1")[0]
    assert near[0]["signature_id"] == lib.metadata["signature_id"][4]
    assert near[0]["similarity"] == pytest.approx(1.0) and near[0]["label"] == lib.metadata["label"][4]
    assert len(lib.match(lib.features[:2], k=500)[1]) == 40  # k capped at the library size
    with pytest.raises(ModelError, match="features version 1, the recordings have version 2"):
        lib.match(lib.features[4], names=NAMES, version="2")
    with pytest.raises(ParameterError, match="k must be a positive"):
        lib.match(lib.features[4], k=0)
    with pytest.raises(ParameterError, match="query must have 12 features"):
        lib.match(np.zeros(5))


def test_match_within_the_query_sensor_kind(tmp_path, rng):
    X, S, meta = _sigs(rng, 60)
    meta["sensor_kind"] = ["accelerometer" if i % 3 == 0 else "hydrophone" for i in range(60)]
    X[::3, :4] -= 100.0  # accelerometer levels are in another unit (dB re 1 m/s^2)
    path = tmp_path / "kinds.h5"
    _add(path, X, S, meta, create=True)
    lib = SignatureLibrary.open(path)
    q = X[[3, 4]] + 0.01
    near = lib.match(q, k=25, sensor_kinds=["accelerometer", "hydrophone"])
    assert {n["sensor_kind"] for n in near[0]} == {"accelerometer"} and len(near[0]) == 20
    assert {n["sensor_kind"] for n in near[1]} == {"hydrophone"} and len(near[1]) == 25
    assert near[0][0]["signature_id"] == lib.metadata["signature_id"][3]
    assert near[1][0]["signature_id"] == lib.metadata["signature_id"][4]
    # standardised within the subset: the same as a library of that kind alone
    acc = np.flatnonzero(lib.metadata["sensor_kind"] == "accelerometer")
    ref_sim, _ = similarity_reference(lib.features[acc], q[0])
    np.testing.assert_allclose([n["similarity"] for n in near[0][:5]], np.sort(ref_sim)[::-1][:5], rtol=1e-4)
    mixed = lib.match(q[0], k=60)[0]  # no kind given (or a kind the library lacks): every signature
    assert {n["sensor_kind"] for n in mixed} == {"accelerometer", "hydrophone"}
    assert len(lib.match(q[0], k=60, sensor_kinds="geophone")[0]) == 60
    with pytest.raises(ParameterError, match="1 sensor kinds for 2 queries"):
        lib.match(q, sensor_kinds=["hydrophone"])


def test_robust_standardisation_resists_outliers(rng):
    X = rng.normal(size=(400, 3))
    X[:8, 0] = 1e6  # a few wild values in one feature (e.g. clipped files)
    m = Matcher(X)
    assert m.scale[0] == pytest.approx(m.scale[1], rel=0.3)  # IQR-based, not blown up by the outliers
    idx, sim, dist = m.query(X[100], k=400)
    assert sim[0, 0] == pytest.approx(1.0)
    far = list(idx[0]).index(0)  # an outlier row: clipped at 5 sigma, so far but not infinitely
    assert dist[0, far] <= np.sqrt((5 + 3) ** 2 / 3 + 2 * 16 / 3)


def test_add_refuses_other_features_and_bad_metadata(lib_path, rng):
    X, S, meta = _sigs(rng, 2)
    with pytest.raises(ModelError, match="features version 1, the recordings have version 9"):
        _add(lib_path, X, S, meta, features_version="9")
    with pytest.raises(ModelError, match="feature names differ"):
        _add(lib_path, X, S, meta, feature_names=[f"x{i}" for i in range(P)])
    with pytest.raises(ModelError, match="band centres differ"):
        _add(lib_path, X, S, meta, band_centres_hz=[1, 2, 3, 4, 5, 6])
    with pytest.raises(ParameterError, match="unknown label\\(s\\) 'gurgle'"):
        _add(lib_path, X, S, {**meta, "label": ["gurgle", "leak"]})
    with pytest.raises(ParameterError, match="unknown metadata column\\(s\\) colour"):
        _add(lib_path, X, S, {**meta, "colour": ["red", "blue"]})
    with pytest.raises(ParameterError, match="diameter_mm.*'wide' is not a number"):
        _add(lib_path, X, S, {**meta, "diameter_mm": ["wide", 1]})
    with pytest.raises(ParameterError, match="band_levels_db must have shape \\(2, 6\\)"):
        _add(lib_path, X, S[:, :3], meta)
    with pytest.raises(ModelError, match="signature library not found"):
        _add(lib_path.with_name("none.h5"), X, S, meta)
    assert len(SignatureLibrary.open(lib_path)) == 40  # nothing of the above was written


def test_second_writer_is_refused_or_waits(lib_path, rng):
    X, S, meta = _sigs(rng, 2)
    X += 1000.0
    with writer_lock(lib_path):
        with pytest.raises(LibraryBusyError, match="library is locked by another writer"):
            _add(lib_path, X, S, meta)
    release_after = 0.3

    def hold():
        with writer_lock(lib_path):
            time.sleep(release_after)

    t = threading.Thread(target=hold)
    t.start()
    time.sleep(0.05)
    out = _add(lib_path, X, S, meta, wait_s=5.0)
    t.join()
    assert out["n_signatures"] == 42


def test_failed_write_leaves_the_library_intact(lib_path, rng, monkeypatch):
    import acoustic.library._store as store

    before = lib_path.read_bytes()
    X, S, meta = _sigs(rng, 3)
    X += 500.0

    real_append, calls = store._append, []

    def boom(ds, arr):  # fails half-way through the appends
        calls.append(ds.name)
        if len(calls) == 4:
            raise OSError("disk full (simulated)")
        real_append(ds, arr)

    monkeypatch.setattr(store, "_append", boom)
    with pytest.raises(OSError, match="disk full"):
        _add(lib_path, X, S, meta)
    monkeypatch.undo()
    assert lib_path.read_bytes() == before
    assert [p.name for p in lib_path.parent.iterdir() if p.name.endswith(".tmp")] == []
    assert len(SignatureLibrary.open(lib_path)) == 40


def test_readers_see_old_or_new_file_never_half(lib_path, rng):
    """A write replaces the file atomically: the library at any moment opens and verifies."""
    X, S, meta = _sigs(rng, 400)
    X += 100.0
    seen, errors, stop = [], [], threading.Event()

    def reader():
        while not stop.is_set():
            try:
                seen.append(len(SignatureLibrary.open(lib_path)))
            except ModelError as exc:  # pragma: no cover - this is the failure being tested for
                errors.append(str(exc))

    t = threading.Thread(target=reader)
    t.start()
    for i in range(4):
        _add(lib_path, X[i * 100:(i + 1) * 100], S[i * 100:(i + 1) * 100],
             {k: v[i * 100:(i + 1) * 100] for k, v in meta.items()})
    stop.set()
    t.join()
    assert errors == []
    assert set(seen) <= {40, 140, 240, 340, 440} and len(seen) > 0


def test_bad_library_files_are_refused(tmp_path, lib_path):
    with pytest.raises(ModelError, match="signature library not found"):
        SignatureLibrary.open(tmp_path / "nothing.h5")
    (tmp_path / "garbage.h5").write_bytes(b"\x00not hdf5 at all" * 50)
    with pytest.raises(ModelError, match="not a readable HDF5 signature library"):
        SignatureLibrary.open(tmp_path / "garbage.h5")
    raw = lib_path.read_bytes()
    (tmp_path / "cut.h5").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ModelError, match="cut.h5: (not a readable HDF5|signature library is damaged)"):
        SignatureLibrary.open(tmp_path / "cut.h5")
    with h5py.File(tmp_path / "foreign.h5", "w") as fh:
        fh["data"] = np.arange(3)
        fh.attrs["file_format"] = "ASDF"
    with pytest.raises(ModelError, match="foreign.h5: not an acoustic signature library \\(file_format 'ASDF'"):
        SignatureLibrary.open(tmp_path / "foreign.h5")


def test_tampered_or_damaged_content_is_refused(tmp_path, lib_path):
    import shutil

    t = tmp_path / "tampered.h5"
    shutil.copy(lib_path, t)
    with h5py.File(t, "r+") as fh:
        fh["metadata/label"][0] = "quiet" if fh["metadata/label"].asstr()[0] != "quiet" else "leak"
    with pytest.raises(ModelError, match="does not match its checksum"):
        SignatureLibrary.open(t)
    v = tmp_path / "version.h5"
    shutil.copy(lib_path, v)
    with h5py.File(v, "r+") as fh:
        fh.attrs["file_format_version"] = 7
    with pytest.raises(ModelError, match="format version 7 is not supported"):
        SignatureLibrary.open(v)
    d = tmp_path / "dropped.h5"
    shutil.copy(lib_path, d)
    with h5py.File(d, "r+") as fh:
        del fh["metadata/site"]
    with pytest.raises(ModelError, match="metadata column 'site' is missing"):
        SignatureLibrary.open(d)


def test_export_csv_and_json(lib_path):
    lib = SignatureLibrary.open(lib_path)
    text = export_library(lib, fmt="csv", include_bands=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 40 and rows[0]["label"] == lib.metadata["label"][0]
    assert float(rows[0]["feat_3"]) == lib.features[0, 3]
    assert rows[0]["band_315_hz_db"] == ""  # NaN band -> empty cell
    doc = json.loads(export_library(lib, fmt="json", include_features=False))
    assert doc["library"]["n_signatures"] == 40 and "feat_0" not in doc["signatures"][0]
    assert doc["columns"]["diameter_mm"]["units"] == "mm"
    with pytest.raises(ParameterError, match="csv or json"):
        export_library(lib, fmt="xml")


def test_cli_list_and_export(lib_path, tmp_path):
    r = CliRunner().invoke(cli, ["library", "list", "--library", str(lib_path), "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["n_signatures"] == 40 and s["by_label"] == {"leak": 10, "prv": 10, "pump": 10, "quiet": 10}
    r = CliRunner().invoke(cli, ["library", "list", "-L", str(lib_path)])
    assert r.exit_code == 0 and "40 signature(s)" in r.stdout and "by label: leak 10" in r.stdout
    out = tmp_path / "sigs.json"
    r = CliRunner().invoke(cli, ["library", "export", "-L", str(lib_path), "--out", str(out)])
    assert r.exit_code == 0 and len(json.loads(out.read_text())["signatures"]) == 40
    r = CliRunner().invoke(cli, ["library", "export", "-L", str(lib_path), "--no-features"])
    assert r.exit_code == 0 and r.stdout.count("\n") == 41 and "feat_0" not in r.stdout


def test_cli_library_named_the_same_way_everywhere(lib_path, tmp_path, monkeypatch):
    """Issue 21 item 1: -L/--library and $ACOUSTIC_LIBRARY; 'library list lib.h5' (old) works with a
    warning instead of 'unexpected extra argument'; a JSON document names its library; '-o -' is stdout."""
    new = CliRunner().invoke(cli, ["library", "list", "-L", str(lib_path), "--json"])
    doc = json.loads(new.stdout)
    assert doc["schema"] == "acoustic.library.list/1" and doc["library"] == str(lib_path.resolve())
    assert doc["path"] == str(lib_path)  # the old key, one release
    old = CliRunner().invoke(cli, ["library", "list", str(lib_path), "--json"])
    assert old.exit_code == 0 and json.loads(old.stdout) == doc
    assert "is deprecated" in old.stderr and "--library" in old.stderr
    monkeypatch.setenv("ACOUSTIC_LIBRARY", str(lib_path))
    assert json.loads(CliRunner().invoke(cli, ["library", "list", "--json"]).stdout) == doc
    monkeypatch.delenv("ACOUSTIC_LIBRARY")
    r = CliRunner().invoke(cli, ["library", "list", "not-a-library.txt"])
    assert r.exit_code == 2 and "unexpected extra argument" in r.stderr  # never the shipped library
    r = CliRunner().invoke(cli, ["library", "export", "-L", str(lib_path), "-o", "-", "--no-features"])
    assert r.exit_code == 0 and r.stdout.count("\n") == 41 and not (tmp_path / "-").exists()


def test_cli_bad_library_is_one_line_error(tmp_path):
    (tmp_path / "x.h5").write_text("hello")
    for args in (["library", "list", "-L", str(tmp_path / "x.h5")],
                 ["library", "export", "-L", str(tmp_path / "missing.h5")]):
        r = CliRunner().invoke(cli, args)
        assert r.exit_code == 2
        assert r.stderr.startswith("Error: ") and r.stderr.count("\n") == 1 and "Traceback" not in r.output


def test_new_library_is_world_readable_and_keeps_its_mode(tmp_path, rng):
    import stat

    X, S, meta = _sigs(rng, 3)
    path = tmp_path / "new.h5"
    _add(path, X, S, meta, create=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    path.chmod(0o640)
    _add(path, X + 1, S, meta)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_cli_match_takes_an_old_leading_library_as_L(tmp_path):
    """'library match lib.h5 x.wav' matched lib.h5 as a recording against the shipped library; now
    lib.h5 is the library (with a warning), and a missing recording among others exits 1, not 2."""
    import shutil
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    lib = tmp_path / "lib.h5"
    shutil.copy(root / "models" / "default" / "signatures.h5", lib)
    rec = root / "recordings" / "samples" / "single" / "leak_di_25m.wav"
    r = CliRunner().invoke(cli, ["library", "match", str(lib), str(rec), "-k", "2", "--json"])
    assert r.exit_code == 0, r.output
    docs = json.loads(r.stdout)
    assert [d["library"] for d in docs] == [str(lib.resolve())] and docs[0]["schema"] == "acoustic.library.match/1"
    assert len(docs[0]["nearest"]) == 2 and "is deprecated" in r.stderr
    r = CliRunner().invoke(cli, ["library", "match", "-L", str(lib), str(tmp_path / "gone.wav"), str(rec), "--json"])
    assert r.exit_code == 1 and "1 of 2 recording(s) could not be used" in r.stderr
    r = CliRunner().invoke(cli, ["library", "match", "-L", str(lib), str(tmp_path / "gone.wav")])
    assert r.exit_code == 2
