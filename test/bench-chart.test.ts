// Tests of the benchmark's hand-written SVG chart and text table: well-formed output with the data in it.
import { describe, it, expect } from 'vitest';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { speedupChart, escapeXml, seriesColour } = require('../bench/lib/svg.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { formatTable, fmtNum } = require('../bench/lib/table.js');

/** Minimal XML well-formedness check: every start tag closed in order, attributes quoted, no stray '<' or '&'. */
function checkWellFormed(xml: string): string[] {
  const stack: string[] = [];
  const tagRe = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  let last = 0;
  let m: RegExpExecArray | null;
  let roots = 0;
  const body = xml.replace(/^<\?xml[^>]*\?>\s*/, '');
  while ((m = tagRe.exec(body)) !== null) {
    const text = body.slice(last, m.index);
    if (/[<>]/.test(text)) throw new Error(`stray angle bracket in text near ${m.index}: ${text.slice(0, 40)}`);
    if (/&(?!(amp|lt|gt|quot|apos|#\d+);)/.test(text)) throw new Error(`unescaped & near ${m.index}`);
    last = tagRe.lastIndex;
    const [, close, name, , selfClose] = m;
    if (close) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}>`);
    } else if (!selfClose) {
      if (stack.length === 0) roots++;
      stack.push(name);
    } else if (stack.length === 0) roots++;
  }
  if (body.slice(last).trim() !== '') throw new Error(`trailing content: ${body.slice(last).slice(0, 40)}`);
  if (stack.length) throw new Error(`unclosed: ${stack.join(',')}`);
  if (roots !== 1) throw new Error(`expected one root element, got ${roots}`);
  return stack;
}

describe('bench SVG chart', () => {
  const rows = [
    { label: 'gemm 64³ (vs naive JS)', bars: [{ series: 'myelin native', value: 71.9 }, { series: 'myelin pure TS', value: 3.3 }] },
    { label: 'relu <& "quotes">', bars: [{ series: 'myelin native', value: 0.25 }] },
    { label: 'dropped', bars: [{ series: 'myelin native', value: NaN }] },
  ];
  const svg: string = speedupChart(rows, { title: 'T & co', subtitle: 'sub' });

  it('is a well-formed SVG document with one root <svg>', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(() => checkWellFormed(svg)).not.toThrow();
  });

  it('has one bar per finite value, with escaped labels and a legend entry per series', () => {
    const bars = svg.match(/<rect [^>]*><title>/g) || [];
    expect(bars).toHaveLength(3);
    expect(svg).toContain('relu &lt;&amp; &quot;quotes&quot;&gt;');
    expect(svg).not.toContain('dropped');
    expect(svg).toContain('>myelin native<');
    expect(svg).toContain('>myelin pure TS<');
    expect(svg).toContain('71.9×');
    expect(svg).toContain('0.25×');
  });

  it('uses a log axis: decade gridlines cover the data, bars anchored at 1×', () => {
    for (const t of ['0.1×', '1×', '10×', '100×']) expect(svg).toContain(`>${t}<`);
    const widths = [...svg.matchAll(/<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)" height="11"/g)].map((m) => [Number(m[1]), Number(m[2])]);
    // 71.9x and 3.3x start at the same x (the 1x line); log widths: log(71.9)/log(3.3) ~ 3.58.
    expect(widths[0][0]).toBeCloseTo(widths[1][0], 5);
    expect(widths[0][1] / widths[1][1]).toBeCloseTo(Math.log10(71.9) / Math.log10(3.3), 1);
    // The 0.25x bar ends at the 1x line and extends left.
    expect(widths[2][0] + widths[2][1]).toBeCloseTo(widths[0][0], 0);
  });

  it('escapes XML specials and draws an empty but valid chart for no data', () => {
    expect(escapeXml(`<a & 'b'>`)).toBe('&lt;a &amp; &apos;b&apos;&gt;');
    const empty = speedupChart([]);
    expect(() => checkWellFormed(empty)).not.toThrow();
  });

  it('names the CPU in the title, labels the axis with its unit, and keeps each contender\'s colour across charts', () => {
    const a: string = speedupChart([{ label: 'x', bars: [{ series: 'pytorch', value: 2 }, { series: 'myelin native', value: 3 }] }], { cpu: 'AMD EPYC 9R14' });
    const b: string = speedupChart([{ label: 'x', bars: [{ series: 'myelin native', value: 3 }, { series: 'tfjs-wasm', value: 1.5 }, { series: 'pytorch', value: 2 }] }], { cpu: 'AMD EPYC 9R14' });
    expect(a).toMatch(/<text [^>]*font-weight="bold">Speed-up over pure JS \(log scale\) on AMD EPYC 9R14<\/text>/);
    expect(a).toMatch(/class="x-label"[^>]*>speed-up \(×\) = baseline time \/ candidate time, log scale/);
    const colourOf = (svg: string, series: string): string => new RegExp(`fill="(#[0-9a-f]{6})"><title>x — ${series}:`).exec(svg)![1];
    for (const s of ['pytorch', 'myelin native']) expect(colourOf(a, s)).toBe(colourOf(b, s));
    expect(colourOf(a, 'pytorch')).not.toBe(colourOf(a, 'myelin native'));
    expect(seriesColour('some new peer')).toBe(seriesColour('some new peer'));
  });

  it('the well-formedness check itself rejects broken markup', () => {
    expect(() => checkWellFormed('<svg><g></svg>')).toThrow();
    expect(() => checkWellFormed('<svg>a & b</svg>')).toThrow();
    expect(() => checkWellFormed('<svg/><svg/>')).toThrow();
  });
});

describe('bench text table', () => {
  it('aligns columns and formats numbers', () => {
    const t = formatTable(['case', 'value'], [['a', '1'], ['longer', '12345']]).split('\n');
    expect(t).toHaveLength(4);
    expect(new Set(t.map((l) => l.length)).size).toBe(1);
    expect(t[2]).toBe('a           1');
    expect(fmtNum(1234567)).toBe('1.23M');
    expect(fmtNum(12.345)).toBe('12.3');
    expect(fmtNum(NaN)).toBe('-');
  });
});
