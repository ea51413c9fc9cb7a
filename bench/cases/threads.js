// Thread-count case: every parallel kernel family at small / medium / large sizes on 1 and 2 threads.
//
//   node bench/run.js --only threads [--reps 5]
//
// Each case runs its 1-thread and 2-thread blocks back to back, alternating which goes first, and
// reports per call the median wall time and the median process CPU time (user + sys, from
// process.cpuUsage) of each, the 2t/1t wall ratio from the paired blocks (median of the per-pair
// ratios: a pair is measured within a fraction of a second, so slow drift of the machine's load
// cancels), and flags a case where 2 threads are slower than one by more than the margin both in
// that median and in the fastest blocks (min wall time, the block least disturbed by other load).
// The kernels decide their own thread count from their work size (native/kernels/parallel_split.h):
// a small case runs on one thread either way and its ratio is ~1 by construction.
// On a loaded machine the wall ratio is noisy (the second thread waits for a core); the CPU-time
// columns show what the second thread costs in total work (its spin-wait included).
'use strict';
const { performance } = require('perf_hooks');
const { randomArray } = require('../lib/cases');
const { summarize } = require('../lib/stats');
const { loadAvg } = require('../lib/machine');
const { formatTable, fmtNum } = require('../lib/table');

/** A 2t/1t ratio above this counts as "2 threads slower" (paired-block noise on a quiet machine is ~2%). */
const SLOWER_MARGIN = 1.03;

/** Conv geometry (native/kernels/conv.h order): C,H,W,OC,OH,OW,KH,KW,sH,sW,pH,pW,dH,dW,groups; 3x3, pad 1. */
function convCase(N, C, H, OC) {
  const geom = Int32Array.from([C, H, H, OC, H, H, 3, 3, 1, 1, 1, 1, 1, 1, 1]);
  const X = randomArray(N * C * H * H, 11);
  const W = randomArray(OC * C * 9, 12, -0.2, 0.2);
  const out = new Float32Array(N * OC * H * H);
  const flops = 2 * N * OC * H * H * C * 9;
  return {
    work: `${fmtNum(flops / 1e6)} MFLOP`,
    fn: (b) => b.conv2dForward({ N, C, OC, inPlane: H * H, outPlane: H * H, kArea: C * 9, G: 15, geom, X, W, bias: null, act: 'none', alpha: 0, out }),
  };
}

