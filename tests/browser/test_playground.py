"""The playground in a real headless Chromium: what it shows equals what the `llm-router` CLI
(the same core, natively) says for the same input. Every expected figure comes from the CLI
at test time; the page's figures come from its wasm build of the core.

Run after `bash scripts/playground.sh --build-only`:  .venv/bin/pytest tests/browser -q
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from browserlib import REPO, Site, chromium, open_page

UPDATE_TIMEOUT_S = 20
PROMPTS = [
    "Translate 'good morning' to French.",
    "Prove that the algorithm below runs in O(n log n) and derive its recurrence step by step.\n"
    "```python\ndef f(a):\n    return sorted(a)\n```",
    "Write a SQL query that returns the ten customers with the highest total order value in 2025.",
]


def body_of(prompt: str) -> dict:
    """The request a client sends to let the router choose (the shipped alias is `auto`)."""
    return {"model": "auto", "messages": [{"role": "user", "content": prompt}]}


def run_cli(cli: Path, args: list[str], stdin: str = "", ok: bool = True) -> subprocess.CompletedProcess:
    p = subprocess.run([str(cli), *args], input=stdin, capture_output=True, text=True, cwd=REPO, timeout=120)
    if ok:
        assert p.returncode == 0, f"llm-router {' '.join(args)} failed: {p.stderr}"
    return p


def cli_config_error(cli: Path, tmp_path: Path, document: str) -> str:
    """What the core says about a configuration document (the CLI prefixes it with
    `invalid configuration: `, the filter with `llm-router: invalid plugin configuration: `)."""
    path = tmp_path / "config.json"
    path.write_text(document)
    p = run_cli(cli, ["score", "--config", str(path)], ok=False)
    assert p.returncode == 1, f"the CLI accepted the configuration: {p.stdout}{p.stderr}"
    prefix = "invalid configuration: "
    message = p.stderr.strip()
    assert message.startswith(prefix), message
    return message[len(prefix):]


def type_into(driver: WebDriver, element_id: str, text: str) -> None:
    """Replace a box's text by typing it, as a user does."""
    e = driver.find_element(By.ID, element_id)
    e.click()
    e.send_keys(Keys.CONTROL, "a")
    e.send_keys(Keys.DELETE)
    e.send_keys(text)


def paste_into(driver: WebDriver, element_id: str, text: str) -> None:
    """Replace a long box's text at once (as a paste does) and tell the page."""
    driver.execute_script(
        "const e = document.getElementById(arguments[0]); e.value = arguments[1];"
        "e.dispatchEvent(new Event('input', {bubbles: true}));",
        element_id, text)


def text(driver: WebDriver, element_id: str) -> str:
    return driver.execute_script("return document.getElementById(arguments[0]).textContent", element_id)


def wait_for(driver: WebDriver, condition, message: str):
    return WebDriverWait(driver, UPDATE_TIMEOUT_S).until(lambda d: condition(), message)


def test_a_typed_prompt_gets_the_cli_decision_and_cost(page: WebDriver, cli: Path, tmp_path: Path) -> None:
    output_tokens = "321"
    type_into(page, "output-tokens", output_tokens)
    for prompt in PROMPTS:
        type_into(page, "prompt", prompt)

        def decided_this_prompt() -> bool:
            shown = text(page, "decision-body")
            return bool(shown) and json.loads(shown)["messages"][0]["content"] == prompt and text(page, "cost") != ""

        wait_for(page, decided_this_prompt, f"no decision shown for {prompt!r}")
        line = json.dumps(body_of(prompt))
        want = json.loads(run_cli(cli, ["score"], stdin=line + "\n").stdout)
        assert text(page, "tier") == want["tier"], prompt
        assert text(page, "model") == want["model"], prompt
        assert text(page, "reason") == want["reason"], prompt
        assert text(page, "score") == f"{want['score']:.4f}", prompt

        sample = tmp_path / "one.jsonl"
        sample.write_text(line + "\n")
        sim = json.loads(run_cli(cli, ["simulate", "--traffic", str(sample), "--requests", "1",
                                       "--output-tokens", output_tokens, "--format", "json"]).stdout)
        router = next(s for s in sim["strategies"] if s["strategy"].startswith("router"))
        baseline = next(s for s in sim["strategies"] if s["baseline"])
        assert router["routed_models"] == {want["model"]: 1}
        cost = page.find_element(By.ID, "cost")
        assert cost.get_attribute("data-micro-usd") == str(router["monthly_cost_micro_usd"]), prompt
        assert cost.text == router["monthly_cost_usd"], prompt
        base = page.find_element(By.ID, "baseline-cost")
        assert base.get_attribute("data-micro-usd") == str(baseline["monthly_cost_micro_usd"]), prompt
        assert base.text.startswith(baseline["monthly_cost_usd"] + " "), prompt


def test_a_rule_header_fixes_the_tier_and_shows_in_the_trace(page: WebDriver) -> None:
    config = json.loads((REPO / "src" / "default_config.json").read_text())
    rule = next(r for r in config["rules"] if "header" in r["when"] and "tier" in r)
    header = rule["when"]["header"]
    tier = next(t for t in config["tiers"] if t["name"] == rule["tier"])
    type_into(page, "headers", f"{header['name']}: {header['equals']}")
    wait_for(page, lambda: text(page, "reason") == f"rule:{rule['name']}", "the header rule did not decide")
    assert (text(page, "tier"), text(page, "model"), text(page, "score")) == (tier["name"], tier["model"], "-")
    rows = page.find_elements(By.CSS_SELECTOR, "#rules tbody tr")
    trace = {r.find_elements(By.TAG_NAME, "td")[0].text: r.find_elements(By.TAG_NAME, "td")[2].text for r in rows}
    assert trace[rule["name"]] == "yes"
    assert len(trace) == len(config["rules"])


