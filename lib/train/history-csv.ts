// History as CSV (history.toCsv(), `myelin train --history run.csv`): one row per epoch, one column per
// recorded value, for people who plot with their own tools.
import type { History } from './types';

/** A CSV field quoted when it holds a comma, a quote or a line break (RFC 4180). */
function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * The columns of a History in CSV order: epoch, loss, accuracy, valLoss, valAccuracy, the other metrics
 * (training ones first, then val*), lr, seconds. Columns with no values at all are left out.
 */
export function historyColumns(h: History): [string, readonly number[]][] {
  const metricNames = Object.keys(h.metrics ?? {});
  const train = metricNames.filter((k) => !/^val[A-Z]/.test(k));
  const val = metricNames.filter((k) => /^val[A-Z]/.test(k));
  const cols: [string, readonly number[]][] = [
    ['epoch', h.epoch], ['loss', h.loss], ['accuracy', h.accuracy], ['valLoss', h.valLoss], ['valAccuracy', h.valAccuracy],
    ...[...train, ...val].map((k) => [k, h.metrics[k]] as [string, number[]]),
    ['lr', h.lr], ['seconds', h.seconds],
  ];
  return cols.filter(([, v]) => Array.isArray(v) && v.length > 0);
}

/**
 * The History as CSV text: a header line, then one line per epoch (epoch is 0-based, as in history.epoch).
 * Numbers are written in full precision (they read back to the same float); a value an epoch did not
 * record is an empty field. Ends with a newline.
 * @example
 * const history = await fit(model, data, { epochs: 3, validationSplit: 0.1 });
 * fs.writeFileSync('run.csv', historyToCsv(history)); // epoch,loss,accuracy,valLoss,valAccuracy,lr,seconds
 * @param h the History fit resolved with.
 * @returns the CSV text.
 * @throws Error when h is not a History.
 */
export function historyToCsv(h: History): string {
  if (h === null || typeof h !== 'object' || !Array.isArray(h.epoch)) {
    throw new Error(`historyToCsv: expected a History (the object fit resolves with), got ${h === null ? 'null' : typeof h}`);
  }
  const cols = historyColumns(h);
  const lines = [cols.map(([name]) => csvField(name)).join(',')];
  for (let i = 0; i < h.epoch.length; i++) {
    lines.push(cols.map(([, v]) => (i < v.length && v[i] !== undefined && v[i] !== null ? String(v[i]) : '')).join(','));
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Gives a History its toCsv() method (not enumerable, so JSON.stringify and checkpoints leave it out);
 * a History read back from a checkpoint gets it again when fit continues it. Returns the same object.
 */
export function withHistoryMethods(h: History): History {
  if (typeof (h as Partial<History>).toCsv !== 'function') {
    Object.defineProperty(h, 'toCsv', { value: function toCsv(this: History): string { return historyToCsv(this); }, enumerable: false, configurable: true, writable: true });
  }
  return h;
}
