#!/usr/bin/env node
// Batch-1 latency and predictAsync overhead on the reference MLP (784-256-128-10, eval mode), with
// process CPU time per call next to wall time, for loaded machines where wall time mostly measures
// the other processes. Candidates are interleaved (one block of each per round) and medians kept.
//   node bench/latency-probe.js [--rounds 9] [--block-ms 100] [--threads 1,2] [--no-ort]
// onnxruntime-node runs in this process on the same model exported by myelin (intraOpNumThreads 1
// and 2; its CPU time includes its own threads). Needs dist/ (npm run build:ts) and the addon.
'use strict';
const os = require('os');
const path = require('path');
const fs = require('fs');
const { Command } = require('commander');
const { loadMyelin } = require('./lib/myelin');
const { api, buildMlp } = require('./lib/mlp');
const { randomArray } = require('./lib/cases');

const MLP = [784, 256, 128, 10];

function cpuSeconds() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Seconds (wall, CPU) per call over a block of about blockSec. */
async function block(fn, isAsync, iters) {
  const c0 = cpuSeconds();
  const t0 = process.hrtime.bigint();
  if (isAsync) for (let i = 0; i < iters; i++) await fn();
  else for (let i = 0; i < iters; i++) fn();
  return { wall: Number(process.hrtime.bigint() - t0) / 1e9 / iters, cpu: (cpuSeconds() - c0) / iters };
}

const median = (v) => {
  const s = v.slice().sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  const o = new Command()
    .option('--rounds <n>', 'interleaved rounds', (v) => Number(v), 9)
    .option('--block-ms <n>', 'length of one timed block', (v) => Number(v), 100)
    .option('--threads <list>', 'myelin thread counts to measure', '1,2')
    .option('--no-ort', 'leave out onnxruntime-node')
    .parse(process.argv)
    .opts();
  const { myelin, setBackend, backends } = loadMyelin();
  if (!backends.native) throw new Error('latency-probe: the native backend did not load');
  setBackend('native');
  const a = api(myelin);
  const model = buildMlp(a, MLP, 13);
  model.eval();
  const x1 = a.tensor(randomArray(MLP[0], 301, 0, 1), [1, MLP[0]]);
  const x1024 = a.tensor(randomArray(1024 * MLP[0], 1324, 0, 1), [1024, MLP[0]]);
  const setThreads = (n) => backends.native.setNumThreads(n);
  const cands = [];
  for (const t of String(o.threads).split(',').map(Number)) {
    cands.push({ name: `myelin predict, batch 1 (${t}t)`, threads: t, fn: () => model.predict(x1), work: 1 });
    cands.push({ name: `myelin predictAsync, batch 1 (${t}t)`, threads: t, fn: () => model.predictAsync(x1), async: true, work: 1 });
    cands.push({ name: `myelin predict, batch 1024 (${t}t)`, threads: t, fn: () => model.predict(x1024), work: 1024 });
    cands.push({ name: `myelin predictAsync, batch 1024 (${t}t)`, threads: t, fn: () => model.predictAsync(x1024), async: true, work: 1024 });
    // No input copy: what the copy costs is the difference to the line above.
    cands.push({ name: `myelin predictAsync nocopy, b1024 (${t}t)`, threads: t, fn: () => model.predictAsync(x1024, { copyInput: false }), async: true, work: 1024 });
  }
  if (o.ort) {
    let ort = null;
    try {
      ort = require('onnxruntime-node');
    } catch {
      console.log('onnxruntime-node not installed: left out');
    }
    if (ort) {
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-probe-')), 'mlp.onnx');
      await myelin.onnx.exportModel(buildMlp(a, MLP, 13), file, { inputShape: [1, MLP[0]] });
      for (const t of [1, 2]) {
        const s = await ort.InferenceSession.create(file, { intraOpNumThreads: t, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
        for (const [batch, x] of [[1, x1], [1024, x1024]]) {
          const feeds = { [s.inputNames[0]]: new ort.Tensor('float32', x.data, [batch, MLP[0]]) };
          cands.push({ name: `onnxruntime-node, batch ${batch} (${t}t)`, fn: () => s.run(feeds), async: true, work: batch });
        }
      }
    }
  }
  // Calibrate iterations per block, warm up (predict packs its weights on its second call).
  for (const c of cands) {
    if (c.threads) setThreads(c.threads);
    let iters = 1;
    for (;;) {
      const r = await block(c.fn, c.async, iters);
      if (r.wall * iters >= 0.01 || iters >= 1 << 16) {
        c.iters = Math.max(1, Math.round((o.blockMs / 1000) / r.wall));
        break;
      }
      iters *= 4;
    }
    c.samples = [];
  }
  const load0 = os.loadavg();
  for (let r = 0; r < o.rounds; r++) {
    for (const c of cands) {
      if (c.threads) setThreads(c.threads);
      c.samples.push(await block(c.fn, c.async, c.iters));
    }
  }
  const load1 = os.loadavg();
  console.log(`CPU: ${os.cpus()[0].model}, ${os.cpus().length} cores; load average ${load0.map((v) => v.toFixed(1)).join('/')} -> ${load1.map((v) => v.toFixed(1)).join('/')}`);
  console.log(`${o.rounds} interleaved rounds of ${o.blockMs} ms blocks; medians (wall / process CPU per call; CPU counts every thread)`);
  const rows = {};
  for (const c of cands) {
    const wall = median(c.samples.map((s) => s.wall));
    const cpu = median(c.samples.map((s) => s.cpu));
    rows[c.name] = { wall, cpu };
    const rate = c.work > 1 ? `  ${(c.work / wall / 1000).toFixed(1)}k samples/s` : '';
    console.log(`  ${c.name.padEnd(40)} ${(wall * 1e6).toFixed(1).padStart(9)} µs wall ${(cpu * 1e6).toFixed(1).padStart(9)} µs CPU${rate}`);
  }
  const ratio = (p, q, k) => (rows[p] && rows[q] ? (rows[p][k] / rows[q][k]).toFixed(2) : 'n/a');
  for (const t of String(o.threads).split(',')) {
    console.log(`  ${t}t: predict batch 1 / onnxruntime 1t: wall ${ratio(`myelin predict, batch 1 (${t}t)`, 'onnxruntime-node, batch 1 (1t)', 'wall')}x, CPU ${ratio(`myelin predict, batch 1 (${t}t)`, 'onnxruntime-node, batch 1 (1t)', 'cpu')}x (target <= 0.7)`);
    const p1 = rows[`myelin predict, batch 1 (${t}t)`];
    const a1 = rows[`myelin predictAsync, batch 1 (${t}t)`];
    if (p1 && a1) console.log(`  ${t}t: predictAsync - predict at batch 1: wall ${((a1.wall - p1.wall) * 1e6).toFixed(1)} µs, CPU ${((a1.cpu - p1.cpu) * 1e6).toFixed(1)} µs (target <= 15)`);
    console.log(`  ${t}t: predictAsync / predict throughput at batch 1024: ${ratio(`myelin predict, batch 1024 (${t}t)`, `myelin predictAsync, batch 1024 (${t}t)`, 'wall')}x (target >= 0.9)`);
    console.log(`  ${t}t: predictAsync { copyInput: false } / predict at batch 1024: ${ratio(`myelin predict, batch 1024 (${t}t)`, `myelin predictAsync nocopy, b1024 (${t}t)`, 'wall')}x`);
  }
}

main().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`);
  process.exit(1);
});
