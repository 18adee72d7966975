// A few hand-written SVG building blocks for the evaluation's plots: scales with "nice" ticks,
// axes with labels and units, markers, a legend. No dependency; the output is plain SVG 1.1 that
// browsers, GitHub and rsvg render the same.

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** Distinct colours (Okabe–Ito, then Tableau), readable on white and by most colour-blind readers. */
export const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#8C564B", "#7F7F7F", "#BCBD22", "#17BECF", "#9467BD"];
export const MARKERS = ["circle", "square", "triangle", "diamond", "down", "cross", "plus", "star"] as const;
export type Marker = (typeof MARKERS)[number];

/** Round numbers for an axis: steps of 1, 2 or 5 times a power of ten, covering [min, max]. */
export function niceTicks(min: number, max: number, target = 6): number[] {
  if (!(max > min)) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    return niceTicks(min - pad, max + pad, target);
  }
  const raw = (max - min) / target;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let v = Math.floor(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1] < max) ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  return ticks;
}

/** Ticks 1, 2, 5 × 10^k spanning [min, max] (both > 0). */
export function logTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    for (const m of [1, 2, 5]) ticks.push(Number((m * 10 ** e).toPrecision(12)));
  }
  const below = ticks.filter((t) => t <= min).pop() ?? ticks[0];
  const above = ticks.find((t) => t >= max) ?? ticks[ticks.length - 1];
  return ticks.filter((t) => t >= below && t <= above);
}

export function formatTick(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(0);
  return String(Number(v.toPrecision(6)));
}

export class Scale {
  constructor(
    readonly domain: [number, number],
    readonly range: [number, number],
    readonly log = false,
  ) {}

  map(v: number): number {
    const [d0, d1] = this.log ? [Math.log10(this.domain[0]), Math.log10(this.domain[1])] : this.domain;
    const x = this.log ? Math.log10(v) : v;
    const t = d1 === d0 ? 0.5 : (x - d0) / (d1 - d0);
    return this.range[0] + t * (this.range[1] - this.range[0]);
  }
}

/** Accumulates SVG elements; toString() gives the document. */
export class SvgDoc {
  private readonly parts: string[] = [];

  constructor(
    readonly width: number,
    readonly height: number,
    readonly title: string,
  ) {}

  add(element: string): this {
    this.parts.push(element);
    return this;
  }

  line(x1: number, y1: number, x2: number, y2: number, attrs = 'stroke="#000"'): this {
    return this.add(`<line x1="${r(x1)}" y1="${r(y1)}" x2="${r(x2)}" y2="${r(y2)}" ${attrs}/>`);
  }

  rect(x: number, y: number, w: number, h: number, attrs: string): this {
    return this.add(`<rect x="${r(x)}" y="${r(y)}" width="${r(Math.max(0, w))}" height="${r(Math.max(0, h))}" ${attrs}/>`);
  }

  text(x: number, y: number, content: string, attrs = ""): this {
    return this.add(`<text x="${r(x)}" y="${r(y)}" ${attrs}>${escapeXml(content)}</text>`);
  }

