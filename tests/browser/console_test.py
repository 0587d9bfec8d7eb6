#!/usr/bin/env python3
"""The demo's web consoles in headless Chromium, checked as an officer would check them.

    tests/browser/console_test.py --build-dir BUILD [--demo-dir DIR]

Runs deploy/demo.sh --keep --no-build --build-dir BUILD into a new demo directory (or,
with --demo-dir, uses the demo already running there), then logs in to the consoles of
USA/FBI (:8081), USA/TREASURY (:8082), MEX/FGR (:8083), CAN/FINTRAC (:8084) and USA/DOJ
(:8085) and checks login, inbox, MLAT, freeze, queries, recalls and the broker page.
Each page's screenshot goes to BUILD/console-screenshots/<page>.png, and a FIGURES line
per page gives its load time.  The demo is stopped at the end (deploy/demo.sh --stop),
also on failure.  Exit 0 only if every check passed.
"""

import argparse
import datetime
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from webdriver import Browser, WebDriverError  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PORTS = {"USA/FBI": 8081, "USA/TREASURY": 8082, "MEX/FGR": 8083, "CAN/FINTRAC": 8084,
         "USA/DOJ": 8085}
CASE = "MEX-FGR-2026-0099"
OPEN_CASE = "MEX-FGR-2026-0100"     # submitted in the demo, never answered
HOSTILE = "<script>alert(1)</script>"

failures = []


def say(msg):
    print(msg, flush=True)


def check(what, cond, detail=""):
    if cond:
        say(f"   OK {what}")
    else:
        say(f"   FAILED {what}" + (f": {detail}" if detail else ""))
        failures.append(what)
    return cond


def lower(agency):
    return agency.lower().replace("/", "-")


def actor_of(agency):
    return "usa.fbi.jdoe" if agency == "USA/FBI" else agency.lower().replace("/", ".") + ".duty-officer"


