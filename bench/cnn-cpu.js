// CPU-time figures of docs/performance.md "Convolutions": the native conv kernels alone (3x3, padding 1,
// batch 128), the Fashion CNN's train step (batch 128, Adam, in trainingStep) against PyTorch (one thread, rounds
// alternating with myelin's) and its predict against onnxruntime-node on myelin's ONNX export, interleaved.
//   MYELIN_NUM_THREADS=1 node bench/cnn-cpu.js [--dist <dir>] [--rounds 3] [--no-torch] [--predict-only]
//   chrt -f 10 node bench/cnn-cpu.js --wall [--batches 256,1] [--reps 15]
// --dist runs another build (e.g. a checkout of main, for before/after figures from alternating processes);
// --predict-only runs only the predict-vs-onnxruntime part; --wall compares predict by wall clock instead: myelin at
// its thread count (default: 2 on this machine) against onnxruntime-node at 1 and at 2 intra-op threads, blocks of
// each interleaved in one process, medians of --reps blocks; the ratio is against onnxruntime's faster setting.
'use strict';
const path = require('path');
const os = require('os');
const { spawnSync } = require('child_process');
const argv = process.argv.slice(2);
const flag = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
const dist = path.resolve(flag('--dist', path.join(__dirname, '..', 'dist')));
const rounds = Number(flag('--rounds', 3));
const m = require(dist);
const { loadNative } = require(path.join(dist, 'backend', 'native.js'));
const { buildCnn } = require('./cases/cnn');
const { ortSession, uniform } = require('./peers/common');
const { randomArray, randomLabels } = require('./lib/cases');

const C = loadNative({ smallCallsInJs: false });
const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const cpu = (f) => {
  const t0 = process.cpuUsage();
  f();
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / 1000;
};
const rnd = (n) => uniform(n, n % 997);

function kernels(N) {
  for (const [Cin, OC, H] of [[1, 32, 28], [32, 64, 14]]) {
    const geom = Int32Array.from([Cin, H, H, OC, H, H, 3, 3, 1, 1, 1, 1, 1, 1, 1]);
    const base = { N, C: Cin, OC, inPlane: H * H, outPlane: H * H, kArea: Cin * 9, G: 15, geom };
    const X = rnd(N * Cin * H * H), W = rnd(OC * Cin * 9), bias = rnd(OC), out = new Float32Array(N * OC * H * H), dY = rnd(N * OC * H * H);
    const dX = new Float32Array(X.length), dW = new Float32Array(W.length);
    const cases = {
      'forward+bias+relu': () => C.conv2dForward({ ...base, X, W, bias, act: 'relu', alpha: 0, out }),
      dW: () => C.conv2dBackward({ ...base, X, W, dY, dX: null, dW, dB: null, accumulate: true }),
      dX: () => C.conv2dBackward({ ...base, X, W, dY, dX, dW: null, dB: null, accumulate: true }),
    };
    const t = {};
    for (const [k, f] of Object.entries(cases)) {
      for (let i = 0; i < 3; i++) f();
      t[k] = `${med(Array.from({ length: 11 }, () => cpu(f))).toFixed(2)} ms`;
    }
    console.log(`conv ${Cin}->${OC} ${H}x${H} batch ${N}:`, t);
  }
}

async function vsOrt() {
  const model = buildCnn(m, 7);
  model.eval();
  const file = path.join(os.tmpdir(), `myelin-cnn-cpu-${process.pid}.onnx`);
  await m.onnx.exportModel(buildCnn(m, 7), file, { inputShape: [1, 1, 28, 28] });
  const { ort, session } = await ortSession(file, 1);
  for (const B of [256, 1]) {
    const xs = uniform(B * 784, 400 + B);
    const xm = new m.Tensor(Float32Array.from(xs), [B, 1, 28, 28]);
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', Float32Array.from(xs), [B, 1, 28, 28]) };
    const inner = B === 1 ? 200 : 3;
    const mine = [], theirs = [];
    for (let i = 0; i < 3; i++) {
      model.predict(xm);
      await session.run(feeds);
    }
    for (let r = 0; r < 11; r++) {
      mine.push(cpu(() => { for (let i = 0; i < inner; i++) model.predict(xm); }) / inner);
      const t0 = process.cpuUsage();
      for (let i = 0; i < inner; i++) await session.run(feeds);
      const d = process.cpuUsage(t0);
      theirs.push((d.user + d.system) / 1000 / inner);
    }
    console.log(`predict batch ${B}: myelin ${med(mine).toFixed(3)} ms, onnxruntime-node ${med(theirs).toFixed(3)} ms CPU (onnxruntime/myelin ${(med(theirs) / med(mine)).toFixed(2)}x)`);
  }
  require('fs').rmSync(file, { force: true });
}

