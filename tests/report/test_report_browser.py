"""The report in a real browser: Debian's chromium through chromium-driver (selenium), headless.

Opens the reports of small synthetic records, of a large synthetic run and of the seed paper's
records (`crma-eval analyze examples/paper/...`) at 1400×900 and 390×844 and asserts: no console
errors, no network requests, no element wider than the viewport outside a scroll container,
unique ids (inline SVGs included), every figure named. In print media at A4 width no table or
figure is wider than the page (print styles make scroll containers visible, so nothing is cut
off) and Chromium prints the report to PDF. Needs `make browser` (CI installs it): a missing
browser is a failure, never a skip.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from recordgen import loss_matrix, qa_arm, route, write
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from crma_eval.analyze import analyze_paths
from crma_eval.cli import cli
from crma_eval.report.context import SHOWN_CHECKPOINTS
from crma_eval.report.render import render_report

# Drives chromium (seconds per page): `make test` only.
pytestmark = pytest.mark.slow

SIZES = [(1400, 900), (390, 844)]
A4_WIDTH = 794  # CSS px of an A4 page (210 mm at 96 px per inch)
PAPER = Path(__file__).resolve().parents[2] / "examples" / "paper"
# Elements whose right edge passes the viewport, not inside an element that scrolls or clips.
OVERFLOW_JS = """
const width = document.documentElement.clientWidth, bad = [];
for (const el of document.querySelectorAll('body *')) {
  const r = el.getBoundingClientRect();
  if (r.width === 0 || (r.right <= width + 1 && r.left >= -1)) continue;
  let p = el.parentElement, clipped = false;
  while (p && p !== document.body) {
    const o = getComputedStyle(p).overflowX;
    if (o === 'auto' || o === 'scroll' || o === 'hidden') { clipped = true; break; }
    p = p.parentElement;
  }
  const where = el.parentElement.tagName + '.' + el.parentElement.className;
  if (!clipped) bad.push(el.tagName + ' ' + Math.round(r.right) + ' ' + where
                         + ' ' + el.textContent.slice(0, 60));
}
return [bad.slice(0, 10), document.documentElement.scrollWidth, width];
"""
# In print media: tables and figures whose right edge passes the page, unless inside an element
# that still scrolls or clips there (print styles make the report's scroll containers visible).
PRINT_JS = OVERFLOW_JS.replace("'body *'", "'table, figure, figure svg'")
FITS_JS = """
const wrap = document.getElementById(arguments[0]).querySelector('.table-wrap');
return wrap.scrollWidth <= wrap.clientWidth;
"""
# With every <details> open: the tables whose scroll container scrolls sideways.
SCROLLING_JS = """
for (const d of document.querySelectorAll('details')) d.open = true;
const bad = [];
for (const w of document.querySelectorAll('.table-wrap')) {
  if (w.scrollWidth > w.clientWidth) {
    const at = w.closest('[id]');
    bad.push((at ? at.id : '?') + ' ' + w.scrollWidth + ' > ' + w.clientWidth);
  }
}
const root = document.documentElement;
return [document.querySelectorAll('.table-wrap table').length, bad, root.scrollWidth,
        root.clientWidth];
"""
# The header's checkpoints: [shown in the list, inside the closed <details>, summary text].
CHECKPOINTS_JS = """
const box = document.querySelector('.masthead .checkpoints');
if (!box) return null;
const more = box.querySelector('details.more-checkpoints');
return [box.querySelectorAll(':scope > ul > li').length,
        more ? more.querySelectorAll('li').length : 0, more ? more.open : null,
        more ? more.querySelector('summary').textContent : ''];
"""
IDS_JS = """
const seen = {}, dup = [];
for (const el of document.querySelectorAll('[id]')) {
  if (seen[el.id]) dup.push(el.id); seen[el.id] = true;
}
const unnamed = [...document.querySelectorAll('figure svg')].filter(
  s => s.getAttribute('role') !== 'img' || !(s.getAttribute('aria-label') || '').trim());
