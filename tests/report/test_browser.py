"""The report in a real browser: headless Chromium (Debian's ``chromium`` package, installed
by .ci/system-deps) loads the page with the network blocked, with no console errors, no
failed loads, and every section and chart drawn.

A probe script is put in front of a copy of the page: it records console errors, uncaught
exceptions and resource errors, and after load writes what it found (and which sections and
charts exist) into the DOM that ``--dump-dom`` prints. Skipped when Chromium is absent,
except in CI (``CI=true``), where that fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from thalex_mm.cli.main import main
from thalex_mm.report.html import SECTIONS

PROBE = """<script>
window.__errors = [];
(function () {
  const error = console.error.bind(console);
  console.error = function (...args) { window.__errors.push('console: ' + args.join(' '));
                                       error(...args); };
  window.addEventListener('error', function (e) {
    const t = e.target;
    window.__errors.push(t && t !== window ? 'load: ' + (t.src || t.href || t.tagName)
                                           : 'uncaught: ' + e.message);
  }, true);
  window.addEventListener('unhandledrejection', function (e) {
    window.__errors.push('rejection: ' + e.reason);
  });
  window.addEventListener('load', function () {
    setTimeout(function () {
      const sections = Array.from(document.querySelectorAll('[data-section]')).map(s => s.id);
      const charts = Array.from(document.querySelectorAll('.plotly-graph-div'));
      const result = {
        errors: window.__errors, sections: sections, charts: charts.length,
        drawn: charts.filter(c => c.querySelector('svg.main-svg')).length,
        plotly: typeof window.Plotly,
      };
      const out = document.createElement('pre');
      out.id = 'probe-result';
      out.textContent = JSON.stringify(result);
      document.body.appendChild(out);
    }, 500);
  });
})();
</script>"""


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    reason = "chromium is not installed (Debian package 'chromium'; .ci/system-deps installs it)"
    if os.environ.get("CI", "") == "true":
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


def _probe(page: Path, tmp_path: Path) -> dict[str, Any]:
    probed = tmp_path / f"probed-{page.name}"
    text = page.read_text(encoding="utf-8")
    head = text.index("<head>") + len("<head>")
    probed.write_text(text[:head] + PROBE + text[head:], encoding="utf-8")
    cmd = [
        _chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # no network: the page must be self-contained
        "--enable-logging=stderr", "--v=0", "--virtual-time-budget=15000",
        "--dump-dom", probed.as_uri(),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    uncaught = [
        line for line in done.stderr.splitlines() if "CONSOLE" in line and "Uncaught" in line
    ]
    assert uncaught == []
    marker = '<pre id="probe-result">'
    assert marker in done.stdout, "the page never finished loading: " + done.stderr[-2000:]
    start = done.stdout.index(marker) + len(marker)
    raw = done.stdout[start : done.stdout.index("</pre>", start)]
    result: dict[str, Any] = json.loads(raw.replace("&lt;", "<").replace("&gt;", ">")
                                        .replace("&amp;", "&"))  # fmt: skip
    return result


def test_report_loads_offline_with_no_errors_and_every_section(
    scenario_url: str, tmp_path: Path
) -> None:
    _chromium()
    out = tmp_path / "report.html"
    args = ["report", "--journal", scenario_url, "--run", "run-a", "--run", "run-b", "--compare"]
    assert main([*args, "--out", str(out)]) == 0
    result = _probe(out, tmp_path)
    assert result["errors"] == []
    assert result["plotly"] == "object"
    expected = ["compare"] + [f"{name}-{i}" for i in (0, 1) for name in SECTIONS]
    assert result["sections"] == expected
    assert result["charts"] == out.read_text().count('class="plotly-graph-div"') >= 12
    assert result["drawn"] == result["charts"]  # every chart rendered an SVG


def test_the_probe_sees_errors_and_failed_loads(tmp_path: Path) -> None:
    """The check above can fail: a page with a console error, an exception and an external
    image is reported as such."""
    _chromium()
    page = tmp_path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><html><head></head><body><img src='https://example.invalid/x.png'>"
        "<script>console.error('boom');</script></body></html>"
    )
    result = _probe(page, tmp_path)
    assert any(e.startswith("console: boom") for e in result["errors"])
    assert any(e.startswith("load: https://example.invalid") for e in result["errors"])
    assert result["sections"] == [] and result["charts"] == 0
