// Mentions: `#/posts?brand=&sentiment=&topic=&language=&author=&q=&from=&to=` over /api/v1/posts,
// every filter it supports, paged with its cursor ("Show more").
import { api, fmt, go, h, handle, routes, time } from "../app.js";

const FILTERS = ["brand", "sentiment", "topic", "language", "author", "q", "from", "to"];

function postRow(p, brand) {
  const toward = brand ? (p.brands.find((b) => b.id === brand) || {}).sentiment : null;
  return h("li", { class: "post", "data-post": p.id },
    h("div", { class: "post-head" },
      h("a", { class: "author", href: "#/posts?" + new URLSearchParams({ author: p.author.id }), "data-author": p.author.id },
        handle(p.author.handle || p.author.id)),
      h("span", { class: "muted" }, ` · ${fmt(p.author.followers)} followers · ${time(p.created_at)} · ${p.source} · ${p.language}`)),
    h("p", { class: "post-text" }, p.text),
    h("div", { class: "post-foot" },
      p.brands.map((b) => h("span", { class: "chip " + (b.sentiment === "negative" ? "neg" : b.sentiment === "positive" ? "pos" : "") },
        `${b.id}: ${b.sentiment}`)),
      toward ? null : h("span", { class: "chip" }, `post: ${p.sentiment.label}`),
      p.topics.map((t) => h("span", { class: "chip" }, "#" + t)),
      p.url ? h("a", { href: p.url, target: "_blank", rel: "noopener noreferrer" }, "open post ↗") : null));
}

routes.posts = async (view, route) => {
  const p = route.params;
  const q = new URLSearchParams({ limit: "25" });
  for (const k of FILTERS) if (p.get(k)) q.set(k, p.get(k).endsWith("Z") || !["from", "to"].includes(k) ? p.get(k) : p.get(k) + "Z");
  const [res, brands] = await Promise.all([api("/posts?" + q), api("/brands")]);
  const list = h("ol", { class: "posts", id: "posts-list" }, res.items.map((x) => postRow(x, p.get("brand"))));
  const more = h("button", { type: "button", id: "posts-more", hidden: res.next_cursor ? null : "hidden" }, "Show more");
  let cursor = res.next_cursor;
  more.addEventListener("click", async () => {
    more.disabled = true;
    const next = await api("/posts?" + new URLSearchParams({ ...Object.fromEntries(q), cursor }));
    list.append(...next.items.map((x) => postRow(x, p.get("brand"))));
    cursor = next.next_cursor;
    more.disabled = false;
    more.hidden = !cursor;
  });
  const input = (k, label, attrs = {}) => h("label", { class: "filter" }, label + " ",
    h("input", { name: k, id: "filter-" + k, value: p.get(k) || "", ...attrs }));
  const select = (k, label, options) => h("label", { class: "filter" }, label + " ", h("select", { name: k, id: "filter-" + k },
    options.map(([v, l]) => h("option", { value: v, selected: (p.get(k) || "") === v ? "selected" : null }, l))));
  const form = h("form", { class: "toolbar filters", id: "posts-filters" },
    select("brand", "Brand", [["", "any"], ...brands.items.map((b) => [b.id, b.name])]),
    select("sentiment", "Sentiment", [["", "any"], ["negative", "negative"], ["neutral", "neutral"], ["positive", "positive"]]),
    input("q", "Text", { type: "search", maxlength: "200" }), input("author", "Author id"), input("topic", "Topic"),
    input("language", "Language", { size: "4", maxlength: "8" }),
    input("from", "From (UTC)", { placeholder: "2026-03-02T10:00Z", size: "17" }), input("to", "To (UTC)", { placeholder: "2026-03-02T11:00Z", size: "17" }),
    h("button", { type: "submit", class: "primary" }, "Filter"),
    h("a", { href: "#/posts" }, "clear"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    go("posts", [], Object.fromEntries([...new FormData(form).entries()].filter(([, v]) => v)));
  });
  const author = p.get("author") && res.items[0] && res.items[0].author.id === p.get("author") ? res.items[0].author : null;
  const active = FILTERS.filter((k) => p.get(k)).map((k) => `${k}: ${p.get(k)}`).join(" · ");
  const wide = window.matchMedia("(min-width: 601px)").matches;  // on a phone the filters fold away
  view.replaceChildren(
    author ? h("section", { class: "card", id: "author-card" }, h("h2", {}, "Author"),
      h("p", {}, h("strong", {}, handle(author.handle || author.id)), ` · ${fmt(author.followers)} followers · id ${author.id}`),
      h("a", { href: "#/voices?" + new URLSearchParams({ subject: p.get("brand") || "*" }) }, "Emerging voices →")) : null,
    h("details", { class: "card filters-box", open: wide || !active ? "open" : null },
      h("summary", {}, "Filters", active ? h("span", { class: "muted" }, " · " + active) : null), form),
    h("section", { class: "card" }, h("h2", {}, "Mentions (newest first)"),
      res.items.length ? list : h("p", { class: "empty" }, "No posts match these filters."), more));
};