def test_a_bad_configuration_shows_the_error_the_filter_logs(page: WebDriver, cli: Path, tmp_path: Path) -> None:
    config = json.loads((REPO / "src" / "default_config.json").read_text())
    config["thresholds"] = list(reversed(config["thresholds"]))
    cases = [
        json.dumps(config, indent=2),
        (REPO / "src" / "default_config.json").read_text().replace('"tiers": [', '"tiers": [,', 1),
    ]
    for document in cases:
        paste_into(page, "config", document)
        expected = cli_config_error(cli, tmp_path, document)
        wait_for(page, lambda: text(page, "config-error") == expected,
                 f"the page did not show {expected!r}; it shows {text(page, 'config-error')!r}")
        assert text(page, "tier") == ""
        assert text(page, "decision-error") != ""
    # An edited price table: the page shows the document it validated; the core's verdict on
    # that same document is what the page shows.
    page.find_element(By.ID, "reset").click()
    wait_for(page, lambda: text(page, "config-error") == "" and text(page, "tier") != "", "reset did not recover")
    prices = json.loads((REPO / "src" / "default_prices.json").read_text())
    prices["models"][0]["output_per_mtok"] = -1
    paste_into(page, "prices", json.dumps(prices, indent=2))
    wait_for(page, lambda: '"prices"' in text(page, "effective-config"), "the edited prices were not used")
    expected = cli_config_error(cli, tmp_path, text(page, "effective-config"))
    wait_for(page, lambda: text(page, "config-error") == expected, f"the page did not show {expected!r}")


def test_a_batch_shows_the_cli_simulate_table_and_a_chart(page: WebDriver, cli: Path, workdir: Path,
                                                          tmp_path: Path) -> None:
    prompts = [*PROMPTS, "Hello!", "Summarize the plot of Hamlet in two sentences."]
    lines = [json.dumps(body_of(p)) for p in prompts]
    # The page gets a bare prompt and JSON bodies mixed, as a user may paste them.
    batch = "\n".join([prompts[0], *lines[1:]])
    paste_into(page, "batch", batch)
    type_into(page, "monthly", "250000")
    type_into(page, "batch-output", "150")
    sample = tmp_path / "batch.jsonl"
    sample.write_text("\n".join(lines) + "\n")
    args = ["simulate", "--traffic", str(sample), "--requests", "250000", "--output-tokens", "150"]
    want = run_cli(cli, args).stdout
    wait_for(page, lambda: text(page, "sim-table") == want,
             f"the page's table differs from `llm-router {' '.join(args)}`:\n{text(page, 'sim-table')}\n---\n{want}")
    report = json.loads(run_cli(cli, [*args, "--format", "json"]).stdout)
    bars = page.find_elements(By.CSS_SELECTOR, "#chart svg rect")
    assert len(bars) == len(report["strategies"])
    chart = text(page, "chart")
    for s in report["strategies"]:
        assert s["monthly_cost_usd"] in chart, s
    router = next(s for s in report["strategies"] if s["strategy"].startswith("router"))
    mix = text(page, "tier-mix")
    for model, n in router["routed_models"].items():
        assert f"({model}): {n} of {len(lines)}" in mix
    # A JSON Lines file chosen with the file input replaces the batch.
    upload = tmp_path / "upload.jsonl"
    upload.write_text("\n".join(lines[1:4]) + "\n")
    page.find_element(By.ID, "batch-file").send_keys(str(upload))
    args = ["simulate", "--traffic", str(upload), "--requests", "250000", "--output-tokens", "150"]
    want = run_cli(cli, args).stdout
    wait_for(page, lambda: text(page, "sim-table") == want, "the uploaded file's table differs from the CLI's")
    paste_into(page, "batch", batch)
    wait_for(page, lambda: f"sample of {len(lines)} request bodies" in text(page, "sim-table"),
             "the pasted batch did not return")
    screenshot = Path(os.environ.get("LLM_ROUTER_SCREENSHOT") or workdir / "playground.png")
    page.set_window_size(1280, page.execute_script("return document.body.scrollHeight") + 20)
    page.save_screenshot(str(screenshot))
    page.set_window_size(1280, 1900)


def test_it_keeps_working_offline_once_loaded(workdir: Path, cli: Path) -> None:
    own = Site()
    driver = chromium(workdir)
    try:
        open_page(driver, own.url)
        resources = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert resources and all(r.startswith(own.url) for r in resources), resources
        own.stop()
        prompt = "Explain the difference between TCP and UDP to a new engineer."
        type_into(driver, "prompt", prompt)
        wait_for(driver, lambda: prompt in text(driver, "decision-body"), "no decision with the server gone")
        want = json.loads(run_cli(cli, ["score"], stdin=json.dumps(body_of(prompt)) + "\n").stdout)
        assert (text(driver, "tier"), text(driver, "model")) == (want["tier"], want["model"])
    finally:
        driver.quit()
        own.stop()
