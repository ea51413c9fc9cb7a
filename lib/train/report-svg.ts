// Inline SVG charts for training reports (lib/train/report.ts): line charts, a scatter and a heat map,
// each a self-contained <svg> element with labelled axes and tick values. No scripts, no external resources.

/** Colours of the series, in order: training first, validation second (the same in every chart). */
export const SERIES_COLOURS = ['#1f6fb4', '#e8710a', '#2b9a3e', '#c5221f', '#8e44ad', '#7f6a00'];

/** Text made safe inside XML / HTML elements and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (ch) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&#39;', '"': '&quot;' })[ch] as string);
}

/** A short label for a tick value: up to 4 significant digits, exponent form for very small or large values. */
export function tickLabel(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e5) return v.toExponential(1).replace('e+', 'e');
  return String(Number(v.toPrecision(4)));
}

/** About `count` round tick values covering [lo, hi] (1, 2 or 5 times a power of ten apart). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let t = Math.floor(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  if (ticks[ticks.length - 1] < hi) ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  return ticks;
}

interface Frame {
  width: number;
  height: number;
  left: number;
  top: number;
  plotW: number;
  plotH: number;
}

const FRAME = { width: 400, height: 290, left: 64, right: 14, top: 48, bottom: 48 };

function frame(width = FRAME.width, height = FRAME.height): Frame {
  return { width, height, left: FRAME.left, top: FRAME.top, plotW: width - FRAME.left - FRAME.right, plotH: height - FRAME.top - FRAME.bottom };
}

function fmt(v: number): string {
  return Number.isFinite(v) ? (Math.round(v * 10) / 10).toString() : '0';
}

/** The opening tag, background and title of a chart. */
function open(f: Frame, title: string, kind: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-kind="${kind}" width="${f.width}" height="${f.height}" viewBox="0 0 ${f.width} ${f.height}" role="img" aria-label="${escapeXml(title)}" font-family="sans-serif" font-size="12">`,
    `<rect x="0" y="0" width="${f.width}" height="${f.height}" fill="#ffffff"/>`,
    `<text class="title" x="${f.width / 2}" y="17" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
  ];
}

/** Axis lines, tick marks, tick labels and the two axis labels (class x-label / y-label). */
function axes(f: Frame, xTicks: { at: number; label: string }[], yTicks: { at: number; label: string }[], xLabel: string, yLabel: string): string[] {
  const out: string[] = [];
  const x0 = f.left;
  const y0 = f.top + f.plotH;
  for (const t of yTicks) {
    out.push(`<line x1="${x0}" y1="${fmt(t.at)}" x2="${x0 + f.plotW}" y2="${fmt(t.at)}" stroke="#e6e6e6"/>`);
    out.push(`<text class="tick" x="${x0 - 6}" y="${fmt(t.at + 4)}" text-anchor="end" fill="#333333">${escapeXml(t.label)}</text>`);
  }
  for (const t of xTicks) {
    out.push(`<line x1="${fmt(t.at)}" y1="${y0}" x2="${fmt(t.at)}" y2="${y0 + 5}" stroke="#333333"/>`);
    out.push(`<text class="tick" x="${fmt(t.at)}" y="${y0 + 18}" text-anchor="middle" fill="#333333">${escapeXml(t.label)}</text>`);
  }
  out.push(`<line class="axis" x1="${x0}" y1="${y0}" x2="${x0 + f.plotW}" y2="${y0}" stroke="#333333"/>`);
  out.push(`<line class="axis" x1="${x0}" y1="${f.top}" x2="${x0}" y2="${y0}" stroke="#333333"/>`);
  out.push(`<text class="x-label" x="${x0 + f.plotW / 2}" y="${f.height - 8}" text-anchor="middle">${escapeXml(xLabel)}</text>`);
  const cy = f.top + f.plotH / 2;
  out.push(`<text class="y-label" x="16" y="${cy}" text-anchor="middle" transform="rotate(-90 16 ${cy})">${escapeXml(yLabel)}</text>`);
  return out;
}

/** A linear scale from [lo, hi] to [a, b]. */
function scale(lo: number, hi: number, a: number, b: number): (v: number) => number {
  const span = hi - lo || 1;
  return (v) => a + ((v - lo) / span) * (b - a);
}

