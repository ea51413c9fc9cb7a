#!/usr/bin/env node
// Two-thread scaling of the mixed-precision bf16 GEMM: the reference MLP's large products (batch 128) and its
// whole bf16 train step, timed in wall-clock microseconds at one and two threads in alternating rounds in one
// process (setNumThreads between rounds), medians; the ratio is 1-thread time / 2-thread time.
//
//   chrt -f 10 node bench/bf16-threads.js [--batch 128] [--rounds 21] [--steps 40] [--no-step]
'use strict';
const os = require('os');
const m = require('..');

const arg = (name, dflt) => { const i = process.argv.indexOf(name); return i < 0 ? dflt : Number(process.argv[i + 1]); };
const median = (v) => { const s = v.slice().sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const now = () => Number(process.hrtime.bigint()) / 1e3;

function main() {
  const batch = arg('--batch', 128), rounds = arg('--rounds', 21), steps = arg('--steps', 40);
  m.setBackend('native');
  const be = require('../dist/backend/select.js').getBackend();
  const native = require('../dist/backend/native.js');
  const setThreads = (n) => native.loadBinding().setNumThreads(n);
  let s = 1;
  const rnd = (n) => Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5);
  const configs = ['1', '2'];
  const use = (c) => setThreads(Number(c));
  // fn's time per round in each configuration, the configurations in rotating order.
  const timeRounds = (fn) => {
    const t = Object.fromEntries(configs.map((c) => [c, []]));
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < configs.length; i++) { const c = configs[(r + i) % configs.length]; use(c); t[c].push(fn()); }
    }
    return t;
  };
  // median time per configuration, and the 1-thread / configuration ratios (of medians; paired per round).
  const fmt = (t) => configs.map((c) => `${median(t[c]).toFixed(1).padStart(8)}`).join(' ') + '   ' +
    configs.slice(1).map((c) => `${c}: ${(median(t['1']) / median(t[c])).toFixed(3)} (${median(t['1'].map((x, i) => x / t[c][i])).toFixed(3)})`).join('  ');
  const shapes = [
    ['L1 forward', false, true, batch, 256, 784], ['L1 dW', true, false, 256, 784, batch],
    ['L2 forward', false, true, batch, 128, 256], ['L2 dX', false, false, batch, 256, 128], ['L2 dW', true, false, 128, 256, batch],
  ];
  const rows = shapes.map(([name, ta, tb, M, N, K]) => {
    const A = rnd(M * K), B = rnd(K * N), C = new Float32Array(M * N);
    const calls = Math.max(20, Math.round(5e7 / (M * N * K)));
    const t = timeRounds(() => {
      be.gemmMixedBf16(ta, tb, M, N, K, 1, A, B, 0, C);
      const t0 = now();
      for (let i = 0; i < calls; i++) be.gemmMixedBf16(ta, tb, M, N, K, 1, A, B, 0, C);
      return (now() - t0) / calls;
    });
    return { name: `${name} ${M}x${N}x${K} ${ta ? 'T' : 'N'}${tb ? 'T' : 'N'}`, t };
  });
  console.log(`CPU: ${os.cpus()[0].model}; path ${m.info().mixedBf16Path}; batch ${batch}; ${rounds} rounds; load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log(`product (bf16), wall us per call: ${configs.join(' / ')} threads; 1-thread / n-thread ratios (paired median)`);
  for (const r of rows) console.log(`${r.name.padEnd(30)} ${fmt(r.t)}`);
  if (!process.argv.includes('--no-step')) {
    const x = m.tensor(rnd(batch * 784), [batch, 784]);
    const y = Int32Array.from({ length: batch }, (_, i) => i % 10);
    const model = new m.nn.Sequential([new m.nn.Linear(784, 256), new m.nn.ReLU(), new m.nn.Linear(256, 128), new m.nn.ReLU(), new m.nn.Linear(128, 10)], { seed: 7 });
    const opt = new m.optim.Adam(model.parameters(), { lr: 1e-3 });
    const block = (n) => m.autocast('bf16', () => {
      const t0 = now();
      for (let i = 0; i < n; i++) { opt.zeroGrad(); m.nn.crossEntropy(model.forward(x), y).backward(); opt.step(); }
      return (now() - t0) / n;
    });
    block(20);
    const t = timeRounds(() => { block(3); return block(steps); });
    console.log(`${'bf16 train step'.padEnd(30)} ${fmt(t)}`);
  }
}
main();
