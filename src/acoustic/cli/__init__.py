"""The ``acoustic`` command line: one click group whose subcommands load on demand.

``acoustic --help`` imports no numpy, scipy or numba: each subcommand lives in its own
module under :mod:`acoustic.cli` and is imported only when it runs (or its help is asked).
"""

from __future__ import annotations

import importlib

import click

from .. import __version__

#: name -> (module, attribute, one-line help shown by ``acoustic --help``)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "correlate": ("acoustic.cli.correlate", "correlate", "Locate a leak between two synchronized sensors."),
    "velocity": ("acoustic.cli.correlate", "velocity", "Measure the wave speed in place from a known source outside the pair."),
    "simulate": ("acoustic.cli.simulate", "simulate", "Make physics-based synthetic recordings with a truth file."),
    "features": ("acoustic.cli.features", "features", "Spectral and stationarity features of recordings."),
    "loggers": ("acoustic.cli.loggers", "loggers", "Noise-logger nightly statistics and leak scores."),
    "library": ("acoustic.cli.library", "library", "Leak-noise signature library: build, add, list, match, export."),
    "classify": ("acoustic.cli.classify", "classify", "Leak probability of recordings, with the nearest library signatures."),
    "train": ("acoustic.cli.classify", "train", "Train a leak classifier on a labelled dataset (site-grouped CV)."),
    "evaluate": ("acoustic.cli.classify", "evaluate", "Evaluate a trained classifier on a held-out labelled dataset."),
    "survey": ("acoustic.cli.survey", "survey", "Narrow leak suspects from area to line to point on a pipe network."),
    "batch": ("acoustic.cli.batch", "batch", "Nightly batch runs on logger uploads into the ledger."),
    "ledger": ("acoustic.cli.ledger", "ledger", "Suspects, dig outcomes and contractor statistics in the ledger."),
    "report": ("acoustic.cli.report", "report", "Self-contained HTML field report for crews and contractors."),
    "model-card": ("acoustic.cli._model_card", "model_card_cmd", "A model's card (model_card.json) as Markdown."),
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when that subcommand is used."""

    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, cmd_name):
        spec = COMMANDS.get(cmd_name)
        if spec is None:
            return None
        try:
            module = importlib.import_module(spec[0])
        except ModuleNotFoundError as exc:  # a command whose optional extra is not installed
            if exc.name and exc.name.startswith("acoustic"):
                raise
            return _missing_extra(cmd_name, exc.name)
        return getattr(module, spec[1])

    def format_commands(self, ctx, formatter):
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _missing_extra(name: str, module: str | None) -> click.Command:
    @click.command(name, context_settings={"ignore_unknown_options": True})
    @click.argument("args", nargs=-1)
    def stub(args):
        raise click.ClickException(f"'{name}' needs the optional package {module}; install acoustic[all]")

    return stub


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="acoustic")
def cli():
    """Find leaks in buried water mains from sound.

    Lengths in metres, times in seconds, frequencies in Hz, levels in dB.
    With --json a command prints exactly one JSON document on stdout; logs and
    warnings go to stderr.
    """


def main(argv=None):
    """Console-script entry point: usage errors exit 2, Ctrl-C exits 130 with ``Error: interrupted``
    (see :func:`acoustic.cli._conventions.run_standalone`)."""
    from ._conventions import run_standalone

    run_standalone(cli, argv, prog_name="acoustic")