/** The cases: [family, size, shape label, () => { work, fn(backend) }]. */
function threadCases(quick) {
  const flat = (n) => `${n >= 1 << 20 ? `${n >> 20}M` : n >= 1024 ? `${n >> 10}k` : n} floats`;
  const sizes = { small: 4096, medium: 1 << 16, large: 1 << 21 };
  const cases = [];
  for (const [size, n] of Object.entries(sizes)) {
    if (quick && size === 'large') continue;
    const a = randomArray(n, 1), b2 = randomArray(n, 2, 0.5, 1.5), out = new Float32Array(n);
    cases.push(['elementwise add', size, flat(n), () => ({ work: `${fmtNum((12 * n) / 1024)} KiB moved`, fn: (b) => b.add(n, a, b2, out) })]);
    cases.push(['sum (reduction)', size, flat(n), () => ({ work: `${fmtNum((4 * n) / 1024)} KiB read`, fn: (b) => b.sum(n, a) })]);
    cases.push(['activation relu', size, flat(n), () => ({ work: `${fmtNum((8 * n) / 1024)} KiB moved`, fn: (b) => b.activationForward('relu', n, a, out, 0) })]);
    cases.push(['activation gelu', size, flat(n), () => ({ work: `${n} gelu`, fn: (b) => b.activationForward('gelu', n, a, out, 0) })]);
    const m = new Float32Array(n), v = new Float32Array(n), p = a.slice();
    cases.push(['adam step', size, flat(n), () => ({
      work: `${fmtNum((20 * n) / 1024)} KiB moved`,
      fn: (b) => b.adamStep({ n, param: p, grad: b2, m, v, step: 10, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false }),
    })]);
    const cols = 256, rows = n / cols;
    const labels = Int32Array.from({ length: rows }, (_, i) => (i * 7) % cols);
    cases.push(['softmax rows', size, `${rows} x ${cols}`, () => ({ work: `${n} exp`, fn: (b) => b.softmax(rows, cols, a, out) })]);
    cases.push(['softmax cross-entropy', size, `${rows} x ${cols}`, () => ({ work: `${n} exp`, fn: (b) => b.softmaxCrossEntropy({ M: rows, N: cols, logits: a, labels, grad: out }) })]);
    const mean = new Float32Array(rows), rstd = new Float32Array(rows);
    cases.push(['layerNorm forward', size, `${rows} x ${cols}`, () => ({
      work: `${fmtNum((8 * n) / 1024)} KiB moved`,
      fn: (b) => b.layerNormForward({ M: rows, N: cols, x: a, weight: null, bias: null, eps: 1e-5, y: out, mean, rstd }),
    })]);
  }
  const gemms = quick ? [32, 128, 256] : [32, 128, 512];
  for (const [i, s] of gemms.entries()) {
    const A = randomArray(s * s, 3), B = randomArray(s * s, 4), C = new Float32Array(s * s);
    cases.push(['gemm', ['small', 'medium', 'large'][i], `${s}³`, () => ({ work: `${fmtNum((2 * s * s * s) / 1e6)} MFLOP`, fn: (b) => b.gemm(false, false, s, s, s, 1, A, B, 0, C) })]);
  }
  const attn = quick ? [[2, 16, 32], [4, 64, 32]] : [[2, 16, 32], [8, 64, 64], [16, 256, 64]];
  for (const [i, [BH, T, D]] of attn.entries()) {
    const q = randomArray(BH * T * D, 5), k = randomArray(BH * T * D, 6), v = randomArray(BH * T * D, 7), out = new Float32Array(BH * T * D);
    cases.push(['attention forward', ['small', 'medium', 'large'][i], `BH ${BH}, T=S ${T}, D ${D}`, () => ({
      work: `${fmtNum((4 * BH * T * T * D) / 1e6)} MFLOP`,
      fn: (b) => b.attentionForward({ BH, B: BH, T, S: T, D, query: q, key: k, value: v, keyPadding: null, causal: false, scale: 1 / Math.sqrt(D), dropout: 0, seed: 0, out, lse: null }),
    })]);
  }
  const convs = quick ? [[1, 4, 8, 4], [4, 8, 16, 8]] : [[1, 4, 8, 4], [8, 16, 16, 16], [32, 16, 28, 32]];
  for (const [i, [N, C, H, OC]] of convs.entries()) {
    cases.push(['conv2d forward 3x3', ['small', 'medium', 'large'][i], `N ${N}, ${C}->${OC} ch, ${H}x${H}`, () => convCase(N, C, H, OC)]);
  }
  return cases;
}

/** Seconds of process CPU time (user + sys) since `since` (a process.cpuUsage() value). */
function cpuSeconds(since) {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1e6;
}

/** One timed block of `iters` calls on `threads` threads: { wall, cpu } seconds per call. */
function block(backend, threads, fn, iters) {
  backend.setNumThreads(threads);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) fn(backend);
  const wall = (performance.now() - t0) / 1e3 / iters;
  return { wall, cpu: cpuSeconds(c0) / iters };
}

/** Calls per block so that a 1-thread block lasts about targetSec. */
function calibrate(backend, fn, targetSec) {
  let iters = 1;
  for (;;) {
    const { wall } = block(backend, 1, fn, iters);
    if (wall * iters >= Math.min(targetSec, 0.02) || iters >= 1e6) return Math.max(1, Math.min(1e6, Math.ceil(targetSec / Math.max(wall, 1e-9))));
    iters *= 4;
  }
}

/** Measures one case: warm-up, then `reps` pairs of 1t/2t blocks in alternating order. */
function measurePair(backend, fn, opts) {
  fn(backend);
  const iters = calibrate(backend, fn, opts.targetSec);
  for (let w = 0; w < opts.warmup; w++) {
    block(backend, 1, fn, iters);
    block(backend, 2, fn, iters);
  }
  const s = { 1: { wall: [], cpu: [] }, 2: { wall: [], cpu: [] } };
  const pairRatios = [];
  for (let r = 0; r < opts.reps; r++) {
    const order = r % 2 === 0 ? [1, 2] : [2, 1];
    const got = {};
    for (const t of order) {
      got[t] = block(backend, t, fn, iters);
      s[t].wall.push(got[t].wall);
      s[t].cpu.push(got[t].cpu);
    }
    pairRatios.push(got[2].wall / got[1].wall);
  }
  return { iters, s, pairRatios };
}

