// CNN cases: a conv layer alone (forward, forward+backward) and the Fashion-MNIST two-convolution network (train step, inference), native vs pure TS, and PyTorch with --peers.
'use strict';
const path = require('path');
const { spawnSync } = require('child_process');
const { measureCase, randomArray, randomLabels, backendCandidate, computeSpeedups, valueOf, firstLine } = require('../lib/cases');
const { summarize } = require('../lib/stats');

const POOL = 4;
const PYTHON = '/usr/bin/python3';

/** conv 32 - pool - conv 64 - pool - linear 128 - linear 10 (examples/fashion-cnn.js). */
function buildCnn(m, seed) {
  const { nn } = m;
  return new nn.Sequential(
    new nn.Conv2d(1, 32, 3, { padding: 1, seed: seed + 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(32, 64, 3, { padding: 1, seed: seed + 2 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Flatten(), new nn.Linear(64 * 7 * 7, 128, { seed: seed + 3 }), new nn.ReLU(), new nn.Linear(128, 10, { seed: seed + 4 }),
  );
}

function trainCandidate(ctx, name, batch) {
  const m = ctx.myelin;
  const model = buildCnn(m, 7);
  const opt = new m.optim.Adam(model.parameters(), { lr: 1e-3 });
  const xs = [];
  const ys = [];
  for (let p = 0; p < POOL; p++) {
    xs.push(new m.Tensor(randomArray(batch * 784, 100 + p, 0, 1), [batch, 1, 28, 28]));
    ys.push(randomLabels(batch, 10, 200 + p));
  }
  let i = 0;
  return backendCandidate(ctx, name, () => {
    const k = i++ % POOL;
    opt.zeroGrad();
    m.nn.crossEntropy(model.forward(xs[k]), ys[k]).backward();
    opt.step();
  });
}

function convCandidate(ctx, name, backward, batch) {
  const m = ctx.myelin;
  const conv = new m.nn.Conv2d(32, 64, 3, { padding: 1, seed: 3 });
  const x = new m.Tensor(randomArray(batch * 32 * 14 * 14, 5, 0, 1), [batch, 32, 14, 14], true);
  const g = new m.Tensor(randomArray(batch * 64 * 14 * 14, 6, -1, 1), [batch, 64, 14, 14]);
  return backendCandidate(ctx, name, backward
    ? () => {
      x.grad = null;
      conv.zeroGrad();
      conv.forward(x).backward(g);
    }
    : () => m.noGrad(() => conv.forward(x)));
}

function inferCandidate(ctx, name, batch) {
  const m = ctx.myelin;
  const model = buildCnn(m, 7);
  const x = new m.Tensor(randomArray(batch * 784, 9, 0, 1), [batch, 1, 28, 28]);
  return backendCandidate(ctx, name, () => model.predict(x));
}

/** The PyTorch peer's results by case id, or { error }. */
function runTorch(ctx, batch) {
  const o = ctx.opts;
  const args = ['--reps', String(o.reps), '--target-sec', String(o.targetSec), '--batch', String(batch)];
  const r = spawnSync(PYTHON, [path.join(__dirname, '..', 'peers', 'pytorch_cnn.py'), ...args], {
    encoding: 'utf8', timeout: 1800000, maxBuffer: 64 << 20,
  });
  if (r.error || r.status !== 0) return { error: r.error ? r.error.message : `exited ${r.status}: ${(r.stderr || '').trim().split('\n').slice(-2).join(' | ')}` };
  const line = (r.stdout || '').trim().split('\n').reverse().find((l) => l.startsWith('{'));
  return line ? JSON.parse(line) : { error: 'printed no JSON' };
}

async function runCnn(ctx) {
  const records = [];
  // --quick (and the test that runs it) uses small batches: the pure-TS train step at 128 takes seconds.
  const batch = ctx.opts.quick ? 16 : 128;
  const inferBatch = ctx.opts.quick ? 32 : 256;
  const defs = [
    { id: 'conv-forward', label: `Conv2d 32->64 3x3 14x14 forward, batch ${batch}`, make: (n) => convCandidate(ctx, n, false, batch), work: batch },
    { id: 'conv-forward-backward', label: `Conv2d 32->64 3x3 14x14 forward+backward, batch ${batch}`, make: (n) => convCandidate(ctx, n, true, batch), work: batch },
    { id: 'cnn-train-step', label: `Fashion CNN train step (Adam), batch ${batch}`, make: (n) => trainCandidate(ctx, n, batch), work: batch },
    { id: 'cnn-infer', label: `Fashion CNN predict, batch ${inferBatch}`, make: (n) => inferCandidate(ctx, n, inferBatch), work: inferBatch },
  ];
  for (const d of defs) {
    const cands = ['native', 'js'].map((name) => (ctx.backends[name] ? d.make(name) : backendCandidate(ctx, name, null)));
    records.push(await measureCase(ctx, {
      id: d.id, group: 'cnn', label: d.label, short: d.label, display: { kind: 'rate', unit: 'samples/s', work: d.work }, baseline: 'js',
      note: 'conv 32 - pool - conv 64 - pool - linear 128 - linear 10, ReLU (examples/fashion-cnn.js); synthetic data of Fashion-MNIST shape',
    }, cands, { maxIters: 1000 }));
  }
  if (ctx.opts.peers) {
    const torch = runTorch(ctx, batch);
    for (const rec of records) {
      const res = torch.results && torch.results[rec.id];
      if (!res) rec.candidates.pytorch = { status: 'error', reason: torch.error ? firstLine(torch.error) : 'no result' };
      else {
        const time = summarize(res.secondsPerOp);
        rec.candidates.pytorch = { status: 'ok', iters: res.iters, samples: res.secondsPerOp, time, value: valueOf(rec.display, time), threads: res.threads, version: torch.version };
      }
      computeSpeedups(rec);
      const n = rec.candidates.native;
      const p = rec.candidates.pytorch;
      if (n && n.status === 'ok' && p.status === 'ok') {
        rec.vsPytorch = p.time.median / n.time.median;
        ctx.log(`  ${rec.id}: native / pytorch (${p.threads} thread${p.threads > 1 ? 's' : ''}) = ${rec.vsPytorch.toFixed(2)}x`);
      } else if (p.status !== 'ok') ctx.log(`  ${rec.id}: pytorch ${p.reason}`);
    }
  }
  return records;
}

module.exports = { runCnn, buildCnn };
