#!/usr/bin/env node
// The names-GPT train step and cached generation per token in process CPU time, one thread each side, in rounds that
// alternate myelin and PyTorch (bench/peers/pytorch_attention.py --cpu-time --threads 1): on a machine shared with
// other work the wall clock counts time spent descheduled, CPU time does not. Prints the medians and the ratios.
// --threads-ab: instead, myelin's train step at 1 and 2 kernel threads in alternating blocks, wall clock and CPU time
// of each (the parallel efficiency: CPU 2t / CPU 1t near 1 means the second thread adds little overhead; the wall
// ratio is what it buys, meaningful on a quiet machine only: check `uptime`), and the fastest blocks' wall time.
// --profile: where one train step's time goes, per native kernel: every backend call of a step timed (wall clock),
// per kernel the fastest and the median over --steps steps of its summed time per step, and the calls per step; the
// step's own fastest and median, so the gap between the kernels' sum and the step is the JavaScript between them.
// --precision-ab: the train step in fp32 and under autocast('bf16') (the Linear layers' products on bf16 operands;
// fused attention, LayerNorm, embedding, loss and Adam stay fp32), alternating blocks, CPU time per step and ratio.
// MYELIN_NUM_THREADS picks the thread count (default 1 here).
//
//   node bench/gpt-cpu.js [--rounds 3] [--reps 5]
//   node bench/gpt-cpu.js --threads-ab [--rounds 9]
//   node bench/gpt-cpu.js --precision-ab [--rounds 9]
//   [MYELIN_NUM_THREADS=2] node bench/gpt-cpu.js --profile [--steps 100]
'use strict';
const path = require('path');
const util = require('node:util');
const { spawnSync } = require('child_process');
const { machineInfo, loadAvg } = require('./lib/machine');
const { randomArray } = require('./lib/cases');
const { gpt, V } = require('./cases/attention');

const { values: args } = util.parseArgs({ options: { rounds: { type: 'string', default: '3' }, reps: { type: 'string', default: '5' }, 'threads-ab': { type: 'boolean', default: false },
  'precision-ab': { type: 'boolean', default: false },
  profile: { type: 'boolean', default: false }, steps: { type: 'string', default: '100' } } });
const rounds = Number(args.rounds), reps = Number(args.reps);
if (!(Number.isInteger(rounds) && rounds >= 1)) throw new Error(`--rounds must be an integer >= 1, got '${args.rounds}'`);
if (!(Number.isInteger(reps) && reps >= 1)) throw new Error(`--reps must be an integer >= 1, got '${args.reps}'`);
const steps = Number(args.steps);
if (!(Number.isInteger(steps) && steps >= 1)) throw new Error(`--steps must be an integer >= 1, got '${args.steps}'`);
if (!args['threads-ab'] && !(args.profile && process.env.MYELIN_NUM_THREADS)) process.env.MYELIN_NUM_THREADS = '1';
const m = require(path.join(__dirname, '..'));

const cpu = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
};
/** CPU seconds per call of fn: reps blocks of about 0.2 s each, after one untimed block. */
function measure(fn) {
  fn();
  const t0 = cpu();
  fn();
  const iters = Math.max(1, Math.floor(0.2 / Math.max(cpu() - t0, 1e-4)));
  for (let i = 0; i < iters; i++) fn(); // a warm-up block: the other case's garbage is collected here, untimed
  const out = [];
  for (let r = 0; r < reps; r++) {
    const t = cpu();
    for (let i = 0; i < iters; i++) fn();
    out.push((cpu() - t) / iters);
  }
  return out;
}

const model = gpt(m, 1);
const opt = new m.optim.Adam(model.parameters(), { lr: 1e-3 });
const ids = new m.IntTensor(Int32Array.from(randomArray(512, 4, 0, V), Math.floor), [32, 16]);
const targets = Int32Array.from(randomArray(512, 5, 0, V), Math.floor);
// A hand-written loop's step in a training-step arena (what fit does): no per-step allocation or GC.
const train = () => m.trainingStep(() => {
  opt.zeroGrad();
  m.nn.crossEntropy(model.forward(ids).reshape([512, V]), targets).backward();
  opt.step();
});
const genModel = gpt(m, 1);
const generate = () => m.generate(genModel, [0], { maxTokens: 16, temperature: 0 });

