// Shared helpers for the Node peer scripts: argument parsing and calibrated timing (sync or async).
'use strict';
const { performance } = require('perf_hooks');

/** Parses --name value pairs into an object (numbers converted); --flag alone is true. */
function parseArgs(argv, defaults) {
  const out = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}'`);
    const key = a.slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) out[key] = true;
    else {
      out[key] = Number.isFinite(Number(next)) ? Number(next) : next;
      i++;
    }
  }
  return out;
}

async function block(fn, iters) {
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) await fn();
  return (performance.now() - t0) / 1e3;
}

/** Seconds per call for `reps` timed blocks of calibrated length after `warmup` blocks. */
async function measure(fn, { reps, warmup, targetSec }) {
  await fn();
  let iters = 1;
  for (;;) {
    const dt = await block(fn, iters);
    if (dt >= Math.min(targetSec, 0.02) || iters >= 1e5) {
      iters = Math.max(1, Math.min(1e5, Math.ceil(targetSec / Math.max(dt / iters, 1e-9))));
      break;
    }
    iters *= 4;
  }
  for (let w = 0; w < warmup; w++) await block(fn, iters);
  const secondsPerOp = [];
  for (let r = 0; r < reps; r++) secondsPerOp.push((await block(fn, iters)) / iters);
  return { secondsPerOp, iters };
}

/** Deterministic uniform [0, 1) data. */
function uniform(n, seed) {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  return out;
}

/** onnxruntime-node (required here, when a peer needs it) and a sequential session on `model` with intraOpNumThreads = threads. */
async function ortSession(model, threads) {
  const ort = require('onnxruntime-node');
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  return { ort, session };
}

/** Prints the result as the last stdout line (the driver parses the last line starting with '{'). */
function emit(obj) {
  process.stdout.write(`\n${JSON.stringify(obj)}\n`);
}

module.exports = { parseArgs, measure, uniform, emit, ortSession };
