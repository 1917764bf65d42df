"""acoustic._model_card.model_card_markdown and the model-card command (acoustic.cli._model_card)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from acoustic._model_card import model_card_markdown
from acoustic.cli._model_card import model_card_cmd

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CARD = ROOT / "models" / "default" / "model_card.json"


def _leaves(value, path=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, path + (i,))
    else:
        yield path, value


def test_shipped_card_sections_and_numbers():
    card = json.loads(DEFAULT_CARD.read_text())
    md = model_card_markdown(card, title="default")
    assert md.startswith("# Model card: default\n") and md.endswith("\n") and not md.endswith("\n\n")
    heads = [ln for ln in md.splitlines() if ln.startswith("## ")]
    known = [h for h in ("## Data", "## Cross validation", "## Metrics", "## Features") if h in heads]
    assert known == [h for h in heads if h in known] and len(known) == 4  # known sections, in order
    assert f"| ROC AUC | {card['metrics']['roc_auc']:.4g} |" in md
    assert f"| threshold | {card['threshold']:.4g} |" in md
    assert f"| model SHA-256 | {card['model_sha256']} |" in md
    # every feature name is there (folded), every confusion row too
    for name in card["features"]["names"]:
        assert name in md
    for kind, row in card["metrics"]["confusion_by_kind"].items():
        assert f"| {kind} | {row['called_leak']:.4g} | {row['n']} |" in md


def test_every_key_of_an_unknown_card_is_rendered():
    card = {
        "format": "acoustic-leak-model", "threshold": 0.25, "created_utc": "2026-12-01T00:00:00Z",
        "metrics": {"n": 10, "roc_auc": None, "by": {"site": {"a": {"n": 4, "recall": 0.5}, "b": {"n": 6}}}},
        "domain": {"limits": [{"feature": "x_db", "lo": -3.5, "hi": 2e-5}], "quantile": 0.005,
                   "deep": {"deeper": {"deepest": {"d4": {"d5": {"d6": "bottom"}}}}}},
        "calibrated": {"n": 3, "note": "a | pipe\nand a newline", "flag": False, "ratio": float("nan")},
        "odd_list": [[1, 2], {"k": [3]}],
        "big": 123456.789,
        "tags": [],
    }
    md = model_card_markdown(card)
    assert md.startswith("# Model card\n")
    for head in ("## Metrics", "## Calibrated", "## Domain", "## Odd list", "## Tags", "#### Site"):
        assert head in md, head
    assert "| a | 4 | 0.5 |" in md and "| b | 6 | n/a |" in md   # a table of tables, missing cells n/a
    assert "| x_db | -3.5 | 2.000e-05 |" in md                  # a list of records as a table
    assert "a \\| pipe and a newline" in md                       # cells stay one table cell
    assert "| flag | no |" in md and "| ratio | n/a |" in md and "| big | 123456.8 |" in md
    assert "**D6**" in md or "bottom" in md
    assert '"k": [' in md                                       # anything else: as JSON
    for path, leaf in _leaves(card):
        if isinstance(leaf, str) and "|" not in leaf and "\n" not in leaf:
            assert leaf in md, path


def test_not_a_card():
    with pytest.raises(TypeError):
        model_card_markdown(["not", "a", "dict"])


def test_command(tmp_path):
    runner = CliRunner()
    res = runner.invoke(model_card_cmd, [str(DEFAULT_CARD.parent)])
    assert res.exit_code == 0, res.output
    assert res.stdout == model_card_markdown(json.loads(DEFAULT_CARD.read_text()), title="default")
    out = tmp_path / "card.md"
    res = runner.invoke(model_card_cmd, [str(DEFAULT_CARD), "-o", str(out)])
    assert res.exit_code == 0 and res.stdout == "" and out.read_text().startswith("# Model card: default")
    bad = tmp_path / "m"
    bad.mkdir()
    (bad / "model_card.json").write_text("{not json")
    res = runner.invoke(model_card_cmd, [str(bad)])
    assert res.exit_code == 2 and res.stderr.startswith("Error: ") and len(res.stderr.splitlines()) == 1
    res = runner.invoke(model_card_cmd, [str(tmp_path / "missing")])
    assert res.exit_code == 2 and "model_card.json" in res.stderr


def test_docstring_examples_run():
    import doctest

    import acoustic._model_card as mod

    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0 and res.attempted > 0
