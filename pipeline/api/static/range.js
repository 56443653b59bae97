// Time ranges in the URL: `from`/`to` (UTC, minute precision) or a preset `range` ending at the
// newest data; the picker offers presets and a custom range.
import { h, linkTime } from "./app.js";

export const PRESETS = { "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800, "30d": 2592000 };
export const DEFAULT_PRESET = "24h";

// -> {from: Date, to: Date, preset: string|null}; dataEnd: ISO end of the newest data.
export function resolveRange(params, dataEnd) {
  const f = params.get("from"), t = params.get("to");
  if (f && t && !isNaN(Date.parse(f)) && !isNaN(Date.parse(t))) return { from: new Date(f), to: new Date(t), preset: null };
  const preset = PRESETS[params.get("range")] ? params.get("range") : DEFAULT_PRESET;
  const to = new Date(dataEnd || Date.now());
  return { from: new Date(to - PRESETS[preset] * 1000), to, preset };
}

export const rangeQuery = (r) => ({ from: linkTime(r.from), to: linkTime(r.to) });

// Params without the range keys, as a plain object (to rebuild a URL with a new range).
export function without(params, ...keys) {
  const out = {};
  for (const [k, v] of params.entries()) if (!["from", "to", "range", ...keys].includes(k)) out[k] = v;
  return out;
}

const localValue = (d) => new Date(d).toISOString().slice(0, 16);

// onApply({range}) or onApply({from, to})
export function rangePicker(r, onApply) {
  const sel = h("select", { id: "range-select", "aria-label": "Time range" },
    Object.keys(PRESETS).map((p) => h("option", { value: p, selected: r.preset === p ? "selected" : null }, "last " + p)),
    h("option", { value: "custom", selected: r.preset ? null : "selected" }, "custom…"));
  const from = h("input", { type: "datetime-local", id: "range-from", "aria-label": "From (UTC)", value: localValue(r.from) });
  const to = h("input", { type: "datetime-local", id: "range-to", "aria-label": "To (UTC)", value: localValue(r.to) });
  const custom = h("span", { class: "custom-range", hidden: r.preset ? "hidden" : null }, from, "–", to,
    h("button", { type: "button", id: "range-apply", onclick: () => {
      if (from.value && to.value) onApply({ from: from.value + "Z", to: to.value + "Z" });
    } }, "Apply"), h("span", { class: "muted" }, "UTC"));
  sel.addEventListener("change", () => {
    if (sel.value === "custom") custom.hidden = false;
    else onApply({ range: sel.value });
  });
  return h("span", { class: "range-picker" }, h("label", { for: "range-select" }, "Time"), sel, custom);
}