const figs = document.querySelectorAll('figure svg').length;
return [dup.slice(0, 10), unnamed.length, figs];
"""


def _driver(profile: Path) -> webdriver.Chrome:
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert binary and driver, "chromium and chromium-driver are missing: run `make browser`"
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(options=opts, service=Service(executable_path=driver))


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    with tempfile.TemporaryDirectory(prefix="crma-chromium-") as profile:
        drv = _driver(Path(profile))
        try:
            yield drv
        finally:
            drv.quit()


def _bench(n_docs: int) -> list[dict[str, Any]]:
    """bench records: two 0/1 tasks (with texts, so discordant documents are listed) and one
    perplexity task, base and after arms."""
    rows: list[dict[str, Any]] = []
    for task, metric in (("arc_challenge", "acc_norm"), ("hellaswag", "acc"), ("wiki", "ppl")):
        for arm, shift in (("base", 0), ("after", 1)):
            for i in range(n_docs):
                right = (i + shift * (i % 3 == 0)) % 2 == 0
                value = -1.5 - 0.01 * ((i * 7 + shift) % 13) if metric == "ppl" else int(right)
                rows.append(
                    {
                        "kind": "bench",
                        "task": task,
                        "arm": arm,
                        "doc_id": i,
                        "metric": metric,
                        "value": value,
                        "doc_hash": f"{task}-{i}",
                        "target": "Answer: " + "y" * 80,
                        "prediction": f"{arm} answer {i}",
                    }
                )
    return rows


def _records(
    domains: list[str], n_items: int, seeds: int, arms: tuple[str, ...], order: int
) -> list[dict[str, Any]]:
    """qa records of every arm on every domain, loss matrices of `order` domains for five
    conditions, bench records and route records over all domains."""
    records: list[dict[str, Any]] = []
    for j, domain in enumerate(domains):
        for a, arm in enumerate(arms):
            outcomes = [(i + j) % (5 if a == 0 else 2 + a % 3) != 0 for i in range(n_items)]
            records += qa_arm(
                arm,
                domain,
                outcomes,
                question="What is " + "x" * 120,
                reference="1",
                prediction="2",
            )
    seq = domains[:order]
    conditions = (("naive", 1.6), ("frozen", 1.004), ("modular", 1.001))
    if order > 4:  # the large run: more conditions, long names
        conditions += (("replay_buffer_" + "r" * 30, 1.2), ("ewc_lambda_" + "0" * 30, 1.1))
    for condition, factor in conditions:
        for seed in range(seeds):
            size = len(seq)
            matrix = [
                [1.0 + 0.01 * seed if p == d else (factor if d < p else 2.0) for d in range(size)]
                for p in range(size)
            ]
            records += loss_matrix(condition, seed, seq, matrix)
    records += _bench(n_items)
    for i in range(40):
        gold = domains[i % len(domains)]
        records.append(route(f"r{i}", "in_domain", gold, gold if i % 4 else domains[0], 0.9))
        records.append(route(f"o{i}", "ood", None, None if i % 3 else gold, 0.2 + i / 100))
    return records


SMALL_DOMAINS = [f"domain_{i:02d}" for i in range(3)]
# Many domains and arms, long names without spaces (and markup, which must stay escaped).
LARGE_DOMAINS = [f"domain_{i:02d}_" + "abcdefgh" * (1 + i % 5) for i in range(23)] + ["<b>x</b>"]
LARGE_ARMS = ("with_crma", "without_crma", "with_crma_rank_64_alpha_128_" + "z" * 24, "lora_only")
# checkpoints listed in the header: few stay in view, many collapse into a <details>
CHECKPOINTS = {"small": 3, "large": 40}


def _paper_report(folder: Path) -> Path:
    """The seed paper's records analysed and rendered by the command line, as a user would."""
    run = folder / "run"
    args = ["analyze", str(PAPER / "loss.jsonl"), str(PAPER / "qa.jsonl"), "--out", str(run)]
    outcome = CliRunner().invoke(cli, args)
    assert outcome.exit_code == 0, outcome.output
    return run / "report.html"


