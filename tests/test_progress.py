"""acoustic._progress: when progress shows, what the lines say, stable totals, no output when off."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from acoustic._progress import (ProgressRecorder, ProgressReporter, format_duration, iter_progress,
                                progress_enabled, report_progress)


class FakeClock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


class Tty(io.StringIO):
    def isatty(self):
        return True


class Broken(io.StringIO):
    def write(self, text):
        raise OSError("stderr closed")


# -- when ------------------------------------------------------------------------------------
@pytest.mark.parametrize("quiet, requested, env, tty, expected", [
    (False, None, {}, False, False),                        # a pipe or a log: silent
    (False, None, {}, True, True),                          # a terminal: shown
    (False, None, {"ACOUSTIC_PROGRESS": "1"}, False, True),  # asked through the environment
    (False, None, {"ACOUSTIC_PROGRESS": "yes"}, False, True),
    (False, None, {"ACOUSTIC_PROGRESS": "0"}, True, False),  # turned off on a terminal
    (False, None, {"ACOUSTIC_PROGRESS": "maybe"}, True, True),  # not understood: the terminal decides
    (False, True, {}, False, True),                         # --progress
    (False, False, {"ACOUSTIC_PROGRESS": "1"}, True, False),  # --no-progress beats the environment
    (True, None, {"ACOUSTIC_PROGRESS": "1"}, True, False),  # --quiet beats everything
    (True, True, {}, True, False),
])
def test_progress_enabled(quiet, requested, env, tty, expected):
    stream = Tty() if tty else io.StringIO()
    assert progress_enabled(quiet=quiet, requested=requested, stream=stream, environ=env) is expected


def test_progress_enabled_reads_os_environ(monkeypatch):
    monkeypatch.setenv("ACOUSTIC_PROGRESS", "1")
    assert progress_enabled(stream=io.StringIO())
    monkeypatch.delenv("ACOUSTIC_PROGRESS")
    assert not progress_enabled(stream=io.StringIO())


# -- what is written -------------------------------------------------------------------------
def test_disabled_reporter_writes_nothing():
    out = io.StringIO()
    with ProgressReporter("survey", enabled=False, stream=out) as rep:
        rep("correlating pairs", 0, 5)
        rep("correlating pairs", 5, 5)
        rep.note("engine: in-process")
    assert out.getvalue() == ""


def test_log_lines_start_throttled_and_end():
    clock, out = FakeClock(), io.StringIO()
    rep = ProgressReporter("survey", enabled=True, stream=out, interactive=False, clock=clock)
    rep("correlating pairs", 0, 42)
    for i in range(1, 42):
        clock.t += 0.5
        rep("correlating pairs", i, 42)
    clock.t += 0.5
    rep("correlating pairs", 42, 42)
    lines = out.getvalue().splitlines()
    assert lines[0] == "survey: correlating pairs 0/42 (0 %), 0 s"
    assert lines[-1] == "survey: correlating pairs 42/42 (100 %), 21 s"
    # 21 s at one line per 5 s at most, plus the first and the last
    assert 3 <= len(lines) <= 2 + 21 // 5
    assert all("\r" not in ln for ln in lines)
    # a remaining-time estimate once the stage has run a while
    assert any("about" in ln and "left" in ln for ln in lines[1:-1])
    rep.close()  # the stage already ended: nothing more
    assert out.getvalue().splitlines() == lines


def test_interactive_line_is_redrawn_in_place():
    clock, out = FakeClock(), Tty()
    rep = ProgressReporter("train", enabled=True, stream=out, clock=clock)
    assert rep.interactive
    rep("extracting features", 0, 3)
    clock.t += 0.2
    rep("extracting features", 1, 3)
    clock.t += 0.01  # too soon for a redraw
    rep("extracting features", 2, 3)
    clock.t += 0.2
    rep("extracting features", 3, 3)
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")
    frames = text.rstrip("\n").split("\r")[1:]
    assert [f.split()[3] for f in frames] == ["0/3", "1/3", "3/3"]


def test_interactive_shorter_line_erases_the_longer_one():
    clock, out = FakeClock(), Tty()
    rep = ProgressReporter("x", enabled=True, stream=out, clock=clock)
    rep("a long stage name here", 0, None)
    clock.t += 1
    rep("s", 0, 2)  # a new stage ends the first one's line
    text = out.getvalue()
    first, second = text.split("\n", 1)
    assert first.startswith("\rx: a long stage name here 0")
    assert second.startswith("\rx: s 0/2")


def test_stages_with_their_own_totals():
    clock, out = FakeClock(), io.StringIO()
    rep = ProgressReporter("batch", enabled=True, stream=out, interactive=False, clock=clock)
    with rep:
        rep("hashing files", 0, None)
        clock.t += 1
        rep("hashing files", 338, None)
        rep("processing new recordings", 0, 242)
        clock.t += 1
        rep("processing new recordings", 242, 242)
        rep("surveying areas", 0, 2)
        rep("surveying areas", 1, 2)
    lines = out.getvalue().splitlines()
    assert lines == [
        "batch: hashing files 0, 0 s",
        "batch: hashing files 338, 1 s",
        "batch: processing new recordings 0/242 (0 %), 0 s",
        "batch: processing new recordings 242/242 (100 %), 1 s",
        "batch: surveying areas 0/2 (0 %), 0 s",
        "batch: surveying areas 1/2 (50 %), 0 s",  # close() ends the unfinished stage with its count
    ]


def test_a_stage_run_again_starts_a_new_line():
    out = io.StringIO()
    rep = ProgressReporter("survey", enabled=True, stream=out, interactive=False, clock=FakeClock())
    for _area in range(2):
        for i in range(3):
            rep("correlating pairs", i, 2)
    rep.close()
    assert out.getvalue().splitlines().count("survey: correlating pairs 0/2 (0 %), 0 s") == 2


def test_note_keeps_out_of_the_progress_line():
    clock, out = FakeClock(), Tty()
    rep = ProgressReporter("batch", enabled=True, stream=out, clock=clock)
    rep("processing", 1, 10)
    rep.note("engine: in-process")
    text = out.getvalue()
    assert "\rbatch: engine: in-process\n" in text.replace("\r" + " " * len("batch: processing 1/10 (10 %), 0 s") + "\r",
                                                          "\r")
    assert text.endswith("\rbatch: processing 1/10 (10 %), 0 s")  # the line is drawn again below the note
    rep.close()
    assert out.getvalue().endswith("\n")


def test_broken_stream_turns_progress_off_without_error():
    rep = ProgressReporter("survey", enabled=True, stream=Broken(), interactive=False)
    rep("correlating pairs", 0, 3)
    assert not rep.enabled
    rep("correlating pairs", 3, 3)  # no exception


def test_reporter_writes_to_current_stderr(capsys):
    rep = ProgressReporter("train", enabled=True, interactive=False)
    rep("fitting", 1, 1)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "train: fitting 1/1 (100 %), 0 s\n"


# -- helpers for library code ---------------------------------------------------------------
def test_iter_progress_without_callback_and_without_len():
    assert list(iter_progress((i for i in range(3)), None, "x")) == [0, 1, 2]
    rec = ProgressRecorder()
    assert list(iter_progress((i for i in range(2)), rec, "gen")) == [0, 1]
    assert rec.events == [("gen", 0, None), ("gen", 1, None), ("gen", 2, None)]


def test_report_progress_is_a_no_op_without_callback():
    report_progress(None, "x", 1, 2)
    rec = ProgressRecorder()
    report_progress(rec, "x", 1, 2)
    assert rec.events == [("x", 1, 2)]


@pytest.mark.parametrize("events, message", [
    ([("a", 0, 10), ("a", 5, 12)], "total changed"),
    ([("a", 0, 10), ("a", 5, 10), ("a", 3, 10)], "went back"),
    ([("a", 0, 3), ("a", 4, 3)], "passed its total"),
    ([("a", -1, None)], "negative"),
])
def test_recorder_check_catches_unstable_totals(events, message):
    rec = ProgressRecorder()
    for e in events:
        rec(*e)
    with pytest.raises(AssertionError, match=message):
        rec.check()


def test_recorder_accepts_stages_run_again():
    rec = ProgressRecorder()
    for stage, total in (("pairs", 2), ("fusing", None), ("pairs", 5)):
        for i in range((total or 1) + 1):
            rec(stage, i, total)
    rec.check()
    assert rec.stages == ["pairs", "fusing", "pairs"]


def test_format_duration():
    assert format_duration(0) == "0 s"
    assert format_duration(59.4) == "59 s"
    assert format_duration(60) == "1 min 0 s"
    assert format_duration(7200) == "2 h 0 min"
    assert format_duration(-3) == "0 s"


def test_importing_costs_neither_click_nor_numpy():
    code = ("import sys; import acoustic._progress; "
            "print(sorted(m for m in ('click', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_docstring_examples_run():
    import doctest

    import acoustic._progress as mod

    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert res.failed == 0 and res.attempted > 0
