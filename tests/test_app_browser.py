"""The teaching app, driven in headless Chromium: the real server (``python run.py app``), the real page.

Checks: the page loads without console errors; moving a slider changes the parameter the running
model uses (read back from the page's "what the model is using now" table, which reads ``model.p``);
step and play advance the month (a step renders in well under a second); "withdraw support now"
sets the phase-out on the running model; side-by-side mode runs two scenarios. Screenshots go to
``test-artifacts/``.

Needs Debian's ``chromium`` (``apt-get install -y chromium``) and the ``playwright`` Python package
(no browser download: the system Chromium is used). Skipped when Chromium is absent.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1600, "height": 1000}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(extra: list[str], log_name: str):
    """Start ``python run.py app`` (+ ``extra``) on a free port; yield its URL; stop it."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium)")
    ARTIFACTS.mkdir(exist_ok=True)
    port = _free_port()
    log = open(ARTIFACTS / log_name, "w")
    proc = subprocess.Popen([sys.executable, "run.py", "app", "--port", str(port), *extra], cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 180  # the first start may fetch the page's browser files with npm
    try:
        while True:
            if proc.poll() is not None:
                log.flush()
                pytest.fail(f"app server exited with {proc.returncode}:\n{(ARTIFACTS / log_name).read_text()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                pytest.fail("app server did not answer within 180 s")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def server():
    yield from _serve([], "app-server.log")


@pytest.fixture(scope="module")
def mesa_viz_server():
    yield from _serve(["--mesa-viz"], "mesa-viz-server.log")


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Page:
    """A fresh browser tab on the app (a fresh app session), recording console errors."""

    def __init__(self, browser, url):
        self.page = browser.new_page(viewport=VIEWPORT)
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(f"console {m.type}: {m.text}")
                     if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.goto(url)
        self.page.wait_for_selector(".month-value", timeout=60_000)
        self.page.wait_for_selector(".chart-map svg", timeout=30_000)

    def month(self) -> int:
        return int(self.page.locator(".month-value").inner_text())

    def wait_month(self, cond: str, timeout: float = 15_000) -> None:
        self.page.wait_for_function(
            f"(() => {{ const e = document.querySelector('.month-value'); if (!e) return false; "
            f"const m = parseInt(e.textContent); return {cond}; }})()", timeout=timeout)

    def readout(self, name: str) -> str:
        return self.page.locator(f".readout-{name} .readout-value").inner_text().strip()

    def wait_readout(self, name: str, value: str, timeout: float = 10_000) -> None:
        self.page.wait_for_function(
            f"(() => {{ const e = document.querySelector('.readout-{name} .readout-value'); "
            f"return e && e.textContent.trim() === {value!r}; }})()", timeout=timeout)

    def scroll_main(self, y: int) -> None:
        self.page.locator(".msme-main").evaluate(f"e => e.scrollTop = {y}")
        self.page.wait_for_timeout(250)

    def shot(self, name: str) -> Path:
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path))
        return path

    def close(self):
        self.page.close()


@pytest.fixture
def app(browser, server):
    pg = Page(browser, server)
    yield pg
    pg.close()


# ----------------------------------------------------------------------------------------------
def test_page_loads_without_console_errors(app):
    p = app.page
    assert app.month() == 0
    assert "MSME Policy Lab" in p.locator(".msme-header").inner_text()
    for chart in ("growth", "dependence", "composition", "map", "story"):
        assert p.locator(f".chart-{chart} svg").count() >= 1, chart
    # every chart card carries its one-line explanation
    assert p.locator(".msme-card .help").count() >= 6
    assert p.locator(".msme-side .msme-help").count() >= 12
    assert app.readout("n_firms") == "2000"
    p.wait_for_timeout(1000)
    app.shot("app_start.png")
    assert app.errors == []


def test_slider_changes_model_parameter(app):
    p = app.page
    assert app.readout("budget_per_firm_month") == "50000"
    thumb = p.locator(".slider-budget [role=slider]")
    thumb.focus()
    thumb.press("ArrowRight")
    thumb.press("ArrowRight")
    app.wait_readout("budget_per_firm_month", "60000")
    assert "60 thousand IDR" in p.locator(".slabel-budget").inner_text()
    # mid-run: a policy dial acts on the running model without restarting it
    p.click(".btn-step")
    app.wait_month("m === 1")
    thumb.focus()
    thumb.press("ArrowLeft")
    app.wait_readout("budget_per_firm_month", "55000")
    assert app.month() == 1
    assert app.errors == []


