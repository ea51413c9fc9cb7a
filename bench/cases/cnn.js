// CNN cases: a conv layer alone (forward, forward+backward) and the Fashion-MNIST two-convolution network (train step, inference), native vs pure TS, and PyTorch with --peers.
'use strict';
const { measureCase, randomArray, randomLabels, backendCandidate, attachTorchPeer } = require('../lib/cases');

const POOL = 4;

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
  if (ctx.opts.peers) attachTorchPeer(ctx, records, 'pytorch_cnn.py', ['--batch', String(batch)]);
  return records;
}

module.exports = { runCnn, buildCnn };
