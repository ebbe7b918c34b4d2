#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Open a `phantomguard profile` HTML report in headless Chromium and check what it shows.

report_check.py --report REPORT.html --screenshot OUT.png [--timeout 60]

Reads the figures the page carries (#profile-data) and checks, in the rendered page, that every
component with CPU time has a row in #components and a visible bar (non-zero width) in
#cpu-chart, that the latency chart has a mark per component that ran a hook, that the page
loaded no resource at all (self-contained) and threw no exception. Prints one `ok: ...` or
`FAIL: ...` line per check. Exit 0 when every check passed, 1 on a failure, 77 (skip) when
chromium or the python3-websocket module is missing.
"""

import argparse
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dashboard_check import (CHROMIUM_CANDIDATES, SKIP, Chromium, Deadline, DevTools,  # noqa: E402
                             Failure, Report, finish_page, js)


def run(args, websocket, browser, report):
    deadline = Deadline(args.timeout)
    cdp = None
    try:
        ws_url = browser.start(deadline)
        cdp = DevTools(websocket, ws_url, deadline)
        target = cdp.send("Target.createTarget", {"url": "about:blank"}, page=False)["targetId"]
        cdp.session = cdp.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                               page=False)["sessionId"]
        cdp.send("Runtime.enable")
        cdp.send("Page.enable")
        cdp.send("Emulation.setDeviceMetricsOverride",
                 {"width": 1280, "height": 1600, "deviceScaleFactor": 1, "mobile": False})
        url = "file://" + os.path.abspath(args.report)
        nav = cdp.send("Page.navigate", {"url": url})
        if nav.get("errorText"):
            raise Failure("navigating to %s: %s" % (url, nav["errorText"]))
        cdp.wait_for("document.readyState === 'complete'", "the report to load")
        report.ok("loaded " + url)

        data = cdp.evaluate("JSON.parse(document.getElementById('profile-data').textContent)")
        if not isinstance(data, dict) or "components" not in data:
            raise Failure("the page carries no #profile-data")
        busy = [c["name"] for c in data["components"] if c["cpu_seconds"] > 0]
        hooked = [c["name"] for c in data["components"] if c["hook_calls"] > 0]
        report.check(len(busy) > 0, "components with CPU time: " + ", ".join(busy))
        shown = cdp.evaluate("""(() => {
          const out = {};
          for (const n of %s) {
            const e = CSS.escape(n);
            const row = document.querySelector('#components tbody tr[data-component="' + e + '"]');
            const bar = document.querySelector('#cpu-chart g.bar[data-component="' + e + '"] rect');
            const mark = document.querySelectorAll('#latency-chart g.latency[data-component="' + e + '"] circle');
            out[n] = {row: !!row && row.cells[0].textContent === n,
                      bar: bar ? bar.getBoundingClientRect().width : 0,
                      marks: mark.length};
          }
          return out;
        })()""" % js(sorted(set(busy) | set(hooked))))
        for n in busy:
            s = shown.get(n, {})
            report.check(s.get("row"), "component %s has its row in #components" % n)
            report.check(s.get("bar", 0) > 0, "component %s has a visible bar in #cpu-chart" % n,
                         "width %r" % s.get("bar"))
        for n in hooked:
            report.check(shown.get(n, {}).get("marks") == 3,
                         "component %s has its p50/p95/p99 marks in #latency-chart" % n)
        charts = cdp.evaluate("document.querySelectorAll('svg').length")
        report.check(charts >= 5, "%s inline SVG charts" % charts)
        loaded = cdp.evaluate("""[...performance.getEntriesByType('resource').map(e => e.name),
          ...[...document.querySelectorAll('[src],link[href],image[href]')].map(e => e.outerHTML)]""")
        report.check(loaded == [], "no external asset loaded or referenced", repr(loaded[:3]))
        rows = cdp.evaluate("document.querySelectorAll('#components tbody tr').length")
        report.check(rows == len(data["components"]), "one row per profiled component (%s)" % rows)
        recs = cdp.evaluate("document.querySelectorAll('#recommendations li').length")
        report.check(recs == len(data["recommendations"]),
                     "%s recommendation(s) shown, as in the data" % recs)
    finally:
        finish_page(cdp, browser, report, args.screenshot, full_page=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", required=True)
    parser.add_argument("--screenshot", required=True)
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

    def on_alarm(_signum, _frame):
        raise Failure("the overall timeout of %gs passed" % args.timeout)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(args.timeout) + 15)
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
        browser.stop(browser.closing)
    if report.failures:
        print("FAIL: %d check(s) failed" % report.failures, flush=True)
        return 1
    print("ok: all report checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