@pytest.fixture(scope="module", params=["small", "large", "paper"])
def report(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp(request.param)
    if request.param == "paper":
        return _paper_report(folder)
    return _synthetic_report(request.param, folder)


def _synthetic_report(kind: str, folder: Path) -> Path:
    """The report of synthetic records ("small" or "large") with a run.json listing checkpoints."""
    small = kind == "small"
    if small:
        records = _records(SMALL_DOMAINS, 20, 3, ("with_crma", "without_crma"), 3)
    else:
        records = _records(LARGE_DOMAINS, 150, 5, LARGE_ARMS, 10)
    run = folder / "run"
    analyze_paths([write(folder / "in.jsonl", records)], run)
    marks = {
        f"/ckpt/run_{i:03d}_" + "step" * (i % 4) + f"/checkpoint-{1000 * i}": "sha256:"
        + hashlib.sha256(b"%d" % i).hexdigest()
        for i in range(CHECKPOINTS[kind])
    }
    (run / "run.json").write_text(json.dumps({"checkpoints": marks}), encoding="utf-8")
    return render_report(run)


def _viewport(browser: webdriver.Chrome, width: int, height: int, media: str = "") -> None:
    browser.set_window_rect(0, 0, width, height)
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 500},
    )
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": media})


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_report_in_chromium(
    browser: webdriver.Chrome, report: Path, width: int, height: int
) -> None:
    _viewport(browser, width, height)
    browser.get_log("performance")
    browser.get(report.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []
    requests = [
        e["message"]
        for e in browser.get_log("performance")
        if "Network.requestWillBeSent" in e["message"]
    ]
    assert all(report.as_uri() in m or '"url":"data:' in m for m in requests), requests[:3]
    bad, scroll_width, client = browser.execute_script(OVERFLOW_JS)
    assert bad == [] and scroll_width <= client, (bad, scroll_width, client)
    duplicates, unnamed, n_figures = browser.execute_script(IDS_JS)
    if "paper" not in report.parts[-3]:  # synthetic runs carry bench records
        assert browser.find_element("id", "bench-before-after").is_displayed()
        if width >= 1400:  # the paper's benchmark table fits without a sideways scroll
            assert browser.execute_script(FITS_JS, "bench-before-after"), "table scrolls"
    if "paper" in report.parts[-3] and width >= 1400:  # the paper's multi-seed drift table
        assert browser.execute_script(FITS_JS, "drift-drift-per-seed"), "drift table scrolls"
    assert duplicates == [] and unnamed == 0 and n_figures >= 3
    if width >= 1400:
        _assert_fits_and_collapses(browser, report)
    # the drill-down works: open the first list and filter it with the inline script
    browser.execute_script("document.querySelector('details.items').open = true")
    box = browser.find_element("css selector", "details.items input.item-filter")
    assert box.is_displayed()


def _assert_fits_and_collapses(browser: webdriver.Chrome, report: Path) -> None:
    """At 1400 px: a long checkpoint list is collapsed (its first few shown, the rest counted in
    a closed <details>), and with every <details> open no table and no page scrolls sideways."""
    kind = report.parts[-3].rstrip("0123456789")
    marks = browser.execute_script(CHECKPOINTS_JS)
    if kind in CHECKPOINTS:
        n, shown = CHECKPOINTS[kind], min(CHECKPOINTS[kind], SHOWN_CHECKPOINTS)
        assert marks is not None and marks[:2] == [shown, n - shown], marks
        if n > shown:
            assert marks[2] is False and f"all {n}" in marks[3], marks
    n_tables, bad, scroll_width, client = browser.execute_script(SCROLLING_JS)
    assert n_tables > 5 and bad == [] and scroll_width <= client, (bad, scroll_width, client)


def test_report_prints_on_a4_without_cut_off_tables(
    browser: webdriver.Chrome, report: Path
) -> None:
    _viewport(browser, A4_WIDTH, 1123, media="print")
    browser.get(report.as_uri())
    assert browser.execute_script("return matchMedia('print').matches")
    tables, figures = browser.execute_script(
        "return [document.querySelectorAll('table').length, "
        "document.querySelectorAll('figure svg').length]"
    )
    assert tables > 0 and figures > 0
    bad, scroll_width, client = browser.execute_script(PRINT_JS)
    assert bad == [] and scroll_width <= client, (bad, scroll_width, client)
    pdf = browser.execute_cdp_cmd(
        "Page.printToPDF", {"paperWidth": 8.27, "paperHeight": 11.69, "printBackground": False}
    )
    assert base64.b64decode(pdf["data"]).startswith(b"%PDF")
    _viewport(browser, 1400, 900)
