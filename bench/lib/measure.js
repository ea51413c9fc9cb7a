// Interleaved timing of benchmark candidates: warm-up, calibration, then reps rotating the order.
'use strict';
const { performance } = require('perf_hooks');
const { summarize } = require('./stats');

/**
 * A candidate: { name, fn, async?: boolean, before?: () => void, iters?: number, opsPerCall?: number }.
 * fn runs one operation (sync, or returning a promise when async is true). before() runs before
 * every timed block (e.g. to select the backend). iters fixes the calls per block; otherwise it is
 * calibrated so that one block takes about targetSec. opsPerCall (default 1) divides the time: one
 * call doing 60000 samples of work reports seconds per sample.
 */

async function timeBlock(c, iters) {
  if (c.before) c.before();
  const fn = c.fn;
  let t0;
  if (c.async) {
    t0 = performance.now();
    for (let i = 0; i < iters; i++) await fn();
  } else {
    t0 = performance.now();
    for (let i = 0; i < iters; i++) fn();
  }
  return (performance.now() - t0) / 1e3 / iters / (c.opsPerCall || 1);
}

/** Calls per block so that a block lasts about targetSec, in [1, maxIters]. */
async function calibrate(c, targetSec, maxIters) {
  if (c.iters) return c.iters;
  let iters = 1;
  // Grow the probe until it lasts long enough to estimate the per-call time.
  for (;;) {
    const perCall = (await timeBlock(c, iters)) * (c.opsPerCall || 1);
    const elapsed = perCall * iters;
    if (elapsed >= Math.min(targetSec, 0.02) || iters >= maxIters) {
      return Math.max(1, Math.min(maxIters, Math.ceil(targetSec / Math.max(perCall, 1e-9))));
    }
    iters = Math.min(maxIters, iters * 4);
  }
}

/**
 * Runs every candidate: one untimed call, calibration, `warmup` untimed blocks, then `reps` timed
 * blocks, interleaved (rep r runs the candidates in an order rotated by r, so no candidate always
 * runs first or right after the same neighbour). Returns { [name]: { iters, samples, time } }
 * where samples are seconds per operation and time their summary.
 */
async function runInterleaved(candidates, opts) {
  const { warmup = 1, reps = 5, targetSec = 0.1, maxIters = 1e7 } = opts || {};
  if (!Array.isArray(candidates) || candidates.length === 0) throw new Error('runInterleaved: no candidates');
  if (!(Number.isInteger(reps) && reps >= 1)) throw new Error(`runInterleaved: reps must be an integer >= 1, got ${reps}`);
  const names = new Set();
  for (const c of candidates) {
    if (names.has(c.name)) throw new Error(`runInterleaved: duplicate candidate name '${c.name}'`);
    names.add(c.name);
  }
  const iters = new Map();
  for (const c of candidates) {
    // One untimed call (JIT, lazy init), unless the caller fixed iters and asked for no warm-up.
    if (!(c.iters && warmup === 0)) await timeBlock(c, 1);
    const n = await calibrate(c, targetSec, maxIters);
    for (let w = 0; w < warmup; w++) await timeBlock(c, n);
    iters.set(c.name, n);
  }
  const samples = new Map(candidates.map((c) => [c.name, []]));
  for (let r = 0; r < reps; r++) {
    for (let j = 0; j < candidates.length; j++) {
      const c = candidates[(j + r) % candidates.length];
      samples.get(c.name).push(await timeBlock(c, iters.get(c.name)));
    }
  }
  const out = {};
  for (const c of candidates) {
    const s = samples.get(c.name);
    out[c.name] = { iters: iters.get(c.name), samples: s, time: summarize(s) };
  }
  return out;
}

module.exports = { runInterleaved, timeBlock, calibrate };
