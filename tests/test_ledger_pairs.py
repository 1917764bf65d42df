"""Pair jobs (issue 20, problem 5): a crew's 'acoustic correlate --json' enters the ledger and gets
a report (correlogram, interval, dig sheet from the sensors); a result without the pair's files,
sensors, start times and pipe is refused with what is missing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from acoustic.cli import cli

PAIR = Path(__file__).resolve().parents[1] / "recordings" / "samples" / "pvc_pair"


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """The sample PVC pair correlated, its JSON with the schema-1 pair keys (files relative to it)."""
    root = tmp_path_factory.mktemp("pair")
    for name in ("A.wav", "A.json", "B.wav", "B.json", "pipe.json"):
        shutil.copy(PAIR / name, root / name)
    r = CliRunner().invoke(cli, ["correlate", str(root / "A.wav"), str(root / "B.wav"), "--pipe",
                                 str(root / "pipe.json"), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    bare = root / "bare.json"
    bare.write_text(json.dumps({k: v for k, v in doc.items() if k not in ("files", "sensor_ids", "start_times",
                                                                          "pipe", "schema")}))
    sides = [json.loads((root / f"{s}.json").read_text()) for s in "AB"]
    doc.update(schema="acoustic.correlate/1", files=["A.wav", "B.wav"], sensor_ids=[s["sensor_id"] for s in sides],
               start_times=[s["start_time"] for s in sides], pipe=json.loads((root / "pipe.json").read_text()))
    full = root / "corr.json"
    full.write_text(json.dumps(doc))
    truth = json.loads((PAIR / "truth.json").read_text())
    return {"root": root, "bare": bare, "full": full, "doc": doc, "truth": truth}


def run(*args):
    return CliRunner().invoke(cli, [*map(str, args)])


def test_result_without_pair_keys_says_what_is_missing(pair, tmp_path):
    r = run("ledger", "add", "-l", tmp_path / "l.db", pair["bare"])
    assert r.exit_code == 2 and r.stderr.startswith("Error: ") and "\n" not in r.stderr.strip()
    assert "lacks files, sensor_ids, start_times, pipe" in r.stderr and "acoustic.correlate/1" in r.stderr
    r = run("report", pair["bare"], "--out", tmp_path / "rep")
    assert r.exit_code == 2 and "lacks files" in r.stderr
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(dict(pair["doc"], sensor_ids=["L1", "L1"])))
    r = run("ledger", "add", "-l", tmp_path / "l.db", bad)
    assert r.exit_code == 2 and "same sensor twice" in r.stderr


def _valid(name: str, doc) -> None:
    """``doc`` validates against docs/schemas/<name>.schema.json (when jsonschema is installed)."""
    jsonschema = pytest.importorskip("jsonschema")
    referencing = pytest.importorskip("referencing")
    from pathlib import Path

    schemas = [json.loads(p.read_text()) for p in (Path(__file__).resolve().parents[1] / "docs" / "schemas").glob("*.json")]
    registry = referencing.Registry().with_resources(
        [(s["$id"], referencing.Resource.from_contents(s)) for s in schemas])
    schema = next(s for s in schemas if s["$id"] == f"urn:acoustic:schemas:{name}")
    errors = [e.message for e in jsonschema.Draft202012Validator(schema, registry=registry).iter_errors(doc)]
    assert not errors, errors


def test_pair_job_enters_once_and_is_dug_from_either_sensor(pair, tmp_path):
    led = tmp_path / "l.db"
    r = run("ledger", "add", "-l", led, pair["full"], "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    _valid("ledger.add", out)
    assert out["schema"] == "acoustic.ledger.add/1" and out["ledger"] == str(led.resolve())
    s = out["suspect"]
    assert s["interval_m"] == [s["interval_lo_m"], s["interval_hi_m"]]
    a, b = pair["doc"]["sensor_ids"]
    assert out["action"] == "new" and s["origin"] == "pair" and s["pipe_id"] == f"pair:{a}-{b}"
    assert s["offset_m"] == pytest.approx(pair["doc"]["distance_from_a_m"]) and s["spacing_m"] == pytest.approx(76.0)
    assert json.loads(run("ledger", "add", "-l", led, pair["full"], "--json").stdout)["action"] == "unchanged"
    # the crew measured from sensor B, as the dig sheet offers
    leak_b = pair["truth"]["distance_from_b_m"]
    r = run("ledger", "confirm", "-l", led, s["id"], "--found-at-m", leak_b, "--from-node", b, "--json")
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert got["found_at_m"] == pytest.approx(pair["truth"]["leak_m"])
    assert got["error_m"] == pytest.approx(abs(pair["truth"]["leak_m"] - pair["doc"]["distance_from_a_m"]))
    r = run("ledger", "confirm", "-l", led, s["id"], "--found-at-m", 80, "--from-node", b)
    assert r.exit_code == 2  # already has an outcome (and 80 m is off the 76 m path)
    r = run("ledger", "amend", "-l", led, s["id"], "--found-at-m", 80, "--reason", "x")
    assert r.exit_code == 2 and "off pair path" in r.stderr
    st = json.loads(run("ledger", "stats", "-l", led, "--json").stdout)
    assert st["leaks_found"] == 1 and st["payable"]["count"] == int(got["error_m"] <= 1.0)


def test_same_pair_reversed_updates_its_suspect(pair, tmp_path):
    led = tmp_path / "l.db"
    assert run("ledger", "add", "-l", led, pair["full"]).exit_code == 0
    d = dict(pair["doc"])
    L = 76.0
    d.update(files=d["files"][::-1], sensor_ids=d["sensor_ids"][::-1],
             start_times=[t.replace("02:00", "03:00") for t in d["start_times"][::-1]],
             distance_from_a_m=L - d["distance_from_a_m"] + 0.5,
             interval_m=[L - d["interval_m"][1], L - d["interval_m"][0]])
    rev = pair["root"] / "rev.json"
    rev.write_text(json.dumps(d))
    out = json.loads(run("ledger", "add", "-l", led, rev, "--json").stdout)
    assert out["action"] == "updated"
    rows = json.loads(run("ledger", "list", "-l", led, "--json").stdout)
    assert len(rows) == 1 and rows[0]["from_logger"] == pair["doc"]["sensor_ids"][0]
    assert rows[0]["offset_m"] == pytest.approx(pair["doc"]["distance_from_a_m"] - 0.5)


def test_report_of_a_pair_result(pair, tmp_path):
    from test_report import parse_html

    out = tmp_path / "rep"
    r = run("report", pair["full"], "--out", out, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    (sp,) = doc["suspects"]
    assert sp["origin"] == "pair" and set(sp["plots"]) == {"correlogram", "coherence"}
    a, b = pair["doc"]["sensor_ids"]
    tree = parse_html((out / "index.html").read_text())
    sheet = tree.find("div", cls="digsheet")
    text = sheet.all_text()
    near = a if pair["doc"]["distance_from_a_m"] <= 38 else b
    assert f"along the pipe from sensor {near}" in text and "sensor A" in text and "sensor B" in text
    assert "network was not available" not in text
    assert tree.find("img", data_plot="correlogram") is not None


def test_report_of_a_ledger_with_a_pair_job(pair, tmp_path):
    led = tmp_path / "l.db"
    assert run("ledger", "add", "-l", led, pair["full"]).exit_code == 0
    r = run("report", "--ledger", led, "--out", tmp_path / "rep", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["suspects"][0]["origin"] == "pair" and "correlogram" in doc["suspects"][0]["plots"]
    assert "names no survey folder" not in r.stderr


def _as_conventions(doc: dict, **changes) -> dict:
    """The correlate JSON as docs/cli.md's conventions write it: ``files``, ``sensor_ids`` and
    ``start_times`` as ``{"a": ..., "b": ...}`` (start times null when unknown), ``pipe`` as the pipe
    used (``length_m``, ``segments``, ``given``)."""
    out = dict(doc)
    for key in ("files", "sensor_ids", "start_times"):
        out[key] = {"a": doc[key][0], "b": doc[key][1]}
    out["pipe"] = {"length_m": 76.0, "segments": doc["pipe"]["segments"], "given": {"pipe_json": "pipe.json"}}
    out.update(changes)
    return out


def test_pair_job_in_the_conventions_form(pair, tmp_path):
    """The pair keys as the correlator writes them (objects a/b, start times possibly unknown) enter
    the ledger and the report as the list form does."""
    conv = pair["root"] / "conv.json"
    conv.write_text(json.dumps(_as_conventions(pair["doc"])))
    led = tmp_path / "l.db"
    r = run("ledger", "add", "-l", led, conv, "--json")
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)["suspect"]
    a, b = pair["doc"]["sensor_ids"]
    assert s["pipe_id"] == f"pair:{a}-{b}" and s["night"] == pair["doc"]["start_times"][0][:10]
    untimed = pair["root"] / "untimed.json"
    untimed.write_text(json.dumps(_as_conventions(pair["doc"], start_times={"a": None, "b": None})))
    led2 = tmp_path / "l2.db"
    first = run("ledger", "add", "-l", led2, untimed, "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(run("ledger", "add", "-l", led2, untimed, "--json").stdout)["action"] == "unchanged"
    r = run("report", untimed, "--out", tmp_path / "rep", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["suspects"][0]["origin"] == "pair"


def test_pair_position_rounded_below_zero_is_clamped(pair, tmp_path):
    """A leak at sensor A written -0.02 m (rounding) is clamped as 76.02 m on a 76 m path is: the
    rounding tolerance holds at both ends."""
    doc = dict(pair["doc"], distance_from_a_m=-0.02, interval_m=[-0.5, 0.6])
    at_a = pair["root"] / "at_a.json"
    at_a.write_text(json.dumps(doc))
    r = run("ledger", "add", "-l", tmp_path / "l.db", at_a, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["suspect"]["offset_m"] == 0.0