const median = (a) => a.slice().sort((x, y) => x - y)[a.length >> 1];
if (args['threads-ab']) {
  threadsAb();
  process.exit(0);
}
if (args.profile) {
  profile();
  process.exit(0);
}
if (args['precision-ab']) {
  precisionAb();
  process.exit(0);
}

/** Per-kernel wall time of the train step: each native backend method wrapped with a timer for --steps steps. */
function profile() {
  const native = require(path.join(__dirname, '..', 'dist', 'backend', 'select.js')).getNativeBackend();
  const now = () => Number(process.hrtime.bigint()) / 1e6;
  for (let i = 0; i < 20; i++) train();
  const acc = {}, calls = {}, per = {}, whole = [], original = {};
  for (const k of Object.keys(native)) {
    const f = native[k];
    original[k] = f;
    if (typeof f !== 'function' || k === 'info' || k === 'setNumThreads') continue;
    native[k] = function timed(...a) {
      const t = now();
      try {
        return f.apply(this, a);
      } finally {
        acc[k] = (acc[k] || 0) + now() - t;
        calls[k] = (calls[k] || 0) + 1;
      }
    };
  }
  for (let s = 0; s < steps; s++) {
    for (const k in acc) acc[k] = 0;
    const t = now();
    train();
    whole.push(now() - t);
    for (const k in acc) (per[k] = per[k] || []).push(acc[k]);
  }
  Object.assign(native, original);
  console.log(`gpt-cpu --profile: ${machineInfo().cpu}; ${native.info().threads} kernel thread(s); load average ${loadAvg().join(' / ')}; ${steps} steps`);
  console.log('kernel'.padEnd(24) + 'fastest ms'.padStart(12) + 'median ms'.padStart(12) + 'calls/step'.padStart(12));
  let sum = 0;
  for (const [k, a] of Object.entries(per).sort((x, y) => Math.min(...y[1]) - Math.min(...x[1]))) {
    sum += Math.min(...a);
    console.log(k.padEnd(24) + Math.min(...a).toFixed(3).padStart(12) + median(a).toFixed(3).padStart(12) + String(calls[k] / steps).padStart(12));
  }
  console.log(`kernels (sum of the fastest) ${sum.toFixed(2)} ms; whole step fastest ${Math.min(...whole).toFixed(2)} ms, median ${median(whole).toFixed(2)} ms`);
}

/** The train step in fp32 and in bf16 mixed precision (a second model, same seed), alternating blocks: CPU ms per step. */
function precisionAb() {
  const bfModel = gpt(m, 1);
  const bfOpt = new m.optim.Adam(bfModel.parameters(), { lr: 1e-3 });
  const bf16 = () => m.autocast('bf16', () => m.trainingStep(() => {
    bfOpt.zeroGrad();
    m.nn.crossEntropy(bfModel.forward(ids).reshape([512, V]), targets).backward();
    bfOpt.step();
  }));
  const res = { fp32: [], bf16: [] };
  for (let i = 0; i < 5; i++) { train(); bf16(); }
  const t0 = cpu();
  train();
  const iters = Math.max(1, Math.floor(0.2 / Math.max(cpu() - t0, 1e-4)));
  console.log(`gpt-cpu --precision-ab: ${machineInfo().cpu}; mixed bf16 path ${m.info().mixedBf16Path}; ${m.info().threads} kernel thread(s); ` +
    `load average ${loadAvg().join(' / ')}; ${iters} steps per block`);
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of [['fp32', train], ['bf16', bf16]]) {
      const c = cpu();
      for (let i = 0; i < iters; i++) fn();
      res[name].push((cpu() - c) / iters);
    }
  }
  const f = median(res.fp32), b = median(res.bf16);
  console.log(`train step CPU median: fp32 ${(f * 1e3).toFixed(2)} ms, bf16 ${(b * 1e3).toFixed(2)} ms; bf16 speed / fp32 speed ${(f / b).toFixed(2)}x`);
}

