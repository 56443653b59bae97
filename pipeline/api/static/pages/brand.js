// Brand view: `#/brands/<id>?range=24h` or `?from=&to=`, `&alert=<id>` marks an alert's window,
// `&at=<bucket start>` picks one bar. Chart on the left, the *why* beside it.
import { api, fmt, go, h, handle, href, linkTime, pct, routes, signed, time } from "../app.js";
import { legend, shareBar, volumeChart } from "../charts.js";
import { alertCard } from "./alerts.js";
import { healthCards, loadHealth } from "./health.js";
import { rangePicker, rangeQuery, resolveRange, without } from "../range.js";

function postItem(p, brand) {
  const author = p.author.handle || p.author.id;
  return h("li", { class: "post", "data-post": p.id },
    h("div", { class: "post-head" },
      h("a", { class: "author", href: href("posts", [], { author: p.author.id, brand }), "data-author": p.author.id }, handle(author)),
      h("span", { class: "muted" }, ` · ${fmt(p.author.followers)} followers · reach ${fmt(p.reach ?? p.author.followers)} · ${time(p.created_at)} · ${p.source}`)),
    h("p", { class: "post-text" }, p.text),
    h("div", { class: "post-foot" },
      h("span", { class: "chip neg" }, `${p.sentiment && p.sentiment.label ? p.sentiment.label : p.sentiment} toward ${brand}`),
      p.url ? h("a", { href: p.url, target: "_blank", rel: "noopener noreferrer" }, "open post ↗") : null));
}

function whyPanel(why, brand, rq) {
  const posts = why.top_negative_posts;
  return h("div", { class: "why", id: "why" },
    h("section", { class: "card", id: "top-negative" }, h("h2", {}, "Top negative posts (widest reach first)"),
      posts.length ? h("ol", { class: "posts" }, posts.map((p) => postItem(p, brand))) : h("p", { class: "empty" }, "No negative posts in this range."),
      h("a", { href: href("posts", [], { brand, sentiment: "negative", ...rq }) }, "All negative mentions in this range →")),
    h("section", { class: "card", id: "terms" }, h("h2", {}, "What sets this range apart"),
      why.terms.length ? h("div", {}, why.terms.map((t) => h("a", { class: "chip", href: href("posts", [], { brand, q: t, ...rq }) }, t)))
        : h("p", { class: "muted" }, "No term stands out from the week before.")),
    h("section", { class: "card", id: "sources" }, h("h2", {}, "Sources"),
      h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Source"), h("th", { class: "num" }, "Mentions"), h("th", {}, "Negative"))),
        h("tbody", {}, why.sources.map((s) => h("tr", {}, h("td", {}, s.source), h("td", { class: "num" }, fmt(s.mentions)),
          h("td", {}, shareBar(s.negative_share), " ", pct(s.negative_share))))))),
    h("section", { class: "card", id: "conversations" }, h("h2", {}, "Conversations driving it"),
      why.conversations.length ? h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Conversation"), h("th", { class: "num" }, "Posts"), h("th", {}, "Negative"))),
        h("tbody", {}, why.conversations.map((c) => h("tr", { "data-conversation": c.conversation_id },
          h("td", {}, h("strong", {}, c.label), h("div", {}, c.key_terms.slice(0, 4).map((k) => h("span", { class: "chip" }, k)))),
          h("td", { class: "num" }, fmt(c.posts)), h("td", {}, shareBar(c.negative_share), " ", pct(c.negative_share))))))
        : h("p", { class: "muted" }, "No conversations in this range.")),
    h("section", { class: "card", id: "brand-voices" }, h("h2", {}, "Emerging voices"),
      why.voices.length ? h("ul", { class: "plain" }, why.voices.map((v) => h("li", {},
        h("a", { href: href("posts", [], { author: v.author_id, brand }) }, handle(v.handle || v.author_id)),
        h("span", { class: "muted" }, " " + (v.reasons[0] || ""))))) : h("p", { class: "muted" }, "None yet."),
      h("a", { href: href("voices", [], { subject: brand }) }, "All emerging voices →")));
}

