// Plain-text table formatting for the benchmark report, and number formatting helpers.
'use strict';

/** Left-aligns the first column, right-aligns the others; returns the table as lines joined by \n. */
function formatTable(headers, rows) {
  const all = [headers, ...rows].map((r) => r.map((c) => (c === undefined || c === null ? '' : String(c))));
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] || '').length)));
  const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const sep = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(all[0]), sep, ...all.slice(1).map(line)].join('\n');
}

/** 3 significant digits, with k/M/G suffixes for large values. */
function fmtNum(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '-';
  const a = Math.abs(v);
  if (a >= 1e9) return `${(v / 1e9).toPrecision(3)}G`;
  if (a >= 1e6) return `${(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${(v / 1e3).toPrecision(3)}k`;
  if (a >= 100) return v.toFixed(0);
  return v.toPrecision(3);
}

function fmtPct(r) {
  if (!Number.isFinite(r)) return '';
  return `±${(r * 50).toFixed(r * 50 < 10 ? 1 : 0)}%`;
}

module.exports = { formatTable, fmtNum, fmtPct };