def test_play_advances_month_and_step_is_fast(app):
    p = app.page
    t0 = time.perf_counter()
    p.click(".btn-step")
    app.wait_month("m === 1")
    step_seconds = time.perf_counter() - t0
    assert step_seconds < 1.0, f"a step took {step_seconds:.2f} s to show"
    p.click(".btn-play")
    app.wait_month("m >= 6", timeout=20_000)
    p.click(".btn-play")  # pause
    p.wait_for_timeout(600)
    m1 = app.month()
    p.wait_for_timeout(800)
    assert app.month() == m1, "the month kept moving after pause"
    assert m1 >= 6
    # the charts grew: the output line has as many points as months
    pts = p.locator(".chart-growth svg polyline").first.get_attribute("points")
    assert len(pts.split()) == m1 + 1
    build_ms = int(p.locator(".build-ms").inner_text())
    assert build_ms < 500, f"charts took {build_ms} ms to build"
    render_ms = int(p.locator(".render-ms").inner_text())
    assert 0 < render_ms < 1000, f"a playing month took {render_ms} ms to update the page"
    app.shot("app_playing.png")
    app.scroll_main(1400)
    app.shot("app_playing_map.png")
    assert app.errors == []


def test_withdraw_support_now(app):
    p = app.page
    for k in range(3):
        p.click(".btn-step")
        app.wait_month(f"m === {k + 1}")
    assert app.readout("phase_out_month") == "0"
    p.click(".btn-withdraw")
    app.wait_readout("phase_out_month", "4")
    assert "Support withdrawn" in p.locator(".msg").inner_text()
    p.click(".btn-step")
    app.wait_month("m === 4")
    p.wait_for_selector("text=support stopped", timeout=10_000)
    assert app.errors == []


def test_greyed_withdraw_says_why(app):
    p = app.page
    p.click(".btn-step")
    app.wait_month("m === 1")
    p.click(".btn-withdraw")
    app.wait_readout("phase_out_month", "2")
    for k in (2, 3):
        p.click(".btn-step")
        app.wait_month(f"m === {k}")
    p.wait_for_selector(".withdraw-why", timeout=10_000)
    assert p.locator(".btn-withdraw").is_disabled()
    assert "already withdrawn" in p.locator(".withdraw-why").inner_text()
    assert app.errors == []


def test_export_downloads_csv_charts_and_a_scenario_file(app):
    """The export card downloads the monthly metrics, a chart and "your policy" as a scenario file."""
    p = app.page
    for k in range(2):
        p.click(".btn-step")
        app.wait_month(f"m === {k + 1}")
    card = p.locator(".card-export")
    card.scroll_into_view_if_needed()
    got = {}
    for label in ("Monthly metrics (CSV)", "Growth chart (SVG)", "Your policy as a scenario file (TOML)"):
        with p.expect_download(timeout=20_000) as dl:
            card.get_by_text(label).click()
        got[label] = (dl.value.suggested_filename, Path(dl.value.path()).read_text())
    name, csv = got["Monthly metrics (CSV)"]
    assert name == "baseline_app_monthly.csv" and csv.startswith("run,scenario,seed,month,")
    assert len(csv.strip().splitlines()) == 1 + 3  # months 0, 1, 2 of one run
    name, svg = got["Growth chart (SVG)"]
    assert name == "baseline_app_growth.svg" and svg.startswith("<svg")
    name, toml = got["Your policy as a scenario file (TOML)"]
    assert name == "baseline_app.toml" and 'extends = "baseline"' in toml and "n_firms = " in toml
    app.shot("app_export.png")
    assert app.errors == []


def test_recipients_card_shows_dependence_cost_and_withdrawal_with_units(app):
    """Recipients' dependence, budget per additional upgrade against the no-support twin, and after
    "withdraw support now" the recipients' drop against their continuation, all with units."""
    p = app.page
    card = p.locator(".card-recipients")
    assert "% of firms" in card.inner_text() and "effort, 0-1 scale" in card.inner_text()
    p.click(".btn-play")
    app.wait_month("m >= 13", timeout=40_000)
    p.click(".btn-play")
    p.wait_for_timeout(600)
    text = card.inner_text()
    assert "no support" in text and ("bn IDR" in text or "million IDR" in text)
    assert "per additional upgrade" in text or "no additional upgrade yet" in text
    share = card.locator(".rec-recipient_support_share_income .val").first.inner_text()
    assert share.endswith(" %") and float(share[:-2]) > 0  # recipients get support: a positive share
    p.click(".btn-withdraw")
    p.wait_for_selector(".rec-withdrawal", timeout=10_000)
    m0 = app.month()
    p.click(".btn-play")
    app.wait_month(f"m >= {m0 + 6}", timeout=40_000)
    p.click(".btn-play")
    p.wait_for_timeout(600)
    wd = card.locator(".rec-withdrawal").inner_text()
    assert "than the same firms with support continued" in wd and "percentage points (pp)" in wd, wd
    assert re.search(r"\d+\.\d % (less|more)", wd), wd
    app.scroll_main(0)
    card.scroll_into_view_if_needed()
    p.wait_for_timeout(300)
    app.shot("app_recipients.png")
    assert app.errors == []