/** One line of a line chart: y values at the given x values (non-finite points are left out). */
export interface LineSeries {
  name: string;
  x: readonly number[];
  y: readonly number[];
  /** Draw a dot at each point (default: when there are at most 60 points). */
  dots?: boolean;
}

/** Options of lineChart. */
export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Index into SERIES_COLOURS of the first series (default 0). */
  colourOffset?: number;
}

/** A line chart of one or more series (legend top right), with round ticks on both axes. */
export function lineChart(series: readonly LineSeries[], opts: LineChartOptions): string {
  const f = frame();
  const pts = series.map((s) => s.x.map((x, i) => [x, s.y[i]] as [number, number]).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)));
  const all = pts.flat();
  const out = open(f, opts.title, 'line');
  if (all.length === 0) {
    out.push(`<text x="${f.width / 2}" y="${f.height / 2}" text-anchor="middle" fill="#777777">no values recorded</text>`, '</svg>');
    return out.join('\n');
  }
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const xt = niceTicks(Math.min(...xs), Math.max(...xs), 6).filter((t) => Number.isInteger(t) || Math.max(...xs) - Math.min(...xs) < 6);
  const yt = niceTicks(Math.min(...ys), Math.max(...ys), 5);
  const xLo = Math.min(xt[0], ...xs);
  const xHi = Math.max(xt[xt.length - 1], ...xs);
  const sx = scale(xLo, xHi, f.left, f.left + f.plotW);
  const sy = scale(yt[0], yt[yt.length - 1], f.top + f.plotH, f.top);
  out.push(...axes(f, xt.map((t) => ({ at: sx(t), label: tickLabel(t) })), yt.map((t) => ({ at: sy(t), label: tickLabel(t) })), opts.xLabel, opts.yLabel));
  series.forEach((s, i) => {
    const p = pts[i];
    if (p.length === 0) return;
    const colour = SERIES_COLOURS[(i + (opts.colourOffset ?? 0)) % SERIES_COLOURS.length];
    const d = p.map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${fmt(sx(x))},${fmt(sy(y))}`).join(' ');
    out.push(`<path class="series" data-series="${escapeXml(s.name)}" d="${d}" fill="none" stroke="${colour}" stroke-width="2"/>`);
    if (s.dots ?? p.length <= 60) {
      for (const [x, y] of p) out.push(`<circle cx="${fmt(sx(x))}" cy="${fmt(sy(y))}" r="2.5" fill="${colour}"/>`);
    }
    // Legend: one row above the plot, entries side by side.
    const ly = 32;
    const lx = f.left + series.slice(0, i).reduce((w, t) => w + 30 + t.name.length * 6.5, 0);
    out.push(`<rect x="${fmt(lx)}" y="${ly}" width="14" height="3" fill="${colour}"/>`);
    out.push(`<text class="legend" x="${fmt(lx + 19)}" y="${ly + 5}">${escapeXml(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

/** Options of scatterChart. */
export interface ScatterOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Draw the line y = x (predicted = true). */
  identity?: boolean;
}

/** A scatter of (x[i], y[i]) on one common scale for both axes when `identity` is set (so y = x is the diagonal). */
export function scatterChart(x: ArrayLike<number>, y: ArrayLike<number>, opts: ScatterOptions): string {
  const f = frame(400, 400);
  const out = open(f, opts.title, 'scatter');
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i < x.length; i++) if (Number.isFinite(x[i]) && Number.isFinite(y[i])) { xs.push(x[i]); ys.push(y[i]); }
  if (xs.length === 0) {
    out.push(`<text x="${f.width / 2}" y="${f.height / 2}" text-anchor="middle" fill="#777777">no values</text>`, '</svg>');
    return out.join('\n');
  }
  let [xLo, xHi, yLo, yHi] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  if (opts.identity) {
    xLo = yLo = Math.min(xLo, yLo);
    xHi = yHi = Math.max(xHi, yHi);
  }
  const xt = niceTicks(xLo, xHi, 6);
  const yt = niceTicks(yLo, yHi, 6);
  const sx = scale(xt[0], xt[xt.length - 1], f.left, f.left + f.plotW);
  const sy = scale(yt[0], yt[yt.length - 1], f.top + f.plotH, f.top);
  out.push(...axes(f, xt.map((t) => ({ at: sx(t), label: tickLabel(t) })), yt.map((t) => ({ at: sy(t), label: tickLabel(t) })), opts.xLabel, opts.yLabel));
  if (opts.identity) {
    const lo = Math.max(xt[0], yt[0]);
    const hi = Math.min(xt[xt.length - 1], yt[yt.length - 1]);
    out.push(`<path class="identity" d="M${fmt(sx(lo))},${fmt(sy(lo))} L${fmt(sx(hi))},${fmt(sy(hi))}" stroke="#999999" stroke-dasharray="4 3" fill="none"/>`);
  }
  const dots = xs.map((v, i) => `M${fmt(sx(v))},${fmt(sy(ys[i]))}h0`).join(' ');
  out.push(`<path class="points" d="${dots}" stroke="${SERIES_COLOURS[0]}" stroke-opacity="0.6" stroke-width="5" stroke-linecap="round" fill="none"/>`);
  out.push('</svg>');
  return out.join('\n');
}

/** A confusion matrix as a heat map: rows are true classes, columns predicted ones, each cell its count. */
export function confusionChart(matrix: readonly (readonly number[])[], classNames: readonly string[], title: string): string {
  const k = matrix.length;
  const cell = Math.max(6, Math.min(36, Math.floor(330 / Math.max(k, 1))));
  const longest = Math.min(16, Math.max(1, ...classNames.map((c) => c.length)));
  const left = 40 + longest * 7;
  const top = 48;
  const width = left + cell * k + 24;
  const height = top + cell * k + 40 + longest * 6;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-kind="confusion" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(title)}" font-family="sans-serif" font-size="12">`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text class="title" x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  const max = Math.max(1, ...matrix.flat());
  const short = (s: string): string => (s.length > 16 ? `${s.slice(0, 15)}…` : s);
  for (let r = 0; r < k; r++) {
    const rowTotal = matrix[r].reduce((s, v) => s + v, 0);
    for (let c = 0; c < k; c++) {
      const v = matrix[r][c];
      const shade = v / max;
      // White (0) to dark blue (max); the diagonal in blue, off-diagonal errors in orange so they stand out.
      const [hr, hg, hb] = r === c ? [31, 111, 180] : [232, 113, 10];
      const mix = (ch: number): number => Math.round(255 - (255 - ch) * Math.sqrt(shade));
      const x = left + c * cell;
      const y = top + r * cell;
      out.push(`<rect class="cell" x="${x}" y="${y}" width="${cell}" height="${cell}" fill="rgb(${mix(hr)},${mix(hg)},${mix(hb)})" stroke="#ffffff"><title>${escapeXml(`true ${classNames[r]}, predicted ${classNames[c]}: ${v} of ${rowTotal}`)}</title></rect>`);
      if (cell >= 18) {
        out.push(`<text class="count" x="${x + cell / 2}" y="${y + cell / 2 + 4}" text-anchor="middle" font-size="${cell >= 30 ? 12 : 9}" fill="${shade > 0.5 ? '#ffffff' : '#222222'}">${v}</text>`);
      }
    }
  }
  const labelEvery = Math.ceil(12 / cell);
  for (let i = 0; i < k; i += labelEvery) {
    out.push(`<text class="tick" x="${left - 6}" y="${top + i * cell + cell / 2 + 4}" text-anchor="end">${escapeXml(short(classNames[i]))}</text>`);
    const tx = left + i * cell + cell / 2 + 4;
    const ty = top + k * cell + 8;
    out.push(`<text class="tick" x="${tx}" y="${ty}" text-anchor="end" transform="rotate(-60 ${tx} ${ty})">${escapeXml(short(classNames[i]))}</text>`);
  }
  out.push(`<text class="x-label" x="${left + (cell * k) / 2}" y="${height - 6}" text-anchor="middle">predicted class</text>`);
  const cy = top + (cell * k) / 2;
  out.push(`<text class="y-label" x="14" y="${cy}" text-anchor="middle" transform="rotate(-90 14 ${cy})">true class</text>`);
  out.push('</svg>');
  return out.join('\n');
}
