"""The model card (``model_card.json``) rendered as Markdown, for people.

The card's content belongs to :mod:`acoustic.classify` and grows over time, so the rendering is
generic: the sections this module knows (summary, data, cross-validation, metrics, model,
features) come first in a fixed order with their usual layout; every other key of the card
follows, rendered from its JSON structure (numbers and text as a table, tables of tables as one
table, lists inline, anything deeper as sub-sections).  Nothing in the card is left out.

Examples
--------
>>> card = {"format": "acoustic-leak-model", "format_version": 1, "threshold": 0.51432,
...         "metrics": {"n": 20, "roc_auc": 0.91, "recall": None}, "new_block": {"flag": True}}
>>> print(model_card_markdown(card, title="demo"))  # doctest: +NORMALIZE_WHITESPACE
# Model card: demo
<BLANKLINE>
| | |
|---|---|
| format | acoustic-leak-model |
| format version | 1 |
| threshold | 0.5143 |
<BLANKLINE>
## Metrics
<BLANKLINE>
| | |
|---|---|
| n | 20 |
| ROC AUC | 0.91 |
| recall | n/a |
<BLANKLINE>
## New block
<BLANKLINE>
| | |
|---|---|
| flag | yes |
"""

from __future__ import annotations

import json
import math

__all__ = ["model_card_markdown", "SUMMARY_KEYS", "SECTION_ORDER"]

#: Top-level scalars shown first, in this order, in the summary table.
SUMMARY_KEYS = ("format", "format_version", "created_utc", "package_version", "python", "seed", "threshold",
                "target_false_alarm_rate", "model_file", "model_sha256")
#: Known sections, in this order; any other key of the card follows them.
SECTION_ORDER = ("data", "cross_validation", "metrics", "model", "calibrated", "level_term", "gain_sensitivity",
                 "domain", "features")
#: Lists longer than this are shown folded (``<details>``) so that the card stays readable.
FOLD_LIST_AFTER = 12

_WORDS = {"roc": "ROC", "auc": "AUC", "far": "FAR", "utc": "UTC", "sha256": "SHA-256", "cv": "CV", "hz": "Hz",
          "db": "dB", "id": "id", "ids": "ids", "l2": "L2", "sd": "s.d."}


def _title(key) -> str:
    words = [_WORDS.get(w, w) for w in str(key).split("_") if w]
    text = " ".join(words)
    return text[:1].upper() + text[1:] if text and text[0].islower() else text


def _label(key) -> str:
    return " ".join(_WORDS.get(w, w) for w in str(key).split("_") if w) or str(key)


def _scalar(v) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return "n/a"
        if v == int(v) and abs(v) < 1e15:  # 44100.0 -> 44100, not 4.41e+04
            return str(int(v))
        if abs(v) >= 1000:
            return f"{v:.1f}"
        if abs(v) >= 1e-4:
            return format(v, ".4g")
        return format(v, ".3e")
    return str(v)


def _cell(v) -> str:
    return _scalar(v).replace("|", "\\|").replace("\n", " ")


def _is_scalar(v) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


def _table(rows, header=("", "")) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out + [""]


def _list(values) -> list[str]:
    text = ", ".join(_cell(v) for v in values)
    if len(values) <= FOLD_LIST_AFTER:
        return [text or "(none)", ""]
    return [f"<details><summary>{len(values)} items</summary>", "", text, "", "</details>", ""]


def _render(value, depth: int) -> list[str]:
    """Markdown lines for one JSON value under a heading of level ``depth``."""
    if _is_scalar(value):
        return [_cell(value), ""]
    if isinstance(value, list):
        if all(_is_scalar(v) for v in value):
            return _list(value)
        if all(isinstance(v, dict) and all(_is_scalar(x) for x in v.values()) for v in value):
            cols = list(dict.fromkeys(k for v in value for k in v))
            return _table([[_cell(v.get(c)) for c in cols] for v in value], header=[_label(c) for c in cols])
        return ["```json", json.dumps(value, indent=1, sort_keys=True), "```", ""]
    if not isinstance(value, dict):  # pragma: no cover - JSON has no other kinds
        return [_cell(value), ""]
    if not value:
        return ["(none)", ""]
    scalars = {k: v for k, v in value.items() if _is_scalar(v) or (isinstance(v, list) and len(v) <= FOLD_LIST_AFTER
                                                                     and all(_is_scalar(x) for x in v))}
    nested = {k: v for k, v in value.items() if k not in scalars}
    out: list[str] = []
    if scalars:
        rows = [[_label(k), (", ".join(_cell(x) for x in v) or "(none)") if isinstance(v, list) else _cell(v)]
                for k, v in scalars.items()]
        out += _table(rows)
    inner = [v for v in nested.values()]
    # a table of tables (e.g. metrics by material): one table, rows = outer keys
    if nested and all(isinstance(v, dict) and v and all(_is_scalar(x) for x in v.values()) for v in inner) \
            and len(nested) > 1 and not scalars:
        cols = list(dict.fromkeys(k for v in inner for k in v))
        out += _table([[_cell(k)] + [_cell(v.get(c)) for c in cols] for k, v in nested.items()],
                      header=[""] + [_label(c) for c in cols])
        return out
    for k, v in nested.items():
        if depth < 6:
            out += ["#" * (depth + 1) + " " + _title(k), ""]
        else:
            out += [f"**{_title(k)}**", ""]
        out += _render(v, depth + 1)
    return out


def _features(block: dict, depth: int) -> list[str]:
    """The features section: version and counts first, the long name lists folded."""
    names = block.get("names") or []
    out = [f"Version {_cell(block.get('version'))}; {len(names)} features.", ""]
    rest = {k: v for k, v in block.items() if k != "version"}
    return out + _render(rest, depth)


def model_card_markdown(card: dict, *, title: str | None = None) -> str:
    """Render a model card (the ``model_card.json`` object) as Markdown.

    Parameters
    ----------
    card : dict
        The card as :func:`acoustic.classify.save_model` writes it (any structure is accepted).
    title : str, optional
        Shown in the heading (e.g. the model folder's name).

    Returns
    -------
    str
        Markdown text ending with one newline.
    """
    if not isinstance(card, dict):
        raise TypeError(f"a model card is a JSON object, got {type(card).__name__}")
    lines = [f"# Model card: {title}" if title else "# Model card", ""]
    summary = [(k, card[k]) for k in SUMMARY_KEYS if k in card and _is_scalar(card[k])]
    other_scalars = [(k, v) for k, v in card.items()
                     if k not in SUMMARY_KEYS and k not in SECTION_ORDER and _is_scalar(v)]
    if summary or other_scalars:
        lines += _table([[_label(k), _cell(v)] for k, v in summary + other_scalars])
    ordered = [k for k in SECTION_ORDER if k in card] + [
        k for k in card if k not in SECTION_ORDER and not (_is_scalar(card[k]) and k not in SECTION_ORDER)]
    for key in ordered:
        if key in SUMMARY_KEYS and _is_scalar(card[key]):
            continue
        value = card[key]
        lines += [f"## {_title(key)}", ""]
        if key == "features" and isinstance(value, dict):
            lines += _features(value, 2)
        else:
            lines += _render(value, 2)
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"