async function runThreads(ctx) {
  const backend = ctx.backends.nativeAllSizes || ctx.backends.native;
  if (!backend || typeof backend.setNumThreads !== 'function') throw new Error(`bench: the threads group needs the native backend: ${ctx.backendErrors.native || 'not loaded'}`);
  const before = ctx.info && ctx.info.threads ? ctx.info.threads : 2;
  // Shorter blocks than the suite's default: the group has ~40 cases, each 2 x (reps + warm-up) blocks.
  const opts = { reps: ctx.opts.reps, warmup: ctx.opts.warmup, targetSec: Math.min(ctx.opts.targetSec, ctx.opts.quick ? 0.02 : 0.08) };
  const records = [];
  try {
    for (const [family, size, shape, make] of threadCases(ctx.opts.quick)) {
      const { work, fn } = make();
      const { iters, s, pairRatios } = measurePair(backend, fn, opts);
      const t1 = summarize(s[1].wall), t2 = summarize(s[2].wall);
      const c1 = summarize(s[1].cpu), c2 = summarize(s[2].cpu);
      const ratio = summarize(pairRatios);
      const rec = {
        id: `threads-${family.replace(/[^a-z0-9]+/gi, '-')}-${size}`,
        group: 'threads',
        label: `${family}, ${size} (${shape})`,
        short: `${family} ${size}`,
        family,
        size,
        shape,
        work,
        loadAvg: loadAvg(),
        display: { kind: 'time', unit: 'µs/call', scale: 1e6 },
        chart: false,
        baseline: '1 thread',
        iters,
        candidates: {
          '1 thread': { status: 'ok', iters, samples: s[1].wall, time: t1, value: scaled(t1), cpu: scaled(c1) },
          '2 threads': { status: 'ok', iters, samples: s[2].wall, time: t2, value: scaled(t2), cpu: scaled(c2) },
        },
        pairRatios,
        ratio2t1t: ratio.median,
        cpuRatio2t1t: c2.median / c1.median,
        minRatio2t1t: t2.min / t1.min,
        slower: ratio.median > SLOWER_MARGIN && t2.min / t1.min > SLOWER_MARGIN,
        speedup: {},
      };
      records.push(rec);
      ctx.log(`  ${rec.label}: 1t ${fmtNum(t1.median * 1e6)} µs, 2t ${fmtNum(t2.median * 1e6)} µs, 2t/1t ${ratio.median.toFixed(3)} (fastest blocks ${rec.minRatio2t1t.toFixed(3)}, cpu ${rec.cpuRatio2t1t.toFixed(2)})${rec.slower ? '  << 2 threads slower' : ''}`);
    }
  } finally {
    backend.setNumThreads(before);
  }
  return records;
}

function scaled(t) {
  return { n: t.n, median: t.median * 1e6, min: t.min * 1e6, max: t.max * 1e6, q1: t.q1 * 1e6, q3: t.q3 * 1e6, relSpread: t.relSpread };
}

/** The group's table: one row per case with wall and CPU time at 1 and 2 threads and the paired 2t/1t ratio. */
function threadsTable(recs) {
  const ms = (v) => `${fmtNum(v.median)} ±${((v.relSpread || 0) * 50).toFixed(0)}%`;
  const rows = recs.map((r) => {
    const a = r.candidates['1 thread'], b = r.candidates['2 threads'];
    const q = summarize(r.pairRatios);
    return [r.family, r.size, r.shape, r.work, ms(a.value), ms(b.value), `${r.ratio2t1t.toFixed(3)} [${q.min.toFixed(2)}-${q.max.toFixed(2)}]`, r.minRatio2t1t.toFixed(3),
      fmtNum(a.cpu.median), fmtNum(b.cpu.median), r.slower ? 'SLOWER' : ''];
  });
  const slow = recs.filter((r) => r.slower);
  const verdict = slow.length === 0
    ? `  2 threads never slower than 1 (by more than ${((SLOWER_MARGIN - 1) * 100).toFixed(0)}% in the paired median and the fastest blocks) on the ${recs.length} cases.`
    : `  2 threads slower than 1 on ${slow.length} of ${recs.length} cases: ${slow.map((r) => r.short).join(', ')} (on a loaded machine, re-run on a quiet one).`;
  const load = recs.length ? `  load average during the group: ${recs[0].loadAvg.join(' / ')} at the first case, ${recs[recs.length - 1].loadAvg.join(' / ')} at the last.` : '';
  return `Threads: 1 vs 2 threads per kernel family (µs per call, wall median ± half IQR; CPU = process user+sys µs per call)\n${formatTable(
    ['family', 'size', 'shape', 'work', 'wall 1t', 'wall 2t', '2t/1t wall [pair min-max]', '2t/1t fastest', 'CPU 1t', 'CPU 2t', ''],
    rows,
  )}\n${verdict}\n${load}`;
}

module.exports = { runThreads, threadsTable, threadCases, SLOWER_MARGIN };
