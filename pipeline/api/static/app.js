// hypermicro dashboard core: API access, access key, URL state and the hash router.
//
// Every view keeps its state in the URL hash (`#/brands/acme?from=…&to=…&alert=…`), so a copied
// link or an alert's link opens exactly what was seen. Pages are ES modules that register
// themselves with the router; to add one (e.g. a roster page), write a module like
//
//     const { routes, h, api } = window.hm;
//     routes["roster"] = async (view, route) => { view.replaceChildren(h("h2", {}, "Roster")); };
//
// load it from index.html with `<script type="module" src="/static/pages/roster.js"></script>`
// and add `<a href="#/roster" data-route="roster">Roster</a>` to the nav. A handler gets the view
// element and the parsed route `{name, parts, params}`: `#/roster/ana?x=1` → name "roster",
// parts ["ana"], params URLSearchParams("x=1"). `hm.go(name, parts, params)` navigates.
// No inline scripts (the API's CSP forbids them) and nothing is loaded from another origin.
"use strict";

const API = "/api/v1";
const TOKEN_KEY = "hypermicro.token";
const REFRESH_MS = 30000;

// ---- DOM helpers --------------------------------------------------------------------------
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") el.className = v;
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) el.setAttribute(k, v);
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}
export const fmt = (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"));
export const pct = (x) => (x === null || x === undefined ? "–" : (100 * x).toFixed(1) + "%");
export const time = (iso) => new Date(iso).toISOString().replace("T", " ").slice(0, 16) + " UTC";
export const linkTime = (d) => new Date(d).toISOString().slice(0, 16) + "Z";
export const handle = (x) => (!x ? "" : x.startsWith("@") ? x : "@" + x);
export function signed(x, asPct = false) {
  if (x === null || x === undefined) return "–";
  const v = asPct ? (100 * x).toFixed(1) + (asPct === "pt" ? " pts" : "%") : fmt(x);
  return (x > 0 ? "+" : "") + v;
}

// ---- API access ---------------------------------------------------------------------------
export class AuthNeeded extends Error {}

export async function api(path, options = {}) {
  const token = localStorage.getItem(TOKEN_KEY);
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  if (token) headers.Authorization = "Bearer " + token;
  const res = await fetch(API + path, { ...options, headers });
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  if (res.status === 401 || res.status === 403) throw new AuthNeeded((body && (body.detail || body.error)) || res.statusText);
  if (!res.ok) {
    const detail = body && body.detail ? (typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail)) : "";
    throw new Error(((body && body.error) || res.statusText) + (detail ? ": " + detail : ""));
  }
  return body;
}

export function askToken(reason) {
  const dlg = document.getElementById("token-dialog");
  document.getElementById("token-reason").textContent = reason || "Paste the access key your admin gave you.";
  document.getElementById("token-input").value = "";
  if (!dlg.open) dlg.showModal();
}

// ---- routing and URL state ----------------------------------------------------------------
export const routes = {};
export const state = { me: null };

export function parseRoute(hash = location.hash) {
  const raw = hash.replace(/^#\/?/, "");
  const [path, query = ""] = raw.split("?");
  const [name = "", ...parts] = path.split("/").map(decodeURIComponent);
  return { name: name || "health", parts, params: new URLSearchParams(query) };
}

export function href(name, parts = [], params = {}) {
  const p = params instanceof URLSearchParams ? params : new URLSearchParams(
    Object.entries(params).filter(([, v]) => v !== null && v !== undefined && v !== ""));
  const q = p.toString();
  return "#/" + [name, ...parts.map(encodeURIComponent)].join("/") + (q ? "?" + q : "");
}

export function go(name, parts = [], params = {}) {
  const target = href(name, parts, params);
  if (location.hash === target) render(); else location.hash = target;
}

export function showError(e) {
  document.getElementById("view").prepend(h("div", { class: "error", role: "alert" }, String(e.message || e)));
}

let rendering = null;
let again = false;
export async function render() {
  if (rendering) { again = true; return rendering; }  // a newer URL arrived: render it after this one
  rendering = (async () => {
    const route = parseRoute();
    const page = routes[route.name] || routes.health;
    const navName = { brands: "health" }[route.name] || route.name;
    document.querySelectorAll("nav a").forEach((a) => {
      const on = a.dataset.route === navName;
      a.classList.toggle("active", on);
      if (on) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    });
    const view = document.getElementById("view");
    try {
      if (!state.me) state.me = await api("/me");
      await page(view, route);
      if (view.dataset.page !== route.name || view.dataset.path !== route.parts.join("/")) window.scrollTo(0, 0);
      view.dataset.page = route.name;
      view.dataset.path = route.parts.join("/");
      document.getElementById("updated").textContent = "updated " + new Date().toISOString().slice(11, 16) + " UTC";
    } catch (e) {
      if (e instanceof AuthNeeded) {
        view.replaceChildren(h("div", { class: "card empty" }, "Add your access key to see this page."));
        askToken("Paste the access key your admin gave you.");
      } else {
        view.replaceChildren();
        showError(e);
      }
    }
  })();
  try { await rendering; } finally {
    rendering = null;
    if (again) { again = false; render(); }
  }
}

function start() {
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
  window.addEventListener("hashchange", render);
  // refresh only views that follow the newest data (no fixed from/to in the URL)
  setInterval(() => {
    const r = parseRoute();
    if (!document.getElementById("token-dialog").open && !r.params.get("from") && !document.querySelector("dialog[open]")) render();
  }, REFRESH_MS);
  render();
}

window.hm = { routes, h, api, href, go, render, parseRoute, state, askToken, fmt, pct, time, handle };
// Page modules are deferred like this one and run before DOMContentLoaded: the router starts after.
document.addEventListener("DOMContentLoaded", start);
