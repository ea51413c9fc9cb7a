#!/usr/bin/env node
// bf16 mixed-precision training measured in process CPU time (steadier than wall time on a shared machine): the
// reference MLP's train step (784-256-128-10 ReLU, softmax cross-entropy, Adam 1e-3) in fp32 and under
// autocast('bf16'), interleaved rounds, medians of CPU microseconds per step, with the step split into forward
// (zeroGrad + forward + loss), backward and optimizer (process.cpuUsage around each phase of every step; the step is
// their sum), and the eight matrix products of the step timed alone on both kernels.
// Run with MYELIN_NUM_THREADS=1 for per-core figures (CPU time of 2 threads includes the pool's spinning).
//
//   MYELIN_NUM_THREADS=1 node bench/bf16-train-cputime.js [--batch 128] [--rounds 15] [--steps 100] [--wall]
//
// --wall times the phases (not the products alone) in wall-clock microseconds instead, e.g. at two threads.
'use strict';
const os = require('os');
const m = require('..');

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
}

const median = (v) => {
  const s = v.slice().sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** CPU microseconds per call of fn over `calls` calls. */
function cpuPerCall(fn, calls) {
  const t = process.cpuUsage();
  for (let i = 0; i < calls; i++) fn();
  const d = process.cpuUsage(t);
  return (d.user + d.system) / calls;
}

function main() {
  const batch = arg('--batch', 128);
  const rounds = arg('--rounds', 15);
  const steps = arg('--steps', Math.max(20, Math.round(12800 / batch)));
  // --wall: the phases in wall-clock microseconds (two threads: run under chrt -f 10 on a quiet machine).
  const wall = process.argv.includes('--wall');
  const clock = wall ? () => Number(process.hrtime.bigint()) / 1e3 : () => { const u = process.cpuUsage(); return u.user + u.system; };
  m.setBackend('native');
  const info = m.info();
  let s = 1;
  const rnd = (n) => Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32));
  const x = m.tensor(rnd(batch * 784), [batch, 784]);
  const y = Int32Array.from({ length: batch }, (_, i) => i % 10);
  // One step in three phases (zeroGrad + forward + loss, backward, optimizer), CPU time of each summed over `steps` steps.
  const setup = (precision) => {
    const model = new m.nn.Sequential([new m.nn.Linear(784, 256), new m.nn.ReLU(), new m.nn.Linear(256, 128), new m.nn.ReLU(), new m.nn.Linear(128, 10)], { seed: 7 });
    const opt = new m.optim.Adam(model.parameters(), { lr: 1e-3 });
    const block = (n) => {
      const t = { forward: 0, backward: 0, optimizer: 0 };
      for (let i = 0; i < n; i++) {
        const c0 = clock();
        opt.zeroGrad();
        const loss = m.nn.crossEntropy(model.forward(x), y);
        const c1 = clock();
        loss.backward();
        const c2 = clock();
        opt.step();
        const c3 = clock();
        t.forward += c1 - c0;
        t.backward += c2 - c1;
        t.optimizer += c3 - c2;
      }
      return t;
    };
    return precision === 'fp32' ? block : (n) => m.autocast(precision, () => block(n));
  };
  const runs = { fp32: setup('fp32'), bf16: setup('bf16') };
  const times = { fp32: { step: [], forward: [], backward: [], optimizer: [] }, bf16: { step: [], forward: [], backward: [], optimizer: [] } };
  for (const r of Object.values(runs)) r(20);
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 ? ['bf16', 'fp32'] : ['fp32', 'bf16'];
    for (const p of order) {
      const t = runs[p](steps);
      for (const part of ['forward', 'backward', 'optimizer']) times[p][part].push(t[part] / steps);
      times[p].step.push((t.forward + t.backward + t.optimizer) / steps);
    }
  }
  // The step's products alone (the backend kernels, no autograd): forward, dW, and dX of layers 2-3.
  const be = require('../dist/backend/select.js').getBackend();
  const shapes = [
    ['L1 forward', false, true, batch, 256, 784], ['L1 dW', true, false, 256, 784, batch],
    ['L2 forward', false, true, batch, 128, 256], ['L2 dX', false, false, batch, 256, 128], ['L2 dW', true, false, 128, 256, batch],
    ['L3 forward', false, true, batch, 10, 128], ['L3 dX', false, false, batch, 128, 10], ['L3 dW', true, false, 10, 128, batch],
  ];
  const gemms = shapes.map(([name, ta, tb, M, N, K]) => {
    const A = rnd(M * K), B = rnd(K * N), C = new Float32Array(M * N);
    const calls = Math.max(20, Math.round(1e8 / (M * N * K)));
    const f = [], b = [];
    for (let round = 0; round < rounds; round++) {
      f.push(cpuPerCall(() => be.gemm(ta, tb, M, N, K, 1, A, B, 0, C), calls));
      b.push(cpuPerCall(() => be.gemmMixedBf16(ta, tb, M, N, K, 1, A, B, 0, C), calls));
    }
    return { name, shape: `${M}x${N}x${K} ${ta ? 'T' : 'N'}${tb ? 'T' : 'N'}`, fp32: median(f), bf16: median(b), gflops: { fp32: 2 * M * N * K / median(f) / 1e3, bf16: 2 * M * N * K / median(b) / 1e3 } };
  });
  const med = (p) => Object.fromEntries(Object.entries(times[p]).map(([k, v]) => [k, median(v)]));
  const f = med('fp32'), b = med('bf16');
  const fs = f, bs = b;
  const gf = gemms.reduce((a, g) => a + g.fp32, 0), gb = gemms.reduce((a, g) => a + g.bf16, 0);
  console.log(`CPU: ${os.cpus()[0].model}; mixed bf16 path ${info.mixedBf16Path}; ${info.threads} thread(s); batch ${batch}; ${rounds} rounds x ${steps} steps; load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const paired = times.fp32.step.map((t, r) => t / times.bf16.step[r]);
  console.log(`train step ${wall ? 'wall' : 'CPU'} us (median): fp32 ${f.step.toFixed(0)}, bf16 ${b.step.toFixed(0)}: bf16 ${(f.step / b.step).toFixed(2)}x fp32 (${(batch / f.step * 1e6 / 1e3).toFixed(1)}k vs ${(batch / b.step * 1e6 / 1e3).toFixed(1)}k samples per ${wall ? "" : "CPU "}second); ` +
    `per-round ratios: median ${median(paired).toFixed(2)}, range ${Math.min(...paired).toFixed(2)}-${Math.max(...paired).toFixed(2)}`);
  console.log('part         fp32 us   bf16 us   ratio');
  for (const k of Object.keys(fs)) console.log(`${k.padEnd(10)} ${fs[k].toFixed(0).padStart(9)} ${bs[k].toFixed(0).padStart(9)}   ${(fs[k] / bs[k]).toFixed(2)}`);
  console.log('product alone                  fp32 us (GF/s)    bf16 us (GF/s)   ratio');
  for (const g of gemms) console.log(`${(g.name + ' ' + g.shape).padEnd(30)} ${g.fp32.toFixed(1).padStart(7)} (${g.gflops.fp32.toFixed(0).padStart(3)})  ${g.bf16.toFixed(1).padStart(9)} (${g.gflops.bf16.toFixed(0).padStart(3)})   ${(g.fp32 / g.bf16).toFixed(2)}`);
  console.log(`the 8 products: fp32 ${gf.toFixed(0)} us (${(100 * gf / f.step).toFixed(0)}% of the fp32 step), bf16 ${gb.toFixed(0)} us (${(100 * gb / b.step).toFixed(0)}% of the bf16 step), ratio ${(gf / gb).toFixed(2)}`);
  console.log(JSON.stringify({ cpu: os.cpus()[0].model, clock: wall ? 'wall' : 'cpu', path: info.mixedBf16Path, threads: info.threads, batch, rounds, steps, load: os.loadavg(), fp32: fs, bf16: bs, ratio: f.step / b.step, pairedRatios: paired, gemms }));
}

main();