async function pickedPosts(brand, at, step) {
  const from = new Date(at * 1000), to = new Date((at + step) * 1000);
  const q = { brand, from: linkTime(from), to: linkTime(to) };
  const res = await api("/posts?" + new URLSearchParams({ ...q, limit: "20" }));
  return h("section", { class: "card", id: "picked" }, h("h2", {}, `Posts ${time(from)} – ${time(to).slice(11)}`),
    res.items.length ? h("ol", { class: "posts" }, res.items.map((p) => postItem(
      { ...p, sentiment: (p.brands.find((b) => b.id === brand) || {}).sentiment || p.sentiment.label }, brand)))
      : h("p", { class: "empty" }, "No posts in this bar."),
    h("a", { href: href("posts", [], q) }, "Open in mentions →"));
}

routes.brands = async (view, route) => {
  const first = await loadHealth(null);
  const id = route.parts[0] || (first.items[0] || {}).id;
  if (!id) return view.replaceChildren(h("div", { class: "card empty" }, "No brands configured."));
  const r = resolveRange(route.params, first.to);
  const rq = rangeQuery(r);
  const keep = without(route.params, "at");
  const [health, o, why, alerts] = await Promise.all([
    r.preset === "24h" ? first : loadHealth(r),
    api(`/brands/${encodeURIComponent(id)}/overview?` + new URLSearchParams(rq)),
    api(`/brands/${encodeURIComponent(id)}/why?` + new URLSearchParams(rq)),
    api("/alerts?" + new URLSearchParams({ brand: id, limit: "100" })),
  ]);
  const marked = route.params.get("alert");
  const inRange = alerts.items.filter((a) => a.kind !== "rising_voice"
    && Date.parse(a.window.end) > r.from.getTime() && Date.parse(a.window.start) < r.to.getTime());
  let markedAlert = alerts.items.find((a) => a.id === marked) || null;
  if (marked && !markedAlert) markedAlert = await api(`/alerts/${encodeURIComponent(marked)}`).catch(() => null);
  if (markedAlert && !inRange.includes(markedAlert)) inRange.push(markedAlert);
  const me = health.items.find((b) => b.id === id) || { change: {}, previous: {} };
  const at = Number(route.params.get("at")) || null;
  const nav = (p) => go("brands", [id], p);
  const chart = volumeChart(o, inRange, {
    markedAlert: marked, selected: at, parent: view,
    onZoom: (a, b) => nav({ ...without(route.params, "at"), from: linkTime(a * 1000), to: linkTime(b * 1000) }),
    onPick: (t) => nav({ ...keep, ...(r.preset ? { range: r.preset } : rq), at: String(t) }),
  });
  const brandSel = h("select", { id: "brand-select", "aria-label": "Brand", onchange: (e) => go("brands", [e.target.value], without(route.params, "alert", "at")) },
    health.items.map((b) => h("option", { value: b.id, selected: b.id === id ? "selected" : null }, b.name)));
  view.replaceChildren(
    markedAlert ? h("div", { class: "this-alert", id: "this-alert" }, alertCard(markedAlert, { compact: true })) : null,
    healthCards(health.items, r, id),
    h("div", { class: "toolbar" }, h("label", { for: "brand-select" }, "Brand"), brandSel,
      rangePicker(r, (p) => nav({ ...without(route.params, "at"), ...p })),
      h("span", { class: "muted", id: "range-text" }, `${time(o.from)} – ${time(o.to)} · ${o.interval_s / 60}-minute bars`)),
    h("div", { class: "kpis" },
      kpi("Mentions", fmt(o.totals.mentions), "total-mentions", `${signed(me.change.mentions, true)} vs previous period`),
      kpi("Negative", fmt(o.totals.negative), "negative-mentions", `${signed(me.change.negative)} vs previous period`),
      kpi("Negative share", pct(o.totals.negative_share), "negative-share", `was ${pct(me.previous.negative_share)}`),
      kpi("Share of voice", pct((o.share_of_voice[0] || {}).share), "share-of-voice",
        o.share_of_voice.slice(1).map((c) => `${c.brand} ${pct(c.share)}`).join(", ") || "no competitors")),
    h("div", { class: "brand-grid" },
      h("div", { class: "brand-main" },
        h("section", { class: "card" }, h("h2", {}, "Mentions (drag across bars to zoom, click a bar for its posts)"), chart, legend()),
        at ? await pickedPosts(id, at, o.interval_s) : null),
      whyPanel(why, id, rq)));
};

function kpi(label, value, id, note) {
  return h("div", { class: "card kpi" }, h("div", { class: "value", "data-kpi": id }, value), h("div", { class: "label" }, label),
    note ? h("div", { class: "note muted" }, note) : null);
}
routes.overview = routes.brands;  // the first version's route
