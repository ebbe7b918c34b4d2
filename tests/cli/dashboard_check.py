#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Drive headless Chromium over the DevTools protocol against a running daemon's dashboard.

dashboard_check.py --url http://127.0.0.1:PORT --token TOKEN --expect-components a,b,c
                   --screenshot OUT.png --trigger-cmd "SHELL COMMAND" --expect-rule RULE
                   [--timeout 60]

Prints one `ok: ...` or `FAIL: ...` line per check. Exit 0 when every check passed, 1 on a
failure, 77 (skip) when chromium or the python3-websocket module is missing.
"""

import argparse
import base64
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

SKIP = 77
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")


class Failure(Exception):
    """A check failed and the run cannot go on."""


class Deadline:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self):
        return self.end - time.monotonic()

    def check(self, what):
        if self.left() <= 0:
            raise Failure("timed out " + what)


class Report:
    def __init__(self):
        self.failures = 0

    def ok(self, msg):
        print("ok: " + msg, flush=True)

    def fail(self, msg):
        self.failures += 1
        print("FAIL: " + msg, flush=True)

    def check(self, cond, msg, why=""):
        if cond:
            self.ok(msg)
        else:
            self.fail(msg + (": " + why if why else ""))
        return cond


class Chromium:
    """A headless chromium process in its own process group with a throwaway profile."""

    def __init__(self, binary):
        self.binary = binary
        self.profile = None
        self.proc = None
        self.ws_url = None
        self.stderr_tail = []
        self.closing = False
        self._found = threading.Event()

    def start(self, deadline):
        self.profile = tempfile.mkdtemp(prefix="pg-dashboard-")
        cmd = [self.binary, "--headless=new", "--no-sandbox", "--disable-gpu",
               "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
               "--user-data-dir=" + self.profile, "--remote-debugging-port=0",
               "--window-size=1280,900", "about:blank"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)
        threading.Thread(target=self._drain, daemon=True).start()
        if not self._found.wait(max(0.1, min(30.0, deadline.left()))) or not self.ws_url:
            tail = " | ".join(self.stderr_tail[-5:])
            raise Failure("chromium printed no DevTools URL" + (" (stderr: " + tail + ")" if tail else ""))
        return self.ws_url

    def _drain(self):
        pattern = re.compile(r"DevTools listening on (ws://\S+)")
        for raw in iter(self.proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip()
            self.stderr_tail = (self.stderr_tail + [line])[-20:]
            m = pattern.search(line)
            if m and not self.ws_url:
                self.ws_url = m.group(1)
                self._found.set()
        self._found.set()  # chromium exited: stop waiting

    def stop(self, closing=False):
        """Ends chromium: the main process first, so that it reaps its helpers, then the group."""
        if self.proc:
            steps = ([(None, 5)] if closing else []) + [(signal.SIGTERM, 5), (signal.SIGKILL, 5)]
            for sig, wait in steps:
                if self.proc.poll() is not None:
                    break
                try:
                    if sig == signal.SIGTERM:
                        os.kill(self.proc.pid, sig)
                    elif sig == signal.SIGKILL:
                        os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(wait)
                except subprocess.TimeoutExpired:
                    continue
            try:  # whatever is left in the process group (zygote, renderers)
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc = None
        if self.profile:
            shutil.rmtree(self.profile, ignore_errors=True)
            self.profile = None


class DevTools:
    """A minimal CDP client over one browser websocket, using flattened target sessions."""

    def __init__(self, websocket_module, url, deadline):
        self.ws_mod = websocket_module
        self.deadline = deadline
        self.ws = websocket_module.create_connection(url, timeout=max(1.0, min(10.0, deadline.left())),
                                                     suppress_origin=True)
        self.next_id = 0
        self.session = None
        self.exceptions = []
        self.console_errors = []

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass

    def _handle_event(self, msg):
        method = msg.get("method")
        params = msg.get("params", {})
        if method == "Runtime.exceptionThrown":
            d = params.get("exceptionDetails", {})
            exc = d.get("exception", {})
            text = exc.get("description") or d.get("text") or "exception"
            where = "%s:%s" % (d.get("url", ""), d.get("lineNumber", "?"))
            self.exceptions.append(text.splitlines()[0] + " at " + where)
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            args = params.get("args", [])
            self.console_errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in args))

    def send(self, method, params=None, page=True, timeout=15.0):
        self.next_id += 1
        mid = self.next_id
        msg = {"id": mid, "method": method, "params": params or {}}
        if page and self.session:
            msg["sessionId"] = self.session
        self.ws.send(json.dumps(msg))
        end = time.monotonic() + min(timeout, max(0.5, self.deadline.left()))
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise Failure("no answer from the browser to " + method)
            self.ws.settimeout(left)
            try:
                raw = self.ws.recv()
            except self.ws_mod.WebSocketTimeoutException:
                raise Failure("no answer from the browser to " + method)
            except self.ws_mod.WebSocketConnectionClosedException:
                raise Failure("the browser closed the DevTools connection during " + method)
            reply = json.loads(raw)
            if reply.get("id") == mid:
                if "error" in reply:
                    raise Failure("%s: %s" % (method, reply["error"].get("message", reply["error"])))
                return reply.get("result", {})
            if "method" in reply:
                self._handle_event(reply)

    def evaluate(self, expression):
        res = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                             "awaitPromise": False})
        if "exceptionDetails" in res:
            d = res["exceptionDetails"]
            raise Failure("evaluating %r: %s" % (expression[:60], d.get("exception", {}).get("description", d.get("text"))))
        return res.get("result", {}).get("value")

    def wait_for(self, expression, what, timeout=None, interval=0.2):
        """Poll a JS expression until it is truthy; returns its value."""
        end = time.monotonic() + (timeout if timeout is not None else self.deadline.left())
        end = min(end, self.deadline.end)
        last_error = None
        while True:
            try:
                value = self.evaluate(expression)
                last_error = None
            except Failure as e:  # the page may still be loading or navigating
                if "closed the DevTools connection" in str(e):
                    raise
                value, last_error = None, e
            if value:
                return value
            if time.monotonic() >= end:
                raise Failure("timed out waiting for " + what + (" (%s)" % last_error if last_error else ""))
            time.sleep(interval)


def js(value):
    return json.dumps(value)


def snapshot_expr():
    return """(() => {
      const cells = [...document.querySelectorAll('#components tbody td')].map(td => td.textContent);
      return JSON.stringify({updated: (document.getElementById('updated') || {}).textContent || '',
                             metrics: document.body.dataset.metrics || '', cells});
    })()"""


def finish_page(cdp, browser, report, screenshot, full_page=False):
    """Saves a screenshot, reports the page's JS exceptions, and closes the browser (from a
    `finally`: nothing here may mask the first failure)."""
    try:
        if cdp and cdp.session and screenshot and browser.proc and browser.proc.poll() is None:
            params = {"format": "png"}
            if full_page:
                params["captureBeyondViewport"] = True
            shot = cdp.send("Page.captureScreenshot", params, timeout=10.0)
            with open(screenshot, "wb") as f:
                f.write(base64.b64decode(shot["data"]))
            report.ok("screenshot saved to " + screenshot)
            cdp.evaluate("1")  # drain the events that arrived meanwhile
    except Exception as e:  # noqa: BLE001 - the screenshot must not mask the first failure
        report.fail("screenshot: %s" % e)
    if cdp:
        if cdp.exceptions:
            for e in cdp.exceptions:
                report.fail("JS exception in the page: " + e)
        elif cdp.session:
            report.ok("no JS exceptions in the page")
        for e in cdp.console_errors[:5]:
            print("note: console error: " + e, flush=True)
        try:
            browser.closing = True
            cdp.send("Browser.close", page=False, timeout=3.0)
        except Exception:  # noqa: BLE001 - stop() falls back to signals
            pass
        cdp.close()


def run(args, websocket, browser, report):
    deadline = Deadline(args.timeout)
    cdp = None
    try:
        ws_url = browser.start(deadline)
        report.ok("chromium started (" + ws_url.split("/devtools")[0] + ")")
        cdp = DevTools(websocket, ws_url, deadline)
        target = cdp.send("Target.createTarget", {"url": "about:blank"}, page=False)["targetId"]
        cdp.session = cdp.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                               page=False)["sessionId"]
        cdp.send("Runtime.enable")
        cdp.send("Page.enable")
        cdp.send("Emulation.setDeviceMetricsOverride",
                 {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False})

        base = args.url.rstrip("/")
        nav = cdp.send("Page.navigate", {"url": base + "/#token=" + urllib.parse.quote(args.token, safe="")})
        if nav.get("errorText"):
            raise Failure("navigating to %s: %s" % (base, nav["errorText"]))
        report.ok("navigated to " + base + "/")

        try:
            cdp.wait_for("document.body && document.body.dataset.ready === '1'", "the first status (body[data-ready])")
            report.ok("first status rendered")
            cdp.wait_for("document.body.dataset.stream === '1'", "the first metrics event (body[data-stream])")
            report.ok("first metrics event from the stream processed")
        except Failure:
            why = cdp.evaluate("(document.getElementById('login-error') || {}).textContent || ''")
            if why:
                raise Failure("the page asks for the token: " + why)
            raise

        names = [n.strip() for n in args.expect_components.split(",") if n.strip()]
        found = cdp.evaluate("""(() => {
          const names = %s, out = {};
          for (const n of names) {
            const e = CSS.escape(n);
            out[n] = [!!document.querySelector('#components tr[data-component="' + e + '"]'),
                      !!document.querySelector('#pipeline .node[data-component="' + e + '"]')];
          }
          return out;
        })()""" % js(names))
        for n in names:
            in_table, in_graph = found.get(n, [False, False])
            report.check(in_table, "component %s in #components" % n)
            report.check(in_graph, "component %s in #pipeline" % n)

        state = cdp.evaluate("""({hash: location.hash, stored: sessionStorage.getItem('pg_token'),
                               conn: (document.getElementById('conn') || {}).textContent || ''})""")
        report.check(state["hash"] == "", "token removed from the URL", "location.hash is %r" % state["hash"])
        report.check(state["stored"] == args.token, "token kept in sessionStorage.pg_token")
        report.check(state["conn"].strip() == "live", "#conn says live", "it says %r" % state["conn"])

        seqs_expr = "[...document.querySelectorAll('#findings li')].map(li => li.dataset.seq)"
        before = set(cdp.evaluate(seqs_expr) or [])
        report.ok("%d findings shown before the trigger" % len(before))
        left = deadline.left()
        if left <= 0:
            raise Failure("timed out before the trigger command")
        try:
            proc = subprocess.run(args.trigger_cmd, shell=True, timeout=left,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        except subprocess.TimeoutExpired:
            raise Failure("the trigger command did not finish in time")
        if proc.returncode != 0:
            out = proc.stdout.decode("utf-8", "replace").strip()[-400:]
            raise Failure("the trigger command exited %d%s" % (proc.returncode, (": " + out) if out else ""))
        report.ok("trigger command ran")
        seq = cdp.wait_for("""(() => {
          const before = new Set(%s);
          const li = [...document.querySelectorAll('#findings li[data-rule="' + CSS.escape(%s) + '"]')]
            .find(li => !before.has(li.dataset.seq));
          return li ? li.dataset.seq : null;
        })()""" % (js(sorted(before)), js(args.expect_rule)), "a new %s finding in #findings" % args.expect_rule)
        report.ok("finding %s (seq %s) arrived live without a reload" % (args.expect_rule, seq))

        first = json.loads(cdp.evaluate(snapshot_expr()))
        cdp.wait_for("(document.getElementById('updated') || {}).textContent !== %s" % js(first["updated"]),
                     "#updated to change after another metrics event", timeout=min(15.0, deadline.left()))
        report.ok("#updated changed: " + cdp.evaluate("document.getElementById('updated').textContent"))
        if first["metrics"]:
            cdp.wait_for("Number(document.body.dataset.metrics) >= %d" % (int(first["metrics"]) + 1),
                         "another metrics event", timeout=min(15.0, deadline.left()))
        changed = False
        end = time.monotonic() + min(8.0, max(0.0, deadline.left() - 5))
        while True:
            now = json.loads(cdp.evaluate(snapshot_expr()))
            if now["cells"] != first["cells"]:
                changed = True
                break
            if time.monotonic() >= end:
                break
            time.sleep(0.5)
        if changed:
            report.ok("a #components cell changed in place")
        else:
            print("note: no #components cell changed (an idle pipeline); #updated did", flush=True)
        rows = cdp.evaluate("document.querySelectorAll('#components tbody tr').length")
        report.check(rows == len(set(cdp.evaluate(
            "[...document.querySelectorAll('#components tbody tr')].map(r => r.dataset.component)"))),
            "one #components row per component")
    finally:
        finish_page(cdp, browser, report, args.screenshot)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--expect-components", required=True)
    parser.add_argument("--screenshot", required=True)
    parser.add_argument("--trigger-cmd", required=True)
    parser.add_argument("--expect-rule", required=True)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()

    try:
        import websocket  # Debian: python3-websocket
    except ImportError:
        print("SKIP: the python3-websocket module is missing", flush=True)
        return SKIP
    if not any(os.access(c, os.X_OK) for c in CHROMIUM_CANDIDATES):
        print("SKIP: chromium is not installed", flush=True)
        return SKIP

    def on_signal(signum, _frame):
        raise Failure("interrupted by signal %d" % signum)

    def on_alarm(_signum, _frame):
        raise Failure("the overall timeout of %gs passed" % args.timeout)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(args.timeout) + 15)  # a backstop: every wait is bounded by the deadline too

    report = Report()
    browser = Chromium(next(c for c in CHROMIUM_CANDIDATES if os.access(c, os.X_OK)))
    try:
        run(args, websocket, browser, report)
    except Failure as e:
        report.fail(str(e))
    except Exception as e:  # noqa: BLE001
        report.fail("%s: %s" % (type(e).__name__, e))
    finally:
        signal.alarm(0)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # let nothing interrupt the cleanup
        browser.stop(browser.closing)
    if report.failures:
        print("FAIL: %d check(s) failed" % report.failures, flush=True)
        return 1
    print("ok: all dashboard checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
