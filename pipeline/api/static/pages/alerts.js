// Alerts: `#/alerts?show=open&severity=&kind=&brand=` (filters in the URL), rising-voice digests
// grouped under one heading, `#/alerts/<id>` for one alert. Acknowledging silences the incident.
import { AuthNeeded, api, askToken, fmt, go, h, href, render, routes, showError, state, time } from "../app.js";

const KIND = { negative_spike: "Negative spike", rising_voice: "Rising voices" };
const isDigest = (x) => x.kind === "rising_voice" && x.subject.id.startsWith("voices:");

function title(x) {
  const brand = x.subject.brand_id || (x.subject.kind === "brand" ? x.subject.id : null);
  if (isDigest(x)) return `rising voices · ${brand || "all subjects"}`;
  if (x.subject.kind === "brand") return `${KIND[x.kind] || x.kind} · ${x.subject.id}`;
  return `${KIND[x.kind] || x.kind} · ${brand || x.subject.id}`;
}

// Explanation lines as written; links in them are clickable, @handles stand out.
function explanation(text) {
  return h("div", { class: "explanation" }, text.split("\n").map((line) => h("p", {},
    line.split(/(https?:\/\/\S+)/).map((part) => /^https?:\/\//.test(part)
      ? h("a", { href: part, target: "_blank", rel: "noopener noreferrer" }, part) : part))));
}

export function alertCard(x, { compact = false } = {}) {
  const canAct = state.me && state.me.scopes.includes("act");
  const action = x.acknowledged
    ? h("span", { class: "chip ok", "data-acked": "true" }, `acknowledged by ${x.ack.by}`)
    : h("button", { class: "primary ack-button", type: "button", "data-alert": x.id, onclick: (e) => ack(x.id, e.target) },
      canAct ? "Acknowledge" : "Acknowledge (needs your key)");
  return h("article", { class: `card alert ${x.severity}` + (x.acknowledged ? " acked" : ""), "data-alert": x.id },
    h("div", { class: "alert-body" },
      h("div", {}, h("span", { class: "badge " + x.severity }, x.severity), " ",
        compact ? h("strong", {}, "This alert: " + title(x)) : h("a", { class: "alert-title", href: href("alerts", [x.id]) }, title(x))),
      x.explanation ? explanation(x.explanation) : h("p", {}, `${fmt(x.observed)} observed`),
      h("div", { class: "meta" }, `window ${time(x.window.start)} – ${time(x.window.end)}`,
        x.owners.length ? ` · owner ${x.owners.join(", ")}` : " · no owner",
        x.ack ? ` · acknowledged by ${x.ack.by} at ${time(x.ack.at)}` : ""),
      compact || isDigest(x) || !x.link.startsWith("#/brands/") ? null
        : h("a", { class: "open-brand", href: x.link }, "See the spike and its posts →")),
    h("div", { class: "alert-action" }, action,
      x.acknowledged ? h("div", { class: "muted small" }, "No more paging until it gets worse.") : null));
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

function filterSelect(id, label, value, options, onchange) {
  return h("label", { class: "filter" }, label + " ", h("select", { id, onchange: (e) => onchange(e.target.value) },
    options.map(([v, l]) => h("option", { value: v, selected: v === value ? "selected" : null }, l))));
}

routes.alerts = async (view, route) => {
  if (route.parts[0]) {
    const x = await api(`/alerts/${encodeURIComponent(route.parts[0])}`);
    view.replaceChildren(h("p", {}, h("a", { href: href("alerts") }, "← all alerts")), alertCard(x));
    return;
  }
  const p = route.params;
  const show = p.get("show") || "open";
  const params = new URLSearchParams({ limit: "200" });
  for (const k of ["severity", "kind", "brand"]) if (p.get(k)) params.set(k, p.get(k));
  if (show !== "all") params.set("acknowledged", show === "acked" ? "true" : "false");
  const [a, brands] = await Promise.all([api("/alerts?" + params), api("/brands")]);
  const set = (k, v) => { const q = Object.fromEntries(p.entries()); q[k] = v; go("alerts", [], q); };
  const main = a.items.filter((x) => !isDigest(x) && x.kind !== "rising_voice");
  const voices = a.items.filter((x) => isDigest(x) || x.kind === "rising_voice");
  const canAct = state.me && state.me.scopes.includes("act");
  view.replaceChildren(
    h("div", { class: "toolbar", id: "alert-filters" },
      filterSelect("ack-filter", "Show", show, [["open", "Open"], ["acked", "Acknowledged"], ["all", "All"]], (v) => set("show", v)),
      filterSelect("severity-filter", "Severity", p.get("severity") || "", [["", "any"], ["critical", "critical"], ["warning", "warning"], ["info", "info"]], (v) => set("severity", v)),
      filterSelect("kind-filter", "Kind", p.get("kind") || "", [["", "any"], ...Object.entries(KIND)], (v) => set("kind", v)),
      filterSelect("brand-filter", "Brand", p.get("brand") || "", [["", "any"], ...brands.items.map((b) => [b.id, b.name])], (v) => set("brand", v)),
      canAct ? null : h("span", { class: "muted" }, "To acknowledge, add your personal access key (button at the top).")),
    a.items.length === 0 ? h("div", { class: "card empty" }, "No alerts.") : h("div", { class: "list", id: "alert-list" },
      main.map((x) => alertCard(x)),
      voices.length ? h("details", { class: "voices-group", open: main.length ? null : "open" },
        h("summary", {}, `Rising voices (${voices.length} ${voices.length === 1 ? "digest" : "digests"}, information)`),
        voices.map((x) => alertCard(x))) : null));
};