  marker(kind: Marker, x: number, y: number, size: number, color: string): this {
    const s = size;
    // Half-transparent fill, solid outline: methods that land on the same point stay visible.
    const style = `fill="${color}" fill-opacity="0.45" stroke="${color}" stroke-width="1.6"`;
    switch (kind) {
      case "circle":
        return this.add(`<circle cx="${r(x)}" cy="${r(y)}" r="${r(s)}" ${style}/>`);
      case "square":
        return this.rect(x - s * 0.9, y - s * 0.9, s * 1.8, s * 1.8, style);
      case "triangle":
        return this.add(`<polygon points="${pts([[x, y - s * 1.2], [x + s * 1.1, y + s * 0.8], [x - s * 1.1, y + s * 0.8]])}" ${style}/>`);
      case "down":
        return this.add(`<polygon points="${pts([[x, y + s * 1.2], [x + s * 1.1, y - s * 0.8], [x - s * 1.1, y - s * 0.8]])}" ${style}/>`);
      case "diamond":
        return this.add(`<polygon points="${pts([[x, y - s * 1.3], [x + s * 1.1, y], [x, y + s * 1.3], [x - s * 1.1, y]])}" ${style}/>`);
      case "cross":
        return this.add(`<path d="M${r(x - s)},${r(y - s)}L${r(x + s)},${r(y + s)}M${r(x - s)},${r(y + s)}L${r(x + s)},${r(y - s)}" stroke="${color}" stroke-width="2.5"/>`);
      case "plus":
        return this.add(`<path d="M${r(x - s * 1.2)},${r(y)}L${r(x + s * 1.2)},${r(y)}M${r(x)},${r(y - s * 1.2)}L${r(x)},${r(y + s * 1.2)}" stroke="${color}" stroke-width="2.5"/>`);
      case "star": {
        const p: [number, number][] = [];
        for (let i = 0; i < 10; i++) {
          const a = -Math.PI / 2 + (i * Math.PI) / 5;
          const rad = i % 2 === 0 ? s * 1.4 : s * 0.6;
          p.push([x + rad * Math.cos(a), y + rad * Math.sin(a)]);
        }
        return this.add(`<polygon points="${pts(p)}" ${style}/>`);
      }
    }
  }

  toString(): string {
    return [
      `<?xml version="1.0" encoding="UTF-8"?>`,
      `<svg xmlns="http://www.w3.org/2000/svg" width="${this.width}" height="${this.height}" viewBox="0 0 ${this.width} ${this.height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
      `<title>${escapeXml(this.title)}</title>`,
      `<rect width="100%" height="100%" fill="#fff"/>`,
      ...this.parts,
      `</svg>`,
      "",
    ].join("\n");
  }
}

/** Draws a left axis and a bottom axis with ticks, grid lines, tick labels and axis titles. */
export function drawAxes(
  doc: SvgDoc,
  plot: { left: number; top: number; right: number; bottom: number },
  x: { scale: Scale; ticks: number[]; label: string; format?: (v: number) => string },
  y: { scale: Scale; ticks: number[]; label: string; format?: (v: number) => string },
): void {
  const fx = x.format ?? formatTick;
  const fy = y.format ?? formatTick;
  for (const t of x.ticks) {
    const px = x.scale.map(t);
    doc.line(px, plot.top, px, plot.bottom, 'stroke="#e5e5e5"');
    doc.line(px, plot.bottom, px, plot.bottom + 5, 'stroke="#333"');
    doc.text(px, plot.bottom + 18, fx(t), 'text-anchor="middle" fill="#333"');
  }
  for (const t of y.ticks) {
    const py = y.scale.map(t);
    doc.line(plot.left, py, plot.right, py, 'stroke="#e5e5e5"');
    doc.line(plot.left - 5, py, plot.left, py, 'stroke="#333"');
    doc.text(plot.left - 8, py + 4, fy(t), 'text-anchor="end" fill="#333"');
  }
  doc.line(plot.left, plot.bottom, plot.right, plot.bottom, 'stroke="#333"');
  doc.line(plot.left, plot.top, plot.left, plot.bottom, 'stroke="#333"');
  doc.text((plot.left + plot.right) / 2, plot.bottom + 40, x.label, 'text-anchor="middle" font-size="13"');
  const cy = (plot.top + plot.bottom) / 2;
  doc.text(plot.left - 58, cy, y.label, `text-anchor="middle" font-size="13" transform="rotate(-90 ${r(plot.left - 58)} ${r(cy)})"`);
}

function r(v: number): string {
  return String(Math.round(v * 10) / 10);
}

function pts(p: [number, number][]): string {
  return p.map(([a, b]) => `${r(a)},${r(b)}`).join(" ");
}
