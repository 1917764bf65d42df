"""Render a page in headless Chromium and report what went wrong (for the report's tests and CI).

Chromium is started offline-safe (no background networking, component updates, sync or
QUIC; a fresh profile) with ``--remote-debugging-port=0``; the port is read from
``DevToolsActivePort`` in the profile folder and the page is driven over the DevTools
protocol (a websocket on 127.0.0.1, the ``websocket-client`` package of the ``test`` extra):

- ``Runtime.exceptionThrown`` (uncaught JavaScript errors), ``Runtime.consoleAPICalled`` of
  type ``error``/``assert``, ``Log.entryAdded`` at level ``error`` (failed resource loads,
  blocked requests, parse problems) and ``Network.loadingFailed`` are collected as errors;
- after the load event, every ``<img>`` is checked (``complete`` with a non-zero natural size)
  and the page's maps and plots are counted;
- a full-page PNG screenshot is taken with ``Page.captureScreenshot``.

:func:`find_chromium` returns None when no browser is installed (tests skip then).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

__all__ = ["RenderCheck", "find_chromium", "render_check", "CHROMIUM_FLAGS"]

#: Flags for a headless, offline, throw-away Chromium (this machine has no network: without
#: them Chromium keeps trying to reach Google's services).
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars")

#: Evaluated in the page after its load event: what a reader would see.
_PROBE = """(() => {
  const imgs = Array.from(document.images);
  const broken = imgs.filter(i => !(i.complete && i.naturalWidth > 0 && i.naturalHeight > 0))
                     .map(i => i.getAttribute('src').slice(0, 120));
  const map = document.querySelector('svg.network-map');
  return JSON.stringify({
    title: document.title,
    ready: document.readyState,
    n_images: imgs.length,
    broken_images: broken,
    plots: imgs.filter(i => i.dataset.plot).map(i => i.dataset.plot),
    map_present: !!map,
    map_size: map ? [map.getBoundingClientRect().width, map.getBoundingClientRect().height] : null,
    map_pipes: map ? map.querySelectorAll('.pipe').length : 0,
    map_loggers: map ? map.querySelectorAll('.logger').length : 0,
    map_suspects: map ? map.querySelectorAll('.suspect').length : 0,
    suspects: document.querySelectorAll('article.suspect').length,
    digsheets: document.querySelectorAll('.digsheet').length,
    scripts: document.scripts.length,
    height: document.documentElement.scrollHeight,
    label_overlaps: Array.from(document.querySelectorAll('svg.network-map')).map(svg => {
      const boxes = Array.from(svg.querySelectorAll('text.node-label, g.logger text'))
                         .map(t => t.getBoundingClientRect()).filter(b => b.width > 0);
      let n = 0;
      for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i], b = boxes[j];
        if (a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5) n++;
      }
      return {id: svg.id, labels: boxes.length, overlaps: n};
    })
  });
})()"""


@dataclasses.dataclass
class RenderCheck:
    """What headless Chromium saw.

    Attributes
    ----------
    errors : list of str
        Uncaught exceptions, console errors, failed loads (empty for a clean page).
    console : list of str
        Every console message (``level: text``).
    page : dict
        The probe's answer: ``title``, ``n_images``, ``broken_images``, ``plots`` (the
        ``data-plot`` of each image), ``map_present``, ``map_pipes``, ``map_loggers``,
        ``map_suspects``, ``suspects``, ``digsheets``, ``scripts``, ``height`` (CSS px),
        ``label_overlaps`` (per map: ``id``, ``labels`` drawn, ``overlaps`` = pairs of node or
        logger labels whose rendered boxes overlap).
    screenshot : Path or None
    chromium : str
        The browser's version string.
    """

    errors: list
    console: list
    page: dict
    screenshot: Path | None
    chromium: str

    @property
    def ok(self) -> bool:
        """No errors and no broken image."""
        return not self.errors and not self.page.get("broken_images")


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome binary (``$ACOUSTIC_CHROMIUM`` first), or None."""
    env = os.environ.get("ACOUSTIC_CHROMIUM")
    if env and Path(env).is_file():
        return env
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


class _Session:
    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, timeout_s: float = 30.0) -> dict:
        self.next_id += 1
        mid = self.next_id
        self.ws.settimeout(timeout_s)
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.ws.settimeout(max(0.05, deadline - time.monotonic()))
            msg = json.loads(self.ws.recv())
            if msg.get("id") == mid:
                if "error" in msg:
                    raise RuntimeError(f"DevTools {method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)
        raise TimeoutError(f"DevTools {method}: no answer in {timeout_s} s")

    def wait_event(self, method: str, timeout_s: float) -> bool:
        if any(e["method"] == method for e in self.events):
            return True
        deadline = time.monotonic() + timeout_s
        import websocket

        while time.monotonic() < deadline:
            self.ws.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                msg = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                break
            if "method" in msg:
                self.events.append(msg)
                if msg["method"] == method:
                    return True
        return False

    def drain(self, seconds: float) -> None:
        import websocket

        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.ws.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                msg = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                break
            if "method" in msg:
                self.events.append(msg)


def _remote_text(obj: dict) -> str:
    if "value" in obj:
        return str(obj["value"])
    return str(obj.get("description") or obj.get("unserializableValue") or obj.get("type", ""))


def _collect(events: list[dict]) -> tuple[list[str], list[str]]:
    errors, console = [], []
    for ev in events:
        m, p = ev["method"], ev.get("params", {})
        if m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            text = (d.get("exception") or {}).get("description") or d.get("text", "exception")
            errors.append(f"uncaught exception: {text.splitlines()[0]} (line {d.get('lineNumber')})")
        elif m == "Runtime.consoleAPICalled":
            text = " ".join(_remote_text(a) for a in p.get("args", []))
            console.append(f"{p.get('type')}: {text}")
            if p.get("type") in ("error", "assert"):
                errors.append(f"console.{p.get('type')}: {text}")
        elif m == "Log.entryAdded":
            entry = p.get("entry", {})
            console.append(f"{entry.get('level')}: {entry.get('text')} {entry.get('url', '')}".strip())
            if entry.get("level") == "error":
                errors.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}".strip())
        elif m == "Network.loadingFailed":
            if not p.get("canceled"):
                errors.append(f"load failed: {p.get('errorText')} (request {p.get('requestId')})")
    return list(dict.fromkeys(errors)), console


