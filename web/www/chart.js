// Inline SVG charts for the batch: monthly cost per strategy and the router's tier mix. No
// library, so the page works offline. Amounts arrive as integer micro-USD and their `$` texts
// from the core; the bars only scale them.

const NS = "http://www.w3.org/2000/svg";

function el(name, attrs, text) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

// One bar per strategy, the baseline first and marked, longest bar = the dearest strategy.
export function costChart(strategies) {
  const rowH = 22, labelW = 260, barW = 300, valueW = 190;
  const svg = el("svg", { width: labelW + barW + valueW, height: rowH * strategies.length + 8, role: "img",
    "aria-label": "monthly cost per strategy" });
  const max = Math.max(1, ...strategies.map((s) => Number(s.monthly_cost_micro_usd)));
  strategies.forEach((s, i) => {
    const y = 4 + i * rowH;
    const cls = s.baseline ? "bar baseline" : s.strategy.startsWith("router") ? "bar router" : "bar";
    svg.append(el("text", { x: labelW - 6, y: y + 15, "text-anchor": "end", class: "label" }, s.strategy));
    const w = Math.max(1, Math.round((barW * Number(s.monthly_cost_micro_usd)) / max));
    svg.append(el("rect", { x: labelW, y: y + 3, width: w, height: rowH - 6, class: cls }));
    const saved = s.baseline ? "baseline" : `${s.savings_pct ?? "-"}% saved`;
    svg.append(el("text", { x: labelW + w + 6, y: y + 15, class: "value" }, `${s.monthly_cost_usd} (${saved})`));
  });
  return svg;
}

// The router's sample split by tier: one stacked bar, then a legend line per tier.
export function tierMix(tiers) {
  const total = tiers.reduce((n, t) => n + Number(t.requests), 0);
  const width = 600, lineH = 18;
  const svg = el("svg", { width, height: 30 + lineH * tiers.length, role: "img", "aria-label": "tier mix" });
  let x = 0;
  tiers.forEach((t, i) => {
    const w = total ? (width * Number(t.requests)) / total : 0;
    svg.append(el("rect", { x, y: 0, width: w, height: 20, class: `tier t${i % 6}` }));
    const y = 28 + i * lineH;
    svg.append(el("rect", { x: 0, y, width: 12, height: 12, class: `tier t${i % 6}` }));
    const pct = total ? ((100 * Number(t.requests)) / total).toFixed(1) : "0";
    svg.append(el("text", { x: 18, y: y + 11, class: "label" }, `${t.tier ?? "no tier"} (${t.model}): ${t.requests} of ${total}, ${pct}%`));
    x += w;
  });
  return svg;
}
