"""The report in a real browser: headless Chromium (Debian's ``chromium``, installed by .ci/run).

The page must load from a file with no console errors, every image decoded, the map and the
plots present.  The checker itself is tested on deliberately broken pages (a JavaScript error,
a missing image).  One full-page screenshot is kept: under ``$ACOUSTIC_TEST_ARTIFACTS`` when set
(CI), else in pytest's temporary folder; its path is printed (``pytest -s`` or ``-rA``).

Skipped (with the reason) where no chromium binary or no ``websocket-client`` is installed.
"""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

import pytest

from acoustic import AcousticWarning
from acoustic.report._browser import find_chromium

pytestmark = [
    pytest.mark.skipif(find_chromium() is None,
                       reason="no chromium binary (Debian: apt-get install chromium; .ci/run installs it)"),
]
websocket = pytest.importorskip("websocket", reason="websocket-client (the 'test' extra) is not installed")


@pytest.fixture(scope="module")
def rendered_report(tmp_path_factory):
    from test_report import correlate_l1_l3, make_ledger, make_library, make_result, make_survey_folder

    from acoustic.report import build_report

    base = tmp_path_factory.mktemp("render")
    root = make_survey_folder(base / "survey")
    res, net = correlate_l1_l3(root)
    result = make_result(root, res, net, base / "result.json")
    import json

    ledger = make_ledger(base / "ledger.sqlite", root, json.loads(result.read_text()))
    library = make_library(root, base / "lib" / "signatures.h5")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AcousticWarning)
        return build_report(base / "out", survey_result=result, ledger=ledger, library=library, tolerance_pct=2.0)


def _artefact_dir(tmp_path) -> Path:
    env = os.environ.get("ACOUSTIC_TEST_ARTIFACTS")
    d = Path(env) if env else tmp_path
    d.mkdir(parents=True, exist_ok=True)
    return d


def test_report_renders_cleanly_in_chromium(rendered_report, tmp_path):
    from acoustic.report._browser import render_check

    shot = _artefact_dir(tmp_path) / "report_screenshot.png"
    check = render_check(rendered_report.index_html, screenshot=shot)
    print(f"\nreport screenshot ({check.chromium}): {shot}")
    assert check.errors == [], check.errors
    page = check.page
    assert page["ready"] == "complete" and page["broken_images"] == []
    assert page["map_present"] and page["map_pipes"] == 3 and page["map_loggers"] == 3 and page["map_suspects"] == 2
    assert page["map_size"][0] > 500 and page["map_size"][1] > 200  # laid out, not collapsed
    assert page["suspects"] == 2 and page["digsheets"] == 2 and page["scripts"] == 0
    for kind in ("correlogram", "coherence", "spectrum", "history", "errors"):
        assert kind in page["plots"]
    assert page["n_images"] == len(page["plots"]) == 9
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000
    # the screenshot covers the whole page
    import struct

    width, height = struct.unpack(">II", png[16:24])
    assert width == 1100 and height >= min(page["height"], 16000) - 2


def test_dig_sheets_page_renders(rendered_report):
    from acoustic.report._browser import render_check

    check = render_check(rendered_report.dig_sheets_html)
    assert check.ok, check.errors
    assert check.page["digsheets"] == 2 and check.page["n_images"] == 0


def test_checker_catches_script_errors_and_missing_images(tmp_path):
    from acoustic.report._browser import render_check

    bad = tmp_path / "broken.html"
    bad.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"><title>broken</title></head><body>'
                   '<img src="missing-plot.png" alt="x">'
                   '<script>console.error("plot failed"); undefinedFunctionCall();</script></body></html>')
    check = render_check(bad)
    assert not check.ok
    text = "\n".join(check.errors)
    assert "undefinedFunctionCall" in text
    assert "plot failed" in text
    assert any("missing-plot.png" in b for b in check.page["broken_images"])


def test_checker_catches_a_missing_image_alone(tmp_path):
    from acoustic.report._browser import render_check

    page = tmp_path / "img.html"
    shutil.copy(Path(__file__), tmp_path / "not-an-image.png")  # exists but does not decode
    page.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title></head><body>'
                    '<img src="not-an-image.png" alt="x"><img src="nowhere/gone.png" alt="y"></body></html>')
    check = render_check(page)
    assert not check.ok and len(check.page["broken_images"]) == 2
