"""The command-line shell: lazy loading, help, version, error conventions."""

import subprocess
import sys

from click.testing import CliRunner

from acoustic.cli import COMMANDS, cli


def test_help_lists_every_registered_command():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


def test_help_imports_no_numerics():
    code = ("import sys; from acoustic.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('numpy', 'scipy', 'numba', 'librosa', 'sklearn', 'matplotlib') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out


def test_import_acoustic_is_light():
    code = "import sys, acoustic; print(sorted(m for m in ('numpy','scipy','numba') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_lazy_public_api_resolves():
    import acoustic

    assert acoustic.Recording.__name__ == "Recording"
    assert callable(acoustic.read_recording)
    assert acoustic.pipe.PipePath is acoustic.PipePath


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and "acoustic" in result.output


def test_unknown_command_is_usage_error():
    result = CliRunner().invoke(cli, ["dig-here"])
    assert result.exit_code == 2
    assert "No such command" in result.output



def test_closed_stdout_is_not_an_error(tmp_path):
    """`acoustic ledger list LEDGER | head -1` must end quietly, not with 'Error: Broken pipe'."""
    from acoustic.ledger import Ledger, utc_now

    path = tmp_path / "ledger.db"
    with Ledger(path, create=True) as led, led.transaction():
        led.conn.executemany(
            "INSERT INTO suspects(kind, natural_key, area, score, created_utc) VALUES ('area', ?, ?, 0.5, ?)",
            [(f"a:{i}", f"area-{i}", utc_now()) for i in range(20000)])
    proc = subprocess.Popen([sys.executable, "-c", "from acoustic.cli import main; main()", "ledger", "list",
                             str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.read(10)
    proc.stdout.close()  # the reader goes away, as `head` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert "Error" not in err and "Traceback" not in err
