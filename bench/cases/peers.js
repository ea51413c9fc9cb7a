// Peer comparison (--peers): the reference MLP task in myelin vs PyTorch, onnxruntime-node and tfjs, in rounds.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const { runInterleaved } = require('../lib/measure');
const { summarize, rateFromTime } = require('../lib/stats');
const { randomArray, firstLine } = require('../lib/cases');
const { api, buildMlp, predictor } = require('../lib/mlp');
const { loadAvg, cpuFlagList } = require('../lib/machine');
const { MLP, stepCandidate } = require('./training');

const PEER_DIR = path.join(__dirname, '..', 'peers');
const PYTHON = '/usr/bin/python3';
const METRICS = {
  train128: { label: 'train samples/s (batch 128)', short: 'reference MLP training, batch 128', kind: 'rate', work: 128, unit: 'samples/s' },
  infer1024: { label: 'inference samples/s (batch 1024)', short: 'reference MLP inference, batch 1024', kind: 'rate', work: 1024, unit: 'samples/s' },
  infer1: { label: 'latency µs (batch 1)', short: 'reference MLP latency, batch 1', kind: 'time', scale: 1e6, unit: 'µs' },
};

function canRequire(name) {
  try {
    require.resolve(name, { paths: [path.join(__dirname, '..', '..')] });
    return true;
  } catch {
    return false;
  }
}

/**
 * The OpenBLAS kernel sets (OPENBLAS_CORETYPE) worth trying on this CPU: Debian's OpenBLAS 0.3.21 does
 * not know every recent CPU and may pick older kernels by itself (SSE3 "Prescott" on new Xeons, AVX2 on
 * AMD Zen 4/5), so PyTorch (which runs its matmuls in it) is measured with each, and the fastest kept.
 * null = unset (OpenBLAS's own choice).
 */
function openblasCoretypes(flags = cpuFlagList()) {
  const has = (...f) => f.every((x) => flags.includes(x));
  const out = [null];
  if (has('avx2', 'fma')) out.push('Haswell', 'Zen');
  if (has('avx512f', 'avx512bw', 'avx512vl', 'avx512dq')) out.push('SkylakeX');
  if (has('avx512f', 'avx512bw', 'avx512vl', 'avx512dq', 'avx512_bf16')) out.push('Cooperlake');
  return out;
}

/** PyTorch's thread settings: torch's own pool of 1 and OpenBLAS's of 2 (its matmuls run there). */
const TORCH_THREADS = { torch: 1, OPENBLAS_NUM_THREADS: 2 };

/**
 * Collapses the configurations of one peer (table entries named `${group} [config]`) into one entry
 * `${group}` holding, per metric, the fastest configuration's figures and its name; the others are
 * returned by group so the report can list every configuration tried.
 */
function keepBestConfig(table, group) {
  const prefix = `${group} [`;
  const members = Object.keys(table).filter((who) => who.startsWith(prefix));
  if (members.length === 0) return null;
  const best = {};
  const tried = {};
  for (const who of members) {
    const config = who.slice(prefix.length, -1);
    for (const [metric, entry] of Object.entries(table[who])) {
      const m = METRICS[metric];
      tried[metric] = tried[metric] || {};
      tried[metric][config] = entry.value.median;
      const better = (a, b) => (m.kind === 'rate' ? a > b : a < b);
      if (!best[metric] || better(entry.value.median, best[metric].value.median)) best[metric] = { ...entry, config };
    }
    delete table[who];
  }
  table[group] = best;
  return tried;
}

function pythonHasTorch() {
  if (!fs.existsSync(PYTHON)) return `${PYTHON} not found`;
  const r = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8', timeout: 120000 });
  return r.status === 0 ? null : `${PYTHON} cannot import torch (apt-get install -y python3-torch)`;
}

