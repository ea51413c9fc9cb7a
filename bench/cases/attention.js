// Attention cases: the fused attention kernel alone (forward + backward, causal, batch 1, 4 heads, head dim 64) at
// lengths 128-2048 against the composed ops (which materialise the L x L weights), a train step of
// examples/names-gpt.js's transformer (tokens/s), and generation latency per token with the key/value cache at
// batch 1 (against running the whole window); PyTorch with --peers (bench/peers/pytorch_attention.py).
'use strict';
const path = require('path');
const { spawnSync } = require('child_process');
const { measureCase, randomArray, backendCandidate, computeSpeedups, valueOf, firstLine } = require('../lib/cases');
const { summarize } = require('../lib/stats');
const { openblasCoretypes } = require('./peers');

const PYTHON = '/usr/bin/python3';
const V = 29; // the first-names vocabulary (26 letters, '-', '?', '.')

function attentionCandidate(ctx, backend, impl, L) {
  const m = ctx.myelin;
  const mk = (seed) => m.tensor(randomArray(4 * L * 64, seed, -1, 1), [1, 4, L, 64], { requiresGrad: true });
  const q = mk(1), k = mk(2), v = mk(3);
  const { bmm, swapAxes, maskedFill, causalMask, softmax, scaledDotProductAttention } = m.ops;
  const mask = causalMask(L);
  const forward = impl === 'fused'
    ? () => scaledDotProductAttention(q, k, v, { causal: true })
    : () => bmm(softmax(maskedFill(m.mul(bmm(q, swapAxes(k, -1, -2)), 1 / 8), mask, -Infinity), -1), v);
  return {
    ...backendCandidate(ctx, backend, () => {
      q.grad = k.grad = v.grad = null;
      m.sum(forward()).backward();
    }),
    name: `${backend} ${impl}`,
  };
}

function gpt(m, seed) {
  const { nn } = m;
  return new nn.Sequential([
    new nn.Embedding(V, 128), new nn.LearnedPositionalEncoding(16, 128),
    new nn.DecoderBlock(128, 4), new nn.DecoderBlock(128, 4), new nn.DecoderBlock(128, 4), new nn.DecoderBlock(128, 4),
    new nn.LayerNorm(128), new nn.Linear(128, V),
  ], { seed });
}

function trainCandidate(ctx, backend) {
  const m = ctx.myelin;
  const model = gpt(m, 1);
  const opt = new m.optim.Adam(model.parameters(), { lr: 1e-3 });
  const ids = new m.IntTensor(Int32Array.from(randomArray(512, 4, 0, V), Math.floor), [32, 16]);
  const targets = Int32Array.from(randomArray(512, 5, 0, V), Math.floor);
  // In a training-step arena (what fit does) when the build has trainingStep: no per-step allocation or GC.
  const inStep = typeof m.trainingStep === 'function' ? m.trainingStep : (fn) => fn();
  return backendCandidate(ctx, backend, () => inStep(() => {
    opt.zeroGrad();
    m.nn.crossEntropy(model.forward(ids).reshape([512, V]), targets).backward();
    opt.step();
  }));
}

function generateCandidate(ctx, cache) {
  const m = ctx.myelin;
  const model = gpt(m, 1);
  // One call generates 16 tokens (a full context) from one; the time per op is divided by 16 below.
  return { ...backendCandidate(ctx, 'native', () => m.generate(model, [0], { maxTokens: 16, temperature: 0, cache })), name: `native ${cache ? 'cached' : 'uncached'}` };
}

/** One run of pytorch_attention.py (torch threads 1 and 2 inside) with OPENBLAS_CORETYPE = core (null: unset). */
function runTorchOnce(ctx, lengths, core) {
  const o = ctx.opts;
  const args = ['--reps', String(o.reps), '--target-sec', String(o.targetSec), '--lengths', lengths.join(','), '--vocab', String(V)];
  const env = { ...process.env };
  if (core === null) delete env.OPENBLAS_CORETYPE;
  else env.OPENBLAS_CORETYPE = core;
  const r = spawnSync(PYTHON, [path.join(__dirname, '..', 'peers', 'pytorch_attention.py'), ...args], { encoding: 'utf8', timeout: 1800000, maxBuffer: 64 << 20, env });
  if (r.error || r.status !== 0) return { error: r.error ? r.error.message : `exited ${r.status}: ${(r.stderr || '').trim().split('\n').slice(-2).join(' | ')}` };
  const line = (r.stdout || '').trim().split('\n').reverse().find((l) => l.startsWith('{'));
  return line ? JSON.parse(line) : { error: 'printed no JSON' };
}