class Demo:
    def __init__(self, build, demo_dir):
        self.build = build
        self.dir = demo_dir
        self.liaison = os.path.join(build, "client", "tool", "liaison")

    def token(self, agency):
        with open(os.path.join(self.dir, "console", lower(agency) + ".token")) as f:
            return f.read().strip()

    def run_as(self, agency, *args, timeout=120):
        """Runs the liaison tool as the agency (as the demo's officers do); (rc, output)."""
        a = lower(agency)
        port = {"USA": 7001, "CAN": 7002, "MEX": 7003}[agency.split("/")[0]]
        env = dict(os.environ, LIAISON_KEY=f"{self.dir}/keys/{a}.key",
                   LIAISON_ROSTER=f"{self.dir}/roster", LIAISON_BROKER=f"tcp://127.0.0.1:{port}",
                   LIAISON_STATE=f"{self.dir}/state/{a}", LIAISON_ACTOR=actor_of(agency))
        p = subprocess.run([self.liaison, *args], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
        return p.returncode, p.stdout.decode(errors="replace")


def http(url, token=None):
    """GET without a session (no redirect followed): (status, headers, body)."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None
    opener = urllib.request.build_opener(NoRedirect)
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, r.headers, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode(errors="replace")


class Console:
    """The browser, logged in to one console at a time (cookies do not tell ports apart,
    so switching consoles drops the cookies and logs in again)."""

    def __init__(self, browser, demo, shots):
        self.b = browser
        self.demo = demo
        self.shots = shots
        self.current = None
        self.figures = []

    def base(self, agency):
        return f"http://127.0.0.1:{PORTS[agency]}"

    def login(self, agency, token=None):
        b = self.b
        b.cmd("DELETE", "/cookie")
        self.current = None
        b.get(self.base(agency) + "/login")
        b.wait(lambda: b.js("return document.body && document.body.dataset.ready === '1'"),
               message=f"the login page of {agency}")
        b.find("#token").send_keys(token or self.demo.token(agency))
        b.find("#login button[type=submit]").click()
        if token is None:
            b.wait(lambda: b.js("return document.body.dataset.page !== 'login'"
                                " && !!document.body.dataset.page"),
                   timeout=20, message=f"a page after logging in to {agency}")
            self.current = agency

    def use(self, agency):
        if self.current != agency:
            self.login(agency)

    def page(self, agency, route, name, shot=None, figure=None, timeout=30):
        """Opens #/route afresh; waits until the page is rendered with its data.  shot: the
        screenshot's name (and the FIGURES line's); figure: a FIGURES line without one."""
        self.use(agency)
        b = self.b
        b.get("about:blank")
        t0 = time.monotonic()
        b.get(self.base(agency) + "/#/" + route)
        b.wait(lambda: b.js("return document.body.dataset.page === arguments[0]"
                            " && !!document.body.dataset.ready", name),
               timeout=timeout, interval=0.02, message=f"page {name} of {agency} rendered")
        ready_ms = (time.monotonic() - t0) * 1000
        load_ms = b.js("return window.liaisonLoadMs === undefined ? null : window.liaisonLoadMs")
        if shot:
            b.screenshot(shot)
        if shot or figure:
            say(f"FIGURES console page={shot or figure} agency={agency} load_ms={load_ms}"
                f" ready_ms={ready_ms:.0f}")
            self.figures.append((shot or figure, load_ms, ready_ms))

    def text(self, css):
        return " ".join(e.text() for e in self.b.find_all(css))

    def wait_text(self, css, pattern, timeout=30, refresh=False):
        """Waits until the elements of css contain pattern (re-found at each try: pages
        re-render); with refresh, reloads the page between tries.  Returns the text."""
        b = self.b
        deadline = time.time() + timeout
        last = ""
        while True:
            try:
                last = self.text(css)
                if pattern in last:
                    return last
            except WebDriverError:
                pass
            if time.time() > deadline:
                return last
            if refresh:
                b.refresh()
                try:
                    b.wait(lambda: b.js("return !!document.body.dataset.ready"), timeout=10)
                except TimeoutError:
                    pass
            time.sleep(1)


# ---- the checks, one function per page -------------------------------------------------

def test_login(c):
    say("== login: refused without a session, a wrong token refused, the right one accepted")
    base = c.base("USA/FBI")
    status, _, body = http(base + "/api/session")
    check("GET /api/session without a session: 401", status == 401, f"status {status}")
    check("... with {\"error\": ...}", "error" in body, body[:200])
    status, headers, _ = http(base + "/")
    check("GET / without a session: 303 to /login",
          status == 303 and (headers.get("Location") or "").endswith("/login"),
          f"status {status}, Location {headers.get('Location')}")
    status, headers, _ = http(base + "/login")
    csp = headers.get("Content-Security-Policy") or ""
    check("the login page carries the Content-Security-Policy", "script-src 'self'" in csp, csp)
    status, _, body = http(base + "/api/session", token=c.demo.token("USA/FBI"))
    check("a Bearer token is accepted by the API", status == 200 and "USA/FBI" in body,
          f"status {status}")
    b = c.b
    b.cmd("DELETE", "/cookie")
    b.get(base + "/")
    b.wait(lambda: b.url().rstrip("/").endswith("/login") and b.exists("#token"),
           message="the browser sent to the login page")
    check("the browser is sent to the login page", True)
    b.wait(lambda: b.js("return document.body.dataset.ready === '1'"))
    b.screenshot("login")
    c.login("USA/FBI", token="A" * 43)
    shown = c.wait_text("#login-failed", "that token is not valid", timeout=10)
    check("a wrong token: the page says 'that token is not valid'",
          "that token is not valid" in shown, repr(shown))
    status, _, _ = http(base + "/api/session")
    c.login("USA/FBI")
    check("the right token logs in", True)
    check("the header names the agency", "USA/FBI" in c.text("#agency"), c.text("#agency"))
    check("... and the officer", "usa.fbi.jdoe" in c.text("#actor"), c.text("#actor"))


def test_inbox(c):
    say("== inbox (USA/FBI)")
    c.page("USA/FBI", "inbox", "inbox", shot="inbox")
    rows = c.b.find_all("#inbox tr[data-id]")
    check("the inbox lists the demo's messages", len(rows) > 0, "no row")
    text = c.text("#inbox")
    senders = [s for s in ("CAN/RCMP", "CAN/CBSA", "MEX/AIC", "MEX/UIF") if s in text]
    check("it names the senders", len(senders) > 0, text[:300])
    say(f"   {len(rows)} rows; senders named: {', '.join(senders)}")


def test_mlat(c):
    say("== MLAT (MEX/FGR requesting, USA/DOJ requested)")
    c.page("MEX/FGR", "mlat", "mlat", shot="mlat")
    row = f"#mlat-cases tr[data-id='{CASE}']"
    check(f"the case list shows {CASE}", c.b.exists(row))
    if c.b.exists(row):
        text = c.text(row)
        check("... with its status", "executed" in text, text)
        cells = c.b.find_all(row + " td")
        check("... and its deadlines (decide, execute)",
              len(cells) >= 10 and cells[8].text().strip() != "" and cells[9].text().strip() != "",
              text)
    # As of 45 days on, the unanswered request is past its 30-day decision deadline.
    asof = (datetime.datetime.now(datetime.timezone.utc).date()
            + datetime.timedelta(days=45)).isoformat()
    c.page("MEX/FGR", "mlat?now=" + asof, "mlat", shot="mlat-overdue")
    rows = c.b.find_all("#mlat-cases tr[data-id]")
    first = rows[0] if rows else None
    check(f"as of {asof}, {OPEN_CASE} is overdue and listed first",
          first is not None and first.attr("data-id") == OPEN_CASE,
          first.attr("data-id") if first is not None else "no row")
    if first is not None:
        text = first.text()
        check("... its row stands out: class overdue, an OVERDUE badge, 'overdue by N days'",
              "overdue" in (first.attr("class") or "").split() and "OVERDUE" in text
              and "overdue by" in text, f"{first.attr('class')}: {text}")
    done = c.b.find_all(f"#mlat-cases tr[data-id='{CASE}']")
    check(f"... while {CASE}, executed, is not",
          len(done) == 1 and "overdue" not in (done[0].attr("class") or "").split(),
          done[0].attr("class") if done else "no row")
    c.page("MEX/FGR", "mlat/" + CASE, "mlat-case", shot="mlat-case")
    timeline = c.b.find_all("#timeline tr[data-id]")
    check("the case page shows the timeline (request, statuses, evidence)", len(timeline) >= 5,
          f"{len(timeline)} rows")
    with open(os.path.join(c.demo.dir, "statements.bin"), "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    evidence = c.text("#evidence")
    check("the evidence files with their SHA-256", sha in evidence and "summary.txt" in evidence,
          evidence[:300])
    c.b.find("#export").click()
    result = c.wait_text("#export-result", "verifies", timeout=180)
    check("export and verify: the bundle verifies", "The bundle verifies." in result, result[:300])
    c.b.screenshot("mlat-case-export")

    c.page("USA/DOJ", "mlat/" + CASE, "mlat-case")
    options = [o.attr("value") for o in c.b.find_all("#respond-status option")]
    check("USA/DOJ (requested) may respond with a status", len(options) > 0, "no status offered")
    if not options:
        return
    status = "closed" if "closed" in options else options[0]
    say(f"   statuses offered to USA/DOJ: {', '.join(options)}; sending {status}")
    c.b.js("const s = document.getElementById('respond-status'); s.value = arguments[0];"
           " s.dispatchEvent(new Event('change'));", status)
    c.b.find("#respond-note").send_keys("closed from the console")
    c.b.find("#respond-review").click()
    confirm = c.wait_text("#respond-confirm", status, timeout=5)
    check("a confirm step names the status before sending", status in confirm, confirm)
    c.b.screenshot("mlat-respond-confirm")
    c.b.find("#respond-confirm-send").click()
    result = c.wait_text("#respond-result", "", timeout=30)
    ok = c.b.wait(lambda: c.b.exists("#respond-result"), timeout=30)
    cls = c.b.find("#respond-result").attr("class") if ok else ""
    check("the response was accepted", "ok" in (cls or ""), f"{cls}: {c.text('#respond-result')}")
    c.page("MEX/FGR", "mlat/" + CASE, "mlat-case")
    shown = c.wait_text(".case .status", status, timeout=45, refresh=True)
    check(f"MEX/FGR's case page then shows '{status}'", status in shown, shown)


def test_freeze(c):
    say("== freeze (USA/TREASURY designates; CAN/FINTRAC and MEX/UIF acknowledge)")
    c.page("USA/TREASURY", "freeze", "freeze", shot="freeze")
    check("USA/TREASURY's designations are listed", c.b.exists("#freeze-sent tr[data-id]"))
    c.page("USA/TREASURY", "freeze/TREAS-2026-0007", "freeze-matrix", shot="freeze-matrix")
    for unit in ("CAN/FINTRAC", "MEX/UIF"):
        cell = f"#freeze-matrix td[data-unit='{unit}'][data-version='1']"
        text = c.text(cell)
        check(f"the matrix shows {unit}'s acknowledgement of version 1: implemented",
              text.startswith("implemented"), repr(text))
        text = c.text(f"#freeze-matrix td[data-unit='{unit}'][data-version='3']")
        check(f"... and its state for version 3 (the delisting)",
              text.split(" ")[0] in ("received", "implemented", "pending"), repr(text))

    c.page("CAN/FINTRAC", "freeze", "freeze")
    rows = c.b.find_all("#freeze-received tr[data-id]")
    target = None
    for row in rows:
        if row.find_all("button.implement"):
            target = (row.attr("data-id"), row.attr("data-version"))
            break
    check("CAN/FINTRAC's console offers a designation to implement", target is not None,
          f"{len(rows)} rows, none with an implement button")
    if not target:
        return
    designation, version = target
    matrix = "freeze/" + urllib.parse.quote(designation, safe="")
    cell = f"#freeze-matrix td[data-unit='CAN/FINTRAC'][data-version='{version}']"
    c.page("USA/TREASURY", matrix, "freeze-matrix")
    before = c.text(cell)
    check(f"USA/TREASURY's matrix shows {designation} v{version} not yet implemented by CAN/FINTRAC",
          before.split(" ")[0] in ("received", "pending"), repr(before))
    c.page("CAN/FINTRAC", "freeze", "freeze")
    say(f"   CAN/FINTRAC implements {designation} version {version}")
    sel = f"#freeze-received tr[data-id='{designation}'][data-version='{version}']"
    c.b.find(sel + " button.implement").click()
    c.b.wait(lambda: c.b.exists(sel + " button.implement-confirm"), timeout=5,
             message="the confirm button")
    c.b.find(sel + " button.implement-confirm").click()
    result = c.wait_text("#implement-result", "", timeout=30)
    c.b.wait(lambda: c.b.exists("#implement-result"), timeout=30, message="the result")
    cls = c.b.find("#implement-result").attr("class") or ""
    check("the implementation was requested from the agent", "ok" in cls,
          f"{cls}: {c.text('#implement-result')}")
    t0 = time.monotonic()
    c.page("USA/TREASURY", matrix, "freeze-matrix")
    text = c.wait_text(cell, "implemented", timeout=60)
    check("USA/TREASURY's matrix then shows it implemented within seconds (the page polls)",
          text.startswith("implemented"), repr(text))
    say(f"FIGURES console implement-to-matrix_s={time.monotonic() - t0:.1f}"
        " (from the result on CAN/FINTRAC's page, logging in to USA/TREASURY's included)")


def test_queries(c):
    say("== queries: a partner's hostile name is shown as text")
    entries = os.path.join(c.demo.dir, "hostile-entry.json")
    with open(entries, "w") as f:
        json.dump({"schema": "watchlist.publish/1",
                   "entries": [{"ref": "RCMP-WL-2026-0666", "type": "person", "names": [HOSTILE],
                                "born": "1970-01-01", "reason": "a name that is markup"}]}, f)
    p = subprocess.run([c.demo.liaison, "agent", "add-watchlist", "--config",
                        os.path.join(c.demo.dir, "agents", "can-rcmp.yaml"), "--file", entries],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    check("the entry is added to CAN/RCMP's agent", p.returncode == 0, p.stdout.decode()[-300:])
    rc, out = c.demo.run_as("USA/FBI", "watchlist", "query", "--to", "CAN/RCMP", "--name", HOSTILE,
                            "--born", "1970-01-01", "--purpose", "console test of markup in names",
                            "--deadline", "20")
    say(f"   watchlist query exited {rc}: {out.strip().splitlines()[-1] if out.strip() else ''}")
    c.page("USA/FBI", "queries", "queries", figure="queries")
    b = c.b
    found = None
    deadline = time.time() + 45
    while time.time() < deadline and found is None:
        for e in b.find_all("#queries .hit .name"):
            if e.prop("textContent") == HOSTILE:
                found = e
                break
        if found is None:
            time.sleep(1)
    check("the queries page shows the hit's name as text (textContent equals it)",
          found is not None, c.text("#queries")[:300])
    b.screenshot("queries")
    try:
        text = b.alert_text()
        check("no alert is open", False, f"an alert says {text!r}")
        b.dismiss_alert()
    except WebDriverError as e:
        check("no alert is open", e.error == "no such alert", str(e))
    scripts = b.js("return Array.from(document.querySelectorAll('script'))"
                   ".filter(s => s.textContent.indexOf('alert(1)') >= 0).length")
    check("no <script> element with that content in the DOM", scripts == 0, f"{scripts} found")
    # The demo's query to CAN/* and MEX/* was answered by the agencies those select that take
    # watchlist queries (CAN/RCMP, MEX/AIC): it waits for no one.
    waiting = b.js("return Array.from(document.querySelectorAll('#queries section.query'))"
                   ".filter(s => s.querySelector('h2').textContent.indexOf('Jon Doe') >= 0)"
                   ".map(s => s.querySelector('.waiting') ? s.querySelector('.waiting').textContent"
                   " : '')")
    check("the query to CAN/* and MEX/*, answered by CAN/RCMP and MEX/AIC, waits for no one",
          waiting == [""], repr(waiting))


def test_recalls(c):
    say("== recalls and consents (USA/FBI)")
    c.page("USA/FBI", "recalls", "recalls", shot="recalls")
    text = c.text("#recalls-sent")
    check("the demo's recall is shown, with CAN/RCMP's and CAN/CBSA's acknowledgements",
          "CAN/RCMP" in text and "CAN/CBSA" in text and "deleted" in text, text[:300])
    check("the consent USA/FBI granted is shown", c.b.exists("#grants tr[data-id]"),
          c.text("#content")[:300])


def test_broker(c):
    say("== broker (USA/TREASURY's console, USA broker's status)")
    c.page("USA/TREASURY", "broker", "broker", shot="broker")
    for nation in ("CAN", "MEX"):
        row = f"#peers tr[data-id='{nation}']"
        cls = c.b.find(row).attr("class") if c.b.exists(row) else ""
        check(f"peer {nation} is up", "up" in (cls or "").split(), f"class {cls!r}")
        text = c.text(row)
        check(f"... and its audit log is consistent", "ok: consistent" in text, text)
    check("a plot (svg) is drawn", c.b.exists("svg"))
    head = c.text("#tree-head")
    check("the broker's own tree head is shown", "Tree size" in head or head.strip() != "", head)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--demo-dir", help="use the demo kept running in DIR (not stopped at the end)")
    args = ap.parse_args()
    build = os.path.abspath(args.build_dir)
    shots = os.path.join(build, "console-screenshots")
    os.makedirs(shots, exist_ok=True)

    scratch = None
    if args.demo_dir:
        demo_dir = os.path.abspath(args.demo_dir)
    else:
        scratch = tempfile.mkdtemp(prefix="liaison-console-test-")
        demo_dir = os.path.join(scratch, "demo")
    demo = Demo(build, demo_dir)
    demo_sh = os.path.join(ROOT, "deploy", "demo.sh")
    try:
        if scratch:
            say(f"== the demo (deploy/demo.sh --keep), into {demo_dir}")
            log = os.path.join(scratch, "demo.log")
            t0 = time.monotonic()
            with open(log, "wb") as f:
                rc = subprocess.run([demo_sh, "--keep", "--no-build", "--build-dir", build],
                                    env=dict(os.environ, DEMO_DIR=demo_dir), stdout=f,
                                    stderr=subprocess.STDOUT).returncode
            say(f"   demo.sh exited {rc} after {time.monotonic() - t0:.0f} s")
            if rc != 0:
                with open(log, errors="replace") as f:
                    say(f.read()[-6000:])
                check("the demo ran", False, f"exit {rc}")
                return 1
        missing = [a for a in PORTS if not os.path.exists(
            os.path.join(demo_dir, "console", lower(a) + ".token"))]
        if not check("the demo started the five consoles", not missing,
                     "no token for " + ", ".join(missing)):
            return 1
        with Browser(screenshot_dir=shots, log=say) as b:
            c = Console(b, demo, shots)
            for test in (test_login, test_inbox, test_mlat, test_freeze, test_queries,
                         test_recalls, test_broker):
                try:
                    test(c)
                except Exception as e:  # a page that never rendered: the next still runs
                    check(test.__name__, False, f"{type(e).__name__}: {e}")
                    traceback.print_exc(file=sys.stdout)
                    try:
                        b.screenshot("failed-" + test.__name__)
                        say(b.js("return document.body ? document.body.innerText.slice(0, 2000) : ''"))
                    except Exception:
                        pass
            say("== figures (ms): page, liaisonLoadMs, time to data-ready")
            for name, load_ms, ready_ms in c.figures:
                say(f"FIGURES {name}: load {load_ms} ms, ready {ready_ms:.0f} ms")
    finally:
        if scratch:
            subprocess.run([demo_sh, "--stop", demo_dir])
            if failures:
                for name in sorted(os.listdir(os.path.join(demo_dir, "logs"))
                                   if os.path.isdir(os.path.join(demo_dir, "logs")) else []):
                    if name.startswith("console-"):
                        with open(os.path.join(demo_dir, "logs", name), errors="replace") as f:
                            tail = f.read()[-3000:]
                        say(f"---- {name} (end)\n{tail}")
            shutil.rmtree(scratch, ignore_errors=True)
    if failures:
        say(f"{len(failures)} check(s) failed: " + "; ".join(failures))
        return 1
    say(f"every check passed; screenshots in {shots}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
