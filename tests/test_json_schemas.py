"""Every ``--json`` output validates against its JSON Schema in docs/schemas/ (issue 21).

Each command runs through click's CliRunner on the shipped samples or on small data made here.
Two tests per schema:

- ``test_output_matches_schema``: the document validates with the keys the commands do not emit
  yet relaxed (``schema`` and the inputs each schema lists under ``x-phase-b-required``);
  everything else (types, units, required contract keys) is checked now;
- ``test_output_carries_schema_key``: the same document against the full schema; it fails today
  wherever phase B still has to add ``schema`` and the inputs, so it is marked
  ``xfail(strict=True)``: when a command starts emitting them the test passes, strict xfail
  turns that into a failure, and the mark is removed (``PHASE_B`` below).

Documents are made once per test session, even under pytest-xdist: the first worker that needs a
scenario runs it under a file lock and stores the documents; the others read them.
"""

from __future__ import annotations

import copy
import fcntl
import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

jsonschema = pytest.importorskip("jsonschema")
referencing = pytest.importorskip("referencing")

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "docs" / "schemas"
SAMPLES = ROOT / "recordings" / "samples"
SINGLE = SAMPLES / "single"
DISTRICT = SAMPLES / "district"

#: Every command that takes --json -> its schema (docs/schemas/<name>.schema.json).
COMMAND_SCHEMAS = {
    "correlate": "correlate", "velocity": "velocity", "features": "features", "classify": "classify",
    "train": "train", "evaluate": "evaluate", "survey": "survey", "report": "report",
    "library build": "library.build", "library add": "library.add", "library list": "library.list",
    "library match": "library.match",
    "loggers stats": "loggers.stats", "loggers score": "loggers.score", "loggers evaluate": "loggers.evaluate",
    "simulate pair": "simulate.pair", "simulate recording": "simulate.recording", "simulate survey": "simulate.survey",
    "simulate dataset": "simulate.dataset",
    "batch run": "batch.run", "batch status": "batch.status",
    "ledger list": "ledger.list", "ledger show": "ledger.show", "ledger dispatch": "ledger.dispatch",
    "ledger confirm": "ledger.confirm", "ledger stats": "ledger.stats", "ledger amend": "ledger.amend",
    "ledger undo": "ledger.undo", "ledger history": "ledger.history", "ledger grade": "ledger.grade",
    "simulate ledger": "simulate.ledger",
}
#: Commands with --json arriving from other branches now; their schemas are written in phase B.
PENDING_COMMANDS = {"ledger add", "loggers simulate"}  # (ledger add: validated in test_ledger_pairs.py)
#: Schemas whose documents already carry "schema" and their inputs (the others are phase B's).
EMITS_SCHEMA = {
    "simulate.dataset", "simulate.pair", "simulate.recording", "simulate.ledger",
    "library.build", "library.add", "library.list", "library.match",
    "batch.run", "batch.status", "report",
    "ledger.list", "ledger.show", "ledger.dispatch", "ledger.confirm", "ledger.amend", "ledger.undo",
    "ledger.history", "ledger.stats", "ledger.grade",
    "correlate", "velocity", "survey", "loggers.score", "loggers.evaluate",
}
#: Schemas of files a user writes (not command outputs), checked on the shipped samples.
FILE_SCHEMAS = {"sidecar", "pipe", "model-card"}


# -- schemas -----------------------------------------------------------------------------------
def _load_schemas() -> dict:
    return {p.name[: -len(".schema.json")]: json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(SCHEMAS.glob("*.schema.json"))}


ALL_SCHEMAS = _load_schemas()
REGISTRY = referencing.Registry().with_resources(
    [(s["$id"], referencing.Resource.from_contents(s)) for s in ALL_SCHEMAS.values()])


def relax(schema):
    """The schema without the requirements phase B adds (``x-phase-b-required`` of each object)."""
    if isinstance(schema, dict):
        out = {k: relax(v) for k, v in schema.items()}
        later = schema.get("x-phase-b-required")
        if later and "required" in schema:
            out["required"] = [r for r in schema["required"] if r not in later]
        return out
    if isinstance(schema, list):
        return [relax(v) for v in schema]
    return schema