// Predict by wall clock, interleaved blocks: myelin (default threads) vs onnxruntime-node at 1 and 2 threads.
async function vsOrtWall() {
  const { performance } = require('perf_hooks');
  const model = buildCnn(m, 7);
  model.eval();
  const file = path.join(os.tmpdir(), `myelin-cnn-wall-${process.pid}.onnx`);
  await m.onnx.exportModel(buildCnn(m, 7), file, { inputShape: [1, 1, 28, 28] });
  const sessions = [await ortSession(file, 1), await ortSession(file, 2)];
  const reps = Number(flag('--reps', 15));
  for (const B of flag('--batches', '256,1').split(',').map(Number)) {
    const xs = uniform(B * 784, 400 + B);
    const xm = new m.Tensor(Float32Array.from(xs), [B, 1, 28, 28]);
    const feeds = sessions.map(({ ort, session }) => ({ [session.inputNames[0]]: new ort.Tensor('float32', Float32Array.from(xs), [B, 1, 28, 28]) }));
    const inner = B === 1 ? 400 : Math.max(2, Math.round(1024 / B));
    const t = { mine: [], ort1: [], ort2: [] };
    const wall = async (f) => {
      const t0 = performance.now();
      for (let i = 0; i < inner; i++) await f();
      return (performance.now() - t0) / inner;
    };
    const runs = {
      mine: () => model.predict(xm),
      ort1: () => sessions[0].session.run(feeds[0]),
      ort2: () => sessions[1].session.run(feeds[1]),
    };
    for (const f of Object.values(runs)) for (let i = 0; i < 3; i++) await f();
    for (let r = 0; r < reps; r++) {
      const order = r % 2 ? ['ort2', 'mine', 'ort1'] : ['mine', 'ort1', 'ort2'];
      for (const k of order) {
        // A pause between blocks: both sides' idle workers spin a while after a call (myelin's for 2 ms), and a
        // block must not run against the other side's spinning threads.
        await new Promise((res) => setTimeout(res, Number(flag("--gap", 20))));
        t[k].push(await wall(runs[k]));
      }
    }
    const [mi, o1, o2] = [med(t.mine), med(t.ort1), med(t.ort2)];
    const best = Math.min(o1, o2);
    console.log(`predict batch ${B}, wall: myelin ${mi.toFixed(3)} ms (MYELIN_NUM_THREADS=${process.env.MYELIN_NUM_THREADS || 'default'}), onnxruntime-node 1 thread ${o1.toFixed(3)}, 2 threads ${o2.toFixed(3)} ms (best onnxruntime/myelin ${(best / mi).toFixed(2)}x)`);
  }
  require('fs').rmSync(file, { force: true });
}

// PyTorch's train step, one thread, CPU time by time.process_time (median of 5 reps of 5 steps).
const TORCH_STEP = `
import json, os, sys, time
import torch
import torch.nn.functional as F
sys.path.insert(0, sys.argv[1])
from pytorch_cnn import build_cnn
torch.set_num_threads(1)
g = torch.Generator().manual_seed(100)
model = build_cnn(7)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
pool = [(torch.rand(128, 1, 28, 28, generator=g), torch.randint(0, 10, (128,), generator=g)) for _ in range(4)]
def step(i):
    x, y = pool[i % 4]
    opt.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()
    opt.step()
for i in range(3): step(i)
ts = []
for r in range(5):
    t0 = time.process_time()
    for i in range(5): step(i)
    ts.append((time.process_time() - t0) / 5 * 1000)
print(json.dumps({"step": sorted(ts)[2]}))
`;

function trainStep(B) {
  const model = buildCnn(m, 7);
  const opt = new m.optim.Adam(model.parameters(), { lr: 1e-3 });
  const pool = Array.from({ length: 4 }, (_, p) => [new m.Tensor(randomArray(B * 784, 100 + p, 0, 1), [B, 1, 28, 28]),
    randomLabels(B, 10, 200 + p)]);
  let i = 0;
  // In a training-step arena (what fit uses) when the build has trainingStep, as bench/cases/cnn.js.
  const inStep = typeof m.trainingStep === 'function' ? m.trainingStep : (fn) => fn();
  const body = () => {
    const [x, y] = pool[i++ % 4];
    opt.zeroGrad();
    m.nn.crossEntropy(model.forward(x), y).backward();
    opt.step();
    return 0;
  };
  const step = () => inStep(body);
  for (let w = 0; w < 3; w++) step();
  const mine = [], theirs = [];
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < 5; k++) mine.push(cpu(() => { for (let s = 0; s < 5; s++) step(); }) / 5);
    if (argv.includes('--no-torch')) continue;
    const py = spawnSync('/usr/bin/python3', ['-c', TORCH_STEP, path.join(__dirname, 'peers')], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
    if (py.status === 0) theirs.push(JSON.parse(py.stdout.trim().split('\n').pop()).step);
    else console.error('pytorch:', py.stderr.trim().split('\n').pop());
  }
  const torch = theirs.length ? `, PyTorch ${med(theirs).toFixed(1)} ms (PyTorch/myelin ${(med(theirs) / med(mine)).toFixed(2)}x)` : '';
  console.log(`train step batch ${B}: myelin ${med(mine).toFixed(1)} ms CPU${torch}`);
}

console.log(`dist ${dist}, ${os.cpus()[0].model}, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
if (!argv.includes('--predict-only') && !argv.includes('--wall')) {
  kernels(128);
  trainStep(128);
}
(argv.includes('--wall') ? vsOrtWall() : vsOrt()).catch((e) => {
  console.error(e);
  process.exit(1);
});
