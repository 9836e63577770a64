// The runner dashboard's page: renders the chain's state written into the page (before the first
// frame), then every snapshot pushed on /dashboard/events, and animates each paid call as
// micropayments flowing from the consumer through the model to the treasury, the runner, the
// model's vault and its contributors. Plain DOM and inline SVG, no framework.

const SVG = "http://www.w3.org/2000/svg";
const STAGES = ["registered", "attributed", "settled", "rewarded"];
const KIND_COLOR = { treasury: "#8a5cd1", runner: "#e08a1e", vault: "#1f8fb8", holder: "#1f9d6b" };
/** Paid calls animated at once per model; calls beyond it are counted, not drawn. */
const MAX_ANIMATED = 40;

let snap = null;
const cards = new Map(); // modelId -> card
const stageCounts = {};

// ------------------------------------------------------------------ formatting

/** Base units to a decimal string, as viem's formatUnits does. */
function formatUnits(raw, decimals) {
  let value = BigInt(raw);
  const negative = value < 0n;
  if (negative) value = -value;
  const digits = value.toString().padStart(decimals + 1, "0");
  const whole = digits.slice(0, digits.length - decimals);
  const fraction = digits.slice(digits.length - decimals).replace(/0+$/, "");
  return `${negative ? "-" : ""}${whole}${fraction ? `.${fraction}` : ""}`;
}
/** Base units as tokens with the payment asset's symbol: "0.854 tUSD". */
function amount(raw) {
  if (raw === null || raw === undefined) return "–";
  const value = formatUnits(raw, snap.asset.decimals);
  return snap.asset.symbol ? `${value} ${snap.asset.symbol}` : `${value} (base units)`;
}
/** Unix milliseconds as "2026-12-06 05:30 UTC". */
function utc(ms) {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}
const short = (hex) => (hex ? `${hex.slice(0, 6)}…${hex.slice(-4)}` : "–");
const percent = (bps) => `${(Number(bps) / 100).toFixed(2)}%`;

