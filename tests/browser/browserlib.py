"""Helpers of the browser test: the built playground served from a thread on 127.0.0.1 and
Debian's headless Chromium driven by Selenium (fixtures in conftest.py)."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

REPO = Path(__file__).resolve().parents[2]
SITE = REPO / "dist" / "playground"
# V8 compiles the 3.7 MB module and the core loads the embedded model before the page is ready.
LOAD_TIMEOUT_S = 60


class Site:
    """dist/playground/ on a free 127.0.0.1 port, served from a thread until stopped."""

    def __init__(self) -> None:
        handler = functools.partial(_QuietHandler, directory=str(SITE))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".wasm": "application/wasm",
                      ".js": "text/javascript"}

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        pass


def chromium(workdir: Path) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1900", "--hide-scrollbars", "--no-first-run"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver_path = shutil.which("chromedriver")
    if not driver_path:
        pytest.fail("chromedriver is missing: run `bash scripts/setup.sh` (Debian package chromium-driver)",
                    pytrace=False)
    service = Service(executable_path=driver_path, log_output=str(workdir / "chromedriver.log"))
    return webdriver.Chrome(options=options, service=service)


def open_page(driver: webdriver.Chrome, url: str) -> None:
    driver.get(url)
    WebDriverWait(driver, LOAD_TIMEOUT_S).until(
        lambda d: d.execute_script("return document.body.dataset.ready === 'true'"),
        "the playground did not finish loading its core",
    )
