// All-brands health: every brand's mentions, negative share and change vs the previous period,
// most trouble first (the API's order); one click opens the brand at the same range.
import { api, fmt, go, h, href, pct, routes, signed, time } from "../app.js";
import { rangePicker, rangeQuery, resolveRange } from "../range.js";

export async function loadHealth(r) {
  return api("/brands?" + new URLSearchParams(r ? rangeQuery(r) : {}));
}

function trouble(b) {
  return b.change.negative > 0 && (b.negative_share || 0) > (b.previous.negative_share || 0) ? "up" : "";
}

export function healthCards(items, r, current) {
  return h("div", { class: "health", id: "health" }, items.map((b) => h("a", {
    class: "card health-card " + trouble(b) + (b.id === current ? " current" : ""), "data-brand": b.id,
    href: href("brands", [b.id], r.preset ? { range: r.preset } : rangeQuery(r)),
  },
    h("div", { class: "health-name" }, h("strong", {}, b.name), b.owner ? h("span", { class: "muted" }, b.owner) : null),
    h("div", { class: "health-figures" },
      h("span", {}, h("b", { "data-figure": "mentions" }, fmt(b.mentions)), " mentions ",
        h("span", { class: "muted" }, b.previous.mentions ? `(${signed(b.change.mentions, true)})` : "(none the period before)")),
      h("span", {}, h("b", { class: "neg", "data-figure": "negative-share" }, pct(b.negative_share)), " negative ",
        h("span", { class: "muted" }, b.previous.mentions ? `(${signed(b.change.negative_share, "pt")}, ${signed(b.change.negative)} posts)`
          : `(${signed(b.change.negative)} posts)`))))));
}

routes.health = async (view, route) => {
  const first = await loadHealth(null);
  const r = resolveRange(route.params, first.to);
  const res = route.params.get("from") || r.preset !== "24h" ? await loadHealth(r) : first;
  view.replaceChildren(
    h("div", { class: "toolbar" }, h("h2", { class: "page-title" }, "All brands"),
      rangePicker(r, (p) => go("health", [], p)),
      h("span", { class: "muted" }, `${time(res.from)} – ${time(res.to)}, compared with the period before`)),
    res.items.length ? healthCards(res.items, r, null) : h("div", { class: "card empty" }, "No brands configured."));
};
