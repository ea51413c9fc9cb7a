// CNN cases: a conv layer alone (forward, forward+backward) and the Fashion-MNIST two-convolution network (train step, inference), native vs pure TS, and PyTorch with --peers.
'use strict';
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const { measureCase, randomArray, randomLabels, backendCandidate, computeSpeedups, valueOf, firstLine } = require('../lib/cases');
const { summarize } = require('../lib/stats');
const { LinePeer, pairedBlocks } = require('../lib/paired');

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

/** One train step of the Fashion CNN (Adam 1e-3) on a pool of 4 batches, as a function, for backend name. */
function trainStepFn(m, batch) {
  const model = buildCnn(m, 7);
  const opt = new m.optim.Adam(model.parameters(), { lr: 1e-3 });
  const xs = [];
  const ys = [];
  for (let p = 0; p < POOL; p++) {
    xs.push(new m.Tensor(randomArray(batch * 784, 100 + p, 0, 1), [batch, 1, 28, 28]));
    ys.push(randomLabels(batch, 10, 200 + p));
  }
  let i = 0;
  // In a training-step arena (what fit uses) when the build has trainingStep: no per-step allocation or GC.
  const inStep = typeof m.trainingStep === 'function' ? m.trainingStep : (fn) => fn();
  const body = () => {
    const k = i++ % POOL;
    opt.zeroGrad();
    m.nn.crossEntropy(model.forward(xs[k]), ys[k]).backward();
    opt.step();
    return 0;
  };
  return () => inStep(body);
}

function trainCandidate(ctx, name, batch) {
  return backendCandidate(ctx, name, trainStepFn(ctx.myelin, batch));
}

/**
 * PyTorch's train-step configurations the paired comparison tries (each process fixes its environment; torch
 * threads are set per block). OPENBLAS_NUM_THREADS matters because Debian's torch runs the Linear layers in
 * OpenBLAS, whose own threads compete with torch's OpenMP threads for the 2 cores (torch 2 threads + OpenBLAS
 * 2 threads = 4 runnable threads; OpenMP's spinning workers then steal from OpenBLAS's): OMP_WAIT_POLICY=PASSIVE
 * stops the spinning.
 */
const TORCH_TRAIN_ENVS = [
  { name: 'OPENBLAS_NUM_THREADS=1', env: { OPENBLAS_NUM_THREADS: '1' }, threads: [1, 2] },
  { name: 'OpenBLAS default threads', env: {}, threads: [1, 2] },
  { name: 'OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE', env: { OPENBLAS_NUM_THREADS: '1', OMP_WAIT_POLICY: 'PASSIVE' }, threads: [2] },
];

/**
 * The train step against PyTorch in paired blocks (bench/lib/paired.js): long-lived PyTorch processes, one per
 * environment of TORCH_TRAIN_ENVS, each block of one of its configurations right next to a block of myelin's
 * native step. Sets rec.candidates.native to myelin's paired blocks, rec.candidates.pytorch to the configuration
 * with the lowest median per-pair ratio (PyTorch's best showing), rec.vsPytorch to the median of that configuration's per-pair ratios
 * (rec.vsPytorchSpread: their half IQR over the median; rec.vsPytorchCpu: the same in CPU time), and
 * rec.peerConfigs to every configuration's figures.
 */
