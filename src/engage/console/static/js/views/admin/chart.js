// A small line chart drawn as inline SVG (no library, works offline): numeric x, one or more series on a shared
// y scale, optional horizontal reference lines (a target), axis labels and an HTML legend beside it. The SVG is
// `role="img"` with the caller's summary as its `aria-label`; the figures themselves go to screen readers as a
// visually hidden table. Series differ by dash and marker as well as colour, so the chart reads in grey too.
// Colours are presentation attributes (the page's CSP forbids inline styles); admin.css may refine them.

import { h } from "../../dom.js";

const NS = "http://www.w3.org/2000/svg";
const WIDTH = 640;
const HEIGHT = 300;
const PAD = { top: 16, end: 20, bottom: 52, start: 60 };

function s(tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    el.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// Each series: {key, label, color, dash, marker: "circle"|"square"|"diamond", points: [{x, y}]} (y null: no value).
// Reference lines: {y, label, color, dash}.
function marker(kind, x, y, color, title) {
  const t = s("title", {}, title);
  if (kind === "square") {
    return s("rect", { x: x - 4, y: y - 4, width: 8, height: 8, fill: color, class: "chart-marker" }, t);
  }
  if (kind === "diamond") {
    return s("path", { d: `M${x} ${y - 5.5}L${x + 5.5} ${y}L${x} ${y + 5.5}L${x - 5.5} ${y}Z`, fill: color,
      class: "chart-marker" }, t);
  }
  return s("circle", { cx: x, cy: y, r: 4.5, fill: color, class: "chart-marker" }, t);
}

function swatch(item) {
  return s("svg", { width: 36, height: 12, viewBox: "0 0 36 12", "aria-hidden": "true", focusable: "false" },
    s("line", { x1: 2, y1: 6, x2: 34, y2: 6, stroke: item.color, "stroke-width": 2.5,
      "stroke-dasharray": item.dash || null }),
    item.marker ? marker(item.marker, 18, 6, item.color, "") : null);
}

function ticks(max, count = 5) {
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw || 1));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((m) => m >= raw) || raw;
  const out = [];
  for (let v = 0; v <= max + step / 1000; v += step) out.push(Number(v.toFixed(6)));
  return out;
}

/**
 * lineChart({series, refLines, xLabel, yLabel, yMax, xDomain: [min, max], formatX, formatY, label, testid})
 * Returns a <figure> with the SVG and a legend.
 */
export function lineChart({ series, refLines = [], xLabel, yLabel, yMax, xDomain, formatX = String, formatY = String,
  label, testid }) {
  const xs = [...new Set([...(xDomain || []), ...series.flatMap((se) => se.points.map((p) => p.x))])]
    .sort((a, b) => a - b);
  const ys = series.flatMap((se) => se.points.map((p) => p.y)).filter((y) => y !== null && y !== undefined);
  const top = yMax ?? Math.max(1, ...ys, ...refLines.map((r) => r.y));
  const yTicks = ticks(top);
  const yTop = yTicks[yTicks.length - 1];
  const innerW = WIDTH - PAD.start - PAD.end;
  const innerH = HEIGHT - PAD.top - PAD.bottom;
  const xMin = xs[0] ?? 0;
  const xMax = xs[xs.length - 1] ?? 1;
  const sx = (x) => PAD.start + (xMax === xMin ? innerW / 2 : ((x - xMin) / (xMax - xMin)) * innerW);
  const sy = (y) => PAD.top + innerH - (Math.min(y, yTop) / yTop) * innerH;
  const xTickValues = xs.length <= 14 ? xs : xs.filter((_, i) => i % Math.ceil(xs.length / 12) === 0);

  const grid = yTicks.map((v) => s("g", { class: "chart-tick" },
    s("line", { x1: PAD.start, x2: WIDTH - PAD.end, y1: sy(v), y2: sy(v), stroke: "#d5dde4", "stroke-width": 1 }),
    s("text", { x: PAD.start - 8, y: sy(v) + 4, "text-anchor": "end", "font-size": 12, fill: "#4d5d6b" },
      formatY(v))));
  const xAxis = [
    s("line", { x1: PAD.start, x2: WIDTH - PAD.end, y1: sy(0), y2: sy(0), stroke: "#4d5d6b", "stroke-width": 1 }),
    xTickValues.map((x) => s("g", { class: "chart-tick" },
      s("line", { x1: sx(x), x2: sx(x), y1: sy(0), y2: sy(0) + 5, stroke: "#4d5d6b" }),
      s("text", { x: sx(x), y: sy(0) + 19, "text-anchor": "middle", "font-size": 12, fill: "#4d5d6b" }, formatX(x)))),
    s("text", { x: PAD.start + innerW / 2, y: HEIGHT - 8, "text-anchor": "middle", "font-size": 13, fill: "#14212b",
      "font-weight": 600, class: "chart-axis-label" }, xLabel),
    s("text", { x: 0, y: 0, transform: `translate(14 ${PAD.top + innerH / 2}) rotate(-90)`, "text-anchor": "middle",
      "font-size": 13, fill: "#14212b", "font-weight": 600, class: "chart-axis-label" }, yLabel),
  ];
  const references = refLines.map((r) => s("g", { class: "chart-ref" },
    s("line", { x1: PAD.start, x2: WIDTH - PAD.end, y1: sy(r.y), y2: sy(r.y), stroke: r.color,
      "stroke-width": 1.5, "stroke-dasharray": r.dash || "2 4" }),
    s("title", {}, `${r.label}: ${formatY(r.y)}`)));
  const lines = series.map((se) => {
    const pts = se.points.filter((p) => p.y !== null && p.y !== undefined).sort((a, b) => a.x - b.x);
    const d = pts.map((p, i) => `${i ? "L" : "M"}${sx(p.x).toFixed(1)} ${sy(p.y).toFixed(1)}`).join("");
    return s("g", { class: `chart-series series-${se.key}` },
      pts.length > 1 ? s("path", { d, fill: "none", stroke: se.color, "stroke-width": 2.5,
        "stroke-dasharray": se.dash || null, "stroke-linejoin": "round" }) : null,
      pts.map((p) => marker(se.marker, sx(p.x), sy(p.y), se.color,
        `${se.label}, ${xLabel} ${formatX(p.x)}: ${formatY(p.y)}`)));
  });

  const svg = s("svg", {
    class: "chart", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": label,
    preserveAspectRatio: "xMidYMid meet", "data-testid": testid, direction: "ltr",
  }, grid, xAxis, references, lines);
  const legend = h("ul", { class: "chart-legend" },
    [...series, ...refLines].map((item) => h("li", {}, swatch(item), h("span", {}, item.label))));
  return h("figure", { class: "chart-figure" }, svg, legend);
}