/** Runs a peer script; returns its parsed JSON (the last stdout line starting with '{'). */
function runPeerProcess(cmd, args, env, timeoutMs, unset = []) {
  const full = { ...process.env, ...env };
  for (const k of unset) delete full[k];
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: full, timeout: timeoutMs, maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`${path.basename(args[0])}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${path.basename(args[0])} exited ${r.status}: ${(r.stderr || '').trim().split('\n').slice(-3).join(' | ')}`);
  const line = (r.stdout || '').trim().split('\n').reverse().find((l) => l.startsWith('{'));
  if (!line) throw new Error(`${path.basename(args[0])} printed no JSON`);
  return JSON.parse(line);
}

/** Writes the reference MLP as ONNX: myelin's exporter if present, else PyTorch's torch.onnx.export. */
async function exportOnnx(ctx, a, file, torchMissing) {
  const onnx = ctx.myelin.onnx;
  if (onnx && typeof onnx.exportModel === 'function') {
    const model = buildMlp(a, MLP, 13);
    await onnx.exportModel(model, file, { inputShape: [1, MLP[0]] });
    return 'myelin onnx.exportModel';
  }
  if (torchMissing) throw new Error(`no ONNX exporter: myelin.onnx.exportModel not in this build and ${torchMissing}`);
  runPeerProcess(PYTHON, [path.join(PEER_DIR, 'pytorch_mlp.py'), '--export-onnx', file], {}, 300000);
  return 'torch.onnx.export (myelin.onnx.exportModel not in this build)';
}

