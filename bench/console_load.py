"""Times each page of USA/FBI's and USA/TREASURY's consoles, cold and warm (bench/console_load.sh).

    python3 bench/console_load.py DEMO_DIR SHOT_DIR
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "browser"))
from webdriver import Browser  # noqa: E402

PAGES = [("USA/FBI", 8081, "inbox", "inbox"), ("USA/FBI", 8081, "queries", "queries"),
         ("USA/FBI", 8081, "recalls", "recalls"), ("USA/FBI", 8081, "mlat", "mlat"),
         ("USA/TREASURY", 8082, "freeze", "freeze"),
         ("USA/TREASURY", 8082, "freeze/TREAS-2026-0007", "freeze-matrix"),
         ("USA/TREASURY", 8082, "broker", "broker")]


def token(demo, agency):
    with open(os.path.join(demo, "console", agency.lower().replace("/", "-") + ".token")) as f:
        return f.read().strip()


def login(b, demo, agency, port):
    b.cmd("DELETE", "/cookie")
    b.get(f"http://127.0.0.1:{port}/login")
    b.wait(lambda: b.exists("#token"))
    b.find("#token").send_keys(token(demo, agency))
    b.find("#login button[type=submit]").click()
    b.wait(lambda: b.js("return !!document.body.dataset.page && document.body.dataset.page !== 'login'"),
           timeout=60)


def load(b, port, route, name):
    b.get("about:blank")
    t0 = time.monotonic()
    b.get(f"http://127.0.0.1:{port}/#/{route}")
    b.wait(lambda: b.js("return document.body.dataset.page === arguments[0] && !!document.body.dataset.ready",
                        name), timeout=120, interval=0.02)
    ready = (time.monotonic() - t0) * 1000
    return b.js("return window.liaisonLoadMs === undefined ? null : window.liaisonLoadMs"), ready


def main():
    demo, shots = sys.argv[1], sys.argv[2]
    for agency, port, route, name in PAGES:
        with Browser(screenshot_dir=shots) as b:
            login(b, demo, agency, port)
            cold = load(b, port, route, name)
            warm = [load(b, port, route, name) for _ in range(3)]
            rows = b.js("return document.querySelectorAll('table.data tr[data-id]').length")
            print(f"FIGURES console page={name} agency={agency} rows={rows}"
                  f" cold_load_ms={cold[0]} cold_ready_ms={cold[1]:.0f}"
                  f" warm_load_ms={'/'.join(str(w[0]) for w in warm)}"
                  f" warm_ready_ms={'/'.join(f'{w[1]:.0f}' for w in warm)}", flush=True)


if __name__ == "__main__":
    main()
