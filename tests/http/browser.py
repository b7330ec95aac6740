#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tests/http/browser.py: loads lnmt-http's dashboard in headless Chromium, driven through
ChromeDriver's W3C WebDriver protocol (Debian's chromium and chromium-driver; the standard
library only), and prints what the page shows as one JSON object for tests/http/test_http.c
to check:

  loaded     refreshes the page's script finished (it sets body[data-loaded])
  rows       rows in the device table; first_ip, last_ip and up_cells of it
  count_*    the figures at the top (devices, up, down)
  chart_*    per chart (uptime, subnets, vendors): the SVG's class, data marks drawn
             (_series: line paths, _bars: bar segments)
  sweeps     rows in the last-sweeps table
  sorted     the first row after clicking the address header (descending)
  filtered   rows left after typing FILTER into the filter box (a real key press)
  errors     error messages the page shows, and SEVERE entries of the browser's console

Usage: browser.py URL SCREENSHOT.png FILTER   (run it where URL is reachable: the lab namespace)
Exit 0 with the JSON on stdout, or 1 with the reason on stderr. Bounded: 60 s in all.
"""
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
DEADLINE = time.monotonic() + 60


def fail(msg):
    print("browser.py: " + msg, file=sys.stderr)
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Driver:
    def __init__(self, port):
        self.base = "http://127.0.0.1:%d" % port
        self.sid = None

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        url = self.base + (path if self.sid is None else path.replace("{sid}", self.sid))
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=max(1, DEADLINE - time.monotonic())) as r:
                return json.loads(r.read())["value"]
        except urllib.error.HTTPError as e:
            fail("%s %s: %s %s" % (method, path, e.code, e.read()[:500]))

    def js(self, script):
        return self.call("POST", "/session/{sid}/execute/sync", {"script": script, "args": []})

    def element(self, css):
        return self.call("POST", "/session/{sid}/element", {"using": "css selector", "value": css})[ELEMENT]


def wait_for(what, probe, timeout=30):
    end = min(DEADLINE, time.monotonic() + timeout)
    while time.monotonic() < end:
        v = probe()
        if v:
            return v
        time.sleep(0.1)
    fail("timed out waiting for " + what)


def main():
    if len(sys.argv) != 4:
        fail("usage: browser.py URL SCREENSHOT.png FILTER")
    url, shot, filt = sys.argv[1:]
    chromium = shutil.which("chromium")
    chromedriver = shutil.which("chromedriver")
    if not chromium or not chromedriver:
        fail("chromium and chromedriver are needed (apt-get install chromium chromium-driver; tools/setup does)")
    port = free_port()
    profile = tempfile.mkdtemp(prefix="lnmt-chromium-")
    drv_proc = subprocess.Popen([chromedriver, "--port=%d" % port], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    d = Driver(port)
    try:
        wait_for("chromedriver", lambda: _ready(d), 15)
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {"binary": chromium, "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-extensions", "--disable-sync",
                "--no-first-run", "--no-default-browser-check", "--window-size=1280,2000",
                "--user-data-dir=" + profile]}}}}
        d.sid = d.call("POST", "/session", caps)["sessionId"]
        d.call("POST", "/session/{sid}/url", {"url": url})
        wait_for("the dashboard to load (body[data-loaded])",
                 lambda: d.js("return Number(document.body.dataset.loaded || 0)") >= 1)
        facts = d.js("""
            const q = s => document.querySelector(s), qa = s => document.querySelectorAll(s);
            const rows = qa('#devices tbody tr');
            const f = { loaded: Number(document.body.dataset.loaded), title: document.title,
                        rows: rows.length,
                        first_ip: rows.length ? rows[0].cells[0].textContent : null,
                        last_ip: rows.length ? rows[rows.length - 1].cells[0].textContent : null,
                        up_cells: qa('#devices tbody td.up').length,
                        count_devices: q('#n-devices').textContent, count_up: q('#n-up').textContent,
                        count_down: q('#n-down').textContent,
                        sweeps: qa('#sweeps tbody tr').length, shown: q('#shown').textContent,
                        errors: Array.from(qa('.err')).map(e => e.textContent) };
            for (const id of ['uptime', 'subnets', 'vendors']) {
                const s = q('#chart-' + id + ' svg');
                f['chart_' + id + '_class'] = s ? s.getAttribute('class') : null;
                f['chart_' + id + '_series'] = s ? s.querySelectorAll('path.series').length : 0;
                f['chart_' + id + '_bars'] = s ? s.querySelectorAll('rect.bar').length : 0;
            }
            return f;
        """)
        # sorting: a real click on the address header turns the order around
        d.call("POST", "/session/{sid}/element/%s/click" % d.element("#devices th[data-k=ip]"), {})
        facts["sorted"] = d.js("const r = document.querySelector('#devices tbody tr');"
                               "return r ? r.cells[0].textContent : null")
        # filtering: typing into the box (key events, as a person would)
        d.call("POST", "/session/{sid}/element/%s/value" % d.element("#filter"), {"text": filt})
        facts["filtered"] = d.js("return document.querySelectorAll('#devices tbody tr').length")
        facts["filtered_text"] = d.js("return document.querySelector('#shown').textContent")
        png = base64.b64decode(d.call("GET", "/session/{sid}/screenshot"))
        with open(shot, "wb") as f:
            f.write(png)
        facts["screenshot_bytes"] = len(png)
        log = d.call("POST", "/session/{sid}/se/log", {"type": "browser"}) or []
        facts["console_errors"] = [e.get("message", "") for e in log if e.get("level") == "SEVERE"]
        print(json.dumps(facts, sort_keys=True))
    finally:
        if d.sid:
            try:
                d.call("DELETE", "/session/{sid}")
            except SystemExit:
                pass
        drv_proc.terminate()
        try:
            drv_proc.wait(5)
        except subprocess.TimeoutExpired:
            drv_proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


def _ready(d):
    try:
        with urllib.request.urlopen(d.base + "/status", timeout=1) as r:
            return json.loads(r.read())["value"].get("ready")
    except (OSError, ValueError):
        return False


if __name__ == "__main__":
    main()
