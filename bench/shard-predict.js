// One `myelin predict` process vs N shard processes in parallel (+ `myelin merge`) on the 100k x 784 pixel CSV of the csvpredict bench.
// Usage: node bench/shard-predict.js [shards=2] [reps=2]   (after npm run build:ts)
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');
const { pixelCsv } = require('./cases/csv-predict');
const myelin = require('../dist');

const shards = Number(process.argv[2] ?? 2);
const reps = Number(process.argv[3] ?? 2);
const cli = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-shard-bench-'));

function run(args) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => { err += d; });
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${args.join(' ')}: exit ${code}: ${err}`))));
  });
}

async function timed(fn) {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

(async () => {
  const file = pixelCsv(100_000);
  const { nn, save } = myelin;
  const model = new nn.Sequential(
    new nn.Linear(784, 256, { seed: 1 }), new nn.ReLU(), new nn.Linear(256, 128, { seed: 2 }), new nn.ReLU(), new nn.Linear(128, 10, { seed: 3 }));
  const m = path.join(dir, 'm');
  save(model, m, { inputShape: [784], metadata: { task: 'classification', classes: 10, inputScale: 1 / 255 } });
  const common = ['--model', m, '--input', file, '--probabilities'];
  const rows = [];
  for (let r = 0; r < reps; r++) {
    const one = await timed(() => run(['predict', ...common, '--output', path.join(dir, 'one.csv')]));
    fs.rmSync(path.join(dir, 'parts'), { recursive: true, force: true });
    const par = await timed(() => Promise.all(Array.from({ length: shards }, (_, i) => run(['predict', ...common, '--output', path.join(dir, 'parts') + '/', '--shard', `${i}/${shards}`]))));
    const merge = await timed(() => run(['merge', '--output', path.join(dir, 'merged.csv'), path.join(dir, 'parts')]));
    const same = fs.readFileSync(path.join(dir, 'one.csv')).equals(fs.readFileSync(path.join(dir, 'merged.csv')));
    rows.push({ one, par, merge, same, load: os.loadavg()[0] });
    console.log(`rep ${r + 1}: one process ${one.toFixed(2)} s; ${shards} shards in parallel ${par.toFixed(2)} s + merge ${merge.toFixed(2)} s; merged == one: ${same}; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  }
  const best = (k) => Math.min(...rows.map((x) => x[k]));
  console.log(`best of ${reps}: one process ${best('one').toFixed(2)} s (${(100000 / best('one')).toFixed(0)} rows/s); ${shards} shards ${best('par').toFixed(2)} s (${(100000 / best('par')).toFixed(0)} rows/s) + merge ${best('merge').toFixed(2)} s; CPU ${os.cpus()[0].model} x ${os.cpus().length}`);
  fs.rmSync(dir, { recursive: true, force: true });
})().catch((e) => { console.error(e); process.exitCode = 1; });
