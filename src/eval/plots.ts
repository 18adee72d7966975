// The evaluation's three plots: reward vs safety rate and time vs safety rate (one point per
// method, with 95% intervals), and the distribution of each method's max cumulative cost against
// the budget. All SVG, drawn with ./svg.ts.
import type { MethodSummary } from "./metrics.js";
import type { EvalRecord } from "./records.js";
import { MARKERS, PALETTE, Scale, SvgDoc, drawAxes, logTicks, niceTicks, formatTick } from "./svg.js";

const style = (i: number) => ({ color: PALETTE[i % PALETTE.length], marker: MARKERS[i % MARKERS.length] });

interface Point {
  name: string;
  x: number;
  y: number;
  xLow: number;
  xHigh: number;
  yLow?: number;
  yHigh?: number;
}

interface ScatterOptions {
  title: string;
  subtitle: string;
  xLabel: string;
  yLabel: string;
  yLog: boolean;
  yFormat?: (v: number) => string;
  points: Point[];
  /** Index into the palette per point (same colour per method in every plot). */
  styles: number[];
}

const WIDTH = 900;
const LEGEND_WIDTH = 230;

function scatter(o: ScatterOptions): string {
  const height = 520;
  const plot = { left: 90, top: 64, right: WIDTH - LEGEND_WIDTH - 20, bottom: height - 70 };
  const doc = new SvgDoc(WIDTH, height, o.title);
  doc.text(plot.left, 24, o.title, 'font-size="16" font-weight="bold"');
  doc.text(plot.left, 44, o.subtitle, 'font-size="12" fill="#555"');
  if (o.points.length === 0) {
    doc.text((plot.left + plot.right) / 2, (plot.top + plot.bottom) / 2, "no records yet", 'text-anchor="middle" fill="#888"');
    return doc.toString();
  }
  // Safety rates in percent; the axis always shows 100% (the goal) and pads below the lowest interval.
  const xMin = Math.max(0, Math.min(...o.points.map((p) => p.xLow)) - 2);
  const xTicks = niceTicks(xMin, 100, 6).filter((t) => t >= 0 && t <= 100);
  const xScale = new Scale([xTicks[0], 100], [plot.left + 10, plot.right - 10]);
  const ys = o.points.flatMap((p) => [p.y, p.yLow ?? p.y, p.yHigh ?? p.y]);
  let yTicks: number[];
  let yScale: Scale;
  if (o.yLog) {
    const lo = Math.min(...ys.filter((v) => v > 0));
    const hi = Math.max(...ys);
    yTicks = logTicks(lo, hi);
    yScale = new Scale([yTicks[0], yTicks[yTicks.length - 1]], [plot.bottom - 10, plot.top + 10], true);
  } else {
    yTicks = niceTicks(Math.min(...ys), Math.max(...ys), 6);
    yScale = new Scale([yTicks[0], yTicks[yTicks.length - 1]], [plot.bottom - 10, plot.top + 10]);
  }
  drawAxes(doc, plot, { scale: xScale, ticks: xTicks, label: o.xLabel, format: (v) => `${formatTick(v)}%` }, { scale: yScale, ticks: yTicks, label: o.yLabel, format: o.yFormat });

  // Error bars first, markers on top, then labels placed where they do not collide.
  o.points.forEach((p, i) => {
    const { color } = style(o.styles[i]);
    const px = xScale.map(p.x);
    const py = yScale.map(p.y);
    const bar = `stroke="${color}" stroke-width="1.5" opacity="0.7"`;
    doc.line(xScale.map(p.xLow), py, xScale.map(p.xHigh), py, bar);
    doc.line(xScale.map(p.xLow), py - 4, xScale.map(p.xLow), py + 4, bar);
    doc.line(xScale.map(p.xHigh), py - 4, xScale.map(p.xHigh), py + 4, bar);
    if (p.yLow !== undefined && p.yHigh !== undefined) {
      doc.line(px, yScale.map(p.yLow), px, yScale.map(p.yHigh), bar);
      doc.line(px - 4, yScale.map(p.yLow), px + 4, yScale.map(p.yLow), bar);
      doc.line(px - 4, yScale.map(p.yHigh), px + 4, yScale.map(p.yHigh), bar);
    }
  });
  o.points.forEach((p, i) => {
    const { color, marker } = style(o.styles[i]);
    doc.marker(marker, xScale.map(p.x), yScale.map(p.y), 6, color);
  });
  // Direct labels where they overlap no marker and no other label; the legend names every point anyway.
  const placed = o.points.map((p) => {
    const px = xScale.map(p.x);
    const py = yScale.map(p.y);
    return { x0: px - 8, y0: py - 8, x1: px + 8, y1: py + 8 };
  });
  o.points.forEach((p, i) => {
    const px = xScale.map(p.x);
    const py = yScale.map(p.y);
    const w = p.name.length * 6.4;
    const options: [number, number, "start" | "end"][] = [];
    for (const dy of [4, -10, 18, -24, 32]) options.push([px + 11, py + dy, "start"], [px - 11, py + dy, "end"]);
    const box = ([x, y, anchor]: (typeof options)[number]) => {
      const x0 = anchor === "end" ? x - w : x;
      return { x0, y0: y - 10, x1: x0 + w, y1: y + 2 };
    };
    const fits = (b: ReturnType<typeof box>) =>
      b.x0 >= plot.left && b.x1 <= plot.right + 8 && b.y0 >= plot.top - 6 && b.y1 <= plot.bottom &&
      placed.every((q) => b.x1 < q.x0 || b.x0 > q.x1 || b.y1 < q.y0 || b.y0 > q.y1);
    const choice = options.find((c) => fits(box(c)));
    if (!choice) return;
    placed.push(box(choice));
    // A white halo keeps the label readable where it crosses an error bar or grid line.
    doc.text(choice[0], choice[1], p.name, `text-anchor="${choice[2]}" font-size="11" fill="${style(o.styles[i]).color}" stroke="#fff" stroke-width="3" paint-order="stroke"`);
  });

  // Legend.
  const lx = WIDTH - LEGEND_WIDTH + 6;
  doc.text(lx, plot.top, "Methods", 'font-size="13" font-weight="bold"');
  o.points.forEach((p, i) => {
    const { color, marker } = style(o.styles[i]);
    const ly = plot.top + 22 + i * 20;
    doc.marker(marker, lx + 8, ly - 4, 5, color);
    doc.text(lx + 22, ly, p.name, 'font-size="12"');
  });
  return doc.toString();
}

