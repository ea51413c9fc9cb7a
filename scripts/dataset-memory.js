#!/usr/bin/env node
// Streaming-fit memory check: writes a large CSV (--generate) or trains one epoch on it through data.Dataset and prints rows, seconds and peak RSS as JSON.
// Usage: node scripts/dataset-memory.js --generate <file> <megabytes>
//        node --max-old-space-size=256 scripts/dataset-memory.js <file> [--workers n]
'use strict';
const fs = require('fs');
const path = require('path');

const FEATURES = 16;

/**
 * Writes about `mb` MB of seeded rows (16 features with 3 decimals, a class 0..3 from a rule of the
 * first two) to a temp name, then renames. Rows are drawn from a table of 4096 distinct lines, so
 * gigabytes are written at disk speed.
 */
function generate(file, mb) {
  const tmp = `${file}.${process.pid}.tmp`;
  let s = 12345;
  const r = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 4294967296; };
  const table = Array.from({ length: 4096 }, () => {
    const v = Array.from({ length: FEATURES }, () => (r() * 2 - 1).toFixed(3));
    return `${v.join(',')},${(Number(v[0]) > 0 ? 2 : 0) + (Number(v[1]) > 0 ? 1 : 0)}`;
  });
  const fd = fs.openSync(tmp, 'w');
  let written = 0;
  let rows = 0;
  try {
    fs.writeSync(fd, `${Array.from({ length: FEATURES }, (_, j) => `f${j}`).join(',')},label\n`);
    const target = mb * 1e6;
    while (written < target) {
      const lines = [];
      for (let i = 0; i < 10000; i++) lines.push(table[(r() * 4096) | 0]);
      const chunk = Buffer.from(lines.join('\n') + '\n', 'latin1');
      fs.writeSync(fd, chunk);
      written += chunk.length;
      rows += lines.length;
    }
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  return rows;
}

async function train(file, workers) {
  const myelin = require(path.join(__dirname, '..', 'dist', 'index.js'));
  const { nn, data, fit } = myelin;
  const model = new nn.Sequential(new nn.Linear(FEATURES, 32, { seed: 1 }), new nn.ReLU(), new nn.Linear(32, 4, { seed: 2 }));
  const ds = data.Dataset.fromCsv(file, { labelColumn: 'label', batchSize: 1024, task: 'classification', workers }).prefetch(2);
  let rows = 0;
  let rssPeakSampled = 0;
  const started = process.hrtime.bigint();
  const history = await fit(model, ds, {
    epochs: 1, verbose: 0, lr: 0.01,
    onBatchEnd: (_b, logs) => { rows += logs.size; if (rows % (1024 * 256) < 1024) rssPeakSampled = Math.max(rssPeakSampled, process.memoryUsage().rss); },
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const usage = process.resourceUsage();
  return {
    file, bytes: fs.statSync(file).size, rows, seconds, rowsPerSecond: rows / seconds, loss: history.loss[0], accuracy: history.accuracy[0],
    maxRssBytes: usage.maxRSS * 1024, heapLimitBytes: require('v8').getHeapStatistics().heap_size_limit, workers,
  };
}

async function main() {
  const args = process.argv.slice(2);
  if (args[0] === '--generate') {
    const [, file, mb] = args;
    if (!file || !(Number(mb) > 0)) throw new Error('usage: dataset-memory.js --generate <file> <megabytes>');
    const rows = generate(file, Number(mb));
    process.stdout.write(`${JSON.stringify({ file, rows, bytes: fs.statSync(file).size })}\n`);
    return;
  }
  const file = args[0];
  if (!file || !fs.existsSync(file)) throw new Error(`usage: dataset-memory.js <file> [--workers n] (no file '${file}')`);
  const w = args.indexOf('--workers');
  const workers = w < 0 || args[w + 1] === 'auto' ? 'auto' : Number(args[w + 1]);
  process.stdout.write(`${JSON.stringify(await train(file, workers))}\n`);
}

main().catch((e) => { process.stderr.write(`${e.stack || e}\n`); process.exit(1); });