/** The train step at 1 and 2 kernel threads, alternating blocks of about 0.2 s of CPU each: wall and CPU per step. */
function threadsAb() {
  const native = require(path.join(__dirname, '..', 'dist', 'backend', 'select.js')).getNativeBackend();
  const now = () => Number(process.hrtime.bigint()) / 1e9;
  const res = { 1: { wall: [], cpu: [] }, 2: { wall: [], cpu: [] } };
  for (let i = 0; i < 10; i++) train();
  const t0 = cpu();
  train();
  const iters = Math.max(1, Math.floor(0.2 / Math.max(cpu() - t0, 1e-4)));
  console.log(`gpt-cpu --threads-ab: ${machineInfo().cpu}; load average ${loadAvg().join(' / ')}; ${iters} steps per block`);
  for (let r = 0; r < rounds; r++) {
    for (const t of [1, 2]) {
      native.setNumThreads(t);
      train();
      const w = now(), c = cpu();
      for (let i = 0; i < iters; i++) train();
      res[t].wall.push((now() - w) / iters);
      res[t].cpu.push((cpu() - c) / iters);
    }
  }
  const ms = (x) => `${(x * 1e3).toFixed(2)} ms`;
  for (const t of [1, 2]) {
    console.log(`${t} thread${t > 1 ? 's' : ''}: wall median ${ms(median(res[t].wall))} (fastest block ${ms(Math.min(...res[t].wall))}, ` +
      `${Math.round(512 / median(res[t].wall))} tokens/s), CPU median ${ms(median(res[t].cpu))}`);
  }
  console.log(`2 threads / 1 thread: wall ${(median(res[2].wall) / median(res[1].wall)).toFixed(3)} (fastest blocks ` +
    `${(Math.min(...res[2].wall) / Math.min(...res[1].wall)).toFixed(3)}), CPU ${(median(res[2].cpu) / median(res[1].cpu)).toFixed(3)}; ` +
    `load average ${loadAvg().join(' / ')}`);
}

const samples = { myelin: { train: [], token: [] }, pytorch: { train: [], token: [] } };
const machine = machineInfo();
console.log(`gpt-cpu: ${machine.cpu}, ${machine.cores} cores; load average ${loadAvg().join(' / ')}`);
for (let r = 0; r < rounds; r++) {
  samples.myelin.train.push(...measure(train));
  samples.myelin.token.push(...measure(generate).map((s) => s / 16));
  const py = spawnSync('/usr/bin/python3', [path.join(__dirname, 'peers', 'pytorch_attention.py'), '--cpu-time', '--threads', '1',
    '--cases', 'gpt-train-step,gpt-generate-token', '--reps', String(reps), '--vocab', String(V)], { encoding: 'utf8', timeout: 600000 });
  if (py.status !== 0) throw new Error(`pytorch_attention.py failed: ${(py.stderr || '').trim().split('\n').slice(-2).join(' | ')}`);
  const res = JSON.parse(py.stdout.trim().split('\n').pop()).results;
  samples.pytorch.train.push(...res['gpt-train-step'].secondsPerOp);
  samples.pytorch.token.push(...res['gpt-generate-token'].secondsPerOp);
  console.log(`round ${r + 1}/${rounds} done (load ${loadAvg()[0]})`);
}
const t = { my: median(samples.myelin.train), py: median(samples.pytorch.train) };
const g = { my: median(samples.myelin.token), py: median(samples.pytorch.token) };
console.log(`train step (32 x 16 tokens): myelin ${(t.my * 1e3).toFixed(2)} ms CPU (${Math.round(512 / t.my)} tokens per CPU second), ` +
  `PyTorch ${(t.py * 1e3).toFixed(2)} ms CPU (${Math.round(512 / t.py)}): myelin / PyTorch speed ${(t.py / t.my).toFixed(2)}x`);
console.log(`generation per token (batch 1, cached): myelin ${(g.my * 1e3).toFixed(3)} ms CPU, PyTorch ${(g.py * 1e3).toFixed(3)} ms CPU: ` +
  `myelin / PyTorch speed ${(g.py / g.my).toFixed(2)}x`);