async function runPeers(ctx) {
  const a = api(ctx.myelin);
  const o = ctx.opts;
  const peerArgs = ['--reps', String(o.peerReps), '--warmup', '1', '--target-sec', String(o.targetSec)];
  const peers = [];
  const unavailable = {};
  const torchMissing = pythonHasTorch();
  if (torchMissing) unavailable.pytorch = torchMissing;
  else {
    for (const core of openblasCoretypes()) {
      const env = { OPENBLAS_NUM_THREADS: String(TORCH_THREADS.OPENBLAS_NUM_THREADS) };
      // An unset OPENBLAS_CORETYPE must be unset in the child too (the bench's own environment may set it).
      if (core !== null) env.OPENBLAS_CORETYPE = core;
      peers.push({
        name: `pytorch [OPENBLAS_CORETYPE=${core === null ? 'unset' : core}]`,
        cmd: PYTHON,
        args: [path.join(PEER_DIR, 'pytorch_mlp.py'), '--threads', String(TORCH_THREADS.torch), ...peerArgs],
        env,
        unset: core === null ? ['OPENBLAS_CORETYPE'] : [],
      });
    }
  }
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-bench-'));
  let onnxSource = null;
  if (!canRequire('onnxruntime-node')) unavailable['onnxruntime-node'] = 'onnxruntime-node not installed';
  else {
    const file = path.join(tmpDir, 'mlp.onnx');
    try {
      onnxSource = await exportOnnx(ctx, a, file, torchMissing);
      for (const t of [2, 1]) {
        peers.push({ name: `onnxruntime-node (${t} thread${t > 1 ? 's' : ''})`, cmd: process.execPath, args: [path.join(PEER_DIR, 'onnxruntime.js'), '--model', file, '--threads', String(t), ...peerArgs], env: {} });
      }
    } catch (e) {
      unavailable['onnxruntime-node'] = `ONNX export failed: ${firstLine(e)}`;
    }
  }
  if (!canRequire('@tensorflow/tfjs')) unavailable['tfjs-cpu'] = '@tensorflow/tfjs not installed';
  else peers.push({ name: 'tfjs-cpu', cmd: process.execPath, args: [path.join(PEER_DIR, 'tfjs.js'), '--backend', 'cpu', ...peerArgs], env: {} });
  if (!canRequire('@tensorflow/tfjs-backend-wasm') || !canRequire('@tensorflow/tfjs')) unavailable['tfjs-wasm'] = '@tensorflow/tfjs-backend-wasm not installed';
  else peers.push({ name: 'tfjs-wasm', cmd: process.execPath, args: [path.join(PEER_DIR, 'tfjs.js'), '--backend', 'wasm', ...peerArgs], env: {} });

  // myelin (native, both cores) measured in-process each round, interleaved with the peer processes.
  const samples = {}; // samples[who][metric] = seconds per op
  const meta = {};
  const errors = {};
  const add = (who, metric, arr) => {
    samples[who] = samples[who] || {};
    samples[who][metric] = (samples[who][metric] || []).concat(arr);
  };
  const myelinCands = [];
  if (ctx.backends.native) {
    const model = buildMlp(a, MLP, 13);
    if (typeof model.eval === 'function') model.eval();
    const predict = predictor(a, model);
    const x1024 = a.tensor(randomArray(1024 * MLP[0], 1324, 0, 1), [1024, MLP[0]]);
    const x1 = a.tensor(randomArray(MLP[0], 301, 0, 1), [1, MLP[0]]);
    const step = stepCandidate(ctx, a, 'native', 128);
    myelinCands.push({ ...step, name: 'train128' });
    myelinCands.push({ name: 'infer1024', before: () => ctx.setBackend('native'), fn: () => predict(x1024) });
    myelinCands.push({ name: 'infer1', before: () => ctx.setBackend('native'), fn: () => predict(x1) });
    if (typeof model.predictAsync === 'function') {
      myelinCands.push({ name: 'async:infer1024', async: true, before: () => ctx.setBackend('native'), fn: () => model.predictAsync(x1024) });
      myelinCands.push({ name: 'async:infer1', async: true, before: () => ctx.setBackend('native'), fn: () => model.predictAsync(x1) });
    }
  } else {
    errors['myelin native'] = `native backend unavailable: ${ctx.backendErrors.native}`;
  }
  const loads = [loadAvg()];
  for (let round = 0; round < o.peerRounds; round++) {
    ctx.log(`  peers round ${round + 1}/${o.peerRounds}`);
    if (myelinCands.length) {
      const res = await runInterleaved(myelinCands, { reps: o.peerReps, warmup: 1, targetSec: o.targetSec });
      for (const c of myelinCands) {
        const [who, metric] = c.name.startsWith('async:') ? ['myelin native (predictAsync)', c.name.slice(6)] : ['myelin native', c.name];
        add(who, metric, res[c.name].samples);
      }
      meta['myelin native'] = { version: ctx.info && ctx.info.version, config: ctx.info };
    }
    for (const p of peers) {
      if (errors[p.name]) continue;
      try {
        const out = runPeerProcess(p.cmd, p.args, p.env, 600000, p.unset);
        meta[p.name] = { version: out.version, config: out.config };
        for (const [metric, r] of Object.entries(out.results || {})) add(p.name, metric, r.secondsPerOp);
      } catch (e) {
        errors[p.name] = firstLine(e);
        ctx.log(`    ${p.name}: ${errors[p.name]}`);
      }
    }
    loads.push(loadAvg());
  }
  fs.rmSync(tmpDir, { recursive: true, force: true });

  const table = {};
  for (const [who, byMetric] of Object.entries(samples)) {
    table[who] = {};
    for (const [metric, s] of Object.entries(byMetric)) {
      const m = METRICS[metric];
      if (!m) continue;
      const time = summarize(s);
      const value = m.kind === 'rate' ? rateFromTime(time, m.work) : { n: time.n, median: time.median * m.scale, min: time.min * m.scale, max: time.max * m.scale, q1: time.q1 * m.scale, q3: time.q3 * m.scale, relSpread: time.relSpread };
      table[who][metric] = { samples: s, time, value };
    }
  }
  // One PyTorch row: per metric its fastest OPENBLAS_CORETYPE (named in the row), all tried in `configs`.
  const configs = {};
  const tried = keepBestConfig(table, 'pytorch');
  if (tried) configs.pytorch = { threads: TORCH_THREADS, medianByMetric: tried };
  for (const [who, err] of Object.entries(errors)) {
    if (who.startsWith('pytorch [')) configs.pytorch = { ...(configs.pytorch || {}), errors: { ...((configs.pytorch || {}).errors || {}), [who]: err } };
  }
  return { metrics: METRICS, table, meta, errors, unavailable, onnxSource, configs, rounds: o.peerRounds, repsPerRound: o.peerReps, loadAvg: loads };
}

module.exports = { runPeers, METRICS, openblasCoretypes, keepBestConfig };
