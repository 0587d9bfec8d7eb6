"""A small WebDriver client (W3C protocol) for headless Chromium, in the standard library.

    with Browser(screenshot_dir="shots") as b:
        b.get("http://127.0.0.1:8081/")
        b.find("#page-title").text()

It starts chromedriver on an ephemeral port, opens one session of headless Chromium with a
temporary profile, and at the end (also on failure) deletes the session and stops
chromedriver by its PID.  Nothing here reaches the network beyond loopback.
"""

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


class WebDriverError(Exception):
    """An error answered by chromedriver: .error is the W3C code ("no such alert")."""

    def __init__(self, error, message):
        super().__init__(f"{error}: {message}")
        self.error = error
        self.message = message


def find_binary(*names):
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    for path in ("/usr/bin/chromium", "/usr/lib/chromium/chromium"):
        if any(os.path.basename(path) == n for n in names) and os.access(path, os.X_OK):
            return path
    return None


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Element:
    def __init__(self, browser, ref):
        self.browser = browser
        self.ref = ref

    def _cmd(self, method, what, body=None):
        return self.browser.cmd(method, f"/element/{self.ref}/{what}", body)

    def text(self):
        return self._cmd("GET", "text")

    def attr(self, name):
        return self._cmd("GET", f"attribute/{name}")

    def prop(self, name):
        return self._cmd("GET", f"property/{name}")

    def click(self):
        self._cmd("POST", "click", {})

    def clear(self):
        self._cmd("POST", "clear", {})

    def send_keys(self, text):
        self._cmd("POST", "value", {"text": text})

    def find(self, css):
        return Element(self.browser, self._cmd("POST", "element",
                                               {"using": "css selector", "value": css})[ELEMENT])

    def find_all(self, css):
        found = self._cmd("POST", "elements", {"using": "css selector", "value": css})
        return [Element(self.browser, e[ELEMENT]) for e in found]


class Browser:
    """One headless Chromium session through chromedriver."""

    def __init__(self, width=1280, height=900, screenshot_dir=None, log=None):
        self.width, self.height = width, height
        self.screenshot_dir = screenshot_dir
        self.log = log or (lambda msg: None)
        self.driver = None
        self.session = None
        self.profile = None
        self.base = None

    # ---- lifecycle ----------------------------------------------------------------

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.quit()
            raise
        return self

    def __exit__(self, *exc):
        self.quit()
        return False

    def start(self):
        chromedriver = find_binary("chromedriver")
        chromium = find_binary("chromium", "chromium-browser", "google-chrome")
        if not chromedriver or not chromium:
            raise RuntimeError("chromium and chromedriver are needed (scripts/deps.sh installs them)")
        self.profile = tempfile.mkdtemp(prefix="liaison-chromium-")
        port = free_port()
        self.driver_log = open(os.path.join(self.profile, "chromedriver.log"), "wb")
        self.driver = subprocess.Popen([chromedriver, f"--port={port}"],
                                       stdout=self.driver_log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        self.base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 20
        while True:
            try:
                if self._http("GET", "/status").get("ready"):
                    break
            except (OSError, urllib.error.URLError):
                pass
            if self.driver.poll() is not None or time.time() > deadline:
                raise RuntimeError("chromedriver did not start (see its log in %s)" % self.profile)
            time.sleep(0.1)
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={self.width},{self.height}",
                "--user-data-dir=" + os.path.join(self.profile, "user-data"),
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--metrics-recording-only", "--hide-scrollbars"]
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
            "unhandledPromptBehavior": "ignore"}}}
        value = self._http("POST", "/session", caps)
        self.session = value["sessionId"]
        self.log(f"chromium {value['capabilities'].get('browserVersion')} session {self.session}")

    def quit(self):
        if self.session and self.driver and self.driver.poll() is None:
            try:
                self._http("DELETE", f"/session/{self.session}", timeout=15)
            except Exception:  # the browser is stopped below in any case
                pass
        self.session = None
        if self.driver:
            if self.driver.poll() is None:
                # chromedriver and the browsers it started: its own process group.
                try:
                    os.killpg(self.driver.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    self.driver.wait(5)
                except subprocess.TimeoutExpired:
                    try:
                        os.killpg(self.driver.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    self.driver.wait(5)
            self.driver = None
            self.driver_log.close()
        if self.profile:
            shutil.rmtree(self.profile, ignore_errors=True)
            self.profile = None

    # ---- protocol -----------------------------------------------------------------

    def _http(self, method, path, body=None, timeout=60):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                answer = json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as e:
            try:
                answer = json.loads(e.read() or b"{}")
            except ValueError:
                raise WebDriverError("http error", f"{e.code} on {method} {path}") from None
            value = answer.get("value") or {}
            raise WebDriverError(value.get("error", str(e.code)),
                                 value.get("message", "").split("\n")[0]) from None
        return answer.get("value") if "value" in answer else answer

    def cmd(self, method, path, body=None):
        return self._http(method, f"/session/{self.session}{path}", body)

    # ---- commands -----------------------------------------------------------------

    def get(self, url):
        self.cmd("POST", "/url", {"url": url})

    def refresh(self):
        self.cmd("POST", "/refresh", {})

    def url(self):
        return self.cmd("GET", "/url")

    def title(self):
        return self.cmd("GET", "/title")

    def source(self):
        return self.cmd("GET", "/source")

    def find(self, css):
        return Element(self, self.cmd("POST", "/element",
                                      {"using": "css selector", "value": css})[ELEMENT])

    def find_all(self, css):
        found = self.cmd("POST", "/elements", {"using": "css selector", "value": css})
        return [Element(self, e[ELEMENT]) for e in found]

    def exists(self, css):
        return len(self.find_all(css)) > 0

    def js(self, script, *args):
        """Runs script (a function body: `return ...`) in the page; returns its value."""
        return self.cmd("POST", "/execute/sync", {"script": script, "args": list(args)})

    def alert_text(self):
        """The open alert's text; raises WebDriverError("no such alert") when none is open."""
        return self.cmd("GET", "/alert/text")

    def dismiss_alert(self):
        self.cmd("POST", "/alert/dismiss", {})

    def set_window(self, width, height):
        self.cmd("POST", "/window/rect", {"width": width, "height": height})

    def screenshot(self, name):
        """Saves a PNG of the viewport as <screenshot_dir>/<name>.png; returns its path."""
        png = base64.b64decode(self.cmd("GET", "/screenshot"))
        os.makedirs(self.screenshot_dir, exist_ok=True)
        path = os.path.join(self.screenshot_dir, name + ".png")
        with open(path, "wb") as f:
            f.write(png)
        return path

    def logs(self):
        """The browser console's messages since the last call (chromedriver's log type)."""
        try:
            return self.cmd("POST", "/se/log", {"type": "browser"})
        except WebDriverError:
            return []

    def wait(self, what, timeout=15.0, interval=0.1, message=None):
        """Calls what() until it returns a true value; returns it, or raises TimeoutError."""
        deadline = time.time() + timeout
        last = None
        while True:
            try:
                value = what()
                if value:
                    return value
            except WebDriverError as e:
                last = e
            if time.time() > deadline:
                raise TimeoutError((message or "condition not met") + f" within {timeout} s"
                                   + (f" (last error: {last})" if last else ""))
            time.sleep(interval)
