// Roster pages (relationships with voices): #/roster, #/roster/<voice id>, #/roster-digest/<person>.
// Also adds "Add to roster" to the voices of rising-voice alerts and of the emerging-voices ranking.
import { AuthNeeded, api, askToken, fmt, h, render, routes, showError, state, time } from "../app.js";

const SVGNS = "http://www.w3.org/2000/svg";
const TOKEN_KEY = "hypermicro.token";

const ROSTER_STAGES = ["discovered", "listening", "participating", "engaged", "paused"];
const ROSTER_KINDS = ["replied", "shared", "met", "sent_product", "note"];

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) el.append(c);
  return el;
}

// Posts per day as bars (each bar carries data-value; its title says the day and engagement).
function attentionChart(days) {
  const W = 640, H = 160, L = 36, B = 22, max = Math.max(1, ...days.map((d) => d.posts));
  const bw = (W - L - 8) / Math.max(days.length, 1);
  const chart = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "data-chart": "voice-attention" },
    svg("text", { x: L - 6, y: 12, "text-anchor": "end" }, String(max)), svg("text", { x: L - 6, y: H - B, "text-anchor": "end" }, "0"));
  days.forEach((d, i) => {
    const hgt = ((H - B - 8) * d.posts) / max;
    chart.append(svg("rect", { x: L + i * bw + 1, width: Math.max(bw - 2, 1), y: H - B - hgt, height: Math.max(hgt, 0.5),
                               fill: "#3b5bdb", "data-value": d.posts },
      svg("title", {}, `${d.day}: ${d.posts} posts, ${d.engagement} engagements`)));
  });
  if (days.length) {
    chart.append(svg("text", { x: L, y: H - 6 }, days[0].day.slice(5)),
                 svg("text", { x: W - 8, y: H - 6, "text-anchor": "end" }, days[days.length - 1].day.slice(5)));
  }
  return chart;
}

