"""acoustic.cli._conventions: the pieces every command uses to follow docs/cli.md."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from acoustic.cli._conventions import (EXIT_INTERRUPTED, check_stdout_users, ledger_option, legacy_leading_path,
                                       library_option, looks_like_hdf5, looks_like_sqlite, make_progress,
                                       open_output, out_option, progress_options, renamed_options, run_standalone)


def _ledger(path: Path) -> Path:
    sqlite3.connect(path).execute("create table t (x)").connection.close()
    return path


@legacy_leading_path("--ledger", looks_like_sqlite, env="ACOUSTIC_LEDGER")
@renamed_options({"--csv": "--out", "--no-model": ("--model", "none"), "--tsv": ("--kind", "tsv", "-o")})
@click.command("list")
@ledger_option()
@click.argument("suspect", type=int, required=False)
@click.option("--kind")
@click.option("--note")
@click.option("--model", default="default")
@click.option("--flag", is_flag=True)
@out_option("Write the CSV here.")
def demo(ledger_path, suspect, kind, note, model, flag, out):
    click.echo(f"ledger={ledger_path} suspect={suspect} kind={kind} note={note} model={model} flag={flag} out={out}")


def run(args, env=None):
    return CliRunner().invoke(demo, args, prog_name="acoustic ledger list", env=env or {"ACOUSTIC_LEDGER": None})


# -- the store options -----------------------------------------------------------------------
def test_ledger_option_and_its_environment_default(tmp_path):
    led = str(_ledger(tmp_path / "l.db"))
    assert run(["--ledger", led]).stdout.startswith(f"ledger={led} ")
    assert run(["-l", led, "7"]).stdout.startswith(f"ledger={led} suspect=7 ")
    assert run([], env={"ACOUSTIC_LEDGER": led}).stdout.startswith(f"ledger={led} ")
    res = run([])
    assert res.exit_code == 2 and "Missing option '--ledger'" in res.stderr
    assert "ACOUSTIC_LEDGER" in run(["--help"]).stdout


def test_library_option_reads_its_environment(tmp_path):
    @click.command()
    @library_option()
    def cmd(library_path):
        click.echo(str(library_path))

    assert CliRunner().invoke(cmd, [], env={"ACOUSTIC_LIBRARY": "x.h5"}).stdout.strip() == "x.h5"
    assert CliRunner().invoke(cmd, ["-L", "y.h5"], env={"ACOUSTIC_LIBRARY": "x.h5"}).stdout.strip() == "y.h5"
    assert CliRunner().invoke(cmd, [], env={"ACOUSTIC_LIBRARY": None}).stdout.strip() == "None"


# -- old spellings -----------------------------------------------------------------------------
@pytest.mark.parametrize("args, expect", [
    (["{led}"], "suspect=None"),
    (["{led}", "23"], "suspect=23"),
    (["--kind", "point", "{led}"], "kind=point"),
    (["--note", "x", "{led}", "5"], "suspect=5 kind=None note=x"),
    (["--flag", "{led}"], "flag=True"),
])
def test_old_positional_ledger_still_works_with_a_warning(tmp_path, args, expect):
    led = str(_ledger(tmp_path / "old.sqlite"))
    res = run([a.format(led=led) for a in args])
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith(f"ledger={led} ") and expect in res.stdout
    warning = res.stderr.strip()
    assert warning.startswith("Warning: 'acoustic ledger list ") and "is deprecated" in warning
    assert f"'acoustic ledger list --ledger {led} ...'" in warning and "ACOUSTIC_LEDGER" in warning


def test_new_spelling_is_left_alone(tmp_path):
    led = str(_ledger(tmp_path / "l.db"))
    res = run(["-l", led, "23"])
    assert res.exit_code == 0 and res.stderr == ""
    res = run(["23"], env={"ACOUSTIC_LEDGER": led})  # a suspect id never looks like a ledger
    assert res.exit_code == 0 and res.stderr == "" and "suspect=23" in res.stdout
    # --ledger given: a second ledger path is an ordinary extra argument (an error, not guessed)
    other = str(_ledger(tmp_path / "m.db"))
    assert run(["--ledger", led, other]).exit_code == 2


def test_renamed_options(tmp_path):
    led = str(_ledger(tmp_path / "l.db"))
    res = run(["-l", led, "--csv", "a.csv"])
    assert res.exit_code == 0 and "out=a.csv" in res.stdout
    assert res.stderr.strip() == "Warning: --csv is deprecated and stops working in acoustic 0.3; use --out"
    res = run(["-l", led, "--csv=b.csv"])
    assert "out=b.csv" in res.stdout and "--csv is deprecated" in res.stderr
    res = run(["-l", led, "--tsv", "t.tsv"])  # an old option that became two
    assert "kind=tsv" in res.stdout and "out=t.tsv" in res.stdout and "use --kind tsv -o" in res.stderr
    res = run(["-l", led, "--tsv=u.tsv"])
    assert "kind=tsv" in res.stdout and "out=u.tsv" in res.stdout
    res = run(["-l", led, "--no-model"])
    assert "model=none" in res.stdout and "use --model none" in res.stderr
    # an option's value is never taken for an old option
    res = run(["-l", led, "--note", "--csv"])
    assert res.exit_code == 0 and "note=--csv" in res.stdout and res.stderr == ""
    # the old spelling is not in the help
    help_text = run(["--help"]).stdout
    assert "--csv" not in help_text and "--no-model" not in help_text and "'-' writes to stdout" in help_text


def test_looks_like(tmp_path):
    led = _ledger(tmp_path / "noext")
    assert looks_like_sqlite(str(led)) and not looks_like_hdf5(str(led))
    assert looks_like_sqlite(str(tmp_path / "missing.db")) and not looks_like_sqlite("23")
    (tmp_path / "t.db").write_text("not sqlite")
    assert not looks_like_sqlite(str(tmp_path / "t.db"))  # the content decides when the file exists
    h5 = tmp_path / "lib.bin"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 8)
    assert looks_like_hdf5(str(h5)) and looks_like_hdf5(str(tmp_path / "missing.h5"))


# -- outputs -----------------------------------------------------------------------------------
def test_open_output_stdout_and_atomic_file(tmp_path):
    @click.command()
    @out_option("Where.")
    def cmd(out):
        with open_output(out) as fh:
            fh.write("a,b\n1,2\n")

    res = CliRunner().invoke(cmd, ["-o", "-"])
    assert res.exit_code == 0 and res.stdout == "a,b\n1,2\n"
    target = tmp_path / "x.csv"
    assert CliRunner().invoke(cmd, ["--out", str(target)]).exit_code == 0
    assert target.read_text() == "a,b\n1,2\n"
    assert [p.name for p in tmp_path.iterdir()] == ["x.csv"]  # no temporary left behind


def test_open_output_keeps_the_old_file_when_the_command_fails(tmp_path):
    target = tmp_path / "x.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with open_output(target) as fh:
            fh.write("half")
            raise RuntimeError("failed")
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["x.csv"]


def test_binary_output(tmp_path):
    with open_output(tmp_path / "p.png", binary=True) as fh:
        fh.write(b"\x89PNG")
    assert (tmp_path / "p.png").read_bytes() == b"\x89PNG"


def test_one_thing_on_stdout():
    check_stdout_users(False, geojson="-")
    check_stdout_users(True, geojson="out.geojson", csv=None)
    with pytest.raises(click.UsageError, match="--json and --geojson -"):
        check_stdout_users(True, geojson="-")
    with pytest.raises(click.UsageError, match="--csv - and --geojson -"):
        check_stdout_users(False, csv="-", geojson="-")


# -- progress ----------------------------------------------------------------------------------
@pytest.mark.parametrize("args, env, shown", [
    ([], {}, False),                               # CliRunner's stderr is not a terminal
    (["--progress"], {}, True),
    ([], {"ACOUSTIC_PROGRESS": "1"}, True),
    (["--quiet", "--progress"], {}, False),
    (["-q"], {"ACOUSTIC_PROGRESS": "1"}, False),
    (["--no-progress"], {"ACOUSTIC_PROGRESS": "1"}, False),
])
def test_progress_options(args, env, shown):
    @click.command()
    @progress_options
    def cmd(quiet, progress):
        with make_progress("demo", quiet, progress) as rep:
            for i in range(4):
                rep("working", i, 3)
        click.echo("result")

    res = CliRunner().invoke(cmd, args, env={"ACOUSTIC_PROGRESS": None, **env})
    assert res.exit_code == 0 and res.stdout == "result\n"
    assert (res.stderr == "demo: working 0/3 (0 %), 0 s\ndemo: working 3/3 (100 %), 0 s\n") is shown
    if not shown:
        assert res.stderr == ""


# -- the entry point ---------------------------------------------------------------------------
@click.group()
def group():
    pass


@group.command()
def ok():
    click.echo("fine")


@group.command()
def interrupted():
    raise KeyboardInterrupt


def test_run_standalone_exit_codes(capsys):
    for argv, code in ((["ok"], 0), (["interrupted"], EXIT_INTERRUPTED), (["nope"], 2), (["ok", "--bad"], 2)):
        with pytest.raises(SystemExit) as exc:
            run_standalone(group, argv)
        assert exc.value.code == code, argv
    err = capsys.readouterr().err
    assert "Error: interrupted" in err and "Aborted!" not in err and "No such command 'nope'" in err


# -- the real command line -------------------------------------------------------------------
def test_version_long_and_short():
    from acoustic import __version__
    from acoustic.cli import cli

    for flag in ("--version", "-V"):
        res = CliRunner().invoke(cli, [flag])
        assert res.exit_code == 0 and res.stdout.strip() == f"acoustic, version {__version__}"


def test_console_entry_point_exit_codes(capsys):
    from acoustic.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == 2 and "No such command" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["-V"])
    assert exc.value.code == 0


def test_dataset_and_model_card_are_registered(tmp_path):
    from acoustic.cli import cli

    res = CliRunner().invoke(cli, ["simulate", "dataset", str(tmp_path / "set"), "--n", "1", "--seed", "2",
                                   "--duration", "2", "--sample-rate", "4000", "--quiet"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "set" / "labels.csv").is_file() and res.stdout.startswith(f"wrote {tmp_path / 'set'}: 1 ")
    res = CliRunner().invoke(cli, ["model-card"])
    assert res.exit_code == 0 and res.stdout.startswith("# Model card: default")
    assert "model-card" in CliRunner().invoke(cli, ["--help"]).stdout


def test_quiet_hides_notes_not_results(tmp_path):
    from acoustic.cli import cli

    out = tmp_path / "card.md"
    res = CliRunner().invoke(cli, ["model-card", "-o", str(out)])
    assert res.exit_code == 0 and res.stderr == f"wrote {out}\n"
    res = CliRunner().invoke(cli, ["model-card", "-o", str(out), "-q"])
    assert res.exit_code == 0 and res.stderr == "" and out.read_text().startswith("# Model card")
    res = CliRunner().invoke(cli, ["model-card", "--quiet"])
    assert res.exit_code == 0 and res.stdout.startswith("# Model card")


@pytest.mark.parametrize("args", [
    ["report", "-l", "x.db", "-o", "-"],
    ["simulate", "pair", "-o", "-", "--distance", "50", "--material", "pvc", "--leak-m", "10"],
    ["simulate", "dataset", "-o", "-", "--n", "1"],
])
def test_a_folder_output_cannot_be_stdout(args, tmp_path, monkeypatch):
    from acoustic.cli import cli

    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 2 and "'-' (stdout) cannot be one" in res.stderr and not (tmp_path / "-").exists()