def test_side_by_side_shows_two_scenarios(app):
    p = app.page
    p.locator(".ctl-side-by-side input").click()
    p.wait_for_selector(".card-difference", timeout=15_000)
    # choose another reference scenario from the menu
    p.locator(".ctl-reference").click()
    p.locator(".v-overlay-container .v-list-item", has_text="self_governance").first.click()
    p.wait_for_function("(() => { const e = document.querySelector('.msme-scen b.ref'); "
                        "return e && e.textContent.includes('self governance'); })()", timeout=15_000)
    assert "Your policy: baseline" in p.locator(".msme-scen b.you").inner_text()
    assert p.locator(".chart-map svg").count() == 2
    assert p.locator(".kpi-value_added .ref").count() == 1
    p.click(".btn-play")
    app.wait_month("m >= 12", timeout=30_000)
    p.click(".btn-play")
    p.wait_for_timeout(500)
    # both runs are drawn in the growth chart, and the difference chart has a line
    assert p.locator(".chart-growth svg polyline").count() >= 6
    assert p.locator(".chart-difference svg polyline").count() == 4
    app.shot("app_side_by_side.png")
    app.scroll_main(1000)
    app.shot("app_side_by_side_difference.png")
    assert app.errors == []


def test_mesa_solaraviz_page_steps_and_plots(browser, mesa_viz_server):
    """Mesa's own SolaraViz page on the model (``python run.py app --mesa-viz``, offline like the app):
    the levers are inputs, Step advances the model, the four plot components draw, no console errors."""
    page = browser.new_page(viewport=VIEWPORT)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    try:
        page.goto(mesa_viz_server)

        def at_step(k: int, timeout: float) -> None:  # Mesa 3.3 shows "Step: k", Mesa >= 3.4 "Time: k.0"
            page.wait_for_function(f"/(Step: {k}|Time: {k}\\.0)\\b/.test(document.body.innerText)", timeout=timeout)

        at_step(0, 60_000)
        for label in ("Governance mode", "Budget (IDR per firm a month)", "Targeting", "Firms"):
            assert page.get_by_text(label).count() >= 1, label
        for _ in range(3):
            page.get_by_role("button", name="Step").click()
        at_step(3, 30_000)
        page.wait_for_function("document.querySelectorAll('img').length >= 4", timeout=30_000)
        page.wait_for_timeout(500)
        page.screenshot(path=str(ARTIFACTS / "mesa_solaraviz.png"))
        assert errors == []
    finally:
        page.close()


def test_side_by_side_says_when_a_difference_is_within_the_noise(app):
    """One seed: a headline difference below 2 sd of the run-to-run noise (app/noise.csv) is grey, in words."""
    p = app.page
    p.locator(".ctl-side-by-side input").click()
    p.wait_for_selector(".card-difference", timeout=15_000)
    p.locator(".ctl-reference").click()
    p.locator(".v-overlay-container .v-list-item", has_text="self_governance").first.click()
    p.wait_for_function("(() => { const e = document.querySelector('.msme-scen b.ref'); "
                        "return e && e.textContent.includes('self governance'); })()", timeout=15_000)
    p.click(".btn-play")
    app.wait_month("m >= 24", timeout=40_000)
    p.click(".btn-play")
    p.wait_for_timeout(800)
    diffs = p.locator(".msme-kpi .diff")
    classes = [diffs.nth(i).get_attribute("class").split() for i in range(diffs.count())]
    words = [diffs.nth(i).inner_text() for i in range(diffs.count())]
    assert len(words) == 7
    for cls, text in zip(classes, words, strict=True):
        # grey and in words exactly when within the noise; never coloured better/worse at the same time
        assert ("noise" in cls) == ("within the run-to-run noise of about ±" in text), (cls, text)
        assert not ("noise" in cls and ({"up", "down"} & set(cls))), cls
    assert any("noise" in c for c in classes), words
    grey = p.locator(".msme-kpi .diff.noise").first.evaluate("e => getComputedStyle(e).color")
    assert grey == "rgb(90, 102, 115)"  # #5a6673, not the green/orange of better/worse
    p.locator(".msme-kpis").screenshot(path=str(ARTIFACTS / "app_kpis_noise.png"))
    assert p.locator('.chart-difference svg polygon[fill="#8c96a0"]').count() == 4  # the noise band, per panel
    p.locator(".card-difference").screenshot(path=str(ARTIFACTS / "app_difference_noise.png"))
    assert app.errors == []
