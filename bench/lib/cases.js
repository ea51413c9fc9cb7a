// Shared helpers for benchmark cases: seeded data, candidate availability, result records.
'use strict';
const { runInterleaved } = require('./measure');
const path = require('path');
const { spawnSync } = require('child_process');
const { rateFromTime, summarize } = require('./stats');

const PYTHON = '/usr/bin/python3';
const { loadAvg } = require('./machine');

/** mulberry32: a small seeded PRNG returning floats in [0, 1). */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Float32Array of n values uniform in [lo, hi). */
function randomArray(n, seed, lo = -1, hi = 1) {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

function randomLabels(n, classes, seed) {
  const r = rng(seed);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(r() * classes);
  return out;
}

/**
 * Measures the available candidates of one case and returns its record.
 * def: { id, group, label, display, baseline, note? }
 *   display: { kind: 'rate', unit, work } (work per operation, value = work / seconds, higher is
 *   better) or { kind: 'time', unit, scale } (value = seconds * scale, lower is better).
 * candidates: [{ name, fn, async?, before?, iters? } | { name, skip: 'reason' }]
 */
async function measureCase(ctx, def, candidates, measureOpts = {}) {
  const record = { ...def, loadAvg: loadAvg(), candidates: {}, speedup: {} };
  const live = [];
  for (const c of candidates) {
    if (c.skip) record.candidates[c.name] = { status: 'skipped', reason: c.skip };
    else live.push(c);
  }
  if (live.length > 0) {
    try {
      const res = await runInterleaved(live, {
        warmup: ctx.opts.warmup,
        reps: ctx.opts.reps,
        targetSec: ctx.opts.targetSec,
        ...measureOpts,
      });
      for (const c of live) {
        const r = res[c.name];
        record.candidates[c.name] = { status: 'ok', iters: r.iters, samples: r.samples, time: r.time, value: valueOf(def.display, r.time) };
      }
    } catch (e) {
      // One failing candidate should not hide the others: retry them one by one.
      for (const c of live) {
        try {
          const res = await runInterleaved([c], { warmup: ctx.opts.warmup, reps: ctx.opts.reps, targetSec: ctx.opts.targetSec, ...measureOpts });
          const r = res[c.name];
          record.candidates[c.name] = { status: 'ok', iters: r.iters, samples: r.samples, time: r.time, value: valueOf(def.display, r.time) };
        } catch (e2) {
          record.candidates[c.name] = { status: 'error', reason: firstLine(e2) };
        }
      }
      if (live.every((c) => record.candidates[c.name].status === 'error')) record.error = firstLine(e);
    }
  }
  computeSpeedups(record);
  ctx.log(summaryLine(record));
  return record;
}

function valueOf(display, time) {
  if (display.kind === 'rate') return rateFromTime(time, display.work);
  const s = display.scale;
  return { n: time.n, median: time.median * s, min: time.min * s, max: time.max * s, q1: time.q1 * s, q3: time.q3 * s, relSpread: time.relSpread };
}

/**
 * speedup[name] = baseline median time / candidate median time, for every measured candidate.
 * When the baseline was not measured (e.g. skipped at a large size), record.fallbackBaseline is
 * used instead; record.speedupBaseline names the one used (null when neither was measured).
 */
function computeSpeedups(record) {
  record.speedup = {};
  record.speedupBaseline = null;
  const usable = (n) => n && record.candidates[n] && record.candidates[n].status === 'ok';
  const baseName = usable(record.baseline) ? record.baseline : usable(record.fallbackBaseline) ? record.fallbackBaseline : null;
  if (!baseName) return record;
  const base = record.candidates[baseName];
  record.speedupBaseline = baseName;
  for (const [name, c] of Object.entries(record.candidates)) {
    if (c.status === 'ok' && name !== baseName) record.speedup[name] = base.time.median / c.time.median;
  }
  return record;
}

function firstLine(e) {
  return String((e && e.message) || e).split('\n')[0];
}

function summaryLine(record) {
  const parts = Object.entries(record.candidates).map(([n, c]) =>
    c.status === 'ok' ? `${n} ${c.value.median.toPrecision(4)} ${record.display.unit}` : `${n} ${c.status}`,
  );
  return `  ${record.label}: ${parts.join(', ')}`;
}

/** A candidate that selects `backend` globally before each timed block (for model-level cases). */
function backendCandidate(ctx, name, fn, extra = {}) {
  if (!ctx.backends[name]) return { name, skip: `backend unavailable: ${ctx.backendErrors[name] || 'not loaded'}` };
  return { name, before: () => ctx.setBackend(name), fn, ...extra };
}

/** A PyTorch peer script's results by case id (bench/peers/<script> with the run's reps and block length, then args), or { error }. */
function runTorchPeer(ctx, script, args) {
  const o = ctx.opts;
  const r = spawnSync(PYTHON, [path.join(__dirname, '..', 'peers', script), '--reps', String(o.reps), '--target-sec', String(o.targetSec), ...args], {
    encoding: 'utf8', timeout: 1800000, maxBuffer: 64 << 20,
  });
  if (r.error || r.status !== 0) return { error: r.error ? r.error.message : `exited ${r.status}: ${(r.stderr || '').trim().split('\n').slice(-2).join(' | ')}` };
  const line = (r.stdout || '').trim().split('\n').reverse().find((l) => l.startsWith('{'));
  return line ? JSON.parse(line) : { error: 'printed no JSON' };
}

/**
 * Runs a PyTorch peer script (it prints { version, results: { <case id>: { secondsPerOp, iters, threads } } }) and adds
 * its timings to the records as the 'pytorch' candidate, with rec.vsPytorch = pytorch time / native time.
 */
function attachTorchPeer(ctx, records, script, args) {
  const torch = runTorchPeer(ctx, script, args);
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

module.exports = { rng, randomArray, randomLabels, measureCase, computeSpeedups, valueOf, backendCandidate, firstLine, attachTorchPeer };