const pct = (v: number) => v * 100;

/** Reward (mean token log-prob) against safety rate, one point per method. */
export function rewardVsSafetySvg(summaries: readonly MethodSummary[], budget: number): string {
  const shown = summaries.map((s, i) => ({ s, i })).filter(({ s }) => s.records > 0 && s.rewardMean !== null);
  return scatter({
    title: "Reward vs safety rate",
    subtitle: `bars: 95% intervals (safety: Wilson; reward: ±1.96 standard errors of the mean); budget d = ${budget}`,
    xLabel: `Safety rate (% of answers with cost ≤ d = ${budget})`,
    yLabel: "Reward (mean token log-prob, nats/token)",
    yLog: false,
    points: shown.map(({ s }) => {
      const se = s.rewardStd !== null ? (1.96 * s.rewardStd) / Math.sqrt(s.records) : 0;
      return {
        name: s.name, x: pct(s.safetyRate), y: s.rewardMean!, xLow: pct(s.safetyRateLow), xHigh: pct(s.safetyRateHigh),
        yLow: s.rewardMean! - se, yHigh: s.rewardMean! + se,
      };
    }),
    styles: shown.map(({ i }) => i),
  });
}

/** Seconds per answer (log scale) against safety rate, one point per method. */
export function timeVsSafetySvg(summaries: readonly MethodSummary[], budget: number): string {
  const shown = summaries.map((s, i) => ({ s, i })).filter(({ s }) => s.records > 0 && s.secondsPerPrompt > 0);
  return scatter({
    title: "Time vs safety rate",
    subtitle: `mean wall-clock seconds per answer (one prompt, one seed), log scale; bars: 95% Wilson interval of the safety rate`,
    xLabel: `Safety rate (% of answers with cost ≤ d = ${budget})`,
    yLabel: "Time per answer (seconds, log scale)",
    yLog: true,
    yFormat: (v) => `${formatTick(v)} s`,
    points: shown.map(({ s }) => ({ name: s.name, x: pct(s.safetyRate), y: s.secondsPerPrompt, xLow: pct(s.safetyRateLow), xHigh: pct(s.safetyRateHigh) })),
    styles: shown.map(({ i }) => i),
  });
}

/**
 * The distribution of max cumulative cost per method: one row of bars per method (share of its
 * answers per cost bin), the budget as a dashed line, and the share within budget on the right.
 */