function setField(root, name, text) {
  const el = root.querySelector(`[data-field="${name}"]`);
  if (el && el.textContent !== String(text)) el.textContent = String(text);
  return el;
}

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function svgEl(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

// ------------------------------------------------------------------ event stream

function setConnection(state) {
  const node = document.querySelector(".connection");
  node.dataset.connection = state;
  node.querySelector("span").textContent = {
    live: "live",
    served: `as of block #${snap?.block ?? "–"}, going live…`,
    connecting: "reconnecting…",
    down: "disconnected",
  }[state];
}

function connect() {
  const events = new EventSource("/dashboard/events");
  events.addEventListener("open", () => setConnection("live"));
  events.addEventListener("error", () =>
    setConnection(events.readyState === EventSource.CLOSED ? "down" : "connecting"),
  );
  events.addEventListener("snapshot", (e) => render(JSON.parse(e.data)));
  events.addEventListener("calls", (e) => {
    // Calls arrive in batches (one push every ~200 ms): replay them with their real spacing.
    const calls = JSON.parse(e.data);
    const first = calls[0]?.at ?? 0;
    for (const call of calls) animateCall(call, Math.min(1_000, Math.max(0, call.at - first)));
  });
}

// ------------------------------------------------------------------ rendering

function render(s) {
  const first = snap === null;
  snap = s;
  setField(document, "runner", s.runner);
  setField(document, "chain", s.chainId);
  setField(document, "block", s.block === null ? "–" : `#${s.block}`);
  setField(
    document,
    "asset",
    s.asset.symbol ? `${s.asset.symbol} (${s.asset.decimals} decimals)` : "base units",
  );
  const error = document.querySelector(".chain-error");
  error.hidden = !s.chainError;
  error.textContent = s.chainError ? `chain unreachable, showing the last known state: ${s.chainError}` : "";

  for (const name of STAGES) renderStage(name, s.stages[name], first);

  const totals = document.getElementById("totals");
  setField(totals, "batches", s.fees ? s.fees.batchCount : "–");
  setField(totals, "settled-calls", s.settledUsage.calls);
  setField(
    totals,
    "settled-since",
    s.settledUsage.fromBlock === null ? "" : `(since block #${s.settledUsage.fromBlock})`,
  );
  setField(totals, "settled-amount", s.fees ? amount(s.fees.settledAmount) : "–");
  setField(totals, "started", `(${utc(s.startedAt)})`);
  setField(totals, "calls", s.totals.calls);
  setField(totals, "cps", s.totals.callsPerSecond.toFixed(1));
  setField(totals, "revenue", amount(s.totals.revenue));
  setField(totals, "pending", s.pendingCalls);
  setField(totals, "runner-fees", s.fees ? amount(s.fees.runnerFeesAccrued) : "–");
  setField(totals, "protocol-fees", s.fees ? amount(s.fees.protocolFeesAccrued) : "–");
  setField(
    totals,
    "fee-terms",
    s.fees ? `protocol ${percent(s.fees.protocolFeeBps)} · runner ${percent(s.fees.runnerFeeBps)}` : "–",
  );

  const container = document.getElementById("models");
  if (s.models.length > 0) container.querySelector(".empty")?.remove();
  else if (s.block !== null) setField(container, "empty", "No model served yet.");
  for (const model of s.models) renderModel(container, model);
  renderBatches(s.batches);
}

function renderStage(name, stage, first) {
  const node = document.querySelector(`[data-stage="${name}"]`);
  node.dataset.state = stage.count > 0 ? "done" : "idle";
  setField(node, "count", stage.count);
  setField(node, "amount", amount(stage.amount));
  setField(node, "detail", stage.detail ? `last: ${stage.detail}` : "");
  if (!first && stage.count > (stageCounts[name] ?? 0)) pulse(node);
  stageCounts[name] = stage.count;
}

function pulse(node) {
  node.classList.remove("pulse");
  void node.offsetWidth; // restart the animation
  node.classList.add("pulse");
}

function renderModel(container, m) {
  let card = cards.get(m.modelId);
  if (!card) {
    const root = document.getElementById("model-card").content.firstElementChild.cloneNode(true);
    root.dataset.model = m.modelId;
    container.append(root);
    card = { root, svg: root.querySelector(".flowsvg"), layoutKey: "", recipients: new Map(), active: 0 };
    cards.set(m.modelId, card);
  }
  const { root } = card;
  setField(root, "id", `#${m.modelId}`);
  setField(root, "status", m.status).dataset.status = m.status;
  setField(root, "price", amount(m.pricePerCall));
  setField(root, "vault-share", m.vaultShareBps === null ? "–" : percent(m.vaultShareBps));
  setField(root, "adapter", `adapter ${short(m.adapterHash)}`);
  setField(root, "calls", m.calls);
  setField(root, "cps", m.callsPerSecond.toFixed(1));
  setField(root, "p50", m.latencyMs.p50 === null ? "–" : m.latencyMs.p50.toFixed(1));
  setField(root, "p95", m.latencyMs.p95 === null ? "–" : m.latencyMs.p95.toFixed(1));
  setField(root, "revenue", amount(m.revenue));
  setField(root, "chain-calls", m.onChain ? m.onChain.calls : "–");
  setField(root, "chain-revenue", m.onChain ? amount(m.onChain.revenue) : "–");
  sparkline(root.querySelector(".spark polyline"), m.rate);

  renderFlow(card, m);
  renderContributors(root.querySelector(".contributors tbody"), m);

  setField(root, "dist-fees", amount(m.distributed.fees));
  setField(root, "dist-pending", amount(m.distributed.pending));
  setField(root, "dist-vault", amount(m.distributed.vault));
  setField(root, "dist-holders", amount(m.distributed.holders));

  const v = m.vault;
  setField(root, "vault-address", v ? short(v.address) : "");
  setField(root, "vault-assets", v ? amount(v.totalAssets) : "–");
  setField(root, "vault-supply", v ? `${formatUnits(v.totalSupply, snap.asset.decimals + 6)} shares` : "–");
  setField(root, "share-price", v ? `${amount(v.sharePrice)} per share` : "–");
  setField(root, "vault-locked", v ? amount(v.lockedRevenue) : "–");
  setField(root, "vault-revenue", v ? amount(v.totalRevenue) : "–");
  setField(root, "vault-unlock", m.unlock ?? "–");
  const unlockedShare =
    v && BigInt(v.totalRevenue) > 0n
      ? Number(((BigInt(v.totalRevenue) - BigInt(v.lockedRevenue)) * 1000n) / BigInt(v.totalRevenue)) / 10
      : 0;
  root.querySelector('[data-field="unlock-bar"]').style.width = `${unlockedShare}%`;
}

function sparkline(line, series) {
  const max = Math.max(1, ...series);
  const step = 120 / (series.length - 1);
  line.setAttribute(
    "points",
    series.map((n, i) => `${(i * step).toFixed(1)},${(27 - (n / max) * 25).toFixed(1)}`).join(" "),
  );
}

function renderContributors(tbody, m) {
  const rows = m.contributors.map((c) => {
    const tr = el("tr", { "data-account": c.account.toLowerCase() });
    const who = el("td", { class: "mono", title: c.account });
    who.append(el("span", { class: "swatch", style: `background:${KIND_COLOR.holder}` }), short(c.account));
    tr.append(
      who,
      el("td", { class: "num", "data-field": "units" }, c.units),
      el("td", { class: "num", "data-field": "share" }, percent(c.shareBps)),
      el("td", { class: "num", "data-field": "streamed" }, amount(c.streamed)),
      el("td", { class: "num", "data-field": "claimable" }, amount(c.claimable)),
      el("td", { class: "num", "data-field": "claimed" }, amount(c.claimed)),
    );
    return tr;
  });
  if (rows.length === 0) rows.push(el("tr", { class: "empty" }, "reading the chain…"));
  tbody.replaceChildren(...rows);
}

// ------------------------------------------------------------------ micropayment flow

/** The recipients of a model's revenue, in drawing order. */
function recipientsOf(m) {
  return [
    { id: "treasury", kind: "treasury", label: "treasury (protocol fee)" },
    { id: "runner", kind: "runner", label: "runner (runner fee)" },
    {
      id: "vault",
      kind: "vault",
      label: `vault (${m.vaultShareBps === null ? "–" : percent(m.vaultShareBps)} of net)`,
    },
    ...m.contributors.map((c) => ({
      id: c.account.toLowerCase(),
      kind: "holder",
      label: `${short(c.account)} (${percent(c.shareBps)})`,
    })),
  ];
}

function perCallOf(split, id) {
  if (!split) return null;
  if (id === "treasury") return split.protocolFee;
  if (id === "runner") return split.runnerFee;
  if (id === "vault") return split.vault;
  return split.holders.find((h) => h.account.toLowerCase() === id)?.amount ?? null;
}

function streamedOf(m, id) {
  if (id === "treasury") return m.streamed.protocolFee;
  if (id === "runner") return m.streamed.runnerFee;
  if (id === "vault") return m.streamed.vault;
  return m.contributors.find((c) => c.account.toLowerCase() === id)?.streamed ?? "0";
}

function renderFlow(card, m) {
  const recipients = recipientsOf(m);
  const layoutKey = recipients.map((r) => r.label).join("|");
  if (layoutKey !== card.layoutKey) layoutFlow(card, m, recipients, layoutKey);
  for (const r of recipients) {
    const node = card.recipients.get(r.id);
    const perCall = perCallOf(m.perCall, r.id);
    node.perCall.textContent = perCall === null ? "–" : `+${amount(perCall)}`;
    node.total.textContent = amount(streamedOf(m, r.id));
  }
  card.modelLabel.textContent = `${amount(m.pricePerCall)} per call`;
}

/**
 * The diagram: consumer → model → one box per recipient, each box with its title, what one call
 * pays it and what the calls since this runner started streamed to it. The "+amount" of a call
 * that lands is drawn in its own column right of the boxes (PLUS_X), so it never covers a title.
 */
const BOX = { x: 340, width: 220, height: 42 };
const ROW_H = 48;
const PLUS_X = BOX.x + BOX.width + 8;
const FLOW_WIDTH = PLUS_X + 92;

function layoutFlow(card, m, recipients, layoutKey) {
  const height = Math.max(150, recipients.length * ROW_H + 12);
  const mid = height / 2;
  const svg = card.svg;
  svg.setAttribute("viewBox", `0 0 ${FLOW_WIDTH} ${height}`);
  svg.replaceChildren();
  card.recipients.clear();
  card.layoutKey = layoutKey;

  const node = (x, y, w, h, label, color) => {
    const g = svgEl("g", { class: "node", transform: `translate(${x},${y - h / 2})` });
    g.append(svgEl("rect", { width: w, height: h, style: `stroke:${color}` }));
    g.append(svgEl("text", { x: 8, y: 13, class: "title" }, label));
    svg.append(g);
    const line = (n) => {
      const text = svgEl("text", { x: 8, y: 13 + 12 * n, class: "sub" });
      g.append(text);
      return text;
    };
    return { g, line };
  };
  card.consumerPath = svgEl("path", { d: `M 100 ${mid} L 140 ${mid}` });
  svg.append(card.consumerPath);
  node(8, mid, 92, 30, "consumer", "#3a5bd9").line(1).textContent = "signed voucher";
  const model = node(140, mid, 130, 30, `model #${m.modelId}`, "#1d2330");
  card.modelLabel = model.line(1);
  card.modelNode = model.g;

  recipients.forEach((r, i) => {
    const y = 6 + ROW_H / 2 + i * ROW_H;
    const path = svgEl("path", { d: `M 270 ${mid} C 305 ${mid}, 305 ${y}, ${BOX.x} ${y}` });
    svg.insertBefore(path, svg.firstChild);
    const { g, line } = node(BOX.x, y, BOX.width, BOX.height, r.label, KIND_COLOR[r.kind]);
    const perCall = svgEl("tspan", { "data-field": `percall-${r.id}` });
    line(1).append(perCall, svgEl("tspan", {}, " per call"));
    const total = svgEl("tspan", { "data-field": `streamed-${r.id}` });
    line(2).append(total, svgEl("tspan", {}, " streamed"));
    card.recipients.set(r.id, { ...r, g, path, perCall, total, y });
  });
}

const particles = new Set();
let animating = false;

function animateCall(call, delayMs) {
  const card = cards.get(call.modelId);
  if (!card?.consumerPath) return;
  const svg = card.svg;
  svg.dataset.animated = String(Number(svg.dataset.animated) + 1);
  if (card.active >= MAX_ANIMATED) return; // counted above; the drawing would only pile up
  card.active++;
  const now = performance.now() + delayMs;
  const price = Number(call.price) || 1;
  launch(svg, card.consumerPath, "#3a5bd9", 5, now, 350, () => pulseNode(card.modelNode));
  let pending = 0;
  for (const r of card.recipients.values()) {
    const part = perCallOf(call.split, r.id);
    if (part === null || BigInt(part) === 0n) continue;
    pending++;
    const radius = 2.5 + 5 * Math.sqrt(Number(part) / price);
    launch(svg, r.path, KIND_COLOR[r.kind], radius, now + 350, 800, () => {
      pulseNode(r.g);
      plus(svg, r, part);
      if (--pending === 0) card.active--;
    });
  }
  if (pending === 0) setTimeout(() => card.active--, delayMs + 350);
}

function launch(svg, path, color, radius, start, duration, done) {
  const dot = svgEl("circle", { r: radius.toFixed(1), fill: color, opacity: "0" });
  svg.append(dot);
  particles.add({ dot, path, length: path.getTotalLength(), start, duration, done });
  if (!animating) {
    animating = true;
    requestAnimationFrame(frame);
  }
}

function frame(now) {
  for (const p of particles) {
    const t = (now - p.start) / p.duration;
    if (t < 0) continue;
    const point = p.path.getPointAtLength(Math.min(1, t) * p.length);
    p.dot.setAttribute("cx", point.x.toFixed(1));
    p.dot.setAttribute("cy", point.y.toFixed(1));
    p.dot.setAttribute("opacity", "0.9");
    if (t >= 1) {
      particles.delete(p);
      p.dot.remove();
      p.done();
    }
  }
  if (particles.size > 0) requestAnimationFrame(frame);
  else animating = false;
}

function pulseNode(g) {
  g.classList.remove("flash");
  void g.getBoundingClientRect();
  g.classList.add("flash");
}

function plus(svg, r, part) {
  const label = svgEl("text", { x: PLUS_X, y: r.y + 4, class: "plus" }, `+${amount(part)}`);
  svg.append(label);
  setTimeout(() => label.remove(), 700);
}

// ------------------------------------------------------------------ batches and verification

let batchesKey = "";

function renderBatches(batches) {
  const key = batches.map((b) => `${b.sequence}:${b.receiptCount}`).join(",");
  if (key === batchesKey) return;
  const fresh = batchesKey !== "";
  batchesKey = key;
  const tbody = document.getElementById("batches");
  if (batches.length === 0) return;
  const rows = batches.map((b, i) => {
    const tr = el("tr", { "data-sequence": b.sequence, class: fresh && i === 0 ? "fresh" : "" });
    const verify = el("td");
    for (const r of b.receipts.slice(0, 4)) {
      verify.append(
        el(
          "a",
          {
            class: "verify",
            href: `#verify=${r.requestHash}`,
            "data-receipt": r.requestHash,
            title: r.requestHash,
          },
          `model #${r.modelId} · ${short(r.requestHash)}`,
        ),
      );
    }
    if (b.receiptCount > 4) verify.append(el("span", { class: "muted" }, `+${b.receiptCount - 4} more`));
    tr.append(
      el("td", {}, b.sequence),
      el("td", { class: "mono", "data-field": "root", "data-root": b.root, title: b.root }, short(b.root)),
      el("td", { class: "num", "data-field": "calls" }, b.calls),
      el("td", { class: "num", "data-field": "amount" }, amount(b.amount)),
      el("td", {}, b.blockNumber),
      el("td", { class: "mono", title: b.txHash }, short(b.txHash)),
      verify,
    );
    return tr;
  });
  tbody.replaceChildren(...rows);
}

async function verify(requestHash) {
  const form = document.getElementById("verify-form");
  form.requestHash.value = requestHash;
  const out = document.getElementById("verify-result");
  out.hidden = false;
  out.dataset.included = "";
  out.replaceChildren(el("p", {}, "asking the chain…"));
  document.getElementById("verify").scrollIntoView({ behavior: "smooth" });
  const response = await fetch(`/dashboard/verify/${requestHash}`);
  const body = await response.json();
  if (response.status !== 200) {
    out.dataset.included = "false";
    out.replaceChildren(el("p", { class: "verdict" }, `✗ ${body.error ?? `HTTP ${response.status}`}`));
    return;
  }
  const { proof, onChain } = body;
  out.dataset.included = String(onChain.included);
  out.replaceChildren(
    el(
      "p",
      { class: "verdict", "data-field": "verdict" },
      onChain.included
        ? `✓ included in batch #${proof.sequence}: Settlement.verifyReceipt returned true`
        : `✗ Settlement.verifyReceipt returned false for batch #${proof.sequence}`,
    ),
    el(
      "p",
      { class: "mono" },
      `root on-chain ${onChain.root} ${onChain.root === proof.root ? "= proof's root" : "≠ proof's root"} · leaf ${proof.leaf} · ${proof.proof.length} proof nodes`,
    ),
    el("pre", {}, JSON.stringify(proof, null, 2)),
  );
}

function onHash() {
  const match = /^#verify=(0x[0-9a-fA-F]{64})$/.exec(location.hash);
  if (match) void verify(match[1]);
}

document.getElementById("verify-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const hash = e.target.requestHash.value.trim();
  if (location.hash === `#verify=${hash}`) onHash();
  else location.hash = `verify=${hash}`;
});
window.addEventListener("hashchange", onHash);

// The state the page was served with (null when the chain was not read in time): rendered now,
// before the first frame, so the figures never start at zero while the event stream connects.
const served = JSON.parse(document.getElementById("state").textContent);
if (served) {
  render(served);
  setConnection("served");
}
onHash();
connect();