def errors(schema: dict, document) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema, registry=REGISTRY)
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}"
            for e in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))]


# -- running commands --------------------------------------------------------------------------
def invoke(args, expect: int = 0, command=None):
    """Run ``acoustic ARGS`` in-process (exit code checked)."""
    from acoustic.cli import cli

    res = CliRunner().invoke(command or cli, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == expect, f"acoustic {' '.join(map(str, args))}: exit {res.exit_code}\n{res.output}"
    return res


def run(args, expect: int = 0, command=None):
    """Run ``acoustic ARGS`` in-process; return its stdout parsed as JSON."""
    return json.loads(invoke(args, expect, command).stdout)


def _scenario_pairs(ws: Path) -> dict:
    pvc, metal = SAMPLES / "pvc_pair", SAMPLES / "metal_pair"
    sim = run(["simulate", "pair", "--out", ws / "beyond", "--distance", 150, "--material", "ductile_iron",
               "--leak-m", 0, "--snr-db", 10, "--duration", 10, "--seed", 5, "--json"])
    run(["simulate", "pair", "--out", ws / "noise", "--distance", 100, "--material", "pvc", "--leak-m", 30,
         "--snr-db", -40, "--duration", 10, "--offset-s", 0, "--seed", 7, "--json"])
    return {
        "correlate (pvc pair)": ("correlate", run(["correlate", pvc / "A.wav", pvc / "B.wav", "--pipe",
                                                   pvc / "pipe.json", "--json"])),
        "correlate (metal pair)": ("correlate", run(["correlate", metal / "A.wav", metal / "B.wav", "--pipe",
                                                     metal / "pipe.json", "--json"])),
        "correlate (nothing found)": ("correlate", run(["correlate", ws / "noise/A.wav", ws / "noise/B.wav",
                                                        "--pipe", ws / "noise/pipe.json", "--json"])),
        "velocity": ("velocity", run(["velocity", ws / "beyond/A.wav", ws / "beyond/B.wav", "--distance", 150,
                                      "--source", "beyond-a", "--min-speed", 500, "--json"])),
        "simulate pair": ("simulate.pair", sim),
    }


def _scenario_singles(ws: Path) -> dict:
    recs = [SINGLE / "leak_di_25m.wav", SINGLE / "noleak_hum.wav"]
    return {
        "features": ("features", run(["features", *recs, "--json"])),
        "classify": ("classify", run(["classify", *recs, "--json"])),
        "classify (no library)": ("classify", run(["classify", recs[1], "--no-library", "--json"])),
        "library list (shipped)": ("library.list", run(["library", "list", "--json"])),
        "library match": ("library.match", run(["library", "match", recs[0], "--k", 2, "--json"])),
        "simulate recording": ("simulate.recording", run(["simulate", "recording", "--out", ws / "rec.wav",
                                                          "--leak-distance-m", 40, "--noise", "traffic",
                                                          "--duration", 2, "--seed", 3, "--json"])),
    }


def _scenario_dataset(ws: Path) -> dict:
    ds = ws / "set"
    made = run(["simulate", "dataset", "-o", ds, "--n", 12, "--per-site", 2, "--seed", 21, "--duration", 2,
                "--sample-rate", 4000, "--json"])
    lib = ws / "lib.h5"
    out = {
        "simulate dataset": ("simulate.dataset", made),
        "library build": ("library.build", run(["library", "build", ds, "-L", lib, "--json"])),
        "library add": ("library.add", run(["library", "add", ds / "site0000_0.wav", "-L", lib, "--label", "pump",
                                            "--json"])),
        "library list (built)": ("library.list", run(["library", "list", "-L", lib, "--json"])),
        "train": ("train", run(["train", ds, "-o", ws / "model", "--folds", 2, "--json"])),
    }
    out["evaluate"] = ("evaluate", run(["evaluate", ds, "--model", ws / "model", "--json"]))
    return out


def _scenario_loggers(ws: Path) -> dict:
    stats = ws / "stats.csv"
    invoke(["loggers", "simulate", "--loggers", 9, "--seed", 3, "--out", stats])
    return {
        "loggers stats": ("loggers.stats", run(["loggers", "stats", DISTRICT / "recordings" / "L01", "--json"])),
        "loggers score": ("loggers.score", run(["loggers", "score", stats, "--json"])),
        "loggers score (as of)": ("loggers.score", run(["loggers", "score", stats, "--as-of", "2026-09-20",
                                                        "--json"])),
        "loggers evaluate": ("loggers.evaluate", run(["loggers", "evaluate", "--loggers", 20, "--nights", 30,
                                                      "--json"])),
    }


def _scenario_survey(ws: Path) -> dict:
    return {
        "survey (sample district)": ("survey", run(["survey", DISTRICT, "--json"])),
        "simulate survey": ("simulate.survey", run(["simulate", "survey", "--out", ws / "sim", "--nights", 1,
                                                    "--duration", 4, "--sample-rate", 4000, "--seed", 1, "--json"])),
    }


def _scenario_ledger(ws: Path) -> dict:
    uploads = ws / "uploads"
    for logger in ("L01", "L02", "L03", "L04"):
        shutil.copytree(DISTRICT / "recordings" / logger, uploads / logger)
    shutil.copy(DISTRICT / "stats.csv", uploads / "district_stats.csv")
    ledger = ws / "ledger.db"
    out = {"batch run": ("batch.run", run(["batch", "run", uploads, "--ledger", ledger, "--survey", DISTRICT,
                                           "--jobs", 0, "--json"]))}
    out["batch status"] = ("batch.status", run(["batch", "status", ledger, "--json"]))
    suspects = run(["ledger", "list", ledger, "--json"])
    out["ledger list"] = ("ledger.list", suspects)
    point = next(s["id"] for s in suspects if s["kind"] == "point")
    line = next(s["id"] for s in suspects if s["kind"] == "line")
    out["ledger show (point)"] = ("ledger.show", run(["ledger", "show", ledger, point, "--json"]))
    out["ledger show (line)"] = ("ledger.show", run(["ledger", "show", ledger, line, "--json"]))
    out["ledger dispatch"] = ("ledger.dispatch", run(["ledger", "dispatch", ledger, point, "--crew", "A", "--json"]))
    out["ledger confirm"] = ("ledger.confirm", run(["ledger", "confirm", ledger, point, "--found-at-m", 61.0,
                                                    "--json"]))
    out["ledger history"] = ("ledger.history", run(["ledger", "history", ledger, point, "--json"]))
    out["ledger amend"] = ("ledger.amend", run(["ledger", "amend", ledger, point, "--found-at-m", 60.5, "--reason",
                                                "tape read again", "--by", "office", "--json"]))
    out["ledger undo"] = ("ledger.undo", run(["ledger", "undo", ledger, point, "--reason", "wrong suspect",
                                              "--by", "office", "--json"]))
    out["ledger stats"] = ("ledger.stats", run(["ledger", "stats", ledger, "--json"]))
    out["report (ledger)"] = ("report", run(["report", "--ledger", ledger, "--out", ws / "report", "--json"]))
    # a second upload folder with a file that is not audio: quarantined, exit code 3
    bad = ws / "uploads-bad" / "L01"
    shutil.copytree(DISTRICT / "recordings" / "L01", bad)
    (bad / "broken.wav").write_bytes(b"not audio at all")
    (bad / "broken.json").write_text('{"sensor_id": "L01"}')
    bad_ledger = ws / "bad.db"
    out["batch run (quarantined)"] = ("batch.run", run(["batch", "run", bad.parent, "--ledger", bad_ledger,
                                                        "--no-model", "--jobs", 0, "--json"], expect=3))
    out["batch status (quarantined)"] = ("batch.status", run(["batch", "status", bad_ledger, "--json"]))
    return out


def _scenario_history(ws: Path) -> dict:
    made = run(["simulate", "ledger", "--out", ws / "hist", "--seed", 1, "--years", 1, "--end", "2026-10-31",
                "--json"])
    return {
        "simulate ledger": ("simulate.ledger", made),
        "ledger grade": ("ledger.grade", run(["ledger", "grade", ws / "hist" / "ledger.db", "--survey",
                                              ws / "hist" / "survey", "--json"])),
    }


SCENARIOS = {
    "pairs": _scenario_pairs, "singles": _scenario_singles, "dataset": _scenario_dataset,
    "loggers": _scenario_loggers, "survey": _scenario_survey, "ledger": _scenario_ledger,
    "history": _scenario_history,
}
#: Schema -> the scenario that makes its documents.
SCENARIO_OF = {
    "correlate": "pairs", "velocity": "pairs", "simulate.pair": "pairs",
    "features": "singles", "classify": "singles", "library.match": "singles", "simulate.recording": "singles",
    "library.list": "singles",
    "simulate.dataset": "dataset", "library.build": "dataset", "library.add": "dataset", "train": "dataset",
    "evaluate": "dataset",
    "loggers.stats": "loggers", "loggers.score": "loggers", "loggers.evaluate": "loggers",
    "survey": "survey", "simulate.survey": "survey",
    "batch.run": "ledger", "batch.status": "ledger", "ledger.list": "ledger", "ledger.show": "ledger",
    "ledger.dispatch": "ledger", "ledger.confirm": "ledger", "ledger.stats": "ledger", "report": "ledger",
    "ledger.history": "ledger", "ledger.amend": "ledger", "ledger.undo": "ledger",
    "simulate.ledger": "history", "ledger.grade": "history",
}
SLOW = {"survey", "ledger", "dataset", "history"}


def _session_folder(tmp_path_factory) -> Path:
    """A folder of this test session that every pytest-xdist worker shares (the session's base
    folder; a worker's own base folder is inside it). Without xdist: the base folder itself."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def documents_of(tmp_path_factory):
    """scenario name -> {document name: (schema name, document)}, made once per session."""
    shared = _session_folder(tmp_path_factory)

    def get(scenario: str) -> dict:
        store = shared / f"json-schemas-{scenario}.json"
        with open(shared / f"json-schemas-{scenario}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not store.exists():
                ws = shared / f"json-schemas-{scenario}"
                if ws.exists():
                    shutil.rmtree(ws)
                ws.mkdir()
                docs = SCENARIOS[scenario](ws)
                tmp = store.with_suffix(".tmp")
                tmp.write_text(json.dumps(docs), encoding="utf-8")
                tmp.replace(store)
        return {k: tuple(v) for k, v in json.loads(store.read_text(encoding="utf-8")).items()}

    return get


def _docs(documents_of, schema_name):
    docs = [(name, doc) for name, (sch, doc) in documents_of(SCENARIO_OF[schema_name]).items() if sch == schema_name]
    assert docs, f"scenario {SCENARIO_OF[schema_name]} made no {schema_name} document"
    return docs


def _params(strict: bool):
    out = []
    for name in sorted(SCENARIO_OF):
        marks = [pytest.mark.slow] if SCENARIO_OF[name] in SLOW else []
        if strict and name not in EMITS_SCHEMA:
            marks.append(pytest.mark.xfail(strict=True, reason="phase B: emits schema key and its inputs"))
        out.append(pytest.param(name, marks=marks, id=name))
    return out


# -- the tests ---------------------------------------------------------------------------------
def doc_value(doc, key):
    return (doc[0] if isinstance(doc, list) else doc)[key]


@pytest.mark.parametrize("schema_name", _params(strict=False))
def test_output_matches_schema(documents_of, schema_name):
    schema = relax(ALL_SCHEMAS[schema_name])
    for name, doc in _docs(documents_of, schema_name):
        assert not errors(schema, doc), f"{name}:\n" + "\n".join(errors(schema, doc))
        # the schema has teeth: the same document without a required key, or with a key of the wrong
        # type, is refused
        top = schema["items"] if schema.get("type") == "array" else schema
        key = next(k for k in top["required"] if k != "schema")
        broken = copy.deepcopy(doc)
        target = broken[0] if isinstance(broken, list) and broken else broken
        if isinstance(target, dict) and key in target:
            del target[key]
            assert errors(schema, broken), f"{name}: still valid without {key!r}"
            target[key] = 12345 if isinstance(doc_value(doc, key), str) else "text"
            assert errors(schema, broken), f"{name}: still valid with {key!r} of another type"


@pytest.mark.parametrize("schema_name", _params(strict=True))
def test_output_carries_schema_key(documents_of, schema_name):
    schema = ALL_SCHEMAS[schema_name]
    for name, doc in _docs(documents_of, schema_name):
        assert not errors(schema, doc), f"{name}:\n" + "\n".join(errors(schema, doc))
        items = doc if isinstance(doc, list) else [doc]
        assert all(item.get("schema") == schema["x-acoustic-schema"] for item in items)


def test_schema_files_are_valid_draft_2020_12():
    assert ALL_SCHEMAS, f"no schemas in {SCHEMAS}"
    for name, schema in ALL_SCHEMAS.items():
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema", name
        assert schema["$id"] == f"urn:acoustic:schemas:{name}", name
        if name in COMMAND_SCHEMAS.values():
            top = schema["items"] if schema.get("type") == "array" else schema
            kind = schema["x-acoustic-schema"]
            assert top["properties"]["schema"] == {"const": kind, "description": top["properties"]["schema"]
                                                   ["description"]}, name
            assert "schema" in top["required"], f"{name}: the schema key must be required"
            assert kind == f"acoustic.{name}/1", name
            assert set(top.get("x-phase-b-required", [])) <= set(top["required"]), name


def test_every_json_command_has_a_schema():
    """Walk the command tree: a command with --json needs a schema (or is listed as pending)."""
    import click

    from acoustic.cli import cli

    found = set()

    def walk(cmd, path):
        ctx = click.Context(cmd)
        if isinstance(cmd, click.Group):
            for sub in cmd.list_commands(ctx):
                walk(cmd.get_command(ctx, sub), path + [sub])
        elif any(isinstance(p, click.Option) and "--json" in p.opts for p in cmd.params):
            found.add(" ".join(path))

    walk(cli, [])
    missing = found - set(COMMAND_SCHEMAS) - PENDING_COMMANDS
    assert not missing, f"commands with --json but no schema: {sorted(missing)}"
    assert set(COMMAND_SCHEMAS) - found == set(), "schemas for commands that have no --json"
    for cmd, name in COMMAND_SCHEMAS.items():
        assert name in ALL_SCHEMAS and name in SCENARIO_OF, cmd


@pytest.mark.parametrize("path, schema_name", [
    *[(p, "sidecar") for p in sorted(SAMPLES.rglob("*.json"))
      if not p.name.endswith(".truth.json") and p.name not in ("pipe.json", "truth.json")],
    *[(p, "pipe") for p in sorted(SAMPLES.rglob("pipe.json"))],
    (ROOT / "models" / "default" / "model_card.json", "model-card"),
], ids=lambda v: str(v.relative_to(ROOT)) if isinstance(v, Path) else v)
def test_shipped_files_match_their_format_schema(path, schema_name):
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert not errors(ALL_SCHEMAS[schema_name], doc), "\n".join(errors(ALL_SCHEMAS[schema_name], doc))


@pytest.mark.parametrize("schema_name, bad", [
    ("sidecar", {"sensor_kind": "microphone"}),
    ("sidecar", {"gain_db": 500}),
    ("pipe", {"segments": []}),
    ("pipe", {"segments": [{"material": "lead", "length_m": 10}]}),
    ("pipe", {"segments": [{"material": "pvc", "length_m": -1}]}),
])
def test_format_schemas_refuse_bad_files(schema_name, bad):
    assert errors(ALL_SCHEMAS[schema_name], bad)
