// Activation throughput case: elements/s of relu, sigmoid, tanh, gelu and row softmax per backend.
'use strict';
const { measureCase, randomArray } = require('../lib/cases');
const { naiveActivation, naiveSoftmax } = require('../lib/naive');

const N_ELEMENTS = 1 << 18; // 262144 floats (1 MiB): a batch-512 x 512 activation, cache-resident
const SOFTMAX_ROWS = 1024;
const SOFTMAX_COLS = N_ELEMENTS / SOFTMAX_ROWS;

async function runActivations(ctx) {
  const records = [];
  const n = N_ELEMENTS;
  const x = randomArray(n, 3, -6, 6);
  for (const act of ['relu', 'sigmoid', 'tanh', 'gelu', 'softmax']) {
    const cands = [];
    for (const name of ['native', 'js']) {
      const b = ctx.backends[name];
      const out = new Float32Array(n);
      if (!b) cands.push({ name, skip: `backend unavailable: ${ctx.backendErrors[name] || 'not loaded'}` });
      else if (act === 'softmax') cands.push({ name, fn: () => b.softmax(SOFTMAX_ROWS, SOFTMAX_COLS, x, out) });
      else cands.push({ name, fn: () => b.activationForward(act, n, x, out, 0.01) });
    }
    const outNaive = new Float32Array(n);
    if (act === 'softmax') cands.push({ name: 'naive', fn: () => naiveSoftmax(SOFTMAX_ROWS, SOFTMAX_COLS, x, outNaive) });
    else cands.push({ name: 'naive', fn: () => naiveActivation[act](n, x, outNaive) });
    records.push(
      await measureCase(
        ctx,
        {
          id: `act-${act}`,
          group: 'activation',
          label: act === 'softmax' ? `softmax ${SOFTMAX_ROWS}x${SOFTMAX_COLS} (rows)` : `${act} (${n} elements)`,
          short: act,
          note: `${n} float32 elements per call (1 MiB, cache-resident)`,
          display: { kind: 'rate', unit: 'Melem/s', work: n / 1e6 },
          baseline: 'naive',
        },
        cands,
      ),
    );
  }
  return records;
}

module.exports = { runActivations, N_ELEMENTS };