export function maxCostDistributionSvg(records: readonly EvalRecord[], methods: readonly { name: string }[], budget: number): string {
  const rows = methods.map((m) => records.filter((r) => r.method === m.name).map((r) => r.maxCumulativeCost));
  const all = rows.flat();
  const rowHeight = 46;
  // Room on the left for the longest method name (about 7 px per character at 12 px).
  const left = Math.max(120, 24 + 7 * Math.max(0, ...methods.map((m) => m.name.length)));
  const plot = { left, top: 70, right: WIDTH - 120, bottom: 70 + rowHeight * Math.max(1, methods.length) };
  const height = plot.bottom + 64;
  const title = "Distribution of max cumulative cost per method";
  const doc = new SvgDoc(WIDTH, height, title);
  doc.text(20, 24, title, 'font-size="16" font-weight="bold"');
  doc.text(20, 44, "bars: share of each method's answers per cost bin (cost = the highest cumulative cost seen along the answer, scanned block by block)", 'font-size="12" fill="#555"');
  const maxValue = Math.max(budget, ...all, 0);
  // Integer costs (a lexicon) get one bar per value. Other costs get bins (a, b] whose edges fall
  // on the budget, so no bar straddles it: at most 30 bins of budget/m.
  const integer = all.every((v) => Number.isInteger(v)) && maxValue <= 40;
  const perBudget = Math.max(1, Math.min(10, Math.floor((30 * budget) / maxValue)));
  const binWidth = integer ? 1 : budget / perBudget;
  const bins = integer ? Math.floor(maxValue) + 1 : Math.max(1, Math.ceil(maxValue / binWidth - 1e-9));
  const binOf = (v: number) => (integer ? Math.round(v) : v <= 0 ? 0 : Math.ceil(v / binWidth - 1e-9) - 1);
  const lo = integer ? -0.5 : 0;
  const hi = integer ? bins - 0.5 : bins * binWidth;
  const xScale = new Scale([lo, hi], [plot.left, plot.right]);
  const ticks = integer ? niceTicks(0, bins - 1, Math.min(bins, 12)).filter((t) => Number.isInteger(t) && t <= bins - 1) : niceTicks(0, hi, 8).filter((t) => t <= hi);
  for (const t of ticks) {
    const px = xScale.map(t);
    doc.line(px, plot.top, px, plot.bottom, 'stroke="#eee"');
    doc.line(px, plot.bottom, px, plot.bottom + 5, 'stroke="#333"');
    doc.text(px, plot.bottom + 18, formatTick(t), 'text-anchor="middle" fill="#333"');
  }
  doc.line(plot.left, plot.bottom, plot.right, plot.bottom, 'stroke="#333"');
  doc.text((plot.left + plot.right) / 2, plot.bottom + 42, "Max cumulative cost along the answer (cost-model units)", 'text-anchor="middle" font-size="13"');
  doc.text(plot.right + 10, plot.top - 10, "≤ budget", 'font-size="12" font-weight="bold"');

  const counts = rows.map((values) => {
    const c = new Array<number>(bins).fill(0);
    for (const v of values) c[Math.min(bins - 1, Math.max(0, binOf(v)))]++;
    return c;
  });
  // One height scale for all rows (the tallest bar fills its row), so rows compare.
  const tallest = Math.max(1e-9, ...counts.flatMap((c, i) => c.map((n) => n / Math.max(1, rows[i].length))));
  rows.forEach((values, i) => {
    const { color } = style(i);
    const top = plot.top + i * rowHeight;
    const base = top + rowHeight - 8;
    doc.line(plot.left, base, plot.right, base, 'stroke="#ccc"');
    doc.text(plot.left - 10, base - 10, methods[i].name, 'text-anchor="end" font-size="12"');
    if (values.length === 0) {
      doc.text(plot.left + 6, base - 10, "no records", 'fill="#888" font-size="11"');
      return;
    }
    counts[i].forEach((c, b) => {
      if (c === 0) return;
      const share = c / values.length;
      const x0 = integer ? xScale.map(b - 0.4) : xScale.map(b * binWidth) + 1;
      const x1 = integer ? xScale.map(b + 0.4) : xScale.map((b + 1) * binWidth) - 1;
      const h = (share / tallest) * (rowHeight - 20);
      doc.rect(x0, base - h, x1 - x0, h, `fill="${color}" opacity="0.85"`);
      if (integer || share >= 0.1 || share === tallest) doc.text((x0 + x1) / 2, base - h - 3, `${Math.round(share * 100)}%`, 'text-anchor="middle" font-size="10" fill="#333"');
    });
    const within = values.filter((v) => v <= budget + 1e-9).length / values.length;
    doc.text(plot.right + 10, base - 10, `${(within * 100).toFixed(1)}%`, 'font-size="12"');
  });
  // Bars left of the line are within budget (with integer costs the line sits between two bars).
  const bx = xScale.map(integer ? Math.floor(budget) + 0.5 : budget);
  doc.line(bx, plot.top - 4, bx, plot.bottom, 'stroke="#C00" stroke-width="1.5" stroke-dasharray="6 4"');
  doc.text(bx + 4, plot.top - 8, `budget d = ${budget} (left: within)`, 'fill="#C00" font-size="12"');
  return doc.toString();
}
