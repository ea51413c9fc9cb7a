// CSV throughput cases: parsing a 100k x 784 CSV (readCsvBatches) and `myelin predict` on it end to end.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const { rng, measureCase } = require('../lib/cases');

const COLUMNS = 784;
/** Version of the generated file's content: bump it when the generator changes. */
const FIXTURE_VERSION = 1;

/**
 * Writes (once) a CSV of `rows` x 784 pixel-like integers (about half zeros, the rest 1..255, like
 * Fashion-MNIST) under the OS temp directory, with a header p0..p783. Returns its path. The file is
 * written to a temp name and renamed, so an interrupted run never leaves a short file behind.
 */
function pixelCsv(rows) {
  const file = path.join(os.tmpdir(), `myelin-bench-pixels-${rows}x${COLUMNS}-v${FIXTURE_VERSION}.csv`);
  if (fs.existsSync(file)) return file;
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    const r = rng(20251);
    const header = Array.from({ length: COLUMNS }, (_, j) => `p${j}`).join(',');
    fs.writeSync(fd, header + '\n');
    const cells = new Array(COLUMNS);
    let block = [];
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < COLUMNS; j++) cells[j] = r() < 0.5 ? 0 : 1 + Math.floor(r() * 255);
      block.push(cells.join(','));
      if (block.length === 1000 || i === rows - 1) {
        fs.writeSync(fd, block.join('\n') + '\n');
        block = [];
      }
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  return file;
}

/** Saves a seeded 784-256-128-10 ReLU classifier (metadata: classification, inputScale 1/255) and returns its directory. */
function pixelModel(myelin) {
  const { nn, save } = myelin;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-bench-model-'));
  const model = new nn.Sequential(
    new nn.Linear(COLUMNS, 256, { seed: 1 }), new nn.ReLU(),
    new nn.Linear(256, 128, { seed: 2 }), new nn.ReLU(),
    new nn.Linear(128, 10, { seed: 3 }),
  );
  save(model, path.join(dir, 'm'), { inputShape: [COLUMNS], metadata: { task: 'classification', classes: 10, inputScale: 1 / 255 } });
  return path.join(dir, 'm');
}

async function runCsvPredict(ctx) {
  const rows = ctx.opts.quick ? 10_000 : 100_000;
  const file = pixelCsv(rows);
  const mb = fs.statSync(file).size / 1e6;
  const { readCsvBatches } = require('../../dist/data/csv');
  const records = [];
  // Parser: every batch of the file through readCsvBatches (what `myelin predict` consumes).
  records.push(
    await measureCase(
      ctx,
      {
        id: `csv-parse-${rows / 1000}k`,
        group: 'csvpredict',
        chart: false,
        label: `CSV: readCsvBatches over ${rows.toLocaleString('en-US')} x ${COLUMNS} pixel rows (${mb.toFixed(0)} MB)`,
        short: `CSV parse ${rows / 1000}k x 784`,
        note: 'all batches of the file (batch 1024) read from disk (page cache warm after the first call); rows/s',
        display: { kind: 'rate', unit: 'rows/s', work: rows },
        baseline: 'js',
      },
      [{
        name: 'js', async: true, iters: 1,
        fn: async () => {
          let n = 0;
          for await (const b of readCsvBatches(file, { batchSize: 1024 })) n += b.rows;
          if (n !== rows) throw new Error(`csv bench: parsed ${n} rows, expected ${rows}`);
        },
      }],
      { warmup: 0 },
    ),
  );
  // End to end: the CLI as a user runs it (a new process per call; output to /dev/null).
  const modelDir = pixelModel(ctx.myelin);
  const cli = path.join(__dirname, '..', '..', 'dist', 'cli', 'main.js');
  // The class and 10 probabilities per row, as \`myelin predict\` wrote by default before --probabilities existed.
  const help = spawnSync(process.execPath, [cli, 'predict', '--help'], { encoding: 'utf8' }).stdout;
  const probabilities = help.includes('--probabilities') ? ['--probabilities'] : [];
  records.push(
    await measureCase(
      ctx,
      {
        id: `csv-predict-${rows / 1000}k`,
        group: 'csvpredict',
        chart: false,
        label: `myelin predict: ${rows.toLocaleString('en-US')} x ${COLUMNS} CSV rows through a 784-256-128-10 MLP`,
        short: `myelin predict ${rows / 1000}k x 784`,
        note: '`myelin predict --model M --input pixels.csv --output /dev/null` in a child process (start-up, parsing, inference, writing class + 10 probabilities per row); rows/s',
        display: { kind: 'rate', unit: 'rows/s', work: rows },
        baseline: 'native',
      },
      [{
        name: 'native', iters: 1,
        fn: () => {
          const r = spawnSync(process.execPath, [cli, 'predict', '--model', modelDir, '--input', file, '--output', '/dev/null', ...probabilities], { encoding: 'utf8' });
          if (r.status !== 0) throw new Error(`myelin predict exited ${r.status}: ${r.stderr}`);
          if (!r.stderr.includes(`predicted ${rows} rows`)) throw new Error(`myelin predict: unexpected report: ${r.stderr}`);
        },
      }],
      { warmup: 0 },
    ),
  );
  fs.rmSync(path.dirname(modelDir), { recursive: true, force: true });
  return records;
}

module.exports = { runCsvPredict, pixelCsv };