async function rosterAct(path, method, body) {
  try {
    return await api("/roster" + path, { method, headers: { "Content-Type": "application/json" },
                                         body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    if (e instanceof AuthNeeded) askToken("To change the roster, paste your personal access key."); else showError(e);
    return null;
  }
}

async function rosterAdd(handle) {
  const v = await rosterAct("/voices", "POST", { handle });
  if (v) location.hash = "#/roster/" + encodeURIComponent(v.voice_id);
}

async function pageRoster(view, route) {
  const id = route.parts.join("/");
  if (id) return pageRosterVoice(view, id);
  const params = new URLSearchParams({ limit: "200" });
  if (state.rosterStage) params.set("stage", state.rosterStage);
  if (state.rosterMine && state.me) params.set("owner", state.me.principal);
  const r = await api("/roster/voices?" + params);
  const stage = h("select", { id: "roster-stage", onchange: (e) => { state.rosterStage = e.target.value; render(); } },
    [h("option", { value: "" }, "all stages"), ...ROSTER_STAGES.map((s) => h("option", { value: s, selected: s === state.rosterStage ? "selected" : null }, s))]);
  const mine = h("input", { type: "checkbox", id: "roster-mine", checked: state.rosterMine ? "checked" : null,
                            onchange: (e) => { state.rosterMine = e.target.checked; render(); } });
  const results = h("div", { id: "roster-search-results" });
  const search = h("form", { id: "roster-search", onsubmit: async (e) => {
    e.preventDefault();
    const q = e.target.querySelector("input").value.trim();
    if (!q) return;
    const found = await api("/roster/search?handle=" + encodeURIComponent(q));
    results.replaceChildren(found.items.length === 0 ? h("p", { class: "empty" }, "Nobody with that handle in the stored posts.") :
      h("ul", {}, found.items.map((f) => h("li", {}, `@${f.handle} on ${f.source} · ${fmt(f.posts)} posts `,
        f.voice_id ? h("a", { href: "#/roster/" + encodeURIComponent(f.voice_id) }, "on the roster")
          : h("button", { type: "button", class: "primary", onclick: () => rosterAdd(f.handle) }, "Add to roster")))));
  } }, h("input", { type: "search", placeholder: "@handle on any source", "aria-label": "handle" }), h("button", {}, "Find"));
  view.replaceChildren(
    h("div", { class: "toolbar" }, h("label", {}, "Stage"), stage, h("label", {}, mine, " my voices"),
      h("button", { type: "button", id: "roster-export", onclick: rosterExport }, "Export CSV"),
      h("a", { href: "#/roster-digest/" + encodeURIComponent((state.me && state.me.principal) || "") }, "My digest")),
    h("section", { class: "card" }, h("h2", {}, "Add a voice"), search, results),
    h("section", { class: "card" }, h("h2", {}, `Roster (${fmt(r.total)})`),
      r.items.length === 0 ? h("div", { class: "empty" }, "No voices on the roster yet.") :
      h("table", { id: "roster-table" },
        h("thead", {}, h("tr", {}, ["Voice", "Stage", "Owner", "Suggested", "Brands / topics", "Tags", "Updated"].map((x) => h("th", {}, x)))),
        h("tbody", {}, r.items.map((v) => h("tr", { "data-voice": v.voice_id },
          h("td", {}, h("a", { href: "#/roster/" + encodeURIComponent(v.voice_id) }, (v.handles[0] || v.voice_id)), " ", h("span", { class: "muted" }, v.display_name)),
          h("td", {}, h("span", { class: "chip" }, v.stage)), h("td", {}, v.owner || "–"), h("td", {}, v.suggested_owner || "–"),
          h("td", {}, [...v.brands, ...v.topics].map((x) => h("span", { class: "chip" }, x))),
          h("td", {}, v.tags.map((x) => h("span", { class: "chip" }, x))), h("td", {}, time(v.updated_at))))))));
}

async function rosterExport() {
  const token = localStorage.getItem(TOKEN_KEY);
  const res = await fetch("/api/v1/roster/export.csv", { headers: token ? { Authorization: "Bearer " + token } : {} });
  const a = h("a", { href: URL.createObjectURL(await res.blob()), download: "roster.csv" });
  a.click();
}

async function pageRosterVoice(view, id) {
  const p = await api("/roster/voices/" + encodeURIComponent(id) + "/profile");
  const v = p.voice;
  const me = state.me || { principal: "", scopes: [] };
  const mayChange = me.scopes.includes("admin") || !v.owner || v.owner === me.principal;
  const change = (body) => rosterAct("/voices/" + encodeURIComponent(id), "PATCH", body).then((r) => r && render());
  const stage = h("select", { id: "voice-stage", disabled: mayChange ? null : "disabled",
                              onchange: (e) => change({ stage: e.target.value }) },
    ROSTER_STAGES.map((s) => h("option", { value: s, selected: s === v.stage ? "selected" : null }, s)));
  const sugg = p.suggestion;
  const kind = h("select", { id: "interaction-kind" }, ROSTER_KINDS.map((k) => h("option", { value: k }, k.replace("_", " "))));
  const note = h("input", { id: "interaction-note", type: "text", size: "50", placeholder: "what happened" });
  view.replaceChildren(
    h("div", { class: "toolbar" }, h("a", { href: "#/roster" }, "← Roster")),
    h("section", { class: "card", id: "voice-card", "data-voice": v.voice_id },
      h("h2", {}, v.handles.join(" · ") || v.voice_id, " ", h("span", { class: "muted" }, v.display_name)),
      h("p", {}, "Stage ", stage, " · Owner ", h("strong", { id: "voice-owner" }, v.owner || "nobody yet"),
        v.suggested_owner && v.suggested_owner !== v.owner ? h("span", {}, " · suggested: ", h("strong", { id: "voice-suggested" }, v.suggested_owner),
          sugg && sugg.person === v.suggested_owner ? ` (${sugg.reasons.join(", ")}) ` : " ",
          mayChange ? h("button", { type: "button", class: "primary", id: "accept-suggestion", onclick: () => change({ owner: "@suggested" }) }, "Accept suggested owner") : null) : null),
      h("p", {}, "Accounts: ", v.accounts.join(", "), " · Tags: ", v.tags.map((x) => h("span", { class: "chip" }, x))),
      mayChange ? h("form", { id: "interaction-form", onsubmit: async (e) => {
        e.preventDefault();
        const r = await rosterAct("/voices/" + encodeURIComponent(id) + "/interactions", "POST", { kind: kind.value, note: note.value });
        if (r) render();
      } }, h("label", {}, "Log an interaction "), kind, " ", note, " ", h("button", { class: "primary" }, "Log")) :
        h("p", { class: "muted" }, `Only ${v.owner} or an admin changes this voice.`)),
    h("div", { class: "grid" },
      h("section", { class: "card wide" }, h("h2", {}, "Recent posts about our brands and topics"),
        p.recent.length === 0 ? h("div", { class: "empty" }, "No posts about our brands or topics yet.") :
        h("ul", { id: "voice-posts" }, p.recent.map((x) => h("li", {},
          h("span", { class: "muted" }, time(x.created_at) + " "),
          x.brands.map((b, i) => h("span", { class: "chip " + x.brand_sentiments[i], title: "sentiment toward " + b }, `${b}: ${x.brand_sentiments[i]}`)),
          " ", x.text.slice(0, 280), x.url ? [" ", h("a", { href: x.url, target: "_blank", rel: "noopener" }, "open")] : null)))),
      h("section", { class: "card" }, h("h2", {}, "Attention (posts per day)"),
        p.attention.length ? attentionChart(p.attention) : h("p", { class: "empty" }, "No posts.")),
      h("section", { class: "card" }, h("h2", {}, "Topics, brands and conversations"),
        h("div", {}, p.topics.map(([t, n]) => h("span", { class: "chip" }, `${t} ${n}`)), p.brands.map(([b, n]) => h("span", { class: "chip" }, `${b} ${n}`))),
        h("ul", {}, p.conversations.map((c) => h("li", {}, `${c.label || c.conversation_id} (${c.posts} posts)`)))),
      h("section", { class: "card" }, h("h2", {}, "Who amplifies them"),
        p.amplifiers.length === 0 ? h("p", { class: "empty" }, "Nobody has reposted, replied or quoted yet.") :
        h("ul", {}, p.amplifiers.map((a) => h("li", {}, `@${a.handle} (${a.source}): ${a.reposts} reposts, ${a.replies} replies, ${a.quotes} quotes`)))),
      h("section", { class: "card wide" }, h("h2", {}, "History"),
        h("ul", { id: "voice-history" }, p.history.map((x) => h("li", { "data-action": x.action },
          h("span", { class: "muted" }, time(x.at) + " "), h("strong", {}, x.by), " ",
          x.action === "interaction" ? `${x.kind.replace("_", " ")}: ${x.note}` : rosterChange(x)))))));
}

function rosterChange(x) {
  if (x.action === "stage" && x.before) return `moved ${x.before.stage} → ${x.after.stage}`;
  if (x.action === "owner" && x.after) return `set owner ${x.before && x.before.owner ? x.before.owner + " → " : ""}${x.after.owner}`;
  return x.action + (x.note ? ` (${x.note})` : "");
}

async function pageRosterDigest(view, route) {
  const person = route.parts.join("/") || (state.me && state.me.principal) || "";
  const people = (await api("/roster/people")).items;
  const pick = h("select", { id: "digest-person", onchange: (e) => { location.hash = "#/roster-digest/" + encodeURIComponent(e.target.value); } },
    [h("option", { value: "" }, "choose a person"), ...people.map((p) => h("option", { value: p.name, selected: p.name === person ? "selected" : null }, `${p.name} (${p.voices})`))]);
  if (!people.find((p) => p.name === person)) {
    return view.replaceChildren(h("div", { class: "toolbar" }, h("label", {}, "Digest of "), pick));
  }
  const d = await api("/roster/digest/" + encodeURIComponent(person));
  view.replaceChildren(
    h("div", { class: "toolbar" }, h("label", {}, "Digest of "), pick, h("span", { class: "muted" }, `sent ${d.schedule}; this period so far`)),
    h("section", { class: "card", id: "digest" }, h("h2", {}, d.lines[0]),
      d.lines.length === 1 ? h("p", { class: "empty" }, "Nothing new from your voices yet.") :
      h("ul", {}, d.lines.slice(1).map((l) => h("li", {}, l)))));
}

// "Add to roster" next to each voice of a rising-voice alert (lines "- @handle ...").
function rosterDecorateAlerts() {
  document.querySelectorAll("article.alert").forEach((card) => {
    const title = card.querySelector(".alert-title, strong");
    if (!title || !/rising voices/i.test(title.textContent) || card.dataset.roster) return;
    card.dataset.roster = "1";
    card.querySelectorAll(".explanation p").forEach((p) => {
      const m = /^-\s*@([\w.\-]+)/.exec(p.textContent);
      if (m) p.append(" ", h("button", { type: "button", class: "roster-add", "data-handle": m[1], onclick: () => rosterAdd(m[1]) }, "Add to roster"));
    });
  });
}

// ... and next to each author of the emerging-voices ranking.
function rosterDecorateVoices() {
  document.querySelectorAll("#voices-table tbody tr").forEach((row) => {
    const name = row.querySelector("td:nth-child(2) a, td:nth-child(2) strong");
    if (!name || row.dataset.roster) return;
    row.dataset.roster = "1";
    const handle = name.textContent.replace(/^@/, "");
    name.after(" ", h("button", { type: "button", class: "roster-add", "data-handle": handle, onclick: () => rosterAdd(handle) }, "Add to roster"));
  });
}
// ... and next to the author of each post in the mentions view (the account is source:author id).
function rosterDecoratePosts() {
  document.querySelectorAll("li.post[data-post]").forEach((post) => {
    const author = post.querySelector("a.author[data-author]");
    if (!author || post.dataset.roster) return;
    post.dataset.roster = "1";
    const account = post.dataset.post.split(":")[0] + ":" + author.dataset.author;
    author.after(" ", h("button", { type: "button", class: "roster-add", "data-account": account, onclick: async () => {
      const v = await rosterAct("/voices", "POST", { accounts: [account] });
      if (v) location.hash = "#/roster/" + encodeURIComponent(v.voice_id);
    } }, "Add to roster"));
  });
}
new MutationObserver(() => { rosterDecorateAlerts(); rosterDecorateVoices(); rosterDecoratePosts(); }).observe(document.getElementById("view"), { childList: true, subtree: true });

routes.roster = pageRoster;
routes["roster-digest"] = pageRosterDigest;
