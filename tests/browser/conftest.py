"""Browser-test harness: the built playground (dist/playground/, from scripts/playground.sh
--build-only) served on 127.0.0.1, Debian's headless Chromium driven by Selenium, and the
`llm-router` CLI whose answers the page must equal.

Nothing is built here but the CLI (`cargo build --bin llm-router`, a no-op after `cargo test`).
Screenshots and the browser log go to tmp/browser/ (or $LLM_ROUTER_TEST_TMP/browser).
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Iterator

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


@pytest.fixture(scope="session")
def workdir() -> Path:
    base = os.environ.get("LLM_ROUTER_TEST_TMP")
    path = (Path(base) / "browser" if base else REPO / "tmp" / "browser").resolve()
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


@pytest.fixture(scope="session")
def site() -> Iterator[Site]:
    if not (SITE / "pkg" / "llm_router_playground_bg.wasm").exists():
        pytest.fail(
            f"the playground is not built: {SITE}/pkg is missing.\n"
            "Build it with `bash scripts/playground.sh --build-only` (or run `bash scripts/test.sh`).",
            pytrace=False,
        )
    s = Site()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def cli() -> Path:
    """The `llm-router` CLI of this checkout (debug build, the one `cargo test` builds)."""
    subprocess.run(["cargo", "build", "-q", "--bin", "llm-router"], cwd=REPO, check=True)
    return REPO / "target" / "debug" / "llm-router"


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


@pytest.fixture(scope="session")
def browser(workdir: Path) -> Iterator[webdriver.Chrome]:
    driver = chromium(workdir)
    yield driver
    (workdir / "console.log").write_text("\n".join(str(e) for e in driver.get_log("browser")))
    driver.quit()


@pytest.fixture()
def page(browser: webdriver.Chrome, site: Site) -> webdriver.Chrome:
    """The playground freshly loaded (defaults in every box)."""
    open_page(browser, site.url)
    return browser
