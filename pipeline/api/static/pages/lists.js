// Trending conversations (`#/trending?brand=&window=`) and emerging voices (`#/voices?subject=`).
import { api, fmt, go, h, handle, href, routes, time } from "../app.js";

routes.trending = async (view, route) => {
  const p = route.params;
  const win = ["15m", "1h", "6h", "24h"].includes(p.get("window")) ? p.get("window") : "1h";
  const brands = await api("/brands");
  const brand = p.has("brand") ? p.get("brand") : (brands.items[0] || {}).id || "";
  const q = new URLSearchParams({ window: win });
  if (brand) q.set("brand", brand);
  const t = await api("/conversations/trending?" + q);
  const set = (k, v) => go("trending", [], { brand, window: win, [k]: v });
  view.replaceChildren(
    h("div", { class: "toolbar" },
      h("label", { for: "brand-select" }, "Brand"),
      h("select", { id: "brand-select", onchange: (e) => set("brand", e.target.value) },
        h("option", { value: "", selected: brand ? null : "selected" }, "all posts"),
        brands.items.map((b) => h("option", { value: b.id, selected: b.id === brand ? "selected" : null }, b.name))),
      h("label", { for: "window-select" }, "Window"),
      h("select", { id: "window-select", onchange: (e) => set("window", e.target.value) },
        ["15m", "1h", "6h", "24h"].map((w) => h("option", { value: w, selected: w === win ? "selected" : null }, w))),
      h("span", { class: "muted" }, `${time(t.from)} – ${time(t.to)}`)),
    h("section", { class: "card" }, h("h2", {}, "Trending conversations (ranked by velocity)"),
      t.items.length === 0 ? h("div", { class: "empty" }, "No conversations in this window.") :
      h("div", { class: "table-wrap" }, h("table", { id: "trending-table" },
        h("thead", {}, h("tr", {}, h("th", {}, "#"), h("th", {}, "Conversation"), h("th", { class: "num" }, "Posts"),
          h("th", { class: "num" }, "Per hour"), h("th", { class: "num" }, "Change /h"))),
        h("tbody", {}, t.items.map((c) => h("tr", { "data-conversation": c.conversation_id },
          h("td", {}, c.rank),
          h("td", {}, h("strong", {}, c.label), h("div", {}, c.key_terms.map((k) => h("span", { class: "chip" }, k))),
            c.sample_posts.slice(0, 2).map((s) => h("div", { class: "sample" }, `${handle(s.author_handle)}: ${s.text.slice(0, 160)}`))),
          h("td", { class: "num" }, fmt(c.posts)), h("td", { class: "num" }, c.velocity),
          h("td", { class: "num " + (c.acceleration > 0 ? "pos" : c.acceleration < 0 ? "neg" : "") }, c.acceleration))))))));
};

routes.voices = async (view, route) => {
  const subject = route.params.get("subject") || "*";
  const [v, brands] = await Promise.all([api("/voices?" + new URLSearchParams({ subject })), api("/brands")]);
  view.replaceChildren(
    h("div", { class: "toolbar" }, h("label", { for: "subject-select" }, "Subject"),
      h("select", { id: "subject-select", onchange: (e) => go("voices", [], { subject: e.target.value }) },
        h("option", { value: "*", selected: subject === "*" ? "selected" : null }, "Everything"),
        brands.items.map((b) => h("option", { value: b.id, selected: subject === b.id ? "selected" : null }, b.name))),
      h("span", { class: "muted" }, v.snapshot_at ? `ranked ${time(v.snapshot_at)}` : "no ranking yet")),
    h("section", { class: "card" }, h("h2", {}, "Emerging voices"),
      v.items.length === 0 ? h("div", { class: "empty" }, "No ranking for this subject yet.") :
      h("div", { class: "table-wrap" }, h("table", { id: "voices-table" },
        h("thead", {}, h("tr", {}, h("th", {}, "#"), h("th", {}, "Author"), h("th", { class: "num" }, "Score"),
          h("th", { class: "num" }, "Growth"), h("th", { class: "num" }, "Reach"), h("th", {}, "Why"))),
        h("tbody", {}, v.items.map((r) => h("tr", { "data-author": r.author_id },
          h("td", {}, r.rank),
          h("td", {}, h("a", { href: href("posts", [], { author: r.author_id, ...(subject !== "*" ? { brand: subject } : {}) }) },
            handle(r.handle || r.author_id))),
          ["score", "growth", "reach"].map((k) => h("td", { class: "num" }, r[k].toFixed(2))),
          h("td", {}, r.reasons.map((x) => h("div", { class: "sample" }, x))))))))));
};