def render_check(html_path, *, screenshot=None, width_px: int = 1100, timeout_s: float = 60.0,
                 chromium: str | None = None) -> RenderCheck:
    """Load ``html_path`` in headless Chromium and report errors, images, map and plots.

    Parameters
    ----------
    html_path : str or Path
        The page (opened as a ``file://`` URL, like a crew opening the report offline).
    screenshot : str or Path, optional
        Write a full-page PNG screenshot here.
    width_px : int
        Viewport width (CSS px).
    timeout_s : float
        Longest wait for the browser and the page (s).
    chromium : str, optional
        Browser binary (default :func:`find_chromium`).

    Raises
    ------
    RuntimeError
        No browser, or it did not start or answer.
    """
    import websocket

    exe = chromium or find_chromium()
    if exe is None:
        raise RuntimeError("no chromium binary found (install Debian's 'chromium' package)")
    url = Path(html_path).resolve().as_uri()
    profile = tempfile.mkdtemp(prefix="acoustic-chromium-")
    cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
           "--remote-debugging-address=127.0.0.1", f"--window-size={width_px},900", "about:blank"]
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                            start_new_session=True)
    try:
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout_s
        port = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                log.seek(0)
                err = log.read().decode(errors="replace")[-800:]
                raise RuntimeError(f"chromium exited with code {proc.returncode}: {err}")
            if port_file.exists():
                lines = port_file.read_text().split()
                if lines:
                    port = int(lines[0])
                    break
            time.sleep(0.05)
        if port is None:
            raise RuntimeError(f"chromium did not open its DevTools port within {timeout_s} s")
        base = f"http://127.0.0.1:{port}"
        version = json.loads(urllib.request.urlopen(f"{base}/json/version", timeout=10).read()).get("Browser", "")
        targets = json.loads(urllib.request.urlopen(f"{base}/json/list", timeout=10).read())
        page = next((t for t in targets if t.get("type") == "page"), None)
        if page is None:
            req = urllib.request.Request(f"{base}/json/new?about:blank", method="PUT")
            page = json.loads(urllib.request.urlopen(req, timeout=10).read())
        ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=timeout_s, suppress_origin=True)
        try:
            s = _Session(ws)
            for domain in ("Runtime", "Log", "Network", "Page"):
                s.send(f"{domain}.enable")
            s.send("Emulation.setDeviceMetricsOverride", {"width": width_px, "height": 900, "deviceScaleFactor": 1,
                                                          "mobile": False})
            s.events.clear()
            nav = s.send("Page.navigate", {"url": url})
            if nav.get("errorText"):
                raise RuntimeError(f"{html_path}: {nav['errorText']}")
            if not s.wait_event("Page.loadEventFired", timeout_s):
                raise RuntimeError(f"{html_path}: the page did not finish loading within {timeout_s} s")
            s.drain(0.5)
            probe = s.send("Runtime.evaluate", {"expression": _PROBE, "returnByValue": True})
            result = probe.get("result", {})
            info = json.loads(result.get("value") or "{}")
            shot = None
            if screenshot is not None:
                metrics = s.send("Page.getLayoutMetrics")
                size = metrics.get("cssContentSize") or metrics.get("contentSize")
                h = int(min(max(size["height"], 900), 16000))
                s.send("Emulation.setDeviceMetricsOverride", {"width": width_px, "height": h, "deviceScaleFactor": 1,
                                                              "mobile": False})
                png = s.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                        "clip": {"x": 0, "y": 0, "width": width_px, "height": h,
                                                                 "scale": 1}}, timeout_s=timeout_s)
                shot = Path(screenshot)
                shot.parent.mkdir(parents=True, exist_ok=True)
                shot.write_bytes(base64.b64decode(png["data"]))
            s.drain(0.2)
            errors, console = _collect(s.events)
            try:
                s.send("Browser.close", timeout_s=5.0)
            except Exception:  # the browser may close the socket first
                pass
        finally:
            ws.close()
        return RenderCheck(errors=errors, console=console, page=info, screenshot=shot, chromium=version)
    finally:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        log.close()
        shutil.rmtree(profile, ignore_errors=True)
