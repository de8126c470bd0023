"""Take the documentation screenshot of the teaching app (docs/img/teaching_app.png).

    python -m app.screenshot [OUT.png] [--scenario phase_out] [--reference baseline] [--months 72]

Starts the app on a free local port, opens it in headless Chromium (Debian's ``chromium``),
sets up a side-by-side comparison, plays it to the given month and saves a palette PNG small
enough to commit (< 300 KB).
"""

from __future__ import annotations

import argparse
import io
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _select(page, field: str, option: str) -> None:
    page.locator(field).click()
    page.locator(".v-overlay-container .v-list-item", has_text=option).first.click()
    page.wait_for_timeout(600)


def capture(out: Path, scenario: str, reference: str, months: int, width: int = 1600, height: int = 1000) -> Path:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "run.py", "app", "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("the app server did not start") from None
                time.sleep(0.3)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(url)
            page.wait_for_selector(".chart-map svg", timeout=60_000)
            _select(page, ".ctl-scenario", scenario)
            page.locator(".ctl-side-by-side input").click()
            page.wait_for_selector(".card-difference", timeout=15_000)
            if reference != "baseline":
                _select(page, ".ctl-reference", reference)
            page.locator(".ctl-speed button", has_text="8").click()
            page.click(".btn-play")
            page.wait_for_function(f"parseInt(document.querySelector('.month-value').textContent) >= {months}",
                                   timeout=120_000)
            page.click(".btn-play")
            page.wait_for_timeout(800)
            png = page.screenshot()
            browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB")
    img = img.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out.parent.mkdir(parents=True, exist_ok=True)
    img.save(out, optimize=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m app.screenshot", description=__doc__.split("\n\n")[0])
    ap.add_argument("out", nargs="?", default=str(ROOT / "docs" / "img" / "teaching_app.png"))
    ap.add_argument("--scenario", default="phase_out")
    ap.add_argument("--reference", default="baseline")
    ap.add_argument("--months", type=int, default=72)
    args = ap.parse_args(argv)
    path = capture(Path(args.out), args.scenario, args.reference, args.months)
    print(f"{path} ({path.stat().st_size / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
