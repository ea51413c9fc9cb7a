// N-API overhead case: time per call of a 1-element add and scale, native vs pure TS.
'use strict';
const { measureCase } = require('../lib/cases');

async function runOverhead(ctx) {
  const records = [];
  const calls = ctx.opts.quick ? 1e5 : 1e6;
  const a = new Float32Array([1.5]);
  const b = new Float32Array([2.5]);
  for (const kernel of ['add', 'scale']) {
    const cands = [];
    for (const name of ['native', 'js']) {
      const be = ctx.backends[name];
      const out = new Float32Array(1);
      if (!be) cands.push({ name, skip: `backend unavailable: ${ctx.backendErrors[name] || 'not loaded'}` });
      else if (kernel === 'add') cands.push({ name, iters: calls, fn: () => be.add(1, a, b, out) });
      else cands.push({ name, iters: calls, fn: () => be.scale(1, a, 0.5, out) });
    }
    // The same call forced across N-API (the default native backend runs tiny inputs in TypeScript).
    const raw = ctx.backends.nativeAllSizes;
    const outRaw = new Float32Array(1);
    if (!raw) cands.push({ name: 'napi', skip: `native backend without the small-input shortcut unavailable: ${ctx.backendErrors.nativeAllSizes || ctx.backendErrors.native || 'not loaded'}` });
    else if (kernel === 'add') cands.push({ name: 'napi', iters: calls, fn: () => raw.add(1, a, b, outRaw) });
    else cands.push({ name: 'napi', iters: calls, fn: () => raw.scale(1, a, 0.5, outRaw) });
    records.push(
      await measureCase(
        ctx,
        {
          id: `overhead-${kernel}`,
          group: 'overhead',
          label: `${kernel}(n=1) per call`,
          short: `${kernel}(n=1) call overhead`,
          note: `${calls} calls per timed block; the time is per call and is almost all call overhead. 'native' is the backend as used (inputs <= 48 elements run in TypeScript); 'N-API call' forces every call through the addon`,
          display: { kind: 'time', unit: 'ns/call', scale: 1e9 },
          baseline: 'js',
        },
        cands,
      ),
    );
  }
  return records;
}

module.exports = { runOverhead };
