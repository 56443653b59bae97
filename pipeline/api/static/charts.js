// Charts with the vendored uPlot (static/vendor/uplot, MIT): mentions and negative mentions per
// bucket, alert windows marked, a tooltip, click a bar to pick it, drag across bars to zoom
// (the range goes into the URL).
import { fmt, h, time } from "./app.js";

const NEG = "#c4321c";      // 5.1:1 on white
const TOTAL = "#8a94a6";
const COUNT_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6];  // whole posts

function widthOf(el) {
  return Math.max(280, Math.floor(el.getBoundingClientRect().width || 600));
}

// o: /brands/{id}/overview; alerts: alert objects in range; opts: {markedAlert, selected, onZoom(from, to), onPick(t)}
export function volumeChart(o, alerts, opts = {}) {
  const uPlot = window.uPlot;
  const step = o.interval_s;
  const xs = o.series.map((p) => Date.parse(p.t) / 1000);
  const totals = o.series.map((p) => p.total);
  const negs = o.series.map((p) => p.negative);
  const peak = totals.length ? Math.max(...totals) : 0;
  const box = h("div", { class: "chart-box", "data-chart": "volume", "data-peak": peak, "data-points": xs.length,
                         role: "img", "aria-label": `Mentions per ${step / 60}-minute bucket from ${time(o.from)} to ${time(o.to)}; ` +
                         `peak ${fmt(peak)}; negative mentions in red; ${alerts.length} alert(s) marked.` });
  const tip = h("div", { class: "chart-tip", hidden: "hidden" });
  box.append(tip);
  if (!uPlot || !xs.length) { box.append(h("p", { class: "empty" }, "No mentions in this range.")); return box; }
  const bars = uPlot.paths.bars({ size: [0.9, 60], align: 1 });
  const small = window.matchMedia("(max-width: 600px)").matches;
  const axis = { stroke: "#3d4452", grid: { stroke: "#e3e6eb" }, ticks: { stroke: "#e3e6eb" }, font: "12px system-ui, sans-serif" };
  let plot = null;
  const placeMarkers = (u) => {
    u.over.querySelectorAll(".marker").forEach((m) => m.remove());
    for (const a of alerts) {
      const s = Date.parse(a.window.start) / 1000, e = Date.parse(a.window.end) / 1000;
      const left = Math.max(0, u.valToPos(Math.floor(s / step) * step, "x"));
      const right = Math.min(u.over.clientWidth, u.valToPos(Math.ceil(e / step) * step, "x"));
      const marked = a.id === opts.markedAlert;
      u.over.append(h("div", { class: "marker " + a.severity + (marked ? " marked" : ""), "data-alert": a.id,
                               title: `${a.severity} alert ${time(a.window.start)} – ${time(a.window.end)}`,
                               style: `left:${left}px;width:${Math.max(3, right - left)}px` },
        marked ? h("span", { class: "marker-label" }, "this alert") : null));
    }
    if (opts.selected) {
      const l = u.valToPos(opts.selected, "x"), r = u.valToPos(opts.selected + step, "x");
      u.over.append(h("div", { class: "marker picked", style: `left:${l}px;width:${Math.max(3, r - l)}px` }));
    }
  };
  const showTip = (u) => {
    const i = u.cursor.idx;
    if (i === null || i === undefined) { tip.hidden = true; return; }
    tip.hidden = false;
    tip.textContent = `${time(o.series[i].t)} · ${fmt(totals[i])} mentions · ${fmt(negs[i])} negative`;
  };
  const opts2 = {
    width: widthOf(opts.parent || document.body), height: small ? 200 : 260,
    padding: [12, 12, 0, 0],
    cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false } },
    legend: { show: false },
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),  // every time on the page is UTC
    scales: { x: { time: true, range: (u, mn, mx) => [mn, mx + step] }, y: { range: (u, mn, mx) => [0, Math.max(1, mx)] } },
    axes: [{ ...axis, space: small ? 70 : 90 },
           { ...axis, size: 48, incrs: COUNT_STEPS, values: (u, v) => v.map((x) => fmt(x)) }],
    series: [{}, { label: "mentions", fill: TOTAL, stroke: TOTAL, paths: bars, points: { show: false } },
             { label: "negative", fill: NEG, stroke: NEG, paths: bars, points: { show: false } }],
    hooks: {
      draw: [placeMarkers], setCursor: [showTip],
      setSelect: [(u) => {
        if (u.select.width < 8) return;
        const a = u.posToVal(u.select.left, "x"), b = u.posToVal(u.select.left + u.select.width, "x");
        u.setSelect({ left: 0, width: 0 }, false);
        if (opts.onZoom) opts.onZoom(Math.floor(a / step) * step, Math.ceil(b / step) * step);
      }],
      ready: [(u) => {
        u.over.addEventListener("click", (e) => {  // the bar under the pointer (bars span [t, t + step))
          const v = u.posToVal(e.clientX - u.over.getBoundingClientRect().left, "x");
          const t = Math.floor(v / step) * step;
          if (opts.onPick && u.select.width < 8 && xs.includes(t)) opts.onPick(t);
        });
      }],
    },
  };
  queueMicrotask(() => {
    opts2.width = widthOf(box);
    plot = new uPlot(opts2, [xs, totals, negs], box);
    new ResizeObserver(() => { if (plot) plot.setSize({ width: widthOf(box), height: opts2.height }); }).observe(box);
  });
  return box;
}

export function legend() {
  return h("div", { class: "legend" },
    h("span", {}, h("span", { class: "swatch total" }), "all mentions"),
    h("span", {}, h("span", { class: "swatch neg" }), "negative toward the brand"),
    h("span", {}, h("span", { class: "swatch alert" }), "alert window"));
}

// A small inline bar (share) drawn with a CSS width: sources, conversations.
export function shareBar(share, cls = "neg") {
  return h("span", { class: "sharebar", title: share === null ? "" : (100 * share).toFixed(0) + "%" },
    h("span", { class: cls, style: `width:${Math.round(100 * (share || 0))}%` }));
}
