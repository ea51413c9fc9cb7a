// A/B of the small-tensor paths between builds of myelin loaded in one process: node bench/ab-small-results.js DIST_A DIST_B [...].
//
// Each argument is a compiled dist/ directory (e.g. this checkout's dist and one built from an older
// commit with `git archive <commit> lib | tar -x -C /tmp/old && tsc -p ... --outDir /tmp/old-dist`).
// Candidates alternate within every repetition (the order rotates) and the time is the process's CPU
// time (user + system) per call, so slices lost to other processes on a busy machine do not count.
// Reports the median over the repetitions. Set MYELIN_ADDON_PATH when a dist has no addon beside it.
'use strict';

const dists = process.argv.slice(2);
if (dists.length === 0) {
  console.error('usage: node bench/ab-small-results.js DIST_A [DIST_B ...]');
  process.exit(2);
}
const REPS = Number(process.env.REPS || 11);

function cpuMicros(fn, iters) {
  const c0 = process.cpuUsage();
  for (let i = 0; i < iters; i++) fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / iters;
}

function median(a) {
  const s = [...a].sort((x, y) => x - y);
  return s[s.length >> 1];
}

/** The cases for one build: [name, fn, calls per timed block]. */
function cases(m) {
  const { nn, optim, ops, tensor } = m;
  const out = [];
  {
    const model = new nn.Sequential([new nn.Linear(2, 8), new nn.Tanh(), new nn.Linear(8, 1), new nn.Sigmoid()], { seed: 5 });
    const opt = new optim.SGD(model.parameters(), { lr: 0.5, momentum: 0.9 });
    const X = tensor(new Float32Array([0, 0, 0, 1, 1, 0, 1, 1]), [4, 2]);
    const Y = tensor(new Float32Array([0, 1, 1, 0]), [4, 1]);
    out.push(['XOR 2-8-1 step (hand-written loop)', () => {
      opt.zeroGrad();
      nn.mseLoss(model.forward(X), Y).backward();
      opt.step();
    }, 20000]);
  }
  {
    const model = new nn.Sequential([new nn.Linear(30, 32), new nn.ReLU(), new nn.Linear(32, 16), new nn.ReLU(), new nn.Linear(16, 3)], { seed: 5 });
    const opt = new optim.Adam(model.parameters());
    const X = tensor(new Float32Array(8 * 30).fill(0.3), [8, 30]);
    const y = new Int32Array([0, 1, 2, 0, 1, 2, 0, 1]);
    out.push(['30-32-16-3 Adam step, batch 8', () => {
      opt.zeroGrad();
      nn.crossEntropy(model.forward(X), y).backward();
      opt.step();
    }, 10000]);
    const x4 = tensor(new Float32Array(4 * 30).fill(0.3), [4, 30]);
    out.push(['30-32-16-3 forward + sum, batch 4', () => model.forward(x4).sum(), 20000]);
    const x1 = tensor(new Float32Array(30).fill(0.3), [1, 30]);
    out.push(['30-32-16-3 predict, batch 1', () => model.predict(x1), 50000]);
  }
  {
    const x = tensor(new Float32Array(4 * 16).fill(0.2), [4, 16]);
    const W = tensor(new Float32Array(32 * 16).fill(0.1), [32, 16], { requiresGrad: true });
    const b = tensor(new Float32Array(32), [32], { requiresGrad: true });
    const W3 = tensor(new Float32Array(3 * 16).fill(0.1), [3, 16], { requiresGrad: true });
    out.push(['ops.linear -> 4x32 (128 values)', () => ops.linear(x, W, b), 100000]);
    out.push(['ops.linear -> 4x3 (12 values)', () => ops.linear(x, W3, null), 200000]);
    const flat = ops.reshape(x, [64]);
    out.push(['relu of 64 values', () => ops.relu(flat), 200000]);
  }
  {
    const model = new nn.Sequential([new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 128), new nn.ReLU(), new nn.Linear(128, 10)], { seed: 13 }).eval();
    const x1 = tensor(new Float32Array(784).fill(0.3), [1, 784]);
    out.push(['784-256-128-10 predict, batch 1', () => model.predict(x1), 5000]);
  }
  return out;
}

const builds = dists.map((d) => {
  const m = require(require('path').resolve(d, 'index.js'));
  if (process.env.BACKEND) m.setBackend(process.env.BACKEND);
  return cases(m);
});
const n = builds[0].length;
const samples = builds.map(() => Array.from({ length: n }, () => []));
for (const b of builds) for (const [, fn, iters] of b) cpuMicros(fn, Math.ceil(iters / 5)); // warm-up
for (let rep = 0; rep < REPS; rep++) {
  for (let c = 0; c < n; c++) {
    for (let k = 0; k < builds.length; k++) {
      const i = (k + rep) % builds.length;
      const [, fn, iters] = builds[i][c];
      samples[i][c].push(cpuMicros(fn, iters));
    }
  }
}
const label = (d) => require('path').relative(process.cwd(), d) || d;
for (let c = 0; c < n; c++) {
  const row = dists.map((d, i) => `${label(d)} ${median(samples[i][c]).toFixed(2)}`).join('  |  ');
  console.log(`${builds[0][c][0].padEnd(36)} ${row}  (µs CPU per call)`);
}