async function pairedTorchTrain(ctx, rec, batch) {
  const o = ctx.opts;
  const peers = [];
  try {
    const configs = [];
    for (const e of TORCH_TRAIN_ENVS) {
      const peer = new LinePeer(PYTHON, [path.join(__dirname, '..', 'peers', 'pytorch_cnn.py'), '--serve', '--batch', String(batch)], e.env);
      peers.push(peer);
      const { config } = await peer.start();
      for (const threads of e.threads) {
        configs.push({ name: `torch threads ${threads}, ${e.name}`, config: { ...config, torch_threads: threads }, run: (steps) => peer.request(`train ${threads} ${steps}`) });
      }
    }
    ctx.setBackend('native');
    // At least 8 pairs per configuration: fewer leave the quartiles of the ratio to one or two blocks.
    const res = await pairedBlocks(trainStepFn(ctx.myelin, batch), configs, { pairs: Math.max(8, o.reps), targetSec: o.targetSec, warmup: Math.max(1, o.warmup) });
    const mine = res.myelin;
    rec.candidates.native = {
      ...rec.candidates.native, status: 'ok', iters: res.stepsPerBlock.myelin, samples: mine.samples, time: mine.wall, value: valueOf(rec.display, mine.wall),
      cpu: mine.cpu, paired: true,
    };
    rec.peerConfigs = res.configs.map((c, k) => ({ name: c.name, config: configs[k].config, wall: c.wall, cpu: c.cpu, ratioWall: c.ratioWall, ratioCpu: c.ratioCpu }));
    let best = 0;
    // PyTorch at its best relative to myelin: the lowest median per-pair ratio (configurations run at different
    // moments, so their own medians carry the load's drift; each pair's ratio does not).
    for (let k = 1; k < res.configs.length; k++) if (res.configs[k].ratioWall.median < res.configs[best].ratioWall.median) best = k;
    const b = res.configs[best];
    rec.candidates.pytorch = {
      status: 'ok', iters: res.stepsPerBlock.peer[best], samples: b.samples, time: b.wall, value: valueOf(rec.display, b.wall), cpu: b.cpu,
      threads: configs[best].config.torch_threads, version: configs[best].config.version, config: { ...configs[best].config, name: b.name },
    };
    rec.vsPytorch = b.ratioWall.median;
    rec.vsPytorchSpread = b.ratioWall.halfIqr;
    rec.vsPytorchCpu = b.ratioCpu.median;
    for (const c of res.configs) {
      ctx.log(`  ${rec.id}: PyTorch ${c.name}: ${(c.wall.median * 1e3).toFixed(1)} ms ±${(c.wall.halfIqr * 100).toFixed(0)}% wall, ${(c.cpu.median * 1e3).toFixed(1)} ms CPU; ` +
        `PyTorch/myelin per pair ${c.ratioWall.median.toFixed(2)}x ±${(c.ratioWall.halfIqr * 100).toFixed(0)}% wall, ${c.ratioCpu.median.toFixed(2)}x CPU`);
    }
    ctx.log(`  ${rec.id}: myelin ${(mine.wall.median * 1e3).toFixed(1)} ms ±${(mine.wall.halfIqr * 100).toFixed(0)}% wall, ${(mine.cpu.median * 1e3).toFixed(1)} ms CPU; ` +
      `native / pytorch (best: ${b.name}) = ${rec.vsPytorch.toFixed(2)}x ±${(rec.vsPytorchSpread * 100).toFixed(0)}% (CPU ${rec.vsPytorchCpu.toFixed(2)}x)`);
  } catch (e) {
    rec.candidates.pytorch = { status: 'error', reason: firstLine(e) };
    ctx.log(`  ${rec.id}: pytorch ${firstLine(e)}`);
  } finally {
    for (const p of peers) p.close();
  }
  computeSpeedups(rec);
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

/** OPENBLAS_CORETYPE values PyTorch's inference is also run with (besides the default detection). */
const TORCH_CORETYPES = ['Haswell', 'SkylakeX', 'Zen'];

/** Runs a peer script; its JSON (results by case id), or { error }. */
function runPeer(cmd, args, env) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 1800000, maxBuffer: 64 << 20, env: { ...process.env, ...env } });
  if (r.error || r.status !== 0) return { error: r.error ? r.error.message : `exited ${r.status}: ${(r.stderr || '').trim().split('\n').slice(-2).join(' | ')}` };
  const line = (r.stdout || '').trim().split('\n').reverse().find((l) => l.startsWith('{'));
  return line ? JSON.parse(line) : { error: 'printed no JSON' };
}

/** The PyTorch peer (threads 1 and 2, the faster kept), optionally with extra environment and only some cases. */
function runTorch(ctx, batch, env = {}, cases = '') {
  const o = ctx.opts;
  const args = ['--reps', String(o.reps), '--target-sec', String(o.targetSec), '--batch', String(batch)];
  if (cases) args.push('--cases', cases);
  return runPeer(PYTHON, [path.join(__dirname, '..', 'peers', 'pytorch_cnn.py'), ...args], env);
}

/** onnxruntime-node on myelin's ONNX export of the CNN, with intraOpNumThreads = threads. */
function runOrt(ctx, file, threads, inferBatch) {
  const o = ctx.opts;
  const args = ['--model', file, '--threads', String(threads), '--reps', String(o.reps), '--target-sec', String(o.targetSec), '--batch', String(inferBatch)];
  return runPeer(process.execPath, [path.join(__dirname, '..', 'peers', 'onnxruntime_cnn.js'), ...args], {});
}

