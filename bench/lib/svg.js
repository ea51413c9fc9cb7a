// Hand-written SVG chart: horizontal bars of speed-up over the pure-JS baseline, log-scale x axis.
'use strict';

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

/**
 * One colour per contender, the same in every chart whatever order the series come in: myelin in blues and
 * greens, the peers in their own colours. Names not listed get a palette colour chosen from the name itself.
 */
const SERIES_COLOUR = {
  'myelin native': '#1f77b4',
  'myelin native (predictAsync)': '#6baed6',
  'myelin native, N-API call': '#6baed6',
  'myelin native, normal inputs': '#08519c',
  'myelin pure TS': '#2ca02c',
  'naive JS loop': '#7f7f7f',
  pytorch: '#d62728',
  'tfjs-cpu': '#9467bd',
  'tfjs-wasm': '#e377c2',
  'onnxruntime-node': '#ff7f0e',
};

/** The colour of a series by its name (stable across charts and runs). */
function seriesColour(name) {
  if (SERIES_COLOUR[name]) return SERIES_COLOUR[name];
  let h = 0;
  for (const ch of String(name)) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return PALETTE[h % PALETTE.length];
}

function escapeXml(s) {
  return String(s).replace(/[<>&'"]/g, (ch) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[ch]);
}

function fmtRatio(v) {
  if (v >= 100) return `${v.toFixed(0)}×`;
  if (v >= 10) return `${v.toFixed(1)}×`;
  return `${v.toPrecision(2)}×`;
}

/**
 * rows: [{ label, bars: [{ series, value }] }] with value = speed-up (> 0; 1 = as fast as the
 * baseline). Bars start at 1× and grow right (faster) or left (slower) on a log10 axis.
 * Returns the SVG document as a string. Rows or bars with non-positive/non-finite values are dropped.
 */
function speedupChart(rows, opts = {}) {
  // The CPU is named in the title: a speed-up means little without the machine it was measured on.
  const title = `${opts.title || 'Speed-up over pure JS (log scale)'}${opts.cpu ? ` on ${opts.cpu}` : ''}`;
  const subtitle = opts.subtitle || '';
  const clean = rows
    .map((r) => ({ label: r.label, bars: r.bars.filter((b) => Number.isFinite(b.value) && b.value > 0) }))
    .filter((r) => r.bars.length > 0);
  const series = [];
  for (const r of clean) for (const b of r.bars) if (!series.includes(b.series)) series.push(b.series);
  const values = clean.flatMap((r) => r.bars.map((b) => b.value));
  const lo = Math.min(0, Math.floor(Math.log10(Math.min(1, ...values))));
  const hi = Math.max(1, Math.ceil(Math.log10(Math.max(1, ...values))));

  const labelW = 330;
  const plotW = 620;
  const rightPad = 70;
  const barH = 11;
  const barGap = 2;
  const groupGap = 10;
  const top = 70 + Math.ceil(series.length / 4) * 18;
  const width = labelW + plotW + rightPad;
  const groupH = (r) => r.bars.length * (barH + barGap) - barGap;
  const plotH = clean.reduce((s, r) => s + groupH(r) + groupGap, 0);
  const height = top + plotH + 44;
  const x = (v) => labelW + ((Math.log10(v) - lo) / (hi - lo)) * plotW;

  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="10" y="20" font-size="15" font-weight="bold">${escapeXml(title)}</text>`);
  if (subtitle) out.push(`<text x="10" y="38" fill="#555555">${escapeXml(subtitle)}</text>`);
  series.forEach((s, i) => {
    const lx = 10 + (i % 4) * 230;
    const ly = 52 + Math.floor(i / 4) * 18;
    out.push(`<rect x="${lx}" y="${ly}" width="12" height="12" fill="${seriesColour(s)}"/>`);
    out.push(`<text x="${lx + 17}" y="${ly + 10}">${escapeXml(s)}</text>`);
  });
  for (let d = lo; d <= hi; d++) {
    const gx = x(10 ** d).toFixed(1);
    out.push(`<line x1="${gx}" y1="${top - 6}" x2="${gx}" y2="${top + plotH}" stroke="${d === 0 ? '#000000' : '#dddddd'}" stroke-width="${d === 0 ? 1.2 : 1}"/>`);
    const tick = d >= 0 ? `${10 ** d}×` : `${(10 ** d).toFixed(-d)}×`;
    out.push(`<text x="${gx}" y="${top + plotH + 16}" text-anchor="middle">${escapeXml(tick)}</text>`);
  }
  let y = top;
  for (const r of clean) {
    const gh = groupH(r);
    out.push(`<text x="${labelW - 8}" y="${(y + gh / 2 + 4).toFixed(1)}" text-anchor="end">${escapeXml(r.label)}</text>`);
    for (const b of r.bars) {
      const color = seriesColour(b.series);
      const x0 = x(1);
      const x1 = x(b.value);
      const bx = Math.min(x0, x1);
      const bw = Math.max(1, Math.abs(x1 - x0));
      out.push(`<rect x="${bx.toFixed(1)}" y="${y}" width="${bw.toFixed(1)}" height="${barH}" fill="${color}"><title>${escapeXml(`${r.label} — ${b.series}: ${fmtRatio(b.value)}`)}</title></rect>`);
      // Value label past the bar's end for speed-ups, just right of the 1× line for slow-downs.
      const tx = b.value >= 1 ? x1 + 4 : x0 + 4;
      out.push(`<text x="${tx.toFixed(1)}" y="${y + barH - 2}" font-size="10">${escapeXml(fmtRatio(b.value))}</text>`);
      y += barH + barGap;
    }
    y += groupGap - barGap;
  }
  out.push(`<text class="x-label" x="${labelW + plotW / 2}" y="${height - 8}" text-anchor="middle" fill="#333333">speed-up (×) = baseline time / candidate time, log scale; 1× = as fast as the baseline</text>`);
  out.push(`<text class="y-label" x="${labelW - 8}" y="${top - 10}" text-anchor="end" fill="#333333" font-weight="bold">case (baseline)</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

module.exports = { speedupChart, escapeXml, seriesColour, SERIES_COLOUR };
