// hypermicro dashboard: vanilla JS, hash routes, inline SVG charts. No network beyond this API.
"use strict";

const API = "/api/v1";
const TOKEN_KEY = "hypermicro.token";
const REFRESH_MS = 15000;
const COLORS = { negative: "#d64545", neutral: "#9aa4b2", positive: "#2f9e6b", unsupported: "#d0d5dd", total: "#3b5bdb" };
const SVGNS = "http://www.w3.org/2000/svg";
const state = { me: null, brands: [], brand: localStorage.getItem("hypermicro.brand") || "", window: "1h",
                subject: "*", acked: "open", timer: null };

// ---- DOM helpers --------------------------------------------------------------------------
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) el.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : String(c));
  return el;
}
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : String(c));
  return el;
}
const fmt = (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"));
const pct = (x) => (x === null || x === undefined ? "–" : (100 * x).toFixed(1) + "%");
const time = (iso) => new Date(iso).toISOString().replace("T", " ").slice(0, 16) + " UTC";
const shortTime = (iso, step) => {
  const d = new Date(iso).toISOString();
  return step >= 86400 ? d.slice(5, 10) : d.slice(5, 10) + " " + d.slice(11, 16);
};

// ---- API access ---------------------------------------------------------------------------
class AuthNeeded extends Error {}

async function api(path, options = {}) {
  const token = localStorage.getItem(TOKEN_KEY);
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  if (token) headers.Authorization = "Bearer " + token;
  const res = await fetch(API + path, { ...options, headers });
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  if (res.status === 401 || res.status === 403) {
    throw new AuthNeeded((body && (body.detail || body.error)) || res.statusText);
  }
  if (!res.ok) {
    const detail = body && body.detail ? (typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail)) : "";
    throw new Error(((body && body.error) || res.statusText) + (detail ? ": " + detail : ""));
  }
  return body;
}

function askToken(reason) {
  const dlg = document.getElementById("token-dialog");
  document.getElementById("token-reason").textContent = reason || "Paste the access key your admin gave you.";
  document.getElementById("token-input").value = "";
  if (!dlg.open) dlg.showModal();
}

document.getElementById("token-button").addEventListener("click", () => askToken("Paste the access key your admin gave you."));
document.getElementById("token-form").addEventListener("submit", () => {
  const v = document.getElementById("token-input").value.trim();
  if (v) localStorage.setItem(TOKEN_KEY, v);
  state.me = null;
  setTimeout(render, 0);
});
document.getElementById("token-clear").addEventListener("click", () => {
  localStorage.removeItem(TOKEN_KEY);
  document.getElementById("token-dialog").close();
  state.me = null;
  render();
});

