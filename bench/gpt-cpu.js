#!/usr/bin/env node
// The names-GPT train step and cached generation per token in process CPU time, one thread each side, in rounds that
// alternate myelin and PyTorch (bench/peers/pytorch_attention.py --cpu-time --threads 1): on a machine shared with
// other work the wall clock counts time spent descheduled, CPU time does not. Prints the medians and the ratios.
//
//   node bench/gpt-cpu.js [--rounds 3] [--reps 5]
'use strict';
const path = require('path');
const util = require('node:util');
const { spawnSync } = require('child_process');
const { machineInfo, loadAvg } = require('./lib/machine');
const { randomArray } = require('./lib/cases');
const { gpt, V } = require('./cases/attention');

const { values: args } = util.parseArgs({ options: { rounds: { type: 'string', default: '3' }, reps: { type: 'string', default: '5' } } });
const rounds = Number(args.rounds), reps = Number(args.reps);
if (!(Number.isInteger(rounds) && rounds >= 1)) throw new Error(`--rounds must be an integer >= 1, got '${args.rounds}'`);
if (!(Number.isInteger(reps) && reps >= 1)) throw new Error(`--reps must be an integer >= 1, got '${args.reps}'`);
process.env.MYELIN_NUM_THREADS = '1';
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

const samples = { myelin: { train: [], token: [] }, pytorch: { train: [], token: [] } };
const median = (a) => a.slice().sort((x, y) => x - y)[a.length >> 1];
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
