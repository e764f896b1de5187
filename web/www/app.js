// The page: text boxes in, the core's answers out. Every figure shown comes from the wasm core
// (pkg/, built by scripts/playground.sh); this file only moves text and draws.
import init, * as core from "./pkg/llm_router_playground.js";
import { costChart, tierMix } from "./chart.js";

const $ = (id) => document.getElementById(id);

function show(id, message) {
  const e = $(id);
  e.textContent = message ?? "";
  e.hidden = !message;
}

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

function row(...texts) {
  const tr = document.createElement("tr");
  tr.append(...texts.map(cell));
  return tr;
}

// The configuration document for the two boxes, or null after showing why there is none.
function configuration() {
  let doc;
  try {
    doc = core.effective_config($("config").value, $("prices").value);
  } catch (e) {
    show("config-error", String(e));
    $("config-status").textContent = "invalid: the filter would refuse this configuration";
    $("effective-config").textContent = "";
    return null;
  }
  $("effective-config").textContent = doc;
  try {
    const s = JSON.parse(core.check_config(doc));
    show("config-error", "");
    const tiers = s.tiers.map((t) => `${t.name} → ${t.model}`).join(", ");
    $("config-status").textContent =
      `valid: mode ${s.mode}, classifier ${s.classifier}, tiers ${tiers}, baseline ${s.baseline_model}, prices ${s.price_version}`;
    $("status").textContent = `core loaded: classifier ${s.classifier}, price table ${s.price_version}`;
    return doc;
  } catch (e) {
    show("config-error", String(e));
    $("config-status").textContent = "invalid: the filter would refuse this configuration";
    return null;
  }
}

function clearDecision() {
  for (const id of ["tier", "model", "score", "reason", "input-tokens", "cost", "baseline-cost", "savings", "decision-body", "hashed"]) {
    $(id).textContent = "";
  }
  $("cost").removeAttribute("data-micro-usd");
  $("baseline-cost").removeAttribute("data-micro-usd");
  $("rules").tBodies[0].replaceChildren();
  $("features").tBodies[0].replaceChildren();
}

function renderDecision(doc) {
  clearDecision();
  if (doc === null) return show("decision-error", "no valid configuration");
  let out;
  try {
    out = JSON.parse(core.decide(doc, $("prompt").value, $("headers").value));
  } catch (e) {
    return show("decision-error", String(e));
  }
  show("decision-error", "");
  const d = out.decision;
  $("tier").textContent = d.tier;
  $("model").textContent = d.model;
  $("score").textContent = d.score_header;
  $("reason").textContent = d.decided ? d.reason : `${d.reason} (explicit model passed through: no rule or score)`;
  $("input-tokens").textContent = String(d.input_tokens);
  $("decision-body").textContent = out.body;
  $("rules").tBodies[0].replaceChildren(...d.rules.map((r) => row(r.name, r.action, r.matched ? "yes" : "no")));
  $("features").tBodies[0].replaceChildren(...d.features.map((f) => row(f.name, String(f.value))));
  $("hashed").textContent = `${d.hashed_nonzero} of ${d.hashed_total} hashed n-gram buckets are set; classifier ${d.classifier}.`;
  const usage = JSON.stringify({
    prompt_tokens: d.input_tokens,
    completion_tokens: Number($("output-tokens").value),
    prompt_tokens_details: { cached_tokens: Number($("cached-tokens").value) },
  });
  let p;
  try {
    p = JSON.parse(core.price(doc, d.model, usage));
  } catch (e) {
    return show("decision-error", String(e));
  }
  $("cost").textContent = p.cost_usd ?? `unpriced: ${d.model} is not in the price table`;
  if (p.cost_micro_usd !== null) $("cost").dataset.microUsd = String(p.cost_micro_usd);
  $("baseline-cost").textContent = `${p.baseline_cost_usd} on ${p.baseline_model}`;
  $("baseline-cost").dataset.microUsd = String(p.baseline_cost_micro_usd);
  $("savings").textContent = p.savings;
}

function renderBatch(doc) {
  for (const id of ["chart", "tier-mix", "skipped"]) $(id).replaceChildren();
  $("sim-table").textContent = "";
  if (doc === null) return show("batch-error", "no valid configuration");
  let out;
  try {
    out = JSON.parse(core.simulate(doc, $("batch").value, $("monthly").value, $("batch-output").value));
  } catch (e) {
    return show("batch-error", String(e));
  }
  show("batch-error", "");
  $("chart").append(costChart(out.report.strategies));
  $("tier-mix").append(tierMix(out.tiers));
  $("skipped").append(...out.skipped.map((s) => {
    const li = document.createElement("li");
    li.textContent = `line ${s.line}: skipped: ${s.error}`;
    return li;
  }));
  $("sim-table").textContent = out.table;
}

function update() {
  const doc = configuration();
  renderDecision(doc);
  renderBatch(doc);
}

let timer = null;
function soon() {
  clearTimeout(timer);
  timer = setTimeout(update, 120);
}

async function main() {
  await init();
  $("config").value = core.default_config();
  $("prices").value = core.default_prices();
  for (const id of ["prompt", "headers", "output-tokens", "cached-tokens", "batch", "monthly", "batch-output", "config", "prices"]) {
    $(id).addEventListener("input", soon);
  }
  $("reset").addEventListener("click", () => {
    $("config").value = core.default_config();
    $("prices").value = core.default_prices();
    update();
  });
  $("batch-file").addEventListener("change", async (ev) => {
    const file = ev.target.files[0];
    if (file) {
      $("batch").value = await file.text();
      update();
    }
  });
  update();
  document.body.dataset.ready = "true";
}

main().catch((e) => {
  $("status").textContent = `the core did not load: ${e}`;
  $("status").classList.add("error");
});