// ---- charts -------------------------------------------------------------------------------
function niceMax(v) {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

// Stacked bar chart: points [{t, ...}], keys stacked bottom-up. Each bar segment carries data-value.
function barChart(points, keys, { step, id, height = 220 } = {}) {
  const W = 1100, H = height, L = 48, R = 40, T = 14, B = 26;
  const totals = points.map((p) => keys.reduce((a, k) => a + (p[k] || 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const bw = (W - L - R) / Math.max(points.length, 1);
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "data-chart": id });
  for (const f of [0, 0.5, 1]) {
    const v = max * f;
    svg.append(s("line", { class: "axis", x1: L, x2: W - R, y1: y(v), y2: y(v) }),
               s("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, fmt(v)));
  }
  points.forEach((p, i) => {
    let base = 0;
    const x = L + i * bw + Math.min(1, bw * 0.1);
    const g = s("g", { "data-t": p.t, "data-total": totals[i] });
    for (const k of keys) {
      const v = p[k] || 0;
      if (v > 0) {
        g.append(s("rect", { x, width: Math.max(bw - Math.min(2, bw * 0.2), 1), y: y(base + v),
                             height: Math.max(y(base) - y(base + v), 0.5), fill: COLORS[k] || COLORS.total,
                             "data-key": k, "data-value": v },
                   s("title", {}, `${shortTime(p.t, step)} ${k}: ${v}`)));
      }
      base += v;
    }
    svg.append(g);
  });
  const peak = totals.indexOf(Math.max(...totals));
  if (points.length && totals[peak] > 0) {
    svg.append(s("text", { class: "peak", x: Math.min(L + peak * bw + bw / 2, W - R - 20), y: Math.max(y(totals[peak]) - 3, 10),
                           "text-anchor": "middle", "data-peak": totals[peak] }, fmt(totals[peak])));
  }
  if (points.length) {
    const ticks = Math.min(6, points.length);
    for (let j = 0; j < ticks; j++) {
      const i = Math.round((j * (points.length - 1)) / Math.max(ticks - 1, 1));
      svg.append(s("text", { x: L + i * bw + bw / 2, y: H - 8, "text-anchor": "middle" }, shortTime(points[i].t, step)));
    }
  }
  return svg;
}

// Net sentiment line (-1..1) with a zero line.
function sentimentLine(points, { step }) {
  const W = 640, H = 200, L = 40, R = 20, T = 10, B = 26;
  const xs = (i) => L + ((W - L - R) * (i + 0.5)) / Math.max(points.length, 1);
  const y = (v) => T + ((H - T - B) * (1 - v)) / 2;
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "data-chart": "net-sentiment" });
  for (const v of [-1, 0, 1]) {
    svg.append(s("line", { class: "axis", x1: L, x2: W - R, y1: y(v), y2: y(v) }),
               s("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, v > 0 ? "+1" : String(v)));
  }
  let d = "";
  points.forEach((p, i) => {
    if (p.net_sentiment === null) return;
    d += (d ? "L" : "M") + xs(i).toFixed(1) + "," + y(p.net_sentiment).toFixed(1);
    svg.append(s("circle", { cx: xs(i), cy: y(p.net_sentiment), r: 2.5, fill: p.net_sentiment < 0 ? COLORS.negative : COLORS.positive,
                             "data-value": p.net_sentiment }, s("title", {}, `${shortTime(p.t, step)} net ${p.net_sentiment}`)));
  });
  if (d) svg.insertBefore(s("path", { d, fill: "none", stroke: "#667085", "stroke-width": 1.5 }), svg.firstChild.nextSibling);
  return svg;
}

// Horizontal share-of-voice bars with labels.
function sovChart(rows, brandId) {
  const W = 640, rowH = 34, L = 110, R = 110;
  const H = rows.length * rowH + 10;
  const max = Math.max(1, ...rows.map((r) => r.mentions));
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "data-chart": "share-of-voice" });
  rows.forEach((r, i) => {
    const y = 6 + i * rowH, w = ((W - L - R) * r.mentions) / max;
    svg.append(
      s("text", { x: L - 8, y: y + 16, "text-anchor": "end", style: r.brand === brandId ? "font-weight:700;fill:#1d2330" : "" }, r.brand),
      s("rect", { x: L, y, width: Math.max(w, 1), height: rowH - 10, rx: 3, fill: r.brand === brandId ? COLORS.total : "#a5b4fc",
                  "data-brand": r.brand, "data-value": r.mentions }),
      s("text", { x: L + w + 6, y: y + 16, "data-sov": r.brand }, `${fmt(r.mentions)} (${pct(r.share)})`));
  });
  return svg;
}

function legend(keys) {
  return h("div", { class: "legend" }, keys.map((k) => h("span", {}, h("span", { class: "swatch", style: `background:${COLORS[k]}` }), k)));
}

// ---- pages --------------------------------------------------------------------------------
async function loadBrands() {
  const res = await api("/brands");
  state.brands = res.items;
  if (!state.brands.find((b) => b.id === state.brand)) state.brand = state.brands.length ? state.brands[0].id : "";
  return res;
}

function brandSelect(onchange) {
  return h("select", { id: "brand-select", onchange: (e) => { state.brand = e.target.value; localStorage.setItem("hypermicro.brand", state.brand); onchange(); } },
    state.brands.map((b) => h("option", { value: b.id, selected: b.id === state.brand ? "selected" : null }, `${b.name} (${b.id})`)));
}

async function pageOverview(view) {
  await loadBrands();
  if (!state.brand) return view.replaceChildren(h("div", { class: "empty" }, "No brands configured."));
  const o = await api(`/brands/${encodeURIComponent(state.brand)}/overview`);
  const step = o.interval_s;
  view.replaceChildren(
    h("div", { class: "toolbar" }, h("label", { for: "brand-select" }, "Brand"), brandSelect(render),
      h("span", { class: "muted" }, `${time(o.from)} – ${time(o.to)}, ${step / 60}-minute buckets`)),
    h("div", { class: "kpis" },
      kpi("Mentions", fmt(o.totals.mentions), "total-mentions"),
      kpi("Negative", fmt(o.totals.negative), "negative-mentions"),
      kpi("Negative share", pct(o.totals.negative_share), "negative-share"),
      kpi("Share of voice", pct((o.share_of_voice[0] || {}).share), "share-of-voice")),
    h("div", { class: "grid" },
      h("section", { class: "card wide" }, h("h2", {}, "Volume by sentiment"),
        barChart(o.series, ["negative", "neutral", "positive", "unsupported"], { step, id: "volume", height: 260 }),
        legend(["negative", "neutral", "positive"])),
      h("section", { class: "card" }, h("h2", {}, "Net sentiment ((positive − negative) / mentions)"),
        sentimentLine(o.series, { step })),
      h("section", { class: "card" }, h("h2", {}, "Share of voice vs competitors"),
        o.share_of_voice.length > 1 ? sovChart(o.share_of_voice, o.brand.id)
          : h("div", {}, sovChart(o.share_of_voice, o.brand.id), h("p", { class: "empty" }, "No competitors configured.")))));
}

function kpi(label, value, id) {
  return h("div", { class: "card kpi" }, h("div", { class: "value", "data-kpi": id }, value), h("div", { class: "label" }, label));
}

async function pageTrending(view) {
  await loadBrands();
  const params = new URLSearchParams({ window: state.window });
  if (state.brand && !state.trendAll) params.set("brand", state.brand);
  const t = await api(`/conversations/trending?${params}`);
  const windowSelect = h("select", { id: "window-select", onchange: (e) => { state.window = e.target.value; render(); } },
    ["15m", "1h", "6h", "24h"].map((w) => h("option", { value: w, selected: w === state.window ? "selected" : null }, w)));
  const allBox = h("input", { type: "checkbox", id: "all-brands", checked: state.trendAll ? "checked" : null,
                              onchange: (e) => { state.trendAll = e.target.checked; render(); } });
  view.replaceChildren(
    h("div", { class: "toolbar" }, h("label", {}, "Brand"), brandSelect(render), h("label", {}, allBox, " all posts"),
      h("label", {}, "Window"), windowSelect, h("span", {}, `${time(t.from)} – ${time(t.to)}`)),
    h("section", { class: "card" }, h("h2", {}, "Trending conversations (ranked by velocity)"),
      t.items.length === 0 ? h("div", { class: "empty" }, "No conversations in this window.") :
      h("table", { id: "trending-table" },
        h("thead", {}, h("tr", {}, h("th", {}, "#"), h("th", {}, "Conversation"), h("th", { class: "num" }, "Posts"),
          h("th", { class: "num" }, "Velocity /h"), h("th", { class: "num" }, "Acceleration /h"))),
        h("tbody", {}, t.items.map((c) => h("tr", { "data-conversation": c.conversation_id },
          h("td", {}, c.rank),
          h("td", {}, h("strong", {}, c.label), h("div", {}, c.key_terms.map((k) => h("span", { class: "chip" }, k))),
            c.sample_posts.slice(0, 2).map((p) => h("div", { class: "sample" }, `@${p.author_handle}: ${p.text.slice(0, 160)}`))),
          h("td", { class: "num" }, fmt(c.posts)), h("td", { class: "num" }, c.velocity),
          h("td", { class: "num " + (c.acceleration > 0 ? "pos" : c.acceleration < 0 ? "neg" : "") }, c.acceleration)))))));
}

async function pageVoices(view) {
  await loadBrands();
  const v = await api(`/voices?subject=${encodeURIComponent(state.subject)}`);
  const subj = h("select", { id: "subject-select", onchange: (e) => { state.subject = e.target.value; render(); } },
    [h("option", { value: "*", selected: state.subject === "*" ? "selected" : null }, "Everything (*)"),
     ...state.brands.map((b) => h("option", { value: b.id, selected: state.subject === b.id ? "selected" : null }, b.name))]);
  view.replaceChildren(
    h("div", { class: "toolbar" }, h("label", {}, "Subject"), subj,
      h("span", {}, v.snapshot_at ? `snapshot ${time(v.snapshot_at)}` : "no snapshot yet")),
    h("section", { class: "card" }, h("h2", {}, "Emerging voices"),
      v.items.length === 0 ? h("div", { class: "empty" }, "No ranking for this subject yet.") :
      h("table", { id: "voices-table" },
        h("thead", {}, h("tr", {}, h("th", {}, "#"), h("th", {}, "Author"), h("th", { class: "num" }, "Score"),
          h("th", { class: "num" }, "Growth"), h("th", { class: "num" }, "Reach"), h("th", { class: "num" }, "Resonance"),
          h("th", { class: "num" }, "Relevance"), h("th", {}, "Why"))),
        h("tbody", {}, v.items.map((r) => h("tr", { "data-author": r.author_id },
          h("td", {}, r.rank), h("td", {}, h("strong", {}, "@" + (r.handle || r.author_id))),
          ["score", "growth", "reach", "resonance", "relevance"].map((k) => h("td", { class: "num" }, r[k].toFixed(2))),
          h("td", {}, r.reasons.map((x) => h("div", { class: "sample" }, x)))))))));
}

// A rising-voices digest lists several people under one subject; a spike names its subject.
function alertTitle(x) {
  if (x.kind === "rising_voice" && x.subject.id.startsWith("voices:")) {
    return `rising voices · ${x.subject.brand_id || "all subjects"}`;
  }
  return `${x.kind.replace(/_/g, " ")} · ${x.subject.kind} ${x.subject.id}`;
}

// Explanation lines as written; links in them are clickable.
function explanationBlock(text) {
  return h("div", { class: "explanation" }, text.split("\n").map((line) => h("p", {},
    line.split(/(https?:\/\/\S+)/).map((part) => /^https?:\/\//.test(part)
      ? h("a", { href: part, target: "_blank", rel: "noopener" }, part) : part))));
}

async function pageAlerts(view) {
  const params = new URLSearchParams({ limit: "100" });
  if (state.acked === "open") params.set("acknowledged", "false");
  if (state.acked === "acked") params.set("acknowledged", "true");
  const a = await api(`/alerts?${params}`);
  const filter = h("select", { id: "ack-filter", onchange: (e) => { state.acked = e.target.value; render(); } },
    [["open", "Open"], ["acked", "Acknowledged"], ["all", "All"]].map(([v, l]) => h("option", { value: v, selected: v === state.acked ? "selected" : null }, l)));
  const canAct = state.me && state.me.scopes.includes("act");
  view.replaceChildren(
    h("div", { class: "toolbar" }, h("label", {}, "Show"), filter,
      canAct ? null : h("span", {}, "To acknowledge, add your personal access key (button at the top).")),
    a.items.length === 0 ? h("div", { class: "card empty" }, "No alerts.") :
    h("div", { class: "list", id: "alert-list" }, a.items.map((x) => h("article", { class: "card alert" + (x.acknowledged ? " acked" : ""), "data-alert": x.id },
      h("div", {},
        h("div", {}, h("span", { class: "badge " + x.severity }, x.severity), " ",
          h("strong", {}, alertTitle(x))),
        x.explanation ? explanationBlock(x.explanation) : h("p", {}, `observed ${x.observed} vs expected ${x.expected}`),
        h("div", { class: "meta" }, `window ${time(x.window.start)} – ${time(x.window.end)} · ` + (x.subject.id.startsWith("voices:")
          ? `${fmt(x.observed)} ${x.observed === 1 ? "voice" : "voices"}` : `observed ${fmt(x.observed)} · expected ${fmt(x.expected)}`),
          x.ack ? ` · acknowledged by ${x.ack.by} at ${time(x.ack.at)}` : "")),
      h("div", {}, x.acknowledged ? h("span", { class: "chip", "data-acked": "true" }, "acknowledged") :
        h("button", { class: "primary ack-button", type: "button", onclick: (e) => ack(x.id, e.target) }, "Acknowledge"))))));
}

async function ack(id, button) {
  button.disabled = true;
  try {
    await api(`/alerts/${encodeURIComponent(id)}/ack`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ note: "acknowledged from dashboard" }),
    });
    await render();
  } catch (e) {
    button.disabled = false;
    if (e instanceof AuthNeeded) askToken("To acknowledge, paste the personal access key your admin gave you.");
    else showError(e);
  }
}

// ---- router -------------------------------------------------------------------------------
const PAGES = { overview: pageOverview, trending: pageTrending, voices: pageVoices, alerts: pageAlerts, ...(window.HM_PAGES || {}) };

function showError(e) {
  document.getElementById("view").prepend(h("div", { class: "error", role: "alert" }, String(e.message || e)));
}

let rendering = false;
async function render() {
  if (rendering) return;
  rendering = true;
  const route = (location.hash.replace(/^#\/?/, "").split("/")[0]) || "overview";
  const page = PAGES[route] || pageOverview;
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.route === route));
  const view = document.getElementById("view");
  try {
    if (!state.me) state.me = await api("/me");
    await page(view);
    view.dataset.page = route;
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    if (e instanceof AuthNeeded) {
      view.replaceChildren(h("div", { class: "card empty" }, "Add your access key to see this page."));
      askToken("Paste the access key your admin gave you.");
    } else {
      view.replaceChildren();
      showError(e);
    }
  } finally {
    rendering = false;
  }
}

window.addEventListener("hashchange", render);
state.timer = setInterval(() => { if (!document.getElementById("token-dialog").open) render(); }, REFRESH_MS);
render();
