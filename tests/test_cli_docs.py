"""docs/cli.md matches --help (issue 21): every option of the commands it documents is named there.

The commands of the conventions branch are checked here; the other commands join as their
branches document their options (``CHECKED``).
"""

from __future__ import annotations

from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")

#: Commands whose every option must appear in docs/cli.md.
CHECKED = (
    "ledger list", "ledger show", "ledger dispatch", "ledger confirm", "ledger amend", "ledger undo", "ledger history",
    "ledger add", "ledger stats", "ledger export", "ledger grade",
    "library build", "library add", "library list", "library match", "library export",
    "batch run", "batch status", "report", "model-card",
    "simulate pair", "simulate recording", "simulate dataset", "simulate ledger",
)


def _command(path: str) -> click.Command:
    from acoustic.cli import cli

    cmd = cli
    for name in path.split():
        cmd = cmd.get_command(click.Context(cmd), name)
        assert cmd is not None, path
    return cmd


def _options(cmd: click.Command) -> list[str]:
    """The long names of the options --help shows (hidden ones, the old spellings, are not shown)."""
    out = []
    for p in cmd.params:
        if isinstance(p, click.Option) and not p.hidden:
            out += [o for o in (*p.opts, *p.secondary_opts) if o.startswith("--") and o != "--help"]
    return out


@pytest.mark.parametrize("path", CHECKED)
def test_every_option_in_help_is_in_the_docs(path):
    cmd = _command(path)
    missing = [o for o in _options(cmd) if not any(f"{c}{o}" in DOC for c in "`[ /|(")]
    assert not missing, f"acoustic {path}: options in --help but not in docs/cli.md: {missing}"


@pytest.mark.parametrize("path", CHECKED)
def test_every_command_is_in_the_docs(path):
    """A heading or table line names the command (``ledger confirm|amend`` names both)."""
    *group, name = path.split()
    assert any(name in line and all(g in line for g in group) for line in DOC.splitlines()
               if line.startswith(("#", "|"))), path
