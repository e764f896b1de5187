"""Browser-test harness: the built playground (dist/playground/, from scripts/playground.sh
--build-only) served on 127.0.0.1, Debian's headless Chromium driven by Selenium, and the
`llm-router` CLI whose answers the page must equal.

Nothing is built here but the CLI (`cargo build --bin llm-router`, a no-op after `cargo test`).
Screenshots and the browser log go to tmp/browser/ (or $LLM_ROUTER_TEST_TMP/browser).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import pytest
from selenium import webdriver

from browserlib import REPO, SITE, Site, chromium, open_page


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