/** Exports the benchmark's CNN (the same seed as the inference candidates) to a temporary ONNX file. */
async function exportCnn(ctx) {
  try {
    const m = ctx.myelin;
    const file = path.join(os.tmpdir(), `myelin-bench-cnn-${process.pid}.onnx`);
    await m.onnx.exportModel(buildCnn(m, 7), file, { inputShape: [1, 1, 28, 28] });
    return file;
  } catch (e) {
    return { error: `ONNX export failed: ${e.message}` };
  }
}

/** The run with the lowest median for case id, or null. */
function fastest(runs, id) {
  let best = null;
  for (const run of runs) {
    const res = run.results && run.results[id];
    if (!res) continue;
    const med = summarize(res.secondsPerOp).median;
    if (best === null || med < best.med) best = { res, run, med };
  }
  return best;
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
    { id: 'cnn-infer1', label: 'Fashion CNN predict, batch 1 (latency)', make: (n) => inferCandidate(ctx, n, 1), work: 1 },
  ];
  for (const d of defs) {
    const cands = ['native', 'js'].map((name) => (ctx.backends[name] ? d.make(name) : backendCandidate(ctx, name, null)));
    records.push(await measureCase(ctx, {
      id: d.id, group: 'cnn', label: d.label, short: d.label, display: { kind: 'rate', unit: 'samples/s', work: d.work }, baseline: 'js',
      note: 'conv 32 - pool - conv 64 - pool - linear 128 - linear 10, ReLU (examples/fashion-cnn.js); synthetic data of Fashion-MNIST shape',
    }, cands, { maxIters: 1000 }));
  }
  if (ctx.opts.peers) {
    const train = records.find((r) => r.id === 'cnn-train-step');
    if (ctx.backends.native) await pairedTorchTrain(ctx, train, batch);
    const torch = runTorch(ctx, batch, {}, 'conv-forward,conv-forward-backward,cnn-infer,cnn-infer1');
    // PyTorch's Linear layers run on the system BLAS (OpenBLAS here): its inference also runs with
    // each OPENBLAS_CORETYPE below, keeping the fastest; onnxruntime-node runs myelin's own ONNX export.
    const peers = { pytorch: [torch], onnxruntime: [] };
    for (const core of TORCH_CORETYPES) peers.pytorch.push(runTorch(ctx, batch, { OPENBLAS_CORETYPE: core }, 'cnn-infer,cnn-infer1'));
    const onnxFile = await exportCnn(ctx);
    for (const threads of [1, 2]) peers.onnxruntime.push(onnxFile.error ? onnxFile : runOrt(ctx, onnxFile, threads, inferBatch));
    for (const rec of records) {
      if (rec === train && ctx.backends.native) continue;  // measured in pairs above
      for (const [peer, runs] of Object.entries(peers)) {
        if (peer === 'onnxruntime' && !rec.id.startsWith('cnn-infer')) continue;
        const best = fastest(runs, rec.id);
        if (!best) {
          const err = runs.find((r) => r.error);
          rec.candidates[peer] = { status: 'error', reason: err ? firstLine(err.error) : 'no result' };
          continue;
        }
        const { res, run } = best;
        const time = summarize(res.secondsPerOp);
        rec.candidates[peer] = {
          status: 'ok', iters: res.iters, samples: res.secondsPerOp, time, value: valueOf(rec.display, time), threads: res.threads, version: run.version,
          config: run.config,
        };
      }
      computeSpeedups(rec);
      const n = rec.candidates.native;
      if (!n || n.status !== 'ok') continue;
      for (const peer of Object.keys(peers)) {
        const p = rec.candidates[peer];
        if (!p) continue;
        if (p.status !== 'ok') {
          ctx.log(`  ${rec.id}: ${peer} ${p.reason}`);
          continue;
        }
        const ratio = p.time.median / n.time.median;
        if (peer === 'pytorch') rec.vsPytorch = ratio;
        else rec.vsOnnxruntime = ratio;
        const core = p.config && p.config.OPENBLAS_CORETYPE ? `, OPENBLAS_CORETYPE=${p.config.OPENBLAS_CORETYPE}` : '';
        ctx.log(`  ${rec.id}: native / ${peer} (${p.threads} thread${p.threads > 1 ? 's' : ''}${core}) = ${ratio.toFixed(2)}x`);
      }
      const ratios = [rec.vsPytorch, rec.vsOnnxruntime].filter((r) => r !== undefined);
      if (rec.id.startsWith('cnn-infer') && ratios.length === 2) {
        rec.vsBestPeer = Math.min(...ratios);
        ctx.log(`  ${rec.id}: native / best peer = ${rec.vsBestPeer.toFixed(2)}x`);
      }
    }
  }
  return records;
}

module.exports = { runCnn, buildCnn };
