// Command-line options shared by the Fashion-MNIST examples: --dir DIR --epochs N --limit ROWS
// (node:util parseArgs: unknown options and missing values are errors).
'use strict';
const util = require('node:util');

function positiveInt(flag, v) {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag} must be a positive integer, got '${v}'`);
  return n;
}

/** Parses `argv` into { dir, epochs, limit }; `extra` adds more string options (returned as given). */
function datasetArgs(argv, { epochs = 5, extra = {} } = {}) {
  const { values } = util.parseArgs({
    args: argv,
    options: { dir: { type: 'string' }, epochs: { type: 'string', default: String(epochs) }, limit: { type: 'string' }, ...extra },
  });
  return { ...values, epochs: positiveInt('epochs', values.epochs), limit: positiveInt('limit', values.limit) };
}

module.exports = { datasetArgs, positiveInt };
