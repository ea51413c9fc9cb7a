// Embedding kernels case: rows/s of gatherRows (the lookup) and scatterAddRows (its gradient) per backend.
'use strict';
const { measureCase, randomArray, randomLabels } = require('../lib/cases');

// A 50,000 x 128 table (25.6 MB, beyond the L2) and 2048 ids: a batch of 32 sequences of 64 tokens.
const V = 50000;
const D = 128;
const N = 2048;

function naiveGather(table, idx, out) {
  for (let i = 0; i < N; i++) for (let k = 0; k < D; k++) out[i * D + k] = table[idx[i] * D + k];
}

function naiveScatterAdd(table, idx, src) {
  for (let i = 0; i < N; i++) for (let k = 0; k < D; k++) table[idx[i] * D + k] += src[i * D + k];
}

async function runEmbedding(ctx) {
  const table = randomArray(V * D, 11);
  const idx = randomLabels(N, V, 12);
  const src = randomArray(N * D, 13);
  const records = [];
  for (const kind of ['gather', 'scatterAdd']) {
    const cands = [];
    for (const name of ['native', 'js']) {
      const b = ctx.backends[name];
      if (!b) {
        cands.push({ name, skip: `backend unavailable: ${ctx.backendErrors[name] || 'not loaded'}` });
        continue;
      }
      const out = new Float32Array(N * D);
      const grad = new Float32Array(V * D);
      cands.push({ name, fn: kind === 'gather' ? () => b.gatherRows(V, D, N, table, idx, out) : () => b.scatterAddRows(V, D, N, grad, idx, src, V) });
    }
    const outNaive = new Float32Array(N * D);
    const gradNaive = new Float32Array(V * D);
    cands.push({ name: 'naive', fn: kind === 'gather' ? () => naiveGather(table, idx, outNaive) : () => naiveScatterAdd(gradNaive, idx, src) });
    records.push(
      await measureCase(
        ctx,
        {
          id: `embedding-${kind}`,
          group: 'embedding',
          label: `${kind === 'gather' ? 'gatherRows' : 'scatterAddRows'} ${N} ids x ${D} from ${V} rows`,
          short: kind,
          note: `an nn.Embedding ${kind === 'gather' ? 'lookup' : 'gradient'}: ${N} random ids (batch 32 x 64 tokens) into a ${V}x${D} table`,
          display: { kind: 'rate', unit: 'Mrows/s', work: N / 1e6 },
          baseline: 'naive',
        },
        cands,
      ),
    );
  }
  return records;
}

module.exports = { runEmbedding };