/**
 * PyTorch in its fastest configuration: for each case the fastest median over OPENBLAS_CORETYPE (unset and the
 * kernel sets this CPU supports; Debian's torch runs its matmuls in OpenBLAS) x torch threads 1 and 2.
 */
function runTorch(ctx, lengths) {
  const best = { results: {} };
  const med = (a) => a.slice().sort((x, y) => x - y)[a.length >> 1];
  for (const core of openblasCoretypes()) {
    const r = runTorchOnce(ctx, lengths, core);
    if (r.error) {
      best.error = best.error || r.error;
      continue;
    }
    best.version = r.version;
    for (const [id, res] of Object.entries(r.results)) {
      const cur = best.results[id];
      if (!cur || med(res.secondsPerOp) < med(cur.secondsPerOp)) best.results[id] = { ...res, coretype: core === null ? 'unset' : core };
    }
  }
  if (Object.keys(best.results).length > 0) delete best.error;
  return best;
}

async function runAttention(ctx) {
  const records = [];
  const lengths = ctx.opts.quick ? [128, 256] : [128, 512, 1024, 2048];
  for (const L of lengths) {
    const cands = [attentionCandidate(ctx, 'native', 'fused', L),
      L <= 1024 ? attentionCandidate(ctx, 'native', 'composed', L) : { name: 'native composed', skip: 'L x L weights (the composed path) skipped past 1024' },
      L <= 256 ? attentionCandidate(ctx, 'js', 'fused', L) : { name: 'js fused', skip: 'pure TS only up to 256' }];
    records.push(await measureCase(ctx, {
      id: `attention-L${L}`, group: 'attention', label: `attention forward+backward, causal, 4 heads x 64, length ${L}`, short: `attention L${L}`,
      display: { kind: 'rate', unit: 'tokens/s', work: L }, baseline: 'native composed', fallbackBaseline: 'native fused',
      note: 'ops.scaledDotProductAttention (fused kernel) vs bmm/maskedFill/softmax/bmm; sum(y).backward()',
    }, cands, { maxIters: 200 }));
  }
  records.push(await measureCase(ctx, {
    id: 'gpt-train-step', group: 'attention', label: 'names GPT train step (4 x DecoderBlock 128, 4 heads, 32 x 16 tokens, Adam)', short: 'GPT train step',
    display: { kind: 'rate', unit: 'tokens/s', work: 512 }, baseline: 'js', note: 'examples/names-gpt.js model on random ids',
  }, ['native', 'js'].map((b) => trainCandidate(ctx, b)), { maxIters: 200 }));
  records.push(await measureCase(ctx, {
    id: 'gpt-generate-token', group: 'attention', label: 'names GPT generation, batch 1, per token (16 tokens per call)', short: 'GPT generate/token',
    display: { kind: 'time', unit: 'ms/token', scale: 1000 / 16 }, baseline: 'native uncached', note: 'generate(model, [0], { maxTokens: 16, temperature: 0 }), with and without the key/value cache',
  }, [generateCandidate(ctx, true), generateCandidate(ctx, false)], { maxIters: 200 }));
  if (ctx.opts.peers) {
    const torch = runTorch(ctx, lengths);
    for (const rec of records) {
      const res = torch.results && torch.results[rec.id];
      if (!res) {
        rec.candidates.pytorch = { status: 'error', reason: torch.error ? firstLine(torch.error) : 'no result' };
        continue;
      }
      // The generation case times one token per op in Python, 16 per op here: put PyTorch on the same footing.
      const perOp = rec.id === 'gpt-generate-token' ? res.secondsPerOp.map((s) => s * 16) : res.secondsPerOp;
      const time = summarize(perOp);
      rec.candidates.pytorch = { status: 'ok', iters: res.iters, samples: perOp, time, value: valueOf(rec.display, time), threads: res.threads, coretype: res.coretype, version: torch.version };
      computeSpeedups(rec);
      const n = rec.candidates['native fused'] || rec.candidates.native || rec.candidates['native cached'];
      if (n && n.status === 'ok') {
        rec.vsPytorch = time.median / n.time.median;
        ctx.log(`  ${rec.id}: native / pytorch (${res.threads} thread${res.threads > 1 ? 's' : ''}, OPENBLAS_CORETYPE ${res.coretype}) = ${rec.vsPytorch.toFixed(2)}x`);
      }
    }
  }
  return records;
}

module.exports = { runAttention, gpt, V };
