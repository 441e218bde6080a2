"""Open an HTML file in a real headless Chromium and read its DOM after it loaded.

Talks the DevTools protocol over `--remote-debugging-pipe` (NUL-separated JSON on file
descriptors 3 and 4 of the browser): no websocket client, no browser-driver package, only the
browser Debian ships (`chromium`). Written by hand because the Python drivers (Playwright,
Selenium) download their own browsers or drivers, which this test must not do.

    page = open_page(path, expression, screenshot=png)
    page.value      what `expression` (JavaScript, evaluated in the page once it loaded) returned
    page.console    console messages of level error/warning and uncaught exceptions
    page.requests   every URL the page asked for, the file itself included

The browser runs with a throw-away profile and every host name resolving to nothing
(`--host-resolver-rules`), so a page that wanted an external asset fails to fetch it and the
request still shows in `page.requests`: nothing leaves the machine.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def chromium() -> str | None:
    explicit = os.environ.get("FABRICLAB_CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def skip_reason() -> str | None:
    if chromium() is None:
        return ("no Chromium: apt-get install chromium (`bash .ci/setup` installs it where the distribution "
                "packages it), or set FABRICLAB_CHROMIUM to a Chromium binary")
    return None


requires_chromium = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")


class BrowserError(AssertionError):
    pass


@dataclass
class Page:
    value: Any
    console: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def external_requests(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(("file:", "data:", "about:"))]


def _high_fd(fd: int) -> int:
    """A copy of fd numbered above 4, so that placing the pipes on 3 and 4 in the child cannot clobber them."""
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return new


class _Devtools:
    def __init__(self, exe: str, profile: str, width: int, height: int):
        to_browser_r, to_browser_w = (_high_fd(fd) for fd in os.pipe())
        from_browser_r, from_browser_w = (_high_fd(fd) for fd in os.pipe())

        def child_fds():  # runs in the child before exec: the browser reads fd 3 and writes fd 4
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        argv = [exe, "--headless", "--remote-debugging-pipe", f"--user-data-dir={profile}",
                "--no-first-run", "--no-default-browser-check", "--disable-gpu", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--host-resolver-rules=MAP * ~NOTFOUND", f"--window-size={width},{height}",
                "about:blank"]
        if os.geteuid() == 0:
            argv.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, close_fds=False, preexec_fn=child_fds,
                                     start_new_session=True)  # its renderers share its group: one kill ends them
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.write_fd, self.read_fd = to_browser_w, from_browser_r
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self.next_id += 1
        message: dict = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.write_fd, json.dumps(message).encode() + b"\0")
        return self.next_id

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("Chromium did not answer within the deadline")
            ready, _, _ = select.select([self.read_fd], [], [], left)
            if ready:
                chunk = os.read(self.read_fd, 1 << 20)
                if not chunk:
                    raise BrowserError(f"Chromium exited: {self.stderr_tail()}")
                self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, session: str | None = None,
             deadline: float | None = None) -> dict:
        wanted = self.send(method, params, session)
        deadline = deadline or time.monotonic() + 30
        while True:
            message = self._read(deadline)
            if message.get("id") == wanted:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def wait_event(self, method: str, deadline: float) -> dict:
        for index, event in enumerate(self.events):
            if event["method"] == method:
                return self.events.pop(index)
        while True:
            message = self._read(deadline)
            if message.get("method") == method:
                return message
            if "method" in message:
                self.events.append(message)

    def drain(self, seconds: float) -> None:
        """Collect the events that arrive within `seconds` (late console messages, requests)."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                message = self._read(deadline)
                if "method" in message:
                    self.events.append(message)
        except BrowserError:
            if self.proc.poll() is not None:
                raise

    def stderr_tail(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        return (self.proc.stderr.read() or b"").decode(errors="replace")[-600:]

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except OSError:
            pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the group of the browser this helper started, by its id
            self.proc.wait()
        for fd in (self.write_fd, self.read_fd):
            os.close(fd)
        self.proc.stderr.close()


def _messages(events: list[dict]) -> tuple[list[str], list[str]]:
    console, requests = [], []
    for event in events:
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            console.append(f"console.{params['type']}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            console.append(f"exception: {details.get('exception', {}).get('description') or details.get('text')}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") in ("error", "warning"):
            entry = params["entry"]
            console.append(f"log.{entry['level']} ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}".strip())
        elif method == "Network.requestWillBeSent":
            requests.append(params["request"]["url"])
    return console, requests


def open_page(path: str | Path, expression: str, screenshot: str | Path | None = None,
              width: int = 1280, height: int = 900, timeout: float = 90) -> Page:
    """Load `path` in headless Chromium, wait for its load event, evaluate `expression` and return it.

    The expression may be a promise (it is awaited); its value comes back as JSON.
    """
    exe = chromium()
    if exe is None:
        raise BrowserError(skip_reason() or "no Chromium")
    url = Path(path).resolve().as_uri()
    deadline = time.monotonic() + timeout  # generous: the machine is shared and Chromium starts slowly there
    with tempfile.TemporaryDirectory(prefix="fabriclab-chromium-") as profile:
        tools = _Devtools(exe, profile, width, height)
        try:
            target = tools.call("Target.createTarget", {"url": "about:blank"}, deadline=deadline)["targetId"]
            session = tools.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 deadline=deadline)["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                tools.call(f"{domain}.enable", session=session, deadline=deadline)
            tools.events.clear()  # what about:blank did is not the page's
            navigated = tools.call("Page.navigate", {"url": url}, session=session, deadline=deadline)
            if navigated.get("errorText"):
                raise BrowserError(f"cannot open {url}: {navigated['errorText']}")
            tools.wait_event("Page.loadEventFired", deadline)
            tools.drain(0.3)  # console messages and requests that arrive just after load
            result = tools.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                     "awaitPromise": True}, session=session, deadline=deadline)
            if "exceptionDetails" in result:
                raise BrowserError(f"the test's expression failed in the page: {result['exceptionDetails']}")
            value = result.get("result", {}).get("value")
            if screenshot:
                size = tools.call("Page.getLayoutMetrics", session=session, deadline=deadline)["cssContentSize"]
                clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 16000), "scale": 1}
                shot = tools.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                             "clip": clip}, session=session, deadline=deadline)
                Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
            console, requests = _messages(tools.events)
            return Page(value, console, requests)
        finally:
            tools.close()
