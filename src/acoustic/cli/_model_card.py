"""``acoustic model-card [MODEL] [-o OUT]``: a model's card as Markdown.

Ready to be registered in ``acoustic/cli/__init__.py`` (phase B of issue 21)::

    "model-card": ("acoustic.cli._model_card", "model_card_cmd", "A model's card (model_card.json) as Markdown."),
"""

from __future__ import annotations

from pathlib import Path

import click

from ._common import command_errors
from ._conventions import note, open_output, out_option, quiet_option

__all__ = ["model_card_cmd"]


@click.command("model-card")
@click.argument("model_dir", metavar="[MODEL]", required=False, type=click.Path(path_type=Path))
@out_option("Write the Markdown here (default: stdout).")
@quiet_option
@command_errors
def model_card_cmd(model_dir, out, warnings_out):
    """Print a model's card (data, cross-validation, metrics, features, ...) as Markdown.

    MODEL is a model folder (model.skops + model_card.json) or its model_card.json; default the
    shipped models/default.  Only the card is read: the model file is not loaded.
    """
    from .._errors import ModelError
    from .._model_card import model_card_markdown
    from ..io import read_json_file

    if model_dir is None:
        from ..classify import default_model_dir

        model_dir = default_model_dir()
    card_path = model_dir if model_dir.suffix.lower() == ".json" else model_dir / "model_card.json"
    card = read_json_file(card_path, what="model card", error=ModelError)
    folder = card_path.parent
    text = model_card_markdown(card, title=folder.name or str(folder))
    with open_output(out if out is not None else "-") as fh:
        fh.write(text)
    if out is not None and str(out) != "-":
        note(f"wrote {out}")
