// Training reports looked at as a person would: rendered by headless Chromium (Debian's `chromium`), the
// curves, matrix and scatter must be drawn (non-empty SVG paths and cells, labelled axes, legible text
// inside a 1280-pixel window), and a 1280x800 screenshot must show them (not blank). Without Chromium this
// test FAILS, saying to install it: it never skips.
import { describe, it, expect, beforeAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { nn, data, fit, randn } from '../lib';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { findChromium, screenshot, dumpDom } = require('./helpers/chromium.js');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-report-chromium-'));

/** A script measuring what Chromium drew, written into the page as base64 JSON (<pre id="measure">). */
const MEASURE = `<script>
(function () {
  var box = function (el) { var r = el.getBoundingClientRect(); return { x: r.x, y: r.y, w: r.width, h: r.height }; };
  var charts = Array.prototype.map.call(document.querySelectorAll('svg.chart'), function (svg) {
    var q = function (sel) { return Array.prototype.slice.call(svg.querySelectorAll(sel)); };
    var text = function (el) { return el ? { text: el.textContent, box: box(el) } : null; };
    return {
      kind: svg.getAttribute('data-kind'), box: box(svg),
      title: text(svg.querySelector('.title')), xLabel: text(svg.querySelector('.x-label')), yLabel: text(svg.querySelector('.y-label')),
      ticks: q('.tick').map(function (t) { return { text: t.textContent, h: box(t).h, w: box(t).w }; }),
      paths: q('path.series, path.points').map(function (p) { return { cls: p.getAttribute('class'), series: p.getAttribute('data-series'), length: p.getTotalLength(), bbox: box(p) }; }),
      cells: q('rect.cell').map(function (c) { return box(c); }),
    };
  });
  var out = { charts: charts, scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth };
  var pre = document.createElement('pre');
  pre.id = 'measure';
  pre.textContent = btoa(JSON.stringify(out));
  document.body.appendChild(pre);
})();
</script>`;

interface Box { x: number; y: number; w: number; h: number }
interface Measured {
  charts: {
    kind: string; box: Box; title: { text: string; box: Box }; xLabel: { text: string; box: Box } | null; yLabel: { text: string; box: Box } | null;
    ticks: { text: string; h: number; w: number }[]; paths: { cls: string; series: string | null; length: number; bbox: Box }[]; cells: Box[];
  }[];
  scrollWidth: number;
  innerWidth: number;
}

/** Renders the report (with the measuring script added, the CSP that forbids it removed) and returns what was drawn. */
function measure(report: string): Measured {
  const html = fs.readFileSync(report, 'utf8').replace(/<meta http-equiv="Content-Security-Policy"[^>]*>/, '').replace('</body>', `${MEASURE}</body>`);
  const copy = report.replace(/\.html$/, '.measure.html');
  fs.writeFileSync(copy, html);
  const dom = dumpDom(copy, 1280, 800);
  const m = /<pre id="measure">([A-Za-z0-9+/=]+)<\/pre>/.exec(dom);
  if (!m) throw new Error(`the measuring script did not run: ${dom.slice(0, 300)}`);
  return JSON.parse(Buffer.from(m[1], 'base64').toString('utf8')) as Measured;
}

/** Pixel statistics of a screenshot: size, share of non-white pixels, distinct colours, pixels near given colours. */
function pixels(png: string, colours: Record<string, [number, number, number]>): { width: number; height: number; inked: number; distinct: number; near: Record<string, number> } {
  const img = PNG.sync.read(fs.readFileSync(png));
  let inked = 0;
  const seen = new Set<number>();
  const near: Record<string, number> = Object.fromEntries(Object.keys(colours).map((k) => [k, 0]));
  for (let i = 0; i < img.data.length; i += 4) {
    const [r, g, b] = [img.data[i], img.data[i + 1], img.data[i + 2]];
    if (r < 245 || g < 245 || b < 245) inked++;
    seen.add((r << 16) | (g << 8) | b);
    for (const [k, [cr, cg, cb]] of Object.entries(colours)) if (Math.abs(r - cr) + Math.abs(g - cg) + Math.abs(b - cb) < 40) near[k]++;
  }
  return { width: img.width, height: img.height, inked: inked / (img.width * img.height), distinct: seen.size, near };
}

function checkLineCharts(m: Measured, minCharts: number): void {
  const lines = m.charts.filter((c) => c.kind === 'line');
  expect(lines.length).toBeGreaterThanOrEqual(minCharts);
  for (const c of lines) {
    expect(c.xLabel?.text, c.title.text).toBe('epoch');
    expect(c.yLabel?.text.length, c.title.text).toBeGreaterThan(2);
    expect(c.xLabel!.box.w).toBeGreaterThan(20); // drawn, not collapsed
    expect(c.yLabel!.box.h).toBeGreaterThan(20); // rotated: tall, not wide
    expect(c.ticks.length).toBeGreaterThanOrEqual(4);
    for (const t of c.ticks) expect(t.h, `tick '${t.text}' of ${c.title.text}`).toBeGreaterThanOrEqual(10); // legible text
    expect(c.paths.length).toBeGreaterThanOrEqual(1);
    for (const p of c.paths) {
      expect(p.length, `${c.title.text}: ${p.series}`).toBeGreaterThan(50); // a visible line, not a dot
      expect(p.bbox.w).toBeGreaterThan(100);
    }
    // Inside the window horizontally: nothing to scroll to.
    expect(c.box.x).toBeGreaterThanOrEqual(0);
    expect(c.box.x + c.box.w).toBeLessThanOrEqual(1280);
  }
  expect(m.scrollWidth).toBeLessThanOrEqual(m.innerWidth);
}

describe('training reports in headless Chromium', () => {
  const classFile = path.join(tmp, 'classification.html');
  const regFile = path.join(tmp, 'regression.html');

  // Without Chromium every test below fails with "Chromium not found ... install it: apt-get install chromium"
  // (an error thrown in beforeAll would only mark them skipped).
  let missing: Error | null = null;
  const needChromium = (): void => {
    if (missing) throw missing;
  };

  beforeAll(async () => {
    try {
      findChromium();
    } catch (e) {
      missing = e as Error;
    }
    const digits = data.loadDigits({ split: 0.2, seed: 42 });
    const m1 = new nn.Sequential(new nn.Linear(64, 32), new nn.ReLU(), new nn.Linear(32, 10), { seed: 1 });
    await fit(m1, digits.train, { epochs: 8, seed: 7, validationSplit: 0.2, verbose: 0, report: classFile });
    const x = randn([400, 3], { seed: 3 });
    const y = new Float32Array(400);
    for (let i = 0; i < 400; i++) y[i] = 2 * x.data[i * 3] - x.data[i * 3 + 1] + 0.5 * x.data[i * 3 + 2] ** 2 + 10;
    const m2 = new nn.Sequential(new nn.Linear(3, 16), new nn.Tanh(), new nn.Linear(16, 1), { seed: 2 });
    await fit(m2, { x, y }, { epochs: 25, seed: 1, lr: 0.01, validationSplit: 0.25, verbose: 0, standardize: true, report: regFile });
  }, 120_000);

  it('Chromium is installed', () => {
    needChromium();
    expect(fs.existsSync(findChromium())).toBe(true);
  });

  it('classification: loss and accuracy curves and a 10x10 confusion matrix are drawn with labelled axes', () => {
    needChromium();
    const m = measure(classFile);
    checkLineCharts(m, 3); // loss, accuracy, learning rate
    const matrix = m.charts.filter((c) => c.kind === 'confusion');
    expect(matrix).toHaveLength(1);
    expect(matrix[0].cells).toHaveLength(100);
    for (const c of matrix[0].cells) expect(c.w * c.h).toBeGreaterThan(400); // each cell at least 20x20 pixels
    expect(matrix[0].xLabel?.text).toBe('predicted class');
    expect(matrix[0].yLabel?.text).toBe('true class');
    expect(matrix[0].ticks.filter((t) => t.h >= 10)).toHaveLength(20); // 0..9 on both axes
  }, 120_000);

  it('regression: the loss curve and the predicted-vs-true scatter are drawn with labelled axes', () => {
    needChromium();
    const m = measure(regFile);
    checkLineCharts(m, 2); // loss, learning rate
    const scatter = m.charts.filter((c) => c.kind === 'scatter');
    expect(scatter).toHaveLength(1);
    expect(scatter[0].xLabel?.text).toBe('true value');
    expect(scatter[0].yLabel?.text).toBe('predicted value');
    const points = scatter[0].paths.find((p) => p.cls === 'points');
    expect(points).toBeDefined();
    expect(points!.bbox.w).toBeGreaterThan(100);
    expect(points!.bbox.h).toBeGreaterThan(100);
  }, 120_000);

  for (const [kind, file] of [['classification', classFile], ['regression', regFile]] as const) {
    it(`${kind}: a 1280x800 screenshot is not blank and shows the training (blue) and validation (orange) curves`, () => {
      needChromium();
      const png = path.join(tmp, `${kind}.png`);
      screenshot(file, png, 1280, 800);
      const p = pixels(png, { training: [0x1f, 0x6f, 0xb4], validation: [0xe8, 0x71, 0x0a] });
      expect([p.width, p.height]).toEqual([1280, 800]);
      expect(p.inked).toBeGreaterThan(0.03); // not blank
      expect(p.inked).toBeLessThan(0.6); // not a black or error page
      expect(p.distinct).toBeGreaterThan(50); // anti-aliased text and lines, not a flat fill
      expect(p.near.training).toBeGreaterThan(300);
      expect(p.near.validation).toBeGreaterThan(300);
    }, 120_000);
  }
});
